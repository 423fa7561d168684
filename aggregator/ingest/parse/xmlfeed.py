"""RSS 0.9x/1.0/2.0 and Atom bytes → a ParsedFeed, via feedparser (JSON Feed is
:mod:`.jsonfeed`'s; :mod:`.feed` picks between them).

What this module adds to feedparser:

* Korean decoding. A document declared (HTTP charset or XML declaration) as ``euc-kr`` or
  any label that :func:`aggregator.text.charset.codec_for_label` maps to cp949 is decoded here as
  cp949 and handed to feedparser as UTF-8: feedparser 6.0.14 decodes ``euc-kr`` with Python's
  strict KS X 1001 codec, fails on CP949-only syllables (똠, 햏, 뷁) and garbles the whole
  feed as windows-1252. An undeclared (or wrongly declared) body that charset-normalizer
  recognises as Korean is decoded the same way. Every other document goes to feedparser
  untouched, so its RFC 3023 rules for HTTP versus XML encodings still hold.
* Safety. feedparser never fetches here (the bytes are wrapped in BytesIO: a bytes path would
  otherwise be opened as a file), HTML is sanitized, and numeric character references that
  crash feedparser (``&#999999999999;``, surrogates; open upstream bugs #591/#599) are
  replaced by U+FFFD first. Any exception left inside feedparser becomes a ParseError.
* Product fields: plain-text titles, Korea-time dates (:mod:`aggregator.text.dates`), canonical
  links (:mod:`aggregator.text.urls`), entry keys, images, de-duplicated categories.

What it does not do: fetch, extract full article text, judge whether dates are plausible,
or keep anything of feedparser's result beyond what ParsedFeed carries (use
:func:`parse_feed_document` for that).
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from aggregator.errors import ParseError
from aggregator.ingest.parse.fields import (
    canonical_link,
    clean_author,
    clean_html,
    clean_text,
    entry_key,
    lower_keys,
    unique_strings,
)
from aggregator.ingest.parse.windows import windows
from aggregator.models import ParsedEntry, ParsedFeed
from aggregator.text.charset import (
    bom_encoding,
    charset_from_content_type,
    codec_for_label,
    decode_bytes,
    xml_declared_encoding,
)
from aggregator.text.dates import parse_date
from aggregator.text.urls import first_http_url

__all__ = ["FeedDocument", "parse_feed_document", "parse_xml_feed"]


@dataclass(frozen=True, slots=True)
class FeedDocument:
    """feedparser's result dict after our decoding, and what the decoding did.

    ``result["encoding"]`` is the codec really used (cp949 when we decoded the bytes
    ourselves, not the utf-8 we handed feedparser).
    """

    result: Any
    encoding: str
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Recoded:
    data: bytes
    headers: dict[str, str]
    codec: str
    note: str | None
    # Set when the document's own declaration was wrong or missing: feedparser would have
    # called that ill-formed, and so do we.
    override: str | None


def parse_xml_feed(body: bytes, url: str, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """An RSS or Atom document (``headers`` lower-cased). Raises ParseError when ``body`` is
    not a feed (HTML page, error text, empty) or cannot be read at all.

    A document of thousands of items is parsed a window of items at a time (see
    :mod:`.windows`): the entries are the same, feedparser's memory is that of one window."""
    if not body.strip():
        raise ParseError(url, "not a feed: empty body")
    data, response_headers, recoded = _prepare(body, url, headers)
    cut = windows(data)
    if cut is None:
        document = _document(data, response_headers, recoded, url)
        _require_feed(document.result, body, url)
        return _to_parsed_feed(document, url)
    # The windows are UTF-8 whatever the document was: say so to feedparser.
    utf8_headers = {**response_headers, "content-type": "application/xml; charset=utf-8"}
    first: ParsedFeed | None = None
    entries: list[ParsedEntry] = []
    warnings: list[str] = []
    for window in cut:
        document = _document(window, utf8_headers, recoded, url)
        parsed = _to_parsed_feed(document, url)
        first = first or parsed
        entries.extend(parsed.entries)
        warnings.extend(w for w in parsed.warnings if w not in warnings)
    assert first is not None
    return replace(first, entries=_unrepeated(entries, warnings), warnings=tuple(warnings))


