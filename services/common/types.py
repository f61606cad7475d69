"""The request types every service's schemas and parameters are built from (issue 12).

One place says what a string, a name, an integer or a flag may be, so a bad input class is
refused the same way in all ten services, with a 422 naming the field, before any write:

- every string refuses NUL (PostgreSQL cannot store 0x00) and the other control characters
  (``Text`` for one line; ``Prose`` allows line breaks and tabs);
- ``Name`` also refuses text that is only invisible characters (zero-width spaces satisfy
  "required" otherwise) and the bidirectional controls that make a name in an e-mail read
  backwards (U+202A..U+202E, U+2066..U+2069);
- integers and booleans are strict in bodies (``"quantity": true`` is not one unit, ``"1"``
  and ``217.0`` are not integers); in a query or path, where everything is text, an integer is
  digits only (``QueryInt``);
- numbers have the bounds of the backend that stores them (``Int64`` for a PostgreSQL
  ``bigint``, ``Int32`` for an ``integer``), so a number past int64 is a 422, not a 500.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import AfterValidator, BeforeValidator, GetJsonSchemaHandler, StrictBool, StrictInt, StringConstraints
from pydantic.json_schema import JsonSchemaValue

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1

# C0 and C1 controls and DEL; Prose keeps TAB, LF and CR.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_IN_PROSE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Embeddings, overrides and isolates: they reorder what a reader sees (Trojan Source, CVE-2021-42574).
_BIDI_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Characters that draw nothing: format (Cf), separators other than space, and the fillers that
# Unicode classes as letters but renders blank (Hangul fillers, braille blank).
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _no_control(value: str) -> str:
    found = _CONTROL.search(value)
    if found:
        raise ValueError(f"control character U+{ord(found.group()):04X} is not allowed (at character {found.start()})")
    return value


def _no_control_in_prose(value: str) -> str:
    found = _CONTROL_IN_PROSE.search(value)
    if found:
        raise ValueError(f"control character U+{ord(found.group()):04X} is not allowed (at character {found.start()})")
    return value


def visible(char: str) -> bool:
    """Whether a character draws something: not a space, format control or blank filler."""
    if char in _BLANK_LETTERS:
        return False
    return unicodedata.category(char) not in ("Zs", "Zl", "Zp", "Cf", "Cc", "Mn", "Me")


def _a_name(value: str) -> str:
    found = _BIDI_CONTROL.search(value)
    if found:
        raise ValueError(f"bidirectional control U+{ord(found.group()):04X} is not allowed in a name")
    if value and not any(visible(c) for c in value):
        raise ValueError("must contain visible characters")
    return value


def _digits(value: Any) -> Any:
    """A query or path integer: an int, or text of digits with an optional sign (not ``1.0``, ``1e3``)."""
    if isinstance(value, bool):
        raise ValueError("must be an integer, not true or false")
    if isinstance(value, str) and not re.fullmatch(r"[+-]?\d{1,40}", value.strip()):
        raise ValueError("must be an integer written in digits")
    return value


def _flat_json(value: Any, where: str = "") -> Any:
    """Free-form JSON (dicts of scalars): every key and string inside refuses control characters."""
    if isinstance(value, str):
        try:
            return _no_control(value)
        except ValueError as exc:
            raise ValueError(f"{where or 'value'}: {exc}") from None
    if isinstance(value, dict):
        for key, item in value.items():
            _flat_json(key, f"{where}.{key}" if where else str(key))
            _flat_json(item, f"{where}.{key}" if where else str(key))
    if isinstance(value, list):
        for i, item in enumerate(value):
            _flat_json(item, f"{where}[{i}]")
    if isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{where or 'value'}: numbers are at most 64-bit integers")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where or 'value'}: numbers are finite")
    return value


@dataclass(frozen=True)
class Documented:
    """Adds a JSON-schema pattern saying what a validator enforces (unless the type has a pattern of its own)."""

    pattern: str

    def __get_pydantic_json_schema__(self, core: Any, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core)
        schema.setdefault("pattern", self.pattern)
        return schema


NO_CONTROL = r"^[^\x00-\x1f\x7f-\x9f]*$"
NO_CONTROL_IN_PROSE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
NAME_CHARS = r"^[^\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]*$"

Text = Annotated[str, AfterValidator(_no_control), Documented(NO_CONTROL)]
"""One line of text: no NUL, no control characters."""

Prose = Annotated[str, AfterValidator(_no_control_in_prose), Documented(NO_CONTROL_IN_PROSE)]
"""Text of several lines (a description): line breaks and tabs allowed, other controls not."""

Name = Annotated[str, AfterValidator(_no_control), AfterValidator(_a_name), Documented(NAME_CHARS)]
"""A name people read (in pages and e-mails): visible, no bidirectional controls."""

Int64 = Annotated[StrictInt, Ge(INT64_MIN), Le(INT64_MAX)]
Int32 = Annotated[StrictInt, Ge(INT32_MIN), Le(INT32_MAX)]
Flag = StrictBool

FlatJson = Annotated[dict[str, Any], AfterValidator(_flat_json)]
"""A free-form JSON object whose strings refuse control characters and numbers stay within int64."""


def _string(
    checks: tuple[Any, ...], documented: str, min_length: int, max_length: int, pattern: str | None, strip: bool
) -> Any:
    bounds = StringConstraints(
        strip_whitespace=strip, min_length=min_length or None, max_length=max_length, pattern=pattern
    )
    return Annotated[(str, bounds, *checks, Documented(documented))]  # type: ignore[return-value]


def text(*, min_length: int = 0, max_length: int, pattern: str | None = None, strip: bool = False) -> Any:
    """One line of text within bounds (a body field, or a query/path parameter's type)."""
    return _string((AfterValidator(_no_control),), NO_CONTROL, min_length, max_length, pattern, strip)


def prose(*, max_length: int) -> Any:
    """Several lines of text (line breaks and tabs allowed) of at most ``max_length`` characters."""
    return _string((AfterValidator(_no_control_in_prose),), NO_CONTROL_IN_PROSE, 0, max_length, None, False)


def name(*, min_length: int = 1, max_length: int, pattern: str | None = None) -> Any:
    """A name people read, within bounds (leading and trailing white space stripped first)."""
    checks = (AfterValidator(_no_control), AfterValidator(_a_name))
    return _string(checks, NAME_CHARS, min_length, max_length, pattern, True)


def integer(*, ge: int = INT64_MIN, le: int = INT64_MAX) -> Any:
    """A strict integer for a JSON body, within ``[ge, le]`` (and always within int64)."""
    return Annotated[StrictInt, Ge(max(ge, INT64_MIN)), Le(min(le, INT64_MAX))]


def query_int(*, ge: int = INT64_MIN, le: int = INT64_MAX) -> Any:
    """An integer query or path parameter within ``[ge, le]``: digits only (not ``1.0``, ``1e3``, ``true``)."""
    return Annotated[int, Ge(max(ge, INT64_MIN)), Le(min(le, INT64_MAX)), BeforeValidator(_digits)]


QueryInt = query_int()
"""An integer in a query string or a path: digits only, within int64."""
