"""pit-guard ci: the commit range from GitHub Actions and GitLab CI variables."""

from __future__ import annotations

import json
import subprocess

import pytest
from git_helpers import Repo, git_env, new_pit

from pit_guard.cli import main
from pit_guard.errors import FatalError
from pit_guard.sources.ci_env import ci_range

ZERO = "0" * 40


@pytest.fixture
def repo(tmp_path, monkeypatch):
    for name in (
        "CI",
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "GITHUB_EVENT_PATH",
        "GITHUB_EVENT_NAME",
        "GITHUB_BASE_REF",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA",
        "CI_COMMIT_BEFORE_SHA",
        "CI_DEFAULT_BRANCH",
        "CI_COMMIT_BRANCH",
    ):
        monkeypatch.delenv(name, raising=False)
    r = Repo(tmp_path / "r")
    r.write("a.txt", "a\n")
    r.commit("base")
    monkeypatch.chdir(r.path)
    return r


def event(tmp_path, monkeypatch, name, payload):
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_EVENT_NAME", name)
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))


def test_github_pull_request(repo, tmp_path, monkeypatch, capsys):
    base = repo.head()
    repo.write("b.env", new_pit())
    head = repo.commit("leak")
    event(tmp_path, monkeypatch, "pull_request", {"pull_request": {"base": {"sha": base}, "head": {"sha": head}}})
    assert main(["ci"]) == 1
    err = capsys.readouterr().err
    assert f"{base}..{head}" in err and "GitHub Actions" in err


def test_github_push_and_new_branch(repo, tmp_path, monkeypatch):
    base = repo.head()
    head = repo.commit("empty")
    event(tmp_path, monkeypatch, "push", {"before": base, "after": head})
    assert main(["ci"]) == 0
    event(tmp_path, monkeypatch, "push", {"before": ZERO, "after": head, "repository": {"default_branch": "main"}})
    assert ci_range(dict(__import__("os").environ))[1:] == ("origin/main", head)


def test_gitlab_variables():
    env = {"GITLAB_CI": "true", "CI_COMMIT_SHA": "b" * 40}
    assert ci_range({**env, "CI_MERGE_REQUEST_DIFF_BASE_SHA": "a" * 40}) == ("GitLab CI", "a" * 40, "b" * 40)
    assert ci_range({**env, "CI_COMMIT_BEFORE_SHA": "c" * 40})[1] == "c" * 40
    new_branch = {**env, "CI_COMMIT_BEFORE_SHA": ZERO, "CI_DEFAULT_BRANCH": "main", "CI_COMMIT_BRANCH": "topic"}
    assert ci_range(new_branch)[1] == "origin/main"
    with pytest.raises(FatalError, match="--since"):
        ci_range({**env, "CI_COMMIT_BEFORE_SHA": ZERO})


def test_not_ci_and_missing_commit_exit_2(repo, tmp_path, monkeypatch, capsys):
    assert main(["ci"]) == 2
    assert "not running in GitHub Actions or GitLab CI" in capsys.readouterr().err
    event(
        tmp_path,
        monkeypatch,
        "pull_request",
        {"pull_request": {"base": {"sha": "e" * 40}, "head": {"sha": repo.head()}}},
    )
    assert main(["ci"]) == 2
    err = capsys.readouterr().err
    assert "e" * 40 in err and "not in this clone" in err and "Traceback" not in err


def test_shallow_clone_hint(repo, tmp_path, monkeypatch, capsys):
    first = repo.head()
    for i in range(3):
        repo.commit(f"c{i}")
    shallow = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{repo.path}", str(shallow)], check=True, env=git_env()
    )
    monkeypatch.chdir(shallow)
    event(
        tmp_path, monkeypatch, "pull_request", {"pull_request": {"base": {"sha": first}, "head": {"sha": repo.head()}}}
    )
    assert main(["ci"]) == 2
    assert "fetch-depth: 0" in capsys.readouterr().err


def test_first_push_of_the_default_branch_scans_all_of_it(repo, tmp_path, monkeypatch, capsys):
    repo.write("b.env", f"T={new_pit()}\n")
    head = repo.commit("leak")
    event(
        tmp_path,
        monkeypatch,
        "push",
        {"ref": "refs/heads/main", "before": ZERO, "after": head, "repository": {"default_branch": "main"}},
    )
    assert main(["ci"]) == 1
    assert "every commit of" in capsys.readouterr().err
    gitlab = {
        "GITLAB_CI": "true",
        "CI_COMMIT_SHA": head,
        "CI_COMMIT_BEFORE_SHA": ZERO,
        "CI_DEFAULT_BRANCH": "main",
        "CI_COMMIT_BRANCH": "main",
    }
    assert ci_range(gitlab) == ("GitLab CI", "", head)
