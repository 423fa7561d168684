from __future__ import annotations

import pytest

from aggregator.text.lead import extract_lead
from tests.conftest import CORPUS

PAGES = CORPUS / "pages" / "korean"


def test_a_deck_of_subheads_is_not_the_lead() -> None:
    text = (
        "한국 골프 기대주 손제이\n15세 이하 남자부 정상\n\n단체전에서도 1위 차지\n\n"
        "한국 골프의 미래로 불리는 손제이가 소년체전 15세 이하 남자부 정상에 올랐다. "
        "그는 단체전에서도 1위를 차지했다."
    )
    assert extract_lead(text, "전국소년체육대회 2연패").startswith("한국 골프의 미래로")


def test_a_paragraph_without_a_sentence_end_stays_when_nothing_follows() -> None:
    assert extract_lead("소제목 한 줄\n\n") == "소제목 한 줄"
    long_line = "정부는 " + "관련 대책을 " * 40
    assert extract_lead(long_line + "\n\n다음 문단이다.").startswith("정부는")  # not a subhead


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("page", "opening"),
    [
        ("fundus__MBN_2025_05_27", "한국 골프의 미래로 불리는"),
        ("fundus__HankookIlbo_2026_01_29", "장동혁 국민의힘 대표가"),
        ("goose3__donga_korean", "경기도 용인에 자리 잡은"),
    ],
)
def test_leads_of_real_pages_start_with_the_story(page: str, opening: str) -> None:
    path = PAGES / f"{page}.txt"
    if not path.is_file():
        pytest.skip(f"corpus page not found at {path}")
    assert extract_lead(path.read_text(encoding="utf-8")).startswith(opening)
