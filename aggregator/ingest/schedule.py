"""When to poll each feed next: the daemon's scheduling policy, as pure functions.

What it decides:

* the interval after a successful fetch (:func:`next_interval`): about one new entry per
  poll, learned from the feed's publication times per hour of day in Korea time (Korean
  outlets publish little at night), clamped to ``[min_interval, max_interval]``, halved when
  a fetch brought only unseen items (some may have been missed), and never shorter than
  what the feed or the server asked for (RSS ``<ttl>``, ``sy:updatePeriod``,
  Cache-Control ``max-age``/``Expires``, ``Retry-After``);
* the wait after a failed fetch (:func:`error_backoff`): exponential, capped, never
  "stop polling": a feed that errors for a week, even one answering 410 Gone, is still
  checked once per ``error_cap``, because sites come back and URLs get reused;
* jitter (:func:`jittered`) so that feeds do not drift into lock-step, and the spreading of
  overdue feeds at daemon start (:func:`startup_spread`) so that a restart with 300 feeds
  does not fire them all at once;
* the server's hints as read from response headers (:func:`hints_from_response`,
  :func:`parse_retry_after`).

What it does not do: any I/O, reading a clock or a global random generator (``now`` and a
:class:`random.Random` are passed in, which keeps every decision reproducible in tests),
storing state, or deciding which fetch counts as an error.

Why our own code: HTTP caching libraries answer "is this response still fresh", not "when
should a poller come back"; no library we know of encodes feed-polling policy (publication
rate, night-time lulls, RSS ttl and the Syndication module, back-off that never gives up).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

from aggregator.text.durations import LONGEST

__all__ = [
    "KOREA",
    "SchedulePolicy",
    "ServerHints",
    "error_backoff",
    "hints_from_response",
    "hourly_profile",
    "hourly_rate",
    "jittered",
    "next_check_time",
    "next_interval",
    "parse_retry_after",
    "startup_spread",
]

# Where "hour of day" is counted by default: Korean outlets publish by Korean daylight.
KOREA: tzinfo = ZoneInfo("Asia/Seoul")
_HOUR = timedelta(hours=1)


# --- policy and hints -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SchedulePolicy:
    """The knobs. ``jitter`` is the +/- fraction applied to every interval; ``timezone`` is
    where "hour of day" is counted; ``history_days`` how far back publication times count.

    For a zone without daylight saving time, such as Asia/Seoul, counting hours there is
    the same as counting UTC hours (the 24 buckets are only renamed); the zone matters
    where clocks change, because outlets publish by the wall clock.
    """

    min_interval: timedelta = timedelta(minutes=5)
    max_interval: timedelta = timedelta(hours=6)
    error_cap: timedelta = timedelta(hours=24)
    jitter: float = 0.1
    timezone: tzinfo = KOREA
    history_days: int = 14

    def __post_init__(self) -> None:
        if self.min_interval <= timedelta(0):
            raise ValueError("schedule.min_interval must be greater than zero")
        if self.max_interval < self.min_interval:
            raise ValueError("schedule.max_interval must not be shorter than min_interval")
        if self.error_cap < self.min_interval:
            raise ValueError("schedule.error_cap must not be shorter than min_interval")
        if not 0 <= self.jitter < 1:
            raise ValueError("schedule.jitter must be at least 0 and less than 1")
        if self.history_days < 1:
            raise ValueError("schedule.history_days must be at least 1")


@dataclass(frozen=True, slots=True)
class ServerHints:
    """Lower bounds the feed or the server asked for; None where nothing was asked."""

    ttl: timedelta | None = None  # RSS <ttl>
    update_period: timedelta | None = None  # sy:updatePeriod / sy:updateFrequency
    cache_max_age: timedelta | None = None  # Cache-Control max-age
    expires_in: timedelta | None = None  # Expires minus Date (or minus now)
    retry_after: timedelta | None = None  # Retry-After on 429/503

    def polling_bounds(self) -> tuple[timedelta, ...]:
        """The hints that say how often the content changes (all but Retry-After)."""
        values = (self.ttl, self.update_period, self.cache_max_age, self.expires_in)
        return tuple(v for v in values if v is not None)


def hints_from_response(
    headers: Mapping[str, str],
    now: datetime,
    *,
    ttl_minutes: int | None = None,
    update_period_minutes: float | None = None,
    retry_after: str | None = None,
) -> ServerHints:
    """The hints of one response. ``retry_after`` is the Retry-After header value, passed by
    the caller only for 429/503: on other statuses the header means something else (a
    redirect delay) or nothing. Header names may be in any case. Junk values are ignored.

    Cache-Control ``no-cache``/``no-store`` drop both max-age and Expires (the server asks to
    revalidate every time, which says nothing about how rarely to come back); ``s-maxage``
    is for shared caches and ignored; Expires counts only without max-age (RFC 9111 §5.3).
    Expires and an HTTP-date Retry-After are measured from the response's Date when it has
    one, so that a skewed local clock does not distort them.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    now = _aware(now)
    reference = _http_date(lowered.get("date")) or now
    directives = _cache_directives(lowered.get("cache-control", ""))
    cache_max_age: timedelta | None = None
    expires_in: timedelta | None = None
    if "no-cache" not in directives and "no-store" not in directives:
        max_age = directives.get("max-age")
        if max_age is not None:
            cache_max_age = _positive_seconds(max_age)
        else:
            expires = _http_date(lowered.get("expires"))
            if expires is not None:
                expires_in = _positive(expires - reference)
    return ServerHints(
        ttl=_positive_minutes(ttl_minutes),
        update_period=_positive_minutes(update_period_minutes),
        cache_max_age=cache_max_age,
        expires_in=expires_in,
        retry_after=parse_retry_after(retry_after, reference),
    )


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Retry-After as a wait from ``now``: delta-seconds or an HTTP-date. None when absent,
    unreadable, or not in the future (a wait of zero constrains nothing)."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return _positive_seconds(text)
    when = _http_date(text)
    return None if when is None else _positive(when - _aware(now))


