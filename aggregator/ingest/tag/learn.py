"""``aggregator tags learn``: adapt the topic model to the user's own outlets.

Korean outlets publish section feeds, and config.yaml gives such feeds tags; many items also
carry the outlet's own ``<category>``. Those articles are labelled by their outlet, in this
year's vocabulary. We fit a correction on top of the shipped model with them: a multinomial
logistic regression whose input is the same features and whose offset is the shipped
model's calibrated scores, so that with no evidence it says what the shipped model says
(domain adaptation by a learned offset, not a new model from scratch).

Whether it is used is decided per outlet (the feed URL's host, :func:`outlet_of`): by k-fold
cross-validation on that outlet's labelled articles, the adapted model must beat the shipped
one in macro-F1 on at least :data:`MIN_EXAMPLES` of them. Elsewhere the shipped model
stays. The result (arrays and a JSON record of the scores) is stored in the database
(``tag_models``), so that every instance sharing it tags alike; ``tags explain`` names the
model that gave a tag.

Our own small optimiser in numpy rather than scikit-learn: the fit must run on an
installation without the ``[train]`` extra, and it is a few hundred to a few thousand rows
of a sparse linear model (Adam on the softmax loss, with L2, full batch).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt

from aggregator.errors import TaggerError
from aggregator.ingest.tag.features import HASH_BITS
from aggregator.ingest.tag.metrics import classification_report
from aggregator.ingest.tag.model import TopicModel
from aggregator.models import Assessment
from aggregator.text.language import reading_of

__all__ = [
    "LEARNED_MODEL",
    "MIN_EXAMPLES",
    "AdaptedModel",
    "LabelledArticle",
    "LearnReport",
    "fit_adaptation",
    "outlet_of",
]

LEARNED_MODEL = "learned"
MIN_EXAMPLES = 20
FOLDS = 5
EPOCHS = 80
LEARNING_RATE = 0.05
L2 = 1e-4
# The newest articles are enough: the point is this year's vocabulary.
MAX_EXAMPLES = 4000

FloatArray = npt.NDArray[np.float32]


# Hosts that serve the feeds of many unrelated publishers, told apart by the path's first
# segment (feeds.feedburner.com/zdkorea is ZDNet Korea's, not every FeedBurner user's).
SHARED_FEED_HOSTS = frozenset({"feedburner.com", "feedproxy.google.com", "feedblitz.com"})


def outlet_of(url: str | None) -> str:
    """The outlet of a feed or article URL: its host without ``www.``/``rss.``/``feeds.``;
    on a feed-hosting service (:data:`SHARED_FEED_HOSTS`), the host and the path's first
    segment."""
    parts = urlsplit(url or "")
    host = (parts.hostname or "").lower()
    for prefix in ("www.", "rss.", "feeds.", "feed."):
        if host.startswith(prefix) and host.count(".") > 1:
            host = host[len(prefix) :]
    if host in SHARED_FEED_HOSTS:
        first = next((s for s in parts.path.split("/") if s and s != "~r"), "")
        return f"{host}/{first.lower()}" if first else host
    return host


@dataclass(frozen=True, slots=True)
class LabelledArticle:
    """A stored article with the one topic its feed or its categories gave it."""

    tag: str
    title: str
    text: str
    outlet: str


@dataclass(frozen=True)
class _Design:
    rows: npt.NDArray[np.int64]
    cols: npt.NDArray[np.int64]
    values: FloatArray
    base: npt.NDArray[np.float64]  # (n, classes): the shipped model's calibrated logits
    buckets: npt.NDArray[np.int64]  # compact column → hash bucket
    n: int


def _design(model: TopicModel, articles: Sequence[LabelledArticle]) -> _Design:
    rows, buckets, values = model.vectors([(a.title, a.text) for a in articles])
    classes = len(model.tags)
    base = np.zeros((len(articles), classes), np.float64)
    contributions = model.weights[buckets] * values[:, None]
    for k in range(classes):
        base[:, k] = np.bincount(rows, weights=contributions[:, k], minlength=len(articles))
    base = (base + model.bias) * model.temperature
    unique, cols = np.unique(buckets, return_inverse=True)
    return _Design(rows, cols, values, base, unique, len(articles))


def _subset(design: _Design, keep: npt.NDArray[np.int64]) -> _Design:
    position = np.full(design.n, -1, np.int64)
    position[keep] = np.arange(keep.size)
    mask = position[design.rows] >= 0
    return _Design(
        position[design.rows[mask]],
        design.cols[mask],
        design.values[mask],
        design.base[keep],
        design.buckets,
        int(keep.size),
    )


def _logits(design: _Design, weights: FloatArray, bias: FloatArray) -> npt.NDArray[np.float64]:
    z = design.base.copy()
    contributions = weights[design.cols] * design.values[:, None]
    for k in range(weights.shape[1]):
        z[:, k] += np.bincount(design.rows, weights=contributions[:, k], minlength=design.n)
    return z + bias


def _fit(design: _Design, y: npt.NDArray[np.int64], classes: int) -> tuple[FloatArray, FloatArray]:
    """Adam on the mean softmax loss plus L2, full batch, from zero (= the shipped model)."""
    columns = design.buckets.size
    weights = np.zeros((columns, classes), np.float64)
    bias = np.zeros(classes, np.float64)
    m_w, v_w = np.zeros_like(weights), np.zeros_like(weights)
    m_b, v_b = np.zeros_like(bias), np.zeros_like(bias)
    onehot = np.eye(classes)[y]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, EPOCHS + 1):
        z = _logits(design, weights, bias)  # type: ignore[arg-type]
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) / max(design.n, 1)
        grad_w = np.empty_like(weights)
        for k in range(classes):
            grad_w[:, k] = np.bincount(
                design.cols, weights=design.values * g[design.rows, k], minlength=columns
            )
        grad_w += L2 * weights
        grad_b = g.sum(axis=0)
        for param, grad, m, v in ((weights, grad_w, m_w, v_w), (bias, grad_b, m_b, v_b)):
            m *= beta1
            m += (1 - beta1) * grad
            v *= beta2
            v += (1 - beta2) * grad * grad
            m_hat = m / (1 - beta1**step)
            v_hat = v / (1 - beta2**step)
            param -= LEARNING_RATE * m_hat / (np.sqrt(v_hat) + eps)
    return weights.astype(np.float32), bias.astype(np.float32)


def _folds(y: Sequence[int], folds: int) -> list[npt.NDArray[np.int64]]:
    """Fold of each row, stratified by label, deterministic (every k-th of each label)."""
    assignment = np.zeros(len(y), np.int64)
    seen: Counter[int] = Counter()
    for i, label in enumerate(y):
        assignment[i] = seen[label] % folds
        seen[label] += 1
    return [np.flatnonzero(assignment == f) for f in range(folds)]


@dataclass(frozen=True)
class OutletScore:
    outlet: str
    articles: int
    shipped_f1: float
    adapted_f1: float
    used: bool


@dataclass(frozen=True)
class LearnReport:
    """What ``tags learn`` measured: the cross-validated macro-F1 of the shipped and the
    adapted model on each outlet's labelled articles, and overall."""

    articles: int
    labels: Mapping[str, int]
    outlets: tuple[OutletScore, ...]
    shipped_f1: float
    adapted_f1: float

    @property
    def used(self) -> tuple[str, ...]:
        return tuple(o.outlet for o in self.outlets if o.used)


