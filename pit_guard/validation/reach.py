"""What a live token can reach: which agency or sub-account it opens, how many sub-accounts, which
scopes work. docs/reach.md is the contract (the requests, their documentation, the JSON shape).

Run by checks.validate_findings for each token it found live (`reach_of` is its follow-up), in the
same worker, under the same rate limiter, circuit breaker, hosts rule and wall-clock budget. At most
MAX_REQUESTS read-only GETs per token, never retried; never a write, an OAuth exchange or a webhook.
Only account ids, names and counts are kept from an answer: nothing personal.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
import urllib.parse
from typing import Any, Dict, List, Optional, Tuple

from pit_guard.finding import Account, Finding, Reach, Validation, display_path
from pit_guard.validation import http
from pit_guard.validation.checks import (
    ACCEPTED,
    AGENCY_LEVEL,
    BUDGET_EXHAUSTED,
    LIVE,
    V1_DEFAULT,
    V2_DEFAULT,
    _check_base,
    _Run,
    api_bases,
    classify,
    normal_message,
    quotes_secret,
    scrub,
)

MAX_REQUESTS = 5
FIRST_NAMES = 5  # sub-account names kept for an agency token
SEARCH_PAGE = 100  # sub-accounts asked for per /locations/search page
NAME_MAX = 80
_ID = re.compile(r"[A-Za-z0-9]{1,64}")
_APP_ID = re.compile(r"[0-9a-f]{24}")

# Read-only probes that show whether a sub-account token holds a scope; none answers with a contact
# or any other personal record (docs/reach.md, "Which requests").
SCOPE_PROBES: Tuple[Tuple[str, str], ...] = (
    ("calendars.readonly", "/calendars/?locationId={id}"),
    ("opportunities.readonly", "/opportunities/pipelines?locationId={id}"),
    ("locations/customFields.readonly", "/locations/{id}/customFields"),
)

# How an answer reads, for reach: a success with its JSON, or what a refusal means.
OK, SCOPE, ELSEWHERE, MISMATCH, UNKNOWN = "ok", "scope", "elsewhere", "mismatch", "unknown"


class _Session:
    """One token's reach requests: counted, capped, paced by the validation run's limiter."""

    def __init__(self, run: _Run, secret: str, v2: str, v1: str) -> None:
        self.run = run
        self.secret = secret
        self.v2 = v2
        self.v1 = v1
        self.used = 0
        self.stopped = False  # budget, network or rate limit: no more requests for this token
        self.notes: List[str] = []

    def note(self, text: str) -> None:
        """Our own words (server text in them is scrubbed by the caller), printable, tokens redacted."""
        text = display_path(text)
        if text not in self.notes:
            self.notes.append(text)

    def left(self) -> int:
        return 0 if self.stopped else MAX_REQUESTS - self.used

    def get(self, what: str, url: str, v2: bool = True) -> Tuple[str, Any, int]:
        """(outcome, JSON body for OK, HTTP status or 0): one GET, never retried."""
        run = self.run
        if self.left() <= 0:
            return UNKNOWN, None, 0
        if run.breaker.open:
            self.stopped = True
            self.note(f"{what}: {run.breaker.reason or 'network unreachable'}")
            return UNKNOWN, None, 0
        if not run.limiter.acquire(run.budget) or run.budget.remaining() <= 0:
            self.stopped = True
            self.note(f"{what}: {BUDGET_EXHAUSTED}")
            return UNKNOWN, None, 0
        self.used += 1
        try:
            answer = http.get(url, self.secret, min(run.timeout, run.budget.remaining()), v2, http.MAX_LIST_BODY)
        except http.NetError as failure:
            if failure.connection:
                run.breaker.failure(scrub(failure.reason, self.secret))
            self.stopped = True
            self.note(f"{what}: {scrub(failure.reason, self.secret)}")
            return UNKNOWN, None, 0
        run.breaker.success()
        run.limiter.observe(answer.headers, answer.code)
        return self._read(what, answer, v2)

    def _read(self, what: str, answer: http.Answer, v2: bool) -> Tuple[str, Any, int]:
        code = answer.code
        status, reason = classify(answer, v2, self.secret)
        if code == 429:
            wait = http.retry_after(answer.headers)
            if wait is None:
                wait = http.rate_interval(answer.headers)
            self.run.limiter.pause(1.0 if wait is None else wait)  # hold back every worker
            self.stopped = True
        if 200 <= code < 300 and status == LIVE:
            try:
                return OK, json.loads(answer.body), code
            except (ValueError, RecursionError):  # classify already read it as JSON; a cut-off body is not
                self.note(f"{what}: an answer cut short (HTTP {code})")
                return UNKNOWN, None, code
        message = normal_message(answer) if code in (401, 403) else ""
        if "not authorized for this scope" in message:
            return SCOPE, None, code
        if "not accessible from this token" in message or "does not have access to this location" in message:
            return ELSEWHERE, None, code
        if "user type mismatch" in message or "authclass type is not allowed" in message:
            return MISMATCH, None, code
        self.note(f"{what}: {reason}")
        return UNKNOWN, None, code


def _path_id(value: Any) -> Optional[str]:
    """An id fit to put in a URL path: letters and digits only (it may come from a scanned file)."""
    return value if isinstance(value, str) and _ID.fullmatch(value) else None


def _answer_id(value: Any, secret: str) -> Optional[str]:
    """An account id read from an answer: a plain id that does not quote the token (it goes into
    reports, and into the finding's company_id once settled)."""
    found = _path_id(value)
    return None if found is None or quotes_secret(found, secret) else found


def _name(value: Any, secret: str) -> Optional[str]:
    """An account's name as reports show it: a string, token-free, printable, at most NAME_MAX."""
    if not isinstance(value, str) or not value.strip():
        return None
    # A lone surrogate (JSON's "\\ud83d": a string cut inside an emoji) cannot be written out: "?".
    text = " ".join(value.encode("utf-8", "replace").decode("utf-8").split())
    if quotes_secret(value, secret) or any(quotes_secret(form, secret) for form in _decoded_forms(text)):
        return "(name withheld: it quotes the token)"
    shown = display_path(text)
    # display_path escapes C0 controls; C1 controls (U+009B is a terminal's CSI), bidi overrides,
    # zero-width and line-separator characters must not restyle or reorder a report line either.
    shown = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in shown)
    return shown if len(shown) <= NAME_MAX else shown[: NAME_MAX - 1] + "…"


