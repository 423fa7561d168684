"""Article extraction: quality gate on the real corpus, fallbacks and cleanup on own fixtures."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata
from collections import Counter
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest

from aggregator.errors import ExtractError
from aggregator.ingest.extract import article as article_module
from aggregator.ingest.extract.article import (
    _decode,
    extract_article,
    text_from_feed_content,
    trafilatura_language,
)
from aggregator.ingest.extract.blocks import (
    Block,
    Segment,
    block_from_text,
    html_to_blocks,
    line_text,
    render_html,
    render_text,
)
from aggregator.ingest.extract.cleanup import (
    byline_key,
    clean_blocks,
    cut_copyright_clause,
    dedupe_bylines,
    drop_link_lists,
    is_copyright_line,
    is_dateline,
    is_section_label,
    is_title_repeat,
    is_ui_line,
    strip_copyright,
    strip_header,
    title_variants,
)
from aggregator.ingest.extract.fallbacks import (
    flight_rows,
    jsonld_article_body,
    parse_date,
    script_payload_body,
    stoplist_language,
)
from tests.conftest import CORPUS
from tests.paths import DATA

PAGES = DATA / "pages"
URL = "https://hanbit.example.kr/news/2024/07/14/1"

# ------------------------------------------------------------------------ scoring

_EDGE_PUNCT = "\"'“”‘’()[]{}<>«»「」『』【】〈〉《》.,;:!?、。，．・·…-–—*#"


def tokens(text: str) -> list[str]:
    """Whitespace tokens after NFC, lower-cased, with punctuation stripped from their ends."""
    out = []
    for raw in unicodedata.normalize("NFC", text).split():
        token = raw.strip(_EDGE_PUNCT).lower()
        if token:
            out.append(token)
    return out


def token_f1(predicted: str, gold: str) -> float:
    """Bag-of-tokens F1, as in the scrapinghub article-extraction benchmark."""
    pred, ref = Counter(tokens(predicted)), Counter(tokens(gold))
    common = sum((pred & ref).values())
    if common == 0:
        return 1.0 if not pred and not ref else 0.0
    precision = common / sum(pred.values())
    recall = common / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


def test_token_f1() -> None:
    assert token_f1("가 나 다", "가 나 다") == 1.0
    assert token_f1("“가, 나.”", "가 나") == 1.0
    assert token_f1("", "가") == 0.0
    assert token_f1("가 나", "가 나 다 라") == pytest.approx(2 * 1.0 * 0.5 / 1.5)


# ------------------------------------------------------------------- the corpus


def _corpus_pages(suffix: str) -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(
        html
        for sub in ("general", "korean")
        for html in (CORPUS / "pages" / sub).glob("*.html")
        if html.with_suffix(suffix).exists()
    )


GOLD_PAGES = _corpus_pages(".txt")
EXPECT_PAGES = _corpus_pages(".expect.json")


@cache
def _extract_corpus_page(path: Path) -> str:
    return extract_article(path.read_bytes(), "").text


@pytest.mark.corpus
@pytest.mark.parametrize("page", GOLD_PAGES, ids=lambda p: p.stem)
def test_corpus_page_f1(corpus_dir: Path, page: Path) -> None:
    gold = page.with_suffix(".txt").read_text(encoding="utf-8")
    assert token_f1(_extract_corpus_page(page), gold) >= 0.85


@pytest.mark.corpus
def test_corpus_mean_f1(corpus_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert GOLD_PAGES, "no gold pages found in the corpus"
    scores = {
        page.stem: token_f1(
            _extract_corpus_page(page), page.with_suffix(".txt").read_text(encoding="utf-8")
        )
        for page in GOLD_PAGES
    }
    mean = sum(scores.values()) / len(scores)
    with capsys.disabled():
        print("\nper-page token F1")
        for name, score in scores.items():
            print(f"  {score:.3f}  {name}")
        print(f"  {mean:.3f}  mean over {len(scores)} pages")
    assert mean >= 0.97
    assert min(scores.values()) >= 0.85


@pytest.mark.corpus
@pytest.mark.parametrize("page", EXPECT_PAGES, ids=lambda p: p.stem)
def test_corpus_page_snippets(corpus_dir: Path, page: Path) -> None:
    expect = json.loads(page.with_suffix(".expect.json").read_text(encoding="utf-8"))
    text = _extract_corpus_page(page)
    for snippet in expect["with"]:
        assert snippet in text
    for snippet in expect["without"]:
        assert snippet not in text


@pytest.mark.corpus
def test_hankook_nextjs_page_comes_from_script_payload(corpus_dir: Path) -> None:
    # The one corpus page whose DOM has no body at all; found by content, not by name.
    shells = [page for page in GOLD_PAGES if b"self.__next_f.push" in page.read_bytes()]
    results = [extract_article(p.read_bytes(), "") for p in shells]
    assert any(r.source == "script-payload" for r in results)
    for result in results:
        assert "기사 URL이 복사되었습니다" not in result.text
        assert "$$" not in result.text


@pytest.mark.corpus
def test_corpus_cp949_page_without_declaration(corpus_dir: Path) -> None:
    body = corpus_dir / "pages/encoding-edge/chardet__windows-949_no_charset_news-snippet.html"
    article = extract_article(body.read_bytes(), "")
    assert "임채진 검찰총장" in article.text
    assert "국회 폭력방지법" in article.text
    assert "\ufffd" not in article.text


@pytest.mark.corpus
def test_corpus_error_page_is_too_little(corpus_dir: Path) -> None:
    body = (corpus_dir / "pages/encoding-edge/chardet__euc-kr_404-error-page.html").read_bytes()
    assert extract_article(body, "").source == "none"
    fallback = extract_article(body, "", feed_content="피드에 실린 요약 문장입니다.")
    assert fallback.source == "feed"
    assert fallback.text == "피드에 실린 요약 문장입니다."


# ------------------------------------------------------- the page's language for trafilatura

_KOREAN_BODY = "<p>" + "국회는 오늘 본회의를 열어 내년도 예산안을 처리했다. " * 40 + "</p>"


def _html(head: str = "", body: str = _KOREAN_BODY, html_attrs: str = "") -> str:
    return f"<html{html_attrs}><head>{head}<title>t</title></head><body>{body}</body></html>"


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (_html(), "ko"),
        (_html(html_attrs=' lang="ko"'), "ko"),
        (_html('<meta property="og:locale" content="ko_KR">'), "ko"),
        # a Korean page that declares another language: the lists of every language
        (_html('<meta property="og:locale" content="en_US">'), None),
        (_html(html_attrs=' lang="en"'), None),
        # trafilatura matches http-equiv="content-language" exactly and then reads og:locale
        (
            _html(
                '<meta http-equiv="Content-Language" content="en">'
                '<meta property="og:locale" content="ko_KR">'
            ),
            "ko",
        ),
        (_html('<meta content="ko-KR" http-equiv="content-language">'), "ko"),
        (_html('<meta http-equiv="content-language" content="*">'), None),
        # a short Korean error page
        ("<html><body><h1>페이지를 찾을 수 없습니다</h1></body></html>", "ko"),
        # an English edition with a Korean menu
        (
            _html(
                html_attrs=' lang="en"',
                body="<nav>" + "한국어 " * 100 + "</nav>" + "<p>The assembly passed it.</p>" * 400,
            ),
            "en",
        ),
        (_html('<meta property="og:locale" content="en_GB">', "<p>Words.</p>"), "en"),
        (_html(html_attrs=' lang="de"', body="<p>Wörter.</p>"), "de"),
        (_html(body="<p>Undeclared words.</p>"), None),
    ],
)
def test_stoplist_language(page: str, expected: str | None) -> None:
    assert stoplist_language(page) == expected


def test_trafilatura_is_told_only_languages_justext_has(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(article_module, "_language_detector_installed", lambda: False)
    japanese = _html(html_attrs=' lang="ja"', body="<p>日本語の文章。</p>")
    assert trafilatura_language(japanese) is None
    german = _html(html_attrs=' lang="de"', body="<p>Wörter.</p>")
    assert trafilatura_language(german) == "de"
    # with a language detector, trafilatura would drop a page it reads as another language
    monkeypatch.setattr(article_module, "_language_detector_installed", lambda: True)
    assert trafilatura_language(german) is None


@pytest.mark.parametrize(
    "head",
    [
        # we read the commented-out meta, lxml reads og:locale alone
        '<!-- <meta http-equiv="content-language" content="ko"> -->'
        '<meta property="og:locale" content="en_US">',
        # we keep the last of a repeated attribute, lxml the first
        '<meta http-equiv="content-language" content="en" content="ko">',
    ],
)
def test_a_page_trafilatura_drops_for_the_language_it_was_told_is_read_again(head: str) -> None:
    page = _html(head).encode()
    assert stoplist_language(page.decode()) == "ko"
    article = extract_article(page, URL)
    assert article.source == "trafilatura"
    assert "내년도 예산안을 처리했다" in article.text


@pytest.mark.corpus
def test_telling_trafilatura_the_language_loses_no_corpus_page(corpus_dir: Path) -> None:
    import trafilatura

    told = 0
    for path in sorted((corpus_dir / "pages").glob("*/*.html")):
        page = _decode(path.read_bytes(), "text/html", "")
        language = trafilatura_language(page)
        if language is None:
            continue
        told += 1
        untold = trafilatura.bare_extraction(page)
        told_run = trafilatura.bare_extraction(page, target_language=language)
        assert (untold is None) == (told_run is None), path.name
        if untold is not None and told_run is not None:
            assert getattr(untold, "text", None) == getattr(told_run, "text", None), path.name
    assert told >= 10


@pytest.mark.corpus
def test_extraction_never_builds_every_language_s_stop_words(corpus_dir: Path) -> None:
    """The corpus pages whose language is plain (Korean, English, German), justext's backup
    included (three of them need it), extracted in a fresh process: trafilatura never builds
    its all-language stop-word list (27 MiB a worker)."""
    script = f"""
