"""--validate, --fail-on live and `pit-guard validate` through the command line, against a
real loopback server standing in for GoHighLevel."""

from __future__ import annotations

import io
import json
import pathlib
import uuid

import pytest
from ghl_fake_server import DEAD_PIT_401, ERROR_500, LIVE_422, FakeGHL

from pit_guard.cli import main


def new_pit() -> str:
    return f"pit-{uuid.uuid4()}"


def scan_json(args: list, capsys: pytest.CaptureFixture[str]) -> tuple:
    code = main(args + ["--format", "json", "--validate-timeout", "2", "--validate-total-timeout", "20"])
    out = capsys.readouterr()
    return code, json.loads(out.out), out.err


def test_validate_marks_live_first_and_dead(
    tmp_path: pathlib.Path, ghl: FakeGHL, capsys: pytest.CaptureFixture[str]
) -> None:
    dead, live = new_pit(), new_pit()
    ghl.reply(dead, DEAD_PIT_401)
    ghl.reply(live, LIVE_422)
    (tmp_path / "a.env").write_text(f"A={dead}\nB={live}\n")
    code, report, err = scan_json(["scan", str(tmp_path), "--validate"], capsys)
    assert code == 1
    statuses = [f["validation"]["status"] for f in report["findings"]]
    assert statuses == ["live", "dead"]  # live first, whatever the file order
    assert "PIT_GUARD_V2_API_URL" in err  # the test-only API base is announced
    assert dead not in err + json.dumps(report) and live not in err + json.dumps(report)


def test_fail_on_live_passes_when_all_dead_and_fails_on_unknown(
    tmp_path: pathlib.Path, ghl: FakeGHL, capsys: pytest.CaptureFixture[str]
) -> None:
    dead, flaky = new_pit(), new_pit()
    ghl.reply(dead, DEAD_PIT_401)
    ghl.reply(flaky, ERROR_500)
    (tmp_path / "a.env").write_text(f"A={dead}\n")
    code, report, _ = scan_json(["scan", str(tmp_path), "--validate", "--fail-on", "live"], capsys)
    assert code == 0 and report["findings"][0]["validation"]["status"] == "dead"
    (tmp_path / "b.env").write_text(f"B={flaky}\n")
    code, report, _ = scan_json(["scan", str(tmp_path), "--validate", "--fail-on", "live"], capsys)
    assert code == 1  # unknown is not dead
    assert {f["validation"]["status"] for f in report["findings"]} == {"dead", "unknown"}


def test_without_validate_nothing_is_sent(
    tmp_path: pathlib.Path, ghl: FakeGHL, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.env").write_text(f"A={new_pit()}\n")
    code, report, _ = scan_json(["scan", str(tmp_path)], capsys)
    assert code == 1 and report["findings"][0]["validation"] is None
    assert ghl.requests == []


def test_config_in_scanned_repo_cannot_redirect_validation(
    tmp_path: pathlib.Path, ghl: FakeGHL, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token = new_pit()
    ghl.reply(token, LIVE_422)
    with FakeGHL() as attacker:
        (tmp_path / "a.env").write_text(f"A={token}\n")
        monkeypatch.chdir(tmp_path)
        for key in ("api-url", "validate-url", "v2-api-url", "proxy"):
            (tmp_path / ".pit-guard.toml").write_text(f'{key} = "{attacker.base}"\n')
            assert main(["scan", ".", "--validate"]) == 2
            assert key in capsys.readouterr().err
        (tmp_path / ".pit-guard.toml").write_text('exclude = ["nothing/*"]\n')
        (tmp_path / "pyproject.toml").write_text(
            f'[tool.pit-guard]\nexclude = []\n[tool.other]\nurl = "{attacker.base}"\n'
        )
        code, report, _ = scan_json(["scan", ".", "--validate"], capsys)
        assert code == 1 and report["findings"][0]["validation"]["status"] == "live"
        assert attacker.requests == []
        assert len(ghl.requests_for(token)) == 1


def test_validate_command_reads_token_from_stdin(
    ghl: FakeGHL, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = new_pit()
    ghl.reply(dead, DEAD_PIT_401)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(f"{dead}\n".encode())))
    assert main(["validate", "--format", "json"]) == 0  # dead: nothing left to revoke urgently
    out = capsys.readouterr()
    assert json.loads(out.out)["findings"][0]["validation"]["status"] == "dead"
    assert dead not in out.out + out.err


def test_validate_command_rechecks_a_redacted_report(
    tmp_path: pathlib.Path, ghl: FakeGHL, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    live = new_pit()
    ghl.reply(live, LIVE_422)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.env").write_text(f"A={live}\n")
    assert main(["scan", ".", "--format", "json", "--output", "report.json"]) == 1
    assert live not in (tmp_path / "report.json").read_text()
    capsys.readouterr()
    assert main(["validate", "--report", "report.json", "--format", "json"]) == 1
    out = capsys.readouterr()
    assert json.loads(out.out)["findings"][0]["validation"]["status"] == "live"
    assert live not in out.out + out.err


def test_validate_command_with_no_token_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"hello\n")))
    assert main(["validate"]) == 2
    assert "no GoHighLevel credential" in capsys.readouterr().err
