"""Credentials as they leak in real files (n8n and Make exports, Postman collections, scripts, HAR
logs, docs), beside what must stay quiet (placeholders, jwt.io samples, other services' UUID
secrets, `cockpit-<uuid>`). All values are synthetic."""

from __future__ import annotations

import base64
import json
import os

import pytest

from pit_guard.detection.detect import scan_bytes
from pit_guard.detection.rules import RULES_BY_ID

NOW = 1_750_000_000.0
PIT = "pit-6d1f0c3a-52be-4c1e-8f7a-93b2d4e6a810"
CLIENT_ID = "66b0c5e2f1a9d4c3b2a10987-lx4k9qzp"
CLIENT_SECRET = "c4e7a1d9-8b2f-4e63-a5d0-7f19b3c82e46"
SSO_KEY = "1e9d7c5b-3a2f-4d8e-b6c4-0a9f8e7d6c5b"
AZURE_SECRET = "2f8c6d4e-1b3a-4c5d-9e7f-a0b1c2d3e4f5"
LOCATION_KEY = RULES_BY_ID["ghl-v1-location-api-key"].positives[0].value
ACCESS = RULES_BY_ID["ghl-oauth-access-token"].positives[0].value
HOOK = "https://services.leadconnectorhq.com/hooks/Rt5yU8iO2pA4sD6fG9hJ/webhook-trigger/0b7e4c2a-9d1f-4a3b-8c6e-5f2d1a0b9c8e"
JWT_IO = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5"
    "MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwt(header: dict, payload: dict, signature_bytes: int) -> str:
    return ".".join(
        (
            _b64url(json.dumps(header).encode()),
            _b64url(json.dumps(payload).encode()),
            _b64url(os.urandom(signature_bytes)),
        )
    )


EXPIRED_ACCESS = _jwt(
    {"alg": "RS256", "typ": "JWT"},
    {
        "authClass": "Location",
        "authClassId": "Ab3dE5gH7jK9mN1pQ3sT",
        "source": "INTEGRATION",
        "sourceId": CLIENT_ID,
        "channel": "OAUTH",
        "primaryAuthClassId": "Ab3dE5gH7jK9mN1pQ3sT",
        "oauthMeta": {"scopes": ["contacts.readonly"], "client": CLIENT_ID[:24]},
        "iat": 1_700_000_000,
        "exp": 1_700_086_400,
    },
    256,
)
SUPABASE_ANON = _jwt(
    {"alg": "HS256", "typ": "JWT"},
    {"iss": "supabase", "ref": "qwertyuiopasdfghjklz", "role": "anon", "iat": 1_700_000_000, "exp": 2_015_576_000},
    32,
)


def _found(text: str):
    return [(f.rule_id, f.secret) for f in scan_bytes(text.encode(), "f", now=NOW)]


N8N_CREDENTIAL = json.dumps(
    [
        {
            "id": "7",
            "name": "HighLevel account",
            "type": "highLevelOAuth2Api",
            "data": {
                "clientId": CLIENT_ID,
                "clientSecret": CLIENT_SECRET,
                "authUrl": "https://marketplace.gohighlevel.com/oauth/chooselocation",
                "accessTokenUrl": "https://services.leadconnectorhq.com/oauth/token",
                "oauthTokenData": {"access_token": ACCESS, "token_type": "Bearer"},
            },
        }
    ],
    indent=2,
)

N8N_WORKFLOW = json.dumps(
    {
        "nodes": [
            {
                "parameters": {
                    "url": "https://services.leadconnectorhq.com/contacts/",
                    "sendHeaders": True,
                    "headerParameters": {
                        "parameters": [
                            {"name": "Authorization", "value": f"Bearer {PIT}"},
                            {"name": "Version", "value": "2021-07-28"},
                        ]
                    },
                    "bodyParameters": {
                        "parameters": [
                            {"name": "client_id", "value": CLIENT_ID},
                            {"name": "client_secret", "value": CLIENT_SECRET},
                        ]
                    },
                },
                "name": "HTTP Request",
                "type": "n8n-nodes-base.httpRequest",
            }
        ]
    }
)

