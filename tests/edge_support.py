"""Edge test helpers: the labelled WAF corpus, an echoing API upstream, a running front door over moto's buckets."""

from __future__ import annotations

import asyncio
import json
import time
import tomllib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from localcloud.edge.app import create_app
from localcloud.edge.settings import EdgeSettings
from localcloud.edge.waf import WafRequest
from localcloud.settings import LocalCloudSettings
from reference import physical_name
from reference.waf import WEB_ACL, WebAcl

CORPUS = Path(__file__).parent / "waf_corpus"
CLIENT_IP_HEADER = "x-test-client-ip"
BROWSER = {
    "host": "shop.example.com",
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "accept-language": "en-GB,en;q=0.9",
    "accept-encoding": "gzip, deflate, br",
    "sec-ch-ua": '"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"',
    "sec-fetch-mode": "navigate",
}


@dataclass(frozen=True)
class Case:
    """One labelled request of the corpus (tests/waf_corpus/README.md)."""

    id: str
    category: str
    path: str
    method: str = "GET"
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    country: str | None = None
    repeat: int = 1
    expect: str = "none"
    expect_sub_rule: str | None = None
    expect_labels: tuple[str, ...] = ()
    client_ip: str = "198.51.100.1"
    known_miss: str | None = None

    @property
    def attack(self) -> bool:
        return self.expect != "none"

    def request(self) -> WafRequest:
        return WafRequest(self.method, self.path, self.query, list(self.headers.items()), self.body,
                          self.client_ip, self.country)  # fmt: skip


def load_corpus(name: str) -> list[Case]:
    """The cases of ``waf_corpus/<name>.toml``, each from an address of its own."""
    raw = tomllib.loads((CORPUS / f"{name}.toml").read_text())["case"]
    offset = 1 if name == "attacks" else 101
    return [_case(item, f"198.51.100.{offset + i}") for i, item in enumerate(raw)]


def _case(item: dict[str, Any], client_ip: str) -> Case:
    headers = {k: v for k, v in (BROWSER | item.get("headers", {})).items() if v != ""}
    body = item.get("body", "").encode()
    if size := item.get("body_size"):
        body = (body + b"x" * size)[:size]
    if size := item.get("cookie_size"):
        headers["cookie"] = (headers["cookie"] + "a" * size)[:size]
    query = item.get("query", "")
    if size := item.get("query_size"):
        query = (query + "a" * size)[:size]
    path = item["path"]
    if size := item.get("path_size"):
        path = (path + "a" * size)[:size]
    return Case(
        id=item["id"], category=item["category"], path=path, method=item.get("method", "GET"), query=query,
        headers=headers, body=body, country=item.get("country"), repeat=item.get("repeat", 1),
        expect=item.get("expect", "none"), expect_sub_rule=item.get("expect_sub_rule"),
        expect_labels=tuple(item.get("expect_labels", ())), client_ip=client_ip, known_miss=item.get("known_miss"),
    )  # fmt: skip


def load_shoppers() -> list[Case]:
    """tests/waf_corpus/shoppers.toml as requests: each text in the search box, in a JSON write, in a form."""
    data = tomllib.loads((CORPUS / "shoppers.toml").read_text())
    json_type, form_type = {"content-type": "application/json"}, {"content-type": "application/x-www-form-urlencoded"}
    cases = []
    for i, text in enumerate(data["texts"]):
        cases += [
            Case(f"search-{i}", "search", "/api/search", query=f"q={quote_plus(text)}&page=1", headers=dict(BROWSER)),
            Case(f"review-{i}", "json", "/api/catalog/products/p-0001/reviews", "POST", headers=BROWSER | json_type,
                 body=json.dumps({"rating": 4, "text": text}, ensure_ascii=False).encode()),
            Case(f"form-{i}", "form", "/api/me", "POST", headers=BROWSER | form_type,
                 body=f"name=Anna&note={quote_plus(text)}".encode()),
        ]  # fmt: skip
    for i, (path, body) in enumerate(data["bodies"]):
        cases.append(Case(f"body-{i}", "json", path, "POST", headers=BROWSER | json_type, body=body.encode()))
    return cases


@dataclass
class Score:
    """Block rate over the attacks, false-positive rate over the benign cases."""

    attacks: int = 0
    blocked_as_named: int = 0
    benign: int = 0
    false_positives: int = 0
    misses: list[str] = field(default_factory=list)
    missed_ids: set[str] = field(default_factory=set)

    def report(self, where: str) -> str:
        block = self.blocked_as_named / self.attacks if self.attacks else 0.0
        fp = self.false_positives / self.benign if self.benign else 0.0
        text = (f"WAF corpus through {where}: {self.blocked_as_named}/{self.attacks} attacks blocked by the named rule "
                f"(block rate {block:.1%}); {self.false_positives}/{self.benign} benign requests blocked "
                f"(false-positive rate {fp:.1%})")  # fmt: skip
        return text + "".join(f"\n  miss: {m}" for m in self.misses)

    def unexpected(self, cases: list[Case]) -> set[str]:
        """Cases whose outcome differs from the corpus: new misses, and known misses that now pass."""
        return self.missed_ids ^ {c.id for c in cases if c.known_miss}


