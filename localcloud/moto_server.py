"""moto's server, with DynamoDB's conditional writes made atomic as they are in AWS, and snapshots.

moto evaluates a write's ``ConditionExpression`` and then writes, without a lock, and its server
answers each request on a thread of its own: two conditional puts against the same version can both
pass the check, and one update is lost. Seen here: 12 parallel adds to one cart kept 11 on a loaded
machine (tests/integration/test_cart.py). DynamoDB applies a write's condition and the write as one
atomic step per item, and a transaction all at once; this launcher gives moto's DynamoDB the same
guarantee by serialising the writes to each item (a lock per item, one of 64 stripes; a transaction takes
them all), then serves moto's own application unchanged. One lock for every write, as before, made every
shopper's cart write wait behind the others' once a write was an ``UpdateItem`` whose expressions moto takes
some 5 ms to parse and check (issue 13).

Snapshots are for the tests: ``POST /_localcloud/snapshots/<name>`` copies every resource the emulator
holds (moto's in-memory backends, deep-copied), and ``POST /_localcloud/snapshots/<name>/restore``
replaces the emulator's whole state with a copy of it. A test that needs every resource of
``reference/`` then restores a provisioned state in milliseconds instead of provisioning again
(112 API calls, about a second each time). AWS has no such operation; nothing but the tests'
fixtures calls it.

The HTTP server is granian (``SHOP_MOTO_SERVER=granian``, the default): HTTP parsed by hyper (Rust), moto's WSGI
application called through granian's native WSGI interface in one worker process (forked from this one once the
application is built) on a pool of up to ``SHOP_MOTO_THREADS`` (128) Python threads, so an SQS long poll holds one
thread and never the others (each consumer of the stack holds one for up to 20 s). No event loop runs in Python
and a request crosses no thread but its own: it costs the emulator about three quarters of the CPU per request
that uvicorn did, and uvicorn about half what moto's own launcher (werkzeug's development server) did
(``nox -s bench -- moto``, docs/commerce-core.md). What granian's environ lacks of werkzeug's is put back
(``with_granian_environ``). ``SHOP_MOTO_SERVER=uvicorn`` serves it on uvicorn (httptools) through a2wsgi on the
same pool (``with_werkzeug_environ``), ``werkzeug`` as moto does (werkzeug's threaded server with moto's request
handler, a thread per connection). Whichever, no access log line is written per request, and work moto repeats
on every call is done once or skipped (localcloud/moto_speedups.py; ``SHOP_MOTO_SPEEDUPS=0`` serves moto as it
is). SIGINT or SIGTERM stops it at once (requests still running, a long
poll, are abandoned). ``MOTO_PORT`` is set to the port (moto builds SQS queue URLs from it) unless given.
``python -m localcloud.moto_server -H 127.0.0.1 -p 5000``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import copyreg
import functools
import importlib
import os
import pickle
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import httpx
from moto.core.base_backend import BackendDict, backend_lock
from moto.dynamodb.models import DynamoDBBackend

from localcloud import moto_speedups

WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
# DynamoDB applies a conditional write atomically per item: a write holds the lock of its item's stripe, so writes
# to other items (another shopper's cart) never wait behind it, while moto parses and checks its expressions (a
# few milliseconds each). A transaction, a snapshot or a restore holds every stripe, taken in order.
STRIPES = 64
_stripes = [threading.RLock() for _ in range(STRIPES)]


@contextlib.contextmanager
def _every_write() -> Iterator[None]:
    """No DynamoDB write runs meanwhile (every stripe held, in order: no two holders wait on each other)."""
    with contextlib.ExitStack() as held:
        for stripe in _stripes:
            held.enter_context(stripe)
        yield


def _stripe(backend: DynamoDBBackend, table_name: str, attrs: dict[str, Any] | None) -> threading.RLock:
    """The lock of the item ``attrs`` (its key, or the whole item of a put) names in ``table_name``."""
    table = backend.tables.get(table_name)
    if table is None or not attrs:
        return _stripes[0]  # the write fails on its own (no such table, no key); any stripe will do
    key = (table_name, repr(attrs.get(table.hash_key_attr)), repr(attrs.get(table.range_key_attr or "")))
    return _stripes[hash(key) % STRIPES]


def _atomic(name: str, write: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(write)
    def locked(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        if name == "transact_write_items":
            with _every_write():
                return write(self, *args, **kwargs)
        table_name = kwargs["table_name"] if "table_name" in kwargs else args[0]
        attrs_name = "item_attrs" if name == "put_item" else "key"
        attrs = kwargs[attrs_name] if attrs_name in kwargs else (args[1] if len(args) > 1 else None)
        with _stripe(self, table_name, attrs):
            return write(self, *args, **kwargs)

    locked.__atomic__ = True  # type: ignore[attr-defined]
    return locked


def make_writes_atomic() -> None:
    """Wrap each DynamoDB write of moto's backend in its item's lock (idempotent)."""
    for name in WRITES:
        write = getattr(DynamoDBBackend, name)
        if not getattr(write, "__atomic__", False):
            setattr(DynamoDBBackend, name, _atomic(name, write))


# --------------------------------------------------------------------------- snapshots

# A copied backend gets fresh locks: a lock belongs to the running process, it is not state (an SQS queue holds
# a Condition). Deep copies make new, unheld ones instead of failing on them.
_FRESH = {
    type(threading.Lock()): threading.Lock,
    type(threading.RLock()): threading.RLock,
    threading.Condition: threading.Condition,
}
for _type, _make in _FRESH.items():
    copyreg.pickle(_type, lambda _, make=_make: (make, ()))


class Snapshots:
    """Named deep copies of the emulator's whole state (every account, region and service in use)."""

    def __init__(self) -> None:
        self._taken: dict[str, list[tuple[BackendDict, dict[str, Any]]]] = {}

    def take(self, name: str) -> int:
        """Copy the current state under ``name`` (replacing one of that name); returns the services copied."""
        with backend_lock, _every_write():
            in_use = [(b, dict(b)) for b in BackendDict._instances if len(b)]
            self._taken[name] = copy.deepcopy(in_use, _keeping(b for b, _ in in_use))
        return len(in_use)

    def restore(self, name: str) -> bool:
        """Make the state a fresh copy of snapshot ``name`` (False when there is none of that name)."""
        taken = self._taken.get(name)
        if taken is None:
            return False
        with _every_write():
            BackendDict.reset()  # what moto's own /moto-api/reset does first, then the copy goes in its place
            with backend_lock:
                for backends, accounts in copy.deepcopy(taken, _keeping(b for b, _ in taken)):
                    backends.update(accounts)
                    BackendDict._instances.append(backends)
        return True

    def save(self, name: str, path: str) -> bool:
        """Write snapshot ``name`` to ``path`` (pickled), so a new emulator process can load it (``load``)."""
        taken = self._taken.get(name)
        if taken is None:
            return False
        tmp = f"{path}.tmp"
        with open(tmp, "wb") as out:
            _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump([(_where(b), accounts) for b, accounts in taken])
        os.replace(tmp, path)
        return True

    def load(self, name: str, path: str) -> bool:
        """Read a snapshot ``save`` wrote (by an earlier emulator process) as snapshot ``name``."""
        try:
            with open(path, "rb") as source:
                saved = _Unpickler(source).load()
        except FileNotFoundError:
            return False
        self._taken[name] = [(_live(where), accounts) for where, accounts in saved]
        return True


