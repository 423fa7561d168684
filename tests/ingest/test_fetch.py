"""Tests of aggregator.ingest.fetch against real HTTP servers on 127.0.0.1 (never the internet).

pytest-httpserver covers ordinary request/response cases; small socket servers started in
threads (fixtures below) cover what it cannot script: dripping, stalling, garbage, counting
concurrency, TLS handshakes, and "was a connection ever made".
"""

from __future__ import annotations

import gzip
import shutil
import socket
import ssl
import subprocess
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from aggregator import __version__
from aggregator.errors import BlockedAddressError, FetchError
from aggregator.ingest.fetch import Fetcher, FetchSettings, HttpFetcher, blocked_address_reason

LOCAL = FetchSettings(
    allow_private_networks=True, connect_timeout=2.0, read_timeout=2.0, total_timeout=5.0
)

# Every refusal says which setting allows the address (`extract` on a loopback page named the
# address but not the setting).
ALLOW_HINT = " (fetch.allow_private_networks: true, or the host in fetch.allowed_hosts, allows it)"


# --------------------------------------------------------------------------- test servers


def _read_request_head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


@dataclass
class ScriptedServer:
    """TCP server on 127.0.0.1 that runs ``script(conn, stop)`` for each connection."""

    script: Callable[[socket.socket, threading.Event], None]
    wrap: Callable[[socket.socket], socket.socket] | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    accepted: int = 0

    def __post_init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.port: int = self._sock.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self._conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            if self.wrap is not None:
                conn = self.wrap(conn)
            self.script(conn, self.stop)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self._sock.close()
        for conn in self._conns:
            conn.close()
        self._thread.join(2)