_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}")
_HEX_RUN = re.compile(r"[0-9A-Fa-f]{16,}")


def _decoded_forms(text: str) -> List[str]:
    """What the start of `text` (all a report can show of it) says once percent-decoded, and with
    each base64 or hex run in it decoded at every alignment: a name that carries the token
    re-encoded is caught like a plain one."""
    value = text[:4096]
    forms = [urllib.parse.unquote(value)]
    for run in _BASE64_RUN.findall(value):
        for start in range(4):
            piece = run[start:]
            piece = piece[: len(piece) - len(piece) % 4]
            try:  # standard and URL-safe alphabets alike
                decoded = base64.b64decode(piece.replace("-", "+").replace("_", "/"), validate=True)
            except (ValueError, binascii.Error):
                continue
            forms.append(decoded.decode("latin-1"))
    for run in _HEX_RUN.findall(value):
        for start in range(2):
            piece = run[start:]
            forms.append(bytes.fromhex(piece[: len(piece) - len(piece) % 2]).decode("latin-1"))
    return forms


def _first_names(items: List[Dict[str, Any]], secret: str, wanted: int) -> List[str]:
    """The first `wanted` names in `items`: the rest are never cleaned (a page can list thousands)."""
    names: List[str] = []
    for item in items:
        if len(names) >= wanted:
            break
        name = _name(item.get("name"), secret)
        if name:
            names.append(name)
    return names


def _object(body: Any, key: str) -> Dict[str, Any]:
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, dict) else {}


def _list(body: Any, key: str) -> Optional[List[Dict[str, Any]]]:
    """The objects listed under `key`; None when the answer has no such list (another shape)."""
    value = body.get(key) if isinstance(body, dict) else None
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else None


def _count(value: Any) -> Optional[int]:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
        return None
    return int(value) if value < 1 << 31 else None


# --- The entry point ------------------------------------------------------------------------------


def reach_of(run: _Run, finding: Finding, validation: Validation) -> Optional[Reach]:
    """What a live token reaches (None for any other verdict). Never raises for network trouble."""
    if validation.status != LIVE:
        return None
    v2, v1, _ = api_bases()
    session = _Session(run, finding.secret, _check_base(v2, V2_DEFAULT), _check_base(v1, V1_DEFAULT))
    try:
        facts = _facts(session, finding, validation)
    except Exception as error:  # noqa: BLE001 - a bug must not turn into a traceback quoting an answer
        facts = {"note_error": f"internal error ({type(error).__name__})"}
    note = facts.pop("note_error", None)
    if note:
        session.note(str(note))
    return Reach(
        scopes_claimed=tuple(finding.scopes),
        auth_class=finding.auth_class,
        client_id=finding.client_id,
        requests=session.used,
        note="; ".join(session.notes),
        **facts,
    )


