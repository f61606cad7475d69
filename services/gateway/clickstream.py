"""Clickstream: the storefront's events in, the gateway's own server-side events out, to the Kinesis stream.

- ``POST /api/clickstream`` takes a batch of the browser's events (``{"events": [...]}``, at most
  100), stamps them and answers 202 at once: the put to Kinesis happens later, in batches.
- ``ServerEvents`` (ASGI middleware) watches what the gateway forwards and emits the events the
  server knows for sure: ``product_view``, ``search`` with its result count, ``add_to_cart``,
  ``checkout_started``, and, when checkout answers 201/200 with an order, ``order_placed`` (plus one
  ``purchase`` per line). The server-side ``order_placed`` is what the lake counts as an order: a
  browser's event can be lost (tab closed, blocker, network), the checkout's answer cannot.
- ``Producer`` holds records in memory and sends them with PutRecords every ``linger_s`` or 500
  records, off the request path; when Kinesis is down it keeps up to ``max_queue`` and drops the
  oldest beyond, counting them (analytics must never slow or fail a request).

Requests carrying ``X-Shop-Synthetic`` (the load harness's) are marked ``synthetic`` with the run id.
``install(app)`` wires it all into the gateway (one line in app.py).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import logging
import re
import secrets
import time
from collections import deque
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference import physical_name
from services.common.types import Int32, Text

log = logging.getLogger("services.gateway.clickstream")
STREAM = "clickstream"  # the Kinesis stream of reference/resources.py
MAX_BATCH = 500  # PutRecords takes at most 500 records
_PRODUCT = re.compile(r"^/api/catalog/products/([A-Za-z0-9_-]{1,64})$")
_TOTAL = re.compile(rb'"total"\s*:\s*(\d+)')
# Event ids: a random prefix per process and a counter (a uuid4 per event cost ~2/3 of building one).
_ID_PREFIX = secrets.token_hex(8)
_sequence = itertools.count(1)


class ClickstreamSettings(BaseSettings):
    """``GATEWAY_CLICKSTREAM_*``; listed in docs/analytics.md."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_CLICKSTREAM_", extra="ignore", populate_by_name=True)

    enabled: bool = True
    stage: str = Field("local", validation_alias="SHOP_STAGE")
    region: str = Field("us-east-1", validation_alias="AWS_REGION")
    stream: str = ""  # default: the stage's clickstream stream, shop-<stage>-clickstream
    linger_s: float = Field(1.0, gt=0)
    max_queue: int = Field(20_000, ge=MAX_BATCH)

    @property
    def stream_name(self) -> str:
        return self.stream or physical_name(STREAM, self.stage)


# --------------------------------------------------------------------------- the producer


class Producer:
    """Records queued in memory, put on the stream in batches by ``run``, a background part of the gateway."""

    def __init__(self, settings: ClickstreamSettings):
        self.settings = settings
        self.queue: deque[dict[str, Any]] = deque()
        self.sent = self.dropped = self.failed_puts = 0
        self.error: str | None = None
        self._client: Any = None

    def add(self, event: dict[str, Any]) -> None:
        if not self.settings.enabled:
            return
        if len(self.queue) >= self.settings.max_queue:
            self.queue.popleft()
            self.dropped += 1
        self.queue.append(event)

    def stats(self) -> dict[str, Any]:
        return {"stream": self.settings.stream_name, "queued": len(self.queue), "sent": self.sent,
                "dropped": self.dropped, "failed_puts": self.failed_puts}  # fmt: skip

    async def run(self, stop: asyncio.Event) -> None:
        """Put what is queued every ``linger_s`` until ``stop``, then once more (the runtime bounds the wait)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.linger_s)
            if not stop.is_set():
                await self.flush()
        await self.close()

    async def ready(self) -> None:
        """Raises while the stream refuses records (a readiness check; not critical: shoppers never wait on it)."""
        if self.error:
            raise RuntimeError(self.error)

    async def flush(self) -> None:
        while self.queue:
            batch = [self.queue.popleft() for _ in range(min(MAX_BATCH, len(self.queue)))]
            try:
                failed = await asyncio.to_thread(self._put, batch)
            except Exception as exc:  # noqa: BLE001 - the stream being down must not reach a shopper
                self.failed_puts += 1
                self.error = f"PutRecords failed: {type(exc).__name__}: {exc}"
                log.warning("PutRecords failed (%s); %d record(s) kept for the next try", exc, len(batch))
                self.queue.extendleft(reversed(batch))
                while len(self.queue) > self.settings.max_queue:
                    self.queue.popleft()
                    self.dropped += 1
                return
            self.error = None
            self.sent += len(batch) - len(failed)
            self.queue.extendleft(reversed(failed))  # throttled records: again on the next round
            if failed:
                return

    def _put(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self._client is None:
            import boto3
            from botocore.config import Config

            config = Config(connect_timeout=1, read_timeout=3, retries={"max_attempts": 1})
            self._client = boto3.client("kinesis", region_name=self.settings.region, config=config)
        answer = self._client.put_records(
            StreamName=self.settings.stream_name,
            # One JSON object per line: Firehose concatenates records as they are.
            Records=[
                {"Data": (json.dumps(e, separators=(",", ":")) + "\n").encode(), "PartitionKey": e["session_id"] or "-"}
                for e in batch
            ],
        )
        return [e for e, r in zip(batch, answer["Records"], strict=True) if "ErrorCode" in r]

    async def close(self, timeout_s: float = 3.0) -> None:
        """A last flush (what ``run`` does when the service stops); says what could not be sent."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), timeout_s)
        if self.queue or self.dropped:
            log.warning("clickstream stopped with %d record(s) unsent, %d dropped", len(self.queue), self.dropped)


