"""Tags for an article: the feed's own tags, its ``<category>`` values mapped through the
aliases in config, keyword rules, and the built-in topic model. Pure: config, text and
model scores in, tag assignments out.

How the sources combine (README, "Tags"):

1. feed tags and category aliases are always given (score 1.0): the outlet said so;
2. an ``add`` rule (a tag's ``keywords``/``morph``/``regex``, or an entry of its ``rules``)
   gives the tag when it fires: one hit in the title, link or feed, or
   :data:`BODY_HITS_REQUIRED` hits in the text; an ``exclude`` term anywhere cancels that rule;
3. the model gives each tag whose probability reaches the threshold (``tagger.threshold``);
   below it the article gets no model tag rather than a doubtful one;
4. a ``veto`` rule that fires removes the tag given by the model or by add rules (veto beats
   both); feed tags and categories stay.

Korean matching is why this is our own code: a Hangul keyword must match inside words,
because particles attach to nouns (북한 matches 북한군이, 서울시는), while a Latin keyword
must match whole words only, case-insensitively (``AI`` must not match "said"). Neither
``\\b`` nor plain substring search does both. Short or ambiguous words (금 "gold" inside 금리
"interest rate", headline hanja such as 美 or 北) are ``morph`` terms: they match only as whole
morphemes, found by an analyser passed in (kiwipiepy, see :mod:`aggregator.ingest.tag.morph`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from aggregator.config.schema import TagConfig, TagRuleConfig, feed_identity
from aggregator.models import TagAssignment

__all__ = [
    "CompiledRules",
    "FeedContext",
    "Morphemes",
    "TagInput",
    "TagReport",
    "TagRule",
    "Tagging",
    "Term",
    "TopicScorer",
    "compile_rules",
    "keyword_pattern",
    "tag_report",
    "tags_for",
]

_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")
# What may not touch a morph term when no analyser is at hand: Hangul syllables and CJK
# ideographs (美中 is two words glued; 금값 is one).
_WORDISH = re.compile(r"[\uac00-\ud7a3\u3400-\u9fff\uf900-\ufaff]")
# Body text mentions a keyword in passing far more often than it is about it: a body-only
# match needs this many hits, while one hit in the title (or link, or feed) is enough.
BODY_HITS_REQUIRED = 2
# Rule scores stay below a confident model's probability: a rule says "mentions", the model
# "is about" (and `tags eval` ranks by score). A title hit alone gives 0.3; capped at RULE_MAX.
TITLE_WEIGHT = 0.3
BODY_WEIGHT = 0.1
RULE_MAX = 0.6

Morphemes = Callable[[str], Sequence[str]]
"""Text → its morphemes' surface forms (hanja runs split into single characters)."""