def _facts(session: _Session, finding: Finding, validation: Validation) -> Dict[str, Any]:
    rule = finding.rule_id
    if rule == "ghl-private-integration-token":
        return _pit(session, finding, validation)
    if rule == "ghl-oauth-access-token":
        if (finding.auth_class or "").lower() == "company":
            app = (finding.client_id or "").split("-")[0]
            return _agency(session, _path_id(finding.company_id), app if _APP_ID.fullmatch(app) else None)
        return _sub_account(session, _path_id(finding.location_id), guessed=False)
    if rule == "ghl-v1-location-api-key":
        session.note("API 1.0 keys are not scoped: it opens everything API 1.0 offers for this sub-account")
        agency = Account(finding.company_id) if finding.company_id else None
        return {
            "kind": "sub-account",
            "sub_account": Account(finding.location_id),
            "agency": agency,
            "identified": True,
        }
    if rule == "ghl-v1-agency-api-key":
        return _v1_agency(session, finding.company_id)
    return {"kind": "unknown"}


def _pit(session: _Session, finding: Finding, validation: Validation) -> Dict[str, Any]:
    if AGENCY_LEVEL in validation.reason:
        return _agency(session, None, None)
    location = _path_id(finding.location_id)
    if location:
        return _sub_account(session, location, guessed=True)
    if ACCEPTED in validation.reason:  # 422 on /contacts/ without a locationId: a sub-account PIT
        session.note("no sub-account id (locationId, GHL_LOCATION_ID, a /locations/<id> URL) is written near it")
        return {"kind": "sub-account"}
    # Which level is not known: an agency token lists its sub-accounts, a sub-account token is refused.
    outcome, body, code = session.get("/locations/search", f"{session.v2}/locations/search?limit={SEARCH_PAGE}")
    if outcome == OK:
        return _agency(session, None, None, first_page=body)
    if outcome == MISMATCH or code == 403:
        session.note("no sub-account id is written near it")
        return {"kind": "sub-account"}
    return {"kind": "unknown"}


def settle(finding: Finding) -> Finding:
    """A PIT's account ids as its reach found them: the sub-account id written beside it is only a
    guess, so once reach ran it is replaced by the confirmed sub-account (or none), and an agency
    PIT gets its company id. Claims of JWTs are the token's own word and are left alone."""
    reach = finding.reach
    if reach is None or finding.rule_id != "ghl-private-integration-token":
        return finding
    agency = reach.agency.id if reach.agency is not None else None
    if reach.kind == "agency":
        company = agency or finding.company_id
        return dataclasses.replace(finding, location_id=None, location_near=False, company_id=company)
    confirmed = reach.sub_account.id if reach.identified and reach.sub_account is not None else None
    return dataclasses.replace(
        finding, location_id=confirmed, location_near=False, company_id=agency or finding.company_id
    )


# --- Sub-account tokens ---------------------------------------------------------------------------


def _sub_account(session: _Session, location: Optional[str], guessed: bool) -> Dict[str, Any]:
    facts: Dict[str, Any] = {"kind": "sub-account"}
    if location is None:
        session.note("the token names no sub-account id")
        return facts
    working: List[str] = []
    refused: List[str] = []
    name: Optional[str] = None
    agency: Optional[Account] = None
    identified = False
    quoted = urllib.parse.quote(location, safe="")
    outcome, body, _ = session.get("GET /locations/{id}", f"{session.v2}/locations/{quoted}")
    if outcome == OK:
        found = _object(body, "location")
        identified = True
        working.append("locations.readonly")
        name = _name(found.get("name"), session.secret)
        company = _answer_id(found.get("companyId"), session.secret)
        agency = Account(company) if company else None
    elif outcome == SCOPE:
        refused.append("locations.readonly")
    elif outcome == ELSEWHERE:
        if guessed:
            session.note(f"the sub-account id written near it ({location}) is not the one it opens")
            return facts
        session.note(f"the token refused its own sub-account {location}")
    elif outcome == MISMATCH:
        session.note("GET /locations/{id}: refused for the token's level (user type or authClass mismatch)")
    for scope, path in SCOPE_PROBES:
        if session.left() <= 0:
            break
        outcome, _, _ = session.get(scope, session.v2 + path.format(id=quoted))
        if outcome == OK:
            working.append(scope)
            identified = True  # it worked with that id: the id is the token's
        elif outcome == SCOPE:
            refused.append(scope)
        elif outcome == ELSEWHERE and guessed and not identified:
            session.note(f"the sub-account id written near it ({location}) is not the one it opens")
            return facts
    if not identified and refused and not guessed:
        identified = True  # the id is the token's own claim; only scopes were refused
    if refused and not working and guessed and not identified:
        session.note(f"the sub-account id written near it ({location}) could not be confirmed: no scope probed works")
    facts.update(
        identified=identified,
        sub_account=Account(location, name) if identified else None,
        agency=agency,
        scopes_working=tuple(working),
        scopes_refused=tuple(refused),
    )
    return facts


