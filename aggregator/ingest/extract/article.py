"""Full text of an article page: bytes in, :class:`ExtractedArticle` out.

What it does, in order:

1. Decodes the page with :mod:`aggregator.text.charset` (EUC-KR labels read as CP949, undeclared
   Korean pages detected) and hands trafilatura a ``str``, so trafilatura never guesses the
   encoding itself.
2. Runs trafilatura for the body and the metadata, in its default mode: ``fast`` saves only
   about 15% (25 ms against 29 ms a page on the corpus, trafilatura being most of the time)
   but skips the backup extractors, and lost a Dong-A page to boilerplate (F1 0.39 against
   0.95).
3. Collects the fallbacks: JSON-LD ``articleBody``; the article HTML embedded in script
   payloads (Next.js ``__NEXT_DATA__``, React Server Components flight chunks pushed with
   ``self.__next_f.push``, and JSON handed to ``window[...]``/``.push(...)`` by hydration
   code); last, the feed's own content. The first source that is not "too little" wins.
4. Cleans the chosen text with a Korean-aware pass: headline and section label repeated at
   the top, "입력 2025.05.15" datelines, "많이 본 뉴스"/"관련 기사"/"Most Viewed" lists,
   duplicated bylines, "무단전재 및 재배포 금지" footers, share/copy/subscribe widgets.

Why own code for steps 3 and 4: trafilatura reads the DOM only, and Korean outlets that
render on the client (Hankook Ilbo) leave the DOM without a body; no extraction library
knows the boilerplate phrases of Korean newsrooms.

Text and HTML are built from the same list of blocks, so ``ExtractedArticle.html`` holds
exactly the cleaned text: only ``p``, ``h2``-``h4``, ``ul/li``, ``blockquote``, ``br`` and
``a href`` (absolute http(s)/mailto links), no attributes, scripts, styles or handlers.

What it does not do: fetch anything, follow "next page" links, extract comments, images
inside the body, or tables as tables (rows become paragraphs). It keeps no state between
calls, so it is safe to run in worker processes.
"""

from __future__ import annotations

import html as html_lib
import json
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

from aggregator.errors import ExtractError
from aggregator.models import ExtractedArticle, TextSource
from aggregator.text.charset import charset_from_content_type, decode_bytes, html_meta_charset

__all__ = [
    "KST",
    "MIN_TEXT_CHARS",
    "Block",
    "clean_blocks",
    "extract_article",
    "html_to_blocks",
    "jsonld_article_body",
    "parse_date",
    "render_html",
    "render_text",
    "script_payload_body",
    "text_from_feed_content",
    "text_to_blocks",
]

LOGGER = logging.getLogger(__name__)

# Below this many characters a step "yields too little" and the next one is tried. Two or
# three Korean sentences; short enough for brief wire items, long enough to reject an error
# page or a lone caption.
MIN_TEXT_CHARS = 200
# A later step replaces an earlier one that passed the minimum only when it gives this many
# times more text and contains most of the earlier text (the same article, less truncated).
DOMINANCE_RATIO = 2.0
DOMINANCE_OVERLAP = 0.6
# Two sources "give the same text" when each holds this share of the other's tokens.
SAME_TEXT_OVERLAP = 0.9

KST = timezone(timedelta(hours=9), "KST")

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
_WS = re.compile(r"\s+")
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
            self.lines[-1].append(Segment(_WS.sub(" ", text), href))

    def newline(self) -> None:
        self.lines.append([])

    def flush(self) -> None:
        lines = tuple(t for t in (_normalize_line(line) for line in self.lines) if t)
        if lines:
            self.blocks.append(Block(self.kind, lines))
        self.lines = [[]]


def _normalize_line(segments: list[Segment]) -> Line:
    """Collapse whitespace across segment borders and trim the line's ends."""
    merged: list[Segment] = []
    for seg in segments:
        if merged and merged[-1].href == seg.href:
            merged[-1] = Segment(merged[-1].text + seg.text, seg.href)
        else:
            merged.append(seg)
    out: list[Segment] = []
    for i, seg in enumerate(merged):
        text = _WS.sub(" ", seg.text)
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


_LOOKS_HTML = re.compile(r"<(?:p|br|div|h[1-6]|span|strong|b|em|a|ul|li|blockquote)\b", re.I)


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
        if (para := _WS.sub(" ", line).strip())
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
    blocks = html_to_blocks(value, base_url) if _LOOKS_HTML.search(value) else text_to_blocks(value)
    text = render_text(blocks)
    if _ESCAPED_MARKUP.search(text):
        return html_to_blocks(text, base_url)
    return blocks


