"""Adversarial review of reach (validation/reach.py): what a hostile repository or a hostile or
buggy server can do to it. Each test is a problem the review confirmed, then fixed."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any, Dict, List, Sequence

from ghl_fake_server import (
    LIVE_422,
    MISMATCH_401,
    FakeGHL,
    Reply,
    company_200,
    location_200,
    search_200,
    slow,
)

from pit_guard.detection.detect import scan_bytes
from pit_guard.finding import Finding
from pit_guard.reporting.formats import format_gitlab, format_json, format_markdown, format_sarif, format_text
from pit_guard.validation.checks import validate_findings
from pit_guard.validation.reach import reach_of

FAST: Dict[str, Any] = {"timeout": 0.5, "total_timeout": 5.0, "backoff": 0.01, "retries": 0}


def new_pit() -> str:
    return f"pit-{uuid.uuid4()}"


def new_id() -> str:
    return uuid.uuid4().hex[:20]


def found(text: str) -> List[Finding]:
    findings = scan_bytes(text.encode(), "app/.env")
    assert findings, text
    return findings


def reach(findings: Sequence[Finding], **options: Any) -> List[Finding]:
    return validate_findings(findings, follow=reach_of, **{**FAST, **options})


def every_format(findings: Sequence[Finding]) -> str:
    return "\n".join(f(findings, []) for f in (format_text, format_json, format_sarif, format_markdown, format_gitlab))


def test_a_realistic_full_search_page_larger_than_the_validators_body_cap_still_counts(ghl: FakeGHL) -> None:
    """GoHighLevel's location objects carry address, settings and social links (~1 KB each): a page
    of 100 is past the 64 KiB the validator reads of an error body. The agency must still be read."""
    token, company = new_pit(), new_id()
    filler = {"address": "1 Main Street", "settings": {"allowDuplicateContact": False}, "social": {"x": "y" * 700}}
    subs = [{"id": new_id(), "name": f"Client {i}", **filler} for i in range(100)]
    ghl.reply(token, MISMATCH_401)  # validation: an agency PIT
    ghl.route(token, "/locations/search", Reply(200, {"locations": subs}))
    ghl.route(token, f"/locations/{subs[0]['id']}", location_200(subs[0]["id"], "Client 0", company))
    ghl.route(token, f"/companies/{company}", company_200(company, "Acme", 214))
    assert len(json.dumps({"locations": subs})) > 64 * 1024
    [result] = reach(found(f"AGENCY_TOKEN={token}\n"))
    r = result.reach
    assert r is not None and r.kind == "agency", r
    assert r.summary == 'agency "Acme" and 214 sub-accounts', r
    assert r.first_sub_accounts[0] == "Client 0"


def test_a_slow_reach_does_not_cost_other_tokens_their_verdicts(ghl: FakeGHL) -> None:
    """Verdicts first: one token's reach (up to 5 requests) must not eat the budget that the next
    tokens' liveness checks need. The stand-in stalls each reach request past its timeout."""
    tokens = [new_pit() for _ in range(4)]
    text = ""
    for token in tokens:
        location = new_id()
        ghl.reply(token, LIVE_422)
        ghl.route(token, f"/locations/{location}", slow(location_200(location, "Slow", new_id()), 30))
        text += f"LOCATION_ID={location}\nTOKEN={token}\n\n" + "#\n" * 3000
    findings = found(text)
    assert len(findings) == 4
    started = time.monotonic()
    # Half the budget it had (1.0 s a request, 2.5 s in all): still less than one token's stalled reach
    # needs (up to 5 requests of 0.5 s), so a reach run before the other verdicts would starve them.
    results = reach(findings, concurrency=1, timeout=0.5, total_timeout=1.25)
    assert time.monotonic() - started < 1.25 + 2.0  # the budget, its grace and a loaded machine
    assert [f.validation.status for f in results if f.validation] == ["live"] * 4


def test_a_name_holding_the_token_re_encoded_is_withheld(ghl: FakeGHL) -> None:
    """A name is server text like any other: the token in base64 (standard or URL-safe), in hex or
    percent-encoded must not reach a report through it."""
    token, other = new_pit(), new_pit()
    raw = token.encode()
    forms = [
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(b"x" + raw).decode().rstrip("="),
        base64.b64encode(b"ab" + raw).decode(),
        raw.hex(),
        "".join(f"%{b:02X}" for b in raw),
    ]
    subs = [(new_id(), f"Shop {form}") for form in forms]
    ghl.reply(token, MISMATCH_401)
    ghl.route(token, "/locations/search", search_200(subs + [(new_id(), "Main Street Dental")]))
    ghl.route(token, f"/locations/{subs[0][0]}", location_200(subs[0][0], f"Shop {base64.b64encode(raw).decode()}", ""))
    [result] = reach(found(f"T={token}\nOTHER={other}\n")[:1])
    r = result.reach
    assert r is not None and len(r.first_sub_accounts) == 5
    shown = every_format([result])
    for form in forms:
        assert form not in shown and form[8:40] not in shown, form
    assert all("withheld" in name for name in r.first_sub_accounts), r.first_sub_accounts


