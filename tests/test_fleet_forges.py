"""--github-org / --github-user / --gitlab-group against a loopback API whose clone URLs are file://
bare repositories: pagination, forks and archived skipped, rate limits waited out on a fake clock,
401 and 404 reported (exit 2) while the rest is audited, tokens sent to the API only."""

from __future__ import annotations

import json

import pytest
from fleet_helpers import make_remote, new_pit

from pit_guard.cli import main
from pit_guard.fleet import forges

pytestmark = pytest.mark.usefixtures("fleet_env")


def gh_repo(name, url, **flags):
    return {"full_name": f"acme/{name}", "clone_url": url, "fork": False, "archived": False, **flags}


@pytest.fixture(scope="module")
def acme_repositories(fleet_env_module):
    """The organisation's five bare repositories, built once for the module (the tests only read them)."""
    tokens = {}
    repos = []
    for name in ("api", "web", "tools", "forked", "old"):
        tokens[name] = new_pit()
        _, url = make_remote(fleet_env_module, name, [tokens[name]])
        repos.append(gh_repo(name, url, fork=name == "forked", archived=name == "old"))
    return tokens, repos


@pytest.fixture
def acme(acme_repositories, forge):
    """The organisation listed by this test's forge."""
    tokens, repos = acme_repositories
    forge.github["orgs/acme"] = [dict(r) for r in repos]
    return tokens, {r["full_name"].split("/")[1]: r["clone_url"] for r in repos}


def run(capsys, *args):
    code = main(["audit", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_github_org_follows_pages_and_skips_forks_and_archived(tmp_path, capsys, forge, acme, clock):
    tokens, urls = acme
    code, out, err = run(capsys, "--github-org", "acme", "--github-api-url", forge.base, "--format", "json")
    assert code == 1, err
    report = json.loads(out)
    repos = sorted({f["provenance"]["repository"] for f in report["findings"]})
    assert repos == sorted([urls["api"], urls["web"], urls["tools"]])
    assert len([r for r, _ in forge.requests if r.startswith("/orgs/acme/repos")]) == 3  # 5 repos, 2 a page
    for token in tokens.values():
        assert token not in out + err


def test_include_forks_and_archived_and_list_only(capsys, forge, acme, clock):
    _, urls = acme
    code, out, _ = run(
        capsys,
        "--github-org",
        "acme",
        "--github-api-url",
        forge.base,
        "--include-forks",
        "--include-archived",
        "--list-only",
    )
    assert code == 0
    assert sorted(out.split()) == sorted(urls.values())


def test_github_api_url_from_the_environment_and_user_listing(capsys, forge, acme, clock, monkeypatch):
    _, urls = acme
    forge.github["users/bob"] = [gh_repo("api", urls["api"])]
    monkeypatch.setenv("GITHUB_API_URL", forge.base)
    code, out, _ = run(capsys, "--github-user", "bob", "--list-only")
    assert code == 0 and out.split() == [urls["api"]]


def test_rate_limits_are_waited_out_on_the_clock(capsys, forge, acme, clock):
    forge.limited = [
        (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(clock["now"]) + 120)}),
        (429, {"Retry-After": "7"}),
    ]
    code, out, err = run(capsys, "--github-org", "acme", "--github-api-url", forge.base, "--list-only")
    assert code == 0, err
    assert len(out.split()) == 3
    assert clock["slept"][0] >= 120 and clock["slept"][1] == 7
    assert "rate limited, waiting" in err


def test_token_is_sent_to_the_api_and_a_401_fails_the_run(capsys, forge, acme, clock, monkeypatch):
    token = "ghp_" + new_pit()[4:]
    forge.token = token
    code, _, err = run(capsys, "--github-org", "acme", "--github-api-url", forge.base, "--list-only")
    assert code == 2 and "HTTP 401" in err
    monkeypatch.setenv("GITHUB_TOKEN", token)
    code, out, err = run(capsys, "--github-org", "acme", "--github-api-url", forge.base, "--list-only")
    assert code == 0 and len(out.split()) == 3
    assert all(h.get("authorization") == f"Bearer {token}" for _, h in forge.requests[1:])
    assert token not in out + err


def test_unknown_org_is_reported_and_the_named_repositories_still_run(tmp_path, capsys, forge, clock):
    token = new_pit()
    _, url = make_remote(tmp_path, "solo", [token])
    code, out, err = run(capsys, url, "--github-org", "nope", "--github-api-url", forge.base, "--format", "json")
    assert code == 2
    report = json.loads(out)
    assert [f["provenance"]["repository"] for f in report["findings"]] == [url]
    assert report["skipped"][0]["path"] == "<GitHub organisation nope>" and "404" in report["skipped"][0]["reason"]


def test_gitlab_group_with_subgroups(tmp_path, capsys, forge, clock, monkeypatch):
    tokens = [new_pit(), new_pit()]
    _, a = make_remote(tmp_path, "ga", [tokens[0]])
    _, b = make_remote(tmp_path, "gb", [tokens[1]])
    _, c = make_remote(tmp_path, "gc", [new_pit()])
    forge.gitlab["acme/clients"] = [
        {"path_with_namespace": "acme/clients/a", "http_url_to_repo": a, "archived": False},
        {"path_with_namespace": "acme/clients/sub/b", "http_url_to_repo": b, "archived": False},
        {"path_with_namespace": "acme/clients/c", "http_url_to_repo": c, "archived": True},
    ]
    gl_token = "glpat-" + new_pit()[4:]
    forge.token = gl_token
    monkeypatch.setenv("GITLAB_TOKEN", gl_token)
    monkeypatch.setenv("CI_API_V4_URL", forge.base + "/api/v4")
    code, out, err = run(capsys, "--gitlab-group", "acme/clients", "--format", "json")
    assert code == 1, err
    report = json.loads(out)
    assert sorted({f["provenance"]["repository"] for f in report["findings"]}) == sorted([a, b])
    assert all(h.get("private-token") == gl_token for _, h in forge.requests)
    assert gl_token not in out + err


def test_plain_http_api_off_loopback_is_refused(capsys, clock):
    code, _, err = run(capsys, "--github-org", "acme", "--github-api-url", "http://example.com/api", "--list-only")
    assert code == 2 and "must be an https:// URL" in err


def test_git_gets_the_token_only_for_clones_from_the_api_host():
    headers = forges._git_headers("https://github.com/acme/api.git", "https://api.github.com", "x", "T")
    assert headers and headers[0][0] == "https://github.com/"
    assert forges._git_headers("https://evil.example/acme/api.git", "https://api.github.com", "x", "T") == ()
    assert forges._git_headers("file:///srv/acme/api.git", "https://api.github.com", "x", "T") == ()
    assert forges._git_headers("https://gitlab.example/a/b.git", "https://gitlab.example/api/v4", "oauth2", "T")
