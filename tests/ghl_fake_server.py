"""A fake GoHighLevel API on loopback, answering as docs/ghl-credentials.md says the real one does.

Reusable by tests and benchmarks:

    server = FakeGHL(latency=0.1, burst=100, window=10.0).start()
    server.reply(token, LIVE_422)                  # this token always answers 422
    server.reply(token, RATE_429, LIVE_200)        # 429 once, then 200 (the last reply repeats)
    ... point PIT_GUARD_V2_API_URL at server.base and PIT_GUARD_V1_API_URL at server.v1_base ...
    server.route(token, "/locations/abc", reply)   # this token, this path (query left out): reach
    server.requests                                # every request: method, path, headers
    server.stop()

Tokens without a script get GoHighLevel's "dead" answer for their kind (or `default`). Paths
under /v1/ are API v1; everything else is API v2, which needs the Version header as the real
one does. With `burst`, a sliding-window limit of `burst` requests per `window` seconds is
enforced and every answer carries X-RateLimit-* headers; past it, 429.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Deque, Dict, List, Optional, Tuple, Union

ENV_V2 = "PIT_GUARD_V2_API_URL"
ENV_V1 = "PIT_GUARD_V1_API_URL"


@dataclasses.dataclass(frozen=True)
class Reply:
    status: int
    body: Union[Dict[str, Any], str] = dataclasses.field(default_factory=dict)
    headers: Tuple[Tuple[str, str], ...] = ()
    delay: float = 0.0  # seconds before answering (on top of the server's latency)
    content_type: Optional[str] = None  # default: JSON for a dict body, HTML for a string


def _v2_error(status: int, message: Any, error: str = "Unauthorized") -> Reply:
    return Reply(status, {"statusCode": status, "message": message, "error": error})


# Answers documented in docs/ghl-credentials.md ("Reading the answer").
LIVE_200 = Reply(200, {"contacts": [], "meta": {"total": 0}})
LIVE_422 = _v2_error(422, ["locationId must be a string", "locationId should not be empty"], "Unprocessable Entity")
SCOPE_401 = _v2_error(401, "The token is not authorized for this scope.")
MISMATCH_401 = _v2_error(401, "Token's user type mismatch!")
AUTHCLASS_401 = _v2_error(
    401,
    "This authClass type is not allowed to access this scope. Please reach out to the Platform team to get it added.",
)
OTHER_LOCATION_401 = _v2_error(401, "This location is not accessible from this token!")
OTHER_LOCATION_403 = _v2_error(403, "The token does not have access to this location.", "Forbidden")
DEAD_PIT_401 = _v2_error(401, "Invalid Private Integration token")
DEAD_JWT_401 = _v2_error(401, "Invalid JWT")
DEAD_ACCESS_401 = _v2_error(401, "Invalid token: access token is invalid")
NO_VERSION_401 = _v2_error(401, "version header was not found.")
RATE_LIMIT_HEADERS = (
    ("X-RateLimit-Max", "100"),
    ("X-RateLimit-Remaining", "0"),
    ("X-RateLimit-Interval-Milliseconds", "10000"),
    ("X-RateLimit-Daily-Remaining", "199000"),
)
RATE_429 = Reply(429, {"statusCode": 429, "message": "Too Many Requests"}, RATE_LIMIT_HEADERS + (("Retry-After", "0"),))
RATE_429_NO_RETRY_AFTER = Reply(
    429,
    {"statusCode": 429, "message": "Too Many Requests"},
    (("X-RateLimit-Max", "100"), ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Interval-Milliseconds", "200")),
)
ERROR_500 = Reply(500, {"statusCode": 500, "message": "Internal server error"})
PROXY_502 = Reply(
    502,
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
)
PROXY_PAGE_200 = Reply(
    200,
    "<!DOCTYPE html><html><body><h1>Access to this site is blocked by your network administrator</h1></body></html>",
)
V1_LIVE = Reply(200, {"customValues": [], "locations": []})
V1_DEAD = Reply(401, {"msg": "Api key is invalid."})
V1_SWITCH = Reply(401, {"msg": "Unauthorized, Switch to the new API token."})
REDIRECT_302 = Reply(302, {"message": "moved"}, (("Location", "http://127.0.0.1:9/elsewhere"),))


# What a live token reaches (docs/reach.md): the documented answer shapes of the read-only calls.
# Fields GoHighLevel also sends (addresses, e-mail, phone) are included so that tests can check
# they never reach a report.
def location_200(location_id: str, name: str, company_id: str) -> Reply:
    return Reply(
        200,
        {
            "location": {
                "id": location_id,
                "companyId": company_id,
                "name": name,
                "email": "owner@example.test",
                "phone": "+15550100",
                "address": "1 Main St",
                "firstName": "Pat",
                "lastName": "Example",
            }
        },
    )


def company_200(company_id: str, name: str, location_count: Optional[int]) -> Reply:
    company: Dict[str, Any] = {"id": company_id, "name": name, "email": "agency@example.test", "phone": "+15550101"}
    if location_count is not None:
        company["locationCount"] = location_count
    return Reply(200, {"company": company})


def search_200(locations: List[Tuple[str, str]]) -> Reply:
    return Reply(200, {"locations": [{"id": i, "name": n, "email": "x@example.test"} for i, n in locations]})


def installed_200(names: List[str], count: int) -> Reply:
    return Reply(
        200,
        {
            "locations": [{"_id": f"loc{i:017d}", "name": n, "address": "2 Side St"} for i, n in enumerate(names)],
            "count": count,
        },
    )


V1_LOCATIONS = Reply(200, {"locations": [{"id": f"v1loc{i:015d}", "name": f"Shop {i}"} for i in range(3)]})
OK_200 = Reply(200, {"calendars": [], "pipelines": [], "customFields": []})


def slow(reply: Reply, seconds: float) -> Reply:
    return dataclasses.replace(reply, delay=seconds)


@dataclasses.dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: Dict[str, str]  # as sent, names lower-cased
    at: float = dataclasses.field(default_factory=time.monotonic)  # arrival time

    @property
    def token(self) -> str:
        auth = self.headers.get("authorization", "")
        return auth[len("Bearer ") :] if auth.startswith("Bearer ") else auth


class FakeGHL:
    def __init__(
        self, latency: float = 0.0, burst: Optional[int] = None, window: float = 10.0, default: Optional[Reply] = None
    ) -> None:
        self.latency = latency
        self.burst = burst
        self.window = window
        self.default = default
        self.requests: List[Recorded] = []
        self.rate_limited = 0  # how many 429s the burst limit produced
        self._scripts: Dict[str, List[Reply]] = {}
        self._routes: Dict[Tuple[str, str], List[Reply]] = {}
        self._arrivals: Deque[float] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # -- set-up --------------------------------------------------------------------------------

    def reply(self, token: str, *replies: Reply) -> None:
        """What `token` gets, request after request; the last reply repeats."""
        with self._lock:
            self._scripts[token] = list(replies)

    def route(self, token: str, path: str, *replies: Reply) -> None:
        """What `token` gets on `path` (exact, query string left out), request after request; the
        last reply repeats. Routes come before `reply` scripts."""
        with self._lock:
            self._routes[(token, path)] = list(replies)

    def start(self) -> "FakeGHL":
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        server.block_on_close = False  # slow handlers must not hold up stop()
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> "FakeGHL":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def v1_base(self) -> str:
        return self.base + "/v1"

    def requests_for(self, token: str) -> List[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.token == token]

    # -- behaviour -----------------------------------------------------------------------------

    def _answer(self, method: str, path: str, headers: Dict[str, str]) -> Tuple[Reply, List[Tuple[str, str]]]:
        record = Recorded(method, path, headers)
        with self._lock:
            self.requests.append(record)
            limited, rate_headers = self._count()
            if limited:
                self.rate_limited += 1
                return Reply(429, {"statusCode": 429, "message": "Too Many Requests"}), rate_headers
            routed = self._routes.get((record.token, path.split("?", 1)[0]))
            if routed and ("version" in headers or path.startswith("/v1/")):
                return (routed.pop(0) if len(routed) > 1 else routed[0]), rate_headers
            script = self._scripts.get(record.token)
            if script:
                return (script.pop(0) if len(script) > 1 else script[0]), rate_headers
        v1 = path.startswith("/v1/")
        if not v1 and "version" not in headers:
            return NO_VERSION_401, rate_headers
        if self.default is not None:
            return self.default, rate_headers
        if v1:
            return V1_DEAD, rate_headers
        return (DEAD_PIT_401 if record.token.startswith("pit-") else DEAD_JWT_401), rate_headers

    def _count(self) -> Tuple[bool, List[Tuple[str, str]]]:
        """GoHighLevel's burst limit as a sliding window over arrivals (lock held)."""
        if self.burst is None:
            return False, []
        now = time.monotonic()
        while self._arrivals and self._arrivals[0] <= now - self.window:
            self._arrivals.popleft()
        limited = len(self._arrivals) >= self.burst
        if not limited:
            self._arrivals.append(now)
        headers = [
            ("X-RateLimit-Max", str(self.burst)),
            ("X-RateLimit-Remaining", str(max(0, self.burst - len(self._arrivals)))),
            ("X-RateLimit-Interval-Milliseconds", str(int(self.window * 1000))),
        ]
        return limited, headers

    def wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)


