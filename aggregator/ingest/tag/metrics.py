"""Classification metrics for the tagger (pure Python: ``tags eval`` must not need scikit-learn)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["classification_report"]


def classification_report(gold: Sequence[str], predicted: Sequence[str | None]) -> dict[str, Any]:
    """Per-label precision/recall/F1, macro-F1 and accuracy (labels = those in ``gold``)."""
    labels = sorted(set(gold))
    per: dict[str, dict[str, float]] = {}
    for label in labels:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per[label] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": tp + fn,
        }
    correct = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p)
    return {
        "macro_f1": sum(v["f1"] for v in per.values()) / len(per) if per else 0.0,
        "accuracy": correct / len(gold) if gold else 0.0,
        "per_label": per,
    }
