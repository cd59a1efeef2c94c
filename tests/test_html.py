"""`--format html`: one self-contained page (no URL it could load), everything escaped, redacted
unless --show-secrets; from scan, audit and ci. The browser checks are in test_html_browser.py."""

from __future__ import annotations

import html.parser
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
from git_helpers import Repo, git_env, new_pit

from pit_guard.cli import main
from pit_guard.finding import Finding, Provenance, Validation
from pit_guard.reporting.html import MAX_BRANCHES, MAX_PLACES, format_html

EVIL = "<script>alert(1)</script>"
# Tags that make a browser fetch something (or navigate) when they carry a URL.
LOADING_TAGS = {
    "img",
    "link",
    "iframe",
    "frame",
    "object",
    "embed",
    "source",
    "video",
    "audio",
    "track",
    "base",
    "form",
}


class Page(html.parser.HTMLParser):
    """The page as a browser's parser sees it: tags with attributes, the text of <script> and <style>."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: List[Tuple[str, Dict[str, Optional[str]]]] = []
        self.scripts: List[str] = []
        self.styles: List[str] = []
        self._in: Optional[str] = None
        self.text: List[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in = tag if tag in ("script", "style") else None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            self.scripts.append(data)
        elif self._in == "style":
            self.styles.append(data)
        else:
            self.text.append(data)


def assert_self_contained(text: str) -> Page:
    """No reference the browser could load: no loading tag, no URL in any attribute, none in CSS or
    JS; the one Content-Security-Policy forbids every fetch. A URL may appear only as escaped text."""
    page = Page(text)
    assert [t for t, _ in page.tags if t == "script"] == ["script"]  # ours, one, inline
    assert not [t for t, _ in page.tags if t in LOADING_TAGS]
    for tag, attrs in page.tags:
        assert "src" not in attrs and "href" not in attrs and "action" not in attrs, tag
        for name, value in attrs.items():
            assert not re.search(r"(?i)(https?:|//|url\()", value or ""), (tag, name, value)
    code = "".join(page.scripts) + "".join(page.styles)
    assert not re.search(
        r"(?i)(https?:|//|url\(|@import|fetch\(|XMLHttpRequest|WebSocket|EventSource|sendBeacon)", code
    )
    csp = [
        a.get("content") or "" for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert csp and csp[0].startswith("default-src 'none'")
    return page


def finding(
    secret: str, status: Optional[str], path: str = "app.env", branches: Tuple[str, ...] = ("main",), **kw: Any
) -> Finding:
    return Finding(
        rule_id="ghl-private-integration-token",
        secret=secret,
        path=path,
        line=1,
        column=11,
        provenance=Provenance("a" * 40, "Ada <ada@example.com>", "2024-01-01T00:00:00+00:00", 3, True, branches),
        validation=Validation(status, "test") if status else None,
        **kw,
    )


def test_page_is_self_contained_escaped_and_redacted() -> None:
    token = new_pit()
    webhook = f"https://services.leadconnectorhq.com/hooks/{new_pit()[4:24]}/webhook-trigger/{new_pit()[4:]}"
    findings = [
        finding(token, "live", path=f"src/{EVIL}.env", branches=(f"feature/{EVIL}", "remotes/origin/main")),
        Finding("ghl-inbound-webhook-url", webhook, f"{EVIL}/hook.txt", 2, 1),
    ]
    text = format_html(findings, [])
    page = assert_self_contained(text)
    assert token not in text and webhook not in text
    assert "pit-" + token[4:8] in text  # the redacted form
    assert text.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3  # path, branch, second path
    assert EVIL in "".join(page.text)  # shown as text, exactly as named
    assert "Pushed" in text and "yes: it left this machine" in text
    many = format_html([finding(token, None, branches=tuple(f"b{i:03d}" for i in range(MAX_BRANCHES + 7)))], [])
    assert f"b{MAX_BRANCHES - 1:03d}</code> and 7 more" in many and f"b{MAX_BRANCHES:03d}" not in many
    shown = format_html(findings, [], show_secrets=True)
    assert token in shown and "secrets shown in full" in shown


def test_credentials_are_grouped_with_a_checklist_and_filters() -> None:
    token = new_pit()
    places = [finding(token, "dead", path=f"f{i}.env") for i in range(MAX_PLACES + 5)]
    other = finding(new_pit(), "live")
    text = format_html([*places, other], [])
    page = Page(text)
    articles = [a for t, a in page.tags if t == "article"]
    assert [a["data-status"] for a in articles] == ["live", "dead"]  # live first
    assert f"Found in {MAX_PLACES + 5} places and 5 more" in text
    boxes = [a for t, a in page.tags if t == "input" and a.get("type") == "checkbox"]
    assert len(boxes) == 3 + 2  # revoke, replace, remove | confirm dead, remove
    assert len({b["data-key"] for b in boxes}) == len(boxes)
    assert "localStorage" in "".join(page.scripts)
    selects = {a["id"]: a for t, a in page.tags if t == "select"}
    assert set(selects) == {"f-status", "f-kind"}  # no repository filter for a single repository
    options = [a["value"] for t, a in page.tags if t == "option"]
    assert {"live", "dead", "ghl-private-integration-token"} <= set(options)


def test_reach_and_repository_when_present() -> None:
    """What validation/reach.py attaches (docs/reach.md) and a fleet audit's repository, read by name."""

    class Reach:
        kind = "agency"
        blast_radius = 214
        summary = f'agency "Acme {EVIL}" and 214 sub-accounts'
        first_sub_accounts = ("Main Street Dental", "Lakeside Gym")
        scopes_working = ("locations.readonly",)
        scopes_claimed = ()
        note = ""

    narrow, wide = finding(new_pit(), "live"), finding(new_pit(), "live")
    object.__setattr__(wide, "reach", Reach())
    object.__setattr__(wide, "repository", "acme/site")
    object.__setattr__(narrow, "repository", "acme/api")
    text = format_html([narrow, wide], [])
    assert_self_contained(text)
    page = Page(text)
    articles = [a for t, a in page.tags if t == "article"]
    assert [a["data-repo"] for a in articles] == ["acme/site", "acme/api"]  # widest reach first
    assert "Reaches:</b> agency &quot;Acme &lt;script&gt;" in text and "Main Street Dental" in text
    assert "Widest reach first" in text
    assert "f-repo" in {a.get("id") for t, a in page.tags if t == "select"}