def _unrepeated(entries: list[ParsedEntry], warnings: list[str]) -> tuple[ParsedEntry, ...]:
    """Feeds repeat items word for word; those go (within a document or across its windows),
    each said in ``warnings``. Items that merely share a guid (some feeds give every item the
    same one) stay: the pipeline tells them apart."""
    seen: set[tuple[str, str | None]] = set()
    kept: list[ParsedEntry] = []
    for entry in entries:
        if (entry.key, entry.link) in seen:
            warnings.append(f"repeated entry dropped: {entry.key}")
            continue
        seen.add((entry.key, entry.link))
        kept.append(entry)
    return tuple(kept)


def parse_feed_document(
    body: bytes, url: str, headers: Mapping[str, str] | None = None
) -> FeedDocument:
    """feedparser's result for ``body``, after the Korean decoding fix. No feed check."""
    if not body.strip():
        raise ParseError(url, "not a feed: empty body")
    data, response_headers, recoded = _prepare(body, url, headers)
    return _document(data, response_headers, recoded, url)


def _prepare(
    body: bytes, url: str, headers: Mapping[str, str] | None
) -> tuple[bytes, dict[str, str], _Recoded | None]:
    """The bytes and headers feedparser is given, after the Korean decoding fix, with the
    character references that crash feedparser defused (once: windows are cut from them)."""
    lowered = lower_keys(headers)
    recoded = _recode_korean(body, lowered)
    data = _defuse_char_refs(recoded.data if recoded else body)
    response_headers = dict(recoded.headers if recoded else lowered)
    # feedparser resolves relative links in content against Content-Location. Only added to
    # real HTTP headers: any header at all makes feedparser apply HTTP's charset defaults.
    if response_headers:
        response_headers["content-location"] = urljoin(
            url, response_headers.get("content-location", "")
        )
    return data, response_headers, recoded


def _document(
    data: bytes, response_headers: dict[str, str], recoded: _Recoded | None, url: str
) -> FeedDocument:
    try:
        result = feedparser.parse(
            io.BytesIO(data),
            response_headers=response_headers,
            sanitize_html=True,
            resolve_relative_uris=True,
        )
    except Exception as exc:  # feedparser has crash bugs on hostile input; never leak them
        raise ParseError(url, "feedparser could not read this document") from exc
    warnings: list[str] = []
    if recoded is not None:
        result["encoding"] = recoded.codec
        if recoded.note:
            warnings.append(recoded.note)
        if recoded.override and not result.get("bozo"):
            # Said already by the note; set for callers that read feedparser's flags.
            result["bozo"] = True
            result["bozo_exception"] = feedparser.CharacterEncodingOverride(recoded.override)
        elif result.get("bozo"):
            warnings.append(_bozo_warning(result.get("bozo_exception")))
    elif result.get("bozo") and not _is_missing_content_type(result.get("bozo_exception")):
        warnings.append(_bozo_warning(result.get("bozo_exception")))
    encoding = _codec_name(result.get("encoding") or "utf-8")
    return FeedDocument(result=result, encoding=encoding, warnings=tuple(warnings))


_XML_DECL_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*)(["'])[^"']*\2""")
_CT_CHARSET_PARAM = re.compile(r"""\s*;\s*charset\s*=\s*("[^"]*"|'[^']*'|[^;]*)""", re.I)


def _recode_korean(body: bytes, headers: Mapping[str, str]) -> _Recoded | None:
    """cp949-decoded UTF-8 bytes when the document is Korean, else None (feedparser decides)."""
    if bom_encoding(body):
        return None
    http_label = charset_from_content_type(headers.get("content-type"))
    xml_label = xml_declared_encoding(body)
    declared = [label for label in (http_label, xml_label) if label]
    korean = [label for label in declared if codec_for_label(label) == "cp949"]
    note: str | None = None
    override: str | None = None
    if korean:
        if _is_multibyte_utf8(body):
            # EUC-KR Hangul is never valid UTF-8 (its lead bytes B0-C8 are continuation
            # bytes or need one), while UTF-8 can pass as cp949: trust the bytes here.
            text, codec = body.decode("utf-8"), "utf-8"
            note = f"encoding: declared {korean[0]}, but the body is UTF-8; read as UTF-8"
        else:
            text, codec = decode_bytes(body, [http_label, xml_label])
            if codec != "cp949":
                note = f"encoding: declared {korean[0]}, but read as {codec}"
    elif _decodes_as_any(body, declared):
        return None
    else:
        text, codec = decode_bytes(body, [])
        if codec != "cp949" or not _decodes(body, "cp949"):
            return None
        where = f"declared as {declared[0]}" if declared else "undeclared"
        note = f"encoding: {where}, detected as Korean; read as cp949"
        override = (
            f"document declared as {declared[0] if declared else 'utf-8'}, but parsed as cp949"
        )
    utf8 = _XML_DECL_ENCODING.sub(r"\1\2utf-8\2", text, count=1).encode("utf-8")
    return _Recoded(utf8, _utf8_headers(headers), codec, note, override)


def _decodes_as_any(body: bytes, labels: list[str]) -> bool:
    """Whether feedparser's own order would find a strict decoding: a declared label, or
    UTF-8 (which it tries next, and which ASCII is)."""
    codecs_ = [codec_for_label(label) for label in labels] + ["utf-8"]
    return any(codec is not None and _decodes(body, codec) for codec in codecs_)


def _decodes(body: bytes, codec: str) -> bool:
    try:
        body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _is_multibyte_utf8(body: bytes) -> bool:
    return not body.isascii() and _decodes(body, "utf-8")


def _utf8_headers(headers: Mapping[str, str]) -> dict[str, str]:
    out = dict(headers)
    content_type = out.get("content-type")
    if content_type:
        out["content-type"] = _CT_CHARSET_PARAM.sub("", content_type) + "; charset=utf-8"
    return out


_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9A-Fa-f]{1,32})|([0-9]{1,40}));")