class TopicScorer(Protocol):
    """What tagging needs from the topic model: a probability per tag (or none)."""

    def scores(self, title: str, text: str = "") -> Mapping[str, float]: ...


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """A regex for one keyword: substring for Hangul, whole word for anything else."""
    keyword = _normalize(keyword.strip())
    escaped = re.escape(keyword).replace(r"\ ", r"\s+")
    if _HANGUL.search(keyword):
        return re.compile(escaped)
    # Whole word, with a simple plural (chip → chips) — letters/digits on either side block.
    return re.compile(rf"(?<![0-9A-Za-z]){escaped}(?:s|es)?(?![0-9A-Za-z])", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Term:
    """One thing a rule looks for. ``kind`` says how ``pattern`` is used."""

    text: str
    kind: Literal["keyword", "morph", "regex"]
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class TagRule:
    tag: str
    terms: tuple[Term, ...]
    exclude: tuple[re.Pattern[str], ...]
    action: Literal["add", "veto"] = "add"
    fields: tuple[str, ...] = ("title", "text")
    # Feed identities the rule is limited to; empty = every feed.
    feeds: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class CompiledRules:
    rules: tuple[TagRule, ...]
    # Lower-cased, NFC category value → tag names.
    aliases: Mapping[str, tuple[str, ...]]
    # The tags defined in config: the model gives only these.
    tags: frozenset[str] = frozenset()

    @property
    def needs_morphemes(self) -> bool:
        return any(t.kind == "morph" for r in self.rules for t in r.terms)


def _terms(keywords: Iterable[str], morph: Iterable[str], regex: Iterable[str]) -> list[Term]:
    terms = [Term(k, "keyword", keyword_pattern(k)) for k in keywords]
    terms += [Term(m, "morph", re.compile(re.escape(_normalize(m)))) for m in morph]
    terms += [Term(r, "regex", re.compile(r)) for r in regex]
    return terms


def _rule(name: str, spec: TagRuleConfig) -> TagRule:
    return TagRule(
        tag=name,
        terms=tuple(_terms(spec.keywords, spec.morph, spec.regex)),
        exclude=tuple(keyword_pattern(k) for k in spec.exclude),
        action=spec.action,
        fields=spec.fields,
        feeds=frozenset(feed_identity(f) for f in spec.feeds),
    )


def compile_rules(tags: Mapping[str, TagConfig]) -> CompiledRules:
    rules: list[TagRule] = []
    aliases: dict[str, list[str]] = {}
    for name, tag in tags.items():
        terms = _terms(tag.keywords, tag.morph, tag.regex)
        if terms:
            rules.append(
                TagRule(
                    tag=name,
                    terms=tuple(terms),
                    exclude=tuple(keyword_pattern(k) for k in tag.exclude),
                )
            )
        rules.extend(_rule(name, spec) for spec in tag.rules)
        for alias in (*tag.aliases, name):
            key = _normalize(alias).casefold()
            aliases.setdefault(key, [])
            if name not in aliases[key]:
                aliases[key].append(name)
    return CompiledRules(tuple(rules), {k: tuple(v) for k, v in aliases.items()}, frozenset(tags))


def _category_parts(category: str) -> Iterable[str]:
    # Feeds write hierarchies as "경제 > 증권" or "News/Politics": try the whole and each part.
    yield category
    for part in re.split(r"\s*[>/|·,]\s*", category):
        if part and part != category:
            yield part


def _word_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The word around ``text[start:end]`` with one word of context on each side: a lone
    syllable (금) is analysed differently without its neighbours."""
    left = start
    for _ in range(2):
        left = max(text.rfind(" ", 0, max(left - 1, 0)), text.rfind("\n", 0, max(left - 1, 0))) + 1
    right = end
    for _ in range(2):
        found = [i for i in (text.find(" ", right + 1), text.find("\n", right + 1)) if i >= 0]
        right = min(found) if found else len(text)
    return left, right


def _morph_hits(term: Term, text: str, morphemes: Morphemes | None) -> int:
    """Occurrences of ``term`` that are whole morphemes. Only the words around a substring
    hit are analysed, so an article without the substring costs nothing."""
    hits = 0
    for match in term.pattern.finditer(text):
        start, end = match.span()
        if morphemes is None:
            before = text[start - 1] if start else ""
            after = text[end] if end < len(text) else ""
            hits += not (_WORDISH.match(before) or _WORDISH.match(after))
            continue
        left, right = _word_span(text, start, end)
        hits += term.text in morphemes(text[left:right])
    return hits


def _hits(term: Term, text: str, morphemes: Morphemes | None) -> int:
    if not text:
        return 0
    if term.kind == "morph":
        return _morph_hits(term, text, morphemes)
    return sum(1 for _ in term.pattern.finditer(text))


@dataclass(frozen=True, slots=True)
class _Fired:
    score: float
    detail: str


def _apply(rule: TagRule, fields: Mapping[str, str], morphemes: Morphemes | None) -> _Fired | None:
    """Whether ``rule`` fires on the article's fields, with its score and what matched where."""
    looked = [fields[f] for f in rule.fields]
    if any(p.search(text) for p in rule.exclude for text in looked):
        return None
    strong = weak = 0
    where: list[str] = []
    for term in rule.terms:
        for name in rule.fields:
            count = _hits(term, fields[name], morphemes)
            if not count:
                continue
            if name == "text":
                weak += count
            else:
                strong += 1
            shown = f"/{term.text}/" if term.kind == "regex" else term.text
            where.append(f"{shown}@{name}" + (f"×{count}" if count > 1 else ""))
    if not strong and weak < BODY_HITS_REQUIRED:
        return None
    score = min(RULE_MAX, TITLE_WEIGHT * strong + BODY_WEIGHT * weak)
    return _Fired(round(score, 3), ", ".join(where[:6]))


@dataclass(frozen=True, slots=True)
class TagReport:
    """What tagging decided and why: the tags given, the tags vetoed (tag → what matched),
    and the model's probability for every tag (empty when it abstained or is off)."""

    tags: tuple[TagAssignment, ...]
    vetoed: Mapping[str, str]
    model_scores: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class TagInput:
    """What is tagged: one article as its feed entry and page describe it."""

    title: str
    text: str = ""
    categories: Sequence[str] = ()
    link: str | None = None


@dataclass(frozen=True, slots=True)
class FeedContext:
    """The feed the article came from: its own tags, and what rules limited to feeds see."""

    url: str | None = None
    title: str | None = None
    tags: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Tagging:
    """How to tag, built once per config: the compiled rules, the topic model (None: off)
    with its threshold, and the morpheme analyser for ``morph`` terms (None: the fallback)."""

    rules: CompiledRules
    model: TopicScorer | None = None
    threshold: float = 0.5
    morphemes: Morphemes | None = None


def tags_for(item: TagInput, feed: FeedContext, tagging: Tagging) -> tuple[TagAssignment, ...]:
    """Every tag the article gets, each with its source (see :func:`tag_report`)."""
    return tag_report(item, feed, tagging).tags


def tag_report(item: TagInput, feed: FeedContext, tagging: Tagging) -> TagReport:
    """Every tag the article gets, each with its source. Order: feed, category, rule, model."""
    rules, morphemes, model = tagging.rules, tagging.morphemes, tagging.model
    title, text = item.title, item.text
    out: dict[tuple[str, str], TagAssignment] = {}
    for tag in feed.tags:
        out[(tag, "feed")] = TagAssignment(tag, "feed", 1.0, "feed")
    for category in item.categories:
        for part in _category_parts(category.strip()):
            for tag in rules.aliases.get(_normalize(part).casefold(), ()):
                out.setdefault((tag, "category"), TagAssignment(tag, "category", 1.0, category))
    fields = {
        "title": _normalize(title),
        "text": _normalize(text),
        "link": item.link or "",
        "feed": _normalize(" ".join(x for x in (feed.title, feed.url) if x)),
    }
    identity = feed_identity(feed.url) if feed.url else None
    added: dict[str, _Fired] = {}
    vetoed: dict[str, str] = {}
    for rule in rules.rules:
        if rule.feeds and identity not in rule.feeds:
            continue
        if rule.action == "veto" and rule.tag in vetoed:
            continue
        fired = _apply(rule, fields, morphemes)
        if fired is None:
            continue
        if rule.action == "veto":
            vetoed[rule.tag] = fired.detail
        elif rule.tag in added:
            before = added[rule.tag]
            added[rule.tag] = _Fired(
                max(before.score, fired.score), f"{before.detail}; {fired.detail}"
            )
        else:
            added[rule.tag] = fired
    for tag, fired in added.items():
        if tag not in vetoed:
            out[(tag, "rule")] = TagAssignment(tag, "rule", fired.score, fired.detail)
    scores: Mapping[str, float] = {}
    if model is not None:
        scores = model.scores(title, text)
        for tag, probability in sorted(scores.items(), key=lambda kv: -kv[1]):
            if probability >= tagging.threshold and tag in rules.tags and tag not in vetoed:
                out[(tag, "model")] = TagAssignment(
                    tag, "model", round(probability, 3), "topic model"
                )
    return TagReport(tuple(out.values()), vetoed, scores)