# ------------------------------------------------------------------------ cleanup
#
# Pure functions over the block list. Every rule is phrased for Korean newsrooms in general
# (Yonhap, Chosun, Hankyoreh, JoongAng ... share these conventions), never for one site.

_NORM_DROP = re.compile(r"[\W_]+", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?。！？…]\s*[\"'”’」』)\]]*$|다\s*$|요\s*$")

_UI_LINE = re.compile(
    r"^(?:"
    r"(?:기사\s*)?(?:URL|주소|링크)(?:이|가|를)?\s*복사(?:되었습니다|됐습니다|했습니다|하기)?"
    r"|댓글\s*\d*|공유(?:하기)?|스크랩|프린트|인쇄(?:하기)?|글(?:자|씨)\s*크기(?:\s*조절)?"
    r"|좋아요\s*\d*|(?:신문\s*)?구독(?:하기|신청)?|기사\s*(?:저장|보관|듣기)|북마크|닫기"
    r"|본문\s*듣기|음성으로\s*듣기|(?:이\s*)?기사를?\s*공유(?:합니다)?|SNS\s*공유|맨\s*위로"
    r"|이전\s*기사|다음\s*기사|목록(?:으로)?|광고|AD|Advertisement|Share(?:\s+this(?:\s+\w+)?)?"
    r"|(?:この)?(?:ニュース|記事)?を?シェア(?:する)?|分享"
    r")[.!]?$",
    re.IGNORECASE,
)
_LIST_HEADING = re.compile(
    r"(?:가장\s*)?많이\s*(?:본|읽은)|인기\s*(?:기사|뉴스)|실시간\s*(?:인기|주요)|관련\s*(?:기사|뉴스)"
    r"|추천\s*(?:기사|뉴스)|주요\s*(?:기사|뉴스)|헤드라인\s*뉴스|최신\s*(?:기사|뉴스)|이\s*시각"
    r"|핫\s*(?:클릭|이슈)|함께\s*본|다른\s*기사|포토\s*뉴스"
    r"|most\s+(?:viewed|read|popular|shared)|related\s+(?:news|stories|articles|content|topics)"
    r"|top\s+stories|headline\s+news|more\s+(?:stories|news|from)|you\s+may\s+also\s+like"
    r"|recommended|trending|read\s+more",
    re.IGNORECASE,
)
_COPYRIGHT = re.compile(
    r"무단\s*(?:전재|복제|배포|게재)|재배포\s*(?:및\s*)?(?:AI\s*학습[^.]{0,12})?금지"
    r"|all\s+rights\s+reserved",
    re.IGNORECASE,
)
_COPYRIGHT_START = re.compile(
    r"[<\[(（【\-–—]?\s*(?:저작권자|copyrights?\b|ⓒ|©|\(c\))", re.IGNORECASE
)
_BYLINE = re.compile(
    r"^[\[(<]?\s*([가-힣]{2,4})(?:\s*[·,]\s*[가-힣]{2,4})*\s*"
    r"(?:선임|수석|객원|인턴|전문|편집)?\s*(?:기자|특파원|논설위원|칼럼니스트|평론가|통신원|PD|앵커)"
    r"(?:\s|$|[=\])>]|[\w.+-]+@)"
)
_BYLINE_EN = re.compile(r"^(?i:by)\s+[A-Z][\w.'-]+(?:\s+[A-Z][\w.'-]+){0,3}$")
_DATE_TOKEN = re.compile(
    r"\d{4}\s*[.\-/년]\s*\d{1,2}\s*[.\-/월]\s*\d{1,2}\s*일?\.?"
    r"|\d{1,2}:\d{2}(?::\d{2})?|오전|오후|\b(?:AM|PM|KST|GMT|UTC)\b"
)
_DATE_LABEL = re.compile(
    r"기사\s*입력|최종\s*수정|입력|수정|승인|등록|발행|업데이트|송고|게재|일시"
    r"|published|updated|posted|last\s+updated|date",
    re.IGNORECASE,
)
_SECTION_WORDS = frozenset(
    """정치 경제 사회 국제 세계 문화 연예 스포츠 오피니언 사설 칼럼 IT 과학 IT과학 생활 라이프
    라이프스타일 산업 금융 증권 부동산 전국 지역 북한 통일 외교 국방 교육 건강 의학 여행 레저
    날씨 사람들 인물 피플 종합 단독 속보 포토 영상 뉴스 주요뉴스 기획 연재 인터뷰 해설 분석
    국회 정당 청와대 대통령실 법원 검찰 사건사고 노동 환경 복지 미디어 방송 영화 음악 공연
    전시 책 학술 종교 골프 야구 축구 농구 배구 재테크 자동차 테크 home news politics economy
    business world society culture sports opinion entertainment tech science""".lower().split()
)
_BREADCRUMB_SPLIT = re.compile(r"\s*(?:>|›|»|\||·|/|ㅣ)\s*")
_TITLE_SPLIT = re.compile(r"\s+(?:[|\-–—:l]|::|ㅣ|<)\s+|ㅣ|\s*\|\s*|　")


