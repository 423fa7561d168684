"""Tags for an article: the feed's own tags, its ``<category>`` values mapped through the
aliases in config, and keyword rules. Pure: config and text in, tag assignments out.

Korean matching is why this is our own code: a Hangul keyword must match inside words,
because particles attach to nouns (북한 matches 북한군이, 서울시는), while a Latin keyword
must match whole words only, case-insensitively (``AI`` must not match "said"). Neither
``\\b`` nor plain substring search does both.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from aggregator.config import TagConfig
from aggregator.models import TagAssignment

__all__ = ["CompiledRules", "TagRule", "compile_rules", "tags_for"]

_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")
# Body text mentions a keyword in passing far more often than it is about it: a body-only
# match needs this many hits, while one hit in the title is enough.
BODY_HITS_REQUIRED = 2
TITLE_WEIGHT = 1.0
BODY_WEIGHT = 0.25


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
class TagRule:
    tag: str
    keywords: tuple[tuple[str, re.Pattern[str]], ...]
    exclude: tuple[re.Pattern[str], ...]


@dataclass(frozen=True, slots=True)
class CompiledRules:
    rules: tuple[TagRule, ...]
    # Lower-cased, NFC category value → tag names.
    aliases: Mapping[str, tuple[str, ...]]


def compile_rules(tags: Mapping[str, TagConfig]) -> CompiledRules:
    rules: list[TagRule] = []
    aliases: dict[str, list[str]] = {}
    for name, tag in tags.items():
        rules.append(
            TagRule(
                tag=name,
                keywords=tuple((k, keyword_pattern(k)) for k in tag.keywords),
                exclude=tuple(keyword_pattern(k) for k in tag.exclude),
            )
        )
        for alias in (*tag.aliases, name):
            aliases.setdefault(_normalize(alias).casefold(), [])
            if name not in aliases[_normalize(alias).casefold()]:
                aliases[_normalize(alias).casefold()].append(name)
    return CompiledRules(tuple(rules), {k: tuple(v) for k, v in aliases.items()})


def _category_parts(category: str) -> Iterable[str]:
    # Feeds write hierarchies as "경제 > 증권" or "News/Politics": try the whole and each part.
    yield category
    for part in re.split(r"\s*[>/|·,]\s*", category):
        if part and part != category:
            yield part


def tags_for(
    *,
    title: str,
    text: str,
    categories: Sequence[str],
    feed_tags: Sequence[str],
    rules: CompiledRules,
) -> tuple[TagAssignment, ...]:
    """Every tag the article gets, each with its source. Order: feed, category, rule."""
    out: dict[tuple[str, str], TagAssignment] = {}
    for tag in feed_tags:
        out[(tag, "feed")] = TagAssignment(tag, "feed", 1.0, "feed")
    for category in categories:
        for part in _category_parts(category.strip()):
            for tag in rules.aliases.get(_normalize(part).casefold(), ()):
                out.setdefault((tag, "category"), TagAssignment(tag, "category", 1.0, category))
    title_n = _normalize(title)
    text_n = _normalize(text)
    for rule in rules.rules:
        if not rule.keywords:
            continue
        if any(p.search(title_n) or p.search(text_n) for p in rule.exclude):
            continue
        score = 0.0
        hits: list[str] = []
        title_hit = False
        body_hits = 0
        for keyword, pattern in rule.keywords:
            in_title = bool(pattern.search(title_n))
            in_body = len(pattern.findall(text_n))
            if in_title or in_body:
                hits.append(keyword)
            title_hit = title_hit or in_title
            body_hits += in_body
            score += TITLE_WEIGHT * in_title + BODY_WEIGHT * in_body
        if title_hit or body_hits >= BODY_HITS_REQUIRED:
            out[(rule.tag, "rule")] = TagAssignment(
                rule.tag, "rule", round(min(1.0, score), 3), ", ".join(hits[:5])
            )
    return tuple(out.values())
