"""Lead sentences: the one or two sentences that open an article, for the digest and the
exports' summaries.

Pure text in, text out; imports nothing of aggregator's but the inert-text helper. Why our
own: what opens a Korean wire story (``(서울=연합뉴스) 홍길동 기자 =``, 입력 timestamps,
photo captions) and where a Korean sentence ends (다. 요. 니다.) are not what a general
sentence splitter knows.
"""

from __future__ import annotations

import re
import unicodedata

from rich.cells import cell_len

from aggregator.text.terminal import clean

__all__ = ["LEAD_CELLS", "extract_lead", "text_key"]

LEAD_CELLS = 160

# "(서울=연합뉴스) 홍길동 기자 = ", "[세종=뉴시스]김철수 기자 =", "【베이징=뉴스1】 ...": the
# agency dateline and byline that open Korean wire copy. Stripped from the lead.
_KO_DATELINE = re.compile(
    r"^\s*[(\[【<〈]"
    r"(?=[^()\[\]【】<>〈〉]{1,40}[)\]】>〉])"  # bounded, so a long parenthesis is kept
    r"[^()\[\]【】<>〈〉]*?"
    # '=' (서울=연합뉴스) or an outlet-like word ([파이낸셜뉴스], [아시아경제 홍길동 기자]): a
    # parenthesis such as "(주)" that opens a sentence is not a dateline.
    r"(?:=|뉴스|일보|신문|경제|통신|뉴시스|기자|데일리|투데이|방송|타임스|헤럴드|TV|닷컴)"
    r"[^()\[\]【】<>〈〉]*[)\]】>〉]\s*"
)
_KO_BYLINE = re.compile(
    r"^\s*(?:[가-힣]{2,4}(?:[ ,·]+[가-힣]{2,4}){0,3}\s*)"
    r"(?:선임|수석|객원|인턴)?\s*(?:기자|특파원|통신원|논설위원|에디터)\s*"
    r"(?:[\w.+-]+@[\w-]+(?:\.[\w-]+)+\s*)?(?:=|:|\||/|$)\s*"
)
# "SEOUL, March 10 (Yonhap) -- ", "WASHINGTON (AP) — ", "LONDON, March 10 (Reuters) - ".
_EN_DATELINE = re.compile(
    r"^\s*[A-Z][A-Z .'-]{1,40}(?:,\s*[A-Z][a-z]{2,9}\.?\s+\d{1,2})?\s*"
    r"\((?:Yonhap|AP|AFP|Reuters|Bloomberg|UPI|[A-Z][\w .]{1,20})\)\s*(?:--|—|–|-|:)\s*"
)
_EN_BYLINE = re.compile(r"^\s*By\s+[A-Z][\w.'-]*(?:\s+(?:[A-Z][\w.'-]*|and|&)){0,6}\s*$")
_EMAIL_ONLY = re.compile(r"^\s*[\w.+-]+@[\w-]+(?:\.[\w-]+)+\s*$")
# Timestamps, photo captions and similar furniture lines that extraction sometimes keeps.
_FURNITURE = re.compile(
    r"^\s*(?:입력|수정|등록|승인|송고|기사입력|최종수정|업데이트|Published|Updated|Posted)"
    r"\s*[:：]?\s*\d"
    r"|^\s*[▲△▶►■□◆◇●○※☞]"
    r"|^\s*[(\[]?\s*(?:사진|그래픽|자료|Photo|Image)\s*[=:]",
    re.IGNORECASE,
)

# A sentence ends at terminal punctuation (with any closing quotes or brackets) followed by
# white space or the end of the text. '.' after a Hangul syllable always ends one (했다.
# 했어요. 합니다.); after Latin text it must not be an abbreviation or an initial, and the
# next sentence must start like one.
_SENTENCE_END = re.compile(r"[.!?。？！](?:[\"'”’」』)\]])*(?=\s|$)")
_ABBREVIATIONS = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sen",
        "rep",
        "gov",
        "gen",
        "col",
        "lt",
        "sgt",
        "st",
        "jr",
        "sr",
        "vs",
        "etc",
        "inc",
        "corp",
        "co",
        "ltd",
        "no",
        "nos",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.k",
        "u.n",
        "e.u",
        "a.m",
        "p.m",
        "e.g",
        "i.e",
        "approx",
        "est",
        "fig",
        "vol",
        "pp",
        "ph.d",
    }
)


def text_key(text: str) -> str:
    """Letters and digits only, NFKC and case-folded: for "is this line the headline again"."""
    return "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c.isalnum())


