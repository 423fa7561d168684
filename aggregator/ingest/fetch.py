"""The one HTTP layer: GET a feed or an article page and return a :class:`FetchResult`.

What it does: conditional GET (ETag / Last-Modified, 304 is a normal result), gzip/deflate,
redirects followed by hand (at most ``max_redirects``, http/https only), a cap on the
*decoded* body, a per-host concurrency limit, a hard total deadline per request, and an SSRF
guard that refuses loopback/private/link-local/reserved addresses. Every failure is a
:class:`~aggregator.errors.FetchError` (or its subclass :class:`BlockedAddressError`); no
httpx or httpcore exception leaves this module.

What it does not do: retries and back-off (the scheduler decides, using ``status`` and
``retry_after``), caching, cookies, authentication, proxies (``trust_env=False``: a proxy
would connect on our behalf and bypass the address check), HTTP/2, brotli/zstd, or decoding
bytes to text (that is :mod:`aggregator.text.charset`). It does not restrict ports.

Why some of it is our own code rather than httpx settings:

* httpx timeouts are per socket operation; a server that drips one byte per read timeout
  holds the caller forever. The deadline lives in the network layer: a custom httpcore
  ``NetworkBackend`` whose streams cap every connect/read/write timeout at the time left
  until a per-request deadline kept in a :class:`contextvars.ContextVar`.
* httpx has no hook to check the address it connects to. Checking the URL's host before the
  request is open to DNS rebinding (the name resolves again at connect time). The same
  backend resolves the name itself, refuses if any address is non-public, and connects to
  exactly the addresses it checked; TLS still uses the host name for SNI and certificate
  checks, because httpcore passes ``server_hostname`` from the URL's origin to ``start_tls``.
* httpx decompresses each network chunk in one ``zlib`` call with no output limit, so a
  64 KiB chunk of a gzip bomb becomes ~64 MiB in memory before any size check (and layered
  encodings multiply). We read the raw bytes and inflate them ourselves in bounded steps.
"""

from __future__ import annotations

import http
import ipaddress
import logging
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, Self

import httpcore
import httpx

from aggregator import __version__
from aggregator.errors import BlockedAddressError, FetchError
from aggregator.models import FetchResult

__all__ = [
    "FetchSettings",
    "Fetcher",
    "HttpFetcher",
    "Resolver",
    "blocked_address_reason",
]

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], list[str]]
"""Maps (host, port) to IP address strings; raises OSError when the name does not resolve."""

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_PERMANENT_REDIRECTS = frozenset({301, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Largest piece one inflate step may produce: bounds memory per step whatever the ratio.
_INFLATE_STEP = 64 * 1024


@dataclass(frozen=True, slots=True)
class FetchSettings:
    """Knobs of :class:`HttpFetcher`. Times are seconds.

    ``total_timeout`` is a hard deadline for the whole fetch once a per-host slot is held:
    DNS, connect, TLS, every redirect and the body. Queueing for a slot (behind our own
    requests to the same host) is bounded separately by ``queue_timeout``.
    ``max_body_bytes`` caps the decoded body. ``allowed_hosts`` are host names (exact
    match, case-insensitive, no wildcards) exempt from the address guard, for an
    operator's intranet feed; redirects away from them are still checked.
    ``allow_private_networks`` lifts the guard entirely.
    """

    allow_private_networks: bool = False
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    # Waiting for a per-host slot is not the server's fault: it has its own, longer bound.
    queue_timeout: float = 600.0
    max_body_bytes: int = 15 * 1024 * 1024
    max_redirects: int = 5
    per_host_limit: int = 2
    user_agent: str = f"aggregator/{__version__} (+https://github.com/aggregator-news/aggregator)"
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)


class Fetcher(Protocol):
    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
    ) -> FetchResult: ...


# --------------------------------------------------------------------------- address guard

