"""``python -m load.bench waf``: GoTestWAF's test cases against the web ACL, per class and per placement.

GoTestWAF (github.com/wallarm/gotestwaf, MIT) lists payloads, the encoders to apply and the
placeholders (where in a request a payload goes); every payload x encoder x placeholder is one
request. The cases are read at run time from ``../shared/waf-corpora/gotestwaf`` beside the
project (never copied into it). This module builds each case the way GoTestWAF does, aimed at
the shop's routes (a query argument of the search, the body of a cart write, ...), and scores:

- in process, every case through ``localcloud.edge.waf.Evaluator`` (``score``), the unit lane's
  measurement;
- through a running front door over HTTP (``bench``), once, with the decision read from the
  status code.

Placeholders that fit no route of the shop are left out and counted as such: gRPC (the shop has
no gRPC endpoint; GoTestWAF sends it over HTTP/2).
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlencode
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "waf-corpora" / "gotestwaf"  # CI has ../shared beside the clone
FALSE_POS = "false-pos"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"

# Where each placeholder lands on the shop: the routes a shopper's input of that kind reaches.
SEARCH = "/api/search"  # URLParam: a query argument, as the search box sends it
WRITE = "/api/cart/items"  # request bodies (JSON, forms): a write shoppers send
PAGE = "/api/catalog/products"  # URLPath: what follows a resource collection; headers: any page


@dataclass(frozen=True, slots=True)
class GtwCase:
    """One GoTestWAF request: a payload, encoded, in a placeholder."""

    set: str  # owasp, owasp-api, community, false-pos
    name: str  # the YAML file without extension, e.g. sql-injection
    kind: str  # the YAML's type, e.g. "SQL Injection"
    payload: str
    encoder: str
    placeholder: str
    method: str
    path: str
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @property
    def attack(self) -> bool:
        return self.set != FALSE_POS

    @property
    def klass(self) -> str:
        return f"{self.set}/{self.name}"

    def request(self) -> Any:
        from localcloud.edge.waf import WafRequest

        return WafRequest(self.method, self.path, self.query, list(self.headers), self.body, "198.51.100.77")


def corpus_root() -> Path | None:
    """The GoTestWAF checkout beside the project, or None when it is absent."""
    if given := os.environ.get("GOTESTWAF_CORPUS"):
        return Path(given) if (Path(given) / "testcases").is_dir() else None
    # ../shared beside the clone; a git worktree sits one level deeper (wt/<name>) than its clone.
    for base in (ROOT.parent, ROOT.parent.parent):
        root = base / "shared" / "waf-corpora" / "gotestwaf"
        if (root / "testcases").is_dir():
            return root
    return None


def load_yaml(path: Path) -> list[dict[str, Any]]:
    import yaml

    # Three files carry \' inside double-quoted strings, which YAML refuses (the corpus README).
    text = path.read_text().replace("\\'", "'")
    return [doc for doc in yaml.safe_load_all(text) if doc]


def cases(root: Path | None = None, *, sets: Iterable[str] | None = None) -> list[GtwCase]:
    """Every payload x encoder x placeholder of the corpus that fits a route of the shop."""
    root = root or corpus_root()
    if root is None:
        raise FileNotFoundError(f"no GoTestWAF corpus at {CORPUS}")
    out: list[GtwCase] = []
    wanted = set(sets) if sets else None
    for path in sorted((root / "testcases").rglob("*.yml")):
        set_name = path.parent.name
        if wanted and set_name not in wanted:
            continue
        for doc in load_yaml(path):
            for payload in doc["payload"]:
                for encoder in doc["encoder"]:
                    encoded = encode(encoder, str(payload))
                    for placeholder in doc["placeholder"]:
                        built = build(placeholder, encoded)
                        if built is None:
                            continue
                        pname = placeholder if isinstance(placeholder, str) else next(iter(placeholder))
                        out.append(GtwCase(set_name, path.stem, str(doc.get("type", path.stem)), str(payload),
                                           encoder, pname, **built))  # fmt: skip
    return out


def encode(encoder: str, payload: str) -> str:
    match encoder:
        case "Plain":
            return payload
        case "URL":
            return quote_plus(payload, safe="")  # Go's url.QueryEscape
        case "Base64":
            return base64.b64encode(payload.encode()).decode()
        case "Base64Flat":
            return base64.b64encode(payload.encode()).decode().replace("=", "")
        case "JSUnicode":
            return js_unicode(payload)
        case "XMLEntity":
            return xml_entity(payload)
    raise ValueError(f"unknown GoTestWAF encoder {encoder}")


def js_unicode(payload: str) -> str:
    data = payload.encode("utf-16-be")
    return "".join(f"\\u{data[i]:02x}{data[i + 1]:02x}" for i in range(0, len(data), 2))


def xml_entity(payload: str) -> str:
    """Go's xml.Encoder.Encode of a string: an element with the text escaped."""
    text = escape(payload, {'"': "&#34;", "'": "&#39;", "\n": "&#xA;", "\r": "&#xD;", "\t": "&#x9;"})
    return f"<string>{text}</string>"


