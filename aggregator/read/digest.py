"""The morning digest and the article view: pure building and rendering, no I/O of its own.

:func:`build_digest` turns store rows (``ReadingQueries.digest_rows``) into a frozen
:class:`Digest`; :func:`render_text`, :func:`render_markdown` and :func:`render_json` print or
serialize it; :func:`render_article` prints one article for ``aggregator show``.

Everything that comes from a feed is untrusted: it goes through :mod:`aggregator.text.terminal`
and reaches rich only as :class:`rich.text.Text` (never as a markup string), and the
Markdown output escapes it. This module must stay cheap to import: ``aggregator digest``
starts in a few hundred milliseconds, so nothing of extraction, tagging or the database
driver is imported here.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import IO, TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.rule import Rule
from rich.text import Text

from aggregator.text.terminal import clean, clean_line

if TYPE_CHECKING:
    from aggregator.models import StoryInfo, StoryMember
    from aggregator.store.reading_sql import ArticleDetail

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
    "extract_lead",
    "make_console",
    "parse_since",
    "print_trimmed",
    "render_article",
    "render_json",
    "render_markdown",
    "render_text",
]

DIGEST_JSON_SCHEMA_VERSION = 2
# Key under which ``ReadingQueries.set_state`` keeps the time of the last digest (--since last).
LAST_DIGEST_STATE_KEY = "digest.last_at"
# The "Other" section (articles with no configured tag) in ``counts``: parentheses cannot
# occur in a tag name (config.py: ``[a-z0-9][a-z0-9_-]*``), so it never clashes with a tag.
OTHER_COUNT_KEY = "(other)"
OTHER_LABEL = "Other"
LEAD_CELLS = 160

# The ``--format json`` document. Keys are never removed or renamed within a schema version;
# a change that would break a script bumps DIGEST_JSON_SCHEMA_VERSION.
DIGEST_JSON_SCHEMA: dict[str, Any] = {
    "schema_version": "int: DIGEST_JSON_SCHEMA_VERSION (2; 2 added story_id, outlets and "
    "others to each story, and shows a story covered by several outlets once)",
    "generated_at": "str: ISO 8601 UTC time the digest was built, with offset (+00:00)",
    "since": "str: ISO 8601 UTC start of the period covered, with offset",
    "timezone": "str: IANA display time zone, e.g. Asia/Seoul",
    "date_heading": "str: e.g. 'Monday, March 10, 2025' (English, display time zone)",
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
_MONTHS = (
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

    @property
    def counts(self) -> dict[str, int]:
        return {s.tag or OTHER_COUNT_KEY: s.count for s in self.sections}

    @property
    def total(self) -> int:
        return sum(s.count for s in self.sections)


# -- building ---------------------------------------------------------------------------------


def date_heading(day: date) -> str:
    """'Monday, March 10, 2025': spelled out here, since strftime follows the C locale."""
    return f"{_DAYS[day.weekday()]}, {_MONTHS[day.month - 1]} {day.day}, {day.year}"


def local_time_label(when: datetime, now: datetime, tz: ZoneInfo) -> str:
    local, today = when.astimezone(tz), now.astimezone(tz).date()
    if local.date() == today:
        return local.strftime("%H:%M")
    if local.year == today.year:
        return f"{_MONTHS[local.month - 1][:3]} {local.day} {local:%H:%M}"
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
        label = OTHER_LABEL if tag is None else clean_line(tag_labels.get(tag) or tag)
        # Leads only for the stories shown: a busy day has thousands of rows, and sentence
        # splitting all of them would cost more than the query.
        lines = tuple(
            _story(row, when, ordered, now, tz, (stories or {}).get(row.id))
            for when, _, ordered, row in shown
        )
        sections.append(DigestSection(tag, label, total, lines))
    return Digest(
        generated_at=now,
        since=since,
        timezone=tz.key,
        date_heading=date_heading(now.astimezone(tz).date()),
        sections=tuple(sections),
    )


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
) -> DigestStory:
    title = clean_line(row.title) or "(no title)"
    return DigestStory(
        id=row.id,
        title=title,
        feed=clean_line(row.feed_title or "") or clean_line(row.feed_url),
        url=clean_line(row.url) if row.url else None,
        published=when,
        local_time=local_time_label(when, now, tz),
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


# -- leads ------------------------------------------------------------------------------------

# "(서울=연합뉴스) 홍길동 기자 = ", "[세종=뉴시스]김철수 기자 =", "【베이징=뉴스1】 ...": the
# agency dateline and byline that open Korean wire copy. Stripped from the lead.
_KO_DATELINE = re.compile(
    r"^\s*[(\[【<〈]"
    r"(?=[^()\[\]【】<>〈〉]{1,40}[)\]】>〉])"  # bounded, so a long parenthesis is kept
    r"[^()\[\]【】<>〈〉]*?"
    # '=' (서울=연합뉴스) or an outlet-like word ([파이낸셜뉴스], [아시아경제 홍길동 기자]): a
    # parenthesis such as "(주)" that opens a sentence is not a dateline.
    r"(?:=|뉴스|일보|신문|경제|통신|뉴시스|기자|데일리|투데이|방송|타임스|헤럴드|TV|닷컴)"
    r"[^()\[\]【】<>〈〉]*[)\]】>〉]\s*"
)
_KO_BYLINE = re.compile(
    r"^\s*(?:[가-힣]{2,4}(?:[ ,·]+[가-힣]{2,4}){0,3}\s*)"
    r"(?:선임|수석|객원|인턴)?\s*(?:기자|특파원|통신원|논설위원|에디터)\s*"
    r"(?:[\w.+-]+@[\w-]+(?:\.[\w-]+)+\s*)?(?:=|:|\||/|$)\s*"
)
# "SEOUL, March 10 (Yonhap) -- ", "WASHINGTON (AP) — ", "LONDON, March 10 (Reuters) - ".
_EN_DATELINE = re.compile(
    r"^\s*[A-Z][A-Z .'-]{1,40}(?:,\s*[A-Z][a-z]{2,9}\.?\s+\d{1,2})?\s*"
    r"\((?:Yonhap|AP|AFP|Reuters|Bloomberg|UPI|[A-Z][\w .]{1,20})\)\s*(?:--|—|–|-|:)\s*"
)
_EN_BYLINE = re.compile(r"^\s*By\s+[A-Z][\w.'-]*(?:\s+(?:[A-Z][\w.'-]*|and|&)){0,6}\s*$")
_EMAIL_ONLY = re.compile(r"^\s*[\w.+-]+@[\w-]+(?:\.[\w-]+)+\s*$")
# Timestamps, photo captions and similar furniture lines that extraction sometimes keeps.
_FURNITURE = re.compile(
    r"^\s*(?:입력|수정|등록|승인|송고|기사입력|최종수정|업데이트|Published|Updated|Posted)"
    r"\s*[:：]?\s*\d"
    r"|^\s*[▲△▶►■□◆◇●○※☞]"
    r"|^\s*[(\[]?\s*(?:사진|그래픽|자료|Photo|Image)\s*[=:]",
    re.IGNORECASE,
)

# A sentence ends at terminal punctuation (with any closing quotes or brackets) followed by
# white space or the end of the text. '.' after a Hangul syllable always ends one (했다.
# 했어요. 합니다.); after Latin text it must not be an abbreviation or an initial, and the
# next sentence must start like one.
_SENTENCE_END = re.compile(r"[.!?。？！](?:[\"'”’」』)\]])*(?=\s|$)")
_ABBREVIATIONS = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sen",
        "rep",
        "gov",
        "gen",
        "col",
        "lt",
        "sgt",
        "st",
        "jr",
        "sr",
        "vs",
        "etc",
        "inc",
        "corp",
        "co",
        "ltd",
        "no",
        "nos",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.k",
        "u.n",
        "e.u",
        "a.m",
        "p.m",
        "e.g",
        "i.e",
        "approx",
        "est",
        "fig",
        "vol",
        "pp",
        "ph.d",
    }
)


def _normalized(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c.isalnum())


def _is_furniture(line: str, title_key: str) -> bool:
    """An opening line that is not the story: the headline again, or only a dateline,
    byline, e-mail address, timestamp or photo caption."""
    key = _normalized(line)
    if not key:
        return True
    if title_key and key.startswith(title_key) and len(key) < len(title_key) + 12:
        return True  # the headline repeated (sometimes with the outlet's name after it)
    if not _strip_prefixes(line):
        return True
    return bool(_EN_BYLINE.match(line) or _EMAIL_ONLY.match(line) or _FURNITURE.match(line))


def _strip_prefixes(line: str) -> str:
    """Remove an opening dateline and byline: '(서울=연합뉴스) 홍길동 기자 = 정부는' → '정부는'."""
    line = _KO_DATELINE.sub("", line, count=1)
    line = _KO_BYLINE.sub("", line, count=1)
    line = _EN_DATELINE.sub("", line, count=1)
    return line.strip()


def _is_sentence_end(text: str, match: re.Match[str]) -> bool:
    mark = match.start()
    if text[mark] != ".":
        return True
    before = text[:mark]
    if before and "\uac00" <= before[-1] <= "\ud7a3":
        return True  # 다. 요. 니다. 음.
    word = re.search(r"[\w.]*$", before)
    token = word.group(0).casefold() if word else ""
    if token in _ABBREVIATIONS or re.fullmatch(r"[a-z]", token) or re.fullmatch(r"\d+", token):
        return False  # Mr. / U.S. / J. Smith / "No. 1" / "3." of a list
    following = text[match.end() :].lstrip()
    return not following or not following[0].islower()


def _sentences(text: str) -> list[str]:
    out, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        if _is_sentence_end(text, match):
            out.append(text[start : match.end()].strip())
            start = match.end()
    rest = text[start:].strip()
    if rest:
        out.append(rest)
    return [s for s in out if s]


def _shorten(text: str, cells: int) -> str:
    """At most ``cells`` terminal cells, cut at a space (never inside a word), with '…'."""
    if cell_len(text) <= cells:
        return text
    taken, used = [], 0
    for char in text:
        used += cell_len(char)
        if used > cells - 1:
            break
        taken.append(char)
    head = "".join(taken)
    space = head.rfind(" ")
    if space > len(head) // 3:
        head = head[:space]
    # A lone word longer than the cap (a URL, unspaced CJK) has no better place to cut.
    return head.rstrip(" ,;:·-–—(\"'“‘") + "…"


def extract_lead(text: str, title: str = "", *, max_cells: int = LEAD_CELLS) -> str:
    """One or two sentences that open ``text``, for the digest.

    Skips opening lines that repeat the headline or are only a dateline, byline, timestamp
    or caption; strips a dateline/byline prefix ("(서울=연합뉴스) 홍길동 기자 = ");
    ends at a sentence end (Korean 다. 요. 까? 니다. and ASCII . ! ? with closing quotes);
    takes a second sentence when both fit in ``max_cells`` terminal cells; a first sentence
    longer than that is cut at a space and ends with '…'.
    """
    title_key = _normalized(title)
    body: list[str] = []
    for line in clean(text).splitlines():
        line = " ".join(line.split())
        if not body and _is_furniture(line, title_key):
            continue
        if not line:
            if body:
                break  # the first paragraph is enough for two sentences
            continue
        body.append(line if body else _strip_prefixes(line))
        if sum(len(b) for b in body) > 600:
            break
    sentences = _sentences(" ".join(body))
    if not sentences:
        return ""
    lead = sentences[0]
    if len(sentences) > 1 and cell_len(lead) + 1 + cell_len(sentences[1]) <= max_cells:
        lead = f"{lead} {sentences[1]}"
    return _shorten(lead, max_cells)


# -- rendering --------------------------------------------------------------------------------


def make_console(file: IO[str] | None = None, width: int | None = None) -> Console:
    """The console every digest/show output goes to.

    Not a terminal (piped, redirected) or NO_COLOR set: no styles at all, only text; rich's
    own NO_COLOR handling keeps bold/dim, which a pipe or a NO_COLOR user does not want.
    Markup and emoji codes are off, so even a str printed by mistake stays inert.
    """
    probe = Console(file=file, width=width)
    plain = not probe.is_terminal or bool(os.environ.get("NO_COLOR"))
    return Console(
        file=file,
        width=width,
        color_system=None if plain else "auto",
        markup=False,
        emoji=False,
        highlight=False,
        soft_wrap=False,
    )


def _counts_line(digest: Digest) -> Text:
    line = Text()
    total = digest.total
    line.append(f"{total} {'article' if total == 1 else 'articles'}", style="bold")
    for section in digest.sections:
        line.append("  ·  ", style="dim")
        line.append(section.label)
        line.append(f" {section.count}", style="cyan")
    return line


def _since_line(digest: Digest) -> Text:
    tz = ZoneInfo(digest.timezone)
    since = digest.since.astimezone(tz)
    now = digest.generated_at.astimezone(tz)
    return Text(f"since {since:%Y-%m-%d %H:%M} {since.tzname()}, as of {now:%H:%M}", style="dim")


def _time_cell(when: datetime, now: datetime, tz: ZoneInfo) -> Text:
    """HH:MM, with the day under it when it is not today (and the year when not this one):
    the column stays narrow instead of every row paying for one old story's date."""
    local, today = when.astimezone(tz), now.astimezone(tz).date()
    cell = Text(f"{local:%H:%M}", style="green")
    if local.date() != today:
        cell.append(f"\n{_MONTHS[local.month - 1][:3]} {local.day}", style="dim")
        if local.year != today.year:
            cell.append(f"\n{local.year}", style="dim")
    return cell