# --------------------------------------------------------------------------- events


def event(event_type: str, headers: dict[str, str], source: str, **fields: Any) -> dict[str, Any]:
    """One clickstream record as the Glue table has it; who sent it comes from the request's headers."""
    synthetic = headers.get("x-shop-synthetic", "")
    return {
        "event_id": f"{_ID_PREFIX}{next(_sequence):x}",
        "occurred_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "source": source,
        "synthetic": bool(synthetic),
        "load_run": synthetic[:64],
        "session_id": session_of(headers),
        "user_sub": "",
        "event_type": event_type,
    } | {k: v for k, v in fields.items() if v is not None}


def session_of(headers: dict[str, str]) -> str:
    """The load harness's session, else the guest cart's, else a digest of the token, else the client."""
    for name in ("x-shop-session", "x-cart-session"):
        if value := headers.get(name):
            return value[:64]
    if authorization := headers.get("authorization"):
        return "tok-" + hashlib.sha256(authorization.encode()).hexdigest()[:16]
    return "ip-" + headers.get("x-forwarded-for", "").split(",")[0].strip()


def verified_sub(headers: dict[str, str]) -> str:
    """The token's subject; only called after the gateway accepted the token (the answer was not 401)."""
    token = headers.get("authorization", "").removeprefix("Bearer ").strip()
    try:
        payload = token.split(".")[1]
        return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("sub", ""))[:128]
    except (IndexError, ValueError, AttributeError):
        return ""


def server_events(
    method: str, path: str, query: bytes, status: int, request_body: bytes, response_body: bytes
) -> list[tuple[str, dict[str, Any]]]:
    """The events a forwarded request stands for: ``(event_type, fields)`` pairs (none for most requests)."""
    found: list[tuple[str, dict[str, Any]]] = []
    if method == "GET" and status == 200 and (match := _PRODUCT.match(path)):
        found.append(("product_view", {"product_id": match[1]}))
    elif method == "GET" and status == 200 and path == "/api/search":
        q = parse_qs(query.decode("latin-1")).get("q", [""])[0]
        total = _TOTAL.search(response_body)
        found.append(("search", {"query": q[:200], "result_count": int(total[1]) if total else None}))
    elif method == "POST" and path == "/api/cart/items" and 200 <= status < 300:
        body = _json(request_body)
        found.append(("add_to_cart", {"product_id": str(body.get("product_id", ""))[:64],
                                      "quantity": _int(body.get("quantity", 1))}))  # fmt: skip
    elif method == "POST" and path == "/api/checkout":
        found.append(("checkout_started", {}))
        answer = _json(response_body) if status in (200, 201) else {}
        if answer.get("order_id"):
            currency, order_id = answer.get("currency"), answer["order_id"]
            total = (_int(answer.get("total_minor")) or 0) / 100
            found.append(("order_placed", {"order_id": order_id, "revenue": total, "currency": currency}))
            for line in answer.get("lines") or []:
                quantity = _int(line.get("quantity")) or 0
                revenue = quantity * (_int(line.get("unit_price_minor")) or 0) / 100
                line_fields = {"product_id": line.get("product_id"), "quantity": quantity, "revenue": revenue}
                found.append(("purchase", {"order_id": order_id, "currency": currency} | line_fields))
    return found


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


