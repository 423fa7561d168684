"""``aggregator serve``: a reader subscribing (200 then 304), every route, gzip, HEAD, 404/405,
/healthz, the loopback rule, and the server inside ``aggregator run``. The server runs on
127.0.0.1, port 0, in a thread of the test (or in the daemon's process for the last test)."""

from __future__ import annotations

import gzip
import json
import re
import signal
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
import yaml
from click.testing import CliRunner

from aggregator.cli import cli
from aggregator.errors import ConfigError
from aggregator.export.server import FeedServer, is_loopback, start_server
from aggregator.store.engine import make_engine
from aggregator.store.sql import SqlStore
from aggregator.text.urls import parse_listen
from tests.export.test_export import DEEP_SENTENCE, NOW, YNA, _tags, add, make_config, populate

FIXED_NOW = NOW + timedelta(hours=1)


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    s = SqlStore.open(db_url)
    populate(s)
    yield s
    s.close()


@pytest.fixture
def server(store: SqlStore) -> Iterator[FeedServer]:
    running = start_server(
        make_config(), store, listen="127.0.0.1:0", clock=lambda: FIXED_NOW
    ).start()
    yield running
    running.stop()


@pytest.fixture
def client(server: FeedServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, trust_env=False, timeout=10) as c:
        yield c


