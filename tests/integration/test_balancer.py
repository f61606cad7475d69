"""HAProxy in front of two real replicas: it balances over both, follows /readyz, and counts per replica.

The replicas are Python's own ``http.server`` serving a folder: ``/readyz`` answers 200 while the
file ``readyz`` exists there and 404 once it is removed, so readiness is flipped without a mock.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from localcloud import backends, lb

pytestmark = pytest.mark.skipif(lb.binary() is None, reason="haproxy is not installed (apt-get install haproxy)")


# http.server on a socket bound here and handed over: a port picked, freed and bound again by the child could be
# taken in between by another test's server (another pytest worker's), whose /readyz the balancer would then check.
SERVE_ON_FD = """
import functools, http.server, socket, sys
sock = socket.socket(fileno=int(sys.argv[1]))
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[2])
server = http.server.ThreadingHTTPServer(sock.getsockname(), handler, bind_and_activate=False)
server.socket.close()
server.socket = sock
server.serve_forever()
"""


def _replica(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    folder.mkdir()
    (folder / "readyz").write_text("ok")
    sock = backends.listen("127.0.0.1", 0)
    address = f"127.0.0.1:{sock.getsockname()[1]}"
    argv = [sys.executable, "-c", SERVE_ON_FD, str(sock.fileno()), str(folder)]
    child = subprocess.Popen(argv, pass_fds=(sock.fileno(),), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock.close()  # the child has its own copy
    return child, address


def _until(check: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


@pytest.fixture
def balanced(tmp_path: Path) -> Iterator[tuple[str, str, Path, Path]]:
    """(front URL, stats URL, replica 1's folder, replica 2's folder) with HAProxy running."""
    one, a = _replica(tmp_path / "one")
    two, b = _replica(tmp_path / "two")
    front = backends.listen("127.0.0.1", 0)
    stats = backends.listen("127.0.0.1", 0)
    front_url = f"http://127.0.0.1:{front.getsockname()[1]}"
    stats_url = f"http://127.0.0.1:{stats.getsockname()[1]}"
    logs = tmp_path / "logs"
    logs.mkdir()
    child = lb.start([lb.Pool("web", front, (("web-1", a), ("web-2", b)))], stats, tmp_path, logs)
    try:
        lb.wait_up(stats_url, {"web-1", "web-2"}, 30, child)
        yield front_url, stats_url, tmp_path / "one", tmp_path / "two"
    finally:
        child.stop()
        for proc in (one, two):
            proc.terminate()
            proc.wait(10)


def _counts(stats_url: str) -> dict[str, int]:
    return {r["svname"]: int(r["stot"]) for r in lb.stats(stats_url)}


def test_requests_are_spread_over_both_replicas_and_counted_per_replica(balanced: tuple[str, str, Path, Path]) -> None:
    front, stats, _, _ = balanced
    for _ in range(20):
        with urllib.request.urlopen(f"{front}/readyz", timeout=5) as response:  # noqa: S310 - loopback
            assert response.status == 200
    counts = _counts(stats)
    assert counts["web-1"] > 0
    assert counts["web-2"] > 0
    assert counts["web-1"] + counts["web-2"] >= 20


def test_a_replica_whose_readyz_fails_leaves_the_pool_and_comes_back(balanced: tuple[str, str, Path, Path]) -> None:
    front, stats, one, _ = balanced
    (one / "readyz").unlink()
    _until(lambda: {r["svname"]: r["status"] for r in lb.stats(stats)}["web-1"].startswith("DOWN"))
    before = _counts(stats)["web-1"]
    for _ in range(10):
        with urllib.request.urlopen(f"{front}/readyz", timeout=5):  # noqa: S310 - loopback
            pass  # every one answered by web-2
    assert _counts(stats)["web-1"] == before
    (one / "readyz").write_text("ok")
    _until(lambda: {r["svname"]: r["status"] for r in lb.stats(stats)}["web-1"].startswith("UP"))


def test_the_balancer_answers_503_when_no_replica_is_ready(balanced: tuple[str, str, Path, Path]) -> None:
    front, stats, one, two = balanced
    (one / "readyz").unlink()
    (two / "readyz").unlink()
    _until(lambda: all(r["status"].startswith("DOWN") for r in lb.stats(stats)))
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{front}/readyz", timeout=5)  # noqa: S310 - loopback
    assert caught.value.code == 503


def test_a_socket_handed_over_keeps_its_port(tmp_path: Path) -> None:
    sock = backends.listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    stats = backends.listen("127.0.0.1", 0)
    logs = tmp_path / "logs"
    logs.mkdir()
    child = lb.start([lb.Pool("web", sock, (("web-1", "127.0.0.1:9"),))], stats, tmp_path, logs)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # HAProxy accepts on the very socket the supervisor bound
    finally:
        child.stop()


def test_replicas_are_added_and_removed_while_it_runs(balanced: tuple[str, str, Path, Path], tmp_path: Path) -> None:
    front, stats, _, _ = balanced
    admin = lb.admin_socket(tmp_path)
    three, address = _replica(tmp_path / "three")
    try:
        lb.add_replica(admin, "web", "web-3", address)
        _until(lambda: {r["svname"]: r["status"] for r in lb.stats(stats)}.get("web-3", "").startswith("UP"))
        for _ in range(30):
            with urllib.request.urlopen(f"{front}/readyz", timeout=5):  # noqa: S310 - loopback
                pass
        assert _counts(stats)["web-3"] > 0
        lb.drain_replica(admin, "web", "web-3")
        _until(lambda: {r["svname"]: r["status"] for r in lb.stats(stats)}["web-3"].startswith("MAINT"))
    finally:
        three.terminate()
        three.wait(10)
    lb.remove_replica(admin, "web", "web-3")
    assert "web-3" not in _counts(stats)
