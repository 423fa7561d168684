"""Tags for an article: the feed's own tags, its ``<category>`` values mapped through the
aliases in config, keyword rules, and the built-in topic model. Pure: config, text and
model scores in, tag assignments out.

How the sources combine (README, "Tags"):

1. feed tags and category aliases are always given (score 1.0): the outlet said so;
2. an ``add`` rule (a tag's ``keywords``/``morph``/``regex``, or an entry of its ``rules``)
   gives the tag when it fires: one hit in the title, link or feed, or
   :data:`BODY_HITS_REQUIRED` hits in the text; an ``exclude`` term anywhere cancels that rule;
3. the model gives its most probable topic (when the config defines it), and any other
   whose probability reaches ``tagger.threshold``; it gives none only when it cannot read
   the text's language (the report says why);
4. a ``veto`` rule that fires removes the tag given by the model or by add rules (veto beats
   both); feed tags and categories stay. A rule that fired on headline hanja alone (美,
   中) gives way when the model puts that tag below :data:`HANJA_OUTVOTE`, and hanja terms
   count only in Korean text.

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
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from aggregator.config.schema import TagConfig, TagRuleConfig, feed_identity
from aggregator.ingest.tag.morph import HANJA_WORDS
from aggregator.models import Assessment, TagAssignment
from aggregator.text.language import MIN_HANGUL, hangul_share

__all__ = [
    "BatchTopicScorer",
    "CompiledRules",
    "FeedContext",
    "Morphemes",
    "TagInput",
    "TagReport",
    "TagRule",
    "Tagging",
    "Term",
    "TopicScorer",
    "category_key",
    "category_keys",
    "compile_rules",
    "keyword_pattern",
    "keyword_source",
    "outlet_tags",
    "tag_report",
    "tag_reports",
    "tags_for",
    "tags_for_many",
]

_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")
_JOINERS = re.compile(r"[\s\-\u2010-\u2013]+")
_JOINER_PATTERN = r"[\s\-\u2010-\u2013]*"
_IDEOGRAPH = re.compile(r"^[\u3400-\u9fff\uf900-\ufaff]+$")
_IDEOGRAPH_CHAR = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# A rule that fired on nothing but headline hanja (美 in a pun: 구美 … 신美) gives way to a
# model that puts its tag below this probability: one character is weak evidence.
HANJA_OUTVOTE = 0.2
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
    """What tagging needs from a topic model: a probability per tag, or an abstention with
    its reason, and the model's name (the shipped model, or one learned from the user's
    feeds for ``feed_url``)."""

    def assess(self, title: str, text: str = "", feed_url: str | None = None) -> Assessment: ...


@runtime_checkable
class BatchTopicScorer(TopicScorer, Protocol):
    """A scorer that reads a feed's articles in one batch (the shipped and learned models)."""

    def assess_many(
        self, articles: Sequence[tuple[str, str]], feed_url: str | None = None
    ) -> list[Assessment]: ...


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def keyword_source(keyword: str) -> tuple[str, int]:
    """The regex (source, flags) for one keyword: substring for Hangul, whole word for
    anything else. Spaces and hyphens between the parts of a Latin keyword are
    interchangeable and optional: ``Kim Jong-un`` matches "Kim Jong Un" and "Kim Jong-Un"."""
    keyword = _normalize(keyword.strip())
    if _HANGUL.search(keyword):
        return re.escape(keyword).replace(r"\ ", r"\s+"), 0
    parts = [re.escape(p) for p in _JOINERS.split(keyword) if p]
    escaped = _JOINER_PATTERN.join(parts)
    # Whole word, with a simple plural (chip → chips) — letters/digits on either side block.
    return rf"(?<![0-9A-Za-z]){escaped}(?:s|es)?(?![0-9A-Za-z])", re.IGNORECASE


def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """:func:`keyword_source`, compiled."""
    return re.compile(*keyword_source(keyword))


