"""Decoding of fetched bytes, with the Korean corrections the libraries lack.

Why our own code: Korean servers label CP949 content as ``euc-kr`` (or ``ks_c_5601-1987``).
Python's ``euc_kr`` codec is strict KS X 1001, so the first CP949-only syllable (똠, 햏, 뷁)
makes it fail, and feedparser 6.0.14 then falls back to windows-1252 and garbles the whole
feed. WHATWG's Encoding Standard maps all these labels to windows-949, and so do we.
Detection of undeclared encodings is charset-normalizer's job; this module only decides the
order in which the candidates are tried.
"""

from __future__ import annotations

import codecs
import re

__all__ = [
    "bom_encoding",
    "charset_from_content_type",
    "codec_for_label",
    "decode_bytes",
    "html_meta_charset",
    "replace_surrogates",
    "xml_declared_encoding",
]

# Every label that WHATWG maps to the windows-949 superset.
_KOREAN_LABELS = frozenset(
    {
        "euc-kr",
        "euckr",
        "euc_kr",
        "cseuckr",
        "csksc56011987",
        "iso-ir-149",
        "korean",
        "ks_c_5601-1987",
        "ks_c_5601-1989",
        "ks_c_5601",
        "ksc5601",
        "ksc_5601",
        "ksc-5601",
        "windows-949",
        "x-windows-949",
        "cp949",
        "ms949",
        "uhc",
    }
)

# Latin-1 is never really Latin-1 on the web: browsers decode it as windows-1252.
_ALIASES = {"iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "cp1252"}

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_CT_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9_.:+-]+)""", re.IGNORECASE)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9_.:+-]+)["']""")
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:+-]+)""", re.IGNORECASE
)


def codec_for_label(label: str | None) -> str | None:
    """Python codec name for a declared charset label, or None if unknown/absent.

    >>> codec_for_label("EUC-KR")
    'cp949'
    """
    if not label:
        return None
    normalized = label.strip().strip("\"'").lower()
    if normalized in _KOREAN_LABELS:
        return "cp949"
    normalized = _ALIASES.get(normalized, normalized)
    try:
        return codecs.lookup(normalized).name
    except LookupError:
        return None


def charset_from_content_type(content_type: str | None) -> str | None:
    """The raw ``charset=`` label of a Content-Type header value, if any."""
    if not content_type:
        return None
    match = _CT_CHARSET.search(content_type)
    return match.group(1) if match else None


def xml_declared_encoding(head: bytes) -> str | None:
    """The ``encoding`` of an XML declaration at the start of ``head`` (ASCII-compatible only)."""
    match = _XML_DECL.match(head[:1024])
    return match.group(1).decode("ascii") if match else None


def html_meta_charset(head: bytes) -> str | None:
    """The charset of ``<meta charset>`` or ``<meta http-equiv content=...charset=>``."""
    match = _META_CHARSET.search(head[:8192])
    return match.group(1).decode("ascii", "replace") if match else None


def bom_encoding(body: bytes) -> str | None:
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    return None


def _detect(body: bytes) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(body[:200_000]).best()
    if best is None:
        return None
    return codec_for_label(best.encoding)


def decode_bytes(body: bytes, declared: list[str | None]) -> tuple[str, str]:
    """Decode ``body`` and return ``(text, codec)``.

    Order: a BOM; then each declared label (HTTP header first, then the document's own
    declaration) if it decodes strictly; then UTF-8; then detection; last, CP949 with
    replacement characters, since Korean is what we expect to be reading.
    """
    bom = bom_encoding(body)
    if bom:
        return body.decode(bom, errors="replace"), bom.removesuffix("-sig")
    tried: list[str] = []
    for label in declared:
        codec = codec_for_label(label)
        if codec is None or codec in tried:
            continue
        tried.append(codec)
        try:
            return body.decode(codec), codec
        except UnicodeDecodeError:
            continue
    if "utf-8" not in tried:
        try:
            return body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    detected = _detect(body)
    if detected and detected not in tried:
        try:
            return body.decode(detected), detected
        except UnicodeDecodeError:
            pass
    # Nothing decodes cleanly: take the likeliest and keep going with U+FFFD.
    fallback = "cp949"
    return body.decode(fallback, errors="replace"), fallback


_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_surrogates(value: str) -> str:
    """``value`` with lone surrogates as U+FFFD. A JSON feed may escape them (``"\\ud800"``)
    and feedparser's loose parser passes ``&#xD800;`` through; no encoder takes them, so one
    would fail every later step (percent-escaping, tagging, SQLite, exports). A scan, not a
    re-encoding: nearly every text has none, and this runs on every field of every entry."""
    if value.isascii() or not _SURROGATE.search(value):
        return value
    return _SURROGATE.sub("\ufffd", value)
