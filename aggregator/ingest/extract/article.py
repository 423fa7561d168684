"""Full text of an article page: bytes in, :class:`ExtractedArticle` out.

What it does, in order:

1. Decodes the page with :mod:`aggregator.text.charset` (EUC-KR labels read as CP949, undeclared
   Korean pages detected) and hands trafilatura a ``str``, so trafilatura never guesses the
   encoding itself.
2. Runs trafilatura for the body and the metadata, in its default mode: ``fast`` saves only
   about 15% (25 ms against 29 ms a page on the corpus, trafilatura being most of the time)
   but skips the backup extractors, and lost a Dong-A page to boilerplate (F1 0.39 against
   0.95). It is told the page's language where the page makes it plain
   (:func:`trafilatura_language`): its justext backup then counts that language's stop
   words instead of building every language's list (31 ms a page, 27 MiB a worker).
3. Collects the fallbacks: JSON-LD ``articleBody``; the article HTML embedded in script
   payloads (Next.js ``__NEXT_DATA__``, React Server Components flight chunks pushed with
   ``self.__next_f.push``, and JSON handed to ``window[...]``/``.push(...)`` by hydration
   code); last, the feed's own content. The first source that is not "too little" wins.
4. Cleans the chosen text with a Korean-aware pass: headline and section label repeated at
   the top, "입력 2025.05.15" datelines, "많이 본 뉴스"/"관련 기사"/"Most Viewed" lists,
   duplicated bylines, "무단전재 및 재배포 금지" footers, share/copy/subscribe widgets.

Steps 3 and 4 are :mod:`.fallbacks` and :mod:`.cleanup`; both work on the blocks of
:mod:`.blocks`. This module runs the steps and chooses among the candidates.

What it does not do: fetch anything, follow "next page" links, extract comments, images
inside the body, or tables as tables (rows become paragraphs). It keeps no state between
calls, so it is safe to run in worker processes.
"""

from __future__ import annotations

import html as html_lib
import importlib.util
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urljoin

from aggregator.errors import ExtractError
from aggregator.ingest.extract.blocks import (
    WHITESPACE,
    Block,
    markup_to_blocks,
    render_html,
    render_text,
    tree_to_blocks,
)
from aggregator.ingest.extract.cleanup import clean_blocks, norm_key, title_variants
from aggregator.ingest.extract.fallbacks import (
    HANGUL,
    TITLE_TAG,
    jsonld_article,
    jsonld_author,
    jsonld_blocks,
    meta_tags,
    page_language,
    parse_date,
    prose_chars,
    script_payload_body,
    stoplist_language,
    text_language,
)
from aggregator.models import ExtractedArticle, ParsedEntry, TextSource
from aggregator.text.charset import charset_from_content_type, decode_bytes, html_meta_charset

__all__ = [
    "DOMINANCE_OVERLAP",
    "DOMINANCE_RATIO",
    "MIN_TEXT_CHARS",
    "SAME_TEXT_OVERLAP",
    "choose",
    "entry_feed_html",
    "entry_feed_text",
    "extract_article",
    "split_categories",
    "text_from_feed_content",
    "trafilatura_language",
]

LOGGER = logging.getLogger(__name__)

# Below this many characters a step "yields too little" and the next one is tried. Two or
# three Korean sentences; short enough for brief wire items, long enough to reject an error
# page or a lone caption.
MIN_TEXT_CHARS = 200
# A later step replaces an earlier one that passed the minimum only when it gives this many
# times more text and contains most of the earlier text (the same article, less truncated).
DOMINANCE_RATIO = 2.0
DOMINANCE_OVERLAP = 0.6
# Two sources "give the same text" when each holds this share of the other's tokens.
SAME_TEXT_OVERLAP = 0.9


# ------------------------------------------------------------------------ pipeline


@dataclass(frozen=True, slots=True)
class _Candidate:
    source: TextSource
    blocks: list[Block]

    @property
    def chars(self) -> int:
        return sum(len(b.text) for b in self.blocks)


def _token_set(blocks: Sequence[Block]) -> set[str]:
    return {norm_key(t) for b in blocks for t in b.text.split() if norm_key(t)}


def _overlap(part: _Candidate, whole: _Candidate) -> float:
    mine = _token_set(part.blocks)
    return len(mine & _token_set(whole.blocks)) / len(mine) if mine else 0.0


