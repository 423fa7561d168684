"""Reading benchmark: digest, search, show and --help on a year of news (1,000,000 articles).

Builds a SQLite database of N articles (default 1,000,000) over the 365 days ending now, from
50 feeds (40 Korean, 10 English; Korean sentences composed with the right particles, English
ones likewise), each article with 1-2 tags of the 9 default tags, then times whole
``aggregator`` processes (wall clock, median of --runs after one warm-up run each):

- ``aggregator digest --since 24h``                          goal <= 300 ms
- ``aggregator search 정책`` (a two-syllable Korean term)      goal <= 300 ms
- ``aggregator show ID --no-pager`` (stdout to a pipe)        goal <= 250 ms
- ``aggregator --help``                                       goal <= 200 ms
- ``aggregator browse --since 24h`` on an 80x24 pseudo-terminal, until its first screen
  shows the sections (the day's date in the header)             goal <= 400 ms

The schema is the project's own (``SqlStore.open`` runs the migrations; the feeds are added with
``SqlStore.sync_feeds``). The bulk rows then go in with plain SQL (executemany, large
transactions, journal off for the build only, WAL set back afterwards), in the storage formats
of the store: datetimes through the bind processor of the tables' own ``UTCDateTime`` column
type, ``key_hash`` = ``store.base.digest(url)``, and the search index filled by the INSERT of
``SearchQueries.index_article`` with the tokens of ``aggregator.text.search.index_text``, so that
search results are real. Rows are generated (and tokenized) in worker processes, inserted in id
order by the main one.

Numbers are printed, never asserted. The database lives in a new directory under /tmp and is
deleted at the end unless --keep. Usage:

    python bench/digest.py [--articles 1000000] [--runs 5] [--keep] [--db PATH] [--query 정책]
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy.dialects import sqlite as sqlite_dialect  # noqa: E402

from aggregator.store.base import digest  # noqa: E402
from aggregator.store.sql import SqlStore  # noqa: E402
from aggregator.store.tables import ArticleRow  # noqa: E402
from aggregator.text.search import index_text  # noqa: E402

DAYS = 365
CHUNK = 5_000  # articles per worker task
COMMIT_EVERY = 50_000  # articles per build transaction
SECOND_ENTRY = 0.15  # share of articles also carried by a second feed of the same outlet
SECOND_TAG = 0.30  # share of articles with a second tag
GOALS_MS = {"digest": 300, "search": 300, "show": 250, "help": 200, "browse": 400}

# -- the configuration: 9 default tags, 50 feeds ------------------------------------------------

TAGS: dict[str, tuple[str, str]] = {
    "politics": ("정치", "Politics"),
    "north-korea": ("북한", "North Korea"),
    "economy": ("경제", "Economy"),
    "society": ("사회", "Society"),
    "world": ("세계", "World"),
    "it-science": ("IT과학", "IT & Science"),
    "culture": ("생활문화", "Culture"),
    "entertainment": ("연예", "Entertainment"),
    "sports": ("스포츠", "Sports"),
}
TOPIC_WEIGHTS = {
    "politics": 16,
    "north-korea": 6,
    "economy": 18,
    "society": 18,
    "world": 12,
    "it-science": 10,
    "culture": 7,
    "entertainment": 7,
    "sports": 6,
}
RELATED = {
    "politics": ["north-korea", "economy", "society", "world"],
    "north-korea": ["politics", "world"],
    "economy": ["it-science", "politics", "world", "society"],
    "society": ["politics", "culture", "economy"],
    "world": ["politics", "economy", "north-korea"],
    "it-science": ["economy", "society"],
    "culture": ["entertainment", "society"],
    "entertainment": ["culture", "sports"],
    "sports": ["entertainment", "society"],
}
SECTION_KO = {
    "politics": ("politics", "정치"),
    "north-korea": ("northkorea", "북한"),
    "economy": ("economy", "경제"),
    "society": ("society", "사회"),
    "world": ("international", "국제"),
    "it-science": ("science", "IT과학"),
    "culture": ("culture", "문화"),
    "entertainment": ("entertainment", "연예"),
    "sports": ("sports", "스포츠"),
}
# (slug, name, sections): each Korean outlet has an all-news feed plus three sections.
KO_OUTLETS = [
    ("hanbit", "한빛일보", ["politics", "economy", "society"]),
    ("saenal", "새날신문", ["north-korea", "world", "culture"]),
    ("nuri", "누리뉴스", ["economy", "it-science", "sports"]),
    ("mirae", "미래경제", ["economy", "it-science", "world"]),
    ("hangyeol", "한결일보", ["politics", "society", "entertainment"]),
    ("bareun", "바른뉴스", ["politics", "north-korea", "society"]),
    ("cheongsol", "청솔신문", ["culture", "entertainment", "sports"]),
    ("hanmaeum", "한마음일보", ["economy", "society", "world"]),
    ("uri", "우리방송", ["politics", "entertainment", "sports"]),
    ("daon", "다온경제", ["economy", "it-science", "society"]),
]
EN_OUTLETS = [
    ("koreadaily", "The Korea Daily Herald", ["politics"]),
    ("seoulreview", "Seoul Times Review", ["economy"]),
    ("hanbiten", "Hanbit English", ["north-korea"]),
    ("hanriver", "Han River Post", ["world"]),
    ("kwire", "K-Wire", ["it-science"]),
]


def make_feeds() -> list[dict[str, Any]]:
    """50 feeds: 10 Korean outlets x 4 feeds, 5 English outlets x 2 feeds."""
    feeds: list[dict[str, Any]] = []
    for slug, name, sections in KO_OUTLETS:
        base = f"https://rss.{slug}.example"
        feeds.append(
            {"url": f"{base}/all.xml", "title": f"{name} 전체", "language": "ko", "topic": None}
        )
        for topic in sections:
            path, label = SECTION_KO[topic]
            feeds.append(
                {
                    "url": f"{base}/{path}.xml",
                    "title": f"{name} {label}",
                    "language": "ko",
                    "topic": topic,
                }
            )
    for slug, name, sections in EN_OUTLETS:
        base = f"https://{slug}.example/rss"
        feeds.append({"url": f"{base}/all", "title": name, "language": "en", "topic": None})
        for topic in sections:
            feeds.append(
                {
                    "url": f"{base}/{topic}",
                    "title": f"{name} {TAGS[topic][1]}",
                    "language": "en",
                    "topic": topic,
                }
            )
    for i, feed in enumerate(feeds):
        feed["outlet"] = feed["url"].split("/")[2]
        feed["index"] = i
    assert len(feeds) == 50, len(feeds)
    return feeds


def _yaml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(path: Path, db_path: Path, feeds: list[dict[str, Any]]) -> None:
    lines = [
        "# bench/digest.py: generated",
        f"database: {_yaml_str('sqlite:///' + str(db_path))}",
        "display:",
        "  timezone: Asia/Seoul",
        "tags:",
    ]
    for name, (ko, en) in TAGS.items():
        lines.append(f"  {name}:")
        lines.append(f"    labels: {{ko: {_yaml_str(ko)}, en: {_yaml_str(en)}}}")
    lines.append("feeds:")
    for f in feeds:
        tags = f"[{f['topic']}]" if f["topic"] else "[]"
        lines.append(
            f"  - {{url: {_yaml_str(f['url'])}, title: {_yaml_str(f['title'])}, "
            f"tags: {tags}, language: {f['language']}}}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# -- Korean text ----------------------------------------------------------------------------------


def _batchim(word: str) -> int:
    """The final consonant index of the last Hangul syllable (0: none; digits read aloud)."""
    last = word.rstrip(" )」’”\"'")[-1:]
    if "가" <= last <= "힣":
        return (ord(last) - 0xAC00) % 28
    return {"0": 1, "1": 8, "2": 0, "3": 1, "4": 0, "5": 0, "6": 1, "7": 8, "8": 8, "9": 0}.get(
        last, 0
    )


def j(word: str, particle: str) -> str:
    """``word`` with the form of the particle its last syllable takes (은/는, 이/가, 을/를,
    과/와, 으로/로)."""
    b = _batchim(word)
    forms = {"은": ("은", "는"), "이": ("이", "가"), "을": ("을", "를"), "과": ("과", "와")}
    if particle in forms:
        return word + forms[particle][0 if b else 1]
    if particle == "으로":
        return word + ("으로" if b and b != 8 else "로")
    return word + particle


KO: dict[str, dict[str, list[str]]] = {
    "politics": {
        "subj": [
            "정부",
            "대통령실",
            "국회",
            "여당",
            "야당",
            "국민의힘",
            "더불어민주당",
            "국무총리실",
            "행정안전부",
            "외교부",
            "국방부",
            "법무부",
            "여야 지도부",
            "국회 운영위원회",
        ],
        "obj": [
            "내년도 예산안",
            "개헌 논의",
            "국정운영 방향",
            "여야 협의 결과",
            "인사청문회 일정",
            "특검법 처리",
            "선거제 개편안",
            "지방분권 로드맵",
            "공직자 윤리 강화 방안",
            "청년 지원 패키지",
            "국정과제 점검 결과",
            "정책위원회 합의안",
            "행정구역 개편안",
            "공천 규칙",
            "대정부 질문 일정",
            "국정감사 계획",
            "추경 편성안",
        ],
        "role": ["원내대표", "대변인", "정책위의장", "국무총리", "장관", "수석비서관", "의원"],
        "quote": [
            "국민의 눈높이에 맞는 대안을 내놓겠다",
            "여야가 머리를 맞대야 할 때다",
            "민생 법안부터 처리해야 한다",
            "정쟁보다 협치가 우선이다",
            "책임 있는 자세로 협상에 임하겠다",
        ],
        "metric": ["국정 지지율", "정당 지지도", "법안 처리율"],
        "react": ["찬반 논란", "비판 여론", "기대감"],
    },
    "north-korea": {
        "subj": [
            "통일부",
            "합동참모본부",
            "국가정보원",
            "북한",
            "조선중앙통신",
            "노동당 중앙위원회",
            "남북관계 전문가들",
            "국방부",
        ],
        "obj": [
            "탄도미사일 발사",
            "대북정책 방향",
            "남북 대화 재개 방안",
            "비핵화 협상",
            "대북 인도적 지원",
            "김정은 국무위원장의 현지지도",
            "평양 노동당 전원회의 결과",
            "이산가족 상봉 문제",
            "북한 인권 보고서",
        ],
        "role": ["대변인", "장관", "차장", "연구위원", "교수"],
        "quote": [
            "한반도 긴장 고조에 엄중히 대응하겠다",
            "대화의 문은 열려 있다",
            "북한의 추가 도발 가능성을 배제할 수 없다",
            "남북 간 소통 채널을 복원해야 한다",
        ],
        "metric": ["탈북민 입국자 수", "남북 교역액"],
        "react": ["우려", "경계감", "신중론"],
    },
    "economy": {
        "subj": [
            "기획재정부",
            "한국은행",
            "금융위원회",
            "산업통상자원부",
            "통계청",
            "한국거래소",
            "국토교통부",
            "공정거래위원회",
            "중소벤처기업부",
            "주요 시중은행",
        ],
        "obj": [
            "하반기 경제정책 방향",
            "기준금리",
            "부동산 정책",
            "가계부채 관리 방안",
            "수출 지원책",
            "통화 긴축 기조",
            "물가 안정 대책",
            "코스피 변동성 대응책",
            "반도체 수출 실적",
            "소상공인 자금 지원",
            "아파트값 동향",
            "환율 대응 방안",
            "증시 부양책",
        ],
        "role": ["부총리", "총재", "위원장", "장관", "연구위원", "애널리스트", "이코노미스트"],
        "quote": [
            "물가 안정이 최우선 과제다",
            "시장 불확실성이 여전히 크다",
            "수출 회복세가 이어질 것으로 본다",
            "효과가 나타나기까지 시간이 걸린다",
            "금리 인하를 서두를 상황은 아니다",
        ],
        "metric": [
            "소비자물가 상승률",
            "수출액",
            "코스피 지수",
            "원달러 환율",
            "취업자 수",
            "가계대출 잔액",
        ],
        "react": ["관망세", "기대감", "우려"],
    },
    "society": {
        "subj": [
            "경찰",
            "검찰",
            "서울중앙지법",
            "교육부",
            "서울시교육청",
            "소방당국",
            "보건복지부",
            "고용노동부",
            "환경부",
            "시민단체",
        ],
        "obj": [
            "수사 결과",
            "재판 일정",
            "수능 출제 방향",
            "화재 원인 조사",
            "교통사고 예방 대책",
            "저출생 대책",
            "돌봄 지원 확대 방안",
            "전세사기 피해 지원책",
            "미세먼지 저감 대책",
            "교육과정 개편안",
            "노동시간 단축 방안",
            "의료 인력 수급 계획",
        ],
        "role": ["서장", "부장검사", "판사", "교육감", "본부장", "대표", "교수"],
        "quote": [
            "피해자 보호에 만전을 기하겠다",
            "철저히 수사해 진상을 밝히겠다",
            "현장의 목소리를 제도에 반영하겠다",
            "재발 방지 대책을 마련하겠다",
        ],
        "metric": ["출생아 수", "교통사고 사망자 수", "화재 발생 건수", "고용률"],
        "react": ["불안감", "비판", "공감대"],
    },
    "world": {
        "subj": [
            "백악관",
            "미 국무부",
            "중국 외교부",
            "일본 정부",
            "유엔 안전보장이사회",
            "유럽연합",
            "러시아 크렘린궁",
            "우크라이나 정부",
            "이스라엘군",
            "주요 7개국",
        ],
        "obj": [
            "관세 정책",
            "우크라이나 휴전 협상",
            "가자지구 인도적 지원",
            "대중국 수출 통제",
            "기후변화 대응 합의",
            "트럼프 행정부의 외교 노선",
            "시진핑 주석의 방문 일정",
            "중동 정세",
            "공급망 재편 방안",
        ],
        "role": ["대변인", "장관", "대사", "특파원", "교수"],
        "quote": [
            "국제사회의 공조가 필요하다",
            "협상의 여지는 남아 있다",
            "동맹과 긴밀히 협의하겠다",
            "상황을 예의주시하고 있다",
        ],
        "metric": ["대미 수출액", "국제유가", "달러 지수"],
        "react": ["긴장감", "우려", "경계심"],
    },
    "it-science": {
        "subj": [
            "과학기술정보통신부",
            "삼성전자",
            "SK하이닉스",
            "네이버",
            "카카오",
            "한국항공우주연구원",
            "한국전자통신연구원",
            "LG전자",
            "스타트업 업계",
        ],
        "obj": [
            "인공지능 반도체 개발 계획",
            "누리호 발사 일정",
            "생성형 AI 서비스",
            "6G 통신 표준",
            "사이버 보안 강화 방안",
            "스마트폰 신제품",
            "데이터센터 투자 계획",
            "양자컴퓨터 연구",
            "AI 기본법 후속 조치",
            "해킹 피해 대응책",
        ],
        "role": ["사장", "연구원", "본부장", "대표", "교수", "책임연구원"],
        "quote": [
            "기술 격차를 벌리는 것이 관건이다",
            "글로벌 시장에서 경쟁력을 입증하겠다",
            "연구개발 투자를 늘리겠다",
            "보안 위협에 선제적으로 대응하겠다",
        ],
        "metric": ["반도체 수출액", "AI 관련 투자액", "스마트폰 출하량"],
        "react": ["기대감", "우려", "관심"],
    },
    "culture": {
        "subj": [
            "국립중앙박물관",
            "문화체육관광부",
            "국가유산청",
            "서울시립미술관",
            "출판계",
            "국립극장",
            "한국관광공사",
            "지역 문화재단",
        ],
        "obj": [
            "특별 전시회",
            "국가유산 보존 정책",
            "가을 여행 주간",
            "문화예술 지원 사업",
            "신간 출간 행사",
            "전통공연 시즌 프로그램",
            "도서관 개관 일정",
            "지역 축제 일정",
        ],
        "role": ["관장", "장관", "청장", "작가", "평론가", "감독"],
        "quote": [
            "많은 시민이 문화를 누리길 바란다",
            "우리 유산의 가치를 알리겠다",
            "관람객의 호응이 예상보다 뜨겁다",
            "지역 문화의 저변을 넓히겠다",
        ],
        "metric": ["관람객 수", "외래 관광객 수", "도서 판매량"],
        "react": ["호응", "관심", "기대"],
    },
    "entertainment": {
        "subj": [
            "하이브",
            "SM엔터테인먼트",
            "JYP엔터테인먼트",
            "방송사",
            "제작사",
            "소속사",
            "걸그룹 멤버들",
            "보이그룹",
        ],
        "obj": [
            "컴백 일정",
            "새 드라마 캐스팅",
            "월드투어 일정",
            "예능 프로그램 편성",
            "정규 앨범 발매",
            "팬미팅 계획",
            "영화 개봉 일정",
            "음원 차트 성적",
        ],
        "role": ["대표", "PD", "감독", "배우", "가수"],
        "quote": [
            "팬들의 사랑에 보답하겠다",
            "새로운 모습을 보여드리겠다",
            "좋은 작품으로 인사드리겠다",
            "무대에서 최선을 다하겠다",
        ],
        "metric": ["시청률", "음반 판매량", "관객 수"],
        "react": ["관심", "기대감", "호응"],
    },
    "sports": {
        "subj": [
            "축구대표팀",
            "프로야구 구단들",
            "대한체육회",
            "K리그 구단",
            "한국야구위원회",
            "배구연맹",
            "농구대표팀",
            "골프 대표팀",
        ],
        "obj": [
            "월드컵 예선 명단",
            "올림픽 출전 계획",
            "새 시즌 일정",
            "외국인 선수 영입",
            "전지훈련 일정",
            "감독 선임",
            "국가대표 선발전",
            "KBO 포스트시즌 일정",
        ],
        "role": ["감독", "선수", "회장", "단장", "코치"],
        "quote": [
            "매 경기 최선을 다하겠다",
            "팬들에게 좋은 결과를 보여드리겠다",
            "부상 선수 관리가 관건이다",
            "목표는 우승이다",
        ],
        "metric": ["관중 수", "승률", "시청률"],
        "react": ["기대감", "우려", "관심"],
    },
}
PLACES = [
    "서울",
    "부산",
    "인천",
    "대구",
    "광주",
    "대전",
    "세종",
    "수원",
    "울산",
    "제주",
    "춘천",
    "전주",
    "창원",
    "청주",
]
SURNAMES = "김이박최정강조윤장임한오서신권황안송류홍"
GIVEN = [
    "민수",
    "지현",
    "서연",
    "준호",
    "하은",
    "도윤",
    "수빈",
    "현우",
    "예린",
    "성민",
    "유진",
    "태호",
    "다은",
    "지훈",
    "소영",
    "재원",
]
KO_VERBS = [
    "발표했다",
    "공개했다",
    "논의했다",
    "확정했다",
    "점검했다",
    "설명했다",
    "보고했다",
    "내놓았다",
]
KO_TITLE_VERBS = ["발표", "추진", "논의 착수", "확정", "본격화", "검토", "속도", "재점검"]
KO_EFFECTS = [
    "시장에 적지 않은 영향을 줄",
    "내년 상반기까지 이어질",
    "속도를 낼",
    "논란을 키울",
    "당분간 유지될",
    "추가로 확대될",
]
KO_ASPECTS = ["현장 의견", "재정 여건", "국민 체감도", "지역 균형", "안전 관리", "제도 개선"]


def _ko_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def _ko_sentence(rng: random.Random, v: dict[str, list[str]], day: int, s0: str, o0: str) -> str:
    # An article keeps to its subject: half the sentences are about its own actor and object.
    s = s0 if rng.random() < 0.5 else rng.choice(v["subj"])
    o = o0 if rng.random() < 0.5 else rng.choice(v["obj"])
    kind = rng.randrange(9)
    if kind == 0:
        return f"{j(s, '은')} {day}일 {rng.choice(PLACES)}에서 {j(o, '을')} {rng.choice(KO_VERBS)}."
    if kind == 1:
        who = f"{_ko_name(rng)} {rng.choice(v['role'])}"
        return f'{j(who, "은")} 이날 "{rng.choice(v["quote"])}"고 말했다.'
    if kind == 2:
        return f"이번 {j(o, '은')} {j(rng.choice(KO_ASPECTS), '을')} 중심으로 마련됐다."
    if kind == 3:
        q1, q2 = rng.sample(v["quote"], 2)
        return f'{s} 관계자는 "{q1}"며 "{q2}"고 덧붙였다.'
    if kind == 4:
        return f"업계에서는 {j(o, '이')} {rng.choice(KO_EFFECTS)} 것으로 보고 있다."
    if kind == 5:
        o2 = rng.choice(v["obj"])
        return (
            f"{j(s, '은')} 지난달에도 {o2}{'과' if _batchim(o2) else '와'} 관련해 "
            f"{rng.randint(2, 40)}건의 조치를 내놓은 바 있다."
        )
    if kind == 6:
        return (
            f"{rng.choice(PLACES)} 지역에서는 {j(o, '을')} 둘러싼 "
            f"{j(rng.choice(v['react']), '이')} 이어지고 있다."
        )
    if kind == 7:
        updown = rng.choice(["증가", "감소", "상승", "하락"])
        return (
            f"{s}에 따르면 지난 {rng.randint(1, 12)}월 {j(rng.choice(v['metric']), '은')} "
            f"전년 동월 대비 {rng.randint(1, 199) / 10}% {updown}했다."
        )
    return f"{j(s, '은')} 다음 달 {j(o, '과')} 관련한 세부 계획을 추가로 공개할 예정이다."


def ko_article(
    rng: random.Random, topic: str, outlet: str, day: int
) -> tuple[str, str, str, str | None]:
    """(title, text, summary, author) of a Korean article of ``topic``."""
    v = KO[topic]
    s, o = rng.choice(v["subj"]), rng.choice(v["obj"])
    title = f"{s}, {o} {rng.choice(KO_TITLE_VERBS)}"
    if rng.random() < 0.5:
        updown = rng.choice(["↑", "↓", "증가", "감소"])
        title += f"…{rng.choice(v['metric'])} {rng.randint(1, 99) / 10}% {updown}"
    author = _ko_name(rng) if rng.random() < 0.8 else None
    first = f"{j(s, '은')} {day}일 {rng.choice(PLACES)}에서 {j(o, '을')} {rng.choice(KO_VERBS)}."
    sentences = [first]
    target = rng.randint(300, 600)
    length = len(first)
    while length < target:
        sentence = _ko_sentence(rng, v, day, s, o)
        sentences.append(sentence)
        length += len(sentence) + 1
    paragraphs: list[str] = []
    i = 0
    while i < len(sentences):
        step = rng.randint(2, 4)
        paragraphs.append(" ".join(sentences[i : i + step]))
        i += step
    if author and rng.random() < 0.5:
        paragraphs[0] = f"({rng.choice(PLACES)}={outlet}) {author} 기자 = " + paragraphs[0]
    text = "\n\n".join(paragraphs)
    return title, text, first, (f"{author} 기자" if author else None)


# -- English text --------------------------------------------------------------------------------

EN: dict[str, dict[str, list[str]]] = {
    "politics": {
        "subj": [
            "the presidential office",
            "the National Assembly",
            "the ruling party",
            "the main opposition party",
            "the prime minister's office",
            "lawmakers",
        ],
        "obj": [
            "next year's budget bill",
            "a constitutional amendment",
            "an electoral reform plan",
            "a special counsel bill",
            "the cabinet reshuffle",
            "a new policy package",
        ],
    },
    "north-korea": {
        "subj": [
            "the unification ministry",
            "the Joint Chiefs of Staff",
            "Pyongyang",
            "North Korea's state media",
            "the spy agency",
        ],
        "obj": [
            "a ballistic missile launch",
            "inter-Korean talks",
            "denuclearization talks",
            "humanitarian aid to the North",
            "Kim Jong-un's military inspection",
        ],
    },
    "economy": {
        "subj": [
            "the finance ministry",
            "the Bank of Korea",
            "the financial regulator",
            "Statistics Korea",
            "the trade ministry",
        ],
        "obj": [
            "the benchmark interest rate",
            "household debt rules",
            "export support measures",
            "inflation targets",
            "the KOSPI rally",
            "housing supply plans",
        ],
    },
    "society": {
        "subj": [
            "police",
            "prosecutors",
            "the Seoul Central District Court",
            "the education ministry",
            "fire authorities",
            "the health ministry",
        ],
        "obj": [
            "the investigation",
            "the college entrance exam",
            "a new child care plan",
            "fire safety rules",
            "the trial schedule",
            "a medical staffing plan",
        ],
    },
    "world": {
        "subj": [
            "the White House",
            "the United Nations",
            "China's foreign ministry",
            "the Japanese government",
            "the European Union",
        ],
        "obj": [
            "new tariffs",
            "ceasefire talks",
            "climate commitments",
            "export controls",
            "humanitarian aid for Gaza",
            "supply chain rules",
        ],
    },
    "it-science": {
        "subj": [
            "Samsung Electronics",
            "SK hynix",
            "Naver",
            "the science ministry",
            "the Korea Aerospace Research Institute",
            "Kakao",
        ],
        "obj": [
            "an AI chip roadmap",
            "the next satellite launch",
            "a new smartphone",
            "semiconductor investment",
            "cybersecurity rules",
            "a generative AI service",
        ],
    },
    "culture": {
        "subj": [
            "the National Museum of Korea",
            "the culture ministry",
            "the Korea Heritage Service",
            "Seoul Museum of Art",
            "publishers",
        ],
        "obj": [
            "a special exhibition",
            "heritage preservation rules",
            "a travel week",
            "arts funding",
            "a book fair",
            "a traditional music season",
        ],
    },
    "entertainment": {
        "subj": [
            "HYBE",
            "SM Entertainment",
            "a K-pop girl group",
            "broadcasters",
            "a drama production company",
            "BTS members",
        ],
        "obj": [
            "a comeback album",
            "a new drama series",
            "a world tour",
            "a variety show",
            "a fan meeting",
            "a film premiere",
        ],
    },
    "sports": {
        "subj": [
            "the national football team",
            "KBO clubs",
            "the Korean Sport & Olympic Committee",
            "K League clubs",
            "the volleyball federation",
        ],
        "obj": [
            "the World Cup qualifiers squad",
            "Olympic preparations",
            "the new season schedule",
            "foreign player signings",
            "a coaching change",
            "the postseason schedule",
        ],
    },
}
EN_VERBS = ["announce", "review", "unveil", "finalize", "push ahead with", "reconsider"]
EN_PAST = ["announced", "reviewed", "unveiled", "finalized", "discussed", "outlined"]
EN_QUOTES = [
    "We will respond firmly and responsibly",
    "Uncertainty remains high",
    "The details will be released next month",
    "We are closely watching the situation",
    "This is a turning point for the country",
]
EN_ROLES = ["spokesperson", "senior official", "analyst", "professor", "minister", "lawmaker"]
EN_NAMES = [
    "Kim Min-su",
    "Lee Ji-hyun",
    "Park Jun-ho",
    "Choi Ha-eun",
    "Jung Do-yoon",
    "Kang Soo-bin",
    "Yoon Hyun-woo",
    "Lim Ye-rin",
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _en_sentence(rng: random.Random, v: dict[str, list[str]]) -> str:
    s, o = rng.choice(v["subj"]), rng.choice(v["obj"])
    kind = rng.randrange(6)
    if kind == 0:
        return f"{s[0].upper()}{s[1:]} {rng.choice(EN_PAST)} {o} on {rng.choice(WEEKDAYS)}."
    if kind == 1:
        return (
            f'"{rng.choice(EN_QUOTES)}," {rng.choice(EN_NAMES)}, a {rng.choice(EN_ROLES)}, '
            f"told reporters in {rng.choice(['Seoul', 'Busan', 'Sejong', 'Incheon'])}."
        )
    if kind == 2:
        trend = rng.choice(["draws criticism", "gains support", "faces delays"])
        return f"The move comes as {o} {trend}."
    if kind == 3:
        when = rng.choice(["March", "June", "the end of the year"])
        return f"Officials expect {o} to take effect by {when}."
    if kind == 4:
        return (
            f"According to {s}, the figure rose {rng.randint(1, 199) / 10} percent "
            f"from a year earlier."
        )
    return f"Critics say {s} should explain {o} in more detail before moving forward."


def en_article(rng: random.Random, topic: str) -> tuple[str, str, str, str | None]:
    v = EN[topic]
    s, o = rng.choice(v["subj"]), rng.choice(v["obj"])
    title = f"{s[0].upper()}{s[1:]} to {rng.choice(EN_VERBS)} {o}"
    first = (
        f"{s[0].upper()}{s[1:]} said on {rng.choice(WEEKDAYS)} it would {rng.choice(EN_VERBS)} {o}."
    )
    sentences = [first]
    target = rng.randint(300, 600)
    length = len(first)
    while length < target:
        sentence = _en_sentence(rng, v)
        sentences.append(sentence)
        length += len(sentence) + 1
    paragraphs = [" ".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3)]
    author = rng.choice(EN_NAMES) if rng.random() < 0.7 else None
    return title, "\n\n".join(paragraphs), first, author


# -- rows ------------------------------------------------------------------------------------------

_DT: Any = None


def _dt(value: datetime) -> str:
    """The stored form of an aware datetime: the tables' own UTCDateTime bind processor."""
    global _DT
    if _DT is None:
        _DT = ArticleRow.__table__.c.published_at.type.bind_processor(sqlite_dialect.dialect())
    return str(_DT(value))


