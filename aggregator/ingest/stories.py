"""Story prints: the same event reported by several outlets, as pure functions.

Korean outlets republish Yonhap wire copy with small edits: a headline marker (``[속보]``,
``(종합2보)``), their own dateline and byline, a photo credit, a copyright footer, a trimmed
ending. :func:`normalize_text` and :func:`normalize_title` strip that furniture;
:func:`fingerprint` turns what is left into a :class:`~aggregator.models.StoryPrint` (a
MinHash signature of character shingles and its LSH band hashes). Whether two prints are one
story is decided where the store files a new article, under its story lock:
:mod:`aggregator.store.story_match`.

It does no I/O. numpy is imported only inside :func:`fingerprint`.

Why our own normalizer: it is the Korean-specific core of the feature (no library knows
연합뉴스 datelines).

Why our own MinHash, in a dozen lines of numpy: the signature is datasketch 2.0's
``MinHash(num_perm=128, seed=1, hashfunc=zlib.crc32, scheme="affine32")``, value for value
(tests/ingest/test_stories.py checks it against datasketch, so prints stored by earlier
versions keep matching), but importing datasketch imports its LSH classes and with them
scipy: 45 MiB resident in the daemon and 0.3 s of start-up in every poll, for one
multiply-add and a minimum.
"""

from __future__ import annotations

import hashlib
import re
import struct
import unicodedata
import zlib
from collections.abc import Collection, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from aggregator.models import StoryMatch, StoryPrint
from aggregator.text.language import MIN_HANGUL, hangul_share

__all__ = [
    "BANDS",
    "NUM_PERM",
    "ROWS",
    "band_hashes",
    "fingerprint",
    "language_key",
    "normalize_text",
    "normalize_title",
]

# 32 bands of 4 rows: two texts with Jaccard 0.5 share a band with probability
# 1 - (1 - 0.5**4)**32 ≈ 0.87, at 0.6 ≈ 0.98, at 0.3 only 0.23; candidates are then verified
# on the full signature. Changing these needs `aggregator stories rebuild`.
BANDS = 32
ROWS = 4
NUM_PERM = BANDS * ROWS
SHINGLE = 5
# Wire copies agree most at the top; the first characters are enough and keep the hashing
# cost bounded for long features.
MAX_SHINGLE_CHARS = 2500
_SEED = 1
DEFAULT_MIN_TEXT_CHARS = StoryMatch().min_text_chars


# -- normalization ------------------------------------------------------------------------

_MARKER_WORDS = (
    "속보|단독|종합|포토|사설|칼럼|영상|사진|그래픽|인터뷰|게시판|인사|부고|전문|일문일답|"
    "\\d+보|상보|1보|2보|3보|재송|수정|보강|긴급|특보|이슈|르포|기획|오늘의|날씨|breaking|update|"
    "updated|exclusive|photo|video|lead|urgent"
)
# [속보] (종합2보) <단독> 【포토】 ... at either end of a headline; short, so a real
# parenthesis in the middle of a headline stays.
_TITLE_MARKER = re.compile(
    rf"^\s*[\[(<【〈「『]\s*(?:[^\[\]()<>【】〈〉]{{0,6}}(?:{_MARKER_WORDS})[^\[\]()<>【】〈〉]{{0,6}})"
    rf"\s*[\])>】〉」』]\s*"
    rf"|\s*[\[(<【〈「『]\s*(?:[^\[\]()<>【】〈〉]{{0,6}}(?:{_MARKER_WORDS})[^\[\]()<>【】〈〉]{{0,6}})"
    rf"\s*[\])>】〉」』]\s*$",
    re.IGNORECASE,
)
# "… - 연합뉴스", "… | 한겨레": an outlet's name after the headline.
_TITLE_OUTLET = re.compile(r"\s+[-|–—:]\s+[^-|–—:]{1,20}$")
# Headline abbreviations in hanja: spelled out so that an outlet writing 美 and one writing
# 미국 agree.
_HANJA = {
    "美": "미국",
    "中": "중국",
    "日": "일본",
    "北": "북한",
    "南": "남한",
    "與": "여당",
    "野": "야당",
    "靑": "청와대",
    "英": "영국",
    "獨": "독일",
    "佛": "프랑스",
    "露": "러시아",
    "韓": "한국",
    "檢": "검찰",
    "警": "경찰",
    "軍": "군",
    "故": "고",
    "前": "전",
    "現": "현",
    "新": "신",
    "對": "대",
    "反": "반",
    "親": "친",
    "非": "비",
    "女": "여",
    "男": "남",
}
_HANJA_RE = re.compile("|".join(map(re.escape, _HANJA)))