# --- Agency tokens --------------------------------------------------------------------------------


def _agency(session: _Session, company: Optional[str], app: Optional[str], first_page: Any = None) -> Dict[str, Any]:
    """An agency token: its company, how many sub-accounts, the first names. `company` is known from
    an OAuth token's claims; for an agency PIT it is read from one of its sub-accounts."""
    working: List[str] = []
    refused: List[str] = []
    names: List[str] = []
    agency_name: Optional[str] = None
    total: Optional[int] = None  # a count GoHighLevel states
    listed = 0  # sub-accounts seen in search pages
    last_page_full = False
    pages = 0
    searched = False  # a search that failed is not asked again

    def search() -> bool:
        nonlocal listed, last_page_full, pages, searched
        searched = True
        if first_page is not None and pages == 0:
            body: Any = first_page
        else:
            url = f"{session.v2}/locations/search?limit={SEARCH_PAGE}&skip={pages * SEARCH_PAGE}"
            if company:
                url += f"&companyId={urllib.parse.quote(company, safe='')}"
            outcome, body, _ = session.get("/locations/search", url)
            if outcome == SCOPE:
                refused.append("locations.readonly")
            if outcome != OK:
                return False
        page = _list(body, "locations")
        if page is None:
            session.note("/locations/search: an answer without a list of locations")
            return False
        if "locations.readonly" not in working:
            working.append("locations.readonly")
        pages += 1
        listed += len(page)
        last_page_full = len(page) >= SEARCH_PAGE
        names.extend(_first_names(page, session.secret, FIRST_NAMES - len(names)))
        page_ids.extend(i for i in (_answer_id(item.get("id"), session.secret) for item in page) if i)
        return True

    page_ids: List[str] = []
    if company is None:
        # Agency PIT: list first, then learn the company from one sub-account.
        if search() and page_ids and session.left() > 0:
            outcome, body, _ = session.get("GET /locations/{id}", f"{session.v2}/locations/{page_ids[0]}")
            found = _object(body, "location").get("companyId") if outcome == OK else None
            company = _answer_id(found, session.secret)
    if company and session.left() > 0:
        outcome, body, _ = session.get("GET /companies/{id}", f"{session.v2}/companies/{company}")
        if outcome == OK:
            found = _object(body, "company")
            working.append("companies.readonly")
            agency_name = _name(found.get("name"), session.secret)
            total = _count(found.get("locationCount"))
        elif outcome == SCOPE:
            refused.append("companies.readonly")
    if app and company and session.left() > 0:
        query = urllib.parse.urlencode(
            {"companyId": company, "appId": app, "isInstalled": "true", "limit": FIRST_NAMES}
        )
        outcome, body, _ = session.get("/oauth/installedLocations", f"{session.v2}/oauth/installedLocations?{query}")
        if outcome == OK:
            working.append("oauth.readonly")
            installed = _list(body, "locations")
            names = _first_names(installed or [], session.secret, FIRST_NAMES)
            stated = _count(body.get("count")) if isinstance(body, dict) else None
            total = stated if stated is not None or installed is None else len(installed)
            session.note("the app can mint a token for each sub-account it is installed in")
        elif outcome == SCOPE:
            refused.append("oauth.readonly")
    if total is None and not searched and session.left() > 0:
        search()
    while total is None and pages and last_page_full and session.left() > 0:
        if not search():
            break
    count = total
    at_least = False
    if count is None and pages:
        count = listed
        at_least = last_page_full
    return {
        "kind": "agency",
        "agency": Account(company, agency_name) if company or agency_name else None,
        "identified": bool(company or pages),
        "sub_accounts": count,
        "sub_accounts_at_least": at_least,
        "first_sub_accounts": tuple(names[:FIRST_NAMES]),
        "scopes_working": tuple(working),
        "scopes_refused": tuple(refused),
    }


def _v1_agency(session: _Session, company: Optional[str]) -> Dict[str, Any]:
    outcome, body, _ = session.get("GET /v1/locations/", f"{session.v1}/locations/", v2=False)
    facts: Dict[str, Any] = {"kind": "agency", "agency": Account(company) if company else None, "identified": True}
    listed = _list(body, "locations") if outcome == OK else None
    if listed is not None:
        names = _first_names(listed, session.secret, FIRST_NAMES)
        facts.update(sub_accounts=len(listed), first_sub_accounts=tuple(names[:FIRST_NAMES]))
    session.note("API 1.0 keys are not scoped: it opens everything API 1.0 offers for each sub-account")
    return facts