def _norm(text: str) -> str:
    return _NORM_DROP.sub("", unicodedata.normalize("NFKC", text)).lower()


def title_variants(titles: Iterable[str | None]) -> list[str]:
    """Normalized title candidates, with the site-name part of "Headline - Site" removed."""
    out: list[str] = []
    for title in titles:
        if not title:
            continue
        title = html_lib.unescape(title)
        parts = [title, *sorted(_TITLE_SPLIT.split(title), key=len, reverse=True)[:1]]
        # "Headline-정치ㅣ한국일보": the section glued with a bare hyphen
        parts.append(re.split(r"-(?=[^-]{1,12}$)", parts[-1])[0])
        for part in parts:
            norm = _norm(part)
            if len(norm) >= 6 and norm not in out:
                out.append(norm)
    return out


def is_title_repeat(text: str, titles: Sequence[str]) -> bool:
    """The block repeats the headline (maybe with a prefix such as "동영상:" or a bullet)."""
    norm = _norm(text)
    if not norm or len(text) > 300:
        return False
    for title in titles:
        if norm == title:
            return True
        short, long_ = sorted((norm, title), key=len)
        if short in long_ and len(short) >= 0.7 * len(long_):
            return True
    return False


def is_dateline(text: str) -> bool:
    """Dates and labels only: "기사입력 :[ 2018-08-25 15:24 ]", "입력 2025.05.15 16:33"."""
    if len(text) > 120 or not _DATE_TOKEN.search(text):
        return False
    rest = _DATE_LABEL.sub("", _DATE_TOKEN.sub("", text))
    return not _norm(rest)


def is_ui_line(text: str) -> bool:
    return len(text) <= 40 and _UI_LINE.match(text.strip()) is not None


def is_list_heading(text: str) -> bool:
    """Heading of a "most read" / "related articles" box."""
    return len(text) <= 40 and _LIST_HEADING.search(text) is not None


def is_section_label(text: str, categories: Sequence[str] = ()) -> bool:
    """A category label or breadcrumb such as "정치", "경제 > 부동산", "Entermedia 주요뉴스"."""
    if not text or len(text) > 30 or _SENTENCE_END.search(text):
        return False
    known = _SECTION_WORDS | {_norm(c) for c in categories}
    parts = [p for p in _BREADCRUMB_SPLIT.split(text) if p]
    # a part is a known word, or "<site name> <known words>" such as "Entermedia 주요뉴스"
    return bool(parts) and all(
        _norm(p) in known or all(_norm(w) in known for w in p.split()[1:] or [" "]) for p in parts
    )


def is_copyright_line(text: str) -> bool:
    if len(text) > 200:
        return False
    stripped = text.strip()
    return _COPYRIGHT.search(stripped) is not None or (
        _COPYRIGHT_START.match(stripped) is not None and len(stripped) <= 80
    )


def byline_key(text: str) -> str | None:
    """Identity of a byline line ("홍길동 기자 hong@x.co.kr" -> "홍길동"), else None."""
    stripped = text.strip()
    if len(stripped) > 80:
        return None
    match = _BYLINE.match(stripped)
    if match:
        return match.group(1)
    if _BYLINE_EN.match(stripped):
        return _norm(stripped[3:])
    return None


def _truncate_line(line: Line, keep_chars: int) -> Line:
    out: list[Segment] = []
    left = keep_chars
    for seg in line:
        if left <= 0:
            break
        out.append(Segment(seg.text[:left], seg.href))
        left -= len(seg.text)
    return _normalize_line(out)


def cut_copyright_clause(line: Line) -> Line:
    """Drop a trailing "<저작권자(c) 연합뉴스, 무단 전재-재배포 금지>" clause from a line."""
    text = "".join(seg.text for seg in line)
    for match in _COPYRIGHT_START.finditer(text):
        tail = text[match.start() :]
        if _COPYRIGHT.search(tail) and len(tail) <= 200:
            return _truncate_line(line, match.start())
    return line


def _map_lines(blocks: Iterable[Block], fn: Callable[[Line], Line | None]) -> list[Block]:
    out: list[Block] = []
    for block in blocks:
        lines = tuple(new for line in block.lines if (new := fn(line)))
        if lines:
            out.append(replace(block, lines=lines))
    return out


