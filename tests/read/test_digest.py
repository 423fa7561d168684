"""The digest, show and read/unread: store queries on SQLite and PostgreSQL, lead extraction,
rendering snapshots (80 and 120 columns, text and Markdown), the JSON schema, and hostile
feed text rendered inert.

Snapshots live in tests/data/digest/; regenerate them with AGGREGATOR_UPDATE_SNAPSHOTS=1
(then look at them: they are what a person reads every morning).
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from rich.cells import cell_len
from rich.console import Console

from aggregator.models import TagAssignment
from aggregator.read.digest import (
    DIGEST_JSON_SCHEMA,
    DIGEST_JSON_SCHEMA_VERSION,
    LAST_DIGEST_STATE_KEY,
    OTHER_COUNT_KEY,
    Digest,
    build_digest,
    date_heading,
    parse_since,
    section_order,
)
from aggregator.read.render import (
    make_console,
    render_article,
    render_json,
    render_markdown,
    render_text,
)
from aggregator.store.records.reading import ArticleDetail, DigestRow
from aggregator.store.sql import SqlStore
from aggregator.text.lead import extract_lead
from tests.paths import DATA
from tests.store.test_sql import article, entry, write

SNAPSHOTS = DATA / "digest"
UPDATE = bool(os.environ.get("AGGREGATOR_UPDATE_SNAPSHOTS"))
SEOUL = ZoneInfo("Asia/Seoul")
# Monday, March 10, 2025, 09:30 in Seoul.
NOW = datetime(2025, 3, 10, 0, 30, tzinfo=UTC)
TAG_ORDER = ("politics", "economy", "world", "tech")
TAG_LABELS = {"politics": "정치", "economy": "경제", "world": "국제", "tech": "IT·과학"}


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    s = SqlStore.open(db_url)
    yield s  # type: ignore[misc]
    s.close()


def _tags(*names: str) -> tuple[TagAssignment, ...]:
    return tuple(TagAssignment(n, "rule") for n in names)


YNA = "https://www.yna.co.kr/rss/news.xml"
HANI = "https://www.hani.co.kr/rss/"
HERALD = "https://www.koreaherald.com/rss/all"
MK = "https://www.mk.co.kr/rss/30000001/"

# (feed, key, hours before NOW, title, text, tags, summary)
FIXTURE: list[tuple[str, str, float | None, str, str, tuple[str, ...], str]] = [
    (
        YNA,
        "https://www.yna.co.kr/view/AKR20250310000100001",
        0.5,
        "여야, 추경 편성 놓고 정면충돌…본회의 일정도 불투명",
        "여야, 추경 편성 놓고 정면충돌…본회의 일정도 불투명\n"
        "(서울=연합뉴스) 홍길동 기자 = 여야가 10일 추가경정예산안 편성 규모를 놓고 정면으로 "
        "충돌했다. 국민의힘은 15조원 이내를, 더불어민주당은 30조원 이상을 주장하고 있다. "
        "국회의장은 이번 주 안에 본회의 일정을 잡겠다고 밝혔다.\n"
        "양당 원내대표는 오후에 다시 만날 예정이다.",
        ("politics", "economy"),
        "",
    ),
    (
        HANI,
        "https://www.hani.co.kr/arti/politics/1",
        3,
        "헌법재판소, 이번 주 선고 기일 지정할까",
        "헌법재판소가 이번 주 안에 선고 기일을 지정할지 관심이 쏠리고 있다. 재판관들은 "
        "주말에도 평의를 이어간 것으로 알려졌다.",
        ("politics",),
        "",
    ),
    (
        MK,
        "https://www.mk.co.kr/news/economy/2",
        1.25,
        "코스피 2,600선 회복…외국인 순매수 전환",
        "[매일경제 김철수 기자]\n코스피가 외국인의 순매수에 힘입어 2,600선을 회복했다. "
        "10일 오전 9시 20분 현재 코스피는 전 거래일보다 1.2% 오른 2,604.31을 기록 중이다.",
        ("economy",),
        "",
    ),
    (
        HERALD,
        "https://www.koreaherald.com/view.php?ud=3",
        2,
        "Korea's exports rise 5.2% in February as chip demand holds up",
        "SEOUL, March 10 (Yonhap) -- South Korea's exports rose 5.2 percent in February from a "
        "year earlier on solid demand for semiconductors, data showed Monday. Mr. Kim of the "
        "U.S. desk said tariffs could weigh on growth later this year.",
        ("economy", "world"),
        "",
    ),
    (
        HERALD,
        "https://www.koreaherald.com/view.php?ud=4",
        20,  # yesterday in Seoul: shown with its date
        "US, Ukraine to hold talks in Saudi Arabia this week",
        "By Jane Doe\nUS and Ukrainian officials will meet in Jeddah on Tuesday, the State "
        "Department said. The talks follow a tense meeting at the White House last month.",
        ("world",),
        "",
    ),
    (
        YNA,
        "https://www.yna.co.kr/view/AKR20250310000200002",
        5,
        '트럼프 "관세 예정대로"…EU·캐나다 보복 예고에 통상 긴장 고조',
        "(워싱턴=연합뉴스) 김영희 특파원 = 도널드 트럼프 미국 대통령이 9일(현지시간) "
        '"관세는 예정대로 부과될 것"이라고 말했다. 유럽연합(EU)과 캐나다는 즉각 보복 조치를 '
        "예고했다.",
        ("world",),
        "",
    ),
    (
        HANI,
        "https://www.hani.co.kr/arti/science/5",
        7,
        "국내 연구진, 상온에서 작동하는 양자 센서 개발",
        "국내 연구진이 상온에서도 안정적으로 작동하는 양자 센서를 개발했다고 10일 밝혔다. 이 "
        "센서는 기존 장비보다 크기가 100분의 1 수준으로 작아 의료 영상과 반도체 검사 등에 폭넓게 "
        "활용될 수 있을 것으로 기대된다. 연구 결과는 국제 학술지에 실렸다.",
        ("tech",),
        "",
    ),
    (
        HERALD,
        "https://www.koreaherald.com/view.php?ud=8",
        4,
        "Samsung unveils Galaxy smartphone lineup with on-device AI features",
        "",  # no extracted text: the lead comes from the feed summary
        ("tech",),
        "Samsung Electronics on Monday unveiled its new lineup. The phones go on sale in April.",
    ),
    (
        MK,
        "https://www.mk.co.kr/news/society/9",
        6,
        "서울 지하철 요금 4월부터 150원 인상",
        "서울시는 지하철 기본요금을 4월부터 150원 올린다고 10일 밝혔어요. 시는 적자 누적을 "
        "이유로 들었습니다.",
        (),  # no tag: "Other", last
        "",
    ),
    (
        YNA,
        "https://www.yna.co.kr/view/AKR20250310000300003",
        None,  # the feed gave no date: first seen (NOW - 30 min) is used
        '기상청 "이번 주 꽃샘추위…수요일 아침 영하권"',
        "이번 주 중반 꽃샘추위가 찾아오겠다. 기상청은 수요일 아침 서울의 기온이 영하 2도까지 "
        "떨어질 것으로 내다봤다.",
        (),
        "",
    ),
    (
        YNA,
        "https://www.yna.co.kr/view/AKR20250301000400004",
        24 * 9,  # outside the period
        "지난주 기사",
        "오래된 기사다.",
        ("politics",),
        "",
    ),
]


def _populate(store: SqlStore) -> dict[str, int]:
    titles = {YNA: "연합뉴스", HANI: "한겨레", HERALD: "The Korea Herald", MK: "매일경제"}
    ids: dict[str, int] = {}
    for feed_url, key, hours, title, text, tags, summary in FIXTURE:
        store.sync_feeds([(feed_url, None)], NOW)
        state = store.feed_state(feed_url)
        assert state is not None
        published = None if hours is None else NOW - timedelta(hours=hours)
        art = article(
            key,
            title,
            published_at=published,
            text=text,
            summary=summary,
            author=None if feed_url == HERALD else "홍길동",
            tags=_tags(*tags),
            text_source="trafilatura" if text else "none",
        )
        seen = NOW - timedelta(minutes=30) if hours is None else NOW - timedelta(hours=hours)
        feed_write = replace(write(entry(key, art), now=seen), title=titles[feed_url])
        store.store_update(state.id, feed_write)
        ids[key] = store.known_articles([key])[key]
    return ids


def _digest(store: SqlStore, **kwargs: object) -> Digest:
    since = NOW - timedelta(hours=24)
    rows = store.digest_rows(since, **kwargs)  # type: ignore[arg-type]
    return build_digest(
        rows,
        now=NOW,
        tz=SEOUL,
        tag_order=TAG_ORDER,
        tag_labels=TAG_LABELS,
        since=since,
        limit_per_tag=10,
    )


def _text(digest: Digest, width: int) -> str:
    buffer = io.StringIO()
    render_text(digest, make_console(file=buffer, width=width))
    return buffer.getvalue()


def _snapshot(name: str, actual: str) -> None:
    path = SNAPSHOTS / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with AGGREGATOR_UPDATE_SNAPSHOTS=1"
    assert actual == path.read_text(encoding="utf-8"), f"{name} differs from its snapshot"


# -- store ------------------------------------------------------------------------------------


def test_digest_rows_period_order_and_prefix(store: SqlStore) -> None:
    ids = _populate(store)
    rows = store.digest_rows(NOW - timedelta(hours=24))
    keys = {v: k for k, v in ids.items()}
    assert len(rows) == 10  # all but last week's article
    assert "지난주" not in " ".join(r.title for r in rows)
    times = [r.published_at or r.first_seen_at for r in rows]
    assert times == sorted(times, reverse=True)
    first = rows[0]
    assert keys[first.id].endswith("0300003")  # no published date: first-seen time counts
    assert first.published_at is None
    by_title = {r.title: r for r in rows}
    yna = by_title["여야, 추경 편성 놓고 정면충돌…본회의 일정도 불투명"]
    assert (yna.feed_title, yna.feed_url) == ("연합뉴스", YNA)
    assert yna.tags == ("economy", "politics")
    assert yna.read_at is None
    assert len(rows) == len(store.digest_rows(NOW - timedelta(hours=24), limit=100))
    assert len(store.digest_rows(NOW - timedelta(hours=24), limit=3)) == 3
    assert len(store.digest_rows(NOW - timedelta(days=10))) == 11


def test_digest_rows_load_only_a_prefix_of_the_text(store: SqlStore) -> None:
    store.sync_feeds([(YNA, "연합뉴스")], NOW)
    state = store.feed_state(YNA)
    assert state is not None
    long_text = "가나다라마바사. " * 2000
    art = article("https://www.yna.co.kr/long", "긴 기사", published_at=NOW, text=long_text)
    store.store_update(state.id, write(entry("long", art)))
    [row] = store.digest_rows(NOW - timedelta(hours=1))
    assert 0 < len(row.text_start) <= 800
    detail = store.article(row.id)
    assert detail is not None and detail.text == long_text


def test_digest_rows_filters(store: SqlStore) -> None:
    _populate(store)
    since = NOW - timedelta(hours=24)
    tech = store.digest_rows(since, tags=["tech"])
    assert {r.title for r in tech} == {
        "국내 연구진, 상온에서 작동하는 양자 센서 개발",
        "Samsung unveils Galaxy smartphone lineup with on-device AI features",
    }
    herald = store.digest_rows(since, feeds=[HERALD])
    assert {r.feed_url for r in herald} == {HERALD} and len(herald) == 3
    both = store.digest_rows(since, tags=["tech"], feeds=[HERALD])
    assert [r.feed_title for r in both] == ["The Korea Herald"]
    assert store.digest_rows(since, tags=["nonexistent"]) == []


def test_article_detail_mark_read_and_state(store: SqlStore) -> None:
    ids = _populate(store)
    aid = ids["https://www.yna.co.kr/view/AKR20250310000100001"]
    detail = store.article(aid)
    assert detail is not None
    assert detail.feed_title == "연합뉴스" and detail.author == "홍길동"
    assert detail.tags == ("economy", "politics")
    assert detail.text.startswith("여야, 추경") and detail.read_at is None
    assert store.article(999_999) is None

    assert store.mark_read([aid, 999_999], True, NOW) == 1
    first_read = store.article(aid)
    assert first_read is not None and first_read.read_at == NOW
    # Marking again keeps the first read time.
    assert store.mark_read([aid], True, NOW + timedelta(hours=1)) == 1
    again = store.article(aid)
    assert again is not None and again.read_at == NOW
    [row] = [r for r in store.digest_rows(NOW - timedelta(hours=24)) if r.id == aid]
    assert row.read_at == NOW
    assert store.mark_read([aid], False) == 1
    unread = store.article(aid)
    assert unread is not None and unread.read_at is None
    assert store.mark_read([], True) == 0

    assert store.get_state(LAST_DIGEST_STATE_KEY) is None
    store.set_state(LAST_DIGEST_STATE_KEY, NOW.isoformat(), NOW)
    store.set_state(LAST_DIGEST_STATE_KEY, (NOW + timedelta(days=1)).isoformat(), NOW)
    assert store.get_state(LAST_DIGEST_STATE_KEY) == (NOW + timedelta(days=1)).isoformat()


# -- building ---------------------------------------------------------------------------------


def test_a_tag_filter_shows_only_that_tag_s_section(store: SqlStore) -> None:
    """`digest --tag economy` filed 여야, 추경 (politics and economy) under politics: a filter
    showed other tags' sections."""
    _populate(store)
    since = NOW - timedelta(hours=24)
    rows = store.digest_rows(since, tags=("economy",))
    digest = build_digest(
        rows,
        now=NOW,
        tz=SEOUL,
        tag_order=section_order(TAG_ORDER, ("economy",)),
        tag_labels=TAG_LABELS,
        since=since,
    )
    assert [s.tag for s in digest.sections] == ["economy"]
    assert any(st.title.startswith("여야, 추경") for st in digest.sections[0].stories)
    assert section_order(TAG_ORDER, ("world", "politics")) == ["politics", "world"]
    assert section_order(TAG_ORDER) == list(TAG_ORDER)


