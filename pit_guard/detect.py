"""Find GoHighLevel credentials in bytes: pure functions, no I/O.

Two stages, as fast scanners do: a one-pass literal prefilter (`prefilter.py`) says which families
of rules can match at all, then only those families run their regexes and checks. Candidates are
then judged on content: JWT payloads are decoded, UUIDs are checked for placeholders, context
secrets need a key name and a GoHighLevel context.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

from pit_guard.finding import Finding
from pit_guard.prefilter import (
    ASSIGN_HEAD,
    ASSIGN_MAX_LENGTH,
    B64,
    B64_UUID,
    CONTEXT,
    JWT,
    PIT,
    SEP,
    UUID,
    WEBHOOK,
    context_match_ends,
    families,
)

SUPPRESS_MARKER = b"pit-guard: allow"
MAX_DEPTH = 2  # base64 inside base64 inside a file, and no deeper
_BOM = b"\xef\xbb\xbf"
_BOM_LENGTH = len(_BOM)

_UUID = UUID
# Each regex starts with a literal, so `re` finds candidates with its fast literal search (GB/s)
# instead of trying every position; the word boundary is then checked by a lookbehind that spans
# the literal. A boundary makes a token start unique inside a long run (`cockpit-…`, megabytes of
# `eyJ`), which keeps every regex here linear in its input. A token may also follow a percent
# escape (`Bearer%20pit-…`, `token%3DeyJ…`) or a JSON string escape (`\npit-…` in an escaped .env
# file): those letters end an escape, not a word.


def _after_boundary(word: bytes, literal_width: int) -> bytes:
    tail = rb".{%d}" % literal_width
    return rb"(?:(?<!" + word + tail + rb")|(?<=%[0-9A-Fa-f]{2}" + tail + rb")|(?<=\\[nrt]" + tail + rb"))"


_PIT_RES = tuple(
    re.compile(prefix + rb"-" + _after_boundary(rb"[A-Za-z0-9]", 4) + rb"(" + _UUID + rb")(?![A-Za-z0-9])", re.S)
    for prefix in (b"pit", b"PIT", b"Pit")
)
_JWT_RE = re.compile(
    rb"eyJ" + _after_boundary(rb"[A-Za-z0-9_-]", 3) + rb"[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.([A-Za-z0-9_-]*)",
    re.S,
)
# A JWT glued to the word before it (`'your_ineyJhbGci…'`, a paste that missed a selection) is
# missed by the boundary above. GoHighLevel's JWTs carry one of two fixed headers, so those are
# also looked for after a word character: a fixed-length literal start keeps this linear too.
_GLUED_JWT_RE = re.compile(  # literal first (fast search), then the word character behind it
    rb"eyJhbGciOiJ(?:IUzI1NiIsInR5cCI6IkpXVCJ9|SUzI1NiIsInR5cCI6IkpXVCJ9)(?<=[A-Za-z0-9_-].{36})"
    rb"\.eyJ[A-Za-z0-9_-]{8,}\.([A-Za-z0-9_-]*)",
    re.S,
)
_SEP = SEP
# The scheme is looked for behind a match (a literal-first regex stays fast), so that the finding
# starts where the URL does.
_SCHEME_RE = re.compile(rb"https?(?::|%3[aA])" + _SEP + rb"{2}\Z")
_WEBHOOK_RE = re.compile(
    rb"services\.leadconnectorhq\.com"
    + _SEP
    + rb"hooks"
    + _SEP
    + rb"([A-Za-z0-9]{8,40})"
    + _SEP
    + rb"webhook-trigger"
    + _SEP
    + rb"([A-Za-z0-9-]{16,64})(?![A-Za-z0-9-])"
)
# A client id is `<24 hex>-<8 base36>`; the regex starts at its `-` (a fast literal search) and
# looks back for the hex, as `[0-9a-f]{24}` first would try every hex digit of the text.
_CLIENT_ID_RE = re.compile(
    rb"-(?<=[0-9a-f]{24}-)" + _after_boundary(rb"[0-9a-zA-Z]", 25) + rb"([0-9a-z]{8})(?![0-9a-zA-Z])", re.S
)


def _find_client_id(data: bytes) -> Optional[str]:
    m = _CLIENT_ID_RE.search(data)
    return data[m.start() - 24 : m.end()].decode() if m else None


_ASSIGN_RE = re.compile(
    ASSIGN_HEAD + rb"(?:(" + _UUID + rb")(?![A-Za-z0-9])"
    # or the UUID base64-encoded (a Kubernetes Secret's `data:`)
    rb"|(" + B64_UUID + rb")(?![A-Za-z0-9+/=]))"
)
_UUID_FULL_RE = re.compile(_UUID + rb"\s?\Z")
_B64_TOKEN_RE = re.compile(rb"[A-Za-z0-9+/]{16,}={0,2}")
_KEY_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_GHL_NAMES = (b"highlevel", b"leadconnector", b"msgsndr")
_CONTEXT_WINDOW = 2000
_B64_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-")
_MAX_B64_RUN = 4 * 1024 * 1024
_PLACEHOLDER_WORDS = (
    b"your",
    b"example",
    b"placeholder",
    b"sample",
    b"dummy",
    b"xxxx",
    b"redacted",
    b"token",
    b"secret",
)


def scan_or_error(data: bytes, path: str = "") -> Tuple[List[Finding], Optional[str]]:
    """What every source calls: the findings in one input, or why it could not be scanned.

    A detector bug triggered by one file or blob must not end the run and lose every other
    finding: it becomes that input's error (the caller reports it as not scanned, exit 2). The
    message names the error type only: an exception's text could quote the input. Findings on a
    `pit-guard: allow` line are kept, marked `allowed`, so the pipeline can count them."""
    try:
        return scan_bytes(data, path, keep_allowed=True), None
    except MemoryError:
        return [], "out of memory while scanning it"
    except Exception as e:  # noqa: BLE001 - any bug in detection is this input's error
        return [], f"detector error ({type(e).__name__}); please report it"


def scan_bytes(data: bytes, path: str = "", now: Optional[float] = None, keep_allowed: bool = False) -> List[Finding]:
    """Every GoHighLevel credential in `data`, in order of position, without duplicates.

    Findings on a line holding `pit-guard: allow` are left out, or with `keep_allowed` returned
    marked `allowed`."""
    now = time.time() if now is None else now
    candidates: Dict[Tuple[str, str, int], Tuple[str, Dict[str, Any]]] = {}
    for rule_id, secret, start, encoding, extra in _candidates(data, 0, now):
        candidates.setdefault((rule_id, secret, start), (encoding, extra))
    findings = []
    # Lines are counted from one candidate to the next (in order of position), so that many
    # findings in one big file cost one pass, not one pass each.
    line, counted_to, line_start = 1, 0, _BOM_LENGTH if data.startswith(_BOM) else 0
    suppressed: Dict[int, bool] = {}
    column_at = (-1, 0)  # (offset, its 1-based column) of the previous candidate on this line
    for (rule_id, secret, start), (encoding, extra) in sorted(candidates.items(), key=lambda c: (c[0][2], c[0][0])):
        newlines = data.count(b"\n", counted_to, start)
        if newlines:
            line += newlines
            line_start = data.rfind(b"\n", counted_to, start) + 1
        counted_to = start
        if line_start not in suppressed:
            line_end = data.find(b"\n", start)
            suppressed[line_start] = SUPPRESS_MARKER in data[line_start : len(data) if line_end == -1 else line_end]
        if suppressed[line_start] and not keep_allowed:
            continue
        since = column_at[0] if column_at[0] >= line_start else line_start
        column = (column_at[1] if since > line_start else 1) + len(data[since:start].decode("utf-8", "replace"))
        column_at = (start, column)
        findings.append(Finding(rule_id, secret, path, line, column, encoding, allowed=suppressed[line_start], **extra))
    findings.sort(key=lambda f: (f.line, f.column, f.rule_id))
    return findings


_Candidate = Tuple[str, str, int, str, Dict[str, Any]]


def _candidates(data: bytes, depth: int, now: float) -> Iterator[_Candidate]:
    found = families(data)
    if not found:
        return
    if PIT in found:
        yield from _pits(data)
    if JWT in found:
        yield from _jwts(data, now)
    if WEBHOOK in found:
        yield from _webhooks(data)
    if CONTEXT in found:
        yield from _context_secrets(data)
    if B64 in found and depth < MAX_DEPTH:
        yield from _base64_wrapped(data, depth, now)


# --- Private Integration Tokens ---------------------------------------------------------------


def _pits(data: bytes) -> Iterator[_Candidate]:
    for pit_re in _PIT_RES:
        for m in pit_re.finditer(data):
            uuid = m.group(1).decode().lower()
            if not is_placeholder_uuid(uuid):
                yield "ghl-private-integration-token", "pit-" + uuid, m.start(), "plain", {}


def is_placeholder_uuid(uuid: str) -> bool:
    """All-zero, one repeated digit, sequential or low-variety UUIDs are examples, not keys."""
    digits = uuid.replace("-", "").lower()
    if len(set(digits)) < 8:
        return True
    ascending = sum(1 for a, b in zip(digits, digits[1:]) if (int(b, 16) - int(a, 16)) % 16 == 1)
    # A random UUID has about two ascending neighbours; `12345678-…-90ab…` has over a dozen.
    return ascending >= 10


# --- JWTs: v1 API keys and OAuth tokens ---------------------------------------------------------


def _b64url_json(segment: bytes) -> Optional[Dict[str, Any]]:
    try:
        raw = base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
        value = json.loads(raw)
    except (ValueError, binascii.Error, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _plausible_signature(signature: bytes, alg: str) -> bool:
    """A real signature is random base64url of the algorithm's size, not a word like `example`."""
    if len(set(signature)) < 20:
        return False
    if alg.startswith("HS"):
        return len(signature) >= 43
    if alg.startswith(("RS", "PS")):
        return len(signature) >= 300
    return len(signature) >= 40


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and 8 <= len(value) <= 40 and value.isalnum() and value.isascii()