def _cache_directives(header: str) -> dict[str, str | None]:
    directives: dict[str, str | None] = {}
    for part in header.split(","):
        name, _, argument = part.partition("=")
        name = name.strip().lower()
        if name:
            directives.setdefault(name, argument.strip().strip('"') if argument else None)
    return directives


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return _aware(parsed)


def _positive_seconds(text: str | None) -> timedelta | None:
    if text is None or not (text.isascii() and text.isdigit()):
        return None
    return _positive(timedelta(seconds=min(int(text), int(LONGEST.total_seconds()))))


def _positive_minutes(minutes: float | None) -> timedelta | None:
    if minutes is None or not math.isfinite(minutes) or minutes <= 0:
        return None
    return timedelta(minutes=min(minutes, LONGEST.total_seconds() / 60))


def _positive(delta: timedelta) -> timedelta | None:
    return min(delta, LONGEST) if delta > timedelta(0) else None


# --- publication rate -----------------------------------------------------------------------

# The hour-of-day estimate pools the hour with its two neighbours (publication times are
# noisy at the hour scale and a 3-hour window still shows the night lull), and starts from a
# prior worth two days of observing that window: PRIOR_HOURS of "exposure" at the overall
# rate. See hourly_profile for the formula.
_NEIGHBOURS = 1
_PRIOR_HOURS = 2.0 * (2 * _NEIGHBOURS + 1)
# A span shorter than this says little: ten entries published in the last two minutes do not
# make a feed that publishes 300 an hour.
_MIN_SPAN = _HOUR