def _handler_for(fake: FakeGHL) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "fake-ghl/1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._serve()

        def do_POST(self) -> None:  # noqa: N802
            self._serve()

        def do_CONNECT(self) -> None:  # noqa: N802 - used as an HTTPS proxy: record, refuse
            with fake._lock:
                fake.requests.append(Recorded("CONNECT", self.path, {k.lower(): v for k, v in self.headers.items()}))
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _serve(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply, rate_headers = fake._answer(self.command, self.path, headers)
            fake.wait(fake.latency + reply.delay)
            if isinstance(reply.body, str):
                body, content_type = reply.body.encode(), reply.content_type or "text/html; charset=utf-8"
            else:
                body, content_type = (
                    json.dumps(reply.body).encode(),
                    reply.content_type or "application/json; charset=utf-8",
                )
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in list(rate_headers) + list(reply.headers):
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up (timeout): nothing to answer

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # keep test output clean

    return Handler


def refused_base() -> str:
    """An http:// base on loopback where nothing listens: connection refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class StallServer:
    """A loopback server that never finishes an answer: the network at its worst.

    `mode` is one of:
    - "headers": the status line, then one header byte every `interval` seconds, forever;
    - "body": full headers (a long Content-Length), then one body byte every `interval` seconds;
    - "silent": accepts the connection, reads the request, and never sends a byte;
    - "tls": for an https:// base: takes the TLS ClientHello, then answers with a handshake record
      that announces 16 KiB and sends it one byte every `interval` seconds.
    Each byte arrives well within any per-read socket timeout, so only a deadline on the whole
    request ends it. `connections` counts accepted connections.
    """

    MODES = ("headers", "body", "silent", "tls")

    def __init__(self, mode: str, interval: float = 0.1) -> None:
        assert mode in self.MODES, mode
        self.mode = mode
        self.interval = interval
        self.connections = 0
        self._stopping = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._open: List[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def base(self) -> str:
        scheme = "https" if self.mode == "tls" else "http"
        return f"{scheme}://127.0.0.1:{self._listener.getsockname()[1]}"

    @property
    def v1_base(self) -> str:
        return self.base + "/v1"

    def start(self) -> "StallServer":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._listener.close()
        with self._lock:
            for conn in self._open:
                try:
                    conn.close()
                except OSError:
                    pass

    def __enter__(self) -> "StallServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5.0)
            request = b""
            if self.mode == "tls":
                conn.recv(4096)  # the ClientHello
                conn.sendall(b"\x16\x03\x03\x40\x00")  # a 16 KiB handshake record follows...
                while not self._stopping.wait(self.interval):
                    conn.sendall(b"\x00")  # ...very slowly
                return
            while b"\r\n\r\n" not in request and len(request) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            if self.mode == "silent":
                self._stopping.wait()
                return
            if self.mode == "headers":
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Pad: ")
                tail = b"a"
            else:
                conn.sendall(
                    b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"
                    b'{"message": "'
                )
                tail = b" "
            while not self._stopping.wait(self.interval):
                conn.sendall(tail)
        except OSError:
            pass  # the client hung up: that is the point
        finally:
            conn.close()
