"""Faults injected by flag, and the evidence that they were: ``inject(key)``, ``GET /_faults``.

The flags live in a file in flagd's format (https://flagd.dev/reference/flag-definitions/), named by
``SHOP_FLAGS_FILE`` (``nox -s up`` puts one in its run directory; the chaos runner replaces it with an
atomic rename). Each flag's value is its ``defaultVariant``'s while its ``state`` is ``ENABLED``, the code's
default (off) otherwise; ``targeting`` rules are not evaluated here (a fault applies to every call of the
process). The file is stat-ed at most once per ``SHOP_FLAGS_POLL_S`` (1 s) and read again when it changed; a
file that does not parse keeps the last good values (as flagd does) and says why in ``/_faults``.

Why not OpenFeature's SDK with its flagd provider in file mode (it works offline here): importing the
provider costs about 0.3 s per process (it imports grpc and protobuf for the modes we would not use) and
starts a watcher thread in each of the ten services, to read a file that holds a handful of static values.
The file's format is flagd's, so the same document drives a flagd deployment on EKS.

The flags and what each does are data in reference/faults.py. Every evaluation and every injected fault is
counted per key (``Faults.report``, served at ``GET /_faults``, a chassis route the gateway does not route):
a fault the runner switched on but no code path evaluated shows 0 evaluations, so a typo in a key, or a
flag on a service that never reads it, is evidence that the fault never took effect.

Two faults are made at the AWS SDK's edge, in botocore's ``before-send`` event (``install_botocore_hooks``):
the request is answered with the error AWS would give before it leaves the process, and botocore's own retry
policy and error mapping run on it unchanged. Services then see ``ProvisionedThroughputExceededException``
from DynamoDB and ``InternalError`` from SNS exactly as their code would in AWS.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from reference.faults import BY_KEY, FlagType

log = logging.getLogger("services.flags")


class FlagSettings(BaseSettings):
    """Where the flag file is, and how often it may be checked for changes."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    flags_file: str = Field("", validation_alias="SHOP_FLAGS_FILE")
    flags_poll_s: float = Field(1.0, ge=0.0, le=60.0, validation_alias="SHOP_FLAGS_POLL_S")


