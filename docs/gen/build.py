"""Stage docs/ and the generated pages into ``build/docs/src``, then build or serve the site with Zensical."""

from __future__ import annotations

import logging
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from docs.gen import diagram, figures, flows, resources, services
from docs.gen.code import ROOT, Sources, code_link, rewrite
from reference import ARCHITECTURE, RESOURCES, SERVICES, access
from reference.model import Architecture, Resources, Service

DOCS = ROOT / "docs"
CONFIG = ROOT / "zensical.toml"
GENERATED_BY = "docs/gen"  # pages here are written by the generator, never by hand
# A shell block the first-hour test runs is marked `<!-- run: expect "TEXT" -->`; readers see that it is tested.
RUN_MARK = re.compile(r'^<!-- run: expect "(.*)" -->$', re.MULTILINE)
TESTED = r"**Tested**: CI runs this block and checks that its output contains `\1`." + "\n"


class DocsError(RuntimeError):
    """The site cannot be built as it stands (a page missing from the nav, a link to nothing...)."""


def config(path: Path = CONFIG) -> dict[str, Any]:
    return tomllib.loads(path.read_text())["project"]


def nav_pages(nav: list[Any]) -> Iterator[str]:
    """Every page the nav names, depth first."""
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, list):
            yield from nav_pages(value)
        elif not str(value).startswith(("http://", "https://")):
            yield str(value)


def commit() -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        return done.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def architecture_page(arch: Architecture, svcs: tuple[Service, ...], sources: Sources) -> str:
    """The architecture page: the picture, then every box and every arrow as a table."""
    here = "architecture.md"
    on_node = {s.node: s.name for s in svcs}
    lines = [
        "---",
        "hide:",
        "  - navigation",
        "  - toc",
        "---",
        "",
        "# The architecture",
        "",
        "Drawn at build time by Graphviz from "
        + code_link("reference/architecture.py", "ARCHITECTURE =", "`reference/architecture.py`", sources=sources,
                    from_page=here)
        + ", the diagram of the [seed](architecture-seed.md) as data: add a box or an arrow there and it appears "
        "here, in the CloudFormation conformance table and in the access grants. Hover a box or an arrow "
        "(in the [full-size picture](architecture.svg)) for what it is and what travels on it.",
        "",
        "[![The architecture: every box and arrow of reference/architecture.py](architecture.svg)](architecture.svg)",
        "",
        "## Boxes",
        "",
        "| id | box | layer | AWS service | our service |",
        "|---|---|---|---|---|",
    ]  # fmt: skip
    for n in arch.nodes:
        ours = f"[{on_node[n.id]}](services/{on_node[n.id]}.md)" if n.id in on_node else ""
        lines.append(f"| `{n.id}` | {n.label} | {n.layer.value} | {n.aws_service or ''} | {ours} |")
    lines += ["", "## Arrows", "", "| from | to | what travels |", "|---|---|---|"]
    names = {n.id: n.label for n in arch.nodes} | {g: f"the {layer.value.upper()} subgraph" for g, layer in
                                                   arch.groups.items()}  # fmt: skip
    for e in arch.edges:
        lines.append(f"| {names[e.source]} (`{e.source}`) | {names[e.target]} (`{e.target}`) | {e.purpose} |")
    lines += ["", f"{len(arch.nodes)} boxes, {len(arch.edges)} arrows, {len(arch.groups)} subgraph(s) as sources."]
    return "\n".join(lines) + "\n"


def stage(
    out: Path,
    *,
    arch: Architecture = ARCHITECTURE,
    res: Resources = RESOURCES,
    svcs: tuple[Service, ...] = SERVICES,
    artifacts: Path = ROOT / "artifacts",
    docs: Path = DOCS,
) -> list[str]:
    """Write the site's sources into ``out``: docs/ with links resolved, and every generated page."""
    quiet = logging.root.manager.disable
    logging.disable(logging.WARNING)  # the services log their wiring on import
    try:
        return _stage(out, arch, res, svcs, artifacts, docs)
    finally:
        logging.disable(quiet)  # not for the rest of the process (a test run, a serve loop)


