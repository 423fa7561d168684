"""Export items → Atom 1.0 (RFC 4287), RSS 2.0 (with content:encoded) and JSON Feed 1.1 bytes.

Pure: :class:`FeedMeta` and :class:`~aggregator.export.items.ExportItem` records in, UTF-8
bytes out; the same input always gives the same bytes (no "generated now" anywhere), which
is what lets the server and the export directory reuse a rendering until the data changes.

The XML is built with lxml's element API, never with string templates, so every text and
attribute is escaped by the serializer; HTML goes into ``<content type="html">`` and
``<content:encoded>`` as escaped text. lxml rather than feedgen: feedgen cannot write a full
``atom:source`` or per-entry ``xml:lang``, and re-parses every date it is given, which costs
more than the whole rendering on a thousand entries. JSON Feed is a dict given to
``json.dumps``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from lxml import etree

from aggregator import __version__
from aggregator.export.items import ExportItem, Format

__all__ = ["CONTENT_TYPES", "FeedMeta", "render", "render_atom", "render_json", "render_rss"]

ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
DC_NS = "http://purl.org/dc/elements/1.1/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
GENERATOR_URI = "https://github.com/aggregator-news/aggregator"
TAG_SCHEME = "urn:aggregator:tag"

CONTENT_TYPES: dict[str, str] = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
    "opml": "text/x-opml; charset=utf-8",
}

# A language tag we can put in xml:lang as is (BCP 47 shape); anything else is left out.
_LANGUAGE = re.compile(r"^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*$")


@dataclass(frozen=True, slots=True)
class FeedMeta:
    id: str
    title: str
    description: str
    updated: datetime
    author: str
    self_url: str | None = None
    language: str | None = None


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> Any:
    element = etree.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element


def _language(value: str | None) -> str | None:
    return value if value and _LANGUAGE.match(value) else None


def _xml(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def render_atom(meta: FeedMeta, items: Sequence[ExportItem]) -> bytes:
    a = f"{{{ATOM_NS}}}"
    feed = etree.Element(a + "feed", nsmap={None: ATOM_NS})
    if _language(meta.language):
        feed.set(XML_LANG, meta.language or "")
    _sub(feed, a + "id", meta.id)
    _sub(feed, a + "title", meta.title, type="text")
    _sub(feed, a + "subtitle", meta.description, type="text")
    _sub(feed, a + "updated", _rfc3339(meta.updated))
    # A feed-level author: entries without one of their own inherit it (RFC 4287 4.1.1).
    _sub(_sub(feed, a + "author"), a + "name", meta.author)
    _sub(feed, a + "generator", "aggregator", uri=GENERATOR_URI, version=__version__)
    if meta.self_url:
        _sub(feed, a + "link", rel="self", type="application/atom+xml", href=meta.self_url)
    for item in items:
        entry = _sub(feed, a + "entry")
        if _language(item.language):
            entry.set(XML_LANG, item.language or "")
        _sub(entry, a + "id", item.id)
        _sub(entry, a + "title", item.title, type="text")
        _sub(entry, a + "updated", _rfc3339(item.updated))
        if item.published is not None:
            _sub(entry, a + "published", _rfc3339(item.published))
        if item.author:
            _sub(_sub(entry, a + "author"), a + "name", item.author)
        if item.url:
            _sub(entry, a + "link", rel="alternate", type="text/html", href=item.url)
        for category in item.categories:
            _sub(entry, a + "category", term=category.term, label=category.label, scheme=TAG_SCHEME)
        if item.summary:
            _sub(entry, a + "summary", item.summary, type="text")
        if item.content_html:
            _sub(entry, a + "content", item.content_html, type="html")
        elif not item.url:
            # An entry needs content or an alternate link (RFC 4287 4.1.2).
            _sub(entry, a + "content", item.summary or item.title, type="text")
        if item.source.url:
            source = _sub(entry, a + "source")
            _sub(source, a + "id", item.source.url)
            _sub(source, a + "title", item.source.title, type="text")
            _sub(source, a + "link", rel="self", href=item.source.url)
            if item.source.site_url:
                _sub(
                    source, a + "link", rel="alternate", type="text/html", href=item.source.site_url
                )
    return _xml(feed)


def render_rss(meta: FeedMeta, items: Sequence[ExportItem]) -> bytes:
    rss = etree.Element(
        "rss", {"version": "2.0"}, nsmap={"content": CONTENT_NS, "dc": DC_NS, "atom": ATOM_NS}
    )
    channel = _sub(rss, "channel")
    _sub(channel, "title", meta.title)
    # RSS wants the channel's web page; the feed itself is the page a reader can open.
    _sub(channel, "link", meta.self_url or meta.id)
    _sub(channel, "description", meta.description)
    if _language(meta.language):
        _sub(channel, "language", meta.language)
    _sub(channel, "lastBuildDate", format_datetime(meta.updated.astimezone(UTC), usegmt=True))
    _sub(channel, "generator", f"aggregator {__version__}")
    if meta.self_url:
        _sub(
            channel,
            f"{{{ATOM_NS}}}link",
            rel="self",
            type="application/rss+xml",
            href=meta.self_url,
        )
    for item in items:
        element = _sub(channel, "item")
        _sub(element, "title", item.title)
        if item.url:
            _sub(element, "link", item.url)
        _sub(element, "guid", item.id, isPermaLink="false")
        when = item.published or item.updated
        _sub(element, "pubDate", format_datetime(when.astimezone(UTC), usegmt=True))
        if item.author:
            # RSS's <author> must be an e-mail address; a name goes in dc:creator.
            _sub(element, f"{{{DC_NS}}}creator", item.author)
        for category in item.categories:
            _sub(element, "category", category.term, domain=TAG_SCHEME)
        if item.summary:
            _sub(element, "description", item.summary)
        if item.content_html:
            _sub(element, f"{{{CONTENT_NS}}}encoded", item.content_html)
        if item.source.url:
            _sub(element, "source", item.source.title, url=item.source.url)
    return _xml(rss)


def render_json(meta: FeedMeta, items: Sequence[ExportItem]) -> bytes:
    feed: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": meta.title,
        "description": meta.description,
        "authors": [{"name": meta.author}],
    }
    if meta.self_url:
        feed["feed_url"] = meta.self_url
    if _language(meta.language):
        feed["language"] = meta.language
    out_items: list[dict[str, Any]] = []
    for item in items:
        entry: dict[str, Any] = {"id": item.id, "title": item.title}
        if item.url:
            entry["url"] = item.url
        if item.content_html:
            entry["content_html"] = item.content_html
        else:
            # One of content_html / content_text must be present (JSON Feed 1.1).
            entry["content_text"] = item.summary
        if item.summary:
            entry["summary"] = item.summary
        if item.published is not None:
            entry["date_published"] = _rfc3339(item.published)
        entry["date_modified"] = _rfc3339(item.updated)
        if item.author:
            entry["authors"] = [{"name": item.author}]
        if item.categories:
            entry["tags"] = [c.term for c in item.categories]
        if _language(item.language):
            entry["language"] = item.language
        if item.source.url:
            source = {"title": item.source.title, "feed_url": item.source.url}
            if item.source.site_url:
                source["home_page_url"] = item.source.site_url
            entry["_source"] = source
        out_items.append(entry)
    feed["items"] = out_items
    return json.dumps(feed, ensure_ascii=False, indent=1).encode("utf-8")


def render(fmt: Format, meta: FeedMeta, items: Sequence[ExportItem]) -> bytes:
    if fmt == "atom":
        return render_atom(meta, items)
    if fmt == "rss":
        return render_rss(meta, items)
    return render_json(meta, items)
