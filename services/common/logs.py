"""JSON logs on stdout, one object per line, each carrying the service name, the request id and the trace id.

The trace id is in X-Ray form (``1-5f1d2c3a-...``, what ``nox -s trace -- <id>`` and the X-Ray console
take), so a log line leads to its trace; ``-`` when tracing is off or the line belongs to no trace.
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from services.common import telemetry
from services.common.context import request_id


class _ContextFilter(logging.Filter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.request_id = request_id.get()
        record.trace_id = telemetry.current_trace_id() or "-"
        return True


def configure(service: str, level: str = "INFO") -> None:
    """Route the root logger (and uvicorn's) to JSON on stdout; idempotent."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(request_id)s %(trace_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_ContextFilter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Per-call INFO lines of the HTTP and AWS clients would double every access-log line.
    for name in ("httpx", "httpcore", "botocore", "boto3", "urllib3"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