def _wire(text: str) -> str:
    """A path or query as Go's client puts it on the wire: what cannot go raw is percent-encoded."""
    return quote(text, safe="".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "#"))


def _name() -> str:
    return secrets.token_hex(5)  # GoTestWAF's RandomHex(5)


def build(placeholder: str | dict[str, Any], payload: str) -> dict[str, Any] | None:
    """The request fields of one placeholder, or None when it fits no route of the shop."""
    ua = ("user-agent", USER_AGENT)
    if isinstance(placeholder, dict):
        ((kind, config),) = placeholder.items()
    else:
        kind, config = placeholder, {}
    match kind:
        case "URLParam":
            return {"method": "GET", "path": SEARCH, "query": _wire(f"{_name()}={payload}"), "headers": (ua,)}
        case "URLPath":
            return {"method": "GET", "path": _wire(f"{PAGE}/{payload}"), "headers": (ua,)}
        case "Header":
            return {"method": "GET", "path": PAGE, "headers": (ua, (f"x-{_name()}", payload))}
        case "UserAgent":
            return {"method": "GET", "path": PAGE, "headers": (("user-agent", payload),)}
        case "HTMLForm":
            body = f"{_name()}={payload}".encode()
            return {"method": "POST", "path": WRITE, "body": body,
                    "headers": (ua, ("content-type", "application/x-www-form-urlencoded"))}  # fmt: skip
        case "HTMLMultipartForm":
            boundary = secrets.token_hex(30)
            body = (f'--{boundary}\r\nContent-Disposition: form-data; name="{_name()}"\r\n\r\n{payload}\r\n'
                    f"--{boundary}--\r\n").encode()  # fmt: skip
            return {"method": "POST", "path": WRITE, "body": body,
                    "headers": (ua, ("content-type", f"multipart/form-data; boundary={boundary}"))}  # fmt: skip
        case "JSONRequest":
            body = '{"test":true, "%s": "%s"}' % (_name(), js_unicode(payload))  # noqa: UP031 - GoTestWAF's wrapper
            return {"method": "POST", "path": WRITE, "body": body.encode(),
                    "headers": (ua, ("content-type", "application/json"))}  # fmt: skip
        case "JSONBody":
            return {"method": "POST", "path": WRITE, "body": payload.encode(),
                    "headers": (ua, ("content-type", "application/json"))}  # fmt: skip
        case "XMLBody":
            return {"method": "POST", "path": WRITE, "body": payload.encode(),
                    "headers": (ua, ("content-type", "text/xml"))}  # fmt: skip
        case "SOAPBody":
            tag = "ab" + _name()
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenv='
                    f'"http://schemas.xmlsoap.org/soap/envelope/">\n<soapenv:Body><getAdUnitsByStatement>'
                    f"<filterStatement><{tag}>{xml_entity(payload)}</{tag}></filterStatement>"
                    "</getAdUnitsByStatement></soapenv:Body>\n</soapenv:Envelope>")  # fmt: skip
            soap = ("soapaction", '"http://schemas.xmlsoap.org/soap/actor/next"')
            return {"method": "POST", "path": WRITE, "body": body.encode(),
                    "headers": (ua, ("content-type", "text/xml"), soap)}  # fmt: skip
        case "GraphQL":
            if config.get("method") == "GET":
                return {"method": "GET", "path": "/api/graphql", "query": urlencode({"query": payload}),
                        "headers": (ua,)}  # fmt: skip
            return {"method": "POST", "path": "/api/graphql", "body": payload.encode(),
                    "headers": (ua, ("content-type", "application/json"))}  # fmt: skip
        case "RawRequest":
            headers = [ua] + [(k.lower(), str(v).replace("{{payload}}", payload))
                              for k, v in (config.get("headers") or {}).items()]  # fmt: skip
            headers = [h for i, h in enumerate(headers) if not (h[0] == "user-agent" and i == 0 and len(
                [x for x in headers if x[0] == "user-agent"]) > 1)]  # fmt: skip
            raw_path = str(config.get("path", "/")).replace("{{payload}}", payload)
            path, _, query = raw_path.partition("?")
            body = str(config.get("body", "")).replace("{{payload}}", payload)
            return {"method": str(config.get("method", "GET")), "path": _wire("/api" + path.rstrip("/")),
                    "query": _wire(query), "headers": tuple(headers), "body": body.encode()}  # fmt: skip
        case "gRPC":
            return None
    raise ValueError(f"unknown GoTestWAF placeholder {kind}")


