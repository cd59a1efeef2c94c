"""Sharper edges on the known shapes: placeholders judged by entropy, JWTs cut to the signature length
their algorithm allows (text glued after a token is not part of it), and inbound webhook URLs on
every host GoHighLevel serves them from. Tokens are made fresh here: random ids and signatures."""

from __future__ import annotations

import base64
import json
import os
import random
import uuid
from typing import Any, Dict, List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pit_guard.detection.detect import SIGNATURE_LENGTHS, is_placeholder_uuid, scan_bytes

NOW = 1_750_000_000.0


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signature(length: int) -> str:
    """Random base64url of exactly `length` characters, as a signature of that size encodes."""
    raw = _b64url(os.urandom(length * 3 // 4 + 2))[:length]
    # The last character of an unpadded encoding carries zero bits where the bytes end.
    spare = (6 * length) % 8
    if spare:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        value = alphabet.index(raw[-1]) & ~((1 << spare) - 1)
        raw = raw[:-1] + alphabet[value]
    return raw


def _jwt(header: Dict[str, Any], payload: Dict[str, Any], signature_length: int) -> str:
    return ".".join(
        (
            _b64url(json.dumps(header, separators=(",", ":")).encode()),
            _b64url(json.dumps(payload, separators=(",", ":")).encode()),
            _signature(signature_length),
        )
    )


def _found(text: str) -> List[Tuple[str, str]]:
    return [(f.rule_id, f.secret) for f in scan_bytes(text.encode(), "f", now=NOW)]


def _oauth_payload() -> Dict[str, Any]:
    location = "".join(random.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789") for _ in range(20))
    return {
        "authClass": "Location",
        "authClassId": location,
        "source": "INTEGRATION",
        "channel": "OAUTH",
        "oauthMeta": {"scopes": ["contacts.readonly"]},
        "iat": 4_070_908_800,
        "exp": 4_070_995_200,
    }


# --- placeholders by entropy ------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=2**128 - 1))
def test_random_uuid4_is_never_a_placeholder(bits: int) -> None:
    # Hypothesis picks the seed; the UUID is what a real generator makes from it. (A UUID built from
    # hypothesis's own integers directly would include 0 and other hand-typed shapes.)
    text = str(uuid.UUID(int=random.Random(bits).getrandbits(128), version=4))
    assert not is_placeholder_uuid(text)


@pytest.mark.parametrize(
    "text",
    [
        "00000000-0000-0000-0000-000000000000",
        "fedcba98-7654-3210-fedc-ba9876543210",
        "01234567-89ab-cdef-0123-456789abcdef",
        "13579bdf-1357-9bdf-1357-9bdf13579bdf",
        "a1b2c3d4-a1b2-c3d4-a1b2-c3d4a1b2c3d4",
        "3f2b9c4e-3f2b-9c4e-3f2b-9c4e3f2b9c4e",
        "deadbeef-dead-beef-dead-beefdeadbeef",
        "12345678-1234-1234-1234-123456789012",
    ],
)
def test_hand_typed_uuid_is_a_placeholder(text: str) -> None:
    assert is_placeholder_uuid(text)


def test_random_pit_found_and_low_entropy_pit_not(backend: str) -> None:
    pit = f"pit-{uuid.uuid4()}"
    text = f"GHL_TOKEN={pit}\nOTHER=pit-a1b2c3d4-a1b2-c3d4-a1b2-c3d4a1b2c3d4\n"
    assert _found(text) == [("ghl-private-integration-token", pit)]


# --- JWTs glued to the text after them --------------------------------------------------------------


@pytest.mark.parametrize("alg", sorted(SIGNATURE_LENGTHS))
@pytest.mark.parametrize("length_index", [0, -1])
def test_oauth_token_glued_to_following_text_is_cut_at_its_signature(backend: str, alg: str, length_index: int) -> None:
    token = _jwt({"alg": alg, "typ": "JWT"}, _oauth_payload(), SIGNATURE_LENGTHS[alg][length_index])
    # A real token pasted into the middle of a placeholder: `'your_in' + token + 'itial_token'` (glued
    # before too only for GoHighLevel's two fixed headers, which detect.py also looks for after a word).
    before = "your_in" if alg in ("HS256", "RS256") else ""
    found = _found(f"const GHL_ACCESS_TOKEN = '{before}{token}itial_token';\n")
    assert found == [("ghl-oauth-access-token", token)]


def test_rs256_4096_bit_signature_is_kept_whole(backend: str) -> None:
    token = _jwt({"alg": "RS256", "typ": "JWT"}, _oauth_payload(), 683)
    assert _found(f"Authorization: Bearer {token}Xy_9\n") == [("ghl-oauth-access-token", token)]
    assert _found(f"Authorization: Bearer {token}\n") == [("ghl-oauth-access-token", token)]


def test_signature_shorter_than_its_algorithm_allows_is_not_a_token(backend: str) -> None:
    token = _jwt({"alg": "RS256", "typ": "JWT"}, _oauth_payload(), 300)
    assert _found(f"token={token}\n") == []


# --- inbound webhook URLs on every host -------------------------------------------------------------


def _trigger_path() -> Tuple[str, str]:
    location = "".join(random.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789") for _ in range(20))
    return location, f"/hooks/{location}/webhook-trigger/{uuid.uuid4()}"


@pytest.mark.parametrize(
    "host", ["services.leadconnectorhq.com", "backend.leadconnectorhq.com", "services.msgsndr.com", "api.crm-agency.io"]
)
def test_webhook_on_each_host_reports_that_host(backend: str, host: str) -> None:
    location, path = _trigger_path()
    url = f"https://{host}{path}"
    text = f'      const res = await axios.post("{url}", values);\n'
    [finding] = scan_bytes(text.encode(), "f", now=NOW)
    assert (finding.rule_id, finding.secret, finding.location_id) == ("ghl-inbound-webhook-url", url, location)
    assert finding.column == text.index("https") + 1


def test_url_encoded_webhook_keeps_its_host(backend: str) -> None:
    _location, path = _trigger_path()
    url = "https://backend.leadconnectorhq.com" + path
    encoded = url.replace(":", "%3A").replace("/", "%2F")
    [finding] = scan_bytes(f"next={encoded}&x=1\n".encode(), "f", now=NOW)
    assert (finding.secret, finding.encoding) == (url, "url")


def test_white_label_host_needs_the_unmistakable_shape(backend: str) -> None:
    # A 20-character location id and a UUID or 20-character trigger id, as GoHighLevel makes them.
    assert _found(f"u = 'https://api.crm-agency.io/hooks/abc123/webhook-trigger/{uuid.uuid4()}'\n") == []
    assert _found("u = 'https://api.crm-agency.io/hooks/Pq2wE4rT6yU8iO0pA1sD/webhook-trigger/build-trigger-01'\n") == []


# --- credentials GoHighLevel issues to people -------------------------------------------------------


def _id20() -> str:
    return "".join(random.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789") for _ in range(20))


def test_user_jwt_carries_its_owner_and_expiry(backend: str) -> None:
    agency, issued = _id20(), 1_749_900_000
    payload = {"userType": "agency", "agencyId": agency, "userId": _id20(), "jti": str(uuid.uuid4())}
    payload.update(iss="GHL", aud="leadconnectorhq.com", iat=issued, nbf=issued, exp=issued + 86_400)
    token = _jwt({"alg": "HS256", "typ": "JWT"}, payload, 43)
    [finding] = scan_bytes(f"Authorization: Bearer {token}\n".encode(), "f", now=NOW)
    assert (finding.rule_id, finding.secret, finding.company_id) == ("ghl-user-jwt", token, agency)
    assert (finding.issued_at, finding.expires_at, finding.expired) == (issued, issued + 86_400, True)
    # The same claims for another audience are somebody else's token.
    other = _jwt({"alg": "HS256", "typ": "JWT"}, dict(payload, aud="api.example.com"), 43)
    assert _found(f"Authorization: Bearer {other}\n") == []


def test_web_session_jwt_with_fractional_times(backend: str) -> None:
    user = _id20()
    payload = {"channel": "APP", "source": "WEB_USER", "sourceId": user, "authClass": "User", "authClassId": user}
    payload.update(primaryAuthClassId=user, primaryUser={"id": user}, appMeta={}, jti=uuid.uuid4().hex[:24])
    payload.update(iat=4_070_908_800.25, exp=4_070_912_400.25)
    token = _jwt({"alg": "RS256", "typ": "JWT"}, payload, 683)
    [finding] = scan_bytes(f"cookie: m_a={token}; path=/\n".encode(), "f", now=NOW)
    assert (finding.rule_id, finding.secret) == ("ghl-web-session-jwt", token)
    assert (finding.issued_at, finding.expires_at, finding.expired) == (4_070_908_800, 4_070_912_400, False)


def test_firebase_id_token_of_ghl_project_only(backend: str) -> None:
    claims = {"user_id": _id20(), "company_id": _id20(), "role": "admin", "type": "agency", "version": 2}
    header = {"alg": "RS256", "kid": os.urandom(20).hex(), "typ": "JWT"}
    ghl = dict(claims, iss="https://securetoken.google.com/highlevel-backend", aud="highlevel-backend", exp=1)
    token = _jwt(header, ghl, 342)
    [finding] = scan_bytes(f"token-id: {token}\n".encode(), "f", now=NOW)
    assert (finding.rule_id, finding.secret, finding.expired) == ("ghl-firebase-id-token", token, True)
    other = dict(claims, iss="https://securetoken.google.com/other-app", aud="other-app", exp=1)
    assert _found(f"token-id: {_jwt(header, other, 342)}\n") == []


def _refresh_token(length: int = 280) -> str:
    return "AMf-vB" + _signature(length)


GHL_FIREBASE_KEY = "AIzaSyB_w3vXmsI7WeQtrIOkjR6xTRVN5uOieiE"  # public: GoHighLevel's web app ships it


@pytest.mark.parametrize(
    "template",
    [
        # A securetoken call with GoHighLevel's Firebase web API key.
        "const url = `https://securetoken.googleapis.com/v1/token?key={key}`;\nconst body = {{refresh_token: '{token}'}};\n",
        # Beside a token-id header (the ID tokens it mints go there).
        "headers = {{'token-id': id_token}}\nREFRESH = \"{token}\"\n",
        # Under a key named for GoHighLevel.
        "LEADCONNECTOR_FIREBASE_REFRESH={token}\n",
    ],
)
def test_firebase_refresh_token_near_ghl_context(backend: str, template: str) -> None:
    token = _refresh_token()
    assert _found(template.format(key=GHL_FIREBASE_KEY, token=token)) == [("ghl-firebase-refresh-token", token)]


def test_firebase_refresh_token_of_another_app_is_not_ghls(backend: str) -> None:
    text = f"const url = 'https://securetoken.googleapis.com/v1/token?key=AIzaSyD{_signature(32)}';\n"
    assert _found(text + f"const refresh = '{_refresh_token()}';\n") == []


def test_firebase_refresh_token_in_a_secret_among_encoded_neighbours(backend: str) -> None:
    token = _refresh_token()
    encoded = base64.b64encode(token.encode()).decode()
    key = base64.b64encode(GHL_FIREBASE_KEY.encode()).decode()
    secret = f"kind: Secret\ndata:\n  API_KEY: {key}\n  REFRESH: {encoded}\n"
    [finding] = scan_bytes(secret.encode(), "f", now=NOW)
    assert (finding.rule_id, finding.secret, finding.encoding) == ("ghl-firebase-refresh-token", token, "base64")
    assert scan_bytes(f"kind: Secret\ndata:\n  REFRESH: {encoded}\n".encode(), "f", now=NOW) == []


def test_firebase_refresh_token_is_redacted_in_paths_and_never_sent() -> None:
    from pit_guard.detection.rules import RULES_BY_ID
    from pit_guard.finding import redact_text

    token = _refresh_token()
    assert token not in redact_text(f"notes/{token}.txt")
    rule = RULES_BY_ID["ghl-firebase-refresh-token"]
    assert (rule.probe.kind, rule.severity) == ("never", "Critical")


def test_firebase_id_token_glued_to_words_on_both_sides(backend: str) -> None:
    claims = {"user_id": _id20(), "iss": "https://securetoken.google.com/highlevel-backend"}
    token = _jwt(
        {"alg": "RS256", "kid": os.urandom(20).hex(), "typ": "JWT"}, dict(claims, aud="highlevel-backend"), 342
    )
    assert _found(f"const t = 'paste_here{token}_end';\n") == [("ghl-firebase-id-token", token)]
