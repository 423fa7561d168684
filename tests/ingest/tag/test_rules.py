from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from aggregator.config.schema import parse_config
from aggregator.errors import ConfigError
from aggregator.ingest.tag.morph import KiwiMorphemes
from aggregator.ingest.tag.rules import (
    FeedContext,
    Tagging,
    TagInput,
    category_key,
    category_keys,
    compile_rules,
    keyword_pattern,
    tag_report,
    tags_for,
)
from aggregator.models import Assessment

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
        for t in tags_for(TagInput(title, text, categories), FeedContext(tags=feed), Tagging(RULES))
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
    result = tags_for(TagInput("북한 미사일", "북한 북한"), FeedContext(), Tagging(RULES))
    rule = next(t for t in result if t.source == "rule")
    assert rule.detail == "북한@title, 북한@text×2"
    assert 0 < rule.score <= 1.0


def test_title_hit_weighs_more_than_body_hits() -> None:
    in_title = tags_for(TagInput("환율 급등"), FeedContext(), Tagging(RULES))
    in_body = tags_for(TagInput("제목", "환율이 올랐다. 환율 상승."), FeedContext(), Tagging(RULES))
    assert in_title[0].score > in_body[0].score > 0


# -- rules: morphemes, regular expressions, fields, feeds, vetoes, and the model -----------

FEED = "https://www.yna.co.kr/rss/economy.xml"
RICH = parse_config(
    {
        "tags": {
            "politics": {"morph": ["與", "野"], "keywords": ["국회"]},
            "north-korea": {"morph": ["北"], "keywords": ["북한"]},
            "economy": {
                "morph": ["금"],
                "rules": [
                    {"regex": [r"(?i)\bKOSPI\s+\d"], "fields": ["title"]},
                    {"keywords": ["economy"], "fields": ["link"]},
                    {"action": "veto", "keywords": ["부고"], "fields": ["title"]},
                ],
            },
            "sports": {
                "rules": [
                    # Only the economy feed's "sports" column is not sport.
                    {"action": "veto", "keywords": ["스포츠"], "feeds": [FEED + "/"]},
                    {"keywords": ["골프"], "feeds": ["https://other.example/rss"]},
                ]
            },
            "world": {"keywords": ["백악관"], "morph": ["美"], "exclude": ["백악관 앞 카페"]},
            "culture": {"keywords": ["전시회"]},
        }
    }
)
RICH_RULES = compile_rules(RICH.tags)


class FixedScores:
    """The model's side of the contract with fixed numbers, to pin down how sources combine
    (the real model is tested in test_tagger.py, and combined with rules below too)."""

    def __init__(self, scores: Mapping[str, float]) -> None:
        self._scores = dict(scores)

    def assess(self, title: str, text: str = "", feed_url: str | None = None) -> Assessment:
        return Assessment(self._scores, "fixed scores")


ANALYSER = KiwiMorphemes()


def rich(
    title: str = "",
    text: str = "",
    *,
    feed_url: str | None = None,
    link: str | None = None,
    **kwargs: Any,
) -> set[tuple[str, str]]:
    kwargs.setdefault("morphemes", ANALYSER)
    report = tag_report(
        TagInput(title, text, link=link), FeedContext(url=feed_url), Tagging(RICH_RULES, **kwargs)
    )
    return {(t.tag, t.source) for t in report.tags}


@pytest.mark.parametrize("morphemes", [ANALYSER, None], ids=["kiwipiepy", "fallback"])
def test_headline_hanja_match_as_morphemes(morphemes: Any) -> None:
    assert ("north-korea", "rule") in rich("北, 동해상으로 탄도미사일 발사", morphemes=morphemes)
    assert ("politics", "rule") in rich('與 "예산안 처리" 野 반발', morphemes=morphemes)
    # 北 inside a Korean word is not the headline hanja; 금 inside 금리 is not gold.
    assert ("north-korea", "rule") not in rich("北京 올림픽 개막", morphemes=morphemes)
    assert ("economy", "rule") not in rich("기준금리 동결", morphemes=morphemes)
    assert ("economy", "rule") in rich("금 시세 사상 최고", morphemes=morphemes)