def print_trimmed(console: Console, renderable: RenderableType) -> None:
    """Print without the spaces rich pads every table line with to the full width: they
    are invisible on a terminal but litter piped output, files and diffs."""
    lines = []
    for line in console.render_lines(renderable, console.options, pad=False):
        parts = [(seg.text, seg.style or "") for seg in line if not seg.control]
        while parts and not parts[-1][0].strip():
            parts.pop()
        if parts:
            parts[-1] = (parts[-1][0].rstrip(), parts[-1][1])
        lines.append(Text.assemble(*parts))
    # The lines already fit: soft_wrap keeps rich from wrapping or cropping them again. One
    # print for all of them: a print per line costs more than the rendering.
    if lines:
        console.print(Text("\n").join(lines), soft_wrap=True)


def _story_rows(
    console: Console, when: Text, body: Text, ident: Text, time_width: int, id_width: int
) -> list[Text]:
    """One story as lines of three columns: the time right-aligned, the body wrapped in
    the width left over (Hangul measured as two cells), the id right-aligned on the first
    line; then a blank line (it separates stories). Laid out by hand, not with a rich
    Table, which cost a fifth of the whole command; no line ends in padding."""
    gap = "  "
    body_width = max(1, console.width - time_width - id_width - 2 * len(gap))
    wrapped = body.wrap(console, body_width, overflow="fold")
    times = when.split("\n")
    rows = []
    for index in range(max(len(wrapped), len(times))):
        row = Text()
        if index < len(times):
            row.append(" " * (time_width - times[index].cell_len))
            row.append_text(times[index])
        else:
            row.append(" " * time_width)
        row.append(gap)
        if index < len(wrapped):
            row.append_text(wrapped[index])
        if index == 0:
            row.append(" " * (body_width - wrapped[0].cell_len if wrapped else body_width))
            row.append(gap + " " * (id_width - ident.cell_len))
            row.append_text(ident)
        row.rstrip()
        rows.append(row)
    rows.append(Text())
    return rows