def drop_ui_lines(blocks: Sequence[Block]) -> list[Block]:
    """Share/copy/subscribe widget labels, datelines: lines that are no article text."""
    return _map_lines(
        blocks, lambda ln: None if is_ui_line(t := line_text(ln)) or is_dateline(t) else ln
    )


def strip_header(
    blocks: Sequence[Block], titles: Sequence[str], categories: Sequence[str] = ()
) -> list[Block]:
    """Remove the headline repeated at the top and the labels/breadcrumbs above it."""
    window = min(len(blocks), 6)
    for i in range(window):
        if is_title_repeat(blocks[i].text, titles):
            before = blocks[:i]
            if all(len(b.text) <= 80 for b in before):
                return _strip_labels(list(blocks[i + 1 :]), categories)
            return _strip_labels([*before, *blocks[i + 1 :]], categories)
    return _strip_labels(list(blocks), categories)


def _strip_labels(blocks: list[Block], categories: Sequence[str]) -> list[Block]:
    while blocks and is_section_label(blocks[0].text, categories):
        blocks = blocks[1:]
    return blocks


def _is_link_only(block: Block) -> bool:
    segments = [seg for line in block.lines for seg in line if seg.text.strip()]
    return bool(segments) and all(seg.href for seg in segments)


def _is_list_entry(block: Block) -> bool:
    return block.kind == "li" or (_is_link_only(block) and len(block.text) <= 120)


def drop_link_lists(blocks: Sequence[Block]) -> list[Block]:
    """Drop "많이 본 뉴스" / "관련 기사" / "Most Viewed" boxes: the heading and its entries."""
    out: list[Block] = []
    skipping = False
    for block in blocks:
        if is_list_heading(block.text) and not _SENTENCE_END.search(block.text):
            skipping = True
            continue
        if skipping and (
            _is_list_entry(block)
            or (len(block.text) <= 60 and not _SENTENCE_END.search(block.text))
        ):
            continue
        skipping = False
        out.append(block)
    return out


def drop_trailing_links(blocks: Sequence[Block]) -> list[Block]:
    """Short link-only blocks after the text ("신문 구독신청", "More from ...")."""
    out = list(blocks)
    while out and _is_link_only(out[-1]) and len(out[-1].text) <= 40:
        out.pop()
    return out


def strip_copyright(blocks: Sequence[Block]) -> list[Block]:
    """Copyright footers, whole lines or trailing clauses, in the last blocks only."""
    if not blocks:
        return []
    start = max(0, len(blocks) - 6)
    head = list(blocks[:start])
    tail = _map_lines(
        blocks[start:],
        lambda ln: None if is_copyright_line(line_text(ln)) else cut_copyright_clause(ln) or None,
    )
    return head + tail


def dedupe_bylines(blocks: Sequence[Block]) -> list[Block]:
    """Keep only the last byline line of each reporter (Korean bylines close the article)."""
    last: dict[str, tuple[int, int]] = {}
    for bi, block in enumerate(blocks):
        for li, text in enumerate(block.line_texts):
            key = byline_key(text)
            if key:
                last[key] = (bi, li)
    if not last:
        return list(blocks)
    out: list[Block] = []
    for bi, block in enumerate(blocks):
        lines = tuple(
            line
            for li, line in enumerate(block.lines)
            if (key := byline_key(line_text(line))) is None or last[key] == (bi, li)
        )
        if lines:
            out.append(replace(block, lines=lines))
    return out


def dedupe_consecutive(blocks: Sequence[Block]) -> list[Block]:
    out: list[Block] = []
    for block in blocks:
        if out and _norm(out[-1].text) == _norm(block.text):
            continue
        out.append(block)
    return out


def clean_blocks(
    blocks: Sequence[Block], titles: Sequence[str] = (), categories: Sequence[str] = ()
) -> list[Block]:
    """The whole cleanup pass. ``titles`` are :func:`title_variants` of the headline."""
    result = drop_ui_lines(blocks)
    result = strip_header(result, titles, categories)
    result = drop_link_lists(result)
    result = strip_copyright(result)
    result = drop_trailing_links(result)
    result = strip_copyright(result)
    result = dedupe_bylines(result)
    return dedupe_consecutive(result)


# ------------------------------------------------------------------ page metadata

_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_META = re.compile(r"<meta\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""([a-zA-Z_:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_HTML_LANG = re.compile(r"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3})", re.IGNORECASE)
_TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_HANGUL = re.compile(r"[가-힣]")


def _attrs(tag: str) -> dict[str, str]:
    return {
        m.group(1).lower(): html_lib.unescape(m.group(2) or m.group(3) or m.group(4) or "")
        for m in _ATTR.finditer(tag)
    }


