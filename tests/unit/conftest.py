"""The unit lane: no server, no network. A test here that asks for a server, or opens a TCP
connection to one, fails with a message saying which lane it belongs in.

Loopback connections to an ASGI app served in-process are not made here either: unit tests talk
to apps through ``httpx.ASGITransport``.
"""

from __future__ import annotations

import socket

import pytest

SERVER_FIXTURES = ("servers",)
MOVE = "unit tests start no server: move this test to tests/integration (real servers) or tests/e2e (whole stack)"


@pytest.fixture(scope="session")
def servers() -> None:
    """Overrides the root conftest's ``servers``: every server fixture depends on it."""
    pytest.fail(MOVE, pytrace=False)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse TCP connections: a unit test that reaches a server is in the wrong lane."""
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError(f"{MOVE} (it connected to {address!r})")
        real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
