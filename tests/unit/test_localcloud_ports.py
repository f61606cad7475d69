"""Ports without check-then-use races: a server that can only be given a port number is started again on another
when the one picked was taken meanwhile; a port held for a refused connection stays refused."""

from __future__ import annotations

import socket
import sys

import pytest

from localcloud.backends import refused_port, start_on_a_free_port
from localcloud.processes import StartError, spawn


def test_a_server_whose_port_was_taken_meanwhile_is_started_again_on_another(tmp_path):
    tries: list[int] = []

    def start(port: int):
        tries.append(port)
        code = "print('bind: Address already in use')" if len(tries) == 1 else "import time; time.sleep(30)"
        return spawn("demo", [sys.executable, "-c", code], log_dir=tmp_path)

    def probe(url: str) -> None:
        if not url.endswith(str(tries[-1])) or len(tries) == 1:
            raise ConnectionError("nobody answers")

    child, url = start_on_a_free_port(start, probe, lambda port: f"demo://127.0.0.1:{port}", what="answer")
    child.stop()
    assert len(tries) == 2
    assert url == f"demo://127.0.0.1:{tries[1]}"


def test_a_server_that_fails_for_another_reason_is_not_started_again(tmp_path):
    tries: list[int] = []

    def start(port: int):
        tries.append(port)
        return spawn("demo", [sys.executable, "-c", "raise SystemExit('config error')"], log_dir=tmp_path)

    def probe(url: str) -> None:
        raise ConnectionError("nobody answers")

    with pytest.raises(StartError, match="config error"):
        start_on_a_free_port(start, probe, lambda port: f"demo://{port}", what="answer")
    assert len(tries) == 1


def test_a_refused_port_is_held_so_nobody_else_can_listen_there():
    with refused_port() as port, socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with pytest.raises(OSError, match="in use"):
            other.bind(("127.0.0.1", port))
