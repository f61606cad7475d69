"""An API fuzzer over every service's OpenAPI document and the gateway's: schemathesis, as a client would probe.

Each document is fuzzed by the ``schemathesis`` CLI (positive and negative data, a bounded number of cases per
operation, a fixed seed) against the running services, as an admin (identity headers directly, a real access
token through the gateway). A run fails on any server error, an answer that breaks its schema, a status or a
content type the document does not list, or bad input that was accepted.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from contract_support import SERVICES, shop

from services.common.identity import Caller

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "unsupported_method",  # an undocumented method is a 405 whose Allow names the documented ones
)
# Cases per operation and mode: the services' own documents get more, the gateway's (the same operations under
# /api, with its own statuses) fewer, so the whole fuzz stays within about a minute on a loaded 2-core box.
EXAMPLES = {"service": 6, "gateway": 2}
RUNNER = Path(__file__).parent.parent / "api_fuzz_runner.py"
CONFIG = Path(__file__).parent.parent / "api_fuzz.toml"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(servers: Any) -> Any:
    async with shop(servers) as running:
        yield running


@dataclass
class Run:
    target: str
    code: int
    output: str

    @property
    def operations(self) -> int:
        found = re.search(r"Tested: (\d+)", self.output)
        return int(found.group(1)) if found else 0

    @property
    def cases(self) -> int:
        found = re.search(r"(\d+) generated", self.output)
        return int(found.group(1)) if found else 0

    def line(self) -> str:
        return f"{self.target}: {self.operations} operations, {self.cases} cases, exit {self.code}"


def arguments(url: str, headers: dict[str, str], examples: int) -> list[str]:
    """The CLI's arguments for ``url``'s document (positive and negative data, a fixed seed)."""
    args = [
        "--config-file", str(CONFIG), "--no-color", "run", f"{url}/openapi.json", "--url", url,
        "--checks", ",".join(CHECKS), "--mode", "all", "--phases", "examples,fuzzing",
        "--max-examples", str(examples), "--seed", "12", "--no-shrink", "--generation-database", "none",
        "--request-timeout", "30", "--suppress-health-check", "all", "--warnings", "off",
    ]  # fmt: skip
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    return args


async def fuzz(plan: list[dict[str, Any]], tmp: Path) -> list[Run]:
    """Every document of ``plan`` fuzzed in one process (tests/api_fuzz_runner.py: schemathesis imported once)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(RUNNER), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=tmp
    )
    out, _ = await process.communicate(json.dumps(plan).encode())
    runs = [Run(r["target"], r["code"], r["output"]) for r in json.loads(out)]
    for run in runs:
        (tmp / f"{run.target}.txt").write_text(run.output)
    return runs


@pytest.mark.timeout(600)
async def test_the_fuzzer_finds_no_server_error_schema_violation_or_undocumented_answer(stack, tmp_path):
    admin = Caller("fuzzer", "fuzzer@example.com", frozenset({"admin"})).headers()
    plan = [{"target": n, "args": arguments(u, admin, EXAMPLES["service"])} for n, u in stack.urls.items()]
    gateway = arguments(stack.gateway, stack.bearer("admin", ("admin",)), EXAMPLES["gateway"])
    done = await fuzz([*plan, {"target": "gateway", "args": gateway}], tmp_path)
    summary = "\n".join(run.line() for run in done)
    total = f"all: {sum(r.operations for r in done)} operations, {sum(r.cases for r in done)} cases"
    print(f"{summary}\n{total}")
    failed = [run for run in done if run.code != 0]
    assert not failed, "\n\n".join(f"{r.line()} ({tmp_path / (r.target + '.txt')})\n{r.output[-3000:]}" for r in failed)
    assert {r.target for r in done} == {*SERVICES, "gateway"}
    assert all(r.operations > 0 and r.cases > 0 for r in done), summary