def test_build_groups_by_first_configured_tag(store: SqlStore) -> None:
    _populate(store)
    digest = _digest(store)
    assert digest.date_heading == "Monday, March 10, 2025"
    assert [s.tag for s in digest.sections] == ["politics", "economy", "world", "tech", None]
    assert [s.label for s in digest.sections] == ["정치", "경제", "국제", "IT·과학", "Other"]
    assert digest.counts == {
        "politics": 2,
        "economy": 2,
        "world": 2,
        "tech": 2,
        "(other)": 2,
    }
    politics = digest.sections[0]
    # Tagged politics and economy: once, under politics (first in config order).
    assert politics.stories[0].title.startswith("여야, 추경")
    assert politics.stories[0].tags == ("politics", "economy")
    assert all("여야" not in s.title for s in digest.sections[1].stories)
    world = digest.sections[2]
    assert [s.local_time for s in world.stories] == ["04:30", "Mar 9 13:30"]
    other = digest.sections[-1]
    assert other.stories[0].published == NOW - timedelta(minutes=30)
    limited = build_digest(
        store.digest_rows(NOW - timedelta(hours=24)),
        now=NOW,
        tz=SEOUL,
        tag_order=TAG_ORDER,
        tag_labels={},
        since=NOW - timedelta(hours=24),
        limit_per_tag=1,
    )
    assert [len(s.stories) for s in limited.sections] == [1, 1, 1, 1, 1]
    assert limited.sections[0].count == 2
    assert limited.sections[0].label == "politics"  # no label configured: the name