MAKE_BLUEPRINT = json.dumps(
    {
        "flow": [
            {
                "module": "http:ActionSendData",
                "mapper": {
                    "url": HOOK,
                    "method": "post",
                    "headers": [{"name": "Authorization", "value": "Bearer " + LOCATION_KEY}],
                },
            }
        ]
    },
    indent=4,
)

POSTMAN = json.dumps(
    {
        "info": {"name": "GHL API v2"},
        "auth": {"type": "bearer", "bearer": [{"key": "token", "value": PIT, "type": "string"}]},
        "variable": [
            {"key": "baseUrl", "value": "https://services.leadconnectorhq.com"},
            {"key": "accessToken", "value": ACCESS},
        ],
    },
    indent="\t",
)

POSITIVES = {
    "n8n-credential-export": (
        N8N_CREDENTIAL,
        {("ghl-oauth-client-secret", CLIENT_SECRET), ("ghl-oauth-access-token", ACCESS)},
    ),
    "n8n-workflow-headers-and-body": (
        N8N_WORKFLOW,
        {("ghl-private-integration-token", PIT), ("ghl-oauth-client-secret", CLIENT_SECRET)},
    ),
    "make-blueprint": (MAKE_BLUEPRINT, {("ghl-inbound-webhook-url", HOOK), ("ghl-v1-location-api-key", LOCATION_KEY)}),
    "postman-collection": (POSTMAN, {("ghl-private-integration-token", PIT), ("ghl-oauth-access-token", ACCESS)}),
    "python-token-exchange": (
        "import requests\n\nresp = requests.post(\n    'https://services.leadconnectorhq.com/oauth/token',\n"
        f"    data={{'client_id': '{CLIENT_ID}', 'client_secret': '{CLIENT_SECRET}', 'grant_type': 'authorization_code'}},\n)\n",
        {("ghl-oauth-client-secret", CLIENT_SECRET)},
    ),
    "js-camelcase-ghl-key": (
        f'export const ghlClientSecret = "{CLIENT_SECRET}";\n',
        {("ghl-oauth-client-secret", CLIENT_SECRET)},
    ),
    "js-sso-key-in-ghl-app": (
        f"// HighLevel custom page: decrypt the SSO payload\nconst ssoKey = '{SSO_KEY}';\n",
        {("ghl-sso-shared-secret", SSO_KEY)},
    ),
    "env-with-trailing-cr": (f"GHL_TOKEN={PIT}\r\n", {("ghl-private-integration-token", PIT)}),
    "pasted-upper-case": ("token: PIT-" + PIT[4:].upper() + "\n", {("ghl-private-integration-token", PIT)}),
    "har-url-encoded-header": (
        f'{{"name": "Authorization", "value": "Bearer%20{PIT}"}}, {{"url": "https://x.test/?auth=Bearer%20{LOCATION_KEY}"}}',
        {("ghl-private-integration-token", PIT), ("ghl-v1-location-api-key", LOCATION_KEY)},
    ),
    "json-escaped-env-file": (
        json.dumps({"files": {".env": f"NODE_ENV=production\n{PIT}\nPORT=3000\n"}}),
        {("ghl-private-integration-token", PIT)},
    ),
    "github-issue-curl": (f"```\ncurl {HOOK} -d '{{}}'\n```\n", {("ghl-inbound-webhook-url", HOOK)}),
}


@pytest.mark.parametrize("name", list(POSITIVES))
def test_realistic_leak_is_found(backend: str, name: str) -> None:
    text, expected = POSITIVES[name]
    assert set(_found(text)) == expected


