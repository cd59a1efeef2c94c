"""Which families of rules can match at all: one pass over the data, before any regex runs.

With hyperscan (a well-kept Python binding of Intel's multi-pattern matcher) the pass matches, for
each family, a pattern that every credential of that family must contain (the token's shape: a
`pit-` + UUID, a two-part `eyJ…` JWT, a webhook path, a secret/SSO key assigned a UUID), so the
costly per-family passes in `detect.py` run only on data holding a real candidate, not on every
file that mentions `secret`. Without hyperscan, each family is a `bytes.__contains__` pass over its
literal anchors: a looser necessary condition, about fifteen times slower. Both are necessary
conditions of the same per-family passes, so both backends report exactly the same findings.
"""

from __future__ import annotations

import base64
import hashlib
import os
import platform
import re
import tempfile
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Set, Tuple

PIT = "pit"
JWT = "jwt"
WEBHOOK = "webhook"
CONTEXT = "context"
B64 = "base64"


def _case_variants(word: str) -> Tuple[bytes, ...]:
    return tuple(dict.fromkeys(v.encode() for v in (word.lower(), word.upper(), word.capitalize())))


def base64_forms(literal: bytes) -> Tuple[bytes, ...]:
    """The base64 text that `literal` becomes at each of the three byte alignments.

    Only characters whose six bits all come from the literal are kept, so the anchor matches
    whatever surrounds the literal in the encoded data.
    """
    forms = []
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + literal)
        first = -(-8 * pad // 6)
        last = (8 * (pad + len(literal))) // 6
        anchor = encoded[first:last]
        forms.append(anchor)
        if b"+" in anchor or b"/" in anchor:
            forms.append(anchor.replace(b"+", b"-").replace(b"/", b"_"))
    return tuple(forms)


_B64_LITERALS = (
    b"pit-",
    b"PIT-",
    b"Pit-",
    b"eyJhbGci",
    b"eyJ0eXAi",
    b"leadconnectorhq.com",
    b"secret",
    b"SECRET",
    b"Secret",
    b"SSO_",
    b"_SSO",
    b"sso_",
    b"ssoKey",
    b"shared",
    b"Shared",
    b"SHARED",
)

# Regex pieces shared with detect.py, so that the prefilter patterns cannot drift from the passes.
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
    WEBHOOK: (
        rb"services\.leadconnectorhq\.com"
        + SEP
        + rb"hooks"
        + SEP
        + rb"[A-Za-z0-9]{8,40}"
        + SEP
        + rb"webhook-trigger"
        + SEP
        + rb"[A-Za-z0-9-]{8}"
    ),
    # detect.py finds the keyword case-insensitively, then matches the assignment after it.
    CONTEXT: rb"(?i:secret|sso)" + ASSIGN_HEAD + rb"(?:" + UUID + rb"|" + B64_UUID + rb")",
}

ANCHORS: Dict[str, Tuple[bytes, ...]] = {
    PIT: _case_variants("pit-"),
    JWT: (b"eyJ",),
    WEBHOOK: _case_variants("leadconnectorhq") + (b"LeadConnectorHQ", b"LeadConnectorHq"),
    CONTEXT: _case_variants("secret") + _case_variants("sso"),
    B64: tuple(dict.fromkeys(form for lit in _B64_LITERALS for form in base64_forms(lit))),
}


def _python_families(data: bytes) -> FrozenSet[str]:
    found = {family for family, anchors in ANCHORS.items() if family != CONTEXT and any(a in data for a in anchors)}
    lowered = data.lower()
    if b"sso" in lowered or b"secret" in lowered:  # as detect.py looks for them
        found.add(CONTEXT)
    return frozenset(found)


_positions_db: Any = None
_context_db: Any = None


def _cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.environ.get("PIT_GUARD_CACHE_DIR") or os.path.join(base, "pit-guard")


def _matched_ids(database: Any, data: bytes) -> Set[int]:
    ids: Set[int] = set()
    database.scan(data, match_event_handler=lambda pattern_id, *_: ids.add(pattern_id))
    return ids


def _database(hyperscan: Any, expressions: List[bytes], canary: bytes, flags: int = 0) -> Any:
    """A compiled hyperscan database, loaded from the on-disk cache when it is there.

    Compiling all of pit-guard's patterns takes about 0.2 s, more than a pre-commit hook should
    spend; loading a serialized database takes about a millisecond. The cache holds compiled
    patterns only (never scanned data), keyed by the patterns, flags and hyperscan version, so a
    stale or foreign file is never used; any cache trouble just means compiling again. A loaded
    database must also find every one of its patterns in `canary`: a damaged or planted file that
    would silently find nothing is thrown away.
    """
    key = hashlib.sha256(
        repr((expressions, flags, getattr(hyperscan, "__version__", ""), platform.machine())).encode()
    ).hexdigest()[:32]
    path = os.path.join(_cache_dir(), f"hyperscan-{key}.db")
    everything = set(range(len(expressions)))
    try:
        with open(path, "rb") as f:
            loaded = hyperscan.loadb(f.read(), hyperscan.HS_MODE_BLOCK)
        loaded.scratch = hyperscan.Scratch(loaded)  # a loaded database comes without one
        if _matched_ids(loaded, canary) == everything:
            return loaded
    except Exception:  # missing, truncated or from another build: compile instead
        pass
    database = hyperscan.Database()
    database.compile(
        expressions=expressions, ids=list(everything), elements=len(expressions), flags=[flags] * len(expressions)
    )
    assert _matched_ids(database, canary) == everything, "prefilter canary does not cover every pattern"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(handle, "wb") as f:
            f.write(hyperscan.dumpb(database))
        os.replace(tmp, path)
    except Exception:  # a read-only home or full disk must not stop a scan
        pass
    return database


