"""pit-guard baseline and --baseline: accept today's findings, report only new ones."""

from __future__ import annotations

import json
import pathlib
import random
import uuid

import click
import pytest

from pit_guard import cli
from pit_guard.cli import main
from pit_guard.finding import Finding
from pit_guard.reporting import baseline

BASELINE = ".pit-guard-baseline.json"


def new_pit() -> str:
    return "pit-" + str(uuid.uuid4())


@pytest.fixture()
def repo(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """A project folder (the current folder, as in CI) with two known secrets."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app").mkdir()
    return tmp_path


def write(path: pathlib.Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_create_rescan_unchanged_move_and_new(repo: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    old_a, old_b = new_pit(), new_pit()
    write(repo / "app" / ".env", f"A={old_a}\nB={old_b}\n")
    write(repo / "notes.md", f"see {old_a}\n")

    # Create.
    assert main(["baseline", "app", "notes.md"]) == 0
    text = (repo / BASELINE).read_text()
    document = json.loads(text)
    assert document["version"] == 1 and text.endswith("}\n")
    assert len(document["findings"]) == 2  # old_a twice is one entry
    for entry in document["findings"]:
        assert set(entry) == {"fingerprint", "rule_id", "path"}
    assert old_a not in text and old_b not in text and "line" not in text
    assert [e["path"] for e in document["findings"]] == ["app/.env", "app/.env"]
    before = (repo / BASELINE).read_bytes()
    mtime = (repo / BASELINE).stat().st_mtime_ns
    capsys.readouterr()

    # Rescan with no change: clean, and rewriting the baseline changes no byte.
    assert main(["scan", "--baseline", BASELINE, "app", "notes.md"]) == 0
    assert main(["baseline", "app", "notes.md"]) == 0
    assert (repo / BASELINE).read_bytes() == before
    assert (repo / BASELINE).stat().st_mtime_ns == mtime  # not even rewritten
    assert "unchanged" in capsys.readouterr().err

    # Move a secret to another line and another file, re-indent and copy it: still accepted.
    write(repo / "app" / ".env", f"\n\n# moved\nB={old_b}\n")
    write(repo / "app" / "deep" / "other.yaml", f"config:\n    token: {old_a}\n    copy: '{old_a}'\n")
    assert main(["scan", "--baseline", BASELINE, "app", "notes.md"]) == 0
    capsys.readouterr()

    # Add a new token: reported (redacted), exit 1, and only it.
    fresh = new_pit()
    write(repo / "app" / "new.py", f'TOKEN = "{fresh}"\n')
    assert main(["scan", "--baseline", BASELINE, "--format", "json", "app", "notes.md"]) == 1
    out = capsys.readouterr().out
    reported = json.loads(out)["findings"]
    assert [f["path"].replace("\\", "/") for f in reported] == ["app/new.py"]
    assert fresh not in out


def test_order_is_deterministic_whatever_the_scan_order() -> None:
    findings = [Finding("ghl-private-integration-token", new_pit(), f"d{i % 3}/f{i}.env", i + 1, 1) for i in range(20)]
    findings += findings[:5]
    expected = baseline.render(baseline.entries_for(findings))
    for seed in range(5):
        shuffled = list(findings)
        random.Random(seed).shuffle(shuffled)
        assert baseline.render(baseline.entries_for(shuffled)) == expected


def test_rewrite_replaces_and_merge_keeps(repo: pathlib.Path) -> None:
    gone, kept = new_pit(), new_pit()
    write(repo / "app" / "a.env", f"X={gone}\n")
    write(repo / "app" / "b.env", f"Y={kept}\n")
    assert main(["baseline", "app"]) == 0
    write(repo / "app" / "a.env", "X=\n")  # the secret is removed (and revoked)
    assert main(["baseline", "--merge", "app"]) == 0
    assert len(json.loads((repo / BASELINE).read_text())["findings"]) == 2
    assert main(["baseline", "app"]) == 0
    entries = json.loads((repo / BASELINE).read_text())["findings"]
    assert [e["path"] for e in entries] == ["app/b.env"]


def test_baseline_output_option(repo: pathlib.Path) -> None:
    write(repo / "app" / "a.env", f"X={new_pit()}\n")
    assert main(["baseline", "app", "--output", "custom.json"]) == 0
    assert main(["scan", "app", "--baseline", "custom.json"]) == 0
    assert not (repo / BASELINE).exists()


@pytest.mark.parametrize(
    "content,message",
    [
        (None, "not found"),
        ("{not json", "invalid JSON"),
        ('{"version": 2, "findings": []}', "version 1"),
        ('{"version": 1}', "no findings list"),
        ('{"version": 1, "findings": [{"fingerprint": 3}]}', "malformed"),
    ],
)
def test_missing_or_corrupt_baseline_is_a_clear_error(
    repo: pathlib.Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    write(repo / "app" / "a.env", f"X={new_pit()}\n")
    if content is not None:
        write(repo / "bad.json", content)
    assert main(["scan", "app", "--baseline", "bad.json"]) == 2
    err = capsys.readouterr().err
    assert "bad.json" in err and message in err


def test_every_scanning_command_takes_baseline_and_config() -> None:
    """Commands with the shared report options (scan, audit, ci, hooks) all get --baseline."""
    # `validate` re-checks a report and `reach` one token from stdin: they scan nothing to baseline.
    scanning = [
        c
        for c in cli.cli.commands.values()
        if any(p.name == "fmt" for p in c.params) and c.name not in ("validate", "reach")
    ]
    assert scanning, "no scanning command found"
    for command in scanning:
        names = {p.name for p in command.params}
        assert {"baseline_file", "config_file"} <= names, command.name
        assert isinstance(command, click.Command)


def test_history_option_accepts_what_only_history_holds(repo: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
            cwd=repo,
            check=True,
            capture_output=True,
        )

    old = new_pit()
    git("init", "-q")
    write(repo / "app" / "a.env", f"X={old}\n")
    git("add", ".")
    git("commit", "-qm", "leak")
    write(repo / "app" / "a.env", "X=\n")
    git("commit", "-qam", "remove")
    assert main(["baseline", "app"]) == 0
    assert json.loads((repo / BASELINE).read_text())["findings"] == []
    assert main(["baseline", "--history", "app"]) == 0
    entries = json.loads((repo / BASELINE).read_text())["findings"]
    assert [e["path"] for e in entries] == ["app/a.env"] and old not in (repo / BASELINE).read_text()
    capsys.readouterr()
    assert main(["audit", "--baseline", BASELINE]) == 0
