"""The entropy half of the detector: `ghl-generic-credential`, a random-looking value where a
GoHighLevel credential goes, in a shape no specific rule knows. Pure functions, no I/O.

"Where a credential goes" is one of two places:
- assigned to a key whose name says both GoHighLevel (`ghl`, `highlevel`, `leadconnector`,
  `msgsndr`, `lc`, `hl`, as whole name parts in any case style) and secret (`key`, `token`,
  `secret`, `password`, `auth`, `bearer`, `api`, `credential`, `pat`, …): GHL_API_KEY, ghlApiKey,
  highlevel.token, LEADCONNECTOR_SECRET;
- the bearer or Authorization header value of a request to a GoHighLevel API host in the same few
  lines (curl, fetch, axios, requests, Postman, n8n, HAR).

The detector (detect.py) runs this pass only where the prefilter saw a GoHighLevel name
(patterns.SHAPES[GENERIC]), after the specific rules, and drops any value a specific rule reports.
The value must then pass `judge_value`: length, character-class mix, Shannon entropy against what a
random string of its alphabet and length has, and the exclusions (identifiers, template and code
expressions, URLs and paths, hashes beside a hash-named key, other services' key shapes, repeated or
sequential patterns, dictionary words). docs/generic-rule.md says how the threshold was calibrated
(bench/calibrate_generic.py).
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
import re
from typing import Dict, Iterator, List, Optional, Sequence, Set, Tuple

from pit_guard.detection.patterns import QUOTE

RULE_ID = "ghl-generic-credential"

# --- the value's shape ------------------------------------------------------------------------

MIN_LENGTH = 16
MAX_LENGTH = 512
# Calibrated (bench/calibrate_generic.py): a value's Shannon entropy per character must reach this
# fraction of the most a string of its alphabet and length can have (entropy_ratio).
ENTROPY_RATIO = 0.85

_VALUE_CHARS = rb"A-Za-z0-9+/=_.~-"


def _value(group: int) -> bytes:
    """A value ends where its characters end; one followed by `(`, `[`, `@`, `:`, `$` or `{` is code,
    a call, an address or a template, not a literal.
    The value as capture `group`, taken whole or not at all: an atomic run (a lookahead's capture
    and its backreference), so that a run that is not a value (too long, or code) is rejected at
    once, not retried at every shorter length (`GHL_KEY=GHL_KEY=…` cost 3 s/MB)."""
    run = rb"(?=([" + _VALUE_CHARS + rb"]{%d,%d}))\%d" % (MIN_LENGTH, MAX_LENGTH, group)
    return run + rb"(?![(\[@:${" + _VALUE_CHARS + rb"])"


_VALUE = _value(1)
_WS = rb"[ \t]{0,16}"
_SPACE = rb"\s{0,64}"  # between the name and the value of a pretty-printed {"name": …, "value": …} pair
# A type between the name and `=` (`ghlApiKey: string = …`, `GHL_API_KEY: &str = …`, Go's `var k string = …`).
_TYPE = rb"(?::" + _WS + rb"&?(?:'static[ \t]+)?|[ \t]+)(?:str|string|String)" + _WS
# After a key name: closing quotes or `]` (`os.environ["GHL_KEY"] = …`), an n8n/Postman/HAR
# `{"name": "…", "value": "…"}` pair, an XML `key="…" value="…"` pair or a type, the operator, an
# opening quote, and an optional scheme word.
_ASSIGN_RE = re.compile(
    rb"(?:" + QUOTE + rb"|\])?" + _WS
    + rb"(?:," + _SPACE + QUOTE + rb"value" + QUOTE + _WS + rb"|[ \t]+value" + rb"|" + _TYPE + rb")?"
    rb"(?::=|:|=>|=|%3[aAdD])" + _WS + QUOTE + rb"?" + _WS + rb"(?:(?i:bearer|token|basic)[ \t]+)?" + _VALUE
)  # fmt: skip
# A literal fallback beside an environment lookup: `getenv("GHL_API_KEY", "…")`, `define('K', '…')`,
# `process.env.GHL_API_KEY || "…"`, `?? '…'`, `os.getenv("K") or "…"`: the value must be quoted.
_FALLBACK_RE = re.compile(
    rb"(?:" + QUOTE + rb")?\)?" + _WS + rb"(?:,|\|\||\?\?|or)" + _WS + rb"[\"'`]" + _VALUE + rb"[\"'`]"
)
# The value after white space alone: Dockerfile `ENV K v`, csh `setenv K v`, a flag `--ghl-api-key v`.
_SPACED_RE = re.compile(rb"[ \t]+" + QUOTE + rb"?" + _VALUE)
_SPACED_COMMANDS = (b"env", b"setenv")
_ELEMENT_RE = re.compile(rb">" + _VALUE + rb"<")
_KEY_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_MAX_KEY = 80

# --- key names ----------------------------------------------------------------------------------

GHL_WORDS = frozenset(("ghl", "gohighlevel", "highlevel", "leadconnector", "leadconnectorhq", "msgsndr", "lc", "hl"))
# Two-word spellings: GO_HIGH_LEVEL, leadConnector.
_GHL_PAIRS = (("high", "level"), ("lead", "connector"))
SECRET_WORDS = frozenset(
    (
        "key",
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "pass",
        "auth",
        "bearer",
        "api",
        "credential",
        "credentials",
        "cred",
        "creds",
        "pat",
        "apikey",
        "apitoken",
        "accesstoken",
        "authtoken",
        "refreshtoken",
        "secretkey",
        "privatekey",
        "accesskey",
        "authkey",
    )
)
# A key whose last part names one of these holds an identifier or a setting, not a secret
# (GoHighLevel's 20-character ids are random but public).
_NOT_SECRET_LAST = frozenset(
    (
        "id",
        "ids",
        "uuid",
        "guid",
        "location",
        "locations",
        "company",
        "calendar",
        "pipeline",
        "stage",
        "contact",
        "user",
        "workflow",
        "form",
        "survey",
        "funnel",
        "page",
        "url",
        "uri",
        "urls",
        "host",
        "endpoint",
        "domain",
        "path",
        "version",
        "scope",
        "scopes",
        "name",
        "email",
        "type",
        "mode",
        "prefix",
        "header",
        "expires",
        "expiry",
        "ttl",
        "enabled",
        "length",
        "file",
        "env",
    )
)
# Words whose presence anywhere in the key makes it something else: an app's own secrets beside its
# GoHighLevel settings (webhook signing keys, JWT and session secrets), hashes and public keys.
_OTHER_WORDS = frozenset(
    (
        # other services an integration talks to beside GoHighLevel (GHL_TWILIO_AUTH_TOKEN)
        "stripe",
        "twilio",
        "openai",
        "mailgun",
        "sendgrid",
        "google",
        "facebook",
        "slack",
        "zapier",
        "aws",
        "firebase",
        "supabase",
        "shopify",
        "hubspot",
        "airtable",
        "notion",
        "github",
        "calendly",
        "zoom",
        "webhook",
        "signing",
        "signature",
        "jwt",
        "encryption",
        "cookie",
        "session",
        "hmac",
        "csrf",
        "nextauth",
        "hash",
        "sha",
        "sha1",
        "sha256",
        "sha512",
        "md5",
        "checksum",
        "digest",
        "integrity",
        "fingerprint",
        "etag",
        "public",
        "publishable",
        "placeholder",
        "example",
        "dummy",
        "fake",
        "mock",
    )
)
_CAMEL_RE = re.compile(r"([a-z0-9])([A-Z])|([A-Z])([A-Z][a-z])")


def key_words(key: str) -> List[str]:
    """`ghlApiKey` / `GHL_API_KEY` / `highlevel.token` / `HLApiKey` -> its name parts, lowercase."""
    spaced = _CAMEL_RE.sub(lambda m: f"{m.group(1)} {m.group(2)}" if m.group(1) else f"{m.group(3)} {m.group(4)}", key)
    return re.sub(r"[^A-Za-z0-9]+", " ", spaced).lower().split()


# One lowercase word naming both: `ghltoken`, `highlevelapikey`, `tokenghl`.
_COMPOUNDS = frozenset(g + w for g in GHL_WORDS if len(g) > 2 for w in SECRET_WORDS) | frozenset(
    w + g for g in GHL_WORDS if len(g) > 2 for w in SECRET_WORDS
)


def _says_ghl(words: Sequence[str]) -> bool:
    if any(w in GHL_WORDS or w in _COMPOUNDS for w in words):
        return True
    return any(pair in _GHL_PAIRS for pair in zip(words, words[1:]))


def _says_secret(words: Sequence[str]) -> bool:
    return any(w in SECRET_WORDS or w in _COMPOUNDS for w in words)


@functools.lru_cache(maxsize=4096)
def _says_ghl_key(key: str) -> bool:
    return _says_ghl(key_words(key))


@functools.lru_cache(maxsize=4096)  # a file names the same keys again and again
def is_credential_key(key: str) -> bool:
    """Whether a value assigned to `key` is where a GoHighLevel credential goes."""
    words = key_words(key)
    if not words or not _says_ghl(words) or not _says_secret(words):
        return False
    if words[-1] in _NOT_SECRET_LAST or words[-1].endswith("id") and words[-1] not in SECRET_WORDS:
        return False  # ghlApiLocation, GHL_CLIENT_ID, ghlpatid
    return not _OTHER_WORDS.intersection(words)


# --- values -------------------------------------------------------------------------------------

# Other services' key shapes: a GoHighLevel-named variable holding one is a mislabelled other key.
_OTHER_SERVICE_RE = re.compile(
    r"(?i:pit-)|(?:sk|pk|rk)_(?:live|test)_|whsec_|AKIA|ASIA|gh[pousr]_|github_pat_|glpat-|xox[abposr]-|xapp-|AIza|SG\.|"
    r"sk-(?:proj-|ant-)?|eyJ|ya29\.|EAA[A-Za-z0-9]|shpat_|shpss_|npm_|pypi-|dop_v1_|SK[0-9a-f]{32}"
)
# A dotted name (`config.ghl.apiKey`, `Settings.GHL_TOKEN`): every part a word, camelCase or CONSTANT_CASE
# (a random `iRVw.Y7kQ.…` is not: its capitals do not start words).
_NAME_PART = r"[$_]?(?:[a-z]+(?:[A-Z][a-z]+)*|[A-Z][a-z]+(?:[A-Z][a-z]+)*|[A-Z][A-Z_]*)[0-9]*"
_DOTTED_NAME_RE = re.compile(_NAME_PART + r"(?:\." + _NAME_PART + r")+")
_CODE_STARTS = (
    "process.env",
    "os.environ",
    "getenv",
    "config.",
    "settings.",
    "secrets.",
    "env.",
    "vars.",
    "import.meta",
)
# Words of placeholders and configuration prose: a value made mostly of them is not random.
_WORDS = frozenset(
    """your my our the here there this that with from into enter insert put replace change changeme me
    api key keys token tokens secret secrets password pass passwd auth bearer access refresh private public
    client app apps agency location company user account admin root default example sample demo test
    testing dev development prod production staging local dummy fake mock placeholder value values none null
    true false undefined todo fixme xxx abc foo bar baz qux hello world lorem ipsum string text
    highlevel leadconnector ghl crm integration webhook hook oauth sso shared goes long random generated
    live new old temp tmp my real valid invalid super very strong hidden redacted removed not set
    """.split()
)
_WORD_RE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_HEX_CHARS = frozenset("0123456789abcdef")
_HEX_UPPER = frozenset("0123456789ABCDEF")


def _alphabet(value: str) -> int:
    """The size of the alphabet `value` looks drawn from: hex, base36, base62, base64."""
    chars = set(value)
    if chars <= _HEX_CHARS or chars <= _HEX_UPPER:
        return 16
    lower, upper = any(c.islower() for c in chars), any(c.isupper() for c in chars)
    symbols = any(not c.isalnum() for c in chars)  # base64's `+` and `/`
    size = 10 + 26 * (lower + upper)
    return size + (2 if symbols else 0)


def shannon(value: str) -> float:
    """Shannon entropy of `value`'s characters, in bits per character."""
    n = len(value)
    counts: Dict[str, int] = {}
    for c in value:
        counts[c] = counts.get(c, 0) + 1
    return float(-sum(k / n * math.log2(k / n) for k in counts.values()))