def _supersedes(later: _Candidate, earlier: _Candidate) -> bool:
    """``later`` should replace ``earlier`` although ``earlier`` has enough text.

    Either it is the same article with far more of it, or ``earlier`` is no prose at all
    (a menu or footer dump), or it is the same text with its paragraphs intact: trafilatura
    rescues an empty DOM with the JSON-LD body flattened into one paragraph.
    """
    if later.chars >= DOMINANCE_RATIO * earlier.chars:
        if prose_chars(earlier.blocks) < MIN_TEXT_CHARS:
            return True
        if _overlap(earlier, later) >= DOMINANCE_OVERLAP:
            return True
    return (
        len(earlier.blocks) == 1 < len(later.blocks)
        and _overlap(earlier, later) >= SAME_TEXT_OVERLAP
        and _overlap(later, earlier) >= SAME_TEXT_OVERLAP
    )


def choose(candidates: Sequence[_Candidate]) -> _Candidate | None:
    """First candidate with enough text that no later one supersedes."""
    for i, cand in enumerate(candidates):
        if cand.chars < MIN_TEXT_CHARS:
            continue
        if not any(_supersedes(later, cand) for later in candidates[i + 1 :]):
            return cand
    return None


@cache
def _language_detector_installed() -> bool:
    """With py3langid installed, trafilatura drops a page its detector reads as another
    language than the one it was told, so it is then told none."""
    return importlib.util.find_spec("py3langid") is not None


def trafilatura_language(page: str) -> str | None:
    """:func:`~.fallbacks.stoplist_language` where justext has that language's stop words."""
    from trafilatura.settings import JUSTEXT_LANGUAGES

    language = stoplist_language(page)
    if language not in JUSTEXT_LANGUAGES or _language_detector_installed():
        return None
    return language


def _run_trafilatura(page: str, url: str) -> Any:
    language = trafilatura_language(page)
    doc = _bare_extraction(page, url, language)
    if doc is None and language is not None and _told_language_dropped(page, language):
        # Our reading of the page's language metas and lxml's disagreed (a commented-out
        # meta, a duplicated attribute): trafilatura dropped the page for its language.
        doc = _bare_extraction(page, url, None)
    return doc


def _told_language_dropped(page: str, language: str) -> bool:
    """Whether trafilatura's own meta check refuses ``language`` for this page (parsed again
    only for pages that gave nothing, with trafilatura's parser and check)."""
    from trafilatura.utils import check_html_lang, load_html

    try:
        tree = load_html(page)
        return tree is not None and check_html_lang(tree, language) is False
    except Exception:  # same reasoning as below: then the page simply has no trafilatura body
        return False


def _bare_extraction(page: str, url: str, language: str | None) -> Any:
    import trafilatura

    try:
        return trafilatura.bare_extraction(
            page,
            url=url or None,
            target_language=language,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            include_images=False,
            include_links=True,
            include_formatting=False,
        )
    except Exception:  # trafilatura raises assorted errors on odd markup: use the fallbacks
        LOGGER.debug("trafilatura failed on %s", url, exc_info=True)
        return None


def _run_metadata(page: str, url: str) -> Any:
    """Metadata alone, for pages where trafilatura found no body (and so returned nothing)."""
    import trafilatura

    try:
        return trafilatura.extract_metadata(page, default_url=url or None)
    except Exception:  # same reasoning as above: metadata is optional
        LOGGER.debug("trafilatura metadata failed on %s", url, exc_info=True)
        return None


def _decode(body: bytes, content_type: str, url: str) -> str:
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime and not (mime.startswith("text/") or "html" in mime or "xml" in mime):
        raise ExtractError(url, f"not an HTML page: {mime}")
    text, _codec = decode_bytes(
        body, [charset_from_content_type(content_type), html_meta_charset(body)]
    )
    if "\x00" in text[:2048]:
        raise ExtractError(url, "binary content, not an HTML page")
    return text


def _page_title(page: str) -> str | None:
    match = TITLE_TAG.search(page[:200_000])
    return WHITESPACE.sub(" ", html_lib.unescape(match.group(1))).strip() if match else None