def _jwt_matches(data: bytes) -> Iterator["re.Match[bytes]"]:
    yield from _JWT_RE.finditer(data)
    yield from _GLUED_JWT_RE.finditer(data)


def _jwts(data: bytes, now: float) -> Iterator[_Candidate]:
    for m in _jwt_matches(data):
        token = m.group(0)
        header_b64, payload_b64, signature = token.split(b".", 2)
        header = _b64url_json(header_b64)
        payload = _b64url_json(payload_b64)
        if header is None or payload is None or not isinstance(header.get("alg"), str):
            continue
        if not _plausible_signature(signature, header["alg"]):
            continue
        judged = judge_jwt_payload(header["alg"], payload, now)
        if judged is not None:
            rule_id, extra = judged
            yield rule_id, token.decode(), m.start(), "plain", extra


# Claims outside 1970..9999 are not times (a crafted `exp: 1e30` or `Infinity` must not crash).
_MAX_EPOCH = 253_402_300_799


def _epoch_seconds(value: Any) -> Optional[int]:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < _MAX_EPOCH * 1000:
        return None
    # v1 keys carry `iat` in milliseconds.
    return int(value / 1000) if value > 10_000_000_000 else int(value)


def judge_jwt_payload(alg: str, payload: Dict[str, Any], now: float) -> Optional[Tuple[str, Dict[str, Any]]]:
    """Which GoHighLevel credential a decoded JWT is, with what its payload tells, or None."""
    issued_at = _epoch_seconds(payload.get("iat"))
    if "authClass" in payload and "authClassId" in payload:
        if str(payload.get("channel", "")).upper() != "OAUTH" and "oauthMeta" not in payload:
            return None
        auth_class = str(payload["authClass"])
        owner_id = str(payload["authClassId"])
        expires_at = _epoch_seconds(payload.get("exp"))
        lifetime = (expires_at - issued_at) if expires_at and issued_at else None
        refresh = "uniqueId" in payload or (lifetime is not None and lifetime > 30 * 86400)
        meta = payload.get("oauthMeta")
        scopes: Any = meta.get("scopes", ()) if isinstance(meta, dict) else ()
        if isinstance(scopes, str):
            scopes = scopes.split()
        extra: Dict[str, Any] = {
            "auth_class": auth_class,
            "location_id": owner_id if auth_class.lower() == "location" else None,
            "company_id": owner_id if auth_class.lower() != "location" else payload.get("companyId"),
            "client_id": str(payload["sourceId"]) if "sourceId" in payload else None,
            "scopes": tuple(str(s) for s in scopes) if isinstance(scopes, (list, tuple)) else (),
            "issued_at": issued_at,
            "expires_at": expires_at,
            "expired": expires_at is not None and expires_at < now,
        }
        return ("ghl-oauth-refresh-token" if refresh else "ghl-oauth-access-token"), extra
    # API v1 keys: HS256, a `version` claim, 20-character ids, and no expiry or issuer.
    if alg != "HS256" or "version" not in payload or any(k in payload for k in ("exp", "iss", "aud")):
        return None
    location_id, company_id = payload.get("location_id"), payload.get("company_id")
    extra = {"issued_at": issued_at}
    if _is_id(company_id):
        extra["company_id"] = company_id
    if location_id is not None:
        if not _is_id(location_id):
            return None
        return "ghl-v1-location-api-key", dict(extra, location_id=location_id)
    if _is_id(company_id):
        return "ghl-v1-agency-api-key", extra
    return None


