"""Printing and serializing the results of ``aggregator search``: JSON, and text with the
matched words highlighted in the title and the snippet.

The query itself runs in the store (:mod:`aggregator.store.reading_sql`), the matching rules
are :mod:`aggregator.text.search`'s. Everything from a feed goes through
:mod:`aggregator.text.terminal` and reaches rich only as :class:`rich.text.Text`, as in
:mod:`aggregator.read.render`. Cheap to import: no SQLAlchemy, pydantic or numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from aggregator.read.render import print_trimmed
from aggregator.text.terminal import clean_line, inert_json

if TYPE_CHECKING:
    from aggregator.store.records.reading import SearchHit

__all__ = [
    "hit_body",
    "hit_heading",
    "no_match_line",
    "render_search_json",
    "render_search_text",
    "search_document",
]

# The width of "#1234567 ": the lines under a title start where the title does.
_INDENT = 9


def search_document(hits: Sequence[SearchHit]) -> list[dict[str, Any]]:
    """``search --format json``: one object per hit, best first, feed text made inert."""
    return [
        {
            "id": h.article_id,
            "title": clean_line(h.title),
            "url": clean_line(h.url) if h.url else None,
            "feed": clean_line(h.feed_title) if h.feed_title else None,
            "published": h.published_at.isoformat(),
            "score": h.score,
            "snippet": h.snippet,
            "matched": list(h.matched_terms),
        }
        for h in hits
    ]


def render_search_json(hits: Sequence[SearchHit]) -> str:
    return inert_json(search_document(hits))


def no_match_line(query: str, *, since: str | None = None, tags: Sequence[str] = ()) -> Text:
    """What ``search`` says when nothing matched, naming the filters that narrowed it (a
    user seeing "no articles match" for a word in hundreds of articles looks for why)."""
    filters = [f"--since {clean_line(since)}"] if since else []
    filters += [f"--tag {clean_line(t)}" for t in tags]
    within = f" with {' '.join(filters)}" if filters else ""
    return Text(f"no articles match {clean_line(query)!r}{within}")


def _terms(hit: SearchHit) -> list[str]:
    # A term that is nothing but control characters would highlight everything once empty.
    return [clean_line(t) for t in hit.matched_terms if clean_line(t)]


def hit_heading(hit: SearchHit) -> Text:
    """``#id`` (dim) and the title (bold), the matched words in reverse video."""
    head = Text(f"#{hit.article_id:<7} ", style="dim")
    title = Text(clean_line(hit.title), style="bold")
    title.highlight_words(_terms(hit), style="reverse", case_sensitive=False)
    head.append_text(title)
    return head


def hit_body(hit: SearchHit, tz: ZoneInfo) -> RenderableType:
    """The outlet and time (dim), then the snippet with the matched words in reverse
    video, indented under the title, and a blank line after them."""
    when = hit.published_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    meta = Text(f"{clean_line(hit.feed_title or '', 40)} · {when}", style="dim")
    snippet = Text(clean_line(hit.snippet))
    snippet.highlight_words(_terms(hit), style="reverse", case_sensitive=False)
    # Padding keeps wrapped snippet lines under the title, not at the left margin.
    return Padding(Group(meta, snippet), (0, 0, 1, _INDENT))


def render_search_text(hits: Sequence[SearchHit], console: Console, *, tz: ZoneInfo) -> None:
    """Print the hits as :func:`hit_heading` and :func:`hit_body` make them; the body
    without the padding rich would add to every line (:func:`print_trimmed`)."""
    for hit in hits:
        console.print(hit_heading(hit))
        print_trimmed(console, hit_body(hit, tz))
