"""Fleet audits of remote repositories: mirror clones into the clone cache, later runs only fetch,
many repositories at once (--jobs) into one report whose provenance names each repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from fleet_helpers import make_remote, new_pit, push, run_json
from git_helpers import git_env
from loopback import started

from pit_guard.cli import main

pytestmark = pytest.mark.usefixtures("fleet_env")


def test_remote_urls_and_a_local_path_in_one_report(tmp_path, capsys):
    shared = new_pit()
    a_tok, b_tok = new_pit(), new_pit()
    _, url_a = make_remote(tmp_path, "client-a", [a_tok, shared])
    _, url_b = make_remote(tmp_path, "client-b", [shared])
    local, _ = make_remote(tmp_path, "local", [b_tok])
    clones = tmp_path / "clones"
    code, report, err = run_json(capsys, url_a, url_b, str(local.path), "--clone-dir", str(clones), "--jobs", "2")
    assert code == 1, err
    by_repo = {}
    for f in report["findings"]:
        by_repo.setdefault(f["provenance"]["repository"], set()).add(f["fingerprint"])
    assert set(by_repo) == {url_a, url_b, str(local.path)}
    fps = {f["fingerprint"]: f["secret"] for f in report["findings"]}
    assert len(fps) == 3  # the shared token is one credential in two repositories
    assert len(report["findings"]) == 4
    assert report["complete"] is True
    # mirror clones in the cache, all refs
    entries = sorted(os.listdir(clones))
    assert len(entries) == 2 and all(e.endswith(".git") for e in entries)
    for secret in (shared, a_tok, b_tok):
        assert secret not in json.dumps(report) + err


def test_second_run_fetches_new_commits(tmp_path, capsys):
    work, url = make_remote(tmp_path, "svc", [new_pit()])
    clones = str(tmp_path / "clones")
    code, first, _ = run_json(capsys, url, "--clone-dir", clones)
    assert code == 1 and len(first["findings"]) == 1
    later = new_pit()
    work.write("later.env", f"K={later}\n")
    work.commit("later")
    push(work, url)
    code, second, _ = run_json(capsys, url, "--clone-dir", clones)
    assert code == 1 and len(second["findings"]) == 2
    assert len(os.listdir(clones)) == 1  # fetched into the same entry, not cloned again


def test_one_failing_repository_is_reported_and_the_rest_still_run(tmp_path, capsys):
    token = new_pit()
    _, url = make_remote(tmp_path, "good", [token])
    gone = (tmp_path / "deleted.git").as_uri()
    code, report, err = run_json(capsys, gone, url, "--clone-dir", str(tmp_path / "c"), "--jobs", "2")
    assert code == 2
    assert [f["provenance"]["repository"] for f in report["findings"]] == [url]
    (skipped,) = report["skipped"]
    assert skipped["path"] == f"<repository {gone}>" and skipped["fails"] is True
    assert "not scanned <repository" in err


def test_userinfo_never_shown_and_never_on_a_command_line(tmp_path, capsys, monkeypatch):
    """A token in a URL's userinfo: never in any output, never in git's argv (a wrapper on PATH logs
    every git command line), never in the clone cache's name."""
    secret = "s3cret-" + new_pit()[4:]
    url = f"https://user:{secret}@127.0.0.1:9/owner/repo.git"  # nothing listens on port 9
    real_git = shutil.which("git")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "argv.log"
    (bin_dir / "git").write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {real_git} "$@"\n')
    (bin_dir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    code, report, err = run_json(capsys, url, "--clone-dir", str(tmp_path / "c"))
    assert code == 2
    (skipped,) = report["skipped"]
    assert skipped["path"] == "<repository https://127.0.0.1:9/owner/repo.git>"
    assert "clone --mirror" in log.read_text()
    assert secret not in json.dumps(report) + err + log.read_text()
    assert not any(secret in name for name in os.listdir(tmp_path / "c"))


def test_single_local_repository_report_has_no_repository_key(tmp_path, capsys):
    """A plain `audit PATH` keeps its report shape (golden files): no `repository` key."""
    work, _ = make_remote(tmp_path, "one", [new_pit()])
    code, report, _ = run_json(capsys, str(work.path))
    assert code == 1
    assert "repository" not in report["findings"][0]["provenance"]


@pytest.fixture(scope="module")
def two_remotes(fleet_env_module):
    """One token in two repositories, and a clone folder, shared by the format rows (the repositories
    are only read; the first row clones them, the others fetch: what is checked is the report)."""
    token = new_pit()
    _, url_a = make_remote(fleet_env_module, "ra", [token])
    _, url_b = make_remote(fleet_env_module, "rb", [token])
    return token, url_a, url_b, str(fleet_env_module / "c")


@pytest.mark.parametrize("fmt", ["text", "sarif", "gitlab", "markdown"])
def test_every_format_names_the_repository(capsys, two_remotes, fmt):
    token, url_a, url_b, clones = two_remotes
    code = main(["audit", "--format", fmt, url_a, url_b, "--clone-dir", clones, "--jobs", "1"])
    out = capsys.readouterr()
    assert code == 1
    assert url_a in out.out and url_b in out.out
    assert token not in out.out + out.err
    if fmt == "markdown":
        assert out.out.count("### ") == 1  # one credential to revoke, in two repositories
        assert "In 2 repositories" in out.out


def test_real_process_exits_1_and_leaves_no_secret(tmp_path):
    token = new_pit()
    _, url = make_remote(tmp_path, "proc", [token])
    env = git_env({"PIT_GUARD_CACHE_DIR": str(tmp_path / "cache")})
    proc = subprocess.run(
        [sys.executable, "-m", "pit_guard", "audit", url, "--format", "json"], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["findings"][0]["provenance"]["repository"] == url
    assert token not in proc.stdout + proc.stderr


def test_progress_line_counts_repositories_and_blobs(capsys):
    from pit_guard.fleet.run import Outcome, _Progress
    from pit_guard.sources.result import SourceResult

    secret = new_pit()
    bar = _Progress(3, enabled=True)
    bar.advance(Outcome(f"https://u:{secret}@h/a.git", SourceResult(), blobs=10))
    bar.advance(Outcome("b", SourceResult(), blobs=5))
    bar.close()
    err = capsys.readouterr().err
    assert "fleet 1/3 repositories, 10 blobs, last: https://***@h/a.git" in err
    assert "fleet 2/3 repositories, 15 blobs, last: b" in err
    assert secret not in err


def test_a_hooks_git_dir_does_not_redirect_a_fleet_clone(tmp_path, capsys, monkeypatch):
    """Run with GIT_DIR set (a git hook) and only an organisation named: the listed remote is still
    cloned and audited, not the repository GIT_DIR points at."""
    from forge_fake_server import FakeForge

    token = new_pit()
    other, _ = make_remote(tmp_path, "other", [new_pit()])
    _, url = make_remote(tmp_path, "named", [token])
    monkeypatch.setenv("GIT_DIR", str(other.path / ".git"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    forge = started(FakeForge())
    forge.github["orgs/acme"] = [{"full_name": "acme/named", "clone_url": url, "fork": False, "archived": False}]
    try:
        code, report, err = run_json(
            capsys, "--github-org", "acme", "--github-api-url", forge.base, "--clone-dir", str(tmp_path / "c")
        )
    finally:
        forge.stop()
    assert code == 1, err
    assert [f["provenance"]["repository"] for f in report["findings"]] == [url]
    assert token not in json.dumps(report) + err
