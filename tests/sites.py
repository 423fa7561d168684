"""Small synthetic Korean news sites for tests: feeds and article pages, written here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

PARAGRAPHS = [
    "정부는 26일 서울 정부청사에서 경제관계장관회의를 열고 내년 경제정책 방향을 확정했다고 밝혔다. "
    "이번 방향에는 수출 회복과 내수 활성화를 위한 과제가 담겼다.",
    '기획재정부 관계자는 "반도체 수출이 회복세를 보이고 있지만 대외 불확실성은 여전히 크다"며 '
    '"민생 안정을 최우선으로 정책을 운용하겠다"고 말했다.',
    "전문가들은 금리 인하 시점과 환율 변동성이 내년 성장률을 좌우할 것이라고 내다봤다. "
    "한국은행은 다음 달 금융통화위원회에서 기준금리를 논의한다.",
    "국회는 다음 주 본회의를 열어 관련 예산안을 처리할 예정이다. "
    "여야는 세부 항목을 두고 막판 협상을 이어가고 있다.",
]


def article_page(title: str, paragraphs: list[str], *, charset: str | None = "utf-8") -> str:
    meta = f'<meta charset="{charset}">' if charset else ""
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="ko"><head>{meta}<title>{escape(title)} | 테스트일보</title></head>
<body>
<header><nav><a href="/">홈</a> <a href="/politics">정치</a> <a href="/economy">경제</a>
<a href="/society">사회</a></nav></header>
<main><article>
<span class="section">경제</span>
<h1>{escape(title)}</h1>
<p class="byline">홍길동 기자 hong@test.example</p>
{body}
<p class="byline">홍길동 기자 hong@test.example</p>
<p class="copyright">ⓒ 테스트일보, 무단전재 및 재배포 금지</p>
</article>
<aside><h3>많이 본 뉴스</h3><ul>
<li><a href="/a/1">다른 기사 제목이 여기에 하나 있다</a></li>
<li><a href="/a/2">또 다른 인기 기사 제목이 여기에 있다</a></li>
<li><a href="/a/3">세 번째로 많이 본 기사 제목이다</a></li></ul></aside>
</main>
<footer>회사소개 | 개인정보처리방침 | 청소년보호정책
| Copyright 테스트일보 All rights reserved.</footer>
</body></html>"""


@dataclass
class Item:
    guid: str
    title: str
    link: str
    description: str = "요약입니다."
    published: datetime = field(default_factory=lambda: datetime(2026, 11, 25, 1, 0, tzinfo=UTC))
    categories: tuple[str, ...] = ()


def rss(title: str, items: list[Item], *, link: str = "https://news.test/") -> str:
    entries = []
    for item in items:
        cats = "".join(f"<category>{escape(c)}</category>" for c in item.categories)
        entries.append(
            f"""<item><title>{escape(item.title)}</title><link>{escape(item.link)}</link>
<guid isPermaLink="false">{escape(item.guid)}</guid>
<pubDate>{format_datetime(item.published)}</pubDate>{cats}
<description>{escape(item.description)}</description></item>"""
        )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{escape(title)}</title><link>{escape(link)}</link>
<description>테스트</description>
{"".join(entries)}
</channel></rss>"""


def items(base: str, count: int, *, prefix: str = "a") -> list[Item]:
    start = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    return [
        Item(
            guid=f"{prefix}-{i}",
            title=f"경제정책 방향 확정 {prefix}{i}번째 기사",
            link=f"{base}/article/{prefix}{i}?utm_source=rss&utm_medium=feed",
            published=start + timedelta(minutes=i),
        )
        for i in range(count)
    ]
