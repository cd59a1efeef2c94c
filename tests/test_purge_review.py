"""Review of `pit-guard purge`: a hostile environment, hostile names and careless inputs. Real git
repositories, the real git-filter-repo; pit-guard itself in-process (`in_process`: cli.main with the
environment and working folder a real process would have; tests/test_purge.py runs the real process)."""

from __future__ import annotations

import base64
import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest
from git_helpers import Repo, git_env, new_pit
from in_process import Runner

from pit_guard.finding import Finding, fingerprint
from pit_guard.remediation import purge as p
from pit_guard.sources import git as pg_git

needs_filter_repo = pytest.mark.skipif(
    pg_git.find_filter_repo([os.path.dirname(sys.executable)]) is None,
    reason="git-filter-repo is not installed (pip install 'pit-guard[test]')",
)


def snapshot(folder: Path) -> Dict[str, bytes]:
    out = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, folder)] = f.read()
    return out


def all_objects(git_dir: Path) -> bytes:
    return subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"], cwd=git_dir, capture_output=True, check=True
    ).stdout


@needs_filter_repo
def test_git_dir_in_the_environment_never_turns_the_rewrite_onto_the_users_clone(
    tmp_path: Path, in_process: Runner
) -> None:
    """`GIT_DIR`/`GIT_WORK_TREE` exported (a dotfiles habit, a hook): git-filter-repo run in the mirror
    clone followed them and rewrote the user's clone, then audited it and said "Done"."""
    token = new_pit()
    repo = Repo(tmp_path / "work")
    repo.write("app.env", f"GHL_TOKEN={token}\n")
    repo.commit("leak")
    before = snapshot(repo.path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = git_env({"GIT_DIR": str(repo.path / ".git"), "GIT_WORK_TREE": str(repo.path)})
    into = tmp_path / "purged"
    proc = in_process("purge", "--apply", "--i-have-revoked", "--into", str(into), cwd=elsewhere, env=env)
    assert snapshot(repo.path) == before  # the user's clone: not one byte changed
    assert proc.returncode == 0, proc.stderr
    assert token.encode() not in all_objects(into)
    assert token not in proc.stdout + proc.stderr


@needs_filter_repo
@pytest.mark.parametrize("where", ["file", "branch", "tag"])
def test_a_token_in_a_file_or_ref_name_is_not_done(tmp_path: Path, where: str, in_process: Runner) -> None:
    """The audit reads contents and messages; --replace-text rewrites only those. A token in a file
    name or a branch/tag name stays in the rewritten clone: purge must not call that done."""
    in_name, in_content = new_pit(), new_pit()
    repo = Repo(tmp_path / "work")
    name = f"cfg-{in_name}.env" if where == "file" else "app.env"
    repo.write(name, f"GHL_TOKEN={in_content}\n")
    repo.commit("leak")
    if where == "branch":
        repo.git("branch", f"feat/{in_name}")
    elif where == "tag":
        repo.git("tag", f"v-{in_name}")
    proc = in_process("purge", str(repo.path), "--apply", "--i-have-revoked", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Done:" not in proc.stdout and "push --force" not in proc.stdout
    assert "NOT done" in proc.stderr
    assert ("file name" if where == "file" else "ref name") in proc.stderr
    for token in (in_name, in_content):
        assert token not in proc.stdout + proc.stderr


@needs_filter_repo
def test_a_name_that_only_looks_like_a_token_path_is_done(tmp_path: Path, in_process: Runner) -> None:
    """The name check is the detector's: a folder `webhook-trigger/controllers` holds no credential."""
    repo = Repo(tmp_path / "work")
    repo.write("webhook-trigger/controllers/handler.py", "def handle(): pass\n")
    repo.write("app.env", f"GHL_TOKEN={new_pit()}\n")
    repo.commit("leak")
    repo.git("branch", "webhook-trigger/retry-on-timeout")
    proc = in_process("purge", str(repo.path), "--apply", "--i-have-revoked", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Done:" in proc.stdout


def test_remote_passwords_are_never_printed(tmp_path: Path, in_process: Runner) -> None:
    token = new_pit()
    repo = Repo(tmp_path / "work")
    repo.write("app.env", f"GHL_TOKEN={token}\n")
    repo.commit("leak")
    repo.git("remote", "add", "origin", "HTTPS://deploy:upper-pw-1@git.example.com/team/app.git")
    repo.git("remote", "add", "mirror", "https://deploy:at@sign-pw-2@git.example.com/team/app.git")
    proc = in_process("purge", str(repo.path), "--i-have-revoked", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "git.example.com/team/app.git" in proc.stdout
    for secret in ("upper-pw-1", "sign-pw-2", token):
        assert secret not in proc.stdout + proc.stderr


def test_a_report_with_a_token_in_a_commit_message_can_be_purged(tmp_path: Path, in_process: Runner) -> None:
    """The documented flow (`audit --validate --format json -o FILE`, `purge --report FILE`) refused any
    repository with a token in a commit message: that place has no file to re-read the secret from."""
    in_file, in_message = new_pit(), new_pit()
    repo = Repo(tmp_path / "work")
    repo.write("app.env", f"GHL_TOKEN={in_file}\n")
    repo.commit(f"leak\n\nGHL_TOKEN={in_message}")
    out = tmp_path / "audit.json"
    audit = in_process("audit", str(repo.path), "--format", "json", "-o", str(out), cwd=tmp_path)
    assert audit.returncode == 1, audit.stderr
    document = json.loads(out.read_text())
    assert any(f["path"].startswith("<commit") for f in document["findings"])
    for f in document["findings"]:
        f["validation"] = {"status": "dead", "reason": "revoked", "checked_at": None}
    out.write_text(json.dumps(document))
    proc = in_process("purge", str(repo.path), "--report", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    written = (tmp_path / ("work-" + p.EXPRESSIONS_NAME)).read_bytes()
    assert b"literal:" + in_message.encode() + b"==>" in written
    assert b"literal:" + in_file.encode() + b"==>" in written


def test_every_encoded_form_of_an_upper_case_pit_is_in_the_expressions() -> None:
    """The detector reads `PIT-<UPPER UUID>` as the same credential (one fingerprint), also base64-
    encoded: the lower-case forms alone left it in the rewritten clone ("NOT done" for ever)."""
    token = new_pit()
    for shown in (token.upper(), "pit-" + token[4:].upper()):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"GHL_TOKEN=" + shown.encode() + b"\n")
            assert any(form in encoded for form in p.forms(token)), shown
        assert any(form in shown.encode("utf-16-le") for form in p.forms(token))


def test_into_inside_the_repository_is_refused(tmp_path: Path, in_process: Runner) -> None:
    """A mirror clone (old history) and the expressions file (every secret) inside the work tree would
    be one `git add -A` away from a commit."""
    repo = Repo(tmp_path / "work")
    repo.write("app.env", f"GHL_TOKEN={new_pit()}\n")
    repo.commit("leak")
    inside = repo.path / "purged"
    proc = in_process("purge", str(repo.path), "--apply", "--i-have-revoked", "--into", str(inside), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "inside the repository" in proc.stderr
    assert not inside.exists()


def test_an_edited_report_cannot_make_purge_rewrite_arbitrary_text(tmp_path: Path, in_process: Runner) -> None:
    """A report's `secret` (with secret_redacted false) was trusted when its fingerprint matched, and a
    fingerprint is just SHA-256 of rule and text: any text could be made to vanish from every file of
    the history, and a newline in it injected a `regex:` line into the expressions file."""
    repo = Repo(tmp_path / "work")
    repo.write("app.env", f"GHL_TOKEN={new_pit()}\n")
    repo.commit("leak")
    out = tmp_path / "audit.json"
    assert in_process("audit", str(repo.path), "--format", "json", "-o", str(out), cwd=tmp_path).returncode == 1
    document = json.loads(out.read_text())
    rule = "ghl-private-integration-token"
    for text in ("Copyright Example Inc, all rights reserved", "pit-\nregex:import"):
        document["findings"] = [
            {
                **document["findings"][0],
                "secret": text,
                "secret_redacted": False,
                "fingerprint": fingerprint(rule, text),
            }
        ]
        out.write_text(json.dumps(document))
        proc = in_process("purge", str(repo.path), "--report", str(out), "--i-have-revoked", cwd=tmp_path)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "not such a credential" in proc.stderr
        assert not (tmp_path / ("work-" + p.EXPRESSIONS_NAME)).exists()


def test_no_expression_line_comes_from_a_newline_in_a_secret() -> None:
    secret = "pit-\nregex:import"
    data = p.expressions([Finding(rule_id="ghl-private-integration-token", secret=secret, path="x", line=1, column=1)])
    assert all(line.startswith((b"literal:", b"regex:(?i)pit")) for line in data.splitlines())


@pytest.mark.parametrize("when", ["filter-repo", "audit"])
def test_an_interrupted_purge_leaves_no_secrets_file_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], when: str
) -> None:
    """SIGTERM (a closed terminal, `timeout`, CI cancelling) during the rewrite or the re-audit: exit 143,
    and the expressions file (every secret, in the clone's folder) removed like a failure removes it."""
    from pit_guard import cli

    repo = Repo(tmp_path / "work")
    token = new_pit()
    repo.write("app.env", f"GHL_TOKEN={token}\n")
    repo.commit("leak")
    program = tmp_path / "git-filter-repo"
    if when == "filter-repo":  # the signal arrives while git-filter-repo runs
        program.write_text("#!/bin/sh\nkill -TERM $PPID\nexec sleep 30\n")
    else:
        program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    monkeypatch.setattr(pg_git, "find_filter_repo", lambda search: str(program))
    if when == "audit":  # ... or while the rewritten clone is audited

        def interrupted(into: str) -> None:
            os.kill(os.getpid(), signal.SIGTERM)

        monkeypatch.setattr(p, "prove", interrupted)
    for name, value in git_env().items():
        monkeypatch.setenv(name, value)
    code = cli.main(["purge", str(repo.path), "--apply", "--i-have-revoked"])
    err = capsys.readouterr().err
    assert code == 143, err
    into = tmp_path / "work-purged"
    assert into.is_dir() and not (into / p.EXPRESSIONS_NAME).exists()
    assert token not in err


def test_every_rules_credential_written_out_in_a_report_is_accepted() -> None:
    """The edited-report check must not refuse a real --show-secrets report: every rule's examples."""
    from pit_guard.detection.detect import scan_bytes
    from pit_guard.detection.rules import RULES

    for rule in RULES:
        for ex in rule.positives:
            text = "".join(f"{k}={v}\n" for k, v in ex.before) + f"{ex.key}={ex.value}\n"
            found = [f for f in scan_bytes(text.encode(), ".env") if f.rule_id == rule.id]
            assert found, rule.id
            assert all(p._is_credential(f) for f in found), rule.id


@needs_filter_repo
def test_commits_fetched_but_not_merged_are_never_pushed_away(tmp_path: Path, in_process: Runner) -> None:
    """The advice was "fetch before purging"; but the push sends local branches, and git-filter-repo drops
    a refs/remotes/origin/X that differs from refs/heads/X: a colleague's fetched commit vanished from the
    rewritten clone, and the printed force-push would have deleted it from the remote."""
    remote = Repo(tmp_path / "remote.git", bare=True)
    other = Repo(tmp_path / "other", init=False)
    other.path.parent.mkdir(exist_ok=True)
    subprocess.run(["git", "clone", "-q", str(remote.path), str(other.path)], env=git_env(), check=True)
    token = new_pit()
    other.write("app.env", f"GHL_TOKEN={token}\n")
    other.commit("leak")
    other.git("push", "-q", "origin", "HEAD:main")
    work = Repo(tmp_path / "work", init=False)
    subprocess.run(["git", "clone", "-q", str(remote.path), str(work.path)], env=git_env(), check=True)
    other.write("colleague.txt", "pushed later\n")
    colleague = other.commit("a colleague's work")
    other.git("push", "-q", "origin", "HEAD:main")
    work.git("fetch", "-q")
    proc = in_process("purge", str(work.path), "--apply", "--i-have-revoked", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "main lacks commits of origin/main" in proc.stderr
    assert not (tmp_path / "work-purged").exists()
    work.git("merge", "-q", "--ff-only", "origin/main")  # up to date: the purge goes on, and keeps the commit
    proc = in_process("purge", str(work.path), "--apply", "--i-have-revoked", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    log = subprocess.run(["git", "log", "--all", "--format=%s"], cwd=tmp_path / "work-purged", capture_output=True)
    assert b"a colleague's work" in log.stdout and colleague


def test_a_shallow_clone_is_refused(tmp_path: Path, in_process: Runner) -> None:
    """A shallow clone's rewrite turned its oldest commit into a root commit and said "Done": the printed
    force-push would have replaced the remote's whole history with one commit."""
    source = Repo(tmp_path / "source")
    for i in range(3):
        source.write(f"app{i}.env", f"GHL_TOKEN={new_pit()}\n")
        source.commit(f"commit {i}")
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", "--depth", "1", source.path.as_uri(), str(work)], env=git_env(), check=True)
    for extra in ([], ["--apply"]):
        proc = in_process("purge", str(work), "--i-have-revoked", *extra, cwd=tmp_path)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "shallow clone" in proc.stderr and "--unshallow" in proc.stderr
        assert "Done:" not in proc.stdout
    assert sorted(os.listdir(tmp_path)) == ["source", "work"]


@needs_filter_repo
def test_what_a_text_rewrite_cannot_reach_is_not_done_and_says_what_to_do(tmp_path: Path, in_process: Runner) -> None:
    """git-filter-repo --replace-text skips a blob with a NUL in its first 8 KB (UTF-16 text) and cannot
    join a wrapped base64 line: the re-audit finds them (never "Done"), and the user learns why."""
    wide, wrapped = new_pit(), new_pit()
    repo = Repo(tmp_path / "work")
    repo.write("wide.txt", f"GHL_TOKEN={wide}\n".encode("utf-16"))
    blob = base64.b64encode(b"x" * 40 + f"GHL_TOKEN={wrapped}\n".encode() + b"y" * 100).decode()
    repo.write("wrapped.txt", "\n".join(blob[i : i + 76] for i in range(0, len(blob), 76)) + "\n")
    repo.commit("leak")
    proc = in_process("purge", str(repo.path), "--apply", "--i-have-revoked", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Done:" not in proc.stdout and "NOT done" in proc.stderr
    assert "wide.txt" in proc.stderr and "wrapped.txt" in proc.stderr
    assert "--invert-paths" in proc.stderr
    assert wide not in proc.stderr + proc.stdout and wrapped not in proc.stderr + proc.stdout


def test_without_git_filter_repo_apply_exits_2_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pit_guard import cli

    repo = Repo(tmp_path / "work")
    repo.write("app.env", f"GHL_TOKEN={new_pit()}\n")
    repo.commit("leak")
    monkeypatch.setattr(pg_git, "find_filter_repo", lambda search: None)
    for name, value in git_env().items():
        monkeypatch.setenv(name, value)
    code = cli.main(["purge", str(repo.path), "--apply", "--i-have-revoked"])
    err = capsys.readouterr().err
    assert code == 2 and "git-filter-repo is not installed" in err and "pit-guard[purge]" in err
    assert "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == ["work"]


@pytest.mark.parametrize("apply", [False, True])
def test_the_default_places_are_never_inside_another_work_tree(tmp_path: Path, apply: bool, in_process: Runner) -> None:
    """A submodule (or any repository inside another's work tree): `<repo>-purged` and the expressions file
    beside it landed in the superproject's work tree, every secret one `git add -A` from a commit there."""
    outer = Repo(tmp_path / "super")
    outer.write("README.md", "super\n")
    outer.commit("init")
    inner = Repo(outer.path / "vendor" / "sdk")
    inner.write("app.env", f"GHL_TOKEN={new_pit()}\n")
    inner.commit("leak")
    before = sorted(os.listdir(outer.path / "vendor"))
    proc = in_process("purge", str(inner.path), "--i-have-revoked", *(["--apply"] if apply else []), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "inside the work tree of the repository at" in proc.stderr
    assert ("--into" if apply else "--expressions") in proc.stderr
    assert sorted(os.listdir(outer.path / "vendor")) == before
    # named outside: it goes on
    named = ["--into", str(tmp_path / "out")] if apply else ["--expressions", str(tmp_path / "expr.txt")]
    proc = in_process(
        "purge", str(inner.path), "--i-have-revoked", *(["--apply"] if apply else []), *named, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr


@needs_filter_repo
def test_a_remote_url_that_looks_like_an_option_stays_a_url_in_the_push_command(
    tmp_path: Path, in_process: Runner
) -> None:
    """A repository handed over as a folder carries its own .git/config: a remote URL
    `--receive-pack=COMMAND` pasted after `git push --force` was an option, and git ran COMMAND."""
    repo = Repo(tmp_path / "work")
    repo.write("app.env", f"GHL_TOKEN={new_pit()}\n")
    repo.commit("leak")
    repo.git("config", "remote.origin.url", "--receive-pack=touch PWNED; false")
    proc = in_process("purge", str(repo.path), "--apply", "--i-have-revoked", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    pushes = [line.strip() for line in proc.stdout.splitlines() if " push --force " in line]
    assert len(pushes) == 1
    subprocess.run(shlex.split(pushes[0]), cwd=tmp_path, env=git_env(), capture_output=True)
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "work-purged" / "PWNED").exists()


def test_a_credential_counts_as_revoked_only_when_every_entry_says_so(tmp_path: Path, in_process: Runner) -> None:
    """A report naming one credential at two places, live at one and dead at the other (two runs merged
    by hand): the last entry won, and purge went on without --i-have-revoked."""
    token = new_pit()
    repo = Repo(tmp_path / "work")
    repo.write("a.env", f"GHL_TOKEN={token}\n")
    repo.write("b.env", f"# b\nGHL_TOKEN={token}\n")
    repo.commit("leak")
    out = tmp_path / "audit.json"
    assert in_process("audit", str(repo.path), "--format", "json", "-o", str(out), cwd=tmp_path).returncode == 1
    document = json.loads(out.read_text())
    assert len(document["findings"]) == 2
    for entry, status in zip(document["findings"], ("live", "dead")):
        entry["validation"] = {"status": status, "reason": "test", "checked_at": None}
    out.write_text(json.dumps(document))
    proc = in_process("purge", str(repo.path), "--report", str(out), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "refusing to purge before revocation" in proc.stderr and "(live)" in proc.stderr


@needs_filter_repo
def test_rewritten_notes_are_pushed_too(tmp_path: Path, in_process: Runner) -> None:
    """A token in a git note: the audit finds it and the rewrite removes it, but the push sent branches and
    tags only, so a remote that had the notes kept the old ones."""
    remote = Repo(tmp_path / "remote.git", bare=True)
    repo = Repo(tmp_path / "work")
    repo.write("README.md", "hi\n")
    repo.commit("init")
    repo.git("notes", "add", "-m", f"deployed with GHL_TOKEN={new_pit()}")
    repo.git("remote", "add", "origin", str(remote.path))
    repo.git("push", "-q", "origin", "main", "refs/notes/*:refs/notes/*")
    repo.git("fetch", "-q", "origin")
    proc = in_process("purge", str(repo.path), "--apply", "--i-have-revoked", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    pushes = [line.strip() for line in proc.stdout.splitlines() if " push --force " in line]
    assert len(pushes) == 1 and "'refs/notes/*:refs/notes/*'" in pushes[0]
    subprocess.run(shlex.split(pushes[0]), cwd=tmp_path, env=git_env(), capture_output=True, check=True)
    audit = in_process("audit", str(remote.path), "--format", "json", cwd=tmp_path)
    assert audit.returncode == 0, audit.stdout
