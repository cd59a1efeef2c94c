"""What a live token can reach (validation/reach.py, docs/reach.md), against the loopback stand-in.

Every test counts the requests each token caused (at most 1 validation probe + 5 reach requests),
checks they are all GETs, and that no token text reaches any output."""

from __future__ import annotations

import base64
import io
import json
import os
import time
import uuid
from typing import Any, Dict, List, Optional, Sequence

import pytest
from ghl_fake_server import (
    AUTHCLASS_401,
    DEAD_JWT_401,
    DEAD_PIT_401,
    ERROR_500,
    LIVE_200,
    LIVE_422,
    MISMATCH_401,
    NO_VERSION_401,
    OK_200,
    OTHER_LOCATION_401,
    OTHER_LOCATION_403,
    PROXY_502,
    PROXY_PAGE_200,
    RATE_429,
    REDIRECT_302,
    SCOPE_401,
    V1_LIVE,
    V1_LOCATIONS,
    FakeGHL,
    Reply,
    company_200,
    installed_200,
    location_200,
    search_200,
    slow,
)

from pit_guard import cli
from pit_guard.detection.detect import location_mentions, scan_bytes
from pit_guard.finding import Account, Finding, Reach, Validation
from pit_guard.reporting.formats import format_markdown, format_sarif, format_text
from pit_guard.validation.checks import validate_findings
from pit_guard.validation.reach import MAX_REQUESTS, reach_of, settle

FAST: Dict[str, Any] = {"timeout": 0.5, "total_timeout": 5.0, "backoff": 0.01, "retries": 0}
NOW = time.time()


def new_pit() -> str:
    return f"pit-{uuid.uuid4()}"


def new_id() -> str:
    return uuid.uuid4().hex[:20]


def _b64(value: Any) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def new_jwt(payload: Dict[str, Any]) -> str:
    signature = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    return ".".join((_b64({"alg": "HS256", "typ": "JWT"}), _b64(payload), signature))


def oauth_token(auth_class: str, owner: str, scopes: str = "locations.readonly", client: str = "") -> str:
    return new_jwt(
        {
            "authClass": auth_class,
            "authClassId": owner,
            "source": "INTEGRATION",
            "sourceId": client,
            "channel": "OAUTH",
            "oauthMeta": {"scopes": scopes.split(), "client": client},
            "iat": int(NOW - 60),
            "exp": int(NOW + 86000),
        }
    )


def found(text: str) -> List[Finding]:
    findings = scan_bytes(text.encode(), "app/.env")
    assert findings, text
    return findings


def reach(findings: Sequence[Finding], **options: Any) -> List[Finding]:
    return validate_findings(findings, follow=reach_of, **{**FAST, **options})


def assert_requests_ok(ghl: FakeGHL, token: str, at_most: int = 6) -> None:
    """At most 6 requests for a token: its validation probe (no retries here) and 5 for its reach."""
    sent = ghl.requests_for(token)
    assert sent and len(sent) <= at_most, [r.path for r in sent]
    assert {r.method for r in sent} == {"GET"}
    for r in sent:
        assert token not in r.path
        assert not any(word in r.path for word in ("/oauth/token", "locationToken", "/hooks/", "installations"))


def assert_no_token(token: str, *texts: str) -> None:
    for text in texts:
        assert token not in text
        assert token[4:] not in text


# --- sub-account tokens ---------------------------------------------------------------------------


