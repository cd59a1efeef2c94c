"""Literal anchors that every credential family contains: one pass says which families can match.

With hyperscan (a well-kept Python binding of Intel's multi-pattern matcher) all anchors are found
in one pass at several GB/s; without it, each anchor costs a `bytes.__contains__` pass, which is
correct but about fifteen times slower. Both backends use the same case-sensitive literals, so
they agree exactly.
"""
from __future__ import annotations

import base64
import re
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Tuple

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
    b"pit-", b"PIT-", b"Pit-", b'{"alg":', b'{"typ":', b"eyJhbGci", b"eyJ0eXAi",
    b"leadconnectorhq.com", b"secret", b"SECRET", b"Secret", b"SSO_", b"_SSO", b"sso_", b"ssoKey",
    b"shared", b"Shared", b"SHARED",
)

ANCHORS: Dict[str, Tuple[bytes, ...]] = {
    PIT: _case_variants("pit-"),
    JWT: (b"eyJ",),
    WEBHOOK: _case_variants("leadconnectorhq") + (b"LeadConnectorHQ", b"LeadConnectorHq"),
    CONTEXT: _case_variants("secret") + _case_variants("sso"),
    B64: tuple(dict.fromkeys(form for lit in _B64_LITERALS for form in base64_forms(lit))),
}
_ALL: List[Tuple[str, bytes]] = [(family, a) for family, anchors in ANCHORS.items() for a in anchors]


def _python_families(data: bytes) -> FrozenSet[str]:
    return frozenset(family for family, anchors in ANCHORS.items() if any(a in data for a in anchors))


def _hyperscan_scanner() -> Optional[Callable[[bytes], FrozenSet[str]]]:
    try:
        import hyperscan
    except ImportError:
        return None
    database = hyperscan.Database()
    database.compile(
        expressions=[re.escape(anchor) for _, anchor in _ALL],
        ids=list(range(len(_ALL))),
        elements=len(_ALL),
        flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(_ALL),
    )
    family_of = [family for family, _ in _ALL]

    def scan(data: bytes) -> FrozenSet[str]:
        if not data:
            return frozenset()
        found: set[str] = set()

        def on_match(anchor_id: int, start: int, end: int, flags: int, context: Any) -> None:
            found.add(family_of[anchor_id])

        database.scan(data, match_event_handler=on_match)
        return frozenset(found)

    return scan


_scanner: Optional[Callable[[bytes], FrozenSet[str]]] = None


def use_backend(name: str) -> str:
    """Choose `hyperscan`, `python` or `auto`; returns the backend in use (tests compare both)."""
    global _scanner
    scanner = _hyperscan_scanner() if name in ("auto", "hyperscan") else None
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
    for anchor in ANCHORS[B64]:
        at = data.find(anchor)
        while at != -1:
            positions.append(at)
            at = data.find(anchor, at + 1)
    return sorted(positions)