def test_morphemes_tell_what_substrings_cannot() -> None:
    # With particles attached, only the analyser sees the one-syllable noun.
    assert ("economy", "rule") in rich("금과 은 가격 급등", morphemes=ANALYSER)
    assert ("economy", "rule") not in rich("금과 은 가격 급등", morphemes=None)
    # Hanja written together: 與野 is two words.
    assert ("politics", "rule") in rich("與野 원내대표 회동", morphemes=ANALYSER)
    assert ("economy", "rule") not in rich("금요일 오후 회의", morphemes=ANALYSER)


def test_korean_particles_and_latin_whole_words_in_rules() -> None:
    assert ("politics", "rule") in rich("국회는 오늘 본회의를 열었다")
    assert ("north-korea", "rule") in rich("북한군이 포격")


def test_regex_rule_and_fields() -> None:
    assert ("economy", "rule") in rich("KOSPI 2600 recovered")
    assert ("economy", "rule") not in rich("kospi rallies")  # regex wants a number
    assert ("economy", "rule") not in rich("제목", text="KOSPI 2600 KOSPI 2601")  # title only
    assert ("economy", "rule") in rich("제목", link="https://news.example/economy/123")
    assert ("economy", "rule") not in rich("제목", link="https://news.example/society/123")


def test_exclude_cancels_its_rule() -> None:
    assert ("world", "rule") in rich("백악관 대변인 브리핑")
    assert ("world", "rule") not in rich("백악관 앞 카페 인기")


def test_feed_limited_rules() -> None:
    assert ("sports", "rule") in rich("골프 대회 개막", feed_url="https://other.example/rss")
    assert ("sports", "rule") not in rich("골프 대회 개막", feed_url=FEED)
    assert ("sports", "rule") not in rich("골프 대회 개막")


def test_veto_beats_model_and_rules_but_not_feed_tags() -> None:
    model = FixedScores({"sports": 0.9, "economy": 0.05})
    assert ("sports", "model") in rich(
        "스포츠 산업 매출", model=model, feed_url="https://x.example/"
    )
    vetoed = tag_report(
        TagInput("스포츠 산업 매출"),
        FeedContext(url=FEED, tags=("sports",)),
        Tagging(RICH_RULES, model=model),
    )
    got = {(t.tag, t.source) for t in vetoed.tags}
    assert ("sports", "model") not in got and ("sports", "feed") in got
    assert vetoed.vetoed == {"sports": "스포츠@title"}
    # A veto also removes the rule's own tag.
    assert ("economy", "rule") not in rich("부고 금 거래소 대표", model=model)


def test_model_gives_its_best_topic_and_others_above_the_threshold() -> None:
    model = FixedScores({"economy": 0.62, "politics": 0.30, "it-science": 0.05})
    got = rich("아무 제목", model=model, threshold=0.5)
    assert ("economy", "model") in got
    assert ("politics", "model") not in got  # below the threshold, and not the best
    # A best topic the config does not define gives nothing; the others need the threshold.
    unconfigured = FixedScores({"it-science": 0.6, "economy": 0.35})
    assert not any(s == "model" for _, s in rich("아무 제목", model=unconfigured, threshold=0.5))
    assert ("economy", "model") in rich("아무 제목", model=unconfigured, threshold=0.3)
    # The best configured topic is given whatever the threshold: no article goes untagged.
    assert ("economy", "model") in rich("아무 제목", model=model, threshold=0.7)
    both = rich("아무 제목", model=model, threshold=0.3)
    assert ("economy", "model") in both and ("politics", "model") in both
    report = tag_report(TagInput("x"), FeedContext(), Tagging(RICH_RULES, model=model))
    given = next(t for t in report.tags if t.source == "model")
    assert given.score == 0.62 and given.detail == "fixed scores"
    assert report.model_scores["politics"] == 0.30 and report.model == "fixed scores"


