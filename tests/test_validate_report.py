"""`pit-guard validate --report`: findings come back from a JSON report, then get validated."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import uuid
from pathlib import Path

from ghl_fake_server import LIVE_422, FakeGHL

from pit_guard.detection.detect import scan_bytes
from pit_guard.finding import Provenance
from pit_guard.reporting.formats import format_json
from pit_guard.validation.checks import validate_findings
from pit_guard.validation.from_report import findings_from_report


def _report(findings, show_secrets=False):  # type: ignore[no-untyped-def]
    return json.loads(format_json(findings, [], show_secrets=show_secrets))


def test_redacted_entries_are_recovered_from_the_file_and_validated(tmp_path: Path, ghl: FakeGHL) -> None:
    token = f"pit-{uuid.uuid4()}"
    ghl.reply(token, LIVE_422)
    (tmp_path / ".env").write_text(f"A=1\nGHL_TOKEN={token}\n")
    findings = scan_bytes((tmp_path / ".env").read_bytes(), ".env")
    document = _report(findings)
    assert token not in json.dumps(document)
    recovered, missing = findings_from_report(document, root=str(tmp_path))
    assert missing == [] and [(f.secret, f.path, f.line) for f in recovered] == [(token, ".env", 2)]
    [checked] = validate_findings(recovered, timeout=10)
    assert checked.validation is not None and checked.validation.status == "live"


def test_unredacted_report_needs_no_source(tmp_path: Path) -> None:
    token = f"pit-{uuid.uuid4()}"
    document = _report(scan_bytes(token.encode(), "gone.txt"), show_secrets=True)
    recovered, missing = findings_from_report(document, root=str(tmp_path))
    assert [f.secret for f in recovered] == [token] and missing == []


def test_a_secret_gone_from_its_file_is_reported_missing(tmp_path: Path) -> None:
    token = f"pit-{uuid.uuid4()}"
    (tmp_path / "a.txt").write_text(token)
    document = _report(scan_bytes(token.encode(), "a.txt"))
    (tmp_path / "a.txt").write_text(f"pit-{uuid.uuid4()}")  # rotated: another token now
    recovered, missing = findings_from_report(document, root=str(tmp_path))
    assert recovered == [] and "no longer" in missing[0][1]
    # A forged entry (someone else's fingerprint) cannot pull a token out either.
    assert token not in repr(missing)


def test_history_entries_are_read_from_their_commit(tmp_path: Path) -> None:
    token = f"pit-{uuid.uuid4()}"
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(git + ["init", "-q"], check=True)
    (tmp_path / "config.js").write_text(f"const t = '{token}';\n")
    subprocess.run(git + ["add", "config.js"], check=True)
    subprocess.run(git + ["commit", "-qm", "add"], check=True)
    commit = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    (tmp_path / "config.js").write_text("const t = process.env.T;\n")
    subprocess.run(git + ["commit", "-qam", "remove"], check=True)
    [found] = scan_bytes(f"const t = '{token}';\n".encode(), "config.js")
    found = dataclasses.replace(found, provenance=Provenance(commit, "t", "2024-01-01T00:00:00Z"))
    recovered, missing = findings_from_report(_report([found]), root=str(tmp_path))
    assert missing == [] and recovered[0].secret == token and recovered[0].provenance is not None
