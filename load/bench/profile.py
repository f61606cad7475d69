"""Where the gateway's time goes: py-spy samples the process under load; stacks are summed by library."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil

# Leaf frames are attributed to the first of these their file path contains.
BUCKETS = (
    ("redis client", "redis/"),
    ("httpx (upstream calls)", "httpx/"),
    ("httpx (upstream calls)", "httpcore/"),
    ("uvicorn + httptools (HTTP parsing)", "uvicorn/"),
    ("JSON logs", "logging/"),
    ("JSON logs", "pythonjsonlogger/"),
    ("JWT", "jwt/"),
    ("fastapi (routing, params)", "fastapi/"),
    ("starlette (routing, responses)", "starlette/"),
    ("gateway + common code", "services/"),
    ("asyncio event loop", "asyncio/"),
    ("pydantic", "pydantic"),
)


def pid_listening_on(url: str) -> int:
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return conn.pid
    raise SystemExit(f"no process listens on port {port}")


def record(url: str, load: Callable[[], object], out: Path, seconds: int) -> dict[str, object]:
    """Sample the process serving ``url`` while ``load()`` runs; write the folded stacks and summarise them."""
    out.parent.mkdir(parents=True, exist_ok=True)
    folded = out.with_suffix(".folded")
    argv = ["py-spy", "record", "--pid", str(pid_listening_on(url)), "--duration", str(seconds), "--rate", "200"]
    argv += ["--format", "raw", "--output", str(folded), "--nonblocking"]
    spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    load()
    spy.wait(seconds + 30)
    return summarise(folded.read_text(), folded)


def stacks(text: str) -> Iterator[tuple[list[str], int]]:
    """Each stack of py-spy's folded ("raw") output, root frame first, and how many samples it had."""
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if count.isdigit():
            yield stack.split(";"), int(count)


def summarise(text: str, path: Path) -> dict[str, object]:
    by_bucket: Counter[str] = Counter()
    by_leaf: Counter[str] = Counter()
    total = 0
    for frames, n in stacks(text):
        total += n
        leaf = frames[-1]
        by_leaf[leaf] += n
        by_bucket[next((name for name, part in BUCKETS if part in leaf), "other (Python, C calls)")] += n
    share = {k: round(100 * v / total, 1) for k, v in by_bucket.most_common()} if total else {}
    top = [(k, round(100 * v / total, 1)) for k, v in by_leaf.most_common(12)] if total else []
    return {"samples": total, "folded_stacks": str(path), "self_time_pct_by_library": share, "top_leaf_frames_pct": top}


def describe(summary: dict[str, object]) -> str:
    lines = [f"where the gateway's time goes ({summary['samples']} py-spy samples, self time by library):"]
    lines += [f"  {pct:5.1f} %  {name}" for name, pct in summary["self_time_pct_by_library"].items()]  # type: ignore[attr-defined]
    lines.append("hottest frames:")
    lines += [f"  {pct:5.1f} %  {frame}" for frame, pct in summary["top_leaf_frames_pct"]]  # type: ignore[attr-defined]
    return "\n".join(lines)