OTHER_ENCODERS = ("JSUnicode", "XMLEntity", "Base64", "URL", "Plain")
EVERY_PLACEMENT = ("URLParam", "HTMLForm", "JSONBody", "XMLBody", "Header", "URLPath")


def recombined(items: list[GtwCase]) -> list[GtwCase]:
    """The attacks' payloads with every encoder in every placement, not only those their file names.

    A hold-out of the same families: the payloads as GoTestWAF's other encoders (JavaScript escapes,
    XML entities, padded Base64) would send them, wherever a payload can go. A raw payload is not put
    in a URL (it would not be one).
    """
    out = []
    for klass, payload in sorted({(c.klass, c.payload) for c in items if "kb-" not in c.name}):
        for encoder in OTHER_ENCODERS:
            encoded = encode(encoder, payload)
            for placeholder in EVERY_PLACEMENT:
                if encoder == "Plain" and placeholder in ("URLParam", "URLPath"):
                    continue
                built = build(placeholder, encoded)
                set_name, _, name = klass.partition("/")
                out.append(GtwCase(set_name, name, "", payload, encoder, placeholder, **built))  # type: ignore[arg-type]
    return out


# --------------------------------------------------------------------------- scoring


@dataclass
class Tally:
    sent: int = 0
    blocked: int = 0

    @property
    def rate(self) -> float:
        return self.blocked / self.sent if self.sent else 0.0


@dataclass
class Scores:
    """Blocked counts of attacks per class and per placement, and of the false-positive set."""

    by_class: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_placement: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_encoder: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    attacks: Tally = field(default_factory=Tally)
    false_pos: Tally = field(default_factory=Tally)
    rules: Counter[str] = field(default_factory=Counter)
    missed: list[GtwCase] = field(default_factory=list)
    false_blocks: list[tuple[GtwCase, str]] = field(default_factory=list)

    def add(self, case: GtwCase, blocked: bool, rule: str = "") -> None:
        if not case.attack:
            self.false_pos.sent += 1
            self.false_pos.blocked += blocked
            if blocked:
                self.false_blocks.append((case, rule))
            return
        for tally in (self.attacks, self.by_class[case.klass], self.by_placement[case.placeholder],
                      self.by_encoder[case.encoder]):  # fmt: skip
            tally.sent += 1
            tally.blocked += blocked
        if blocked:
            self.rules[rule] += 1
        else:
            self.missed.append(case)

    def as_dict(self) -> dict[str, Any]:
        def rows(d: dict[str, Tally]) -> dict[str, list[int]]:
            return {k: [v.blocked, v.sent] for k, v in sorted(d.items())}

        return {
            "attacks": [self.attacks.blocked, self.attacks.sent],
            "false_pos": [self.false_pos.blocked, self.false_pos.sent],
            "by_class": rows(self.by_class),
            "by_placement": rows(self.by_placement),
            "by_encoder": rows(self.by_encoder),
            "rules": dict(self.rules.most_common()),
        }

    def table(self) -> str:
        lines = [f"attacks blocked: {self.attacks.blocked}/{self.attacks.sent} ({self.attacks.rate:.1%}); "
                 f"false-positive set blocked: {self.false_pos.blocked}/{self.false_pos.sent} "
                 f"({self.false_pos.rate:.1%})"]  # fmt: skip
        for title, d in (("class", self.by_class), ("placement", self.by_placement), ("encoder", self.by_encoder)):
            lines.append(f"  by {title}:")
            lines += [f"    {k:<36} {v.blocked:>5}/{v.sent:<5} {v.rate:6.1%}" for k, v in sorted(d.items())]
        lines.append("  blocking rules: " + ", ".join(f"{r} {n}" for r, n in self.rules.most_common()))
        return "\n".join(lines)


def score(evaluator: Any, items: Iterable[GtwCase]) -> Scores:
    """Every case through the evaluator in process (the rate-based rule aside: one address sends all)."""
    scores = Scores()
    for case in items:
        decision = evaluator.evaluate(case.request())
        rule = decision.rule + (f"/{decision.sub_rule}" if decision.sub_rule else "")
        scores.add(case, decision.blocked, rule)
    return scores


def evaluator() -> Any:
    """The shop's web ACL compiled, with its rate rule out of the way (the corpus comes from one address)."""
    from localcloud.edge.waf import Evaluator
    from reference.waf import WEB_ACL

    return Evaluator(WEB_ACL, rate_limit=10**9)


# --------------------------------------------------------------------------- through the front door