def test_date_heading_is_english_whatever_the_locale() -> None:
    assert date_heading(datetime(2025, 3, 10).date()) == "Monday, March 10, 2025"
    assert date_heading(datetime(2026, 11, 29).date()) == "Sunday, November 29, 2026"


def test_date_heading_uses_the_display_time_zone() -> None:
    # 23:30 UTC on Sunday is already Monday in Seoul.
    late = datetime(2025, 3, 9, 23, 30, tzinfo=UTC)
    digest = build_digest(
        [], now=late, tz=SEOUL, tag_order=(), tag_labels={}, since=late - timedelta(days=1)
    )
    assert digest.date_heading == "Monday, March 10, 2025"
    assert digest.sections == ()


def test_parse_since() -> None:
    assert parse_since("24h", now=NOW, tz=SEOUL, last=None) == NOW - timedelta(hours=24)
    assert parse_since("7d", now=NOW, tz=SEOUL, last=None) == NOW - timedelta(days=7)
    assert parse_since("90m", now=NOW, tz=SEOUL, last=None) == NOW - timedelta(minutes=90)
    day = parse_since("2025-03-09", now=NOW, tz=SEOUL, last=None)
    assert day == datetime(2025, 3, 9, tzinfo=SEOUL)
    earlier = NOW - timedelta(hours=5)
    assert parse_since("last", now=NOW, tz=SEOUL, last=earlier) == earlier
    assert parse_since("last", now=NOW, tz=SEOUL, last=None) == NOW - timedelta(hours=24)
    with pytest.raises(ValueError, match="--since"):
        parse_since("yesterday-ish", now=NOW, tz=SEOUL, last=None)


