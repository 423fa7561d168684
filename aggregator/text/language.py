"""Which language a text is in, as far as tagging and story grouping need to know: Korean,
English, or another one (and which script says so).

Our own few lines rather than a language-identification library: we need only "Korean,
English or neither" with a reason a user can read, on headlines as short as four words, and
the script and a handful of English function words decide that; a general identifier
(langdetect, fastText's lid model) costs a model load and guesses on short text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MIN_HANGUL", "Reading", "hangul_share", "reading_of"]

# Runs, not single characters: a count is the length that one ``sub`` removes, where a
# findall of single characters built a list of ~1,500 strings per page (a third of the
# language test's time).
_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]+")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]+")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]+")
_NOT_LETTER = re.compile(r"[\W\d_]+")
_WORD = re.compile(r"[A-Za-z\u00c0-\u024f']+")
# The commonest English function words: a Latin-script text of some length without them is
# in another language (German, French, Indonesian...).
_ENGLISH_WORDS = frozenset(
    {
        "the",
        "a",
        "an",
        "of",
        "to",
        "in",
        "and",
        "is",
        "are",
        "was",
        "were",
        "for",
        "on",
        "with",
        "by",
        "at",
        "from",
        "as",
        "that",
        "this",
        "it",
        "its",
        "be",
        "has",
        "have",
        "had",
        "not",
        "but",
        "or",
        "will",
        "said",
        "says",
        "after",
        "over",
        "he",
        "she",
        "they",
        "his",
        "her",
        "their",
        "who",
        "what",
        "when",
        "how",
        "why",
        "you",
        "your",
        "we",
        "our",
        "about",
        "into",
        "more",
        "new",
        "can",
        "all",
        "up",
        "out",
        "than",
    }
)
# Below this many words (a headline), a Latin text is read as English: headlines drop the
# function words.
_SHORT_TEXT_WORDS = 25
_MIN_ENGLISH_SHARE = 0.1
# Korean headlines mix in Latin (AI, LG) and hanja (北, 美): a third of Hangul is Korean.
MIN_HANGUL = 0.3
# What is read to tell the language (a whole body would cost time and say nothing more).
_READING_CHARS = 1500


def _count(pattern: re.Pattern[str], letters: str) -> int:
    return len(letters) - len(pattern.sub("", letters))


def hangul_share(text: str) -> float:
    """Share of letters that are Hangul (0 for text without letters)."""
    letters = _NOT_LETTER.sub("", text)
    if not letters:
        return 0.0
    return _count(_HANGUL, letters) / len(letters)


@dataclass(frozen=True, slots=True)
class Reading:
    """The language a text is read in (``ko`` or ``en``), or why it cannot be."""

    language: str | None
    reason: str = ""


def reading_of(title: str, text: str = "") -> Reading:
    """Korean (Hangul is at least :data:`MIN_HANGUL` of the letters), English (Latin letters,
    with English function words once the text is long enough to have them), or neither,
    with the reason."""
    sample = f"{title}\n{text[:_READING_CHARS]}"
    letters = _NOT_LETTER.sub("", sample)
    if not letters:
        return Reading(None, "no letters to read")
    total = len(letters)
    hangul = _count(_HANGUL, letters)
    if hangul / total >= MIN_HANGUL:
        return Reading("ko")
    kana = _count(_KANA, letters)
    han = _count(_HAN, letters)
    latin = _count(_LATIN, letters)
    if kana and (kana + han) / total >= 0.3:
        return Reading(None, f"Japanese text (kana and kanji {100 * (kana + han) // total} %)")
    if han / total >= 0.3:
        return Reading(None, f"Chinese text (hanzi {100 * han // total} %)")
    if latin / total >= 0.7:
        words = [w.lower() for w in _WORD.findall(sample)]
        if len(words) < _SHORT_TEXT_WORDS:
            return Reading("en")
        share = sum(1 for w in words if w in _ENGLISH_WORDS) / len(words)
        if share >= _MIN_ENGLISH_SHARE:
            return Reading("en")
        return Reading(None, f"Latin script but not English ({100 * share:.0f} % English words)")
    return Reading(None, f"a script the model does not read (Hangul {100 * hangul // total} %)")