def render_text(digest: Digest, console: Console) -> None:
    """The digest for a person: heading, counts, then one table per section.

    Every cell is a Text, so rich measures Hangul as two cells and aligns it, and nothing
    from a feed is read as markup.
    """
    console.print(Text(digest.date_heading, style="bold"))
    console.print(_counts_line(digest))
    console.print(_since_line(digest))
    if not digest.sections:
        console.print()
        console.print(Text("No new stories in this period."))
        return
    tz = ZoneInfo(digest.timezone)
    stories = [story for section in digest.sections for story in section.stories]
    times = {s.id: _time_cell(s.published, digest.generated_at, tz) for s in stories}
    time_width = max((t.cell_len for cell in times.values() for t in cell.split()), default=5)
    id_width = max((len(str(s.id)) + 1 for s in stories), default=2)
    for section in digest.sections:
        console.print()
        shown = len(section.stories)
        more = f"{section.count}" if shown == section.count else f"{shown} of {section.count}"
        title = Text.assemble((section.label, "bold magenta"), " ", (f"({more})", "dim"))
        console.print(Rule(title, align="left", style="dim", characters="─"))
        lines: list[Text] = []
        for story in section.stories:
            body = Text(story.title, style="dim bold" if story.read else "bold")
            body.append("\n")
            body.append(story.feed, style="cyan")
            if len(story.outlets) > 1:
                body.append(f" +{len(story.outlets) - 1}: ", style="dim")
                body.append(", ".join(story.outlets[1:]), style="cyan")
            if story.lead:
                body.append(" · ", style="dim")
                body.append(story.lead, style="dim" if story.read else "")
            ident = Text(f"#{story.id}", style="dim")
            lines += _story_rows(console, times[story.id], body, ident, time_width, id_width)
        lines.pop()  # the blank line goes between stories, not after the last
        console.print(Text("\n").join(lines), soft_wrap=True)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-!|~^=])")


