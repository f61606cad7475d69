"""Background load for an experiment: the harness's open-loop arrivals (load/openloop.py) through the front door.

Requests start at a constant rate whatever the shop does (a slow or dead service cannot lower the
offered load), in the journey mix of the experiment: product pages, search, and checkouts (a cart
line added, then ``POST /api/checkout`` with an Idempotency-Key, by shoppers signed up through
Cognito). Latency is measured from each request's intended start. Samples carry wall-clock times
(``Sample.intended_s`` is seconds since the epoch here) so the report can lay them beside the fault.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from load.openloop import Sample, mix, percentile
from reference.slo import SLO, Slo

ADDRESS = {"name": "Chaos Shopper", "line1": "1 Fault Ln", "city": "London", "postal_code": "N1 9GU", "country": "GB"}
CLIENT_IP_HEADER = "x-load-client-ip"  # honoured by a stack this runner starts (load/README.md); ignored otherwise
QUERIES = ("mug", "lamp", "chair", "kettle", "desk", "shirt", "book", "pan", "soap", "bag")
GROUP = {"product": "GET /api/catalog/products/[id]", "search": "GET /api/search", "checkout": "POST /api/checkout"}


@dataclass(frozen=True, slots=True)
class Shop:
    """What the traffic needs: the front door, products with stock, and shoppers' access tokens."""

    url: str
    products: Sequence[str]
    tokens: Sequence[str]


class Traffic(threading.Thread):
    """Offers ``rate`` requests/s in the ``weights`` mix until ``stop()``; ``samples`` grows meanwhile."""

    def __init__(self, shop: Shop, rate: float, weights: dict[str, float], timeout_s: float = 8.0):
        super().__init__(daemon=True, name="chaos-traffic")
        unknown = set(weights) - set(GROUP)
        if unknown:
            raise ValueError(f"unknown journey(s) {sorted(unknown)}; known: {sorted(GROUP)}")
        if "checkout" in weights and weights["checkout"] > 0 and not shop.tokens:
            raise ValueError("checkouts need shoppers' tokens")
        self.shop, self.rate, self.timeout_s = shop, rate, timeout_s
        self.names = [n for n, w in weights.items() if w > 0]
        self.weights = [weights[n] for n in self.names]
        self.samples: list[Sample] = []
        self._halt = threading.Event()
        self._random = random.Random(15)  # noqa: S311 - a traffic mix, not a secret
        self._leftover: set[str] = set()  # shoppers whose last checkout failed: their cart still holds its lines

    def stop(self, timeout_s: float = 15.0) -> None:
        self._halt.set()
        self.join(timeout_s)

    def run(self) -> None:
        asyncio.run(self._drive())

    async def _drive(self) -> None:
        from load.openloop import Journey, Request

        journeys = [Journey(n, w, lambda i: Request("GET", "/")) for n, w in zip(self.names, self.weights, strict=True)]
        picks = mix(journeys, 10_000)
        tokens: asyncio.Queue[str] = asyncio.Queue()
        for token in self.shop.tokens:
            tokens.put_nowait(token)
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        connector = aiohttp.TCPConnector(limit=128)
        async with aiohttp.ClientSession(self.shop.url.rstrip("/"), timeout=timeout, connector=connector) as session:
            start, tasks, i = time.time(), set(), 0
            while not self._halt.is_set():
                due = start + i / self.rate
                await asyncio.sleep(max(0.0, due - time.time()))
                name = self.names[picks[i % len(picks)]]
                task = asyncio.create_task(self._one(session, tokens, name, i, due))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                i += 1
            if tasks:
                await asyncio.wait(tasks, timeout=self.timeout_s + 2)

    async def _one(
        self, session: aiohttp.ClientSession, tokens: asyncio.Queue[str], name: str, i: int, due: float
    ) -> None:
        headers = {CLIENT_IP_HEADER: f"198.51.100.{i % 200 + 1}"}  # spread over addresses: no WAF rate rule trips
        status, error = 0, ""
        token = None
        try:
            # the whole journey (waiting for a free shopper, cart line, checkout) within timeout_s of its due time:
            # every sample is final by then, so a window that ended timeout_s ago is judged on all its requests
            async with asyncio.timeout(max(due + self.timeout_s - time.time(), 0.05)):
                status, token = await self._journey(session, tokens, name, i, headers)
        except TimeoutError:
            error = "timeout"
        except aiohttp.ClientError as exc:
            error = type(exc).__name__
        finally:
            if token is not None:
                tokens.put_nowait(token)
        self.samples.append(Sample(name, due, time.time() - due, status, error))

    async def _journey(
        self, session: aiohttp.ClientSession, tokens: asyncio.Queue[str], name: str, i: int, headers: dict[str, str]
    ) -> tuple[int, str | None]:
        """One arrival's requests: its status, and the shopper token it took (the caller gives it back)."""
        token = None
        try:
            if name == "checkout":
                token = await tokens.get()
                return await self._checkout(session, headers | {"Authorization": f"Bearer {token}"}, token), token
            path = (
                f"/api/catalog/products/{self.shop.products[i % len(self.shop.products)]}"
                if name == "product"
                else f"/api/search?q={QUERIES[i % len(QUERIES)]}"
            )
            async with session.get(path, headers=headers) as response:
                await response.read()
                return response.status, None
        except BaseException:
            if token is not None:
                tokens.put_nowait(token)
            raise

    async def _checkout(self, session: aiohttp.ClientSession, headers: dict[str, str], token: str) -> int:
        """One line added, then the checkout. A shopper whose checkout failed empties the cart before the next
        one, as a shopper starting again would: otherwise every failure during a fault leaves a line behind, the
        carts grow, each later checkout reserves and prices more lines, and the load after the fault is heavier
        than before it (the steady state is no longer the one the hypothesis was judged on)."""
        if token in self._leftover:
            async with session.delete("/api/cart", headers=headers) as emptied:
                await emptied.read()
                if emptied.status >= 300:
                    return emptied.status
            self._leftover.discard(token)
        line = {"product_id": self._random.choice(self.shop.products), "quantity": 1}
        self._leftover.add(token)  # until the checkout is known to have taken the cart
        async with session.post("/api/cart/items", json=line, headers=headers) as added:
            await added.read()
            if added.status >= 300:
                return added.status
        body = {"shipping_address": ADDRESS, "payment_method": "pm_card_ok"}
        key = {"Idempotency-Key": uuid.uuid4().hex}
        async with session.post("/api/checkout", json=body, headers=headers | key) as placed:
            await placed.read()
            if placed.status < 300:
                self._leftover.discard(token)
            return placed.status


