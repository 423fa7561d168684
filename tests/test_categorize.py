from __future__ import annotations

from aggregator.categorize import compile_rules, keyword_pattern, tags_for
from aggregator.config import parse_config

CONFIG = parse_config(
    {
        "tags": {
            "north-korea": {
                "keywords": ["북한", "North Korea", "Pyongyang"],
                "aliases": ["북한", "남북관계"],
            },
            "economy": {
                "keywords": ["환율", "chip", "won"],
                "exclude": ["won the"],
                "aliases": ["경제", "Business"],
            },
            "it-science": {"keywords": ["AI"]},
        }
    }
)
RULES = compile_rules(CONFIG.tags)


def tags(title: str = "", text: str = "", categories: tuple[str, ...] = (), feed=()):  # type: ignore[no-untyped-def]
    return {
        (t.tag, t.source)
        for t in tags_for(
            title=title, text=text, categories=categories, feed_tags=feed, rules=RULES
        )
    }


def test_hangul_keyword_matches_inside_words_with_particles() -> None:
    assert ("north-korea", "rule") in tags(title="북한군이 서해상으로 포격")
    assert ("north-korea", "rule") in tags(title="북한은 오늘")


def test_latin_keyword_is_whole_word_case_insensitive() -> None:
    assert ("it-science", "rule") in tags(title="Samsung bets on ai chips")
    assert ("it-science", "rule") not in tags(title="He said the rain will stop")
    assert ("it-science", "rule") in tags(title="AI반도체 투자 확대")  # Hangul next to Latin
    assert ("economy", "rule") in tags(title="Chip exports rise")  # simple plural
    assert keyword_pattern("North Korea").search("north   korea fires missile")


def test_exclude_vetoes_rule() -> None:
    assert ("economy", "rule") in tags(title="The won weakens against the dollar")
    assert ("economy", "rule") not in tags(title="Kim won the final")


def test_body_needs_two_hits_title_needs_one() -> None:
    assert ("economy", "rule") not in tags(title="제목", text="환율 이야기가 한 번 나온다.")
    assert ("economy", "rule") in tags(title="제목", text="환율이 올랐다. 환율 상승세는 계속됐다.")


def test_feed_tags_and_category_aliases() -> None:
    got = tags(title="x", categories=("경제 > 증권", "Business"), feed=("north-korea",))
    assert ("north-korea", "feed") in got
    assert ("economy", "category") in got
    # the tag's own name is an alias too, case-insensitively
    assert ("north-korea", "category") in tags(categories=("North-Korea",))
    assert tags(categories=("연예",)) == set()


def test_scores_and_details() -> None:
    result = tags_for(
        title="북한 미사일", text="북한 북한", categories=(), feed_tags=(), rules=RULES
    )
    rule = next(t for t in result if t.source == "rule")
    assert rule.detail == "북한"
    assert 0 < rule.score <= 1.0
