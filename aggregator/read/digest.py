"""The morning digest, the pure part: store rows in, a frozen :class:`Digest` out.

:func:`build_digest` turns store rows (``ReadingQueries.digest_rows``) into sections of
stories; :func:`parse_since` reads ``--since``. Printing and serializing is
:mod:`aggregator.read.render`'s.

This module must stay cheap to import: ``aggregator digest`` starts in a few hundred
milliseconds, so nothing of extraction, tagging or the database driver is imported here.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from aggregator.text.lead import extract_lead
from aggregator.text.terminal import clean_line

if TYPE_CHECKING:
    from aggregator.models import StoryInfo, StoryMember

__all__ = [
    "DIGEST_JSON_SCHEMA",
    "DIGEST_JSON_SCHEMA_VERSION",
    "LAST_DIGEST_STATE_KEY",
    "OTHER_COUNT_KEY",
    "Digest",
    "DigestSection",
    "DigestStory",
    "build_digest",
    "date_heading",
    "parse_since",
    "section_order",
]

DIGEST_JSON_SCHEMA_VERSION = 2
# Key under which ``ReadingQueries.set_state`` keeps the time of the last digest (--since last).
LAST_DIGEST_STATE_KEY = "digest.last_at"
# The "Other" section (articles with no configured tag) in ``counts``: parentheses cannot
# occur in a tag name (config.py: ``[a-z0-9][a-z0-9_-]*``), so it never clashes with a tag.
OTHER_COUNT_KEY = "(other)"
OTHER_LABEL = "Other"
# The same section, and the digest's other words, per display.language.
OTHER_LABELS = {"en": OTHER_LABEL, "ko": "기타"}
_KO_DAYS = ("월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일")


# The ``--format json`` document. Keys are never removed or renamed within a schema version;
# a change that would break a script bumps DIGEST_JSON_SCHEMA_VERSION.
DIGEST_JSON_SCHEMA: dict[str, Any] = {
    "schema_version": "int: DIGEST_JSON_SCHEMA_VERSION (2; 2 added story_id, outlets and "
    "others to each story, and shows a story covered by several outlets once)",
    "generated_at": "str: ISO 8601 UTC time the digest was built, with offset (+00:00)",
    "since": "str: ISO 8601 UTC start of the period covered, with offset",
    "timezone": "str: IANA display time zone, e.g. Asia/Seoul",
    "date_heading": "str: e.g. 'Monday, March 10, 2025' or '2025년 3월 10일 월요일' "
    "(display.language, display time zone)",
    "counts": (
        "object: {tag: number of articles in the period under that tag}; every article is "
        "counted once, under its first tag in config order; key '(other)' for articles with "
        "no configured tag; in section order; includes articles beyond --limit"
    ),
    "sections": [
        {
            "tag": "str | null: tag name; null for the Other section",
            "label": "str: the tag's label (config labels.ko, else labels.en, else the name)",
            "count": "int: articles in the period under this tag (may exceed len(stories))",
            "stories": [
                {
                    "id": "int: article id, for `aggregator show ID`",
                    "title": "str: headline (control characters removed)",
                    "feed": "str: outlet (feed title, else feed URL)",
                    "url": "str | null: link to the article",
                    "published": "str: ISO 8601 UTC publication time with offset "
                    "(first-seen time when the feed gave none)",
                    "local_time": "str: the time as shown, in the display time zone: "
                    "'HH:MM' today, else 'Mon D HH:MM' (this year) or 'YYYY-MM-DD HH:MM'",
                    "lead": "str: one or two sentences from the article text ('' if none)",
                    "tags": "list[str]: every tag of the article, config order first",
                    "story_id": "int | null: the story (same event, several outlets); null "
                    "when no other article covers it",
                    "outlets": "list[str]: every outlet that covered the story, this one "
                    "first (just [feed] for a story of one article)",
                    "others": [
                        {
                            "id": "int: another article of the story",
                            "feed": "str: its outlet",
                            "title": "str: its headline",
                            "url": "str | null",
                            "published": "str: ISO 8601 UTC time",
                        }
                    ],
                }
            ],
        }
    ],
}

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


class DigestRowLike(Protocol):
    """What :func:`build_digest` reads of a row (``aggregator.store.reading_sql.DigestRow``)."""

    @property
    def id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def feed_url(self) -> str: ...
    @property
    def feed_title(self) -> str | None: ...
    @property
    def published_at(self) -> datetime | None: ...
    @property
    def first_seen_at(self) -> datetime: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def text_start(self) -> str: ...
    @property
    def summary_start(self) -> str: ...
    @property
    def read_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class DigestStory:
    id: int
    title: str
    feed: str
    url: str | None
    published: datetime
    local_time: str
    lead: str
    tags: tuple[str, ...]
    read: bool = False
    story_id: int | None = None
    # The story's other articles (other outlets, or the same outlet's other versions).
    others: tuple[StoryMember, ...] = ()

    @property
    def outlets(self) -> tuple[str, ...]:
        """Every outlet that covered the story, this one first."""
        return tuple(dict.fromkeys([self.feed, *(clean_line(m.outlet) for m in self.others)]))


@dataclass(frozen=True, slots=True)
class DigestSection:
    tag: str | None  # None: the Other section
    label: str
    count: int  # articles in the period under this tag; the stories shown may be fewer
    stories: tuple[DigestStory, ...]


@dataclass(frozen=True, slots=True)
class Digest:
    generated_at: datetime
    since: datetime
    timezone: str
    date_heading: str
    sections: tuple[DigestSection, ...]
    language: str = "en"

    @property
    def counts(self) -> dict[str, int]:
        return {s.tag or OTHER_COUNT_KEY: s.count for s in self.sections}

    @property
    def total(self) -> int:
        return sum(s.count for s in self.sections)


# -- building ---------------------------------------------------------------------------------


def date_heading(day: date, language: str = "en") -> str:
    """'Monday, March 10, 2025' or '2025년 3월 10일 월요일': spelled out here, since strftime
    follows the C locale."""
    if language == "ko":
        return f"{day.year}년 {day.month}월 {day.day}일 {_KO_DAYS[day.weekday()]}"
    return f"{_DAYS[day.weekday()]}, {MONTHS[day.month - 1]} {day.day}, {day.year}"


def short_date(day: date, language: str = "en") -> str:
    """'Mar 9' or '3월 9일'."""
    if language == "ko":
        return f"{day.month}월 {day.day}일"
    return f"{MONTHS[day.month - 1][:3]} {day.day}"


def local_time_label(when: datetime, now: datetime, tz: ZoneInfo, language: str = "en") -> str:
    local, today = when.astimezone(tz), now.astimezone(tz).date()
    if local.date() == today:
        return local.strftime("%H:%M")
    if local.year == today.year:
        return f"{short_date(local.date(), language)} {local:%H:%M}"
    return local.strftime("%Y-%m-%d %H:%M")


def build_digest(
    rows: Iterable[DigestRowLike],
    *,
    now: datetime,
    tz: ZoneInfo,
    tag_order: Sequence[str],
    tag_labels: Mapping[str, str],
    since: datetime,
    limit_per_tag: int | None = None,
    counts: Mapping[str | None, int] | None = None,
    stories: Mapping[int, StoryInfo] | None = None,
    language: str = "en",
) -> Digest:
    """Group ``rows`` by tag in ``tag_order``: an article appears once, under its first tag
    in that order; articles with no configured tag go to "Other", last. Newest first within
    a section; ``limit_per_tag`` caps the stories shown (counts stay whole). ``counts``, when
    given, are the period's true counts per section (``rows`` may be only its newest part).

    ``stories`` (``StoryQueries.story_info``) maps an article id to its story: the rows of
    one story make one line, shown for its earliest row, listing the other outlets; stories
    covered by more outlets come first, then the newest."""
    rank = {tag: i for i, tag in enumerate(tag_order)}
    all_rows = list(rows)
    # Counts are of articles, as ``counts`` from the database are: a story of three outlets
    # is one line and three articles.
    loaded: Counter[str | None] = Counter(_section(row.tags, rank)[1] for row in all_rows)
    grouped: dict[str | None, list[tuple[datetime, int, tuple[str, ...], DigestRowLike]]] = {}
    for row in _one_row_per_story(all_rows, stories or {}):
        ordered, section = _section(row.tags, rank)
        when = row.published_at or row.first_seen_at
        grouped.setdefault(section, []).append((when, row.id, ordered, row))
    sections = []
    for tag in [*tag_order, None]:
        members = grouped.get(tag, [])
        total = max(loaded[tag], (counts or {}).get(tag, 0))
        if not total:
            continue
        members.sort(key=lambda m: (_outlet_count(m[3], stories), m[0], m[1]), reverse=True)
        shown = members if limit_per_tag is None else members[:limit_per_tag]
        label = OTHER_LABELS[language] if tag is None else clean_line(tag_labels.get(tag) or tag)
        # Leads only for the stories shown: a busy day has thousands of rows, and sentence
        # splitting all of them would cost more than the query.
        lines = tuple(
            _story(row, when, ordered, now, tz, (stories or {}).get(row.id), language)
            for when, _, ordered, row in shown
        )
        sections.append(DigestSection(tag, label, total, lines))
    return Digest(
        generated_at=now,
        since=since,
        timezone=tz.key,
        date_heading=date_heading(now.astimezone(tz).date(), language),
        sections=tuple(sections),
        language=language,
    )


def section_order(tag_order: Sequence[str], wanted: Sequence[str] = ()) -> list[str]:
    """The sections of a digest: every configured tag in config order, or, when the digest
    is filtered to ``wanted`` tags, just those (config order first): an article tagged
    politics and entertainment belongs under entertainment in ``--tag entertainment``."""
    if not wanted:
        return list(tag_order)
    chosen = set(wanted)
    return [t for t in tag_order if t in chosen] + [
        t for t in dict.fromkeys(wanted) if t not in tag_order
    ]


def _section(tags: Iterable[str], rank: Mapping[str, int]) -> tuple[tuple[str, ...], str | None]:
    """An article's tags in config order (then any others, the config was edited, by name)
    and the section it goes to: its first configured tag, else None ("Other")."""
    ordered = tuple(sorted(dict.fromkeys(tags), key=lambda t: (rank.get(t, len(rank)), t)))
    return ordered, ordered[0] if ordered and ordered[0] in rank else None


def _one_row_per_story(
    rows: Iterable[DigestRowLike], stories: Mapping[int, StoryInfo]
) -> list[DigestRowLike]:
    """The earliest row of each story (then by id), and every row that has no story."""
    kept: dict[int, DigestRowLike] = {}
    out: list[DigestRowLike | int] = []
    for row in rows:
        info = stories.get(row.id)
        if info is None:
            out.append(row)
            continue
        best = kept.get(info.story_id)
        if best is None:
            out.append(info.story_id)
        if best is None or (_when(row), row.id) < (_when(best), best.id):
            kept[info.story_id] = row
    return [kept[item] if isinstance(item, int) else item for item in out]


def _when(row: DigestRowLike) -> datetime:
    return row.published_at or row.first_seen_at


def _outlet_count(row: DigestRowLike, stories: Mapping[int, StoryInfo] | None) -> int:
    info = (stories or {}).get(row.id)
    return len(info.outlets) if info else 1


def _story(
    row: DigestRowLike,
    when: datetime,
    tags: tuple[str, ...],
    now: datetime,
    tz: ZoneInfo,
    info: StoryInfo | None = None,
    language: str = "en",
) -> DigestStory:
    title = clean_line(row.title) or "(no title)"
    return DigestStory(
        id=row.id,
        title=title,
        feed=clean_line(row.feed_title or "") or clean_line(row.feed_url),
        url=clean_line(row.url) if row.url else None,
        published=when,
        local_time=local_time_label(when, now, tz, language),
        lead=extract_lead(row.text_start, title) or extract_lead(row.summary_start, title),
        tags=tuple(clean_line(t) for t in tags),
        read=row.read_at is not None,
        story_id=info.story_id if info else None,
        others=tuple(m for m in info.members if m.article_id != row.id) if info else (),
    )


def parse_since(value: str, *, now: datetime, tz: ZoneInfo, last: datetime | None) -> datetime:
    """``--since``: ``24h``, ``90m``, ``7d``, ``2w``, a date ``2026-11-25`` (local midnight),
    an ISO time, or ``last`` (the previous digest; 24 hours before ``now`` if there was none).
    Raises ValueError with a message fit for the user."""
    text = value.strip().lower()
    if text == "last":
        return last if last is not None else now - timedelta(hours=24)
    match = re.fullmatch(r"(\d+)\s*([mhdw])", text)
    if match:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
        return now - timedelta(**{unit: int(match.group(1))})
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=tz)
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError(
            f"--since {value!r}: use a duration (24h, 7d), a date (2026-11-25) or 'last'"
        )
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