# --------------------------------------------------------------------------- a running front door


def echo_upstream(seen: list[dict[str, Any]]) -> Starlette:
    """An API gateway stand-in that answers every /api/* request with what it received."""

    async def echo(request: Request) -> JSONResponse | StreamingResponse:
        body = await request.body()
        record = {"method": request.method, "path": request.url.path, "query": request.url.query,
                  "headers": dict(request.headers), "body": body.decode("utf-8", "replace")}  # fmt: skip
        seen.append(record)
        if request.url.path == "/api/big":

            async def chunks():  # a body larger than the edge reads whole, without a length
                for _ in range(40):
                    yield b"x" * 65536

            return StreamingResponse(chunks(), media_type="application/octet-stream")
        return JSONResponse(record, headers={"cache-control": "public, max-age=600", "etag": '"api-1"'})

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"]
    return Starlette(routes=[Route("/healthz", healthz), Route("/api/{rest:path}", echo, methods=methods)])


@dataclass
class RunningEdge:
    url: str
    app: Any
    access_log: Path
    waf_log: Path
    upstream_seen: list[dict[str, Any]]

    async def waf_records(self, at_least: int = 1, timeout_s: float = 3.0) -> list[dict[str, Any]]:
        return [json.loads(line) for line in await wait_for_lines(self.waf_log, at_least, timeout_s)]

    async def access_lines(self, at_least: int = 1, timeout_s: float = 3.0) -> list[list[str]]:
        return [line.split("\t") for line in await wait_for_lines(self.access_log, at_least, timeout_s)]


async def wait_for_lines(path: Path, at_least: int, timeout_s: float) -> list[str]:
    """The file's lines once it has ``at_least`` (the edge flushes its logs in the background), or what is there."""
    deadline = time.monotonic() + timeout_s
    lines: list[str] = []
    while time.monotonic() < deadline:
        if path.exists():
            lines = [line for line in path.read_text().splitlines() if line]
            if len(lines) >= at_least:
                break
        await asyncio.sleep(0.02)  # the server runs on this event loop: let it flush
    return lines


async def start_edge(
    serve_app: Callable[[Any], Awaitable[str]],
    stage: str,
    run_dir: Path,
    *,
    acl: WebAcl = WEB_ACL,
    gateway: str | None = None,
    **edge: Any,
) -> RunningEdge:
    """A front door under uvicorn over the stage's buckets and ``gateway`` (an echo upstream when None)."""
    seen: list[dict[str, Any]] = []
    if gateway is None:
        gateway = await serve_app(echo_upstream(seen))
    defaults = {"log_flush_s": 0.02, "client_ip_header": CLIENT_IP_HEADER, "metrics_interval_s": 0}
    settings = EdgeSettings(access_log=run_dir / "edge-access.log", waf_log=run_dir / "waf.log", **(defaults | edge))
    app = create_app(LocalCloudSettings(SHOP_STAGE=stage), settings, acl=acl, services={"gateway": gateway})
    url = await serve_app(app)
    return RunningEdge(url, app, settings.access_log, settings.waf_log, seen)  # type: ignore[arg-type]


def put_object(s3: Any, role: str, stage: str, key: str, body: bytes, content_type: str, **extra: Any) -> None:
    s3.put_object(Bucket=physical_name(role, stage), Key=key, Body=body, ContentType=content_type, **extra)


def create_buckets(s3: Any, stage: str) -> None:
    """The edge's two origin buckets, as provisioning creates them (only these: the rest of the model is not needed)."""
    for role in ("static-site", "media"):
        s3.create_bucket(Bucket=physical_name(role, stage))


def publish_storefront(s3: Any, stage: str) -> None:
    """What ``python -m storefront.publish`` leaves in the static bucket, in small."""
    put_object(s3, "static-site", stage, "index.html", b"<!doctype html><title>shop</title><div id=app></div>",
               "text/html; charset=utf-8", CacheControl="no-cache")  # fmt: skip
    put_object(s3, "static-site", stage, "js/app.js", b"console.log('shop')", "text/javascript",
               CacheControl="public, max-age=300")  # fmt: skip
    put_object(s3, "static-site", stage, "styles.css", b"body{margin:0}", "text/css")
    put_object(s3, "media", stage, "media/products/p-0001.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>",
               "image/svg+xml")  # fmt: skip
