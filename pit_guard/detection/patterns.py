"""Token shapes: the regex pieces the prefilter, the detector and redaction (finding.py) share, so
that what is found, what is prefiltered and what is redacted cannot drift apart. Imports nothing."""

from __future__ import annotations

from typing import Dict

# The families of rules: each family's detector pass in detect.py runs only where the prefilter
# saw that family's shape (or anchors). A rule names its family (rules.py).
PIT = "pit"
JWT = "jwt"
WEBHOOK = "webhook"
CONTEXT = "context"
# GoHighLevel's Firebase refresh tokens (`AMf-vB` + hundreds of base64url characters, not a JWT).
FIREBASE_REFRESH = "firebase-refresh"
# A GoHighLevel name (a key name part or an API host): where the generic rule looks (generic.py).
GENERIC = "generic"
# A line ending in enough base64 to hold a credential (52 characters): wrapped base64 blocks and
# base64 of base64, which carry no anchor the B64 family could see.
B64_LINES = "base64-lines"
B64_LINE_END = rb"[A-Za-z0-9+/_-]{49}[A-Za-z0-9+/_=\r-]{3}\n"
B64 = "base64"

HEX = rb"[0-9a-fA-F]"
UUID = HEX + rb"{8}-" + HEX + rb"{4}-" + HEX + rb"{4}-" + HEX + rb"{4}-" + HEX + rb"{12}"
SEP = rb"(?:/|\\/|%2[fF])"  # a path `/`: plain, JSON-escaped or URL-encoded
QUOTE = rb"(?:\\?[\"'`]|%22|%27)"
# After a key name: quotes (plain, JSON-escaped, URL-encoded), `=`/`:`/`=>`; n8n-style
# {"name": "clientSecret", "value": "…"} is also accepted.
# Every repeat is bounded, so a match is at most ASSIGN_MAX_LENGTH bytes long (keyword included).
_WS = rb"\s{0,64}"
ASSIGN_HEAD = (
    rb"[A-Za-z0-9_.-]{0,40}" + QUOTE + rb"?" + _WS + rb"(?:," + _WS + QUOTE + rb"value" + QUOTE + _WS + rb")?"
    rb"(?::|=>|=|%3[aAdD])" + _WS + QUOTE + rb"?" + _WS
)
ASSIGN_MAX_LENGTH = 512
B64_UUID = rb"[A-Za-z0-9+/]{48}(?:[A-Za-z0-9+/]{2}==)?"  # base64 of a UUID, with echo's newline or not

# What every match of a family's pass in detect.py contains (its regex without lookarounds).
SHAPES: Dict[str, bytes] = {
    PIT: rb"(?:pit|PIT|Pit)-" + UUID,
    JWT: rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.",
    WEBHOOK: (rb"hooks" + SEP + rb"[A-Za-z0-9]{8,40}" + SEP + rb"webhook-trigger" + SEP + rb"[A-Za-z0-9-]{8}"),
    FIREBASE_REFRESH: rb"AMf-vB[A-Za-z0-9_-]{120}",
    # detect.py finds the keyword case-insensitively, then matches the assignment after it.
    CONTEXT: rb"(?i:secret|sso)" + ASSIGN_HEAD + rb"(?:" + UUID + rb"|" + B64_UUID + rb")",
    # A GoHighLevel name as a key name part or in a host: `ghl` at the start of a name or after a
    # separator (`Ghl` also after a small letter: `myGhlKey`) and not followed by a small letter or
    # digit (GHL_API_KEY, ghlApiKey; not `highlight`, nor most runs of random base64); `hl` and `lc`
    # before a separator (HL_TOKEN, lc.api_key) or starting a camelCase name (hlApiKey);
    # `highlevel`, `leadconnector`, `msgsndr` anywhere (hosts too). detect.py runs the generic pass
    # around each match's end. (A two-letter `hl`/`lc` between two classes made hyperscan's
    # families pass about 15 % slower on bench_detect's corpus: this form costs nothing measurable.)
    GENERIC: (
        rb"(?:^|[^A-Za-z0-9])(?i:ghl)[^a-z0-9]|[a-z]G(?i:hl)[^a-z0-9]"
        rb"|(?i:hl|lc)[_.-]|(?:^|[^A-Za-z0-9])(?:hl|lc)[A-Z]"
        rb"|(?i:high[_.-]?level|lead[_.-]?connector|msgsndr)"
    ),
}
