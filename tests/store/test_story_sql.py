"""Story clusters in the database, on SQLite and PostgreSQL: assignment in the feed's
transaction, the reading queries, retention, and rebuilding for stored articles."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.config.schema import StoriesConfig
from aggregator.ingest.stories import fingerprint
from aggregator.models import StoryMatch
from aggregator.service.upkeep import rebuild_stories
from aggregator.store.records.updates import ArticleWrite, EntryWrite, FeedWrite
from aggregator.store.sql import SqlStore
from tests.sites import PARAGRAPHS

NOW = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
WIRE = "\n".join(PARAGRAPHS)
OTHER = (
    "여야 원내대표는 26일 국회에서 만나 내년 예산안을 다음 달 2일 본회의에서 처리하기로 "
    "합의했다. 쟁점 예산은 소위원회에서 계속 논의하기로 했다. 민주당은 지역화폐 예산 증액을, "
    "국민의힘은 연구개발 예산 복원을 요구했다."
)


def article(
    url: str, title: str, text: str, when: datetime, *, stories: bool = True
) -> ArticleWrite:
    fp = fingerprint(title, text, language="ko", seen_at=when) if stories else None
    return ArticleWrite(
        url_key=url,
        url=url,
        title=title,
        summary="",
        author=None,
        published_at=when,
        updated_at=None,
        text=text,
        html="",
        text_source="trafilatura",
        extract_status="ok",
        extract_error=None,
        language="ko",
        image=None,
        content_hash=hashlib.sha256(f"{url}|{title}".encode()).hexdigest(),
        story_print=fp,
    )


MATCH = StoryMatch()


def write(*articles: ArticleWrite, stories: StoryMatch | None = MATCH) -> FeedWrite:
    return FeedWrite(
        now=NOW,
        entries=tuple(EntryWrite(a.url_key, a.url_key, a.content_hash, a) for a in articles),
        title=None,
        site_url=None,
        etag=None,
        last_modified=None,
        http_status=200,
        duration_ms=1,
        stories=stories,
    )


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    s = SqlStore.open(db_url)
    yield s
    s.close()


def outlet(store: SqlStore, name: str) -> int:
    url = f"https://{name}.example/rss"
    store.sync_feeds([(url, name)], NOW)
    state = store.feed_state(url)
    assert state is not None
    return state.id


def ids_by_url(store: SqlStore) -> dict[str, int]:
    return {a.url or "": a.id for a in store.list_articles(limit=100)}


def publish_wire_story(store: SqlStore) -> dict[str, int]:
    """Three outlets carry one wire story with their edits; one of them also another story."""
    yonhap, news1, herald = (outlet(store, n) for n in ("연합뉴스", "뉴스1", "헤럴드경제"))
    store.store_update(
        yonhap,
        write(article("https://yna.example/1", "정부, 내년 경제정책 방향 확정", WIRE, NOW)),
    )
    store.store_update(
        news1,
        write(
            article(
                "https://news1.example/1",
                "[속보] 정부, 내년 경제정책 방향 확정(종합)",
                "(서울=뉴스1) 김철수 기자 = " + WIRE + "\nⓒ 뉴스1 무단전재 및 재배포 금지",
                NOW + timedelta(hours=1),
            ),
            article("https://news1.example/2", "국회, 예산안 처리 일정 합의", OTHER, NOW),
        ),
    )
    store.store_update(
        herald,
        write(
            article(
                "https://herald.example/1",
                "정부 경제정책 방향 확정…수출 회복 과제",
                "\n".join(PARAGRAPHS[:3]) + "\n사진=헤럴드경제\n이영희 기자 lee@herald.example",
                NOW + timedelta(hours=2),
            )
        ),
    )
    return ids_by_url(store)


def test_a_wire_story_from_three_outlets_is_one_story(store: SqlStore) -> None:
    ids = publish_wire_story(store)
    wire = [ids[f"https://{n}.example/1"] for n in ("yna", "news1", "herald")]
    other = ids["https://news1.example/2"]
    info = store.story_info([*wire, other])
    assert other not in info  # a story of one article is no story
    assert {info[i].story_id for i in wire} == {info[wire[0]].story_id}
    assert info[wire[0]].outlets == ("연합뉴스", "뉴스1", "헤럴드경제")  # earliest first
    members = store.story_members(wire[1])
    assert [m.article_id for m in members] == wire
    assert store.story_members(other) == []
    reps = store.story_representatives([*wire, other])
    assert [reps[i][1] for i in wire] == [True, False, False]
    assert reps[other][1] is True and reps[other][0] != reps[wire[0]][0]
    assert store.count_stories() == 2


def test_stories_off_and_short_texts_stay_alone(store: SqlStore) -> None:
    feed = outlet(store, "연합뉴스")
    store.store_update(
        feed,
        write(article("https://yna.example/1", "정부, 경제정책 확정", WIRE, NOW), stories=None),
    )
    store.store_update(
        feed, write(article("https://yna.example/2", "정부, 경제정책 확정", "짧다", NOW))
    )
    assert store.count_stories() == 0
    assert store.story_info(list(ids_by_url(store).values())) == {}


def test_an_article_seen_twice_keeps_its_story(store: SqlStore) -> None:
    ids = publish_wire_story(store)
    # The same article through a second feed of the same outlet: linked, not re-clustered.
    again = outlet(store, "연합뉴스-경제")
    store.store_update(
        again, write(article("https://yna.example/1", "정부, 내년 경제정책 방향 확정", WIRE, NOW))
    )
    assert store.count_stories() == 2
    assert len(store.story_members(ids["https://yna.example/1"])) == 3


def test_pruned_articles_leave_their_story(store: SqlStore) -> None:
    from sqlalchemy import delete

    from aggregator.store.tables import ArticleRow

    ids = publish_wire_story(store)
    with store._write() as session:
        session.execute(delete(ArticleRow).where(ArticleRow.id == ids["https://herald.example/1"]))
    members = store.story_members(ids["https://yna.example/1"])
    assert [m.outlet for m in members] == ["연합뉴스", "뉴스1"]


def test_rebuild_clusters_stored_articles_and_is_repeatable(store: SqlStore) -> None:
    yonhap, news1 = outlet(store, "연합뉴스"), outlet(store, "뉴스1")
    # Stored before story clusters existed (no prints).
    store.store_update(
        yonhap,
        write(article("https://yna.example/1", "정부, 경제정책 확정", WIRE, NOW, stories=False)),
    )
    store.store_update(
        news1,
        write(
            article(
                "https://news1.example/1",
                "[단독] 정부, 경제정책 확정",
                "(서울=뉴스1) 김철수 기자 = " + WIRE,
                NOW + timedelta(hours=1),
                stories=False,
            ),
            article(
                "https://news1.example/old",
                "정부, 경제정책 확정",
                WIRE,
                NOW - timedelta(days=5),
                stories=False,
            ),
        ),
    )
    ids = ids_by_url(store)
    assert store.count_stories() == 0
    config = StoriesConfig()
    report = rebuild_stories(store, config, since=None, batch=1)
    assert (report.articles, report.stories, report.skipped) == (3, 2, 0)
    together = store.story_info([ids["https://yna.example/1"]])[ids["https://yna.example/1"]]
    assert {m.article_id for m in together.members} == {
        ids["https://yna.example/1"],
        ids["https://news1.example/1"],
    }
    # Again, and for a period only: the same stories, no duplicates.
    again = rebuild_stories(store, config, since=None)
    assert (again.articles, again.stories) == (3, 2)
    partial = rebuild_stories(store, config, since=NOW - timedelta(hours=1))
    assert (partial.articles, partial.stories) == (2, 1)
    assert store.count_stories() == 2
    # A narrower window splits them (the copy came an hour after the wire).
    strict = config.model_copy(update={"window_hours": 0.5})
    split = rebuild_stories(store, strict, since=None)
    assert split.stories == 3


def test_migration_on_a_populated_database_then_rebuild(db_url: str) -> None:
    from sqlalchemy import insert, select

    from aggregator.store.engine import make_engine, upgrade_schema
    from aggregator.store.tables import ArticleRow

    engine = make_engine(db_url)
    upgrade_schema(engine, "0005")
    with engine.begin() as conn:
        for index, (title, text) in enumerate(
            [
                ("정부, 경제정책 확정", WIRE),
                ("[속보] 정부, 경제정책 확정", "(서울=연합뉴스) 홍길동 기자 = " + WIRE),
                ("국회, 예산안 처리 일정 합의", OTHER),
            ]
        ):
            conn.execute(
                insert(ArticleRow).values(
                    key_hash=f"{index}" * 64,
                    url=f"https://old.example/{index}",
                    title=title,
                    summary="",
                    text=text,
                    html="",
                    text_source="trafilatura",
                    extract_status="ok",
                    content_hash="",
                    published_at=NOW + timedelta(minutes=index),
                    first_seen_at=NOW,
                    changed_at=NOW,
                )
            )
    upgrade_schema(engine)
    engine.dispose()
    with SqlStore.open(db_url, create=False) as store:
        assert store.count_stories() == 0  # nothing assigned until a rebuild
        report = rebuild_stories(store, StoriesConfig(), since=None)
        assert (report.articles, report.stories) == (3, 2)
        with store._read() as session:
            ids = {url: i for i, url in session.execute(select(ArticleRow.id, ArticleRow.url))}
        members = store.story_members(ids["https://old.example/0"])
        assert [m.article_id for m in members] == [
            ids["https://old.example/0"],
            ids["https://old.example/1"],
        ]
        assert members[0].outlet == ""  # articles with no entry have no outlet


def test_two_writers_storing_one_wire_story_at_once_make_one_story(db_url: str) -> None:
    """Two daemons (two engines) store copies of one story at the same moment: the
    assignments take turns (SQLite's write lock, PostgreSQL's advisory lock)."""
    import threading

    stores = [SqlStore.open(db_url), SqlStore.open(db_url)]
    try:
        feeds = [outlet(stores[0], "연합뉴스"), outlet(stores[0], "뉴스1")]
        writes = [
            write(article("https://yna.example/1", "정부, 경제정책 확정", WIRE, NOW)),
            write(
                article(
                    "https://news1.example/1",
                    "[속보] 정부, 경제정책 확정",
                    "(서울=뉴스1) 김철수 기자 = " + WIRE,
                    NOW,
                )
            ),
        ]
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def store_one(index: int) -> None:
            try:
                barrier.wait()
                stores[index].store_update(feeds[index], writes[index])
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=store_one, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        assert stores[1].count_stories() == 1
    finally:
        for store in stores:
            store.close()


def test_entries_of_one_update_with_one_title_and_date_stay_apart(store: SqlStore) -> None:
    """The GUID-change rule (same title and date) looks only at entries stored before."""
    feed = outlet(store, "연합뉴스")
    first = article("https://yna.example/a", "[포토] 오늘의 날씨", WIRE, NOW, stories=False)
    second = article("https://yna.example/b", "[포토] 오늘의 날씨", OTHER, NOW, stories=False)
    update = write(first, second, stories=None)
    # Keys that do not name these entries: only "stored before" keeps them apart.
    counts = store.store_update(feed, replace(update, document_keys=frozenset({"elsewhere"})))
    assert (counts.new, counts.updated) == (2, 0)
    assert store.counts()["entries"] == 2
