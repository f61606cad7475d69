"""Product images in the S3 media bucket (served by CloudFront, or the front door locally, at /<key>)."""

from __future__ import annotations

import asyncio
from typing import Any

from services.catalog.ports import MediaStore

CACHE_CONTROL = "public, max-age=86400"


class S3Media(MediaStore):
    """boto3 is synchronous: each call runs in a worker thread. The client is thread-safe."""

    def __init__(self, client: Any, bucket: str):
        self.client = client
        self.bucket = bucket

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self.put_sync, key, data, content_type)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=key)

    def put_sync(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, CacheControl=CACHE_CONTROL
        )

    def keys(self, prefix: str) -> set[str]:
        """Every object key under ``prefix`` (the seed uploads only the missing ones)."""
        out: set[str] = set()
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            out.update(obj["Key"] for obj in page.get("Contents", ()))
        return out
