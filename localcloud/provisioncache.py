"""The provisioned emulator, kept between runs of ``nox -s up`` and put back instead of provisioning again.

Provisioning makes every resource of ``reference/`` in a new, empty moto: about 110 calls, 2 to 3 s of a
start. moto keeps no state across a restart, but our launcher can write its whole state to a file and load it
into a new process (``localcloud/moto_server.py``'s snapshots, which also bring a restarted emulator back).
After a start has provisioned an empty emulator, that state and the provisioning's outputs are saved here
under a **digest of everything that decides what provisioning makes**: the bytes of ``reference/`` (the
model), of the provisioner and the alarms it creates, of the launcher whose snapshot format the entry is in,
moto's version, the stage, the region and the alarm period, and this module's format. The next start on an
empty emulator of its own restores the entry in one request; change the model or the provisioner and the
digest changes, so it provisions and saves a new entry (never updated in place; used only when complete).

What is not the same from run to run is put right after the restore: the emulator's address in the outputs
(queue URLs carry it) and the database secret, which names this run's PostgreSQL (``Provisioner.secrets``).
The other secrets' generated values come back as the entry holds them, as a deployed stack keeps its own.

It shares the seed cache's folder and switch: ``SHOP_SEED_CACHE=off`` provisions on every start.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from localcloud import seedcache
from localcloud.observability.settings import ObservabilitySettings
from localcloud.provision import Outputs

FORMAT = 1  # bump when what an entry holds, or how it is restored, changes
KEEP = 12  # entries kept, the most recently used: one per stage in use (local, the benches', ...) and some to spare
FOLDER = "provisioned"  # under the seed cache's root
SNAPSHOT = "provisioned"  # the snapshot's name inside the emulator
STATE = "emulator.pickle"
OUTPUTS = "outputs.json"
SOURCES = (
    "reference",
    "localcloud/provision.py",
    "localcloud/observability/alarms.py",
    "localcloud/observability/settings.py",
    "localcloud/moto_server.py",
)


def digest(settings: dict[str, str], root: Path = seedcache.ROOT, tools: dict[str, str] | None = None) -> str:
    """The hex digest of what decides the provisioned state: sources, moto's version, ``settings``, the format."""
    h = hashlib.sha256(f"provisioned format {FORMAT}\n".encode())
    for name, value in sorted(settings.items()):
        h.update(f"setting {name} {value}\n".encode())
    for name, ver in sorted((tools if tools is not None else seedcache.tool_versions()).items()):
        h.update(f"tool {name} {ver}\n".encode())
    for path in seedcache.source_files(SOURCES, root):
        h.update(f"file {path.relative_to(root).as_posix()} {hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    return h.hexdigest()


class ProvisionCache:
    """Entries of one emulator's provisioned state, under ``root``, for the digest ``key``."""

    def __init__(self, root: Path, key: str):
        self.root = root / FOLDER
        self.key = key

    @property
    def entry(self) -> Path:
        return self.root / self.key

    def lookup(self) -> Path | None:
        """The complete entry for this digest, or None."""
        return self.entry if (self.entry / seedcache.MANIFEST).is_file() else None

    def restore(self, entry: Path, aws_url: str) -> Outputs:
        """Load the entry's state into the (empty) emulator at ``aws_url``; returns its outputs, moved to that
        emulator's address. Raises RuntimeError when the emulator does not take it."""
        if not _ask("restore", aws_url, entry / STATE):
            raise RuntimeError(f"the emulator at {aws_url} did not take {entry / STATE}")
        (entry / seedcache.MANIFEST).touch()  # used: kept longest (the tests' stacks each save one of a new stage)
        return Outputs.from_json((entry / OUTPUTS).read_text()).moved(aws_url)

    def save(self, aws_url: str, outputs: Outputs) -> Path:
        """Keep the emulator's state as it is now, with ``outputs``, under the digest (atomically)."""

        def fill(work: Path) -> None:
            if not _ask("take", aws_url, work / STATE):
                raise RuntimeError(f"the emulator at {aws_url} took no snapshot")
            (work / OUTPUTS).write_text(outputs.to_json())
            manifest = {"saved": time.strftime("%Y-%m-%d %H:%M"), "digest": self.key}
            (work / seedcache.MANIFEST).write_text(json.dumps(manifest) + "\n")

        return seedcache.write_entry(self.entry, fill, keep=KEEP)

    def saved(self, entry: Path) -> str:
        return json.loads((entry / seedcache.MANIFEST).read_text())["saved"]


def _ask(what: str, aws_url: str, file: Path) -> bool:
    """Take or restore the snapshot through the launcher's route; an unreachable emulator is a RuntimeError."""
    import httpx  # the launcher's client functions; imported here, as moto's server module is not cheap

    from localcloud.moto_server import restore_snapshot, take_snapshot

    ask = take_snapshot if what == "take" else restore_snapshot
    try:
        return ask(aws_url, SNAPSHOT, str(file))
    except httpx.HTTPError as exc:
        raise RuntimeError(f"the emulator at {aws_url} did not answer: {exc}") from exc


def for_emulator(kind: str, stage: str, region: str) -> ProvisionCache | None:
    """The cache for a run's emulator, or None: when the cache is off, or the emulator is not an empty one
    started here (one given by ``AWS_ENDPOINT_URL`` may hold anything)."""
    root = seedcache.default_root()
    if root is None or kind != "embedded":
        return None
    period = ObservabilitySettings().alarm_period_s
    return ProvisionCache(root, digest({"stage": stage, "region": region, "alarm_period_s": str(period)}))