def _defuse_char_refs(data: bytes) -> bytes:
    """Replace character references XML forbids (beyond U+10FFFF, surrogates, most C0
    controls) by U+FFFD: feedparser's loose parser raises on them instead of flagging bozo."""
    if b"&#" not in data:
        return data

    def fix(match: re.Match[bytes]) -> bytes:
        hex_digits, dec_digits = match.groups()
        point = int(hex_digits, 16) if hex_digits else int(dec_digits)
        allowed = (
            point in (0x9, 0xA, 0xD)
            or 0x20 <= point <= 0xD7FF
            or 0xE000 <= point <= 0xFFFD
            or 0x10000 <= point <= 0x10FFFF
        )
        return match.group(0) if allowed else b"&#xFFFD;"

    return _CHAR_REF.sub(fix, data)


def _is_missing_content_type(exc: object) -> bool:
    # Callers without HTTP headers (files, tests) are not a problem with the feed.
    return isinstance(exc, feedparser.NonXMLContentType) and "no Content-type" in str(exc)


def _codec_name(label: str) -> str:
    try:
        return codecs.lookup(label).name
    except LookupError:
        return label.lower()


def _bozo_warning(exc: object) -> str:
    if isinstance(exc, feedparser.CharacterEncodingOverride):
        return f"encoding: {exc}"
    if isinstance(exc, feedparser.NonXMLContentType):
        return f"content type: {exc}"
    name = type(exc).__name__ if exc is not None else "unknown error"
    detail = str(exc) if exc is not None else ""
    return f"ill-formed feed, read leniently: {name}: {detail}".rstrip(": ")


# --- is it a feed? --------------------------------------------------------------------------

_HTML_START = re.compile(rb"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]", re.I)
_ROOT_ELEMENT = re.compile(
    rb"^(?:\s|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)*<([A-Za-z_][\w.:-]*)", re.S | re.I
)


def _require_feed(result: Any, body: bytes, url: str) -> None:
    if result.get("version") or result.get("entries"):
        return
    head = body[:4096]
    if _HTML_START.search(head):
        raise ParseError(url, "not a feed: looks like an HTML page")
    root = _ROOT_ELEMENT.match(head)
    if root:
        name = root.group(1).decode("ascii", "replace")
        raise ParseError(url, f"not a feed: an XML document whose root is <{name}>")
    sample = " ".join(head[:200].decode("utf-8", "replace").split())[:60]
    raise ParseError(url, f"not a feed: looks like plain text ({sample!r})")


# --- building ParsedFeed --------------------------------------------------------------------


def _to_parsed_feed(document: FeedDocument, url: str) -> ParsedFeed:
    result = document.result
    feed = result.get("feed", {})
    warnings = list(document.warnings)
    version = result.get("version") or ""
    if not version:
        warnings.append("unknown feed format: entries found, but no RSS/Atom root element")
    entries = _unrepeated([_to_entry(raw, url) for raw in result.get("entries", [])], warnings)
    return ParsedFeed(
        title=clean_text(feed.get("title", ""), _is_html(feed.get("title_detail"))),
        link=canonical_link(url, feed.get("link")),
        entries=entries,
        kind=_kind(version),
        description=clean_html(feed.get("subtitle", "")),
        language=(feed.get("language") or "").strip() or None,
        encoding=document.encoding,
        ttl_minutes=_ttl(feed.get("ttl")),
        update_period_minutes=_update_period(
            feed.get("sy_updateperiod"), feed.get("sy_updatefrequency")
        ),
        warnings=tuple(warnings),
    )


