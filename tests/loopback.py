"""Start a loopback test server (FakeForge, GitHTTP) whose stop() returns in 0.05 s, not 0.5 s."""

from __future__ import annotations

import threading
from typing import TypeVar

S = TypeVar("S")


def started(server: S) -> S:
    """`server.start()` with serve_forever polling every 0.05 s (as FakeGHL does): its default poll
    interval, 0.5 s, is how long shutdown() waits, on every test that uses a server."""
    inner = getattr(server, "server")  # noqa: B009
    setattr(server, "thread", threading.Thread(target=inner.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True))  # noqa: B010
    return getattr(server, "start")()  # type: ignore[no-any-return]  # noqa: B009
