"""Making stored text safe to republish: HTML through an allow-list sanitizer, and every
string stripped of the characters XML cannot carry.

The HTML was sanitized once at extraction, but a generated feed is read by other programs
(feed readers, some of which render HTML in a web view) long after, and the extraction's rules
may change: the export sanitizes again, with nh3 (Rust's ammonia, a maintained allow-list
sanitizer, about ten times faster than a Python one on this size of input). Only structural
and text-level tags survive; no script, style, iframe, form or embed; no ``on*`` or ``style``
attribute; links and images keep only http(s) (and mailto for links) URLs, resolved against
the article's own link when relative. The cleaners are built once (the configuration is
converted for Rust on construction, which costs more than cleaning an article).
"""

from __future__ import annotations

import html as html_lib
import re
from typing import Any

import nh3

from aggregator.text.terminal import clean
from aggregator.text.urls import is_http_url

__all__ = ["html_to_text", "sanitize_html", "xml_safe"]

_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "dfn",
        "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6",
        "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small",
        "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time",
        "tr", "u", "ul",
    }
)  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "time": {"datetime"},
}
# Removed with their content: code, embedded documents and their fallbacks.
_DROP_WITH_CONTENT = frozenset(
    {"script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math"}
)
_SCHEMES = {"http", "https", "mailto"}

# Characters XML 1.0 cannot carry (C0 controls but TAB/LF/CR, lone surrogates, U+FFFE/FFFF),
# and the C1 controls and DEL it discourages: lxml refuses the former, readers choke on both.
_NOT_XML = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


_BLOCK_END = re.compile(r"<(?:br|/p|/div|/li|/h[1-6]|/blockquote|/tr)\b[^>]*>", re.IGNORECASE)


def xml_safe(text: str | None) -> str:
    """``text`` without the characters an XML document cannot (or should not) carry, and
    without terminal escape sequences (removed whole, so that no ``[2J`` remains of a
    clear-screen) or bidi overrides: terminal readers (newsboat) print these fields."""
    if not text:
        return ""
    return _NOT_XML.sub("", clean(text))


def _xml_chars(fragment: str) -> str:
    """:func:`xml_safe` for HTML, fast on the usual clean input (a thousand articles' HTML
    goes through it on every rendering)."""
    if "\x1b" in fragment or "\x9b" in fragment:
        fragment = clean(fragment)
    return _NOT_XML.sub("", fragment)


def _cleaner(url_relative: Any) -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(_TAGS),
        clean_content_tags=set(_DROP_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in _ATTRIBUTES.items()},
        url_schemes=set(_SCHEMES),
        url_relative=url_relative,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


# Built once: HTML whose links are all absolute (extraction resolves them) needs nothing
# article-specific. A relative link without a base to resolve it would point into the reader,
# so this one drops them.
_ABSOLUTE = _cleaner("deny")
_TEXT_ONLY = nh3.Cleaner(tags=set(), clean_content_tags=set(_DROP_WITH_CONTENT), attributes={})
# The value of an href or src attribute (as our extraction writes them: lower-case names).
_URL_VALUE = re.compile(r"""(?:href|src)=["']?([^"'\s>]*)""")


def _has_relative_url(fragment: str) -> bool:
    return any(
        not m.group(1).startswith(("http://", "https://", "mailto:"))
        for m in _URL_VALUE.finditer(fragment)
    )


def sanitize_html(fragment: str, base_url: str | None = None) -> str:
    """``fragment`` with only allow-listed tags, attributes and URL schemes left; relative
    links and images resolved against ``base_url`` (the article's link)."""
    if not fragment:
        return ""
    text = _xml_chars(fragment)
    cleaner = _ABSOLUTE
    if base_url and _has_relative_url(text) and is_http_url(base_url):
        cleaner = _cleaner(("rewrite_with_base", base_url))
    cleaned: str = cleaner.clean(text)
    return cleaned.strip()


def html_to_text(fragment: str) -> str:
    """The text of an HTML fragment (a feed's summary), tags and scripts dropped."""
    if not fragment:
        return ""
    # Block ends become spaces first, or "<p>a</p><p>b</p>" would read "ab".
    text = _TEXT_ONLY.clean(_BLOCK_END.sub(" ", _xml_chars(fragment)))
    return xml_safe(" ".join(html_lib.unescape(text).split()))
