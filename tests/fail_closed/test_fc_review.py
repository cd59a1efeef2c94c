"""Fail-closed matrix, rows found by adversarial review: files that configure a run (baseline,
config, report, CI event payload) are never opened in a way that blocks or reads without end, and a
server echoing a token back in pieces never gets it printed."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
from git_helpers import Repo, git_env, new_pit
from in_process import Runner

from pit_guard.validation.checks import scrub


def run(args: list, cwd: pathlib.Path, env: dict | None = None) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    """A real process: the rows below that open a FIFO or /dev/zero must fail on the timeout, never hang
    or exhaust the test's own process (rows that only read the output run in-process)."""
    return subprocess.run(
        [sys.executable, "-m", "pit_guard", *args],
        cwd=cwd,
        env=git_env(env),
        capture_output=True,
        text=True,
        timeout=30,  # a FIFO opened for reading would block for ever: fail, not hang
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def leaky(tmp_path: pathlib.Path) -> tuple:  # type: ignore[type-arg]
    folder = tmp_path / "src"
    folder.mkdir()
    secret = new_pit()
    (folder / "a.env").write_text(f"GHL={secret}\n")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    return folder, secret, fifo


@pytest.mark.parametrize("what", ["fifo", "dev-zero", "folder"])
def test_baseline_that_is_not_a_regular_file_is_exit_2_not_a_hang(leaky: tuple, what: str) -> None:  # type: ignore[type-arg]
    folder, secret, fifo = leaky
    target = {"fifo": str(fifo), "dev-zero": "/dev/zero", "folder": str(folder)}[what]
    proc = run(["scan", ".", "--baseline", target], folder)
    assert proc.returncode == 2, proc.stderr
    assert "baseline" in proc.stderr and secret not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("name", [".pit-guard.toml", "pyproject.toml"])
@pytest.mark.parametrize("what", ["fifo", "dangling-link"])
def test_config_file_that_cannot_be_read_is_exit_2_never_skipped(leaky: tuple, name: str, what: str) -> None:  # type: ignore[type-arg]
    folder, secret, fifo = leaky
    if what == "fifo":
        os.mkfifo(folder / name)
    else:
        (folder / name).symlink_to(folder / "nowhere.toml")
    proc = run(["scan", "."], folder)
    assert proc.returncode == 2 and name in proc.stderr, proc.stderr
    assert secret not in proc.stdout + proc.stderr
    given = run(["scan", "a.env", "--config", str(fifo)], folder)
    assert given.returncode == 2 and "Traceback" not in given.stderr


def test_validate_report_naming_a_fifo_does_not_hang(leaky: tuple) -> None:  # type: ignore[type-arg]
    folder, secret, fifo = leaky
    proc = run(["scan", ".", "--format", "json"], folder)
    report = json.loads(proc.stdout)
    report["findings"][0]["path"] = str(fifo)
    (folder / "r.json").write_text(json.dumps(report))
    env = {"PIT_GUARD_V2_API_URL": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1"}
    checked = run(["validate", "--report", "r.json", "--validate-total-timeout", "3"], folder, env)
    assert checked.returncode == 1  # the secret could not be re-read: it may still work
    assert secret not in checked.stdout + checked.stderr


def test_github_event_file_that_is_a_fifo_is_exit_2(tmp_path: pathlib.Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.write("a.txt", "x\n")
    repo.commit("a")
    fifo = tmp_path / "event.json"
    os.mkfifo(fifo)
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": str(fifo)}
    proc = run(["ci"], repo.path, env)
    assert proc.returncode == 2 and "event file" in proc.stderr, proc.stderr


def test_a_size_that_rounds_to_zero_bytes_is_refused(tmp_path: pathlib.Path, in_process: Runner) -> None:
    (tmp_path / ".pit-guard.toml").write_text('max-file-size = "0.0000001K"\n')
    (tmp_path / "a.env").write_text(f"GHL={new_pit()}\n")
    proc = in_process("scan", ".", cwd=tmp_path)
    assert proc.returncode == 2 and "max-file-size" in proc.stderr, proc.stderr


@pytest.mark.parametrize("cut", [6, 5, 3])
@pytest.mark.parametrize("separator", [" ", ":", " | ", "\n"])
def test_a_token_echoed_back_in_pieces_is_withheld(cut: int, separator: str) -> None:
    secret = new_pit()
    pieces = separator.join(secret[i : i + cut] for i in range(0, len(secret), cut))
    shown = scrub(f"Invalid token: {pieces}", secret)
    assert "withheld" in shown
    assert scrub("Invalid Private Integration token", secret) == "Invalid Private Integration token"


def test_token_shaped_jwt_claims_never_reach_a_report(tmp_path: pathlib.Path, in_process: Runner) -> None:
    """Every output format, in-process (what is printed is the point, not the process)."""
    import base64
    import time

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    inner = [new_pit() for _ in range(3)]
    now = int(time.time())
    payload = {
        "authClass": "Company",
        "authClassId": inner[0],
        "sourceId": inner[1],
        "channel": "OAUTH",
        "oauthMeta": {"scopes": [inner[2]]},
        "iat": now,
        "exp": now + 86399,
    }
    token = ".".join((b64(b'{"alg":"RS256","typ":"JWT"}'), b64(json.dumps(payload).encode()), b64(os.urandom(256))))
    (tmp_path / "t.txt").write_text(f"TOKEN={token}\n")
    for fmt in ("text", "json", "sarif", "gitlab", "markdown"):
        proc = in_process("scan", "t.txt", "--format", fmt, cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr
        assert not any(secret in proc.stdout + proc.stderr for secret in inner + [token]), fmt


@pytest.mark.parametrize("args", [["scan", "clean"], ["scan", "nowhere"], ["scan", "leaky"]])
def test_a_full_standard_error_does_not_change_the_exit_code(tmp_path: pathlib.Path, args: list) -> None:  # type: ignore[type-arg]
    (tmp_path / "clean").mkdir()
    (tmp_path / "clean" / "a.txt").write_text("nothing here\n")
    (tmp_path / "leaky").mkdir()
    (tmp_path / "leaky" / "a.env").write_text(f"GHL={new_pit()}\n")
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "pit_guard", *args],
            cwd=tmp_path,
            env=git_env(),
            stdout=subprocess.DEVNULL,
            stderr=full,
            timeout=30,
        )
    assert proc.returncode == {"clean": 0, "nowhere": 2, "leaky": 1}[args[1]]
