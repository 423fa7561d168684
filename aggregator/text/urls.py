"""Canonical forms of the links found in feeds, so one article has one identity.

``canonicalize_url`` lower-cases scheme and host, converts the host to IDNA, drops the
default port and the fragment, removes tracking parameters (``utm_*``, ``fbclid``, ...) while
keeping every other parameter in its order and spelling, and percent-encodes what may not
stand raw in a URL (spaces, ``|``, non-ASCII, stray ``%``). It is idempotent.

What it does not do: fetch anything, follow redirects, sort or decode query parameters,
remove dot segments from paths, drop ``www.``, or apply site-specific rules (JoongAng's
``cloc=`` click-location parameter, for one, is kept). Those change which page is named,
or need knowledge of the site; a canonical link must never point elsewhere than the original.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import SplitResult, quote, unquote, urljoin, urlsplit

from aggregator.text.charset import replace_surrogates

__all__ = [
    "TRACKING_PARAMS",
    "absolute_url",
    "canonicalize_url",
    "first_http_url",
    "is_http_url",
    "parse_listen",
]

# Names compared lower-cased. Only parameters that never select content belong here.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "srsltid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "_openstat",
        "mkt_tok",
        "ref_src",
        "ref_url",
        "spm",
        "scm",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "vero_conv",
        "rb_clickid",
        "wickedid",
        "napm",  # Naver search-ad click marker (NaPm)
    }
)
_TRACKING_PREFIXES = ("utm_", "hsa_", "pk_", "mtm_")

_DEFAULT_PORTS = {"http": 80, "https": 443}

# Characters left as they are in each part; everything else is percent-encoded.
# "%" is kept so existing escapes survive; stray ones are fixed by _fix_percent first.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = "/%:@!$&'()*+,;=?-._~"
_HOST_SAFE = "-._~!$&'()*+,;=:"
_USERINFO_SAFE = "%:!$&'()*+,;=-._~"
_NETLOC_SAFE = "%:@!$&'()*+,;=[]-._~"
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def is_http_url(url: str | None) -> bool:
    """True for an absolute http(s) URL with a valid host and no spaces or control
    characters: what the fetcher can request. Checked where URLs enter (config, OPML, feed
    links), so that one bad link never reaches the fetcher."""
    if not url:
        return False
    text = url.strip()
    if _UNSAFE_URL_CHARACTER.search(text):
        return False
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return False
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return False
    return valid_host(parts.hostname)


# Whitespace and C0/C1 controls may not stand raw in a URL (RFC 3986); browsers strip some,
# servers reject the rest, and httpx raises on them.
_UNSAFE_URL_CHARACTER = re.compile(r"[\x00-\x20\x7f-\x9f]")


def valid_host(host: str) -> bool:
    """Whether ``host`` is a name or address the HTTP client accepts: an IP literal, or
    labels that encode as IDNA 2008 (UTS 46), A-labels (``xn--``) that decode. Our own check
    with the ``idna`` package httpx itself uses, so a host we accept is one it accepts."""
    import idna

    host = host.rstrip(".")
    if not host or len(host) > 253:
        return False
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host.strip("[]"))
        return True
    try:
        if host.isascii():
            for label in host.split("."):
                if not label or len(label) > 63:
                    return False
                if label.lower().startswith("xn--"):
                    idna.decode(label)
        else:
            idna.encode(host, uts46=True)
    except (idna.IDNAError, UnicodeError, ValueError):
        return False
    return True


def absolute_url(base: str | None, ref: str | None) -> str | None:
    """``ref`` resolved against ``base``, or None when empty or unresolvable.

    Escapes what may not stand raw but does not otherwise change the URL: image URLs and
    the like may be signed, so no parameter is dropped here.
    """
    if ref is None or not ref.strip():
        return None
    try:
        joined = urljoin(replace_surrogates(base or ""), replace_surrogates(ref.strip()))
    except ValueError:
        return None
    return _escape_parts(joined)


def canonicalize_url(url: str) -> str:
    """The canonical form of ``url`` (see the module docstring). Never raises.

    >>> canonicalize_url("HTTP://News.Example.COM:80/a b?utm_source=x&id=3#top")
    'http://news.example.com/a%20b?id=3'
    """
    text = replace_surrogates(url.strip())
    try:
        parts = urlsplit(text)
        netloc = _canonical_netloc(parts)
    except ValueError:
        # Unparseable (an unclosed IPv6 bracket, a bad port): keep it, escaped, as it came.
        return _fix_percent(quote(text, safe=_PATH_SAFE + "?#[]"))
    scheme = parts.scheme.lower()
    path = _escape(parts.path, _PATH_SAFE)
    if netloc and not path:
        path = "/"
    query = _strip_tracking(parts.query)
    return _join(scheme, netloc, path, query)


def _canonical_netloc(parts: SplitResult) -> str:
    host = parts.hostname or ""
    if not host:
        return _escape(parts.netloc, _NETLOC_SAFE)
    host = _idna(host)
    if ":" in host:
        host = f"[{host}]"
    port = parts.port  # raises ValueError for a non-numeric or out-of-range port
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    netloc = f"{_escape(userinfo, _USERINFO_SAFE)}@{host}" if userinfo else host
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        netloc = f"{netloc}:{port}"
    return netloc


def _idna(host: str) -> str:
    host = unquote(host).lower().rstrip(".") or host.lower()
    if not host.isascii():
        # Not a valid IDN (a label too long, say): percent-encoding below will do.
        with contextlib.suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
    return _escape(host, _HOST_SAFE)


def _strip_tracking(query: str) -> str:
    kept = []
    for pair in query.split("&"):
        if not pair:
            continue
        name = unquote(pair.partition("=")[0]).strip().lower()
        if name in TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES):
            continue
        kept.append(_escape(pair, _QUERY_SAFE))
    return "&".join(kept)


def _escape(part: str, safe: str) -> str:
    return _upper_escapes(quote(_fix_percent(part), safe=safe))


def _escape_parts(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return _fix_percent(quote(url, safe=_PATH_SAFE + "?#[]"))
    netloc = parts.netloc
    if parts.hostname and not parts.hostname.isascii():
        try:
            netloc = _canonical_netloc(parts)
        except ValueError:
            netloc = _escape(netloc, _NETLOC_SAFE)
    joined = _join(
        parts.scheme, netloc, _escape(parts.path, _PATH_SAFE), _escape(parts.query, _QUERY_SAFE)
    )
    if parts.fragment:
        joined += "#" + _escape(parts.fragment, _QUERY_SAFE)
    return joined


def _join(scheme: str, netloc: str, path: str, query: str) -> str:
    # Built by hand: urlunsplit drops an empty netloc's "//" and so is not idempotent.
    text = f"{scheme}:" if scheme else ""
    if netloc or scheme in _DEFAULT_PORTS or path.startswith("//"):
        text += "//" + netloc
        if path and not path.startswith("/"):
            path = "/" + path
    text += path
    if query:
        text += "?" + query
    return text


def _fix_percent(text: str) -> str:
    return _STRAY_PERCENT.sub("%25", text)


def _upper_escapes(text: str) -> str:
    return _ESCAPE.sub(lambda match: match.group(0).upper(), text)


def first_http_url(base: str | None, candidates: Iterable[str | None]) -> str | None:
    """The first candidate that resolves against ``base`` to an http(s) URL."""
    for candidate in candidates:
        url = absolute_url(base, candidate)
        if url and is_http_url(url):
            return url
    return None


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8080`` for IPv6) → (host, port). Raises ValueError."""
    text = value.strip()
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([^:\[\]\s]+):(\d{1,5})", text)
    if not match:
        raise ValueError(f"{value!r} is not host:port (e.g. 127.0.0.1:8080 or [::1]:8080)")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    if port > 65535:
        raise ValueError(f"port {port} out of range")
    return host, port
