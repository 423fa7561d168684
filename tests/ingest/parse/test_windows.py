"""Huge feeds parsed a window of items at a time give exactly what parsing them whole gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from aggregator.ingest.parse import windows as windows_module
from aggregator.ingest.parse.windows import windows
from aggregator.ingest.parse.xmlfeed import parse_xml_feed

START = datetime(2026, 11, 1, tzinfo=UTC)
COUNT = 2600


def rss(count: int = COUNT, *, encoding: str = "utf-8") -> bytes:
    items = "".join(
        f"<item><title>경제 기사 {i} &amp; 정책</title><link>/a/{i}?utm_source=rss</link>"
        f'<guid isPermaLink="false">g{i}</guid><dc:creator>기자 {i % 7}</dc:creator>'
        f"<category>경제</category><category>정책{i % 3}</category>"
        f"<pubDate>{format_datetime(START + timedelta(minutes=i))}</pubDate>"
        f"<description><![CDATA[<p>요약 {i} <b>굵게</b></p><script>x()</script>]]></description>"
        f"<content:encoded><![CDATA[<p>본문 {i}</p><img src='/i/{i}.jpg'>]]></content:encoded>"
        "</item>"
        for i in range(count)
    )
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        "<channel><title>테스트일보 전체</title><link>https://news.test/</link>"
        f"<ttl>30</ttl><language>ko</language>{items}</channel></rss>"
    ).encode(encoding)


def atom(count: int = COUNT) -> bytes:
    entries = "".join(
        f'<entry><id>tag:news.test,2026:{i}</id><title type="html">기사 &lt;b&gt;{i}&lt;/b&gt;'
        f'</title><link rel="alternate" href="/a/{i}"/><updated>2026-11-01T09:{i % 60:02d}:00+09:00'
        f"</updated><author><name>기자</name></author><summary>요약 {i}</summary></entry>"
        for i in range(count)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"'
        ' xml:base="https://atom.test/"><title>아톰일보</title>'
        f'<link rel="alternate" href="https://atom.test/"/>{entries}</feed>'
    ).encode()


@pytest.mark.parametrize(
    "body", [rss(), atom(), rss(encoding="euc-kr")], ids=["rss", "atom", "euc-kr"]
)
def test_windowed_parse_equals_the_whole_parse(
    body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "https://news.test/rss.xml"
    windowed = parse_xml_feed(body, url)
    monkeypatch.setattr(windows_module, "WINDOWED_ABOVE", 10**9)
    whole = parse_xml_feed(body, url)
    assert len(whole.entries) == COUNT
    assert windowed.entries == whole.entries
    assert (windowed.title, windowed.link, windowed.language, windowed.ttl_minutes) == (
        whole.title,
        whole.link,
        whole.language,
        whole.ttl_minutes,
    )
    assert windowed.encoding == whole.encoding


def test_only_huge_well_formed_documents_without_a_dtd_are_cut() -> None:
    assert windows(rss(100)) is None  # few items
    cut = windows(rss())
    assert cut is not None and len(cut) == -(-COUNT // windows_module.WINDOW_ITEMS)
    assert all(part.startswith(b"<?xml") and b"<title>" in part for part in cut)
    broken = rss().replace(b"</channel>", b"")
    assert windows(broken) is None  # not well-formed: parsed whole, leniently
    with_dtd = rss().replace(b"<rss ", b'<!DOCTYPE rss [<!ENTITY x "y">]><rss ', 1)
    assert windows(with_dtd) is None


def test_an_entry_inside_an_item_is_content_not_an_item() -> None:
    nested = rss().replace(
        b"<description>", b"<extra><entry>not an item</entry></extra><description>", 1
    )
    cut = windows(nested)
    assert cut is not None
    assert sum(part.count(b"<item") for part in cut) == COUNT
