"""``python -m storefront.publish``: upload the storefront to the static-site bucket as one release.

The shop has no build step, so publishing does the one thing a build would: it versions the
assets. Every file under ``storefront/`` except Python and Markdown is uploaded under
``v/<release>/<path>``, where ``<release>`` is a hash of all of them, with
``Cache-Control: public, max-age=31536000, immutable``: a CDN and browsers may keep them for a
year, because a change makes a new release under new keys. ``index.html`` is the only object at
the root; its references to the assets (``src="/js/app.js"``) are rewritten to the release, and it
is ``no-cache`` (revalidated on every visit), so a deploy is visible at once and never mixes an
old script with a new page. The modules import each other by relative paths, so they stay inside
their release. The newest ``KEEP_RELEASES`` releases are kept (a tab still running an older one can
load its remaining modules); older ones are deleted.

Objects whose SHA-256 (kept in the object's metadata: with SSE-KMS the ETag is not an MD5) and
headers already match are left alone, so running it twice uploads nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from reference import physical_name

SOURCE = Path(__file__).resolve().parent
SKIPPED_SUFFIXES = frozenset({".py", ".pyc", ".md"})
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
INDEX = "index.html"
NO_CACHE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
RELEASES = "v/"
KEEP_RELEASES = 3
DIGEST_KEY = "sha256"  # user metadata: x-amz-meta-sha256
_ROOTED = re.compile(r'(\b(?:src|href)=")/([^"?#]+)"')


@dataclass(frozen=True)
class Asset:
    key: str
    body: bytes
    content_type: str
    cache_control: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


@dataclass
class Summary:
    bucket: str
    release: str = ""
    uploaded: int = 0
    unchanged: int = 0
    removed: int = 0
    total_bytes: int = 0

    def line(self) -> str:
        files = self.uploaded + self.unchanged
        return (
            f"storefront release {self.release} published to s3://{self.bucket}: {files} files, "
            f"{self.total_bytes / 1024:.1f} KiB ({self.uploaded} uploaded, {self.unchanged} unchanged, "
            f"{self.removed} removed)"
        )


def _files(source: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.is_file() and path.suffix not in SKIPPED_SUFFIXES and "__pycache__" not in relative.parts:
            yield relative.as_posix(), path.read_bytes()


def _content_type(key: str) -> str:
    return CONTENT_TYPES.get(Path(key).suffix, "application/octet-stream")


def release_of(source: Path = SOURCE) -> tuple[str, list[Asset]]:
    """The release id and every object of it: the versioned assets, then the rewritten index.html."""
    files = dict(_files(source))
    index = files.pop(INDEX)
    digest = hashlib.sha256()
    for key, body in files.items():
        digest.update(f"{key}\0{hashlib.sha256(body).hexdigest()}\n".encode())
    release = digest.hexdigest()[:12]
    prefix = f"{RELEASES}{release}/"
    assets = [Asset(prefix + key, body, _content_type(key), IMMUTABLE) for key, body in files.items()]
    page = _ROOTED.sub(lambda m: f'{m[1]}/{prefix}{m[2]}"' if m[2] in files else m[0], index.decode())
    assets.append(Asset(INDEX, page.encode(), _content_type(INDEX), NO_CACHE))
    return release, assets


def publish(bucket: str, source: Path = SOURCE, s3: Any = None) -> Summary:
    """Make the bucket serve this release; returns what changed."""
    client = s3 or boto3.client("s3")
    existing = _existing(client, bucket)
    release, assets = release_of(source)
    summary = Summary(bucket, release)
    for asset in assets:
        summary.total_bytes += len(asset.body)
        if existing.get(asset.key, ("",))[:3] == (asset.digest, asset.content_type, asset.cache_control):
            summary.unchanged += 1
            continue
        client.put_object(
            Bucket=bucket, Key=asset.key, Body=asset.body, ContentType=asset.content_type,
            CacheControl=asset.cache_control, Metadata={DIGEST_KEY: asset.digest},
        )  # fmt: skip
        summary.uploaded += 1
    for key in _stale(existing, {a.key for a in assets}, release):
        client.delete_object(Bucket=bucket, Key=key)
        summary.removed += 1
    return summary


def _stale(existing: dict[str, tuple[str, str, str, float]], wanted: set[str], release: str) -> list[str]:
    """Objects of neither this release nor the newest older ones."""
    newest: dict[str, float] = {}
    for key, (*_, modified) in existing.items():
        if key.startswith(RELEASES) and key.count("/") >= 2:
            name = key.split("/")[1]
            newest[name] = max(newest.get(name, 0.0), modified)
    older = sorted((r for r in newest if r != release), key=lambda r: newest[r], reverse=True)
    kept = {release, *older[: KEEP_RELEASES - 1]}
    return sorted(
        key
        for key in existing
        if key not in wanted and not (key.startswith(RELEASES) and key.count("/") >= 2 and key.split("/")[1] in kept)
    )


def _existing(client: Any, bucket: str) -> dict[str, tuple[str, str, str, float]]:
    """Each object's (sha256, content type, cache control) as we stored them, and when it was written."""
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            head = client.head_object(Bucket=bucket, Key=obj["Key"])
            found[obj["Key"]] = (
                head.get("Metadata", {}).get(DIGEST_KEY, ""),
                head.get("ContentType", ""),
                head.get("CacheControl", ""),
                obj["LastModified"].timestamp(),
            )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m storefront.publish", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", help="the <stage> of shop-<stage>-static-site (default: $SHOP_STAGE, else local)")
    parser.add_argument("--bucket", help="publish to this bucket instead")
    args = parser.parse_args(argv)
    stage = args.stage or os.environ.get("SHOP_STAGE", "local")
    if not os.environ.get("AWS_ENDPOINT_URL") and os.environ.get("SHOP_AWS_MODE") != "aws":
        from localcloud import state  # imported late: in AWS the local cloud is not installed

        if not state.use_running_stack(stage):
            print(
                f"error: no local stack of stage {stage} runs (start it with `nox -s up`), and AWS_ENDPOINT_URL "
                "is not set; set SHOP_AWS_MODE=aws to publish to a real account",
                file=sys.stderr,
            )
            return 1
    bucket = args.bucket or physical_name("static-site", stage)
    try:
        print(publish(bucket).line())
    except (BotoCoreError, ClientError) as exc:
        print(f"error: publishing to s3://{bucket} failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
