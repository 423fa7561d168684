"""OPML: reading other readers' exports (Miniflux, FreshRSS, newsboat, Feedly, Inoreader,
OPML 1.0, EUC-KR), refusing hostile XML, planning an import against the config, writing
config.yaml without disturbing it, and the round trip import(export(x)) == x."""

from __future__ import annotations

import string
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.cli import cli
from aggregator.config.schema import load_config, parse_config
from aggregator.errors import ExportError
from aggregator.export.opml import OpmlFeed, parse, unparse
from aggregator.export.opml_import import PlannedFeed, apply_import, insert_feeds, plan_import
from tests.paths import DATA

DATA = DATA / "opml"

TAGS: dict[str, Any] = {
    "politics": {"labels": {"ko": "정치", "en": "Politics"}},
    "north-korea": {"labels": {"ko": "북한", "en": "North Korea"}, "aliases": ["NK"]},
    "economy": {"labels": {"ko": "경제", "en": "Economy"}, "aliases": ["Business"]},
    "society": {"labels": {"ko": "사회", "en": "Society"}},
    "world": {"labels": {"ko": "세계", "en": "World"}, "aliases": ["국제"]},
    "it-science": {"labels": {"ko": "IT과학", "en": "IT & Science"}},
}

CONFIG_TEXT = """\
# My aggregator config — comments must survive an import.
retention:
  keep_days: 30   # a month is enough

tags:
  politics:
    labels: {ko: 정치, en: Politics}
  north-korea:
    labels: {ko: 북한, en: North Korea}
    aliases: [NK]
  economy:
    labels: {ko: 경제, en: Economy}
    keywords: [코스피, 코스닥, 환율, 기준금리,
               KOSPI, KOSDAQ]
    aliases: [Business]
  society:
    labels: {ko: 사회, en: Society}
  world:
    labels: {ko: 세계, en: World}
    aliases: [국제]
  it-science:
    labels: {ko: IT과학, en: IT & Science}

feeds:
  # Yonhap, by section.
  - {url: "https://www.yna.co.kr/rss/politics.xml", title: "연합뉴스 정치", tags: [politics]}
  - {url: "https://www.hani.co.kr/rss/", title: "한겨레 전체"}

# Written by hand; keep.
display:
  timezone: Asia/Seoul
"""


def config(feeds: list[dict[str, Any]] | None = None) -> Any:
    return parse_config({"tags": TAGS, "feeds": feeds or []})


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


# -- reading ---------------------------------------------------------------------------------


def test_miniflux_folders() -> None:
    doc = parse(read("miniflux.opml"))
    assert doc.title == "Miniflux" and doc.version == "2.0"
    assert [(f.url, f.title, f.folders) for f in doc.feeds] == [
        ("https://www.yna.co.kr/rss/politics.xml", "연합뉴스 정치", ("정치",)),
        ("https://www.hani.co.kr/rss/politics/", "한겨레 정치", ("정치",)),
        ("https://www.dailynk.com/feed/", "데일리NK", ("All",)),
    ]
    assert doc.feeds[0].site_url == "https://www.yna.co.kr/politics/all"
    assert doc.skipped == ()


def test_freshrss_namespaced_attributes_and_non_rss_outlines() -> None:
    doc = parse(read("freshrss.opml"))
    urls = [f.url for f in doc.feeds]
    assert "https://www.mk.co.kr/rss/30000001/" in urls
    assert doc.feeds[0].folders == ("Economy",) and doc.feeds[0].title == "매일경제 헤드라인"
    # FreshRSS's HTML+XPath scraper has an xmlUrl, but names a web page: not a feed
    assert "https://example.org/news" not in urls
    assert [(s.what, s.reason) for s in doc.skipped] == [
        ("Kuerzlich", "not a feed (type=HTML+XPath)")
    ]


def test_newsboat_opml1_flat_with_categories() -> None:
    doc = parse(read("newsboat.opml"))
    assert doc.version == "1.0"
    first = doc.feeds[0]
    assert first.title == "연합뉴스 경제" and first.folders == ()
    assert first.categories == ("economy", "korea")
    # the title that is only the URL is no title
    assert doc.feeds[-1].title is None and doc.feeds[-1].url == "exec:~/bin/scrape-site.sh"


def test_feedly_duplicates_per_folder_and_empty_folder() -> None:
    doc = parse(read("feedly.opml"))
    assert [f.folders for f in doc.feeds] == [("World",), ("World",), ("North Korea",)]
    assert doc.skipped[0].what == "Reading list" and doc.skipped[0].reason == "no xmlUrl"


