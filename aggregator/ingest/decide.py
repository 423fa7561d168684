"""Pure decisions of a feed update: which entries are new or edited and what identifies
their article, and whether a permanent redirect is adopted. Records in, records out; no I/O.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from aggregator.models import FetchResult, ParsedEntry, ParsedFeed
from aggregator.store.records.updates import FeedState

__all__ = [
    "REDIRECT_POLLS",
    "PlannedEntry",
    "content_hash",
    "document_keys",
    "plan_entries",
    "redirect_state",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PlannedEntry:
    entry: ParsedEntry
    key: str
    url_key: str
    content_hash: str
    changed: bool


def content_hash(entry: ParsedEntry) -> str:
    """What counts as an edit: title, link, summary and content (not volatile dates)."""
    digest = hashlib.sha256()
    for part in (entry.title, entry.link or "", entry.summary, entry.content):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


def _unique_keys(entries: Sequence[ParsedEntry]) -> list[tuple[str, ParsedEntry]]:
    """Entry keys made unique within one document.

    Some feeds give every item the same guid; then guid+link tells them apart. Exact
    repeats of one item (same key, same link) are kept once.
    """
    by_key = Counter(e.key for e in entries)
    out: list[tuple[str, ParsedEntry]] = []
    seen: set[str] = set()
    for entry in entries:
        key = entry.key
        if by_key[key] > 1 and entry.link:
            key = f"{key}|{entry.link}"
        if key in seen:
            continue
        seen.add(key)
        out.append((key, entry))
    return out


def plan_entries(
    feed_url: str,
    parsed: ParsedFeed,
    known: dict[str, str],
) -> list[PlannedEntry]:
    """New and edited entries of ``parsed``; ``known`` maps entry key → stored content hash.

    An article is identified across feeds by its canonical link. A link shared by several
    different entries of one feed (a feed that links every item to its home page) does not
    identify anything, so those entries get a feed-scoped identity instead.
    """
    keyed = _unique_keys(parsed.entries)
    link_uses = Counter(e.link for _, e in keyed if e.link)
    planned: list[PlannedEntry] = []
    for key, entry in keyed:
        digest = content_hash(entry)
        if known.get(key) == digest:
            continue
        if entry.link and link_uses[entry.link] == 1:
            url_key = entry.link
        else:
            url_key = f"{feed_url}#entry={key}"
        planned.append(PlannedEntry(entry, key, url_key, digest, changed=key in known))
    return planned


def take_newest(planned: Sequence[PlannedEntry], limit: int) -> tuple[list[PlannedEntry], int]:
    """The entries to store in this poll: every edited one, and at most ``limit`` new ones,
    the newest first (by publication, else update time; undated ones after the dated, in
    document order). Returns them in document order with how many new ones wait for the
    next poll: a feed of 50,000 entries is stored in bounded steps, each committed."""
    new = [i for i, p in enumerate(planned) if not p.changed]
    if len(new) <= limit:
        return list(planned), 0

    def newest_first(index: int) -> tuple[int, float, int]:
        entry = planned[index].entry
        when = entry.published or entry.updated
        return (0, -when.timestamp(), index) if when else (1, 0.0, index)

    chosen = set(sorted(new, key=newest_first)[:limit])
    kept = [p for i, p in enumerate(planned) if p.changed or i in chosen]
    return kept, len(new) - limit


def document_keys(parsed: ParsedFeed) -> list[str]:
    """Every key an entry of ``parsed`` may be stored under (its own, and key|link for feeds
    that give several entries one guid)."""
    return [e.key for e in parsed.entries] + [f"{e.key}|{e.link}" for e in parsed.entries if e.link]


# A permanent redirect must be seen on this many polls in a row before the stored URL follows
# it: one misconfigured response must not move a feed for good.
REDIRECT_POLLS = 3


def redirect_state(state: FeedState, fetched: FetchResult) -> tuple[str | None, str | None, int]:
    """(fetch_url, redirect_candidate, redirect_streak) after this fetch."""
    target = fetched.permanent_redirect
    if not target or target == state.effective_url:
        return state.fetch_url, None, 0
    streak = state.redirect_streak + 1 if target == state.redirect_candidate else 1
    if streak >= REDIRECT_POLLS:
        log.warning(
            "feed moved permanently",
            extra={"fields": {"feed": state.url, "from": state.effective_url, "to": target}},
        )
        return target, None, 0
    return state.fetch_url, target, streak