def _where(backends: BackendDict) -> tuple[str, str]:
    """The module and name a backend dict is bound to in moto (``moto.sqs.models``, ``sqs_backends``)."""
    module_name = backends.backend.__module__
    module = importlib.import_module(module_name)
    for attr, value in vars(module).items():
        if value is backends:
            return module_name, attr
    raise LookupError(f"cannot name moto's backends of {backends.service_name}")


def _live(where: tuple[str, str]) -> BackendDict:
    return getattr(importlib.import_module(where[0]), where[1])


class _Pickler(pickle.Pickler):
    """Pickles a state but not the backend dicts it refers to: those are named and found again in the new process."""

    def persistent_id(self, obj: Any) -> Any:
        return ("backends", *_where(obj)) if isinstance(obj, BackendDict) else None

    def reducer_override(self, obj: Any) -> Any:
        """Keys of ``cryptography`` (KMS, Cognito's signing key) pickle as PEM."""
        from cryptography.hazmat.primitives import serialization as ser

        if type(obj).__module__.startswith("cryptography.") and hasattr(obj, "private_bytes"):
            pem = obj.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
            return _private_key, (pem,)
        if type(obj).__module__.startswith("cryptography.") and hasattr(obj, "public_bytes"):
            return _public_key, (obj.public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo),)
        return NotImplemented