def _stage(
    out: Path, arch: Architecture, res: Resources, svcs: tuple[Service, ...], artifacts: Path, docs: Path
) -> list[str]:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    sources = Sources()
    pages: list[str] = []

    def write(rel: str, text: str) -> None:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if rel.endswith(".md"):
            pages.append(rel)

    for path in sorted(docs.rglob("*")):
        rel = path.relative_to(docs).as_posix()
        if path.is_dir() or rel.startswith(GENERATED_BY.removeprefix("docs/")) or "__pycache__" in rel:
            continue
        if path.suffix == ".md":
            text = RUN_MARK.sub(TESTED, path.read_text(encoding="utf-8"))
            write(rel, rewrite(text, rel, docs, sources))
        else:
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out / rel)

    write("architecture.svg", diagram.render_svg(diagram.dot_source(arch)))
    write("architecture.md", architecture_page(arch, svcs, sources))
    for name, path in flows.FLOWS.items():
        write(f"flows/{name}.svg", diagram.render_svg(diagram.dot_source(arch, path, only_path=True)))
    write("messaging.svg", diagram.render_svg(diagram.messaging_dot(res)))
    write("resources.md", resources.page(res))
    for s in svcs:
        here = f"services/{s.name}.md"
        readme = f"services/{s.name}/README.md"
        readme_link = f"[{readme}]({sources.link(readme, None, here)})" if (ROOT / readme).exists() else "none"
        around = [(e.source, e.target) for e in arch.edges if s.node in (e.source, e.target)]
        write(
            f"services/{s.name}.svg",
            diagram.render_svg(
                diagram.dot_source(arch, around, only_path=True, rankdir="LR" if len(around) > 6 else None)
            ),
        )
        write(
            here, services.page(s, readme_link, "[see the diagram](../architecture.md)", access.grants(arch, res, svcs))
        )
    write("figures.md", figures.page(artifacts))
    pages += sources.write(out, commit())
    return pages


def check_nav(pages: list[str], nav: list[Any]) -> list[str]:
    """Problems between the nav and the staged pages: a nav entry with no page, a page no nav entry reaches."""
    listed = list(nav_pages(nav))
    problems = [f"the nav names {p}, which is not a page" for p in listed if p not in pages]
    problems += [
        f"{p} is in no nav entry of zensical.toml: add it (or remove the page)"
        for p in pages
        if p not in listed and PurePosixPath(p).parts[0] != "code"
    ]
    return problems


def zensical(command: str, *args: str) -> list[str]:
    exe = shutil.which("zensical") or str(Path(sys.executable).with_name("zensical"))
    return [exe, command, "-f", str(CONFIG), *args]


def build(strict: bool = True) -> Path:
    """Stage and build the site; returns the site folder. Raises DocsError with every problem found."""
    started = time.perf_counter()
    cfg = config()
    src, site = ROOT / cfg["docs_dir"], ROOT / cfg["site_dir"]
    pages = stage(src)
    problems = check_nav(pages, cfg["nav"])
    if problems:
        raise DocsError("\n".join(problems))
    print(f"staged {len(pages)} pages into {src.relative_to(ROOT)} in {time.perf_counter() - started:.1f} s")
    done = subprocess.run([*zensical("build", "--clean"), *(["--strict"] if strict else [])], cwd=ROOT, check=False)
    if done.returncode:
        raise DocsError(f"zensical build failed (exit {done.returncode}): see its warnings above")
    print(f"built {site.relative_to(ROOT)}/index.html in {time.perf_counter() - started:.1f} s")
    return site


def serve(address: str = "127.0.0.1:8000") -> int:
    """Stage, serve with live reload, and stage again whenever docs/ or reference/ changes (Ctrl-C stops)."""
    build(strict=True)
    watched = (DOCS, ROOT / "reference", ROOT / "services")

    def mtimes() -> dict[Path, float]:
        return {p: p.stat().st_mtime for d in watched for p in d.rglob("*") if p.is_file() and "build" not in p.parts}

    seen = mtimes()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops the server as Ctrl-C does
    server = subprocess.Popen(zensical("serve", "-a", address), cwd=ROOT)
    try:
        while server.poll() is None:
            time.sleep(1)
            now = mtimes()
            if now != seen:
                seen = now
                try:
                    _restage(ROOT / config()["docs_dir"])
                    print("re-staged after a change", flush=True)
                except Exception as exc:  # noqa: BLE001 - keep serving; the message says what to fix
                    print(f"not re-staged: {exc}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        server.terminate()
        server.wait(10)
    return 0


def _restage(out: Path) -> None:
    """Stage into a scratch folder, then touch only what changed in ``out`` (the live server watches it)."""
    scratch = out.with_name(out.name + ".next")
    stage(scratch)
    for path in sorted(scratch.rglob("*")):
        target = out / path.relative_to(scratch)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif not target.exists() or target.read_bytes() != path.read_bytes():
            shutil.copyfile(path, target)
    for path in sorted(out.rglob("*"), reverse=True):
        if not (scratch / path.relative_to(out)).exists():
            path.rmdir() if path.is_dir() else path.unlink()
    shutil.rmtree(scratch)