def _content_hash(*parts: str) -> str:
    # As pipeline.content_hash: title, link, summary, content, NUL-separated.
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


def _html(text: str) -> str:
    import html

    return "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in text.split("\n\n"))


def _state() -> dict[str, Any]:
    return _WORKER


_WORKER: dict[str, Any] = {}


def _init_worker(feeds: list[dict[str, Any]], n: int, end_ts: float, feed_ids: list[int]) -> None:
    _WORKER.update(feeds=feeds, n=n, end_ts=end_ts, feed_ids=feed_ids)


Rows = list[tuple[Any, ...]]


def make_chunk(first_id: int, count: int) -> tuple[Rows, Rows, Rows, Rows]:
    """Rows of articles ``first_id`` .. ``first_id + count - 1``: (articles, entries, tags, fts)."""
    st = _state()
    feeds, n, end_ts, feed_ids = st["feeds"], st["n"], st["end_ts"], st["feed_ids"]
    rng = random.Random(first_id)
    span = DAYS * 86400
    start_ts = end_ts - span
    topics, weights = list(TOPIC_WEIGHTS), list(TOPIC_WEIGHTS.values())
    by_outlet: dict[str, list[dict[str, Any]]] = {}
    for f in feeds:
        by_outlet.setdefault(f["outlet"], []).append(f)
    articles: Rows = []
    entries: Rows = []
    tags: Rows = []
    fts: Rows = []
    for aid in range(first_id, first_id + count):
        # Ids follow time, as they do in a store filled day by day.
        ts = start_ts + (aid - 0.5) / n * span + rng.uniform(-300, 300)
        published = datetime.fromtimestamp(min(ts, end_ts - 120), UTC)
        first_seen = published + timedelta(seconds=rng.uniform(60, 1200))
        if first_seen.timestamp() > end_ts:
            first_seen = datetime.fromtimestamp(end_ts, UTC)
        feed = feeds[rng.randrange(len(feeds))]
        topic = feed["topic"] or rng.choices(topics, weights)[0]
        local_day = (published + timedelta(hours=9)).day
        if feed["language"] == "ko":
            outlet_name = feed["title"].split(" ")[0]
            title, text, summary, author = ko_article(rng, topic, outlet_name, local_day)
        else:
            title, text, summary, author = en_article(rng, topic)
        url = f"https://{feed['outlet']}/article/{published:%Y%m%d}/{aid:07d}"
        chash = _content_hash(title, url, summary, "")
        seen = _dt(first_seen)
        articles.append(
            (
                aid,
                digest(url),
                url,
                title,
                author,
                summary,
                _dt(published),
                None,
                text,
                _html(text),
                "trafilatura",
                "ok",
                None,
                feed["language"],
                None,
                chash,
                seen,
                seen,
                0,
                None,
            )
        )
        fids = [feed]
        if rng.random() < SECOND_ENTRY:
            others = [f for f in by_outlet[feed["outlet"]] if f is not feed]
            if others:
                fids.append(rng.choice(others))
        for k, f in enumerate(fids):
            when = seen if k == 0 else _dt(first_seen + timedelta(seconds=rng.uniform(30, 900)))
            entries.append((feed_ids[f["index"]], digest(url), url, aid, url, chash, when))
        chosen = [topic]
        if rng.random() < SECOND_TAG:
            chosen.append(rng.choice(RELATED[topic]))
        for tag in chosen:
            score = round(rng.uniform(0.4, 1.0), 3)
            tags.append((aid, tag, "rule", score, TAGS[tag][0 if feed["language"] == "ko" else 1]))
        t_tokens, b_tokens = index_text(title, text)
        fts.append((aid, t_tokens, b_tokens))
    return articles, entries, tags, fts


