"""Parse the date strings found in feeds into aware UTC datetimes, Korean formats included.

Why our own code: feedparser assumes UTC for dates without a zone, while a Korean feed that
omits the zone means Korea time (UTC+9), and its handlers for Korean formats get the month or
the hour wrong (``2018-10-19 오후 11:14:09`` comes out as midnight, ``오후`` = PM is lost).

What it reads:

* RFC 822/2822/1123 (``Fri, 19 Oct 2018 13:29:09 +0900``), numeric offsets or named zones
  (GMT, UTC, KST, EST, ...), two- or four-digit years, seconds optional;
* ISO 8601 / W3C-DTF (``2018-10-19T13:29:09.123+09:00``, ``2018-10-19 13:29``,
  ``20181019T132909Z``, a bare date);
* Korean forms: ``2024.05.01 10:00``, ``2024. 5. 1. 10:00``, ``2024/05/01 10:00``,
  ``2024년 05월 01일 10:00:00``, ``2018-10-19 오후 11:14:09``, ``10시 30분``;
  오전/오후 (and AM/PM) before or after the time.

What it does not do: guess the day/month order of ``01/05/2024``, read month names in
languages other than English, or judge whether a date is plausible (a date in the future is
returned as such; the caller decides). Junk gives None, never an exception.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

__all__ = ["KST", "ZONE_OFFSETS", "parse_date"]

KST = timezone(timedelta(hours=9), "KST")

# Offsets in minutes. RFC 5322 §4.3 says unknown zone names mean "-0000" (UTC, local zone
# unknown); we follow that rather than refusing the date.
ZONE_OFFSETS: dict[str, int] = {
    "UT": 0,
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "WET": 0,
    "WEST": 60,
    "BST": 60,
    "CET": 60,
    "CEST": 120,
    "MET": 60,
    "MEST": 120,
    "EET": 120,
    "EEST": 180,
    "MSK": 180,
    "IST": 330,
    "ICT": 420,
    "WIB": 420,
    "HKT": 480,
    "SGT": 480,
    "AWST": 480,
    "PHT": 480,
    "CCT": 480,
    "KST": 540,
    "KDT": 600,
    "JST": 540,
    "ACST": 570,
    "AEST": 600,
    "AEDT": 660,
    "NZST": 720,
    "NZDT": 780,
    "HST": -600,
    "AKST": -540,
    "AKDT": -480,
    "PST": -480,
    "PDT": -420,
    "MST": -420,
    "MDT": -360,
    "CST": -360,
    "CDT": -300,
    "EST": -300,
    "EDT": -240,
    "AST": -240,
    "ADT": -180,
    "NST": -210,
    "NDT": -150,
}

_MONTHS = {
    name: index
    for index, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}

_AM = frozenset({"오전", "am", "a.m."})
_PM = frozenset({"오후", "pm", "p.m."})

_ZONE = r"(?P<tz>[zZ]|[+-]\d{1,2}(?::?\d{2})?|(?:GMT|UTC)[+-]\d{1,2}(?::?\d{2})?|[A-Za-z]{1,5})"
_AMPM = r"(?:오전|오후|[AaPp]\.?[Mm]\.?)"
_WEEKDAY_KO = r"[월화수목금토일](?:요일)?"

_RFC822 = re.compile(
    r"""^(?:[A-Za-z]{2,9}\.?(?:,\s*|\s+))?                    # weekday, optional
    (?P<d>\d{1,2})[\s-]+(?P<mon>[A-Za-z]{3,9})\.?[\s-]+(?P<y>\d{2}|\d{4})
    (?:[\sT,]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<frac>\d+))?)?)?
    \s*"""
    + _ZONE
    + r"""?
    \s*(?:\([^)]*\))?\s*$""",
    re.VERBOSE,
)

# "Oct 19, 2018 13:29:09 GMT" and asctime "Fri Oct 19 13:29:09 2018".
_MONTH_FIRST = re.compile(
    r"""^(?:[A-Za-z]{2,9}\.?(?:,\s*|\s+))?
    (?P<mon>[A-Za-z]{3,9})\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+
    (?:(?P<y>\d{4}),?\s*)?
    (?:(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?\s*(?:(?P<ap2>"""
    + _AMPM
    + r""")\s*)?)?
    (?:(?P<y2>\d{4})\s*)?
    """
    + _ZONE
    + r"""?\s*$""",
    re.VERBOSE,
)

# Year-first numeric dates: ISO 8601 and the Korean forms share this shape.
_YMD = re.compile(
    r"""^(?:"""
    + _WEEKDAY_KO
    + r"""[,.]?\s*)?
    (?P<y>\d{4})\s*(?:-|\.|/|년)\s*(?P<m>\d{1,2})\s*(?:-|\.|/|월)\s*(?P<d>\d{1,2})
    \s*(?:일|\.)?\s*
    (?:\(\s*(?:"""
    + _WEEKDAY_KO
    + r"""|[A-Za-z]{2,9})\s*\)\s*)?
    (?:[T\s]\s*|(?="""
    + _AMPM
    + r"""))?
    (?:(?P<ap1>"""
    + _AMPM
    + r""")\s*)?
    (?:(?P<H>\d{1,2})
       (?::(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<frac>\d+))?)?
       |\s*시(?:\s*(?P<Mk>\d{1,2})\s*분)?(?:\s*(?P<Sk>\d{1,2})\s*초)?)
       \s*(?P<ap2>"""
    + _AMPM
    + r""")?)?
    \s*"""
    + _ZONE
    + r"""?\s*(?:\([^)]*\))?\s*$""",
    re.VERBOSE,
)

_ISO_BASIC = re.compile(
    r"""^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})
    (?:T(?P<H>\d{2})(?P<M>\d{2})(?:(?P<S>\d{2})(?:[.,](?P<frac>\d+))?)?)?
    """
    + _ZONE
    + r"""?$""",
    re.VERBOSE,
)


def parse_date(value: str | None, default_tz: tzinfo = KST) -> datetime | None:
    """The instant ``value`` names, as an aware UTC datetime, or None if it is not a date.

    A value without a zone is read in ``default_tz`` (Korea time unless told otherwise).

    >>> parse_date("2018-10-19 오후 11:14:09").isoformat()
    '2018-10-19T14:14:09+00:00'
    """
    if not value:
        return None
    text = " ".join(value.split())
    if not text or len(text) > 100:
        return None
    for pattern in (_YMD, _RFC822, _ISO_BASIC, _MONTH_FIRST):
        match = pattern.match(text)
        if match is not None:
            return _build(match.groupdict(), default_tz)
    return None


def _build(parts: dict[str, str | None], default_tz: tzinfo) -> datetime | None:
    year = _year(parts.get("y") or parts.get("y2"))
    month = _month(parts.get("m"), parts.get("mon"))
    day = _int(parts.get("d"))
    hour = _hour(_int(parts.get("H")) or 0, parts.get("ap1") or parts.get("ap2"))
    minute = _int(parts.get("M") or parts.get("Mk")) or 0
    second = _int(parts.get("S") or parts.get("Sk")) or 0
    micro = _micro(parts.get("frac"))
    zone = _zone(parts.get("tz"), default_tz)
    if year is None or month is None or day is None or hour is None or zone is None:
        return None
    if minute > 59 or second > 60 or (hour == 24 and (minute or second or micro)):
        return None
    # ISO's "24:00" and a leap second both name the first moment of what follows them.
    carry = timedelta(hours=1 if hour == 24 else 0, seconds=1 if second == 60 else 0)
    try:
        local = datetime(year, month, day, min(hour, 23), minute, min(second, 59), micro)
        return (local.replace(tzinfo=zone) + carry).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _int(text: str | None) -> int | None:
    return int(text) if text else None


def _year(text: str | None) -> int | None:
    if not text:
        return None
    year = int(text)
    if len(text) == 2:
        # RFC 2822 §4.3: 00-49 are 2000-2049, 50-99 are 1950-1999.
        year += 2000 if year < 50 else 1900
    return year if 1 <= year <= 9999 else None


def _month(number: str | None, name: str | None) -> int | None:
    if number:
        month = int(number)
        return month if 1 <= month <= 12 else None
    if name:
        return _MONTHS.get(name.lower())
    return None


def _hour(hour: int, ampm: str | None) -> int | None:
    if ampm is not None:
        marker = ampm.lower().replace(" ", "")
        if marker in _PM or marker.replace(".", "") == "pm":
            # "오후 13:00" exists in the wild; a 24-hour clock with a redundant marker.
            hour = hour + 12 if 1 <= hour <= 11 else hour
        elif (marker in _AM or marker.replace(".", "") == "am") and hour == 12:
            hour = 0
    return hour if 0 <= hour <= 24 else None


def _micro(frac: str | None) -> int:
    if not frac:
        return 0
    return int((frac + "000000")[:6])


def _zone(text: str | None, default_tz: tzinfo) -> tzinfo | None:
    if text is None:
        return default_tz
    upper = text.upper()
    if upper[:3] in ("GMT", "UTC") and len(upper) > 3:
        upper = upper[3:]
    if upper[0] in "+-":
        digits = upper[1:].replace(":", "")
        if len(digits) <= 2:
            hours, minutes = int(digits), 0
        elif len(digits) == 3:
            hours, minutes = int(digits[0]), int(digits[1:])
        else:
            hours, minutes = int(digits[:-2]), int(digits[-2:])
        if hours > 14 or minutes > 59:
            return None
        sign = -1 if upper[0] == "-" else 1
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    # Unknown names (military letters included, RFC 2822 §4.3) are "-0000": UTC.
    return timezone(timedelta(minutes=ZONE_OFFSETS.get(upper, 0)))