@dataclass(frozen=True, slots=True)
class Term:
    """One thing a rule looks for. ``kind`` says how ``pattern`` is used.

    The pattern is compiled when first needed, and kept, not when the rules are: a rule's
    screen finds most fields free of all its terms, and compiling the shipped rules' few
    hundred case-insensitive patterns up front cost every tagging command ~80 ms of
    start-up."""

    text: str
    kind: Literal["keyword", "morph", "regex"]
    source: str
    flags: int = 0
    # Compiled on first use and kept here: re's own cache holds 512 patterns, fewer than
    # the modules' and a large config's together, and evicts the oldest first.
    _compiled: re.Pattern[str] | None = field(init=False, default=None, compare=False, repr=False)

    @property
    def pattern(self) -> re.Pattern[str]:
        compiled = self._compiled
        if compiled is None:  # two threads may both compile it: the same pattern either way
            compiled = re.compile(self.source, self.flags)
            object.__setattr__(self, "_compiled", compiled)
        return compiled


@dataclass(frozen=True, slots=True)
class TagRule:
    tag: str
    terms: tuple[Term, ...]
    exclude: tuple[re.Pattern[str], ...]
    action: Literal["add", "veto"] = "add"
    fields: tuple[str, ...] = ("title", "text")
    # Feed identities the rule is limited to; empty = every feed.
    feeds: frozenset[str] = frozenset()
    # Which of its keyword and morph terms can match a field (see Screen): most rules match
    # nothing in most articles, and a term that cannot match a field is not run over it (a
    # full page's body). None: the rule has no such terms.
    screen: Screen | None = field(init=False, default=None, compare=False)
    # The indexes of its regex terms, which no screen covers: they always run.
    regex_terms: tuple[int, ...] = field(init=False, default=(), compare=False)

    def __post_init__(self) -> None:
        screened = [(i, t) for i, t in enumerate(self.terms) if t.kind != "regex"]
        object.__setattr__(self, "screen", Screen.of(screened) if screened else None)
        regex = tuple(i for i, t in enumerate(self.terms) if t.kind == "regex")
        object.__setattr__(self, "regex_terms", regex)


_ASCII_WORD = re.compile(r"[0-9A-Za-z]+")
_PLAIN_WORD = re.compile(r"[0-9a-z]+")


# Letters that a case-insensitive pattern matches to an ASCII letter but that neither
# lower() nor the ASCII word split turn into one (İ ı ~ i, ſ ~ s, the Kelvin sign ~ k).
_FOLDS_TO_ASCII = ("\u0130", "\u0131", "\u017f", "\u212a")


@dataclass(frozen=True, slots=True)
class FieldView:
    """A field as the screens read it: the text, lower-cased, and its ASCII words."""

    text: str
    lowered: str
    words: frozenset[str]
    # The field holds one of _FOLDS_TO_ASCII: every screen lets it through.
    unscreened: bool = False

    @classmethod
    def of(cls, text: str) -> FieldView:
        # Words are split where the keyword patterns see a boundary (anything but
        # [0-9A-Za-z]), in the text as written, then lower-cased: the same as splitting the
        # lower-cased text, since only İ and the Kelvin sign lower to ASCII letters, and a
        # field holding one is unscreened (its words are not read).
        lowered = text.lower()
        return cls(
            text,
            lowered,
            frozenset(_ASCII_WORD.findall(lowered)),
            any(c in text for c in _FOLDS_TO_ASCII),
        )


