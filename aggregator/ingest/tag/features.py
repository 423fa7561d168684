"""Text → hashed, sublinear term-frequency features, shared by training and inference.

The same functions build the training matrix and score an article, so the two cannot drift.
A shipped model records :data:`FEATURE_VERSION`; any change here that alters the features
must bump it, and a test checks that the shipped model was trained with the current version
(and :func:`fingerprint` catches a change that forgot to).

What the features are, and why (held-out numbers in :mod:`aggregator.ingest.tag.train`):

- character n-grams of 1 to 4 within each word, the word padded with a space on each side.
  Korean glues particles and endings to nouns (북한이, 北, 美中) and headlines are written
  in a compressed style; character n-grams catch the stems without a morphological analyser
  (kiwipiepy morphemes scored no better, at ~0.5 ms per headline and 2.5 s to load). The same
  n-grams serve English: they catch stems and plurals (elect, elections) with no stemmer;
- whole words at a lower weight;
- digits folded to 0 (dates and scores say nothing about the topic but split n-grams).

Computed with numpy on the text's code points: a rolling polynomial hash gives every n-gram
in a few vector operations, so a whole article body (thousands of n-grams) costs about a
tenth of a millisecond, where a Python loop over n-grams took milliseconds. The hash (64-bit
multiply-xorshift, folded to ``2**HASH_BITS`` buckets) is stable across runs and platforms,
so the model ships no vocabulary.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "FEATURE_VERSION",
    "HASH_BITS",
    "WORD_WEIGHT",
    "Features",
    "article_features",
    "features",
    "fingerprint",
    "normalize_text",
]

FEATURE_VERSION = 2
HASH_BITS = 19
NGRAM_MAX = 4
# Relative weight of a whole-word feature against a character n-gram.
WORD_WEIGHT = 0.3

_DIGITS = re.compile(r"\d")
# Quotes, brackets and headline punctuation: they separate words but are not words.
_PUNCT = re.compile(r"[\s\"'‘’“”「」『』\[\]()<>〈〉《》{}…·,.!?~:;/|=+*&^%$#@`\\\-–—_]+")

_SPACE = np.uint64(32)
_MUL = np.uint64(0x9E3779B97F4A7C15)
_MIX = np.uint64(0xBF58476D1CE4E5B9)
_SHIFT = np.uint64(31)
_FOLD = np.uint64(64 - HASH_BITS)
# One salt per feature kind (n-gram length 1-4, whole word), as 1-element arrays: numpy warns
# on overflow in scalar arithmetic, never in array arithmetic, and wrapping is the point.
_SALTS = np.array(
    [
        0x243F6A8885A308D3,
        0x13198A2E03707344,
        0xA4093822299F31D0,
        0x082EFA98EC4E6C89,
        0x452821E638D01377,
    ],
    dtype=np.uint64,
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]
Features = tuple[IntArray, IntArray, FloatArray]
"""``(segment, bucket, value)``: one entry per distinct bucket of each segment."""


def normalize_text(text: str) -> str:
    """NFKC (full-width Latin and digits become ASCII), lower case, digits folded to 0,
    punctuation to single spaces, padded with one space on each side."""
    text = _DIGITS.sub("0", unicodedata.normalize("NFKC", text).lower())
    return f" {_PUNCT.sub(' ', text).strip()} "


def _finish(hashes: npt.NDArray[np.uint64], salt: int) -> IntArray:
    mixed = (hashes ^ _SALTS[salt : salt + 1]) * _MIX
    mixed ^= mixed >> _SHIFT
    mixed *= _MUL
    return (mixed >> _FOLD).astype(np.int64)


def _buckets(texts: Sequence[str]) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """The buckets of every text's character n-grams and whole words (with repeats), each
    with the index of its text: ``(gram text, gram bucket, word text, word bucket)``.

    All texts at once, as one array of code points: a call per text cost a few dozen numpy
    calls per headline, more than the hashing itself on a feed's items. The polynomial hash
    of an n-gram depends on its characters only, so the buckets are those of each text
    alone; an n-gram that would span two texts is dropped."""
    normalized = [normalize_text(text) for text in texts]
    kept = [i for i, t in enumerate(normalized) if len(t) > 2]
    if not kept:
        empty = np.empty(0, np.int64)
        return empty, empty, empty, empty
    joined = "".join(normalized[i] for i in kept)
    points = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    owner = np.repeat(np.asarray(kept, np.int64), [len(normalized[i]) for i in kept])
    size = points.size
    space = points == _SPACE
    gram_owner: list[IntArray] = []
    grams: list[IntArray] = []
    rolling = points.copy()
    inner_space = np.zeros(size, dtype=bool)
    for n in range(1, NGRAM_MAX + 1):
        count = size - n + 1
        if count <= 0:
            break
        if n > 1:
            rolling = rolling[:count] * _MUL + points[n - 1 : n - 1 + count]
        if n > 2:
            # An n-gram may start or end at the word's padding space, never cross one.
            inner_space = inner_space[:count] | space[n - 2 : n - 2 + count]
        if n == 1:
            keep = ~space
        else:
            # Within one text (each text's padding spaces meet the next one's).
            keep = owner[:count] == owner[n - 1 : n - 1 + count]
            if n > 2:
                keep &= ~inner_space[:count]
        grams.append(_finish(rolling[:count][keep], n - 1))
        gram_owner.append(owner[:count][keep])
    # Whole words: the hash of each word's code points, by a cumulative polynomial taken
    # between the word's bounding spaces (two texts' spaces bound an empty word: dropped).
    bounds = np.flatnonzero(space)
    starts, ends = bounds[:-1] + 1, bounds[1:]
    lengths = ends - starts
    words = lengths > 0
    starts, lengths = starts[words], lengths[words]
    word_hashes = np.zeros(starts.size, dtype=np.uint64)
    for offset in range(int(lengths.max()) if lengths.size else 0):
        live = lengths > offset
        word_hashes[live] = word_hashes[live] * _MUL + points[starts[live] + offset]
    return (
        np.concatenate(gram_owner),
        np.concatenate(grams),
        owner[starts],
        _finish(word_hashes, 4),
    )


def article_features(segments: Sequence[str], per_article: int) -> Features:
    """:func:`features` of articles given as ``per_article`` consecutive segments each, in
    the order the model merges them: ``(segment, bucket, value)`` sorted by article, then
    bucket, then segment (where :func:`features` sorts by segment, then bucket).

    The model needs both orders, one to normalise each segment, the other to add an
    article's segments up; built in this one it sorts the n-grams once instead of twice, a
    third of the cost of reading a full article. One key per (article, bucket, segment,
    kind), counted by one np.unique."""
    gram_segment, grams, word_segment, words = _buckets(segments)
    if not grams.size and not words.size:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    part_bits = max(1, (per_article - 1).bit_length())
    low = part_bits + 1

    def keyed(segment: IntArray, buckets: IntArray, kind: int) -> IntArray:
        article, part = np.divmod(segment, per_article)
        key: IntArray = (article << (HASH_BITS + low)) + (buckets << low) + (part << 1) + kind
        return key

    keys = np.concatenate([keyed(gram_segment, grams, 0), keyed(word_segment, words, 1)])
    if int(keys.max()) < 1 << 32:
        # An article, or a feed's batch of them, fits in 32 bits, which numpy sorts twice as
        # fast as 64: the same keys in the same order.
        unique32, counts = np.unique(keys.astype(np.uint32), return_counts=True)
        unique = unique32.astype(np.int64)
    else:
        unique, counts = np.unique(keys, return_counts=True)
    weight = np.where(unique & 1, WORD_WEIGHT, 1.0)
    value = (weight * (1.0 + np.log(counts))).astype(np.float32)
    # A word and an n-gram may share a bucket: merge them (hash collisions are rare, and the
    # same within a segment at training and at inference). Keys are sorted, so the gram
    # and the word of one bucket and segment are neighbours: the gram first, as the sum
    # always was.
    combined = unique >> 1
    first = np.ones(combined.size, dtype=bool)
    first[1:] = combined[1:] != combined[:-1]
    starts = np.flatnonzero(first)
    merged = np.add.reduceat(value, starts) if value.size else value
    kept = combined[starts]
    segment = (kept >> (HASH_BITS + part_bits)) * per_article + (kept & ((1 << part_bits) - 1))
    bucket = (kept >> part_bits) & ((1 << HASH_BITS) - 1)
    return segment, bucket, merged.astype(np.float32)


def features(segments: Sequence[str]) -> Features:
    """The features of each text in ``segments``: for every distinct bucket of segment *i*,
    ``(i, bucket, 1 + log tf)``, whole words counted at :data:`WORD_WEIGHT`, sorted by
    segment, then bucket (:func:`article_features` of one-segment articles).

    The model multiplies the values by its idf and L2-normalises each segment (in numpy, at
    training and at inference alike).
    """
    return article_features(segments, 1)


_FINGERPRINT_TEXTS = (
    '北 탄도미사일 발사…합참 "동해상으로" 2발',
    "코스피, 외국인 매수에 2,600선 회복(종합)",
    "Samsung's AI chips: ＦＵＬＬ-width ２０２６ elections",
)


def fingerprint() -> str:
    """A digest of the features of a few fixed texts. The model stores it; a test compares:
    a change to the features that forgot to bump :data:`FEATURE_VERSION` shows up."""
    digest = hashlib.sha256()
    row, key, value = features(_FINGERPRINT_TEXTS)
    for r, k, v in zip(row.tolist(), key.tolist(), value.tolist(), strict=True):
        digest.update(f"{r}:{k}:{v:.5f};".encode())
    return digest.hexdigest()[:16]
