"""The e2e lane: each test here starts a whole stack (or several). Under ``pytest -n`` they all run on one
worker, one after another, while the other workers take the integration lane: two whole stacks starting
at once on a 2-core machine only slow each other down."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.xdist_group("whole-stack"))
