"""Whether a new article joins a stored story: the matching rule the store applies inside
the feed's write transaction, to the candidates it found by band hash. Pure functions on
:class:`~aggregator.models.StoryPrint` records; no SQLAlchemy, no I/O.

It lives in the store package, not beside the fingerprints in :mod:`aggregator.ingest.stories`,
because the store is where it runs (under the story lock, so that concurrent writers make one
story) and the store must not import the ingest stage above it. ``bench/stories_eval.py``
uses the same functions with an in-memory index.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from functools import lru_cache

from aggregator.models import StoryMatch, StoryPrint

__all__ = ["choose_story", "estimated_jaccard", "match_score", "title_similarity"]

# A text of at least this many distinct shingles is long enough to overrule the headline.
LONG_TEXT_SHINGLES = 300


# A new article is compared with up to max_candidates others, its headline with each: its
# bigrams are made once, and a busy story's headlines are compared again and again. A cached
# headline holds ~4.4 KiB (a set of bigram strings): 256 of them ~1 MiB of the daemon.
@lru_cache(maxsize=256)
def _bigrams(key: str) -> frozenset[str]:
    compact = key.replace(" ", "")
    if len(compact) < 2:
        return frozenset((compact,)) if compact else frozenset()
    return frozenset(compact[i : i + 2] for i in range(len(compact) - 1))


def title_similarity(a: str, b: str) -> float:
    """Overlap of two normalized headlines' character bigrams, relative to the shorter one
    (an outlet's shortened headline still agrees with the wire's)."""
    x, y = _bigrams(a), _bigrams(b)
    if not x or not y:
        return 0.0
    return len(x & y) / min(len(x), len(y))


def estimated_jaccard(a: Sequence[int], b: Sequence[int]) -> float:
    if not a or len(a) != len(b):
        return 0.0
    # map(operator.eq) counts in C what a generator counted in Python: twice as fast.
    same: int = sum(map(operator.eq, a, b))
    return same / len(a)


def match_score(new: StoryPrint, other: StoryPrint, match: StoryMatch) -> float | None:
    """How well ``other`` matches ``new`` (higher is better), or None: not one story."""
    if new.language != other.language or abs(new.seen_at - other.seen_at) > match.window:
        return None
    jaccard = estimated_jaccard(new.signature, other.signature)
    title = title_similarity(new.title_key, other.title_key)
    # A short text (a photo caption, a one-line summary) is shared by different stories of
    # one event or one photo series: only a long one may overrule the headline.
    if jaccard >= match.text_only_threshold and min(new.size, other.size) >= LONG_TEXT_SHINGLES:
        return jaccard + title
    if title < match.title_threshold:
        return None
    if jaccard >= match.threshold:
        return jaccard + title
    # |A ∩ B| from the Jaccard estimate and both set sizes: a trimmed copy is mostly inside
    # the full one even when their Jaccard is low.
    smaller = min(new.size, other.size)
    if jaccard > 0 and smaller:
        common = jaccard * (new.size + other.size) / (1 + jaccard)
        if common / smaller >= match.containment_threshold:
            return jaccard + title
    return None


def choose_story(
    new: StoryPrint,
    candidates: Iterable[tuple[int, StoryPrint]],
    match: StoryMatch,
) -> int | None:
    """The story id of the best-matching candidate ``(story_id, print)``, or None."""
    best: tuple[float, int] | None = None
    for story_id, other in candidates:
        score = match_score(new, other, match)
        if score is not None and (best is None or score > best[0]):
            best = (score, story_id)
    return None if best is None else best[1]
