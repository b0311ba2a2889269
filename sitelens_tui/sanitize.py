"""Neutralise untrusted strings (URLs, User-Agents, names, props) before they reach the screen.

Everything from the outside world is shown literally: Rich/Textual markup stays text because values only ever go
into `rich.text.Text` (never a markup string); control characters, escape sequences and bidi overrides are replaced
by visible stand-ins so they can neither style, link, reorder nor reach the terminal.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from rich.text import Text

MAX_LEN = 200
"""Longest value shown in a cell; longer ones are cut with an ellipsis (a 100 KB URL must not stall a table)."""

# Bidi embeddings/overrides/isolates and marks: they reorder what follows them, even across cells.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def _stand_in(ch: str) -> str:
    """A visible replacement for one unsafe character, or the character itself when it is safe."""
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # control pictures: ESC → ␛, NUL → ␀
    if code == 0x7F:
        return "\u2421"  # ␡
    if ch in _BIDI or 0x80 <= code <= 0x9F:
        return f"<U+{code:04X}>"
    category = unicodedata.category(ch)
    if category in ("Cs", "Co", "Cn"):
        return "\ufffd"
    if category in ("Zl", "Zp"):
        return " "
    if category == "Cf" and ch not in "\u200d":  # keep ZWJ (emoji sequences); other format chars are invisible tricks
        return f"<U+{code:04X}>"
    return ch


@lru_cache(maxsize=8192)
def clean(value: object, limit: int = MAX_LEN) -> str:
    """The value as one safe line of at most `limit` characters (controls, bidi and escapes made visible)."""
    text = "" if value is None else str(value)
    if len(text) > limit * 4:
        text = text[: limit * 4]  # bounded work on huge input; the cut below still shows it was long
    if text.isascii() and text.isprintable():
        out = text
    else:
        out = "".join(_stand_in(ch) for ch in text)
    if len(out) > limit:
        out = out[: max(1, limit - 1)] + "…"
    return out


def safe(value: object, limit: int = MAX_LEN, style: str = "") -> Text:
    """A Rich Text holding the cleaned value literally (no markup parsing, no escapes)."""
    return Text(clean(value, limit), style=style, no_wrap=True, overflow="ellipsis")


def num(value: float | int, fmt: str = ",", style: str = "") -> Text:
    """A right-aligned number cell (our own values; still a Text so DataTable never parses markup)."""
    return Text(format(value, fmt), style=style, justify="right")
