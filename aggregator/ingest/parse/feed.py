"""Fetched bytes → :class:`~aggregator.models.ParsedFeed`: picks the parser by what the body
is. JSON Feed goes to :mod:`.jsonfeed`, everything else (RSS 0.9x/1.0/2.0, Atom) to
:mod:`.xmlfeed` (feedparser).
"""

from __future__ import annotations

from collections.abc import Mapping

from aggregator.ingest.parse.fields import limit_fields, lower_keys
from aggregator.ingest.parse.jsonfeed import parse_json_feed
from aggregator.ingest.parse.xmlfeed import parse_xml_feed
from aggregator.models import FieldLimits, ParsedFeed

__all__ = ["looks_like_json", "parse_feed"]


def parse_feed(
    body: bytes,
    url: str,
    headers: Mapping[str, str] | None = None,
    limits: FieldLimits | None = None,
) -> ParsedFeed:
    """Parse a fetched feed. ``headers`` are the HTTP response headers, names lower-cased.
    Fields longer than ``limits`` (default :class:`FieldLimits`) are cut, with a warning.

    Raises ParseError when ``body`` is not a feed (HTML page, error text, empty) or cannot
    be read at all. Ill-formed but usable feeds are returned, with ``warnings``.
    """
    lowered = lower_keys(headers)
    if looks_like_json(body, lowered.get("content-type", "")):
        parsed = parse_json_feed(body, url, lowered)
    else:
        parsed = parse_xml_feed(body, url, lowered)
    return limit_fields(parsed, limits or FieldLimits())


def looks_like_json(body: bytes, content_type: str = "") -> bool:
    """True when ``body`` should be read as JSON (Feed): it starts with ``{``, or it is
    neither obviously markup nor labelled anything but JSON."""
    head = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return True
    if head.startswith(b"<"):
        return False
    return "json" in content_type.lower()


# --- decoding -------------------------------------------------------------------------------