def test_scan_audit_and_ci_write_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token = new_pit()
    r = Repo(tmp_path / "r")
    r.write("base.txt", "base\n")
    base = r.commit("base")
    r.write(f"{EVIL}.env".replace("/", "_"), f"GHL_TOKEN={token}\n")
    r.git("checkout", "-q", "-b", f"evil{EVIL}")
    head = r.commit("leak")
    for name, value in git_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(r.path)
    # scan
    assert main(["scan", ".", "--format", "html", "-o", str(tmp_path / "scan.html")]) == 1
    # audit: the branch name holds a <script> too
    assert main(["audit", ".", "--format", "html", "-o", str(tmp_path / "audit.html")]) == 1
    # ci: a GitHub push event
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"before": base, "after": head}))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_EVENT_NAME", "push")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    assert main(["ci", "--format", "html", "-o", str(tmp_path / "ci.html")]) == 1
    out = capsys.readouterr()
    assert token not in out.out + out.err
    for name in ("scan", "audit", "ci"):
        text = (tmp_path / f"{name}.html").read_text(encoding="utf-8")
        assert_self_contained(text)
        assert token not in text, name
        assert "&lt;script&gt;alert(1)&lt;_script&gt;.env" in text, name
    audit = (tmp_path / "audit.html").read_text(encoding="utf-8")
    assert "evil&lt;script&gt;alert(1)&lt;/script&gt;" in audit  # the branch, in the timeline
    assert f"<th>Last commit</th><td><code>{head[:12]}</code> on 2024-01-01T" in audit  # still in the branch tip
    assert "Last commit" not in (tmp_path / "ci.html").read_text(encoding="utf-8")  # a range cannot tell


def test_html_to_stdout_through_a_real_process(tmp_path: Path) -> None:
    token = new_pit()
    (tmp_path / "a.env").write_text(f"GHL_TOKEN={token}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pit_guard", "scan", str(tmp_path), "--format", "html"], capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert proc.stdout.startswith("<!DOCTYPE html>") and proc.stdout.rstrip().endswith("</html>")
    assert token not in proc.stdout + proc.stderr
