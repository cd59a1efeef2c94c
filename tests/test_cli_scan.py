import json
import subprocess
import sys

from pit_guard.cli import main

PIT = "pit-3f2b9c4e-8a1d-4c6e-9b7a-1e2d3c4b5a69"


def test_scan_folder_reports_redacted_and_exits_1(tmp_path, capsys):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".env").write_text(f"GHL_TOKEN={PIT}\n")
    assert main(["scan", str(tmp_path)]) == 1
    out = capsys.readouterr()
    assert "ghl-private-integration-token" in out.out
    assert ".env:1:11" in out.out
    assert PIT not in out.out + out.err


def test_show_secrets_prints_in_full(tmp_path, capsys):
    (tmp_path / "a.txt").write_text(PIT)
    assert main(["scan", "--show-secrets", str(tmp_path)]) == 1
    assert PIT in capsys.readouterr().out


def test_clean_folder_exits_0(tmp_path):
    (tmp_path / "a.txt").write_text("nothing here\n")
    assert main(["scan", str(tmp_path)]) == 0


def test_missing_path_and_bad_option_exit_2(tmp_path, capsys):
    assert main(["scan", str(tmp_path / "nope")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["scan", "--bogus"]) == 2


def test_skips_git_folder(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text(PIT)
    assert main(["scan", str(tmp_path)]) == 0


def test_huge_file_is_skipped_with_notice(tmp_path, capsys):
    (tmp_path / "big.txt").write_text(PIT + "\n" + "a" * 2000)
    assert main(["scan", "--max-file-size", "1K", "--format", "json", str(tmp_path)]) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert report["findings"] == []
    assert report["skipped"][0]["path"].endswith("big.txt") and report["skipped"][0]["fails"] is False
    assert "skipped" in out.err and "1 skipped (not failing)" in out.err


def test_stdin_via_console_script(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pit_guard", "scan", "-", "--format", "json"],
        input=f"token: {PIT}\n".encode(),
        capture_output=True,
    )
    assert proc.returncode == 1
    finding = json.loads(proc.stdout)["findings"][0]
    assert finding["path"] == "<stdin>" and finding["line"] == 1 and finding["column"] == 8
    assert PIT.encode() not in proc.stdout + proc.stderr
