"""Korean full-text search: the tokenizer, query building, and search on SQLite and
PostgreSQL (1- and 2-syllable Hangul terms, hanja, English stemming, hostile queries)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, insert, text

from aggregator.errors import StoreError
from aggregator.models import TagAssignment
from aggregator.store.dbapi import open_sqlite
from aggregator.store.engine import make_engine, upgrade_schema
from aggregator.store.reading_sql import Reading
from aggregator.store.records.reading import SearchHit
from aggregator.store.records.updates import ArticleWrite
from aggregator.store.sql import SqlStore
from aggregator.store.tables import ArticleRow
from aggregator.text import search as tok
from tests.store.test_sql import NOW, article, entry, feed_id, write

# -- the tokenizer -------------------------------------------------------------------------


def test_hangul_runs_become_bigrams_and_a_final_unigram() -> None:
    assert tok.tokens("서울시는 오늘") == ["서울", "울시", "시는", "는", "오늘", "늘"]
    assert tok.tokens("北 美北") == ["北", "美北", "北"]
    assert tok.tokens("AI반도체, Elections!") == ["ai", "반도", "도체", "체", "elections"]
    assert tok.tokens("don't x_y 2026년") == ["don", "t", "x", "y", "2026", "년"]
    assert tok.tokens("서울" + "\u200b" + "x" * 65) == ["서울", "울"]  # junk words dropped


def test_tokens_are_nfc() -> None:
    decomposed = "\u1109\u1165\u110b\u116e\u11af"  # 서울 as conjoining jamo
    assert tok.tokens(decomposed) == ["서울", "울"]


def test_index_text_is_space_separated_tokens() -> None:
    assert tok.index_text("새 정책", "정책을 발표") == ("새 정책 책", "정책 책을 을 발표 표")


hangul = st.text(alphabet=st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), min_size=1)


@given(hangul)
def test_every_character_of_a_run_starts_a_token(run: str) -> None:
    toks = tok.tokens(run)
    assert len(toks) == len(run)
    for i, token in enumerate(toks):
        assert token[0] == run[i]  # so a 1-syllable prefix query finds any position
        assert token == run[i : i + 2]


@given(st.text(max_size=60), st.text(max_size=60))
def test_a_term_taken_from_a_text_matches_its_tokens(left: str, right: str) -> None:
    # Whatever surrounds a Hangul word, the query built from the word is consecutive
    # tokens of the text (the prefix token is a prefix of a text token).
    word = "정책을"
    text_tokens = tok.tokens(left + word + right)
    [term] = tok.parse_query(word)
    n = len(term.tokens)
    assert any(list(term.tokens) == text_tokens[i : i + n] for i in range(len(text_tokens) - n + 1))


def test_query_terms() -> None:
    [one] = tok.parse_query("북")
    assert (one.tokens, one.prefix) == (("북",), True)
    [two] = tok.parse_query("서울")
    assert (two.tokens, two.prefix) == (("서울",), False)
    [three] = tok.parse_query("정책을")
    assert three.tokens == ("정책", "책을")
    [mixed] = tok.parse_query("AI반도체")
    assert mixed.tokens == ("ai", "반도", "도체")
    [phrase] = tok.parse_query('"서울 시청"')
    assert phrase.tokens == ("서울", "울", "시청")
    assert [t.tokens for t in tok.parse_query("서울 서울 Korea")] == [("서울",), ("korea",)]


@pytest.mark.parametrize("query", ["", "   ", '"', "*", "()", "--", "'", "!!! ???", '""'])
def test_a_query_with_nothing_to_search_is_refused(query: str) -> None:
    with pytest.raises(StoreError, match="nothing to search for"):
        tok.parse_query(query)


def test_queries_are_escaped() -> None:
    terms = tok.parse_query('서울" OR "x NEAR(a b) 북* title:정책 AND')
    q = tok.fts5_query(terms)
    # Punctuation inside a whitespace-separated term only separates its tokens.
    assert q == (
        '("서울") AND ("or") AND ("x") AND ("near" + "a") AND ("b") AND ("북" *) '
        'AND ("title" + "정책") AND ("and")'
    )
    assert tok.fts5_query(tok.parse_query("AI반 x")) == '("ai" + "반" *) AND ("x")'


def test_tsquery_and_tsvector_literals() -> None:
    terms = tok.parse_query('"state of the art" 북 elections')
    stems = {"state": ["state"], "of": [], "the": [], "art": ["art"], "elections": ["elect"]}
    assert tok.tsquery(terms, stems) == "('state' <3> 'art') & ('북':*) & ('elect')"
    assert tok.tsquery(tok.parse_query("the of"), stems) == ""
    vec = tok.tsvector(["서울", "울"], ["the", "elections", "서울"], stems)
    assert vec == "'서울':1A,6B '울':2A 'elect':5B"
    assert tok.tsvector(["it's"], [], {"it's": ["it's"]}) == "'it''s':1A"


def test_snippet_cuts_at_spaces_around_the_first_match() -> None:
    body = "가나다라 " * 40 + "서울시는 오늘 새로운 교통 정책을 발표했다. " + "마바사 " * 40
    [term] = tok.parse_query("정책")
    snippet, matched = tok.snippet("정책 발표", body, [term])
    assert snippet.startswith("…") and snippet.endswith("…")
    assert len(snippet) <= tok.SNIPPET_CHARS + 2
    assert "정책을" in snippet
    inner = snippet.strip("…")
    assert inner.split(" ")[0] in ("가나다라", "서울시는") and inner.split(" ")[-1] == "마바사"
    assert matched == ("정책",)
    assert tok.highlight_spans("새 정책, 정책을", matched) == [(2, 4), (6, 8)]


def test_snippet_matches_what_the_index_matches() -> None:
    terms = tok.parse_query("election AI반도체 북")
    _, matched = tok.snippet(
        "Elections", "AI 반도체 수출과 남북회담, 북한군이 the elected said", terms
    )
    assert matched == ("Elections", "AI 반도체", "북", "elected")
    assert tok.snippet("", "", terms) == ("", ())
    # Control characters and escape sequences never reach the snippet.
    snippet, _ = tok.snippet("", "서울\x1b[2J 시청\x07", tok.parse_query("서울"))
    assert snippet == "서울 시청"


# -- search on SQLite and PostgreSQL -------------------------------------------------------


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    s = SqlStore.open(db_url)
    yield s
    s.close()


def news(key: str, title: str, body: str, hours_ago: float = 1, *tags: str) -> ArticleWrite:
    return article(
        f"https://news.example/{key}",
        title=title,
        text=body,
        summary="",
        text_source="feed",
        published_at=NOW - timedelta(hours=hours_ago),
        tags=tuple(TagAssignment(t, "feed") for t in tags),
    )


CORPUS = {
    "seoul": news(
        "seoul",
        "서울시 새 교통 정책",
        "서울시는 오늘 새로운 교통 정책을 발표했다. 시민들은 대체로 환영했다.",
        1,
        "politics",
    ),
    "summit": news(
        "summit", "남북회담 내달 개최", "양측은 준비 회담을 열기로 했다.", 2, "politics"
    ),
    "army": news("army", "군 훈련", "북한군이 휴전선 인근에서 훈련을 했다고 밝혔다.", 3, "world"),
    "hanja": news("hanja", "美 與 野 정상 통화", "대통령이 통화했다.", 4, "world"),
    "english": news(
        "english",
        "Koreans head to the polls",
        "The elections will decide the new parliament.",
        24 * 30,
        "world",
    ),
    "chip": news("chip", "AI반도체 수출 급증", "인공지능 반도체 수출이 늘었다.", 5, "economy"),
}


@pytest.fixture
def ids(store: SqlStore) -> dict[str, int]:
    fid = feed_id(store, "https://news.example/rss")
    store.store_update(fid, write(*(entry(f"g-{k}", a) for k, a in CORPUS.items())))
    known = store.known_articles([a.url_key for a in CORPUS.values()])
    return {k: known[a.url_key] for k, a in CORPUS.items()}


def found(store: SqlStore, query: str, **kwargs: object) -> set[int]:
    return {hit.article_id for hit in store.search(query, **kwargs)}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("서울", {"seoul"}),
        ("정책", {"seoul"}),
        ("교통", {"seoul"}),
        ("경제", set()),
        ("북", {"summit", "army"}),  # 남북회담 and 북한군이: inside words
        ("회담", {"summit"}),
        ("정책을", {"seoul"}),
        ("서울시는", {"seoul"}),
        ("새로운 교통", {"seoul"}),  # multi-term AND
        ("서울 북한", set()),
        ('"교통 정책을"', {"seoul"}),  # quoted phrase
        ('"정책 교통"', set()),
        ("美", {"hanja"}),
        ("野", {"hanja"}),
        ("北", set()),
        ("elections", {"english"}),
        ("election", {"english"}),  # stemming
        ("Korean", {"english"}),
        ("PARLIAMENTS", {"english"}),
        ("AI반도체", {"chip"}),
        ("반도체", {"chip"}),
        ("ai", {"chip"}),
        ("반도체AI", set()),
    ],
)
def test_search_finds(store: SqlStore, ids: dict[str, int], query: str, expected: set[str]) -> None:
    assert found(store, query) == {ids[k] for k in expected}


def test_hanja_one_character_headline_word(store: SqlStore, ids: dict[str, int]) -> None:
    fid = feed_id(store, "https://news.example/rss")
    store.store_update(fid, write(entry("g-n", news("n", "北 미사일 발사", "발사했다."))))
    [hit] = store.search("北")
    assert hit.title == "北 미사일 발사" and hit.matched_terms == ("北",)


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "*",
        "AND OR NOT",
        "NEAR(",
        ")",
        "'",
        "--",
        '서울"',
        '"서울',
        "서울*",
        "NEAR(서울 교통, 2)",
        "title:서울",
        "^서울",
        "-서울",
        "서울 OR 북한",
        "서울 NOT 교통",
        "{title body}: 서울",
        "'; DROP TABLE articles; --",
        "\x00서울",
        "서울 " * 20,
        "a" * 400,
    ],
)
def test_hostile_queries_never_break_the_query(
    store: SqlStore, ids: dict[str, int], query: str
) -> None:
    try:
        hits = store.search(query)
    except StoreError as exc:
        assert "nothing to search for" in str(exc) or "too many" in str(exc)
    else:
        assert all(isinstance(hit, SearchHit) for hit in hits)
    assert found(store, "서울") == {ids["seoul"]}  # and nothing was harmed


def test_operators_are_words_not_syntax(store: SqlStore, ids: dict[str, int]) -> None:
    assert found(store, "서울 OR 북한") == set()
    assert found(store, "서울*") == {ids["seoul"]}
    assert found(store, "-서울") == {ids["seoul"]}


def test_tag_and_since_filters(store: SqlStore, ids: dict[str, int]) -> None:
    assert found(store, "정책", tags=["politics"]) == {ids["seoul"]}
    assert found(store, "정책", tags=["economy"]) == set()
    assert found(store, "북", tags=["world", "economy"]) == {ids["army"]}
    assert found(store, "election", since=NOW - timedelta(days=2)) == set()
    assert found(store, "election", since=NOW - timedelta(days=60)) == {ids["english"]}
    assert found(store, "북", since=NOW - timedelta(hours=2, minutes=30)) == {ids["summit"]}


def test_hit_fields(store: SqlStore, ids: dict[str, int]) -> None:
    [hit] = store.search("정책")
    assert hit.article_id == ids["seoul"]
    assert hit.title == "서울시 새 교통 정책"
    assert hit.url == "https://news.example/seoul"
    assert hit.feed_title == "피드"
    assert hit.published_at == NOW - timedelta(hours=1)
    assert hit.published_at.tzinfo is not None
    assert hit.score > 0
    assert hit.snippet == "서울시는 오늘 새로운 교통 정책을 발표했다. 시민들은 대체로 환영했다."
    assert hit.matched_terms == ("정책",)
    [english] = store.search("election")
    assert english.matched_terms == ("elections",)


def test_title_hit_ranks_above_body_hit_and_newest_first_on_ties(store: SqlStore) -> None:
    fid = feed_id(store, "https://news.example/rss")
    body_only = news("b", "시장 소식", "오늘 환율이 올랐다. 시장은 불안하다.", 1)
    title = news("t", "환율 급등", "시장은 불안하다. 오늘 장이 흔들렸다.", 10)
    old_twin = news("o", "유가 소식", "유가가 올랐다.", 30)
    new_twin = news("n", "유가 소식", "유가가 올랐다.", 20)
    store.store_update(
        fid, write(*(entry(a.url_key, a) for a in (body_only, title, old_twin, new_twin)))
    )
    hits = store.search("환율")
    assert [h.title for h in hits] == ["환율 급등", "시장 소식"]
    assert hits[0].score > hits[1].score
    twins = store.search("유가")
    assert [h.published_at for h in twins] == [
        NOW - timedelta(hours=20),
        NOW - timedelta(hours=30),
    ]
    assert [h.article_id for h in store.search("소식", limit=1)] == [twins[0].article_id]


def test_edited_article_is_reindexed(store: SqlStore) -> None:
    fid = feed_id(store, "https://news.example/rss")
    first = news("e", "물가 상승", "물가가 크게 올랐다.")
    store.store_update(fid, write(entry("g-e", first)))
    assert len(store.search("물가")) == 1
    edited = replace(first, title="금리 인하", text="금리가 내렸다.", content_hash="x" * 64)
    counts = store.store_update(fid, write(entry("g-e", edited, changed=True)))
    assert counts.updated == 1
    assert store.search("물가") == []
    [hit] = store.search("금리")
    assert hit.title == "금리 인하"


def test_summary_is_searched_when_there_is_no_text(store: SqlStore) -> None:
    fid = feed_id(store, "https://news.example/rss")
    art = replace(news("s", "제목만", ""), summary="요약에만 있는 환율 이야기")
    store.store_update(fid, write(entry("g-s", art)))
    [hit] = store.search("환율")
    assert hit.snippet == "요약에만 있는 환율 이야기"


def _index_rows(store: SqlStore) -> int:
    table = "article_fts" if store.dialect == "sqlite" else "article_search"
    with store.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_unindex_after_prune(store: SqlStore, ids: dict[str, int]) -> None:
    assert _index_rows(store) == len(CORPUS)
    pruned, kept = ids["seoul"], ids["chip"]
    with store._write() as session:
        session.execute(delete(ArticleRow).where(ArticleRow.id == pruned))
        # "chip" was not deleted (a starred article retention keeps): it stays indexed.
        store.unindex_articles(session, [pruned, kept])
    assert _index_rows(store) == len(CORPUS) - 1
    assert store.search("서울") == []
    assert found(store, "반도체") == {kept}


def test_reindex_all_rebuilds_and_drops_orphans(store: SqlStore, ids: dict[str, int]) -> None:
    with store._write() as session:  # deleted without unindex_articles
        session.execute(delete(ArticleRow).where(ArticleRow.id == ids["army"]))
    assert store.reindex_all(batch=2) == len(CORPUS) - 1
    assert _index_rows(store) == len(CORPUS) - 1
    assert found(store, "북") == {ids["summit"]}
    assert found(store, "AI반도체") == {ids["chip"]}


def test_migration_indexes_existing_articles(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade_schema(engine, "0002")
    with engine.begin() as conn:
        conn.execute(
            insert(ArticleRow).values(
                key_hash="k" * 64,
                url="https://news.example/old",
                title="옛 기사",
                summary="",
                text="서울시는 오늘 새로운 교통 정책을 발표했다.",
                html="",
                text_source="feed",
                extract_status="ok",
                content_hash="",
                first_seen_at=NOW,
                changed_at=NOW,
            )
        )
    upgrade_schema(engine)
    engine.dispose()
    with SqlStore.open(db_url, create=False) as store:
        [hit] = store.search("정책")
        assert hit.title == "옛 기사"
        assert hit.published_at == NOW  # no date: first seen
        assert hit.feed_title is None


def test_empty_query_and_naive_since_are_store_errors(store: SqlStore) -> None:
    with pytest.raises(StoreError, match="nothing to search for"):
        store.search("  ")
    with pytest.raises(StoreError, match="aware"):
        store.search("서울", since=datetime(2026, 1, 1))
    assert store.search("서울", since=datetime(2026, 1, 1, tzinfo=UTC), limit=0) == []


def test_ties_beyond_the_candidate_window_still_come_newest_first(store: SqlStore) -> None:
    # Identical wire copies under different links score the same; more of them than the
    # SQLite fast path looks at must still come out newest first.
    fid = feed_id(store, "https://news.example/rss")
    copies = [
        news(f"w{i}", "속보 지진 발생", "규모 5.0 지진이 발생했다.", 100 - i) for i in range(70)
    ]
    store.store_update(fid, write(*(entry(a.url_key, a) for a in copies)))
    hits = store.search("지진", limit=3)
    assert [h.published_at for h in hits] == [NOW - timedelta(hours=h) for h in (31, 32, 33)]
    assert len(store.search("지진", limit=100)) == 70


def test_common_terms_rank_within_the_newest_matches(tmp_path: Path) -> None:
    """SQLite scores at most ``search_window`` matches of an unfiltered query (the newest
    stored): a term in a fifth of a million articles would otherwise cost ~150 ms."""
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with SqlStore.open(url) as store:
        fid = feed_id(store, "https://news.example/rss")
        # The oldest article is the best match (the term in its title); the window hides it.
        best = news("best", "지진 지진 소식", "지진이 났다.", 100)
        others = [
            news(f"n{i}", f"소식 {i}", f"어제 지진이 있었다. 피해는 {i}건.", 50 - i)
            for i in range(8)
        ]
        store.store_update(fid, write(entry("g-best", best)))
        store.store_update(fid, write(*(entry(f"g-{i}", a) for i, a in enumerate(others))))
        everything = store.search("지진", limit=3)
    assert everything[0].title == "지진 지진 소식"
    sql = open_sqlite(url)
    assert sql is not None
    try:
        windowed = Reading(sql, search_window=4).search("지진", limit=10)
        assert len(windowed) == 4 and "지진 지진 소식" not in {h.title for h in windowed}
        # Ties within the window are broken by date, newest first.
        assert [h.title for h in windowed] == [f"소식 {i}" for i in (7, 6, 5, 4)]
        # A filtered query is exact over every match.
        filtered = Reading(sql, search_window=4).search("지진", since=NOW - timedelta(days=30))
        assert filtered[0].title == "지진 지진 소식" and len(filtered) == 9
    finally:
        sql.close()
