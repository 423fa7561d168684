"""Read JSON Feed 1.0 and 1.1 documents (https://jsonfeed.org/version/1.1) into a ParsedFeed.

Why our own code: feedparser 6.0.14 reads no JSON Feed, and PyPI has no JSON Feed reader worth
depending on: ``jsonfeed`` (0.0.1, 2017) and ``pyjsonfeed`` (1.0.0, 2018) are abandoned,
``jsonfeed-util`` is a small one-author package, and none is among the 15,000 most downloaded
packages. The format is a plain JSON object, so the mapping below is all there is to it.

What it reads: feed ``title``, ``home_page_url``, ``description``, ``language``; item ``id``,
``url``, ``external_url``, ``title``, ``content_html``/``content_text``, ``summary``,
``date_published``, ``date_modified``, ``authors`` (1.1) or ``author`` (1.0), ``tags``,
``image``/``banner_image`` and image attachments. HTML is sanitized with feedparser's
sanitizer, as for RSS and Atom, and relative URLs in it resolved against the item's URL.

What it does not do: validate the document beyond what is needed to read it (a missing or
unknown ``version`` is a warning, not an error), or read hubs, pagination (``next_url``) and
extensions (keys starting with ``_``).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

from feedparser import sanitizer as _feedparser_sanitizer
from feedparser.urls import resolve_relative_uris

from aggregator.errors import ParseError
from aggregator.ingest.parse.fields import (
    canonical_link,
    clean_author,
    clean_html,
    clean_text,
    entry_key,
    unique_strings,
)
from aggregator.models import ParsedEntry, ParsedFeed
from aggregator.text.charset import charset_from_content_type, decode_bytes
from aggregator.text.dates import parse_date
from aggregator.text.urls import absolute_url, first_http_url

__all__ = ["JSON_FEED_VERSIONS", "parse_json_feed", "sanitize_html"]

JSON_FEED_VERSIONS = ("https://jsonfeed.org/version/1", "https://jsonfeed.org/version/1.1")


def parse_json_feed(body: bytes, url: str, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Parse a JSON Feed. Raises ParseError for invalid JSON or JSON that is not a feed."""
    document, encoding = _load(body, url, headers or {})
    if not isinstance(document, dict):
        raise ParseError(url, "not a feed: JSON, but not an object")
    items = document.get("items")
    if not isinstance(items, list):
        raise ParseError(url, "not a feed: JSON without an items list (not a JSON Feed)")
    warnings: list[str] = []
    version = document.get("version")
    if version not in JSON_FEED_VERSIONS:
        warnings.append(f"JSON Feed: unknown version {version!r}, read as 1.1")
    home = _str(document.get("home_page_url"))
    base = absolute_url(url, home) or url
    entries: list[ParsedEntry] = []
    seen: set[tuple[str, str | None]] = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            warnings.append(f"JSON Feed: item {index} is not an object, skipped")
            continue
        entry = _to_entry(item, base, document)
        # Same rule as for XML feeds: word-for-word repeats go, shared ids stay.
        if (entry.key, entry.link) in seen:
            warnings.append(f"repeated entry dropped: {entry.key}")
            continue
        seen.add((entry.key, entry.link))
        entries.append(entry)
    return ParsedFeed(
        title=clean_text(_str(document.get("title"))),
        link=canonical_link(url, home),
        entries=tuple(entries),
        kind="json",
        description=_text_to_html(_str(document.get("description"))),
        language=_str(document.get("language")).strip() or None,
        encoding=encoding,
        ttl_minutes=None,
        warnings=tuple(warnings),
    )


def sanitize_html(fragment: str, base: str) -> str:
    """``fragment`` with relative URLs resolved and unsafe markup removed, the way feedparser
    treats RSS and Atom content (its sanitizer has no public name; feedparser is pinned <7)."""
    if not fragment.strip():
        return ""
    try:
        resolved = resolve_relative_uris(fragment, base, "utf-8", "text/html")
        return clean_html(_feedparser_sanitizer._sanitize_html(resolved, "utf-8", "text/html"))
    except Exception:  # the sanitizer shares the parser's crash bugs: show the text instead
        return html.escape(fragment)


def _load(body: bytes, url: str, headers: Mapping[str, str]) -> tuple[Any, str]:
    # RFC 8259 says UTF-8, and json.loads also detects UTF-16/32; anything else is a
    # server's mistake that a declared charset (or detection) may still undo.
    try:
        return json.loads(body), "utf-8"
    except UnicodeDecodeError:
        pass
    except ValueError as exc:
        raise ParseError(url, "not a feed: invalid JSON") from exc
    text, codec = decode_bytes(body, [charset_from_content_type(headers.get("content-type"))])
    try:
        return json.loads(text), codec
    except ValueError as exc:
        raise ParseError(url, "not a feed: invalid JSON") from exc


def _to_entry(item: Mapping[str, Any], base: str, feed: Mapping[str, Any]) -> ParsedEntry:
    raw_id = item.get("id")
    # 1.0 feeds in the wild use numbers as ids; the spec says strings.
    guid = str(raw_id).strip() if isinstance(raw_id, (str, int)) and str(raw_id).strip() else None
    link = canonical_link(base, _str(item.get("url"))) or canonical_link(
        base, _str(item.get("external_url"))
    )
    item_base = link or base
    title = clean_text(_str(item.get("title")))
    published = parse_date(_str(item.get("date_published")))
    updated = parse_date(_str(item.get("date_modified")))
    content_html = _str(item.get("content_html"))
    content = (
        sanitize_html(content_html, item_base)
        if content_html.strip()
        else _text_to_html(_str(item.get("content_text")))
    )
    return ParsedEntry(
        key=entry_key(guid, link, title, published or updated),
        guid=guid,
        link=link,
        title=title,
        summary=_text_to_html(_str(item.get("summary"))),
        content=content,
        author=_author(item) or _author(feed),
        published=published or updated,
        updated=updated,
        categories=unique_strings(tag for tag in _list(item.get("tags")) if isinstance(tag, str)),
        image=_image(item, item_base),
    )


def _author(holder: Mapping[str, Any]) -> str | None:
    people = [p for p in _list(holder.get("authors")) if isinstance(p, dict)]
    legacy = holder.get("author")
    if not people and isinstance(legacy, dict):
        people = [legacy]
    names = unique_strings(clean_author(_str(person.get("name"))) for person in people)
    return ", ".join(names) or None


def _image(item: Mapping[str, Any], base: str) -> str | None:
    candidates = [_str(item.get("image")), _str(item.get("banner_image"))]
    candidates.extend(
        _str(attachment.get("url"))
        for attachment in _list(item.get("attachments"))
        if isinstance(attachment, dict)
        and _str(attachment.get("mime_type")).lower().startswith("image/")
    )
    return first_http_url(base, candidates)


def _text_to_html(text: str) -> str:
    """Plain text as HTML: escaped, paragraphs on blank lines, line breaks kept."""
    paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "\n".join("<p>" + html.escape(p).replace("\n", "<br />") + "</p>" for p in paragraphs)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