ARTICLE_COLUMNS = (
    "id, key_hash, url, title, author, summary, published_at, updated_at, text, html, "
    "text_source, extract_status, extract_error, language, image, content_hash, first_seen_at, "
    "changed_at, starred, read_at"
)
INSERTS = (
    f"INSERT INTO articles ({ARTICLE_COLUMNS}) VALUES ({', '.join('?' * 20)})",
    "INSERT INTO entries (feed_id, key_hash, entry_key, article_id, guid, content_hash, "
    "first_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    "INSERT INTO article_tags (article_id, tag, source, score, detail) VALUES (?, ?, ?, ?, ?)",
    # What SearchQueries.index_article runs on SQLite (search_sql._index_rows).
    "INSERT INTO article_fts (rowid, title, body) VALUES (?, ?, ?)",
)


def build(db_path: Path, n: int, feeds: list[dict[str, Any]], workers: int) -> float:
    started = time.perf_counter()
    url = f"sqlite:///{db_path}"
    now = datetime.now(UTC)
    with SqlStore.open(url) as store:  # the migrations make the schema
        store.sync_feeds([(f["url"], f["title"]) for f in feeds], now - timedelta(days=DAYS + 1))
    conn = sqlite3.connect(db_path, isolation_level=None)
    by_url = dict(conn.execute("SELECT url, id FROM feeds"))
    feed_ids = [by_url[f["url"]] for f in feeds]
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -524288")  # 512 MiB: the unique indexes stay in memory
    end_ts = now.timestamp()
    ctx = multiprocessing.get_context("fork")
    specs = [(i, min(CHUNK, n - i + 1)) for i in range(1, n + 1, CHUNK)]
    done = 0
    last_report = time.perf_counter()
    with ctx.Pool(workers, initializer=_init_worker, initargs=(feeds, n, end_ts, feed_ids)) as pool:
        pending: deque[Any] = deque()
        todo = iter(specs)
        for spec in todo:
            pending.append(pool.apply_async(make_chunk, spec))
            if len(pending) >= workers * 2:
                break
        conn.execute("BEGIN")
        in_txn = 0
        while pending:
            rows = pending.popleft().get()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append(pool.apply_async(make_chunk, nxt))
            for sql, batch in zip(INSERTS, rows, strict=True):
                conn.executemany(sql, batch)
            done += len(rows[0])
            in_txn += len(rows[0])
            if in_txn >= COMMIT_EVERY:
                conn.execute("COMMIT")
                conn.execute("BEGIN")
                in_txn = 0
            if time.perf_counter() - last_report > 30:
                last_report = time.perf_counter()
                rate = done / (last_report - started)
                print(
                    f"  build: {done:,} / {n:,} articles ({rate:,.0f}/s)",
                    file=sys.stderr,
                    flush=True,
                )
        conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    with SqlStore.open(url) as store:
        store.optimize()  # what the daemon does daily
    return time.perf_counter() - started


