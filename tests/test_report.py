"""Report formats: golden files, schema validation (SARIF 2.1.0, GitLab 15.0.7) and shape checks.

Regenerate the golden files after an intended change with:
    PIT_GUARD_REGEN_GOLDEN=1 .venv/bin/pytest tests/test_report.py
and review the diff before committing it.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import sys
from typing import Tuple

import jsonschema
import pytest

from pit_guard import pipeline
from pit_guard.cli import main
from pit_guard.detection.rules import RULES, RULES_BY_ID
from pit_guard.finding import Finding, Provenance, Suppression, Unread, Validation
from pit_guard.reporting import formats

HERE = pathlib.Path(__file__).parent
GOLDEN = HERE / "golden"
DATA = HERE / "data"
REGEN = os.environ.get("PIT_GUARD_REGEN_GOLDEN") == "1"

STARTED = datetime.datetime(2025, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
FINISHED = datetime.datetime(2025, 3, 1, 12, 0, 7, tzinfo=datetime.timezone.utc)
CHECKED = "2025-03-01T12:00:05Z"
COMMIT = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
OTHER_COMMIT = "9c1185a5c5e9fc54612808977ee8f548b2258d31"


def example(rule_id: str, index: int = 0) -> str:
    """A synthetic credential from the rules table (never a real one)."""
    return RULES_BY_ID[rule_id].positives[index].value


PIT = example("ghl-private-integration-token")
V1_AGENCY = example("ghl-v1-agency-api-key")
OAUTH_ACCESS = example("ghl-oauth-access-token")
OAUTH_REFRESH = example("ghl-oauth-refresh-token")
CLIENT_SECRET = example("ghl-oauth-client-secret", 1)
WEBHOOK = example("ghl-inbound-webhook-url")
SSO = example("ghl-sso-shared-secret")
V1_LOCATION = example("ghl-v1-location-api-key")
GENERIC = example("ghl-generic-credential")
LOCATION = "U8JZpDE0iGXlD6gNCFba"
COMPANY = "EPFjbD0kH8Oool8DklZD"
CLIENT_ID = "5ec84d8dbc74254770f58904-08xui6d3"

FINDINGS: Tuple[Finding, ...] = (
    Finding(
        "ghl-private-integration-token",
        PIT,
        "app/.env",
        3,
        11,
        location_id=LOCATION,
        validation=Validation("live", "422 from GET /contacts/ (missing locationId)", CHECKED),
    ),
    # The same PIT again elsewhere: one credential, two places (one checklist entry).
    Finding(
        "ghl-private-integration-token",
        PIT,
        "docs/setup notes.md",
        12,
        5,
        location_id=LOCATION,
        validation=Validation("live", "422 from GET /contacts/ (missing locationId)", CHECKED),
    ),
    Finding(
        "ghl-v1-agency-api-key",
        V1_AGENCY,
        "config/ünïcode settings.yml",
        7,
        17,
        company_id=COMPANY,
        issued_at=1654520133,
        provenance=Provenance(
            COMMIT,
            "Jane Dev <jane@example.com>",
            "2024-05-06T10:11:12+00:00",
            commit_count=3,
            in_head=False,
            branches=("main", "remotes/origin/main"),
            last_commit=OTHER_COMMIT,
            last_date="2024-05-08T09:00:00+00:00",
        ),
    ),
    Finding(
        "ghl-oauth-access-token",
        OAUTH_ACCESS,
        "app/.env",
        9,
        14,
        location_id=LOCATION,
        auth_class="Location",
        client_id=CLIENT_ID,
        scopes=("contacts.readonly", "contacts.write"),
        issued_at=1700000000,
        expires_at=1700086400,
        expired=True,
    ),
    Finding(
        "ghl-oauth-refresh-token",
        OAUTH_REFRESH,
        "scripts/refresh.py",
        21,
        18,
        location_id=LOCATION,
        auth_class="Location",
        client_id=CLIENT_ID,
        issued_at=1700000000,
        expires_at=1731536000,
        validation=Validation("dead", "exp is in the past", CHECKED),
    ),
    Finding("ghl-oauth-client-secret", CLIENT_SECRET, "k8s/secret.yaml", 8, 20, encoding="base64", client_id=CLIENT_ID),
    Finding(
        "ghl-inbound-webhook-url",
        WEBHOOK,
        "workflows/zap.json",
        4,
        16,
        location_id="Qw3rTy7uI9oP1aS5dF8g",
        validation=Validation("unknown", "no safe liveness test: a request fires the workflow"),
    ),
    Finding(
        "ghl-sso-shared-secret",
        SSO,
        "app/settings.py",
        30,
        15,
        provenance=Provenance(OTHER_COMMIT, "Sam <sam@example.com>", "2023-01-02T03:04:05+00:00"),
    ),
    Finding(
        "ghl-v1-location-api-key", V1_LOCATION, "legacy/api.php", 2, 12, location_id=LOCATION, issued_at=1654520133
    ),
    # The kinds GoHighLevel issues to people: a user JWT, a web-app session, a Firebase ID and refresh token.
    Finding(
        "ghl-user-jwt",
        example("ghl-user-jwt"),
        "scripts/debug.http",
        3,
        22,
        company_id=COMPANY,
        issued_at=4070908800,
        expires_at=4070995200,
    ),
    Finding(
        "ghl-web-session-jwt",
        example("ghl-web-session-jwt"),
        "har/app.har",
        120,
        30,
        company_id=COMPANY,
        issued_at=4070908800,
        expires_at=4070912400,
    ),
    Finding("ghl-firebase-id-token", example("ghl-firebase-id-token"), "har/app.har", 121, 30, company_id=COMPANY),
    Finding(
        "ghl-firebase-refresh-token",
        example("ghl-firebase-refresh-token"),
        "tools/ghl_session.py",
        9,
        17,
        validation=Validation("not-checked", "exchanging a refresh token would rotate it: never sent"),
    ),
    Finding("ghl-generic-credential", GENERIC, "config/ghl.env", 3, 13, key="GHL_API_KEY"),
)
SUPPRESSED = (
    Suppression("allow-marker", "", 1),
    Suppression("exclude", ".pit-guard.toml", 10, 1),
    Suppression("baseline", ".pit-guard-baseline.json", 2),
)
SKIPPED = (Unread("assets/big.bin", "larger than --max-file-size (30000000 > 26214400 bytes)", chosen=True),)
SECRETS = sorted({f.secret for f in FINDINGS})


@pytest.fixture(autouse=True)
def fixed_version(monkeypatch: pytest.MonkeyPatch) -> None:
    # Golden files must not change with every release.
    monkeypatch.setattr(formats, "__version__", "0.0.0-golden")


def render(fmt: str, show_secrets: bool = False, color: bool = False, findings: Tuple[Finding, ...] = FINDINGS) -> str:
    if fmt == "gitlab":
        return formats.format_gitlab(
            findings, SKIPPED, show_secrets, started=STARTED, finished=FINISHED, suppressed=SUPPRESSED
        )
    if fmt == "text":
        return formats.format_text(findings, SKIPPED, show_secrets, color=color, suppressed=SUPPRESSED)
    return formats.FORMATTERS[fmt](findings, SKIPPED, show_secrets, suppressed=SUPPRESSED)


GOLDEN_CASES = [
    ("text", False, "report.txt"),
    ("text", True, "report.color.txt"),
    ("json", False, "report.json"),
    ("sarif", False, "report.sarif"),
    ("gitlab", False, "gl-secret-detection-report.json"),
    ("markdown", False, "report.md"),
]


@pytest.mark.parametrize("fmt,color,name", GOLDEN_CASES)
def test_golden(fmt: str, color: bool, name: str) -> None:
    produced = render(fmt, color=color)
    path = GOLDEN / name
    if REGEN:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(produced, encoding="utf-8", newline="\n")
    assert produced == path.read_text(encoding="utf-8"), f"{name} differs: PIT_GUARD_REGEN_GOLDEN=1 to regenerate"


def test_cli_formats_are_the_report_formats() -> None:
    assert set(pipeline.FORMATS) == set(formats.FORMATTERS)


def test_every_rule_has_a_severity() -> None:
    for rule in RULES:
        assert rule.severity in ("Critical", "High", "Medium", "Low"), rule.id
        assert 0.0 <= float(rule.security_severity) <= 10.0, rule.id


# --- SARIF ----------------------------------------------------------------------------------------


def sarif_validator() -> jsonschema.Draft4Validator:
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema)


@pytest.mark.parametrize("show_secrets", [False, True])
@pytest.mark.parametrize("findings", [FINDINGS, ()], ids=["findings", "empty"])
def test_sarif_is_valid_sarif_2_1_0(show_secrets: bool, findings: Tuple[Finding, ...]) -> None:
    document = json.loads(render("sarif", show_secrets, findings=findings))
    errors = sorted(sarif_validator().iter_errors(document), key=str)
    assert not errors, "\n".join(e.message for e in errors[:5])
    assert document["version"] == "2.1.0"


def test_sarif_one_rule_per_credential_kind_with_revoke_help() -> None:
    run = json.loads(render("sarif"))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [rule.id for rule in RULES]
    for descriptor, rule in zip(rules, RULES):
        assert descriptor["shortDescription"]["text"] == rule.name
        assert descriptor["fullDescription"]["text"] == rule.description
        assert rule.revoke in descriptor["help"]["text"] and rule.revoke in descriptor["help"]["markdown"]
        assert 0.0 <= float(descriptor["properties"]["security-severity"]) <= 10.0
        assert "security" in descriptor["properties"]["tags"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "note")


def test_sarif_fingerprint_is_content_only() -> None:
    """The same secret in another commit, file and line is one alert; no commit data in it."""
    a = FINDINGS[2]
    b = Finding(
        a.rule_id,
        a.secret,
        "elsewhere/x.yml",
        99,
        3,
        provenance=Provenance(OTHER_COMMIT, "Someone Else <x@example.com>", "2020-01-01T00:00:00+00:00"),
    )
    results = json.loads(formats.format_sarif([a, b], []))["runs"][0]["results"]
    prints = [r["partialFingerprints"] for r in results]
    assert prints[0] == prints[1] == {"pitGuardFingerprint/v1": a.fingerprint}
    blob = json.dumps(prints)
    for leaked in (COMMIT, OTHER_COMMIT, "Jane", "Someone", "99", "elsewhere"):
        assert leaked not in blob


def test_sarif_history_findings_carry_commit_author_and_validation_in_properties() -> None:
    results = json.loads(render("sarif"))["runs"][0]["results"]
    history = results[2]["properties"]
    assert history["commit"] == COMMIT and history["author"].startswith("Jane Dev")
    assert history["date"] == "2024-05-06T10:11:12+00:00" and history["branches"] == ["main", "remotes/origin/main"]
    assert results[0]["properties"]["validationStatus"] == "live"
    assert "commit" not in results[0]["properties"]
    assert results[3]["level"] == "note"  # expired access token: reported, not failing


def test_sarif_uris_are_relative_and_percent_encoded(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    inside = str(tmp_path / "sub dir" / "ñ.env")
    outside = os.path.join(os.path.dirname(str(tmp_path)), "other place", "a.env")
    findings = [
        Finding("ghl-private-integration-token", PIT, p, 1, 1) for p in ("./a b/ü#1.env", inside, outside, "<stdin>")
    ]
    document = json.loads(formats.format_sarif(findings, []))
    assert not list(sarif_validator().iter_errors(document))
    locations = [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in document["runs"][0]["results"]]
    assert locations[0] == {"uri": "a%20b/%C3%BC%231.env", "uriBaseId": "%SRCROOT%"}
    assert locations[1] == {"uri": "sub%20dir/%C3%B1.env", "uriBaseId": "%SRCROOT%"}
    assert locations[2]["uri"].startswith("file:///") and "other%20place/a.env" in locations[2]["uri"]
    assert "uriBaseId" not in locations[2]
    assert locations[3] == {"uri": "%3Cstdin%3E"}


# --- GitLab -----------------------------------------------------------------------------------------


def gitlab_validator() -> jsonschema.Draft7Validator:
    schema = json.loads((DATA / "secret-detection-report-format-15.0.7.json").read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


@pytest.mark.parametrize("show_secrets", [False, True])
@pytest.mark.parametrize("findings", [FINDINGS, ()], ids=["findings", "empty"])
def test_gitlab_report_matches_gitlab_schema(show_secrets: bool, findings: Tuple[Finding, ...]) -> None:
    document = json.loads(render("gitlab", show_secrets, findings=findings))
    errors = sorted(gitlab_validator().iter_errors(document), key=str)
    assert not errors, "\n".join(e.message for e in errors[:5])
    assert document["scan"]["type"] == "secret_detection"
    assert document["scan"]["start_time"] == "2025-03-01T12:00:00"


def test_gitlab_vulnerabilities() -> None:
    vulns = json.loads(render("gitlab"))["vulnerabilities"]
    assert len(vulns) == len(FINDINGS)
    assert len({v["id"] for v in vulns}) == len(vulns)
    assert json.loads(render("gitlab"))["vulnerabilities"] == vulns  # ids are stable across runs
    assert all(v["category"] == "secret_detection" for v in vulns)
    assert vulns[0]["location"] == {"file": "app/.env", "start_line": 3, "end_line": 3, "commit": {"sha": "0000000"}}
    assert vulns[2]["location"]["commit"]["sha"] == COMMIT
    assert vulns[0]["raw_source_code_extract"] == "pit-3f2b…5a69"
    assert vulns[0]["identifiers"][0]["value"] == "ghl-private-integration-token"
    assert vulns[0]["severity"] == "Critical" and vulns[3]["severity"] == "Low"  # expired


def test_gitlab_times_default_to_now_in_utc() -> None:
    document = json.loads(formats.format_gitlab([], []))
    moment = datetime.datetime.strptime(document["scan"]["end_time"], "%Y-%m-%dT%H:%M:%S")
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    assert abs((now - moment).total_seconds()) < 60


# --- markdown ---------------------------------------------------------------------------------------


def test_markdown_lists_each_credential_once_grouped_by_account() -> None:
    text = render("markdown")
    assert text.count(f"`{FINDINGS[0].redacted}`") == 1  # the PIT found in two places
    assert "Found in 2 places:" in text
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Sub-account (location) `Qw3rTy7uI9oP1aS5dF8g`",
        f"## Sub-account (location) `{LOCATION}`",
        f"## Agency (company) `{COMPANY}`",
        f"## Marketplace app `{CLIENT_ID}`",
        "## Account not known (find where the credential is configured)",
        "## Not scanned",
        "## Suppressed",
    ]
    assert "- Status: **live**" in text and "- Status: **expired**" in text and "- Status: **unknown**" in text
    for rule in RULES:
        assert f"- [ ] Revoke it: {rule.revoke}" in text or rule.id in (
            "ghl-oauth-access-token",
            "ghl-oauth-refresh-token",
        )


def test_markdown_caps_places_and_escapes_git_text() -> None:
    findings = [
        Finding(
            "ghl-private-integration-token",
            PIT,
            f"f{i:02}.env",
            1,
            1,
            provenance=Provenance(COMMIT, "<b>*Mallory*</b>", "2024-01-01"),
        )
        for i in range(25)
    ]
    text = formats.format_markdown(findings, [])
    assert text.count("  - `f") == formats.MARKDOWN_MAX_PLACES
    assert "… and 15 more" in text
    assert "<b>" not in text and "\\<b\\>\\*Mallory\\*\\</b\\>" in text


# --- text and the command line --------------------------------------------------------------------


def test_text_is_grouped_by_file_with_the_path_line_col_shape() -> None:
    text = render("text")
    first_lines = [line for line in text.splitlines() if line and not line.startswith((" ", "assets/"))]
    assert first_lines[0].startswith("app/.env:3:11: GoHighLevel Private Integration Token pit-3f2b…5a69")
    assert first_lines[1].startswith("app/.env:9:14: GoHighLevel OAuth access token (expired)")
    assert "\033[" not in text
    assert "\033[" in render("text", color=True)


def _plant(tmp_path: pathlib.Path) -> pathlib.Path:
    (tmp_path / "a.env").write_text(f"GHL_TOKEN={PIT}\n")
    return tmp_path


def test_text_is_plain_when_piped_and_coloured_on_a_terminal(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _plant(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert main(["scan", str(tmp_path)]) == 1
    assert "\033[" not in capsys.readouterr().out
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main(["scan", str(tmp_path)]) == 1
    assert "\033[" in capsys.readouterr().out
    monkeypatch.setenv("NO_COLOR", "1")
    assert main(["scan", str(tmp_path)]) == 1
    assert "\033[" not in capsys.readouterr().out


@pytest.mark.parametrize("fmt", pipeline.FORMATS)
def test_cli_output_file_for_every_format(fmt: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "src").mkdir()
    _plant(tmp_path / "src")
    out = tmp_path / f"report.{fmt}"
    assert main(["scan", "--format", fmt, "--output", str(out), str(tmp_path / "src")]) == 1
    assert capsys.readouterr().out == ""
    produced = out.read_text(encoding="utf-8")
    assert "pit-3f2b…5a69" in produced and PIT not in produced
    if fmt == "sarif":
        assert not list(sarif_validator().iter_errors(json.loads(produced)))
    if fmt == "gitlab":
        assert not list(gitlab_validator().iter_errors(json.loads(produced)))


def test_unwritable_output_is_an_error_exit_2(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    _plant(tmp_path)
    assert (
        main(["scan", "--output", str(tmp_path / "no such dir" / "r.sarif"), "--format", "sarif", str(tmp_path)]) == 2
    )
    assert "cannot write the report" in capsys.readouterr().err


def test_incomplete_and_suppressed_reports_stay_schema_valid() -> None:
    """An unread input (not chosen) and suppression counts: SARIF says the run did not succeed,
    GitLab says the scan failed, JSON says it is incomplete; both stay valid against their schemas."""
    skipped = (*SKIPPED, Unread("<object 0123abcd>", "unreadable object (corrupt object file)"))
    sarif = json.loads(formats.format_sarif(FINDINGS, skipped, suppressed=SUPPRESSED))
    assert not list(sarif_validator().iter_errors(sarif))
    assert sarif["runs"][0]["invocations"][0]["executionSuccessful"] is False
    assert sarif["runs"][0]["properties"]["complete"] is False
    gitlab = json.loads(formats.format_gitlab(FINDINGS, skipped, suppressed=SUPPRESSED))
    assert not list(gitlab_validator().iter_errors(gitlab))
    assert gitlab["scan"]["status"] == "failure"
    document = json.loads(formats.format_json(FINDINGS, skipped, suppressed=SUPPRESSED))
    assert document["complete"] is False and document["unread"] == 1 and document["suppressed"]["total"] == 14