def test_location_pit_identified_from_an_id_in_the_same_file(ghl: FakeGHL) -> None:
    token, location, company = new_pit(), new_id(), new_id()
    ghl.reply(token, LIVE_422)  # validation: /contacts/ without locationId
    ghl.route(token, f"/locations/{location}", location_200(location, "Main Street Dental", company))
    ghl.route(token, "/calendars/", OK_200)
    ghl.route(token, "/opportunities/pipelines", SCOPE_401)
    ghl.route(token, f"/locations/{location}/customFields", OK_200)
    [result] = reach(found(f"GHL_API_KEY={token}\nGHL_LOCATION_ID={location}\n"))
    r = result.reach
    assert r is not None and r.kind == "sub-account" and r.identified
    assert r.sub_account == Account(location, "Main Street Dental")
    assert r.agency == Account(company)
    assert r.scopes_working == ("locations.readonly", "calendars.readonly", "locations/customFields.readonly")
    assert r.scopes_refused == ("opportunities.readonly",)
    assert r.requests == 4 and r.blast_radius == 1
    assert r.summary == f'sub-account "Main Street Dental" ({location})'
    assert_requests_ok(ghl, token)
    calls = [q.path for q in ghl.requests_for(token)]
    assert calls[1] == f"/locations/{location}" and calls[2] == f"/calendars/?locationId={location}"


def test_an_id_near_a_pit_is_told_as_a_guess_until_reach_confirms_it(ghl: FakeGHL) -> None:
    token, location = new_pit(), new_id()
    [guessed] = found(f"GHL_API_KEY={token}\nGHL_LOCATION_ID={location}\n")
    assert guessed.location_id == location and guessed.location_near
    assert f"{location} (an id written near it, not confirmed)" in format_text([guessed], [], False, False)
    assert f"{location}` (an id written near it, not confirmed)" in format_markdown([guessed], [], False)
    ghl.reply(token, LIVE_422)
    ghl.route(token, f"/locations/{location}", location_200(location, "Main Street Dental", new_id()))
    [confirmed] = [settle(f) for f in reach([guessed])]  # as the pipeline does
    assert confirmed.location_id == location and not confirmed.location_near
    assert "not confirmed" not in format_text([confirmed], [], False, False)


def test_location_pit_without_an_id_near_it_is_not_identified_and_costs_no_request(ghl: FakeGHL) -> None:
    token = new_pit()
    ghl.reply(token, LIVE_422)
    [result] = reach(found(f"token: {token}\n"))
    assert result.reach is not None and result.reach.summary == "sub-account not identified"
    assert result.reach.requests == 0 and len(ghl.requests_for(token)) == 1
    assert "no sub-account id" in result.reach.note


@pytest.mark.parametrize("refusal", [OTHER_LOCATION_401, OTHER_LOCATION_403], ids=["401", "403"])
def test_an_id_near_a_pit_that_is_not_its_own_is_not_identified(ghl: FakeGHL, refusal: Reply) -> None:
    token, location = new_pit(), new_id()
    ghl.reply(token, LIVE_422)
    ghl.route(token, f"/locations/{location}", refusal)
    [result] = reach(found(f'{{"locationId": "{location}", "token": "{token}"}}'))
    r = result.reach
    assert r is not None and not r.identified and r.sub_account is None and r.requests == 1
    assert f"the sub-account id written near it ({location}) is not the one it opens" in r.note
    assert r.summary == "sub-account not identified"


def test_a_scope_probe_that_works_confirms_the_id_when_locations_readonly_is_missing(ghl: FakeGHL) -> None:
    token, location = new_pit(), new_id()
    ghl.reply(token, LIVE_422)
    ghl.route(token, f"/locations/{location}", SCOPE_401)
    ghl.route(token, "/calendars/", OK_200)
    ghl.route(token, "/opportunities/pipelines", SCOPE_401)
    ghl.route(token, f"/locations/{location}/customFields", SCOPE_401)
    [result] = reach(found(f"url = https://app.gohighlevel.com/v2/location/x/locations/{location}\nkey={token}\n"))
    r = result.reach
    assert r is not None and r.identified and r.sub_account == Account(location, None)
    assert r.scopes_working == ("calendars.readonly",)
    assert set(r.scopes_refused) == {"locations.readonly", "opportunities.readonly", "locations/customFields.readonly"}


