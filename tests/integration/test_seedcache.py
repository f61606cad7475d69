"""The seed cache against real PostgreSQL and moto: a second start gets the catalog seed's rows and images back
without running the seed; a changed seed runs again (localcloud/seedcache.py)."""

from __future__ import annotations

import shutil

import pytest
from catalog_support import sql

from localcloud import backends, seedcache
from localcloud.seedcache import Kept, SeedCache
from services.catalog import seed
from services.catalog.settings import CatalogSettings

MODULE = "services.catalog.seed"
COUNT = 40  # enough rows and images to show everything comes back; the full 1,200 is the seed test's job


def state(pg_url: str, aws, bucket: str) -> dict:
    """What the seed wrote, as a reader would see it."""
    s3 = aws.client("s3")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="media/").get("Contents", []))
    objects = {}
    for key in keys:
        got = s3.get_object(Bucket=bucket, Key=key)
        objects[key] = (got["Body"].read(), got["ContentType"], got.get("CacheControl"), got["ServerSideEncryption"])
    return {
        "products": sql(pg_url, "select * from products order by id"),
        "inventory": sql(pg_url, "select * from inventory order by product_id"),
        "categories": sql(pg_url, "select * from categories order by slug"),
        "change_seq": sql(pg_url, "select last_value from change_seq"),
        "objects": objects,
    }


def wipe(pg_url: str, aws, bucket: str) -> None:
    """Back to what a fresh start has when seeds begin: migrated tables, no rows, an empty bucket."""
    sql(pg_url, "truncate products, categories, inventory cascade")
    sql(pg_url, "alter sequence change_seq restart")
    s3 = aws.client("s3")
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=obj["Key"])


def test_a_second_start_restores_the_seed_and_a_changed_seed_runs_again(
    servers, provisioned, database_secret, redis_space, pg_url, aws, tmp_path
):
    if servers.aws.kind != "embedded":
        pytest.skip("the restore route belongs to our moto launcher (localcloud/moto_objects.py)")
    settings = CatalogSettings(
        stage=aws.stage, redis_url=redis_space.url, cache_prefix=f"{redis_space.prefix}catalog:", sweep_interval_s=0
    )
    bucket = provisioned.buckets["media"]
    sources = tmp_path / "checkout"
    sources.mkdir()
    shutil.copy(seedcache.ROOT / "services/catalog/seed.py", sources / "seed.py")
    kept = {MODULE: Kept(sources=("seed.py",), schema="catalog", objects=(("media", "media/products/"),))}
    runs: list[str] = []

    def run(wave: list[str]) -> dict[str, str]:
        runs.append(seed.run(settings, count=COUNT))
        return {MODULE: runs[-1]}

    def start() -> str:
        cache = SeedCache(tmp_path / "cache", database_url=pg_url, aws_url=aws.endpoint_url,
                          buckets=provisioned.buckets, bin_dir=backends.postgres_bin_dir(), kept=kept,
                          sources_root=sources)  # fmt: skip
        return seedcache.run_wave(cache, [MODULE], run)[MODULE]

    start()
    seeded = state(pg_url, aws, bucket)
    assert len(seeded["products"]) == len(seeded["objects"]) == COUNT
    assert len(runs) == 1

    wipe(pg_url, aws, bucket)
    assert state(pg_url, aws, bucket)["products"] == []
    summary = start()
    assert len(runs) == 1, "the seed ran although its output was kept"
    assert f"{COUNT} objects and the catalog rows restored" in summary
    assert state(pg_url, aws, bucket) == seeded

    (sources / "seed.py").write_text((sources / "seed.py").read_text() + "\n# changed\n")
    wipe(pg_url, aws, bucket)
    start()
    assert len(runs) == 2, "a changed seed was not run again"
    assert state(pg_url, aws, bucket)["products"] == seeded["products"]
    assert len(list((tmp_path / "cache" / MODULE).iterdir())) == 2  # an entry per digest