def meta_tags(page: str) -> dict[str, str]:
    """``<meta property|name=... content=...>`` of the page head, first occurrence wins."""
    head = page[: page.lower().find("</head>") if "</head>" in page.lower() else 200_000]
    out: dict[str, str] = {}
    for match in _META.finditer(head):
        attrs = _attrs(match.group(0))
        key = (attrs.get("property") or attrs.get("name") or attrs.get("itemprop") or "").lower()
        if key and "content" in attrs and key not in out:
            out[key] = attrs["content"].strip()
    return out


def page_language(page: str, meta: dict[str, str]) -> str | None:
    """Declared language: ``<html lang>``, else ``og:locale``."""
    match = _HTML_LANG.search(page[:5000])
    lang = match.group(1) if match else meta.get("og:locale", "")[:2] or None
    return lang.lower() if lang else None


def text_language(text: str) -> str | None:
    """Korean when Hangul dominates the letters; other languages are not guessed."""
    sample = text[:2000]
    letters = sum(ch.isalpha() for ch in sample)
    return "ko" if letters and len(_HANGUL.findall(sample)) > 0.3 * letters else None


_DOTTED_DATE = re.compile(r"^(\d{4})[./](\d{1,2})[./](\d{1,2})\.?")


def parse_date(value: str | None, *, korean: bool) -> datetime | None:
    """ISO-ish date/time to aware UTC; a value without zone is KST on Korean pages, else UTC."""
    if not value:
        return None
    text = value.strip()
    text = _DOTTED_DATE.sub(lambda m: f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}", text)
    text = re.sub(r"\s*KST$", "+09:00", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=KST if korean else UTC)
    return parsed.astimezone(UTC)


# ------------------------------------------------------------------------ JSON-LD

_ARTICLE_TYPE = re.compile(r"(?:Article|BlogPosting|Report)$")


def _json_loads(text: str) -> Any:
    try:
        return json.loads(text, strict=False)
    except (ValueError, RecursionError):
        return None


def _jsonld_objects(page: str) -> Iterator[dict[str, Any]]:
    for match in _SCRIPT.finditer(page):
        if "ld+json" not in match.group(1).lower():
            continue
        data = _json_loads(match.group(2).strip().removeprefix("<!--").removesuffix("-->"))
        yield from _dicts(data)


def _dicts(data: Any) -> Iterator[dict[str, Any]]:
    """Every dict of a JSON-LD document: top level, lists and ``@graph``."""
    if isinstance(data, list):
        for item in data:
            yield from _dicts(item)
    elif isinstance(data, dict):
        yield data
        for key in ("@graph", "mainEntity", "mainEntityOfPage", "hasPart", "itemListElement"):
            if key in data:
                yield from _dicts(data[key])


def _is_article(obj: dict[str, Any]) -> bool:
    types = obj.get("@type", [])
    types = types if isinstance(types, list) else [types]
    return any(isinstance(t, str) and _ARTICLE_TYPE.search(t) for t in types)


def jsonld_article(page: str) -> dict[str, Any] | None:
    """The JSON-LD Article object with the longest ``articleBody`` (or the first Article)."""
    articles = [obj for obj in _jsonld_objects(page) if _is_article(obj)]
    if not articles:
        return None
    return max(
        articles,
        key=lambda o: (
            len(o.get("articleBody") or "") if isinstance(o.get("articleBody"), str) else 0
        ),
    )


def jsonld_article_body(page: str, base_url: str) -> list[Block]:
    """Blocks of the JSON-LD ``articleBody`` (text or HTML), empty when there is none."""
    return _jsonld_blocks(jsonld_article(page), base_url)


def _jsonld_blocks(article: dict[str, Any] | None, base_url: str) -> list[Block]:
    body = article.get("articleBody") if article else None
    return markup_to_blocks(body, base_url) if isinstance(body, str) else []


def _jsonld_author(article: dict[str, Any] | None) -> str | None:
    if not article:
        return None
    authors = article.get("author")
    items = authors if isinstance(authors, list) else [authors]
    names = [a.get("name") if isinstance(a, dict) else a for a in items if a]
    clean = [n.strip() for n in names if isinstance(n, str) and n.strip()]
    return "; ".join(clean) or None


# ------------------------------------------------------------------ script payloads