# Every answer shape on the first reach call (GET /locations/{id}): nothing guessed, nothing raised.
@pytest.mark.parametrize(
    "answer, identified, says",
    [
        (SCOPE_401, False, ""),
        (Reply(422, {"statusCode": 422, "message": ["locationId is invalid"]}), False, "HTTP 422"),
        (RATE_429, False, "rate limited"),
        (ERROR_500, False, "server error (HTTP 500)"),
        (PROXY_502, False, "HTML page"),
        (PROXY_PAGE_200, False, "HTML page"),
        (slow(LIVE_200, 3.0), False, "timed out"),
        (Reply(401, {"message": "Invalid Private Integration token"}), False, "HTTP 401"),
        (DEAD_JWT_401, False, "HTTP 401"),
        (NO_VERSION_401, False, "Version header"),
        (MISMATCH_401, False, "user type or authClass mismatch"),
        (AUTHCLASS_401, False, "user type or authClass mismatch"),
        (REDIRECT_302, False, "redirect"),
    ],
    ids=[
        "scope",
        "422",
        "429",
        "500",
        "html-502",
        "html-200",
        "slow",
        "dead-now",
        "dead-jwt",
        "no-version",
        "mismatch",
        "authclass",
        "redirect",
    ],
)
def test_each_answer_shape_of_the_location_call(ghl: FakeGHL, answer: Reply, identified: bool, says: str) -> None:
    token, location = new_pit(), new_id()
    ghl.reply(token, LIVE_422)
    ghl.route(token, f"/locations/{location}", answer)
    ghl.route(token, "/calendars/", SCOPE_401)
    ghl.route(token, "/opportunities/pipelines", SCOPE_401)
    ghl.route(token, f"/locations/{location}/customFields", SCOPE_401)
    started = time.monotonic()
    [result] = reach(found(f"GHL_LOCATION_ID={location}\nGHL_TOKEN={token}\n"))
    assert time.monotonic() - started < 4.0  # the slow answer is cut at the 0.5 s request timeout
    assert result.validation is not None and result.validation.status == "live"
    r = result.reach
    assert r is not None and r.identified is identified and r.kind == "sub-account"
    assert says in r.note
    assert 1 <= r.requests <= MAX_REQUESTS
    if answer.status in (429,) or answer.delay:
        assert r.requests == 1  # a 429 or a time-out ends this token's reach: no retry, no more calls
    assert_requests_ok(ghl, token)
    assert_no_token(token, repr(r), r.note, r.summary)


def test_location_oauth_token_uses_its_claims_and_keeps_claimed_scopes(ghl: FakeGHL) -> None:
    location, company = new_id(), new_id()
    token = oauth_token("Location", location, "locations.readonly contacts.readonly")
    ghl.route(token, f"/locations/{location}", location_200(location, "Lakeside Gym", company))
    ghl.route(token, "/calendars/", OK_200)
    ghl.route(token, "/opportunities/pipelines", SCOPE_401)
    ghl.route(token, f"/locations/{location}/customFields", SCOPE_401)
    [result] = reach(found(f"ACCESS_TOKEN={token}\n"))
    r = result.reach
    assert r is not None and r.identified and r.sub_account == Account(location, "Lakeside Gym")
    assert r.scopes_claimed == ("locations.readonly", "contacts.readonly") and r.auth_class == "Location"
    assert_requests_ok(ghl, token)


def test_v1_location_key_is_identified_from_its_claims_without_a_request(ghl: FakeGHL) -> None:
    location = new_id()
    token = new_jwt({"location_id": location, "version": 1, "iat": int(NOW * 1000), "sub": "user"})
    ghl.reply(token, V1_LIVE)
    [result] = reach(found(f"GHL_API_KEY={token}\n"))
    r = result.reach
    assert r is not None and r.identified and r.sub_account == Account(location) and r.requests == 0
    assert "not scoped" in r.note
    assert len(ghl.requests_for(token)) == 1


# --- agency tokens --------------------------------------------------------------------------------


