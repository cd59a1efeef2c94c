"""Crafted and odd input: a clear exit code, never a traceback, never a full token."""

from __future__ import annotations

import base64
import os
import pathlib
import subprocess
import sys
import uuid

import pytest

from pit_guard.cli import main
from pit_guard.detection.detect import scan_bytes


def new_pit() -> str:
    return f"pit-{uuid.uuid4()}"


def _jwt(payload: bytes) -> str:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = b64(b'{"alg":"HS256","typ":"JWT"}')
    return f"{header}.{b64(payload)}.{b64(os.urandom(32))}"


@pytest.mark.parametrize("exp", [b"Infinity", b"NaN", b"1e30", b"-1"])
def test_absurd_jwt_times_do_not_crash(exp: bytes) -> None:
    token = _jwt(
        b'{"authClass":"Location","authClassId":"U8JZpDE0iGXlD6gNCFba","channel":"OAUTH",'
        b'"iat":1700000000,"uniqueId":"x","exp":' + exp + b"}"
    )
    found = scan_bytes(f"t={token}\n".encode())
    assert [f.rule_id for f in found] == ["ghl-oauth-refresh-token"] and found[0].expires_at is None


def test_token_in_a_file_name_is_redacted_everywhere(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = new_pit()
    (tmp_path / f"{token}.env").write_text(f"GHL={token}\n")
    for fmt in ("text", "json", "sarif", "gitlab", "markdown", "html"):
        assert main(["scan", str(tmp_path), "--format", fmt]) == 1
        out = capsys.readouterr()
        assert token not in out.out + out.err, fmt
    assert main(["baseline", str(tmp_path), "--output", str(tmp_path / "b.json")]) == 0
    assert token not in (tmp_path / "b.json").read_text()
    assert main(["scan", str(tmp_path), "--output", str(tmp_path / "missing" / f"{token}.json")]) == 2
    assert main(["scan", str(tmp_path / f"nope-{token}")]) == 2
    out = capsys.readouterr()
    assert token not in out.out + out.err


def test_validate_report_that_is_not_a_report_is_exit_2(tmp_path: pathlib.Path) -> None:
    for content in ("{}", "[]", '{"version": 1, "findings": 5}', '{"version": 1, "findings": [{"rule_id": "x"}]}'):
        (tmp_path / "r.json").write_text(content)
        assert main(["validate", "--report", str(tmp_path / "r.json")]) == 2, content


def test_validate_report_with_an_unrecoverable_secret_fails(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.env").write_text(f"GHL={new_pit()}\n")
    assert main(["scan", ".", "--format", "json", "--output", "r.json"]) == 1
    (tmp_path / "a.env").unlink()
    assert main(["validate", "--report", "r.json"]) == 1  # not checked is not dead


def test_closed_stdin_and_bad_sizes(tmp_path: pathlib.Path) -> None:
    (tmp_path / "a.env").write_text(f"GHL={new_pit()}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pit_guard", "scan", str(tmp_path)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        close_fds=True,
    )
    assert proc.returncode == 1
    closed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.stdin.close(); sys.stdin = None; "
            "from pit_guard.cli import main; sys.exit(main(['scan', sys.argv[1]]))",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert closed.returncode == 1, closed.stderr
    for size in ("-5", "0", "inf", "1e999", "lots"):
        assert main(["scan", str(tmp_path), "--max-file-size", size]) == 2, size


def test_symlink_named_on_the_command_line_is_followed(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "real.env").write_text(f"GHL={new_pit()}\n")
    (tmp_path / "link.env").symlink_to(tmp_path / "real.env")
    (tmp_path / "broken").symlink_to(tmp_path / "nowhere")
    assert main(["scan", str(tmp_path / "link.env")]) == 1
    assert main(["scan", str(tmp_path / "broken")]) == 2  # named, and could not be read
    assert "broken or looping symlink" in capsys.readouterr().err


def test_unreadable_config_is_exit_2(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("clean\n")
    (tmp_path / ".pit-guard.toml").write_bytes(b"\xff\xfe")
    assert main(["scan", "."]) == 2
    assert "not UTF-8" in capsys.readouterr().err
    (tmp_path / ".pit-guard.toml").unlink()
    (tmp_path / "pyproject.toml").write_text('tool = "x"\n')
    assert main(["scan", ".", "--config", "pyproject.toml"]) == 2


def test_config_error_does_not_echo_a_token(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token = new_pit()
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".pit-guard.toml").write_text(f'allow = ["{token}"]\n')
    assert main(["scan", "."]) == 2
    err = capsys.readouterr().err
    assert "not a fingerprint" in err and token not in err


def test_report_of_undecodable_file_names_does_not_crash(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = os.fsencode(str(tmp_path)) + b"/bad\xffname.txt"
    with open(name, "wb") as f:
        f.write(f"GHL={new_pit()}\n".encode())
    for fmt in ("text", "json", "sarif", "gitlab", "markdown", "html"):
        assert main(["scan", str(tmp_path), "--format", fmt, "--output", str(tmp_path / f"out.{fmt}")]) == 1, fmt
    assert "bad\\\\xffname.txt" in (tmp_path / "out.json").read_text()
