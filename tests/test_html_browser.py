"""The HTML report in a real browser (headless Chromium, Debian's `chromium`; .ci/run installs it):
it renders, a URL fragment filters it, a tick kept in localStorage comes back, and it requests
nothing from the network. Skipped only where no Chromium is installed."""

from __future__ import annotations

import http.server
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Iterator, List

import pytest
from git_helpers import new_pit
from test_html import finding

from pit_guard.reporting.html import format_html

BROWSER = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no Chromium installed (Debian: apt-get install chromium; .ci/run does it)"
)


# Chromium's own background traffic (update checks, time sync, sign-in), whatever page it shows:
# not the page's requests. Everything else the proxy sees is counted.
BROWSER_OWN = re.compile(r"(^|\.)(google\.com|googleapis\.com|gvt1\.com|gstatic\.com)$")


def page_requests(seen: List[str]) -> List[str]:
    def host(line: str) -> str:
        target = line.split(" ", 1)[1]
        if target.startswith("http://"):
            target = target[len("http://") :]
        return target.split("/", 1)[0].rsplit(":", 1)[0]

    return [line for line in seen if not BROWSER_OWN.search(host(line))]


class Counter(http.server.BaseHTTPRequestHandler):
    """A loopback HTTP proxy that answers 404 and counts every request the browser makes."""

    seen: List[str] = []

    def _any(self) -> None:
        Counter.seen.append(f"{self.command} {self.path}")
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_CONNECT = do_HEAD = _any  # noqa: N815 - http.server's naming

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def proxy() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counter)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def chromium(profile: Path, proxy: str, *args: str) -> str:
    """One headless Chromium run; every request it would make goes to the counting proxy, and no
    name resolves (so nothing can leave this machine even if the proxy were bypassed)."""
    command = [
        str(BROWSER),
        "--headless",
        "--disable-gpu",
        f"--user-data-dir={profile}",
        f"--proxy-server=http://{proxy}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--virtual-time-budget=2000",
        *args,
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def articles(dom: str) -> List[str]:
    return re.findall(r"<article [^>]*>", dom)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("html")
    findings = [
        finding(new_pit(), "live", path="live.env"),
        finding(new_pit(), "live", path="live2.env"),
        finding(new_pit(), "dead", path="dead.env"),
        finding(new_pit(), "unknown", path="<script>alert(1)</script>.env", branches=("<script>x</script>",)),
    ]
    path = folder / "report.html"
    path.write_text(format_html(findings, []), encoding="utf-8")
    return path


def test_the_probe_sees_a_request(report: Path, proxy: str, tmp_path: Path) -> None:
    """The control: a page that does load something is seen by both the proxy and the page's own
    resource count, so a 0 below means nothing was requested. It also leaves a checklist tick in
    localStorage (same file:// origin, same profile) for the next test to find."""
    key = re.search(r'data-key="([^"]+)"', report.read_text()).group(1)  # type: ignore[union-attr]
    control = report.parent / "control.html"
    control.write_text(
        "<!DOCTYPE html><html><body><img src='http://pit-guard-test.example.com/x.png'><output id='net'></output>"
        f"<script>localStorage.setItem('pit-guard:{key}','1');"
        "window.addEventListener('load',function(){document.getElementById('net').textContent="
        "String(performance.getEntriesByType('resource').length);});</script></body></html>"
    )
    before = len(Counter.seen)
    dom = chromium(report.parent / "profile", proxy, "--dump-dom", control.as_uri())
    assert page_requests(Counter.seen[before:]) == ["GET http://pit-guard-test.example.com/x.png"], (
        Counter.seen,
        dom[-300:],
    )
    assert re.search(r'<output id="net">[1-9]', dom), dom[-500:]


def test_renders_offline_and_requests_nothing(report: Path, proxy: str) -> None:
    """One browser run for the DOM and the screenshot (a Chromium start-up is most of each test's time)."""
    before = len(Counter.seen)
    shot = report.parent / "report.png"
    dom = chromium(
        report.parent / "profile",
        proxy,
        "--dump-dom",
        f"--screenshot={shot}",
        "--window-size=1200,1400",
        report.as_uri(),
    )
    assert page_requests(Counter.seen[before:]) == []
    assert '<output id="net">0</output>' in dom  # the page's own count of what it loaded
    shown = articles(dom)
    assert len(shown) == 4 and not [a for a in shown if " hidden" in a]
    assert '<output id="shown">4 shown</output>' in dom
    # the <script> in a file name and a branch name stayed text: no element was made of it
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.env" in dom and "&lt;script&gt;x&lt;/script&gt;" in dom
    assert dom.count("<script") == 1
    # the tick the control page stored is back, as the checkbox's checked attribute
    checked = re.findall(r'<input type="checkbox" data-key="[^"]+" checked', dom)
    assert len(checked) == 1
    # the screenshot of that page (taken by the same run)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    keep = os.environ.get("PIT_GUARD_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


def test_a_url_fragment_filters(report: Path, proxy: str) -> None:
    dom = chromium(report.parent / "profile2", proxy, "--dump-dom", report.as_uri() + "#status=live")
    shown = [a for a in articles(dom) if " hidden" not in a]
    assert len(shown) == 2 and all('data-status="live"' in a for a in shown)
    assert '<output id="shown">2 shown</output>' in dom
    assert re.search(r'<select id="f-status"[^>]*>', dom)
