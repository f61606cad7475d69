"""Seed the catalog: ``python -m services.catalog.seed`` (``nox -s up`` runs it once the services are ready).

Writes the deterministic catalog of ``seed_data`` straight into the database and the
media bucket through the service's own adapters, reading the database secret as the
service does. Idempotent: rows are inserted only where their id is missing and images
uploaded only where their key is missing, so a second run adds nothing.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import boto3
import redis.asyncio as redis
from botocore.config import Config

from services.catalog import seed_data
from services.catalog.adapters.postgres import SCHEMA, PostgresCatalog, database_url
from services.catalog.adapters.redis_cache import RedisCache
from services.catalog.adapters.s3_media import S3Media
from services.catalog.domain import NewProduct
from services.catalog.settings import CatalogSettings
from services.common import db

UPLOAD_THREADS = 8  # measured: more threads only add contention on 2 cores
# Small objects over a trusted hop: skip the per-object SHA-256 and CRC32 (~15% more puts/s against moto).
S3_CONFIG = Config(
    max_pool_connections=UPLOAD_THREADS,
    request_checksum_calculation="when_required",
    s3={"payload_signing_enabled": False},
)


def upload_images(media: S3Media, products: Sequence[NewProduct]) -> tuple[int, int]:
    """Upload the SVG card of every product whose image key is missing; returns (images, uploaded)."""
    present = media.keys("media/products/")
    missing = [p for p in products if p.image_key and p.image_key not in present]

    def put(product: NewProduct) -> None:
        category, colour = seed_data.colour_of(product.category)
        media.put_sync(str(product.image_key), seed_data.svg_card(product, category, colour), seed_data.SVG)

    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        list(pool.map(put, missing))
    return len(products), len(missing)


async def seed_database(settings: CatalogSettings, url: str, products: Sequence[NewProduct]) -> tuple[int, int]:
    database = await db.Database.connect(url, SCHEMA, max_size=1)
    try:
        added = await PostgresCatalog(database).seed(seed_data.categories(), products)
    finally:
        await database.close()
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
    try:
        await RedisCache(client, settings.cache_prefix, retry_after_s=0).invalidate()  # retire earlier listings
    finally:
        await client.aclose()
    return added


def run(settings: CatalogSettings | None = None, count: int = 1200) -> str:
    """Seed and return the summary line."""
    settings = settings or CatalogSettings()
    start = time.perf_counter()
    url = database_url(settings.database_secret_id, settings.aws_region)
    db.migrate("services.catalog", url, SCHEMA)
    products = seed_data.products(count)
    print(f"catalog seed: {len(products)} products generated in {time.perf_counter() - start:.2f} s", flush=True)
    s3 = boto3.client("s3", region_name=settings.aws_region, config=S3_CONFIG)
    media = S3Media(s3, settings.media_bucket_name)
    with ThreadPoolExecutor(1) as images:
        uploads = images.submit(upload_images, media, products)
        new_categories, new_products = asyncio.run(seed_database(settings, url, products))
        print(f"catalog seed: database done at {time.perf_counter() - start:.2f} s", flush=True)
        n_images, uploaded = uploads.result()
    elapsed = time.perf_counter() - start
    return (
        f"catalog seeded in {elapsed:.2f} s: {len(products)} products ({new_products} new) "
        f"in {len(seed_data.KINDS)} categories ({new_categories} new), {n_images} images ({uploaded} uploaded)"
    )


def main() -> None:
    print(run(), flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
