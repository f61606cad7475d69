"""Runs the schemathesis CLI over several OpenAPI documents in one process (one import instead of one per document).

Reads ``[{"target": name, "args": [...]}, ...]`` (the arguments of ``schemathesis``) as JSON on stdin and writes
``[{"target", "code", "output"}, ...]`` as JSON on stdout; tests/integration/test_api_fuzz.py drives it.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys

from schemathesis.cli import schemathesis as cli


def run(args: list[str]) -> tuple[int, str]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        try:
            code = cli.main(args, standalone_mode=False)
        except SystemExit as exc:
            code = exc.code
        except Exception as exc:  # noqa: BLE001 - reported as the run's failure, with its reason
            print(f"schemathesis raised {exc!r}")
            code = 3
    return int(code or 0), buffer.getvalue()


def main() -> None:
    results = []
    for item in json.load(sys.stdin):
        code, output = run(item["args"])
        results.append({"target": item["target"], "code": code, "output": output})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