def normalize_title(title: str) -> str:
    """A headline without markers, outlet suffix, punctuation or case: ``'[속보] 美 금리
    동결(종합2보)'`` → ``'미국 금리 동결'``."""
    text = unicodedata.normalize("NFKC", title)
    text = _HANJA_RE.sub(lambda m: " " + _HANJA[m.group(0)] + " ", text)
    for _ in range(4):
        stripped = _TITLE_MARKER.sub(" ", text).strip()
        if stripped == text.strip():
            break
        text = stripped
    text = _TITLE_OUTLET.sub("", text)
    words = re.findall(r"\w+", text.casefold())
    return " ".join(words)


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
# "(서울=연합뉴스) 홍길동 기자 =", "[세종=뉴시스] 김철수 기자 =", "【베이징=뉴스1】",
# "(서울=뉴스1) 홍길동 이영희 기자 =": an agency dateline, with the byline after it.
_DATELINE = re.compile(
    r"[(\[【<〈]\s*[^()\[\]【】<>〈〉=]{1,15}=\s*[^()\[\]【】<>〈〉]{1,20}[)\]】>〉]"
    r"(?:\s*[가-힣]{2,4}(?:[ ,·]+[가-힣]{2,4}){0,3}\s*(?:선임|수석|객원|인턴)?\s*"
    r"(?:기자|특파원|통신원|리포터))?\s*=?"
)
# "홍길동 기자 =", "홍길동 기자", "김철수 특파원" and the like, standing alone.
_BYLINE = re.compile(
    r"(?:^|(?<=[\s/=]))[가-힣]{2,4}(?:[ ,·]+[가-힣]{2,4}){0,3}\s*(?:선임|수석|객원|인턴)?\s*"
    r"(?:기자|특파원|통신원|리포터|논설위원)(?=\s|$|=|[.,)/])\s*=?"
)
_BYLINE_WORDS = ("기자", "특파원", "통신원", "리포터", "논설위원")
# "(사진=연합뉴스)", "[사진=독자 제공]", "사진=…" captions and credits.
_PHOTO = re.compile(
    r"[(\[<【]\s*(?:사진|그래픽|자료|영상|촬영|제공|출처|photo|image)\s*[=:][^()\[\]<>【】]{0,60}"
    r"[)\]>】]|(?:사진|그래픽|촬영|출처)\s*=\s*\S+(?:\s+\S+)?(?:\s*제공)?",
    re.IGNORECASE,
)
# Whole lines that are furniture: copyright footers, timestamps, captions, related links.
_FURNITURE_LINE = re.compile(
    r"ⓒ|©|copyright|무단\s*전재|재배포\s*금지|all rights reserved|저작권자"
    r"|^\s*(?:입력|수정|등록|승인|송고|기사입력|최종수정|업데이트)\s*[:：]?\s*\d"
    r"|^\s*(?:관련\s*기사|관련기사|함께 보면 좋은|많이 본 뉴스|추천\s*기사)"
    r"|^\s*[▶►☞]",
    re.IGNORECASE,
)