def test_a_reader_subscribes_to_a_tag_feed(
    server: FeedServer, client: httpx.Client, store: SqlStore
) -> None:
    first = client.get("/feeds/tag/politics.atom")
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/atom+xml; charset=utf-8"
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert etag.startswith('W/"')
    parsed = feedparser.parse(first.content)
    assert parsed.bozo == 0
    assert [e.title for e in parsed.entries] == [
        "헌재, 선고 기일 지정",
        "국회, 내년도 예산안 처리…여야 합의",
    ]
    assert DEEP_SENTENCE in parsed.entries[1].content[0].value
    assert parsed.entries[1].tags[0].term == "politics"
    assert parsed.feed.title == "aggregator: 정치"

    second = client.get(
        "/feeds/tag/politics.atom",
        headers={"If-None-Match": etag, "If-Modified-Since": modified},
    )
    assert second.status_code == 304 and second.content == b""
    assert second.headers["etag"] == etag

    # what a reader that keeps only the date sends
    only_date = client.get("/feeds/tag/politics.atom", headers={"If-Modified-Since": modified})
    assert only_date.status_code == 304
    # a stale validator, or a new article, gets the feed again
    stale = client.get("/feeds/tag/politics.atom", headers={"If-None-Match": 'W/"old", "x"'})
    assert stale.status_code == 200
    add(
        store,
        YNA,
        "https://www.yna.co.kr/view/7",
        "대통령실, 개각 발표",
        seen=NOW,
        tags=_tags("politics"),
    )
    third = client.get("/feeds/tag/politics.atom", headers={"If-None-Match": etag})
    assert third.status_code == 200 and third.headers["etag"] != etag
    assert feedparser.parse(third.content).entries[0].title == "대통령실, 개각 발표"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/opml", "text/x-opml; charset=utf-8"),
        ("/feeds/all.atom", "application/atom+xml; charset=utf-8"),
        ("/feeds/all.rss", "application/rss+xml; charset=utf-8"),
        ("/feeds/all.json", "application/feed+json; charset=utf-8"),
        ("/feeds/tag/economy.rss", "application/rss+xml; charset=utf-8"),
        ("/feeds/tag/society.json?utm_source=reader", "application/feed+json; charset=utf-8"),
    ],
)
def test_routes(client: httpx.Client, path: str, content_type: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["etag"] and response.headers["x-content-type-options"] == "nosniff"
    if content_type.startswith("application/feed+json"):
        assert json.loads(response.content)["version"] == "https://jsonfeed.org/version/1.1"
    else:
        assert feedparser.parse(response.content).bozo == 0 or path == "/opml"


@pytest.mark.parametrize(
    "path",
    [
        "/index.html",
        "/feeds/all.xml",
        "/feeds/tag/nope.atom",
        "/feeds/tag/Politics.atom",
        "/feeds/tag/..%2Fall.atom",
        "/feeds/tag/politics%2Eatom",
        "/feeds/tag/politics.atom/x",
        "/opml.xml",
        "/etc/passwd",
        "/healthz/x",
    ],
)
def test_anything_else_is_404(client: httpx.Client, path: str) -> None:
    assert client.get(path).status_code == 404


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.alternate: dict[str, str] = {}
        self.anchors: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        a = dict(attrs)
        if tag == "link" and a.get("rel") == "alternate":
            self.alternate[a["href"] or ""] = a["type"] or ""
        elif tag == "a":
            self.anchors.append(a["href"] or "")


def _links(html: str) -> _Links:
    links = _Links()
    links.feed(html)
    return links


def test_the_index_is_the_day_by_tag_with_article_pages_and_feeds(
    store: SqlStore, server: FeedServer
) -> None:
    with httpx.Client(base_url=server.url, trust_env=False, timeout=10) as client:
        response = client.get("/")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script" not in policy
        page = response.text
        links = _links(page)
        assert "script" not in links.tags and "iframe" not in links.tags
        assert "헌재, 선고 기일 지정" in page and "<h2>정치" in page
        assert "\x1b" not in page
        assert links.alternate["/feeds/all.atom"] == "application/atom+xml"
        assert links.alternate["/feeds/tag/economy.json"] == "application/feed+json"
        articles = [href for href in links.anchors if href.startswith("/articles/")]
        assert len(articles) >= 3
        # Every link on the page works.
        for href in {*links.alternate, *links.anchors}:
            assert client.get(href).status_code in (200, 503), href
        assert client.head("/").status_code == 200 and client.head("/").content == b""


def test_article_pages_follow_the_republish_policy(store: SqlStore, server: FeedServer) -> None:
    ids = {a.title[:6]: a.id for a in store.list_articles(limit=100)}
    with httpx.Client(base_url=server.url, trust_env=False, timeout=10) as client:
        full = client.get(f"/articles/{ids['국회, 내년']}")
        assert full.status_code == 200
        assert "<script" not in full.text.lower() and "onerror" not in full.text.lower()
        assert 'href="https://www.yna.co.kr/view/1"' in full.text
        summary = client.get(f"/articles/{ids['헌재, 선고']}").text
        assert "선고 기일" in summary and DEEP_SENTENCE not in summary  # summary only
        link_only = client.get(f"/articles/{ids['링크만 허용']}").text
        assert 'href="https://link.example/3"' in link_only and "<article>" not in link_only
        assert client.get("/articles/999999").status_code == 404
        assert client.get("/articles/0").status_code == 404


def test_the_index_escapes_feed_text() -> None:
    from zoneinfo import ZoneInfo

    from aggregator.export.pages import index_html

    page = index_html(
        [],
        {"economy": '<script>alert(1)</script>"'},
        title="t",
        heading="<b>h</b>",
        tz=ZoneInfo("UTC"),
    )
    assert "<script>" not in page and "&lt;script&gt;" in page and "<b>h</b>" not in page


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND"])
def test_other_methods_are_405(client: httpx.Client, method: str) -> None:
    response = client.request(method, "/feeds/all.atom", content=b"x")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    # the connection stays usable
    assert client.get("/feeds/all.atom").status_code == 200


def test_gzip_when_accepted(client: httpx.Client) -> None:
    plain = client.get("/feeds/all.atom", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    zipped = client.get("/feeds/all.atom", headers={"Accept-Encoding": "br;q=1, gzip;q=0.5"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.content == plain.content  # httpx decoded it
    assert int(zipped.headers["content-length"]) < len(plain.content)
    refused = client.get("/feeds/all.atom", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers


def test_gzip_body_is_valid_gzip(server: FeedServer) -> None:
    host, port = server.address
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(
            b"GET /feeds/all.json HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n"
            b"Connection: close\r\n\r\n"
        )
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, body = raw.split(b"\r\n\r\n", 1)
    assert b"Content-Encoding: gzip" in head
    assert json.loads(gzip.decompress(body))["items"]


def test_head_answers_the_headers_of_get(client: httpx.Client) -> None:
    get = client.get("/feeds/all.rss")
    head = client.head("/feeds/all.rss")
    plain = client.get("/feeds/all.rss", headers={"Accept-Encoding": "identity"})
    plain_head = client.head("/feeds/all.rss", headers={"Accept-Encoding": "identity"})
    assert plain_head.headers["content-length"] == str(len(plain.content))
    assert head.status_code == 200 and head.content == b""
    for name in ("content-length", "content-encoding", "etag", "last-modified", "content-type"):
        assert head.headers[name] == get.headers[name]
    conditional = client.head("/feeds/all.rss", headers={"If-None-Match": get.headers["etag"]})
    assert conditional.status_code == 304
    assert client.head("/nope").status_code == 404
    assert client.head("/healthz").status_code in (200, 503)


def test_if_modified_since_before_the_newest_change(client: httpx.Client) -> None:
    modified = client.get("/feeds/all.atom").headers["last-modified"]
    earlier = format_datetime(datetime(2020, 1, 1, tzinfo=UTC), usegmt=True)
    assert client.get("/feeds/all.atom", headers={"If-Modified-Since": earlier}).status_code == 200
    assert (
        client.get("/feeds/all.atom", headers={"If-Modified-Since": "garbage"}).status_code == 200
    )
    assert client.get("/feeds/all.atom", headers={"If-Modified-Since": modified}).status_code == 304


def test_healthz(client: httpx.Client, store: SqlStore) -> None:
    down = client.get("/healthz")
    assert down.status_code == 503
    assert down.headers["content-type"] == "application/json; charset=utf-8"
    assert down.json() == {
        "status": "unavailable",
        "database": "ok",
        "daemon": {"alive": False, "heartbeat_age_s": None, "max_age_s": 30.0},
    }
    store.register_instance("host:1:abc", "host", "0.1.0", FIXED_NOW - timedelta(seconds=4))
    up = client.get("/healthz")
    assert up.status_code == 200
    assert up.json()["daemon"] == {"alive": True, "heartbeat_age_s": 4.0, "max_age_s": 30.0}
    store.heartbeat("host:1:abc", FIXED_NOW - timedelta(minutes=5))
    stale = client.get("/healthz")
    assert stale.status_code == 503 and stale.json()["daemon"]["heartbeat_age_s"] == 300.0


def test_healthz_database_unreachable(tmp_path: Path) -> None:
    # A PostgreSQL server that is not there: port 1 on loopback refuses at once.
    broken = SqlStore(make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"))
    running = start_server(make_config(), broken, listen="127.0.0.1:0").start()
    try:
        with httpx.Client(base_url=running.url, trust_env=False, timeout=10) as c:
            health = c.get("/healthz")
            assert health.status_code == 503 and health.json()["database"] == "unreachable"
            feed = c.get("/feeds/all.atom")
            assert feed.status_code == 503 and feed.headers["retry-after"] == "30"
    finally:
        running.stop()
        broken.close()


# -- binding ---------------------------------------------------------------------------------


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_listen(" [::1]:0 ") == ("::1", 0)
    assert parse_listen("localhost:80") == ("localhost", 80)
    for bad in ("8080", "127.0.0.1", "::1:80", "host:99999", "a b:1", ""):
        with pytest.raises(ValueError):
            parse_listen(bad)


def test_only_loopback_unless_told() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.8.9.10") and is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("192.0.2.1")
    assert not is_loopback("no-such-host.invalid")
    with pytest.raises(ConfigError, match="not a loopback address"):
        start_server(make_config(), None, listen="0.0.0.0:0")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="not a loopback address"):
        start_server(make_config(), None, listen="[::]:0")  # type: ignore[arg-type]


def test_ipv6_loopback(store: SqlStore) -> None:
    try:
        running = start_server(make_config(), store, listen="[::1]:0").start()
    except Exception as exc:  # no IPv6 on this machine
        pytest.skip(f"no IPv6 loopback: {exc}")
    try:
        with httpx.Client(base_url=running.url, trust_env=False, timeout=10) as c:
            assert c.get("/opml").status_code == 200
    finally:
        running.stop()


def test_cli_serve_refuses_a_public_address(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {"database": f"sqlite:///{tmp_path / 'a.db'}", "serve": {"listen": "0.0.0.0:8080"}}
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["serve", "--config", str(path)])
    assert result.exit_code == 2 and "not a loopback address" in result.output
    bad = CliRunner().invoke(cli, ["serve", "--config", str(path), "--listen", "nonsense"])
    assert bad.exit_code == 2 and "not host:port" in bad.output


def test_config_keys() -> None:
    with pytest.raises(ConfigError, match=r"serve\.listen"):
        make_config_with(serve={"listen": "localhost"})
    with pytest.raises(ConfigError, match=r"feeds\[0\]\.republish"):
        make_config_with(feeds=[{"url": "https://a.example/", "republish": "everything"}])
    with pytest.raises(ConfigError, match=r"export\.every"):
        make_config_with(export={"every": "1s"})


def make_config_with(**data: Any) -> Any:
    from aggregator.config.schema import parse_config

    return parse_config(data)


# -- inside the daemon -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_daemon_serves_and_writes_the_export_dir(db_url: str, tmp_path: Path) -> None:
    from tests.service.test_daemon import FeedServer as Site
    from tests.service.test_daemon import running, wait_for, write_config

    port = _free_port()
    public = tmp_path / "public"
    with Site() as site:
        url = site.add_feed("politics", 3)
        config = write_config(tmp_path / "config.yaml", db_url, [{"url": url, "full_text": False}])
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
        data["serve"] = {"enabled": True, "listen": f"127.0.0.1:{port}"}
        data["export"] = {"dir": str(public), "every": "10s"}
        config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        with (
            running(config, tmp_path / "daemon.log") as daemon,
            httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=5) as client,
        ):

            def feed_ready() -> Any:
                try:
                    response = client.get("/feeds/all.atom")
                except httpx.TransportError:
                    return None
                parsed = feedparser.parse(response.content)
                return parsed if len(parsed.entries) == 3 else None

            parsed = wait_for("the served feed", feed_ready, 60, daemons=(daemon,))
            assert parsed.bozo == 0 and "경제정책 방향 확정" in parsed.entries[0].title
            assert client.get("/healthz").json()["daemon"]["alive"] is True
            wait_for(
                "the export dir",
                lambda: (public / "feeds" / "all.atom").exists() or None,
                30,
                daemons=(daemon,),
            )
            assert len(feedparser.parse((public / "feeds/all.atom").read_bytes()).entries) == 3
            daemon.signal(signal.SIGTERM)
            daemon.proc.wait(timeout=60)
            assert daemon.proc.returncode == 0, daemon.log()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the server still accepts connections after the daemon stopped")


def _chromium() -> str:
    import shutil

    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("no chromium (Debian package chromium; .ci/run installs it)")
    return found


def _in_chromium(url: str, profile: Path) -> tuple[str, list[str]]:
    """The page's DOM after Chromium loaded it headless, and what its console said."""
    import subprocess

    done = subprocess.run(
        [
            _chromium(),
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, console


def test_the_pages_render_in_a_real_browser_without_console_errors(
    store: SqlStore, server: FeedServer, tmp_path: Path
) -> None:
    dom, console = _in_chromium(server.url + "/", tmp_path / "profile")
    assert "헌재, 선고 기일 지정" in dom and "정치" in dom and "/feeds/all.atom" in dom
    assert console == [], console
    first = re.search(r'href="(/articles/\d+)"', dom)
    assert first is not None
    dom, console = _in_chromium(server.url + first.group(1), tmp_path / "profile")
    assert "원문" in dom and console == [], console