@dataclass(frozen=True)
class AdaptedModel:
    """The shipped model, corrected for the outlets where the correction proved better."""

    base: TopicModel
    weights: FloatArray  # (buckets, classes) of the correction; zero rows elsewhere
    bias: FloatArray
    outlets: frozenset[str]
    name: str = LEARNED_MODEL
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def tags(self) -> tuple[str, ...]:
        return self.base.tags

    def assess(self, title: str, text: str = "", feed_url: str | None = None) -> Assessment:
        outlet = outlet_of(feed_url)
        if outlet not in self.outlets:
            return self.base.assess(title, text)
        reading = reading_of(title, text)
        if reading.language is None:
            return Assessment({}, self.base.name, reading.reason)
        _, index, values = self.base.vectors([(title, text)])
        if index.size == 0:
            return Assessment({}, self.base.name, "nothing to read", reading.language)
        # One feature vector for both: the shipped scores and the correction on top.
        base = ((self.base.weights[index] * values[:, None]).sum(axis=0) + self.base.bias) * (
            self.base.temperature
        )
        correction = (self.weights[index] * values[:, None]).sum(axis=0) + self.bias
        z = base + correction
        z = z - z.max()
        p = np.exp(z)
        p /= p.sum()
        scores = {tag: float(p[i]) for i, tag in enumerate(self.base.tags)}
        name = f"{self.name} for {outlet} ({self.meta_date})"
        return Assessment(scores, name, language=reading.language)

    def assess_many(
        self, articles: Sequence[tuple[str, str]], feed_url: str | None = None
    ) -> list[Assessment]:
        """:meth:`assess` of each ``(title, text)`` of one feed, features computed at once."""
        outlet = outlet_of(feed_url)
        if outlet not in self.outlets:
            return self.base.assess_many(articles)
        base = self.base
        out = []
        # One feature vector for both: the shipped scores and the correction on top.
        shipped = base.decisions(articles, base.weights, base.bias)
        corrections = base.decisions(articles, self.weights, self.bias)
        for (decision, reason, language), (correction, _, _) in zip(
            shipped, corrections, strict=True
        ):
            if decision is None or correction is None:
                out.append(Assessment({}, base.name, reason, language))
                continue
            z = decision * base.temperature + correction
            z = z - z.max()
            p = np.exp(z)
            p /= p.sum()
            scores = {tag: float(p[i]) for i, tag in enumerate(base.tags)}
            name = f"{self.name} for {outlet} ({self.meta_date})"
            out.append(Assessment(scores, name, language=language))
        return out

    @property
    def meta_date(self) -> str:
        return str(self.meta.get("created_at", ""))[:10] or "tags learn"

    def to_blob(self) -> bytes:
        """The correction's non-zero rows as an ``.npz`` (arrays only)."""
        rows = np.flatnonzero(np.any(self.weights != 0, axis=1))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, array in (
                ("rows", rows.astype(np.int64)),
                ("weights", self.weights[rows]),
                ("bias", self.bias),
            ):
                with archive.open(f"{name}.npy", "w") as handle:
                    np.lib.format.write_array(handle, np.asarray(array), allow_pickle=False)
        return buffer.getvalue()

    @classmethod
    def from_blob(cls, base: TopicModel, meta: Mapping[str, Any], blob: bytes) -> AdaptedModel:
        """Raises TaggerError when the stored model does not fit ``base``."""
        if meta.get("base_sha256") != base.meta.get("sha256"):
            raise TaggerError(
                "the learned tag model was fitted on another shipped model: run "
                "`aggregator tags learn` again"
            )
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as arrays:
                rows, part, bias = arrays["rows"], arrays["weights"], arrays["bias"]
        except (OSError, ValueError, KeyError) as exc:
            raise TaggerError(f"cannot read the learned tag model: {exc}") from None
        classes = len(base.tags)
        if part.shape != (rows.size, classes) or bias.shape != (classes,):
            raise TaggerError("the learned tag model does not match the shipped model's tags")
        weights = np.zeros((1 << HASH_BITS, classes), np.float32)
        weights[rows] = part
        return cls(
            base,
            weights,
            bias.astype(np.float32),
            frozenset(meta.get("outlets", ())),
            meta=dict(meta),
        )