def test_hanja_rules_apply_only_in_korean_text() -> None:
    # 北東部 ("the north-east") in a Japanese story on Nigeria is not North Korea.
    japanese = "ナイジェリア北東部ボルノ州で自爆攻撃、31人死亡"
    assert ("north-korea", "rule") not in rich(japanese)
    assert ("north-korea", "rule") in rich("北, 동해상으로 탄도미사일 발사")


def test_the_model_outvotes_hanja_alone() -> None:
    # 美 as a pun ("beauty") in a beauty story: the model, sure it is culture, outvotes it.
    title = "구美 신美 피부 관리 비법"
    culture = FixedScores({"culture": 0.9, "world": 0.02})
    tagging = Tagging(RICH_RULES, model=culture, morphemes=ANALYSER)
    report = tag_report(TagInput(title), FeedContext(), tagging)
    assert "world" not in {t.tag for t in report.tags}
    assert "outvoted" in report.vetoed["world"]
    # When the model agrees the story is foreign news, the hanja stays.
    world = FixedScores({"world": 0.6, "culture": 0.3})
    assert ("world", "rule") in rich("美 대선 후보 토론", model=world)


def test_english_keywords_ignore_hyphens_and_spaces() -> None:
    pattern = keyword_pattern("Kim Jong-un")
    for text in ("Kim Jong Un visits", "Kim Jong-un visits", "KIM JONG UN", "Kim Jongun"):
        assert pattern.search(text), text
    assert not keyword_pattern("Kim Jong-un").search("Kim Jong-il")


def test_category_aliases_match_after_normalizing() -> None:
    for value in ("경제 일반", "경제일반", "경제", "경제·일반", " 경제  일반 "):
        assert category_key(value) == category_key("경제"), value
    assert category_key("사건·사고") == category_key("사건 사고") == category_key("사건/사고")
    assert category_key("일반") == "일반"  # a bare suffix stays itself
    assert category_keys("경제 > 증권")[1:] == [category_key("경제"), category_key("증권")]


def test_rules_and_the_real_model_together() -> None:
    from aggregator.ingest.tag.model import TopicModel

    model = TopicModel.load()
    got = rich("北 탄도미사일 발사에 與野 한목소리 규탄", model=model, threshold=0.35)
    assert ("north-korea", "rule") in got and ("politics", "rule") in got
    assert ("politics", "model") in got


def test_rule_config_errors_have_paths() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"tags": {"x": {"rules": [{"regex": ["("]}, {"fields": ["title"]}]}}})
    problems = caught.value.problems
    assert any(
        p.startswith("tags.x.rules[0].regex: not a valid regular expression") for p in problems
    )
    assert any(p.startswith("tags.x.rules[1]: a rule needs keywords") for p in problems)
    with pytest.raises(ConfigError):
        parse_config({"tags": {"x": {"rules": [{"keywords": ["a"], "fields": ["body"]}]}}})
    with pytest.raises(ConfigError):
        parse_config({"tagger": {"threshold": 1.5}})


def test_hanja_terms_never_call_the_analyser() -> None:
    """Headline hanja are matched by their run of ideographs: the ~500 MB analyser is never
    loaded for them (the shipped config has only hanja morph terms)."""

    def forbidden(text: str) -> list[str]:
        raise AssertionError(f"the analyser was called for {text!r}")

    def got(title: str) -> set[tuple[str, str]]:
        return rich(title, morphemes=forbidden)

    assert ("north-korea", "rule") in got("北이 동해상으로 탄도미사일 발사")
    assert ("north-korea", "rule") in got("北, 미사일 발사")
    assert ("world", "rule") in got("美中 정상회담 열려")  # two one-character words
    assert ("north-korea", "rule") not in got("北京 올림픽 개막")  # Beijing
    assert ("north-korea", "rule") not in got("北美 투어 시작")  # North America
    assert RICH_RULES.needs_morphemes  # its 금 (gold, not 금리) still needs the analyser
    hanja_only = compile_rules(parse_config({"tags": {"a": {"morph": ["北", "美"]}}}).tags)
    assert not hanja_only.needs_morphemes