_V4_BLOCKED: tuple[tuple[ipaddress.IPv4Network, str], ...] = tuple(
    (ipaddress.IPv4Network(net), kind)
    for net, kind in (
        ("255.255.255.255/32", "broadcast"),
        ("0.0.0.0/32", "unspecified"),
        ("0.0.0.0/8", "reserved"),  # "this network"; Linux connects 0.x to the local host
        ("127.0.0.0/8", "loopback"),
        ("10.0.0.0/8", "private"),
        ("172.16.0.0/12", "private"),
        ("192.168.0.0/16", "private"),
        ("100.64.0.0/10", "carrier-grade NAT"),
        ("169.254.0.0/16", "link-local"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("192.0.0.0/24", "reserved"),
        ("192.0.2.0/24", "reserved"),
        ("192.88.99.0/24", "reserved"),
        ("198.18.0.0/15", "reserved"),
        ("198.51.100.0/24", "reserved"),
        ("203.0.113.0/24", "reserved"),
    )
)

_V6_BLOCKED: tuple[tuple[ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.IPv6Network(net), kind)
    for net, kind in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "private"),  # deprecated site-local
        ("fc00::/7", "private"),
        ("ff00::/8", "multicast"),
        ("64:ff9b:1::/48", "private"),
        ("100::/64", "reserved"),
        ("2001::/23", "reserved"),
        ("2001:db8::/32", "reserved"),
    )
)
_V6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_V6_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_V6_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def blocked_address_reason(
    address: str | ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> str | None:
    """Why ``address`` must not be fetched ("loopback", "private", ...), or None if public.

    Our own table rather than ``ipaddress.is_private``/``is_global``: their meaning changed
    between Python patch releases (CVE-2024-4032), and IPv6 forms that embed an IPv4
    address (IPv4-mapped, NAT64, 6to4) must be judged by the embedded address.
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv4Address):
        for net4, kind in _V4_BLOCKED:
            if ip in net4:
                return kind
        return None if ip.is_global else "reserved"
    embedded: ipaddress.IPv4Address | None = None
    if ip in _V6_MAPPED:
        embedded = ip.ipv4_mapped
    elif ip in _V6_NAT64:
        embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    elif ip.sixtofour is not None:
        embedded = ip.sixtofour
    if embedded is not None:
        inner = blocked_address_reason(embedded)
        return None if inner is None else f"IPv4-embedded {inner}"
    for net6, kind in _V6_BLOCKED:
        if ip in net6:
            return kind
    if ip not in _V6_GLOBAL_UNICAST or not ip.is_global:
        return "reserved"
    return None


def _a(kind: str) -> str:
    return "an" if kind[:1].lower() in "aeiou" else "a"


class _BlockedAddress(Exception):
    """Raised inside the network backend; fetch() turns it into BlockedAddressError.

    Not an httpcore exception on purpose: httpcore and httpx let it through untouched, so
    it cannot be mistaken for (or retried as) an ordinary connect error.
    """

    def __init__(self, host: str, ip: str, kind: str) -> None:
        super().__init__(f"{host} resolves to {ip}, {_a(kind)} {kind} address")
        self.host = host
        self.ip = ip
        self.kind = kind


# --------------------------------------------------------------------------- network backend

# Monotonic time by which the current fetch() must be done; None outside fetch(). A
# ContextVar because the pool is shared by many threads, each running its own request.
_DEADLINE: ContextVar[float | None] = ContextVar("aggregator_fetch_deadline", default=None)


def _capped(timeout: float | None, exc_type: type[Exception]) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        # A zero socket timeout would mean non-blocking, not "expired": raise ourselves.
        raise exc_type("total deadline exceeded")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """Delegates to httpcore's stream, with every timeout capped by the request deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _capped(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _capped(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        capped = _capped(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, capped))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def _ascii_host(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return host.lower()


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves, checks every address, then connects to exactly those addresses.

    ``SyncBackend.connect_tcp`` is only ever given IP literals: handed the host name, it
    would resolve it again inside ``socket.create_connection``, and that second answer
    (DNS rebinding) is the one it would connect to.
    """

    def __init__(
        self,
        *,
        resolver: Resolver | None,
        allow_private: bool,
        allowed_hosts: frozenset[str],
    ) -> None:
        self._resolver = resolver or _system_resolver
        self._inner = httpcore.SyncBackend()
        self._allow_private = allow_private
        # httpcore hands us the ASCII (IDNA) form of the host; compare like with like.
        self._allowed_hosts = frozenset(_ascii_host(h) for h in allowed_hosts)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        budget = _capped(timeout, httpcore.ConnectTimeout)
        give_up = None if budget is None else time.monotonic() + budget
        addresses = self._resolve(host, port, budget)
        if not self._allow_private and host.lower() not in self._allowed_hosts:
            for ip in addresses:
                kind = blocked_address_reason(ip)
                if kind is not None:
                    raise _BlockedAddress(host, ip, kind)
        stream = self._connect_any(addresses, port, give_up, local_address, socket_options)
        return _DeadlineStream(stream)

    def _resolve(self, host: str, port: int, budget: float | None) -> list[str]:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            return [host]
        # getaddrinfo cannot be interrupted and may block for tens of seconds; run it in a
        # daemon thread so the deadline holds. The thread finishes on its own later.
        future: Future[list[str]] = Future()

        def work() -> None:
            try:
                future.set_result(self._resolver(host, port))
            except BaseException as exc:  # handed to the waiting thread
                future.set_exception(exc)

        threading.Thread(target=work, name=f"resolve {host}", daemon=True).start()
        try:
            addresses = future.result(timeout=budget)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host!r} timed out") from exc
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"could not resolve host {host!r}: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"could not resolve host {host!r}: no addresses")
        for ip in addresses:
            try:
                ipaddress.ip_address(ip)
            except ValueError as exc:
                raise httpcore.ConnectError(f"resolver returned {ip!r} for {host!r}") from exc
        return addresses

    def _connect_any(
        self,
        addresses: list[str],
        port: int,
        give_up: float | None,
        local_address: str | None,
        socket_options: Iterable[Any] | None,
    ) -> httpcore.NetworkStream:
        # SyncBackend given an IP literal resolves nothing (getaddrinfo on a numeric host is
        # a parse), so this connects to exactly the address that was checked.
        last: Exception | None = None
        for ip in addresses:
            remaining = None if give_up is None else give_up - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            try:
                return self._inner.connect_tcp(
                    ip,
                    port,
                    timeout=remaining,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        if last is None:
            raise httpcore.ConnectTimeout("connect timed out")
        raise last

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not supported")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


# --------------------------------------------------------------------------- transport


class _CoreByteStream(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class _GuardedTransport(httpx.BaseTransport):
    """httpx transport over an httpcore pool that uses our backend.

    Our own small transport rather than a subclass of ``httpx.HTTPTransport`` with its
    ``_pool`` swapped: that attribute is private and could change under us. The price is
    that httpcore exceptions are not mapped to httpx ones here; fetch() classifies both.
    """

    def __init__(self, pool: httpcore.ConnectionPool) -> None:
        self._pool = pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.SyncByteStream):  # pragma: no cover
            raise TypeError("synchronous request body expected")
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        core_response = self._pool.handle_request(core_request)
        if not isinstance(core_response.stream, Iterable):  # pragma: no cover
            raise TypeError("synchronous response body expected")
        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=_CoreByteStream(core_response.stream),
            extensions=core_response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


# --------------------------------------------------------------------------- body decoding


class _UnsupportedEncoding(Exception):
    pass


class _Inflater:
    """One gzip/deflate layer that never produces more than ``_INFLATE_STEP`` at a time."""

    def __init__(self, encoding: str) -> None:
        self._gzip = encoding == "gzip"
        # RFC 9110 "deflate" is zlib-wrapped, but some servers send raw deflate.
        self._obj = zlib.decompressobj(zlib.MAX_WBITS | 16 if self._gzip else zlib.MAX_WBITS)
        self._may_fall_back = not self._gzip

    def feed(self, data: bytes) -> Iterator[bytes]:
        while not self._obj.eof:  # after the end of the stream, trailing bytes are ignored
            try:
                out = self._obj.decompress(data, _INFLATE_STEP)
            except zlib.error:
                if not self._may_fall_back:
                    raise
                self._may_fall_back = False
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                continue
            self._may_fall_back = False
            if out:
                yield out
            data = self._obj.unconsumed_tail
            # A full step may leave output pending inside zlib even with no input left, so
            # only a short step proves this input is done.
            if not data and len(out) < _INFLATE_STEP:
                return

    def finish(self) -> bytes:
        # What is left after all input went through feed() is at most a partial step; a
        # truncated stream is accepted, as browsers do.
        return self._obj.flush()


def _decoding_layers(content_encoding: str) -> list[_Inflater]:
    """Inflaters in the order they must be applied (the reverse of the header's order)."""
    layers: list[_Inflater] = []
    for token in reversed([t.strip().lower() for t in content_encoding.split(",")]):
        if token in ("", "identity"):
            continue
        if token in ("gzip", "x-gzip"):
            layers.append(_Inflater("gzip"))
        elif token == "deflate":
            layers.append(_Inflater("deflate"))
        else:
            raise _UnsupportedEncoding(token)
    return layers


def _decode(chunks: Iterable[bytes], layers: list[_Inflater]) -> Iterator[bytes]:
    """Lazily push raw chunks through the layers; memory stays bounded whatever the ratio."""

    def through(data: bytes, index: int) -> Iterator[bytes]:
        if index == len(layers):
            yield data
            return
        for piece in layers[index].feed(data):
            yield from through(piece, index + 1)

    for chunk in chunks:
        yield from through(chunk, 0)
    for index, layer in enumerate(layers):
        tail = layer.finish()
        if tail:
            yield from through(tail, index + 1)


# --------------------------------------------------------------------------- fetcher

_HTTPCORE_ERRORS: tuple[type[Exception], ...] = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.ProxyError,
    httpcore.UnsupportedProtocol,
    httpcore.ConnectionNotAvailable,
)
_HTTPX_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError)
# httpx parses hosts with the idna package, whose IDNAError is a UnicodeError (a ValueError).
_URL_ERRORS: tuple[type[Exception], ...] = (*_HTTPX_ERRORS, ValueError)


