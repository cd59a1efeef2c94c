"""The validator against a real HTTP server on loopback (tests/ghl_fake_server.py): no mocks.

Tokens are generated per test (uuid4, random signatures): nothing here is a real credential.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import os
import time
import uuid
from typing import Any, Dict, List

import pytest
from ghl_fake_server import (
    AUTHCLASS_401,
    DEAD_ACCESS_401,
    DEAD_JWT_401,
    DEAD_PIT_401,
    ERROR_500,
    LIVE_200,
    LIVE_422,
    MISMATCH_401,
    NO_VERSION_401,
    OTHER_LOCATION_401,
    OTHER_LOCATION_403,
    PROXY_502,
    PROXY_PAGE_200,
    RATE_429,
    RATE_429_NO_RETRY_AFTER,
    REDIRECT_302,
    SCOPE_401,
    V1_DEAD,
    V1_LIVE,
    V1_SWITCH,
    FakeGHL,
    Reply,
    refused_base,
    slow,
)

from pit_guard import __version__
from pit_guard.errors import FatalError
from pit_guard.finding import Finding, redact
from pit_guard.validation.checks import (
    ENV_V1,
    ENV_V2,
    V1_DEFAULT,
    V2_DEFAULT,
    api_bases,
    override_notice,
    validate_findings,
    validate_token,
)
from pit_guard.validation.http import Budget, RateLimiter

FAST: Dict[str, Any] = {"timeout": 0.3, "total_timeout": 5.0, "backoff": 0.01}
NOW = time.time()


# --- synthetic credentials ------------------------------------------------------------------------


def new_pit() -> str:
    return f"pit-{uuid.uuid4()}"


def _b64(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def new_jwt(payload: Dict[str, Any]) -> str:
    return ".".join((_b64({"alg": "HS256", "typ": "JWT"}), _b64(payload), _b64(os.urandom(32))))


def new_id() -> str:
    return uuid.uuid4().hex[:20]


def finding(rule_id: str, secret: str, **extra: Any) -> Finding:
    return Finding(rule_id, secret, "app/.env", 3, 7, **extra)


def pit_finding(secret: str = "") -> Finding:
    return finding("ghl-private-integration-token", secret or new_pit())


def oauth(rule_id: str, auth_class: str = "Location", lifetime: int = 86400, issued: float = NOW - 60) -> Finding:
    owner = new_id()
    payload = {
        "authClass": auth_class,
        "authClassId": owner,
        "source": "INTEGRATION",
        "channel": "OAUTH",
        "iat": int(issued),
        "exp": int(issued + lifetime),
    }
    if rule_id == "ghl-oauth-refresh-token":
        payload["uniqueId"] = str(uuid.uuid4())
    ids = {"location_id": owner} if auth_class == "Location" else {"company_id": owner}
    return finding(
        rule_id,
        new_jwt(payload),
        auth_class=auth_class,
        issued_at=int(issued),
        expires_at=int(issued + lifetime),
        expired=issued + lifetime < NOW,
        **ids,
    )


def v1_key(kind: str) -> Finding:
    owner = new_id()
    claim = "location_id" if kind == "location" else "company_id"
    secret = new_jwt({claim: owner, "version": 1, "iat": int(NOW * 1000), "sub": "user"})
    return finding(f"ghl-v1-{kind}-api-key", secret, **{claim: owner})


def check(findings: List[Finding], **options: Any) -> List[Finding]:
    return validate_findings(findings, **{**FAST, **options})


# --- statuses from code AND message ---------------------------------------------------------------


@pytest.mark.parametrize(
    "reply, status, says",
    [
        (LIVE_422, "live", "HTTP 422"),
        (LIVE_200, "live", "HTTP 200"),
        (SCOPE_401, "live", "scope"),
        (MISMATCH_401, "live", "agency"),
        (AUTHCLASS_401, "live", "auth class"),
        (OTHER_LOCATION_401, "live", "another location"),
        (OTHER_LOCATION_403, "live", "another location"),
        (DEAD_PIT_401, "dead", "revoked"),
        (DEAD_JWT_401, "dead", "revoked"),
        (DEAD_ACCESS_401, "dead", "revoked"),
        (RATE_429, "unknown", "rate limited (HTTP 429)"),
        (ERROR_500, "unknown", "server error (HTTP 500) after 3 attempts"),
        (PROXY_502, "unknown", "HTML page from a proxy or gateway (HTTP 502)"),
        (PROXY_PAGE_200, "unknown", "HTML page"),
        (REDIRECT_302, "unknown", "redirect"),
        (NO_VERSION_401, "unknown", "Version header"),
        (
            Reply(401, {"statusCode": 401, "message": "Something new"}),
            "unknown",
            "unexpected answer: HTTP 401 'Something new'",
        ),
        (Reply(400, {"statusCode": 400, "message": "Bad Request"}), "unknown", "unexpected answer: HTTP 400"),
        (Reply(200, {"a": 1}, content_type="text/plain"), "live", "HTTP 200"),
        (Reply(200, "not json", content_type="text/plain"), "unknown", "non-JSON"),
    ],
)
def test_pit_status_comes_from_code_and_message(ghl: FakeGHL, reply: Reply, status: str, says: str) -> None:
    token = new_pit()
    ghl.reply(token, reply)
    [result] = check([pit_finding(token)])
    assert result.validation is not None
    assert (result.validation.status, says in result.validation.reason) == (status, True), result.validation
    assert result.validation.checked_at and result.validation.checked_at.endswith("Z")


def test_pit_probe_is_contacts_without_location_id_and_sends_the_right_headers(ghl: FakeGHL) -> None:
    token = new_pit()
    ghl.reply(token, LIVE_422)
    check([pit_finding(token)])
    [request] = ghl.requests_for(token)
    assert (request.method, request.path) == ("GET", "/contacts/")
    assert request.headers["authorization"] == f"Bearer {token}"
    assert request.headers["version"] == "2021-07-28"
    assert request.headers["user-agent"] == f"pit-guard/{__version__}"


def test_agency_pit_user_type_mismatch_is_live_in_one_request(ghl: FakeGHL) -> None:
    token = new_pit()
    ghl.reply(token, MISMATCH_401)
    [result] = check([pit_finding(token)])
    assert result.validation is not None and result.validation.status == "live"
    assert len(ghl.requests_for(token)) == 1


def test_429_with_rate_headers_then_success_is_live(ghl: FakeGHL) -> None:
    token, other = new_pit(), new_pit()
    ghl.reply(token, RATE_429, LIVE_422)
    ghl.reply(other, RATE_429_NO_RETRY_AFTER, LIVE_200)
    started = time.monotonic()
    results = check([pit_finding(token), pit_finding(other)])
    assert [r.validation.status for r in results if r.validation] == ["live", "live"]
    assert len(ghl.requests_for(token)) == 2 and len(ghl.requests_for(other)) == 2
    # Without Retry-After the client waits the server's stated interval (200 ms).
    assert time.monotonic() - started >= 0.2


def test_5xx_is_retried_then_live(ghl: FakeGHL) -> None:
    token = new_pit()
    ghl.reply(token, ERROR_500, PROXY_502, LIVE_422)
    [result] = check([pit_finding(token)])
    assert result.validation is not None and result.validation.status == "live"
    assert len(ghl.requests_for(token)) == 3


def test_retries_are_bounded(ghl: FakeGHL) -> None:
    token = new_pit()
    ghl.reply(token, ERROR_500)
    [result] = check([pit_finding(token)], retries=1)
    assert result.validation is not None and result.validation.status == "unknown"
    assert len(ghl.requests_for(token)) == 2


def test_slow_answer_past_timeout_is_unknown_and_not_retried(ghl: FakeGHL) -> None:
    token = new_pit()
    ghl.reply(token, slow(LIVE_422, 2.0))
    started = time.monotonic()
    [result] = check([pit_finding(token)])
    assert result.validation is not None
    assert result.validation.status == "unknown" and "timed out" in result.validation.reason
    assert time.monotonic() - started < 1.5
    assert len(ghl.requests_for(token)) == 1


def test_redirect_is_not_followed(ghl: FakeGHL) -> None:
    token = new_pit()
    ghl.reply(token, REDIRECT_302)
    check([pit_finding(token)])
    assert [r.path for r in ghl.requests] == ["/contacts/"]


# --- each kind's probe, or no request at all --------------------------------------------------------


@pytest.mark.parametrize(
    "reply, status", [(V1_LIVE, "live"), (V1_DEAD, "dead"), (V1_SWITCH, "live"), (ERROR_500, "unknown")]
)
def test_v1_location_key(ghl: FakeGHL, reply: Reply, status: str) -> None:
    key = v1_key("location")
    ghl.reply(key.secret, reply)
    [result] = check([key], retries=0)
    assert result.validation is not None and result.validation.status == status
    [request] = ghl.requests_for(key.secret)
    assert request.path == "/v1/custom-values/"


def test_v1_agency_key_probes_locations_and_unscripted_dead(ghl: FakeGHL) -> None:
    live, dead = v1_key("agency"), v1_key("agency")
    ghl.reply(live.secret, V1_LIVE)
    results = check([live, dead])
    assert [r.validation.status for r in results if r.validation] == ["live", "dead"]
    assert {r.path for r in ghl.requests} == {"/v1/locations/"}


@pytest.mark.parametrize("auth_class, path", [("Location", "/locations/"), ("Company", "/companies/")])
def test_oauth_access_token_probes_its_own_auth_class_id(ghl: FakeGHL, auth_class: str, path: str) -> None:
    token = oauth("ghl-oauth-access-token", auth_class)
    ghl.reply(token.secret, SCOPE_401)
    [result] = check([token])
    assert result.validation is not None and result.validation.status == "live"
    [request] = ghl.requests_for(token.secret)
    assert request.path == path + (token.location_id or token.company_id or "")


def test_dead_oauth_access_token(ghl: FakeGHL) -> None:
    token = oauth("ghl-oauth-access-token")
    [result] = check([token])  # unscripted JWT: "Invalid JWT"
    assert result.validation is not None and result.validation.status == "dead"


def test_expired_tokens_are_judged_offline(ghl: FakeGHL) -> None:
    old_access = oauth("ghl-oauth-access-token", issued=NOW - 3 * 86400)
    old_refresh = oauth("ghl-oauth-refresh-token", lifetime=365 * 86400, issued=NOW - 400 * 86400)
    # `now` decides too, even when the finding was not flagged expired at scan time.
    later = dataclasses.replace(oauth("ghl-oauth-access-token"), expired=False)
    results = check([old_access, old_refresh, later], now=NOW + 2 * 86400)
    assert [r.validation.status for r in results if r.validation] == ["expired"] * 3
    assert ghl.requests == []


def test_refresh_tokens_webhooks_and_secrets_are_never_sent(ghl: FakeGHL) -> None:
    refresh = oauth("ghl-oauth-refresh-token", lifetime=365 * 86400)
    webhook = finding(
        "ghl-inbound-webhook-url",
        f"https://services.leadconnectorhq.com/hooks/{new_id()}/webhook-trigger/{uuid.uuid4()}",
    )
    client_secret = finding("ghl-oauth-client-secret", str(uuid.uuid4()), client_id="68326a70642d282656e52d32-mb6t4zus")
    sso = finding("ghl-sso-shared-secret", str(uuid.uuid4()))
    results = check([refresh, webhook, client_secret, sso])
    reasons = [(r.validation.status, r.validation.reason) for r in results if r.validation]
    assert [s for s, _ in reasons] == ["not-checked"] * 4
    assert "never exchanged" in reasons[0][1] and "fires the workflow" in reasons[1][1]
    assert all("no safe probe" in reason for _, reason in reasons[2:])
    assert ghl.requests == []


def test_identical_tokens_are_checked_once_and_order_is_kept(ghl: FakeGHL) -> None:
    token, dead = new_pit(), new_pit()
    ghl.reply(token, LIVE_422)
    findings = [
        pit_finding(token),
        dataclasses.replace(pit_finding(dead), line=9),
        dataclasses.replace(pit_finding(token), path="b.py"),
    ]
    results = check(findings)
    assert [(r.path, r.line) for r in results] == [(f.path, f.line) for f in findings]
    assert [r.validation.status for r in results if r.validation] == ["live", "dead", "live"]
    assert len(ghl.requests_for(token)) == 1 and len(ghl.requests) == 2


# --- network trouble, budgets, rate limits ----------------------------------------------------------


def test_connection_refused_is_unknown_for_all_and_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    base = refused_base()
    monkeypatch.setenv(ENV_V2, base)
    monkeypatch.setenv(ENV_V1, base + "/v1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    findings = [pit_finding() for _ in range(40)] + [v1_key("location")]
    started = time.monotonic()
    results = check(findings)
    assert time.monotonic() - started < 2.0
    reasons = [r.validation.reason for r in results if r.validation and r.validation.status == "unknown"]
    assert len(reasons) == len(findings)
    assert any("connection refused" == reason for reason in reasons)
    # The circuit breaker stops the rest: at most a handful of connection attempts.
    assert sum(reason == "connection refused" for reason in reasons) <= 3 + 4
    assert any(reason.startswith("network unreachable") for reason in reasons)


def test_total_time_budget_turns_the_rest_unknown(ghl: FakeGHL) -> None:
    tokens = [new_pit() for _ in range(8)]
    for token in tokens:
        ghl.reply(token, slow(LIVE_422, 1.0))
    started = time.monotonic()
    results = check([pit_finding(t) for t in tokens], concurrency=1, total_timeout=0.5)
    assert time.monotonic() - started < 4.0  # 8 s without the budget; slack for a loaded machine
    reasons = [r.validation.reason for r in results if r.validation and r.validation.status == "unknown"]
    assert len(reasons) == 8
    assert sum("time budget exhausted" in reason for reason in reasons) >= 6


class FakeClock:
    """Time that moves only when something sleeps on it: the rate-limit tests never race."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def fake_budget(clock: FakeClock, total: float = 60.0) -> Budget:
    return Budget(total, clock=clock, wait=clock.sleep)


