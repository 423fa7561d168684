"""OPML ↔ feed lists: :func:`parse` reads any reader's subscription export, :func:`unparse`
writes ours (OPML 2.0, grouped by tag).

Reading is defensive, because an OPML file comes from elsewhere:

- **Hostile XML is refused, not defused silently.** A document type declaration (the
  vehicle of entity expansion, "billion laughs", and of external entities that read local
  files or the network) has no business in OPML: defusedxml's parser refuses any DTD, entity
  declaration or external reference with a clear error, before anything is expanded.
- **Any encoding.** A BOM or the XML declaration decides (``euc-kr`` read as CP949, as
  everywhere in aggregator), then UTF-8, then detection: the document is decoded here and
  given to the parser as text (expat itself reads no multi-byte encoding but UTF-8/16).
- **Any reader's shape.** OPML 1.0 and 2.0; feeds nested in folders at any depth (Miniflux,
  FreshRSS, Feedly, Inoreader), or flat with a ``category`` attribute (newsboat); ``title``
  or only ``text``; attribute names in any case (``xmlurl``); outlines without ``xmlUrl``
  (folders, links, notes) reported rather than failing the file.

What a folder or category *means* (which configured tag) is decided by the importer
(:mod:`aggregator.export.opml_import`), not here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from xml.etree import ElementTree

from lxml import etree

from aggregator.errors import ExportError
from aggregator.export.sanitize import xml_safe
from aggregator.text.charset import decode_bytes, xml_declared_encoding

__all__ = ["MAX_OPML_BYTES", "OpmlDocument", "OpmlFeed", "OpmlSkip", "parse", "unparse"]

MAX_OPML_BYTES = 20 * 1024 * 1024
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# Outline types that name a feed ("" too: many exporters write none).
_FEED_TYPES = frozenset({"", "rss", "atom", "feed", "json", "jsonfeed"})


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One subscription. ``folders``: the titles of the enclosing outlines, outermost first;
    ``categories``: the values of its ``category`` attribute (each slash path as written)."""

    url: str
    title: str | None = None
    site_url: str | None = None
    folders: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    language: str | None = None


@dataclass(frozen=True, slots=True)
class OpmlSkip:
    """An outline that is not a feed: what it was called, and why it is skipped."""

    what: str
    reason: str


@dataclass(frozen=True, slots=True)
class OpmlDocument:
    title: str | None
    version: str | None
    feeds: tuple[OpmlFeed, ...]
    skipped: tuple[OpmlSkip, ...]


def _decode(data: bytes) -> str:
    text, _codec = decode_bytes(data, [xml_declared_encoding(data)])
    # The text is decoded already: a declaration naming another encoding would mislead.
    return _DECLARATION.sub("", text.lstrip("\ufeff"), count=1)


def _parse_xml(text: str) -> ElementTree.Element:
    import defusedxml.ElementTree as safe_et
    from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

    try:
        root = safe_et.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden:
        raise ExportError(
            "refusing this OPML file: it has a document type declaration (<!DOCTYPE>), which "
            "OPML never needs and which carries entity-expansion and external-entity attacks"
        ) from None
    except EntitiesForbidden:
        raise ExportError(
            "refusing this OPML file: it declares XML entities (entity-expansion attack)"
        ) from None
    except ExternalReferenceForbidden:
        raise ExportError(
            "refusing this OPML file: it references external entities or documents"
        ) from None
    except safe_et.ParseError as exc:
        raise ExportError(f"not a well-formed OPML (XML) document: {exc}") from None
    return root


def _attrs(element: ElementTree.Element) -> dict[str, str]:
    """Attributes by lower-cased local name (``xmlUrl``, ``xmlurl`` and ``XMLURL`` alike);
    namespaced ones (FreshRSS's ``frss:*``) are ignored."""
    return {k.lower(): v for k, v in element.attrib.items() if not k.startswith("{")}