def hourly_profile(
    published: Sequence[datetime], now: datetime, policy: SchedulePolicy
) -> tuple[float, ...]:
    """Expected new entries per hour for each local hour of day 0-23 (in
    ``policy.timezone``), learned from the publication times in the last
    ``policy.history_days`` (older and future times are ignored; naive times are UTC).

    The formula, a Gamma-Poisson posterior mean per hour of day ``h``::

        span     = now - oldest entry in the window, at least 1 h, at most history_days
        overall  = N / span                                 (entries per hour)
        n_h      = entries whose local hour is h-1, h or h+1
        E_h      = hours of the span whose local hour is h-1, h or h+1
        rate_h   = (n_h + overall * P) / (E_h + P)          with P = 6 h

    Why: the overall rate alone would poll a Korean outlet as often at 03:00 as at 10:00;
    the per-hour rate alone is 0 for any hour that saw nothing yet, and would stop polling
    for those hours after a single quiet day. The blend weighs each hour's own evidence by
    how long that hour was observed (``E_h / (E_h + P)``: about 0.88 after 14 days, 0.33
    after one day), so a quiet hour observed for two weeks really reads as quiet while one
    observed once mostly follows the overall rate. Weighting by observed time rather than
    by entry count matters: an hour with zero entries over 14 days is strong evidence,
    which a count weight would throw away. The span starts at the oldest entry, not
    ``history_days`` ago, because a feed document lists only its last N items: 50 items over
    the last 5 hours is a busy feed, not 50 items in two weeks.
    """
    now = _aware(now)
    window_start = now - timedelta(days=policy.history_days)
    times = [t for t in (_aware(p) for p in published) if window_start <= t <= now]
    if not times:
        return (0.0,) * 24
    span = min(max(now - min(times), _MIN_SPAN), now - window_start)
    overall = len(times) / (span / _HOUR)
    counts = [0] * 24
    for t in times:
        counts[t.astimezone(policy.timezone).hour] += 1
    exposure = _hours_of_day(now - span, now, policy.timezone)
    profile: list[float] = []
    for hour in range(24):
        near = [(hour + k) % 24 for k in range(-_NEIGHBOURS, _NEIGHBOURS + 1)]
        n = sum(counts[h] for h in near)
        observed = sum(exposure[h] for h in near)
        profile.append((n + overall * _PRIOR_HOURS) / (observed + _PRIOR_HOURS))
    return tuple(profile)


def hourly_rate(published: Sequence[datetime], now: datetime, policy: SchedulePolicy) -> float:
    """Expected new entries per hour around ``now``'s local hour (see :func:`hourly_profile`
    for the formula). 0.0 when nothing was published in the window."""
    profile = hourly_profile(published, now, policy)
    return profile[_aware(now).astimezone(policy.timezone).hour]


def _hours_of_day(start: datetime, end: datetime, zone: tzinfo) -> list[float]:
    """How many hours of ``[start, end)`` fall on each local hour of day."""
    hours = [0.0] * 24
    t = start
    while t < end:
        local = t.astimezone(zone)
        step = min(_to_next_local_hour(local), end - t)
        hours[local.hour] += step / _HOUR
        t += step
    return hours


def _to_next_local_hour(local: datetime) -> timedelta:
    return _HOUR - timedelta(
        minutes=local.minute, seconds=local.second, microseconds=local.microsecond
    )


def _wait_for_one_entry(
    profile: Sequence[float], now: datetime, limit: timedelta, zone: tzinfo
) -> timedelta:
    """How long until one new entry is expected, walking the hourly profile forward from
    ``now``; ``limit`` when not even one is expected by then.

    Walking forward rather than using the current hour's rate alone is what makes a poll
    at 03:00 KST come back when the morning news starts, not six hours later.
    """
    expected = 0.0
    elapsed = timedelta(0)
    t = now
    while elapsed < limit:
        local = t.astimezone(zone)
        step = min(_to_next_local_hour(local), limit - elapsed)
        rate = profile[local.hour]
        gained = rate * (step / _HOUR)
        if rate > 0 and expected + gained >= 1.0:
            return elapsed + (1.0 - expected) / rate * _HOUR
        expected += gained
        elapsed += step
        t += step
    return limit


# --- intervals ------------------------------------------------------------------------------


def next_interval(
    *,
    policy: SchedulePolicy,
    published: Sequence[datetime],
    now: datetime,
    all_new: bool,
    hints: ServerHints,
) -> timedelta:
    """The interval until the next poll after a successful fetch (before jitter).

    ``published`` are the feed's publication times (the store's history and/or the entries
    just fetched; first-seen times do for entries without dates). ``all_new`` means every
    entry of the fetched document was unseen although the feed had been polled before.

    1. Wait until about one new entry is expected (:func:`hourly_profile`, walked forward
       from ``now``), clamped to ``[min_interval, max_interval]``. A feed with nothing
       published in the window gets ``max_interval``: it is dormant, and ``max_interval``
       is exactly the "still alive?" check. (A feed never polled has no interval yet: it is
       due at once, see :func:`startup_spread`; its first fetch brings its history.)
    2. ``all_new`` halves it (floor ``min_interval``): the document may have scrolled past
       items between polls, so the feed is busier than its history shows.
    3. The hints are lower bounds: ttl, update period, max-age and Expires raise the interval
       up to ``max_interval`` at most (a year-long max-age must not stop polling);
       Retry-After raises it up to ``error_cap``, past ``max_interval`` if need be, because
       the server asked explicitly.

    The result is always within ``[min_interval, max(max_interval, min(retry_after,
    error_cap))]``.
    """
    profile = hourly_profile(published, now, policy)
    if any(profile):
        wait = _wait_for_one_entry(profile, _aware(now), policy.max_interval, policy.timezone)
    else:
        wait = policy.max_interval
    interval = _clamp(wait, policy.min_interval, policy.max_interval)
    if all_new:
        interval = max(interval / 2, policy.min_interval)
    for bound in hints.polling_bounds():
        interval = max(interval, min(bound, policy.max_interval))
    if hints.retry_after is not None:
        interval = max(interval, min(hints.retry_after, policy.error_cap))
    return interval


