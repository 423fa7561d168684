"""Canonical links: tracking parameters, hosts, ports, raw characters, idempotence."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.text.urls import absolute_url, canonicalize_url, is_http_url, valid_host


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://News.Example.COM/Path", "http://news.example.com/Path"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        ("http://example.com", "http://example.com/"),
        ("http://example.com/a#section-2", "http://example.com/a"),
        ("http://example.com/a?utm_source=x&utm_medium=rss", "http://example.com/a"),
        (
            "http://news.khan.co.kr/kh_news/khan_art_view.html?artid=201804061932011&code=910100"
            "&utm_campaign=rss_btn_click&utm_source=khan_rss&utm_medium=rss&utm_content=total_news",
            "http://news.khan.co.kr/kh_news/khan_art_view.html?artid=201804061932011&code=910100",
        ),
        (
            "https://e.com/a?fbclid=1&b=2&gclid=3&a=1&dclid=4&msclkid=5&mc_cid=6&mc_eid=7"
            "&igshid=8&yclid=9&_ga=10&ref_src=11&spm=12&UTM_Term=13",
            "https://e.com/a?b=2&a=1",
        ),
        # Order and spelling of the kept parameters are the site's business.
        ("https://e.com/a?z=1&a=b+c&flag&x=%2F", "https://e.com/a?z=1&a=b+c&flag&x=%2F"),
        (
            "https://news.joins.com/article/23052225?cloc=rss|news|total_list",
            "https://news.joins.com/article/23052225?cloc=rss%7Cnews%7Ctotal_list",
        ),
        ("http://example.com/a b/c d?q=x y", "http://example.com/a%20b/c%20d?q=x%20y"),
        ("http://example.com/%7e%zz", "http://example.com/%7E%25zz"),
        ("http://한국일보.kr/기사", "http://xn--3e0bm80ac2h5no.kr/%EA%B8%B0%EC%82%AC"),
        ("  http://example.com/a\n", "http://example.com/a"),
        ("https://user:pw@Example.com/", "https://user:pw@example.com/"),
        ("http://[::1]:80/x", "http://[::1]/x"),
    ],
)
def test_canonicalize_url(raw: str, expected: str) -> None:
    assert canonicalize_url(raw) == expected


def test_canonicalize_keeps_unparseable_text() -> None:
    assert canonicalize_url("http://[::1/x") == "http://[::1/x"
    assert canonicalize_url("http://example.com:99999/") == "http://example.com:99999/"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com/", True),
        ("HTTPS://example.com", True),
        ("javascript:alert(1)", False),
        ("mailto:a@example.com", False),
        ("ftp://example.com/file", False),
        ("/relative/path", False),
        ("http://", False),
        ("", False),
        (None, False),
        ("http://[::1", False),
    ],
)
def test_is_http_url(url: str | None, expected: bool) -> None:
    assert is_http_url(url) is expected


def test_absolute_url_resolves_and_escapes_without_dropping_parameters() -> None:
    base = "https://www.example.com/rss/all.xml"
    assert absolute_url(base, "/img/a b.jpg?utm_source=x") == (
        "https://www.example.com/img/a%20b.jpg?utm_source=x"
    )
    assert absolute_url(base, "thumb.png") == "https://www.example.com/rss/thumb.png"
    assert absolute_url(base, "  ") is None
    assert absolute_url(base, None) is None


_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ0123456789-", min_size=1, max_size=12)
_segment = st.text(
    # Delimiters are excluded so that each generated part stays the part it was meant to be.
    alphabet=st.characters(
        codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="?#&=/"
    ),
    max_size=12,
)
_param = st.tuples(
    st.sampled_from(["utm_source", "fbclid", "id", "page", "a b", "q", "cloc", "_ga", "x|y"]),
    _segment,
)


@st.composite
def _urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https", "ftp", ""]))
    host = ".".join(draw(st.lists(_label, min_size=1, max_size=3)))
    if draw(st.booleans()):
        host = draw(st.sampled_from(["한국일보.kr", "Bücher.example", "xn--bcher-kva.example"]))
    port = draw(st.sampled_from(["", ":80", ":443", ":8080", ":"]))
    path = "/".join(draw(st.lists(_segment, max_size=4)))
    params = draw(st.lists(_param, max_size=4))
    query = "&".join(f"{k}={v}" for k, v in params)
    fragment = draw(_segment)
    url = f"{scheme}://{host}{port}/{path}"
    if query:
        url += "?" + query
    if fragment:
        url += "#" + fragment
    return url


@settings(max_examples=400)
@given(_urls())
def test_canonicalize_is_idempotent_on_url_shapes(url: str) -> None:
    once = canonicalize_url(url)
    assert canonicalize_url(once) == once
    assert "utm_source=" not in once
    assert "#" not in once


@settings(max_examples=400)
@given(st.text(max_size=60))
def test_canonicalize_is_idempotent_on_any_text(text: str) -> None:
    once = canonicalize_url(text)
    assert canonicalize_url(once) == once


@settings(max_examples=200)
@given(st.text(max_size=40).map(lambda s: "http://example.com/" + s))
def test_canonicalize_is_idempotent_after_a_real_host(url: str) -> None:
    once = canonicalize_url(url)
    assert canonicalize_url(once) == once
    assert once.isascii()


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://www.yna.co.kr/rss/news.xml", True),
        ("http://한국.kr/", True),
        ("http://xn--3e0b707e.kr/", True),
        ("http://[::1]:8080/", True),
        ("http://xn--a-.example/x", False),  # an A-label that does not decode
        ("http://bad host.example/", False),
        ("http://x.example/a\x07b", False),
        ("http://x.example:99999/", False),
        ("http://" + "a" * 64 + ".example/", False),  # a label over 63 characters
    ],
)
def test_is_http_url_checks_the_host_as_the_client_will(url: str, ok: bool) -> None:
    assert is_http_url(url) is ok


def test_valid_host() -> None:
    assert valid_host("news.example.com") and valid_host("한국.kr") and valid_host("127.0.0.1")
    assert not valid_host("xn--a-.example") and not valid_host("a..b") and not valid_host("")
