"""Properties that must hold for any input a feed can send (hypothesis): the functions that
read strangers' text are total (never raise), and identity does not depend on formatting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.errors import AggregatorError, StoreError
from aggregator.ingest.parse.feed import parse_feed
from aggregator.text import search
from aggregator.text.dates import parse_date
from aggregator.text.urls import canonicalize_url, is_http_url, valid_host

# Text as feeds send it: any code point, Hangul and hanja often, controls and surrogates too.
wild = st.text(
    alphabet=st.characters(blacklist_categories=())
    | st.sampled_from("가나다北美 :+-/.T0123456789"),
    max_size=80,
)


@settings(max_examples=400)
@given(wild)
def test_the_date_parser_never_raises_and_never_returns_a_naive_datetime(text: str) -> None:
    parsed = parse_date(text)
    assert parsed is None or parsed.tzinfo is not None


@settings(max_examples=300)
@given(wild)
def test_the_search_query_parser_and_tokenizer_are_total(text: str) -> None:
    # A query with nothing searchable is the documented StoreError (a clear message).
    try:
        terms = search.parse_query(text)
    except StoreError as exc:
        assert "nothing to search for" in str(exc) or "too long" in str(exc)
    else:
        assert terms and all(isinstance(t, str) and t for term in terms for t in term.tokens)
    assert all(t for t in search.tokens(text))


@settings(max_examples=300)
@given(wild)
def test_url_checks_and_canonicalization_are_total(text: str) -> None:
    canonical = canonicalize_url(text)
    assert canonicalize_url(canonical) == canonical
    ok = is_http_url(text)
    assert isinstance(ok, bool) and isinstance(valid_host(text), bool)


_title = st.text(
    alphabet=st.sampled_from("가나다라마 경제정책ABCabc0123&<>\"'"), min_size=1, max_size=30
)


def _item(guid: str, link: str, title: str, when: datetime, *, style: int) -> str:
    """One RSS item written in one of several equivalent ways: attribute order, quotes,
    whitespace, CDATA or entities."""
    from xml.sax.saxutils import escape

    stamp = when.strftime("%a, %d %b %Y %H:%M:%S +0000")
    escaped = escape(title, {'"': "&quot;"})
    if style == 0:
        return (
            f"<item><title>{escaped}</title><link>{link}</link>"
            f'<guid isPermaLink="false">{guid}</guid><pubDate>{stamp}</pubDate></item>'
        )
    if style == 1:
        return (
            f"<item>\n  <pubDate>  {stamp}  </pubDate>\n  <guid   isPermaLink='false' >"
            f"{guid}</guid>\n  <link>\n {link}\n</link>\n  <title><![CDATA[{title}]]></title>\n"
            "</item>"
        )
    return (
        f'<item><guid isPermaLink="false">  {guid}  </guid><title>{escaped}</title>'
        f"<link>{link}</link><pubDate>{stamp}</pubDate></item>"
    )


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 10_000), _title, st.integers(0, 100_000)),
        min_size=1,
        max_size=6,
        unique_by=lambda t: t[0],
    ),
    st.integers(0, 2),
    st.integers(0, 2),
)
def test_entry_identity_does_not_depend_on_how_the_xml_is_written(
    items: list[tuple[int, str, int]], first: int, second: int
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def document(style: int) -> bytes:
        body = "".join(
            _item(
                f"id-{n}",
                f"https://news.test/a/{n}",
                title,
                start + timedelta(minutes=m),
                style=style,
            )
            for n, title, m in items
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
            f"<link>https://news.test/</link>{body}</channel></rss>"
        ).encode()

    try:
        a = parse_feed(document(first), "https://news.test/rss.xml")
        b = parse_feed(document(second), "https://news.test/rss.xml")
    except AggregatorError as exc:  # pragma: no cover - a failure to report, not to hide
        raise AssertionError(f"a well-formed feed was refused: {exc}") from exc
    assert [e.key for e in a.entries] == [e.key for e in b.entries]
    assert [e.link for e in a.entries] == [e.link for e in b.entries]
    assert [e.published for e in a.entries] == [e.published for e in b.entries]
    assert [" ".join(e.title.split()) for e in a.entries] == [
        " ".join(e.title.split()) for e in b.entries
    ]
