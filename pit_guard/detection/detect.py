"""Find GoHighLevel credentials in bytes: pure functions, no I/O.

Two stages, as fast scanners do: a one-pass literal prefilter (`prefilter.py`) says which families
of rules can match at all, then only those families run their regexes and checks. Candidates are
then judged on content: JWT payloads are decoded, UUIDs are checked for placeholders, context
secrets need a key name and a GoHighLevel context.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import codecs
import collections
import functools
import json
import math
import re
import time
from typing import Any, Callable, Dict, FrozenSet, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from pit_guard.detection.generic import RULE_ID as GENERIC_RULE
from pit_guard.detection.generic import generic_candidates
from pit_guard.detection.patterns import (
    ASSIGN_HEAD,
    ASSIGN_MAX_LENGTH,
    B64,
    B64_LINE_END,
    B64_LINES,
    B64_UUID,
    CONTEXT,
    FIREBASE_REFRESH,
    GENERIC,
    JWT,
    PIT,
    SEP,
    UUID,
    WEBHOOK,
)
from pit_guard.detection.prefilter import context_match_ends, families, families_and_line_ends, generic_match_ends
from pit_guard.finding import Finding, redact_text

SUPPRESS_MARKER = b"pit-guard: allow"
MAX_DEPTH = 2  # base64 inside base64 inside a file, and no deeper (see _base64_wrapped)
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
# The same for RS256 headers with a key id first (`{"alg":"RS256","kid":"…","typ":"JWT"}`: Firebase
# ID tokens), the key id's length bounded so that this stays linear too.
_GLUED_KID_JWT_RE = re.compile(
    rb"eyJhbGciOiJSUzI1NiIsImtpZCI6I(?<=[A-Za-z0-9_-].{29})[A-Za-z0-9_-]{20,200}\.eyJ[A-Za-z0-9_-]{8,}\.([A-Za-z0-9_-]*)",
    re.S,
)
_SEP = SEP
# The scheme is looked for behind a match (a literal-first regex stays fast), so that the finding
# starts where the URL does.
_SCHEME_RE = re.compile(rb"https?(?::|%3[aA])" + _SEP + rb"{2}\Z")
# An inbound webhook trigger's path, on whatever host serves it: GoHighLevel's own (more than one
# leadconnectorhq.com host carries it) or an agency's white-label API domain. The regex starts at
# the literal `hooks`; the host is read backwards from there (_host_before).
_WEBHOOK_RE = re.compile(
    rb"hooks"
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
_UUID_ID_RE = re.compile(_UUID + rb"\Z")
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
    marked `allowed`. UTF-16 and UTF-32 text (see `wide_encoding`) is also scanned decoded, with
    lines and columns in its decoded characters."""
    now = time.time() if now is None else now
    encoding, _binary = _kind(data)
    # Any data not taken for UTF-16/32 text as a whole may still hold such text somewhere (binary
    # data, PowerShell's `>>` appending UTF-16 to an ASCII file): see _all_candidates.
    findings = _scan_plain(data, path, now, keep_allowed, embedded=encoding is None)
    if encoding is not None:
        # Decoded text has no byte order mark any more: a U+FEFF left at its start is a character.
        decoded = _decode_wide(data, encoding)
        findings += _scan_plain(decoded, path, now, keep_allowed, embedded=False, utf8_bom=False)
        findings = _merged_findings(findings)
    return findings


# --- UTF-16 / UTF-32 text -------------------------------------------------------------------------

_HEAD = 4096  # what `wide_encoding` looks at: the same bytes for a whole input and for a stream


def _kind(data: bytes) -> Tuple[Optional[str], bool]:
    """(wide_encoding of the data, whether to look for UTF-16 strings inside it), from its first
    4 KB. Plain text (no NUL there, no UTF-16 byte order mark) costs one bounded `memchr`."""
    if data.find(b"\x00", 0, _HEAD) == -1 and data[:2] not in _WIDE_BOMS:
        return None, False
    encoding = wide_encoding(data[:_HEAD])
    # Binary data (a NUL in the first 4 KB, git's own test) may hold UTF-16 strings.
    return encoding, encoding is None and b"\x00" in data[:_HEAD]


_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff")