# --- Inbound webhook URLs ---------------------------------------------------------------------


def _looks_like_placeholder(value: bytes) -> bool:
    lowered = value.lower()
    return len(set(lowered)) < 6 or any(word in lowered for word in _PLACEHOLDER_WORDS)


def _webhooks(data: bytes) -> Iterator[_Candidate]:
    for m in _WEBHOOK_RE.finditer(data):
        location_id, trigger_id = m.group(1), m.group(2)
        if _looks_like_placeholder(location_id) or _looks_like_placeholder(trigger_id):
            continue
        if trigger_id.count(b"-") == 4 and is_placeholder_uuid(trigger_id.decode()):
            continue
        text = m.group(0)
        encoding = "json-escaped" if b"\\/" in text else "url" if b"%2" in text else "plain"
        url = f"https://services.leadconnectorhq.com/hooks/{location_id.decode()}/webhook-trigger/{trigger_id.decode()}"
        scheme = _SCHEME_RE.search(data, max(0, m.start() - 16), m.start())
        start = scheme.start() if scheme else m.start()
        yield "ghl-inbound-webhook-url", url, start, encoding, {"location_id": location_id.decode()}


# --- UUID secrets known by their key name and context -------------------------------------------


def _key_start(lowered: bytes, at: int) -> int:
    """Where the key name holding the keyword at `at` begins. Measured from the end of the name,
    so every keyword inside one name (`secret_sso_key`) gives the same key."""
    end = at
    while end < len(lowered) and lowered[end] in _KEY_CHARS and end - at < 46:
        end += 1
    begin = end
    while begin > 0 and lowered[begin - 1] in _KEY_CHARS and end - begin < 120:
        begin -= 1
    return begin