def test_names_cannot_carry_terminal_or_bidi_controls(ghl: FakeGHL) -> None:
    """C1 controls (U+009B is CSI to a terminal), bidi overrides and line separators in a name are
    escaped like C0 controls already are: a name must not reorder or restyle a report line."""
    token = new_pit()
    names = ["A\u009b31mred", "B\u202etxt.exe", "C\u2028D", "E\u200bF", "G\u0085H"]
    ghl.reply(token, MISMATCH_401)
    ghl.route(token, "/locations/search", search_200([(new_id(), n) for n in names]))
    [result] = reach(found(f"T={token}\n"))
    r = result.reach
    assert r is not None and len(r.first_sub_accounts) == 5
    for name in r.first_sub_accounts:
        assert name.isprintable(), repr(name)
    shown = format_text([result], [])
    for char in "\u009b\u202e\u2028\u200b\u0085":
        assert char not in shown


def _cpu(data: bytes) -> float:
    started = time.process_time()
    scan_bytes(data, "big.json")
    return time.process_time() - started


def test_a_file_full_of_location_ids_costs_a_pit_little_to_scan() -> None:
    """A hostile file: 100k `locationId`s (and as many placeholders) and one PIT. Looking for the id
    beside the PIT must cost about what the same file without ids costs, not 7 µs per id."""
    ids = "".join(
        f'"locationId": "{uuid.uuid4().hex[:20]}",\n"location_id": "xxxxxxxxxxxxxxxxxxxx",\n' for _ in range(50_000)
    )
    tail = f"TOKEN={new_pit()}\n"
    with_ids = (ids + tail).encode()
    without = (ids.replace("location", "lodation") + tail).encode()
    _cpu(without)  # warm up (prefilter, regex compile)
    costs = [(_cpu(with_ids), _cpu(without)) for _ in range(2)]
    best_with, best_without = min(c[0] for c in costs), min(c[1] for c in costs)
    assert best_with <= 3 * best_without + 0.1, costs
    [pit] = scan_bytes(with_ids, "big.json")
    assert pit.location_id is not None and pit.location_id in ids


def test_placeholders_between_a_pit_and_its_id_are_stepped_over() -> None:
    """A guard for the fix above: placeholders are now told apart lazily, nearest first."""
    real = new_id()
    text = f"locationId={real}\n" + "".join(f"LOCATION_ID=yourlocationid{i:06d}\n" for i in range(5))
    text += f"PIT={new_pit()}\n" + "".join(f"/locations/xxxxxxxxxxxxxxxxxx{i:02d}\n" for i in range(5))
    [pit] = scan_bytes(text.encode(), "a")
    assert pit.location_id == real


def test_an_account_id_in_an_answer_that_quotes_the_token_is_dropped(ghl: FakeGHL) -> None:
    """Ids from answers go into reports (the agency id, and the finding's company_id once settled):
    one that is the token with its dashes dropped must not."""
    from pit_guard.validation.reach import settle

    token, location = new_pit(), new_id()
    echoed = token.replace("-", "")
    ghl.reply(token, LIVE_422)
    ghl.route(token, f"/locations/{location}", location_200(location, "Shop", echoed))
    results = [settle(f) for f in reach(found(f"locationId={location}\nT={token}\n"))]
    r = results[0].reach
    assert r is not None and r.identified and r.sub_account is not None
    shown = every_format(results)
    assert echoed[3:] not in shown
    assert not [q.path for q in ghl.requests_for(token) if echoed[3:] in q.path]


