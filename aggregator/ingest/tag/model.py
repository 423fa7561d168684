"""The built-in topic model: hashed features of title, lead and body → linear weights →
calibrated probabilities, for Korean and English text alike.

Our own small code on numpy arrays rather than a pickled scikit-learn estimator: a pickle
runs code when loaded and ties the file to one library version, while this is a gather and a
sum. The model is two files beside each other: ``<name>.npz`` (arrays only, loaded with
``allow_pickle=False``) and ``<name>.json`` (labels, feature version, segment weights,
calibration, training record). :mod:`aggregator.ingest.tag.train` writes them.

How an article is read: the title, the lead (the first ``lead_chars`` characters of the text)
and the body (up to ``body_chars`` more) are three segments, each a tf-idf vector normalised
on its own, then summed with the model's segment weights and normalised again. The model was
trained on headlines, whose vectors are short; a body normalised on its own adds its
evidence without drowning the title in thousands of n-grams (held-out numbers in
:mod:`aggregator.ingest.tag.train`).

The model reads Korean and English. Text in another language (Japanese, Chinese, German...)
gets no scores and a reason (:func:`aggregator.text.language.reading_of`): the model would
only guess.

Loading costs ~0.1 s and numpy, so only the commands that tag load it, once, and pass it in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from aggregator.errors import TaggerError
from aggregator.ingest.tag.features import FEATURE_VERSION, HASH_BITS, article_features
from aggregator.models import Assessment
from aggregator.text.language import reading_of

__all__ = [
    "DEFAULT_MODEL",
    "TopicModel",
    "TopicModelError",
    "combine",
    "default_model_path",
]

DEFAULT_MODEL = "news-topics"
# The name says where it comes from; the class is the hierarchy's.
TopicModelError = TaggerError

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


def default_model_path() -> Path:
    """``<package>/ingest/tag/data/news-topics`` (without extension)."""
    return Path(str(resources.files("aggregator.ingest.tag") / "data" / DEFAULT_MODEL))


@dataclass(frozen=True)
class TopicModel:
    """A linear model over hashed features; see :meth:`assess`."""

    weights: FloatArray  # (buckets, classes): one gathered row per feature
    bias: FloatArray  # (classes,)
    idf: FloatArray  # (buckets,)
    tags: tuple[str, ...]
    temperature: float
    # Weight of the title, the lead and the body segment (see the module docstring).
    segment_weights: tuple[float, float, float] = (1.0, 0.6, 0.4)
    lead_chars: int = 300
    body_chars: int = 3000
    name: str = DEFAULT_MODEL
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
        if meta.get("sha256") and hashlib.sha256(blob).hexdigest() != meta["sha256"]:
            raise TopicModelError(f"topic model {npz_path} does not match its metadata")
        try:
            with np.load(npz_path, allow_pickle=False) as arrays:
                loaded = {k: arrays[k] for k in ("weights", "bias", "idf")}
        except (OSError, ValueError, KeyError) as exc:
            raise TopicModelError(f"cannot read topic model {npz_path}: {exc}") from None
        return cls.from_arrays(loaded, meta, where=str(base))

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, Any], meta: Mapping[str, Any], *, where: str
    ) -> TopicModel:
        """A model from its arrays and metadata (files, or a learned model from the store).

        Raises:
            TopicModelError: another feature version, or arrays that do not match the labels.
        """
        if meta.get("feature_version") != FEATURE_VERSION or meta.get("hash_bits") != HASH_BITS:
            raise TopicModelError(
                f"topic model {where} was trained with feature version "
                f"{meta.get('feature_version')}/{meta.get('hash_bits')} bits; this code "
                f"computes version {FEATURE_VERSION}/{HASH_BITS} bits: retrain it"
            )
        try:
            tags = tuple(str(t) for t in meta["tags"])
            # Kept as stored (float16 for the shipped model: half the memory). Every use is
            # a gather times float32 values, which upcasts exactly: the scores are the same.
            weights = np.asarray(arrays["weights"])
            if weights.dtype not in (np.float16, np.float32):
                weights = weights.astype(np.float32)
            bias = np.asarray(arrays["bias"], dtype=np.float32)
            idf = np.asarray(arrays["idf"], dtype=np.float32)
            segment = tuple(float(w) for w in meta.get("segment_weights", (1.0, 0.6, 0.4)))
            model = cls(
                weights=weights,
                bias=bias,
                idf=idf,
                tags=tags,
                temperature=float(meta["temperature"]),
                segment_weights=(segment[0], segment[1], segment[2]),
                lead_chars=int(meta.get("lead_chars", 300)),
                body_chars=int(meta.get("body_chars", 3000)),
                name=str(meta.get("name", DEFAULT_MODEL)),
                meta=dict(meta),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise TopicModelError(f"topic model {where}: bad metadata: {exc}") from None
        buckets = 1 << HASH_BITS
        if weights.shape != (buckets, len(tags)) or bias.shape != (len(tags),):
            raise TopicModelError(f"topic model {where}: arrays do not match its labels")
        if idf.shape != (buckets,):
            raise TopicModelError(f"topic model {where}: idf does not match the features")
        return model

    def segments(self, title: str, text: str = "") -> tuple[str, str, str]:
        """The title, lead and body the model reads of an article."""
        lead = text[: self.lead_chars]
        body = text[self.lead_chars : self.lead_chars + self.body_chars]
        return title, lead, body

    def vectors(self, articles: Sequence[tuple[str, str]]) -> tuple[IntArray, IntArray, FloatArray]:
        """The model's input for each ``(title, text)``, as sparse rows ``(row, bucket,
        value)``: training builds its matrix with this very function."""
        return combine(
            [self.segments(title, text) for title, text in articles],
            self.idf,
            self.segment_weights,
        )

    def decision(self, title: str, text: str = "") -> FloatArray | None:
        """Raw linear scores per class, or None when there is nothing to read."""
        _, index, values = self.vectors([(title, text)])
        if index.size == 0:
            return None
        rows = weighted_rows(self.weights, index, values)
        out: FloatArray = rows.sum(axis=0) + self.bias
        return out

    def probabilities(self, decision: FloatArray) -> dict[str, float]:
        z = decision * self.temperature
        z = z - z.max()
        p = np.exp(z)
        p /= p.sum()
        return {tag: float(p[i]) for i, tag in enumerate(self.tags)}

    def assess(self, title: str, text: str = "", feed_url: str | None = None) -> Assessment:
        """Probability per tag, or an abstention with its reason (a language the model cannot
        read, or nothing to read at all). ``feed_url`` is for adapted models; unused here."""
        reading = reading_of(title, text)
        if reading.language is None:
            return Assessment({}, self.name, reading.reason)
        decision = self.decision(title, text)
        return self._assessment(decision, "nothing to read", reading.language)

    def assess_many(
        self, articles: Sequence[tuple[str, str]], feed_url: str | None = None
    ) -> list[Assessment]:
        """:meth:`assess` of each ``(title, text)``, with the features of all of them
        computed at once (a feed's new entries): the same scores, for less numpy overhead."""
        return [
            self._assessment(decision, reason, language)
            for decision, reason, language in self.decisions(articles, self.weights, self.bias)
        ]

    def decisions(
        self, articles: Sequence[tuple[str, str]], weights: FloatArray, bias: FloatArray
    ) -> list[tuple[FloatArray | None, str, str | None]]:
        """``(decision, "", language)`` per article under ``weights``/``bias``, or ``(None,
        reason, language)`` where the model abstains (the language None where it cannot read
        the text). Each article's sum is its own, in the order :meth:`decision` adds, so the
        scores do not depend on the batch."""
        out: list[tuple[FloatArray | None, str, str | None]] = [(None, "", None)] * len(articles)
        readable = []
        languages: dict[int, str] = {}
        for i, (title, text) in enumerate(articles):
            reading = reading_of(title, text)
            if reading.language is None:
                out[i] = (None, reading.reason or "", None)
            else:
                readable.append(i)
                languages[i] = reading.language
        if not readable:
            return out
        rows, index, values = self.vectors([articles[i] for i in readable])
        bounds = np.searchsorted(rows, np.arange(len(readable) + 1))
        weighted = weighted_rows(weights, index, values)
        for k, i in enumerate(readable):
            start, end = int(bounds[k]), int(bounds[k + 1])
            if start == end:
                out[i] = (None, "nothing to read", languages[i])
                continue
            out[i] = (weighted[start:end].sum(axis=0) + bias, "", languages[i])
        return out

    def _assessment(
        self, decision: FloatArray | None, reason: str, language: str | None
    ) -> Assessment:
        if decision is None:
            return Assessment({}, self.name, reason, language)
        return Assessment(self.probabilities(decision), self.name, language=language)

    def scores(self, title: str, text: str = "") -> dict[str, float]:
        """Probability per tag (softmax of the calibrated scores); empty when abstaining."""
        return dict(self.assess(title, text).scores)

    def best(self, title: str, text: str = "") -> tuple[str, float] | None:
        """The most probable tag and its probability, or None when abstaining."""
        scores = self.scores(title, text)
        if not scores:
            return None
        tag = max(scores, key=scores.__getitem__)
        return tag, scores[tag]


def weighted_rows(weights: FloatArray, index: IntArray, values: FloatArray) -> FloatArray:
    """The weight rows of the features, each times its value, in float32: an article's
    decision is their sum down the rows (so that it does not depend on the batch).

    A multiply-and-sum, not ``@``: a product this small gains nothing from BLAS, whose worker
    threads would spin on the daemon's cores after every article. ``np.take`` gathers a few
    times faster than fancy indexing, and multiplying after the upcast to float32 (exact)
    avoids numpy's slow float16 loop: the products are the same as ``weights[index] *
    values[:, None]``, bit for bit."""
    rows = np.take(weights, index, axis=0).astype(np.float32, copy=False)
    rows *= values[:, None]
    return rows


def combine(
    articles: Sequence[Sequence[str]],
    idf: FloatArray,
    segment_weights: Sequence[float],
) -> tuple[IntArray, IntArray, FloatArray]:
    """Sparse rows ``(row, bucket, value)`` for articles given as segments: each segment's
    tf-idf vector normalised, weighted by ``segment_weights``, summed per article, and the
    sum normalised. Rows with no features have no entries."""
    flat = [segment for article in articles for segment in article]
    per_article = len(segment_weights)
    # Sorted by article, bucket, segment: a segment's entries are still in bucket order (its
    # norm adds them in the order it always did), and an article's segments of one bucket
    # are neighbours, added in segment order (:func:`features` order gave the same sums).
    seg, bucket, value = article_features(flat, per_article)
    if bucket.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    value = value * idf[bucket]
    # np.bincount adds in index order as np.add.at does (the same sums), ten times faster.
    norms = np.sqrt(np.bincount(seg, weights=value.astype(np.float64) ** 2, minlength=len(flat)))
    weights = np.asarray(segment_weights, np.float64)[np.arange(len(flat)) % per_article]
    value = (value * (weights / np.where(norms > 0, norms, 1.0))[seg]).astype(np.float32)
    row = seg // per_article
    new_key = np.ones(row.size, dtype=bool)
    new_key[1:] = (row[1:] != row[:-1]) | (bucket[1:] != bucket[:-1])
    group = np.cumsum(new_key) - 1
    merged = np.bincount(group, weights=value.astype(np.float64))
    rows, buckets = row[new_key], bucket[new_key]
    totals = np.sqrt(np.bincount(rows, weights=merged**2, minlength=len(articles)))
    out = (merged / np.where(totals > 0, totals, 1.0)[rows]).astype(np.float32)
    return rows, buckets, out