# Secrets an integration makes for itself next to its GoHighLevel settings: not GHL credentials.
_OTHER_SECRET_WORDS = frozenset(
    (b"webhook", b"signing", b"signature", b"jwt", b"encryption", b"cookie", b"session", b"hmac", b"csrf", b"nextauth")
)
_ID_WORDS = frozenset((b"id", b"ids", b"uuid", b"guid"))


def _key_words(key: bytes) -> List[bytes]:
    """`ghlClientSecret` / `GHL_CLIENT_SECRET` -> [ghl, client, secret]."""
    spaced = re.sub(rb"([a-z0-9])([A-Z])", rb"\1 \2", key)
    return re.sub(rb"[^A-Za-z0-9]+", b" ", spaced).lower().split()


def _is_letter(byte: int) -> bool:
    return 65 <= byte <= 90 or 97 <= byte <= 122


def _mentions_ghl(text: bytes, lowered: bytes) -> bool:
    """A GoHighLevel name in `text`: HighLevel, LeadConnector, msgsndr, or `ghl` as a word, also
    inside camelCase (`ghlClientSecret`, `myGhlKey`) but not inside a word (`highlight`)."""
    if any(name in lowered for name in _GHL_NAMES):
        return True
    at = lowered.find(b"ghl")
    while at != -1:
        before = text[at - 1] if at > 0 else 32
        after = text[at + 3] if at + 3 < len(text) else 32
        starts = not _is_letter(before) or (before >= 97 and text[at] <= 90)
        ends = not _is_letter(after) or (text[at + 2] >= 97 and after <= 90)
        if starts and ends and not _inside_blob(text, at, camel=_is_letter(before) or _is_letter(after)):
            return True
        at = lowered.find(b"ghl", at + 1)
    return False


_BLOB_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-")


