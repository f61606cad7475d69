"""The demo users' seed, without servers: it refuses to put public passwords anywhere but an emulator."""

from __future__ import annotations

from typing import Any

import pytest

from services.profile import seed


def test_the_seed_refuses_to_run_without_an_emulator(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert seed.main() == 0
    assert "skipped" in capsys.readouterr().out


def test_the_seed_writes_to_the_schema_the_service_migrates():
    from services.profile import app

    assert seed.SCHEMA == app.SCHEMA
