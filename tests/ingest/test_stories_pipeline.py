"""Duplicates end to end over loopback HTTP: GUID changes update the article, and one wire
story from three outlets is one line of the digest, with the three outlets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from aggregator.ingest.extract.pool import ExtractionPool
from aggregator.ingest.pipeline import poll_feeds
from tests.cli.test_cli import run, write_config
from tests.ingest.test_pipeline import make_config, serve_site, services
from tests.sites import PARAGRAPHS, Item, article_page, items, rss


@pytest.fixture(scope="module")
def extraction_pool() -> Iterator[ExtractionPool]:
    with ExtractionPool(workers=1, timeout=30, max_tasks=100) as pool:
        yield pool


def test_guid_change_with_the_same_link_updates_the_article(
    db_url: str, httpserver: HTTPServer, extraction_pool: ExtractionPool
) -> None:
    base = httpserver.url_for("").rstrip("/")
    feed_items = items(base, 2)
    url = serve_site(httpserver, "/rss.xml", feed_items)
    config = make_config(db_url, [{"url": url}])
    with services(config, extraction_pool) as svc:
        [first] = poll_feeds(config.feeds, svc)
        assert first.new == 2
        # The CMS moved: every guid changes, one headline is corrected.
        for item in feed_items:
            item.guid = "new-" + item.guid
        feed_items[0].title = "고친 제목: 경제정책 방향 확정"
        httpserver.clear()
        serve_site(httpserver, "/rss.xml", feed_items)
        [second] = poll_feeds(config.feeds, svc)
        assert (second.new, second.updated) == (0, 2), second
        assert svc.store.counts() == {"feeds": 1, "articles": 2, "entries": 2}
        [third] = poll_feeds(config.feeds, svc)
        assert (third.new, third.updated) == (0, 0)
        titles = {a.title for a in svc.store.list_articles()}
    assert "고친 제목: 경제정책 방향 확정" in titles


def test_guid_and_link_change_with_the_same_title_and_date_updates_the_article(
    db_url: str, httpserver: HTTPServer, extraction_pool: ExtractionPool
) -> None:
    base = httpserver.url_for("").rstrip("/")
    feed_items = items(base, 2)
    url = serve_site(httpserver, "/rss.xml", feed_items)
    config = make_config(db_url, [{"url": url, "full_text": False}])
    with services(config, extraction_pool) as svc:
        poll_feeds(config.feeds, svc)
        moved = feed_items[1]
        moved.guid = "https://news.test/entry/title-slug"
        moved.link = f"{base}/article/title-slug"
        moved.description = "요약이 조금 고쳐졌습니다."
        httpserver.clear()
        serve_site(httpserver, "/rss.xml", feed_items)
        [second] = poll_feeds(config.feeds, svc)
        assert (second.new, second.updated) == (0, 1), second
        assert svc.store.counts() == {"feeds": 1, "articles": 2, "entries": 2}
        by_title = {a.title: a for a in svc.store.list_articles()}
        assert by_title[moved.title].url == f"{base}/article/title-slug"
        # An item that is really new, with another item's title but another date, is new.
        twin = Item(
            guid="twin",
            title=moved.title,
            link=f"{base}/article/twin",
            published=moved.published + timedelta(days=1),
        )
        httpserver.clear()
        serve_site(httpserver, "/rss.xml", [*feed_items, twin])
        [third] = poll_feeds(config.feeds, svc)
        assert (third.new, third.updated) == (1, 0), third


def test_an_old_entry_still_in_the_feed_is_not_taken_for_a_new_one(
    db_url: str, httpserver: HTTPServer, extraction_pool: ExtractionPool
) -> None:
    base = httpserver.url_for("").rstrip("/")
    [old] = items(base, 1)
    url = serve_site(httpserver, "/rss.xml", [old])
    config = make_config(db_url, [{"url": url, "full_text": False}])
    with services(config, extraction_pool) as svc:
        poll_feeds(config.feeds, svc)
        # Same title and date under another guid and link, while the old item stays.
        copy = Item(guid="copy", title=old.title, link=f"{base}/article/copy")
        copy.published = old.published
        httpserver.clear()
        serve_site(httpserver, "/rss.xml", [old, copy])
        [second] = poll_feeds(config.feeds, svc)
        assert (second.new, second.updated) == (1, 0), second


OUTLETS = {
    # path: (outlet, headline, paragraphs as that outlet prints them)
    "yna": ("연합뉴스", "정부, 내년 경제정책 방향 확정", PARAGRAPHS),
    "news1": (
        "뉴스1",
        "[속보] 정부, 내년 경제정책 방향 확정(종합)",
        ["(서울=뉴스1) 김철수 기자 = " + PARAGRAPHS[0], *PARAGRAPHS[1:3]],
    ),
    "herald": (
        "헤럴드경제",
        "정부 내년 경제정책 방향 확정",
        [PARAGRAPHS[0], "사진=헤럴드경제 DB", *PARAGRAPHS[1:], "이영희 기자 lee@herald.example"],
    ),
}


LOCAL_NEWS = [
    (
        "부산 해운대 빛축제 개막",
        [
            "부산 해운대 해수욕장 일대에서 30일 겨울 빛축제가 개막했다. 백사장을 따라 "
            "조명 터널과 대형 트리가 설치됐다.",
            "축제는 내년 1월 말까지 이어지며 주말마다 버스킹 공연이 열린다.",
        ],
    ),
    (
        "프로야구 FA 시장 개장…대어급 선수 이적 관심",
        [
            "프로야구 자유계약선수 시장이 열리면서 구단들의 영입 경쟁이 시작됐다. 올해는 "
            "내야수와 선발 투수 자원이 많아 관심이 쏠린다.",
            "원소속 구단과의 우선 협상 기간은 없어졌고 모든 구단이 곧바로 협상할 수 있다.",
        ],
    ),
    (
        "서울 아침 기온 영하 5도…올겨울 첫 한파주의보",
        [
            "기상청은 내일 아침 서울 기온이 영하 5도까지 떨어지겠다며 한파주의보를 발령했다. "
            "바람이 강해 체감온도는 더 낮겠다.",
            "추위는 주말까지 이어지다가 다음 주 초 평년 기온을 되찾을 전망이다.",
        ],
    ),
]


def serve_outlets(httpserver: HTTPServer) -> list[dict[str, str]]:
    """Three outlets, each with the wire story (its own edits) and a local story."""
    now = datetime.now(UTC)
    feeds = []
    for index, (path, (name, title, paragraphs)) in enumerate(OUTLETS.items()):
        other_title, other_text = LOCAL_NEWS[index]
        other = Item(
            guid=f"{path}-other",
            title=other_title,
            link=httpserver.url_for(f"/{path}/other"),
            published=now - timedelta(hours=5),
        )
        wire = Item(
            guid=f"{path}-wire",
            title=title,
            link=httpserver.url_for(f"/{path}/wire"),
            published=now - timedelta(hours=3 - index),
        )
        httpserver.expect_request(f"/{path}/rss.xml").respond_with_data(
            rss(name, [wire, other]), content_type="application/rss+xml; charset=utf-8"
        )
        httpserver.expect_request(f"/{path}/wire").respond_with_data(
            article_page(title, list(paragraphs)), content_type="text/html; charset=utf-8"
        )
        httpserver.expect_request(f"/{path}/other").respond_with_data(
            article_page(other_title, other_text), content_type="text/html; charset=utf-8"
        )
        feeds.append({"url": httpserver.url_for(f"/{path}/rss.xml"), "title": name})
    return feeds


def digest_lines(config: Path) -> list[dict[str, Any]]:
    document = json.loads(run("digest", "--config", str(config), "--format", "json").output)
    return [story for section in document["sections"] for story in section["stories"]]


def test_three_outlets_one_wire_story_one_digest_line(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    feeds = serve_outlets(httpserver)
    config = write_config(
        tmp_path,
        {
            "database": f"sqlite:///{tmp_path}/agg.db",
            "fetch": {"allow_private_networks": True},
            "extract": {"workers": 1},
            "feeds": feeds,
        },
    )
    assert run("poll", "--config", str(config)).exit_code == 0

    lines = digest_lines(config)
    wire_lines = [s for s in lines if "경제정책" in s["title"]]
    assert len(lines) == 4 and len(wire_lines) == 1, lines
    [wire_line] = wire_lines
    assert wire_line["title"] == OUTLETS["yna"][1]  # the earliest copy represents the story
    assert wire_line["outlets"] == ["연합뉴스", "뉴스1", "헤럴드경제"]
    assert [o["feed"] for o in wire_line["others"]] == ["뉴스1", "헤럴드경제"]
    assert lines[0] is wire_line  # three outlets rank first, before newer single stories
    for single in lines[1:]:
        assert single["story_id"] is None and len(single["outlets"]) == 1

    # Counts stay counts of articles: six articles, four lines.
    document = json.loads(run("digest", "--config", str(config), "--format", "json").output)
    assert sum(document["counts"].values()) == 6
    assert sum(section["count"] for section in document["sections"]) == 6

    text = run("digest", "--config", str(config)).output
    assert text.count("경제정책 방향 확정") == 1
    assert "연합뉴스 +2: 뉴스1, 헤럴드경제" in text
    markdown = run("digest", "--config", str(config), "--format", "markdown").output
    assert "연합뉴스, 뉴스1, 헤럴드경제" in markdown

    shown = run("show", "--config", str(config), str(wire_line["id"]), "--no-pager").output
    assert "뉴스1 · [속보] 정부, 내년 경제정책 방향 확정(종합)" in shown
    assert "헤럴드경제 · 정부 내년 경제정책 방향 확정" in shown


def test_rebuild_clusters_a_database_stored_without_stories(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    feeds = serve_outlets(httpserver)
    data: dict[str, Any] = {
        "database": f"sqlite:///{tmp_path}/agg.db",
        "fetch": {"allow_private_networks": True},
        "extract": {"workers": 1},
        "stories": {"enabled": False},
        "feeds": feeds,
    }
    config = write_config(tmp_path, data)
    assert run("poll", "--config", str(config)).exit_code == 0
    assert sum("경제정책" in line["title"] for line in digest_lines(config)) == 3

    data["stories"] = {"enabled": True}
    config = write_config(tmp_path, data)
    rebuilt = run("stories", "rebuild", "--config", str(config))
    assert rebuilt.exit_code == 0, rebuilt.output
    # The local stories' pages are too short for trafilatura: their feed summaries are kept,
    # and those are too short to cluster.
    assert "clustered 3 articles into 1 story (3 too short to cluster)" in rebuilt.output
    lines = digest_lines(config)
    assert len(lines) == 4
    assert [line["outlets"] for line in lines if "경제정책" in line["title"]] == [
        ["연합뉴스", "뉴스1", "헤럴드경제"]
    ]
    # Again, for the last day only: the same stories.
    again = run("stories", "rebuild", "--since", "24h", "--config", str(config))
    assert "clustered 3 articles into 1 story" in again.output
    assert digest_lines(config) == lines