# -- judging samples against reference/slo.py -------------------------------------------------------


def judge(samples: Sequence[Sample], start: float, end: float, slo: Slo = SLO) -> dict[str, Any]:
    """Whether the samples due in ``[start, end)`` hold the SLO: the error rate, and each group's p95 where it
    has enough requests (``slo.min_requests``; fewer: judged on errors only). A checkout answered 402 (declined)
    or 409 (cart raced) is the shop working, not an error."""
    window = [s for s in samples if start <= s.intended_s < end]
    if not window:
        return {"ok": False, "requests": 0, "why": "no request in the window"}
    failed = [s for s in window if not _fine(s)]
    error_rate = len(failed) / len(window)
    why = []
    if error_rate > slo.max_error_rate:
        kinds = sorted({s.error or f"HTTP {s.status}" for s in failed})
        why.append(f"error rate {error_rate:.1%} > {slo.max_error_rate:.1%} ({', '.join(kinds)})")
    p95s = {}
    for journey, request_name in GROUP.items():
        group = slo.group_of(request_name)
        mine = [s.latency_s * 1000 for s in window if s.journey == journey]
        if group is None or not mine:
            continue
        p95 = percentile(mine, 95)
        p95s[journey] = round(p95, 1)
        if len(mine) >= slo.min_requests and p95 > group.p95_ms:
            why.append(f"{journey} p95 {p95:.0f} ms > {group.p95_ms:.0f} ms")
    return {"ok": not why, "requests": len(window), "error_rate": error_rate, "p95_ms": p95s, "why": "; ".join(why)}


def _fine(sample: Sample) -> bool:
    return sample.ok or (sample.journey == "checkout" and sample.status in (402, 409))


def timeline(samples: Sequence[Sample], start: float, end: float, step_s: float = 1.0) -> list[dict[str, float]]:
    """Per ``step_s`` bucket: time, requests, error rate and p95 latency (ms; NaN when empty)."""
    buckets = max(1, math.ceil((end - start) / step_s))
    rows = []
    for b in range(buckets):
        lo = start + b * step_s
        mine = [s for s in samples if lo <= s.intended_s < lo + step_s]
        errors = sum(1 for s in mine if not _fine(s))
        rows.append({
            "t": lo, "requests": len(mine), "error_rate": errors / len(mine) if mine else math.nan,
            "p95_ms": percentile([s.latency_s * 1000 for s in mine], 95),
        })  # fmt: skip
    return rows