@dataclass(frozen=True, slots=True)
class Screen:
    """Which of a rule's terms can match a field (some that cannot may be named too), in a
    few set and substring operations.

    The screen was a regex alternation of the rule's terms; on a full article page Python's
    regex engine tries every alternative at nearly every position, and the shipped rules'
    screens cost ~5 ms a page. Here a one-word Latin keyword is a set of words (itself and
    its plurals: its pattern matches whole words only, so a match is one of the field's
    ASCII words); any other term is a substring that its every match contains (a Latin
    keyword's longest ASCII part in the lower-cased field; a Hangul keyword's first word,
    or a morph term, in the field as written). Each names the terms (by their index in the rule)
    it stands for, so that one pass over a rule's needles says which terms to run."""

    words: Mapping[str, tuple[int, ...]]
    folded: tuple[tuple[str, tuple[int, ...]], ...]
    exact: tuple[tuple[str, tuple[int, ...]], ...]
    every: frozenset[int]
    # Terms with no needle (a case-insensitive keyword without an ASCII part): always run.
    always: tuple[int, ...] = ()

    @classmethod
    def of(cls, terms: Sequence[tuple[int, Term]]) -> Screen:
        words: dict[str, list[int]] = {}
        folded: dict[str, list[int]] = {}
        exact: dict[str, list[int]] = {}
        always: list[int] = []
        for index, term in terms:
            text = _normalize(term.text.strip())
            if term.kind == "keyword" and term.flags & re.IGNORECASE:
                parts = [p for p in _JOINERS.split(text.lower()) if p]
                if len(parts) == 1 and _PLAIN_WORD.fullmatch(parts[0]):
                    for ending in ("", "s", "es"):
                        words.setdefault(parts[0] + ending, []).append(index)
                elif ascii_parts := [p for p in parts if p.isascii()]:
                    # Every match holds every part: the longest is the rarest needle ("k"
                    # of K-pop is in every English text, "league" of K-League is not). Only
                    # an ASCII part: the pattern ignores case as lower() does not outside
                    # ASCII (İstanbul matches Istanbul, Σ matches ς).
                    folded.setdefault(max(ascii_parts, key=len), []).append(index)
                elif parts:
                    always.append(index)
            elif term.kind == "keyword":
                exact.setdefault(text.split()[0] if text.split() else text, []).append(index)
            else:
                exact.setdefault(text, []).append(index)
        return cls(
            {w: tuple(i) for w, i in words.items()},
            tuple((n, tuple(i)) for n, i in folded.items()),
            tuple((n, tuple(i)) for n, i in exact.items()),
            frozenset(i for i, _ in terms),
            tuple(always),
        )

    def candidates(self, view: FieldView) -> frozenset[int] | set[int]:
        """The indexes of the terms that may match ``view`` (empty: none can)."""
        if view.unscreened:
            return self.every
        found: set[int] = set(self.always)
        for word in view.words.intersection(self.words):
            found.update(self.words[word])
        lowered = view.lowered
        for needle, indexes in self.folded:
            if needle in lowered:
                found.update(indexes)
        text = view.text
        for needle, indexes in self.exact:
            if needle in text:
                found.update(indexes)
        return found


# Per rule (by its index in CompiledRules.rules), the indexes of the terms a needle stands for.
_Owners = tuple[tuple[int, tuple[int, ...]], ...]


@dataclass(frozen=True, slots=True)
class RulesScreen:
    """Every rule's :class:`Screen` at once: the needles of all rules, each tried once per
    field, say which terms of which rules may match it (a needle two rules share, once).

    A headline matches no term of most rules: run rule by rule, the screens' loops and the
    calls around them were most of tagging a feed item (0.15 ms of 0.23, 15 shipped rules).
    Here the rules that nothing may match are known after one pass and are not looked at."""

    words: Mapping[str, _Owners]
    folded: tuple[tuple[str, _Owners], ...]
    exact: tuple[tuple[str, _Owners], ...]
    always: _Owners
    every: Mapping[int, frozenset[int]]

    @classmethod
    def of(cls, rules: Sequence[TagRule]) -> RulesScreen:
        words: dict[str, list[tuple[int, tuple[int, ...]]]] = {}
        folded: dict[str, list[tuple[int, tuple[int, ...]]]] = {}
        exact: dict[str, list[tuple[int, tuple[int, ...]]]] = {}
        always: list[tuple[int, tuple[int, ...]]] = []
        every: dict[int, frozenset[int]] = {}
        for number, rule in enumerate(rules):
            screen = rule.screen
            if screen is None:
                continue
            for word, indexes in screen.words.items():
                words.setdefault(word, []).append((number, indexes))
            for needle, indexes in screen.folded:
                folded.setdefault(needle, []).append((number, indexes))
            for needle, indexes in screen.exact:
                exact.setdefault(needle, []).append((number, indexes))
            if screen.always:
                always.append((number, screen.always))
            every[number] = screen.every
        return cls(
            {w: tuple(o) for w, o in words.items()},
            tuple((n, tuple(o)) for n, o in folded.items()),
            tuple((n, tuple(o)) for n, o in exact.items()),
            tuple(always),
            every,
        )

    def candidates(self, view: FieldView) -> Mapping[int, frozenset[int] | set[int]]:
        """Per rule, the indexes of its terms that may match ``view``, as its own screen's
        :meth:`Screen.candidates` gives them; a rule that none may match is absent."""
        if view.unscreened:
            return self.every
        found: dict[int, set[int]] = {}

        def add(owners: _Owners) -> None:
            for number, indexes in owners:
                found.setdefault(number, set()).update(indexes)

        add(self.always)
        for word in view.words.intersection(self.words):
            add(self.words[word])
        lowered = view.lowered
        for needle, owners in self.folded:
            if needle in lowered:
                add(owners)
        text = view.text
        for needle, owners in self.exact:
            if needle in text:
                add(owners)
        return found


