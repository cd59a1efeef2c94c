"""Is a found credential still live? Opt-in checks against GoHighLevel's API.

Each finding gets a `Validation`: live, dead, expired (offline, from a JWT's `exp`), unknown (with
the reason) or not-checked (with the reason). A status comes from the answer's status code AND its
message (see "Reading the answer" in docs/ghl-credentials.md): "not authorized for this scope" is live.
Unknown is never dead.

Safety rules kept here, not left to callers:
- refresh tokens are never sent (exchanging one rotates it), webhook URLs are never requested
  (that fires the workflow), client and SSO secrets have no safe probe;
- requests go to GoHighLevel's two bases, or to the ones in PIT_GUARD_V2_API_URL /
  PIT_GUARD_V1_API_URL; nothing else (no config file, no argument) can choose where a token goes;
- the token leaves this process only in the Authorization header: every message, log line and
  reason holds `redact(secret)` at most, and server text is scrubbed before it is quoted.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import queue
import random
import re
import threading
import time
import urllib.parse
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from pit_guard.detection.rules import RULES_BY_ID
from pit_guard.errors import FatalError
from pit_guard.finding import Finding, Reach, Validation, redact
from pit_guard.validation import http

V2_DEFAULT = "https://services.leadconnectorhq.com"
V1_DEFAULT = "https://rest.gohighlevel.com/v1"
ENV_V2 = "PIT_GUARD_V2_API_URL"
ENV_V1 = "PIT_GUARD_V1_API_URL"

LIVE, DEAD, EXPIRED, UNKNOWN, NOT_CHECKED = "live", "dead", "expired", "unknown", "not-checked"
BUDGET_EXHAUSTED = "time budget exhausted"
MAX_CONCURRENCY = 32
BREAKER_THRESHOLD = 3  # consecutive connection failures before the network is declared down
GRACE = 0.5  # seconds past the budget for an answer that arrived just in time to be read

logger = logging.getLogger("pit_guard.validation.checks")
Log = Callable[[str], None]
# What runs after a token's verdict, in the same worker, budget and rate limiter: reach.py's lookup.
FollowUp = Callable[["_Run", Finding, Validation], Optional[Reach]]


# --- Where requests go ----------------------------------------------------------------------------


def api_bases(environ: Optional[Mapping[str, str]] = None) -> Tuple[str, str, bool]:
    """(v2 base, v1 base, overridden): GoHighLevel's, unless the two environment variables say.

    Only PIT_GUARD_V2_API_URL and PIT_GUARD_V1_API_URL are read: a scanned repository controls its
    config files, never the scanning process's environment.
    """
    env = os.environ if environ is None else environ
    v2 = _env_base(env, ENV_V2)
    v1 = _env_base(env, ENV_V1)
    return (v2 or V2_DEFAULT), (v1 or V1_DEFAULT), bool(v2 or v1)


def _env_base(env: Mapping[str, str], name: str) -> Optional[str]:
    value = env.get(name, "").strip()
    if not value:
        return None
    parts = urllib.parse.urlsplit(value)
    # http:// is accepted here only: it is how tests and private mirrors on loopback are reached.
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise FatalError(f"{name} must be a full http(s) base URL such as https://host[:port][/path], got {value!r}")
    return value.rstrip("/")


def override_notice(environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The line the CLI prints on stderr when validation does not go to GoHighLevel, else None."""
    v2, v1, overridden = api_bases(environ)
    if not overridden:
        return None
    return (
        f"pit-guard: validation requests go to {v2} (API v2) and {v1} (API v1), "
        f"set by {ENV_V2} / {ENV_V1}, not to GoHighLevel"
    )


def _check_base(base: str, default: str) -> str:
    """Defence in depth: a base that is not GoHighLevel's must have come from the environment."""
    if base != default and not base.startswith("https://"):
        env_values = {os.environ.get(ENV_V2, "").strip().rstrip("/"), os.environ.get(ENV_V1, "").strip().rstrip("/")}
        if base not in env_values:
            raise FatalError("validation base URLs must be https:// unless set by PIT_GUARD_*_API_URL")
    return base


# --- What to do with each kind --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Probe:
    url: str
    v2: bool  # which API, for headers and for reading the answer

    def __repr__(self) -> str:  # the URL holds ids, never the token; still keep it short
        return f"_Probe({self.url!r})"


_Plan = Union[Validation, _Probe]


