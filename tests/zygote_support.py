"""Support for tests/integration/test_zygote.py: a tiny ASGI app answering its pid, parent, process group and
the ``ZYGOTE_TEST`` variable (uvicorn --factory), and a stand-in supervisor.

``python -m tests.zygote_support LOG_DIR`` stands in for the supervisor: it starts a zygote, forks the tiny
service above from it on a socket, prints ``{"zygote": pid, "service": pid, "url": ...}``
and waits to be killed: its zygote and its service must die with it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from localcloud import backends, fleet
from localcloud.zygote import Zygote


def create_app() -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        me = {"pid": os.getpid(), "ppid": os.getppid(), "pgid": os.getpgid(0), "env": os.environ.get("ZYGOTE_TEST")}
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(me).encode()})

    return app


def main(log_dir: str) -> None:
    zygote = Zygote.start(["tests.zygote_support"], log_dir=Path(log_dir))
    sock = backends.listen("127.0.0.1", 0)
    argv = fleet.uvicorn_argv("tests.zygote_support:create_app", sock)
    child = zygote.fork("web", argv, log_dir=Path(log_dir), pass_fds=[sock.fileno()])
    print(json.dumps({"zygote": zygote.child.pid, "service": child.pid, "url": fleet.url(sock)}), flush=True)
    signal.pause()


if __name__ == "__main__":
    main(sys.argv[1])
