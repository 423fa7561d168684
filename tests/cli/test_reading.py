"""The pure functions behind read/unread/star, and the search results' rendering
(:mod:`aggregator.read.search`)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aggregator.cli.reading import mark_message, star_message
from aggregator.read.render import make_console, print_trimmed
from aggregator.read.search import (
    hit_body,
    hit_heading,
    no_match_line,
    render_search_json,
    render_search_text,
    search_document,
)
from aggregator.store.records.reading import SearchHit
from tests.cli.rendering import plain, styled, styled_segments

SEOUL = ZoneInfo("Asia/Seoul")
WHEN = datetime(2026, 11, 25, 22, 30, tzinfo=UTC)

HIT = SearchHit(
    article_id=1024,
    title="서울시, 새 교통 정책 발표",
    url="https://news.test/a/1024",
    feed_title="테스트일보",
    published_at=WHEN,
    score=3.5,
    snippet=(
        "서울시는 26일 새로운 교통 정책을 발표했다. 버스 노선을 개편하고 교통 혼잡을 줄이는 "
        "방안이 담겼다. 시민들의 의견을 듣는 공청회도 열린다."
    ),
    matched_terms=("교통", "정책"),
)
# Feed text with an OSC 8 hyperlink in the title, and a matched term that is nothing but
# a control character (it must not highlight everything).
HOSTILE = SearchHit(
    article_id=7,
    title="제목\x1b]8;;https://evil.test\x07",
    url="https://news.test/\x1b[2Ja/7",
    feed_title=None,
    published_at=WHEN,
    score=1.0,
    snippet="스니펫",
    matched_terms=("\x1b", "스니"),
)


def test_mark_and_star_messages() -> None:
    assert mark_message(2, 3, read=True) == "marked 2 of 3 articles read"
    assert mark_message(1, 1, read=False) == "marked 1 of 1 articles unread"
    # `read 99999` said "marked 0 of 1" with no reason.
    assert mark_message(0, 1, read=True, missing=[99999]) == (
        "marked 0 of 1 articles read; no article #99999"
    )
    assert star_message(2, 2, undo=False) == "starred 2 of 2 articles"
    assert star_message(0, 1, undo=True) == "unstarred 0 of 1 articles"


def test_search_text_indents_meta_and_snippet_under_the_title() -> None:
    buffer = io.StringIO()
    render_search_text([HIT, HOSTILE], make_console(file=buffer, width=60), tz=SEOUL)
    assert buffer.getvalue() == (
        "#1024    서울시, 새 교통 정책 발표\n"
        "         테스트일보 · 2026-11-26 07:30\n"
        "         서울시는 26일 새로운 교통 정책을 발표했다. 버스\n"
        "         노선을 개편하고 교통 혼잡을 줄이는 방안이 담겼다.\n"
        "         시민들의 의견을 듣는 공청회도 열린다.\n"
        "\n"
        "#7       제목\n"
        "          · 2026-11-26 07:30\n"
        "         스니펫\n"
        "\n"
    )


def test_hit_heading_highlights_the_matched_words_in_the_title() -> None:
    assert styled(hit_heading(HIT)) == [
        ("#1024    서울시, 새 교통 정책 발표", "dim"),
        ("서울시, 새 교통 정책 발표", "bold"),
        ("교통", "reverse"),
        ("정책", "reverse"),
    ]
    # The control-character term is dropped, the other one matches nothing in the title.
    assert styled(hit_heading(HOSTILE)) == [("#7       제목", "dim"), ("제목", "bold")]


def test_hit_body_highlights_the_snippet_case_insensitively() -> None:
    hit = SearchHit(1, "t", None, "Feed", WHEN, 1.0, "Seoul and SEOUL", ("seoul",))
    buffer = io.StringIO()
    print_trimmed(make_console(file=buffer, width=60), hit_body(hit, SEOUL))
    # The blank line after it separates the hits.
    assert buffer.getvalue() == "         Feed · 2026-11-26 07:30\n         Seoul and SEOUL\n\n"
    assert styled_segments(hit_body(hit, SEOUL)) == [
        ("Feed · 2026-11-26 07:30", "dim"),
        ("Seoul", "reverse"),
        ("SEOUL", "reverse"),
    ]


def test_no_match_line_quotes_the_cleaned_query() -> None:
    assert plain(no_match_line("없는\x1b[2J단어")) == "no articles match '없는단어'\n"
    # The filters that narrowed the search are named.
    assert plain(no_match_line("대통령", since="7d", tags=("politics",))) == (
        "no articles match '대통령' with --since 7d --tag politics\n"
    )


def test_search_document_cleans_what_comes_from_feeds() -> None:
    assert search_document([HOSTILE]) == [
        {
            "id": 7,
            "title": "제목",
            "url": "https://news.test/a/7",
            "feed": None,
            "published": "2026-11-25T22:30:00+00:00",
            "score": 1.0,
            "snippet": "스니펫",
            "matched": ["\x1b", "스니"],
        }
    ]


def test_render_search_json_is_indented_utf8() -> None:
    text = render_search_json([HIT])
    assert text.startswith('[\n  {\n    "id": 1024,\n    "title": "서울시, 새 교통 정책 발표",\n')
    assert json.loads(text) == search_document([HIT])
    assert render_search_json([]) == "[]"
