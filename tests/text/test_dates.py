"""Date strings from feeds: RFC 822, ISO 8601, Korean forms; zone-less means Korea time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.text.dates import KST, parse_date


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Korean forms, no zone: Korea time.
        ("2024.05.01 10:00", utc(2024, 5, 1, 1, 0)),
        ("2024.05.01 10:00:30", utc(2024, 5, 1, 1, 0, 30)),
        ("2024. 5. 1. 10:00", utc(2024, 5, 1, 1, 0)),
        ("2024/05/01 10:00", utc(2024, 5, 1, 1, 0)),
        ("2024년 05월 01일 10:00:00", utc(2024, 5, 1, 1, 0)),
        ("2024년 5월 1일 (수) 오후 3시 7분", utc(2024, 5, 1, 6, 7)),
        ("2018-10-19 오후 11:14:09", utc(2018, 10, 19, 14, 14, 9)),
        ("2018-10-19 오전 11:14:09", utc(2018, 10, 19, 2, 14, 9)),
        ("2018-10-19 오전 12:05:00", utc(2018, 10, 18, 15, 5)),  # 오전 12시 is midnight
        ("2018-10-19 오후 12:05:00", utc(2018, 10, 19, 3, 5)),  # 오후 12시 is noon
        ("2018-10-19 11:14:09 PM", utc(2018, 10, 19, 14, 14, 9)),
        ("2018-10-19", utc(2018, 10, 18, 15, 0)),
        # RFC 822 / 1123.
        ("Fri, 19 Oct 2018 13:29:09 +0900", utc(2018, 10, 19, 4, 29, 9)),
        ("Fri, 19 Oct 2018 15:11:21 +0200", utc(2018, 10, 19, 13, 11, 21)),
        ("Fri,  9 Dec 2005 19:49:38 +0900", utc(2005, 12, 9, 10, 49, 38)),
        ("Mon, 19 Jul 2004 06:33:23 GMT", utc(2004, 7, 19, 6, 33, 23)),
        ("Mon, 19 Jul 2004 06:33:23 UTC", utc(2004, 7, 19, 6, 33, 23)),
        ("Wed, 01 May 2024 10:00:00 KST", utc(2024, 5, 1, 1, 0)),
        ("Wed, 01 May 2024 10:00:00", utc(2024, 5, 1, 1, 0)),
        ("Wed, 01 May 2024 10:00 EST", utc(2024, 5, 1, 15, 0)),
        ("Wed, 01 May 2024 10:00:00 PDT", utc(2024, 5, 1, 17, 0)),
        ("01 May 24 10:00:00 -0430", utc(2024, 5, 1, 14, 30)),
        ("Wed, 01 May 2024 10:00:00 +0900 (KST)", utc(2024, 5, 1, 1, 0)),
        ("Sun, 06 Nov 1994 08:49:37 XYZ", utc(1994, 11, 6, 8, 49, 37)),  # unknown zone: -0000
        ("May 1, 2024 10:00 PM", utc(2024, 5, 1, 13, 0)),
        ("Wed May  1 10:00:00 2024", utc(2024, 5, 1, 1, 0)),
        # ISO 8601 / W3C-DTF.
        ("2018-10-19T13:29:09+09:00", utc(2018, 10, 19, 4, 29, 9)),
        ("2018-10-19T13:29:09Z", utc(2018, 10, 19, 13, 29, 9)),
        ("2018-10-19T13:29:09.5Z", utc(2018, 10, 19, 13, 29, 9, 500000)),
        ("2018-10-19T13:29:09.123456789-05:00", utc(2018, 10, 19, 18, 29, 9, 123456)),
        ("2003-10-01T12:00+00:00", utc(2003, 10, 1, 12, 0)),
        ("2004-12-27T11:30:00", utc(2004, 12, 27, 2, 30)),
        ("2018-10-19 13:29:09 +0900", utc(2018, 10, 19, 4, 29, 9)),
        ("20181019T132909Z", utc(2018, 10, 19, 13, 29, 9)),
        ("2018-10-19T24:00:00Z", utc(2018, 10, 20, 0, 0)),
        ("2016-12-31T23:59:60Z", utc(2017, 1, 1, 0, 0)),
    ],
)
def test_parse_date(value: str, expected: datetime) -> None:
    parsed = parse_date(value)
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "junk",
        "어제쯤",
        "2018-13-01 10:00",
        "2018-02-30",
        "2018-10-19 25:00",
        "2018-10-19 10:61",
        "2018-10-19T24:30:00Z",
        "Fri, 32 Oct 2018 10:00:00 GMT",
        "Fri, 19 Foo 2018 10:00:00 GMT",
        "2018-10-19T10:00:00+25:00",
        "9" * 200,
        "0000-01-01",
    ],
)
def test_junk_gives_none(value: str) -> None:
    assert parse_date(value) is None


def test_none_gives_none() -> None:
    assert parse_date(None) is None


def test_default_zone_is_a_parameter() -> None:
    assert parse_date("2024.05.01 10:00", default_tz=UTC) == utc(2024, 5, 1, 10, 0)
    # An explicit zone always wins over the default.
    assert parse_date("2024-05-01T10:00:00Z", default_tz=KST) == utc(2024, 5, 1, 10, 0)


def test_far_future_is_returned_as_is() -> None:
    # Plausibility is the caller's business: the function stays pure (no clock).
    assert parse_date("2999-01-01T00:00:00Z") == utc(2999, 1, 1)


_AMPM_KO = ("오전", "오후")
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _offset(instant: datetime) -> str:
    minutes = int(instant.utcoffset().total_seconds() // 60)  # type: ignore[union-attr]
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def _hour12(instant: datetime) -> tuple[str, int]:
    return _AMPM_KO[instant.hour >= 12], (instant.hour % 12) or 12


def _formats(instant: datetime) -> list[tuple[str, datetime]]:
    """(text, the instant it names) — formats without seconds name the truncated minute."""
    kst = instant.astimezone(KST)
    whole = instant.replace(microsecond=0)
    minute = instant.replace(second=0, microsecond=0)
    kst_minute = kst.replace(second=0, microsecond=0)
    ampm, hour12 = _hour12(kst)
    offset = _offset(instant)
    return [
        (
            f"{instant:%a}, {instant.day:02d} {_MONTHS[instant.month - 1]} {instant.year}"
            f" {instant:%H:%M:%S} {offset}",
            whole,
        ),
        (
            f"{_MONTHS[instant.month - 1]} {instant.day}, {instant.year} {instant:%H:%M} {offset}",
            minute,
        ),
        (instant.isoformat(), instant),
        (instant.isoformat(timespec="minutes"), minute),
        (whole.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), whole),
        (
            f"{instant.astimezone(UTC):%a, %d} {_MONTHS[instant.astimezone(UTC).month - 1]}"
            f" {instant.astimezone(UTC):%Y %H:%M:%S} GMT",
            whole,
        ),
        (f"{kst:%Y.%m.%d %H:%M}", kst_minute),
        (f"{kst.year}년 {kst.month:02d}월 {kst.day:02d}일 {kst:%H:%M:%S}", whole),
        (f"{kst:%Y-%m-%d} {ampm} {hour12}:{kst:%M:%S}", whole),
        (f"{kst:%Y-%m-%d %H:%M:%S} KST", whole),
    ]


@given(
    st.datetimes(
        min_value=datetime(1950, 1, 2),
        max_value=datetime(2100, 12, 30),
        timezones=st.integers(min_value=-12 * 60, max_value=14 * 60).map(
            lambda m: timezone(timedelta(minutes=m))
        ),
    )
)
def test_formatting_then_parsing_gives_the_same_instant(instant: datetime) -> None:
    for text, expected in _formats(instant):
        assert parse_date(text) == expected, text