@dataclass(frozen=True, slots=True)
class CompiledRules:
    rules: tuple[TagRule, ...]
    # category_key(alias) → tag names.
    aliases: Mapping[str, tuple[str, ...]]
    # The tags defined in config: the model gives only these.
    tags: frozenset[str] = frozenset()
    screen: RulesScreen = field(init=False, compare=False, repr=False)
    # The fields some rule reads.
    fields: tuple[str, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "screen", RulesScreen.of(self.rules))
        read = {name for rule in self.rules for name in rule.fields}
        object.__setattr__(self, "fields", tuple(sorted(read)))

    @property
    def needs_morphemes(self) -> bool:
        """Whether a rule has a Hangul ``morph`` term (금): hanja terms (北, 美) are matched
        without the analyser (see :func:`_hanja_hits`)."""
        return any(t.kind == "morph" and not _is_hanja(t) for r in self.rules for t in r.terms)


def _terms(keywords: Iterable[str], morph: Iterable[str], regex: Iterable[str]) -> list[Term]:
    terms = [Term(k, "keyword", *keyword_source(k)) for k in keywords]
    terms += [Term(m, "morph", re.escape(_normalize(m))) for m in morph]
    terms += [Term(r, "regex", r) for r in regex]  # valid: the config's validation compiled it
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
            key = category_key(alias)
            aliases.setdefault(key, [])
            if name not in aliases[key]:
                aliases[key].append(name)
    return CompiledRules(tuple(rules), {k: tuple(v) for k, v in aliases.items()}, frozenset(tags))


# Outlets write one section many ways: "경제 일반", "경제일반", "IT·과학", "IT/과학".
_CATEGORY_NOISE = re.compile(r"[\s·ㆍ・/&,|>_.\-]+")
_GENERIC_SUFFIXES = ("일반", "종합", "general")


def category_key(value: str) -> str:
    """How a category value or alias is compared: NFKC, case-folded, without spaces and
    separators (``·``, ``/``, ``&``...), and without a generic suffix (``일반``, ``종합``,
    ``general``) unless that is all there is."""
    key = _CATEGORY_NOISE.sub("", unicodedata.normalize("NFKC", value).casefold())
    for suffix in _GENERIC_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)]
    return key


def category_keys(category: str) -> list[str]:
    """The keys of a category value: the whole, then each part of a hierarchy ("경제 > 증권",
    "News/Politics", "사건·사고")."""
    keys = [category_key(category)]
    for part in re.split(r"\s*[>/|·,]\s*", category.strip()):
        key = category_key(part) if part else ""
        if key and key not in keys:
            keys.append(key)
    return [k for k in keys if k]


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


def _hanja_hits(term: Term, text: str) -> int:
    """Occurrences of a hanja term that are words of their own: the run of ideographs around
    it, split per character (headline hanja are one-character words written together: 美中,
    與野), unless the run is one word (北京 Beijing, 北美 North America: HANJA_WORDS). This
    is what the analyser says of hanja (one SH token per run), without its ~500 MB model."""
    hits = 0
    for match in term.pattern.finditer(text):
        start, end = match.span()
        while start and _IDEOGRAPH_CHAR.match(text[start - 1]):
            start -= 1
        while end < len(text) and _IDEOGRAPH_CHAR.match(text[end]):
            end += 1
        if text[start:end] not in HANJA_WORDS:
            hits += 1
    return hits


