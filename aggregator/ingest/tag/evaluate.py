"""``aggregator tags eval``: the whole tagger (rules and model, as configured) on a labelled
file, scored per label with precision, recall and F1.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aggregator.config.schema import Config
from aggregator.errors import ConfigError
from aggregator.ingest.tag.loader import Tagger, tagging_for
from aggregator.ingest.tag.rules import FeedContext, TagInput, tag_report
from aggregator.models import TagAssignment

__all__ = [
    "EvalRow",
    "evaluate",
    "label_names",
    "predict_label",
    "read_eval_file",
    "scores_by_tag",
]


@dataclass(frozen=True, slots=True)
class EvalRow:
    line: int
    label: str  # a tag name
    title: str
    text: str = ""


def label_names(config: Config) -> dict[str, str]:
    """Every way a file may name a tag (name, Korean and English label, any case) → name."""
    names: dict[str, str] = {}
    for name, tag in config.tags.items():
        for label in (name, tag.labels.ko, tag.labels.en):
            if label:
                names[label.strip().casefold()] = name
    return names


def read_eval_file(path: Path, config: Config) -> list[EvalRow]:
    """``label<TAB>title[<TAB>text]`` rows, no header; labels are tag names or labels.

    Raises:
        ConfigError: a row has no title or a label that names no tag (with its line).
    """
    names = label_names(config)
    rows: list[EvalRow] = []
    problems: list[str] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for number, fields in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not fields or not any(f.strip() for f in fields):
                continue
            if len(fields) < 2 or not fields[1].strip():
                problems.append(f"{path}:{number}: expected label<TAB>title[<TAB>text]")
                continue
            tag = names.get(fields[0].strip().casefold())
            if tag is None:
                problems.append(f"{path}:{number}: label {fields[0]!r} names no configured tag")
                continue
            text = "\t".join(fields[2:]) if len(fields) > 2 else ""
            rows.append(EvalRow(number, tag, fields[1], text))
    if problems:
        raise ConfigError(problems[:20])
    return rows


def scores_by_tag(tags: Iterable[TagAssignment]) -> dict[str, float]:
    """The highest score each tag got from any source."""
    best: dict[str, float] = {}
    for t in tags:
        best[t.tag] = max(best.get(t.tag, 0.0), t.score)
    return best


def predict_label(tags: Iterable[TagAssignment], labels: Iterable[str]) -> str | None:
    """The highest-scoring tag among ``labels`` (ties: alphabetical), or None."""
    allowed = set(labels)
    scored = [(score, tag) for tag, score in scores_by_tag(tags).items() if tag in allowed]
    if not scored:
        return None
    return min(scored, key=lambda st: (-st[0], st[1]))[1]


def evaluate(
    rows: Sequence[EvalRow],
    config: Config,
    tagger: Tagger,
    on_row: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Precision, recall and F1 per label, macro-F1 and accuracy of the full tagger."""
    from aggregator.ingest.tag.metrics import classification_report

    tagging = tagging_for(config, tagger)
    labels = sorted({r.label for r in rows})
    predicted: list[str | None] = []
    for row in rows:
        report = tag_report(TagInput(row.title, row.text), FeedContext(), tagging)
        predicted.append(predict_label(report.tags, labels))
        if on_row is not None:
            on_row()
    result = classification_report([r.label for r in rows], predicted)
    result["rows"] = len(rows)
    result["no_prediction"] = sum(1 for p in predicted if p is None)
    return result
