"""Korean-aware full-text search, the pure part: index tokens, query parsing, the FTS5 and
PostgreSQL query strings, snippets and the substrings to highlight. No database, no I/O.

Why character bigrams
---------------------
Korean writes particles and endings onto the word (정책을, 서울시는, 북한군이), and news
headlines use single hanja (美 北 與 野). A word-level tokenizer (FTS5 ``unicode61``, the
PostgreSQL parser) indexes 서울시는 as one token, so the query 서울 finds nothing; the FTS5
``trigram`` tokenizer cannot match queries of fewer than three characters at all, which is
exactly what 1- and 2-syllable queries are; ``pg_trgm`` indexes Hangul only in a database
whose ctype classifies it as alphanumeric; and a morphological analyser (kiwipiepy) is a
large native dependency whose model would have to load in every ``search`` process, and
still misses new proper nouns. So the text is tokenized here, identically for both
backends, and the database only stores and matches opaque tokens:

* a run of Hangul/CJK characters becomes its overlapping bigrams plus its last character
  as a unigram (서울시는 → 서울 울시 시는 는), so every character starts some token: a
  1-syllable query is a prefix query (북 → ``북*`` finds 남북회담 and 북한군이), a 2-syllable
  query is one exact token (서울), a longer one is the phrase of its bigrams (정책을 →
  "정책 책을", consecutive tokens);
* a run of letters/digits of any other script becomes one lower-cased word, which the
  backend stems (FTS5 ``porter``; PostgreSQL's ``english_stem`` via ``ts_lexize``), so
  "elections" finds "election" and "Korean" finds "Koreans";
* everything else separates tokens, and every query token is quoted, so no user input is
  ever FTS5 or tsquery syntax.

Measured (SQLite 3.40.1, 2-core machine, warm cache, a synthetic database of 100,000
articles of ~800 characters, 80% Korean / 20% English; throwaway script, not committed):

* index: 598 MB of FTS5 tables (395 MB of it the stored token text, 202 MB the inverted
  index) for 188 MB of title + text (UTF-8), i.e. 3.2x the text; the articles table
  itself is 332 MB. Rebuilding it (``reindex_all``) runs at ~2,200 articles/s.
* ``Store.search`` for a 2-syllable term found in 55% of the articles (서울, 54,852
  matches): 41 ms (32 ms of it FTS5 ranking); 3-syllable phrase 정책을: 13 ms; English
  stemmed "election": 22 ms; a rare term: 6 ms; with a tag filter (joins every match):
  84 ms; 1-syllable prefix 북 (78,487 matches): 103 ms. A ``prefix='1'`` FTS5 index
  would make that 1-syllable query ~2.8x faster for +52% of inverted index (+105 MB):
  left out, 1-syllable Hangul queries are rare and hanja ones (美, 北) are fast anyway.
* Ranking time grows with the number of matches, so on 1,000,000 articles a term in 10-20%
  of them costs ~100-150 ms, one in half of them ~400 ms.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from aggregator.errors import StoreError
from aggregator.text.terminal import clean_line

__all__ = [
    "MAX_INDEXED_CHARS",
    "Run",
    "Term",
    "fts5_query",
    "highlight_spans",
    "index_text",
    "is_cjk_token",
    "match_spans",
    "parse_query",
    "runs",
    "snippet",
    "tokens",
    "tsquery",
    "tsvector",
    "word_tokens",
]

# Hangul jamo, kana, compatibility jamo, CJK ideographs (BMP and the supplementary planes),
# Hangul jamo extensions, Hangul syllables, CJK compatibility ideographs.
_CJK = (
    "\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
    "\ua960-\ua97f\uac00-\ud7a3\ud7b0-\ud7ff\uf900-\ufaff\U00020000-\U0003ffff"
)
# A CJK run, or a run of other letters/digits (``[^\W_]`` is "alphanumeric", any script;
# one class that leaves CJK out, not a lookahead per letter: a third of the time of tokens).
_RUN = re.compile(rf"([{_CJK}]+)|([^\W_{_CJK}]+)")
_CJK_CHAR = re.compile(rf"[{_CJK}]")

# Longer "words" are base64, hashes or run-together URLs: nobody searches for them, and
# PostgreSQL refuses lexemes over 2 KB.
MAX_WORD = 64
# Only the start of a pathologically long page is indexed (a tsvector holds at most 1 MB).
MAX_INDEXED_CHARS = 100_000
MAX_QUERY_CHARS = 500
MAX_TERMS = 16
SNIPPET_CHARS = 160
# PostgreSQL positions stop at 16383 and a lexeme keeps at most 256 of them.
_PG_MAX_POS = 16383
_PG_MAX_POSITIONS = 256


@dataclass(frozen=True, slots=True)
class Run:
    """A maximal run of CJK characters, or of other letters/digits, in a text."""

    text: str
    start: int
    end: int
    cjk: bool


def runs(text: str) -> Iterator[Run]:
    """The token runs of ``text`` (already NFC), with their offsets."""
    for m in _RUN.finditer(text):
        yield Run(m.group(), m.start(), m.end(), m.group(1) is not None)


def _cjk_tokens(run: str, *, open_end: bool = False) -> list[str]:
    # Bigrams, then the last character alone: every position starts a token. A query run
    # that may continue in the text (``open_end``) leaves the unigram out, since the text
    # has it only where the run ends.
    out = [run[i : i + 2] for i in range(len(run) - 1)]
    if not open_end or len(run) == 1:
        out.append(run[-1])
    return out


def tokens(text: str) -> list[str]:
    """The index tokens of ``text``, in order: :func:`runs`' tokens, read without making a
    Run of each (every article's text passes here on its way to the index)."""
    out: list[str] = []
    for cjk, other in _RUN.findall(unicodedata.normalize("NFC", text)):
        if cjk:
            out.extend(map(operator.add, cjk, cjk[1:]))  # as _cjk_tokens: the bigrams,
            out.append(cjk[-1])  # then the last character alone
        elif len(other) <= MAX_WORD:
            out.append(other.lower())
    return out


def index_text(title: str, text: str) -> tuple[str, str]:
    """``(title tokens, body tokens)``, each space-separated, as the index stores them."""
    return " ".join(tokens(title)), " ".join(tokens(text[:MAX_INDEXED_CHARS]))


def search_body(text: str | None, summary: str | None) -> str:
    """The text an article is searched by: an article never extracted is still findable by
    its feed summary."""
    return text if text and text.strip() else summary or ""


def article_tokens(title: str, text: str, summary: str = "") -> tuple[str, str]:
    """What the index stores of an article, :func:`index_text` of its title and
    :func:`search_body`, read as the store keeps the fields (without NUL, which PostgreSQL
    text cannot hold): the parse workers make them for a feed's new entries, off the write
    path, and the store makes the same for any other."""
    title, text, summary = (v.replace("\x00", "") for v in (title or "", text, summary))
    return index_text(title, search_body(text, summary))


def is_cjk_token(token: str) -> bool:
    return bool(token) and _CJK_CHAR.match(token) is not None


def word_tokens(token_lists: Sequence[Sequence[str]]) -> set[str]:
    """The letter/digit words among the tokens: the ones PostgreSQL has to stem."""
    return {t for ts in token_lists for t in ts if not is_cjk_token(t)}


# -- queries -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    """One search term: a whitespace-separated word or a quoted phrase of the query.

    ``tokens`` must appear consecutively in one column; with ``prefix`` the last one is a
    prefix (a trailing single Hangul syllable). ``runs`` keeps the term's runs (words
    lower-cased) for finding the match in the original text.
    """

    text: str
    runs: tuple[tuple[str, bool], ...]
    tokens: tuple[str, ...]
    prefix: bool


_QUERY_PART = re.compile(r'"([^"]*)"|([^\s"]+)')


def _term(text: str) -> Term | None:
    parts = [(r.text if r.cjk else r.text.lower(), r.cjk) for r in runs(text)]
    if not parts:
        return None
    toks: list[str] = []
    prefix = False
    for i, (part, cjk) in enumerate(parts):
        last = i == len(parts) - 1
        if cjk:
            toks.extend(_cjk_tokens(part, open_end=last))
            prefix = last and len(part) == 1
        else:
            toks.append(part)
    return Term(text, tuple(parts), tuple(toks), prefix)


def parse_query(query: str) -> tuple[Term, ...]:
    """Terms of a user query: whitespace-separated words, ``"quoted phrases"``, all ANDed.

    Punctuation and query-language characters are separators, never syntax. Raises
    StoreError when nothing searchable is left.
    """
    query = unicodedata.normalize("NFC", query or "")
    if len(query) > MAX_QUERY_CHARS:
        raise StoreError(f"the search query is too long (at most {MAX_QUERY_CHARS} characters)")
    terms: dict[tuple[str, ...], Term] = {}
    for m in _QUERY_PART.finditer(query):
        term = _term(m.group(1) if m.group(1) is not None else m.group(2))
        if term is not None:
            terms.setdefault((*term.tokens, "*" if term.prefix else ""), term)
    if not terms:
        raise StoreError(
            f"nothing to search for in {query.strip()!r}: give at least one word "
            "(letters, digits, Hangul or hanja)"
        )
    if len(terms) > MAX_TERMS:
        raise StoreError(f"too many search terms (at most {MAX_TERMS})")
    return tuple(terms.values())


def _fts5_string(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def fts5_query(terms: Sequence[Term]) -> str:
    """The FTS5 MATCH expression: each term a quoted phrase, the terms ANDed."""
    out = []
    for term in terms:
        phrase = " + ".join(_fts5_string(t) for t in term.tokens)
        out.append(f"({phrase} *)" if term.prefix else f"({phrase})")
    return " AND ".join(out)


def _pg_lexeme(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsquery(terms: Sequence[Term], stems: Mapping[str, Sequence[str]]) -> str:
    """A tsquery literal (no parser involved) for PostgreSQL; "" when every term was made
    of English stop words. ``stems`` maps each word token to its lexemes (empty: a stop
    word, which keeps its place in a phrase as a gap)."""
    out = []
    for term in terms:
        parts: list[str] = []
        gap = 1
        for i, token in enumerate(term.tokens):
            cjk = is_cjk_token(token)
            lexemes = [token] if cjk else list(dict.fromkeys(stems.get(token, ())))
            if not lexemes:
                gap += 1 if parts else 0
                continue
            suffix = ":*" if term.prefix and i == len(term.tokens) - 1 else ""
            quoted = [_pg_lexeme(lex) + suffix for lex in lexemes]
            item = quoted[0] if len(quoted) == 1 else "(" + " | ".join(quoted) + ")"
            if parts:
                parts.append("<->" if gap == 1 else f"<{gap}>")
            parts.append(item)
            gap = 1
        if parts:
            out.append("(" + " ".join(parts) + ")")
    return " & ".join(out)


def tsvector(
    title_tokens: Sequence[str], body_tokens: Sequence[str], stems: Mapping[str, Sequence[str]]
) -> str:
    """A tsvector literal: title tokens weighted A, body tokens B, positions shared by
    Hangul and English tokens so that phrases mixing them (AI반도체) work."""
    positions: dict[str, list[str]] = {}
    seen: set[tuple[str, int]] = set()

    def add(toks: Sequence[str], start: int, weight: str) -> int:
        pos = start
        for token in toks:
            lexemes = [token] if is_cjk_token(token) else stems.get(token, ())
            p = min(pos, _PG_MAX_POS)
            for lexeme in lexemes:
                if (lexeme, p) in seen:
                    continue
                seen.add((lexeme, p))
                entry = positions.setdefault(lexeme, [])
                if len(entry) < _PG_MAX_POSITIONS:
                    entry.append(f"{p}{weight}")
            pos += 1
        return pos

    # A gap between title and body keeps a phrase from spanning the two (as on SQLite,
    # where they are separate columns).
    after_title = add(title_tokens, 1, "A")
    add(body_tokens, after_title + 1, "B")
    return " ".join(f"{_pg_lexeme(lex)}:{','.join(ps)}" for lex, ps in positions.items())


# -- snippets and highlighting ---------------------------------------------------------------

_SUFFIXES = (
    ("ational", ""),
    ("ations", ""),
    ("ation", ""),
    ("ments", ""),
    ("ment", ""),
    ("ings", ""),
    ("ing", ""),
    ("ions", ""),
    ("ion", ""),
    ("ies", "y"),
    ("ied", "y"),
    ("ers", ""),
    ("er", ""),
    ("ed", ""),
    ("es", ""),
    ("ly", ""),
    ("s", ""),
)


def _rough_stem(word: str) -> str:
    # Only for finding what to highlight: the backends stem for matching (porter, snowball)
    # and Python has no stemmer without a new dependency. Close enough for election(s),
    # elected, Korean(s); a miss only costs a highlight.
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + replacement
    return word


def _word_matches(word: str, query_word: str) -> bool:
    word = word.lower()
    return word == query_word or _rough_stem(word) == _rough_stem(query_word)


def match_spans(text: str, terms: Sequence[Term]) -> list[tuple[int, int]]:
    """Where the terms match ``text`` (NFC), mirroring what the index matches: sorted
    ``(start, end)`` offsets, possibly overlapping."""
    text_runs = list(runs(text))
    spans: list[tuple[int, int]] = []
    for term in terms:
        k = len(term.runs)
        if k == 1:
            part, cjk = term.runs[0]
            for run in text_runs:
                if run.cjk != cjk:
                    continue
                if cjk:
                    at = run.text.find(part)
                    while at >= 0:
                        spans.append((run.start + at, run.start + at + len(part)))
                        at = run.text.find(part, at + 1)
                elif _word_matches(run.text, part):
                    spans.append((run.start, run.end))
            continue
        for i in range(len(text_runs) - k + 1):
            window = text_runs[i : i + k]
            if all(
                _run_matches(run, part, cjk, j, k)
                for j, (run, (part, cjk)) in enumerate(zip(window, term.runs, strict=True))
            ):
                first_part, first_cjk = term.runs[0]
                last_part, last_cjk = term.runs[-1]
                start = window[0].end - len(first_part) if first_cjk else window[0].start
                end = window[-1].start + len(last_part) if last_cjk else window[-1].end
                spans.append((start, end))
    return sorted(set(spans))


def _run_matches(run: Run, part: str, cjk: bool, j: int, k: int) -> bool:
    if run.cjk != cjk:
        return False
    if not cjk:
        return _word_matches(run.text, part)
    # The first run of a term may be the end of a longer run of the text, the last one
    # its beginning; runs in between are whole.
    if j == 0:
        return run.text.endswith(part)
    if j == k - 1:
        return run.text.startswith(part)
    return run.text == part


def snippet(
    title: str, text: str, terms: Sequence[Term], width: int = SNIPPET_CHARS
) -> tuple[str, tuple[str, ...]]:
    """``(snippet, matched substrings)``: about ``width`` characters of ``text`` around its
    first match (its start when only the title matched), on one line, cut at spaces where
    possible, with control characters and escape sequences removed; and the substrings of
    the title and the snippet that matched, for highlighting."""
    line = clean_line(text[: MAX_INDEXED_CHARS * 2])
    spans = match_spans(line, terms)
    first = spans[0] if spans else (0, 0)
    start, end = _window(line, first, width)
    piece = line[start:end]
    matched: dict[str, None] = {}
    clean_title = clean_line(title)
    for s, e in match_spans(clean_title, terms):
        matched.setdefault(clean_title[s:e], None)
    for s, e in spans:
        if s >= start and e <= end:
            matched.setdefault(line[s:e], None)
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(line) else ""
    return prefix + piece + suffix, tuple(matched)


def _window(line: str, match: tuple[int, int], width: int) -> tuple[int, int]:
    if len(line) <= width:
        return 0, len(line)
    first, last = match
    # Some context before the match, then cut at word boundaries (spaces): a Korean word
    # is a space-separated eojeol, so this never cuts inside one unless a word is longer
    # than the slack.
    start = max(0, min(first - width // 4, len(line) - width))
    if start > 0:
        space = line.find(" ", start, first)
        if space >= 0:
            start = space + 1
        else:
            back = line.rfind(" ", max(0, start - 20), start)
            if back >= 0:
                start = back + 1
    end = min(len(line), start + width)
    if end < len(line) and line[end] != " ":
        space = line.rfind(" ", start + width // 2, end)
        if space >= max(last, start + 1):
            end = space
    return start, end


def highlight_spans(text: str, matched: Sequence[str]) -> list[tuple[int, int]]:
    """Non-overlapping ``(start, end)`` of the ``matched`` substrings in ``text`` (the
    snippet or the title), longest first, for the CLI to style."""
    taken = [False] * len(text)
    out: list[tuple[int, int]] = []
    for needle in sorted({m for m in matched if m}, key=len, reverse=True):
        at = text.find(needle)
        while at >= 0:
            end = at + len(needle)
            if not any(taken[at:end]):
                out.append((at, end))
                for i in range(at, end):
                    taken[i] = True
            at = text.find(needle, at + 1)
    return sorted(out)