@dataclass(slots=True)
class _HostSlot:
    semaphore: threading.BoundedSemaphore
    users: int = 0


@dataclass(frozen=True, slots=True)
class _Hop:
    status: int
    headers: dict[str, str]
    content: bytes = b""
    location: str | None = None


class HttpFetcher:
    """The production :class:`Fetcher`. Thread-safe; one pooled httpx.Client per instance.

    ``resolver`` replaces DNS (tests, or an operator's own resolver); it maps (host, port)
    to IP strings and raises OSError on failure. Use as a context manager or call close().
    """

    def __init__(
        self,
        settings: FetchSettings = FetchSettings(),  # frozen: one shared default is safe
        *,
        resolver: Resolver | None = None,
    ) -> None:
        self._settings = settings
        backend = _GuardedBackend(
            resolver=resolver,
            allow_private=settings.allow_private_networks,
            allowed_hosts=settings.allowed_hosts,
        )
        pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            http1=True,
            http2=False,
            retries=0,
            network_backend=backend,
        )
        self._client = httpx.Client(
            transport=_GuardedTransport(pool),
            # Env proxies would connect for us and bypass the address check; .netrc would
            # hand credentials to whatever host a feed links to.
            trust_env=False,
            follow_redirects=False,
            headers={
                "User-Agent": settings.user_agent,
                # Only what _decoding_layers can inflate in bounded steps.
                "Accept-Encoding": "gzip, deflate",
            },
        )
        self._slots: dict[str, _HostSlot] = {}
        self._slots_lock = threading.Lock()
        self._closed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True
        self._client.close()

    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
    ) -> FetchResult:
        """GET ``url``; raise FetchError (BlockedAddressError for a refused address)."""
        if self._closed:
            raise FetchError(url, "fetcher is closed")
        start = time.monotonic()
        deadline = start + self._settings.total_timeout
        token = _DEADLINE.set(deadline)
        try:
            return self._follow(url, start, deadline, etag, last_modified, accept)
        finally:
            _DEADLINE.reset(token)

    def _follow(
        self,
        url: str,
        start: float,
        deadline: float,
        etag: str | None,
        last_modified: str | None,
        accept: str | None,
    ) -> FetchResult:
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = accept
        current = _parse_url(url, url)
        all_permanent = True
        redirects = 0
        while True:
            hop, deadline = self._hop(url, current, headers, deadline)
            if hop.location is None:
                break
            redirects += 1
            if redirects > self._settings.max_redirects:
                raise FetchError(url, "too many redirects", status=hop.status)
            all_permanent = all_permanent and hop.status in _PERMANENT_REDIRECTS
            try:
                target = current.join(hop.location)
            except _URL_ERRORS as exc:
                raise FetchError(
                    url, f"bad redirect Location {hop.location!r} from {current}"
                ) from exc
            log.debug("redirect %d %s -> %s", hop.status, current, target)
            current = _parse_url(url, str(target))
        final_url = str(current)
        etag_out = hop.headers.get("etag")
        last_modified_out = hop.headers.get("last-modified")
        if hop.status == 304:
            # A 304 need not repeat the validators; what it omits still holds (RFC 9111
            # 4.3.4), and a None here would make the caller forget them.
            etag_out = etag_out or etag
            last_modified_out = last_modified_out or last_modified
        return FetchResult(
            url=url,
            final_url=final_url,
            status=hop.status,
            headers=hop.headers,
            content=hop.content,
            etag=etag_out,
            last_modified=last_modified_out,
            not_modified=hop.status == 304,
            permanent_redirect=final_url if redirects and all_permanent else None,
            elapsed_ms=int((time.monotonic() - start) * 1000),
        )

    def _hop(
        self, url: str, current: httpx.URL, headers: dict[str, str], deadline: float
    ) -> tuple[_Hop, float]:
        """One request/response, holding a slot of the host's concurrency limit.

        Time spent queueing for the slot (behind our own other requests to the host) moves
        the deadline back: the deadline bounds the server, the queue has ``queue_timeout``.
        Returns the hop and the deadline as moved.
        """
        key = _host_key(current)
        slot = self._take_slot(key)
        try:
            queued = time.monotonic()
            if not slot.semaphore.acquire(timeout=self._settings.queue_timeout):
                raise FetchError(
                    url,
                    f"gave up after {self._settings.queue_timeout:g} s waiting for a free "
                    f"connection slot for {key}",
                )
            try:
                waited = time.monotonic() - queued
                if waited > 0.001:
                    deadline += waited
                    _DEADLINE.set(deadline)
                return self._request(url, current, headers, deadline), deadline
            finally:
                slot.semaphore.release()
        finally:
            self._drop_slot(key, slot)

    def _request(
        self, url: str, current: httpx.URL, headers: dict[str, str], deadline: float
    ) -> _Hop:
        settings = self._settings
        try:
            timeout = httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=max(deadline - time.monotonic(), 0.001),
            )
            request = self._client.build_request("GET", current, headers=headers, timeout=timeout)
            response = self._client.send(request, stream=True)
            try:
                return self._read_response(url, current, response)
            finally:
                response.close()
        except _BlockedAddress as exc:
            raise BlockedAddressError(
                url,
                f"refusing to fetch {current}: {exc.ip} is {_a(exc.kind)} {exc.kind} address "
                "(fetch.allow_private_networks: true, or the host in fetch.allowed_hosts, "
                "allows it)",
            ) from None  # our own signal, already fully described; nothing to chain
        except _HTTPCORE_ERRORS + _HTTPX_ERRORS as exc:
            raise FetchError(url, self._describe(exc, current, deadline)) from exc
        except ValueError as exc:
            # httpx prepares a redirect's next request inside send(): a Location whose host
            # is not valid IDNA raises idna's IDNAError (a ValueError) from there.
            raise FetchError(url, f"unusable response from {current}: {exc}") from exc
        except RuntimeError as exc:
            # httpx raises a bare RuntimeError when the client was closed meanwhile.
            if self._closed:
                raise FetchError(url, "fetcher is closed") from exc
            raise

    def _read_response(self, url: str, current: httpx.URL, response: httpx.Response) -> _Hop:
        status = response.status_code
        headers = dict(response.headers.items())  # httpx lower-cases names, joins repeats
        if status in _REDIRECT_STATUSES:
            location = response.headers.get("location")
            if not location:
                raise FetchError(url, f"HTTP {status} redirect without Location", status=status)
            return _Hop(status, headers, location=location)
        if status == 304:
            return _Hop(status, headers)
        if status >= 300:
            raise FetchError(
                url,
                f"HTTP {status} {_reason(response)}"
                + ("" if str(current) == url else f" (at {current})"),
                status=status,
                retry_after=response.headers.get("retry-after"),
            )
        return _Hop(status, *self._read_body(url, headers, response))

    def _read_body(
        self, url: str, headers: dict[str, str], response: httpx.Response
    ) -> tuple[dict[str, str], bytes]:
        limit = self._settings.max_body_bytes
        try:
            layers = _decoding_layers(headers.get("content-encoding", ""))
        except _UnsupportedEncoding as exc:
            raise FetchError(url, f"unsupported Content-Encoding {exc}") from None
        too_big = (
            f"response body exceeds {limit} bytes (fetch.max_body_mb: {limit / 1048576:.3g} MB)"
        )
        declared = headers.get("content-length", "")
        if not layers and declared.isdigit() and int(declared) > limit:
            raise FetchError(url, too_big)  # before reading any of it
        body = bytearray()
        try:
            for piece in _decode(response.iter_raw(), layers):
                body += piece
                if len(body) > limit:
                    raise FetchError(url, too_big)
        except zlib.error as exc:
            raise FetchError(url, "could not decompress the response body") from exc
        if layers:
            # The headers describe ``content`` as delivered: decoded, of its own length.
            headers.pop("content-encoding", None)
            headers.pop("content-length", None)
        return headers, bytes(body)

    def _describe(self, exc: Exception, current: httpx.URL, deadline: float) -> str:
        if time.monotonic() >= deadline - 0.05 and isinstance(
            exc, httpcore.TimeoutException | httpx.TimeoutException
        ):
            return (
                f"gave up on {current} after the total timeout of "
                f"{self._settings.total_timeout:g} s"
            )
        if isinstance(exc, httpcore.ConnectTimeout | httpx.ConnectTimeout):
            return f"connecting to {current} timed out"
        if isinstance(exc, httpcore.TimeoutException | httpx.TimeoutException):
            return f"timed out waiting for {current}"
        if isinstance(exc, httpcore.ConnectError | httpx.ConnectError):
            return f"could not connect to {current}"
        if isinstance(exc, httpcore.ProtocolError | httpx.ProtocolError):
            return f"bad HTTP response from {current}"
        return f"request to {current} failed"

    def _take_slot(self, key: str) -> _HostSlot:
        with self._slots_lock:
            slot = self._slots.get(key)
            if slot is None:
                slot = _HostSlot(threading.BoundedSemaphore(self._settings.per_host_limit))
                self._slots[key] = slot
            slot.users += 1
            return slot

    def _drop_slot(self, key: str, slot: _HostSlot) -> None:
        # Forget idle hosts: article links reach thousands of hosts over a daemon's life.
        with self._slots_lock:
            slot.users -= 1
            if slot.users == 0 and self._slots.get(key) is slot:
                del self._slots[key]


def _parse_url(url: str, target: str) -> httpx.URL:
    try:
        parsed = httpx.URL(target)
        parsed.host  # noqa: B018 - decodes the host: an invalid IDNA label raises here
    except _URL_ERRORS as exc:
        raise FetchError(url, f"invalid URL {target!r}: {exc}") from exc
    if parsed.scheme not in _DEFAULT_PORTS or not parsed.host:
        what = "redirect to" if target != url else "URL"
        raise FetchError(url, f"refusing {what} {target!r}: only http(s) URLs with a host")
    return parsed


def _host_key(url: httpx.URL) -> str:
    host = url.raw_host.decode("ascii").lower()
    return f"{host}:{url.port or _DEFAULT_PORTS[url.scheme]}"


def _reason(response: httpx.Response) -> str:
    # The standard phrase where there is one: servers' own phrases vary and some are not
    # ASCII; fall back to theirs for unregistered codes.
    try:
        return http.HTTPStatus(response.status_code).phrase
    except ValueError:
        return response.reason_phrase or "error"
