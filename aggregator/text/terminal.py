"""Making untrusted text (feed titles, error bodies) inert before it reaches a terminal.

rich strips only BEL, BS, VT, FF and CR: an ESC from a feed title would reach the terminal
as a real escape sequence (clear screen, OSC 8 hyperlink, OSC 52 clipboard write), and a
``[link=…]`` in a title would become markup if printed as a markup string. Everything that
prints feed data goes through :func:`clean` and is printed as ``rich.text.Text``.

JSON output keeps the data whole but inert: :func:`inert_json` writes what a terminal could
act on (DEL, C1 controls, bidi controls, line separators) as ``\\uXXXX`` escapes, which
``json.dumps`` leaves raw with ``ensure_ascii=False``; a program reading it gets every
character back.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

__all__ = ["clean", "clean_line", "inert_json"]

# C0 controls except TAB and LF, DEL, C1 controls (0x80-0x9F, including the 8-bit CSI).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# ESC-introduced sequences, removed whole so their printable tails do not leak through.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b(?:"
    r"\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor movement, clear screen
    r"|\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: hyperlinks (8), clipboard (52), titles
    r"|[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings
    r"|[@-Z\\-_])"  # two-character escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # the 8-bit CSI
)
# Bidi embedding/override/isolate controls can make a line read differently than it is.
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
# What json.dumps(ensure_ascii=False) leaves raw and a terminal may act on. Outside strings a
# JSON document is ASCII, so every match is inside a string, where an escape means the same.
_JSON_RAW = re.compile(r"[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """NFC text with escape sequences, control characters and bidi overrides removed."""
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = _CONTROL.sub("", text)
    text = _BIDI.sub("", text)
    return unicodedata.normalize("NFC", text)


def clean_line(text: str, limit: int | None = None) -> str:
    """:func:`clean`, on one line (whitespace runs collapsed), optionally shortened."""
    line = " ".join(clean(text).split())
    if limit is not None and len(line) > limit:
        line = line[: max(0, limit - 1)] + "…"
    return line


def inert_json(value: Any, *, indent: int | None = 2) -> str:
    """``json.dumps`` (UTF-8 text, not ``\\u`` escapes, for Hangul) with the characters a
    terminal could act on escaped; lossless."""
    return _JSON_RAW.sub(
        lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False, indent=indent)
    )