def _to_entry(raw: Any, base: str) -> ParsedEntry:
    guid = (raw.get("id") or "").strip() or None
    link = canonical_link(base, raw.get("link")) or canonical_link(base, _alternate(raw))
    title = clean_text(raw.get("title", ""), _is_html(raw.get("title_detail")))
    # dict.get: feedparser's own get() falls back from "updated" to "published" (issue 310).
    updated = _entry_date(dict.get(raw, "updated"), dict.get(raw, "updated_parsed"))
    published = (
        _entry_date(raw.get("published"), raw.get("published_parsed"))
        or _entry_date(raw.get("created"), raw.get("created_parsed"))
        # dc:date, the only date of many Korean feeds, reaches us as "updated".
        or updated
    )
    contents = [clean_html(part.get("value", "")) for part in raw.get("content", [])]
    detail = raw.get("author_detail") or {}
    return ParsedEntry(
        key=entry_key(guid, link, title, published or updated),
        guid=guid,
        link=link,
        title=title,
        summary=clean_html(raw.get("summary", "")),
        content=max(contents, key=len, default=""),
        author=clean_author(raw.get("author"), detail.get("name")),
        published=published,
        updated=updated,
        categories=unique_strings(
            tag.get("term") or tag.get("label") for tag in raw.get("tags", [])
        ),
        image=_image(raw, base),
    )


def _alternate(raw: Any) -> str | None:
    for link in raw.get("links", []):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return str(link["href"])
    return None


_HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")


def _entry_date(raw: str | None, parsed: Any) -> datetime | None:
    instant = parse_date(raw)
    if instant is not None or raw is None:
        return instant
    # feedparser knows formats we do not, but its Korean ones are wrong: trust it elsewhere.
    if parsed is None or _HANGUL.search(raw):
        return None
    try:
        year, month, day, hour, minute, second = parsed[:6]
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (TypeError, ValueError):
        return None


_IMAGE_SUFFIX = re.compile(r"\.(?:jpe?g|png|gif|webp|avif|bmp|svg)(?:$|[?#])", re.I)


def _image(raw: Any, base: str) -> str | None:
    candidates: list[str | None] = []
    for media in raw.get("media_content", []):
        kind = (media.get("type") or "").lower()
        medium = (media.get("medium") or "").lower()
        url = media.get("url")
        if (
            medium == "image"
            or kind.startswith("image/")
            or (not kind and not medium and url and _IMAGE_SUFFIX.search(url))
        ):
            candidates.append(url)
    candidates.extend(thumb.get("url") for thumb in raw.get("media_thumbnail", []))
    candidates.extend(
        link.get("href")
        for link in raw.get("links", [])
        if link.get("rel") == "enclosure" and (link.get("type") or "").lower().startswith("image/")
    )
    return first_http_url(base, candidates)


def _is_html(detail: Any) -> bool:
    return bool(detail) and detail.get("type") in ("text/html", "application/xhtml+xml")


def _kind(version: str) -> str:
    if version in ("rss090", "rss10"):
        return "rdf"
    if version.startswith("atom"):
        return "atom"
    return "rss"


def _ttl(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and 0 < int(text) < 10**7 else None


_SY_PERIOD_MINUTES = {
    "hourly": 60.0,
    "daily": 24 * 60.0,
    "weekly": 7 * 24 * 60.0,
    # The Syndication module gives no length for these; calendar averages are close enough
    # for a polling lower bound.
    "monthly": 30 * 24 * 60.0,
    "yearly": 365 * 24 * 60.0,
}


def _update_period(period: Any, frequency: Any) -> float | None:
    """Minutes between updates from sy:updatePeriod / sy:updateFrequency, None when absent
    or invalid. The module's defaults apply to whichever half is missing (daily, 1)."""
    period_text = str(period or "").strip().lower()
    frequency_text = str(frequency or "").strip()
    if not period_text and not frequency_text:
        return None
    period_minutes = _SY_PERIOD_MINUTES.get(period_text or "daily")
    if period_minutes is None:
        return None
    if not frequency_text:
        return period_minutes
    if not frequency_text.isdigit() or not 0 < int(frequency_text) < 10**6:
        return None
    return period_minutes / int(frequency_text)
