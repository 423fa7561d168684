"""The Korean-aware cleanup of extracted blocks: the headline and section label repeated at
the top, "입력 2025.05.15" datelines, "많이 본 뉴스"/"관련 기사"/"Most Viewed" lists, duplicated
bylines, "무단전재 및 재배포 금지" footers, share/copy/subscribe widgets.

Why our own: no extraction library knows the boilerplate phrases of Korean newsrooms.
Pure functions over blocks.
"""

from __future__ import annotations

import html as html_lib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from aggregator.ingest.extract.blocks import Block, Line, Segment, line_text, normalize_line

__all__ = [
    "SENTENCE_END",
    "byline_key",
    "clean_blocks",
    "cut_copyright_clause",
    "dedupe_bylines",
    "dedupe_consecutive",
    "drop_link_lists",
    "drop_trailing_links",
    "drop_ui_lines",
    "is_copyright_line",
    "is_dateline",
    "is_list_heading",
    "is_section_label",
    "is_title_repeat",
    "is_ui_line",
    "norm_key",
    "strip_copyright",
    "strip_header",
    "title_variants",
]

# ------------------------------------------------------------------------ cleanup
#
# Pure functions over the block list. Every rule is phrased for Korean newsrooms in general
# (Yonhap, Chosun, Hankyoreh, JoongAng ... share these conventions), never for one site.

_NORM_DROP = re.compile(r"[\W_]+", re.UNICODE)
SENTENCE_END = re.compile(r"[.!?。！？…]\s*[\"'”’」』)\]]*$|다\s*$|요\s*$")

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


def norm_key(text: str) -> str:
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
            norm = norm_key(part)
            if len(norm) >= 6 and norm not in out:
                out.append(norm)
    return out


def is_title_repeat(text: str, titles: Sequence[str]) -> bool:
    """The block repeats the headline (maybe with a prefix such as "동영상:" or a bullet)."""
    norm = norm_key(text)
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
    return not norm_key(rest)


def is_ui_line(text: str) -> bool:
    return len(text) <= 40 and _UI_LINE.match(text.strip()) is not None


def is_list_heading(text: str) -> bool:
    """Heading of a "most read" / "related articles" box."""
    return len(text) <= 40 and _LIST_HEADING.search(text) is not None


def is_section_label(text: str, categories: Sequence[str] = ()) -> bool:
    """A category label or breadcrumb such as "정치", "경제 > 부동산", "Entermedia 주요뉴스"."""
    if not text or len(text) > 30 or SENTENCE_END.search(text):
        return False
    known = _SECTION_WORDS | {norm_key(c) for c in categories}
    parts = [p for p in _BREADCRUMB_SPLIT.split(text) if p]
    # a part is a known word, or "<site name> <known words>" such as "Entermedia 주요뉴스"
    return bool(parts) and all(
        norm_key(p) in known or all(norm_key(w) in known for w in p.split()[1:] or [" "])
        for p in parts
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
        return norm_key(stripped[3:])
    return None


def _truncate_line(line: Line, keep_chars: int) -> Line:
    out: list[Segment] = []
    left = keep_chars
    for seg in line:
        if left <= 0:
            break
        out.append(Segment(seg.text[:left], seg.href))
        left -= len(seg.text)
    return normalize_line(out)


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
        if is_list_heading(block.text) and not SENTENCE_END.search(block.text):
            skipping = True
            continue
        if skipping and (
            _is_list_entry(block) or (len(block.text) <= 60 and not SENTENCE_END.search(block.text))
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
        if out and norm_key(out[-1].text) == norm_key(block.text):
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