@functools.lru_cache(maxsize=4096)
def expected_entropy(length: int, alphabet: int) -> float:
    """What shannon() averages over random strings of that length and alphabet: each character's
    count is Binomial(length, 1/alphabet), and entropy is a sum over characters (so exact)."""
    p = 1 / alphabet
    total = 0.0
    for count in range(1, length + 1):
        chance = math.comb(length, count) * p**count * (1 - p) ** (length - count)
        if chance < 1e-12 and count > length * p:
            break
        share = count / length
        total -= chance * share * math.log2(share)
    return alphabet * total


_SEPARATORS = str.maketrans("", "", "-_.=")


def entropy_ratio(value: str) -> float:
    """Shannon entropy as a fraction of expected_entropy: about 1 for random strings of any length
    and alphabet, lower for text, names and patterns. Separators and padding (`-_.=`: a UUID's
    dashes, grouped keys, base64 padding) are left out: they are structure, not randomness."""
    core = value.translate(_SEPARATORS)
    if len(core) < 2:
        return 0.0
    return shannon(core) / expected_entropy(len(core), _alphabet(core))


def _periodic(value: str) -> bool:
    """`abcabcabc…`, `Ab12Ab12…`: a block repeated (also with a partial last block)."""
    for period in range(1, min(17, len(value) // 2 + 1)):
        if value[period:] == value[:-period]:
            return True
    return False


def _sequential(value: str) -> bool:
    """`abcdef123456…`, `zyxw…`: most neighbours one apart."""
    steps = sum(1 for a, b in zip(value, value[1:]) if abs(ord(b) - ord(a)) == 1)
    return steps * 2 >= len(value)


_KEYBOARD = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p")
_WALKS = frozenset(row[i : i + 4] for row in _KEYBOARD + tuple(r[::-1] for r in _KEYBOARD) for i in range(len(row) - 3))


def _keyboard_walk(value: str) -> bool:
    """`qwertyuiop123`, `1qaz2wsx3edc`: half the value in runs along a keyboard's rows or columns."""
    lowered = value.lower()
    covered = [False] * len(lowered)
    for i in range(len(lowered) - 3):
        if lowered[i : i + 4] in _WALKS:
            covered[i : i + 4] = [True] * 4
    return sum(covered) * 2 >= len(value)


def _wordy(value: str) -> bool:
    """Mostly dictionary words (`your_api_key_here`, `SuperSecretGhlToken2024`)."""
    covered = sum(len(w) for w in _WORD_RE.findall(value) if w.lower() in _WORDS)
    return covered * 2 >= len(value)


def _path(value: str) -> bool:
    """`/etc/ghl/key`, `./secrets/Token`: a path prefix and mostly lowercase letters (base64 that
    happens to start with `/` has as many capitals as small letters)."""
    if not value.startswith(("/", "./", "../", "~/")):
        return False
    letters = [c for c in value if c.isalpha()]
    return sum(c.islower() for c in letters) >= 0.8 * len(letters)


def why_not_secret(value: str) -> Optional[str]:
    """Why `value` is not taken for a random secret, or None when it is one (the calibrated test)."""
    if not MIN_LENGTH <= len(value) <= MAX_LENGTH:
        return "length"
    if _OTHER_SERVICE_RE.match(value):
        return "other service"
    if "://" in value or re.search(r"\.[a-z]{2,4}$", value) or _path(value):
        return "url or path"
    if value.lower().startswith(_CODE_STARTS) or _DOTTED_NAME_RE.fullmatch(value):
        return "code expression"
    classes = sum((any(c.islower() for c in value), any(c.isupper() for c in value), any(c.isdigit() for c in value)))
    if classes < 2:
        return "one character class"
    if not any(c.isdigit() for c in value) and _alphabet(value) > 16 and len(value) < 24:
        return "letters only, short"  # camelCase names, words
    if _periodic(value) or _sequential(value) or _keyboard_walk(value):
        return "repeated or sequential"
    if _wordy(value):
        return "dictionary words"
    if entropy_ratio(value) < ENTROPY_RATIO:
        return "low entropy"
    return None


def _decoded_base64(value: str) -> Optional[str]:
    """A Kubernetes Secret's `data:` value: standard base64 of a printable value, else None."""
    if len(value) % 4 or len(value) < 24 or not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", value):
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        return None
    text = raw.rstrip(b"\n").decode("ascii", "replace")
    return text if re.fullmatch(r"[A-Za-z0-9+/=_.~-]{16,512}", text) else None


# --- where credentials go ---------------------------------------------------------------------

_HOST_RE = re.compile(rb"(?:leadconnectorhq|gohighlevel|msgsndr)\.com", re.I)  # and any subdomain
# The request around a host: this many lines before and after it (bounded in bytes).
REQUEST_LINES = 12
_REQUEST_BYTES = 2000
# `Bearer <value>` anywhere, or an Authorization header / key holding the value without a scheme word.
_PAIR = rb"(?:" + QUOTE + rb")?" + _WS + rb"(?:," + _SPACE + QUOTE + rb"value" + QUOTE + _WS + rb")?"
_HEADER_RE = re.compile(
    rb"(?i:bearer)[ \t]+" + _VALUE + rb"|(?i:authorization)" + _PAIR + rb"(?::|=>|=)" + _WS + QUOTE + rb"?" + _WS
    + rb"(?!(?i:bearer|basic|token)[ \t])" + _value(2)
)  # fmt: skip

Generic = Tuple[str, int, str, str]  # (secret, offset of its text, encoding, key it sat in)


# Name characters to `a`, others to a space: a name's bounds are then found in C, a bounded slice each.
_NAME_MAP = bytes(97 if c in _KEY_CHARS else 32 for c in range(256))


def _key_span(data: bytes, at: int) -> Tuple[int, int]:
    """The key name (a run of name characters, at most _MAX_KEY on each side) holding offset `at`."""
    after = data[at : at + _MAX_KEY].translate(_NAME_MAP).find(b" ")
    end = min(len(data), at + _MAX_KEY) if after == -1 else at + after
    low = max(0, at - _MAX_KEY)
    before = data[low:at].translate(_NAME_MAP).rfind(b" ")
    return (low if before == -1 else low + before + 1), end


def _encoding(assignment: bytes) -> str:
    if b'\\"' in assignment or b"\\'" in assignment:
        return "json-escaped"
    if b"%2" in assignment or b"%3" in assignment:
        return "url"
    return "plain"


def _judged(value: bytes, start: int, assignment: bytes, key: str) -> Optional[Generic]:
    text = value.decode("ascii")
    decoded = _decoded_base64(text)
    if decoded is not None and why_not_secret(decoded) is None:
        return decoded, start, "base64", key
    if why_not_secret(text) is None:
        return text, start, _encoding(assignment), key
    return None


def generic_candidates(data: bytes, hits: Sequence[int]) -> Iterator[Generic]:
    """Generic credentials around each hit: the end offset of a GoHighLevel name (a key name part or
    a host name), as the prefilter or `ghl_name_ends` finds them. In order of the hits; one value is
    given once."""
    seen_keys: Set[Tuple[int, int]] = set()
    seen_values: Set[int] = set()
    request_done = -1
    section_done = -1
    for hit in hits:
        at = max(0, hit - 2)  # inside the name whatever the pattern's trailing character
        begin, end = _key_span(data, at)
        if (begin, end) in seen_keys or end - at >= _MAX_KEY or at - begin >= _MAX_KEY:
            continue  # done, or inside a run too long for a name (base64, minified data)
        seen_keys.add((begin, end))
        host = _HOST_RE.search(data, begin, end)
        if host is not None:
            low = max(_request_start(data, begin), request_done)
            request_done = _request_end(data, end)
            for found in _request_values(data, low, request_done):
                if found[1] not in seen_values:
                    seen_values.add(found[1])
                    yield found
            continue
        key = data[begin:end].decode("ascii")
        if not is_credential_key(key):
            # Sections are taken one after another, never one inside another's (`"ghl": {"ghl": {…`
            # repeated would rescan one window per name): the inner one's members are the outer's.
            bounds = _section_bounds(data, begin, end) if begin >= section_done and _says_ghl_key(key) else None
            if bounds is not None:
                section_done = bounds[1]
                for member_value in _section_values(data, bounds, key):
                    if member_value[1] not in seen_values:
                        seen_values.add(member_value[1])
                        yield member_value
            continue
        m = _assignment(data, begin, end, key)
        if m is None or m.start(1) in seen_values:
            continue
        found_value = _judged(m.group(1), m.start(1), data[end : m.start(1)], key)
        if found_value is not None:
            seen_values.add(m.start(1))
            yield found_value


def _assignment(data: bytes, begin: int, end: int, key: str) -> Optional["re.Match[bytes]"]:
    """The value assigned to the key name data[begin:end], as a match whose group 1 is the value."""
    m = _ASSIGN_RE.match(data, end) or _FALLBACK_RE.match(data, end)
    if m is not None:
        return m
    if data[begin - 1 : begin] == b"<":  # <GhlApiKey>value</GhlApiKey>
        return _ELEMENT_RE.match(data, end)
    low = max(0, begin - 16)  # a bounded look back: `ENV ` / `setenv ` starting the line
    command = data[max(low, data.rfind(b"\n", low, begin) + 1) : begin].strip().lower()
    if key.startswith("--") or command in _SPACED_COMMANDS:
        return _SPACED_RE.match(data, end)
    return None


# A name opening a section or object: YAML `ghl:` ending its line, JSON / JS / TOML-inline `"ghl": {`
# or `ghl = {`, a TOML / INI `[ghl]` header (the name is then between brackets).
_BLOCK_RE = re.compile(rb"(?:" + QUOTE + rb")?[ \t]*(?:(:)[ \t]*(?:#[^\n]{0,200})?\r?\n|(?::|=)[ \t]*(\{))")
# A member's name inside a section: at a line's start or after `{` / `,`.
_MEMBER_RE = re.compile(rb"(?:^|(?<=[{,]))[ \t]*" + QUOTE + rb"?\$?([A-Za-z_][A-Za-z0-9_.-]{0,79})", re.M)
_SECTION_BYTES = 2000


def _section_bounds(data: bytes, begin: int, end: int) -> Optional[Tuple[int, int]]:
    """Where the section the name data[begin:end] opens holds its members (`ghl:` then indented lines;
    `"ghl": {` to its first `}`; `[ghl]` to the next header), at most its first _SECTION_BYTES; None
    when the name opens none."""
    if data[begin - 1 : begin] == b"[" and data[end : end + 1] == b"]":
        low = end + 1
        header = data.find(b"\n[", low, low + _SECTION_BYTES)
        high = header if header != -1 else min(len(data), low + _SECTION_BYTES)
    else:
        m = _BLOCK_RE.match(data, end)
        if m is None:
            return None
        low = m.end()
        if m.group(2) is not None:  # an object: to its first `}`
            close = data.find(b"}", low, low + _SECTION_BYTES)
            high = close if close != -1 else min(len(data), low + _SECTION_BYTES)
        else:  # YAML: the lines indented deeper than the name's
            window = max(0, begin - _MAX_KEY - 64)
            line = data[max(window, data.rfind(b"\n", window, begin) + 1) : begin]
            high = _indented_end(data, low, len(line) - len(line.lstrip(b" \t")))
    return low, high


def _section_values(data: bytes, bounds: Tuple[int, int], key: str) -> Iterator[Generic]:
    """Secrets of the members of a section named `key` (`ghl:` then `  api_key: …`; `"ghl": {"apiKey": …}`;
    `[ghl]` then `api_key = …`), each judged as `key.member` (so `ghl.location_id` is not one)."""
    low, high = bounds
    for member in _MEMBER_RE.finditer(data, low, high):
        name = member.group(1).decode("ascii")
        nested = f"{key}.{name}"
        if not is_credential_key(nested):
            continue
        m = _ASSIGN_RE.match(data, member.end(1), high)
        if m is not None:
            # Shown as a key name is (reports, validate --report): name characters, at most _MAX_KEY.
            shown = nested[-_MAX_KEY:]
            found_value = _judged(m.group(1), m.start(1), data[member.end(1) : m.start(1)], shown)
            if found_value is not None:
                yield found_value


def _indented_end(data: bytes, at: int, indent: int) -> int:
    """Where the YAML block starting at `at` ends: the first line not blank and indented `indent` or less."""
    limit = min(len(data), at + _SECTION_BYTES)
    while at < limit:
        nl = data.find(b"\n", at, limit)
        line = data[at : limit if nl == -1 else nl]
        stripped = line.lstrip(b" \t")
        if stripped.strip() and len(line) - len(stripped) <= indent:
            return at
        if nl == -1:
            break
        at = nl + 1
    return limit


def _request_end(data: bytes, at: int) -> int:
    end = at
    for _ in range(REQUEST_LINES):
        nl = data.find(b"\n", end + 1, at + _REQUEST_BYTES)
        if nl == -1:
            return min(len(data), at + _REQUEST_BYTES)
        end = nl
    return end


def _request_start(data: bytes, at: int) -> int:
    start = at
    for _ in range(REQUEST_LINES):
        nl = data.rfind(b"\n", max(0, at - _REQUEST_BYTES), start)
        if nl == -1:
            return max(0, at - _REQUEST_BYTES)
        start = nl
    return start + 1


def _request_values(data: bytes, low: int, high: int) -> Iterator[Generic]:
    """Bearer / Authorization values in data[low:high], the lines around a GoHighLevel API host."""
    for m in _HEADER_RE.finditer(data, low, high):
        group = 1 if m.group(1) is not None else 2
        value = m.group(group)
        text = value.decode("ascii")
        if why_not_secret(text) is None:
            yield text, m.start(group), _encoding(data[m.start() : m.start(group)]), "Authorization"
