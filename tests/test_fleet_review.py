"""Adversarial review of the fleet audit: a hostile forge, hostile URLs, credentials in URLs."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from fleet_helpers import new_pit, run_json
from loopback import started

from pit_guard.cli import main

pytestmark = pytest.mark.usefixtures("fleet_env")


@pytest.fixture
def argv_log(tmp_path, monkeypatch):
    """A git wrapper on PATH that logs every git command line."""
    real_git = shutil.which("git")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "argv.log"
    log.write_text("")
    (bin_dir / "git").write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {real_git} "$@"\n')
    (bin_dir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_a_token_as_the_url_user_never_reaches_a_command_line(tmp_path, capsys, argv_log):
    """`https://TOKEN@host/repo` (GitHub's token-as-username form): no password, still a credential."""
    secret = "ghp_" + new_pit()[4:].replace("-", "")
    url = f"https://{secret}@127.0.0.1:9/owner/repo.git"
    code, report, err = run_json(capsys, url, "--clone-dir", str(tmp_path / "c"))
    assert code == 2
    assert "clone --mirror" in argv_log.read_text()
    assert secret not in json.dumps(report) + err + argv_log.read_text()


def test_a_token_in_the_query_string_is_never_shown_nor_on_a_command_line(tmp_path, capsys, argv_log):
    secret = "glpat-" + new_pit()[4:]
    url = f"https://127.0.0.1:9/owner/repo.git?private_token={secret}"
    code, report, err = run_json(capsys, url, "--clone-dir", str(tmp_path / "c"))
    assert code == 2
    assert secret not in json.dumps(report) + err + argv_log.read_text()


def test_list_only_escapes_control_characters_in_a_forge_clone_url(capsys, forge, clock):
    forge.github["orgs/acme"] = [
        {"full_name": "acme/a", "clone_url": "file:///srv/a.git\n\x1b[31mFAKE LINE", "fork": False},
    ]
    code, out, err = run_listing(capsys, forge)
    assert code == 0, err
    assert "\x1b" not in out and out.count("\n") == 1


def test_one_listing_entry_with_a_bad_scheme_does_not_abort_the_fleet(tmp_path, capsys, forge, clock):
    forge.github["orgs/acme"] = [
        {"full_name": "acme/a", "clone_url": "gopher://example.invalid/a", "fork": False},
        {"full_name": "acme/b", "clone_url": (tmp_path / "b.git").as_uri(), "fork": False},
    ]
    code, out, err = run_listing(capsys, forge)
    assert code == 2
    assert out.split() == [(tmp_path / "b.git").as_uri()]  # the good one is still listed
    assert "gopher" in err and "unsupported URL scheme" in err


def run_listing(capsys, forge, *extra):
    code = main(["audit", "--github-org", "acme", "--github-api-url", forge.base, "--list-only", *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_link_header_loop_is_refused_not_followed_forever(capsys, forge, clock):
    """A next-page link back to the same page: an endless listing (the fake stops after 50 answers,
    so without a guard this ends in an HTTP 500 after 50 requests instead of hanging the test)."""
    answered = []

    def answer(path, query, headers):
        answered.append(path)
        if len(answered) > 50:
            return 500, {"message": "enough"}, {}
        link = f'<{forge.base}{path}?page=1>; rel="next"'
        return 200, [{"full_name": "acme/a", "clone_url": "file:///srv/a.git"}], {"Link": link}

    forge.answer = answer
    code, _, err = run_listing(capsys, forge)
    assert code == 2
    assert len(answered) <= 3, len(answered)
    assert "loop" in err


def test_a_huge_retry_after_does_not_wait_past_the_listing_deadline(capsys, forge, clock):
    forge.limited = [(429, {"Retry-After": str(10**9)})] * 40
    forge.github["orgs/acme"] = [{"full_name": "acme/a", "clone_url": "file:///srv/a.git"}]
    code, _, err = run_listing(capsys, forge)
    assert code == 2
    assert sum(clock["slept"]) <= 3600, sum(clock["slept"])
    assert "rate limit" in err


def test_a_non_numeric_rate_limit_reset_on_a_good_page_is_no_internal_error(capsys, forge, clock):
    def answer(path, query, headers):
        body = [{"full_name": "acme/a", "clone_url": "file:///srv/a.git"}]
        return 200, body, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "soon"}

    forge.answer = answer
    code, out, err = run_listing(capsys, forge)
    assert code == 0, err
    assert out.split() == ["file:///srv/a.git"]


@pytest.mark.parametrize("url", ["https://[abc/x.git", "https://h:notaport/x.git"])
def test_a_malformed_url_is_a_usage_error_not_an_internal_error(capsys, url):
    code = main(["audit", "--list-only", url])
    err = capsys.readouterr().err
    assert code == 2 and "internal error" not in err and "not a valid URL" in err


# --- shards and merge ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sharded(fleet_env_module):
    """Four repositories (one with an allow-marked token: a suppression count), the single run's
    JSON report and the three shard reports. Built once for the module: its tests only read them
    (a test that edits a report writes the edited copy to its own tmp_path)."""
    from fleet_helpers import make_remote, push

    root = fleet_env_module
    urls = []
    for i in range(4):
        work, url = make_remote(root, f"s{i}", [new_pit()])
        if i == 0:
            work.write("allowed.env", f"K={new_pit()}  # pit-guard: allow\n")
            work.commit("allowed")
            push(work, url)
        urls.append(url)
    clones = str(root / "clones")
    # -o: the same text as stdout (pipeline.render), which a module fixture cannot capture with capsys
    main(["audit", *urls, "--clone-dir", clones, "--format", "json", "--jobs", "1", "-o", str(root / "single.json")])
    single = (root / "single.json").read_text()
    parts = []
    for i in (1, 2, 3):
        part = root / f"shard{i}.json"
        main(["audit", *urls, "--clone-dir", clones, "--shard", f"{i}/3", "--format", "json", "-o", str(part)])
        parts.append(str(part))
    return single, parts


def merged(capsys, *parts):
    code = main(["merge", *parts, "--format", "json"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_missing_shard_fails_the_merge(capsys, sharded):
    _, parts = sharded
    code, out, err = merged(capsys, parts[0], parts[2])
    assert code == 2 and "shard(s) 2 of 3 missing" in err


def test_a_duplicated_shard_report_merges_into_the_single_run(capsys, sharded):
    single, parts = sharded
    assert '"allow-marker"' in single
    code, out, err = merged(capsys, *parts, parts[0], parts[1], parts[2])
    assert code == 1, err
    assert out == single


def test_reports_of_different_versions_are_not_merged(tmp_path, capsys, sharded):
    _, parts = sharded
    report = json.loads(open(parts[1]).read())
    report["tool"]["version"] = "0.0.1"
    older = tmp_path / "older.json"
    older.write_text(json.dumps(report))
    code, _, err = merged(capsys, parts[0], str(older), parts[2])
    assert code == 2 and "different pit-guard versions" in err


def test_a_hostile_repository_field_is_refused_not_an_internal_error(tmp_path, capsys, sharded):
    _, parts = sharded
    # Which shard holds findings depends on the hash of the (temp) repository names: take one that does.
    index = next(i for i, part in enumerate(parts) if json.loads(open(part).read())["findings"])
    report = json.loads(open(parts[index]).read())
    for f in report["findings"]:
        f["provenance"]["repository"] = 5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(report))
    code, _, err = merged(capsys, *[str(bad) if i == index else part for i, part in enumerate(parts)])
    assert code == 2 and "internal error" not in err and "cannot merge it" in err


# --- incremental state --------------------------------------------------------------------------


def test_a_token_in_a_ref_name_or_a_path_is_never_stored_in_the_state(tmp_path, capsys):
    import sqlite3

    from fleet_helpers import make_remote, push

    in_path, in_ref, in_url = new_pit(), new_pit(), new_pit()
    work, url = make_remote(tmp_path, "r", [new_pit()])
    work.write(f"keys/{in_path}.env", f"K={new_pit()}\n")
    work.commit("a key file named after a token")
    push(work, url)
    work.git("branch", f"leak-{in_ref}")
    work.git("push", "-q", url, f"leak-{in_ref}")
    named = tmp_path / in_url / "r.git"  # a repository whose path holds a token
    named.parent.mkdir()
    work.git("clone", "-q", "--bare", url, str(named))
    state, clones = tmp_path / "s.sqlite", str(tmp_path / "clones")
    args = [url, named.as_uri(), "--clone-dir", clones, "--format", "json"]
    for _ in range(2):  # the second run: from the state, the same report as a full audit
        code, inc, err = run_json(capsys, *args, "--incremental", "--state", str(state))
        assert code == 1, err
        assert inc == run_json(capsys, *args)[1]
    dump = "\n".join(sqlite3.connect(state).iterdump())
    for token in (in_path, in_ref, in_url):
        assert token not in dump


# --- git over http: a redirect must not carry the credential elsewhere ---------------------------


def test_a_git_server_redirect_does_not_take_the_credential_to_another_host(tmp_path, capsys, monkeypatch):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from fleet_helpers import make_remote
    from git_http_server import GitHTTP

    make_remote(tmp_path / "served", "private", [new_pit()])
    password = "pw-" + new_pit()[4:]
    elsewhere = started(GitHTTP(tmp_path / "served", "ci", password))  # another host: records what it is sent

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(302)
            self.send_header("Location", elsewhere.base + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    origin = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=origin.serve_forever, daemon=True).start()
    monkeypatch.setenv("PIT_GUARD_TEST_ALLOW_HTTP", "1")
    try:
        url = f"http://ci:{password}@127.0.0.1:{origin.server_address[1]}/private.git"
        code, report, err = run_json(capsys, url, "--clone-dir", str(tmp_path / "c"))
    finally:
        origin.shutdown()
        origin.server_close()
        elsewhere.stop()
    assert elsewhere.expected not in elsewhere.auth_headers, elsewhere.auth_headers
    assert code == 2  # not followed: that repository fails, named
    assert elsewhere.expected not in elsewhere.auth_headers
    assert password not in json.dumps(report) + err


def test_an_archive_entry_that_could_not_be_read_is_still_unread_on_an_incremental_rerun(tmp_path, capsys):
    """The blob of an archive with a broken entry was stored as scanned: the re-run reused it and
    lost the unread entry (exit 1, `complete`) where a full audit says exit 2."""
    import io
    import zipfile

    from fleet_helpers import make_remote, push

    work, url = make_remote(tmp_path, "r", [])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.env", f"K={new_pit()}\n")
        z.writestr("b.env", f"K={new_pit()}\n" + "x" * 500)
    data = bytearray(buf.getvalue())
    at = data.find(b"b.env") + 15  # inside b.env's compressed bytes
    data[at : at + 20] = b"\xff" * 20
    work.write("bundle.zip", bytes(data))
    work.commit("a zip with a broken entry")
    push(work, url)
    args = [url, "--clone-dir", str(tmp_path / "c"), "--incremental", "--state", str(tmp_path / "s.sqlite")]
    first = run_json(capsys, *args)
    assert first[0] == 2 and any(u["path"].endswith("!b.env") for u in first[1]["skipped"])
    again = run_json(capsys, *args)
    assert again[0] == 2
    assert again[1] == first[1]


def test_blob_shards_sharing_one_state_merge_into_the_full_audit(tmp_path, capsys):
    """One repository split by blob id, every shard on the same state file (the default one, or
    shards re-cut from 3 to 4): one shard must not continue another shard's history pass."""
    from fleet_helpers import make_remote

    _, url = make_remote(tmp_path, "r", [new_pit() for _ in range(8)], extra_files=3)
    clones, state = str(tmp_path / "c"), str(tmp_path / "s.sqlite")
    main(["audit", url, "--clone-dir", clones, "--format", "json"])
    full = capsys.readouterr().out
    for count in (3, 4):
        parts = []
        for i in range(1, count + 1):
            part = tmp_path / f"{count}-{i}.json"
            args = [url, "--clone-dir", clones, "--shard", f"{i}/{count}", "--incremental", "--state", state]
            main(["audit", *args, "--format", "json", "-o", str(part)])
            parts.append(str(part))
        capsys.readouterr()
        code, out, err = merged(capsys, *parts)
        assert code == 1, err
        assert out == full


def test_the_clone_cache_and_the_state_are_private_to_the_user(tmp_path, capsys, monkeypatch):
    """Mirrors of private repositories (every secret of their history) and the state: a clone cache
    made by pit-guard is not readable by other users of a shared machine (a CI runner)."""
    import stat

    from fleet_helpers import make_remote

    old = os.umask(0o022)
    try:
        _, url = make_remote(tmp_path, "r", [new_pit()])
        clones, state = tmp_path / "cache" / "clones", tmp_path / "cache" / "st" / "s.sqlite"
        code, _, err = run_json(capsys, url, "--clone-dir", str(clones), "--incremental", "--state", str(state))
    finally:
        os.umask(old)
    assert code == 1, err
    for folder in (clones, state.parent):
        assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0, oct(folder.stat().st_mode)
