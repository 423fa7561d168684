"""The hostile-input catalogue, each case polled for real beside a well-behaved feed: the
case gets a clear per-feed result (stored or a one-line error), the good feed is stored all
the same, and nothing of the bad one is half-written."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Response

from tests.clirun import run
from tests.sites import Item, rss

pytestmark = pytest.mark.usefixtures("isolated_cli_env")


def _xml(items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>bad</title>'
        f"<link>https://bad.test/</link>{items}</channel></rss>"
    ).encode()


def _item(title: str, n: int = 1) -> str:
    return (
        f"<item><title>{title}</title><link>https://bad.test/a/{n}</link><guid>b{n}</guid></item>"
    )


LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b']><rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>'
    b"<link>https://bad.test/a/1</link></item></channel></rss>"
)
EXTERNAL = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<rss version="2.0"><channel><title>t</title><item><title>&xxe;</title>'
    b"<link>https://bad.test/a/1</link></item></channel></rss>"
)
DEEP = _xml("<item><title>deep</title>" + "<x>" * 100_000 + "</x>" * 100_000 + "</item>")

XML_CASES: dict[str, bytes] = {
    "billion laughs": LAUGHS,
    "external entity": EXTERNAL,
    "NUL bytes": _xml(_item("nul\x00in\x00title")),
    "bad UTF-8": _xml(_item("ok")).replace(b"ok", b"\xff\xfe\xc3(\xa0\xa1"),
    "out-of-range references": _xml(_item("&#x110000; &#0; &#xD800; &#65535;")),
    "deep nesting": DEEP,
    "not a feed at all": b"<html><body>404 page</body></html>",
    "empty body": b"",
}


def _poll_beside_good(
    tmp_path: Path, httpserver: HTTPServer, respond: Any
) -> tuple[Any, list[dict[str, Any]]]:
    good = rss("좋은일보", [Item("g1", "정상 기사 제목", "https://good.test/a/1")])
    httpserver.expect_request("/good.xml").respond_with_data(
        good, content_type="application/rss+xml"
    )
    respond(httpserver.expect_request("/bad.xml"))
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": f"sqlite:///{tmp_path}/t.db",
                "fetch": {"allow_private_networks": True, "timeout": 10, "max_redirects": 3},
                "extract": {"workers": 1},
                "feeds": [
                    {"url": httpserver.url_for("/bad.xml"), "full_text": False},
                    {"url": httpserver.url_for("/good.xml"), "full_text": False},
                ],
            }
        ),
        encoding="utf-8",
    )
    polled = run("poll", "--config", str(config))
    rows = json.loads(run("list", "--config", str(config), "--json").stdout)
    return polled, rows


@pytest.mark.parametrize("case", list(XML_CASES))
def test_hostile_xml_never_stops_the_other_feed(
    tmp_path: Path, httpserver: HTTPServer, case: str
) -> None:
    body = XML_CASES[case]
    polled, rows = _poll_beside_good(
        tmp_path,
        httpserver,
        lambda request: request.respond_with_data(body, content_type="application/rss+xml"),
    )
    assert polled.exit_code in (0, 1), polled.output
    assert "Traceback" not in polled.output and "internal error" not in polled.output
    assert "정상 기사 제목" in {r["title"] for r in rows}
    for row in rows:
        # Nothing of /etc/passwd, no expanded entity bomb, no NUL, no lone surrogate.
        assert "root:" not in row["title"] and "lollollol" not in row["title"]
        assert "\x00" not in row["title"] and len(row["title"]) <= 1000
        row["title"].encode("utf-8")


def _gzip_bomb() -> bytes:
    return gzip.compress(b"<" + b"a" * (64 * 1024 * 1024), compresslevel=9)


HTTP_CASES: dict[str, Any] = {
    "429 with Retry-After": lambda r: r.respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "120"})
    ),
    "503 with an HTTP-date Retry-After": lambda r: r.respond_with_response(
        Response("busy", status=503, headers={"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"})
    ),
    "redirect loop": lambda r: r.respond_with_response(
        Response("", status=302, headers={"Location": "/bad.xml"})
    ),
    "redirect to file:": lambda r: r.respond_with_response(
        Response("", status=301, headers={"Location": "file:///etc/passwd"})
    ),
    "redirect to a bad host": lambda r: r.respond_with_response(
        Response("", status=301, headers={"Location": "http://xn--a-.example/feed"})
    ),
    "gzip bomb": lambda r: r.respond_with_response(
        Response(
            _gzip_bomb(),
            status=200,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"},
        )
    ),
    "HTML error page with 200": lambda r: r.respond_with_data(
        "<html><body><h1>Service Unavailable</h1></body></html>", content_type="text/html"
    ),
}


@pytest.mark.parametrize("case", list(HTTP_CASES))
def test_hostile_http_is_a_clear_error_for_that_feed_alone(
    tmp_path: Path, httpserver: HTTPServer, case: str
) -> None:
    polled, rows = _poll_beside_good(tmp_path, httpserver, HTTP_CASES[case])
    assert polled.exit_code == 1, polled.output  # the bad feed failed, said so
    assert "Traceback" not in polled.output and "internal error" not in polled.output
    assert "1 feeds: " not in polled.output and "2 feeds: 1 ok, 1 failed" in polled.output
    assert {r["title"] for r in rows} == {"정상 기사 제목"}


class RawServer:
    """A TCP server on 127.0.0.1 that answers every connection with ``behaviour(socket)``:
    for what no HTTP library will send (resets, lies about length, endless headers, drips)."""

    def __init__(self, behaviour: Any) -> None:
        import socket
        import threading

        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(8)
        self.port = self._socket.getsockname()[1]
        self._stop = threading.Event()
        self._behaviour = behaviour
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        import threading

        self._socket.settimeout(0.2)
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: Any) -> None:
        try:
            connection.recv(65536)
            self._behaviour(connection, self._stop)
        except OSError:
            pass
        finally:
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._socket.close()
        self._thread.join(timeout=5)


def _reset_mid_body(connection: Any, stop: Any) -> None:
    import socket
    import struct

    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n")
    connection.sendall(b"Content-Length: 100000\r\n\r\n" + _xml(_item("half"))[:60])
    # SO_LINGER 0: close() sends a RST, as a crashing server or a middlebox does.
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _short_body(connection: Any, stop: Any) -> None:
    body = _xml(_item("short"))
    connection.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
        + f"Content-Length: {len(body) + 5000}\r\nConnection: close\r\n\r\n".encode()
        + body
    )


def _endless_headers(connection: Any, stop: Any) -> None:
    connection.sendall(b"HTTP/1.1 200 OK\r\n")
    for i in range(200_000):
        if stop.is_set():
            return
        connection.sendall(f"X-Header-{i}: {'v' * 50}\r\n".encode())


def _drip(connection: Any, stop: Any) -> None:
    import time

    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n\r\n")
    for byte in _xml(_item("drip")):
        if stop.is_set():
            return
        connection.sendall(bytes([byte]))
        time.sleep(0.5)


RAW_CASES = {
    "connection reset mid-body": _reset_mid_body,
    "Content-Length longer than the body": _short_body,
    "endless headers": _endless_headers,
    "a byte every half second": _drip,
}


@pytest.mark.parametrize("case", list(RAW_CASES))
def test_hostile_connections_are_a_clear_error_for_that_feed_alone(
    tmp_path: Path, httpserver: HTTPServer, case: str
) -> None:
    server = RawServer(RAW_CASES[case])
    try:
        good = rss("좋은일보", [Item("g1", "정상 기사 제목", "https://good.test/a/1")])
        httpserver.expect_request("/good.xml").respond_with_data(
            good, content_type="application/rss+xml"
        )
        config = tmp_path / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "database": f"sqlite:///{tmp_path}/t.db",
                    # The total deadline cuts the drip; the others fail on their own.
                    "fetch": {"allow_private_networks": True, "timeout": 3, "read_timeout": 2},
                    "extract": {"workers": 1},
                    "feeds": [
                        {"url": f"http://127.0.0.1:{server.port}/bad.xml", "full_text": False},
                        {"url": httpserver.url_for("/good.xml"), "full_text": False},
                    ],
                }
            ),
            encoding="utf-8",
        )
        polled = run("poll", "--config", str(config))
    finally:
        server.close()
    assert polled.exit_code == 1, polled.output
    assert "Traceback" not in polled.output and "internal error" not in polled.output
    assert "2 feeds: 1 ok, 1 failed" in polled.output
    rows = json.loads(run("list", "--config", str(config), "--json").stdout)
    assert {r["title"] for r in rows} == {"정상 기사 제목"}
