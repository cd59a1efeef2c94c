"""Fail-closed matrix for the git modes: every mode x {missing blob, corrupt blob, partial clone,
detector error} exits 2 naming what was not read, still reports every other planted credential,
and never prints a full token. Also: large blobs are streamed, commit and tag messages are scanned.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from git_helpers import Repo, git_env, new_pit

from pit_guard.cli import main
from pit_guard.detection import detect

MARKER = b"PIT-GUARD-TEST-DETECTOR-BOOM"
FAULTS = ["missing", "corrupt", "partial", "detector"]
MODES = ["pre-commit", "staged", "range", "ci", "pre-push", "audit"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("CI", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GITHUB_ACTIONS", "GITLAB_CI"):
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith("PRE_COMMIT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GIT_NO_LAZY_FETCH", "1")  # the test's own git calls must not fetch either


def _history_mode_args(mode: str, base: str, head: str, monkeypatch) -> List[str]:
    """The command line (and CI / pre-commit variables) that makes `mode` scan base..head."""
    if mode == "range":
        return ["scan", "--range", f"{base}..{head}"]
    if mode == "ci":
        for name, value in {"GITLAB_CI": "true", "CI_COMMIT_SHA": head, "CI_COMMIT_BEFORE_SHA": base}.items():
            monkeypatch.setenv(name, value)
        return ["ci"]
    if mode == "pre-push":
        monkeypatch.setenv("PRE_COMMIT_FROM_REF", base)
        monkeypatch.setenv("PRE_COMMIT_TO_REF", head)
        return ["hook", "pre-push"]
    return ["audit"]


def _object_file(repo: Repo, sha: str) -> Path:
    return repo.path / ".git" / "objects" / sha[:2] / sha[2:]


def _break(repo: Repo, sha: str, fault: str) -> None:
    obj = _object_file(repo, sha)
    assert obj.exists(), "the test needs the blob as a loose object"
    if fault == "missing":
        obj.unlink()
    else:
        os.chmod(obj, 0o644)
        obj.write_bytes(b"this is not zlib data")


def _hidden_content(fault: str, token: str) -> str:
    return f"KEY={token}\n" + (MARKER.decode() + "\n" if fault == "detector" else "")


def _arm_detector(monkeypatch) -> None:
    real = detect.scan_bytes

    def scan_bytes(data, *args, **kwargs):
        if MARKER in data:
            raise ValueError("boom")
        return real(data, *args, **kwargs)

    monkeypatch.setattr(detect, "scan_bytes", scan_bytes)


def _clone_partial(src: Repo, dest: Path, *extra: str, filter: str = "blob:none") -> Repo:
    src.git("config", "uploadpack.allowFilter", "true")
    env = git_env()
    env.pop("GIT_NO_LAZY_FETCH", None)  # the checkout downloads what it checks out
    args = ["git", "clone", "-q", f"--filter={filter}", *extra, f"file://{src.path}", str(dest)]
    subprocess.run(args, check=True, env=env)
    return Repo(dest, init=False)


def _history_repo(tmp_path: Path, fault: str, hidden: str, other: str) -> Tuple[Repo, str, str]:
    """base (clean) -> leak (hidden.env + other.env) -> drop hidden.env; returns repo, base, head."""
    src = Repo(tmp_path / "src")
    src.write("a.txt", "clean\n")
    base = src.commit("base")
    src.write("hidden.env", _hidden_content(fault, hidden))
    src.write("other.env", f"OTHER={other}\n")
    src.commit("leak")
    hidden_sha = src.git("rev-parse", "HEAD:hidden.env").strip()
    src.git("rm", "-q", "hidden.env")
    head = src.commit("drop")
    if fault == "partial":
        # hidden.env was never checked out here, so its blob was never downloaded.
        return _clone_partial(src, tmp_path / "clone"), base, head
    if fault in ("missing", "corrupt"):
        _break(src, hidden_sha, fault)
    return src, base, head


def _staged_repo(tmp_path: Path, fault: str, hidden: str, other: str) -> Repo:
    """hidden.env staged (its blob broken) beside other.env staged with a token."""
    if fault == "partial":
        src = Repo(tmp_path / "src")
        src.write("hidden.env", _hidden_content(fault, hidden))
        src.commit("hidden")
        repo = _clone_partial(src, tmp_path / "clone", "--no-checkout")
        repo.git("read-tree", "HEAD")  # index = HEAD, blobs never downloaded
    else:
        repo = Repo(tmp_path / "r")
        repo.write("a.txt", "clean\n")
        repo.commit("base")
        repo.write("hidden.env", _hidden_content(fault, hidden))
        repo.git("add", "hidden.env")
        if fault != "detector":
            _break(repo, repo.git("rev-parse", ":hidden.env").strip(), fault)
    repo.write("other.env", f"OTHER={other}\n")
    repo.git("add", "other.env")
    return repo


def _run(capsys, args: List[str]) -> Tuple[int, Dict[str, object], str]:
    code = main([*args, "--format", "json"])
    out = capsys.readouterr()
    return code, json.loads(out.out), out.out + out.err


@pytest.fixture(scope="module")
def matrix_repos(tmp_path_factory):
    """The matrix's repositories, each built once per module, on first use: (kind, fault) ->
    (repository path, hidden token, other token, base, head). Both staged modes share a staged
    repository, the four history modes a history one; each test scans a copy of its own."""
    built: Dict[Tuple[str, str], Tuple[Path, str, str, str, str]] = {}

    def get(kind: str, fault: str) -> Tuple[Path, str, str, str, str]:
        if (kind, fault) not in built:
            folder = tmp_path_factory.mktemp(f"{kind}-{fault}")
            hidden, other = new_pit(), new_pit()
            if kind == "staged":
                repo, base, head = _staged_repo(folder, fault, hidden, other), "", ""
            else:
                repo, base, head = _history_repo(folder, fault, hidden, other)
            built[(kind, fault)] = (repo.path, hidden, other, base, head)
        return built[(kind, fault)]

    return get


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("mode", MODES)
def test_unread_blob_fails_closed(mode, fault, tmp_path, monkeypatch, capsys, matrix_repos):
    if fault == "detector":
        _arm_detector(monkeypatch)
    kind = "staged" if mode in ("pre-commit", "staged") else "history"
    template, hidden, other, base, head = matrix_repos(kind, fault)
    path = tmp_path / "repo"
    shutil.copytree(template, path, symlinks=True)  # a partial clone's remote stays the template's source
    monkeypatch.chdir(path)
    if kind == "staged":
        files = ["hidden.env", "other.env"]
        args = ["hook", "pre-commit", *files] if mode == "pre-commit" else ["scan", "--staged", *files]
    else:
        args = _history_mode_args(mode, base, head, monkeypatch)
    code, report, output = _run(capsys, args)
    assert code == 2, output
    assert hidden not in output and other not in output
    assert [f["secret"] for f in report["findings"]] == [other[:8] + "…" + other[-4:]]  # type: ignore[index]
    skipped = report["skipped"]
    assert skipped and all(s["fails"] for s in skipped), skipped  # type: ignore[union-attr]
    assert "Traceback" not in output
    if fault == "partial":
        # one entry for the whole partial clone, with how to fix it, never one per blob
        assert [s["path"] for s in skipped] == ["<partial clone>"], skipped  # type: ignore[union-attr]
        assert "git fetch --refetch" in output
    else:  # named by path (and blob sha) wherever it is known
        assert any("hidden.env" in s["path"] + s["reason"] for s in skipped), skipped  # type: ignore[union-attr]


def test_partial_clone_never_fetches_and_is_one_entry(tmp_path, monkeypatch, capsys):
    """Many missing blobs: one Unread, no fetch from the promisor remote, no process per blob."""
    src = Repo(tmp_path / "src")
    src.write("a.txt", "clean\n")
    base = src.commit("base")
    for i in range(30):
        src.write(f"f{i}.txt", f"{i} {new_pit()}\n")
    src.commit("many")
    src.git("rm", "-q", "f*.txt")
    head = src.commit("drop")
    clone = _clone_partial(src, tmp_path / "clone")
    monkeypatch.delenv("GIT_NO_LAZY_FETCH")  # whatever the caller's environment, pit-guard must not fetch
    monkeypatch.chdir(clone.path)
    before = clone.git("count-objects", "-v")
    code, report, output = _run(capsys, ["scan", "--range", f"{base}..{head}"])
    assert code == 2 and [s["path"] for s in report["skipped"]] == ["<partial clone>"]  # type: ignore[union-attr]
    assert "30 blob" in output
    assert clone.git("count-objects", "-v") == before  # nothing was downloaded


def test_tree_filtered_clone_says_how_to_fix(tmp_path, monkeypatch, capsys):
    """Without trees git cannot even list what a commit changed: exit 2 with the fix, no traceback."""
    src = Repo(tmp_path / "src")
    src.write("a.txt", "clean\n")
    base = src.commit("base")
    src.write("b.env", f"K={new_pit()}\n")
    src.commit("leak")
    src.git("rm", "-q", "b.env")
    head = src.commit("drop")
    clone = _clone_partial(src, tmp_path / "clone", filter="tree:0")
    monkeypatch.chdir(clone.path)
    code = main(["scan", "--range", f"{base}..{head}"])
    err = capsys.readouterr().err
    assert code == 2 and "git fetch --refetch" in err and "Traceback" not in err


def test_no_lazy_fetch_even_where_git_ignores_GIT_NO_LAZY_FETCH(tmp_path, monkeypatch):
    from pit_guard.sources import git

    src = Repo(tmp_path / "src")
    src.write("gone.txt", "never downloaded\n")
    src.commit("a")
    gone = src.git("rev-parse", "HEAD:gone.txt").strip()
    src.git("rm", "-q", "gone.txt")
    src.commit("b")
    clone = _clone_partial(src, tmp_path / "clone")
    real_env = git._env

    def env_allowing_lazy_fetch():  # type: ignore[no-untyped-def]
        env = real_env()
        env.pop("GIT_NO_LAZY_FETCH")
        return env

    def have(sha: str) -> bool:  # asked without fetching
        check = ["git", "cat-file", "-e", sha]
        return subprocess.run(check, cwd=clone.path, env=git_env({"GIT_NO_LAZY_FETCH": "1"})).returncode == 0

    monkeypatch.delenv("GIT_NO_LAZY_FETCH")
    monkeypatch.setattr(git, "_env", env_allowing_lazy_fetch)
    assert git.run(["cat-file", "-e", gone], str(clone.path), check=False) == b""
    assert not have(gone)
    # without the guard the same call downloads it (the test can fail)
    monkeypatch.setattr(git, "_NO_NETWORK", ())
    git.run(["cat-file", "-e", gone], str(clone.path), check=False)
    assert have(gone)


def test_partial_clone_commit_that_deletes_an_undownloaded_file(tmp_path, monkeypatch, capsys):
    """Rename detection would need the deleted file's blob: the new secret is still reported."""
    src = Repo(tmp_path / "src")
    src.write("old.txt", "".join(f"{i}\n" for i in range(200)))
    src.commit("a")
    clone = _clone_partial(src, tmp_path / "clone", "--no-checkout")
    clone.git("read-tree", "HEAD")
    clone.git("rm", "-q", "--cached", "old.txt")
    token = new_pit()
    clone.write("new.txt", "".join(f"{i}\n" for i in range(199)) + f"K={token}\n")
    clone.git("add", "new.txt")
    monkeypatch.chdir(clone.path)
    code, report, output = _run(capsys, ["hook", "pre-commit"])
    assert code == 1 and [f["path"] for f in report["findings"]] == ["new.txt"], output  # type: ignore[index]
    assert "earlier version" in output and token not in output


