"""A loopback server speaking the parts of the GitHub REST v3 and GitLab v4 APIs that list an
organisation's repositories: pagination by Link headers, rate-limit answers, 401 and 404."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple


class FakeForge:
    def __init__(self, per_page: int = 2) -> None:
        self.per_page = per_page
        self.github: Dict[str, List[Dict[str, Any]]] = {}  # "orgs/acme" or "users/bob" -> repos
        self.gitlab: Dict[str, List[Dict[str, Any]]] = {}  # group path -> projects (subgroups included)
        self.token: Optional[str] = None  # when set, a request without it gets 401
        self.limited: List[Tuple[int, Dict[str, str]]] = []  # answers to give first (status, headers)
        self.requests: List[Tuple[str, Dict[str, str]]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "FakeForge":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, path: str, query: Dict[str, str], headers: Dict[str, str]) -> Tuple[int, Any, Dict[str, str]]:
        self.requests.append((path + ("?" + urllib.parse.urlencode(query) if query else ""), headers))
        if self.limited:
            status, extra = self.limited.pop(0)
            return status, {"message": "API rate limit exceeded"}, extra
        if self.token is not None:
            given = headers.get("authorization", "") or headers.get("private-token", "")
            if self.token not in given:
                return 401, {"message": "Bad credentials"}, {}
        if path.startswith("/api/v4/groups/") and path.endswith("/projects"):
            group = urllib.parse.unquote(path[len("/api/v4/groups/") : -len("/projects")])
            items = self.gitlab.get(group)
            if items is not None and query.get("archived") == "false":
                items = [p for p in items if not p.get("archived")]
        elif path.startswith("/orgs/") or path.startswith("/users/"):
            items = self.github.get(path.strip("/").rsplit("/repos", 1)[0])
        else:
            items = None
        if items is None:
            return 404, {"message": "Not Found"}, {}
        page = int(query.get("page", "1"))
        chunk = items[(page - 1) * self.per_page : page * self.per_page]
        extra = {"X-RateLimit-Remaining": "4999", "X-RateLimit-Reset": "0"}
        if page * self.per_page < len(items):
            nxt = dict(query, page=str(page + 1))
            extra["Link"] = f'<{self.base}{path}?{urllib.parse.urlencode(nxt)}>; rel="next"'
        return 200, chunk, extra


def _handler(fake: FakeForge) -> type:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            parts = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parts.query))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body, extra = fake.answer(parts.path, query, headers)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler
