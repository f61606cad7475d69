"""Finding the running local stack: a state file names its supervisor by pid AND start time, so a stale file
whose pid the kernel gave to another process is not taken for a running stack."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

import pytest

from localcloud import state


@pytest.fixture(autouse=True)
def _own_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def test_the_file_of_a_running_stack_is_read_back():
    state.write("t1", {"SHOP_STAGE": "t1", "SHOP_SERVICE_CART_URL": "http://127.0.0.1:1", "UNRELATED": "x"})
    assert state.read("t1") == {"SHOP_STAGE": "t1", "SHOP_SERVICE_CART_URL": "http://127.0.0.1:1"}


def test_a_live_pid_with_another_start_time_is_a_stale_file():
    path = state.write("t2", {"SHOP_STAGE": "t2"})
    written = json.loads(path.read_text())
    path.write_text(json.dumps(written | {"started": written["started"] - 1000}))
    assert state.read("t2") is None


def test_a_pid_that_is_gone_is_a_stale_file():
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    path = state.write("t3", {"SHOP_STAGE": "t3"})
    path.write_text(json.dumps(json.loads(path.read_text()) | {"pid": int(done.stdout)}))
    assert state.read("t3") is None