class FlagFile:
    """A flagd flag file's values, read again when its mtime or size changed (checked at most every ``poll_s``)."""

    def __init__(self, path: str, poll_s: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.path = path
        self.poll_s = poll_s
        self.clock = clock
        self.error: str | None = None
        self._values: dict[str, Any] = {}
        self._seen: tuple[float, int] | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def values(self) -> dict[str, Any]:
        now = self.clock()
        if now - self._checked >= self.poll_s:
            with self._lock:
                self._checked = now
                self._reload()
        return self._values

    def _reload(self) -> None:
        if not self.path:
            return
        try:
            st = os.stat(self.path)
        except OSError:
            self._values, self._seen, self.error = {}, None, None  # no file: every flag is off
            return
        if (st.st_mtime, st.st_size) == self._seen:
            return
        try:
            with open(self.path, encoding="utf-8") as source:
                self._values = parse(json.load(source))
            self.error = None
        except (OSError, ValueError) as exc:
            self.error = f"{self.path}: {exc}; keeping the last good values"
            log.warning("flag file %s", self.error)
        self._seen = (st.st_mtime, st.st_size)


def parse(document: object) -> dict[str, Any]:
    """flagd's ``{"flags": {key: {"state", "variants", "defaultVariant"}}}`` -> ``{key: value}`` for enabled ones."""
    if not isinstance(document, dict) or not isinstance(document.get("flags", {}), dict):
        raise ValueError('not a flagd document: expected {"flags": {...}}')
    values = {}
    for key, flag in document.get("flags", {}).items():
        if not isinstance(flag, dict) or not isinstance(flag.get("variants"), dict):
            raise ValueError(f"flag {key!r} has no variants")
        if flag.get("state", "ENABLED") != "ENABLED":
            continue
        variant = flag.get("defaultVariant")
        if variant not in flag["variants"]:
            raise ValueError(f"flag {key!r}: defaultVariant {variant!r} is not one of its variants")
        values[key] = flag["variants"][variant]
    return values


class Faults:
    """The process's flags, what was evaluated and injected per key, and other evidence (``extras``)."""

    def __init__(self, flag_file: FlagFile, rng: Callable[[], float] = random.random):
        self.file = flag_file
        self.rng = rng
        self.evaluations: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.mistyped: Counter[str] = Counter()
        self.extras: dict[str, Callable[[], Any]] = {}

    def rate(self, key: str) -> float:
        """A rate flag's value, 0 when off (counted as one evaluation)."""
        self.evaluations[key] += 1
        value = self.file.values().get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.mistyped[key] += 1
            return 0.0
        return min(max(float(value), 0.0), 1.0)

    def switch(self, key: str) -> bool:
        """A switch flag's value, False when off (counted as one evaluation)."""
        self.evaluations[key] += 1
        value = self.file.values().get(key, False)
        if not isinstance(value, bool):
            self.mistyped[key] += 1
            return False
        return value

    def inject(self, key: str) -> bool:
        """Whether this call should fail: the flag's rate drawn, or its switch; counted as evaluated and injected."""
        flag = BY_KEY.get(key)
        if flag is not None and flag.type is FlagType.SWITCH:
            on = self.switch(key)
        else:
            rate = self.rate(key)
            on = rate > 0 and self.rng() < rate
        if on:
            self.injected[key] += 1
        return on

    def report(self) -> dict[str, Any]:
        """What ``GET /_faults`` answers: every known key, every key in the file and every key evaluated."""
        in_file = self.file.values()
        keys = sorted({*BY_KEY, *in_file, *self.evaluations})
        flags = {}
        for key in keys:
            flags[key] = {
                "evaluations": self.evaluations[key],
                "injected": self.injected[key],
                "value": in_file.get(key),
                "known": key in BY_KEY,
            }
            if self.mistyped[key]:
                flags[key]["mistyped"] = self.mistyped[key]
        body: dict[str, Any] = {"flags": flags, "file": self.file.path or None, "file_error": self.file.error}
        for name, extra in self.extras.items():
            body[name] = extra()
        return body


_faults: list[Faults] = []


def faults() -> Faults:
    """The process's fault flags (built on first use from ``SHOP_FLAGS_FILE``)."""
    if not _faults:
        settings = FlagSettings()
        _faults.append(Faults(FlagFile(settings.flags_file, settings.flags_poll_s)))
    return _faults[0]


def inject(key: str) -> bool:
    """Whether the fault ``key`` (reference/faults.py) should happen on this call."""
    return faults().inject(key)


def evidence(name: str, report: Callable[[], Any]) -> None:
    """Show ``report()`` under ``name`` in ``GET /_faults`` (a circuit breaker's state, say)."""
    faults().extras[name] = report


def reset(flag_file: FlagFile | None = None) -> Faults:
    """Start counting afresh (tests), optionally from another flag file."""
    _faults.clear()
    if flag_file is not None:
        _faults.append(Faults(flag_file))
    return faults()


router = APIRouter()


@router.get("/_faults", include_in_schema=False)
async def fault_evidence() -> dict[str, Any]:
    """Every fault flag: evaluations and injections counted by this process, and other fault evidence."""
    return faults().report()


# --------------------------------------------------------------------------- AWS SDK faults (botocore)


class _Body:
    def __init__(self, data: bytes):
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def _aws_error(request: Any, status: int, code: str, message: str) -> Any:
    """The HTTP answer AWS gives for ``code``, in the request's protocol (JSON or query/XML)."""
    from botocore.awsrequest import AWSResponse

    content_type = str(request.headers.get("Content-Type", b""))
    if "json" in content_type:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": code}
    else:
        body = (
            f"<ErrorResponse><Error><Type>{'Receiver' if status >= 500 else 'Sender'}</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>injected-fault</RequestId></ErrorResponse>"
        ).encode()
        headers = {"Content-Type": "text/xml"}
    return AWSResponse(request.url, status, headers, _Body(body))


def _dynamodb_fault(request: Any, **_: Any) -> Any:
    if inject("dynamodb.error-rate"):
        return _aws_error(
            request, 400, "ProvisionedThroughputExceededException", "injected by flag dynamodb.error-rate"
        )
    return None


def _sns_publish_fault(request: Any, **_: Any) -> Any:
    if inject("sns.publish.failure"):
        return _aws_error(request, 500, "InternalError", "injected by flag sns.publish.failure")
    return None


HOOKS = {
    "before-send.dynamodb": _dynamodb_fault,
    "before-send.sns.Publish": _sns_publish_fault,
    "before-send.sns.PublishBatch": _sns_publish_fault,
}


def install_botocore_hooks(session: Any = None) -> None:
    """Register the AWS faults on ``session`` (boto3's default one: every client made after this has them).

    Idempotent; clients already made keep the events they were made with, so call it before building them."""
    import boto3

    session = session or boto3._get_default_session()
    for event, handler in HOOKS.items():
        session.events.register(event, handler, unique_id=f"shop-fault:{event}")
