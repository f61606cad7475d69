"""The first-hour tutorial's marked shell blocks run as a newcomer would type them, and say what the page says.

A block is marked in docs/first-hour.md with ``<!-- run: expect "TEXT" -->`` on the line before its fence.
Only the cheap blocks are marked (no stack, nothing installed); starting the stack is tests/e2e/test_up.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "first-hour.md"
BLOCK = re.compile(r'^<!-- run: expect "([^"\n]*)" -->\n```sh\n(.*?)\n```', re.MULTILINE | re.DOTALL)


def marked_blocks() -> list[tuple[str, str]]:
    return [(m.group(2), m.group(1)) for m in BLOCK.finditer(PAGE.read_text())]


def test_the_first_hour_marks_blocks_for_the_tests() -> None:
    assert len(marked_blocks()) >= 4


@pytest.mark.parametrize(("commands", "expected"), marked_blocks(), ids=lambda v: v.splitlines()[0][:40])
def test_a_marked_first_hour_block_runs_and_prints_what_the_page_says(commands: str, expected: str) -> None:
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    first = commands.split()[0]
    if shutil.which(first, path=env["PATH"]) is None:
        pytest.skip(f"{first} is not installed here (CI installs it: .ci/run)")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", commands], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert expected in done.stdout, done.stdout[-2000:]