def test_client_secret_names_its_client_id(backend: str) -> None:
    findings = [f for f in scan_bytes(N8N_CREDENTIAL.encode(), now=NOW) if f.rule_id == "ghl-oauth-client-secret"]
    assert [f.client_id for f in findings] == [CLIENT_ID]


def test_expired_access_token_is_reported_but_does_not_fail(backend: str) -> None:
    (finding,) = scan_bytes(f"ACCESS_TOKEN={EXPIRED_ACCESS}\n".encode(), now=NOW)
    assert finding.rule_id == "ghl-oauth-access-token"
    assert finding.expired and not finding.fails
    assert finding.location_id == "Ab3dE5gH7jK9mN1pQ3sT" and finding.scopes == ("contacts.readonly",)


NEGATIVES = {
    "env-example-placeholders": (
        "# Copy to .env\nGHL_API_KEY=pit-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\nGHL_CLIENT_ID=\n"
        "GHL_CLIENT_SECRET=your-client-secret\nGHL_SSO_KEY=<your sso key>\nGHL_LOCATION_ID=YOUR_LOCATION_ID\n"
    ),
    "readme-docs": (
        "## Auth\nSend `Authorization: Bearer pit-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` or a v1 key\n"
        "(`eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJsb2NhdGlvbl9pZCI6...`) to https://services.leadconnectorhq.com.\n"
        "Webhook: https://services.leadconnectorhq.com/hooks/<locationId>/webhook-trigger/<triggerId>\n"
    ),
    "jwt-io-sample-in-tests": f"def test_decode():\n    token = '{JWT_IO}'\n    assert decode(token)['name'] == 'John Doe'\n",
    "supabase-anon-key": f"const supabase = createClient('https://qwertyuiopasdfghjklz.supabase.co', '{SUPABASE_ANON}')\n",
    "azure-app-registration": json.dumps(
        {
            "tenantId": "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
            "clientId": "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f",
            "clientSecret": AZURE_SECRET,
            "authority": "https://login.microsoftonline.com/",
        },
        indent=2,
    ),
    "azure-env": f"AZURE_CLIENT_ID=3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f\nAZURE_CLIENT_SECRET={AZURE_SECRET}\n",
    "cockpit-image": "services:\n  cockpit:\n    image: quay.io/cockpit/ws:cockpit-" + PIT[4:] + "\n",
    "ghl-app-sso-session-id": f"// GHL marketplace app\nconst sso_session_id = '{SSO_KEY}';\nconst ssoUserId = '{CLIENT_SECRET}';\n",
    "ghl-app-client-secret-id": f"GHL_CLIENT_ID={CLIENT_ID}\nCLIENT_SECRET_ID={CLIENT_SECRET}\n",
    "github-actions-template": "env:\n  GHL_TOKEN: ${{ secrets.GHL_TOKEN }}\n  GHL_CLIENT_SECRET: ${{ secrets.GHL_CLIENT_SECRET }}\n",
    "suppressed-line": f"GHL_TOKEN={PIT}  # pit-guard: allow (revoked test fixture)\n",
    "pit-without-dashes": "GHL_TOKEN=pit-" + PIT[4:].replace("-", "") + "\n",
    "webhook-other-path": "POST https://services.leadconnectorhq.com/hooks/inbound-messages  (documented endpoint)\n",
}


@pytest.mark.parametrize("name", list(NEGATIVES))
def test_realistic_look_alike_stays_quiet(backend: str, name: str) -> None:
    assert _found(NEGATIVES[name]) == []


def test_jwt_glued_to_a_word_is_found(backend: str) -> None:
    # A paste that kept part of a placeholder: `'your_in' + token`, as seen in public code.
    text = f"let GHL_ACCESS_TOKEN = 'your_in{ACCESS}';\nconst k = \"x{LOCATION_KEY}\";\n"
    assert _found(text) == [("ghl-oauth-access-token", ACCESS), ("ghl-v1-location-api-key", LOCATION_KEY)]
