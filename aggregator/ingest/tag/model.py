"""The built-in topic model: hashed features → linear weights → calibrated probabilities.

Our own small code on numpy arrays rather than a pickled scikit-learn estimator: a pickle
runs code when loaded and ties the file to one library version, while this is a matrix
product. The model is two files beside each other: ``<name>.npz`` (arrays only, loaded with
``allow_pickle=False``) and ``<name>.json`` (labels, feature version, calibration,
training record). :mod:`aggregator.ingest.tag.train` writes them.

Loading costs ~0.1 s and numpy, so only the commands that tag (poll, run, tags retag/eval)
load it, once, and pass it in.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from aggregator.errors import TaggerError
from aggregator.ingest.tag.features import FEATURE_VERSION, HASH_BITS, raw_features

__all__ = [
    "DEFAULT_MODEL",
    "TopicModel",
    "TopicModelError",
    "default_model_path",
    "hangul_share",
]

DEFAULT_MODEL = "ynat-topics"
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_LETTER = re.compile(r"[^\W\d_]")


# The name says where it comes from; the class is the hierarchy's.
TopicModelError = TaggerError


def default_model_path() -> Path:
    """``<package>/tagger/data/ynat-topics`` (without extension)."""
    return Path(str(resources.files("aggregator.ingest.tag") / "data" / DEFAULT_MODEL))


def hangul_share(text: str) -> float:
    """Share of letters that are Hangul syllables (0 for text without letters)."""
    letters = _LETTER.findall(text)
    if not letters:
        return 0.0
    return sum(1 for c in letters if _HANGUL.match(c)) / len(letters)


FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class TopicModel:
    """A linear model over hashed features; see :meth:`scores`."""

    weights: FloatArray  # (buckets, classes): one gathered row per feature
    bias: FloatArray  # (classes,)
    idf: FloatArray  # (buckets,)
    tags: tuple[str, ...]
    temperature: float
    lead_weight: float
    lead_chars: int
    min_hangul: float
    meta: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None = None) -> TopicModel:
        """Load ``path``.npz and ``path``.json (default: the model shipped in the package)."""
        base = Path(path) if path is not None else default_model_path()
        base = base.with_suffix("") if base.suffix in (".npz", ".json") else base
        npz_path, json_path = base.with_suffix(".npz"), base.with_suffix(".json")
        try:
            meta = json.loads(json_path.read_text(encoding="utf-8"))
            blob = npz_path.read_bytes()
        except (OSError, ValueError) as exc:
            raise TopicModelError(f"cannot read topic model {base}: {exc}") from None
        if meta.get("feature_version") != FEATURE_VERSION or meta.get("hash_bits") != HASH_BITS:
            raise TopicModelError(
                f"topic model {base} was trained with feature version "
                f"{meta.get('feature_version')}/{meta.get('hash_bits')} bits; this code "
                f"computes version {FEATURE_VERSION}/{HASH_BITS} bits: retrain it"
            )
        if meta.get("sha256") and hashlib.sha256(blob).hexdigest() != meta["sha256"]:
            raise TopicModelError(f"topic model {npz_path} does not match its metadata")
        try:
            with np.load(npz_path, allow_pickle=False) as arrays:
                weights = arrays["weights"].astype(np.float32)
                bias = arrays["bias"].astype(np.float32)
                idf = arrays["idf"].astype(np.float32)
        except (OSError, ValueError, KeyError) as exc:
            raise TopicModelError(f"cannot read topic model {npz_path}: {exc}") from None
        tags = tuple(str(t) for t in meta["tags"])
        if weights.shape != (1 << HASH_BITS, len(tags)) or bias.shape != (len(tags),):
            raise TopicModelError(f"topic model {npz_path}: arrays do not match its labels")
        return cls(
            weights=weights,
            bias=bias,
            idf=idf,
            tags=tags,
            temperature=float(meta["temperature"]),
            lead_weight=float(meta.get("lead_weight", 0.5)),
            lead_chars=int(meta.get("lead_chars", 300)),
            min_hangul=float(meta.get("min_hangul", 0.3)),
            meta=meta,
        )

    def _vector(self, text: str) -> tuple[npt.NDArray[np.int64], FloatArray]:
        raw = raw_features(text)
        if not raw:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        index = np.fromiter(raw.keys(), np.int64, len(raw))
        values = np.fromiter(raw.values(), np.float32, len(raw)) * self.idf[index]
        norm = float(np.sqrt((values * values).sum()))
        return index, values / norm if norm else values

    def decision(self, title: str, text: str = "") -> FloatArray | None:
        """Raw linear scores per class, or None when there is nothing Korean to read."""
        lead = text[: self.lead_chars]
        if hangul_share(f"{title} {lead}") < self.min_hangul:
            return None
        t_index, t_values = self._vector(title)
        l_index, l_values = self._vector(lead) if lead.strip() else self._vector("")
        index = np.concatenate([t_index, l_index])
        values = np.concatenate([t_values, self.lead_weight * l_values])
        if index.size == 0:
            return None
        # The title and the lead share buckets: summing rows of a gather does that.
        norm = float(np.sqrt(_merged_norm2(index, values)))
        # A multiply-and-sum, not ``@``: a matrix product this small gains nothing from BLAS,
        # whose worker threads would spin on the daemon's cores after every article.
        rows = self.weights[index] * values[:, None]
        out: FloatArray = rows.sum(axis=0) / (norm or 1.0) + self.bias
        return out

    def scores(self, title: str, text: str = "") -> dict[str, float]:
        """Probability per tag (softmax of the calibrated scores); empty when abstaining.

        Reads the title and the lead (the first ``lead_chars`` characters of the text, at
        ``lead_weight`` of the title's weight). Text that is mostly not Korean gets no scores:
        the model was trained on Korean headlines and would only guess.
        """
        decision = self.decision(title, text)
        if decision is None:
            return {}
        z = decision * self.temperature
        z = z - z.max()
        p = np.exp(z)
        p /= p.sum()
        return {tag: float(p[i]) for i, tag in enumerate(self.tags)}

    def best(self, title: str, text: str = "") -> tuple[str, float] | None:
        """The most probable tag and its probability, or None when abstaining."""
        scores = self.scores(title, text)
        if not scores:
            return None
        tag = max(scores, key=scores.__getitem__)
        return tag, scores[tag]


def _merged_norm2(index: npt.NDArray[np.int64], values: FloatArray) -> float:
    if index.size == 0:
        return 0.0
    unique, inverse = np.unique(index, return_inverse=True)
    summed = np.zeros(unique.size, np.float64)
    np.add.at(summed, inverse, values)
    return float((summed * summed).sum())