def _morph_hits(term: Term, text: str, morphemes: Morphemes | None) -> int:
    """Occurrences of ``term`` that are whole morphemes. Only the words around a substring
    hit are analysed, so an article without the substring costs nothing."""
    if _is_hanja(term):
        return _hanja_hits(term, text)
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
    return len(term.pattern.findall(text))


@dataclass(frozen=True, slots=True)
class _Fired:
    score: float
    detail: str
    # Fired on hanja terms and nothing else (see HANJA_OUTVOTE).
    hanja_only: bool = False


def _is_hanja(term: Term) -> bool:
    return term.kind == "morph" and bool(_IDEOGRAPH.match(term.text))


def _apply(
    rule: TagRule,
    number: int,
    fields: Mapping[str, str],
    screened: Mapping[str, Mapping[int, frozenset[int] | set[int]]],
    morphemes: Morphemes | None,
    korean: bool,
) -> _Fired | None:
    """Whether ``rule`` (the ``number``-th) fires on the article's fields, with its score and
    what matched where. ``screened`` is :meth:`RulesScreen.candidates` of each field read.
    Hanja terms count only in Korean text: 北 in Japanese (北東部, "the north-east") or
    Chinese is not North Korea."""
    # The terms that may match each field (keyword and morph terms; regex terms always run).
    candidates = {
        name: screened[name].get(number, ()) if fields[name] else () for name in rule.fields
    }
    searched = [name for name in rule.fields if candidates[name]]
    if not searched and not rule.regex_terms:
        return None  # nothing it looks for is in the article
    strong = weak = 0
    hanja_hits = other_hits = 0
    where: list[str] = []
    # In the rule's order (what matched is reported in it), only the terms that may match.
    wanted = set(rule.regex_terms).union(*(candidates[name] for name in searched))
    for index in sorted(wanted):
        term = rule.terms[index]
        regex = term.kind == "regex"
        hanja = _is_hanja(term)
        if hanja and not korean:
            continue
        for name in rule.fields if regex else searched:
            if not regex and index not in candidates[name]:
                continue
            count = _hits(term, fields[name], morphemes)
            if count:
                hanja_hits += count if hanja else 0
                other_hits += 0 if hanja else count
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
    # Only a rule that fires is vetoed: its exclude patterns search whole pages, and most
    # rules fire on no article at all.
    if any(p.search(fields[f]) for p in rule.exclude for f in rule.fields):
        return None
    score = min(RULE_MAX, TITLE_WEIGHT * strong + BODY_WEIGHT * weak)
    only_hanja = hanja_hits > 0 and other_hits == 0
    return _Fired(round(score, 3), ", ".join(where[:6]), hanja_only=only_hanja)


@dataclass(frozen=True, slots=True)
class TagReport:
    """What tagging decided and why: the tags given, the tags vetoed or outvoted (tag → why),
    the model's probability for every tag (empty when it abstained or is off), which model
    that was, and why it abstained."""

    tags: tuple[TagAssignment, ...]
    vetoed: Mapping[str, str]
    model_scores: Mapping[str, float]
    model: str = ""
    abstained: str = ""


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


def outlet_tags(
    categories: Sequence[str], feed: FeedContext, rules: CompiledRules
) -> list[TagAssignment]:
    """What the outlet said: the feed's own tags, then the entry's ``<category>`` values
    through the aliases (each tag once per source)."""
    out = [TagAssignment(tag, "feed", 1.0, "feed") for tag in dict.fromkeys(feed.tags)]
    seen: set[str] = set()
    for category in categories:
        for key in category_keys(category):
            for tag in rules.aliases.get(key, ()):
                if tag not in seen:
                    seen.add(tag)
                    out.append(TagAssignment(tag, "category", 1.0, category))
    return out


