"""A huge RSS/Atom document cut into documents of a few hundred items each, so that feedparser
never holds all of them at once.

feedparser builds its whole result in memory, about 2.4 KB per entry: a feed of 50,000
entries made a poll peak at 276 MiB, over the 200 MB a poll may take whatever a feed holds.
Here lxml reads the document once as a stream (``iterparse``), serialises each item and drops
it from the tree as soon as it is read; what is left is the skeleton (root, channel, title,
links...). Each window is the skeleton with a slice of the items put back, a complete feed
document that feedparser parses as it would the whole. Written here because no library cuts
a feed; lxml and feedparser do the XML.

Only for documents that are well-formed XML without a DTD (entities declared in a DTD would
not survive the cut): anything else, and any document with few items, returns None and is
parsed whole, as before.
"""

from __future__ import annotations

from io import BytesIO

from lxml import etree

__all__ = ["WINDOWED_ABOVE", "WINDOW_ITEMS", "windows"]

# Items per window, and the rough count of items above which a document is cut at all.
WINDOW_ITEMS = 500
WINDOWED_ABOVE = 2000

_ITEMS = frozenset({"item", "entry"})
_MARK = "aggregator-items-here"


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""  # comments, processing instructions
    return tag.rsplit("}", 1)[-1]


def _rough_item_count(data: bytes) -> int:
    return (
        data.count(b"<item") + data.count(b"<entry") + data.count(b":item") + data.count(b":entry")
    )


def windows(data: bytes, size: int = WINDOW_ITEMS) -> list[bytes] | None:
    """``data`` as UTF-8 feed documents of at most ``size`` items each, in document order,
    or None when it should be parsed whole (few items, a DTD, not well-formed XML)."""
    if _rough_item_count(data) <= WINDOWED_ABOVE or b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        return None
    try:
        items, skeleton, container = _stream(data)
    except (etree.LxmlError, ValueError):
        return None
    if container is None or len(items) <= size:
        return None
    container.append(etree.Comment(_MARK))
    whole = etree.tostring(skeleton, encoding="utf-8", xml_declaration=True)
    head, _, tail = whole.partition(f"<!--{_MARK}-->".encode())
    return [head + b"".join(items[i : i + size]) + tail for i in range(0, len(items), size)]


def _stream(data: bytes) -> tuple[list[bytes], etree._Element, etree._Element | None]:
    """Every item serialised, and the tree without them: its root and the element that held
    the items (the channel of RSS 2.0, the root of Atom and RSS 1.0)."""
    parser = etree.iterparse(
        BytesIO(data),
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        remove_blank_text=False,
    )
    items: list[bytes] = []
    root: etree._Element | None = None
    container: etree._Element | None = None
    depth = 0
    for event, element in parser:
        if event == "start":
            if root is None:
                root = element
            depth += 1
            continue
        depth -= 1
        # Items are children of the root (Atom, RSS 1.0) or of the channel (RSS 2.0), never
        # deeper: an <entry> inside an item's content is content.
        parent = element.getparent()
        if _local(element.tag) in _ITEMS and parent is not None and depth <= 2:
            items.append(etree.tostring(element, encoding="utf-8", with_tail=False))
            if container is None:
                container = parent
            parent.remove(element)
    if root is None:
        raise ValueError("empty document")
    return items, root, container
