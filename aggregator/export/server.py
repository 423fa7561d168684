"""``aggregator serve``: the exports over read-only HTTP, for other feed readers to subscribe to.

Routes, and nothing else (404; 405 for methods other than GET and HEAD)::

    /opml                              every feed, grouped by tag (text/x-opml)
    /feeds/all.{atom,rss,json}         the newest ``export.limit`` articles
    /feeds/tag/<tag>.{atom,rss,json}   the same, of one configured tag
    /healthz                           database reachable, daemon heartbeat age (200/503 JSON)
    /                                  the last day's stories by tag, linking their pages and
                                       every feed (with autodiscovery links), no script
    /articles/<id>                     one article's clean text, under its republish policy

Every feed answer carries a weak ETag and Last-Modified computed without rendering
(:class:`aggregator.export.service.Exporter`); ``If-None-Match`` (or, without it,
``If-Modified-Since``) gets ``304 Not Modified``; bodies are gzipped for clients that accept
it; HEAD answers the headers of GET.

The server is the standard library's ``ThreadingHTTPServer``, on purpose: it must run both as
its own process and as a few threads inside ``aggregator run`` (next to APScheduler's), which
a thread-per-connection stdlib server does with ``serve_forever()`` in a thread and
``shutdown()``; it serves a handful of small, cached, read-only documents to a few readers, so
a WSGI stack (waitress, werkzeug) would add a dependency and a layer for nothing we use. What
the stdlib server lacks we add: a read timeout per connection (a slow client holds one thread
for at most ``REQUEST_TIMEOUT`` seconds), a cap on concurrent connections, no directory or
file serving of any kind, and a refusal to listen beyond loopback unless told to.
"""

from __future__ import annotations

import contextlib
import gzip
import ipaddress
import json
import logging
import re
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from aggregator.errors import AggregatorError, ConfigError, StoreError
from aggregator.text.urls import parse_listen

if TYPE_CHECKING:
    from aggregator.config.schema import Config
    from aggregator.export.service import Exporter, Rendered, Validator
    from aggregator.store.sql import SqlStore

__all__ = ["FeedServer", "is_loopback", "start_server"]

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 20.0
MAX_CONNECTIONS = 64
# Below this a gzip body saves nothing worth the CPU.
GZIP_MIN_BYTES = 512
CACHE_CONTROL = "public, max-age=60"

_FEED = re.compile(r"^/feeds/all\.(atom|rss|json)$")
_ARTICLE = re.compile(r"^/articles/([1-9][0-9]{0,17})$")
_PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-cache",
    # No script, no frame, nothing fetched but the articles' own images.
    "Content-Security-Policy": (
        "default-src 'none'; img-src http: https: data:; style-src 'unsafe-inline'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "Referrer-Policy": "no-referrer",
}
_TAG_FEED = re.compile(r"^/feeds/tag/([a-z0-9][a-z0-9_-]{0,63})\.(atom|rss|json)$")


def is_loopback(host: str) -> bool:
    """True when every address ``host`` resolves to is a loopback address."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def _accepts_gzip(header: str | None) -> bool:
    for part in (header or "").split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() not in ("gzip", "*"):
            continue
        quality = re.search(r"q\s*=\s*([0-9.]+)", params)
        try:
            return quality is None or float(quality.group(1)) > 0
        except ValueError:
            return False
    return False


def _etag_matches(header: str, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2)."""
    if header.strip() == "*":
        return True
    ours = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == ours for tag in header.split(","))