def _shipped_tags(title: str, text: str = "") -> dict[str, str]:
    from aggregator.config.schema import default_tags

    shipped = Tagging(compile_rules(default_tags()))
    report = tag_report(TagInput(title, text), FeedContext(), shipped)
    return {t.tag: t.source for t in report.tags if t.source == "rule"}


def test_shipped_rules_read_english_news_vocabulary() -> None:
    """The English editions' desks: a wire headline's words give its topic as a rule tag,
    beside whatever the model says (HuffPost headlines, the model's only English training
    set, rarely use wire vocabulary: shares, tariffs, Premier League, box office)."""
    assert "sports" in _shipped_tags("Son Heung-min scores twice as Tottenham top the league")
    assert "economy" in _shipped_tags("Samsung Electronics profit falls as chip prices slide")
    assert "entertainment" in _shipped_tags("Korean film tops the North American box office")
    assert "politics" in _shipped_tags("Opposition pushes impeachment motion in parliament")
    assert "it-science" in _shipped_tags("Hackers hit banks in a cyberattack")
    # A body needs two hits: one passing mention of a stock market is not the topic.
    assert "economy" not in _shipped_tags(
        "Festival opens", "Visitors came from the stock market area."
    )


@pytest.mark.corpus
def test_shipped_rules_give_a_markets_story_its_economy_tag() -> None:
    """CNN's story on Asian markets in the trade war (the corpus page, title and text): the
    model reads it as world news; the rules add economy from its markets vocabulary."""
    from aggregator.ingest.tag.train import page_example
    from tests.conftest import CORPUS

    example = page_example(CORPUS / "pages", "general/scrapinghub__cnn_asian-market", "economy")
    if example is None:
        pytest.skip(f"corpus page not found under {CORPUS / 'pages'}")
    assert "economy" in _shipped_tags(example.title, example.text)


def test_the_screen_lets_through_every_case_a_term_matches() -> None:
    """A rule screens each field with its terms lower-cased, in the lower-cased field: any
    case the term itself matches passes (a screen that dropped one would lose the tag)."""
    config = parse_config({"tags": {"sports": {"keywords": ["K리그", "Son Heung-min", "LPGA"]}}})
    rules = Tagging(compile_rules(config.tags))
    for title in ("K리그1 개막전", "SON HEUNG MIN scores", "son heung-min scores", "Lpga Tour"):
        report = tag_report(TagInput(title), FeedContext(), rules)
        assert ("sports", "rule") in {(t.tag, t.source) for t in report.tags}, title
    # Hangul keywords keep their own case: the screen lets k리그 through, the term does not.
    report = tag_report(TagInput("k리그 개막"), FeedContext(), rules)
    assert not report.tags