def test_a_crafted_oauth_token_cannot_send_its_probe_to_another_path(ghl: FakeGHL) -> None:
    """A JWT written in a repository chooses its own authClassId: `..` must not turn the liveness
    probe `GET /locations/{id}` into `GET /locations/..` (`/` once a server or proxy normalises it)."""
    now = int(time.time())

    def part(value: Dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    for owner in ("..", "."):
        claims = {"authClass": "Location", "authClassId": owner, "iat": now - 60, "exp": now + 9999}
        claims["oauthMeta"] = {"scopes": ["locations.readonly"]}
        signature = base64.urlsafe_b64encode(uuid.uuid4().bytes * 2).rstrip(b"=").decode()
        jwt = ".".join((part({"alg": "HS256", "typ": "JWT"}), part(claims), signature))
        ghl.reply(jwt, LIVE_422)
        [result] = reach(found(f"TOKEN={jwt}\n"))
        paths = [q.path for q in ghl.requests_for(jwt)]
        assert not any(p.rstrip("/").endswith(("/" + owner)) for p in paths), paths
        assert result.validation is not None and result.validation.status == "not-checked"


def test_a_list_answer_of_the_wrong_shape_is_not_read_as_zero_sub_accounts(ghl: FakeGHL) -> None:
    """An agency token whose /locations/search answers 200 without a `locations` list (another
    shape, an API change) has sub-accounts not counted, not "0 sub-accounts" (the widest-first
    order of every report rests on that count)."""
    for body in ({"contacts": [], "meta": {"total": 0}}, {"locations": "all of them"}, {"locations": None}):
        token = new_pit()
        ghl.reply(token, MISMATCH_401)
        ghl.route(token, "/locations/search", Reply(200, body))
        [result] = reach(found(f"AGENCY_TOKEN={token}\n"))
        r = result.reach
        assert r is not None and r.sub_accounts is None, (body, r)
        assert "0 sub-accounts" not in r.summary


def test_deeply_nested_json_costs_no_fact_already_known(ghl: FakeGHL) -> None:
    """`[[[[…` 5000 deep makes json.loads raise RecursionError, which was not caught: the whole
    reach was lost (kind unknown), even the agency id the token's own claims give without a request."""
    company = new_id()
    now = int(time.time())

    def part(value: Dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    claims = {"authClass": "Company", "authClassId": company, "iat": now - 60, "exp": now + 9999}
    claims["oauthMeta"] = {"scopes": ["companies.readonly"]}
    signature = base64.urlsafe_b64encode(uuid.uuid4().bytes * 2).rstrip(b"=").decode()
    jwt = ".".join((part({"alg": "HS256", "typ": "JWT"}), part(claims), signature))
    deep = Reply(200, "[" * 5000 + "]" * 5000, content_type="application/json")
    ghl.route(jwt, f"/companies/{company}", company_200(company, "Acme", 3), deep)  # validation, then reach
    ghl.route(jwt, "/locations/search", deep)
    [result] = reach(found(f"TOKEN={jwt}\n"))
    r = result.reach
    assert r is not None and r.kind == "agency" and r.agency is not None and r.agency.id == company, r
    assert "internal error" not in r.note


def test_server_messages_quoted_in_notes_and_reasons_carry_no_terminal_or_bidi_controls(ghl: FakeGHL) -> None:
    """Held (a guard, not a fix): server text is quoted with repr(), which escapes them."""
    token, location = new_pit(), new_id()
    evil = "ok\u009b2J\u202eGNINRAW\u2066 \u200b"
    ghl.reply(token, Reply(403, {"message": f"The token does not have access to this location. {evil}"}))
    ghl.route(token, f"/locations/{location}", Reply(400, {"message": f"bad {evil}"}))
    ghl.route(token, "/calendars/", Reply(404, {"message": evil}))
    [result] = reach(found(f"locationId={location}\nT={token}\n"))
    assert result.validation is not None and result.reach is not None
    assert "bad" in result.reach.note and "ok" in result.validation.reason
    shown = every_format([result]) + result.reach.note + result.validation.reason
    for char in "\u009b\u202e\u2066\u200b":
        assert char not in shown, repr(char)


def test_only_the_names_a_report_keeps_are_cleaned(ghl: FakeGHL, monkeypatch: Any) -> None:
    """A page can list hundreds of names of 4 KB each (a hostile or buggy server, 2 MiB): cleaning
    each costs ~3 ms; only the FIRST_NAMES kept need it."""
    from pit_guard.validation import reach as module

    calls: List[Any] = []
    real = module._name
    monkeypatch.setattr(module, "_name", lambda value, secret: calls.append(value) or real(value, secret))
    token = new_pit()
    names = [base64.b64encode(uuid.uuid4().bytes * 190).decode() for _ in range(400)]
    ghl.reply(token, MISMATCH_401)
    ghl.route(token, "/locations/search", search_200([(new_id(), n) for n in names]))
    [result] = reach(found(f"AGENCY_TOKEN={token}\n"))
    r = result.reach
    assert r is not None and len(r.first_sub_accounts) == module.FIRST_NAMES and (r.sub_accounts or 0) >= 400
    assert len(calls) <= 2 * module.FIRST_NAMES, len(calls)


def test_a_name_cut_inside_an_emoji_does_not_lose_the_reach(ghl: FakeGHL) -> None:
    """JSON may carry a lone surrogate (`"\\ud83d"`: a JavaScript string cut inside an emoji).
    display_path could not encode it: the whole reach was lost to "internal error"."""
    token, company = new_pit(), new_id()
    subs = [(new_id(), "Caf\ud83d"), (new_id(), "Lakeside \udc80 Gym")]
    ghl.reply(token, MISMATCH_401)
    ghl.route(token, "/locations/search", search_200(subs))
    ghl.route(token, f"/locations/{subs[0][0]}", location_200(subs[0][0], "Caf\ud83d", company))
    ghl.route(token, f"/companies/{company}", company_200(company, "Acme \ud83d", 2))
    [result] = reach(found(f"T={token}\n"))
    r = result.reach
    assert r is not None and "internal error" not in r.note, r
    assert r.sub_accounts == 2 and len(r.first_sub_accounts) == 2 and r.agency is not None
    every_format([result]).encode("utf-8")  # every report can be written out