def _not_modified_since(header: str, last_modified: datetime | None) -> bool:
    if last_modified is None:
        return False
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return last_modified.replace(microsecond=0) <= since


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = REQUEST_TIMEOUT

    def version_string(self) -> str:
        return "aggregator"  # no Python version for strangers

    # Any method but GET and HEAD (POST, PUT, DELETE, PROPFIND...) is 405, not the stdlib's 501.
    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._method_not_allowed
        raise AttributeError(name)

    def _method_not_allowed(self) -> None:
        self._send_small(
            405, "method not allowed: this server is read-only\n", {"Allow": "GET, HEAD"}
        )

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http %s", format % args)

    # -- routing ----------------------------------------------------------------------------

    def _dispatch(self, *, head: bool) -> None:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        app = self.server.app
        try:
            if path == "/healthz":
                self._healthz(head)
                return
            page: bytes | None = None
            if path == "/":
                page = app.exporter.render_index(app.clock())
            elif match := _ARTICLE.match(path):
                page = app.exporter.render_article_page(int(match.group(1)))
                if page is None:
                    self._send_small(404, "not found (not among the exported articles)\n")
                    return
            if page is not None:
                self._send(200, page, _PAGE_HEADERS, head=head)
                return
            found: tuple[Callable[[], Validator], Callable[[Validator], Rendered]] | None = None
            if path == "/opml":
                found = (app.exporter.opml_validator, app.exporter.render_opml)
            elif match := _FEED.match(path):
                found = app.feed(None, match.group(1))
            elif match := _TAG_FEED.match(path):
                found = app.feed(match.group(1), match.group(2))
            if found is None:
                self._send_small(404, "not found\n")
                return
            self._send_document(*found, head=head)
        except StoreError as exc:
            log.error("serve: database error on %s: %s", path, exc)
            self._send_small(503, "database unavailable\n", {"Retry-After": "30"})
        except AggregatorError as exc:
            log.error("serve: %s: %s", path, exc)
            self._send_small(500, "export failed\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the reader went away mid-answer
        except Exception:
            # A bug: logged with its traceback; this request fails, the server goes on.
            log.exception("serve: unexpected error on %s", path)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._send_small(500, "internal error\n")

    def _send_document(
        self,
        validator_of: Callable[[], Validator],
        render: Callable[[Validator], Rendered],
        *,
        head: bool,
    ) -> None:
        validator = validator_of()
        headers = {
            "ETag": validator.etag,
            "Cache-Control": CACHE_CONTROL,
            "Vary": "Accept-Encoding",
        }
        if validator.last_modified is not None:
            headers["Last-Modified"] = format_datetime(
                validator.last_modified.astimezone(UTC), usegmt=True
            )
        if_none_match = self.headers.get("If-None-Match")
        if_modified_since = self.headers.get("If-Modified-Since")
        # If-None-Match wins; If-Modified-Since is looked at only without it (RFC 9110 13.2.2).
        if (if_none_match is not None and _etag_matches(if_none_match, validator.etag)) or (
            if_none_match is None
            and if_modified_since is not None
            and _not_modified_since(if_modified_since, validator.last_modified)
        ):
            self._send(304, b"", headers, head=True)
            return
        rendered = render(validator)
        # The body may be newer than the validator looked at a moment ago: describe the body.
        headers["ETag"] = rendered.validator.etag
        if rendered.validator.last_modified is not None:
            headers["Last-Modified"] = format_datetime(
                rendered.validator.last_modified.astimezone(UTC), usegmt=True
            )
        headers["Content-Type"] = rendered.content_type
        body = rendered.body
        if len(body) >= GZIP_MIN_BYTES and _accepts_gzip(self.headers.get("Accept-Encoding")):
            body = self.server.app.gzipped(rendered)
            headers["Content-Encoding"] = "gzip"
        self._send(200, body, headers, head=head)

    def _healthz(self, head: bool) -> None:
        status, document = self.server.app.health()
        body = (json.dumps(document, ensure_ascii=False) + "\n").encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"}
        self._send(status, body, headers, head=head)

    # -- output -----------------------------------------------------------------------------

    def _send_small(self, status: int, text: str, extra: dict[str, str] | None = None) -> None:
        headers = {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
        headers.update(extra or {})
        self._send(status, text.encode("utf-8"), headers, head=self.command == "HEAD")

    def _send(self, status: int, body: bytes, headers: dict[str, str], *, head: bool) -> None:
        # A request body is never read: after one, the connection cannot be reused (its
        # bytes would be taken for the next request line), so it is closed.
        if self.headers.get("Content-Length", "0").strip() not in ("", "0") or self.headers.get(
            "Transfer-Encoding"
        ):
            self.close_connection = True
            headers = {**headers, "Connection": "close"}
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if not head and status != 304:
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default of 5 drops connections when a few readers arrive at once.
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], app: _App) -> None:
        host = address[0]
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.app = app
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Past MAX_CONNECTIONS a new connection is closed at once rather than given a thread.
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class _App:
    """What the handler threads share: the exporter, gzip bodies, the health check."""

    def __init__(self, exporter: Exporter, store: SqlStore, clock: Callable[[], datetime]) -> None:
        self.exporter = exporter
        self.store = store
        self.clock = clock
        self._gzip: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def feed(
        self, tag: str | None, fmt: str
    ) -> tuple[Callable[[], Validator], Callable[[Validator], Rendered]] | None:
        from aggregator.export.items import Selection

        config = self.exporter.config
        if tag is not None and tag not in config.tags:
            return None
        selection = Selection((tag,) if tag else (), None, config.export.limit)
        kind: Any = fmt
        return (
            lambda: self.exporter.feed_validator(selection, kind),
            lambda validator: self.exporter.render_feed(selection, kind, validator),
        )

    def gzipped(self, rendered: Rendered) -> bytes:
        key = rendered.validator.etag + rendered.content_type
        with self._lock:
            found = self._gzip.get(key)
        if found is None:
            found = gzip.compress(rendered.body, compresslevel=6, mtime=0)
            with self._lock:
                if len(self._gzip) >= 64:
                    self._gzip.clear()
                self._gzip[key] = found
        return found

    def health(self) -> tuple[int, dict[str, Any]]:
        from datetime import timedelta

        from aggregator.store.records.service import ALIVE_SECONDS

        now = self.clock()
        try:
            instances = self.store.instances(since=now - timedelta(days=1))
        except StoreError as exc:
            log.error("healthz: database unreachable: %s", exc)
            return 503, {"status": "unavailable", "database": "unreachable", "daemon": None}
        running = [i for i in instances if i.stopped_at is None]
        newest = max((i.heartbeat_at for i in running), default=None)
        age = None if newest is None else max(0.0, (now - newest).total_seconds())
        alive = age is not None and age <= ALIVE_SECONDS
        document: dict[str, Any] = {
            "status": "ok" if alive else "unavailable",
            "database": "ok",
            "daemon": {
                "alive": alive,
                "heartbeat_age_s": None if age is None else round(age, 1),
                "max_age_s": ALIVE_SECONDS,
            },
        }
        return (200 if alive else 503), document


