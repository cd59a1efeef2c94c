"""No full secret in any output unless --show-secrets: grep every format for every planted token."""

from __future__ import annotations

import json
import pathlib
import uuid
from typing import List, Set

import pytest
from test_report import FINDINGS, SECRETS, render

from pit_guard import pipeline
from pit_guard.cli import main
from pit_guard.detection.rules import RULES


@pytest.mark.parametrize("fmt", pipeline.FORMATS)
@pytest.mark.parametrize("show_secrets", [False, True])
def test_formatters_redact_every_secret_unless_asked(fmt: str, show_secrets: bool) -> None:
    for color in (False, True) if fmt == "text" else (False,):
        out = render(fmt, show_secrets, color=color)
        for secret in SECRETS:
            assert (secret in out) is show_secrets, f"{fmt}: {secret[:8]}… {'missing' if show_secrets else 'leaked'}"
        if not show_secrets:
            for f in FINDINGS:
                assert f.redacted in out


def _plant(folder: pathlib.Path) -> List[str]:
    """Write every rule's examples (and fresh random PITs) into files; return the PITs."""
    pits = ["pit-" + str(uuid.uuid4()) for _ in range(3)]
    lines = []
    for rule in RULES:
        for ex in rule.positives:
            lines += [f"{k}={v}" for k, v in ex.before] + [f"{ex.key}={ex.value}", ""]
    (folder / "all.env").write_text("\n".join(lines))
    (folder / "sub dir").mkdir()
    (folder / "sub dir" / "config.yml").write_text("".join(f"token_{i}: {p}\n" for i, p in enumerate(pits)))
    return pits


def _found_secrets(folder: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> Set[str]:
    assert main(["scan", "--format", "json", "--show-secrets", str(folder)]) == 1
    return {f["secret"] for f in json.loads(capsys.readouterr().out)["findings"]}


@pytest.mark.parametrize("fmt", pipeline.FORMATS)
def test_cli_output_and_output_file_redact(
    fmt: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    pits = _plant(src)
    secrets = _found_secrets(src, capsys)
    assert set(pits) <= secrets  # the random tokens are found, so checking them means something
    report_file = tmp_path / "report.out"
    for extra in ([], ["--output", str(report_file)]):
        assert main(["scan", "--format", fmt, *extra, str(src)]) == 1
        captured = capsys.readouterr()
        everything = captured.out + captured.err + (report_file.read_text(encoding="utf-8") if extra else "")
        for secret in secrets:
            assert secret not in everything, f"{fmt}: {secret[:8]}… leaked"
    assert main(["scan", "--format", fmt, "--show-secrets", str(src)]) == 1
    shown = capsys.readouterr().out
    for secret in secrets:
        assert secret in shown, f"{fmt}: {secret[:8]}… not shown with --show-secrets"
