"""The polling policy: durations, publication rates by hour of day in Korea time, hints as
lower bounds, back-off, jitter and the spreading of overdue feeds at start-up."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.ingest.schedule import (
    KOREA,
    SchedulePolicy,
    ServerHints,
    error_backoff,
    hints_from_response,
    hourly_rate,
    jittered,
    next_check_time,
    next_interval,
    parse_retry_after,
    startup_spread,
)
from aggregator.text.durations import parse_duration

POLICY = SchedulePolicy()
NO_HINTS = ServerHints()
# A Wednesday, 10:00 in Seoul.
NOW = datetime(2024, 5, 15, 10, 0, tzinfo=KOREA).astimezone(UTC)
M = timedelta(minutes=1)
H = timedelta(hours=1)


def kst(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 5, day, hour, minute, tzinfo=KOREA).astimezone(UTC)


def every(step: timedelta, *, days: int = 14, end: datetime = NOW) -> list[datetime]:
    """Entries evenly spaced over the ``days`` before ``end``."""
    out: list[datetime] = []
    t = end - step
    while t > end - timedelta(days=days):
        out.append(t)
        t -= step
    return out


def interval(
    published: list[datetime],
    now: datetime = NOW,
    *,
    all_new: bool = False,
    hints: ServerHints = NO_HINTS,
    policy: SchedulePolicy = POLICY,
) -> timedelta:
    return next_interval(policy=policy, published=published, now=now, all_new=all_new, hints=hints)


# Every half hour from 07:00 to 23:00 KST, May 1-14: a Korean outlet's day.
DAYTIME = [kst(day, 7) + k * 30 * M for day in range(1, 15) for k in range(33)]


# --- durations ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("6h", timedelta(hours=6)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        (" 2H ", timedelta(hours=2)),
        ("1.5h", timedelta(minutes=90)),
        ("90", timedelta(seconds=90)),
        ("0.5", timedelta(seconds=0.5)),
        (45, timedelta(seconds=45)),
        (2.5, timedelta(seconds=2.5)),
    ],
)
def test_parse_duration(text: str | int | float, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected a number of seconds or a value such as 30s"),
        ("abc", "expected a number of seconds"),
        ("5x", "expected a number of seconds"),
        ("5 minutes", "expected a number of seconds"),
        ("h", "expected a number of seconds"),
        ("nan", "expected a number of seconds"),
        ("٣", "expected a number of seconds"),  # Arabic-Indic digit: not a config number
        ("0", "must be greater than zero"),
        ("0s", "must be greater than zero"),
        ("-5m", "must be greater than zero"),
        (0, "must be greater than zero"),
        (-1.0, "must be greater than zero"),
        (float("inf"), "expected a number of seconds"),
        (float("nan"), "expected a number of seconds"),
        (True, "expected a number of seconds"),
        ("30m1h", "largest to smallest"),
        ("1h1h", "largest to smallest"),
        ("99999d", "longer than 3650 days"),
    ],
)
def test_parse_duration_rejects(text: str | int | float, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_duration(text)
    assert repr(text) in str(info.value)  # the message names the offending value


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"min_interval": timedelta(0)}, "min_interval must be greater than zero"),
        ({"max_interval": timedelta(minutes=1)}, "max_interval must not be shorter"),
        ({"error_cap": timedelta(minutes=1)}, "error_cap must not be shorter"),
        ({"jitter": 1.0}, "jitter"),
        ({"jitter": -0.1}, "jitter"),
        ({"history_days": 0}, "history_days"),
    ],
)
def test_policy_validation(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SchedulePolicy(**changes)  # type: ignore[arg-type]


# --- rates and intervals --------------------------------------------------------------------


def test_no_history_means_max_interval() -> None:
    assert interval([]) == POLICY.max_interval
    assert hourly_rate([], NOW, POLICY) == 0.0


def test_entries_outside_the_window_are_ignored() -> None:
    old = [NOW - timedelta(days=15, minutes=k) for k in range(500)]
    future = [NOW + timedelta(minutes=k + 1) for k in range(500)]
    assert hourly_rate(old + future, NOW, POLICY) == 0.0
    assert interval(old + future) == POLICY.max_interval


@pytest.mark.parametrize(
    ("step", "low", "high"),
    [
        (5 * M, POLICY.min_interval, POLICY.min_interval),
        (20 * M, 15 * M, 25 * M),
        (timedelta(hours=2), 100 * M, 140 * M),
        (timedelta(days=2), POLICY.max_interval, POLICY.max_interval),
    ],
)
def test_interval_aims_at_one_entry_per_poll(
    step: timedelta, low: timedelta, high: timedelta
) -> None:
    # Around the clock, so every hour of day looks alike.
    assert low <= interval(every(step)) <= high


def test_busier_feeds_get_shorter_intervals() -> None:
    steps = [2 * M, 10 * M, 30 * M, H, 3 * H, 8 * H, timedelta(days=1), timedelta(days=4)]
    intervals = [interval(every(step)) for step in steps]
    assert intervals == sorted(intervals)
    assert intervals[0] == POLICY.min_interval
    assert intervals[-1] == POLICY.max_interval


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=60, max_value=3 * 86400),
    st.integers(min_value=60, max_value=3 * 86400),
)
def test_busier_never_longer(a: int, b: int) -> None:
    busy, quiet = sorted((timedelta(seconds=a), timedelta(seconds=b)))
    # Hour-of-day buckets and the history window's edges discretize the rate, so two
    # nearly equal publishing steps can come out a fraction of a percent the "wrong" way
    # round (hypothesis found 3376 s against 3363 s); what matters is no real inversion.
    assert interval(every(busy)) <= interval(every(quiet)) * 1.02


def test_day_publisher_short_by_day_long_at_night_in_korea_time() -> None:
    day = kst(15, 10)
    night = kst(15, 3)
    assert interval(DAYTIME, day) <= 45 * M
    assert interval(DAYTIME, night) >= 3 * H
    assert hourly_rate(DAYTIME, day, POLICY) > 5 * hourly_rate(DAYTIME, night, POLICY)


def test_night_poll_comes_back_for_the_morning_news() -> None:
    # At 01:00 the next six hours are quiet, but 07:00 is busy: come back before max_interval
    # runs out, not at 07:00 + 6 h.
    wait = interval(DAYTIME, kst(15, 1))
    assert 4 * H <= wait < POLICY.max_interval
    assert kst(15, 1) + wait <= kst(15, 7)


def test_time_zone_of_the_inputs_does_not_matter() -> None:
    # Stored times are UTC, fetched ones may carry +09:00: the same instants, the same rates.
    as_kst = [t.astimezone(KOREA) for t in DAYTIME]
    for hour in (3, 10):
        assert hourly_rate(as_kst, kst(15, hour), POLICY) == pytest.approx(
            hourly_rate(DAYTIME, kst(15, hour).astimezone(KOREA), POLICY)
        )


def test_sparse_history_never_gives_zero() -> None:
    # Three entries, all around 10:00 KST: 03:00 KST saw nothing, but one quiet night is no
    # proof of silence; the overall rate fills in.
    sparse = [kst(12, 10), kst(13, 10), kst(14, 10)]
    assert hourly_rate(sparse, kst(15, 3), POLICY) > 0
    assert hourly_rate(sparse, kst(15, 10), POLICY) > hourly_rate(sparse, kst(15, 3), POLICY)


def test_truncated_document_is_read_as_busy() -> None:
    # A feed document lists its last 50 items, all from the last 5 hours: that is 10 an
    # hour, not 50 in two weeks.
    recent = [NOW - k * 6 * M for k in range(1, 51)]
    assert interval(recent) <= 10 * M


def test_naive_datetimes_are_utc() -> None:
    naive = [t.replace(tzinfo=None) for t in every(20 * M)]
    assert interval(naive, NOW.replace(tzinfo=None)) == interval(every(20 * M))


def test_all_new_halves_with_min_interval_floor() -> None:
    history = every(2 * H)
    normal = interval(history)
    assert interval(history, all_new=True) == normal / 2
    busy = every(5 * M)
    assert interval(busy, all_new=True) == POLICY.min_interval


@pytest.mark.parametrize("field", ["ttl", "update_period", "cache_max_age", "expires_in"])
def test_hint_is_a_lower_bound_up_to_max_interval(field: str) -> None:
    busy = every(2 * M)
    assert interval(busy) == POLICY.min_interval
    assert interval(busy, hints=ServerHints(**{field: 2 * H})) == 2 * H
    # Below the computed interval: no effect.
    assert interval(every(2 * H), hints=ServerHints(**{field: M})) == interval(every(2 * H))
    # A week-long ttl or max-age must not stop polling.
    assert interval(busy, hints=ServerHints(**{field: timedelta(days=7)})) == POLICY.max_interval


def test_retry_after_may_exceed_max_interval_up_to_error_cap() -> None:
    busy = every(2 * M)
    assert interval(busy, hints=ServerHints(retry_after=2 * H)) == 2 * H
    assert interval(busy, hints=ServerHints(retry_after=10 * H)) == 10 * H
    assert interval(busy, hints=ServerHints(retry_after=timedelta(days=5))) == POLICY.error_cap


_DELTAS = st.none() | st.integers(min_value=1, max_value=10 * 86400).map(
    lambda s: timedelta(seconds=s)
)


@settings(max_examples=200, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=-20 * 86400, max_value=86400), max_size=300),
    now_offset=st.integers(min_value=0, max_value=7 * 86400),
    all_new=st.booleans(),
    hints=st.builds(
        ServerHints,
        ttl=_DELTAS,
        update_period=_DELTAS,
        cache_max_age=_DELTAS,
        expires_in=_DELTAS,
        retry_after=_DELTAS,
    ),
    min_seconds=st.integers(min_value=1, max_value=3600),
    extra_seconds=st.integers(min_value=0, max_value=2 * 86400),
    cap_seconds=st.integers(min_value=0, max_value=3 * 86400),
)
def test_bounds_always_respected(
    offsets: list[int],
    now_offset: int,
    all_new: bool,
    hints: ServerHints,
    min_seconds: int,
    extra_seconds: int,
    cap_seconds: int,
) -> None:
    low = timedelta(seconds=min_seconds)
    policy = SchedulePolicy(
        min_interval=low,
        max_interval=low + timedelta(seconds=extra_seconds),
        error_cap=low + timedelta(seconds=cap_seconds),
    )
    now = NOW + timedelta(seconds=now_offset)
    published = [now + timedelta(seconds=s) for s in offsets]
    result = interval(published, now, all_new=all_new, hints=hints, policy=policy)
    ceiling = policy.max_interval
    if hints.retry_after is not None:
        ceiling = max(ceiling, min(hints.retry_after, policy.error_cap))
    assert policy.min_interval <= result <= ceiling
    for bound in (hints.ttl, hints.update_period, hints.cache_max_age, hints.expires_in):
        if bound is not None:
            assert result >= min(bound, policy.max_interval)


# --- hints from responses -------------------------------------------------------------------

DATE = "Wed, 15 May 2024 01:00:00 GMT"  # NOW


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"cache-control": "public, max-age=600"}, ServerHints(cache_max_age=10 * M)),
        ({"Cache-Control": 'max-age="900"'}, ServerHints(cache_max_age=15 * M)),
        ({"cache-control": "no-cache, max-age=600"}, NO_HINTS),
        ({"cache-control": "no-store"}, NO_HINTS),
        ({"cache-control": "No-Cache", "expires": "Wed, 15 May 2024 02:00:00 GMT"}, NO_HINTS),
        ({"cache-control": "s-maxage=600"}, NO_HINTS),
        ({"cache-control": "max-age=0"}, NO_HINTS),
        ({"cache-control": "max-age=soon"}, NO_HINTS),
        # Expires minus Date: the response's own clock, not ours.
        (
            {"date": "Wed, 15 May 2024 00:00:00 GMT", "expires": "Wed, 15 May 2024 00:30:00 GMT"},
            ServerHints(expires_in=30 * M),
        ),
        # Without Date, minus now.
        ({"Expires": "Wed, 15 May 2024 01:20:00 GMT"}, ServerHints(expires_in=20 * M)),
        ({"expires": "Wed, 15 May 2024 00:00:00 GMT"}, NO_HINTS),  # already expired
        ({"expires": "0"}, NO_HINTS),
        ({"expires": "-1"}, NO_HINTS),
        # max-age wins over Expires (RFC 9111 §5.3).
        (
            {"cache-control": "max-age=60", "expires": "Wed, 15 May 2024 05:00:00 GMT"},
            ServerHints(cache_max_age=M),
        ),
        ({}, NO_HINTS),
    ],
)
def test_hints_from_headers(headers: dict[str, str], expected: ServerHints) -> None:
    assert hints_from_response(headers, NOW) == expected


def test_hints_from_feed_fields_and_retry_after() -> None:
    hints = hints_from_response(
        {"date": DATE},
        NOW,
        ttl_minutes=60,
        update_period_minutes=30.0,
        retry_after="120",
    )
    assert hints == ServerHints(ttl=H, update_period=30 * M, retry_after=2 * M)
    assert hints_from_response({}, NOW, ttl_minutes=0, update_period_minutes=-1.0) == NO_HINTS


def test_retry_after_date_is_measured_from_the_response_date() -> None:
    # Our clock runs an hour fast; the server's Date keeps the wait right.
    hints = hints_from_response(
        {"date": DATE}, NOW + H, retry_after="Wed, 15 May 2024 01:10:00 GMT"
    )
    assert hints.retry_after == 10 * M


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 2 * M),
        (" 3600 ", H),
        ("Wed, 15 May 2024 01:30:00 GMT", 30 * M),
        ("Wednesday, 15-May-24 02:00:00 GMT", H),  # RFC 850, still allowed by HTTP
        ("Wed, 15 May 2024 00:30:00 GMT", None),  # in the past
        ("0", None),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: timedelta | None) -> None:
    assert parse_retry_after(value, NOW) == expected


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (0, 5 * M),
        (1, 5 * M),
        (2, 10 * M),
        (3, 20 * M),
        (4, 40 * M),
        (8, 640 * M),
        (9, 1280 * M),
        (10, timedelta(hours=24)),
        (1000, timedelta(hours=24)),
    ],
)
def test_backoff_doubles_then_caps(count: int, expected: timedelta) -> None:
    assert error_backoff(policy=POLICY, error_count=count) == expected


def test_backoff_retry_after_and_gone() -> None:
    assert error_backoff(policy=POLICY, error_count=1, retry_after=H) == H
    assert error_backoff(policy=POLICY, error_count=3, retry_after=M) == 20 * M
    assert error_backoff(policy=POLICY, error_count=1, retry_after=timedelta(days=9)) == (
        POLICY.error_cap
    )
    # Gone is checked once per error_cap, never dropped.
    assert error_backoff(policy=POLICY, error_count=1, gone=True) == POLICY.error_cap


# --- jitter and start-up --------------------------------------------------------------------


@given(
    seconds=st.integers(min_value=1, max_value=10 * 86400),
    fraction=st.floats(min_value=0, max_value=0.99),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_jitter_stays_in_range(seconds: int, fraction: float, seed: int) -> None:
    base = timedelta(seconds=seconds)
    value = jittered(base, random.Random(seed), fraction)
    tolerance = timedelta(microseconds=1)
    assert base * (1 - fraction) - tolerance <= value <= base * (1 + fraction) + tolerance


def test_jitter_is_deterministic_for_a_seeded_rng() -> None:
    first = [jittered(H, random.Random(7), 0.1) for _ in range(3)]
    again = [jittered(H, random.Random(7), 0.1) for _ in range(3)]
    assert first == again
    rng = random.Random(7)
    values = {jittered(H, rng, 0.1) for _ in range(50)}
    assert len(values) > 40  # the same rng moves on
    assert jittered(H, random.Random(1), 0.0) == H


def test_jitter_floor_and_bad_fraction() -> None:
    rng = random.Random(3)
    assert all(jittered(H, rng, 0.5, floor=H) >= H for _ in range(100))
    with pytest.raises(ValueError, match="jitter fraction"):
        jittered(H, rng, 1.5)


def test_next_check_time_never_undercuts_retry_after() -> None:
    rng = random.Random(11)
    times = [next_check_time(NOW, H, rng, POLICY, retry_after=H) for _ in range(200)]
    assert min(times) >= NOW + H
    assert max(times) <= NOW + H * 1.1
    plain = [next_check_time(NOW, H, rng, POLICY) for _ in range(200)]
    assert min(plain) < NOW + H < max(plain)


def test_startup_spreads_300_overdue_feeds() -> None:
    rng = random.Random(2024)
    stored: list[datetime | None] = [
        None if k % 3 == 0 else NOW - timedelta(minutes=k) for k in range(300)
    ]
    starts = [startup_spread(s, NOW, H, rng, POLICY) for s in stored]
    window = POLICY.min_interval
    assert all(NOW <= t <= NOW + window for t in starts)
    buckets = Counter(int((t - NOW).total_seconds() // 10) for t in starts)
    # 300 over 30 ten-second buckets is 10 each on average; no burst.
    assert max(buckets.values()) <= 20
    assert len(buckets) == 30


def test_startup_keeps_a_future_time() -> None:
    rng = random.Random(1)
    later = NOW + 3 * H
    assert startup_spread(later, NOW, H, rng, POLICY) == later
    # A back-off or Retry-After up to error_cap survives a restart too.
    assert startup_spread(NOW + 20 * H, NOW, H, rng, POLICY) == NOW + 20 * H


def test_startup_distrusts_a_time_beyond_anything_scheduled() -> None:
    # Written by a clock years ahead: treated as overdue, not left unpolled.
    start = startup_spread(NOW + timedelta(days=400), NOW, H, random.Random(1), POLICY)
    assert NOW <= start <= NOW + POLICY.min_interval


def test_startup_spread_never_exceeds_the_feed_interval() -> None:
    rng = random.Random(5)
    policy = SchedulePolicy(min_interval=timedelta(seconds=30))
    starts = [startup_spread(None, NOW, timedelta(seconds=40), rng, policy) for _ in range(200)]
    assert all(NOW <= t <= NOW + timedelta(seconds=40) for t in starts)
    # With a 30-second min_interval the spread is still at least a minute when the interval
    # allows it.
    wide = [startup_spread(None, NOW, H, rng, policy) for _ in range(200)]
    assert max(wide) > NOW + timedelta(seconds=45)
    assert all(t <= NOW + timedelta(seconds=60) for t in wide)
