"""Durations as people write them in config.yaml and on the command line (``30s``, ``6h``,
``1h30m``), and durations and ages as the CLI shows them. Pure; imports nothing of ours.

Why our own: the accepted forms are a small, strict grammar (units largest first, each once)
whose errors must name the config key's value; the general parsers (pytimeparse, dateparser)
accept far more than a config file should.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from itertools import pairwise

__all__ = ["LONGEST", "format_age", "format_seconds", "parse_duration"]

# Anything longer is a typo or an attack on timedelta's range, not a polling interval.
LONGEST = timedelta(days=3650)

_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_COMPONENT = re.compile(rf"({_NUMBER})\s*([dhms])", re.ASCII)
_COMPOUND = re.compile(rf"(?:{_NUMBER}\s*[dhms]\s*)+", re.ASCII)
_BARE_NUMBER = re.compile(_NUMBER, re.ASCII)
_DURATION_HELP = "a number of seconds or a value such as 30s, 5m, 6h, 1d or 1h30m"


def parse_duration(text: str | int | float) -> timedelta:
    """A positive duration: ``30s``, ``5m``, ``6h``, ``1d``, ``1h30m``, ``"90"`` or ``45``
    (bare numbers are seconds). Units go from largest to smallest, each at most once.

    Raises ValueError naming the value and the accepted forms.
    """
    if isinstance(text, bool):  # bool is an int; True meaning "1 second" is surely a mistake
        raise ValueError(f"invalid duration {text!r}: expected {_DURATION_HELP}")
    if isinstance(text, int | float):
        seconds = float(text)
    elif isinstance(text, str):
        seconds = _duration_seconds(text)
    else:
        raise ValueError(f"invalid duration {text!r}: expected {_DURATION_HELP}")
    if not math.isfinite(seconds):
        raise ValueError(f"invalid duration {text!r}: expected {_DURATION_HELP}")
    if seconds <= 0:
        raise ValueError(f"invalid duration {text!r}: must be greater than zero")
    if seconds > LONGEST.total_seconds():
        raise ValueError(f"invalid duration {text!r}: longer than {LONGEST.days} days")
    return timedelta(seconds=seconds)


def _duration_seconds(text: str) -> float:
    value = text.strip().lower()
    if value.startswith("-"):
        raise ValueError(f"invalid duration {text!r}: must be greater than zero")
    if _BARE_NUMBER.fullmatch(value):
        return float(value)
    if not _COMPOUND.fullmatch(value):
        raise ValueError(f"invalid duration {text!r}: expected {_DURATION_HELP}")
    units = [unit for _, unit in _COMPONENT.findall(value)]
    order = "dhms"
    if any(order.index(a) >= order.index(b) for a, b in pairwise(units)):
        raise ValueError(
            f"invalid duration {text!r}: units must go from largest to smallest "
            "(d, h, m, s), each at most once"
        )
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _COMPONENT.findall(value))


def format_seconds(seconds: int) -> str:
    """A short duration for tables: ``45s``, ``12m``, ``3h05m``, ``4d``."""
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d"


def format_age(value: datetime | None, now: datetime) -> str:
    """How long ago (or, for a time still ahead, how soon): ``5m ago``, ``in 2h10m``."""
    if value is None:
        return "never"
    seconds = int((now - value).total_seconds())
    if seconds < 0:
        return f"in {format_seconds(-seconds)}"
    return f"{format_seconds(seconds)} ago"
