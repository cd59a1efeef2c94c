"""Problems an adversarial review of issue 10 (the generic rule and the sharper shapes) found: each
test failed before its fix."""

from __future__ import annotations

import base64
import json
import os
import secrets
import string
import time
from typing import Any, Dict, List, Tuple

import pytest

from pit_guard.detection import generic
from pit_guard.detection.detect import scan_bytes

RULE = "ghl-generic-credential"
NOW = 1_750_000_000.0
B62 = string.ascii_letters + string.digits
GHL_FIREBASE_KEY = "AIzaSyB_w3vXmsI7WeQtrIOkjR6xTRVN5uOieiE"  # public: GoHighLevel's web app ships it


def fresh_token(n: int = 40) -> str:
    while True:
        token = "".join(secrets.choice(B62) for _ in range(n))
        if generic.why_not_secret(token) is None:
            return token


def found(text: str) -> List[Tuple[str, str]]:
    return [(f.rule_id, f.secret) for f in scan_bytes(text.encode(), "f", now=NOW)]


# --- recall: a literal default, a typed declaration, Dockerfile ENV, XML ------------------------------


@pytest.mark.parametrize(
    "template",
    [
        # A hard-coded fallback beside the environment lookup: the commonest leak in real code.
        'const key = process.env.GHL_API_KEY || "{t}";\n',
        "const key = process.env.GHL_API_KEY ?? '{t}';\n",
        'key = os.getenv("GHL_API_KEY", "{t}")\n',
        "key = os.environ.get('GHL_API_KEY', '{t}')\n",
        'key = os.getenv("GHL_API_KEY") or "{t}"\n',
        "define('GHL_API_KEY', '{t}');\n",
        'key = ENV.fetch("GHL_API_KEY", "{t}")\n',
        # Typed declarations (TypeScript, Python settings classes, Kotlin, Rust, Go).
        'const ghlApiKey: string = "{t}";\n',
        '    ghl_api_key: str = "{t}"\n',
        'val ghlApiKey: String = "{t}"\n',
        'const GHL_API_KEY: &str = "{t}";\n',
        'var ghlApiKey string = "{t}"\n',
        # Dockerfile ENV and csh setenv without `=`, a command-line flag, .NET app.config, XML.
        "FROM node:20\nENV GHL_API_KEY {t}\n",
        "setenv GHL_API_KEY {t}\n",
        "node sync.js --ghl-api-key {t}\n",
        '<appSettings>\n  <add key="GhlApiKey" value="{t}" />\n</appSettings>\n',
        "<config><GhlApiKey>{t}</GhlApiKey></config>\n",
    ],
)
def test_literal_defaults_typed_declarations_env_and_xml_are_generic(backend: str, template: str) -> None:
    token = fresh_token()
    assert found(template.format(t=token)) == [(RULE, token)]


@pytest.mark.parametrize(
    "text",
    [
        'required = ["GHL_API_KEY", "GHL_LOCATION_ID"]\n',
        'key = os.getenv("GHL_API_KEY", "your_ghl_api_key_here")\n',
        'key = os.getenv("GHL_API_KEY", "")\n',
        "const ghlApiKey: string = process.env.GHL_API_KEY_PRODUCTION!;\n",
        "ENV GHL_API_KEY=${GHL_API_KEY_FROM_BUILD_ARGS}\n",
        "ghl_api_key: str\n",
        '<add key="GhlApiKey" value="{{ghl_api_key_from_vault}}" />\n',
        "interface Cfg { ghlApiKey: string; ghlLocationId: string }\n",
        "token = ghl_token or refresh_token_from_the_vault()\n",
    ],
)
def test_code_around_those_forms_is_not_generic(backend: str, text: str) -> None:
    assert found(text) == []


# --- recall: a secret under a section or object named for GoHighLevel -------------------------------


@pytest.mark.parametrize(
    "template, key",
    [
        ("app:\n  ghl:\n    location_id: {i}\n    api_key: {t}\n  port: 3000\n", "ghl.api_key"),
        ("highlevel:  # CRM\n  oauth:\n    client_secret: '{t}'\n", "highlevel.client_secret"),
        ('{{"ghl": {{"locationId": "{i}", "apiKey": "{t}"}}}}\n', "ghl.apiKey"),
        ('{{\n  "gohighlevel": {{\n    "token": "{t}"\n  }}\n}}\n', "gohighlevel.token"),
        ("const ghl = {{\n  locationId: '{i}',\n  privateToken: '{t}',\n}};\n", "ghl.privateToken"),
        ('[ghl]\nlocation_id = "{i}"\napi_key = "{t}"\n', "ghl.api_key"),
        ("[services.highlevel]\ntoken={t}\n", "services.highlevel.token"),
        ("const ghl = {{ $secret: '{t}' }};\n", "ghl.secret"),
        ("highlevel_" + "b" * 65 + ":\n  api_token: {t}\n", ("highlevel_" + "b" * 65 + ".api_token")[-80:]),
    ],
)
def test_secret_under_a_ghl_section_is_generic(backend: str, template: str, key: str) -> None:
    token = fresh_token()
    findings = scan_bytes(template.format(t=token, i=_id20()).encode(), "f", now=NOW)
    assert [(f.rule_id, f.secret, f.key) for f in findings] == [(RULE, token, key)]