def _iso(epoch: float) -> str:
    try:
        return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):  # a crafted `exp` far outside any calendar
        return "out of range"


def _plan(finding: Finding, now: float, v2: str, v1: str) -> _Plan:
    """An offline verdict, or the one request that tells whether the token is live."""
    rule = RULES_BY_ID.get(finding.rule_id)
    expires_at = finding.expires_at
    if finding.expired or (expires_at is not None and expires_at < now):
        when = f" at {_iso(expires_at)}" if expires_at is not None else ""
        return Validation(EXPIRED, f"the token's exp passed{when}: no request needed", _iso(now))
    if rule is None:
        return Validation(NOT_CHECKED, f"no liveness check for {finding.rule_id}")
    probe = rule.probe
    if probe.kind == "never":
        until = f"; exp {_iso(expires_at)} not yet passed" if expires_at is not None else ""
        return Validation(NOT_CHECKED, probe.reason + until)
    if not finding.secret:  # read back from a redacted report or state: nothing to send
        return Validation(UNKNOWN, "the secret is not in the report it was read from: it could not be checked")
    if not _sendable(finding.secret):
        return Validation(NOT_CHECKED, "the token holds characters that cannot go in an HTTP header")
    if probe.kind == "owner":
        return _access_token_probe(finding, v2)
    # v2: a location PIT answers 422 (locationId missing), an agency PIT "user type mismatch".
    return _Probe((v2 if probe.kind == "v2" else v1) + probe.path, v2=probe.kind == "v2")


_PLAIN_ID = re.compile(r"[A-Za-z0-9]{1,64}")  # GoHighLevel's account ids are 20 letters and digits


def _access_token_probe(finding: Finding, v2: str) -> _Plan:
    company = (finding.auth_class or "").lower() == "company"
    owner = finding.company_id if company else finding.location_id
    if not owner:
        return Validation(NOT_CHECKED, "the token's payload has no authClassId to probe")
    if not _PLAIN_ID.fullmatch(owner):  # `..` or `.` would send the probe to another path
        return Validation(NOT_CHECKED, "the token's authClassId is not a plain id (letters and digits)")
    collection = "companies" if company else "locations"
    return _Probe(f"{v2}/{collection}/{urllib.parse.quote(owner, safe='')}", v2=True)


def _sendable(secret: str) -> bool:
    return bool(secret) and secret.isascii() and secret.isprintable() and " " not in secret


# --- Reading GoHighLevel's answers --------------------------------------------------------------

# Matched as substrings: a live reading errs on the side of "revoke it now".
AGENCY_LEVEL = "works: an agency-level token (user type mismatch on a location endpoint)"  # read by reach.py
ACCEPTED = "the token was accepted"  # 2xx, or 422 on an endpoint missing its locationId; read by reach.py
_LIVE_V2 = (
    ("not authorized for this scope", "works, but lacks this endpoint's scope"),
    ("location is not accessible from this token", "works (for another location)"),
    ("does not have access to this location", "works (for another location)"),
    ("user type mismatch", AGENCY_LEVEL),
    ("authclass type is not allowed", "works (wrong auth class for this endpoint)"),
)
# Matched exactly (after normalising): a dead reading must be GoHighLevel's own word.
_DEAD_V2 = {
    "invalid private integration token": "revoked or mistyped Private Integration token",
    "invalid jwt": "invalid or revoked token",
    "invalid token: access token is invalid": "invalid or revoked access token",
}
_LIVE_V1 = (("switch to the new api token", "works: a v1 key recognised, refused on a v2-only endpoint"),)
_DEAD_V1 = {"api key is invalid": "revoked or mistyped v1 API key"}

# Anything token-shaped in server text is redacted before it is quoted in a reason.
_LONG_RUN = re.compile(r"[A-Za-z0-9_+/=.%-]{20,}")
_TOKENISH = re.compile(
    r"(?i)pit-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_.-]*"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|bearer\s+\S+"
)


