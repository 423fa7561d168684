"""Tagger benchmark: the topic model's size, load time, cost per full article on one core,
and its macro-F1 on every validation split. Prints, never asserts. Goals (issue "Tags that are
right on real articles"): <= 2 ms per article (title + full body), <= 30 MB in the package,
load <= 300 ms.

Articles for timing: the corpus pages with gold text (title + full body, Korean and English)
and the items of the corpus feeds (title + description), from ../shared/corpus. Splits: the
ones ``python -m aggregator.ingest.tag.train`` holds out (../shared/corpus-labels and
../shared/corpus; see that module's docstring), scored by the model alone (argmax) and by the
whole tagger with the shipped config.yaml (rules, threshold), as ``aggregator tags eval``.

Usage: python bench/tagger.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aggregator.config.schema import load_config  # noqa: E402
from aggregator.ingest.tag.train import (  # noqa: E402
    PAGE_TAGS,
    load_sets,
    page_example,
    score_splits,
)

SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
LABELS = SHARED / "corpus-labels"


def timing_articles() -> list[tuple[str, str]]:
    import feedparser

    from aggregator.ingest.tag.train import _plain

    articles: list[tuple[str, str]] = []
    for name in PAGE_TAGS:
        example = page_example(CORPUS / "pages", name, "")
        if example is not None:
            articles.append((example.title, example.text))
    for path in sorted((CORPUS / "feeds").glob("*.xml")) if CORPUS.is_dir() else []:
        for entry in feedparser.parse(path.read_bytes()).entries:
            articles.append((entry.get("title", ""), _plain(entry.get("summary", ""))))
    return articles or [("北 탄도미사일 발사…합참 동해상으로", "북한이 오늘 오전 발사했다. " * 200)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    from aggregator.ingest.tag.model import default_model_path

    base = default_model_path()
    size = sum(base.with_suffix(s).stat().st_size for s in (".npz", ".json"))
    print(f"model files in the package: {size / 1e6:.1f} MB (goal <= 30 MB)")
    code = (
        "import time, resource; t = time.perf_counter(); "
        "from aggregator.ingest.tag.model import TopicModel; m = TopicModel.load(); "
        "d = time.perf_counter() - t; m.assess('x'); "
        "print(d, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    loads = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.split()
        loads.append(float(out[0]))
        rss = int(out[1]) / 1024
    print(
        f"model load (import numpy + load, fresh process, best of 3): {min(loads) * 1000:.0f} ms"
        f" (goal <= 300 ms); process peak RSS after load {rss:.0f} MiB"
    )

    from aggregator.ingest.tag.loader import open_tagger, tagging_for
    from aggregator.ingest.tag.model import TopicModel
    from aggregator.ingest.tag.rules import FeedContext, TagInput, tag_report

    model = TopicModel.load()
    articles = timing_articles()
    chars = sum(len(t) + len(x) for t, x in articles) / len(articles)
    for title, text in articles[:20]:
        model.assess(title, text)  # warm up
    start = time.perf_counter()
    for _ in range(args.repeat):
        for title, text in articles:
            model.assess(title, text)
    per = (time.perf_counter() - start) / (args.repeat * len(articles))
    pages = [a for a in articles[: len(PAGE_TAGS)] if len(a[1]) > 1000]
    start = time.perf_counter()
    for _ in range(args.repeat * 10):
        for title, text in pages:
            model.assess(title, text)
    per_page = (time.perf_counter() - start) / max(1, args.repeat * 10 * len(pages))
    print(
        f"model per article: {per * 1000:.3f} ms over {len(articles)} articles of "
        f"{chars:.0f} chars on average; per full page (title + body, {len(pages)} pages): "
        f"{per_page * 1000:.3f} ms (goal <= 2 ms)"
    )
    config = load_config(REPO / "config.yaml")
    tagging = tagging_for(config, open_tagger(config))
    start = time.perf_counter()
    for _ in range(args.repeat):
        for title, text in articles:
            tag_report(TagInput(title, text), FeedContext(), tagging)
    full = (time.perf_counter() - start) / (args.repeat * len(articles))
    print(f"whole tagger (shipped rules + model) per article: {full * 1000:.3f} ms")
    start = time.perf_counter()
    for _ in range(args.repeat * 10):
        for title, text in pages:
            tag_report(TagInput(title, text), FeedContext(), tagging)
    full_page = (time.perf_counter() - start) / max(1, args.repeat * 10 * len(pages))
    print(
        f"whole tagger per full page (title + body, {len(pages)} pages): "
        f"{full_page * 1000:.3f} ms (goal <= 2 ms)"
    )
    print(f"bench peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")

    if not LABELS.is_dir():
        print(f"no validation splits: {LABELS} is absent")
        return
    from aggregator.ingest.tag.evaluate import EvalRow, evaluate
    from aggregator.ingest.tag.loader import Tagger
    from aggregator.ingest.tag.rules import compile_rules

    sets = load_sets(
        LABELS,
        CORPUS if CORPUS.is_dir() else None,
        compile_rules(config.tags).aliases,
        int(model.meta.get("seed", 13)),
    )
    alone = score_splits(model, sets.validation)
    tagger = Tagger(model=model, morphemes=tagging.morphemes)
    print(f"\n{'split':24} {'rows':>6} {'model F1':>9} {'tagger F1':>10} {'accuracy':>9}")
    for name, rows in sets.validation.items():
        result = evaluate(
            [EvalRow(i, e.tag, e.title, e.text) for i, e in enumerate(rows)], config, tagger
        )
        print(
            f"{name:24} {len(rows):>6} {alone[name]['macro_f1']:>9.3f} "
            f"{result['macro_f1']:>10.3f} {result['accuracy']:>9.3f}"
        )


if __name__ == "__main__":
    main()
