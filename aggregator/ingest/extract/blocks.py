"""The article as a list of blocks (paragraphs, subheads, list items, quotes of linked text
runs), and the conversions into and out of it: from an lxml tree, an HTML fragment or plain
text; to clean plain text and to the small, safe HTML subset that exports carry.

Text and HTML are built from the same blocks, so ``ExtractedArticle.html`` holds exactly the
cleaned text: only ``p``, ``h2``-``h4``, ``ul/li``, ``blockquote``, ``br`` and ``a href``
(absolute http(s)/mailto links), no attributes, scripts, styles or handlers.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

__all__ = [
    "LOOKS_HTML",
    "WHITESPACE",
    "Block",
    "BlockKind",
    "Line",
    "Segment",
    "block_from_text",
    "html_to_blocks",
    "line_text",
    "markup_to_blocks",
    "normalize_line",
    "render_html",
    "render_text",
    "text_to_blocks",
    "tree_to_blocks",
]

BlockKind = Literal["p", "h", "li", "quote"]

# --------------------------------------------------------------------------- blocks


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of inline text, optionally a link (``href`` already absolute)."""

    text: str
    href: str | None = None


Line = tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class Block:
    """One paragraph-like unit of the article; ``lines`` are split at ``<br>``."""

    kind: BlockKind
    lines: tuple[Line, ...]

    @property
    def text(self) -> str:
        return "\n".join(line_text(line) for line in self.lines)

    @property
    def line_texts(self) -> list[str]:
        return [line_text(line) for line in self.lines]


def line_text(line: Line) -> str:
    return "".join(seg.text for seg in line).strip()


def block_from_text(text: str, kind: BlockKind = "p") -> Block:
    return Block(kind, tuple((Segment(t),) for t in text.split("\n") if t.strip()))


def render_text(blocks: Sequence[Block]) -> str:
    """Plain text: blocks separated by blank lines, ``<br>`` as a newline."""
    return "\n\n".join(b.text for b in blocks if b.text)


def _render_line(line: Line) -> str:
    parts: list[str] = []
    for seg in line:
        text = html_lib.escape(seg.text, quote=False)
        if seg.href:
            parts.append(f'<a href="{html_lib.escape(seg.href, quote=True)}">{text}</a>')
        else:
            parts.append(text)
    return "".join(parts).strip()


def render_html(blocks: Sequence[Block]) -> str:
    """Sanitized HTML of the same blocks: structural tags and plain links only."""
    out: list[str] = []
    in_list = False
    for block in blocks:
        if block.kind == "li" and not in_list:
            out.append("<ul>")
            in_list = True
        elif block.kind != "li" and in_list:
            out.append("</ul>")
            in_list = False
        inner = "<br>".join(_render_line(line) for line in block.lines)
        tag = {"p": "p", "h": "h3", "li": "li", "quote": "blockquote"}[block.kind]
        out.append(f"<{tag}>{inner}</{tag}>")
    if in_list:
        out.append("</ul>")
    return "\n".join(out)


# ------------------------------------------------------------------ tree -> blocks

# Trafilatura's output tree uses its own tag names (head, item, quote, lb, ref); pages and
# payload fragments use HTML. One walker serves both.
_BLOCK_KINDS: dict[str, BlockKind] = {
    "p": "p",
    "div": "p",
    "section": "p",
    "article": "p",
    "main": "p",
    "dd": "p",
    "dt": "p",
    "pre": "p",
    "row": "p",
    "tr": "p",
    "table": "p",
    "list": "p",
    "ul": "p",
    "ol": "p",
    "h1": "h",
    "h2": "h",
    "h3": "h",
    "h4": "h",
    "h5": "h",
    "h6": "h",
    "head": "h",
    "li": "li",
    "item": "li",
    "blockquote": "quote",
    "quote": "quote",
}
_SKIP_TAGS = frozenset(
    {
        "script",
        "style",
        "noscript",
        "iframe",
        "figure",
        "figcaption",
        "img",
        "graphic",
        "picture",
        "video",
        "audio",
        "svg",
        "button",
        "form",
        "input",
        "select",
        "textarea",
        "nav",
        "aside",
        "template",
        "object",
        "embed",
    }
)
_CELL_TAGS = frozenset({"td", "th", "cell"})
# Wrappers of photos, captions, ads and widgets inside CMS article HTML (payload fragments).
_SKIP_CLASS = re.compile(
    r"caption|photo|img|image|thumb|figure|video|\bad\b|ads|advert|banner|related|share|sns"
    r"|tool|promo|subscribe",
    re.IGNORECASE,
)
WHITESPACE = re.compile(r"\s+")
# Placeholders CMSs leave in stored article HTML ("$$ARTICLEAD$$", "<!--AD-->" handled by lxml).
_PLACEHOLDER = re.compile(r"\$\$[A-Za-z0-9_]+\$\$")


