"""Attackers mixed into the shoppers: the labelled attacks of tests/waf_corpus, and a flood from one address.

Each attack is reported as ``ATTACK <rule that must block it>``: blocked by the edge is a success,
anything else a failure naming the case. The flood comes from one client address as fast as
``LOAD_FLOOD_RPS`` allows; the edge's rate-based rule must start blocking it once it passes its limit.
"""

from __future__ import annotations

import itertools
import os
import random
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from locust import constant_throughput, task

from load.journeys.common import CLIENT_IP_HEADER, RUN, Shop, ShopUser

CORPUS = Path(__file__).parents[2] / "tests" / "waf_corpus" / "attacks.toml"
FLOOD_ADDRESS = "198.19.255.254"


@dataclass(frozen=True)
class Attack:
    id: str
    rule: str
    method: str
    target: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


BROWSER = {  # what a browser sends anyway (as tests/edge_support.py replays the corpus)
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-GB,en;q=0.9",
}


def attacks(path: Path = CORPUS) -> list[Attack]:
    """The corpus's attacks that one request of FastHttpUser can make."""
    out = []
    for case in tomllib.loads(path.read_text())["case"]:
        if case.get("repeat") or "" in case.get("headers", {}).values():
            continue  # the flood is the Flood user's; a header removed (no User-Agent) FastHttpUser cannot send
        given = {k.lower(): v for k, v in case.get("headers", {}).items() if k.lower() != "host"}
        headers = {k: v for k, v in BROWSER.items() if k.lower() not in given} | {k: v for k, v in given.items() if v}
        body, query, where = case.get("body", "").encode(), case.get("query", ""), case["path"]
        if size := case.get("body_size"):
            body = (body + b"x" * size)[:size]
        if size := case.get("cookie_size"):
            headers["cookie"] = (headers.get("cookie", "") + "a" * size)[:size]
        if size := case.get("query_size"):
            query = (query + "a" * size)[:size]
        if size := case.get("path_size"):
            where = (where + "a" * size)[:size]
        if case.get("country"):
            headers["X-Shop-Country"] = case["country"]
        target = where + (f"?{query}" if query else "")
        out.append(Attack(case["id"], case["expect"], case.get("method", "GET"), target, headers, body or None))
    return out


class Attacker(ShopUser):
    journey = "attacker"
    fixed_count = int(os.environ.get("LOAD_ATTACKERS", "0"))
    catalogue = attacks()
    turn = itertools.count()  # in turn, not at random: a short run sends the corpus as it is, misses and all

    def on_start(self) -> None:
        super().on_start()
        self.tags.pop("X-Shop-Session")  # an attacker does not say who it is; it is still our synthetic load
        if CLIENT_IP_HEADER:
            self.tags[CLIENT_IP_HEADER] = f"198.19.254.{random.randint(1, 250)}"  # noqa: S311

    @task
    def attack(self) -> None:
        case = self.catalogue[next(self.turn) % len(self.catalogue)]
        headers = {k: v for k, v in self.tags.items() if k != "Accept"} | case.headers
        with self.client.request(case.method, case.target, name=f"ATTACK {case.rule}", headers=headers,
                                 data=case.body, catch_response=True) as r:  # fmt: skip
            if r.status_code == 403 and b"blocked" in (r.content or b""):
                r.success()
            else:
                r.failure(f"not blocked: {case.id} answered {r.status_code}")


class Flood(ShopUser):
    journey = "flood"
    fixed_count = 1 if os.environ.get("LOAD_ATTACKERS", "0") != "0" else 0
    wait_time = constant_throughput(float(os.environ.get("LOAD_FLOOD_RPS", "25")))

    def on_start(self) -> None:
        super().on_start()
        self.tags = {"X-Shop-Synthetic": RUN, "Accept": "application/json"}
        if CLIENT_IP_HEADER:
            self.tags[CLIENT_IP_HEADER] = FLOOD_ADDRESS

    @task
    def flood(self) -> None:
        with self.client.get(f"/api/catalog/products/{Shop.product()['id']}", name="FLOOD rate-per-ip",
                             headers=self.tags, catch_response=True) as r:  # fmt: skip
            r.success()  # allowed until the limit, blocked after: both are what the edge should do