def test_agency_pit_names_the_agency_and_counts_sub_accounts(ghl: FakeGHL) -> None:
    token, company = new_pit(), new_id()
    subs = [(new_id(), f"Client {i}") for i in range(7)]
    ghl.reply(token, MISMATCH_401)  # validation: an agency PIT on /contacts/
    ghl.route(token, "/locations/search", search_200(subs))
    ghl.route(token, f"/locations/{subs[0][0]}", location_200(subs[0][0], "Client 0", company))
    ghl.route(token, f"/companies/{company}", company_200(company, "Acme", 214))
    [result] = reach(found(f"AGENCY_TOKEN={token}\n"))
    r = result.reach
    assert r is not None and r.kind == "agency" and r.identified
    assert r.agency == Account(company, "Acme") and r.sub_accounts == 214 and not r.sub_accounts_at_least
    assert r.first_sub_accounts == tuple(f"Client {i}" for i in range(5))
    assert r.blast_radius == 214 and r.requests == 3
    assert r.summary == 'agency "Acme" and 214 sub-accounts'
    text = format_text([result], [])
    assert 'reaches: agency "Acme" and 214 sub-accounts' in text
    assert "example.test" not in text and "+1555" not in text  # no e-mail or phone from the answers
    assert_requests_ok(ghl, token)


def test_agency_pit_without_location_count_lists_pages_up_to_the_request_cap(ghl: FakeGHL) -> None:
    token, company = new_pit(), new_id()
    page = [(new_id(), f"Shop {i}") for i in range(100)]
    ghl.reply(token, MISMATCH_401)
    ghl.route(token, "/locations/search", search_200(page))  # always a full page: more than can be listed
    ghl.route(token, f"/locations/{page[0][0]}", location_200(page[0][0], "Shop 0", company))
    ghl.route(token, f"/companies/{company}", company_200(company, "Big Agency", None))
    [result] = reach(found(f"AGENCY_TOKEN={token}\n"))
    r = result.reach
    assert r is not None and r.requests == MAX_REQUESTS
    assert r.sub_accounts == 300 and r.sub_accounts_at_least
    assert r.summary == 'agency "Big Agency" and at least 300 sub-accounts'
    assert len(ghl.requests_for(token)) == 1 + MAX_REQUESTS
    assert_requests_ok(ghl, token)


def test_company_oauth_token_counts_installed_locations(ghl: FakeGHL) -> None:
    company = new_id()
    app = uuid.uuid4().hex[:24]
    token = oauth_token("Company", company, "oauth.readonly companies.readonly", client=f"{app}-abcd1234")
    ghl.reply(token, company_200(company, "Acme", 214))  # validation: GET /companies/{id}
    ghl.route(token, f"/companies/{company}", company_200(company, "Acme", 214))
    ghl.route(token, "/oauth/installedLocations", installed_200(["North", "South"], 37))
    [result] = reach(found(f"TOKEN={token}\n"))
    r = result.reach
    assert r is not None and r.kind == "agency" and r.sub_accounts == 37
    assert r.first_sub_accounts == ("North", "South") and "mint a token" in r.note
    calls = [q.path for q in ghl.requests_for(token)]
    assert f"companyId={company}" in calls[-1] and f"appId={app}" in calls[-1] and "isInstalled=true" in calls[-1]
    assert_requests_ok(ghl, token)


def test_v1_agency_key_counts_its_locations(ghl: FakeGHL) -> None:
    company = new_id()
    token = new_jwt({"company_id": company, "version": 1, "iat": int(NOW * 1000), "sub": "user"})
    ghl.reply(token, V1_LIVE)
    ghl.route(token, "/v1/locations/", V1_LOCATIONS)
    [result] = reach(found(f"GHL_AGENCY_KEY={token}\n"))
    r = result.reach
    assert r is not None and r.kind == "agency" and r.sub_accounts == 3 and r.requests == 1
    assert r.first_sub_accounts == ("Shop 0", "Shop 1", "Shop 2")
    assert_requests_ok(ghl, token)