# -- timing --------------------------------------------------------------------------------------


def run(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, proc


def time_command(
    cmd: list[str], runs: int
) -> tuple[float, list[float], subprocess.CompletedProcess[str]]:
    _, first = run(cmd)  # warm-up
    times = [run(cmd)[0] for _ in range(runs)]
    return statistics.median(times), times, first


def time_browse(
    cmd: list[str], runs: int
) -> tuple[float, list[float], subprocess.CompletedProcess[str]]:
    """Start ``browse`` on a pseudo-terminal of 80x24; the time until its first screen
    carries the sections (the date heading in the header), then quit it with q."""
    import fcntl
    import pty
    import re
    import select
    import struct
    import termios

    def once() -> tuple[float, int, str]:
        started = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # the child: the command on the terminal
            os.environ["TERM"] = "xterm-256color"
            os.execv(cmd[0], cmd)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        seen = b""
        shown_at: float | None = None
        deadline = started + 60
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                seen += chunk
                plain = re.sub(rb"\x1b\[[0-9;?<>]*[A-Za-z]", b"", seen)
                if shown_at is None and "요일".encode() in plain:
                    shown_at = time.perf_counter()
                    os.write(fd, b"q")
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        elapsed = (shown_at or time.perf_counter()) - started
        return elapsed, os.waitstatus_to_exitcode(status), seen.decode(errors="replace")

    _, code, output = once()  # warm-up
    times = [once()[0] for _ in range(runs)]
    return statistics.median(times), times, subprocess.CompletedProcess(cmd, code, output, "")


def _pad(text: str, cells: int) -> str:
    import unicodedata

    width = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, cells - width)