# -- leads ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "title", "lead"),
    [
        (  # Yonhap: the dateline and byline are not the story
            "(서울=연합뉴스) 홍길동 기자 = 정부가 내년도 예산안을 656조원 규모로 편성했다. "
            "올해보다 2.8% 늘어난 수준이다. 기획재정부는 29일 국무회의에서 이같이 밝혔다.",
            "정부, 내년 예산 656조원 편성",
            "정부가 내년도 예산안을 656조원 규모로 편성했다. 올해보다 2.8% 늘어난 수준이다.",
        ),
        (  # the headline repeated, then a dateline-only line
            "정부, 내년 예산 656조원 편성\n(세종=뉴스1) 김철수 이영희 기자 =\n"
            "정부가 내년도 예산안을 편성했다. 재정 건전성에 무게를 뒀다.",
            "정부, 내년 예산 656조원 편성",
            "정부가 내년도 예산안을 편성했다. 재정 건전성에 무게를 뒀다.",
        ),
        (  # a quotation with its own period is not a sentence end (no space after the quote)
            '[서울=뉴시스]박민수 기자 = 서울시는 "대중교통 요금을 올리겠다."고 밝혔다. '
            "시는 다음 달부터 시행한다.",
            "서울시 요금 인상",
            '서울시는 "대중교통 요금을 올리겠다."고 밝혔다. 시는 다음 달부터 시행한다.',
        ),
        (  # 까? 요. 니다. endings, furniture lines before the text
            "입력 2025.03.10 09:00\n▲ 금융위원회 전경 (사진=연합뉴스)\n"
            "홍길동 기자 hong@example.com\n"
            "가계부채는 다시 늘어날까? 금융위원회는 대출 한도를 줄였어요. 시행은 다음 달입니다.",
            "가계부채 관리",
            "가계부채는 다시 늘어날까? 금융위원회는 대출 한도를 줄였어요.",
        ),
        (  # a sentence opening with a parenthesis that is not a dateline keeps it
            "(주)한국전력은 10일 전기요금 동결을 발표했다.",
            "한전",
            "(주)한국전력은 10일 전기요금 동결을 발표했다.",
        ),
        (  # English wire dateline, abbreviations and decimals
            "SEOUL, March 10 (Yonhap) -- South Korea's exports rose 5.2 percent in February. "
            "Mr. Kim of the U.S. desk said tariffs could weigh on growth. More follows.",
            "Exports rise",
            "South Korea's exports rose 5.2 percent in February. Mr. Kim of the U.S. desk said "
            "tariffs could weigh on growth.",
        ),
        (  # English byline line, closing quotes
            'By Jane Doe and John Roe\n"We will not back down," the minister said. '
            "The talks resume on Tuesday.",
            "Talks",
            '"We will not back down," the minister said. The talks resume on Tuesday.',
        ),
        (  # curly quotes end a sentence when white space follows
            "“정말 그럴까요?” 시민들은 되물었다. 세 번째 문장이다.",
            "시민",
            "“정말 그럴까요?” 시민들은 되물었다.",
        ),
        ("", "제목", ""),
    ],
)
def test_extract_lead(text: str, title: str, lead: str) -> None:
    assert extract_lead(text, title) == lead