def test_pit_of_unknown_level_asks_search_once(ghl: FakeGHL) -> None:
    token = new_pit()
    ghl.reply(token, AUTHCLASS_401)  # live, but the message does not say which level
    ghl.route(token, "/locations/search", MISMATCH_401)
    [result] = reach(found(f"T={token}\n"))
    assert result.reach is not None and result.reach.kind == "sub-account" and result.reach.requests == 1


def test_a_slow_reach_stops_at_the_budget_and_never_costs_the_verdict(ghl: FakeGHL) -> None:
    token, location = new_pit(), new_id()
    ghl.reply(token, LIVE_422)
    ghl.route(token, f"/locations/{location}", slow(OK_200, 0.35))
    for path in ("/calendars/", "/opportunities/pipelines", f"/locations/{location}/customFields"):
        ghl.route(token, path, slow(OK_200, 0.35))
    started = time.monotonic()
    [result] = reach(found(f"GHL_LOCATION_ID={location}\nT={token}\n"), timeout=0.4, total_timeout=1.0)
    assert time.monotonic() - started < 1.0 + 0.5 + 0.3  # the budget, its grace, and a margin
    assert result.validation is not None and result.validation.status == "live"
    assert result.reach is not None and result.reach.requests < 4
    assert "time budget exhausted" in result.reach.note or "timed out" in result.reach.note


def test_ids_from_answers_that_are_not_plain_ids_never_reach_a_url(ghl: FakeGHL) -> None:
    token, location = new_pit(), new_id()
    ghl.reply(token, MISMATCH_401)
    ghl.route(token, "/locations/search", search_200([("../../hooks/x", "A"), (location, "B")]))
    [result] = reach(found(f"T={token}\n"))
    calls = [q.path for q in ghl.requests_for(token)]
    assert not any(".." in c or "hooks" in c for c in calls), calls
    assert calls[-1] == f"/locations/{location}"  # the first plain id, whose answer (unscripted) is refused
    assert result.reach is not None and result.reach.kind == "agency" and result.reach.sub_accounts == 2


def test_the_same_token_in_two_files_uses_the_place_with_a_sub_account_id(ghl: FakeGHL) -> None:
    token, location, company = new_pit(), new_id(), new_id()
    ghl.reply(token, LIVE_422)
    ghl.route(token, f"/locations/{location}", location_200(location, "Second Place", company))
    first = scan_bytes(f"T={token}\n".encode(), "a.env")
    second = scan_bytes(f"GHL_LOCATION_ID={location}\nT={token}\n".encode(), "b.env")
    results = reach(first + second)
    assert all(r.reach is not None and r.reach.sub_account == Account(location, "Second Place") for r in results)


# --- never for tokens that are not live; names are safe -------------------------------------------


def test_dead_tokens_get_no_reach_request(ghl: FakeGHL) -> None:
    token = new_pit()
    ghl.reply(token, DEAD_PIT_401)
    [result] = reach(found(f"GHL_LOCATION_ID={new_id()}\nT={token}\n"))
    assert result.reach is None and len(ghl.requests_for(token)) == 1


def test_names_are_cleaned_and_a_name_quoting_the_token_is_withheld(ghl: FakeGHL) -> None:
    token, other = new_pit(), new_pit()
    subs = [
        (new_id(), f"evil {token}"),
        (new_id(), "tab\tnew\nline\x1b[31m"),
        (new_id(), f"has {other}"),
        (new_id(), "x" * 300),
    ]
    ghl.reply(token, MISMATCH_401)
    ghl.route(token, "/locations/search", search_200(subs))
    ghl.route(token, f"/locations/{subs[0][0]}", SCOPE_401)
    [result] = reach(found(f"T={token}\n"))
    r = result.reach
    assert r is not None
    names = r.first_sub_accounts
    assert names[0] == "(name withheld: it quotes the token)"
    assert names[1] == "tab new line\\x1b[31m"
    assert other not in names[2] and "pit-" in names[2]
    assert len(names[3]) == 80
    assert_no_token(token, json.dumps(list(names)))


# --- reports --------------------------------------------------------------------------------------


