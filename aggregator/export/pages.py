"""The feed server's two HTML pages, pure functions of export items: ``/``, the day's stories
by tag with links to each article's page and to every feed, and ``/articles/ID``, one
article's clean text.

The items are the feeds' own (:func:`aggregator.export.items.build_items`): the same republish
policy (full text, a summary, or the link only), the same sanitized HTML. No script, no style
sheet to fetch, one small inline style for a phone's screen; every feed text is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from aggregator.export.items import ExportItem

__all__ = ["article_html", "index_html"]

_FORMATS = (
    ("atom", "application/atom+xml", "Atom"),
    ("rss", "application/rss+xml", "RSS"),
    ("json", "application/feed+json", "JSON Feed"),
)
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:42em;margin:auto;padding:0 1em;"
    "line-height:1.6}li{margin:.3em 0}time,.outlet{color:#666;font-size:.9em}"
    "img{max-width:100%;height:auto}"
)


def _head(title: str, discovery: str = "") -> str:
    return (
        '<!DOCTYPE html>\n<html lang="ko"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n{discovery}</head><body>\n"
    )


def _time(when: datetime | None, tz: ZoneInfo) -> str:
    if when is None:
        return ""
    local = when.astimezone(tz)
    return f'<time datetime="{local.isoformat()}">{local:%m-%d %H:%M}</time>'


def index_html(
    items: Sequence[ExportItem],
    labels: Mapping[str, str],
    *,
    title: str,
    heading: str,
    tz: ZoneInfo,
    other_label: str = "기타",
) -> str:
    """``/``: the items grouped under their first tag in config order (the rest under
    ``other_label``), then the feeds (with ``<link rel="alternate">`` autodiscovery, so a
    reader given the server's address finds them) and the OPML."""
    feeds = [("/feeds/all", "모든 기사 · all articles")] + [
        (f"/feeds/tag/{escape(tag)}", label) for tag, label in labels.items()
    ]
    discovery = "".join(
        f'<link rel="alternate" type="{mime}" title="{escape(name)} ({kind})" '
        f'href="{path}.{ext}">\n'
        for path, name in feeds
        for ext, mime, kind in _FORMATS
    )
    sections: dict[str | None, list[ExportItem]] = {}
    for item in items:
        tags = [c.term for c in item.categories if c.term in labels]
        sections.setdefault(tags[0] if tags else None, []).append(item)
    body = [f"<h1>{escape(heading)}</h1>\n"]
    if not items:
        body.append("<p>No stories yet.</p>\n")
    for tag in [*labels, None]:
        members = sections.get(tag)
        if not members:
            continue
        name = other_label if tag is None else labels[tag]
        body.append(f"<h2>{escape(name)} <small>{len(members)}</small></h2>\n<ul>\n")
        for item in members:
            outlet = f' <span class="outlet">{escape(item.source.title)}</span>'
            body.append(
                f"<li>{_time(item.published or item.updated, tz)} "
                f'<a href="/articles/{item.article_id}">{escape(item.title)}</a>{outlet}</li>\n'
            )
        body.append("</ul>\n")
    rows = "".join(
        f"<li>{escape(name)}: "
        + " · ".join(f'<a href="{path}.{ext}">{kind}</a>' for ext, _, kind in _FORMATS)
        + "</li>\n"
        for path, name in feeds
    )
    body.append(
        f"<h2>Feeds</h2>\n<ul>\n{rows}</ul>\n"
        '<p><a href="/opml">OPML</a> (every feed, by tag) · <a href="/healthz">/healthz</a></p>\n'
    )
    return _head(title, discovery) + "".join(body) + "</body></html>\n"


def article_html(item: ExportItem, *, site_title: str, tz: ZoneInfo) -> str:
    """``/articles/ID``: the headline, outlet, time and tags, then what the republish policy
    allows (the sanitized full text, else the summary, else nothing) and the original link."""
    parts = [
        _head(f"{item.title} · {site_title}"),
        '<p><a href="/">← 목록 · index</a></p>\n',
        f"<h1>{escape(item.title)}</h1>\n<p>",
        f'<span class="outlet">{escape(item.source.title)}</span> ',
        _time(item.published or item.updated, tz),
    ]
    if item.author:
        parts.append(f" · {escape(item.author)}")
    if item.categories:
        parts.append(" · " + ", ".join(escape(c.label) for c in item.categories))
    parts.append("</p>\n")
    if item.content_html:
        parts.append(f"<article>{item.content_html}</article>\n")
    elif item.summary:
        parts.append(f"<p>{escape(item.summary)}</p>\n")
    if item.url and item.url.startswith(("http://", "https://")):
        parts.append(f'<p><a href="{escape(item.url)}" rel="noreferrer">원문 · original</a></p>\n')
    parts.append("</body></html>\n")
    return "".join(parts)