def test_long_lead_is_cut_at_a_space_never_inside_a_word() -> None:
    text = "국회 본회의에서는 " + "여야 간 치열한 공방이 이어진 가운데 " * 12 + "결국 처리됐다."
    lead = extract_lead(text, "제목")
    assert lead.endswith("…") and cell_len(lead) <= 160
    body = lead[:-1]
    assert text.startswith(body) and text[len(body)] == " "  # cut where a word ends
    english = "The committee " + "discussed the extraordinarily complicated budget " * 8 + "."
    cut = extract_lead(english, "x")
    assert cut.endswith("…") and english[len(cut) - 1] == " " and len(cut) <= 160


def test_second_sentence_only_when_it_fits() -> None:
    first = "정부는 " + "관계 부처와 협의해 " * 4 + "대책을 마련했다."
    lead = extract_lead(
        first + " 두 번째 문장은 길어서 들어가지 않는다" + "아주 " * 40 + "길다.", "x"
    )
    assert lead == first


# -- rendering --------------------------------------------------------------------------------


def test_digest_snapshots(store: SqlStore) -> None:
    _populate(store)
    digest = _digest(store)
    for width in (80, 120):
        text = _text(digest, width)
        assert "\x1b" not in text  # not a terminal: no styles at all
        for line in text.splitlines():
            assert cell_len(line) <= width, line
        _snapshot(f"digest_{width}.txt", text)
    _snapshot("digest.md", render_markdown(digest))
    _snapshot("digest.json", render_json(digest))


