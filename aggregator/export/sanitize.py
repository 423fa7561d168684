"""Making stored text safe to republish: HTML through an allow-list sanitizer, and every
string stripped of the characters XML cannot carry.

The HTML was sanitized once at extraction, but a generated feed is read by other programs
(feed readers, some of which render HTML in a web view) long after, and the extraction's rules
may change: the export sanitizes again, with nh3 (Rust's ammonia, a maintained allow-list
sanitizer, about ten times faster than a Python one on this size of input). Only structural
and text-level tags survive; no script, style, iframe, form or embed; no ``on*`` or ``style``
attribute; links and images keep only http(s) (and mailto for links) URLs, resolved against
the article's own link when relative.
"""

from __future__ import annotations

import html as html_lib
import re
from functools import partial

import nh3

from aggregator.terminal import clean
from aggregator.urls import absolute_url, is_http_url

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
    "q": {"cite"},
    "blockquote": {"cite"},
}
# Removed with their content: code, embedded documents and their fallbacks.
_DROP_WITH_CONTENT = frozenset(
    {"script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math"}
)
_URL_ATTRIBUTES = frozenset({"href", "src", "cite"})
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


def _url_filter(base: str | None, element: str, attribute: str, value: str) -> str | None:
    if attribute not in _URL_ATTRIBUTES:
        return value
    if element == "a" and value.strip().lower().startswith("mailto:"):
        return value.strip()
    resolved = absolute_url(base, value)
    # A relative link with no base to resolve it against would point into the reader.
    return resolved if resolved and is_http_url(resolved) else None


def sanitize_html(fragment: str, base_url: str | None = None) -> str:
    """``fragment`` with only allow-listed tags, attributes and URL schemes left."""
    if not fragment:
        return ""
    cleaned: str = nh3.clean(
        xml_safe(fragment),
        tags=set(_TAGS),
        clean_content_tags=set(_DROP_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in _ATTRIBUTES.items()},
        attribute_filter=partial(_url_filter, base_url),
        url_schemes=set(_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return cleaned.strip()


def html_to_text(fragment: str) -> str:
    """The text of an HTML fragment (a feed's summary), tags and scripts dropped."""
    if not fragment:
        return ""
    # Block ends become spaces first, or "<p>a</p><p>b</p>" would read "ab".
    spaced = _BLOCK_END.sub(" ", xml_safe(fragment))
    text = nh3.clean(spaced, tags=set(), clean_content_tags=set(_DROP_WITH_CONTENT), attributes={})
    return " ".join(html_lib.unescape(text).split())
