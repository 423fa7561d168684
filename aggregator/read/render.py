"""Printing and serializing the digest and one article: text (rich), Markdown and JSON.

Everything that comes from a feed is untrusted: it goes through :mod:`aggregator.text.terminal`
and reaches rich only as :class:`rich.text.Text` (never as a markup string), and the
Markdown output escapes it. Cheap to import, like :mod:`aggregator.read.digest`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from rich.console import Console, RenderableType
from rich.rule import Rule
from rich.text import Text

from aggregator.read.digest import (
    DIGEST_JSON_SCHEMA_VERSION,
    Digest,
    date_heading,
    short_date,
)
from aggregator.text.lead import text_key
from aggregator.text.terminal import clean, clean_line, inert_json

if TYPE_CHECKING:
    from aggregator.models import StoryMember
    from aggregator.store.records.reading import ArticleDetail

__all__ = [
    "digest_document",
    "make_console",
    "print_trimmed",
    "render_article",
    "render_json",
    "render_markdown",
    "render_text",
]


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


def _articles(total: int, language: str) -> str:
    """'3 articles' / '기사 3건'."""
    if language == "ko":
        return f"기사 {total:,}건"
    return f"{total:,} {'article' if total == 1 else 'articles'}"


def _since(since: datetime, language: str) -> str:
    stamp = f"{since:%Y-%m-%d %H:%M} {since.tzname()}"
    return f"{stamp}부터" if language == "ko" else f"since {stamp}"


_NOTHING = {"en": "No new stories in this period.", "ko": "이 기간에 새 기사가 없습니다."}


def _counts_line(digest: Digest) -> Text:
    line = Text()
    line.append(_articles(digest.total, digest.language), style="bold")
    for section in digest.sections:
        line.append("  ·  ", style="dim")
        line.append(section.label)
        line.append(f" {section.count}", style="cyan")
    return line


def _since_line(digest: Digest) -> Text:
    tz = ZoneInfo(digest.timezone)
    since = digest.since.astimezone(tz)
    now = digest.generated_at.astimezone(tz)
    if digest.language == "ko":
        return Text(f"{_since(since, 'ko')}, {now:%H:%M} 기준", style="dim")
    return Text(f"{_since(since, 'en')}, as of {now:%H:%M}", style="dim")


def _time_cell(when: datetime, now: datetime, tz: ZoneInfo, language: str = "en") -> Text:
    """HH:MM, with the day under it when it is not today (and the year when not this one):
    the column stays narrow instead of every row paying for one old story's date."""
    local, today = when.astimezone(tz), now.astimezone(tz).date()
    cell = Text(f"{local:%H:%M}", style="green")
    if local.date() != today:
        cell.append(f"\n{short_date(local.date(), language)}", style="dim")
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
        console.print(Text(_NOTHING.get(digest.language, _NOTHING["en"])))
        return
    tz = ZoneInfo(digest.timezone)
    stories = [story for section in digest.sections for story in section.stories]
    times = {
        s.id: _time_cell(s.published, digest.generated_at, tz, digest.language) for s in stories
    }
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
    summary = _articles(digest.total, digest.language)
    lines.append(f"{summary} {_since(since, digest.language)}" + (f": {counts}" if counts else ""))
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
        lines += ["", _NOTHING.get(digest.language, _NOTHING["en"])]
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
    return inert_json(digest_document(digest)) + "\n"


# -- show -------------------------------------------------------------------------------------


def _paragraphs(text: str) -> list[str]:
    """Paragraphs of stored text: lines (extraction writes one paragraph per line), each
    with its white space collapsed; blank lines dropped."""
    return [p for p in (" ".join(line.split()) for line in clean(text).splitlines()) if p]


def _story_lines(others: Sequence[StoryMember], tz: ZoneInfo, no_title: str) -> Text:
    lines = Text()
    for index, member in enumerate(others):
        when = member.published.astimezone(tz)
        if index:
            lines.append("\n")
        lines.append(clean_line(member.outlet), style="cyan")
        lines.append(" · ", style="dim")
        lines.append(clean_line(member.title) or no_title)
        lines.append(f" · {when:%Y-%m-%d %H:%M} · #{member.article_id}", style="dim")
    return lines


_ARTICLE_WORDS = {
    "en": {
        "no title": "(no title)",
        "tags": "tags",
        "link": "link",
        "id": "id",
        "story": "story",
        "read": "read",
        "unread": "unread",
        "starred": ", starred",
    },
    "ko": {
        "no title": "(제목 없음)",
        "tags": "태그",
        "link": "링크",
        "id": "번호",
        "story": "같은 소식",
        "read": "읽음",
        "unread": "안 읽음",
        "starred": ", 별표",
    },
}


def render_article(
    view: ArticleDetail,
    console: Console,
    *,
    tz: ZoneInfo,
    tag_labels: Mapping[str, str] | None = None,
    story: Sequence[StoryMember] = (),
    language: str = "en",
) -> None:
    """One article for ``aggregator show``: headline, outlet, author, time, tags, link,
    then the full text, its labels and date in ``language`` (display.language).
    ``tag_labels`` in config order (``Config.tags`` order) also orders the tags; ``story``
    (``StoryQueries.story_members``) lists the other articles of its story (outlet,
    headline, time). The caller decides about the pager."""
    labels = tag_labels or {}
    rank = {tag: i for i, tag in enumerate(labels)}
    title = clean_line(view.title)
    words = _ARTICLE_WORDS.get(language, _ARTICLE_WORDS["en"])
    console.print(Text(title or words["no title"], style="bold"))
    when = (view.published_at or view.first_seen_at).astimezone(tz)
    meta = Text()
    meta.append(clean_line(view.feed_title or "") or clean_line(view.feed_url), style="cyan")
    if view.author:
        meta.append(" · ", style="dim")
        meta.append(clean_line(view.author, 120))
    meta.append(" · ", style="dim")
    meta.append(
        f"{date_heading(when.date(), language)} {when:%H:%M} {when.tzname()}", style="green"
    )
    console.print(meta)
    from rich.table import Table

    details = Table.grid(padding=(0, 1))
    details.add_column(style="dim", no_wrap=True)
    details.add_column(overflow="fold")
    if view.tags:
        ordered = sorted(view.tags, key=lambda t: (rank.get(t, len(rank)), t))
        details.add_row(
            Text(words["tags"]),
            Text(", ".join(clean_line(labels.get(t) or t) for t in ordered)),
        )
    if view.url:
        details.add_row(Text(words["link"]), Text(clean_line(view.url), style="underline"))
    state = words["read"] if view.read_at else words["unread"]
    starred = words["starred"] if view.starred else ""
    details.add_row(Text(words["id"]), Text(f"{view.id} ({state}{starred})"))
    others = [m for m in story if m.article_id != view.id]
    if others:
        details.add_row(Text(words["story"]), _story_lines(others, tz, words["no title"]))
    print_trimmed(console, details)
    console.print(Rule(style="dim", characters="─"))
    paragraphs = _paragraphs(view.text) or _paragraphs(view.summary)
    if paragraphs and title and text_key(paragraphs[0]) == text_key(title):
        paragraphs = paragraphs[1:]  # extraction often keeps the headline as line one
    if not paragraphs:
        console.print(Text("(no text stored for this article; open the link)", style="dim"))
        return
    for index, paragraph in enumerate(paragraphs):
        if index:
            console.print()
        print_trimmed(console, Text(paragraph))