def test_missing_before_side_does_not_hide_a_new_secret(tmp_path, monkeypatch, capsys):
    """The old version of an edited file is gone: its secrets cannot count as old ones."""
    repo = Repo(tmp_path / "r")
    repo.write("cfg.env", "A=1\n")
    base = repo.commit("base")
    old_sha = repo.git("rev-parse", "HEAD:cfg.env").strip()
    token = new_pit()
    repo.write("cfg.env", f"A=1\nKEY={token}\n")
    head = repo.commit("leak")
    _object_file(repo, old_sha).unlink()
    monkeypatch.chdir(repo.path)
    code, report, output = _run(capsys, ["scan", "--range", f"{base}..{head}"])
    assert code == 1 and [f["path"] for f in report["findings"]] == ["cfg.env"]  # type: ignore[index]
    assert token not in output


def test_detector_error_on_untracked_file_given_by_name(tmp_path, monkeypatch, capsys):
    repo = Repo(tmp_path / "r")
    repo.write("a.txt", "clean\n")
    repo.commit("base")
    other = new_pit()
    repo.write("new.env", f"X={new_pit()}\n{MARKER.decode()}\n")  # not tracked
    repo.write("other.env", f"OTHER={other}\n")
    repo.git("add", "other.env")
    _arm_detector(monkeypatch)
    monkeypatch.chdir(repo.path)
    code, report, output = _run(capsys, ["hook", "pre-commit", "new.env", "other.env"])
    assert code == 2 and [s["path"] for s in report["skipped"]] == ["new.env"]  # type: ignore[union-attr]
    assert [f["path"] for f in report["findings"]] == ["other.env"]  # type: ignore[index]
    assert other not in output