def test_inoreader_nested_folders_and_links() -> None:
    doc = parse(read("inoreader.opml"))
    assert doc.feeds[0].folders == ("뉴스", "사회")
    assert doc.feeds[1].folders == ("뉴스",)
    [link] = doc.skipped
    assert link.what == "Inoreader blog" and link.reason == "not a feed (type=link)"


def test_euc_kr_declared_in_the_prolog_with_cp949_syllables() -> None:
    doc = parse(read("euc-kr.opml"))
    assert doc.title == "한국 뉴스"
    assert doc.feeds[0].title == "경향신문 똠" and doc.feeds[0].folders == ("정치",)


def test_utf16_with_bom() -> None:
    text = '<?xml version="1.0" encoding="UTF-16"?><opml version="2.0"><body>'
    text += '<outline text="북한 뉴스" xmlUrl="https://a.example/nk.xml"/></body></opml>'
    doc = parse(text.encode("utf-16"))
    assert doc.feeds[0].title == "북한 뉴스"


def test_lower_case_attribute_names() -> None:
    doc = parse(b'<opml><body><outline TEXT="x" xmlurl="https://a.example/f"/></body></opml>')
    assert doc.feeds[0].url == "https://a.example/f" and doc.feeds[0].title == "x"


def test_deep_nesting_does_not_recurse() -> None:
    depth = 5000
    body = '<outline text="d">' * depth + '<outline xmlUrl="https://a.example/deep"/>'
    body += "</outline>" * depth
    doc = parse(f"<opml><body>{body}</body></opml>".encode())
    assert doc.feeds[0].url == "https://a.example/deep" and len(doc.feeds[0].folders) == depth


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html><body/></html>", "root element is <html>"),
        (b"<opml><head/></opml>", "no <body>"),
        (b"<opml><body><outline></body></opml>", "not a well-formed"),
        (b"", "not a well-formed"),
    ],
)
def test_not_opml(data: bytes, message: str) -> None:
    with pytest.raises(ExportError, match=message):
        parse(data)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE opml [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<opml version="2.0"><body><outline text="&lol9;" xmlUrl="https://a.example/f"/></body></opml>
"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><body><outline text="&xxe;" xmlUrl="https://a.example/f"/></body></opml>
"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE opml SYSTEM "http://127.0.0.1:9/evil.dtd">
<opml version="2.0"><body><outline text="x" xmlUrl="https://a.example/f"/></body></opml>
"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]>
<opml version="2.0"><body/></opml>
"""


@pytest.mark.parametrize(
    "data",
    [BILLION_LAUGHS, XXE, EXTERNAL_DTD, PARAMETER_ENTITY],
    ids=["billion-laughs", "xxe", "external-dtd", "parameter-entity"],
)
def test_hostile_xml_is_refused_with_a_clear_error(data: bytes) -> None:
    with pytest.raises(ExportError, match="refusing this OPML file"):
        parse(data)
    # also when the attack is hidden in another encoding
    utf16 = data.decode().replace(
        '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>'
    )
    with pytest.raises(ExportError, match="refusing this OPML file"):
        parse(utf16.encode("utf-16"))


def test_oversized_file_is_refused() -> None:
    from aggregator.export import opml

    with pytest.raises(ExportError, match="larger than"):
        parse(b" " * (opml.MAX_OPML_BYTES + 1))


# -- planning an import ----------------------------------------------------------------------


def test_plan_maps_folders_labels_aliases_and_categories_to_tags() -> None:
    plan = plan_import(parse(read("newsboat.opml")), config())
    by_url = {f.url: f for f in plan.added}
    assert by_url["https://www.yna.co.kr/rss/economy.xml"].tags == ("economy",)
    assert by_url["https://feeds.feedburner.com/zdkorea"].tags == ("it-science",)
    assert "korea" in plan.unmatched
    assert [(s.what, s.reason) for s in plan.skipped] == [
        ("exec:~/bin/scrape-site.sh", "not an http(s) URL")
    ]

    miniflux = plan_import(parse(read("miniflux.opml")), config())
    assert [f.tags for f in miniflux.added] == [("politics",), ("politics",), ()]
    assert miniflux.unmatched == ("All",)

    inoreader = plan_import(parse(read("inoreader.opml")), config())
    assert inoreader.added[0].tags == ("society",)  # the inner folder 사회 (a ko label)
    assert inoreader.unmatched == ("뉴스",)


def test_plan_merges_a_feed_listed_in_several_folders() -> None:
    plan = plan_import(parse(read("feedly.opml")), config())
    yonhap = [f for f in plan.added if "en.yna" in f.url]
    assert len(yonhap) == 1 and yonhap[0].tags == ("north-korea", "world")
    assert any("listed again" in s.reason for s in plan.skipped)


def test_plan_skips_feeds_already_configured_also_after_canonicalization() -> None:
    existing = config(
        [
            {"url": "https://www.yna.co.kr/rss/society.xml", "tags": ["society"]},
            {"url": "https://news.sbs.co.kr/news/newsflashRssFeed.do?plink=RSSREADER"},
        ]
    )
    plan = plan_import(parse(read("inoreader.opml")), existing)
    assert plan.added == ()
    reasons = {s.what: s.reason for s in plan.skipped}
    # upper-case host and a fragment: the same feed
    assert reasons["HTTPS://WWW.YNA.CO.KR/rss/society.xml#latest"] == (
        "already in the config as https://www.yna.co.kr/rss/society.xml"
    )


def test_plan_skips_in_file_duplicates_after_canonicalization() -> None:
    data = b"""<opml version="2.0"><body>
    <outline text="A" xmlUrl="https://a.example/rss/?utm_source=x"/>
    <outline text="B" xmlUrl="https://A.example/rss"/>
    </body></opml>"""
    plan = plan_import(parse(data), config(), extra_tags=("world",))
    assert [(f.url, f.title, f.tags) for f in plan.added] == [
        ("https://a.example/rss/?utm_source=x", "A", ("world",))
    ]
    assert "same feed as https://a.example/rss/?utm_source=x" in plan.skipped[0].reason


# -- writing config.yaml ---------------------------------------------------------------------


def test_apply_keeps_comments_order_and_formatting(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG_TEXT, encoding="utf-8")
    plan = plan_import(parse(read("feedly.opml")), load_config(path))
    apply_import(path, plan, note="Imported from feedly.opml (OPML)")
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    # the new entries sit right after the last feed, in the same one-line style
    last = lines.index('  - {url: "https://www.hani.co.kr/rss/", title: "한겨레 전체"}\n')
    assert lines[last + 1] == "  # Imported from feedly.opml (OPML)\n"
    assert lines[last + 2].startswith('  - {url: "https://en.yna.co.kr/RSS/news.xml"')
    assert lines[last + 3].startswith('  - {url: "https://feed.koreatimes.co.kr/')
    # and every other byte of the file is as it was: comments, order, line breaks
    assert "".join(lines[: last + 1] + lines[last + 4 :]) == CONFIG_TEXT
    loaded = load_config(path)
    assert [f.url for f in loaded.feeds][2:] == [
        "https://en.yna.co.kr/RSS/news.xml",
        "https://feed.koreatimes.co.kr/k/allnews.xml",
    ]
    assert loaded.feeds[2].tags == ("north-korea", "world")
    assert loaded.feeds[2].title == "Yonhap News Agency"
    assert loaded.display.timezone == "Asia/Seoul" and loaded.retention.keep_days == 30


def test_apply_block_style_list(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "tags:\n  world: {}\nfeeds:\n- url: https://a.example/rss\n  title: A\n  tags:\n"
        "  - world\n# trailing comment\n",
        encoding="utf-8",
    )
    plan = plan_import(
        parse(b'<opml><body><outline text="yes" xmlUrl="https://b.example/f"/></body></opml>'),
        load_config(path),
        extra_tags=("world",),
    )
    apply_import(path, plan, note="imported")
    text = path.read_text(encoding="utf-8")
    assert '- url: "https://b.example/f"\n  title: "yes"\n  tags: ["world"]\n' in text
    assert text.endswith("# trailing comment\n")
    loaded = load_config(path)
    assert loaded.feeds[1].title == "yes"  # quoted: never read as a boolean


@pytest.mark.parametrize(
    "text",
    [
        "tags: {}\n",
        "tags: {}\nfeeds: []\n",
        "tags: {}\nfeeds:\n",
        'tags: {}\nfeeds: [{url: "https://x.example/f"}]\n',
        "tags: {}\nfeeds:\n  - url: https://x.example/f\n    title: X",  # no final newline
    ],
)
def test_insert_into_any_shape_of_feeds(text: str) -> None:
    new = PlannedFeed("https://new.example/rss", '새 피드 "따옴표" #1: yes', ("x",), "ko")
    updated = insert_feeds(text, [new], "imported")
    data = yaml.safe_load(updated)
    assert data["feeds"][-1] == {
        "url": "https://new.example/rss",
        "title": '새 피드 "따옴표" #1: yes',
        "tags": ["x"],
        "language": "ko",
    }
    assert updated.startswith("tags: {}\n") and " \n" not in updated


def test_apply_refuses_what_would_break_the_config(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("tags: {}\nfeeds: []\n", encoding="utf-8")
    plan = plan_import(
        parse(b'<opml><body><outline xmlUrl="https://a.example/f"/></body></opml>'),
        load_config(path),
    )
    bad = type(plan)(added=(PlannedFeed("https://a.example/f", tags=("nope",)),))
    with pytest.raises(ExportError, match="unchanged"):
        apply_import(path, bad, note="x")
    assert path.read_text(encoding="utf-8") == "tags: {}\nfeeds: []\n"


# -- the round trip --------------------------------------------------------------------------

TAG_NAMES = list(TAGS)
_host = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=12)
_path = st.text(string.ascii_lowercase + string.digits + "-_/", max_size=20)
# Titles as aggregator keeps them: NFC, one line, no control or bidi-format characters (the
# importer, like every reader of untrusted text here, normalizes them so).
_title = (
    st.text(
        st.characters(
            blacklist_categories=("Cs", "Cc", "Cf", "Zl", "Zp"),
            blacklist_characters="\ufffe\uffff",
        ),
        min_size=1,
        max_size=40,
    )
    .map(lambda t: unicodedata.normalize("NFC", " ".join(t.split())))
    .filter(bool)
)
_feed = st.builds(
    lambda host, path, title, tags, language: PlannedFeed(
        url=f"https://{host}.example/{path}",
        title=title,
        tags=tuple(t for t in TAG_NAMES if t in tags),
        language=language,
    ),
    _host,
    _path,
    st.none() | _title,
    st.sets(st.sampled_from(TAG_NAMES)),
    st.none() | st.sampled_from(["ko", "en", "ko-KR"]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_feed, max_size=12, unique_by=lambda f: f.url.rstrip("/").lower()))
def test_import_of_export_gives_the_feeds_back(feeds: list[PlannedFeed]) -> None:
    from aggregator.export.items import tag_labels

    cfg = config()
    exported = unparse(
        [OpmlFeed(f.url, f.title, None, (), f.tags, f.language) for f in feeds],
        title="aggregator",
        tag_labels=tag_labels(cfg),
    )
    plan = plan_import(parse(exported), cfg)
    assert sorted(plan.added, key=lambda f: f.url) == sorted(feeds, key=lambda f: f.url)
    assert plan.unmatched == ()


def test_cli_export_then_import_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGGREGATOR_DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    source = tmp_path / "source.yaml"
    source.write_text(CONFIG_TEXT, encoding="utf-8")
    runner = CliRunner()
    out = tmp_path / "feeds.opml"
    result = runner.invoke(cli, ["export", "opml", "--config", str(source), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert b'<outline text="\xec\xa0\x95\xec\xb9\x98"' in out.read_bytes()  # 정치 folder

    target = tmp_path / "target.yaml"
    target.write_text(CONFIG_TEXT.split("feeds:")[0] + "feeds: []\n", encoding="utf-8")
    dry = runner.invoke(cli, ["import", "opml", str(out), "--config", str(target), "--dry-run"])
    assert dry.exit_code == 0 and "would add 2 feeds" in dry.output
    assert "feeds: []" in target.read_text(encoding="utf-8")
    result = runner.invoke(cli, ["import", "opml", str(out), "--config", str(target)])
    assert result.exit_code == 0, result.output
    assert "added 2 feeds" in result.output and "[politics]" in result.output
    before = [(f.url, f.title, f.tags) for f in load_config(source).feeds]
    after = [(f.url, f.title, f.tags) for f in load_config(target).feeds]
    assert after == before
    again = runner.invoke(cli, ["import", "opml", str(out), "--config", str(target)])
    assert "added 0 feeds" in again.output and "already in the config" in again.output


def test_cli_import_refuses_hostile_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG_TEXT, encoding="utf-8")
    bomb = tmp_path / "bomb.opml"
    bomb.write_bytes(BILLION_LAUGHS)
    result = CliRunner().invoke(cli, ["import", "opml", str(bomb), "--config", str(path)])
    assert result.exit_code == 1
    assert "refusing this OPML file" in result.output
    assert path.read_text(encoding="utf-8") == CONFIG_TEXT
    unknown = CliRunner().invoke(
        cli, ["import", "opml", str(bomb), "--config", str(path), "--tag", "nope"]
    )
    assert unknown.exit_code == 2 and "not a tag" in unknown.output
