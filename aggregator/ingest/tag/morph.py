"""Morphemes of short Korean text, for ``morph`` rule terms (kiwipiepy).

A rule term such as 금 ("gold") or 北 (North Korea, in headlines) is a substring of many
unrelated words (금리, 지금; 北美); it should match only where it is a morpheme of its own.
kiwipiepy is a well-kept Korean analyser; loading it takes 1-2 s and holds ~500 MB once it
has run, so it serves Hangul terms only (hanja terms are matched by their run of ideographs,
:func:`aggregator.ingest.tag.rules._hanja_hits`, which is what it says of hanja) and is
loaded on the first call, when such a term occurs as a substring: the shipped config, whose
morph terms are all headline hanja, never loads it (a poll of the corpus feeds: 684 → 175 MB
peak).
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["HANJA_WORDS", "KiwiMorphemes"]

# Hanja runs that are one word (place names), not one-character headline words glued
# together as in 美中 or 與野: 北京 is Beijing, not North Korea.
HANJA_WORDS = frozenset({"北京", "東京", "南京", "北美", "南美", "中南美", "北歐", "東歐", "西歐"})


class KiwiMorphemes:
    """Callable: text → surface forms of its morphemes; hanja runs (美中) split per character,
    since headline hanja are one-character words written together."""

    def __init__(self) -> None:
        self._kiwi: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._kiwi is not None

    def __call__(self, text: str) -> list[str]:
        # One lock for loading and analysing: calls are short and rare, and this does not
        # depend on the analyser being safe to share between feed threads.
        with self._lock:
            if self._kiwi is None:
                from kiwipiepy import Kiwi

                self._kiwi = Kiwi()
            tokens = self._kiwi.tokenize(text)
        forms: list[str] = []
        for token in tokens:
            if token.tag == "SH" and token.form not in HANJA_WORDS:
                forms.extend(token.form)
            else:
                forms.append(token.form)
        return forms