def _str_or_none(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def split_categories(values: Iterable[str]) -> tuple[str, ...]:
    """Categories and tags, split at commas (keyword metas), deduplicated, order kept."""
    out: dict[str, str] = {}
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if part and part.lower() not in out:
                out[part.lower()] = part
    return tuple(out.values())


@dataclass(frozen=True, slots=True)
class _PageMeta:
    title: str | None
    author: str | None
    raw_dates: tuple[str | None, ...]
    image: str | None
    language: str | None
    categories: tuple[str, ...]
    titles: list[str]


def _page_meta(page: str, doc: Any, ld: dict[str, Any] | None, feed_title: str | None) -> _PageMeta:
    meta = meta_tags(page)
    ld_title = _str_or_none(ld.get("headline")) if ld else None
    title = _str_or_none(getattr(doc, "title", None))
    page_title = _page_title(page)
    categories = split_categories(
        [*(getattr(doc, "categories", None) or []), *(getattr(doc, "tags", None) or [])]
    )
    # JSON-LD and Open Graph carry the time of day and zone; trafilatura's date is a day
    raw_dates = (
        _str_or_none(ld.get("datePublished")) if ld else None,
        meta.get("article:published_time"),
        _str_or_none(getattr(doc, "date", None)),
    )
    return _PageMeta(
        title=title or ld_title or feed_title or meta.get("og:title") or page_title,
        author=_str_or_none(getattr(doc, "author", None)) or jsonld_author(ld),
        raw_dates=raw_dates,
        image=_str_or_none(getattr(doc, "image", None)) or meta.get("og:image"),
        language=_str_or_none(getattr(doc, "language", None)) or page_language(page, meta),
        categories=categories,
        titles=title_variants(
            [
                feed_title,
                title,
                ld_title,
                meta.get("og:title"),
                meta.get("twitter:title"),
                page_title,
            ]
        ),
    )


def text_from_feed_content(
    content: str, *, base_url: str = "", title: str | None = None
) -> tuple[str, str]:
    """``(plain text, sanitized HTML)`` of a feed entry's content or summary (HTML or text).

    The same conversion and cleanup as the "feed" fallback of :func:`extract_article`, for
    callers that store feed text without fetching the page.
    """
    if not content.strip():
        return "", ""
    blocks = clean_blocks(markup_to_blocks(content, base_url), title_variants([title]))
    return render_text(blocks), render_html(blocks)


def entry_feed_html(entry: ParsedEntry) -> str:
    """What the feed carries of an entry: its content, or its summary when that is longer."""
    return entry.content if len(entry.content) >= len(entry.summary) else entry.summary


def entry_feed_text(entry: ParsedEntry) -> tuple[str, str]:
    """``(plain text, sanitized HTML)`` of :func:`entry_feed_html`: an entry's text when no
    page is extracted for it."""
    return text_from_feed_content(entry_feed_html(entry))


def _feed_only(feed_blocks: list[Block], feed_title: str | None) -> ExtractedArticle:
    blocks = clean_blocks(feed_blocks, title_variants([feed_title]))
    return ExtractedArticle(render_text(blocks), render_html(blocks), "feed", title=feed_title)


def extract_article(
    body: bytes,
    url: str,
    *,
    content_type: str = "",
    feed_title: str | None = None,
    feed_content: str = "",
) -> ExtractedArticle:
    """Extract the article of one page; see the module docstring for the steps.

    Raises :class:`ExtractError` only when the body is no usable HTML (empty, binary or
    another media type) and the feed offers no content to fall back on.
    """
    feed_blocks = markup_to_blocks(feed_content, url) if feed_content.strip() else []
    try:
        if not body.strip():
            raise ExtractError(url, "empty page")
        page = _decode(body, content_type, url)
    except ExtractError:
        if not feed_blocks:
            raise
        return _feed_only(feed_blocks, feed_title)

    doc = _run_trafilatura(page, url)
    body_tree = getattr(doc, "body", None)
    ld = jsonld_article(page)
    pm = _page_meta(page, doc if doc is not None else _run_metadata(page, url), ld, feed_title)

    def cleaned(blocks: list[Block]) -> list[Block]:
        return clean_blocks(blocks, pm.titles, pm.categories)

    candidates = [
        _Candidate(
            "trafilatura", cleaned(tree_to_blocks(body_tree, url)) if body_tree is not None else []
        ),
        _Candidate("json-ld", cleaned(jsonld_blocks(ld, url))),
        _Candidate("script-payload", cleaned(script_payload_body(page, url))),
        _Candidate("feed", cleaned(feed_blocks)),
    ]
    chosen = choose(candidates)
    if chosen is None:
        chosen = candidates[-1] if candidates[-1].blocks else _Candidate("none", [])

    text = render_text(chosen.blocks)
    language = pm.language or text_language(text)
    korean = (language or "").startswith("ko") or bool(HANGUL.search(text[:500]))
    return ExtractedArticle(
        text=text,
        html=render_html(chosen.blocks),
        source=chosen.source,
        title=pm.title,
        author=pm.author,
        date=next((d for raw in pm.raw_dates if (d := parse_date(raw, korean=korean))), None),
        image=urljoin(url, pm.image) if pm.image else None,
        language=language,
        categories=pm.categories,
    )
