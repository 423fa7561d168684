"""Field helpers that both feed parsers use (:mod:`.xmlfeed` and :mod:`.jsonfeed`): plain
text out of feed HTML, sanitized HTML, author names, canonical links and entry keys. Pure.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from html.parser import HTMLParser

from aggregator.models import FieldLimits, ParsedFeed
from aggregator.text.charset import replace_surrogates
from aggregator.text.urls import absolute_url, canonicalize_url, is_http_url

__all__ = [
    "canonical_link",
    "clean_author",
    "clean_html",
    "clean_text",
    "entry_key",
    "limit_fields",
    "lower_keys",
    "unique_strings",
]


def lower_keys(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {name.lower(): value for name, value in (headers or {}).items()}


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "p", "div", "li"):
            self.parts.append(" ")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean_text(value: str | None, is_html: bool = False) -> str:
    """Plain text: tags dropped (when ``is_html``), entities decoded, whitespace collapsed.

    Entities are decoded even in plain text because feeds often escape twice
    (``&amp;quot;``), and a title is shown, never parsed again.
    """
    if not value:
        return ""
    if is_html:
        collector = _TextCollector()
        collector.feed(value)
        collector.close()
        value = "".join(collector.parts)
    value = html.unescape(value)
    return " ".join(_CONTROL.sub(" ", value).split())


_COMMENT = re.compile(r"<!--.*?-->", re.S)


def clean_html(value: str | None) -> str:
    """Already-sanitized HTML, trimmed, without comments (Chosun stuffs view counters in)."""
    if not value:
        return ""
    return _COMMENT.sub("", value).strip()


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]|<\s*>")


def clean_author(raw: str | None, name: str | None = None) -> str | None:
    """A display name from RSS's free-form author: e-mail addresses and empty brackets
    removed, ``email (Name)`` unwrapped; the address itself when nothing else is there.

    feedparser's own split is not used as is: it cuts "이창환 기자( ch21@x.com )" to
    "이창환 기자(".
    """
    text = clean_text(raw or name or "")
    if not text:
        return None
    without = _EMPTY_BRACKETS.sub("", _EMAIL.sub("", text))
    without = " ".join(without.split()).strip(" ,;:-")
    if without.startswith("(") and without.endswith(")"):
        without = without[1:-1].strip()
    if not without:
        email = _EMAIL.search(text)
        return email.group(0) if email else None
    return without


def unique_strings(values: Iterable[str | None]) -> tuple[str, ...]:
    """Stripped, whitespace-collapsed, non-empty, first occurrence kept."""
    seen: dict[str, None] = {}
    for value in values:
        text = " ".join((value or "").split())
        if text and text not in seen:
            seen[text] = None
    return tuple(seen)


def canonical_link(base: str | None, link: str | None) -> str | None:
    """``link`` resolved against ``base`` and canonicalized; None unless http(s)."""
    absolute = absolute_url(base, link)
    if absolute is None:
        return None
    canonical = canonicalize_url(absolute)
    return canonical if is_http_url(canonical) else None


def entry_key(guid: str | None, link: str | None, title: str, date: datetime | None) -> str:
    """The guid, else the canonical link, else a hash of title and date."""
    if guid:
        return guid
    if link:
        return link
    stamp = date.isoformat() if date else ""
    return "sha256:" + hashlib.sha256(f"{title}|{stamp}".encode()).hexdigest()


def _cut(value: str, limit: int) -> str:
    # Python strings are code points: a cut Hangul syllable is still a syllable.
    return value[:limit]


def _scrub_opt(value: str | None) -> str | None:
    return replace_surrogates(value) if value else value


def limit_fields(feed: ParsedFeed, limits: FieldLimits) -> ParsedFeed:
    """``feed`` with lone surrogates replaced (:func:`replace_surrogates`) and every entry's
    title, author, categories, summary and content cut to ``limits``, with one warning per
    field that was cut (how many entries, the longest value), so that the log says what a
    hostile feed sent. Entries with nothing to change are kept as they are."""
    cut: dict[str, list[int]] = {}

    def keep(field: str, value: str, limit: int) -> str:
        value = replace_surrogates(value)
        if len(value) <= limit:
            return value
        cut.setdefault(field, []).append(len(value))
        return _cut(value, limit)

    entries = []
    for entry in feed.entries:
        categories = entry.categories
        if len(categories) > limits.categories:
            cut.setdefault("categories", []).append(len(categories))
            categories = categories[: limits.categories]
        changed = replace(
            entry,
            key=replace_surrogates(entry.key),
            guid=_scrub_opt(entry.guid),
            link=_scrub_opt(entry.link),
            image=_scrub_opt(entry.image),
            title=keep("title", entry.title, limits.title),
            author=keep("author", entry.author, limits.author) if entry.author else entry.author,
            categories=tuple(keep("category", c, limits.category) for c in categories),
            summary=keep("summary", entry.summary, limits.summary),
            content=keep("content", entry.content, limits.content),
        )
        entries.append(entry if changed == entry else changed)
    notes = [
        f"{field} cut to {getattr(limits, field)} "
        f"{'values' if field == 'categories' else 'characters'} in {len(sizes)} "
        f"{'entry' if len(sizes) == 1 else 'entries'} (longest {max(sizes):,})"
        for field, sizes in cut.items()
    ]
    return replace(
        feed,
        title=replace_surrogates(feed.title),
        link=_scrub_opt(feed.link),
        description=replace_surrogates(feed.description),
        entries=tuple(entries),
        warnings=(*feed.warnings, *notes),
    )