_NEXT_DATA = re.compile(r"\bid\s*=\s*[\"']__NEXT_DATA__[\"']", re.IGNORECASE)
_NEXT_F = re.compile(
    r"self\.__next_f\.push\(\s*\[\s*1\s*,\s*(\"(?:[^\"\\]|\\.)*\")\s*\]\s*\)", re.S
)
_FLIGHT_ROW = re.compile(rb"([0-9a-fA-F]*):(?:T([0-9a-fA-F]+),)?")
_FLIGHT_REF = re.compile(r"^\$([0-9a-fA-F]+)$")
_JSON_HANDOFF = re.compile(r"(?:=|\.push\(|\()\s*(?=[{\[])")
_BODY_KEY = re.compile(r"content|body|article|html|text|story|detail", re.IGNORECASE)
_SUBTITLE_KEY = re.compile(r"^(?:sub_?title|sub_?head(?:line)?|deck|standfirst)$", re.IGNORECASE)
_PROSE_MIN = 200


@dataclass(frozen=True, slots=True)
class _Payload:
    value: str
    key: str
    parent: dict[str, Any] | None


def _flight_stream(page: str) -> bytes:
    chunks: list[str] = []
    for match in _NEXT_F.finditer(page):
        chunk = _json_loads(match.group(1))
        if isinstance(chunk, str):
            chunks.append(chunk)
    return "".join(chunks).encode("utf-8", "surrogatepass")


def flight_rows(stream: bytes) -> tuple[dict[str, str], list[Any]]:
    """React flight rows: text rows (``id:T<hexlen>,<bytes>``) by id, and parsed JSON rows."""
    texts: dict[str, str] = {}
    values: list[Any] = []
    pos, end = 0, len(stream)
    while pos < end:
        match = _FLIGHT_ROW.match(stream, pos)
        if match is None or not match.group(0):
            newline = stream.find(b"\n", pos)
            pos = end if newline < 0 else newline + 1
            continue
        if match.group(2):
            length = int(match.group(2), 16)
            texts[match.group(1).decode()] = stream[match.end() : match.end() + length].decode(
                "utf-8", "replace"
            )
            pos = match.end() + length
            continue
        newline = stream.find(b"\n", match.end())
        row_end = end if newline < 0 else newline
        row = stream[match.end() : row_end]
        if row[:1] in (b"[", b"{", b'"'):
            values.append(_json_loads(row.decode("utf-8", "replace")))
        pos = row_end + 1
    return texts, values


def _strings(
    data: Any, refs: dict[str, str], key: str = "", parent: dict[str, Any] | None = None
) -> Iterator[_Payload]:
    """Long string values of a JSON tree with their key and parent object."""
    stack: list[tuple[Any, str, dict[str, Any] | None]] = [(data, key, parent)]
    while stack:
        node, node_key, node_parent = stack.pop()
        if isinstance(node, str):
            ref = _FLIGHT_REF.match(node)
            if ref and ref.group(1) in refs:
                node = refs[ref.group(1)]
            if len(node) >= _PROSE_MIN:
                yield _Payload(node, node_key, node_parent)
        elif isinstance(node, dict):
            stack.extend((v, str(k), node) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, node_key, node_parent) for v in node)


def _handoff_json(script: str) -> Iterator[Any]:
    """JSON objects a script hands to hydration code: ``x = {...}``, ``.push({...})``."""
    decoder = json.JSONDecoder(strict=False)
    for match in _JSON_HANDOFF.finditer(script):
        try:
            value, _ = decoder.raw_decode(script, match.end())
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict | list):
            yield value


def script_payloads(page: str) -> Iterator[_Payload]:
    """Candidate article strings from the page's inline scripts (not JSON-LD)."""
    stream = _flight_stream(page)
    refs: dict[str, str] = {}
    if stream:
        refs, values = flight_rows(stream)
        for text in refs.values():
            yield _Payload(text, "", None)
        for value in values:
            yield from _strings(value, refs)
    for match in _SCRIPT.finditer(page):
        attrs, script = match.group(1), match.group(2)
        if "ld+json" in attrs.lower() or len(script) < _PROSE_MIN or "__next_f" in script:
            continue
        if _NEXT_DATA.search(attrs):
            yield from _strings(_json_loads(script), refs)
            continue
        for value in _handoff_json(script):
            yield from _strings(value, refs)


def _prose_chars(blocks: Sequence[Block]) -> int:
    """Characters in paragraphs that read like sentences (not menus, ids or code)."""
    total = 0
    for block in blocks:
        text = block.text
        if len(text) >= 40 and " " in text and "{" not in text and "function" not in text:
            total += len(text)
    return total


def _payload_blocks(payload: _Payload, base_url: str) -> list[Block]:
    value = payload.value
    # plain strings only count when they read like text: spaces and sentence ends
    if not _LOOKS_HTML.search(value) and (
        value.count(" ") < len(value) / 15 or not _SENTENCE_END.search(value.rstrip()[-3:])
    ):
        return []
    blocks = markup_to_blocks(value, base_url)
    if "<html" in value[:500].lower():
        return []  # a whole serialized page is no article body
    return blocks