def _live(secret: str, reach_: Reach, location: Optional[str] = None) -> Finding:
    return Finding(
        "ghl-private-integration-token",
        secret,
        "app/.env",
        1,
        1,
        location_id=location,
        validation=Validation("live", "HTTP 422: the token was accepted"),
        reach=reach_,
    )


def test_markdown_sorts_by_blast_radius_and_json_and_sarif_carry_reach() -> None:
    from pit_guard.reporting.formats import format_json

    small = _live(new_pit(), Reach("sub-account", sub_account=Account(new_id(), "Corner Shop"), identified=True))
    wide = _live(new_pit(), Reach("agency", agency=Account(new_id(), "Acme"), sub_accounts=214, identified=True))
    middle = _live(new_pit(), Reach("agency", agency=Account(new_id(), "Mid"), sub_accounts=12, identified=True))
    md = format_markdown([small, middle, wide], [])
    assert md.index('agency "Acme" and 214') < md.index('agency "Mid" and 12') < md.index("Corner Shop")
    assert '- Reaches: **agency "Acme" and 214 sub-accounts**' in md
    document = json.loads(format_json([wide], []))
    shape = document["findings"][0]["reach"]
    assert shape["kind"] == "agency" and shape["agency"]["name"] == "Acme" and shape["sub_accounts"] == 214
    assert shape["blast_radius"] == 214 and shape["summary"] == 'agency "Acme" and 214 sub-accounts'
    assert set(shape) >= {"sub_account", "first_sub_accounts", "identified", "scopes_working", "scopes_claimed"}
    assert set(shape) >= {"requests", "note", "sub_accounts_at_least", "scopes_refused"}
    props = json.loads(format_sarif([wide], []))["runs"][0]["results"][0]["properties"]
    assert props["blastRadius"] == 214 and props["reach"]["agency"]["name"] == "Acme"