def bench(args: argparse.Namespace) -> dict[str, object]:
    """Every case through a running front door over HTTP, and the same in process for comparison."""
    import asyncio

    root = corpus_root()
    if root is None:
        raise SystemExit(f"the GoTestWAF corpus is not at {CORPUS}: nothing to measure")
    items = cases(root)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    in_process = score(evaluator(), items)
    through_door = asyncio.run(_through_front_door(items))
    shoppers = blocked_shoppers(evaluator())
    return {
        "scenario": "waf",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "corpus": str(root),
        "cases": len(items),
        "seconds": round(time.perf_counter() - started, 1),
        "load_average": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "in_process": in_process.as_dict(),
        "front_door": through_door.as_dict(),
        "shoppers": {"sent": shoppers[0], "blocked": shoppers[1]},
        "_tables": {"in process": in_process.table(), "front door": through_door.table()},
    }


async def _through_front_door(items: list[GtwCase]) -> Scores:
    """Start a front door (WAF on, an echoing API behind it) and send every case; 403 means blocked."""
    import tempfile

    import httpx
    import uvicorn

    from localcloud.backends import free_port
    from localcloud.edge.settings import EdgeSettings
    from localcloud.frontdoor import create_app
    from localcloud.settings import LocalCloudSettings

    upstream_port, door_port = free_port(), free_port()
    upstream = uvicorn.Server(uvicorn.Config(echo_app(), port=upstream_port, log_level="warning"))
    with tempfile.TemporaryDirectory(prefix="bench-waf-") as tmp:
        edge = EdgeSettings(waf_rate_limit=10**9, client_ip_header="x-bench-client-ip",
                            access_log=Path(tmp) / "access.log", waf_log=Path(tmp) / "waf.log")  # fmt: skip
        app = create_app(LocalCloudSettings(), edge, services={"gateway": f"http://127.0.0.1:{upstream_port}"})
        door = uvicorn.Server(uvicorn.Config(app, port=door_port, log_level="warning", lifespan="on"))
        tasks = [asyncio_task(upstream.serve()), asyncio_task(door.serve())]
        try:
            await _until_started(upstream, door)
            scores = Scores()
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{door_port}", timeout=30) as client:
                for i, case in enumerate(items):
                    response = await client.send(_http_request(client, case))
                    # The API behind answers 200 to everything: 403 is the WAF; 400 the HTTP server refusing
                    # what is not HTTP to it (a method such as CUST), before the edge sees it.
                    scores.add(case, response.status_code in (400, 403), str(response.status_code))
                    if i % 200 == 0:
                        print(f"  front door: {i}/{len(items)} sent", flush=True)
            return scores
        finally:
            upstream.should_exit = door.should_exit = True
            for task in tasks:
                await task


def echo_app() -> Any:
    """The API behind the front door: answers every request with 200 (the bench measures the WAF, not a service)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def blocked_shoppers(ev: Any) -> tuple[int, int]:
    """(sent, blocked) over the shopper corpus (tests/waf_corpus/shoppers.toml) in process."""
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    from edge_support import load_shoppers  # the corpus and its placements live with the tests

    items = load_shoppers()
    return len(items), sum(ev.evaluate(c.request()).blocked for c in items)


def asyncio_task(coro: Any) -> Any:
    import asyncio

    return asyncio.get_running_loop().create_task(coro)


async def _until_started(*servers: Any) -> None:
    import asyncio

    for _ in range(200):
        if all(s.started for s in servers):
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("the front door did not start")


def _http_request(client: Any, case: GtwCase) -> Any:
    headers = [(k, v) for k, v in case.headers] + [("x-bench-client-ip", "198.51.100.77")]
    target = case.path + (f"?{case.query}" if case.query else "")
    request = client.build_request(case.method, "/", headers=headers, content=case.body or None)
    request.url = request.url.copy_with(raw_path=target.encode("latin-1", "replace"))
    return request


def table(report: dict[str, Any]) -> str:
    tables = report.get("_tables", {})
    shoppers = report["shoppers"]
    lines = [f"GoTestWAF: {report['cases']} requests from {report['corpus']} "
             f"(load average {report['load_average']['before']} -> {report['load_average']['after']})"]  # fmt: skip
    for where, text in tables.items():
        lines += [f"\n{where}:", text]
    lines.append(f"\nshopper corpus (tests/waf_corpus/shoppers.toml): {shoppers['blocked']}/{shoppers['sent']} blocked")
    return "\n".join(lines)


def main() -> Iterator[str]:  # pragma: no cover - python -m load.bench.waf for a quick in-process look
    scores = score(evaluator(), cases())
    yield scores.table()


if __name__ == "__main__":  # pragma: no cover
    for line in main():
        print(line)
