"""AWS WAF's text transformations, on byte strings.

WAF transforms and matches bytes, so every value here is a ``str`` holding one character per
byte (latin-1): a decoded ``%c0%af`` stays the two bytes C0 AF, as WAF sees it, and a regex can
name them (``\\xc0\\xaf``). What each transformation does follows the WAF Developer Guide
("Text transformation options"); where it is silent the behaviour of ModSecurity's
transformation of the same name (from which AWS's take their names and wording) is used, and
docs/edge.md lists those points.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

from reference.waf import Transform

_HEX = "0123456789abcdefABCDEF"
_B64 = re.compile(r"[A-Za-z0-9+/]*")
_B64_NOT = re.compile(r"[^A-Za-z0-9+/]")


def latin1(data: bytes) -> str:
    return data.decode("latin-1")


def _wide(code: int) -> str:
    """A %uHHHH or \\uHHHH code as one byte: full-width ASCII (FF01-FF5E) mapped down, else the low byte."""
    if 0xFF01 <= code <= 0xFF5E:
        return chr(code - 0xFEE0)
    return chr(code & 0xFF)


def url_decode(text: str, *, uni: bool = False) -> str:
    """%HH (invalid escapes kept as they are) and + as a space; with ``uni`` also %uHHHH."""
    if "%" not in text and "+" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "%":
            if uni and i + 5 < n and text[i + 1] in "uU" and all(h in _HEX for h in text[i + 2 : i + 6]):
                out.append(_wide(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            if i + 2 < n and text[i + 1] in _HEX and text[i + 2] in _HEX:
                out.append(chr(int(text[i + 1 : i + 3], 16)))
                i += 3
                continue
        out.append(" " if c == "+" else c)
        i += 1
    return "".join(out)


_ENTITY = re.compile(r"&(?:#[xX]([0-9a-fA-F]+)|#([0-9]+)|(quot|nbsp|lt|gt));?")
_NAMED = {"quot": '"', "nbsp": "\xa0", "lt": "<", "gt": ">"}


def html_entity_decode(text: str) -> str:
    """&quot; &nbsp; &lt; &gt; and numeric references (&#xhhhh; &#nnnn;), the list AWS documents."""
    if "&" not in text:
        return text

    def one(m: re.Match[str]) -> str:
        if m.group(3):
            return _NAMED[m.group(3)]
        code = int(m.group(1), 16) if m.group(1) else int(m.group(2))
        return chr(code & 0xFF)

    return _ENTITY.sub(one, text)


_JS = re.compile(r"\\(?:u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|([0-7]{1,3})|(.))", re.DOTALL)
_JS_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def js_decode(text: str) -> str:
    """JavaScript escapes: \\uHHHH (as one byte, like %u), \\xHH, octal \\OOO, \\n and friends, \\c -> c."""
    if "\\" not in text:
        return text

    def one(m: re.Match[str]) -> str:
        if m.group(1):
            return _wide(int(m.group(1), 16))
        if m.group(2):
            return chr(int(m.group(2), 16))
        if m.group(3):
            return chr(int(m.group(3), 8) & 0xFF)
        return _JS_SIMPLE.get(m.group(4), m.group(4))

    return _JS.sub(one, text)


def base64_decode(text: str) -> str:
    """The leading run of Base64 characters, decoded (padding optional); text that decodes to nothing stays."""
    run = _B64.match(text.strip())
    return _b64(run.group(0) if run else "") or text


def base64_decode_ext(text: str) -> str:
    """Base64, ignoring every character that is not of its alphabet."""
    return _b64(_B64_NOT.sub("", text)) or text


def _b64(run: str) -> str:
    run = run[: len(run) - len(run) % 4 if len(run) % 4 == 1 else len(run)]
    if len(run) < 4:
        return ""
    try:
        return latin1(base64.b64decode(run + "=" * (-len(run) % 4)))
    except (binascii.Error, ValueError):
        return ""


_CMD_DELETE = str.maketrans("", "", "\\\"'^")
_CMD_SPACE_BEFORE = re.compile(r"\s+(?=[/(])")
_CMD_SEPARATORS = str.maketrans(",;", "  ")
_SPACES = re.compile(r" {2,}")


def cmd_line(text: str) -> str:
    r"""Deletes \ " ' ^, spaces before / and (; "," and ";" become spaces; spaces collapse; lower case."""
    text = text.translate(_CMD_DELETE)
    text = _CMD_SPACE_BEFORE.sub("", text)
    text = text.translate(_CMD_SEPARATORS)
    return lowercase(_SPACES.sub(" ", text))


_WHITE = re.compile(r"[ \f\t\n\r\v\xa0]+")


def compress_white_space(text: str) -> str:
    """\\f \\t \\n \\r \\v and NBSP become spaces; runs of spaces become one."""
    return _WHITE.sub(" ", text)


_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def lowercase(text: str) -> str:
    """A-Z to a-z; other bytes unchanged."""
    return text.translate(_LOWER)


def normalize_path(text: str, *, windows: bool = False) -> str:
    """Collapses repeated slashes, removes ``/./`` and ``x/../`` (and, for Windows, reads \\ as /)."""
    if windows:
        text = text.replace("\\", "/")
    absolute = text.startswith("/")
    out: list[str] = []
    parts = text.split("/")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "." or (part == "" and not last and i > 0):
            continue
        if part == "..":
            if out and out[-1] not in ("", ".."):
                out.pop()
                continue
            if absolute:
                continue
        out.append(part)
    path = "/".join(out)
    return path if not absolute or path.startswith("/") else "/" + path


TRANSFORMS: dict[Transform, Callable[[str], str]] = {
    Transform.URL_DECODE: url_decode,
    Transform.URL_DECODE_UNI: lambda s: url_decode(s, uni=True),
    Transform.HTML_ENTITY_DECODE: html_entity_decode,
    Transform.JS_DECODE: js_decode,
    Transform.BASE64_DECODE: base64_decode,
    Transform.BASE64_DECODE_EXT: base64_decode_ext,
    Transform.CMD_LINE: cmd_line,
    Transform.REPLACE_NULLS: lambda s: s.replace("\x00", " "),
    Transform.REMOVE_NULLS: lambda s: s.replace("\x00", ""),
    Transform.NORMALIZE_PATH: normalize_path,
    Transform.NORMALIZE_PATH_WIN: lambda s: normalize_path(s, windows=True),
    Transform.LOWERCASE: lowercase,
    Transform.COMPRESS_WHITE_SPACE: compress_white_space,
}


def apply(transforms: tuple[Transform, ...], text: str) -> str:
    for t in transforms:
        text = TRANSFORMS[t](text)
    return text
