"""Transport for the validator: one GET with urllib, a shared rate limiter, a circuit breaker and
a time budget. Private to `pit_guard.validation.checks`.

A request's timeout is a wall-clock deadline on the whole request (DNS, connect, proxy tunnel, TLS,
headers, body), not urllib's per-read socket timeout, which a server sending one byte a second
never trips: the request runs on its own daemon thread, and at the deadline its sockets are shut
down from outside (which wakes a blocked read) and the thread is abandoned (a DNS lookup cannot be
interrupted; a daemon thread never holds up the interpreter's exit).

Nothing here ever formats a token: errors are described by their kind (refused, DNS, timeout),
never by `str()` of an object that might hold the request and its Authorization header.
"""

from __future__ import annotations

import email.message
import email.utils
import errno
import http.client
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from typing import IO, Any, Callable, Deque, Dict, List, Mapping, Optional, Union

from pit_guard import __version__

USER_AGENT = f"pit-guard/{__version__}"
API_VERSION = "2021-07-28"
MAX_BODY = 64 * 1024  # GoHighLevel's error bodies are tiny; a proxy page is cut here.
# What reach (validation/reach.py) reads of an answer: a page of 100 sub-accounts (~1-2 KB each) or
# API 1.0's list of an agency's locations must arrive whole to be read as JSON. Bounded: parsed
# JSON can take ~50 times its size in memory.
MAX_LIST_BODY = 2 * 1024 * 1024
RETRY_AFTER_CAP = 30.0  # seconds: a larger Retry-After is not worth waiting for in a scan.


class Budget:
    """The deadline of a whole validation run, and a cancel switch for workers still running."""

    def __init__(
        self,
        total: float,
        clock: Callable[[], float] = time.monotonic,
        wait: Optional[Callable[[float], None]] = None,
    ) -> None:
        """`clock` and `wait` (sleep that long on that clock) let tests run on a fake clock."""
        self._clock = clock
        self._wait = wait
        self.deadline = clock() + total
        self._cancelled = threading.Event()

    def remaining(self) -> float:
        return 0.0 if self._cancelled.is_set() else max(0.0, self.deadline - self._clock())

    def cancel(self) -> None:
        self._cancelled.set()

    def sleep(self, seconds: float) -> bool:
        """Wait `seconds`; False (at once) if that would run past the deadline or on cancel."""
        if seconds > self.remaining():
            return False
        if seconds <= 0:
            return True
        if self._wait is not None:
            self._wait(seconds)
            return not self._cancelled.is_set()
        return not self._cancelled.wait(seconds)