def _first_lines(text: str, k: int) -> str:
    lines = [line for line in text.splitlines()][:k]
    return "\n".join("    | " + line for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="Keep the database; print its path.")
    parser.add_argument("--db", type=Path, help="Reuse this built database (skip the build).")
    parser.add_argument("--query", default="정책", help="The search term (default: 정책).")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    aggregator = Path(sys.executable).parent / "aggregator"
    if not aggregator.exists():
        found = shutil.which("aggregator")
        if not found:
            sys.exit("bench/digest.py: no `aggregator` command beside this Python or on PATH")
        aggregator = Path(found)
    feeds = make_feeds()
    workdir = Path(tempfile.mkdtemp(prefix="aggregator-bench-digest-", dir="/tmp"))
    build_s: float | None = None
    if args.db:
        db_path = args.db.resolve()
        if not db_path.exists():
            sys.exit(f"bench/digest.py: --db {db_path}: no such file")
    else:
        db_path = workdir / "bench.db"
        print(
            f"building {args.articles:,} articles in {db_path} ({args.workers} workers)...",
            file=sys.stderr,
            flush=True,
        )
        build_s = build(db_path, args.articles, feeds, args.workers)
    config_path = workdir / "config.yaml"
    write_config(config_path, db_path, feeds)

    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        count = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        entries = conn.execute("SELECT count(*) FROM entries").fetchone()[0]
        since = _dt(datetime.now(UTC) - timedelta(hours=24))
        last_day = conn.execute(
            "SELECT count(*) FROM articles WHERE published_at >= ?", (since,)
        ).fetchone()[0]
        korean_match = '"' + args.query.replace('"', '""') + '"'
        matches = conn.execute(
            "SELECT count(*) FROM article_fts WHERE article_fts MATCH ?", (korean_match,)
        ).fetchone()[0]
        show_id = conn.execute(
            "SELECT id FROM articles WHERE language = 'ko' ORDER BY id DESC LIMIT 1 OFFSET 50"
        ).fetchone()[0]
        (show_title,) = conn.execute(
            "SELECT title FROM articles WHERE id = ?", (show_id,)
        ).fetchone()
        conn.close()
        size = sum(p.stat().st_size for p in db_path.parent.glob(db_path.name + "*") if p.is_file())

        base = [str(aggregator), "--config", str(config_path)]
        commands = {
            "digest": [*base, "digest", "--since", "24h"],
            "search": [*base, "search", args.query],
            "show": [*base, "show", str(show_id), "--no-pager"],
            "help": [str(aggregator), "--help"],
        }
        labels = {
            "digest": "digest --since 24h",
            "search": f"search {args.query}",
            "show": f"show {show_id} --no-pager",
            "help": "--help",
        }
        results = {}
        for name, cmd in commands.items():
            results[name] = time_command(cmd, args.runs)
        results["browse"] = time_browse([*base, "browse", "--since", "24h"], args.runs)
        labels["browse"] = "browse --since 24h"

        print(f"database               : {db_path}")
        print(
            "build time             : "
            + (
                f"{build_s:.1f} s ({count / build_s:,.0f} articles/s)"
                if build_s
                else "(reused --db)"
            )
        )
        print(f"database size          : {size / 1_048_576:,.0f} MiB (with WAL/SHM files)")
        print(f"articles               : {count:,} ({entries:,} entries, 50 feeds, {DAYS} days)")
        print(f"published in last 24h  : {last_day:,}")
        share = 100 * matches / max(1, count)
        print(
            f"{_pad('FTS matches for ' + args.query, 23)}: {matches:,} ({share:.1f}% of articles)"
        )
        print(f"timings (median of {args.runs} after 1 warm-up, whole processes, wall clock):")
        for name, (median, times, proc) in results.items():
            goal = GOALS_MS[name]
            ms = median * 1000
            verdict = "ok" if ms <= goal else f"MISSED by {ms - goal:.0f} ms"
            runs_ms = ", ".join(f"{t * 1000:.0f}" for t in times)
            print(
                f"  {_pad(labels[name], 22)}: {ms:6.0f} ms  (goal <= {goal} ms: {verdict})  "
                f"runs: {runs_ms}; exit {proc.returncode}"
            )
        print("output checks:")
        digest_out = results["digest"][2].stdout
        search_out = results["search"][2].stdout
        show_out = results["show"][2].stdout
        lines = len(digest_out.splitlines())
        print(
            f"  digest: exit {results['digest'][2].returncode}, {lines} lines, "
            f"{digest_out.count('#')} '#' ids"
        )
        print(_first_lines(digest_out, 8))
        print(
            f"  search: exit {results['search'][2].returncode}, "
            f"{sum(1 for line in search_out.splitlines() if line.startswith('#'))} hits shown"
        )
        print(_first_lines(search_out, 6))
        print(
            f"  show: exit {results['show'][2].returncode}, "
            f"title {'found' if show_title in show_out else 'NOT found'} in the output"
        )
        print(_first_lines(show_out, 6))
        print(f"  browse: exit {results['browse'][2].returncode} after q")
        for name, (_, _, proc) in results.items():
            if name == "browse":
                continue
            if proc.returncode != 0 or proc.stderr.strip():
                print(f"  {name} stderr: {proc.stderr.strip()[:500]}")
    finally:
        if args.keep:
            print(f"kept: {db_path} (config {config_path})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)  # the built database lives there too
            print("removed the temporary config" + ("" if args.db else " and database"))


if __name__ == "__main__":
    main()