class FeedServer:
    """A running server: :attr:`url` to reach it, :meth:`stop` to end it."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.5}, name="serve", daemon=True
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` (from another thread or a signal)."""
        self._server.serve_forever(poll_interval=0.5)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


def start_server(
    config: Config,
    store: SqlStore,
    *,
    listen: str | None = None,
    allow_remote: bool | None = None,
    clock: Callable[[], datetime] | None = None,
    exporter: Exporter | None = None,
) -> FeedServer:
    """Bind (not yet serve) the server per ``config.serve`` or the given overrides.

    Raises ConfigError for a non-loopback address without ``allow_remote``, and
    AggregatorError when the address cannot be bound."""
    from aggregator.export.service import Exporter

    text = listen or config.serve.listen
    try:
        host, port = parse_listen(text)
    except ValueError as exc:
        raise ConfigError(f"serve.listen: {exc}") from None
    remote_ok = config.serve.allow_remote if allow_remote is None else allow_remote
    if not is_loopback(host):
        if not remote_ok:
            raise ConfigError(
                f"serve.listen: {text} is not a loopback address; the feeds would be open to "
                "the network. Use --allow-remote (or serve.allow_remote: true) to mean it"
            )
        log.warning(
            "serving the feeds beyond loopback (%s): anyone who can reach it can read them",
            text,
        )
    app_clock = clock or (lambda: datetime.now(UTC))
    try:
        server = _Server((host, port), _App(exporter or Exporter(store, config), store, app_clock))
    except OSError as exc:
        raise AggregatorError(f"cannot listen on {text}: {exc.strerror or exc}") from None
    feed_server = FeedServer(server)
    if exporter is None and not config.export.base_url:
        # Self links name the address actually bound (port 0 picks one).
        server.app.exporter.set_base_url(feed_server.url)
    return feed_server