def _inside_blob(text: bytes, at: int, camel: bool) -> bool:
    """Whether `ghl` at `at` is part of a random-looking run (base64, a hash, minified data) rather
    than a name: `aGhlB` inside a base64 blob is not the word GHL."""
    begin, end = at, at + 3
    while begin > 0 and text[begin - 1] in _BLOB_CHARS and at - begin < 64:
        begin -= 1
    while end < len(text) and text[end] in _BLOB_CHARS and end - at < 64:
        end += 1
    run = text[begin:end]
    return len(run) > 48 or (camel and any(48 <= c <= 57 or c in b"+/" for c in run))


def _context_secrets(data: bytes) -> Iterator[_Candidate]:
    lowered = data.lower()
    reported: Set[int] = set()
    for keyword, at in _keywords(lowered, context_match_ends(data)):
        m = _ASSIGN_RE.match(data, at + len(keyword))
        if m is None or m.start(m.lastindex or 1) in reported:
            continue
        value_start = m.start(m.lastindex or 1)
        begin = _key_start(lowered, at)
        end = lowered.find(b'"', begin, value_start)
        judged = _judge_context_secret(data, lowered, slice(begin, value_start if end == -1 else end), m)
        if judged is not None:
            reported.add(value_start)
            yield judged


def _keywords(lowered: bytes, ends: Optional[List[int]]) -> Iterator[Tuple[bytes, int]]:
    """Every `secret`/`sso` in the data or, given where assignments end, only those that can
    start one (they lie at most ASSIGN_MAX_LENGTH bytes before its end)."""
    spans = [(0, len(lowered))] if ends is None else _merged(ends)
    for begin, end in spans:
        for keyword in (b"secret", b"sso"):
            at = lowered.find(keyword, begin, end)
            while at != -1:
                yield keyword, at
                at = lowered.find(keyword, at + 1, end)


def _merged(ends: List[int]) -> List[Tuple[int, int]]:
    spans: List[Tuple[int, int]] = []
    for end in sorted(ends):
        begin = max(0, end - ASSIGN_MAX_LENGTH)
        if spans and begin <= spans[-1][1]:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((begin, end))
    return spans


_SSO_MARKS = (b"ssokey", b"ssosecret", b"sharedsecret")
_CLIENT_MARKS = (b"client", b"app", b"oauth")


def _rule_for_key(words: List[bytes]) -> Optional[str]:
    """Which UUID secret a key names: an SSO / shared secret, an app's client secret, or neither."""
    key = b"".join(words)
    if b"sso" in words or key.startswith(b"sso") or any(mark in key for mark in _SSO_MARKS):
        return "ghl-sso-shared-secret"
    if b"secret" in key and (key.endswith(b"secret") or any(mark in key for mark in _CLIENT_MARKS)):
        return "ghl-oauth-client-secret"
    return None


def _judge_context_secret(data: bytes, lowered: bytes, key_span: slice, m: "re.Match[bytes]") -> Optional[_Candidate]:
    key = lowered[key_span]
    group = m.lastindex or 1
    value_start, value_end = m.start(group), m.end(group)
    if group == 1:
        uuid = m.group(1).decode().lower()
    else:
        decoded = _decode_base64(m.group(2))
        if decoded is None or not _UUID_FULL_RE.match(decoded):
            return None
        uuid = decoded.strip().decode().lower()
    if is_placeholder_uuid(uuid):
        return None
    words = _key_words(data[key_span])
    if words and words[-1] in _ID_WORDS:
        return None  # `sso_session_id`, Azure's `CLIENT_SECRET_ID`: identifiers, not secrets
    if _OTHER_SECRET_WORDS.intersection(words):
        return None  # the app's own secrets beside GHL settings (`GHL_WEBHOOK_SECRET`, JWT keys)
    rule_id = _rule_for_key(words)
    if rule_id is None:
        return None
    window = slice(max(0, value_start - _CONTEXT_WINDOW), value_end + _CONTEXT_WINDOW)
    client_id = _find_client_id(data[window])
    in_context = bool(client_id or _mentions_ghl(data[key_span], key) or _mentions_ghl(data[window], lowered[window]))
    if not in_context and group == 2:
        # A base64-encoded secret sits among base64-encoded neighbours (the other keys of the
        # same Kubernetes Secret): the context is in what they decode to.
        for token in _B64_TOKEN_RE.findall(data[window]):
            decoded = _decode_base64(token) or b""
            client_id = client_id or _find_client_id(decoded)
            if client_id or _mentions_ghl(decoded, decoded.lower()):
                in_context = True
                break
    if not in_context:
        return None
    assignment = data[m.start() : value_start]
    if group == 2:
        encoding = "base64"
    elif b'\\"' in assignment:
        encoding = "json-escaped"
    elif b"%2" in assignment or b"%3" in assignment:
        encoding = "url"
    else:
        encoding = "plain"
    extra = {"client_id": client_id} if client_id and rule_id == "ghl-oauth-client-secret" else {}
    return rule_id, uuid, value_start, encoding, extra