def test_every_match_of_a_shipped_term_passes_its_screen() -> None:
    """The screens may let a field through that no term matches, never drop one that a
    term matches: checked for every shipped term on texts that bend the keyword patterns
    (joined parts, plurals, possessives, case, Hangul particles) and on the corpus pages."""
    from aggregator.config.schema import default_tags
    from aggregator.ingest.tag.rules import FieldView
    from aggregator.ingest.tag.train import PAGE_TAGS, page_example
    from tests.conftest import CORPUS

    texts = [
        "KIMJONGUN and Kim Jong-Un met; AI's chips, tariffs and TARIFFES rose",
        "K-POP idols' comeback; S&P 500, 5G and the Champions-League final",
        "북한이 美中 갈등 속 與野 협상… 손흥민은 K리그 대신 프리미어리그",
        "Premierleague? no: Premier  League, premier-league, PREMIER LEAGUE",
        # Letters a case-insensitive pattern folds to ASCII that lower() does not.
        "\u0130SRAEL, L\u0131nux, \u212aremlin, K\u0130M JONG UN, FİLM FESTIVAL",
    ]
    texts += [
        e.title + "\n" + e.text
        for e in (page_example(CORPUS / "pages", name, tag) for name, tag in PAGE_TAGS.items())
        if e is not None
    ]
    rules = compile_rules(default_tags()).rules
    checked = 0
    for text in texts:
        view = FieldView.of(text)
        for rule in rules:
            for index, term in enumerate(rule.terms):
                if term.kind == "regex" or not term.pattern.search(text):
                    continue
                checked += 1
                assert rule.screen is not None, term.text
                assert index in rule.screen.candidates(view), (term.text, text[:80])
    assert checked > 20


@pytest.mark.parametrize(
    ("keyword", "title"),
    [
        ("FC İstanbul", "FC Istanbul wins the derby"),  # İ lowers to i + a combining dot
        ("AI Μητσοτάκης", "AI ΜΗΤΣΟΤΆΚΗΣ's reform"),  # the pattern's Σ matches ς, lower()'s σ
        ("ab Χάος", "AB ΧΆΟΣΑ"),
        ("Χάος", "ΧΆΟΣ returns"),
        ("K-pop", "k pop stars"),
        ("hat-trick", "a HAT TRICK for Son"),
    ],
)
def test_the_screen_never_hides_a_keyword_s_match(keyword: str, title: str) -> None:
    """A rule fires wherever its keyword's own pattern matches, whatever letters the
    keyword and the field hold (the screen only skips fields that cannot match)."""
    assert keyword_pattern(keyword).search(title)
    rules = Tagging(compile_rules(parse_config({"tags": {"a": {"keywords": [keyword]}}}).tags))
    report = tag_report(TagInput(title), FeedContext(), rules)
    assert ("a", "rule") in {(t.tag, t.source) for t in report.tags}


def test_the_rules_screen_names_what_each_rule_s_screen_names() -> None:
    """All rules screened at once give every rule the candidates its own screen gives it,
    and leave out exactly the rules that no term may match (they are not run)."""
    from aggregator.config.schema import default_tags
    from aggregator.ingest.tag.rules import FieldView
    from aggregator.ingest.tag.train import PAGE_TAGS, page_example
    from tests.conftest import CORPUS

    config = parse_config(
        {
            "tags": {
                **{
                    name: tag.model_dump(exclude_defaults=True)
                    for name, tag in default_tags().items()
                },
                # a needle two rules share, a term with no ASCII part, a regex-only rule
                "extra": {"keywords": ["반도체", "Χάος", "chip"], "regex": [r"\bfoo\b"]},
            }
        }
    )
    rules = compile_rules(config.tags)
    texts = [
        "",
        "KIMJONGUN and Kim Jong-Un met; AI's chips, tariffs and TARIFFES rose",
        "북한이 美中 갈등 속 與野 협상… 손흥민은 K리그 대신 프리미어리그 반도체",
        "\u0130SRAEL, L\u0131nux, \u212aremlin, ΧΆΟΣ",  # unscreened: every term
        "a headline about nothing at all",
    ]
    texts += [
        e.title + "\n" + e.text
        for e in (page_example(CORPUS / "pages", name, tag) for name, tag in PAGE_TAGS.items())
        if e is not None
    ]
    for text in texts:
        view = FieldView.of(text)
        together = rules.screen.candidates(view)
        for number, rule in enumerate(rules.rules):
            alone = rule.screen.candidates(view) if rule.screen is not None else set()
            assert set(together.get(number, ())) == set(alone), (number, text[:60])
            assert (number in together) == bool(alone) or view.unscreened
