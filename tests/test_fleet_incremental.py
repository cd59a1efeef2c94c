"""--incremental: blobs scanned before are not read again, the report is exactly a full audit's,
the SQLite state never holds a secret, is versioned, and survives an interrupted run."""

from __future__ import annotations

import json
import sqlite3

import pytest
from fleet_helpers import make_remote, new_pit, push

from pit_guard.cli import main
from pit_guard.fleet import run as fleet_run
from pit_guard.fleet import state as fleet_state

pytestmark = pytest.mark.usefixtures("fleet_env")


def audit(capsys, *args):
    code = main(["audit", "--format", "json", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def state_bytes(path):
    data = b""
    for suffix in ("", "-wal", "-shm"):
        try:
            with open(str(path) + suffix, "rb") as f:
                data += f.read()
        except FileNotFoundError:
            pass
    return data


def test_second_run_reads_only_new_blobs_and_reports_what_a_full_audit_does(tmp_path, capsys):
    old = [new_pit(), new_pit()]
    work, url = make_remote(tmp_path, "inc", old, extra_files=4)
    state = tmp_path / "state.sqlite"
    clones = str(tmp_path / "clones")
    code, first, err = audit(capsys, url, "--incremental", "--state", str(state), "--clone-dir", clones)
    assert code == 1
    assert "0 known from an earlier run" in err
    new = new_pit()
    work.write("config/new.env", f"NEW={new}\n")
    work.write("docs/readme0.md", "changed\n")
    work.commit("new token")
    push(work, url)
    code, second, err = audit(capsys, url, "--incremental", "--state", str(state), "--clone-dir", clones)
    assert code == 1
    assert "incremental: 2 new blob(s) read" in err  # the new .env and the changed readme
    code, full, _ = audit(capsys, url, "--clone-dir", clones)
    assert second == full
    assert len(json.loads(second)["findings"]) == 3
    for token in (*old, new):
        assert token.encode() not in state_bytes(state)
        assert token not in second + err


def test_blob_ids_are_shared_across_repositories(tmp_path, capsys):
    """A fork (the same blobs) is read once: its blobs are known from the first repository."""
    token = new_pit()
    work, url = make_remote(tmp_path, "orig", [token])
    fork = tmp_path / "fork.git"
    work.git("clone", "-q", "--bare", url, str(fork))
    state = str(tmp_path / "s.sqlite")
    audit(capsys, url, "--incremental", "--state", state, "--clone-dir", str(tmp_path / "c"))
    code, out, err = audit(capsys, fork.as_uri(), "--incremental", "--state", state, "--clone-dir", str(tmp_path / "c"))
    assert code == 1 and "incremental: 0 new blob(s) read" in err
    (finding,) = json.loads(out)["findings"]
    assert finding["provenance"]["repository"] == fork.as_uri()


def test_show_secrets_on_an_incremental_run_reads_the_blob_again(tmp_path, capsys):
    token = new_pit()
    _, url = make_remote(tmp_path, "show", [token])
    state = str(tmp_path / "s.sqlite")
    audit(capsys, url, "--incremental", "--state", state)
    code, out, _ = audit(capsys, url, "--incremental", "--state", state, "--show-secrets")
    assert code == 1 and json.loads(out)["findings"][0]["secret"] == token
    assert token.encode() not in state_bytes(state)


def test_a_detector_change_reads_everything_again(tmp_path, capsys, monkeypatch):
    _, url = make_remote(tmp_path, "det", [new_pit()])
    state = str(tmp_path / "s.sqlite")
    audit(capsys, url, "--incremental", "--state", state)
    monkeypatch.setattr(fleet_state, "detector_version", lambda: "another detector")
    code, _, err = audit(capsys, url, "--incremental", "--state", state)
    assert code == 1
    assert "the detector changed" in err and "0 known from an earlier run" in err


def test_state_from_a_newer_version_or_corrupt_is_exit_2(tmp_path, capsys):
    _, url = make_remote(tmp_path, "ver", [new_pit()])
    newer = tmp_path / "newer.sqlite"
    db = sqlite3.connect(newer)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('schema', '99')")
    db.commit()
    db.close()
    code, out, err = audit(capsys, url, "--incremental", "--state", str(newer))
    assert code == 2 and "newer pit-guard" in err and out == ""
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"this is not a database" * 100)
    code, out, err = audit(capsys, url, "--incremental", "--state", str(corrupt))
    assert code == 2 and "not a readable pit-guard state file" in err and out == ""


def test_interrupted_fleet_keeps_a_consistent_state_and_the_next_run_resumes(tmp_path, capsys, monkeypatch):
    urls = [make_remote(tmp_path, f"r{i}", [new_pit()])[1] for i in range(3)]
    state = str(tmp_path / "s.sqlite")
    real = fleet_run.audit_one
    calls = []

    def interrupt_second(target, options, workers=None):
        calls.append(target.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(target, options, workers)

    monkeypatch.setattr(fleet_run, "audit_one", interrupt_second)
    code = main(["audit", *urls, "--incremental", "--state", state, "--jobs", "1"])
    capsys.readouterr()
    assert code == 130
    db = sqlite3.connect(state)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert [r[0] for r in db.execute("SELECT name FROM repositories")] == [urls[0]]
    db.close()
    monkeypatch.setattr(fleet_run, "audit_one", real)
    code, out, err = audit(capsys, *urls, "--incremental", "--state", state, "--jobs", "1")
    assert code == 1 and len(json.loads(out)["findings"]) == 3
    assert "known from an earlier run" in err and " 0 known" not in err


def test_state_needs_incremental(tmp_path, capsys):
    code, _, err = audit(capsys, ".", "--state", str(tmp_path / "s"))
    assert code == 2 and "--incremental" in err


def test_commit_messages_are_remembered_clean_and_read_again_when_they_hold_a_secret(tmp_path, capsys):
    token = new_pit()
    work, url = make_remote(tmp_path, "msg", [], extra_files=2)
    work.commit(f"rotate: old key was {token}")
    push(work, url)
    state = tmp_path / "s.sqlite"
    for _ in range(2):
        code, out, err = audit(capsys, url, "--incremental", "--state", str(state))
        assert code == 1
        (finding,) = json.loads(out)["findings"]
        assert finding["path"].startswith("<commit ") and token not in out + err
    db = sqlite3.connect(state)
    clean_commits = db.execute("SELECT count(*) FROM blobs WHERE length(sha) = 40 AND findings = '[]'").fetchone()[0]
    db.close()
    assert clean_commits >= 3  # 2 blobs + the clean "init" commit at least
    assert token.encode() not in state_bytes(state)


def _three_runs_equal_full(capsys, url, state, clones):
    code, inc, err = audit(capsys, url, "--incremental", "--state", str(state), "--clone-dir", clones)
    code_full, full, _ = audit(capsys, url, "--clone-dir", clones)
    assert code == code_full == 1
    assert inc == full
    return err


def test_history_walk_continues_after_new_commits_and_falls_back_when_rewritten(tmp_path, capsys):
    """A re-run walks only new commits (told on stderr) and still writes the full audit's report;
    a force-push that rewrote history, or a branch started from an old commit, walks it all again."""
    old = [new_pit(), new_pit()]
    work, url = make_remote(tmp_path, "walk", old, extra_files=2)
    work.commit(f"note: rotated {new_pit()}")  # a message finding, kept by the state
    push(work, url)
    state, clones = tmp_path / "s.sqlite", str(tmp_path / "clones")
    err = _three_runs_equal_full(capsys, url, state, clones)
    assert "history continued" not in err  # the first run walks everything
    # new commits on top: continued
    work.write("config/new.env", f"K={new_pit()}\n")
    work.commit("new")
    work.write("config/new.env", "K=\n")
    work.commit("removed again")
    push(work, url)
    err = _three_runs_equal_full(capsys, url, state, clones)
    assert "history continued from the last audit" in err
    # a branch started from an old commit (no ref's tip before): a full walk, same report
    first = work.git("rev-list", "--max-parents=0", "HEAD").strip()
    work.git("checkout", "-q", "-b", "side", first)
    work.write("side.env", f"S={new_pit()}\n")
    work.commit("side")
    work.git("push", "-q", url, "side")
    work.git("checkout", "-q", "main")
    err = _three_runs_equal_full(capsys, url, state, clones)
    assert "history continued" not in err
    # history rewritten (force-push of an older main): a full walk, same report
    work.git("reset", "-q", "--hard", "HEAD~2")
    work.git("push", "-q", "--force", url, "main")
    err = _three_runs_equal_full(capsys, url, state, clones)
    assert "history continued" not in err
    err = _three_runs_equal_full(capsys, url, state, clones)  # and continues again from there
    assert "history continued from the last audit" in err


def test_incremental_with_parallel_jobs(tmp_path, capsys):
    """Workers read the state and return what to store; the main process writes it."""
    repos = [make_remote(tmp_path, f"p{i}", [new_pit()]) for i in range(2)]
    urls = [url for _, url in repos]
    state, clones = str(tmp_path / "s.sqlite"), str(tmp_path / "clones")
    audit(capsys, *urls, "--incremental", "--state", state, "--clone-dir", clones, "--jobs", "2")
    for work, url in repos:
        work.write("more.env", f"M={new_pit()}\n")
        work.commit("more")
        push(work, url)
    code, inc, err = audit(capsys, *urls, "--incremental", "--state", state, "--clone-dir", clones, "--jobs", "2")
    assert code == 1 and err.count("history continued") == 2
    assert "incremental: 2 new blob(s) read" in err
    assert inc == audit(capsys, *urls, "--clone-dir", clones, "--jobs", "2")[1]
