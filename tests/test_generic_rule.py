"""The generic rule (`ghl-generic-credential`): where it looks, what it reports, what it never reports,
and a slice of its calibration set (bench/calibrate_generic.py) held to precision and recall floors."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import random
import secrets
import string
import uuid
from typing import Any, List

import pytest

from pit_guard.cli import main
from pit_guard.detection import generic
from pit_guard.detection.detect import scan_bytes, scan_stream
from pit_guard.detection.rules import RULES, RULES_BY_ID

RULE = "ghl-generic-credential"
NOW = 1_750_000_000.0
ROOT = pathlib.Path(__file__).resolve().parent.parent
B62 = string.ascii_letters + string.digits


def _calibration() -> Any:
    spec = importlib.util.spec_from_file_location("calibrate_generic", ROOT / "bench" / "calibrate_generic.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fresh_token(n: int = 40) -> str:
    """A synthetic secret made now: random base62 (no rule knows its shape)."""
    while True:
        token = "".join(secrets.choice(B62) for _ in range(n))
        if generic.why_not_secret(token) is None:
            return token


def generic_findings(data: bytes) -> List[Any]:
    return [f for f in scan_bytes(data, "f", now=NOW) if f.rule_id == RULE]


# --- the calibration slice -----------------------------------------------------------------------


def test_calibration_slice_precision_and_recall(backend: str) -> None:
    calibration = _calibration()
    samples = calibration.table(seed=3, n=180)
    score = calibration.score(samples)
    precision = score["tp"] / (score["tp"] + score["fp"])
    recall = score["tp"] / (score["tp"] + score["fn"])
    assert precision >= 0.99, (score, calibration.failures(samples)[:10])
    assert recall >= 0.95, (score, calibration.failures(samples)[:10])


def test_calibration_negatives_cover_every_class() -> None:
    calibration = _calibration()
    labels = {label for label, _data, secret in calibration.negatives(random.Random(1), 200) if secret is None}
    for needed in ("id", "expression", "placeholder", "url", "path", "hash", "uuid-not-secret", "other-service"):
        assert needed in labels
    for needed in ("lockfile", "minified", "docs", "other-neighbour", "highlight"):
        assert needed in labels


# --- where it looks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "GHL_API_KEY",
        "ghlApiKey",
        "highlevel.token",
        "LEADCONNECTOR_SECRET",
        "hlApiKey",
        "lc_api_key",
        "app.lc.token",
        "GO_HIGH_LEVEL_TOKEN",
        "leadConnectorPassword",
        "msgsndr-auth",
        "apiGhlKey",
        "GHL_PAT",
        "ghl_bearer",
        "gohighlevelCredentials",
    ],
)
def test_credential_keys(backend: str, key: str) -> None:
    token = fresh_token()
    found = generic_findings(f"{key}={token}\n".encode())
    assert [(f.secret, f.key, f.line, f.column) for f in found] == [(token, key, 1, len(key) + 2)]


@pytest.mark.parametrize(
    "key",
    [
        "GHL_LOCATION_ID",
        "ghlCompanyId",
        "GHL_API_KEY_ID",
        "ghlApiLocation",
        "GHL_API_URL",
        "GHL_API_VERSION",
        "GHL_CLIENT_ID",
        "GHL_WEBHOOK_SECRET",
        "GHL_JWT_SECRET",
        "GHL_TOKEN_SHA256",
        "GHL_STRIPE_SECRET_KEY",
        "highlight_token",
        "calc_key",
        "API_KEY",
        "GHL_LOCATION",
        "html_token",
    ],
)
def test_keys_that_hold_no_ghl_credential(backend: str, key: str) -> None:
    assert generic_findings(f"{key}={fresh_token()}\n".encode()) == []


REQUESTS = [
    "curl -s https://services.leadconnectorhq.com/contacts/ \\\n  -H 'Authorization: Bearer {t}' -H 'Version: 2021-07-28'\n",
    "await fetch('https://rest.gohighlevel.com/v1/contacts/', {{\n  headers: {{ Authorization: 'Bearer {t}' }},\n}});\n",
    'requests.get("https://backend.leadconnectorhq.com/users", headers={{"Authorization": "{t}"}})\n',
    '{{"request": {{"header": [{{"key": "Authorization", "value": "Bearer {t}"}}],\n'
    '  "url": "https://services.leadconnectorhq.com/locations/abc"}}}}\n',
    '{{"name": "Authorization",\n "value": "Bearer {t}"}},\n' + "\n" * 5 + '{{"url": "https://api.msgsndr.com/x"}}\n',
]


@pytest.mark.parametrize("template", REQUESTS)
def test_bearer_of_a_request_to_a_ghl_host(backend: str, template: str) -> None:
    token = fresh_token()
    found = generic_findings(template.format(t=token).encode())
    assert [(f.secret, f.key) for f in found] == [(token, "Authorization")]


def test_bearer_far_from_a_ghl_host_or_to_another_host_is_not_generic(backend: str) -> None:
    token = fresh_token()
    far = "https://services.leadconnectorhq.com/contacts/\n" + "x = 1\n" * 40 + f"Authorization: Bearer {token}\n"
    other = f"curl https://api.example.com/v1 -H 'Authorization: Bearer {token}'\n"
    assert generic_findings(far.encode()) == []
    assert generic_findings(other.encode()) == []


# --- what it never reports ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "${GHL_API_KEY}",
        "{{ secrets.GHL_API_KEY }}",
        "process.env.GHL_API_KEY_PRODUCTION",
        'os.environ["GHL_API_KEY_PRODUCTION"]',
        "getenv('GHL_API_KEY_PRODUCTION')",
        "<YOUR_GHL_API_KEY_HERE_PLEASE>",
        "%GHL_API_KEY_FROM_THE_VAULT%",
        "config.highlevel.privateToken",
        "https://services.leadconnectorhq.com/oauth/token",
        "/etc/secrets/ghl/private-token.txt",
        "your_ghl_api_key_goes_here",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "abcdefghijklmnopqrstuvwxyz012345",
        "AbCd1234AbCd1234AbCd1234AbCd1234",
        "00000000-0000-0000-0000-000000000000",
        "12345678-90ab-cdef-1234-567890abcdef",
        "sk_live_" + "x8Kd93JfLq0aZ7mN2pR5tV1w",
        "AKIA" + "Q3EGRN7BXZ5L2KDT",
        "ghp_" + "a8Kd93JfLq0aZ7mN2pR5tV1wXy4bC6eF8gH0",
        "xoxb-123456789012-1234567890123-a8Kd93JfLq0aZ7mN2pR5tV1w",
        "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl",
    ],
)
def test_values_that_are_not_random_secrets(backend: str, value: str) -> None:
    assert generic_findings(f"GHL_API_KEY={value}\n".encode()) == []
    assert generic_findings(f'ghlApiKey: "{value}"\n'.encode()) == []


def test_a_random_uuid_without_its_pit_prefix_is_generic(backend: str) -> None:
    value = str(uuid.uuid4())
    assert [f.secret for f in generic_findings(f"GHL_API_KEY={value}\n".encode())] == [value]


def test_a_value_a_specific_rule_reports_is_never_also_generic(backend: str) -> None:
    keyed = {"ghl-oauth-client-secret", "ghl-sso-shared-secret"}  # found only under their own key names
    for rule in RULES:
        if rule.id == RULE:
            continue
        for example in rule.positives:
            before = "".join(f"{k}={v}\n" for k, v in example.before)
            texts = [f"{before}{example.key}={example.value}\n", f'{before}ghl_{example.key}: "{example.value}"\n']
            if rule.id not in keyed:
                texts += [
                    f"GHL_API_KEY={example.value}\n",
                    f"curl https://services.leadconnectorhq.com/x -H 'Authorization: Bearer {example.value}'\n",
                ]
            for text in texts:
                found = {f.rule_id for f in scan_bytes(text.encode(), "f", now=NOW)}
                assert found == {rule.id}, (rule.id, text[:60])


def test_entropy_ratio_is_about_one_for_random_strings_of_any_alphabet() -> None:
    rng = random.Random(5)
    for alphabet in ("0123456789abcdef", B62, B62 + "-_", string.ascii_lowercase + string.digits):
        for n in (16, 32, 64, 128):
            ratios = sorted(generic.entropy_ratio("".join(rng.choice(alphabet) for _ in range(n))) for _ in range(200))
            assert 0.97 <= ratios[100] <= 1.03, (alphabet, n, ratios[100])
    assert generic.entropy_ratio("aaaaaaaaaaaaaaaab1") < generic.ENTROPY_RATIO
    assert generic.entropy_ratio("abababababababab12") < generic.ENTROPY_RATIO


# --- encodings, streams, UTF-16 ---------------------------------------------------------------------


def test_found_in_base64_url_encoded_and_utf16_files_and_streams(backend: str) -> None:
    import base64

    token = fresh_token()
    k8s = f"data:\n  GHL_API_KEY: {base64.b64encode(token.encode()).decode()}\n".encode()
    assert [(f.secret, f.encoding) for f in generic_findings(k8s)] == [(token, "base64")]
    url = f"https://app.example.com/cb?state=GHL_API_KEY%3D{token}&x=1\n".encode()
    assert [(f.secret, f.encoding) for f in generic_findings(url)] == [(token, "url")]
    wide = f"GHL_API_KEY={token}\r\n".encode("utf-16")
    assert [f.secret for f in generic_findings(wide)] == [token]
    data = (("x = 1\n" * 3000) + f"ghlApiKey = '{token}'\n" + ("y = 2\n" * 3000)).encode()
    pieces = iter([data[i : i + 4096] for i in range(0, len(data), 4096)] + [b""])
    streamed = scan_stream(lambda _n: next(pieces), "f", chunk_size=8192, now=NOW)
    assert [(f.rule_id, f.line, f.column, f.key) for f in streamed] == [
        (f.rule_id, f.line, f.column, f.key) for f in scan_bytes(data, "f", now=NOW)
    ]
    assert [f.rule_id for f in streamed] == [RULE]


# --- reports and the command line -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "gitlab", "markdown"])
def test_reported_in_every_format_with_its_key_and_never_in_full(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    token = fresh_token()
    (tmp_path / "app.env").write_text(f"PORT=3000\nGHL_AGENCY_API_KEY={token}\n")
    assert main(["scan", "--format", fmt, str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert token not in out and token not in err
    assert "GHL_AGENCY_API_KEY" in out
    assert RULES_BY_ID[RULE].name in out
    if fmt == "text":
        assert "Possible GoHighLevel credential, unknown shape" in out and "key: GHL_AGENCY_API_KEY" in out
    if fmt == "json":
        (finding,) = json.loads(out)["findings"]
        assert (finding["rule_id"], finding["key"], finding["line"]) == (RULE, "GHL_AGENCY_API_KEY", 2)


def test_disable_rules_turns_it_off(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.env").write_text(f"GHL_API_KEY={fresh_token()}\n")
    assert main(["scan", "."]) == 1
    (tmp_path / ".pit-guard.toml").write_text('disable-rules = ["ghl-generic-credential"]\n')
    capsys.readouterr()
    assert main(["scan", "."]) == 0


def test_validate_from_a_report_keeps_the_key_and_sends_nothing(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = fresh_token()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.env").write_text(f"ghlApiKey={token}\n")
    assert main(["scan", "--format", "json", "-o", "report.json", "."]) == 1
    report = json.loads((tmp_path / "report.json").read_text())
    report["findings"].append(dict(report["findings"][0], key="\x1b[2Jcrafted"))  # not a key name: dropped
    (tmp_path / "report.json").write_text(json.dumps(report))
    capsys.readouterr()
    main(["validate", "--report", "report.json", "--format", "json"])
    out, err = capsys.readouterr()
    assert token not in out + err and "\x1b" not in out
    findings = json.loads(out)["findings"]
    assert [(f["key"] if "key" in f else None, f["validation"]["status"]) for f in findings] == [
        ("ghlApiKey", "not-checked"),
        (None, "not-checked"),
    ]