def test_client_side_rate_limit_follows_the_servers_headers() -> None:
    # A server allowing 5 requests per 0.5 s says so in every answer; 12 sends must keep under it.
    clock = FakeClock()
    limiter, budget = RateLimiter(clock=clock), fake_budget(clock)
    sends: List[float] = []
    for _ in range(12):
        assert limiter.acquire(budget)
        sends.append(clock.now)
        in_window = [t for t in sends if t > clock.now - 0.5]
        assert len(in_window) <= 5, "the server would have answered 429"
        headers = {
            "x-ratelimit-max": "5",
            "x-ratelimit-remaining": str(5 - len(in_window)),
            "x-ratelimit-interval-milliseconds": "500",
        }
        limiter.observe(headers, 200)
    start = sends[0]
    # Sends at 0, 0.5 and 1.0 s (plus the limiter's small safety margin), never later than needed.
    assert [round(t - start, 3) for t in sends] == [0.0] * 5 + [0.55] * 5 + [1.1] * 2
    assert limiter.window == 0.5


def test_exhausted_remaining_holds_the_next_send() -> None:
    clock = FakeClock()
    limiter, budget = RateLimiter(clock=clock), fake_budget(clock)
    assert limiter.acquire(budget)
    first = clock.now
    quota_gone = {"x-ratelimit-max": "100", "x-ratelimit-remaining": "0", "x-ratelimit-interval-milliseconds": "300"}
    limiter.observe(quota_gone, 200)
    assert limiter.acquire(budget)
    assert 0.3 <= clock.now - first <= 0.4