def _macro_f1(truth: Sequence[str], predicted: Sequence[str | None]) -> float:
    return float(classification_report(list(truth), list(predicted))["macro_f1"])


def fit_adaptation(
    base: TopicModel,
    articles: Sequence[LabelledArticle],
    now: datetime,
    on_step: Callable[[str], None] | None = None,
) -> tuple[AdaptedModel, LearnReport]:
    """Cross-validate the correction per outlet, then fit it on every article.

    Raises:
        TaggerError: fewer than :data:`MIN_EXAMPLES` labelled articles, or one topic only.
    """
    articles = [a for a in articles if a.tag in base.tags][-MAX_EXAMPLES:]
    labels = Counter(a.tag for a in articles)
    if len(articles) < MIN_EXAMPLES or len(labels) < 2:
        raise TaggerError(
            f"tags learn needs at least {MIN_EXAMPLES} articles labelled with two topics or "
            f"more by their feed's tags or categories; found {len(articles)} "
            f"({', '.join(f'{t} {n}' for t, n in labels.most_common()) or 'none'})"
        )
    design = _design(base, articles)
    y = np.asarray([base.tags.index(a.tag) for a in articles], np.int64)
    classes = len(base.tags)
    shipped = [base.tags[int(i)] for i in design.base.argmax(axis=1)]
    adapted: list[str | None] = [None] * len(articles)
    for number, held in enumerate(_folds(y.tolist(), FOLDS), start=1):
        if on_step is not None:
            on_step(f"cross-validation fold {number}/{FOLDS}")
        train_rows = np.setdiff1d(np.arange(len(articles)), held)
        weights, bias = _fit(_subset(design, train_rows), y[train_rows], classes)
        z = _logits(_subset(design, held), weights, bias)
        for position, i in enumerate(held):
            adapted[int(i)] = base.tags[int(z[position].argmax())]
    by_outlet: dict[str, list[int]] = defaultdict(list)
    for i, a in enumerate(articles):
        by_outlet[a.outlet].append(i)
    truth = [a.tag for a in articles]
    outlets = []
    for outlet, rows in sorted(by_outlet.items()):
        shipped_f1 = _macro_f1([truth[i] for i in rows], [shipped[i] for i in rows])
        adapted_f1 = _macro_f1([truth[i] for i in rows], [adapted[i] for i in rows])
        outlets.append(
            OutletScore(
                outlet,
                len(rows),
                round(shipped_f1, 4),
                round(adapted_f1, 4),
                used=len(rows) >= MIN_EXAMPLES and adapted_f1 > shipped_f1,
            )
        )
    report = LearnReport(
        articles=len(articles),
        labels=dict(labels.most_common()),
        outlets=tuple(outlets),
        shipped_f1=round(_macro_f1(truth, list(shipped)), 4),
        adapted_f1=round(_macro_f1(truth, adapted), 4),
    )
    if on_step is not None:
        on_step("fitting on every article")
    compact_w, bias = _fit(design, y, classes)
    weights = np.zeros((1 << HASH_BITS, classes), np.float32)
    weights[design.buckets] = compact_w
    meta = {
        "created_at": now.isoformat(),
        "base": base.name,
        "base_sha256": base.meta.get("sha256"),
        "outlets": list(report.used),
        "report": report_json(report),
    }
    return AdaptedModel(base, weights, bias, frozenset(report.used), meta=meta), report


def report_json(report: LearnReport) -> dict[str, Any]:
    return {
        "articles": report.articles,
        "labels": dict(report.labels),
        "shipped_macro_f1": report.shipped_f1,
        "adapted_macro_f1": report.adapted_f1,
        "outlets": [
            {
                "outlet": o.outlet,
                "articles": o.articles,
                "shipped_macro_f1": o.shipped_f1,
                "adapted_macro_f1": o.adapted_f1,
                "used": o.used,
            }
            for o in report.outlets
        ],
    }


def labelled_articles(
    items: Iterable[tuple[str, str, str | None, Sequence[str]]],
) -> list[LabelledArticle]:
    """``(title, text, feed url, topics its feed and categories gave it)`` → the articles with
    exactly one topic (two topics say the outlet filed it twice: no clean label)."""
    out: list[LabelledArticle] = []
    for title, text, feed_url, topics in items:
        distinct = sorted(set(topics))
        if len(distinct) == 1:
            out.append(LabelledArticle(distinct[0], title, text, outlet_of(feed_url)))
    return out


def encode_meta(meta: Mapping[str, Any]) -> str:
    return json.dumps(meta, ensure_ascii=False, sort_keys=True)