def _subtitle_blocks(parent: dict[str, Any] | None, base_url: str) -> list[Block]:
    if not parent:
        return []
    out: list[Block] = []
    for key, value in parent.items():
        if _SUBTITLE_KEY.match(str(key)) and isinstance(value, str) and len(value) < 600:
            out.extend(Block("p", b.lines) for b in markup_to_blocks(value, base_url))
    return out


def script_payload_body(page: str, base_url: str) -> list[Block]:
    """The article body hidden in script payloads: the string with the most prose.

    Ties go to a string under a body-like key inside an object, whose subtitle (a sibling
    ``subTitle``/``deck`` key) is put in front, as the rendered page would show it.
    """
    best: tuple[int, int] = (0, 0)
    best_blocks: list[Block] = []
    for payload in script_payloads(page):
        blocks = _payload_blocks(payload, base_url)
        score = (
            _prose_chars(blocks),
            int(payload.parent is not None) + int(bool(_BODY_KEY.search(payload.key))),
        )
        if score[0] >= _PROSE_MIN and score > best:
            best = score
            best_blocks = _subtitle_blocks(payload.parent, base_url) + blocks
    return best_blocks


# ------------------------------------------------------------------------ pipeline


@dataclass(frozen=True, slots=True)
class _Candidate:
    source: TextSource
    blocks: list[Block]

    @property
    def chars(self) -> int:
        return sum(len(b.text) for b in self.blocks)


def _token_set(blocks: Sequence[Block]) -> set[str]:
    return {_norm(t) for b in blocks for t in b.text.split() if _norm(t)}


def _overlap(part: _Candidate, whole: _Candidate) -> float:
    mine = _token_set(part.blocks)
    return len(mine & _token_set(whole.blocks)) / len(mine) if mine else 0.0


def _supersedes(later: _Candidate, earlier: _Candidate) -> bool:
    """``later`` should replace ``earlier`` although ``earlier`` has enough text.

    Either it is the same article with far more of it, or ``earlier`` is no prose at all
    (a menu or footer dump), or it is the same text with its paragraphs intact: trafilatura
    rescues an empty DOM with the JSON-LD body flattened into one paragraph.
    """
    if later.chars >= DOMINANCE_RATIO * earlier.chars:
        if _prose_chars(earlier.blocks) < MIN_TEXT_CHARS:
            return True
        if _overlap(earlier, later) >= DOMINANCE_OVERLAP:
            return True
    return (
        len(earlier.blocks) == 1 < len(later.blocks)
        and _overlap(earlier, later) >= SAME_TEXT_OVERLAP
        and _overlap(later, earlier) >= SAME_TEXT_OVERLAP
    )


def choose(candidates: Sequence[_Candidate]) -> _Candidate | None:
    """First candidate with enough text that no later one supersedes."""
    for i, cand in enumerate(candidates):
        if cand.chars < MIN_TEXT_CHARS:
            continue
        if not any(_supersedes(later, cand) for later in candidates[i + 1 :]):
            return cand
    return None


def _run_trafilatura(page: str, url: str) -> Any:
    import trafilatura

    try:
        return trafilatura.bare_extraction(
            page,
            url=url or None,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            include_images=False,
            include_links=True,
            include_formatting=False,
        )
    except Exception:  # trafilatura raises assorted errors on odd markup: use the fallbacks
        LOGGER.debug("trafilatura failed on %s", url, exc_info=True)
        return None


def _run_metadata(page: str, url: str) -> Any:
    """Metadata alone, for pages where trafilatura found no body (and so returned nothing)."""
    import trafilatura

    try:
        return trafilatura.extract_metadata(page, default_url=url or None)
    except Exception:  # same reasoning as above: metadata is optional
        LOGGER.debug("trafilatura metadata failed on %s", url, exc_info=True)
        return None


def _decode(body: bytes, content_type: str, url: str) -> str:
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime and not (mime.startswith("text/") or "html" in mime or "xml" in mime):
        raise ExtractError(url, f"not an HTML page: {mime}")
    text, _codec = decode_bytes(
        body, [charset_from_content_type(content_type), html_meta_charset(body)]
    )
    if "\x00" in text[:2048]:
        raise ExtractError(url, "binary content, not an HTML page")
    return text


def _page_title(page: str) -> str | None:
    match = _TITLE_TAG.search(page[:200_000])
    return _WS.sub(" ", html_lib.unescape(match.group(1))).strip() if match else None