WATCHED = ("/api/catalog/products/", "/api/search", "/api/cart/items", "/api/checkout")
_KEEPS_RESPONSE = ("/api/search", "/api/checkout")
_KEEPS_REQUEST = ("/api/cart/items", "/api/checkout")


class ServerEvents:
    """Pure ASGI middleware: server-side events of the requests that mean something."""

    def __init__(self, app: ASGIApp, producer: Producer):
        self.app, self.producer = app, producer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(WATCHED) or not self.producer.settings.enabled:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_body, response_body = bytearray(), bytearray()
        status = 0

        async def receive_keeping() -> Message:
            message = await receive()
            if path in _KEEPS_REQUEST and message["type"] == "http.request":
                request_body.extend(message.get("body", b""))
            return message

        async def send_keeping(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and path in _KEEPS_RESPONSE:
                response_body.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, receive_keeping, send_keeping)
        try:
            found = server_events(scope["method"], path, scope.get("query_string", b""), status,
                                  bytes(request_body), bytes(response_body))  # fmt: skip
            if not found:
                return
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            sub = verified_sub(headers) if status != 401 and "authorization" in headers else ""
            sub = sub or str(scope.get("state", {}).get("caller_sub", ""))  # a browser session's user (bff.py)
            latency_ms = round((time.perf_counter() - started) * 1000, 2)
            for event_type, fields in found:
                record = event(
                    event_type, headers, "gateway", path=path, status=status, latency_ms=latency_ms, **fields
                )
                record["user_sub"] = sub
                self.producer.add(record)
        except Exception:  # analytics never breaks a request that already got its answer
            log.exception("server-side event failed")


# --------------------------------------------------------------------------- the browser's events

Short = Annotated[Text, StringConstraints(max_length=64)]


class BrowserEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_type: Literal["page_view", "search", "add_to_cart", "checkout_started", "order_placed"]
    session_id: Short
    path: Annotated[Text, StringConstraints(max_length=512)] = ""
    product_id: Short = ""
    query: Annotated[Text, StringConstraints(max_length=200)] = ""
    result_count: Annotated[Int32 | None, Field(ge=0)] = None
    quantity: Annotated[StrictInt | None, Field(ge=0, le=10_000)] = None
    order_id: Annotated[Text, StringConstraints(max_length=100)] = ""


class Batch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[BrowserEvent] = Field(min_length=1, max_length=100)


router = APIRouter(tags=["clickstream"])


@router.post("/api/clickstream", status_code=202, summary="The storefront's events, in batches (at most 100)")
async def collect(batch: Batch, request: Request) -> JSONResponse:
    producer: Producer = request.app.state.clickstream
    headers = {k.lower(): v for k, v in request.headers.items()}
    for item in batch.events:
        fields = item.model_dump(exclude_none=True)
        session = fields.pop("session_id")
        record = event(fields.pop("event_type"), headers, "browser", **fields)
        record["session_id"] = session
        producer.add(record)
    return JSONResponse({"accepted": len(batch.events)}, status_code=202)


@router.get("/api/clickstream", summary="The producer's counts: queued, sent, dropped")
async def stats(request: Request) -> dict[str, Any]:
    return request.app.state.clickstream.stats()


def install(app: FastAPI, settings: ClickstreamSettings | None = None) -> Producer:
    """The routes (ahead of the catch-all proxy route) and the middleware; returns the producer, which the
    gateway runs as a background part (``rt.background("clickstream", producer.run, ready=producer.ready)``)."""
    producer = Producer(settings or ClickstreamSettings())
    app.state.clickstream = producer
    ours = list(router.routes)
    app.router.routes[:0] = ours  # first match wins: ahead of /api/{path:path}
    app.add_middleware(ServerEvents, producer=producer)
    return producer
