"""Text → hashed, tf-idf weighted, L2-normalised features, shared by training and inference.

Pure Python and the standard library only (numpy is used by the caller): the same function
builds the training matrix and scores an article, so the two cannot drift. A shipped model
records :data:`FEATURE_VERSION`; any change here that alters the features must bump it, and a
test checks that the shipped model was trained with the current version.

What the features are, and why (held-out numbers in :mod:`aggregator.ingest.tag.train`):

- character n-grams of 1 to 4 within each whitespace-separated word, the word padded with a
  space on each side. Korean headlines glue particles and endings to nouns (북한이, 北,
  美中), and Yonhap writes headlines in a compressed style; character n-grams catch the
  stems without a morphological analyser. Morphemes from kiwipiepy scored no better and cost
  ~0.5 ms per headline and 2.5 s to load;
- whole words (punctuation stripped) at a lower weight (within noise of no gain; kept);
- digits folded to 0 (dates and scores say nothing about the topic but split n-grams).

N-grams are hashed with CRC-32 (stable across runs and platforms, unlike ``hash()``) into
``2**HASH_BITS`` buckets, so the model ships no vocabulary. Term frequencies are sublinear
(1 + log tf) and scaled by the model's idf per bucket.
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections import Counter

__all__ = [
    "FEATURE_VERSION",
    "HASH_BITS",
    "fingerprint",
    "hashed_counts",
    "normalize_text",
    "raw_features",
]

FEATURE_VERSION = 1
HASH_BITS = 19
_MASK = (1 << HASH_BITS) - 1
NGRAM_MIN, NGRAM_MAX = 1, 4
# Relative weight of a whole-word feature against a character n-gram.
WORD_WEIGHT = 0.3

_DIGITS = re.compile(r"\d")
# Quotes, brackets and headline punctuation: they separate words but are not words.
_PUNCT = re.compile(r"[\s\"'‘’“”「」『』\[\]()<>〈〉《》{}…·,.!?~:;/|=+*&^%$#@`\\-]+")


def normalize_text(text: str) -> str:
    """NFKC (full-width Latin and digits become ASCII), lower case, digits folded to 0."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _DIGITS.sub("0", text)


def _crc(token: str) -> int:
    return zlib.crc32(token.encode("utf-8")) & _MASK


def _grams(word: str) -> list[str]:
    padded = f" {word} "
    size = len(padded)
    return [
        padded[start : start + n]
        for n in range(NGRAM_MIN, NGRAM_MAX + 1)
        for start in range(size - n + 1)
        if n > 1 or padded[start] != " "
    ]


def hashed_counts(text: str) -> Counter[int]:
    """Bucket → raw count of the character n-grams of one piece of text (title or lead)."""
    grams = [g for word in _PUNCT.split(normalize_text(text)) if word for g in _grams(word)]
    return Counter(map(_crc, grams))


def _word_counts(text: str) -> Counter[int]:
    counts: Counter[int] = Counter()
    for word in _PUNCT.split(normalize_text(text)):
        if word:
            # The prefix keeps a whole word apart from the n-gram of the same letters.
            counts[_crc("\x01w:" + word)] += 1
    return counts


def raw_features(text: str) -> dict[int, float]:
    """Bucket → sublinear term frequency (1 + log tf), words scaled by :data:`WORD_WEIGHT`.

    The model multiplies these by its idf and L2-normalises (in numpy, at training and at
    inference alike).
    """
    values: dict[int, float] = {}
    for counts, scale in ((hashed_counts(text), 1.0), (_word_counts(text), WORD_WEIGHT)):
        for bucket, count in counts.items():
            values[bucket] = values.get(bucket, 0.0) + scale * (1.0 + math.log(count))
    return values


_FINGERPRINT_TEXTS = (
    '北 탄도미사일 발사…합참 "동해상으로" 2발',
    "코스피, 외국인 매수에 2,600선 회복(종합)",
    "Samsung's AI chips: ＦＵＬＬ-width ２０２６",
)


def fingerprint() -> str:
    """A digest of the features of a few fixed texts. The model stores it; a test compares:
    a change to the features that forgot to bump :data:`FEATURE_VERSION` shows up."""
    import hashlib

    digest = hashlib.sha256()
    for text in _FINGERPRINT_TEXTS:
        for bucket, value in sorted(raw_features(text).items()):
            digest.update(f"{bucket}:{value:.6f};".encode())
    return digest.hexdigest()[:16]