import json
from pathlib import Path
import trafilatura.external as te
from aggregator.ingest.extract.article import _decode, extract_article, trafilatura_language
calls = []
original = te.try_justext
te.try_justext = lambda tree, url, lang: calls.append(lang) or original(tree, url, lang)
for path in sorted(Path({str(corpus_dir / "pages")!r}).glob("*/*.html")):
    if trafilatura_language(_decode(path.read_bytes(), "text/html", "")):
        extract_article(path.read_bytes(), "https://example.com/a")
print(json.dumps({{"calls": calls, "built": te.JT_STOPLIST is not None}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    report = json.loads(result.stdout)
    assert len(report["calls"]) >= 3 and set(report["calls"]) == {"ko"}, report
    assert not report["built"], report


# --------------------------------------------------------------- own fixtures


def _page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def test_cp949_page_without_charset_declaration() -> None:
    article = extract_article(_page("cp949_no_charset.html"), URL)
    assert article.source == "trafilatura"
    for word in ("똠방각하", "김햏순", "'뷁'"):
        assert word in article.text
    assert "\ufffd" not in article.text
    assert article.language == "ko"


def test_cp949_page_labelled_euc_kr_in_header() -> None:
    article = extract_article(
        _page("cp949_no_charset.html"), URL, content_type="text/html; charset=euc-kr"
    )
    assert "똠방각하" in article.text


def test_clean_article_strips_korean_boilerplate() -> None:
    article = extract_article(_page("clean_article.html"), URL)
    text = article.text
    assert article.source == "trafilatura"
    assert text.startswith("기상청은 14일 오후부터")  # no label, headline, byline or dateline
    assert text.count("김하늘 기자") == 1
    assert text.endswith("김하늘 기자 sky@hanbit.example.kr")
    for junk in (
        "시간당 50mm 집중호우…서울",
        "많이 본 뉴스",
        "연예인 A씨",
        "코스피 2800",
        "무단전재",
        "All rights reserved",
        "ⓒ",
        "공유하기",
        "URL이 복사",
        "입력 2024.07.14",
        "세종대로",
    ):
        assert junk not in text, junk
    assert article.title == "중부지방 시간당 50mm 집중호우…서울 호우경보"
    assert article.date == datetime(2024, 7, 14, 7, 30, tzinfo=UTC)  # 16:30 KST


def test_html_is_sanitized_and_matches_text() -> None:
    article = extract_article(_page("clean_article.html"), URL)
    html = article.html
    assert '<a href="https://hanbit.example.kr/weather/rain">날씨 특보</a>' in html
    for forbidden in ("<script", "<style", "onclick", "class=", "<div", "<button"):
        assert forbidden not in html
    assert set(re.findall(r"</?([a-z0-9]+)", html)) <= {
        "p",
        "h3",
        "ul",
        "li",
        "blockquote",
        "br",
        "a",
    }
    stripped = re.sub(r"<[^>]+>", "", html.replace("</p>\n<p>", "\n\n"))
    assert token_f1(stripped, article.text) == 1.0


def test_jsonld_only_page() -> None:
    article = extract_article(_page("jsonld_only.html"), URL)
    assert article.source == "json-ld"
    assert len(article.text.split("\n\n")) == 3
    assert "한강 잠수교는" in article.text
    assert article.author == "김하늘"
    assert article.date == datetime(2024, 7, 14, 7, 30, tzinfo=UTC)


def test_jsonld_body_inside_graph() -> None:
    page = _page("jsonld_only.html").decode()
    blocks = jsonld_article_body(page, URL)
    assert [b.text[:6] for b in blocks] == ["기상청은 1", "행정안전부는", "기상청 관계"]


def test_nextjs_data_only_page() -> None:
    article = extract_article(_page("nextjs_data_only.html"), URL)
    assert article.source == "script-payload"
    assert article.text.startswith("서울 호우경보\n잠수교 통행 통제\n\n기상청은")
    assert "잠수교 통제" in article.text  # section headline kept
    assert "물에 잠긴 도로" not in article.text  # photo caption dropped
    assert "$$ARTICLEAD$$" not in article.text
    assert "연예인 A씨" not in article.text  # the most-read list in the same payload
    assert "<h3>잠수교 통제</h3>" in article.html


def test_nextjs_flight_only_page() -> None:
    article = extract_article(_page("nextjs_flight_only.html"), URL)
    assert article.source == "script-payload"
    assert article.text.startswith("기상청은 14일")
    assert article.text.endswith("당부했다.")
    assert "물에 잠긴 도로" not in article.text


def test_flight_rows_reads_text_rows_by_byte_length() -> None:
    html = "<p>한글 본문</p>"
    stream = f'0:{{"a":1}}\n1:T{len(html.encode()):x},{html}2:["$","div",null,"$1"]\n'
    texts, values = flight_rows(stream.encode())
    assert texts == {"1": html}
    assert values == [{"a": 1}, ["$", "div", None, "$1"]]


def test_script_payload_ignores_pages_without_prose() -> None:
    page = '<script>window.cfg = {"menu": ["정치", "경제"], "id": "x"}</script>'
    assert script_payload_body(page, URL) == []


def test_feed_fallback_when_page_has_no_text() -> None:
    feed = "<p>중부지방에 시간당 50mm의 비가 내렸다.</p><p>ⓒ 한빛일보, 무단전재 및 재배포 금지</p>"
    article = extract_article(_page("empty_shell.html"), URL, feed_content=feed)
    assert article.source == "feed"
    assert article.text == "중부지방에 시간당 50mm의 비가 내렸다."
    assert article.html == "<p>중부지방에 시간당 50mm의 비가 내렸다.</p>"


def test_text_from_feed_content() -> None:
    text, html = text_from_feed_content(
        "<p>첫 문장입니다.<script>x()</script></p><p>ⓒ 한빛일보 무단전재 및 재배포 금지</p>"
    )
    assert (text, html) == ("첫 문장입니다.", "<p>첫 문장입니다.</p>")
    assert text_from_feed_content("plain\n\nsecond") == (
        "plain\n\nsecond",
        "<p>plain</p>\n<p>second</p>",
    )
    assert text_from_feed_content("  ") == ("", "")


def test_nothing_anywhere_gives_none() -> None:
    article = extract_article(_page("empty_shell.html"), URL)
    assert (article.source, article.text, article.html) == ("none", "", "")


def test_unusable_body_raises_or_falls_back_to_feed() -> None:
    with pytest.raises(ExtractError) as info:
        extract_article(b"", URL)
    assert info.value.url == URL
    with pytest.raises(ExtractError, match="image/jpeg"):
        extract_article(b"\xff\xd8\xff\xe0", URL, content_type="image/jpeg")
    article = extract_article(b"", URL, feed_title="제목", feed_content="피드 본문 문장.")
    assert (article.source, article.text, article.title) == ("feed", "피드 본문 문장.", "제목")


# ------------------------------------------------------------- cleanup rules


def _blocks(*texts: str) -> list[Block]:
    return [block_from_text(t) for t in texts]


def _texts(blocks: list[Block]) -> list[str]:
    return [b.text for b in blocks]


@pytest.mark.parametrize(
    "line",
    [
        "기사입력 :[ 2018-08-25 15:24 ]",
        "입력 2025.05.15 16:33 | 수정 2025.05.15 17:00",
        "승인 2024.01.02 오후 3:10",
        "Updated 2020-04-10 16:58 GMT",
    ],
)
def test_is_dateline(line: str) -> None:
    assert is_dateline(line)


def test_is_dateline_keeps_sentences_with_dates() -> None:
    assert not is_dateline("정부는 2025.05.15 발표에서 금리를 동결했다.")


@pytest.mark.parametrize(
    "line",
    [
        "ⓒ 한겨레신문 : 무단전재 및 재배포 금지",
        "<저작권자(c) 연합뉴스, 무단 전재-재배포, AI 학습 및 활용 금지>",
        "Copyright ⓒ 조선일보 & chosun.com, 무단 전재 및 재배포 금지",
        "Copyright © KBS. All rights reserved.",
        "저작권자 © 한빛일보 무단전재 및 재배포금지",
    ],
)
def test_copyright_lines(line: str) -> None:
    assert is_copyright_line(line)


def test_copyright_clause_cut_from_byline_line() -> None:
    line = (Segment("홍길동 기자 hong@yna.co.kr <저작권자(c) 연합뉴스, 무단 전재-재배포 금지>"),)
    assert line_text(cut_copyright_clause(line)) == "홍길동 기자 hong@yna.co.kr"
    keep = (Segment("(c)AFP/Aminu ABUBAKAR"),)
    assert cut_copyright_clause(keep) == keep


def test_copyright_only_stripped_near_the_end() -> None:
    body = ["저작권법은 무단 전재를 금지한다고 정부가 밝혔다."] + [f"문단 {i}." for i in range(8)]
    assert _texts(strip_copyright(_blocks(*body, "ⓒ 한빛일보, 무단전재 및 재배포 금지"))) == body


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("홍길동 기자 hong@example.kr", "홍길동"),
        ("구현모기자 ninek@hankookilbo.com", "구현모"),
        ("[서울=뉴시스] 홍길동 기자 =", None),
        ("김민수·이영희 기자", "김민수"),
        ("정덕현 칼럼니스트", "정덕현"),
        ("By Jill Disis", "jilldisis"),
        ("홍길동 기자는 이날 현장을 찾아 주민들의 이야기를 들었다고 전했다.", None),
    ],
)
def test_byline_key(line: str, key: str | None) -> None:
    # "[서울=뉴시스] 홍길동 기자 =" opens the lead sentence: text, not a byline line
    assert byline_key(line) == key


def test_dedupe_bylines_keeps_the_closing_one() -> None:
    blocks = _blocks("홍길동 기자", "본문 문장입니다.", "홍길동 기자 hong@example.kr")
    assert _texts(dedupe_bylines(blocks)) == ["본문 문장입니다.", "홍길동 기자 hong@example.kr"]


def test_drop_link_lists() -> None:
    lst = [Block("li", ((Segment("다른 기사", "https://x.kr/2"),),)) for _ in range(3)]
    blocks = [*_blocks("본문 첫 문단입니다."), *_blocks("많이 본 뉴스"), *lst]
    blocks += _blocks("본문이 이어지는 긴 문단으로, 목록 다음에 다시 시작되는 본문의 문장입니다.")
    assert _texts(drop_link_lists(blocks)) == [
        "본문 첫 문단입니다.",
        "본문이 이어지는 긴 문단으로, 목록 다음에 다시 시작되는 본문의 문장입니다.",
    ]
    assert _texts(drop_link_lists(_blocks("Most Viewed", "short item"))) == []


def test_strip_header_removes_label_and_repeated_headline() -> None:
    titles = title_variants(["중부지방 집중호우…서울 호우경보 - 한빛일보"])
    blocks = _blocks("사회", "중부지방 집중호우…서울 호우경보", "기상청은 예보했다.")
    assert _texts(strip_header(blocks, titles)) == ["기상청은 예보했다."]
    blocks = _blocks("정치 > 국회", "기상청은 예보했다.")
    assert _texts(strip_header(blocks, titles)) == ["기상청은 예보했다."]


def test_title_helpers() -> None:
    titles = title_variants(["장동혁, 한동훈 제명했지만… 부담 커졌다-정치ㅣ한국일보"])
    assert is_title_repeat("장동혁, 한동훈 제명했지만… 부담 커졌다", titles)
    assert is_title_repeat("動画：장동혁, 한동훈 제명했지만… 부담 커졌다", titles)
    assert not is_title_repeat("장동혁 대표는 29일 의원총회에서 발언했다.", titles)
    assert is_section_label("경제 > 부동산")
    assert is_section_label("Politik", ["Politik"])
    assert not is_section_label("비가 온다.")


@pytest.mark.parametrize(
    "line", ["기사 URL이 복사되었습니다.", "댓글0", "공유하기", "このニュースをシェア", "글자크기"]
)
def test_ui_lines(line: str) -> None:
    assert is_ui_line(line)


def test_clean_blocks_keeps_plain_article() -> None:
    blocks = _blocks("첫 문단입니다.", "둘째 문단입니다.", "홍길동 기자 hong@example.kr")
    assert clean_blocks(blocks) == blocks


def test_html_to_blocks_and_render() -> None:
    blocks = html_to_blocks(
        '<p>A &amp; B <a href="/x" onclick="evil()">link</a><br>next</p>'
        "<script>bad()</script><figure><figcaption>cap</figcaption></figure>"
        '<ul><li>one</li><li><a href="javascript:alert(1)">two</a></li></ul>',
        "https://ex.kr/a/b",
    )
    assert render_text(blocks) == "A & B link\nnext\n\none\n\ntwo"
    assert render_html(blocks) == (
        '<p>A &amp; B <a href="https://ex.kr/x">link</a><br>next</p>\n'
        "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"
    )


@pytest.mark.parametrize(
    ("value", "korean", "expected"),
    [
        ("2024-07-14T16:30:00", True, datetime(2024, 7, 14, 7, 30, tzinfo=UTC)),
        ("2024-07-14T16:30:00", False, datetime(2024, 7, 14, 16, 30, tzinfo=UTC)),
        ("2024-07-14T16:30:00+09:00", False, datetime(2024, 7, 14, 7, 30, tzinfo=UTC)),
        ("2024-07-14T07:30:00Z", True, datetime(2024, 7, 14, 7, 30, tzinfo=UTC)),
        ("2024.07.14 16:30", True, datetime(2024, 7, 14, 7, 30, tzinfo=UTC)),
        ("2024-07-14", True, datetime(2024, 7, 13, 15, 0, tzinfo=UTC)),
        ("어제", True, None),
        (None, True, None),
    ],
)
def test_parse_date(value: str | None, korean: bool, expected: datetime | None) -> None:
    assert parse_date(value, korean=korean) == expected


def test_feed_content_escaped_twice_is_decoded_not_shown_as_tags() -> None:
    from aggregator.ingest.extract.article import text_from_feed_content

    doubly = (
        "&lt;table&gt;&lt;tr&gt;&lt;td&gt;&lt;img src=&quot;http://img.example/a.jpg&quot; /&gt;"
        "&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;"
        "&lt;p&gt;문재인 대통령은 19일 브뤼셀에서 말했다.&lt;/p&gt;"
    )
    text, html = text_from_feed_content(doubly)
    assert text == "문재인 대통령은 19일 브뤼셀에서 말했다."
    assert "&lt;" not in html and "<table" not in text
    # A single level of escaping in text is content, and stays.
    assert text_from_feed_content("<p>3 &lt; 5 이다.</p>")[0] == "3 < 5 이다."