def _md(text: str) -> str:
    """Inert Markdown: every character Markdown could read as syntax is escaped."""
    escaped = _MD_SPECIAL.sub(r"\\\1", clean_line(text))
    # "1. " at the start of a line would begin an ordered list.
    return re.sub(r"^(\d+)([.)])", r"\1\\\2", escaped)


def _md_url(url: str | None) -> str | None:
    # Only web links become links (no javascript:, data: or file: from a feed); characters
    # that would end a Markdown link destination early are percent-encoded.
    if not url or not re.match(r"https?://", url, re.IGNORECASE):
        return None
    return re.sub(r"[\s()<>\[\]\\`]", lambda m: f"%{ord(m.group(0)):02X}", clean_line(url))


def render_markdown(digest: Digest) -> str:
    tz = ZoneInfo(digest.timezone)
    since = digest.since.astimezone(tz)
    lines = [f"# {digest.date_heading}", ""]
    counts = " · ".join(f"{_md(s.label)} {s.count}" for s in digest.sections)
    total = digest.total
    summary = f"{total} {'article' if total == 1 else 'articles'}"
    lines.append(
        f"{summary} since {since:%Y-%m-%d %H:%M} {since.tzname()}"
        + (f": {counts}" if counts else "")
    )
    for section in digest.sections:
        lines += ["", f"## {_md(section.label)} ({section.count})", ""]
        for story in section.stories:
            url = _md_url(story.url)
            title = f"[{_md(story.title)}]({url})" if url else _md(story.title)
            # A backslash before the newline is a hard line break (CommonMark), without the
            # trailing spaces that editors and linters strip.
            lines.append(f"- **{title}**\\")
            outlets = ", ".join(_md(o) for o in story.outlets)
            meta = f"  {outlets} · {story.local_time} · `#{story.id}`"
            lines.append(meta + ("\\" if story.lead else ""))
            if story.lead:
                lines.append(f"  {_md(story.lead)}")
    if not digest.sections:
        lines += ["", "No new stories in this period."]
    return "\n".join(lines) + "\n"


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