def test_scan_validate_shows_reach_in_every_format_without_the_token(
    ghl: FakeGHL, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    token, location, company = new_pit(), new_id(), new_id()
    ghl.reply(token, LIVE_422)
    ghl.route(token, f"/locations/{location}", location_200(location, "Main Street Dental", company))
    ghl.route(token, "/calendars/", OK_200)
    (tmp_path / ".env").write_text(f"GHL_LOCATION_ID={location}\nGHL_TOKEN={token}\n")
    for fmt in ("text", "json", "sarif", "markdown", "gitlab"):
        code = cli.main(["scan", str(tmp_path), "--no-config", "--validate", "--format", fmt])
        out, err = capsys.readouterr()
        assert code == 1
        assert "Main Street Dental" in out, fmt
        assert_no_token(token, out, err)
    assert {r.method for r in ghl.requests} == {"GET"}


def test_reach_command_reads_stdin_and_takes_location_id(
    ghl: FakeGHL, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token, location, company = new_pit(), new_id(), new_id()
    ghl.reply(token, LIVE_422)
    ghl.route(token, f"/locations/{location}", location_200(location, "Harbor Cafe", company))
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    code = cli.main(["reach", "--location-id", location])
    out, err = capsys.readouterr()
    assert code == 1
    assert f'reaches: sub-account "Harbor Cafe" ({location})' in out
    assert_no_token(token, out, err)
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    assert cli.main(["reach", "--location-id", "not/an-id"]) == 2
    assert_no_token(token, *capsys.readouterr())


# --- detection: a sub-account id written beside a PIT -------------------------------------------


def test_location_id_near_a_pit_is_read_nearest_first_and_placeholders_are_not() -> None:
    near, far = new_id(), new_id()
    token = new_pit()
    text = f"locationId: '{far}'\n" + "x\n" * 50 + f"LOCATION_ID = {near}\nTOKEN={token}\n"
    [pit] = scan_bytes(text.encode(), "a")
    assert pit.location_id == near
    assert [
        m[1] for m in location_mentions(b'"location_id":"xxxxxxxxxxxxxxxxxxxx" /locations/YOUR_LOCATION_ID_HERE')
    ] == []
    assert [m[1] for m in location_mentions(f"GET /v1/locations/{far}?x".encode())] == [far]
    ids = [new_id() for _ in range(50)]
    many = "".join(f"locationId={i}\n" + ("PIT=" + new_pit() + "\n" if n % 10 == 0 else "") for n, i in enumerate(ids))
    assert [f.location_id for f in scan_bytes(many.encode(), "m")] == [ids[n] for n in range(0, 50, 10)]


def test_validate_report_later_shows_reach_from_the_location_id_the_report_kept(
    ghl: FakeGHL, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token, location, company = new_pit(), new_id(), new_id()
    ghl.reply(token, LIVE_422)
    ghl.route(token, f"/locations/{location}", location_200(location, "Old Town Bakery", company))
    (tmp_path / "config.yml").write_text(f"ghl:\n  locationId: {location}\n  token: {token}\n")
    report = tmp_path / "report.json"
    monkeypatch.chdir(tmp_path)
    assert cli.main(["scan", "config.yml", "--no-config", "--format", "json", "--output", str(report)]) == 1
    assert not ghl.requests  # no --validate: nothing sent
    assert json.loads(report.read_text())["findings"][0]["location_id"] == location
    assert cli.main(["validate", "--report", str(report), "--format", "json"]) == 1
    out, err = capsys.readouterr()
    shape = json.loads(out)["findings"][0]["reach"]
    assert shape["sub_account"] == {"id": location, "name": "Old Town Bakery"} and shape["identified"]
    assert_no_token(token, out, err, report.read_text())


def test_a_reach_answer_quoting_the_token_is_never_repeated(ghl: FakeGHL, capsys: pytest.CaptureFixture[str]) -> None:
    token, location = new_pit(), new_id()
    ghl.reply(token, LIVE_422)
    ghl.route(token, f"/locations/{location}", Reply(400, {"message": f"Bad token {token} for {location}"}))
    ghl.route(token, "/calendars/", Reply(401, {"message": f"Bearer {token.upper()} rejected"}))
    [result] = reach(found(f"GHL_LOCATION_ID={location}\nT={token}\n"))
    r = result.reach
    assert r is not None and "withheld" in r.note
    for shown in (format_text([result], []), format_markdown([result], []), format_sarif([result], [])):
        assert_no_token(token, shown)
        assert token.upper()[4:] not in shown


def test_once_reach_ran_a_pit_keeps_only_confirmed_account_ids(
    ghl: FakeGHL, capsys: pytest.CaptureFixture[str]
) -> None:
    from pit_guard.pipeline import run_validation

    wrong, agency_pit, right = new_pit(), new_pit(), new_pit()
    guess, company, location = new_id(), new_id(), new_id()
    subs = [(new_id(), "Client 0")]
    ghl.reply(wrong, LIVE_422)
    ghl.route(wrong, f"/locations/{guess}", OTHER_LOCATION_401)
    ghl.reply(agency_pit, MISMATCH_401)
    ghl.route(agency_pit, "/locations/search", search_200(subs))
    ghl.route(agency_pit, f"/locations/{subs[0][0]}", location_200(subs[0][0], "Client 0", company))
    ghl.reply(right, LIVE_422)
    ghl.route(right, f"/locations/{location}", location_200(location, "Right Place", company))
    findings = found(f"LOCATION_ID={guess}\nA={wrong}\n") + found(f"LOCATION_ID={guess}\nB={agency_pit}\n")
    findings += found(f"LOCATION_ID={location}\nC={right}\n")
    assert [f.location_id for f in findings] == [guess, guess, location]
    settled = {f.secret: f for f in run_validation(findings, 2, 0.5, 5.0)}
    assert settled[wrong].location_id is None and settled[wrong].company_id is None
    assert settled[agency_pit].location_id is None and settled[agency_pit].company_id == company
    assert settled[right].location_id == location and settled[right].company_id == company
    capsys.readouterr()
