"""A module that starts a thread when imported: a zygote that imported it must refuse to fork
(tests/integration/test_zygote.py)."""

from __future__ import annotations

import threading

STOP = threading.Event()
threading.Thread(target=STOP.wait, name="started-at-import", daemon=True).start()