def test_a_wait_past_the_budget_gives_up_at_once() -> None:
    clock = FakeClock()
    limiter, budget = RateLimiter(clock=clock), fake_budget(clock, total=1.0)
    limiter.pause(5.0)  # a 429's Retry-After longer than what is left
    assert not limiter.acquire(budget)
    assert clock.now == 1000.0  # no time spent waiting for nothing


# --- no token text anywhere -------------------------------------------------------------------------


def test_tokens_never_appear_in_output_logs_reasons_or_reprs(
    ghl: FakeGHL, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    echo, retry, live, dead, timeout = (new_pit() for _ in range(5))
    # A proxy that echoes the Authorization header back in its error text.
    ghl.reply(echo, Reply(401, {"message": f"bad header: Bearer {echo}"}))
    ghl.reply(retry, ERROR_500)
    ghl.reply(live, SCOPE_401)
    ghl.reply(timeout, slow(LIVE_200, 1.0))
    access = oauth("ghl-oauth-access-token")
    secrets = [echo, retry, live, dead, timeout, access.secret]
    logged: List[str] = []
    results = check([pit_finding(t) for t in secrets[:5]] + [access], log=logged.append)
    out = capsys.readouterr()
    text = "\n".join([out.out, out.err, caplog.text, *logged, repr(results), *(f"{r.validation!r}" for r in results)])
    for secret in secrets:
        assert secret not in text
        assert secret[4:] not in text  # not even the uuid part of a PIT
    assert redact(live) in "\n".join(logged)
    assert results[0].validation is not None and "unexpected answer" in results[0].validation.reason


def test_network_errors_carry_no_token_either(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(ENV_V2, refused_base())
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    token = new_pit()
    [result] = check([pit_finding(token)])
    assert result.validation is not None and token not in repr(result.validation) + caplog.text


# --- where requests go ------------------------------------------------------------------------------


def test_api_bases_defaults_and_env_overrides() -> None:
    assert api_bases({}) == (V2_DEFAULT, V1_DEFAULT, False)
    assert api_bases({ENV_V2: "http://127.0.0.1:8080/", ENV_V1: "http://127.0.0.1:8080/v1"}) == (
        "http://127.0.0.1:8080",
        "http://127.0.0.1:8080/v1",
        True,
    )
    assert api_bases({ENV_V1: "https://mirror.example/v1"}) == (V2_DEFAULT, "https://mirror.example/v1", True)
    assert override_notice({}) is None
    notice = override_notice({ENV_V2: "http://127.0.0.1:8080"})
    assert notice is not None and "http://127.0.0.1:8080" in notice and ENV_V2 in notice


@pytest.mark.parametrize(
    "value", ["ftp://127.0.0.1/", "127.0.0.1:8080", "file:///etc/passwd", "http://", "https://h/?q=1"]
)
def test_bad_override_is_a_fatal_error(value: str) -> None:
    with pytest.raises(FatalError, match=ENV_V2):
        api_bases({ENV_V2: value})


def test_only_the_two_env_vars_choose_the_bases(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Config files in the scanned folder (and look-alike variables) are not read.
    (tmp_path / ".pit-guard.toml").write_text(
        '[validate]\nv2_api_url = "http://evil.example"\nv1_api_url = "http://evil.example/v1"\n'
    )
    (tmp_path / "pyproject.toml").write_text('[tool.pit-guard]\nv2_api_url = "http://evil.example"\n')
    (tmp_path / ".env").write_text(f"{ENV_V2}=http://evil.example\n")
    monkeypatch.chdir(tmp_path)
    for name in (ENV_V2, ENV_V1):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIT_GUARD_API_URL", "http://evil.example")
    monkeypatch.setenv("GHL_API_URL", "http://evil.example")
    assert api_bases() == (V2_DEFAULT, V1_DEFAULT, False)


def test_default_base_goes_to_gohighlevel_through_https_proxy(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a config file in the cwd and no override, the request is a TLS tunnel to GoHighLevel.

    The fake server plays the HTTPS proxy: it records the CONNECT and refuses it, so nothing leaves
    the machine and the token is never seen in clear.
    """
    (tmp_path / ".pit-guard.toml").write_text('v2_api_url = "http://127.0.0.1:1"\n')
    monkeypatch.chdir(tmp_path)
    for name in (ENV_V2, ENV_V1, "NO_PROXY", "no_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    with FakeGHL() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.base)
        token = new_pit()
        [result] = check([pit_finding(token)])
    assert [(r.method, r.path) for r in proxy.requests] == [("CONNECT", "services.leadconnectorhq.com:443")]
    assert all(token not in value for value in proxy.requests[0].headers.values())
    assert result.validation is not None and result.validation.status == "unknown"
    assert "Tunnel connection failed: 403" in result.validation.reason


def test_bad_arguments_are_fatal() -> None:
    with pytest.raises(FatalError):
        validate_findings([], concurrency=0)
    with pytest.raises(FatalError):
        validate_findings([], timeout=0)


def test_nothing_to_probe_makes_no_pool_and_no_request(ghl: FakeGHL) -> None:
    assert validate_findings([]) == []
    assert ghl.requests == []


# --- one token from stdin ---------------------------------------------------------------------------


def test_validate_token_detects_the_kind(ghl: FakeGHL) -> None:
    token = new_pit()
    ghl.reply(token, LIVE_422)
    rule_id, validation = validate_token(token.upper() + "\r\n", timeout=10)
    assert (rule_id, validation.status) == ("ghl-private-integration-token", "live")
    key = v1_key("location")
    assert validate_token(key.secret, timeout=10)[0] == "ghl-v1-location-api-key"


def test_validate_token_rejects_what_it_does_not_know(ghl: FakeGHL) -> None:
    rule_id, validation = validate_token("hello world")
    assert rule_id is None and validation.status == "not-checked"
    assert ghl.requests == []