def _str_or_none(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def split_categories(values: Iterable[str]) -> tuple[str, ...]:
    """Categories and tags, split at commas (keyword metas), deduplicated, order kept."""
    out: dict[str, str] = {}
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if part and part.lower() not in out:
                out[part.lower()] = part
    return tuple(out.values())


@dataclass(frozen=True, slots=True)
class _PageMeta:
    title: str | None
    author: str | None
    raw_dates: tuple[str | None, ...]
    image: str | None
    language: str | None
    categories: tuple[str, ...]
    titles: list[str]


def _page_meta(page: str, doc: Any, ld: dict[str, Any] | None, feed_title: str | None) -> _PageMeta:
    meta = meta_tags(page)
    ld_title = _str_or_none(ld.get("headline")) if ld else None
    title = _str_or_none(getattr(doc, "title", None))
    page_title = _page_title(page)
    categories = split_categories(
        [*(getattr(doc, "categories", None) or []), *(getattr(doc, "tags", None) or [])]
    )
    # JSON-LD and Open Graph carry the time of day and zone; trafilatura's date is a day
    raw_dates = (
        _str_or_none(ld.get("datePublished")) if ld else None,
        meta.get("article:published_time"),
        _str_or_none(getattr(doc, "date", None)),
    )
    return _PageMeta(
        title=title or ld_title or feed_title or meta.get("og:title") or page_title,
        author=_str_or_none(getattr(doc, "author", None)) or _jsonld_author(ld),
        raw_dates=raw_dates,
        image=_str_or_none(getattr(doc, "image", None)) or meta.get("og:image"),
        language=_str_or_none(getattr(doc, "language", None)) or page_language(page, meta),
        categories=categories,
        titles=title_variants(
            [
                feed_title,
                title,
                ld_title,
                meta.get("og:title"),
                meta.get("twitter:title"),
                page_title,
            ]
        ),
    )


def text_from_feed_content(
    content: str, *, base_url: str = "", title: str | None = None
) -> tuple[str, str]:
    """``(plain text, sanitized HTML)`` of a feed entry's content or summary (HTML or text).

    The same conversion and cleanup as the "feed" fallback of :func:`extract_article`, for
    callers that store feed text without fetching the page.
    """
    if not content.strip():
        return "", ""
    blocks = clean_blocks(markup_to_blocks(content, base_url), title_variants([title]))
    return render_text(blocks), render_html(blocks)


def _feed_only(feed_blocks: list[Block], feed_title: str | None) -> ExtractedArticle:
    blocks = clean_blocks(feed_blocks, title_variants([feed_title]))
    return ExtractedArticle(render_text(blocks), render_html(blocks), "feed", title=feed_title)


def extract_article(
    body: bytes,
    url: str,
    *,
    content_type: str = "",
    feed_title: str | None = None,
    feed_content: str = "",
) -> ExtractedArticle:
    """Extract the article of one page; see the module docstring for the steps.

    Raises :class:`ExtractError` only when the body is no usable HTML (empty, binary or
    another media type) and the feed offers no content to fall back on.
    """
    feed_blocks = markup_to_blocks(feed_content, url) if feed_content.strip() else []
    try:
        if not body.strip():
            raise ExtractError(url, "empty page")
        page = _decode(body, content_type, url)
    except ExtractError:
        if not feed_blocks:
            raise
        return _feed_only(feed_blocks, feed_title)

    doc = _run_trafilatura(page, url)
    body_tree = getattr(doc, "body", None)
    ld = jsonld_article(page)
    pm = _page_meta(page, doc if doc is not None else _run_metadata(page, url), ld, feed_title)

    def cleaned(blocks: list[Block]) -> list[Block]:
        return clean_blocks(blocks, pm.titles, pm.categories)

    candidates = [
        _Candidate(
            "trafilatura", cleaned(tree_to_blocks(body_tree, url)) if body_tree is not None else []
        ),
        _Candidate("json-ld", cleaned(_jsonld_blocks(ld, url))),
        _Candidate("script-payload", cleaned(script_payload_body(page, url))),
        _Candidate("feed", cleaned(feed_blocks)),
    ]
    chosen = choose(candidates)
    if chosen is None:
        chosen = candidates[-1] if candidates[-1].blocks else _Candidate("none", [])

    text = render_text(chosen.blocks)
    language = pm.language or text_language(text)
    korean = (language or "").startswith("ko") or bool(_HANGUL.search(text[:500]))
    return ExtractedArticle(
        text=text,
        html=render_html(chosen.blocks),
        source=chosen.source,
        title=pm.title,
        author=pm.author,
        date=next((d for raw in pm.raw_dates if (d := parse_date(raw, korean=korean))), None),
        image=urljoin(url, pm.image) if pm.image else None,
        language=language,
        categories=pm.categories,
    )