def tags_for(item: TagInput, feed: FeedContext, tagging: Tagging) -> tuple[TagAssignment, ...]:
    """Every tag the article gets, each with its source (see :func:`tag_report`)."""
    return tag_report(item, feed, tagging).tags


def tags_for_many(
    items: Sequence[TagInput], feed: FeedContext, tagging: Tagging
) -> list[tuple[TagAssignment, ...]]:
    """:func:`tags_for` of each of one feed's articles, the model reading them in one batch."""
    return [report.tags for report in tag_reports(items, feed, tagging)]


def tag_report(item: TagInput, feed: FeedContext, tagging: Tagging) -> TagReport:
    """Every tag the article gets, each with its source. Order: feed, category, rule, model."""
    return tag_reports([item], feed, tagging)[0]


def tag_reports(items: Sequence[TagInput], feed: FeedContext, tagging: Tagging) -> list[TagReport]:
    """:func:`tag_report` of each of one feed's articles."""
    model = tagging.model
    if model is None:
        assessments = [Assessment({}, "")] * len(items)
    elif isinstance(model, BatchTopicScorer):
        assessments = model.assess_many([(i.title, i.text) for i in items], feed.url)
    else:
        assessments = [model.assess(i.title, i.text, feed.url) for i in items]
    return [
        _report(item, feed, tagging, assessment)
        for item, assessment in zip(items, assessments, strict=True)
    ]


def _report(
    item: TagInput, feed: FeedContext, tagging: Tagging, assessment: Assessment
) -> TagReport:
    rules, morphemes = tagging.rules, tagging.morphemes
    title, text = item.title, item.text
    out: dict[tuple[str, str], TagAssignment] = {}
    for t in outlet_tags(item.categories, feed, rules):
        out.setdefault((t.tag, t.source), t)
    fields = {
        "title": _normalize(title),
        "text": _normalize(text),
        "link": item.link or "",
        "feed": _normalize(" ".join(x for x in (feed.title, feed.url) if x)),
    }
    screen = rules.screen
    screened = {
        name: screen.candidates(FieldView.of(fields[name])) if fields[name] else {}
        for name in rules.fields
    }
    identity = feed_identity(feed.url) if feed.url else None
    # The model's reading, where it read the article, says the same on the same letters.
    if assessment.language is not None:
        korean = assessment.language == "ko"
    else:
        korean = hangul_share(f"{title} {text[:1500]}") >= MIN_HANGUL
    added: dict[str, _Fired] = {}
    vetoed: dict[str, str] = {}
    for number, rule in enumerate(rules.rules):
        if rule.feeds and identity not in rule.feeds:
            continue
        if rule.action == "veto" and rule.tag in vetoed:
            continue
        fired = _apply(rule, number, fields, screened, morphemes, korean)
        if fired is None:
            continue
        if rule.action == "veto":
            vetoed[rule.tag] = fired.detail
        elif rule.tag in added:
            before = added[rule.tag]
            added[rule.tag] = _Fired(
                max(before.score, fired.score),
                f"{before.detail}; {fired.detail}",
                hanja_only=before.hanja_only and fired.hanja_only,
            )
        else:
            added[rule.tag] = fired
    scores = assessment.scores
    for tag, fired in added.items():
        if tag in vetoed:
            continue
        if fired.hanja_only and tag in scores and scores[tag] < HANJA_OUTVOTE:
            vetoed[tag] = f"{fired.detail} outvoted by the topic model ({tag} {scores[tag]:.2f})"
            continue
        out[(tag, "rule")] = TagAssignment(tag, "rule", fired.score, fired.detail)
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    for rank, (tag, probability) in enumerate(ranked):
        if tag not in rules.tags or tag in vetoed:
            continue
        # The model's best topic is always given (it abstains only on text it cannot read);
        # another only when its probability reaches the threshold.
        if rank and probability < tagging.threshold:
            break
        out[(tag, "model")] = TagAssignment(
            tag, "model", round(probability, 3), assessment.model or "topic model"
        )
    return TagReport(tuple(out.values()), vetoed, scores, assessment.model, assessment.abstained)