def _clean(value: str | None) -> str:
    return " ".join(xml_safe(value or "").split())


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def parse(data: bytes) -> OpmlDocument:
    """Read an OPML document. Raises ExportError for anything that is not (safe) OPML."""
    if len(data) > MAX_OPML_BYTES:
        raise ExportError(f"OPML file larger than {MAX_OPML_BYTES // 1_048_576} MiB: refused")
    root = _parse_xml(_decode(data))
    if _local(root.tag) != "opml":
        raise ExportError(f"not an OPML document (the root element is <{_local(root.tag)}>)")
    head = next((c for c in root if _local(c.tag) == "head"), None)
    title_el = (
        next((c for c in head if _local(c.tag) == "title"), None) if head is not None else None
    )
    body = next((c for c in root if _local(c.tag) == "body"), None)
    if body is None:
        raise ExportError("not an OPML document (no <body>)")
    feeds: list[OpmlFeed] = []
    skipped: list[OpmlSkip] = []
    # Iterative walk: a hostile file may nest outlines deeper than Python's recursion limit.
    stack: list[tuple[ElementTree.Element, tuple[str, ...]]] = [
        (child, ()) for child in reversed(list(body)) if _local(child.tag) == "outline"
    ]
    while stack:
        element, folders = stack.pop()
        attrs = _attrs(element)
        children = [c for c in element if _local(c.tag) == "outline"]
        name = _clean(attrs.get("title")) or _clean(attrs.get("text"))
        url = (attrs.get("xmlurl") or "").strip()
        kind = attrs.get("type", "").strip()
        if url and kind.lower() not in _FEED_TYPES:
            # FreshRSS's web scrapers (HTML+XPath, JSON+DotNotation) name a page, not a feed.
            skipped.append(OpmlSkip(name or url, f"not a feed (type={kind})"))
        elif url:
            categories = tuple(
                c for c in (_clean(part) for part in attrs.get("category", "").split(",")) if c
            )
            feeds.append(
                OpmlFeed(
                    url=url,
                    title=name if name and name != url else None,
                    site_url=(attrs.get("htmlurl") or "").strip() or None,
                    folders=folders,
                    categories=categories,
                    language=_clean(attrs.get("language")) or None,
                )
            )
        elif not children:
            reason = f"not a feed (type={kind})" if kind.lower() not in _FEED_TYPES else "no xmlUrl"
            skipped.append(OpmlSkip(name or attrs.get("url") or "(untitled outline)", reason))
        # A folder's title (and category, as we write it) applies to what it holds.
        if url:
            inner = folders
        else:
            own = [c for c in (_clean(p) for p in attrs.get("category", "").split(",")) if c]
            inner = (*folders, *([name] if name else []), *own)
        stack.extend((child, inner) for child in reversed(children))
    return OpmlDocument(
        title=_clean(title_el.text) if title_el is not None else None,
        version=_attrs(root).get("version"),
        feeds=tuple(feeds),
        skipped=tuple(skipped),
    )


@dataclass(frozen=True, slots=True)
class _Group:
    tag: str
    label: str


def unparse(
    feeds: Sequence[OpmlFeed],
    *,
    title: str,
    tag_labels: Mapping[str, str],
) -> bytes:
    """OPML 2.0: one folder outline per tag (in ``tag_labels`` order), holding the feeds
    whose ``categories`` name that tag; a feed with several tags is in several folders (as
    Feedly and Inoreader export it); feeds with no tag after the folders. Every feed outline
    carries all its tags in ``category`` ("/politics,/economy"), so readers that know no
    folders (newsboat) keep them too."""
    opml = etree.Element("opml", version="2.0")
    head = etree.SubElement(opml, "head")
    etree.SubElement(head, "title").text = xml_safe(title)
    etree.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = etree.SubElement(opml, "body")

    def feed_outline(parent: etree._Element, feed: OpmlFeed) -> None:
        text = xml_safe(feed.title or feed.url)
        attrs = {"type": "rss", "text": text, "title": text, "xmlUrl": xml_safe(feed.url)}
        if feed.site_url:
            attrs["htmlUrl"] = xml_safe(feed.site_url)
        if feed.categories:
            attrs["category"] = ",".join("/" + xml_safe(c) for c in feed.categories)
        if feed.language:
            attrs["language"] = xml_safe(feed.language)
        etree.SubElement(parent, "outline", attrs)

    groups = [_Group(tag, label) for tag, label in tag_labels.items()]
    for group in groups:
        members = [f for f in feeds if group.tag in f.categories]
        if not members:
            continue
        folder = etree.SubElement(
            body,
            "outline",
            {
                "text": xml_safe(group.label),
                "title": xml_safe(group.label),
                "category": "/" + group.tag,
            },
        )
        for feed in members:
            feed_outline(folder, feed)
    known = set(tag_labels)
    for feed in feeds:
        if not any(c in known for c in feed.categories):
            feed_outline(body, feed)
    return bytes(etree.tostring(opml, xml_declaration=True, encoding="utf-8", pretty_print=True))