def normalize_text(text: str, enough: int | None = None) -> str:
    """Article text without datelines, bylines, photo credits, e-mail addresses, links and
    copyright footers, NFKC-normalized and case-folded, one space between words. With
    ``enough``, only its first lines: as many as hold ``enough`` characters of words (a print
    reads the first :data:`MAX_SHINGLE_CHARS`; the rest of a long page cost 40 % of its print
    to clean)."""
    text = unicodedata.normalize("NFKC", text)
    kept: list[str] = []
    chars = 0
    for line in text.splitlines():
        if _FURNITURE_LINE.search(line):
            continue
        # Each pattern runs only on a line holding what it cannot match without (most lines
        # hold none of it): five regex passes a line were a third of a print.
        if "@" in line:
            line = _EMAIL.sub(" ", line)
        if "://" in line or "www." in line.lower():
            line = _URL.sub(" ", line)
        if "=" in line or ":" in line:
            line = _PHOTO.sub(" ", line)
        if "=" in line:
            line = _DATELINE.sub(" ", line)
        if any(word in line for word in _BYLINE_WORDS):
            line = _BYLINE.sub(" ", line)
        words = re.findall(r"\w+", line.casefold())
        if words:
            kept.append(" ".join(words))
            if enough is not None:
                chars += sum(map(len, words))
                if chars >= enough:
                    break
    return " ".join(kept)


def language_key(declared: str | None, text: str) -> str:
    """ "ko" for Korean text (by its share of Hangul, whatever the feed declared), else the
    declared language's primary subtag, else "other": Korean and English articles about one
    event are different stories to their readers."""
    if hangul_share(text[:2000]) >= MIN_HANGUL:
        return "ko"
    if declared:
        primary = declared.strip().lower().split("-")[0].split("_")[0]
        if primary and primary != "ko":
            return primary[:8]
    return "other"


def _shingles(normalized: str) -> set[bytes]:
    compact = normalized.replace(" ", "")[:MAX_SHINGLE_CHARS]
    if len(compact) < SHINGLE:
        return {compact.encode()} if compact else set()
    return {compact[i : i + SHINGLE].encode() for i in range(len(compact) - SHINGLE + 1)}


@cache
def _permutations() -> tuple[Any, Any]:
    """datasketch's affine32 parameters for ``_SEED``: odd multipliers ``a``, offsets ``b``."""
    import numpy as np

    gen = np.random.RandomState(_SEED)
    a = gen.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


def _minhash(shingles: Collection[bytes]) -> tuple[int, ...]:
    """The minimum of ``a * fmix32(crc32(shingle)) + b`` (mod 2**32) per permutation.

    crc32 (C) rather than SHA-1 (per shingle in Python) triples the speed; 32 bits are
    plenty for a few thousand shingles. MurmurHash3's finalizer mixes the crc first, and an
    odd ``a`` makes each permutation a bijection, as in datasketch's affine32 scheme.
    """
    import numpy as np

    if not shingles:
        return (0xFFFFFFFF,) * NUM_PERM
    a, b = _permutations()
    hv = np.fromiter(map(zlib.crc32, shingles), dtype=np.uint32, count=len(shingles))
    hv ^= hv >> np.uint32(16)
    hv *= np.uint32(0x85EBCA6B)
    hv ^= hv >> np.uint32(13)
    hv *= np.uint32(0xC2B2AE35)
    hv ^= hv >> np.uint32(16)
    permuted = hv[:, np.newaxis] * a + b
    return tuple(permuted.min(axis=0).tolist())


def band_hashes(signature: Sequence[int]) -> tuple[int, ...]:
    """One signed 64-bit hash per band (fits BIGINT); the band's index is part of it."""
    out = []
    for band in range(BANDS):
        rows = signature[band * ROWS : (band + 1) * ROWS]
        data = struct.pack(f"<H{len(rows)}I", band, *rows)
        out.append(
            int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little", signed=True)
        )
    return tuple(out)


def fingerprint(
    title: str,
    text: str,
    *,
    language: str | None,
    seen_at: datetime,
    min_text_chars: int = DEFAULT_MIN_TEXT_CHARS,
) -> StoryPrint | None:
    """The article's print, or None when its text is too short to tell stories apart
    (a title-only entry): such an article stays a story of its own."""
    normalized = normalize_text(text, enough=max(MAX_SHINGLE_CHARS, min_text_chars))
    if len(normalized.replace(" ", "")) < min_text_chars:
        return None
    shingles = _shingles(normalized)
    signature = _minhash(shingles)
    return StoryPrint(
        signature=signature,
        bands=band_hashes(signature),
        size=len(shingles),
        title_key=normalize_title(title),
        language=language_key(language, text),
        seen_at=seen_at,
    )