@pytest.mark.parametrize(
    "template",
    [
        # Ids, URLs, versions and the app's own secrets under a GoHighLevel section.
        "ghl:\n  location_id: {i}\n  company_id: {i}\n  base_url: https://services.leadconnectorhq.com\n"
        "  api_version: 2021-07-28\n  webhook_secret: {t}\n",
        # A sibling after the section ends is not in it.
        "ghl:\n  location_id: {i}\nsession:\n  secret: {t}\n",
        '{{"ghl": {{"locationId": "{i}"}}, "stripe": {{"secretKey": "{t}"}}}}\n',
        "[ghl]\nlocation_id = {i}\n[database]\npassword = {t}\n",
        # npm lockfile v1: a package named for GoHighLevel, its integrity hash.
        '"dependencies": {{\n  "ghl-sdk": {{\n    "version": "1.0.0",\n    "integrity": "sha512-{t}"\n  }}\n}}\n',
        # An expression, not a literal.
        "ghl:\n  api_key: ${{GHL_API_KEY_FROM_THE_ENVIRONMENT}}\n",
    ],
)
def test_other_values_around_a_ghl_section_are_not_generic(backend: str, template: str) -> None:
    assert found(template.format(t=fresh_token(), i=_id20())) == []


# --- a value a specific rule reports elsewhere in the same file ---------------------------------------


def test_a_value_a_specific_rule_reports_is_not_generic_where_it_is_repeated(backend: str) -> None:
    secret = "7d3f9a1c-5e2b-4c8d-9f6a-1b3e5c7d9f2a"  # ghl-oauth-client-secret's own example shape
    encoded = base64.b64encode(secret.encode()).decode()
    text = f"kind: Secret\ndata:\n  GHL_API_KEY: {encoded}\n  GHL_CLIENT_SECRET: {encoded}\n"
    rules = [rule for rule, value in found(text) if value == secret]
    assert rules == ["ghl-oauth-client-secret"]


# --- Firebase refresh tokens beside a GoHighLevel Firebase ID token -----------------------------------


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signature(length: int) -> str:
    return "".join(secrets.choice(B62 + "-_") for _ in range(length))


def _id20() -> str:
    return "".join(secrets.choice(B62) for _ in range(20))


def _ghl_id_token(prefix: str = "") -> str:
    payload: Dict[str, Any] = {
        "user_id": _id20(),
        "company_id": _id20(),
        "role": "admin",
        "type": "agency",
        "locations": [_id20() for _ in range(3)],
        "version": 2,
        "permissions": {"campaigns_enabled": True},
        "iss": "https://securetoken.google.com/highlevel-backend",
        "aud": "highlevel-backend",
        "sub": _id20(),
        "iat": 1_749_990_000,
        "exp": 1_749_993_600,
    }
    payload = {"pad": prefix, **payload}
    header = {"alg": "RS256", "kid": os.urandom(20).hex(), "typ": "JWT"}
    return ".".join((_b64url(json.dumps(header).encode()), _b64url(json.dumps(payload).encode()), _signature(342)))


@pytest.mark.parametrize("shift", ["", "a", "ab"])  # the project name at each base64 alignment
def test_firebase_refresh_token_beside_a_ghl_id_token_is_ghls(backend: str, shift: str) -> None:
    refresh = "AMf-vB" + _signature(280)
    id_token = _ghl_id_token(shift)
    # A securetoken response body (a HAR trimmed to it) and a Firebase persisted user without apiKey.
    response = json.dumps({"access_token": id_token, "expires_in": "3600", "refresh_token": refresh})
    user = json.dumps({"uid": _id20(), "stsTokenManager": {"refreshToken": refresh, "accessToken": id_token}})
    for text in (response, user):
        assert ("ghl-firebase-refresh-token", refresh) in found(text)


def test_firebase_refresh_token_beside_another_projects_id_token_is_not(backend: str) -> None:
    refresh = "AMf-vB" + _signature(280)
    other = _ghl_id_token().split(".")
    payload = json.loads(base64.urlsafe_b64decode(other[1] + "=" * (-len(other[1]) % 4)))
    payload.update(iss="https://securetoken.google.com/other-app", aud="other-app")
    other[1] = _b64url(json.dumps(payload).encode())
    text = json.dumps({"access_token": ".".join(other), "refresh_token": refresh})
    assert [rule for rule, _ in found(text) if rule == "ghl-firebase-refresh-token"] == []


# --- pathological inputs: linear, and at a sane cost --------------------------------------------------


def _cpu_per_mb(data: bytes) -> float:
    start = time.process_time()
    scan_bytes(data, "f", now=NOW)
    return (time.process_time() - start) / (len(data) / 1e6)


def test_a_line_of_key_assignments_costs_no_backtracking(backend: str) -> None:
    # `GHL_KEY=GHL_KEY=…`: every name starts a value run of value characters that never ends; each
    # must be tried once, not at every length down to the minimum (that took 3 s/MB).
    repeated = _cpu_per_mb(b"GHL_KEY=" * 40_000)
    names = _cpu_per_mb(b"GHL_KEY " * 40_000)  # the same names without the operator: the floor
    assert repeated < 3 * names + 0.2, (repeated, names)


@pytest.mark.parametrize("unit", [b'"ghl": {', b"[ghl]", b"ghl:\n ", b'"highlevel": {"ghl_token_x": {'])
def test_sections_inside_sections_are_not_rescanned(backend: str, unit: bytes) -> None:
    # Each name opening a section inside the previous one's window rescanned that window (`"ghl": {`
    # repeated took 35 s/MB): sections are taken one after another.
    nested = _cpu_per_mb(unit * (200_000 // len(unit)))
    names = _cpu_per_mb(b"GHL_KEY " * 25_000)  # as many names, no sections: the floor
    assert nested < 4 * names + 0.3, (nested, names)
