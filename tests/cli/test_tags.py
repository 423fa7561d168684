"""The pure functions behind tags explain and tags eval."""

from __future__ import annotations

from typing import Any

from aggregator.cli.tags import eval_summary, eval_table, explain_renderables
from aggregator.ingest.tag.rules import TagReport
from aggregator.models import TagAssignment
from aggregator.store.records.service import ArticleToTag
from tests.cli.rendering import plain

ARTICLE = ArticleToTag(
    id=1024,
    title="서울시, 새 교통 정책\x1b[2J",
    text="본문",
    url=None,
    feeds=(("https://news.test/rss", "테스트일보"),),
    categories=(),
)
# Stored in no particular order: explain sorts them by source (feed first), then score.
STORED = [
    TagAssignment("society", "model", 0.418, "topic model"),
    TagAssignment("society", "rule", 0.3, "교통@title"),
    TagAssignment("economy", "feed", 1.0, "feed"),
]


def test_explain_sorts_stored_tags_and_shows_the_model_and_vetoes_now() -> None:
    now = TagReport(
        tags=tuple(STORED),
        vetoed={"politics": "사설@title\x1b[31m"},
        model_scores={"society": 0.418, "it-science": 0.176, "economy": 0.138, "world": 0.01},
        model="ours",
    )
    items = explain_renderables(ARTICLE, STORED, now, threshold=0.3, tagger_enabled=True)
    text = plain(*items, markup=True)
    assert [line.rstrip() for line in text.splitlines()] == [
        "#1024 서울시, 새 교통 정책",
        "stored tags",
        "┏━━━━━━━━━┳━━━━━━━━┳━━━━━━━┳━━━━━━━━━━━━━┓",
        "┃ tag     ┃ source ┃ score ┃ detail      ┃",
        "┡━━━━━━━━━╇━━━━━━━━╇━━━━━━━╇━━━━━━━━━━━━━┩",
        "│ economy │ feed   │ 1.000 │ feed        │",
        "│ society │ rule   │ 0.300 │ 교통@title  │",
        "│ society │ model  │ 0.418 │ topic model │",
        "└─────────┴────────┴───────┴─────────────┘",
        # The top three only; the same tags as stored, so no advice to retag.
        "model now: society 0.418, it-science 0.176, economy 0.138 (threshold 0.3; ours)",
        "vetoed now: politics (사설@title)",
    ]


def test_explain_without_tags_says_the_model_abstains_and_advises_retag() -> None:
    now = TagReport(
        tags=(TagAssignment("economy", "feed"),),
        vetoed={},
        model_scores={},
        model="news-topics",
        abstained="Japanese text (kana and kanji 89 %)",
    )
    items = explain_renderables(ARTICLE, [], now, threshold=0.3, tagger_enabled=True)
    text = plain(*items, markup=True)
    assert "│ -   │ -      │ -     │ no tags │" in text
    assert text.endswith(
        "model now: abstains (Japanese text (kana and kanji 89 %); news-topics)\n"
        "the current config or model would tag it differently: aggregator tags retag\n"
    )


def test_explain_says_nothing_of_a_disabled_model() -> None:
    stored = [TagAssignment("economy", "feed", 1.0, "feed")]
    now = TagReport(tags=tuple(stored), vetoed={}, model_scores={})
    items = explain_renderables(ARTICLE, stored, now, threshold=0.3, tagger_enabled=False)
    assert len(items) == 2  # the title and the table, nothing after them
    assert "model now" not in plain(*items, markup=True)


RESULT: dict[str, Any] = {
    "per_label": {
        "economy": {"precision": 1.0, "recall": 0.5, "f1": 0.66666, "support": 2},
        "society": {"precision": 0.5, "recall": 1.0, "f1": 0.66666, "support": 1},
    },
    "macro_f1": 0.666666,
    "accuracy": 0.666666,
    "rows": 3,
    "no_prediction": 1,
}


def test_eval_table_has_a_row_per_label_with_three_decimals() -> None:
    assert plain(eval_table(RESULT), markup=True).splitlines() == [
        "┏━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━┳━━━━━━━━━┓",
        "┃ label   ┃ precision ┃ recall ┃ F1    ┃ support ┃",
        "┡━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━╇━━━━━━━━━┩",
        "│ economy │ 1.000     │ 0.500  │ 0.667 │ 2       │",
        "│ society │ 0.500     │ 1.000  │ 0.667 │ 1       │",
        "└─────────┴───────────┴────────┴───────┴─────────┘",
    ]


def test_eval_summary_has_the_whole_file_figures() -> None:
    assert eval_summary(RESULT) == (
        "macro-F1 0.6667  accuracy 0.6667  rows 3  without prediction 1"
    )