@pytest.fixture
def scripted() -> Iterator[Callable[..., ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(
        script: Callable[[socket.socket, threading.Event], None],
        wrap: Callable[[socket.socket], socket.socket] | None = None,
    ) -> ScriptedServer:
        server = ScriptedServer(script, wrap)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def _drip(conn: socket.socket, stop: threading.Event) -> None:
    """Valid headers, then one body byte every 0.25 s: never idle long enough for a read
    timeout, so only a total deadline ends it."""
    _read_request_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    while not stop.wait(0.25):
        conn.sendall(b"x")


def _stall(conn: socket.socket, stop: threading.Event) -> None:
    """Accept, then say nothing at all."""
    stop.wait(30)


@pytest.fixture
def drip_server(scripted: Callable[..., ScriptedServer]) -> ScriptedServer:
    return scripted(_drip)


@pytest.fixture
def stall_server(scripted: Callable[..., ScriptedServer]) -> ScriptedServer:
    return scripted(_stall)


class RawListener:
    """A listening socket nobody accepts on: proves whether any TCP connection was made
    (the kernel completes the handshake into the backlog even without accept())."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]

    def saw_connection(self) -> bool:
        self.sock.setblocking(False)
        try:
            conn, _ = self.sock.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True


@pytest.fixture
def raw_listener() -> Iterator[RawListener]:
    listener = RawListener()
    yield listener
    listener.sock.close()


@dataclass
class ConcurrencyServer:
    port: int
    max_active: int = 0
    active: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def slow_threaded_server() -> Iterator[ConcurrencyServer]:
    """Threaded HTTP server whose handler takes 0.3 s and records peak concurrency."""
    state = ConcurrencyServer(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with state.lock:
                state.active += 1
                state.max_active = max(state.max_active, state.active)
            time.sleep(0.3)
            with state.lock:
                state.active -= 1
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def local() -> Iterator[HttpFetcher]:
    with HttpFetcher(LOCAL) as fetcher:
        yield fetcher


def _server_ip(httpserver: HTTPServer) -> str:
    assert httpserver.server is not None
    return str(httpserver.server.server_address[0])


def _redirect(location: str, status: int = 302) -> Response:
    return Response(status=status, headers={"Location": location})


# --------------------------------------------------------------------------- basics


def test_get_returns_body_headers_and_sends_user_agent(
    httpserver: HTTPServer, local: HttpFetcher
) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        "<rss/>", content_type="application/rss+xml", headers={"X-Custom": "A"}
    )
    url = httpserver.url_for("/feed")

    result = local.fetch(url, accept="application/rss+xml")

    assert (result.url, result.final_url, result.status) == (url, url, 200)
    assert result.content == b"<rss/>"
    assert result.content_type == "application/rss+xml"
    assert result.headers["x-custom"] == "A"
    assert all(name == name.lower() for name in result.headers)
    assert result.permanent_redirect is None and not result.not_modified
    request = httpserver.log[0][0]
    assert request.headers["User-Agent"] == (
        f"aggregator/{__version__} (+https://github.com/aggregator-news/aggregator)"
    )
    assert request.headers["Accept-Encoding"] == "gzip, deflate"
    assert request.headers["Accept"] == "application/rss+xml"


def test_conditional_get_sends_validators_and_304_is_a_result(
    httpserver: HTTPServer, local: HttpFetcher
) -> None:
    lm = "Wed, 21 Oct 2026 07:28:00 GMT"
    httpserver.expect_request(
        "/feed", headers={"If-None-Match": '"v1"', "If-Modified-Since": lm}
    ).respond_with_response(Response(status=304, headers={"ETag": '"v1"', "Last-Modified": lm}))

    result = local.fetch(httpserver.url_for("/feed"), etag='"v1"', last_modified=lm)

    assert result.not_modified and result.status == 304
    assert result.content == b""
    assert result.etag == '"v1"'
    # werkzeug drops Last-Modified from a 304; the one we sent still holds.
    assert "last-modified" not in result.headers
    assert result.last_modified == lm


def test_304_validators_come_from_the_response_when_present(
    scripted: Callable[..., ScriptedServer],
) -> None:
    def not_modified(conn: socket.socket, stop: threading.Event) -> None:
        _read_request_head(conn)
        conn.sendall(
            b'HTTP/1.1 304 Not Modified\r\nETag: "v2"\r\n'
            b"Last-Modified: Thu, 22 Oct 2026 00:00:00 GMT\r\n\r\n"
        )

    server = scripted(not_modified)
    with HttpFetcher(LOCAL) as fetcher:
        result = fetcher.fetch(server.url, etag='"v1"', last_modified="x")
    assert result.not_modified
    assert (result.etag, result.last_modified) == ('"v2"', "Thu, 22 Oct 2026 00:00:00 GMT")


def test_validators_of_a_200_are_returned_and_none_sent_unasked(
    httpserver: HTTPServer, local: HttpFetcher
) -> None:
    lm = "Wed, 21 Oct 2026 07:28:00 GMT"
    httpserver.expect_request("/feed").respond_with_data(
        "x", headers={"ETag": 'W/"abc"', "Last-Modified": lm}
    )
    result = local.fetch(httpserver.url_for("/feed"))
    assert (result.etag, result.last_modified) == ('W/"abc"', lm)
    request = httpserver.log[0][0]
    assert "If-None-Match" not in request.headers
    assert "If-Modified-Since" not in request.headers


def _raw_deflate(data: bytes) -> bytes:
    """Deflate without the zlib wrapper, as some servers wrongly send it."""
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", _raw_deflate),
        ("gzip, gzip", lambda b: gzip.compress(gzip.compress(b))),
    ],
    ids=["gzip", "x-gzip", "deflate-zlib", "deflate-raw", "gzip-twice"],
)
def test_compressed_bodies_are_decoded(
    httpserver: HTTPServer,
    local: HttpFetcher,
    encoding: str,
    encode: Callable[[bytes], bytes],
) -> None:
    body = "한국어 뉴스 본문 ".encode() * 20_000  # several inflate steps long
    payload = encode(body)
    httpserver.expect_request("/z").respond_with_data(
        payload, headers={"Content-Encoding": encoding}
    )
    result = local.fetch(httpserver.url_for("/z"))
    assert result.content == body
    assert "content-encoding" not in result.headers
    assert "content-length" not in result.headers


def test_unsupported_content_encoding_is_an_error(
    httpserver: HTTPServer, local: HttpFetcher
) -> None:
    httpserver.expect_request("/br").respond_with_data(b"\x0b", headers={"Content-Encoding": "br"})
    with pytest.raises(FetchError, match="unsupported Content-Encoding br"):
        local.fetch(httpserver.url_for("/br"))


def test_corrupt_gzip_is_an_error(httpserver: HTTPServer, local: HttpFetcher) -> None:
    httpserver.expect_request("/bad").respond_with_data(
        b"\x1f\x8b" + b"garbage" * 10, headers={"Content-Encoding": "gzip"}
    )
    with pytest.raises(FetchError, match="could not decompress") as info:
        local.fetch(httpserver.url_for("/bad"))
    assert isinstance(info.value.__cause__, zlib.error)


def test_connections_are_reused(scripted: Callable[..., ScriptedServer]) -> None:
    def keep_alive(conn: socket.socket, stop: threading.Event) -> None:
        while _read_request_head(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    server = scripted(keep_alive)
    with HttpFetcher(LOCAL) as http_fetcher:
        fetcher: Fetcher = http_fetcher  # mypy checks HttpFetcher against the protocol
        for _ in range(3):
            assert fetcher.fetch(server.url).content == b"ok"
    assert server.accepted == 1


# --------------------------------------------------------------------------- body cap


def test_body_at_the_cap_is_accepted_and_one_byte_more_is_not(httpserver: HTTPServer) -> None:
    settings = FetchSettings(allow_private_networks=True, max_body_bytes=1000)
    httpserver.expect_request("/ok").respond_with_data(b"a" * 1000)
    httpserver.expect_request("/big").respond_with_data(b"a" * 1001)
    with HttpFetcher(settings) as fetcher:
        assert len(fetcher.fetch(httpserver.url_for("/ok")).content) == 1000
        with pytest.raises(FetchError, match="response body exceeds 1000 bytes") as info:
            fetcher.fetch(httpserver.url_for("/big"))
    assert info.value.status is None


def test_body_cap_holds_without_content_length(
    scripted: Callable[..., ScriptedServer],
) -> None:
    def no_length(conn: socket.socket, stop: threading.Event) -> None:
        _read_request_head(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"a" * 5000)

    server = scripted(no_length)
    settings = FetchSettings(allow_private_networks=True, max_body_bytes=4096)
    with HttpFetcher(settings) as fetcher, pytest.raises(FetchError, match="exceeds 4096"):
        fetcher.fetch(server.url)


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    return gzip.compress(bytes(50 * 1024 * 1024), compresslevel=6)


@pytest.mark.parametrize("layers", [1, 2], ids=["gzip", "gzip-of-gzip"])
def test_gzip_bomb_is_cut_off_without_inflating_it(
    scripted: Callable[..., ScriptedServer], gzip_bomb: bytes, layers: int
) -> None:
    payload = gzip_bomb if layers == 1 else gzip.compress(gzip_bomb)
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Encoding: {', '.join(['gzip'] * layers)}\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode()

    def serve_bomb(conn: socket.socket, stop: threading.Event) -> None:
        _read_request_head(conn)
        conn.sendall(head + payload)

    # A plain socket server, not pytest-httpserver: tracemalloc counts every thread, and a
    # bare httpx GET of 100 bytes from werkzeug's in-process server sometimes peaks ~10 MB.
    server = scripted(serve_bomb)
    settings = FetchSettings(allow_private_networks=True, max_body_bytes=1024 * 1024)
    with HttpFetcher(settings) as fetcher:
        tracemalloc.start()
        started = time.monotonic()
        try:
            with pytest.raises(FetchError, match="exceeds 1048576 bytes"):
                fetcher.fetch(server.url)
            elapsed = time.monotonic() - started
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert elapsed < 2.0
    # 50 MiB decoded; we hold the 1 MiB cap plus a step or two, never the whole thing.
    assert peak < 6 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


# --------------------------------------------------------------------------- redirects


def test_redirects_are_followed_and_permanent_when_all_hops_are(
    httpserver: HTTPServer, local: HttpFetcher
) -> None:
    httpserver.expect_request("/a").respond_with_response(_redirect("/b", 301))
    httpserver.expect_request("/b").respond_with_response(_redirect("/x/c", 308))
    httpserver.expect_request("/x/c").respond_with_data("done")

    result = local.fetch(httpserver.url_for("/a"))

    assert result.content == b"done"
    assert result.final_url == httpserver.url_for("/x/c")
    assert result.permanent_redirect == result.final_url
    assert result.url == httpserver.url_for("/a")


def test_one_temporary_hop_makes_the_redirect_not_permanent(
    httpserver: HTTPServer, local: HttpFetcher
) -> None:
    httpserver.expect_request("/a").respond_with_response(_redirect("/b", 301))
    httpserver.expect_request("/b").respond_with_response(_redirect("/c", 302))
    httpserver.expect_request("/c").respond_with_data("done")
    result = local.fetch(httpserver.url_for("/a"))
    assert result.final_url == httpserver.url_for("/c")
    assert result.permanent_redirect is None


def test_relative_location_is_resolved_against_the_current_url(
    httpserver: HTTPServer, local: HttpFetcher
) -> None:
    httpserver.expect_request("/news/2026/a").respond_with_response(_redirect("../latest?x=1"))
    httpserver.expect_request("/news/latest", query_string="x=1").respond_with_data("ok")
    result = local.fetch(httpserver.url_for("/news/2026/a"))
    assert result.final_url == httpserver.url_for("/news/latest?x=1")


def test_too_many_redirects(httpserver: HTTPServer) -> None:
    for i in range(3):
        httpserver.expect_request(f"/r{i}").respond_with_response(_redirect(f"/r{i + 1}"))
    httpserver.expect_request("/r3").respond_with_data("end")
    with HttpFetcher(FetchSettings(allow_private_networks=True, max_redirects=3)) as ok:
        assert ok.fetch(httpserver.url_for("/r0")).content == b"end"
    with (
        HttpFetcher(FetchSettings(allow_private_networks=True, max_redirects=2)) as strict,
        pytest.raises(FetchError, match=r"^too many redirects$"),
    ):
        strict.fetch(httpserver.url_for("/r0"))


@pytest.mark.parametrize("location", ["ftp://example.com/feed", "file:///etc/passwd"])
def test_redirect_to_a_non_http_scheme_is_refused(
    httpserver: HTTPServer, local: HttpFetcher, location: str
) -> None:
    httpserver.expect_request("/a").respond_with_response(_redirect(location))
    with pytest.raises(FetchError, match="refusing redirect to"):
        local.fetch(httpserver.url_for("/a"))


def test_redirect_without_location(httpserver: HTTPServer, local: HttpFetcher) -> None:
    httpserver.expect_request("/a").respond_with_response(Response(status=302))
    with pytest.raises(FetchError, match="HTTP 302 redirect without Location"):
        local.fetch(httpserver.url_for("/a"))


# --------------------------------------------------------------------------- HTTP errors


def test_http_error_status(httpserver: HTTPServer, local: HttpFetcher) -> None:
    httpserver.expect_request("/gone").respond_with_data("nope", status=404)
    with pytest.raises(FetchError) as info:
        local.fetch(httpserver.url_for("/gone"))
    assert str(info.value) == "HTTP 404 Not Found"
    assert info.value.status == 404 and info.value.retry_after is None
    assert info.value.url == httpserver.url_for("/gone")


def test_http_error_carries_retry_after_and_final_url(
    httpserver: HTTPServer, local: HttpFetcher
) -> None:
    httpserver.expect_request("/a").respond_with_response(_redirect("/busy"))
    httpserver.expect_request("/busy").respond_with_data(
        "", status=503, headers={"Retry-After": "120"}
    )
    with pytest.raises(FetchError) as info:
        local.fetch(httpserver.url_for("/a"))
    assert info.value.status == 503 and info.value.retry_after == "120"
    assert str(info.value) == f"HTTP 503 Service Unavailable (at {httpserver.url_for('/busy')})"


# --------------------------------------------------------------------------- transport errors


def test_connection_refused(local: HttpFetcher) -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(FetchError, match=r"^could not connect to") as info:
        local.fetch(f"http://127.0.0.1:{port}/")
    assert info.value.__cause__ is not None


def test_dns_failure_is_a_fetch_error() -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with (
        HttpFetcher(LOCAL, resolver=resolver) as fetcher,
        pytest.raises(FetchError, match=r"could not resolve host 'nowhere\.test'"),
    ):
        fetcher.fetch("http://nowhere.test/feed")


def test_garbage_response_is_a_fetch_error(scripted: Callable[..., ScriptedServer]) -> None:
    def garbage(conn: socket.socket, stop: threading.Event) -> None:
        _read_request_head(conn)
        conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")

    server = scripted(garbage)
    with HttpFetcher(LOCAL) as fetcher, pytest.raises(FetchError, match="bad HTTP response"):
        fetcher.fetch(server.url)


@pytest.mark.parametrize("url", ["ftp://example.com/", "http://[::1", "no scheme", "http:///x"])
def test_invalid_urls_are_fetch_errors(local: HttpFetcher, url: str) -> None:
    with pytest.raises(FetchError):
        local.fetch(url)


def test_closed_fetcher(httpserver: HTTPServer) -> None:
    fetcher = HttpFetcher(LOCAL)
    fetcher.close()
    with pytest.raises(FetchError, match="fetcher is closed"):
        fetcher.fetch(httpserver.url_for("/"))


# --------------------------------------------------------------------------- deadlines


def _timed_failure(fetcher: HttpFetcher, url: str) -> tuple[FetchError, float]:
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetcher.fetch(url)
    return info.value, time.monotonic() - started


def test_dripping_server_is_cut_off_at_the_total_deadline(drip_server: ScriptedServer) -> None:
    settings = FetchSettings(allow_private_networks=True, read_timeout=5.0, total_timeout=1.5)
    with HttpFetcher(settings) as fetcher:
        error, elapsed = _timed_failure(fetcher, drip_server.url)
    assert 1.4 < elapsed < 2.5
    assert "total timeout of 1.5 s" in str(error)


def test_silent_server_is_cut_off_at_the_total_deadline(stall_server: ScriptedServer) -> None:
    settings = FetchSettings(allow_private_networks=True, read_timeout=10.0, total_timeout=1.5)
    with HttpFetcher(settings) as fetcher:
        error, elapsed = _timed_failure(fetcher, stall_server.url)
    assert 1.4 < elapsed < 2.5
    assert "total timeout of 1.5 s" in str(error)


def test_read_timeout_applies_before_the_deadline(stall_server: ScriptedServer) -> None:
    settings = FetchSettings(allow_private_networks=True, read_timeout=0.5, total_timeout=10.0)
    with HttpFetcher(settings) as fetcher:
        error, elapsed = _timed_failure(fetcher, stall_server.url)
    assert elapsed < 1.5
    assert str(error).startswith("timed out waiting for")


def test_hanging_dns_is_cut_off_at_the_deadline() -> None:
    def slow_resolver(host: str, port: int) -> list[str]:
        time.sleep(3)
        return ["127.0.0.1"]

    settings = FetchSettings(allow_private_networks=True, total_timeout=1.0)
    with HttpFetcher(settings, resolver=slow_resolver) as fetcher:
        error, elapsed = _timed_failure(fetcher, "http://slow-dns.test/")
    assert elapsed < 1.8
    assert "total timeout of 1 s" in str(error)


# --------------------------------------------------------------------------- per-host limit


def test_per_host_concurrency_limit(slow_threaded_server: ConcurrencyServer) -> None:
    url = f"http://127.0.0.1:{slow_threaded_server.port}/"
    settings = FetchSettings(allow_private_networks=True, per_host_limit=2)
    with HttpFetcher(settings) as fetcher, ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: fetcher.fetch(url), range(6)))
        assert fetcher._slots == {}  # idle hosts are forgotten
    assert all(r.content == b"ok" for r in results)
    assert slow_threaded_server.max_active == 2


# --------------------------------------------------------------------------- SSRF guard


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("0:0:0:0:0:0:0:1", "loopback"),
        ("::ffff:127.0.0.1", "IPv4-embedded loopback"),
        ("::ffff:10.0.0.1", "IPv4-embedded private"),
        ("64:ff9b::7f00:1", "IPv4-embedded loopback"),
        ("2002:a9fe:a9fe::1", "IPv4-embedded link-local"),
        ("::127.0.0.1", "reserved"),  # deprecated IPv4-compatible form
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.0.1", "private"),
        ("fd12:3456::1", "private"),
        ("fc00::1", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("0.1.2.3", "reserved"),
        ("255.255.255.255", "broadcast"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.10", "reserved"),
        ("198.18.0.1", "reserved"),
        ("2001:db8::1", "reserved"),
        ("2001::1", "reserved"),  # Teredo
        ("8.8.8.8", None),
        ("1.1.1.1", None),
        ("172.32.0.1", None),
        ("100.128.0.1", None),
        ("211.234.100.10", None),
        ("2001:4860::8888", None),
        ("2001:4860:4860::8888", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),
        ("2002:808:808::1", None),
    ],
)
def test_address_classifier(address: str, reason: str | None) -> None:
    assert blocked_address_reason(address) == reason


def test_loopback_link_is_refused_without_connecting(
    raw_listener: RawListener, httpserver: HTTPServer
) -> None:
    url = f"http://127.0.0.1:{raw_listener.port}/article/1"
    with HttpFetcher() as fetcher:
        with pytest.raises(BlockedAddressError) as info:
            fetcher.fetch(url)
        with pytest.raises(BlockedAddressError):
            fetcher.fetch(httpserver.url_for("/feed"))
    assert (
        str(info.value) == f"refusing to fetch {url}: 127.0.0.1 is a loopback address" + ALLOW_HINT
    )
    assert info.value.url == url
    assert not raw_listener.saw_connection()
    assert httpserver.log == []


def test_loopback_link_is_fetched_when_private_networks_are_allowed(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request("/feed").respond_with_data("ok")
    url = f"http://{_server_ip(httpserver)}:{httpserver.port}/feed"
    with HttpFetcher(FetchSettings(allow_private_networks=True)) as fetcher:
        assert fetcher.fetch(url).content == b"ok"


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("0.0.0.0", "0.0.0.0 is an unspecified address"),
        ("[::1]", "::1 is a loopback address"),
        ("[::ffff:127.0.0.1]", "is an IPv4-embedded loopback address"),
    ],
)
def test_ip_literal_hosts_are_refused(raw_listener: RawListener, host: str, message: str) -> None:
    with HttpFetcher() as fetcher, pytest.raises(BlockedAddressError, match=message):
        fetcher.fetch(f"http://{host}:{raw_listener.port}/")
    assert not raw_listener.saw_connection()


def test_public_name_resolving_to_loopback_is_refused(raw_listener: RawListener) -> None:
    """DNS rebinding: the name looks public, the resolver says 127.0.0.1."""
    seen: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        seen.append((host, port))
        return ["127.0.0.1"]

    url = f"http://news.example.com:{raw_listener.port}/a"
    with HttpFetcher(resolver=resolver) as fetcher, pytest.raises(BlockedAddressError) as info:
        fetcher.fetch(url)
    assert (
        str(info.value) == f"refusing to fetch {url}: 127.0.0.1 is a loopback address" + ALLOW_HINT
    )
    assert seen == [("news.example.com", raw_listener.port)]
    assert not raw_listener.saw_connection()


def test_one_private_address_among_public_ones_refuses_the_host() -> None:
    # Refused before any connect, so the public address is never contacted either.
    with (
        HttpFetcher(resolver=lambda host, port: ["93.184.215.14", "10.0.0.7"]) as fetcher,
        pytest.raises(BlockedAddressError, match=r"10\.0\.0\.7 is a private address"),
    ):
        fetcher.fetch("http://mixed.example.com/")


@pytest.fixture
def guarded_via_allowed_host(
    httpserver: HTTPServer, raw_listener: RawListener
) -> Iterator[HttpFetcher]:
    """Default guard, but "feed.test" (→ the test server) is operator-allowed, so a first
    hop can be served locally while later hops face the guard."""
    ip = _server_ip(httpserver)
    table = {"feed.test": ip, "rebind.example.com": "127.0.0.1"}
    settings = FetchSettings(allowed_hosts=frozenset({"feed.test"}))
    with HttpFetcher(settings, resolver=lambda host, port: [table[host]]) as fetcher:
        yield fetcher


def test_allowed_host_is_fetched(
    httpserver: HTTPServer, guarded_via_allowed_host: HttpFetcher
) -> None:
    httpserver.expect_request("/feed").respond_with_data("ok")
    result = guarded_via_allowed_host.fetch(f"http://feed.test:{httpserver.port}/feed")
    assert result.content == b"ok"


@pytest.mark.parametrize(
    ("target", "address"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local"),
        ("http://127.0.0.1:{raw}/admin", "127.0.0.1 is a loopback"),
        ("http://rebind.example.com:{raw}/x", "127.0.0.1 is a loopback"),
    ],
)
def test_redirect_to_a_private_address_is_refused(
    httpserver: HTTPServer,
    raw_listener: RawListener,
    guarded_via_allowed_host: HttpFetcher,
    target: str,
    address: str,
) -> None:
    location = target.format(raw=raw_listener.port)
    httpserver.expect_request("/feed").respond_with_response(_redirect(location))
    url = f"http://feed.test:{httpserver.port}/feed"
    with pytest.raises(BlockedAddressError) as info:
        guarded_via_allowed_host.fetch(url)
    assert str(info.value) == f"refusing to fetch {location}: {address} address" + ALLOW_HINT
    assert info.value.url == url
    assert len(httpserver.log) == 1
    assert not raw_listener.saw_connection()


def test_proxy_environment_is_ignored(
    httpserver: HTTPServer, raw_listener: RawListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = f"http://127.0.0.1:{raw_listener.port}"
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, proxy)
    httpserver.expect_request("/feed").respond_with_data("direct")
    with HttpFetcher(LOCAL) as fetcher:
        assert fetcher.fetch(httpserver.url_for("/feed")).content == b"direct"
    assert not raw_listener.saw_connection()


def test_idn_host_is_resolved_in_punycode(httpserver: HTTPServer) -> None:
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return [_server_ip(httpserver)]

    httpserver.expect_request("/").respond_with_data("ok")
    with HttpFetcher(LOCAL, resolver=resolver) as fetcher:
        fetcher.fetch(f"http://한국일보.test:{httpserver.port}/")
    assert asked == ["한국일보".encode("idna").decode("ascii") + ".test"]


# --------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def self_signed_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not available")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-nodes", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-keyout", str(key), "-out", str(cert),
            "-days", "1", "-subj", "/CN=news.test", "-addext", "subjectAltName=DNS:news.test",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_uses_the_host_name_for_sni_and_verifies_the_certificate(
    scripted: Callable[..., ScriptedServer], self_signed_cert: tuple[Path, Path]
) -> None:
    cert, key = self_signed_cert
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    sni: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: sni.append(name)

    def wrap(conn: socket.socket) -> socket.socket:
        return context.wrap_socket(conn, server_side=True)

    server = scripted(lambda conn, stop: _read_request_head(conn), wrap)
    settings = FetchSettings(allowed_hosts=frozenset({"news.test"}), total_timeout=5.0)
    with (
        HttpFetcher(settings, resolver=lambda host, port: ["127.0.0.1"]) as fetcher,
        pytest.raises(FetchError, match=r"^could not connect to https://news\.test") as info,
    ):
        fetcher.fetch(f"https://news.test:{server.port}/")
    # Connected to the checked IP, but TLS spoke to "news.test" and refused its
    # self-signed certificate.
    assert sni == ["news.test"]
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)


def test_queueing_for_a_host_slot_does_not_eat_the_deadline(httpserver: HTTPServer) -> None:
    def slow(_request: object) -> Response:
        time.sleep(0.6)
        return Response("ok")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    settings = FetchSettings(allow_private_networks=True, total_timeout=1.0, per_host_limit=1)
    with HttpFetcher(settings) as fetcher, ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(fetcher.fetch, httpserver.url_for("/slow")) for _ in range(3)]
        results = [f.result() for f in futures]
    # The third request queued ~1.2 s behind the others, yet each took 0.6 s of server time.
    assert [r.content for r in results] == [b"ok"] * 3


def test_queue_timeout_is_its_own_bound(httpserver: HTTPServer) -> None:
    def slow(_request: object) -> Response:
        time.sleep(0.8)
        return Response("ok")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    settings = FetchSettings(
        allow_private_networks=True, total_timeout=5, per_host_limit=1, queue_timeout=0.2
    )
    with HttpFetcher(settings) as fetcher, ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(fetcher.fetch, httpserver.url_for("/slow")) for _ in range(2)]
        outcomes = []
        for future in futures:
            try:
                outcomes.append(future.result().status)
            except FetchError as exc:
                outcomes.append(str(exc))
    assert 200 in outcomes
    assert any(isinstance(o, str) and "free connection slot" in o for o in outcomes)