def digest_document(digest: Digest) -> dict[str, Any]:
    """The ``--format json`` document as a dict (see DIGEST_JSON_SCHEMA)."""
    return {
        "schema_version": DIGEST_JSON_SCHEMA_VERSION,
        "generated_at": _iso(digest.generated_at),
        "since": _iso(digest.since),
        "timezone": digest.timezone,
        "date_heading": digest.date_heading,
        "counts": digest.counts,
        "sections": [
            {
                "tag": section.tag,
                "label": section.label,
                "count": section.count,
                "stories": [
                    {
                        "id": story.id,
                        "title": story.title,
                        "feed": story.feed,
                        "url": story.url,
                        "published": _iso(story.published),
                        "local_time": story.local_time,
                        "lead": story.lead,
                        "tags": list(story.tags),
                        "story_id": story.story_id,
                        "outlets": list(story.outlets),
                        "others": [
                            {
                                "id": other.article_id,
                                "feed": clean_line(other.outlet),
                                "title": clean_line(other.title),
                                "url": clean_line(other.url) if other.url else None,
                                "published": _iso(other.published),
                            }
                            for other in story.others
                        ],
                    }
                    for story in section.stories
                ],
            }
            for section in digest.sections
        ],
    }


def render_json(digest: Digest) -> str:
    return json.dumps(digest_document(digest), ensure_ascii=False, indent=2) + "\n"