def _alnum(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def quotes_secret(text: str, secret: str) -> bool:
    """Whether `text` holds a stretch of `secret` however it was cut up (`pit-3f 83af8e -20e6-…`): a
    server that echoes the token back in pieces must not get it printed."""
    token, said = _alnum(secret), _alnum(text)
    window = 8
    return len(token) >= window and any(token[i : i + window] in said for i in range(len(token) - window + 1))


def scrub(text: str, secret: str = "") -> str:
    """Server text made safe to show: the token and anything shaped like one redacted, cut short."""
    if secret and quotes_secret(text, secret):
        return "(message withheld: it quotes the token)"
    text = _TOKENISH.sub(lambda m: redact(m.group(0)), text)
    # Whatever else is long and unbroken (a token re-encoded by a proxy: no dashes, other case,
    # base64) is not English: cut it, keeping only its first characters.
    text = _LONG_RUN.sub(lambda m: m.group(0)[:4] + "…", text)
    text = " ".join(text.split())
    return text if len(text) <= 120 else text[:117] + "..."


def _message(answer: http.Answer) -> Tuple[bool, str]:
    """(is JSON, message): GoHighLevel puts it in `message` (v2, sometimes a list) or `msg` (v1)."""
    try:
        value = json.loads(answer.body)
    except (ValueError, RecursionError):  # RecursionError: `[[[[…` nested deeper than Python recurses
        return False, ""
    if not isinstance(value, (dict, list)):
        return False, ""
    if not isinstance(value, dict):
        return True, ""
    for key in ("message", "msg", "error"):
        found = value.get(key)
        if isinstance(found, list):
            found = "; ".join(str(item) for item in found)
        if isinstance(found, str) and found:
            return True, found
    return True, ""


def _normal(message: str) -> str:
    return " ".join(message.lower().split()).rstrip(".!")


def normal_message(answer: http.Answer) -> str:
    """An answer's message, lower-cased, spaces collapsed, trailing punctuation dropped ("" if none)."""
    return _normal(_message(answer)[1])


def classify(answer: http.Answer, v2: bool, secret: str = "") -> Tuple[str, str]:
    """(status, reason) for one answer; 429 and 5xx come back as unknown (the caller may retry)."""
    code = answer.code
    is_json, message = _message(answer)
    quoted = f" {scrub(message, secret)!r}" if message else ""
    if code == 429:
        return UNKNOWN, f"rate limited (HTTP 429){quoted}"
    if code >= 500:
        kind = "an HTML page from a proxy or gateway" if not is_json and _htmlish(answer) else "server error"
        return UNKNOWN, f"{kind} (HTTP {code})"
    if not is_json:
        what = "an HTML page (a proxy or captive portal?)" if _htmlish(answer) else "a non-JSON answer"
        return UNKNOWN, f"unexpected answer: {what} with HTTP {code}"
    if 300 <= code < 400:
        return UNKNOWN, f"unexpected redirect (HTTP {code}), not followed"
    if 200 <= code < 300 or (v2 and code == 422):
        return LIVE, f"HTTP {code}: {ACCEPTED}"
    if code in (401, 403):
        return _classify_refusal(code, message, v2, quoted)
    return UNKNOWN, f"unexpected answer: HTTP {code}{quoted}"


def _classify_refusal(code: int, message: str, v2: bool, quoted: str) -> Tuple[str, str]:
    normal = _normal(message)
    for needle, meaning in _LIVE_V2 if v2 else _LIVE_V1:
        if needle in normal:
            return LIVE, f"HTTP {code}{quoted}: {meaning}"
    dead = (_DEAD_V2 if v2 else _DEAD_V1).get(normal)
    if dead is not None:
        return DEAD, f"HTTP {code}{quoted}: {dead}"
    if "version header" in normal:
        return UNKNOWN, f"HTTP {code}{quoted}: the API refused the request itself (Version header)"
    return UNKNOWN, f"unexpected answer: HTTP {code}{quoted}"


def _htmlish(answer: http.Answer) -> bool:
    return answer.content_type in ("text/html", "application/xhtml+xml") or answer.body.lstrip()[:1] == "<"


# --- Running the probes ---------------------------------------------------------------------------


@dataclasses.dataclass
class _Run:
    limiter: http.RateLimiter
    breaker: http.CircuitBreaker
    budget: http.Budget
    timeout: float
    retries: int
    backoff: float


def _check(run: _Run, probe: _Probe, secret: str) -> Validation:
    """One token: its probe, retried for 429/5xx within the budget. Never raises."""
    try:
        status, reason = _attempts(run, probe, secret)
    except Exception as error:  # noqa: BLE001 - a bug must not become a traceback with locals
        status, reason = UNKNOWN, f"internal error ({type(error).__name__})"
    return Validation(status, reason, _iso(time.time()))


def _attempts(run: _Run, probe: _Probe, secret: str) -> Tuple[str, str]:
    label = redact(secret)
    attempt = 0
    exhausted = BUDGET_EXHAUSTED
    while True:
        if run.breaker.open:
            return UNKNOWN, run.breaker.reason or "network unreachable"
        if not run.limiter.acquire(run.budget) or run.budget.remaining() <= 0:
            return UNKNOWN, exhausted
        timeout = min(run.timeout, run.budget.remaining())
        try:
            answer = http.get(probe.url, secret, timeout, probe.v2)
        except http.NetError as failure:
            reason = scrub(failure.reason, secret)
            if failure.connection:
                run.breaker.failure(reason)
            # Connection errors and timeouts are not retried: a dead network must fail fast.
            return UNKNOWN, reason
        run.breaker.success()
        run.limiter.observe(answer.headers, answer.code)
        status, reason = classify(answer, probe.v2, secret)
        retryable = answer.code == 429 or answer.code >= 500
        if not retryable or attempt >= run.retries:
            if retryable and attempt:
                reason += f" after {attempt + 1} attempts"
            return status, reason
        delay = _retry_delay(run, answer, attempt)
        logger.debug("validate: %s HTTP %d, retry %d in %.2fs", label, answer.code, attempt + 1, delay)
        exhausted = f"{reason}; {BUDGET_EXHAUSTED} before a retry"
        if not run.budget.sleep(delay):
            return UNKNOWN, exhausted
        attempt += 1


def _retry_delay(run: _Run, answer: http.Answer, attempt: int) -> float:
    jittered: float = run.backoff * (2.0**attempt) * random.uniform(0.75, 1.25)
    if answer.code != 429:
        return jittered
    # Honour the server: Retry-After (capped), else its stated window; hold back every worker.
    delay = http.retry_after(answer.headers)
    if delay is None:
        delay = http.rate_interval(answer.headers)
    if delay is None:
        delay = jittered
    run.limiter.pause(delay)
    return delay


def validate_findings(
    findings: Sequence[Finding],
    *,
    concurrency: int = 4,
    timeout: float = 10.0,
    total_timeout: float = 120.0,
    now: Optional[float] = None,
    log: Optional[Log] = None,
    retries: int = 2,
    backoff: float = 0.5,
    follow: Optional[FollowUp] = None,
) -> List[Finding]:
    """The same findings, in the same order, each with `validation` set (and `reach`, from
    `follow`, for the live ones: run by the same workers once every verdict is in, under the same
    limiter and budget).

    Identical secrets are checked once. Requests run on `concurrency` threads under one client-side
    rate limit; each has `timeout` seconds and the whole run `total_timeout` seconds, both wall-clock
    deadlines: this returns by then (plus a short grace) whatever the network does, and whatever is
    still unchecked is unknown ("time budget exhausted"). Never raises for network trouble; raises
    FatalError for bad arguments or a bad PIT_GUARD_*_API_URL.
    """
    _check_arguments(concurrency, timeout, total_timeout, retries, backoff)
    v2, v1, _ = api_bases()
    v2, v1 = _check_base(v2, V2_DEFAULT), _check_base(v1, V1_DEFAULT)
    now = time.time() if now is None else now
    verdicts: Dict[str, Validation] = {}
    probes: Dict[str, Tuple[_Probe, Finding]] = {}
    for finding in findings:
        key = finding.fingerprint  # a hash: the secret is not even a dict key here
        if key in probes and probes[key][1].location_id is None and finding.location_id:
            probes[key] = (probes[key][0], finding)  # the same token elsewhere, with a sub-account id beside it
        if key in verdicts or key in probes:
            continue
        plan = _plan(finding, now, v2, v1)
        if isinstance(plan, Validation):
            verdicts[key] = plan
        else:
            probes[key] = (plan, finding)
    if probes:
        budget = http.Budget(total_timeout)
        run = _Run(
            http.RateLimiter(),
            http.CircuitBreaker(BREAKER_THRESHOLD),
            budget,
            timeout,
            retries,
            backoff,
        )
        pooled, reaches = _run_pool(run, probes, concurrency, log, follow)
        verdicts.update(pooled)
    else:
        reaches = {}
    return [
        dataclasses.replace(f, validation=verdicts[f.fingerprint], reach=reaches.get(f.fingerprint)) for f in findings
    ]


def _check_arguments(concurrency: int, timeout: float, total_timeout: float, retries: int, backoff: float) -> None:
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise FatalError(f"validation concurrency must be between 1 and {MAX_CONCURRENCY}, got {concurrency}")
    if not timeout > 0 or not total_timeout > 0:
        raise FatalError("validation timeouts must be positive numbers of seconds")
    if retries < 0 or backoff < 0:
        raise FatalError("validation retries and backoff must not be negative")


def _run_pool(
    run: _Run,
    probes: Dict[str, Tuple[_Probe, Finding]],
    concurrency: int,
    log: Optional[Log],
    follow: Optional[FollowUp] = None,
) -> Tuple[Dict[str, Validation], Dict[str, Reach]]:
    """Every probe's verdict by the budget's deadline (plus GRACE), whatever the workers are doing,
    and what `follow` found for the live ones by then (every verdict is checked before any reach
    starts, so a slow reach never costs a token, its own or another, its verdict).

    The workers are daemon threads, not a concurrent.futures pool (which joins its threads at
    interpreter exit): one stuck in the network is abandoned and never holds up the exit.
    """
    tasks: "queue.SimpleQueue[Tuple[str, Tuple[_Probe, Finding]]]" = queue.SimpleQueue()
    for task in probes.items():
        tasks.put(task)
    results: "queue.SimpleQueue[Optional[Tuple[str, Union[Validation, Reach]]]]" = queue.SimpleQueue()

    # Live tokens waiting for their follow-up: taken only when no verdict is left to check, so one
    # token's follow-up requests never spend the budget another token's verdict needs.
    later: "queue.SimpleQueue[Tuple[str, Finding, Validation]]" = queue.SimpleQueue()

    def work() -> None:
        try:
            while run.budget.remaining() > 0:
                try:
                    key, (probe, finding) = tasks.get_nowait()
                except queue.Empty:
                    break
                verdict = _check(run, probe, finding.secret)
                results.put((key, verdict))
                if follow is not None and verdict.status == LIVE:
                    later.put((key, finding, verdict))
            while follow is not None and run.budget.remaining() > 0:
                try:
                    key, finding, verdict = later.get_nowait()
                except queue.Empty:
                    return
                try:
                    found = follow(run, finding, verdict)
                except Exception:  # noqa: BLE001 - a bug in a follow-up must not lose the verdicts
                    found = None
                if found is not None:
                    results.put((key, found))
        finally:
            results.put(None)  # this worker is done

    workers = min(concurrency, len(probes))
    for number in range(workers):
        threading.Thread(target=work, name=f"pit-guard-validate-{number}", daemon=True).start()
    labels = {key: redact(finding.secret) for key, (_, finding) in probes.items()}
    # Each request's own deadline is cut to what is left of the budget, so workers finish by then.
    end = time.monotonic() + run.budget.remaining() + GRACE
    verdicts: Dict[str, Validation] = {}
    reaches: Dict[str, Reach] = {}
    try:
        # Until every worker is done (each stops when the tasks or the budget run out).
        while workers:
            try:
                item = results.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                break
            if item is None:
                workers -= 1
                continue
            key, outcome = item
            if isinstance(outcome, Reach):
                reaches[key] = outcome
                continue
            verdicts[key] = outcome
            _report(log, labels[key], outcome)
    finally:
        run.budget.cancel()  # workers still running stop at their next step
    for key, label in labels.items():
        if key not in verdicts:
            verdicts[key] = Validation(UNKNOWN, BUDGET_EXHAUSTED, _iso(time.time()))
            _report(log, label, verdicts[key])
    return verdicts, reaches


def _report(log: Optional[Log], label: str, verdict: Validation) -> None:
    line = f"validate: {label}: {verdict.status} ({verdict.reason})"
    logger.info(line)
    if log is not None:
        log(line)


# --- One token from stdin -------------------------------------------------------------------------


def validate_token(
    secret: str,
    *,
    timeout: float = 10.0,
    total_timeout: float = 30.0,
    now: Optional[float] = None,
    log: Optional[Log] = None,
) -> Tuple[Optional[str], Validation]:
    """(rule id or None, validation) for one token read from stdin or a prompt, never argv."""
    from pit_guard.detection.detect import scan_bytes

    findings = scan_bytes(secret.strip().encode("utf-8", "replace"), "<stdin>")
    found = validate_findings(findings, timeout=timeout, total_timeout=total_timeout, now=now, log=log)
    if not found:
        return None, Validation(NOT_CHECKED, "not recognised as a GoHighLevel credential")
    first = found[0]
    assert first.validation is not None
    return first.rule_id, first.validation