def _is_furniture(line: str, title_key: str) -> bool:
    """An opening line that is not the story: the headline again, or only a dateline,
    byline, e-mail address, timestamp or photo caption."""
    key = text_key(line)
    if not key:
        return True
    if title_key and key.startswith(title_key) and len(key) < len(title_key) + 12:
        return True  # the headline repeated (sometimes with the outlet's name after it)
    if not _strip_prefixes(line):
        return True
    return bool(_EN_BYLINE.match(line) or _EMAIL_ONLY.match(line) or _FURNITURE.match(line))


def _strip_prefixes(line: str) -> str:
    """Remove an opening dateline and byline: '(서울=연합뉴스) 홍길동 기자 = 정부는' → '정부는'."""
    line = _KO_DATELINE.sub("", line, count=1)
    line = _KO_BYLINE.sub("", line, count=1)
    line = _EN_DATELINE.sub("", line, count=1)
    return line.strip()


def _is_sentence_end(text: str, match: re.Match[str]) -> bool:
    mark = match.start()
    if text[mark] != ".":
        return True
    before = text[:mark]
    if before and "\uac00" <= before[-1] <= "\ud7a3":
        return True  # 다. 요. 니다. 음.
    word = re.search(r"[\w.]*$", before)
    token = word.group(0).casefold() if word else ""
    if token in _ABBREVIATIONS or re.fullmatch(r"[a-z]", token) or re.fullmatch(r"\d+", token):
        return False  # Mr. / U.S. / J. Smith / "No. 1" / "3." of a list
    following = text[match.end() :].lstrip()
    return not following or not following[0].islower()


def _sentences(text: str) -> list[str]:
    out, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        if _is_sentence_end(text, match):
            out.append(text[start : match.end()].strip())
            start = match.end()
    rest = text[start:].strip()
    if rest:
        out.append(rest)
    return [s for s in out if s]


def _shorten(text: str, cells: int) -> str:
    """At most ``cells`` terminal cells, cut at a space (never inside a word), with '…'."""
    if cell_len(text) <= cells:
        return text
    taken, used = [], 0
    for char in text:
        used += cell_len(char)
        if used > cells - 1:
            break
        taken.append(char)
    head = "".join(taken)
    space = head.rfind(" ")
    if space > len(head) // 3:
        head = head[:space]
    # A lone word longer than the cap (a URL, unspaced CJK) has no better place to cut.
    return head.rstrip(" ,;:·-–—(\"'“‘") + "…"


# Subhead paragraphs skipped at most, and how long one may be.
MAX_SUBHEADS = 3
_SUBHEAD_CHARS = 150


def _is_subhead(paragraph: str) -> bool:
    """A short paragraph with no sentence end in it: a deck line, not the story."""
    if len(paragraph) > _SUBHEAD_CHARS:
        return False
    return not any(_is_sentence_end(paragraph, m) for m in _SENTENCE_END.finditer(paragraph))


def extract_lead(text: str, title: str = "", *, max_cells: int = LEAD_CELLS) -> str:
    """One or two sentences that open ``text``, for the digest.

    Skips opening lines that repeat the headline or are only a dateline, byline, timestamp
    or caption, and up to three opening paragraphs of subheads (short, with no sentence
    end) when the story follows; strips a dateline/byline prefix ("(서울=연합뉴스) 홍길동 기자 = ");
    ends at a sentence end (Korean 다. 요. 까? 니다. and ASCII . ! ? with closing quotes);
    takes a second sentence when both fit in ``max_cells`` terminal cells; a first sentence
    longer than that is cut at a space and ends with '…'.
    """
    if not text.strip():
        return ""  # nothing to open (browse's digest loads no texts): the title is not needed
    title_key = text_key(title)
    body: list[str] = []
    subheads = 0
    lines = clean(text).splitlines()
    for index, line in enumerate(lines):
        line = " ".join(line.split())
        if not body and _is_furniture(line, title_key):
            continue
        if not line:
            if (
                body
                and subheads < MAX_SUBHEADS
                and _is_subhead(" ".join(body))
                and any(rest.strip() for rest in lines[index + 1 :])
            ):
                # A deck of subheads above the story ("손제이 15세 이하 남자부 정상"): no
                # sentence in it, and the story follows. Lead with the story.
                body, subheads = [], subheads + 1
                continue
            if body:
                break  # the first paragraph is enough for two sentences
            continue
        body.append(line if body else _strip_prefixes(line))
        if sum(len(b) for b in body) > 600:
            break
    sentences = _sentences(" ".join(body))
    if not sentences:
        return ""
    lead = sentences[0]
    if len(sentences) > 1 and cell_len(lead) + 1 + cell_len(sentences[1]) <= max_cells:
        lead = f"{lead} {sentences[1]}"
    return _shorten(lead, max_cells)