# -- show -------------------------------------------------------------------------------------


def _paragraphs(text: str) -> list[str]:
    """Paragraphs of stored text: lines (extraction writes one paragraph per line), each
    with its white space collapsed; blank lines dropped."""
    return [p for p in (" ".join(line.split()) for line in clean(text).splitlines()) if p]


def _story_lines(others: Sequence[StoryMember], tz: ZoneInfo) -> Text:
    lines = Text()
    for index, member in enumerate(others):
        when = member.published.astimezone(tz)
        if index:
            lines.append("\n")
        lines.append(clean_line(member.outlet), style="cyan")
        lines.append(" · ", style="dim")
        lines.append(clean_line(member.title) or "(no title)")
        lines.append(f" · {when:%Y-%m-%d %H:%M} · #{member.article_id}", style="dim")
    return lines


def render_article(
    view: ArticleDetail,
    console: Console,
    *,
    tz: ZoneInfo,
    tag_labels: Mapping[str, str] | None = None,
    story: Sequence[StoryMember] = (),
) -> None:
    """One article for ``aggregator show``: headline, outlet, author, time, tags, link,
    then the full text. ``tag_labels`` in config order (``Config.tags`` order) also orders
    the tags; ``story`` (``StoryQueries.story_members``) lists the other articles of its
    story (outlet, headline, time). The caller decides about the pager."""
    labels = tag_labels or {}
    rank = {tag: i for i, tag in enumerate(labels)}
    title = clean_line(view.title)
    console.print(Text(title or "(no title)", style="bold"))
    when = (view.published_at or view.first_seen_at).astimezone(tz)
    meta = Text()
    meta.append(clean_line(view.feed_title or "") or clean_line(view.feed_url), style="cyan")
    if view.author:
        meta.append(" · ", style="dim")
        meta.append(clean_line(view.author, 120))
    meta.append(" · ", style="dim")
    meta.append(f"{date_heading(when.date())} {when:%H:%M} {when.tzname()}", style="green")
    console.print(meta)
    from rich.table import Table

    details = Table.grid(padding=(0, 1))
    details.add_column(style="dim", no_wrap=True)
    details.add_column(overflow="fold")
    if view.tags:
        ordered = sorted(view.tags, key=lambda t: (rank.get(t, len(rank)), t))
        details.add_row(
            Text("tags"), Text(", ".join(clean_line(labels.get(t) or t) for t in ordered))
        )
    if view.url:
        details.add_row(Text("link"), Text(clean_line(view.url), style="underline"))
    state = "read" if view.read_at else "unread"
    details.add_row(Text("id"), Text(f"{view.id} ({state}{', starred' if view.starred else ''})"))
    others = [m for m in story if m.article_id != view.id]
    if others:
        details.add_row(Text("story"), _story_lines(others, tz))
    print_trimmed(console, details)
    console.print(Rule(style="dim", characters="─"))
    paragraphs = _paragraphs(view.text) or _paragraphs(view.summary)
    if paragraphs and title and _normalized(paragraphs[0]) == _normalized(title):
        paragraphs = paragraphs[1:]  # extraction often keeps the headline as line one
    if not paragraphs:
        console.print(Text("(no text stored for this article; open the link)", style="dim"))
        return
    for index, paragraph in enumerate(paragraphs):
        if index:
            console.print()
        print_trimmed(console, Text(paragraph))