def _private_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem, None)


def _public_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return load_pem_public_key(pem)


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        return _live(pid[1:])


def _keeping(live: Iterable[BackendDict]) -> dict[int, Any]:
    """A deepcopy memo that copies what the backend dicts hold but not the dicts: moto's modules refer to those."""
    return {id(backends): backends for backends in live}


SNAPSHOTS = Snapshots()
_ROUTE = re.compile(r"/_localcloud/snapshots/(?P<name>[A-Za-z0-9_.-]{1,64})(?P<restore>/restore)?")


def with_snapshots(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """The WSGI ``app`` with the two snapshot routes in front of it; every other request goes to ``app``."""

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        found = _ROUTE.fullmatch(environ.get("PATH_INFO", ""))
        if not found or environ.get("REQUEST_METHOD") != "POST":
            return app(environ, start_response)
        name = found["name"]
        file = parse_qs(environ.get("QUERY_STRING", "")).get("file", [None])[0]
        if found["restore"]:
            ok = (file is None or SNAPSHOTS.load(name, file)) and SNAPSHOTS.restore(name)
            status, body = ("200 OK", b"restored\n") if ok else ("404 Not Found", b"no snapshot of that name\n")
        else:
            status, body = "201 Created", f"{SNAPSHOTS.take(name)} services\n".encode()
            if file is not None:
                SNAPSHOTS.save(name, file)
        start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    return wsgi


def take_snapshot(endpoint_url: str, name: str, file: str | None = None) -> bool:
    """Ask the emulator at ``endpoint_url`` to snapshot its state (and write it to ``file``, which outlives the
    emulator's process); False when it is not this launcher's."""
    query = f"?file={quote(file)}" if file else ""
    return httpx.post(f"{endpoint_url.rstrip('/')}/_localcloud/snapshots/{name}{query}", timeout=60).status_code == 201


def restore_snapshot(endpoint_url: str, name: str, file: str | None = None) -> bool:
    """Restore snapshot ``name`` at ``endpoint_url`` (read from ``file`` first, when given: a new emulator process);
    False when it has none of that name (or is not ours)."""
    query = f"?file={quote(file)}" if file else ""
    url = f"{endpoint_url.rstrip('/')}/_localcloud/snapshots/{name}/restore{query}"
    return httpx.post(url, timeout=60).status_code == 200


# --------------------------------------------------------------------------- the server

SERVERS = ("granian", "uvicorn", "werkzeug")
DEFAULT_SERVER = "granian"
# Requests answered at once. An SQS long poll (``WaitTimeSeconds`` up to 20) holds one for its whole wait: each
# consumer replica of the stack holds one (4 queues locally, up to 10 replicas each in AWS), the tests and the
# DLQ tools more; the pool grows only as requests need it, so a generous bound costs nothing idle.
DEFAULT_THREADS = 128
KEEP_ALIVE_S = 600


def with_werkzeug_environ(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """``app`` given the environ werkzeug's server and moto's request handler build, from a2wsgi's under uvicorn.

    What moto reads that a2wsgi does not give: ``RAW_URI`` (S3 matches keys on the path as sent, an encoded
    slash kept), ``wsgi.input_terminated`` for a chunked body (uvicorn has de-chunked it; without the flag
    werkzeug reads no body without a length), and headers with an underscore: werkzeug drops them, then moto's
    handler puts back S3's ``x-amz-meta-*`` ones under their names as sent (``moto.preserved_header_names``).
    """
    from moto.core.request import (
        PRESERVED_HEADER_NAMES_ENVIRON_KEY,
        environ_key_for_header,
        should_preserve_original_header_name,
    )

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        scope = environ["asgi.scope"]
        uri = scope["raw_path"].decode("latin-1")
        if scope["query_string"]:
            uri += "?" + scope["query_string"].decode("latin-1")
        environ["RAW_URI"] = environ["REQUEST_URI"] = uri
        environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = names = {}
        headers = scope["headers"]
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            environ["wsgi.input_terminated"] = True
        if any(b"_" in name for name, _ in headers):  # rare: rebuild the keys they touched as werkzeug + moto do
            dashed: dict[str, list[str]] = {}
            kept: dict[str, list[str]] = {}
            touched = set()
            for raw, raw_value in headers:
                name, value = raw.decode("latin-1"), raw_value.decode("latin-1").replace("\r\n", "")
                key = environ_key_for_header(name)
                if "_" not in name:
                    dashed.setdefault(key, []).append(value)
                    continue
                touched.add(key)
                if should_preserve_original_header_name(name):
                    names.setdefault(key, name)
                    kept.setdefault(key, []).append(value)
            for key in touched:
                if key in dashed:  # an underscored header never stands in for a dashed one
                    names.pop(key, None)
                    environ[key] = (
                        dashed[key][-1] if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else ",".join(dashed[key])
                    )
                elif key in kept:
                    environ[key] = ",".join(kept[key])
                else:
                    environ.pop(key, None)
        return app(environ, start_response)

    return wsgi


def serve_uvicorn(app: Callable[..., Iterable[bytes]], host: str, port: int, threads: int) -> None:
    """``app`` on uvicorn (HTTP parsed by httptools, in C) through a2wsgi: each request runs on a thread of a pool
    of up to ``threads``, as under werkzeug's threaded server, which started a thread per connection."""
    import uvicorn
    from a2wsgi import WSGIMiddleware

    asgi = WSGIMiddleware(with_werkzeug_environ(app), workers=threads)  # type: ignore[arg-type]
    config = uvicorn.Config(
        asgi, host=host, port=port, http="httptools", loop="auto", lifespan="off", access_log=False,
        log_level="warning", server_header=False, date_header=False, proxy_headers=False,
        # werkzeug kept an idle connection open for good; uvicorn closes it after this. A close that crosses the
        # client's next request on it fails that request (botocore retries it): so only long-idle ones are closed.
        timeout_keep_alive=KEEP_ALIVE_S,
    )  # fmt: skip

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            """SIGINT or SIGTERM: exit at once, abandoning what still runs (a long poll holds its thread up to
            20 s), as moto's own server does (werkzeug's request threads are daemons)."""
            _exit_now()

    Server(config).run()  # exits 3 saying "address already in use" when the port is taken


# What granian's own log would say at every start that is not news here: a pool of 128 Python threads is the point
# (a long poll holds one for up to 20 s; most of them wait).
_GRANIAN_QUIET = ("Python threads",)


def with_granian_environ(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """``app`` given, from granian's WSGI environ, what werkzeug's server and moto's request handler gave moto.

    granian percent-decodes ``PATH_INFO`` and gives no raw URI; moto matches its routes and S3 keys on the raw
    path (``RAW_URI``). It is the path encoded again as botocore encodes an S3 key (everything but ``/`` and
    ``~``): exactly what botocore sent for any S3 key, a ``%2F`` in a key included (sent as ``%252F``). Not
    given back: a slash that a client sent encoded (``%2F``), as botocore does for an ARN in the path of a REST
    API (FIS's tags: no call of the stack's).

    granian also folds a header's name into its environ key (``x-amz-meta-my_key`` and ``x-amz-meta-my-key``
    are both ``HTTP_X_AMZ_META_MY_KEY``), so S3 would answer the metadata ``my_key`` as ``my-key``. A signed
    request names its headers as sent (SigV4's ``SignedHeaders``, botocore signs the ``x-amz-meta-*`` ones):
    an underscored metadata name is put back from there as moto's handler does (``moto.preserved_header_names``),
    unless a dashed one of the same key was sent too. An unsigned request's underscored names stay dashed.
    granian copies the process's environment into each environ: a variable named ``HTTP_*`` would read as a
    request header, so those are dropped unless the request sent the same.
    """
    from moto.core.request import (
        PRESERVED_HEADER_NAMES_ENVIRON_KEY,
        environ_key_for_header,
        should_preserve_original_header_name,
    )

    inherited = {k: v for k, v in os.environ.items() if k.startswith("HTTP_")}

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        query = environ["QUERY_STRING"]
        uri = quote(environ["PATH_INFO"].encode("latin-1"), safe="/~")
        environ["RAW_URI"] = environ["REQUEST_URI"] = f"{uri}?{query}" if query else uri
        for key, value in inherited.items():
            if environ.get(key) == value:
                del environ[key]
        signed = _signed_headers(environ.get("HTTP_AUTHORIZATION", ""), query)
        if "_" in signed:  # rare: which names were sent with an underscore
            names: dict[str, str] = {}
            dashed = set()
            for name in signed.split(";"):
                key = environ_key_for_header(name)
                if "_" not in name:
                    dashed.add(key)
                elif should_preserve_original_header_name(name):
                    names.setdefault(key, name)
            environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = {k: v for k, v in names.items() if k not in dashed}
        return app(environ, start_response)

    return wsgi


def _signed_headers(authorization: str, query: str) -> str:
    """The ``;``-separated header names a SigV4 request signed (its Authorization header's, else a presigned
    URL's ``X-Amz-SignedHeaders``); empty when it is not signed so."""
    at = authorization.find("SignedHeaders=")
    if at >= 0:
        return authorization[at + len("SignedHeaders=") :].split(",", 1)[0].strip()
    if "X-Amz-SignedHeaders=" in query:
        return parse_qs(query).get("X-Amz-SignedHeaders", [""])[0]
    return ""


def serve_granian(app: Callable[..., Iterable[bytes]], host: str, port: int, threads: int) -> None:
    """``app`` on granian (HTTP parsed by hyper, in Rust) through its native WSGI interface: one worker process,
    forked from this one once the application is built, calls it on a pool of up to ``threads`` Python threads,
    with no event loop in Python and no hand-over between threads (granian's ASGI interface through a2wsgi, as
    under uvicorn, measured no cheaper than uvicorn)."""
    import logging

    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import Server

    _refuse_a_taken_port(host, port)
    target = with_granian_environ(app)
    # The command line this process was started with, kept as the processes' names (granian renames them after
    # its target otherwise): the benches and the tools find the emulator by it; the worker's ends in "worker-1".
    name = Path("/proc/self/cmdline").read_bytes().rstrip(b"\0").replace(b"\0", b" ").decode()
    server = Server(
        "localcloud.moto_server:app", address=host, port=port,  # a target's name: the application is ``loaded``'s
        interface=Interfaces.WSGI, workers=1, blocking_threads=threads, http=HTTPModes.http1, websockets=False,
        # hyper closes a connection whose next request's headers take longer than this to arrive, its idle time
        # after a response included (granian's command line allows 60 s at most): as uvicorn's keep-alive.
        http1_settings=HTTP1Settings(header_read_timeout=KEEP_ALIVE_S * 1000, keep_alive=True),
        log_level=LogLevels.warning, log_access=False, process_name=name,
    )  # fmt: skip
    logging.getLogger("_granian").addFilter(lambda r: not any(q in r.getMessage() for q in _GRANIAN_QUIET))

    @server.on_startup
    def exit_at_once_on_a_stop_signal() -> None:
        """SIGINT or SIGTERM: the worker killed and this process gone at once, abandoning the requests still
        running (a long poll), as moto's own server does; granian would wait for them (installed after its own
        handlers, before the worker is forked)."""

        def stop(sig: int, frame: Any) -> None:
            for worker in server.wrks:
                worker.kill()
            _exit_now()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)

    launcher = os.getpid()

    def loaded(_: str) -> Any:
        """In the worker, just forked: it dies with this process (a SIGKILL of it included), or at once if this
        one is already gone (a stop signal between the fork and here)."""
        _die_with_parent()
        if os.getppid() != launcher:
            _exit_now()
        return target

    server.serve(target_loader=loaded)


def _refuse_a_taken_port(host: str, port: int) -> None:
    """Exit saying "address already in use" when ``port`` is taken, as uvicorn and werkzeug do: granian binds
    with SO_REUSEPORT, so on Linux it would share a port another granian listens on, answering half its calls."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: a closed connection's
        try:  # TIME_WAIT (a restart on the same port) is no listener
            sock.bind((host, port))
        except OSError as exc:
            sys.exit(f"cannot bind {host}:{port}: {exc.strerror}")


def _die_with_parent() -> None:
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _exit_now() -> None:
    """Exit with code 0 now, without waiting for the request threads."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    """Serve moto's application with our additions: on granian, uvicorn or werkzeug (``SHOP_MOTO_SERVER``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-H", "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "-p", "--port", type=int, default=int(os.environ.get("MOTO_PORT", 5000)),
        help="port to bind (default MOTO_PORT, else 5000)",
    )  # fmt: skip
    parser.add_argument(
        "--server", choices=SERVERS, default=os.environ.get("SHOP_MOTO_SERVER", DEFAULT_SERVER),
        help=f"HTTP server (default SHOP_MOTO_SERVER, else {DEFAULT_SERVER})",
    )  # fmt: skip
    parser.add_argument(
        "--threads", type=int, default=int(os.environ.get("SHOP_MOTO_THREADS", DEFAULT_THREADS)),
        help=f"granian, uvicorn: requests answered at once (default SHOP_MOTO_THREADS, else {DEFAULT_THREADS})",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.server not in SERVERS:
        parser.error(f"SHOP_MOTO_SERVER must be one of {', '.join(SERVERS)} (got {args.server!r})")
    make_writes_atomic()
    from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app, signal_handler

    from localcloud.moto_objects import with_object_routes

    os.environ.setdefault("MOTO_PORT", str(args.port))  # moto builds some URLs (SQS queue URLs) from it
    app = DomainDispatcherApplication(create_backend_app)
    if moto_speedups.enabled():
        moto_speedups.install(app)  # work moto repeats on every call, done once or skipped (moto_speedups.py)
    app.debug = True  # as moto's own server: an emulator's bug answers with its traceback
    app = with_snapshots(with_object_routes(app))  # the seed cache's bucket export/import (localcloud/moto_objects.py)
    if args.server == "uvicorn":
        serve_uvicorn(app, args.host, args.port, args.threads)
        return
    if args.server == "granian":
        serve_granian(app, args.host, args.port, args.threads)
        return
    from werkzeug.serving import run_simple

    class Handler(MotoRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            """No access log line per request (in moto.log, for every AWS call); errors are still logged."""

    signal.signal(signal.SIGINT, signal_handler)
    signal.signal(signal.SIGTERM, signal_handler)
    run_simple(args.host, args.port, app, threaded=True, request_handler=Handler)


if __name__ == "__main__":
    main()