# --- Base64-wrapped credentials (Kubernetes Secrets, encoded env files) ---------------------------


def _base64_wrapped(data: bytes, depth: int, now: float) -> Iterator[_Candidate]:
    from pit_guard.prefilter import base64_anchor_positions

    done_until = -1
    for position in base64_anchor_positions(data):
        if position < done_until:
            continue
        # `=` only pads the end: stopping at it keeps `KEY=` out of the run.
        start = _run_start(data, position)
        end = _run_end(data, position)
        done_until = end
        # The run may begin before the encoded value does (`KEY:cGl0…` has no separator to stop
        # at), so try each of the four alignments until one decodes to a credential.
        for shift in range(4):
            decoded = _decode_base64(data[start + shift : end])
            inner = list(_candidates(decoded, depth + 1, now)) if decoded else []
            for rule_id, secret, _inner, _encoding, extra in inner:
                yield rule_id, secret, start + shift, "base64", extra
            if inner:
                break


# Run bounds are found by mapping base64 characters to `a` and others to a space, a chunk at a
# time, then searching for the space: C speed instead of a Python loop per byte.
_RUN_BACK = bytes(97 if c in _B64_CHARS and c != 61 else 32 for c in range(256))
_RUN_FORWARD = bytes(97 if c in _B64_CHARS else 32 for c in range(256))
_RUN_CHUNK = 64 * 1024


def _run_start(data: bytes, position: int) -> int:
    low = max(0, position - _MAX_B64_RUN)
    at = position
    while at > low:
        chunk_start = max(low, at - _RUN_CHUNK)
        stop = data[chunk_start:at].translate(_RUN_BACK).rfind(b" ")
        if stop != -1:
            return chunk_start + stop + 1
        at = chunk_start
    return low


def _run_end(data: bytes, position: int) -> int:
    high = min(len(data), position + _MAX_B64_RUN)
    at = position
    while at < high:
        chunk_end = min(high, at + _RUN_CHUNK)
        stop = data[at:chunk_end].translate(_RUN_FORWARD).find(b" ")
        if stop != -1:
            return at + stop
        at = chunk_end
    return high


def _decode_base64(run: bytes) -> Optional[bytes]:
    run = run.rstrip(b"=")
    run = run[: len(run) - len(run) % 4] if len(run) % 4 == 1 else run
    altchars = b"-_" if (b"-" in run or b"_" in run) else b"+/"
    try:
        return base64.b64decode(run + b"=" * (-len(run) % 4), altchars=altchars)
    except (ValueError, binascii.Error):
        return None


# --- Positions and suppression --------------------------------------------------------------------


def _line_column(data: bytes, offset: int) -> Tuple[int, int]:
    line_start = data.rfind(b"\n", 0, offset) + 1
    if line_start == 0 and data.startswith(_BOM):
        line_start = len(_BOM)
    column = len(data[line_start:offset].decode("utf-8", "replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


def _suppressed(data: bytes, offset: int) -> bool:
    line_start = data.rfind(b"\n", 0, offset) + 1
    line_end = data.find(b"\n", offset)
    return SUPPRESS_MARKER in data[line_start : len(data) if line_end == -1 else line_end]


# TEMP stand-in for scan_stream_or_error (the detector's streaming scan lands from another branch
# and replaces this whole block): reads everything, then scans it whole, so memory is NOT bounded.
_SCAN_STREAM_STAND_IN = True


def scan_stream_or_error(read: Callable[[int], bytes], path: str = "") -> Tuple[List[Finding], Optional[str]]:
    parts = []
    while True:
        part = read(1 << 20)
        if not part:
            break
        parts.append(part)
    return scan_or_error(b"".join(parts), path)
