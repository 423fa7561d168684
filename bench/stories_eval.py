"""Story clustering quality: pair precision and recall on wire copies derived from the corpus.

Reads the real feeds and pages of ../shared/corpus by path (nothing of it is copied into the
repository) and builds, deterministically (fixed seed):

- **wire groups**: each real article (a page's gold text, or a feed item with a summary of
  100+ characters) republished by three "outlets", each making the edits Korean outlets make
  to Yonhap copy: a headline marker ([속보], (종합), (2보)...), an outlet suffix on the
  headline, hanja abbreviations (미국 → 美), their own dateline and byline, a photo credit,
  a reporter's e-mail, a copyright footer, a trimmed ending, paragraphs dropped or reordered;
  published up to 6 hours apart;
- **real versions** found in the corpus itself (a feed's update of an earlier item, a photo
  series under one caption), by difflib over the raw texts, count as one story;
- **hard negatives**: every other article of the same feed and day (same outlet, same topic
  section, same hours), and a derived next-day **follow-up** of some articles: new text (from an
  article kept out of the set) under a headline sharing half its words with the original,
  with the original's opening (a fifth of it at most) as background, published 20-30 hours later.

Every document is then clustered incrementally, in time order, with the same decision
functions the store uses (:func:`aggregator.store.story_match.choose_story`) over an in-memory band
index, and the predicted same-story pairs are compared with the true ones.

Usage: python bench/stories_eval.py [--corpus ../shared/corpus] [--threshold 0.5 ...]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aggregator.errors import AggregatorError  # noqa: E402
from aggregator.ingest.extract.article import text_from_feed_content  # noqa: E402
from aggregator.ingest.parse.feed import parse_feed  # noqa: E402
from aggregator.ingest.stories import fingerprint  # noqa: E402
from aggregator.models import StoryMatch, StoryPrint  # noqa: E402
from aggregator.store.story_match import choose_story  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"
SEED = 20261127
COPIES = 3


@dataclass(frozen=True)
class Doc:
    title: str
    text: str
    when: datetime
    source: str  # feed file or page, for same-feed hard negatives
    group: int  # true story id
    base: int  # the corpus article it derives from (0: a follow-up)


@dataclass(frozen=True)
class EvalResult:
    docs: int
    groups: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    wire_true_pairs: int
    wire_found_pairs: int
    ms_per_doc: float

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def wire_recall(self) -> float:
        return self.wire_found_pairs / self.wire_true_pairs if self.wire_true_pairs else 1.0


# -- reading the corpus -----------------------------------------------------------------


def _feed_articles(corpus: Path) -> list[tuple[str, str, datetime, str]]:
    out = []
    for path in sorted((corpus / "feeds").glob("*.xml")):
        try:
            parsed = parse_feed(path.read_bytes(), f"http://corpus.test/{path.name}")
        except AggregatorError:
            continue
        for entry in parsed.entries:
            text, _ = text_from_feed_content(entry.content or entry.summary)
            when = entry.published or entry.updated
            if when is None or len(text) < 100 or not entry.title:
                continue
            out.append((entry.title, text, when, path.name))
    # One copy of an article that several feeds of the corpus carry (same title).
    seen: set[str] = set()
    unique = []
    for item in out:
        if item[0] not in seen:
            seen.add(item[0])
            unique.append(item)
    return unique


def _page_articles(corpus: Path) -> list[tuple[str, str, datetime, str]]:
    import json

    out = []
    base = datetime(2025, 5, 27, 9, tzinfo=UTC)
    for index, gold in enumerate(sorted((corpus / "pages").glob("*/*.txt"))):
        text = gold.read_text(encoding="utf-8")
        title = ""
        for meta in gold.parent.glob(gold.name.removesuffix(".txt") + ".*.json"):
            try:
                data = json.loads(meta.read_text(encoding="utf-8"))
            except ValueError:
                continue
            if isinstance(data, dict) and isinstance(data.get("title"), str):
                title = data["title"]
        if not title:
            title = next((line for line in text.splitlines() if line.strip()), "")[:60]
        if len(text) >= 300:
            out.append((title, text, base + timedelta(hours=index), gold.name))
    return out


# -- outlets' edits ---------------------------------------------------------------------

_MARKERS = ("[속보]", "[단독]", "[종합]", "(종합)", "(2보)", "(종합2보)", "[포토]", "<속보>")
_OUTLETS = ("연합뉴스", "뉴스1", "뉴시스", "머니투데이", "이데일리", "헤럴드경제", "아시아경제")
_NAMES = ("홍길동", "김철수", "이영희", "박민수", "최지우", "정하늘")
_CITIES = ("서울", "세종", "부산", "워싱턴", "베이징", "도쿄")
_HANJA_BACK = {"미국": "美", "중국": "中", "일본": "日", "북한": "北", "청와대": "靑"}


def _paragraphs(text: str) -> list[str]:
    paragraphs = [p.strip() for p in text.splitlines() if p.strip()]
    if len(paragraphs) >= 3:
        return paragraphs
    # A feed summary is one paragraph: its sentences stand in for paragraphs.
    sentences = [s for s in re.split(r"(?<=[.!?다])\s+", text.strip()) if s]
    return sentences or [text]


def _edit_title(title: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        title = rng.choice(_MARKERS) + (" " if rng.random() < 0.5 else "") + title
    if rng.random() < 0.3:
        title = f"{title}{rng.choice(('(종합)', '(2보)', '(종합2보)', '(상보)'))}"
    if rng.random() < 0.3:
        for word, hanja in _HANJA_BACK.items():
            title = title.replace(word, hanja)
    if rng.random() < 0.2:
        title = f"{title} - {rng.choice(_OUTLETS)}"
    return title


def _edit_text(text: str, rng: random.Random) -> str:
    paragraphs = _paragraphs(text)
    name, outlet, city = rng.choice(_NAMES), rng.choice(_OUTLETS), rng.choice(_CITIES)
    if len(paragraphs) > 4 and rng.random() < 0.4:
        # Trimmed ending: the last quarter or so dropped.
        paragraphs = paragraphs[: max(3, int(len(paragraphs) * rng.uniform(0.65, 0.85)))]
    if len(paragraphs) > 4 and rng.random() < 0.3:
        del paragraphs[rng.randrange(1, len(paragraphs) - 1)]
    if len(paragraphs) > 3 and rng.random() < 0.3:
        i = rng.randrange(1, len(paragraphs) - 1)
        paragraphs[i], paragraphs[i + 1] = paragraphs[i + 1], paragraphs[i]
    if rng.random() < 0.7:
        paragraphs[0] = f"({city}={outlet}) {name} 기자 = {paragraphs[0]}"
    if rng.random() < 0.4:
        paragraphs.insert(1, f"사진={outlet} 제공")
    if rng.random() < 0.3:
        paragraphs.insert(min(2, len(paragraphs)), f"(사진={outlet}) 현장 모습.")
    if rng.random() < 0.5:
        paragraphs.append(f"{name} 기자 reporter{rng.randrange(100)}@example.co.kr")
    if rng.random() < 0.6:
        paragraphs.append(f"ⓒ {outlet} 무단전재 및 재배포 금지")
    return "\n".join(paragraphs)


def _background(text: str) -> str:
    """What a follow-up repeats of the original: its opening, at most a fifth of it."""
    first = _paragraphs(text)[0]
    limit = max(40, len(text) // 5)
    if len(first) <= limit:
        return first
    cut = first.rfind(" ", 0, limit)
    return first[: cut if cut > 0 else limit]


def _real_duplicates(articles: list[tuple[str, str, datetime, str]]) -> dict[int, int]:
    """Articles of the corpus that are already versions of one story (a feed carrying an
    update of an earlier item, a photo series with one caption): same feed, texts at least
    75 % alike by difflib (an exact measure, independent of MinHash). Maps each such
    article's index to its group: the group number of the earliest index (1-based, as
    :func:`derive` numbers them)."""
    from difflib import SequenceMatcher

    parent = list(range(len(articles)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in combinations(range(len(articles)), 2):
        if articles[i][3] != articles[j][3]:
            continue
        matcher = SequenceMatcher(None, articles[i][1], articles[j][1], autojunk=False)
        if (
            matcher.real_quick_ratio() >= 0.75
            and matcher.quick_ratio() >= 0.75
            and matcher.ratio() >= 0.75
        ):
            parent[root(j)] = root(i)
    return {i: root(i) + 1 for i in range(len(articles)) if root(i) != i}


def derive(corpus: Path, seed: int = SEED) -> list[Doc]:
    """The documents, with their true story and the article each derives from."""
    rng = random.Random(seed)
    articles = _feed_articles(corpus) + _page_articles(corpus)
    # A quarter of the articles are kept out of the set: they lend the follow-ups their
    # new text, so that no follow-up repeats an article of the set.
    donors = rng.sample(articles, k=len(articles) // 4)
    articles = [a for a in articles if a not in donors]
    docs: list[Doc] = []
    real = _real_duplicates(articles)
    group = 0
    for index, (title, text, when, source) in enumerate(articles):
        group += 1
        docs.append(Doc(title, text, when, source, real.get(index, group), group))
        for _ in range(COPIES):
            docs.append(
                Doc(
                    _edit_title(title, rng),
                    _edit_text(text, rng),
                    when + timedelta(minutes=rng.randrange(1, 360)),
                    source,
                    real.get(index, group),
                    group,
                )
            )
    # Follow-ups: the next day's story about the same subject is a different story.
    bases = [docs[i] for i in range(0, len(docs), COPIES + 1)]
    for base, donor in zip(rng.sample(bases, k=len(donors)), donors, strict=True):
        title_words, donor_words = base.title.split(), donor[0].split()
        group += 1
        docs.append(
            Doc(
                " ".join(
                    title_words[: max(1, len(title_words) // 2)]
                    + donor_words[len(donor_words) // 2 :]
                ),
                donor[1] + "\n" + _background(base.text),
                base.when + timedelta(hours=rng.uniform(20, 30)),
                base.source,
                group,
                0,
            )
        )
    return docs


# -- clustering and scoring --------------------------------------------------------------


def cluster(docs: Iterable[Doc], match: StoryMatch) -> tuple[list[int | None], float]:
    """Story id per document (None: too short to cluster), incrementally in time order, and
    the mean milliseconds per document (fingerprint + candidate lookup + decision)."""
    ordered = sorted(enumerate(docs), key=lambda item: item[1].when)
    bands: dict[int, list[int]] = defaultdict(list)
    prints: dict[int, StoryPrint] = {}
    story: dict[int, int] = {}
    out: list[int | None] = [None] * len(ordered)
    next_story = 0
    started = time.perf_counter()
    for index, doc in ordered:
        fp = fingerprint(
            doc.title,
            doc.text,
            language=None,
            seen_at=doc.when,
            min_text_chars=match.min_text_chars,
        )
        if fp is None:
            continue
        candidates = {i for band in fp.bands for i in bands.get(band, ())}
        chosen = choose_story(fp, ((story[i], prints[i]) for i in sorted(candidates)), match)
        if chosen is None:
            next_story += 1
            chosen = next_story
        story[index], prints[index], out[index] = chosen, fp, chosen
        for band in fp.bands:
            bands[band].append(index)
    elapsed = (time.perf_counter() - started) * 1000
    return out, elapsed / max(1, len(ordered))


def _pairs(labels: list[int | None]) -> set[tuple[int, int]]:
    by_label: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        if label is not None:
            by_label[label].append(index)
    return {pair for members in by_label.values() for pair in combinations(members, 2)}


def evaluate(corpus: Path, match: StoryMatch | None = None) -> EvalResult:
    docs = derive(corpus)
    predicted, ms = cluster(docs, match or StoryMatch())
    truth = _pairs([d.group for d in docs])
    found = _pairs(predicted)
    # Wire copies: an article and the outlets' copies of it.
    wire_truth = _pairs([d.base or None for d in docs])
    return EvalResult(
        docs=len(docs),
        groups=len({d.group for d in docs}),
        true_pairs=len(truth),
        predicted_pairs=len(found),
        correct_pairs=len(found & truth),
        wire_true_pairs=len(wire_truth),
        wire_found_pairs=len(found & wire_truth),
        ms_per_doc=ms,
    )


def main() -> None:
    defaults = StoryMatch()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--threshold", type=float, default=defaults.threshold)
    parser.add_argument("--title-threshold", type=float, default=defaults.title_threshold)
    parser.add_argument("--text-only-threshold", type=float, default=defaults.text_only_threshold)
    parser.add_argument(
        "--containment-threshold", type=float, default=defaults.containment_threshold
    )
    args = parser.parse_args()
    if not (args.corpus / "feeds").is_dir():
        sys.exit(f"no corpus at {args.corpus}")
    match = replace(
        defaults,
        threshold=args.threshold,
        title_threshold=args.title_threshold,
        text_only_threshold=args.text_only_threshold,
        containment_threshold=args.containment_threshold,
    )
    result = evaluate(args.corpus, match)
    print(f"documents             {result.docs} in {result.groups} true stories")
    print(
        f"true same-story pairs {result.true_pairs} (wire copies: {result.wire_true_pairs}; "
        "the rest: versions of one story already in the corpus)"
    )
    print(f"predicted pairs       {result.predicted_pairs}, correct {result.correct_pairs}")
    print(f"pair precision        {result.precision:.4f}")
    print(f"pair recall (all)     {result.recall:.4f}")
    print(f"wire-copy recall      {result.wire_recall:.4f}")
    print(f"clustering            {result.ms_per_doc:.2f} ms per document (in memory)")


if __name__ == "__main__":
    main()