def test_text_columns_align_with_hangul(store: SqlStore) -> None:
    _populate(store)
    text = _text(_digest(store), 80)
    # Every headline starts at the same cell and every id ends at the last column,
    # whatever mix of Hangul (two cells) and Latin (one cell) precedes it.
    starts, ends = set(), set()
    for line in text.splitlines():
        match = re.match(r"^( *(?:\d\d:\d\d|[A-Z][a-z]{2} \d{1,2} \d\d:\d\d) )(.*?)(\d+)$", line)
        if match:
            starts.add(cell_len(match.group(1)))
            ends.add(cell_len(line))
    assert len(starts) == 1 and ends == {80}


def test_article_snapshot(store: SqlStore) -> None:
    ids = _populate(store)
    detail = store.article(ids["https://www.yna.co.kr/view/AKR20250310000100001"])
    assert detail is not None
    buffer = io.StringIO()
    render_article(detail, make_console(file=buffer, width=80), tz=SEOUL, tag_labels=TAG_LABELS)
    _snapshot("show_80.txt", buffer.getvalue())


def test_show_speaks_the_display_language(store: SqlStore) -> None:
    """show printed "Thursday, December 3, 2026" and "tags"/"link" over a Korean digest."""
    ids = _populate(store)
    detail = store.article(ids["https://www.yna.co.kr/view/AKR20250310000100001"])
    assert detail is not None
    buffer = io.StringIO()
    console = make_console(file=buffer, width=100)
    render_article(detail, console, tz=SEOUL, tag_labels=TAG_LABELS, language="ko")
    out = buffer.getvalue()
    assert "2025년 3월 10일 월요일" in out and "태그" in out and "링크" in out, out
    assert "Monday" not in out and "tags" not in out and "unread" not in out, out


def test_empty_digest_says_so() -> None:
    digest = build_digest(
        [], now=NOW, tz=SEOUL, tag_order=TAG_ORDER, tag_labels={}, since=NOW - timedelta(1)
    )
    assert "No new stories" in _text(digest, 80)
    assert "No new stories" in render_markdown(digest)
    assert json.loads(render_json(digest))["sections"] == []


def test_a_korean_digest_speaks_korean(store: SqlStore) -> None:
    """The UI mixed languages: an English date heading and "Other" over Korean news."""
    _populate(store)
    since = NOW - timedelta(hours=24)
    digest = build_digest(
        store.digest_rows(since),
        now=NOW,
        tz=SEOUL,
        tag_order=TAG_ORDER,
        tag_labels=TAG_LABELS,
        since=since,
        language="ko",
    )
    text = _text(digest, 100)
    assert text.startswith("2025년 3월 10일 월요일\n기사 10건  ·  정치 2")
    assert "2025-03-09 09:30 KST부터, 09:30 기준" in text
    assert "기타 (2)" in text and "Other" not in text
    assert "3월 9일" in text and "Mar 9" not in text  # yesterday's story in the time column
    markdown = render_markdown(digest)
    assert markdown.startswith("# 2025년 3월 10일 월요일\n\n기사 10건 2025-03-09 09:30 KST부터:")
    empty = build_digest(
        [], now=NOW, tz=SEOUL, tag_order=TAG_ORDER, tag_labels={}, since=since, language="ko"
    )
    assert "이 기간에 새 기사가 없습니다." in _text(empty, 80)