# One text holding a match of every prefilter pattern: what a loaded database must find.
_CANARY = b"\n".join(
    (
        b"pit-3f2b9c4e-8a1d-4c6e-9b7a-1e2d3c4b5a69 PIT-3f2b9c4e-8a1d-4c6e-9b7a-1e2d3c4b5a69",
        b"eyJhbGciOiJIUzI1NiJ9.eyJ2ZXJzaW9uIjoxfQ.c2ln",
        b"https://services.leadconnectorhq.com/hooks/Qw3rTy7uI9oP1aS5dF8g/webhook-trigger/5c2d9e1f-7a4b-4c8d",
        b'client_secret="3f2b9c4e-8a1d-4c6e-9b7a-1e2d3c4b5a69"',
        *ANCHORS[B64],
    )
)


def _hyperscan_scanner() -> Optional[Callable[[bytes], FrozenSet[str]]]:
    global _positions_db, _context_db
    try:
        import hyperscan  # type: ignore[import-untyped,unused-ignore]  # 0.7.8 (Python 3.9) is untyped
    except ImportError:
        return None
    patterns: List[Tuple[str, bytes]] = [(family, shape) for family, shape in SHAPES.items()]
    patterns += [(B64, re.escape(anchor)) for anchor in ANCHORS[B64]]
    database = _database(hyperscan, [pattern for _, pattern in patterns], _CANARY, hyperscan.HS_FLAG_SINGLEMATCH)
    family_of = [family for family, _ in patterns]
    _positions_db = _database(hyperscan, [re.escape(a) for a in ANCHORS[B64]], _CANARY)

    # Where secret/SSO assignments end (every match, not just the first): detect.py then looks for
    # the key name only in the few hundred bytes before each, not at every `secret` in the file.
    _context_db = _database(hyperscan, [SHAPES[CONTEXT]], _CANARY)

    def scan(data: bytes) -> FrozenSet[str]:
        if not data:
            return frozenset()
        found: List[str] = []

        def on_match(pattern_id: int, start: int, end: int, flags: int, context: Any) -> None:
            found.append(family_of[pattern_id])

        database.scan(data, match_event_handler=on_match)
        return frozenset(found)

    return scan


_scanner: Optional[Callable[[bytes], FrozenSet[str]]] = None
_compiled: Optional[Callable[[bytes], FrozenSet[str]]] = None


def use_backend(name: str) -> str:
    """Choose `hyperscan`, `python` or `auto`; returns the backend in use (tests compare both)."""
    global _scanner, _compiled
    if name in ("auto", "hyperscan") and _compiled is None:
        _compiled = _hyperscan_scanner() or _python_families  # compile once per process
    scanner = _compiled if name in ("auto", "hyperscan") and _compiled is not _python_families else None
    if scanner is None and name == "hyperscan":
        raise RuntimeError("hyperscan is not installed")
    _scanner = scanner or _python_families
    return "hyperscan" if scanner else "python"


def families(data: bytes) -> FrozenSet[str]:
    """The credential families whose anchors occur in `data`."""
    if _scanner is None:
        use_backend("auto")
    assert _scanner is not None
    return _scanner(data)


def base64_anchor_positions(data: bytes) -> List[int]:
    """Sorted offsets of every base64 anchor in `data` (only called when B64 matched)."""
    positions = []
    if _scanner is not _python_families and _positions_db is not None:
        anchors = ANCHORS[B64]

        def on_match(anchor_id: int, start: int, end: int, flags: int, context: Any) -> None:
            positions.append(end - len(anchors[anchor_id]))

        _positions_db.scan(data, match_event_handler=on_match)
        return sorted(positions)
    for anchor in ANCHORS[B64]:
        at = data.find(anchor)
        while at != -1:
            positions.append(at)
            at = data.find(anchor, at + 1)
    return sorted(positions)


def context_match_ends(data: bytes) -> Optional[List[int]]:
    """End offsets of every CONTEXT shape match (hyperscan only; None means "look everywhere")."""
    if _scanner is _python_families or _context_db is None:
        return None
    ends: List[int] = []

    def on_match(pattern_id: int, start: int, end: int, flags: int, context: Any) -> None:
        ends.append(end)

    _context_db.scan(data, match_event_handler=on_match)
    return ends
