"""SQL injection and XSS detection: libinjection (C), memoised, since the same values come back on every request."""

from __future__ import annotations

from functools import lru_cache

import libinjection


@lru_cache(maxsize=65536)
def is_sqli(text: str) -> bool:
    return bool(text) and bool(libinjection.is_sql_injection(text)["is_sqli"])


@lru_cache(maxsize=65536)
def is_xss(text: str) -> bool:
    return bool(text) and bool(libinjection.is_xss(text)["is_xss"])
