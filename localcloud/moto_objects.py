"""Copy a bucket's objects out of and into moto's S3 in one request: the S3 half of the seed cache.

(Not the launcher's ``/_localcloud/snapshots/`` routes: those copy the whole emulator within one run,
for the tests; these move one key prefix's objects as bytes, which outlive the run.)

moto keeps no state between runs, and putting the catalog's 1,200 images back through S3's API
costs about 8 CPU-seconds per start (signing and sending each request, moto parsing it: measured
in docs/startup.md). Two routes of our moto launcher move every object under a key prefix as one
tar instead, straight from and into moto's S3 backend:

* ``GET /_localcloud/s3/<bucket>?prefix=<p>``: a tar of the objects, each member named by its key,
  its metadata (content type, cache control, ``x-amz-meta-*``) and storage class in PAX headers;
* ``POST /_localcloud/s3/<bucket>`` with such a tar: each object put as a PutObject with those
  headers would (the bucket's default encryption and ACL apply; event notifications are sent).

S3 bucket names cannot start with ``_``, so the routes never hide a bucket. They serve loopback
callers only (the launcher binds 127.0.0.1) and take bytes, never a path on this machine.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable, Iterable
from typing import Any

ROUTE = "/_localcloud/s3/"
META = "localcloud.metadata"  # PAX header: the object's metadata as JSON
STORAGE = "localcloud.storage"  # PAX header: its storage class

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def pack(objects: Iterable[tuple[str, bytes, dict[str, str], str]]) -> bytes:
    """A tar of ``(key, body, metadata, storage class)`` objects."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for key, body, metadata, storage in objects:
            info = tarfile.TarInfo(key)
            info.size = len(body)
            info.pax_headers = {META: json.dumps(metadata, sort_keys=True), STORAGE: storage}
            tar.addfile(info, io.BytesIO(body))
    return out.getvalue()


def unpack(data: bytes) -> list[tuple[str, bytes, dict[str, str], str]]:
    """The objects of a tar made by ``pack`` (never extracted to disk: member names are only keys)."""
    objects = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar:
            if not member.isfile():
                continue
            body = tar.extractfile(member).read()  # type: ignore[union-attr]
            metadata = json.loads(member.pax_headers.get(META, "{}"))
            objects.append((member.name, body, metadata, member.pax_headers.get(STORAGE, "STANDARD")))
    return objects


def _backend() -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    return s3_backends[DEFAULT_ACCOUNT_ID]["aws"]


def export_objects(bucket_name: str, prefix: str) -> bytes:
    """Every object under ``prefix`` of the bucket (its latest version), as a tar."""
    bucket = _backend().get_bucket(bucket_name)
    keys = sorted(k for k in bucket.keys if k.startswith(prefix))
    latest = (bucket.keys[k] for k in keys)
    return pack((key.name, key.value, dict(key.metadata), key.storage_class or "STANDARD") for key in latest)


def import_objects(bucket_name: str, data: bytes) -> int:
    """Put every object of the tar into the bucket, as PutObject would; returns how many."""
    backend = _backend()
    bucket = backend.get_bucket(bucket_name)
    objects = unpack(data)
    for key_name, body, metadata, storage in objects:
        key = backend.put_object(bucket_name, key_name, body, storage=storage)
        key.set_metadata(metadata)
        key.set_acl(bucket.acl)
    return len(objects)


def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The two routes, as a WSGI app."""
    from moto.s3.exceptions import MissingBucket
    from werkzeug.wrappers import Request, Response

    request = Request(environ)
    bucket = request.path[len(ROUTE) :]
    try:
        if request.method == "GET":
            response = Response(export_objects(bucket, request.args.get("prefix", "")), mimetype="application/x-tar")
        elif request.method == "POST":
            count = import_objects(bucket, request.get_data())
            response = Response(json.dumps({"objects": count}), mimetype="application/json")
        else:
            response = Response(status=405, headers={"Allow": "GET, POST"})
    except MissingBucket:
        response = Response(json.dumps({"error": f"no bucket {bucket}"}), status=404, mimetype="application/json")
    except tarfile.TarError as exc:
        response = Response(json.dumps({"error": f"not a tar: {exc}"}), status=400, mimetype="application/json")
    return response(environ, start_response)


def with_object_routes(app: Wsgi) -> Wsgi:
    """The WSGI ``app`` with the two routes above in front of it; every other request goes to ``app``."""

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(ROUTE):
            return serve(environ, start_response)
        return app(environ, start_response)

    return wsgi