class RateLimiter:
    """A sliding window shared by all workers: at most `limit` sends per `window` seconds.

    Starts from GoHighLevel's documented burst limit (100 per 10 s) and adopts the limit the
    server states in `X-RateLimit-Max` / `X-RateLimit-Interval-Milliseconds`. An exhausted
    `X-RateLimit-Remaining` holds new sends until our oldest send leaves the window; a 429 pauses
    every worker for its Retry-After (or the stated interval).
    """

    def __init__(self, limit: int = 100, window: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._limit = limit
        self._window = window
        self._sent: Deque[float] = deque()
        self._paused_until = 0.0

    def _margin(self) -> float:
        # Our send time precedes the server's arrival time by a jittery few ms: keep clear of it.
        return max(0.05, self._window * 0.01)

    def _prune(self, now: float) -> None:
        horizon = now - self._window - self._margin()
        while self._sent and self._sent[0] <= horizon:
            self._sent.popleft()

    def acquire(self, budget: Budget) -> bool:
        """Block until a send is allowed; False if the budget runs out first."""
        while True:
            with self._lock:
                now = self._clock()
                self._prune(now)
                wait = self._paused_until - now
                if len(self._sent) >= self._limit:
                    wait = max(wait, self._sent[0] + self._window + self._margin() - now)
                if wait <= 0:
                    self._sent.append(now)
                    return True
            if not budget.sleep(wait):
                return False

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def observe(self, headers: Mapping[str, str], code: int) -> None:
        """Learn from GoHighLevel's X-RateLimit-* headers (a 429's own wait is set by `pause`)."""
        limit = _int_header(headers, "x-ratelimit-max")
        remaining = _int_header(headers, "x-ratelimit-remaining")
        interval_ms = _int_header(headers, "x-ratelimit-interval-milliseconds")
        with self._lock:
            if limit is not None and interval_ms is not None and 1 <= limit <= 10_000:
                self._limit = limit
                self._window = min(60.0, max(0.1, interval_ms / 1000.0))
            now = self._clock()
            self._prune(now)
            if code != 429 and remaining is not None and remaining <= 0:
                # The server's window is full. Under our own full-speed traffic that is normal (a
                # sliding window sits at 0 all the time), so wait only until our oldest send in the
                # window ages out; if others use the same quota, the 429 that may follow says more.
                oldest = self._sent[0] if self._sent else now
                self._paused_until = max(self._paused_until, oldest + self._window + self._margin())

    @property
    def window(self) -> float:
        return self._window


class CircuitBreaker:
    """Opens after `threshold` consecutive connection failures: a dead network fails fast."""

    def __init__(self, threshold: int = 3) -> None:
        self._lock = threading.Lock()
        self._threshold = threshold
        self._failures = 0
        self.reason: Optional[str] = None

    @property
    def open(self) -> bool:
        with self._lock:
            return self._failures >= self._threshold

    def failure(self, reason: str) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self._threshold and self.reason is None:
                self.reason = f"network unreachable ({self._failures} consecutive connection failures: {reason})"

    def success(self) -> None:
        with self._lock:
            if self._failures < self._threshold:
                self._failures = 0


class Answer:
    """An HTTP answer: status code, lower-cased headers, body text (cut at MAX_BODY)."""

    __slots__ = ("code", "headers", "body", "content_type")

    def __init__(self, code: int, headers: Dict[str, str], body: str) -> None:
        self.code = code
        self.headers = headers
        self.body = body
        self.content_type = headers.get("content-type", "").split(";")[0].strip().lower()


class NetError(Exception):
    """No HTTP answer. `connection` is True when the server could not be reached at all."""

    def __init__(self, reason: str, connection: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.connection = connection


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """urllib would replay the Authorization header to wherever a redirect points: never follow."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: email.message.Message,
        newurl: str,
    ) -> Optional[urllib.request.Request]:
        return None


class _Guard:
    """The sockets one request opened, so that its deadline can shut them down from another thread.

    It keeps a duplicate of each socket: TLS takes the original over (detaching it), and a shutdown
    of either descriptor stops the one connection both refer to.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: List[socket.socket] = []
        self._cut = False

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            if self._cut:  # the deadline passed while connecting: this socket is cut at birth
                _shutdown(sock)
                return
            self._sockets.append(sock.dup())

    def cut(self) -> None:
        """The deadline: every read or write blocked on these sockets returns at once."""
        with self._lock:
            self._cut = True
            for sock in self._sockets:
                _shutdown(sock)
            self._close_all()

    def close(self) -> None:
        with self._lock:
            self._close_all()

    def _close_all(self) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _guarded(http_class: Any, guard: _Guard) -> Callable[..., Any]:
    """`http_class` (urllib's HTTP(S)Connection), with every socket it opens handed to `guard`."""

    def connection(host: str, **kwargs: Any) -> Any:
        conn = http_class(host, **kwargs)
        create = conn._create_connection  # socket.create_connection, used for the server and proxies

        def create_and_guard(*args: Any, **kw: Any) -> socket.socket:
            sock: socket.socket = create(*args, **kw)
            guard.add(sock)
            return sock

        conn._create_connection = create_and_guard
        return conn

    return connection


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, guard: _Guard) -> None:
        super().__init__()
        self._guard = guard

    def do_open(self, http_class: Any, req: Any, **http_conn_args: Any) -> Any:
        return super().do_open(_guarded(http_class, self._guard), req, **http_conn_args)


_tls_context: Optional[ssl.SSLContext] = None
_tls_lock = threading.Lock()


def _tls() -> ssl.SSLContext:
    """urllib's default context (certificates verified), made once: loading the CAs costs CPU."""
    global _tls_context
    with _tls_lock:
        if _tls_context is None:
            _tls_context = ssl.create_default_context()
        return _tls_context


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, guard: _Guard) -> None:
        super().__init__(context=_tls())
        self._guard = guard

    def do_open(self, http_class: Any, req: Any, **http_conn_args: Any) -> Any:
        return super().do_open(_guarded(http_class, self._guard), req, **http_conn_args)


def build_opener(guard: Optional[_Guard] = None) -> urllib.request.OpenerDirector:
    # build_opener keeps urllib's default ProxyHandler, so HTTPS_PROXY / NO_PROXY are honoured;
    # our HTTP(S) handlers replace the default ones (the HTTPS one verifies certificates).
    guard = guard or _Guard()
    return urllib.request.build_opener(_NoRedirect(), _GuardedHTTPHandler(guard), _GuardedHTTPSHandler(guard))


