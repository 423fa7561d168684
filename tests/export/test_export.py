"""Generated feeds: Atom 1.0 (every RFC 4287 requirement checked), RSS 2.0 and JSON Feed 1.1
from a real store (SQLite and PostgreSQL), the republish policy, sanitizing, stable ids,
validators, the export directory, and ``aggregator export``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
import yaml
from click.testing import CliRunner
from lxml import etree
from lxml import html as lxml_html

from aggregator.cli import cli
from aggregator.config.schema import Config, parse_config
from aggregator.export.items import Selection, build_items, entry_id
from aggregator.export.service import Exporter, write_export_dir
from aggregator.models import TagAssignment
from aggregator.store.records.export import ExportArticle
from aggregator.store.sql import SqlStore
from tests.store.test_sql import article, entry, write

NOW = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
YNA = "https://www.yna.co.kr/rss/politics.xml"
HANI = "https://www.hani.co.kr/rss/"
LINK = "https://link.example/rss"
ATOM = "{http://www.w3.org/2005/Atom}"

DEEP_SENTENCE = "이 문장은 본문 깊숙한 곳에만 있는 전문 전용 문장이다."
LONG_TEXT = (
    "(서울=연합뉴스) 홍길동 기자 = 국회는 26일 본회의를 열어 내년도 예산안을 처리했다. "
    "여야는 막판까지 쟁점 예산을 두고 협상을 이어갔다.\n\n"
    + "세부 내용이 이어진다. " * 40
    + DEEP_SENTENCE
)
HOSTILE_HTML = (
    '<p onclick="steal()" style="color:red">국회 예산안 처리</p>'
    "<script>alert('x')</script><iframe src=\"https://evil.example/\">프레임</iframe>"
    '<p><a href="javascript:alert(1)">나쁜 링크</a> <a href="/news/2">관련 기사</a>'
    '<img src="x.jpg" onerror="steal()"></p>'
    f"<p>{DEEP_SENTENCE}</p>"
)


def config_data(**export: Any) -> dict[str, Any]:
    return {
        "export": {"base_url": "https://feeds.example", **export},
        "tags": {
            "politics": {"labels": {"ko": "정치", "en": "Politics"}},
            "economy": {"labels": {"ko": "경제"}},
            "society": {},
        },
        "feeds": [
            {"url": YNA, "title": "연합뉴스 정치", "tags": ["politics"]},
            {"url": HANI, "title": "한겨레", "republish": "summary"},
            {"url": LINK, "republish": "link"},
        ],
    }


def make_config(**export: Any) -> Config:
    return parse_config(config_data(**export))


def _tags(*names: str) -> tuple[TagAssignment, ...]:
    return tuple(TagAssignment(n, "rule") for n in names)


def add(
    store: SqlStore, feed_url: str, key: str, title: str, *, seen: datetime, **changes: Any
) -> int:
    store.sync_feeds([(feed_url, None)], seen)
    state = store.feed_state(feed_url)
    assert state is not None
    art = article(key, title, **changes)
    feed_write = replace(write(entry(key, art), now=seen), title=f"stored title of {feed_url}")
    store.store_update(state.id, feed_write)
    return store.known_articles([key])[key]


def populate(store: SqlStore) -> dict[str, int]:
    ids = {}
    ids["budget"] = add(
        store,
        YNA,
        "https://www.yna.co.kr/view/1",
        "국회, 내년도 예산안 처리…\x1b[2J여야 합의\x0b",
        seen=NOW - timedelta(hours=3),
        text=LONG_TEXT,
        html=HOSTILE_HTML,
        summary="<p>국회가 예산안을 처리했다.</p>",
        tags=_tags("politics", "economy"),
        published_at=NOW - timedelta(hours=4),
    )
    ids["hani"] = add(
        store,
        HANI,
        "https://www.hani.co.kr/arti/2",
        "헌재, 선고 기일 지정",
        seen=NOW - timedelta(hours=2),
        text="헌법재판소가 선고 기일을 지정했다. 재판관들은 평의를 이어갔다.\n\n" + DEEP_SENTENCE,
        html=f"<p>헌법재판소가 선고 기일을 지정했다.</p><p>{DEEP_SENTENCE}</p>",
        summary="<p>헌재가 <b>선고 기일</b>을 지정했다.</p>",
        tags=_tags("politics"),
    )
    ids["link"] = add(
        store,
        LINK,
        "https://link.example/3",
        "링크만 허용된 매체의 기사",
        seen=NOW - timedelta(hours=1),
        text="링크 전용 본문. " + DEEP_SENTENCE,
        html=f"<p>{DEEP_SENTENCE}</p>",
        summary="링크 전용 요약",
        author=None,
        tags=_tags("society"),
    )
    return ids


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    s = SqlStore.open(db_url)
    yield s
    s.close()


def render(store: SqlStore, fmt: str, selection: Selection | None = None, **export: Any) -> bytes:
    exporter = Exporter(store, make_config(**export))
    return exporter.render_feed(selection or Selection(), fmt).body  # type: ignore[arg-type]


# -- validity --------------------------------------------------------------------------------


def test_every_format_parses_without_bozo_with_the_same_entries(store: SqlStore) -> None:
    populate(store)
    ids: dict[str, list[str]] = {}
    for fmt in ("atom", "rss"):
        parsed = feedparser.parse(render(store, fmt))
        assert parsed.bozo == 0, (fmt, parsed.get("bozo_exception"))
        ids[fmt] = [e.id for e in parsed.entries]
        assert parsed.entries[2].title == "국회, 내년도 예산안 처리…여야 합의"
    document = json.loads(render(store, "json"))
    ids["json"] = [item["id"] for item in document["items"]]
    assert ids["atom"] == ids["rss"] == ids["json"]
    assert len(ids["atom"]) == 3 and len(set(ids["atom"])) == 3
    # newest first seen first
    assert document["items"][0]["title"] == "링크만 허용된 매체의 기사"


RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$")


def _one(element: Any, name: str) -> Any:
    found = element.findall(ATOM + name)
    assert len(found) == 1, f"{element.tag} must have exactly one {name}"
    return found[0]


def test_atom_meets_rfc_4287(store: SqlStore) -> None:
    ids = populate(store)
    body = render(store, "atom")
    root = etree.fromstring(body)
    assert root.tag == ATOM + "feed"
    # 4.1.1: one id, title, updated; an author (here at feed level); rel=self
    assert _one(root, "id").text.startswith("urn:uuid:")
    assert _one(root, "title").text == "aggregator"
    assert RFC3339.match(_one(root, "updated").text)
    feed_author = root.find(ATOM + "author")
    assert feed_author is not None and feed_author.findtext(ATOM + "name")
    selfs = [link for link in root.findall(ATOM + "link") if link.get("rel") == "self"]
    assert [s.get("href") for s in selfs] == ["https://feeds.example/feeds/all.atom"]
    entries = root.findall(ATOM + "entry")
    assert len(entries) == 3
    entry_ids = [_one(e, "id").text for e in entries]
    assert len(set(entry_ids)) == 3  # 4.1.1: no two entries share an id
    for element in entries:
        # 4.1.2: id, title, updated exactly once; an alternate link or content
        _one(element, "title")
        assert RFC3339.match(_one(element, "updated").text)
        for published in element.findall(ATOM + "published"):
            assert RFC3339.match(published.text)
        alternates = [
            link for link in element.findall(ATOM + "link") if link.get("rel") == "alternate"
        ]
        assert alternates or element.find(ATOM + "content") is not None
        assert len({(a.get("type"), a.get("hreflang")) for a in alternates}) == len(alternates)
        # atom:source names the original feed
        source = _one(element, "source")
        assert _one(source, "id").text.startswith("https://")
        assert _one(source, "title").text
        for content in element.findall(ATOM + "content"):
            assert content.get("type") in ("html", "text")
        for category in element.findall(ATOM + "category"):
            assert category.get("term")
    budget = entries[2]
    assert _one(budget, "id").text == entry_id_of(store, ids["budget"])
    assert [c.get("term") for c in budget.findall(ATOM + "category")] == ["politics", "economy"]
    assert [c.get("label") for c in budget.findall(ATOM + "category")] == ["정치", "경제"]
    content = _one(budget, "content")
    assert content.get("type") == "html"
    # escaped as text in the XML, and real HTML once unescaped
    assert b"&lt;p&gt;" in body and b"<p>" not in body.split(b"<content", 1)[1][:20]
    fragment = lxml_html.fragment_fromstring(content.text, create_parent="div")
    assert DEEP_SENTENCE in fragment.text_content()
    assert _one(_one(budget, "author"), "name").text == "홍길동"
    assert budget.find(ATOM + "summary") is None  # the content is the article


def entry_id_of(store: SqlStore, article_id: int) -> str:
    _, _, articles = store.export_rows(limit=1000)
    [found] = [a for a in articles if a.id == article_id]
    return entry_id(found.key_hash)


def test_json_feed_1_1_required_fields(store: SqlStore) -> None:
    populate(store)
    document = json.loads(render(store, "json"))
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(document["title"], str) and document["title"]
    assert document["feed_url"] == "https://feeds.example/feeds/all.json"
    assert isinstance(document["items"], list)
    for item in document["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert "content_html" in item or "content_text" in item
        for key in ("date_published", "date_modified"):
            if key in item:
                assert RFC3339.match(item[key])
        assert all(k.startswith("_") or k in JSON_ITEM_KEYS for k in item)
    assert set(document) <= JSON_FEED_KEYS


JSON_FEED_KEYS = {
    "version", "title", "home_page_url", "feed_url", "description", "user_comment",
    "next_url", "icon", "favicon", "authors", "language", "expired", "hubs", "items",
}  # fmt: skip
JSON_ITEM_KEYS = {
    "id", "url", "external_url", "title", "content_html", "content_text", "summary", "image",
    "banner_image", "date_published", "date_modified", "authors", "tags", "language",
    "attachments",
}  # fmt: skip


# -- what an export may carry ----------------------------------------------------------------


def test_republish_policy_per_feed(store: SqlStore) -> None:
    populate(store)
    for fmt in ("atom", "rss", "json"):
        body = render(store, fmt).decode("utf-8")
        # the full text of the summary-only and link-only feeds never leaves
        assert body.count(DEEP_SENTENCE) == 1, fmt
    items = json.loads(render(store, "json"))["items"]
    by_title = {i["title"]: i for i in items}
    full = by_title["국회, 내년도 예산안 처리…여야 합의"]
    assert DEEP_SENTENCE in full["content_html"]
    summary = by_title["헌재, 선고 기일 지정"]
    assert "content_html" not in summary
    assert summary["content_text"] == summary["summary"] == "헌재가 선고 기일을 지정했다."
    link = by_title["링크만 허용된 매체의 기사"]
    assert link["content_text"] == "" and "summary" not in link
    assert link["url"] == "https://link.example/3"
    # a summary-only feed without a summary of its own: the text's lead, dateline left out
    add(
        store, HANI, "https://www.hani.co.kr/arti/8", "예산안", seen=NOW, text=LONG_TEXT, summary=""
    )
    lead = json.loads(render(store, "json"))["items"][0]
    assert lead["summary"] == (
        "국회는 26일 본회의를 열어 내년도 예산안을 처리했다. "
        "여야는 막판까지 쟁점 예산을 두고 협상을 이어갔다."
    )
    assert DEEP_SENTENCE not in json.dumps(lead, ensure_ascii=False)
    rss = feedparser.parse(render(store, "rss"))
    link_entry = next(e for e in rss.entries if e.title.startswith("링크만"))
    assert "content" not in link_entry and not link_entry.get("summary")


def test_default_policy_and_strictest_of_several_feeds(store: SqlStore) -> None:
    populate(store)
    items = json.loads(render(store, "json", republish="summary"))["items"]
    yna = next(i for i in items if i["title"].startswith("국회"))
    assert "content_html" not in yna and DEEP_SENTENCE not in json.dumps(yna, ensure_ascii=False)
    # the same article reached through the link-only feed: the strictest policy wins
    add(store, LINK, "https://www.yna.co.kr/view/1", "국회", seen=NOW)
    items = json.loads(render(store, "json"))["items"]
    yna = next(i for i in items if i["url"] == "https://www.yna.co.kr/view/1")
    assert yna["content_text"] == "" and "content_html" not in yna


def test_html_is_sanitized_again_at_export(store: SqlStore) -> None:
    populate(store)
    items = json.loads(render(store, "json"))["items"]
    html = next(i for i in items if i["title"].startswith("국회"))["content_html"]
    for bad in ("<script", "alert(", "<iframe", "onclick", "onerror", "javascript:", "style="):
        assert bad not in html
    assert '<a href="https://www.yna.co.kr/news/2"' in html  # relative link resolved
    assert '<img src="https://www.yna.co.kr/view/x.jpg">' in html
    assert "국회 예산안 처리" in html


def test_korean_intact_and_control_characters_stripped(store: SqlStore) -> None:
    populate(store)
    add(
        store,
        YNA,
        "https://www.yna.co.kr/view/9",
        "북한\x00 미사일\x08 발사\ufffe \u0085똠방각하",
        seen=NOW,
        text="합참은 \x1b[31m북한이\x1b[0m 동해상으로 탄도미사일을 발사했다고 밝혔다.",
        html="<p>합참은 북한이\x01 발사했다고 밝혔다.</p>",
        author="김\x07기자",
    )
    for fmt in ("atom", "rss", "json"):
        body = render(store, fmt)
        text = body.decode("utf-8")
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]", text), fmt
        assert "북한 미사일 발사 똠방각하" in text, fmt
    atom = feedparser.parse(render(store, "atom"))
    assert atom.bozo == 0
    assert atom.entries[0].title == "북한 미사일 발사 똠방각하"
    assert atom.entries[0].author == "김기자"


def test_text_without_html_is_exported_whole_as_paragraphs(store: SqlStore) -> None:
    long_text = "\n".join(f"{i}번째 문단입니다. " + "내용이 이어진다. " * 20 for i in range(12))
    assert len(long_text) > 2000  # longer than the prefix loaded for articles with HTML
    add(store, YNA, "https://www.yna.co.kr/view/20", "본문만", seen=NOW, text=long_text, html="")
    [item] = json.loads(render(store, "json"))["items"]
    assert item["content_html"].count("<p>") == 12
    assert "11번째 문단입니다." in item["content_html"]


# -- selection, ids, validators --------------------------------------------------------------


def test_selection_by_tag_since_and_limit(store: SqlStore) -> None:
    populate(store)

    def titles(selection: Selection) -> list[str]:
        body = render(store, "json", selection)
        return [i["title"][:6] for i in json.loads(body)["items"]]

    assert titles(Selection(("politics",))) == ["헌재, 선고", "국회, 내년"]
    assert titles(Selection(("economy", "society"))) == ["링크만 허용", "국회, 내년"]
    assert titles(Selection(since=NOW - timedelta(hours=2, minutes=30))) == [
        "링크만 허용",
        "헌재, 선고",
    ]
    assert titles(Selection(limit=1)) == ["링크만 허용"]
    document = json.loads(render(store, "json", Selection(("politics",))))
    assert document["title"] == "aggregator: 정치"
    assert document["feed_url"] == "https://feeds.example/feeds/tag/politics.json"
    # a selection no route serves has no self link
    assert "feed_url" not in json.loads(render(store, "json", Selection(("politics", "economy"))))


def test_ids_never_change_across_runs_databases_and_edits(tmp_path: Path) -> None:
    first = SqlStore.open(f"sqlite:///{tmp_path / 'a.db'}")
    second = SqlStore.open(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        populate(first)
        # another instance, other feeds first, other ids in its tables
        add(second, HANI, "https://elsewhere.example/0", "다른 기사", seen=NOW - timedelta(days=1))
        populate(second)

        def ids(store: SqlStore) -> dict[str, str]:
            return {i["url"]: i["id"] for i in json.loads(render(store, "json"))["items"]}

        before = ids(first)
        assert {u: i for u, i in ids(second).items() if u in before} == before
        assert before == ids(first)  # a second run
        add(first, YNA, "https://www.yna.co.kr/view/1", "국회 예산안 (종합)", seen=NOW)
        assert ids(first)["https://www.yna.co.kr/view/1"] == before["https://www.yna.co.kr/view/1"]
    finally:
        first.close()
        second.close()


def test_validator_follows_the_data_and_the_config(store: SqlStore) -> None:
    populate(store)
    exporter = Exporter(store, make_config())
    selection = Selection(("politics",))
    first = exporter.feed_validator(selection, "atom")
    assert exporter.feed_validator(selection, "atom") == first
    assert exporter.feed_validator(selection, "rss") != first
    rendered = exporter.render_feed(selection, "atom")
    assert rendered.validator == first
    assert exporter.render_feed(selection, "atom") is rendered  # cached, not rendered again
    # an article of another tag changes nothing here
    add(store, LINK, "https://link.example/4", "사회 기사", seen=NOW, tags=_tags("society"))
    assert exporter.feed_validator(selection, "atom") == first
    # an edit of an article in the feed does
    add(store, YNA, "https://www.yna.co.kr/view/1", "국회 예산안 (종합)", seen=NOW)
    edited = exporter.feed_validator(selection, "atom")
    assert edited != first and edited.last_modified == NOW
    # as does the config (a policy), and the feed's new title
    exporter.reload(make_config(republish="link"))
    assert exporter.feed_validator(selection, "atom") != edited
    assert exporter.render_feed(selection, "atom").body != rendered.body


def test_rows_pass_through_steps_before_rendering(store: SqlStore) -> None:
    populate(store)
    seen: list[list[int]] = []

    def keep_first(rows: list[ExportArticle]) -> list[ExportArticle]:
        seen.append([r.id for r in rows])
        return rows[:1]

    exporter = Exporter(store, make_config(), steps=[keep_first])
    document = json.loads(exporter.render_feed(Selection(), "json").body)
    assert len(seen[0]) == 3 and len(document["items"]) == 1
    feeds = store.export_feeds()
    _, _, articles = store.export_rows()
    assert len(build_items(articles, feeds, make_config(), steps=[keep_first])) == 1


def test_empty_feed_is_valid_and_stable(store: SqlStore) -> None:
    exporter = Exporter(store, make_config())
    body = exporter.render_feed(Selection(), "atom").body
    assert feedparser.parse(body).bozo == 0
    assert exporter.render_feed_uncached(Selection(), "atom").body == body
    assert exporter.feed_validator(Selection(), "atom").last_modified is None


# -- the export directory --------------------------------------------------------------------


def test_export_dir_written_only_when_changed(store: SqlStore, tmp_path: Path) -> None:
    populate(store)
    exporter = Exporter(store, make_config())
    out = tmp_path / "public"
    seen: dict[str, str] = {}
    written = write_export_dir(exporter, out, seen)
    names = sorted(str(p.relative_to(out)) for p in written)
    assert names == sorted(
        ["opml.xml"]
        + [f"feeds/all.{f}" for f in ("atom", "rss", "json")]
        + [
            f"feeds/tag/{t}.{f}"
            for t in ("politics", "economy", "society")
            for f in ("atom", "rss", "json")
        ]
    )
    assert feedparser.parse((out / "feeds/tag/politics.atom").read_bytes()).bozo == 0
    assert write_export_dir(exporter, out, seen) == []
    # a fresh process (no memory) renders, compares, and still writes nothing
    assert write_export_dir(Exporter(store, make_config()), out) == []
    add(store, HANI, "https://www.hani.co.kr/arti/5", "새 기사", seen=NOW, tags=_tags("economy"))
    changed = sorted(str(p.relative_to(out)) for p in write_export_dir(exporter, out, seen))
    assert changed == sorted(
        [f"feeds/all.{f}" for f in ("atom", "rss", "json")]
        + [f"feeds/tag/economy.{f}" for f in ("atom", "rss", "json")]
    )
    assert not list(out.rglob("*.tmp"))


# -- the command line ------------------------------------------------------------------------


def test_cli_export_feeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGGREGATOR_DATABASE_URL", raising=False)
    db = tmp_path / "agg.db"
    data = config_data()
    data["database"] = f"sqlite:///{db}"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    store = SqlStore.open(f"sqlite:///{db}")
    populate(store)
    store.close()
    runner = CliRunner()
    out = tmp_path / "politics.atom"
    result = runner.invoke(
        cli, ["export", "atom", "--config", str(path), "--tag", "politics", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    parsed = feedparser.parse(out.read_bytes())
    assert parsed.bozo == 0 and len(parsed.entries) == 2
    result = runner.invoke(cli, ["export", "json", "--config", str(path), "--limit", "1"])
    assert result.exit_code == 0
    assert len(json.loads(result.stdout_bytes)["items"]) == 1
    rss = runner.invoke(cli, ["export", "rss", "--config", str(path), "--since", "1000d"])
    assert feedparser.parse(rss.stdout_bytes).bozo == 0
    bad = runner.invoke(cli, ["export", "atom", "--config", str(path), "--tag", "nope"])
    assert bad.exit_code == 2 and "not a tag" in bad.output
    bad_since = runner.invoke(cli, ["export", "atom", "--config", str(path), "--since", "soon"])
    assert bad_since.exit_code == 2


@pytest.mark.parametrize(
    "args", [["export", "atom"], ["export", "json", "--tag", "politics"], ["export", "opml"]]
)
def test_exports_do_not_import_extraction(tmp_path: Path, args: list[str]) -> None:
    """An export reads the store only: no trafilatura, no process pool, no HTTP client."""
    import subprocess
    import sys

    data = config_data()
    data["database"] = f"sqlite:///{tmp_path / 'x.db'}"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    SqlStore.open(data["database"]).close()
    probe = (
        "import sys\n"
        "from aggregator.cli import cli\n"
        "try:\n"
        f"    cli.main({['--config', str(path), *args, '-o', str(tmp_path / 'out')]!r}, "
        "standalone_mode=False)\n"
        "except BaseException as exc:\n"
        "    print('EXIT', exc)\n"
        "heavy = [m for m in ('trafilatura', 'pebble', 'aggregator.ingest.extract.article', "
        "'aggregator.ingest.extract.pool', 'alembic', 'feedparser', 'httpx', 'apscheduler') "
        "if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr
    assert (tmp_path / "out").stat().st_size > 100


# -- stories -----------------------------------------------------------------------------------


def test_collapse_stories_exports_a_story_once_as_its_earliest_article(store: SqlStore) -> None:
    from aggregator.export.items import collapse_stories
    from tests.store.test_story_sql import publish_wire_story

    ids = publish_wire_story(store)  # one wire story from three outlets, and one other story
    config = parse_config(
        {"export": {"base_url": "https://feeds.example", "collapse_stories": True}}
    )
    whole = feedparser.parse(render(store, "atom"))
    collapsed = feedparser.parse(Exporter(store, config).render_feed(Selection(), "atom").body)
    assert len(whole.entries) == 4 and collapsed.bozo == 0
    links = [e.link for e in collapsed.entries]
    assert sorted(links) == ["https://news1.example/2", "https://yna.example/1"]

    _, _, rows = store.export_rows(tags=(), since=None, limit=10)
    story_of = {a: s for a, (s, _) in store.story_representatives([r.id for r in rows]).items()}
    kept = collapse_stories(rows, story_of)
    assert [r.id for r in kept].count(ids["https://yna.example/1"]) == 1
    # The story takes the place of its newest row: the order of the feed is kept.
    assert kept[0].id == ids["https://yna.example/1"] and len(kept) == 2
    assert collapse_stories(rows, {}) == rows


def test_validators_change_with_tags_and_story_assignments(store: SqlStore) -> None:
    """A retag or a `stories rebuild` changes what a feed holds without a new article: the
    validator must change too, or readers keep a stale feed (304) and the cache serves it."""
    from aggregator.config.schema import StoriesConfig
    from aggregator.service.upkeep import rebuild_stories
    from tests.store.test_story_sql import publish_wire_story

    ids = publish_wire_story(store)
    exporter = Exporter(store, make_config(collapse_stories=True))
    first = exporter.feed_validator(Selection(), "atom")
    before = store.article(ids["https://yna.example/1"])
    assert before is not None
    store.replace_tags(
        {ids["https://yna.example/1"]: _tags("economy")}, now=NOW + timedelta(days=1)
    )
    retagged = exporter.feed_validator(Selection(), "atom")
    assert retagged.etag != first.etag
    # The same tags again change nothing.
    store.replace_tags(
        {ids["https://yna.example/1"]: _tags("economy")}, now=NOW + timedelta(days=2)
    )
    assert exporter.feed_validator(Selection(), "atom").etag == retagged.etag

    # Stricter thresholds: the wire story falls apart into one story per outlet.
    strict = StoriesConfig(min_text_chars=100_000)
    rebuild_stories(store, strict, since=None)
    assert exporter.feed_validator(Selection(), "atom").etag != retagged.etag