def _absolute_href(href: str | None, base_url: str) -> str | None:
    if not href:
        return None
    absolute = urljoin(base_url, href.strip())
    scheme = urlsplit(absolute).scheme.lower()
    return absolute if scheme in ("http", "https", "mailto") else None


class _BlockBuilder:
    """Accumulates inline segments into lines and lines into blocks."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.blocks: list[Block] = []
        self.lines: list[list[Segment]] = [[]]
        self.kind: BlockKind = "p"

    def add(self, text: str | None, href: str | None = None) -> None:
        if text:
            self.lines[-1].append(Segment(WHITESPACE.sub(" ", text), href))

    def newline(self) -> None:
        self.lines.append([])

    def flush(self) -> None:
        lines = tuple(t for t in (normalize_line(line) for line in self.lines) if t)
        if lines:
            self.blocks.append(Block(self.kind, lines))
        self.lines = [[]]


def normalize_line(segments: list[Segment]) -> Line:
    """Collapse whitespace across segment borders and trim the line's ends."""
    merged: list[Segment] = []
    for seg in segments:
        if merged and merged[-1].href == seg.href:
            merged[-1] = Segment(merged[-1].text + seg.text, seg.href)
        else:
            merged.append(seg)
    out: list[Segment] = []
    for i, seg in enumerate(merged):
        text = WHITESPACE.sub(" ", seg.text)
        if out and out[-1].text.endswith(" ") and text.startswith(" "):
            text = text[1:]
        if i == 0:
            text = text.lstrip()
        if text:
            out.append(Segment(text, seg.href))
    while out and not out[-1].text.rstrip():
        out.pop()
    if out:
        out[-1] = Segment(out[-1].text.rstrip(), out[-1].href)
    return tuple(out) if "".join(s.text for s in out).strip() else ()


def _tag_name(element: Any) -> str:
    tag = element.tag
    if not isinstance(tag, str):  # comments, processing instructions
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def _walk(element: Any, builder: _BlockBuilder, href: str | None, skip_classes: bool) -> None:
    tag = _tag_name(element)
    if tag in _SKIP_TAGS or (
        skip_classes and _SKIP_CLASS.search(element.get("class", "") or "") is not None
    ):
        return
    kind = _BLOCK_KINDS.get(tag)
    if tag in ("a", "ref"):
        href = _absolute_href(element.get("href") or element.get("target"), builder.base_url)
    if kind is not None:
        builder.flush()
        builder.kind = kind
    if tag in ("br", "lb"):
        builder.newline()
    elif tag:
        builder.add(element.text, href)
        for child in element:
            _walk(child, builder, href, skip_classes)
            # a block child ends where its tail begins: the tail is a paragraph of its own
            builder.add(child.tail, href)
        if tag in _CELL_TAGS:
            builder.add(" ")
    if kind is not None:
        builder.flush()
        builder.kind = "p"


def tree_to_blocks(root: Any, base_url: str, *, skip_classes: bool = False) -> list[Block]:
    """Blocks of an lxml tree (trafilatura output or an HTML fragment)."""
    builder = _BlockBuilder(base_url)
    _walk(root, builder, None, skip_classes)
    builder.flush()
    return builder.blocks


LOOKS_HTML = re.compile(r"<(?:p|br|div|h[1-6]|span|strong|b|em|a|ul|li|blockquote)\b", re.I)


def html_to_blocks(fragment: str, base_url: str) -> list[Block]:
    """Blocks of an HTML fragment from a payload, JSON-LD or feed (photos/ads dropped)."""
    from lxml import etree
    from lxml import html as lxml_html

    fragment = _PLACEHOLDER.sub("", fragment)
    if not fragment.strip():
        return []
    try:
        root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return text_to_blocks(fragment)
    return tree_to_blocks(root, base_url, skip_classes=True)


def text_to_blocks(text: str) -> list[Block]:
    """Blocks of plain text: one paragraph per non-empty line."""
    text = html_lib.unescape(_PLACEHOLDER.sub("", text)).replace("\r\n", "\n")
    return [
        Block("p", ((Segment(para),),))
        for line in text.split("\n")
        if (para := WHITESPACE.sub(" ", line).strip())
    ]


# Markup that survived one round of decoding: the feed escaped its HTML twice.
_ESCAPED_MARKUP = re.compile(
    r"<(?:p|br|img|table|tr|td|div|a|span|strong|b|em|font)\b[^<>]*/?>", re.IGNORECASE
)


def markup_to_blocks(value: str, base_url: str) -> list[Block]:
    """HTML or text, whichever ``value`` is.

    Some Korean feeds escape their descriptions twice (``&amp;lt;table&amp;gt;``), so the
    markup arrives as text; it is decoded one more level rather than shown as tags.
    """
    blocks = html_to_blocks(value, base_url) if LOOKS_HTML.search(value) else text_to_blocks(value)
    text = render_text(blocks)
    if _ESCAPED_MARKUP.search(text):
        return html_to_blocks(text, base_url)
    return blocks