def error_backoff(
    *,
    policy: SchedulePolicy,
    error_count: int,
    retry_after: timedelta | None = None,
    gone: bool = False,
) -> timedelta:
    """The wait after ``error_count`` consecutive failures (1 for the first): ``min_interval``
    doubled per further failure, capped at ``error_cap``; ``retry_after`` is a lower bound
    (itself capped at ``error_cap``).

    ``gone`` (HTTP 410) waits ``error_cap``: the feed is marked gone for people to see, but
    is still checked once per ``error_cap`` rather than dropped, because "gone" is sometimes
    a misconfigured server or a site in the middle of a redesign, and a feed nobody polls can
    never recover on its own. One request a day costs nothing.
    """
    if gone:
        return policy.error_cap
    doublings = max(error_count, 1) - 1
    # 2**64 × min_interval overflows timedelta; far beyond any cap anyway.
    if doublings >= 64:
        wait = policy.error_cap
    else:
        wait = min(policy.min_interval * 2**doublings, policy.error_cap)
    if retry_after is not None:
        wait = max(wait, min(retry_after, policy.error_cap))
    return wait


def jittered(
    interval: timedelta,
    rng: random.Random,
    fraction: float,
    *,
    floor: timedelta = timedelta(0),
) -> timedelta:
    """``interval`` × uniform(1 - fraction, 1 + fraction), but never below ``floor``.

    Jitter keeps feeds that were added together, or failed together, from polling in
    lock-step forever. ``floor`` is for a hard lower bound that jitter must not undercut
    (a server's Retry-After).
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"jitter fraction must be in [0, 1), got {fraction!r}")
    return max(interval * rng.uniform(1 - fraction, 1 + fraction), floor)


def next_check_time(
    now: datetime,
    interval: timedelta,
    rng: random.Random,
    policy: SchedulePolicy,
    *,
    retry_after: timedelta | None = None,
) -> datetime:
    """``now`` plus the jittered ``interval``, never sooner than ``retry_after`` (capped at
    ``error_cap``, as everywhere): the value to store as the feed's next check."""
    floor = timedelta(0) if retry_after is None else min(retry_after, policy.error_cap)
    return _aware(now) + jittered(interval, rng, policy.jitter, floor=floor)


def startup_spread(
    next_check_at: datetime | None,
    now: datetime,
    interval: timedelta,
    rng: random.Random,
    policy: SchedulePolicy,
) -> datetime:
    """A feed's first check after the daemon starts.

    A feed not yet due keeps its stored time: restarting does not reset schedules, back-offs
    or Retry-After. A feed overdue (the daemon was down) or never checked is due now, plus
    uniform(0, spread) with ``spread = min(interval, max(min_interval, 60 s))``: 300 overdue
    feeds then start over the first few minutes (about one a second with the defaults)
    instead of in one burst at the same hosts, and none waits longer than its own interval.

    A stored time further ahead than anything this policy schedules (``error_cap`` plus
    jitter) can only come from a clock that was wrong when it was written; such a feed is
    treated as overdue rather than left unpolled for that long.
    """
    now = _aware(now)
    if next_check_at is not None:
        stored = _aware(next_check_at)
        furthest = now + policy.error_cap * (1 + policy.jitter)
        if now < stored <= furthest:
            return stored
    spread = min(interval, max(policy.min_interval, timedelta(seconds=60)))
    return now + max(spread, timedelta(0)) * rng.random()


# --- helpers --------------------------------------------------------------------------------


def _clamp(value: timedelta, low: timedelta, high: timedelta) -> timedelta:
    return max(low, min(value, high))


def _aware(moment: datetime) -> datetime:
    """Naive datetimes are UTC, as everywhere in the store."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
