"""Tagger benchmark: model load time and per-article tagging cost on one core.

Articles are the items of the Korean outlet feeds in ../shared/corpus/feeds (title and the
feed's description as the lead), repeated to --articles; without that folder, synthetic Korean
headlines. Prints, never asserts:

- the time to import numpy and load the shipped model (a fresh process);
- model inference (title + lead → probabilities) per article, in ms (goal: <= 2 ms);
- the full tagger (rules of the shipped config.yaml + model) per article, in ms;
- the morpheme analyser's first-use load time and cost per call, for ``morph`` rule terms.

Usage: python bench/tagger.py [--articles 2000]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aggregator.config.schema import load_config  # noqa: E402
from aggregator.ingest.tag.rules import (  # noqa: E402
    FeedContext,
    Tagging,
    TagInput,
    compile_rules,
    tag_report,
)

FEEDS = REPO.parent / "shared" / "corpus" / "feeds"
_TAG = re.compile(r"<[^>]+>")


def load_articles() -> list[tuple[str, str]]:
    import feedparser

    articles: list[tuple[str, str]] = []
    for path in sorted(FEEDS.glob("*.xml")) if FEEDS.is_dir() else []:
        for entry in feedparser.parse(path.read_bytes()).entries:
            lead = _TAG.sub(" ", entry.get("summary", ""))
            articles.append((entry.get("title", ""), " ".join(lead.split())))
    return articles or [
        (
            "北 탄도미사일 발사…합참 동해상으로",
            "북한이 오늘 오전 동해상으로 탄도미사일을 발사했다.",
        ),
        ("코스피 외국인 매수에 2,600 회복", "코스피가 외국인과 기관의 동반 매수에 상승 마감했다."),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=2000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    code = (
        "import time; t = time.perf_counter(); "
        "from aggregator.ingest.tag.model import TopicModel; m = TopicModel.load(); "
        "print(time.perf_counter() - t)"
    )
    load = float(
        subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout
    )
    print(f"model load (import numpy + load, fresh process): {load * 1000:.0f} ms")

    from aggregator.ingest.tag.loader import open_tagger
    from aggregator.ingest.tag.model import TopicModel, default_model_path

    npz = default_model_path().with_suffix(".npz")
    print(f"model file: {npz.stat().st_size / 1e6:.1f} MB")
    model = TopicModel.load()
    base = load_articles()
    articles = (base * (args.articles // len(base) + 1))[: args.articles]
    print(f"articles: {len(articles)} (from {len(base)} distinct feed items)")
    lead_chars = sum(len(t) + len(x[: model.lead_chars]) for t, x in articles) / len(articles)
    print(f"mean title + lead length: {lead_chars:.0f} characters")

    for title, text in articles[:50]:
        model.scores(title, text)
    started = time.perf_counter()
    for title, text in articles:
        model.scores(title, text)
    per = (time.perf_counter() - started) / len(articles) * 1000
    print(f"model inference: {per:.3f} ms per article (goal <= 2 ms)")

    config = load_config(REPO / "config.yaml")
    tagger = open_tagger(config)
    tagging = Tagging(
        compile_rules(config.tags), tagger.model, config.tagger.threshold, tagger.morphemes
    )
    if tagger.morphemes is not None:
        analyser = tagger.morphemes
        started = time.perf_counter()
        analyser("美中 정상회담")
        print(
            f"morpheme analyser first call (loads kiwipiepy): {time.perf_counter() - started:.2f} s"
        )
        started = time.perf_counter()
        for _ in range(500):
            analyser("美中 정상회담")
        per = (time.perf_counter() - started) / 500 * 1000
        print(f"morpheme analyser per call (a word or two): {per:.3f} ms")

    started = time.perf_counter()
    for title, text in articles:
        tag_report(TagInput(title, text), FeedContext(), tagging)
    per = (time.perf_counter() - started) / len(articles) * 1000
    print(f"full tagger (rules of config.yaml + model): {per:.3f} ms")


if __name__ == "__main__":
    main()
