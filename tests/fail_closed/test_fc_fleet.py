"""Fail-closed rows for the fleet audit (issue 11's bad-input list): each exits 2 naming what was not
read, still reports every other repository's findings, and never prints a credential."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys

import pytest
from fleet_helpers import make_remote, new_pit, run_json
from forge_fake_server import FakeForge
from git_helpers import git_env
from git_http_server import GitHTTP
from loopback import started

from pit_guard.fleet import clones as fleet_clones
from pit_guard.fleet import state as fleet_state

pytestmark = pytest.mark.usefixtures("fleet_env")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def good(fleet_env_module):
    """The repository that must still be reported beside each bad input: built once for the module
    (only read: each test clones it into its own folder)."""
    token = new_pit()
    return token, make_remote(fleet_env_module, "good", [token])[1]


def check(report, err, good_url, token, where, reason):
    assert [f["provenance"]["repository"] for f in report["findings"]] == [good_url]
    assert any(where in s["path"] and reason in s["reason"] and s["fails"] for s in report["skipped"]), report[
        "skipped"
    ]
    assert token not in json.dumps(report) + err


def test_unreachable_host(tmp_path, capsys, good):
    token, url = good
    dead = f"https://127.0.0.1:{closed_port()}/acme/repo.git"
    code, report, err = run_json(capsys, dead, url, "--clone-dir", str(tmp_path / "c"))
    assert code == 2
    check(report, err, url, token, dead, "clone failed")


def test_unreachable_api(tmp_path, capsys, good):
    token, url = good
    api = f"http://127.0.0.1:{closed_port()}"
    code, report, err = run_json(capsys, url, "--github-org", "acme", "--github-api-url", api)
    assert code == 2
    check(report, err, url, token, "<GitHub organisation acme>", "cannot reach the API")


def test_404_org(tmp_path, capsys, good):
    token, url = good
    forge = started(FakeForge())
    try:
        code, report, err = run_json(capsys, url, "--github-org", "ghost", "--github-api-url", forge.base)
    finally:
        forge.stop()
    assert code == 2
    check(report, err, url, token, "<GitHub organisation ghost>", "HTTP 404")


def test_private_repository_without_then_with_a_token(tmp_path, capsys, monkeypatch, good):
    """An https-like remote (git http-backend on loopback) that wants Basic auth: no credential is
    exit 2 naming it; the credential in the URL goes to git through the environment and works."""
    token, url = good
    leak = new_pit()
    make_remote(tmp_path / "served", "private", [leak])
    password = "pw-" + new_pit()[4:]
    server = started(GitHTTP(tmp_path / "served", "ci", password))
    monkeypatch.setenv("PIT_GUARD_TEST_ALLOW_HTTP", "1")
    try:
        private = f"{server.base}/private.git"
        code, report, err = run_json(capsys, private, url, "--clone-dir", str(tmp_path / "c"))
        assert code == 2
        check(report, err, url, token, private, "clone failed")
        code, report, err = run_json(capsys, f"http://ci:{password}@{private[7:]}", "--clone-dir", str(tmp_path / "c"))
    finally:
        server.stop()
    assert code == 1, err
    (finding,) = report["findings"]
    assert finding["provenance"]["repository"] == private
    assert password not in json.dumps(report) + err
    assert leak not in json.dumps(report) + err
    assert any(h for h in server.auth_headers)  # the credential reached the server, as a header
    config = tmp_path / "c" / os.path.basename(fleet_clones.entry_path(str(tmp_path / "c"), private)) / "config"
    assert password not in config.read_text()  # nor is it kept in the clone cache


def test_plain_http_remote_is_refused_outside_tests(tmp_path, capsys, good):
    token, url = good
    code, report, err = run_json(
        capsys, f"http://127.0.0.1:{closed_port()}/x.git", url, "--clone-dir", str(tmp_path / "c")
    )
    assert code == 2
    check(report, err, url, token, "http://127.0.0.1", "not allowed")


def test_repository_disappears_between_listing_and_cloning(tmp_path, capsys, good):
    token, url = good
    forge = started(FakeForge())
    gone = (tmp_path / "gone.git").as_uri()
    forge.github["orgs/acme"] = [
        {"full_name": "acme/good", "clone_url": url, "fork": False, "archived": False},
        {"full_name": "acme/gone", "clone_url": gone, "fork": False, "archived": False},
    ]
    try:
        code, report, err = run_json(capsys, "--github-org", "acme", "--github-api-url", forge.base)
    finally:
        forge.stop()
    assert code == 2
    check(report, err, url, token, gone, "clone failed")


def test_corrupt_clone_cache_entry(tmp_path, capsys, good):
    token, url = good
    other = make_remote(tmp_path, "other", [new_pit()])[1]
    cache = tmp_path / "c"
    entry = fleet_clones.entry_path(str(cache), other)
    os.makedirs(entry)
    with open(os.path.join(entry, "HEAD"), "w") as f:
        f.write("garbage\n")
    code, report, err = run_json(capsys, other, url, "--clone-dir", str(cache))
    assert code == 2
    check(report, err, url, token, other, "not a readable git repository")


def test_clone_cache_entry_of_another_url(tmp_path, capsys, good):
    token, url = good
    other = make_remote(tmp_path, "other", [new_pit()])[1]
    cache = tmp_path / "c"
    run_json(capsys, url, "--clone-dir", str(cache))
    shutil.copytree(fleet_clones.entry_path(str(cache), url), fleet_clones.entry_path(str(cache), other))
    code, report, err = run_json(capsys, other, url, "--clone-dir", str(cache))
    assert code == 2
    check(report, err, url, token, other, "belongs to another URL")


@pytest.mark.parametrize("kind", ["newer", "corrupt"])
def test_state_file_newer_or_corrupt(tmp_path, capsys, good, kind):
    _, url = good
    state = tmp_path / "s.sqlite"
    if kind == "newer":
        db = sqlite3.connect(state)
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(fleet_state.SCHEMA_VERSION + 1),))
        db.commit()
        db.close()
    else:
        state.write_bytes(os.urandom(8192))
    code, report, err = run_json(capsys, url, "--incremental", "--state", str(state))
    assert code == 2 and report is None  # never a silent full pass
    assert ("newer pit-guard" if kind == "newer" else "not a readable pit-guard state file") in err


def test_ctrl_c_mid_fleet_leaves_a_consistent_state_and_no_half_clone(tmp_path, good, in_process):
    token, url = good
    second = make_remote(tmp_path, "second", [new_pit()])[1]
    state, cache = tmp_path / "s.sqlite", tmp_path / "c"
    env = git_env({"PIT_GUARD_CACHE_DIR": str(tmp_path / "cache"), "PIT_GUARD_TEST_PAUSE": "1"})
    args = [sys.executable, "-m", "pit_guard", "audit", url, second, "--incremental", "--state", str(state)]
    args += ["--clone-dir", str(cache), "--jobs", "1", "--format", "json"]
    # SIGINT back to its default in the child: a test run started in the background by a shell without
    # job control (nohup, `cmd &` in a script) inherits SIGINT ignored, and the child would then wait in
    # its pause for ever instead of being interrupted.
    proc = subprocess.Popen(
        args,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert b"paused" in proc.stderr.readline()  # mid-audit of the first repository
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # failed: leave no process behind
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert token.encode() not in out + err
    db = sqlite3.connect(state)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    assert not [n for n in os.listdir(cache) if n.startswith(".cloning-")]
    env.pop("PIT_GUARD_TEST_PAUSE")
    again = in_process(*args[3:], cwd=tmp_path, env=env)  # the resumed run: in-process (SIGINT was the real one's)
    assert again.returncode == 1, again.stderr
    assert len(json.loads(again.stdout)["findings"]) == 2
