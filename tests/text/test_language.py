from __future__ import annotations

import pytest

from aggregator.text.language import hangul_share, reading_of


@pytest.mark.parametrize(
    ("title", "text", "language"),
    [
        ("北 탄도미사일 발사…합참 동해상으로", "", "ko"),
        ("삼성전자, AI 반도체 HBM4 공개", "", "ko"),
        ("trump 's wall : what the shutdown means for you", "", "en"),
        ("Samsung profit jumps 20% on chip demand", "", "en"),
        ("", "The Bank of Korea held its base rate on Thursday, " * 10, "en"),
    ],
)
def test_reads_korean_and_english(title: str, text: str, language: str) -> None:
    assert reading_of(title, text).language == language


def test_says_why_it_cannot_read() -> None:
    japanese = reading_of(
        "ナイジェリア北東部で自爆攻撃、31人死亡", "ボコ・ハラムによるものと思われる。"
    )
    assert japanese.language is None and "Japanese" in japanese.reason
    chinese = reading_of("中国国家主席习近平会见美国总统", "双方就两国关系交换了意见")
    assert chinese.language is None and "Chinese" in chinese.reason
    german = reading_of(
        "Nordkorea feuert Raketen ab",
        "Die Regierung in Pjöngjang hat nach Angaben des südkoreanischen Militärs erneut "
        "mehrere Raketen abgefeuert. Die Geschosse flogen über das Meer und stürzten ins "
        "Wasser, teilte der Generalstab in Seoul mit. Die Lage bleibt angespannt.",
    )
    assert german.language is None and "not English" in german.reason
    assert reading_of("", "2026 — 12:30").reason == "no letters to read"


def test_hangul_share() -> None:
    assert hangul_share("북한 KCNA") == pytest.approx(2 / 6)
    assert hangul_share("1234") == 0.0
