"""What a page says besides its DOM body, for when trafilatura finds too little: meta tags
and the page language, JSON-LD ``articleBody``, and the article HTML embedded in script
payloads (Next.js ``__NEXT_DATA__``, React Server Components flight chunks pushed with
``self.__next_f.push``, and JSON handed to ``window[...]``/``.push(...)`` by hydration code).

Why our own: trafilatura reads the DOM only, and Korean outlets that render on the client
(Hankook Ilbo) leave the DOM without a body.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from aggregator.ingest.extract.blocks import LOOKS_HTML, Block, markup_to_blocks
from aggregator.ingest.extract.cleanup import SENTENCE_END

__all__ = [
    "HANGUL",
    "KST",
    "TITLE_TAG",
    "flight_rows",
    "jsonld_article",
    "jsonld_article_body",
    "jsonld_author",
    "jsonld_blocks",
    "meta_tags",
    "page_language",
    "parse_date",
    "prose_chars",
    "script_payload_body",
    "script_payloads",
    "stoplist_language",
    "text_language",
]

KST = timezone(timedelta(hours=9), "KST")

# ------------------------------------------------------------------ page metadata

_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_META = re.compile(r"<meta\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""([a-zA-Z_:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_HTML_LANG = re.compile(r"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3})", re.IGNORECASE)
TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
HANGUL = re.compile(r"[가-힣]")


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


# The metas trafilatura reads a page's language from when it is given one, in its order, with
# the attribute values it matches (exactly: it ignores ``http-equiv="Content-Language"``).
_LANGUAGE_METAS = (("http-equiv", "content-language"), ("property", "og:locale"))
_LANGUAGE_CODE = re.compile(r"[a-z]{2}")
# Hangul syllables that make a page Korean: a Korean article page has thousands, an English
# edition's page a menu's worth (KBS World's English page in ../shared/corpus: 272 of 61,281
# characters); a short page (an error page) needs a tenth of its characters.
KOREAN_PAGE_SYLLABLES = 500
KOREAN_SHORT_PAGE_SHARE = 0.1
# Where the syllables are looked for: every Korean corpus page has its 500th within 21,000
# characters, and a page with none is read to the end of the window (1.1 ms for 400,000
# characters of a BBC page, on every English page extracted).
_SYLLABLE_SCAN_CHARS = 100_000


def _declared_language(page: str) -> str | None:
    """The page's declared language, read as trafilatura reads it: the first code of the first
    language meta of the first kind present ("" when that meta names none), else the
    ``<html lang>`` (which trafilatura's check ignores but a reader of the page would not)."""
    tags = [_attrs(m.group(0)) for m in _META.finditer(page) if "content" in m.group(0).lower()]
    for attr, value in _LANGUAGE_METAS:
        contents = [t["content"] for t in tags if t.get(attr) == value and "content" in t]
        if contents:
            codes = _LANGUAGE_CODE.findall(contents[0].lower())
            return codes[0] if codes else ""
    match = _HTML_LANG.search(page[:5000])
    return match.group(1)[:2].lower() if match else None


def _korean_page(page: str) -> bool:
    needed = max(1, min(KOREAN_PAGE_SYLLABLES, round(KOREAN_SHORT_PAGE_SHARE * len(page))))
    found = HANGUL.finditer(page, 0, _SYLLABLE_SCAN_CHARS)
    return sum(1 for _ in zip(found, range(needed), strict=False)) >= needed


def stoplist_language(page: str) -> str | None:
    """The language to tell trafilatura a page is in (ISO 639-1), or None for "unknown".

    Told nothing, trafilatura's justext fallback (run on pages where its own extraction is
    short or unclean: 3 of the 16 corpus pages) counts the stop words of all ~100 of
    justext's languages at once: it builds their union of 154,484 words once per process and
    lower-cases it into a new set on every call, 31 ms a page and 27 MiB that each extraction
    worker kept for its life. Told the language, it reads that language's list alone.

    Told a language, trafilatura also drops a page whose language metas name another, so the
    answer agrees with them as this module reads them: a Korean page (Hangul-heavy) is
    ``ko`` unless it declares another language (then None: the declaration or the page is
    wrong, and all the lists are the safe choice); another page is what it declares, None
    when it declares nothing. Where lxml reads the metas otherwise (a commented-out meta, a
    repeated attribute), :mod:`.article` asks trafilatura again without a language.
    """
    declared = _declared_language(page)
    if _korean_page(page):
        return "ko" if declared in (None, "ko") else None
    return declared if declared and declared != "ko" else None


def text_language(text: str) -> str | None:
    """Korean when Hangul dominates the letters; other languages are not guessed."""
    sample = text[:2000]
    letters = sum(ch.isalpha() for ch in sample)
    return "ko" if letters and len(HANGUL.findall(sample)) > 0.3 * letters else None


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
    return jsonld_blocks(jsonld_article(page), base_url)


def jsonld_blocks(article: dict[str, Any] | None, base_url: str) -> list[Block]:
    body = article.get("articleBody") if article else None
    return markup_to_blocks(body, base_url) if isinstance(body, str) else []


def jsonld_author(article: dict[str, Any] | None) -> str | None:
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


def prose_chars(blocks: Sequence[Block]) -> int:
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
    if not LOOKS_HTML.search(value) and (
        value.count(" ") < len(value) / 15 or not SENTENCE_END.search(value.rstrip()[-3:])
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
            prose_chars(blocks),
            int(payload.parent is not None) + int(bool(_BODY_KEY.search(payload.key))),
        )
        if score[0] >= _PROSE_MIN and score > best:
            best = score
            best_blocks = _subtitle_blocks(payload.parent, base_url) + blocks
    return best_blocks