def test_untracked_file_that_cannot_be_opened_is_unread(tmp_path, monkeypatch, capsys):
    repo = Repo(tmp_path / "r")
    repo.write("a.txt", "clean\n")
    repo.commit("base")
    other = new_pit()
    locked = repo.write("locked.env", f"X={new_pit()}\n")
    repo.write("other.env", f"OTHER={other}\n")
    repo.git("add", "other.env")
    real_open = open

    def fake_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if os.fsdecode(file).endswith("locked.env"):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)
    monkeypatch.chdir(repo.path)
    code, report, output = _run(capsys, ["hook", "pre-commit", "locked.env", "other.env"])
    assert code == 2 and [s["path"] for s in report["skipped"]] == ["locked.env"]  # type: ignore[union-attr]
    assert [f["path"] for f in report["findings"]] == ["other.env"] and "Traceback" not in output  # type: ignore[index]
    assert other not in output and locked.exists()


# --- large blobs are streamed -----------------------------------------------------------------

_RSS_SCRIPT = textwrap.dedent(
    """
    import resource, subprocess, sys
    proc = subprocess.run([sys.executable, "-m", "pit_guard", "hook", "pre-commit", "big.txt"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    sys.stdout.write(f"{proc.returncode} {peak}\\n")
    sys.stdout.write(proc.stdout.decode() + proc.stderr.decode())
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB is Linux's")
def test_large_staged_blob_is_streamed_with_bounded_memory(tmp_path):
    repo = Repo(tmp_path / "r")
    repo.write("a.txt", "clean\n")
    repo.commit("base")
    token = new_pit()
    line = b"lorem ipsum dolor sit amet, consectetur adipiscing elit\n"
    # Larger than the bound below, so a whole read cannot pass (the detector's streaming window,
    # ~16 MB plus 8 MB of overlap on each side, peaks near 155 MB whatever the size): a whole read
    # holds the blob plus the interpreter (~28 MB), 236 MB or more. (It was 256 MB: more than needed.)
    bound = 200 * 1024 * 1024
    size = bound + 8 * 1024 * 1024
    body = memoryview(line * (size // len(line)))
    middle = len(body) // 2
    with open(repo.path / "big.txt", "wb") as f:  # written in place: no copies of the blob in this process
        f.write(body[:middle])
        f.write(f"KEY={token}\n".encode())
        f.write(body[middle:])
    del body
    # Stored with zlib's fastest level (git's default level takes ~3x the time to deflate 256 MB):
    # how git compresses its objects is git's business, `git cat-file` streams the same bytes.
    repo.git("-c", "core.looseCompression=1", "add", "big.txt")
    proc = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT], cwd=repo.path, env=git_env(), stdout=subprocess.PIPE, check=True
    )
    first, _, output = proc.stdout.decode().partition("\n")
    code, peak_kib = (int(x) for x in first.split())
    assert code == 1, output
    assert token not in output and "big.txt" in output
    assert peak_kib * 1024 < bound, peak_kib


def test_streamed_blob_finds_what_a_whole_read_finds(tmp_path, monkeypatch, capsys):
    from pit_guard.sources import git

    monkeypatch.setattr(git, "STREAM_THRESHOLD", 64)  # stream every blob larger than 64 bytes
    monkeypatch.setattr(git, "STREAM_CHUNK", 64)
    repo = Repo(tmp_path / "r")
    repo.write("a.txt", "clean\n")
    base = repo.commit("base")
    tokens = [new_pit() for _ in range(3)]
    repo.write("big.txt", "".join(f"{'x' * 100}\nKEY{i}={t}\n" for i, t in enumerate(tokens)))
    repo.write("small.txt", "tiny\n")
    head = repo.commit("big")
    monkeypatch.chdir(repo.path)
    code, report, output = _run(capsys, ["scan", "--range", f"{base}..{head}"])
    assert code == 1 and sorted(f["line"] for f in report["findings"]) == [2, 4, 6]  # type: ignore[index]
    code, report, output = _run(capsys, ["audit"])
    assert code == 1 and sorted(f["line"] for f in report["findings"]) == [2, 4, 6]  # type: ignore[index]
    assert all(t not in output for t in tokens)


# --- commit and tag messages ------------------------------------------------------------------


def _message_repo(tmp_path: Path, message: str) -> Tuple[Repo, str, str]:
    repo = Repo(tmp_path / "r")
    repo.write("a.txt", "clean\n")
    base = repo.commit("base")
    repo.write("a.txt", "still clean\n")
    head = repo.commit(message)
    return repo, base, head


def _tricky_message(token: str) -> str:
    # lines that look like the log format must not confuse the parsers
    return (
        f"fix login\n\n\x01PGCOMMIT {'0' * 40}\n:100644 100644 {'1' * 40} {'2' * 40} M\n"
        f"token was {token}\nand again {token}\n"
    )


@pytest.mark.parametrize("mode", ["range", "ci", "pre-push", "audit"])
def test_token_in_commit_message_is_found(mode, tmp_path, monkeypatch, capsys):
    token = new_pit()
    repo, base, head = _message_repo(tmp_path, _tricky_message(token))
    monkeypatch.chdir(repo.path)
    args = _history_mode_args(mode, base, head, monkeypatch)
    code, report, output = _run(capsys, args)
    assert code == 1, output
    findings = report["findings"]
    assert [f["path"] for f in findings] == [f"<commit {head[:12]} message>"]  # type: ignore[index]
    assert findings[0]["provenance"]["commit"] == head  # type: ignore[index]
    assert findings[0]["line"] == 5  # type: ignore[index]
    assert token not in output


def test_message_findings_are_one_per_commit_and_files_still_parse(tmp_path, monkeypatch, capsys):
    token, in_file = new_pit(), new_pit()
    repo = Repo(tmp_path / "r")
    repo.write("a.txt", "clean\n")
    base = repo.commit("base")
    repo.write("b.env", f"B={in_file}\n")
    first = repo.commit(_tricky_message(token))
    repo.write("c.txt", "c\n")
    second = repo.commit(f"again {token}")
    monkeypatch.chdir(repo.path)
    for args in (["scan", "--range", f"{base}..{second}"], ["audit"]):
        code, report, output = _run(capsys, args)
        paths = sorted(f["path"] for f in report["findings"])  # type: ignore[index]
        assert code == 1 and paths == sorted(
            ["b.env", f"<commit {first[:12]} message>", f"<commit {second[:12]} message>"]
        )
        assert token not in output and in_file not in output


@pytest.mark.parametrize("mode", ["range", "audit"])
def test_detector_error_in_a_commit_message_is_unread(mode, tmp_path, monkeypatch, capsys):
    other = new_pit()
    repo = Repo(tmp_path / "r")
    repo.write("a.txt", "clean\n")
    base = repo.commit("base")
    repo.write("o.env", f"O={other}\n")
    head = repo.commit(f"boom {MARKER.decode()} {new_pit()}")
    _arm_detector(monkeypatch)
    monkeypatch.chdir(repo.path)
    code, report, output = _run(capsys, ["audit"] if mode == "audit" else ["scan", "--range", f"{base}..{head}"])
    assert code == 2 and [s["path"] for s in report["skipped"]] == [f"<commit {head[:12]} message>"]  # type: ignore[union-attr]
    assert [f["path"] for f in report["findings"]] == ["o.env"] and other not in output  # type: ignore[index]


def test_annotated_tag_message_audit_and_pre_push(tmp_path, monkeypatch, capsys):
    token = new_pit()
    repo, base, head = _message_repo(tmp_path, "clean message")
    name = f"rel-{new_pit()}"  # a token in a tag name is redacted like any name
    repo.git("tag", "-a", name, "-m", f"release notes\nkey {token}\n")
    monkeypatch.chdir(repo.path)
    code, report, output = _run(capsys, ["audit"])
    assert code == 1 and len(report["findings"]) == 1  # type: ignore[arg-type]
    path = report["findings"][0]["path"]  # type: ignore[index]
    assert path.startswith("<tag rel-pit-") and path.endswith(" message>") and name not in output
    assert token not in output
    tag_sha = repo.git("rev-parse", name).strip()
    code, report, output = _run_push(capsys, f"refs/tags/{name} {tag_sha} refs/tags/{name} {'0' * 40}\n")
    assert code == 1 and [f["path"] for f in report["findings"]] == [path]  # type: ignore[index]
    assert token not in output and name not in output


def _run_push(capsys, stdin_text: str) -> Tuple[int, Dict[str, object], str]:
    from pit_guard.sources import changes

    real = changes.scan_push

    def scan_push(path, **kwargs):  # type: ignore[no-untyped-def]
        return real(path, **{**kwargs, "stdin_text": stdin_text})

    changes.scan_push = scan_push  # type: ignore[assignment]
    try:
        return _run(capsys, ["hook", "pre-push"])
    finally:
        changes.scan_push = real  # type: ignore[assignment]