def test_display_language_comes_from_the_config_then_the_locale() -> None:
    from aggregator.config.file import display_language

    assert display_language("en", {"LANG": "ko_KR.UTF-8"}) == "en"
    assert display_language(None, {"LANG": "en_US.UTF-8"}) == "en"
    assert display_language(None, {"LC_ALL": "ko_KR.UTF-8", "LANG": "en_US.UTF-8"}) == "ko"
    assert display_language(None, {"LANG": "de_DE.UTF-8"}) == "ko"  # neither: the news's
    assert display_language(None, {}) == "ko"
    assert display_language(None, {"LANG": "C.UTF-8"}) == "ko"


def _iso_with_offset(value: object) -> datetime:
    assert isinstance(value, str)
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None and re.search(r"[+-]\d\d:\d\d$", value), value
    return parsed


def test_json_schema(store: SqlStore) -> None:
    _populate(store)
    document = json.loads(render_json(_digest(store)))
    assert set(document) == set(DIGEST_JSON_SCHEMA)
    assert document["schema_version"] == DIGEST_JSON_SCHEMA_VERSION == 2
    _iso_with_offset(document["generated_at"])
    _iso_with_offset(document["since"])
    assert document["timezone"] == "Asia/Seoul"
    assert document["date_heading"] == "Monday, March 10, 2025"
    counts = document["counts"]
    assert isinstance(counts, dict) and all(isinstance(n, int) for n in counts.values())
    section_keys = set(DIGEST_JSON_SCHEMA["sections"][0])
    story_keys = set(DIGEST_JSON_SCHEMA["sections"][0]["stories"][0])
    assert list(counts) == [s["tag"] or "(other)" for s in document["sections"]]
    for section in document["sections"]:
        assert set(section) == section_keys
        assert section["tag"] is None or isinstance(section["tag"], str)
        assert isinstance(section["label"], str) and isinstance(section["count"], int)
        assert counts[section["tag"] or "(other)"] == section["count"]
        for story in section["stories"]:
            assert set(story) == story_keys
            assert isinstance(story["id"], int)
            for key in ("title", "feed", "local_time", "lead"):
                assert isinstance(story[key], str)
            assert story["url"] is None or story["url"].startswith("https://")
            _iso_with_offset(story["published"])
            assert isinstance(story["tags"], list)
            assert all(isinstance(t, str) for t in story["tags"])


def test_markdown_escapes_and_links_only_web_urls() -> None:
    row = _row(1, "*bold* [x](javascript:alert(1)) <b>", url="javascript:alert(1)")
    safe = _row(2, "정상 제목", url="https://news.example/a (1)")
    digest = build_digest(
        [row, safe], now=NOW, tz=SEOUL, tag_order=(), tag_labels={}, since=NOW - timedelta(1)
    )
    markdown = render_markdown(digest)
    assert "](javascript" not in markdown
    assert r"\*bold\* \[x\]\(javascript:alert\(1\)\) \<b\>" in markdown
    assert "[정상 제목](https://news.example/a%20%281%29)" in markdown


# -- untrusted text ---------------------------------------------------------------------------

HOSTILE = [
    "[bold red]빨간 제목[/bold red]",
    "[link=http://evil.example]click[/link]",
    "unbalanced [/bold] closing tag",
    "clear\x1b[2Jscreen\x1b[31mred",
    "osc8 \x1b]8;;http://evil.example\x07link\x1b]8;;\x07 end",
    "clipboard \x1b]52;c;ZXZpbA==\x07 write",
    "c1 \x9b31m csi and \x85 nel",
    "bidi \u202eevil\u202c and \u2066isolate\u2069",
    ":smile: emoji code and null\x00",
]