def wide_encoding(head: bytes) -> Optional[str]:
    """The codec of UTF-16 or UTF-32 text starting with `head`, or None (UTF-8, ASCII, binary).

    A byte order mark says it (what Notepad writes); without one, UTF-16 is recognised as ASCII
    text interleaved with NULs (what Windows PowerShell's `>` writes): at least 90% of the bytes
    on one parity are NUL and at most 10% on the other."""
    if head[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        return "utf-32"
    if head[:2] in _WIDE_BOMS:
        return "utf-16"
    if b"\x00" not in head:
        return None
    pairs = len(head) // 2
    if pairs < 4:
        return None
    even, odd = head[0 : 2 * pairs : 2].count(0), head[1 : 2 * pairs : 2].count(0)
    if odd * 10 >= pairs * 9 and even * 10 <= pairs:
        return "utf-16-le"
    if even * 10 >= pairs * 9 and odd * 10 <= pairs:
        return "utf-16-be"
    return None


def _decode_wide(data: bytes, encoding: str) -> bytes:
    """UTF-16/32 `data` as UTF-8 (undecodable units become U+FFFD), the byte order mark dropped."""
    return data.decode(encoding, "replace").encode("utf-8", "replace")


def _merged_findings(findings: List[Finding]) -> List[Finding]:
    """Findings of the raw bytes and of the decoded text, in one order, without duplicates (a
    text guessed to be UTF-16 is also scanned as bytes, so that a wrong guess loses nothing)."""
    unique = list(dict.fromkeys(findings))
    unique.sort(key=lambda f: (f.line, f.column, f.rule_id))
    return unique


def _scan_plain(
    data: bytes, path: str, now: float, keep_allowed: bool, embedded: bool = True, utf8_bom: bool = True
) -> List[Finding]:
    candidates: Dict[Tuple[str, str, int], Tuple[str, Dict[str, Any]]] = {}
    for rule_id, secret, start, encoding, extra in _all_candidates(data, now, embedded):
        candidates.setdefault((rule_id, secret, start), (encoding, extra))
    findings = []
    # Lines are counted from one candidate to the next (in order of position), so that many
    # findings in one big file cost one pass, not one pass each.
    line, counted_to, line_start = 1, 0, _BOM_LENGTH if utf8_bom and data.startswith(_BOM) else 0
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


def _all_candidates(data: bytes, now: float, embedded: bool) -> Iterator[_Candidate]:
    yield from _candidates(data, 0, now)
    # A NUL anywhere (one memchr: free for ordinary text) may be UTF-16/32 text, wherever it is.
    if embedded and b"\x00" in data:
        yield from _embedded_wide(data, now)


# UTF-16 / UTF-32 strings inside other data (a binary file's resources, a registry hive, UTF-16
# appended to an ASCII file, UTF-32 or UTF-16 text without a byte order mark whose head is not
# ASCII): printable ASCII code units, little- or big-endian, at least 12 characters. Each is
# (pattern, code unit width, offset of the ASCII byte in a unit).
# Searched in a copy of the data mapped to one letter per byte class (`a` for the ASCII bytes above,
# `0` for NUL, `x` for the rest), so each pattern starts with a literal that `re` finds at memchr
# speed; over the raw bytes a pattern starting with a character class is tried at every position
# (a few MB/s on binary data).
_WIDE_MAP = bytes(97 if c in b"\t\n\r" or 0x20 <= c <= 0x7E else 48 if c == 0 else 120 for c in range(256))
_WIDE_RUN_RES = (
    (re.compile(b"a0" * 12 + rb"(?:a0)*"), 2, 0),
    (re.compile(b"0a" * 12 + rb"(?:0a)*"), 2, 1),
    (re.compile(b"a000" * 12 + rb"(?:a000)*"), 4, 0),
    (re.compile(b"000a" * 12 + rb"(?:000a)*"), 4, 3),
)


def _embedded_wide(data: bytes, now: float) -> Iterator[_Candidate]:
    """Credentials written as UTF-16 or UTF-32 inside other data, anywhere in it, at the offset of
    their first code unit (so line and column are those of the raw bytes: exact for the line when
    what precedes is ASCII or UTF-16/32 ASCII text, the column counting bytes of wide text). Linear,
    and cheap when there is none: one prefilter pass over the data without its NULs, and only when
    that finds a family, one translation, four literal-prefixed searches and the prefilter per run."""
    if not families(data.translate(None, b"\x00")):
        return  # no wide token can be there: the data without its NULs holds each as plain text
    mapped = data.translate(_WIDE_MAP)
    runs = sorted(
        (m.start(), m.end(), width, offset)
        for pattern, width, offset in _WIDE_RUN_RES
        for m in pattern.finditer(mapped)
    )
    kept_until = -1
    for start, end, width, offset in runs:
        if start < kept_until:
            continue  # the same run seen some bytes off, in the other byte order
        kept_until = end
        text = data[start + offset : end : width]
        for rule_id, secret, at, encoding, extra in _candidates(text, 0, now):
            yield rule_id, secret, start + width * at, encoding, extra


def _candidates(data: bytes, depth: int, now: float, found: Optional[FrozenSet[str]] = None) -> Iterator[_Candidate]:
    """The specific rules' candidates, then the generic rule's (generic.py) where the prefilter saw a
    GoHighLevel name: never a value a specific rule reports, nor a placeholder UUID."""
    if found is None:
        found, seen = families_and_line_ends(data)
        specific = _specific_candidates(data, depth, now, found, seen)
    else:
        specific = _specific_candidates(data, depth, now, found)
    if GENERIC not in found:
        yield from specific
        return
    spans = []
    values = set()
    for candidate in specific:
        spans.append((candidate[2], candidate[2] + len(candidate[1])))
        values.add(candidate[1])
        yield candidate
    for secret, start, encoding, key in generic_candidates(data, generic_match_ends(data)):
        end = start + len(secret)
        if secret in values or any(s < end and start < e for s, e in spans):
            continue  # a specific rule's value (or part of one), here or elsewhere in the data
        if _UUID_ID_RE.match(secret.encode()) and is_placeholder_uuid(secret):
            continue
        yield GENERIC_RULE, secret, start, encoding, {"key": redact_text(key)}


def _specific_candidates(
    data: bytes, depth: int, now: float, found: FrozenSet[str], seen: Optional[List[int]] = None
) -> Iterator[_Candidate]:
    """`found` is a superset of families(data) (a necessary condition of each family's pass, so a
    superset only costs passes that find nothing); `seen`, the line ends below when the families
    pass gave them."""
    if depth < MAX_DEPTH:
        # Also without an anchor: a token's anchor may be cut by a line break of wrapped base64.
        # Lines ending in base64 are seen by the prefilter (B64_LINES); the data's end is checked here.
        line_ends = _b64_line_ends(data, seen) if B64_LINES in found else _end_of_data(data)
        if B64 in found or line_ends:
            yield from _base64_wrapped(data, depth, now, B64 in found, line_ends)
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
    if FIREBASE_REFRESH in found:
        yield from _firebase_refresh_tokens(data, depth)


# --- Private Integration Tokens ---------------------------------------------------------------


def _pits(data: bytes) -> Iterator[_Candidate]:
    pits = []
    for pit_re in _PIT_RES:
        for m in pit_re.finditer(data):
            uuid = m.group(1).decode().lower()
            if not is_placeholder_uuid(uuid):
                pits.append((m.start(), uuid))
    if not pits:
        return
    near = _Mentions(data, [at for at, _ in pits])  # once per input, and only when it holds a PIT
    for at, uuid in pits:
        found = near.nearest(at)
        extra: Dict[str, Any] = {"location_id": found, "location_near": True} if found else {}
        yield "ghl-private-integration-token", "pit-" + uuid, at, "plain", extra


# A sub-account id written beside a PIT (`locationId: "…"`, `GHL_LOCATION_ID=…`, a `/locations/<id>`
# URL): an opaque PIT does not say which sub-account it opens; validation/reach.py confirms it.
# Searched in the lower-cased data (same offsets) so that each pattern starts with a literal that
# `re` finds fast; the id itself is then read from the original bytes.
_LOCATION_MENTION_RES = (
    re.compile(rb"location[_-]?id[\"']?\s{0,4}[:=]\s{0,4}[\"']?([a-z0-9]{20})(?![a-z0-9])"),
    re.compile(rb"/locations/([a-z0-9]{20})(?![a-z0-9])"),
)
# Beside means within NEAR bytes of the PIT, and among the NEAREST_TRIED ids nearest to it on each
# side: what one PIT costs stays bounded however many ids (or placeholders) a hostile file holds.
NEAR = 8192
NEAREST_TRIED = 8
_MENTION_SLACK = 64  # read past a window's edge so that an id is never cut there


class _Mentions:
    """The sub-account ids written within NEAR bytes of any of `spots` (offsets), found in one pass
    over those windows (merged); placeholders are told apart only for the ids a PIT asks about."""

    def __init__(self, data: bytes, spots: Optional[List[int]] = None) -> None:
        self._data = data
        windows: List[List[int]] = [] if spots is not None else [[0, len(data)]]
        for at in sorted(spots or ()):
            lo, hi = max(0, at - NEAR), at + NEAR
            if windows and lo <= windows[-1][1]:
                windows[-1][1] = max(windows[-1][1], hi)
            else:
                windows.append([lo, hi])
        found: List[Tuple[int, int]] = []  # (offset of the mention, offset of its id)
        for lo, hi in windows:
            lowered = data[lo : hi + _MENTION_SLACK].lower()
            for pattern in _LOCATION_MENTION_RES:
                found.extend(
                    (lo + m.start(), lo + m.start(1)) for m in pattern.finditer(lowered) if m.start() < hi - lo
                )
        found.sort()
        self._found = found
        self._offsets = [at for at, _ in found]
        self._checked: Dict[int, Optional[str]] = {}

    def _id(self, index: int) -> Optional[str]:
        """The id of mention `index`, None for a placeholder (checked once)."""
        if index not in self._checked:
            at = self._found[index][1]
            value = self._data[at : at + 20]
            self._checked[index] = None if _looks_like_placeholder(value) else value.decode()
        return self._checked[index]

    def all(self) -> List[Tuple[int, str]]:
        return [(at, found) for i, (at, _) in enumerate(self._found) for found in [self._id(i)] if found]

    def nearest(self, at: int) -> Optional[str]:
        """The real id written nearest to offset `at`, within NEAR bytes, among the few nearest."""
        i = bisect.bisect_left(self._offsets, at)
        candidates = []
        for step, stop in ((-1, max(-1, i - 1 - NEAREST_TRIED)), (1, min(len(self._found), i + NEAREST_TRIED))):
            j = i - 1 if step < 0 else i
            while j != stop:
                distance = abs(self._offsets[j] - at)
                if distance > NEAR:
                    break
                found = self._id(j)
                if found:
                    candidates.append((distance, j, found))
                    break
                j += step
        return min(candidates)[2] if candidates else None


def location_mentions(data: bytes) -> List[Tuple[int, str]]:
    """(offset, id) of every sub-account id written in `data`, in order, placeholders left out."""
    return _Mentions(data).all()


_HEX_VALUES = {c: i for i, c in enumerate("0123456789abcdef")}
# What a UUID typed by hand looks like: few distinct digits, digits of low Shannon entropy (one digit
# repeated), neighbour steps of low entropy (counting `0123…`, `fedc…`, `1357…`, short blocks
# repeated: the step from one digit to the next is always the same few), or the whole repeating
# itself at a short period (`3f2b9c4e-3f2b-9c4e-…`). bench/calibrate_placeholders.py measures them:
# over 2 million random UUIDs v4 none was judged a placeholder (the lowest / highest seen below).
_MIN_DISTINCT_DIGITS = 7  # random UUIDs: fewest seen 8 (fewer than 7: about 1 in 10^9)
_MIN_DIGIT_ENTROPY = 2.5  # bits per digit; random UUIDs: median 3.63, lowest seen 2.72
_MIN_STEP_ENTROPY = 1.5  # bits per neighbour step; random UUIDs: median 3.61, lowest seen 2.72
_MAX_PERIOD_MATCH = 0.75  # share of digits equal to the one `p` places on; random UUIDs: highest seen 0.53


def shannon_entropy(symbols: Sequence[object]) -> float:
    """Shannon entropy in bits per symbol of `symbols` (0.0 for an empty sequence)."""
    return _entropy_of_counts(collections.Counter(symbols).values(), len(symbols))


def _entropy_of_counts(counts: Iterable[int], total: int) -> float:
    if not total:
        return 0.0
    return math.log2(total) - sum(n * math.log2(n) for n in counts) / total


_HEX_DIGITS = frozenset("0123456789abcdef")


@functools.lru_cache(maxsize=4096)  # a file may repeat one UUID thousands of times
def is_placeholder_uuid(uuid: str) -> bool:
    """Whether a UUID is a hand-typed example (all zeros, one digit, counting, repeated blocks), not a
    random key: judged by its entropy, not by a list (see the thresholds above)."""
    digits = uuid.replace("-", "").lower()
    if len(digits) != 32 or not _HEX_DIGITS.issuperset(digits):
        return True  # not hex, so not a UUID at all (`abcdefgh-ijkl-mnop-…`): never a key
    counts = [digits.count(c) for c in set(digits)]
    if len(counts) < _MIN_DISTINCT_DIGITS or _entropy_of_counts(counts, 32) < _MIN_DIGIT_ENTROPY:
        return True
    values = bytes.fromhex("".join("0" + c for c in digits))
    steps = bytes((b - a) & 15 for a, b in zip(values, values[1:]))
    if _entropy_of_counts([steps.count(c) for c in set(steps)], 31) < _MIN_STEP_ENTROPY:
        return True
    # Digits equal to the one `period` places on: the zero nibbles of the number XOR itself shifted.
    number = int(digits, 16)
    for period in range(1, 17):
        width = 32 - period
        same = format((number ^ (number >> (4 * period))) & ((1 << (4 * width)) - 1), f"0{width}x").count("0")
        if same >= _MAX_PERIOD_MATCH * width:
            return True
    return False


# --- JWTs: v1 API keys and OAuth tokens ---------------------------------------------------------


def _b64url_json(segment: bytes) -> Optional[Dict[str, Any]]:
    try:
        raw = base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
        value = json.loads(raw)
    except (ValueError, binascii.Error, RecursionError):
        return None
    return value if isinstance(value, dict) else None


# The length in base64url characters (no padding) of each signature an algorithm makes: HMAC and
# EdDSA sizes are fixed, ECDSA's by curve, RSA's by key size (2048, 3072, 4096 and 8192 bits;
# GoHighLevel's OAuth tokens carry 2048-bit (342) and its web-app session tokens 4096-bit (683) ones).
_RSA_LENGTHS = (342, 512, 683, 1366)
SIGNATURE_LENGTHS: Dict[str, Tuple[int, ...]] = {
    "HS256": (43,),
    "HS384": (64,),
    "HS512": (86,),
    "ES256": (86,),
    "ES384": (128,),
    "ES512": (176,),
    "EdDSA": (86,),
    **{f"{kind}{bits}": _RSA_LENGTHS for kind in ("RS", "PS") for bits in (256, 384, 512)},
}


def _signature_cut(signature: bytes, alg: str) -> Optional[bytes]:
    """The signature without text glued after it (`…sigtial_token'`, a token pasted into a word), cut
    to the longest length its algorithm allows that fits, or None when it cannot be a signature
    (too short, or not random: a word like `example`)."""
    lengths = SIGNATURE_LENGTHS.get(alg)
    if lengths is not None:
        fitting = [n for n in lengths if n <= len(signature)]
        if not fitting:
            return None
        signature = signature[: fitting[-1]]
    elif len(signature) < (300 if alg.startswith(("RS", "PS")) else 40):
        return None
    return signature if len(set(signature)) >= 20 else None


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and 8 <= len(value) <= 40 and value.isalnum() and value.isascii()


def _jwt_matches(data: bytes) -> Iterator["re.Match[bytes]"]:
    yield from _each_start(_JWT_RE, data)
    yield from _each_start(_GLUED_JWT_RE, data)
    yield from _each_start(_GLUED_KID_JWT_RE, data)


def _each_start(pattern: "re.Pattern[bytes]", data: bytes) -> Iterator["re.Match[bytes]"]:
    """A match at every position the pattern can start, also inside an earlier match: JWTs glued
    together (`…sig1eyJhbGci…`) end in the next one's header, and finditer, which resumes after
    a match, found every other one, depending on where it began (so a stream window, starting
    elsewhere, found others). Still linear: a JWT can only start after a `.` inside another."""
    m = pattern.search(data)
    while m is not None:
        yield m
        m = pattern.search(data, m.start() + 1)


def _jwts(data: bytes, now: float) -> Iterator[_Candidate]:
    for m in _jwt_matches(data):
        header_b64, payload_b64, glued = m.group(0).split(b".", 2)
        header = _b64url_json(header_b64)
        payload = _b64url_json(payload_b64)
        if header is None or payload is None or not isinstance(header.get("alg"), str):
            continue
        signature = _signature_cut(glued, header["alg"])
        if signature is None:
            continue
        token = b".".join((header_b64, payload_b64, signature))
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


_MAX_CLAIM_LENGTH = 128
_MAX_SCOPES = 256


def _claim_text(value: Any) -> Optional[str]:
    """A claim as text for a report (an id, a class, a scope), or None when it is not one: only
    short printable strings and plain integers, never a list, object, bool or null a crafted token
    may carry (their text could be huge, deeply nested, or hold terminal escapes)."""
    if isinstance(value, str):
        # A claim shaped like a token (a crafted JWT can carry a PIT as its "client id") is not an
        # id: reports show claims in full, so it must never reach them.
        plain = len(value) <= _MAX_CLAIM_LENGTH and value.isprintable() and redact_text(value) == value
        return value if plain else None
    if isinstance(value, int) and not isinstance(value, bool) and -(10**40) < value < 10**40:
        return str(value)
    return None


def judge_jwt_payload(alg: str, payload: Dict[str, Any], now: float) -> Optional[Tuple[str, Dict[str, Any]]]:
    """Which GoHighLevel credential a decoded JWT is, with what its payload tells, or None."""
    issued_at = _epoch_seconds(payload.get("iat"))
    session = _judge_session_jwt(payload, issued_at, now)
    if session is not None:
        return session
    if "authClass" in payload and "authClassId" in payload:
        if (_claim_text(payload.get("channel")) or "").upper() != "OAUTH" and "oauthMeta" not in payload:
            return None
        auth_class = _claim_text(payload["authClass"])
        owner_id = _claim_text(payload["authClassId"])
        if auth_class is None or owner_id is None:
            return None  # a list, object, null or kilobytes of text: not GoHighLevel's claims
        expires_at = _epoch_seconds(payload.get("exp"))
        lifetime = (expires_at - issued_at) if expires_at and issued_at else None
        refresh = "uniqueId" in payload or (lifetime is not None and lifetime > 30 * 86400)
        meta = payload.get("oauthMeta")
        scopes: Any = meta.get("scopes", ()) if isinstance(meta, dict) else ()
        if isinstance(scopes, str):
            scopes = scopes.split()
        if not isinstance(scopes, list):
            scopes = []
        extra: Dict[str, Any] = {
            "auth_class": auth_class,
            "location_id": owner_id if auth_class.lower() == "location" else None,
            "company_id": owner_id if auth_class.lower() != "location" else _claim_text(payload.get("companyId")),
            "client_id": _claim_text(payload.get("sourceId")),
            "scopes": tuple(t for t in map(_claim_text, scopes[:_MAX_SCOPES]) if t is not None),
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


# Who issued a JWT GoHighLevel makes for a person (not for an app): its user JWTs, its web app's
# session tokens and the Firebase ID tokens of its `highlevel-backend` project.
_GHL_USER_ISSUER, _GHL_USER_AUDIENCE = "GHL", "leadconnectorhq.com"
_GHL_FIREBASE_PROJECT = "highlevel-backend"
_GHL_FIREBASE_ISSUER = "https://securetoken.google.com/" + _GHL_FIREBASE_PROJECT


def _audiences(payload: Dict[str, Any]) -> List[str]:
    audience = payload.get("aud")
    values = audience if isinstance(audience, list) else [audience]
    return [a for a in values[:16] if isinstance(a, str)]


def _judge_session_jwt(
    payload: Dict[str, Any], issued_at: Optional[int], now: float
) -> Optional[Tuple[str, Dict[str, Any]]]:
    """A user JWT (`iss: GHL`), a web-app session JWT (`channel: APP`, `source: WEB_USER`) or a
    Firebase ID token of GoHighLevel's project, with what its payload tells, or None."""
    audiences = _audiences(payload)
    extra: Dict[str, Any] = {}
    if payload.get("iss") == _GHL_USER_ISSUER and _GHL_USER_AUDIENCE in audiences:
        rule_id = "ghl-user-jwt"
        if _is_id(payload.get("agencyId")):
            extra["company_id"] = payload["agencyId"]
        if _is_id(payload.get("accountId")):
            extra["location_id"] = payload["accountId"]
    elif payload.get("channel") == "APP" and payload.get("source") == "WEB_USER":
        rule_id = "ghl-web-session-jwt"
        meta = payload.get("appMeta")
        if isinstance(meta, dict) and _is_id(meta.get("companyId")):
            extra["company_id"] = meta["companyId"]
    elif payload.get("iss") == _GHL_FIREBASE_ISSUER or _GHL_FIREBASE_PROJECT in audiences:
        rule_id = "ghl-firebase-id-token"
        if _is_id(payload.get("company_id")):
            extra["company_id"] = payload["company_id"]
    else:
        return None
    expires_at = _epoch_seconds(payload.get("exp"))
    extra.update(issued_at=issued_at, expires_at=expires_at, expired=expires_at is not None and expires_at < now)
    return rule_id, extra


# --- Firebase refresh tokens --------------------------------------------------------------------

# `AMf-vB` and at least 120 base64url characters: what Google's Secure Token service issues to every
# Firebase project, so only one near GoHighLevel's context is GoHighLevel's (_has_firebase_context).
_FIREBASE_REFRESH_RE = re.compile(rb"AMf-vB" + _after_boundary(rb"[A-Za-z0-9_-]", 6) + rb"[A-Za-z0-9_-]{120,}", re.S)
_FIREBASE_REFRESH_RULE = "ghl-firebase-refresh-token"


# GoHighLevel's Firebase web API key (public: its web app ships it; it says which project a
# securetoken.googleapis.com call is for), its Firebase project, and the header its ID tokens go in.
def _base64url_inner(text: bytes) -> Tuple[bytes, ...]:
    """`text` as it reads inside base64url at each of its three alignments (the characters that
    depend on it alone), lowercase: how a JWT beside a token names its project."""
    inner = []
    for shift in range(3):
        encoded = base64.urlsafe_b64encode(b"\0" * shift + text)
        inner.append(encoded[-(-8 * shift // 6) : 8 * (shift + len(text)) // 6].lower())
    return tuple(inner)


_GHL_FIREBASE_CONTEXT = (b"aizasyb_w3vxmsi7weqtriokjr6xtrvn5uoieie", b"highlevel-backend", b"token-id") + (
    # A GoHighLevel Firebase ID token's payload (`iss` / `aud`) beside the refresh token that minted
    # it: a securetoken response body, a Firebase persisted user's stsTokenManager.
    _base64url_inner(b'/highlevel-backend"')
)
# A random token's characters carry about 5.8 bits each; `AMf-vBxxxx…` or `AMf-vB123123…` far less.
_MIN_REFRESH_ENTROPY = 4.5
# A candidate found inside base64 whose decoded text has no context: the caller that decoded it
# judges it by the text around the encoded run (a Kubernetes Secret's other keys), then drops it.
_NEEDS_CONTEXT = "?"


class _FirebaseContext:
    """Whether GoHighLevel context lies within _CONTEXT_WINDOW bytes of a place in `data`, asked for
    many places of one input at the cost of about one pass over it: an input with no GoHighLevel word
    anywhere answers at once, and each base64 neighbour is decoded once however many windows hold it."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.maybe: Optional[bool] = None  # whether any GoHighLevel word is in `data` at all, found once
        self.tokens: Optional[List[Tuple[int, int]]] = None  # base64 runs (start, end), found once
        self.decoded: Dict[Tuple[int, int], bool] = {}  # what each base64 neighbour holds, by its span

    def plain(self, start: int, end: int) -> bool:
        if self.maybe is None:
            # A superset of _firebase_context_in over any window (`ghl` anywhere, not only as a word).
            lowered = self.data.lower()
            self.maybe = b"ghl" in lowered or any(w in lowered for w in _GHL_FIREBASE_CONTEXT + _GHL_NAMES)
        if not self.maybe:
            return False
        # The token itself left out: next to it, a key name (`GHL_REFRESH_TOKEN=AMf-vB…`) would look
        # like part of one long random run to _mentions_ghl.
        data = self.data
        return _firebase_context_in(
            data[max(0, start - _CONTEXT_WINDOW) : start] + b" " + data[end : end + _CONTEXT_WINDOW]
        )

    def encoded(self, at: int) -> bool:
        """Context in the plain text around `at` or in its base64 neighbours (a Kubernetes Secret's
        other keys), `at` being where a token was found encoded (its own run is not a neighbour)."""
        if self.plain(at, at + 1):
            return True
        if self.tokens is None:
            self.tokens = [m.span() for m in _B64_TOKEN_RE.finditer(self.data)]
        low, high = max(0, at - _CONTEXT_WINDOW), at + 1 + _CONTEXT_WINDOW
        first = bisect.bisect_left(self.tokens, (low, -1))
        if first and self.tokens[first - 1][1] > low:
            first -= 1  # a run that starts before the window and reaches into it
        for index in range(first, len(self.tokens)):
            begin, end = self.tokens[index]
            if begin >= high:
                break
            if begin <= at < end:
                continue
            # A neighbour up to _MEMO_RUN long is decoded whole, once (windows overlap); a longer one
            # only where it is inside this window.
            span = (begin, end) if end - begin <= _MEMO_RUN else (max(begin, low), min(end, high))
            if span not in self.decoded:
                self.decoded[span] = _firebase_context_in(_decode_base64(self.data[span[0] : span[1]]) or b"")
            if self.decoded[span]:
                return True
        return False


def _firebase_context_in(text: bytes) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in _GHL_FIREBASE_CONTEXT) or _mentions_ghl(text, lowered)


def _firebase_refresh_tokens(data: bytes, depth: int) -> Iterator[_Candidate]:
    context = _FirebaseContext(data)
    for m in _FIREBASE_REFRESH_RE.finditer(data):
        token = m.group(0)
        if context.plain(m.start(), m.end()):
            if not _placeholder_refresh_token(token):
                yield _FIREBASE_REFRESH_RULE, token.decode(), m.start(), "plain", {}
        elif depth > 0:  # judged by the encoded text's own surroundings (_judged_by_outer_context)
            yield _NEEDS_CONTEXT + _FIREBASE_REFRESH_RULE, token.decode(), m.start(), "plain", {}


def _placeholder_refresh_token(token: bytes) -> bool:
    return shannon_entropy(token) < _MIN_REFRESH_ENTROPY


def _judged_by_outer_context(
    context: _FirebaseContext, depth: int, candidates: Iterator[_Candidate]
) -> Iterator[_Candidate]:
    """Candidates decoded from base64 in `context.data`: one still needing context gets it from the
    data around its run, or is passed up (still needing it) to the next outer level, or dropped at the top."""
    for rule_id, secret, at, encoding, extra in candidates:
        if not rule_id.startswith(_NEEDS_CONTEXT):
            yield rule_id, secret, at, encoding, extra
        elif context.encoded(at):
            if not _placeholder_refresh_token(secret.encode()):
                yield rule_id[len(_NEEDS_CONTEXT) :], secret, at, encoding, extra
        elif depth > 0:
            yield rule_id, secret, at, encoding, extra


# --- Inbound webhook URLs ---------------------------------------------------------------------


def _looks_like_placeholder(value: bytes) -> bool:
    lowered = value.lower()
    return len(set(lowered)) < 6 or any(word in lowered for word in _PLACEHOLDER_WORDS)


# GoHighLevel's own domains: a trigger path on any host under them is a webhook URL.
_GHL_HOOK_DOMAINS = (b"leadconnectorhq.com", b"msgsndr.com")
_HOST_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-")
_HOST_RE = re.compile(rb"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,8}[a-z]{2,24}\Z")
_ID_20_RE = re.compile(rb"[A-Za-z0-9]{20}\Z")


def _host_before(data: bytes, at: int) -> Optional[Tuple[str, int]]:
    """The host name ending at the path separator just before `at` (lower case), and where the URL
    starts (its scheme when there is one, else the host), or None when no host name is there."""
    end = -1
    for sep in (b"\\/", b"/", b"%2F", b"%2f"):
        if data.endswith(sep, 0, at):
            end = at - len(sep)
            break
    begin = end
    while begin > 0 and data[begin - 1] in _HOST_CHARS and end - begin < 253:
        begin -= 1
    if data[begin - 1 : begin] == b"%" and begin > 0:
        begin += 2  # `%2F%2Fhost`: the escape's two digits are not the host's
    host = data[begin:end].lower() if end > 0 else b""
    if not _HOST_RE.match(host):
        return None
    scheme = _SCHEME_RE.search(data, max(0, begin - 16), begin)
    return host.decode(), scheme.start() if scheme else begin


def _is_ghl_host(host: str) -> bool:
    encoded = host.encode()
    return any(encoded == domain or encoded.endswith(b"." + domain) for domain in _GHL_HOOK_DOMAINS)


def _webhooks(data: bytes) -> Iterator[_Candidate]:
    for m in _WEBHOOK_RE.finditer(data):
        location_id, trigger_id = m.group(1), m.group(2)
        if _looks_like_placeholder(location_id) or _looks_like_placeholder(trigger_id):
            continue
        # A trigger id is a UUID or a 20-character id. With dashes it must be a real, random UUID:
        # `abcdefgh-ijkl-mnop-qrst-uvwxyz012345` has a UUID's shape but not its digits (made up).
        is_uuid = b"-" in trigger_id
        if is_uuid and (not _UUID_ID_RE.match(trigger_id) or is_placeholder_uuid(trigger_id.decode())):
            continue
        found = _host_before(data, m.start())
        if found is None:
            continue
        host, start = found
        # On a white-label domain only the unmistakable shape counts: a 20-character location id and
        # a UUID or 20-character trigger id, as GoHighLevel makes them.
        if not _is_ghl_host(host) and not (_ID_20_RE.match(location_id) and (is_uuid or _ID_20_RE.match(trigger_id))):
            continue
        text = data[start : m.end()]
        encoding = "json-escaped" if b"\\/" in text else "url" if b"%2" in text else "plain"
        url = f"https://{host}/hooks/{location_id.decode()}/webhook-trigger/{trigger_id.decode()}"
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
    # Only the parts looked at are lowercased (the spans before each assignment, each candidate's
    # window), not the whole input: a large file with a few candidates costs a few kilobytes.
    reported: Set[int] = set()
    for keyword, at in _keywords(data, context_match_ends(data)):
        m = _ASSIGN_RE.match(data, at + len(keyword))
        if m is None or m.start(m.lastindex or 1) in reported:
            continue
        value_start = m.start(m.lastindex or 1)
        begin = _key_start(data, at)  # name characters are the same in either case
        end = data.find(b'"', begin, value_start)
        judged = _judge_context_secret(data, slice(begin, value_start if end == -1 else end), m)
        if judged is not None:
            reported.add(value_start)
            yield judged


def _keywords(data: bytes, ends: Optional[List[int]]) -> Iterator[Tuple[bytes, int]]:
    """Every `secret`/`sso` in the data (in any case) or, given where assignments end, only those
    that can start one (they lie at most ASSIGN_MAX_LENGTH bytes before its end)."""
    spans = [(0, len(data))] if ends is None else _merged(ends)
    for begin, end in spans:
        lowered = data[begin:end].lower()
        for keyword in (b"secret", b"sso"):
            at = lowered.find(keyword)
            while at != -1:
                yield keyword, begin + at
                at = lowered.find(keyword, at + 1)


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


def _judge_context_secret(data: bytes, key_span: slice, m: "re.Match[bytes]") -> Optional[_Candidate]:
    key = data[key_span].lower()
    group = m.lastindex or 1
    value_start, value_end = m.start(group), m.end(group)
    if group == 1:
        uuid = m.group(1).decode().lower()
    else:
        decoded = _decode_base64(m.group(2))
        if decoded is None or not _UUID_FULL_RE.match(decoded):
            return None
        uuid = decoded.strip().decode().lower()
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
    around = data[window]
    in_context = bool(client_id or _mentions_ghl(data[key_span], key) or _mentions_ghl(around, around.lower()))
    if not in_context and group == 2:
        # A base64-encoded secret sits among base64-encoded neighbours (the other keys of the
        # same Kubernetes Secret): the context is in what they decode to.
        for token in _B64_TOKEN_RE.findall(data[window]):
            decoded = _decode_base64(token) or b""
            client_id = client_id or _find_client_id(decoded)
            if client_id or _mentions_ghl(decoded, decoded.lower()):
                in_context = True
                break
    if not in_context or is_placeholder_uuid(uuid):
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


# A base64 run shorter than this cannot hold a credential: the shortest (`pit-` and a UUID, or
# `sso=` and one) is 40 bytes, 54 characters of base64. Runs shorter than that are not decoded, so
# text dense with short anchor-bearing words (`cGl0LWFh cGl0LWFh …`, `cGl0LW` lines) costs one
# bounded look at each anchor, not a decode and a prefilter pass each.
_MIN_B64_RUN = 52
_LONG_RUN = b"a" * _MIN_B64_RUN  # a run that long, in data translated by _RUN_BACK
# A line ending in at least that many base64 characters (with `=` padding and CRLF or not): where a
# block of wrapped base64 may begin (`base64` and MIME wrap at 76 columns, PEM at 64), or a run
# that is itself base64 of base64 text. Literal first: the search is for the newline.
_B64_LINE_END = B64_LINE_END
_B64_LINE_END_RE = re.compile(rb"\n(?<=" + _B64_LINE_END + rb")")


def _b64_line_ends(data: bytes, seen: Optional[List[int]] = None) -> List[int]:
    """Offsets of the newline ending each line that ends in _MIN_B64_RUN base64 characters, in
    order (`seen`, those of the families pass, else hyperscan's database when it is the backend,
    else the regex: the same offsets), and the data's end when it ends in such a run."""
    from pit_guard.detection.prefilter import base64_line_ends

    ends = seen if seen is not None else base64_line_ends(data)
    if ends is None:
        ends = [m.start() for m in _B64_LINE_END_RE.finditer(data)]
    return ends + _end_of_data(data)


def _end_of_data(data: bytes) -> List[int]:
    """The end of the data, as a line end, when the data ends in a run without a newline
    (`base64 -w0` output)."""
    if data.endswith(b"\n") or not _B64_LINE_END_RE.search(data[-_MIN_B64_RUN - 3 :] + b"\n"):
        return []
    return [len(data)]


_MAX_WRAP_WIDTH = 4096


def _base64_wrapped(data: bytes, depth: int, now: float, anchored: bool, line_ends: List[int]) -> Iterator[_Candidate]:
    """Credentials inside base64: single runs holding a base64 anchor (a Kubernetes Secret's
    value), blocks of base64 wrapped at a fixed width (whose anchors a line break may cut), and
    base64 of base64 (MAX_DEPTH levels, found when the outer run ends a line or holds an anchor).
    Each run or block is decoded once: anchors inside one already decoded are skipped. A finding
    is reported where its run or block starts (for a wrapped block, the start of its first line)."""
    done: List[Tuple[int, int]] = []  # spans decoded, in order of position
    # What each distinct short run decodes to, found once (a file repeating one run costs one decoding).
    memo: Dict[Tuple[bytes, bool], List[_Candidate]] = {}
    context = _FirebaseContext(data)  # for a Firebase refresh token found encoded (costs nothing unasked)
    done_until = -1
    for end in line_ends:
        while end > 0 and data[end - 1] in b"\r=":
            end -= 1
        if end <= done_until:
            continue
        start = _run_start(data, end)
        if end - start < _MIN_B64_RUN:
            continue
        run, block_end = _wrapped_block(data, start, end)
        done.append((start, block_end))
        done_until = block_end
        nested_only = not anchored and block_end == end
        if nested_only and len(run) < _MIN_NESTED_RUN:
            continue  # no decoding of it is long enough to be a base64 line itself: nothing to look into
        yield from _judged_by_outer_context(context, depth, _memoized_run(memo, run, start, depth, now, nested_only))
    if not anchored:
        return
    from pit_guard.detection.prefilter import base64_anchor_positions

    # Run bounds from one translation of the data (base64 characters to `a`, others, `=` too, to a
    # space): the runs long enough to hold a credential are found in C, and only anchors inside
    # them, and not inside a run or block already decoded, cost a decoding.
    mapped = data.translate(_RUN_BACK)
    long_runs = []
    at = mapped.find(_LONG_RUN)
    while at != -1:
        run_end = mapped.find(b" ", at)
        run_end = len(data) if run_end == -1 else run_end
        long_runs.append((at, run_end))
        at = mapped.find(_LONG_RUN, run_end)
    if not long_runs:
        return
    runs = iter(long_runs)
    run_span = next(runs, None)
    spans = iter(done)
    span = next(spans, None)
    done_until = -1
    for position in base64_anchor_positions(data):
        while run_span is not None and run_span[1] <= position:
            run_span = next(runs, None)
        if run_span is None:
            break
        if position < run_span[0]:
            continue  # in a run too short to hold a credential
        while span is not None and span[1] <= position:
            span = next(spans, None)
        if position < done_until or (span is not None and span[0] <= position):
            continue  # inside a run or block already decoded
        # `=` only pads the end: stopping at it keeps `KEY=` out of the run.
        low = max(0, position - _MAX_B64_RUN)
        start = max(low, mapped.rfind(b" ", low, position) + 1)
        end = mapped.find(b" ", position, position + _MAX_B64_RUN)
        end = min(len(data), position + _MAX_B64_RUN) if end == -1 else end
        done_until = end
        if end - start >= _MIN_B64_RUN:
            yield from _judged_by_outer_context(
                context, depth, _memoized_run(memo, data[start:end], start, depth, now, False)
            )


_MEMO_RUN = 4096  # runs up to this long are remembered


def _memoized_run(
    memo: Dict[Tuple[bytes, bool], List[_Candidate]], run: bytes, start: int, depth: int, now: float, nested_only: bool
) -> Iterator[_Candidate]:
    if len(run) > _MEMO_RUN:
        yield from _decoded_run(run, start, depth, now, nested_only)
        return
    key = (run, nested_only)
    if key not in memo:
        memo[key] = list(_decoded_run(run, 0, depth, now, nested_only))
    for rule_id, secret, at, encoding, extra in memo[key]:
        yield rule_id, secret, start + at, encoding, extra


def _decoded_run(run: bytes, start: int, depth: int, now: float, nested_only: bool) -> Iterator[_Candidate]:
    """The credentials in one base64 run (or block, its lines joined) starting at `start`. The run
    may begin before the encoded value does (`KEY:cGl0…` has no separator to stop at), so each of
    the four alignments is tried until one decodes to a credential; one prefilter pass over all four
    decodings says whether any can hold one. With `nested_only` (a run without an anchor) only a
    decoding holding base64 text itself is looked into."""
    shifts: List[int] = list(range(4))
    if nested_only:  # cheap tests first: the alignments whose first 54 bytes decode to base64 text
        shifts = [s for s in shifts if _may_decode_to_base64(run, s)]
        shifts = [s for s in shifts if b" " not in (_decode_base64(run[s : s + 72]) or b" ").translate(_RUN_BACK)]
        if not shifts:
            return
    decodes = [_decode_base64(run[shift:]) or b"" if shift in shifts else b"" for shift in range(4)]
    if nested_only:
        decodes = [d if _B64_LINE_END_RE.search(d + b"\n") else b"" for d in decodes]
    joined = b"\n".join(decodes)
    found = families(joined)
    if not found and (depth + 1 >= MAX_DEPTH or not _B64_LINE_END_RE.search(joined + b"\n")):
        return
    for shift, decoded in enumerate(decodes):
        inner = list(_candidates(decoded, depth + 1, now, found)) if decoded else []
        for rule_id, secret, _inner, _encoding, extra in inner:
            yield rule_id, secret, start + shift, "base64", extra
        if inner:
            break


# A run without an anchor is looked into only when a decoding of it can itself be a base64 line
# (_B64_LINE_END: 52 characters before a newline), which takes 70 characters (70 * 3 // 4 = 52).
_MIN_NESTED_RUN = 70
# Base64 text is bytes 0x2B..0x7A, whose top six bits are 10..30: so in a run decoding to base64
# text, the first character of each group of four is one of these (base64 values 10..30).
_NESTED_QUAD_HEADS = b"KLMNOPQRSTUVWXYZabcde"


def _may_decode_to_base64(run: bytes, shift: int) -> bool:
    """A necessary condition, without decoding, of run[shift : shift + 72] decoding to base64 text:
    the first character of each group of four (one that has a second character, as _decode_base64
    drops a lone last one) encodes the top six bits of a byte that must be base64 text. Random
    base64 (a lockfile hash, a minified bundle's data URL) fails it within a few groups."""
    return not run[shift : min(len(run), shift + 72) - 1 : 4].translate(None, _NESTED_QUAD_HEADS)


def _wrapped_block(data: bytes, start: int, end: int) -> Tuple[bytes, int]:
    """The base64 of the block whose first line ends at `end`, its lines joined, and where the block
    ends. A block is lines of base64 of one width W (a multiple of 4), the last one W or shorter
    (with its `=` padding), the first one W or shorter (a value after `key: `), LF or CRLF; a run
    that is no such block's first line is returned alone."""
    lines = [data[start:end]]
    first, width, at, total = end - start, 0, end, end - start
    while total < _MAX_B64_RUN:
        newline = 2 if data[at : at + 2] == b"\r\n" else 1 if data[at : at + 1] == b"\n" else 0
        if not newline:
            break
        line_start = at + newline
        limit = min(len(data), line_start + (width or _MAX_WRAP_WIDTH) + 1)
        stop = data[line_start:limit].translate(_RUN_BACK).find(b" ")
        line_end = limit if stop == -1 else line_start + stop
        length = line_end - line_start
        if length == 0 or length > (width or _MAX_WRAP_WIDTH):
            break
        ends_line = data[line_end : line_end + 1] in (b"\n", b"\r") and line_end < len(data)
        if width == 0:
            if length < first or not ends_line:  # the second and last line
                if length <= first and first % 4 == 0:
                    lines.append(data[line_start:line_end])
                    at = line_end
                break
            if length % 4:
                break
            width = length
        elif length != width or not ends_line:
            lines.append(data[line_start:line_end])  # the last line
            at = line_end
            break
        lines.append(data[line_start:line_end])
        at, total = line_end, total + length
    return b"".join(lines), at


# Run bounds are found by mapping base64 characters to `a` and others to a space, a chunk at a
# time, then searching for the space: C speed instead of a Python loop per byte.
_RUN_BACK = bytes(97 if c in _B64_CHARS and c != 61 else 32 for c in range(256))
_RUN_CHUNK = 64 * 1024
# Most runs are short (a `KEY: cGl0…` value): the chunk starts small and doubles, so that each
# anchor costs about its run's length, not 64 KB (1231 short runs once cost 160 MB of translate).
_RUN_FIRST_CHUNK = 256


def _run_start(data: bytes, position: int) -> int:
    low = max(0, position - _MAX_B64_RUN)
    at, size = position, _RUN_FIRST_CHUNK
    while at > low:
        chunk_start = max(low, at - size)
        stop = data[chunk_start:at].translate(_RUN_BACK).rfind(b" ")
        if stop != -1:
            return chunk_start + stop + 1
        at, size = chunk_start, min(2 * size, _RUN_CHUNK)
    return low


def _decode_base64(run: bytes) -> Optional[bytes]:
    run = run.rstrip(b"=")
    run = run[: len(run) - len(run) % 4] if len(run) % 4 == 1 else run
    altchars = b"-_" if (b"-" in run or b"_" in run) else b"+/"
    try:
        return base64.b64decode(run + b"=" * (-len(run) % 4), altchars=altchars)
    except (ValueError, binascii.Error):
        return None


# --- Streams: large inputs in bounded memory -----------------------------------------------------

# The longest single token a window boundary is exact for (RS256 4096-bit JWTs are ~1.5 KB).
_MAX_TOKEN = 64 * 1024
# A window reports STREAM_CHUNK bytes from a scan of that plus an overlap on each side (~8 MB):
# 16 MB keeps a stream's peak memory near 150 MB for twice the scanning work of a whole read.
STREAM_CHUNK = 16 << 20
_STREAM_READ = 4 << 20  # bytes asked of `read` at a time: the buffer never grows by more


def stream_overlap() -> int:
    """How many bytes each window of a stream reaches before and after the part it reports.

    Every construct is local: a candidate depends on the bytes at most this far on either side.
    A base64 run is decoded from at most _MAX_B64_RUN bytes before its anchor to as many after
    it (so a candidate's anchor lies up to one run away, and the run a second), a wrapped block
    from its first line to at most _MAX_B64_RUN bytes and one line later; a context secret
    looks _CONTEXT_WINDOW bytes around its value and an assignment is ASSIGN_MAX_LENGTH long; a
    regex match is at most one token long (a match that began in the previous window may end
    one token later). Doubling the sum covers each on both sides: 8 MB + 133 KB by default.
    Lines, columns and `pit-guard: allow` markers are tracked over the whole stream, so they are
    exact whatever the length of a line."""
    return 2 * (_MAX_B64_RUN + _CONTEXT_WINDOW + ASSIGN_MAX_LENGTH + _MAX_TOKEN)


_MARKER_TAIL = len(SUPPRESS_MARKER) - 1


class _Lines:
    """Line, column and suppression of candidates met in order of position, fed the stream's
    bytes once, front to back: what scan_bytes computes from the whole input. Findings wait for
    the end of their line, where a `pit-guard: allow` marker may still come."""

    def __init__(self, path: str, keep_allowed: bool, skip: int) -> None:
        self.path, self.keep_allowed, self.skip = path, keep_allowed, skip
        self.fed = 0  # offset of the next byte to feed
        self.line, self.chars = 1, 0  # chars: characters since the start of the line
        self.marked, self.tail = False, b""  # marker seen on this line; its last bytes
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.pending: List[Tuple[str, str, int, int, str, Dict[str, Any]]] = []
        self.findings: List[Finding] = []

    def feed(self, data: bytes) -> None:
        self.fed += len(data)
        if self.skip:  # the UTF-8 byte order mark before line 1 is not a character
            data, self.skip = data[self.skip :], max(0, self.skip - len(data))
        if not data:
            return
        text = self.decoder.decode(data)
        first = data.find(b"\n")
        if first == -1:
            self.marked = self.marked or SUPPRESS_MARKER in self.tail + data[:_MARKER_TAIL] or SUPPRESS_MARKER in data
            self.tail = (self.tail + data[-_MARKER_TAIL:])[-_MARKER_TAIL:]
            self.chars += len(text)
            return
        self._end_line(self.marked or SUPPRESS_MARKER in self.tail + data[:first])
        last = data.rfind(b"\n")
        self.line += data.count(b"\n", first, last + 1)
        rest = data[last + 1 :]
        self.marked, self.tail = SUPPRESS_MARKER in rest, rest[-_MARKER_TAIL:]
        self.chars = len(text) - text.rfind("\n") - 1

    def add(self, rule_id: str, secret: str, encoding: str, extra: Dict[str, Any]) -> None:
        # Bytes of an unfinished character before a token (which starts with ASCII) count as
        # one replacement character, as decoding the line up to the token does.
        column = self.chars + (1 if self.decoder.getstate()[0] else 0) + 1
        self.pending.append((rule_id, secret, self.line, column, encoding, extra))

    def _end_line(self, marked: bool) -> None:
        if not marked or self.keep_allowed:
            for rule_id, secret, line, column, encoding, extra in self.pending:
                self.findings.append(
                    Finding(rule_id, secret, self.path, line, column, encoding, allowed=marked, **extra)
                )
        self.pending = []

    def finish(self) -> List[Finding]:
        self._end_line(self.marked)
        self.findings.sort(key=lambda f: (f.line, f.column, f.rule_id))
        return self.findings


class _Stream:
    """scan_bytes over bytes pushed piece by piece, holding at most chunk + 2 overlaps of them.

    Each window reports the candidates starting in [done, done + chunk) from a scan of the
    bytes from `done - overlap` to `done + chunk + overlap` (see stream_overlap)."""

    def __init__(self, path: str, chunk: int, now: float, keep_allowed: bool, skip: int, embedded: bool) -> None:
        self.chunk, self.now, self.overlap, self.embedded = max(1, chunk), now, stream_overlap(), embedded
        self.buf, self.buf_start, self.done = bytearray(), 0, 0
        self.lines = _Lines(path, keep_allowed, skip)

    def push(self, piece: bytes) -> None:
        self.buf += piece
        while self.buf_start + len(self.buf) - self.done >= self.chunk + self.overlap:
            self._window(self.done + self.chunk)

    def finish(self) -> List[Finding]:
        self._window(self.buf_start + len(self.buf))
        return self.lines.finish()

    def _window(self, high: int) -> None:
        data, base = bytes(self.buf), self.buf_start
        candidates: Dict[Tuple[str, str, int], Tuple[str, Dict[str, Any]]] = {}
        for rule_id, secret, start, encoding, extra in _all_candidates(data, self.now, self.embedded):
            if self.done <= base + start < high:
                candidates.setdefault((rule_id, secret, base + start), (encoding, extra))
        lines = self.lines
        for (rule_id, secret, start), (encoding, extra) in sorted(candidates.items(), key=lambda c: (c[0][2], c[0][0])):
            lines.feed(data[lines.fed - base : start - base])
            lines.add(rule_id, secret, encoding, extra)
        lines.feed(data[lines.fed - base : high - base])
        self.done = high
        drop = max(0, high - self.overlap - base)
        del self.buf[:drop]
        self.buf_start += drop


def scan_stream(
    read: Callable[[int], bytes],
    path: str = "",
    *,
    chunk_size: int = STREAM_CHUNK,
    now: Optional[float] = None,
    keep_allowed: bool = False,
) -> List[Finding]:
    """scan_bytes of everything `read(n)` returns until b"", in memory bounded by about
    chunk_size + 2 * stream_overlap() (twice that for UTF-16/32 text, also scanned decoded).

    The findings are exactly scan_bytes' on the whole content (rule ids, secrets, lines, columns,
    encodings, allowed flags), for any chunk size, as long as no single token is longer than
    64 KB (a JWT signature run beyond that may be cut at a window edge): base64 runs are decoded
    up to 4 MB in both, lines and allow markers are exact at any length."""
    now = time.time() if now is None else now
    head = b""
    while len(head) < _HEAD:
        piece = read(max(chunk_size, _HEAD))
        if not piece:
            break
        head += piece
    encoding, _binary = _kind(head)
    skip = _BOM_LENGTH if head.startswith(_BOM) else 0
    raw = _Stream(path, chunk_size, now, keep_allowed, skip, encoding is None)
    text = _Stream(path, chunk_size, now, keep_allowed, 0, False) if encoding else None
    decoder = codecs.getincrementaldecoder(encoding or "utf-8")("replace")
    piece = head
    while piece:
        raw.push(piece)
        if text is not None:
            text.push(decoder.decode(piece).encode("utf-8", "replace"))
        piece = read(min(chunk_size, _STREAM_READ))
    if text is None:
        return raw.finish()
    text.push(decoder.decode(b"", final=True).encode("utf-8", "replace"))
    return _merged_findings(raw.finish() + text.finish())


class _ReadError(Exception):
    """An error raised by the caller's `read`: not the detector's, passed on as it was."""

    def __init__(self, error: Exception) -> None:
        super().__init__(type(error).__name__)
        self.error = error


def scan_stream_or_error(read: Callable[[int], bytes], path: str = "") -> Tuple[List[Finding], Optional[str]]:
    """scan_or_error for a stream: its findings (allowed ones kept, marked), or why it could not
    be scanned. Only a detector error becomes the message (naming its type only); an exception
    raised by `read` itself (an I/O error) is re-raised unchanged, for the caller to report with
    what it knows of the source."""

    def guarded(size: int) -> bytes:
        try:
            return read(size)
        except Exception as e:
            raise _ReadError(e) from None

    try:
        return scan_stream(guarded, path, keep_allowed=True), None
    except _ReadError as e:
        raise e.error from None
    except MemoryError:
        return [], "out of memory while scanning it"
    except Exception as e:  # noqa: BLE001 - any bug in detection is this input's error
        return [], f"detector error ({type(e).__name__}); please report it"
