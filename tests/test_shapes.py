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

from pit_guard.detection import prefilter
from pit_guard.detection.detect import SIGNATURE_LENGTHS, is_placeholder_uuid, scan_bytes

NOW = 1_750_000_000.0


@pytest.fixture(params=["python", "hyperscan"])
def backend(request):
    prefilter.use_backend(request.param)
    yield request.param
    prefilter.use_backend("auto")


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