def _row(aid: int, title: str, *, text: str = "", url: str | None = None) -> DigestRow:
    return DigestRow(
        id=aid,
        title=title,
        url=url,
        feed_url="https://evil.example/rss",
        feed_title=title,
        published_at=NOW - timedelta(minutes=aid),
        first_seen_at=NOW,
        tags=(title, "politics"),
        text_start=text,
        summary_start="",
        read_at=None,
    )


def _assert_inert(output: str) -> None:
    assert "\x1b]" not in output  # no OSC: hyperlinks, clipboard, titles
    assert "\x1b[2J" not in output
    assert "\x9b" not in output and "\x85" not in output and "\x00" not in output
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", output)
    # Only rich's own SGR styling sequences remain.
    assert re.sub(r"\x1b\[[0-9;]*m", "", output).count("\x1b") == 0


def test_hostile_text_is_inert_in_digest_and_show() -> None:
    rows = [
        _row(i + 1, title, text=" ".join(HOSTILE) + f" {title} 본문이다.", url=title)
        for i, title in enumerate(HOSTILE)
    ]
    digest = build_digest(
        rows,
        now=NOW,
        tz=SEOUL,
        tag_order=("politics",),
        tag_labels={"politics": "[bold]정치[/]"},
        since=NOW - timedelta(1),
    )
    buffer = io.StringIO()
    # A terminal with colours, and markup left on: only Text objects keep the output inert.
    console = Console(file=buffer, width=80, force_terminal=True, color_system="truecolor")
    render_text(digest, console)
    for title in HOSTILE:
        detail = ArticleDetail(
            id=1,
            title=title,
            url="https://evil.example/\x1b]8;;x\x07",
            feed_url="https://evil.example/rss",
            feed_title=title,
            author=title,
            published_at=NOW,
            updated_at=None,
            first_seen_at=NOW,
            tags=(title,),
            text="\n".join(HOSTILE),
            summary="",
            text_source="feed",
            read_at=None,
            starred=False,
        )
        render_article(detail, console, tz=SEOUL, tag_labels={title: title})
    output = buffer.getvalue()
    assert "\x1b[" in output  # a terminal: styled
    _assert_inert(output)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)
    for literal in ("[bold red]", "[link=http://evil.example]", "[/bold]", "[bold]정치[/]"):
        assert literal in plain
    assert ":smile:" in plain  # emoji codes are not replaced either
    # The other formats carry the text unchanged but cleaned.
    _assert_inert(render_markdown(digest))
    _assert_inert(render_json(digest))
    assert "\\u001b" not in render_json(digest)


def test_make_console_plain_when_piped_or_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    digest = build_digest(
        [_row(1, "제목")], now=NOW, tz=SEOUL, tag_order=(), tag_labels={}, since=NOW
    )
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    assert "\x1b" not in _text(digest, 80)  # a StringIO is not a terminal
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert "\x1b[" in _text(digest, 80)  # a terminal: styles
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b" not in _text(digest, 80)  # NO_COLOR: no colour and no bold/dim either


def test_counts_in_sql_match_counts_from_rows(store: SqlStore) -> None:
    _populate(store)
    since = NOW - timedelta(days=30)

    def digest(rows: list[DigestRow], counts: dict[str | None, int] | None = None) -> Digest:
        return build_digest(
            rows,
            now=NOW,
            tz=SEOUL,
            tag_order=TAG_ORDER,
            tag_labels=TAG_LABELS,
            since=since,
            limit_per_tag=10,
            counts=counts,
        )

    full = digest(store.digest_rows(since))
    sql = store.digest_counts(since, tag_order=TAG_ORDER)
    assert {(k or OTHER_COUNT_KEY): v for k, v in sql.items()} == full.counts
    # With only the newest rows loaded, the SQL counts keep the sections whole.
    partial = digest(store.digest_rows(since, limit=3), sql)
    assert partial.counts == full.counts
    assert sum(len(s.stories) for s in partial.sections) == 3
    politics = store.digest_counts(since, tag_order=TAG_ORDER, tags=("politics",))
    assert politics == {"politics": full.counts["politics"]}
