"""`pit-guard purge`: a real repository with credentials in 20 commits, rewritten by the real
git-filter-repo on a mirror clone, re-audited; every other file's bytes kept; the user's clone untouched."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
from git_helpers import Repo, git_env, new_pit
from in_process import Runner

from pit_guard.remediation import purge as p
from pit_guard.sources import git as pg_git

HAS_FILTER_REPO = pg_git.find_filter_repo([os.path.dirname(sys.executable)]) is not None
needs_filter_repo = pytest.mark.skipif(
    not HAS_FILTER_REPO, reason="git-filter-repo is not installed (pip install 'pit-guard[test]')"
)


def pit_guard(*args: str, cwd: Path) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    return subprocess.run(
        [sys.executable, "-m", "pit_guard", *args], cwd=cwd, env=git_env(), capture_output=True, text=True
    )


def snapshot(folder: Path) -> Dict[str, bytes]:
    """Every file under `folder` (the .git folder too), by path."""
    out = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, folder)] = f.read()
    return out


def trees(git_dir: Path, commits: List[str]) -> Dict[str, Dict[bytes, bytes]]:
    """commit -> {path: blob content} for every file of each commit (one `cat-file --batch` for all blobs)."""
    listed: Dict[str, Dict[bytes, str]] = {}
    for commit in commits:
        listing = subprocess.run(["git", "ls-tree", "-r", "-z", commit], cwd=git_dir, capture_output=True, check=True)
        files = {}
        for record in listing.stdout.split(b"\0"):
            if record:
                meta, path = record.split(b"\t", 1)
                files[path] = meta.split()[2].decode()
        listed[commit] = files
    shas = sorted({sha for files in listed.values() for sha in files.values()})
    out = subprocess.run(
        ["git", "cat-file", "--batch"], cwd=git_dir, input="".join(s + "\n" for s in shas).encode(), capture_output=True
    ).stdout
    blobs: Dict[str, bytes] = {}
    at = 0
    for sha in shas:
        header_end = out.index(b"\n", at)
        size = int(out[at:header_end].split()[2])
        blobs[sha] = out[header_end + 1 : header_end + 1 + size]
        at = header_end + 1 + size + 1
    return {commit: {path: blobs[sha] for path, sha in files.items()} for commit, files in listed.items()}


class Built:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = Repo(root / "work")
        self.secrets: List[str] = []


def build(root: Path) -> Built:
    """20 commits that each add a credential (plain, base64 in a Kubernetes Secret, in a commit
    message), some removed again, a feature branch, an annotated tag; files without secrets beside."""
    b = Built(root)
    r = b.repo
    r.write("README.md", "# demo\n")
    r.write("data.bin", bytes(range(256)) * 4)
    r.commit("initial")
    for i in range(20):
        token = new_pit()
        b.secrets.append(token)
        if i % 5 == 3:
            encoded = base64.b64encode(token.encode()).decode()
            r.write(f"k8s/secret_{i}.yaml", f"apiVersion: v1\nkind: Secret\ndata:\n  GHL_TOKEN: {encoded}\n")
        else:
            r.write(f"config/app_{i}.env", f"# service {i}\nGHL_TOKEN={token}\nPORT={8000 + i}\n")
        r.write("notes.txt", "".join(f"note {k}\n" for k in range(i + 1)))
        message = f"add service {i}" + (f"\n\ntoken was GHL_TOKEN={token}" if i == 7 else "")
        r.commit(message)
        if i == 10:
            r.git("rm", "-q", "config/app_2.env")
            r.commit("drop service 2")
    r.git("tag", "-a", "v1", "-m", "release one")
    r.git("checkout", "-q", "-b", "feature")
    token = new_pit()
    b.secrets.append(token)
    r.write("feature.py", f'TOKEN = "{token}"\n')
    r.commit("feature work")
    r.git("checkout", "-q", "main")
    r.git("remote", "add", "origin", "https://deploy:hunter2@git.example.com/team/app.git")
    return b


@pytest.fixture(scope="module")
def purged(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Tuple[Built, subprocess.CompletedProcess, Dict[str, bytes]]]:  # type: ignore[type-arg]
    if not HAS_FILTER_REPO:
        pytest.skip("git-filter-repo is not installed (pip install 'pit-guard[test]')")
    b = build(tmp_path_factory.mktemp("purge"))
    before = snapshot(b.repo.path)
    proc = pit_guard("purge", str(b.repo.path), "--apply", "--i-have-revoked", cwd=b.root)
    yield b, proc, before


def test_apply_rewrites_a_mirror_clone_and_its_audit_finds_nothing(purged, in_process: Runner) -> None:  # type: ignore[no-untyped-def]
    b, proc, _ = purged
    assert proc.returncode == 0, proc.stderr
    into = b.root / "work-purged"
    assert "Done:" in proc.stdout and str(into) in proc.stdout
    assert "21 credential(s)" in proc.stdout
    # the proof, as a user would run it
    audit = in_process("audit", str(into), "--format", "json", cwd=b.root)
    assert audit.returncode == 0, audit.stderr
    assert json.loads(audit.stdout)["findings"] == []
    # and the original really had them: 21 credentials in the history of every branch
    original = in_process("audit", str(b.repo.path), "--format", "json", cwd=b.root)
    assert {f["fingerprint"] for f in json.loads(original.stdout)["findings"]}.__len__() == 21
    for secret in b.secrets:
        assert secret not in proc.stdout + proc.stderr
    all_objects = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"], cwd=into, capture_output=True, check=True
    ).stdout
    for secret in b.secrets:
        assert secret.encode() not in all_objects
        assert base64.b64encode(secret.encode()) not in all_objects


def test_every_other_byte_is_kept(purged) -> None:  # type: ignore[no-untyped-def]
    b, proc, _ = purged
    assert proc.returncode == 0, proc.stderr
    into = b.root / "work-purged"
    pairs = [
        line.split() for line in (into / "filter-repo" / "commit-map").read_text().splitlines()[1:] if line.strip()
    ]
    every = b.repo.git("rev-list", "--all").split()
    assert sorted(o for o, _ in pairs) == sorted(every) and len(every) == 23  # every commit mapped
    old = trees(b.repo.path, [o for o, _ in pairs])
    new = trees(into, [n for _, n in pairs])
    changed = 0
    for o, n in pairs:
        assert set(old[o]) == set(new[n]), o
        for path, content in old[o].items():
            expected = content
            for secret in b.secrets:
                marker = b"***REMOVED-ghl-private-integration-token***"
                expected = expected.replace(secret.encode(), marker)
                for form in p.forms(secret):
                    expected = expected.replace(form, marker)
            if expected != content:
                changed += 1
            assert new[n][path] == expected, (o, path)
    assert changed > 20
    # the commit message that held a token: rewritten too, the rest of it kept
    messages = subprocess.run(["git", "log", "--all", "--format=%B"], cwd=into, capture_output=True, text=True).stdout
    assert "token was GHL_TOKEN=***REMOVED-ghl-private-integration-token***" in messages
    assert "add service 19" in messages
    refs = subprocess.run(["git", "for-each-ref", "--format=%(refname)"], cwd=into, capture_output=True, text=True)
    assert refs.stdout.split() == ["refs/heads/feature", "refs/heads/main", "refs/tags/v1"]


def test_the_users_clone_is_untouched_and_the_secrets_file_is_private(purged) -> None:  # type: ignore[no-untyped-def]
    b, proc, before = purged
    assert proc.returncode == 0, proc.stderr
    assert snapshot(b.repo.path) == before
    expressions = b.root / "work-purged" / p.EXPRESSIONS_NAME
    assert stat.S_IMODE(expressions.stat().st_mode) == 0o600
    assert f"rm {expressions}" in proc.stdout
    text = expressions.read_bytes()
    for secret in b.secrets:
        assert b"literal:" + secret.encode() + b"==>***REMOVED-ghl-private-integration-token***" in text
    # the force-push goes to the user's remote, its password never printed
    assert "push --force -- https://git.example.com/team/app.git 'refs/heads/*:refs/heads/*'" in proc.stdout
    assert "hunter2" not in proc.stdout + proc.stderr
    for what, _ in p.CANNOT_REACH:
        assert what in proc.stdout


@pytest.fixture
def small(tmp_path: Path) -> Built:
    b = Built(tmp_path)
    b.secrets.append(new_pit())
    b.repo.write("app.env", f"GHL_TOKEN={b.secrets[0]}\n")
    b.repo.commit("leak")
    return b


def report(b: Built, status: str, in_process: Runner) -> Path:
    out = b.root / "audit.json"
    proc = in_process("audit", str(b.repo.path), "--format", "json", "-o", str(out), cwd=b.root)
    assert proc.returncode == 1, proc.stderr
    document = json.loads(out.read_text())
    for f in document["findings"]:
        f["validation"] = {"status": status, "reason": "test", "checked_at": None}
    out.write_text(json.dumps(document))
    return out


@pytest.mark.parametrize("status", ["live", "unknown", "not-checked", None])
def test_refuses_while_a_credential_may_still_work(small: Built, status: str, in_process: Runner) -> None:
    args = ["purge", str(small.repo.path), "--apply"]
    if status is not None:
        args += ["--report", str(report(small, status, in_process))]
    before = snapshot(small.repo.path)
    proc = in_process(*args, cwd=small.root)
    assert proc.returncode == 2
    assert "refusing to purge before revocation" in proc.stderr
    assert "--i-have-revoked" in proc.stderr
    assert f"({status or 'not validated'})" in proc.stderr
    assert not (small.root / "work-purged").exists()
    assert sorted(os.listdir(small.root)) == sorted(["work"] + (["audit.json"] if status else []))
    assert snapshot(small.repo.path) == before
    assert small.secrets[0] not in proc.stdout + proc.stderr


def test_dead_credentials_from_a_redacted_report_give_the_expressions_and_steps(
    small: Built, in_process: Runner
) -> None:
    proc = in_process("purge", str(small.repo.path), "--report", str(report(small, "dead", in_process)), cwd=small.root)
    assert proc.returncode == 0, proc.stderr
    written = small.root / ("work-" + p.EXPRESSIONS_NAME)
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert small.secrets[0].encode() in written.read_bytes()  # recovered from the commit, not the report
    assert small.secrets[0] not in proc.stdout + proc.stderr
    assert f"filter-repo --replace-text {written}" in proc.stdout
    assert "git clone --mirror --no-hardlinks" in proc.stdout
    assert not (small.root / "work-purged").exists()


def test_refuses_an_existing_into_and_an_expressions_file_inside_the_repository(
    small: Built, in_process: Runner
) -> None:
    (small.root / "taken").mkdir()
    proc = in_process(
        "purge",
        str(small.repo.path),
        "--apply",
        "--i-have-revoked",
        "--into",
        str(small.root / "taken"),
        cwd=small.root,
    )
    assert proc.returncode == 2 and "already exists" in proc.stderr
    assert os.listdir(small.root / "taken") == []
    inside = small.repo.path / "purge.txt"
    proc = in_process("purge", str(small.repo.path), "--i-have-revoked", "--expressions", str(inside), cwd=small.root)
    assert proc.returncode == 2 and "inside the repository" in proc.stderr
    assert not inside.exists()


@needs_filter_repo
def test_not_done_while_the_rewritten_clone_still_has_a_finding(
    small: Built, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The proof is the audit, not the expressions: a rewrite that misses a credential is refused."""
    from pit_guard import cli

    small.repo.write("other.env", f"GHL_TOKEN={new_pit()}\n")
    small.repo.commit("second leak")
    real = p.expressions
    monkeypatch.setattr(p, "expressions", lambda findings: real(findings[:1]))
    for name, value in git_env().items():
        monkeypatch.setenv(name, value)
    code = cli.main(["purge", str(small.repo.path), "--apply", "--i-have-revoked"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "NOT done" in err and "still finds 1 finding" in err
    assert "Done:" not in out and "push --force" not in out


def test_base64_forms_cover_every_alignment() -> None:
    token = new_pit()
    for prefix in (b"", b"a", b"ab", b"GHL_TOKEN=", b"Bearer  "):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(prefix + token.encode() + b"\n")
            assert any(form in encoded for form in p.forms(token)), prefix


def test_a_failed_rewrite_leaves_no_secrets_file_behind(
    small: Built, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pit_guard import cli

    failing = small.root / "git-filter-repo"
    failing.write_text("#!/bin/sh\necho 'fatal: the rewrite broke' >&2\nexit 3\n")
    failing.chmod(0o755)
    monkeypatch.setattr(pg_git, "find_filter_repo", lambda search: str(failing))
    for name, value in git_env().items():
        monkeypatch.setenv(name, value)
    before = snapshot(small.repo.path)
    code = cli.main(["purge", str(small.repo.path), "--apply", "--i-have-revoked"])
    err = capsys.readouterr().err
    assert code == 2
    assert "git-filter-repo failed (exit 3): the rewrite broke" in err
    into = small.root / "work-purged"
    assert into.is_dir() and not (into / p.EXPRESSIONS_NAME).exists()
    assert snapshot(small.repo.path) == before
    assert small.secrets[0] not in err