def get(url: str, secret: str, timeout: float, v2: bool, max_body: int = MAX_BODY) -> Answer:
    """GET `url` with the token as a Bearer; an Answer for any HTTP status (its body cut at
    `max_body` bytes), NetError otherwise.

    Returns or raises within `timeout` seconds of wall-clock time, whatever the network does.
    """
    headers = {"Authorization": "Bearer " + secret, "Accept": "application/json", "User-Agent": USER_AGENT}
    if v2:
        headers["Version"] = API_VERSION
    request = urllib.request.Request(url, headers=headers, method="GET")
    del headers
    guard = _Guard()
    outcome: List[Union[Answer, Exception]] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append(_send(build_opener(guard), request, timeout, max_body))
        except Exception as error:  # noqa: BLE001 - handed to the caller, never formatted here
            outcome.append(error)
        finally:
            # Drop the only object holding the token, even when the caller has given up on us.
            request.headers.clear()
            request.unredirected_hdrs.clear()
            guard.close()
            done.set()

    threading.Thread(target=run, name="pit-guard-request", daemon=True).start()
    if not done.wait(timeout):
        guard.cut()  # the request thread wakes with an error and ends; if it is in DNS, it is abandoned
        raise NetError(f"timed out after {round(timeout, 1):g}s without a complete answer", connection=False)
    result = outcome[0]
    if isinstance(result, Answer):
        return result
    raise result


def _send(
    opener: urllib.request.OpenerDirector, request: urllib.request.Request, timeout: float, max_body: int = MAX_BODY
) -> Answer:
    error: Optional[NetError] = None
    try:
        with opener.open(request, timeout=timeout) as response:
            return Answer(response.status, _headers(response.headers), _read(response, max_body))
    except urllib.error.HTTPError as answer:
        try:
            return Answer(answer.code, _headers(answer.headers), _read(answer, max_body))
        finally:
            answer.close()
    except urllib.error.URLError as failure:
        # urllib wraps failures while connecting and sending; the server was not reached.
        error = NetError(_describe(failure.reason), connection=True)
    except (socket.timeout, TimeoutError):
        error = NetError(f"timed out after {round(timeout, 1):g}s waiting for the answer", connection=False)
    except http.client.HTTPException as failure:
        error = NetError(f"bad HTTP answer ({type(failure).__name__})", connection=False)
    except OSError as failure:
        error = NetError(f"connection lost while reading ({_describe(failure)})", connection=False)
    # Raised outside the except blocks so the urllib exception (and its traceback) is not chained.
    raise error


def _read(response: Any, max_body: int = MAX_BODY) -> str:
    try:
        data = response.read(max_body)
    except (OSError, http.client.HTTPException):
        data = b""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else ""


def _headers(message: Optional["email.message.Message[str, str]"]) -> Dict[str, str]:
    if message is None:
        return {}
    return {str(k).lower(): str(v) for k, v in message.items()}


def _describe(reason: object) -> str:
    """A short, token-free description of a socket-level failure."""
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "connect timed out"
    if isinstance(reason, socket.gaierror):
        return "DNS lookup failed"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, ssl.SSLCertVerificationError):
        return "TLS certificate verification failed"
    if isinstance(reason, ssl.SSLError):
        return "TLS error"
    if isinstance(reason, OSError):
        # strerror is the OS's text ("Network is unreachable"); it never carries request data.
        if reason.strerror:
            return reason.strerror
        # e.g. "Tunnel connection failed: 403 Forbidden" from a proxy; the caller scrubs it too.
        return str(reason)[:80] or errno.errorcode.get(reason.errno or 0, type(reason).__name__)
    if isinstance(reason, BaseException):
        return type(reason).__name__
    return "connection failed"


def _int_header(headers: Mapping[str, str], name: str) -> Optional[int]:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


def retry_after(headers: Mapping[str, str], now: Optional[float] = None) -> Optional[float]:
    """Seconds from a Retry-After header (delta or HTTP date), capped; None when absent/bad."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if parsed is None:  # Python 3.9 returns None instead of raising
            return None
        seconds = parsed.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return min(RETRY_AFTER_CAP, max(0.0, seconds))


def rate_interval(headers: Mapping[str, str]) -> Optional[float]:
    ms = _int_header(headers, "x-ratelimit-interval-milliseconds")
    return None if ms is None or ms <= 0 else min(RETRY_AFTER_CAP, ms / 1000.0)
