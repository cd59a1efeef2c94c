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
import os
import re
import stat
from typing import TYPE_CHECKING, Any, Callable, Dict, FrozenSet, List, Optional, Set, Tuple

if TYPE_CHECKING:  # hashlib, platform, random, secrets, uuid: imported where the hyperscan backend loads
    import random

from pit_guard.detection.patterns import (
    B64,
    B64_LINE_END,
    B64_LINES,
    CONTEXT,
    FIREBASE_REFRESH,
    GENERIC,
    JWT,
    PIT,
    SHAPES,
    WEBHOOK,
)
from pit_guard.finding import notice


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
    b"webhook-trigger",
    b"AMf-vB",
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
    # GoHighLevel names in key names, for the generic rule (GHL_API_KEY, ghlApiKey, highlevel.token).
    # Few on purpose: the pure-Python backend looks for each of their forms in every input, and
    # `ghl` alone would be a 3-character anchor, met every few hundred kilobytes of random base64.
    b"GHL_",
    b"ghlA",
    b"highlevel",
)

ANCHORS: Dict[str, Tuple[bytes, ...]] = {
    PIT: _case_variants("pit-"),
    JWT: (b"eyJ",),
    WEBHOOK: (b"webhook-trigger",),
    CONTEXT: _case_variants("secret") + _case_variants("sso"),
    FIREBASE_REFRESH: (b"AMf-vB",),
    # Looser than SHAPES[GENERIC] (`lc`/`hl` anywhere): detect.py then finds the names with GHL_NAME_RE.
    GENERIC: (b"ghl", b"high", b"lead", b"msgsndr", b"lc", b"hl"),
    B64: tuple(dict.fromkeys(form for lit in _B64_LITERALS for form in base64_forms(lit))),
}


# Base64 characters (without `=`, which only pads an end) to `a`, everything else to a space.
_B64_RUN_MAP = bytes(97 if chr(c).isalnum() and c < 128 or c in b"+/_-" else 32 for c in range(256))
_LONG_RUN = b"a" * 52  # detect.py decodes no shorter run for an anchor (_MIN_B64_RUN)


def _long_base64_runs(data: bytes) -> bytes:
    """The runs of base64 characters long enough to hold an encoded credential, joined by spaces."""
    mapped = data.translate(_B64_RUN_MAP)
    runs = []
    at = mapped.find(_LONG_RUN)
    while at != -1:
        end = mapped.find(b" ", at)
        end = len(data) if end == -1 else end
        runs.append(data[at:end])
        at = mapped.find(_LONG_RUN, end)
    return b" ".join(runs)


def _python_families(data: bytes) -> FrozenSet[str]:
    keyed = (CONTEXT, GENERIC, B64)  # looked for below
    found = {family for family, anchors in ANCHORS.items() if family not in keyed and any(a in data for a in anchors)}
    # A base64 anchor counts only inside a run long enough to decode (what detect.py decodes): the
    # many anchors are looked for in those runs, not in the whole input (a third of this pass's time).
    runs = _long_base64_runs(data)
    if runs and any(a in runs for a in ANCHORS[B64]):
        found.add(B64)
    lowered = data.lower()
    if b"sso" in lowered or b"secret" in lowered:  # as detect.py looks for them
        found.add(CONTEXT)
    if any(a in lowered for a in ANCHORS[GENERIC]):
        found.add(GENERIC)
    if _B64_LINE_END_RE.search(data):
        found.add(B64_LINES)
    return frozenset(found)


# Literal first (the newline), so `re` searches at memchr speed instead of trying every position.
_B64_LINE_END_RE = re.compile(rb"\n(?<=" + B64_LINE_END + rb")")
# Every B64_LINE_END match is one of this pattern's, ending at the same newline.
_LOOSE_B64_LINE_END = rb"[A-Za-z0-9+/_=\r-]{52}\n"


_positions_db: Any = None
# The hyperscan families pass that also returns base64_line_ends(data) (set with the databases).
_scan_with_line_ends: Optional[Callable[[bytes], Tuple[FrozenSet[str], List[int]]]] = None
_context_db: Any = None
_generic_db: Any = None
_line_end_db: Any = None

# --- The compiled-pattern cache -------------------------------------------------------------------
#
# A cache file decides what every later run can see, so nothing in it is trusted: the folder must be
# the user's own and writable by nobody else, a file must be a regular file the user owns (opened
# without following a symlink and without blocking on a FIFO), no larger than MAX_CACHE_BYTES, and
# the database it holds must find a fresh random instance of every one of its patterns, placed in
# random surroundings (a canary nobody can know in advance). Any doubt means compiling again.

CACHE_ENV = "PIT_GUARD_CACHE_DIR"
MAX_CACHE_BYTES = 16 * 1024 * 1024  # today's databases are about 60 KiB
CANARY_ROUNDS = 2  # random instances of each pattern a loaded database must find
_notices: Set[str] = set()


def _notice(text: str) -> None:
    if text not in _notices:  # once per process
        _notices.add(text)
        notice(f"notice: {text}")  # redacted: a cache path may hold anything


def _cache_dir() -> Optional[str]:
    """The cache folder: PIT_GUARD_CACHE_DIR, else $XDG_CACHE_HOME/pit-guard, else ~/.cache/pit-guard.

    Relative paths would put the cache in whatever folder a hook runs in (the repository being
    committed): a relative XDG_CACHE_HOME is ignored, as the XDG spec says; a relative
    PIT_GUARD_CACHE_DIR is refused with a notice and no cache is used. None: no cache.
    """
    chosen = os.environ.get(CACHE_ENV, "")
    if chosen:
        if not os.path.isabs(chosen):
            _notice(f"{CACHE_ENV} must be an absolute path; the compiled-pattern cache is not used")
            return None
        return chosen
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pit-guard") if os.path.isabs(base) else None


def _cache_supported() -> bool:
    return (
        hasattr(os, "geteuid")
        and hasattr(os, "O_NOFOLLOW")
        and hasattr(os, "O_NONBLOCK")
        and hasattr(os, "O_DIRECTORY")
        and hasattr(os, "O_CLOEXEC")
        and os.open in os.supports_dir_fd
        and os.rename in os.supports_dir_fd  # os.replace takes the same arguments
    )


def _open_cache_dir() -> Optional[int]:
    """A descriptor of the cache folder, created 0700 if missing; None if it is not safe to use.

    Every file operation is then relative to this descriptor, so the folder checked is the folder
    used even if its path is swapped meanwhile.
    """
    path = _cache_dir()
    if path is None or not _cache_supported():
        return None
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:  # a read-only home: no cache, just compile
        return None
    try:
        # A symlinked folder is followed: what counts is the folder it reaches, checked below.
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    info = os.fstat(fd)
    why = None
    if info.st_uid != os.geteuid():
        why = f"owned by uid {info.st_uid}, not by this user"
    elif info.st_mode & 0o022:
        why = f"writable by others (mode {stat.S_IMODE(info.st_mode):o})"
    if why is not None:
        os.close(fd)
        _notice(f"the compiled-pattern cache {path} is {why}: not used (the patterns are compiled instead)")
        return None
    return fd


def _read_cache_file(folder: int, name: str) -> Optional[bytes]:
    """The file's bytes if it is a regular file of ours, of a sane size; None otherwise (never blocks)."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder)
    except OSError:  # missing, or a symlink (ELOOP)
        return None
    try:
        info = os.fstat(fd)
        if (
            not stat.S_ISREG(info.st_mode)  # a FIFO, a device, a socket, a folder
            or info.st_uid != os.geteuid()
            or info.st_mode & 0o022
            or info.st_size > MAX_CACHE_BYTES
        ):
            return None
        from pit_guard.small_files import read_at_most

        data = read_at_most(fd, info.st_size + 1)  # one byte more: a file that grows while read is refused
        return data if len(data) == info.st_size else None
    except OSError:
        return None
    finally:
        os.close(fd)


def _write_cache_file(folder: int, name: str, data: bytes) -> None:
    """Replace `name` (whatever it is: a stale file, a FIFO, a symlink) with `data`, atomically."""
    import secrets

    tmp = f".{name}.{secrets.token_hex(8)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=folder)
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
    except OSError:  # a full disk must not stop a scan
        try:
            os.unlink(tmp, dir_fd=folder)
        except OSError:
            pass


# --- The random canary: an instance of every pattern, made fresh each time a database is loaded ---

Sample = Callable[["random.Random"], bytes]
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_B64URL = _ALNUM + "_-"
_FILLER = _ALNUM + " \t\n.,;:=\"'`/\\+-_()[]{}<>#%$&*!?|~@^"


def _chars(rng: random.Random, alphabet: str, low: int, high: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def _mixed_case(rng: random.Random, text: str) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)


def _uuid(rng: random.Random) -> str:
    import uuid

    text = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return text if rng.random() < 0.5 else _mixed_case(rng, text)


def _sample_b64_line(rng: "random.Random") -> bytes:
    return _chars(rng, _BASE64_ALPHABET, 52, 80).encode() + b"\n"


_BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _sample_pit(rng: random.Random) -> bytes:
    return (rng.choice(("pit", "PIT", "Pit")) + "-" + _uuid(rng)).encode()


def _sample_jwt(rng: random.Random) -> bytes:
    parts = ("eyJ" + _chars(rng, _B64URL, 8, 60), "eyJ" + _chars(rng, _B64URL, 8, 200), _chars(rng, _B64URL, 0, 43))
    return ".".join(parts).encode()


def _sample_webhook(rng: random.Random) -> bytes:
    def sep() -> str:
        return rng.choice(("/", "\\/", "%2F", "%2f"))

    return (
        rng.choice(("services.leadconnectorhq.com", "backend.leadconnectorhq.com", "api.example-agency.com", ""))
        + sep()
        + "hooks"
        + sep()
        + _chars(rng, _ALNUM, 8, 40)
        + sep()
        + "webhook-trigger"
        + sep()
        + _chars(rng, _ALNUM + "-", 8, 8)
        + _chars(rng, _ALNUM + "-", 0, 28)
    ).encode()


def _sample_generic(rng: random.Random) -> bytes:
    name = rng.choice(("ghl", "GHL", "Ghl", "HighLevel", "high_level", "LeadConnector", "msgsndr"))
    if rng.random() < 0.3:
        return (rng.choice(("_", "-", ".", "=", " ")) + rng.choice(("lc", "LC", "Lc", "hl", "HL", "Hl")) + "_").encode()
    if rng.random() < 0.2:
        return ("my" + rng.choice(("Ghl", "GHL", "GHl")) + rng.choice(("Key", "_key", "."))).encode()
    return ("x_" + name + "_").encode()


def _sample_context(rng: random.Random) -> bytes:
    def quote() -> str:
        return rng.choice(("", "", '"', "'", "`", '\\"', "\\'", "%22", "%27"))

    def space() -> str:
        return _chars(rng, " \t", 0, 3)

    key = _mixed_case(rng, rng.choice(("secret", "sso"))) + _chars(rng, _ALNUM + "_.-", 0, 40) + quote() + space()
    if rng.random() < 0.2:  # n8n-style {"name": "clientSecret", "value": "..."}
        key += "," + space() + rng.choice(('"', "'", '\\"')) + "value" + rng.choice(('"', "'", '\\"')) + space()
    op = rng.choice((":", "=>", "=", "%3a", "%3A", "%3d", "%3D"))
    value = _uuid(rng)
    if rng.random() < 0.3:  # base64 of the UUID, with echo's newline or not
        value = base64.b64encode((value + rng.choice(("", "\n"))).encode()).decode()
    return (key + op + space() + quote() + space() + value).encode()


def _base64_samples() -> Dict[bytes, Sample]:
    """For each base64 anchor, a maker of real base64 text holding its literal at its alignment."""

    def maker(literal: bytes, pad: int, urlsafe: bool) -> Sample:
        def sample(rng: random.Random) -> bytes:
            data = rng.randbytes(3 * rng.randint(0, 4) + pad) + literal + rng.randbytes(rng.randint(0, 12))
            return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data)

        return sample

    samples: Dict[bytes, Sample] = {}
    for literal in _B64_LITERALS:
        for pad in range(3):  # as in base64_forms
            anchor = base64.b64encode(b"\0" * pad + literal)[-(-8 * pad // 6) : (8 * (pad + len(literal))) // 6]
            samples.setdefault(anchor, maker(literal, pad, urlsafe=False))
            urlsafe = anchor.replace(b"+", b"-").replace(b"/", b"_")
            if urlsafe != anchor:
                samples.setdefault(urlsafe, maker(literal, pad, urlsafe=True))
    return samples


def _sample_firebase_refresh(rng: random.Random) -> bytes:
    return ("AMf-vB" + _chars(rng, _B64URL, 120, 400)).encode()


_SHAPE_SAMPLES: Dict[str, Sample] = {
    PIT: _sample_pit,
    JWT: _sample_jwt,
    WEBHOOK: _sample_webhook,
    CONTEXT: _sample_context,
    FIREBASE_REFRESH: _sample_firebase_refresh,
    GENERIC: _sample_generic,
}


def _matched_ids(database: Any, data: bytes) -> Set[int]:
    ids: Set[int] = set()
    database.scan(data, match_event_handler=lambda pattern_id, *_: ids.add(pattern_id))
    return ids


def _passes_canary(database: Any, samples: List[Sample], rng: random.Random) -> bool:
    """Does `database` find pattern i in every fresh sample of it, each in random surroundings?"""
    for pattern_id, sample in enumerate(samples):
        for _ in range(CANARY_ROUNDS):
            before = _chars(rng, _FILLER, 0, 40).encode()
            after = _chars(rng, _FILLER, 0, 40).encode()
            if pattern_id not in _matched_ids(database, before + sample(rng) + after):
                return False
    return True


def _cache_name(hyperscan: Any, expressions: List[bytes], flags: int) -> str:
    import hashlib
    import platform

    key = hashlib.sha256(
        repr((2, expressions, flags, getattr(hyperscan, "__version__", ""), platform.machine())).encode()
    ).hexdigest()[:32]
    return f"hyperscan-{key}.db"


def _database(hyperscan: Any, patterns: List[Tuple[bytes, Sample]], flags: int = 0) -> Any:
    """A compiled hyperscan database, loaded from the on-disk cache when one there passes every check.

    Compiling all of pit-guard's patterns takes 0.2 to 0.6 s, more than a pre-commit hook should
    spend; loading a serialized database and checking it against a random canary takes about a
    millisecond. The cache holds compiled patterns only (never scanned data), keyed by the
    patterns, flags and hyperscan version; a file that fails any check is replaced.
    """
    expressions = [expression for expression, _ in patterns]
    samples = [sample for _, sample in patterns]
    import random
    import secrets

    rng = random.Random(secrets.randbits(128))  # unpredictable: a planted database cannot know the canary
    name = _cache_name(hyperscan, expressions, flags)
    folder = _open_cache_dir()
    try:
        data = _read_cache_file(folder, name) if folder is not None else None
        if data is not None:
            loaded = _load(hyperscan, data)
            if loaded is not None and _passes_canary(loaded, samples, rng):
                return loaded
            if loaded is not None:
                _notice(f"a cached pattern database ({name}) failed its self-check: compiled again and replaced")
        database = hyperscan.Database()
        database.compile(
            expressions=expressions,
            ids=list(range(len(expressions))),
            elements=len(expressions),
            flags=[flags] * len(expressions),
        )
        if not _passes_canary(database, samples, rng):
            raise RuntimeError("pit-guard bug: the prefilter canary does not match its own patterns")
        if folder is not None:
            _write_cache_file(folder, name, hyperscan.dumpb(database))
        return database
    finally:
        if folder is not None:
            os.close(folder)


def _load(hyperscan: Any, data: bytes) -> Any:
    try:
        loaded = hyperscan.loadb(data, hyperscan.HS_MODE_BLOCK)
        loaded.scratch = hyperscan.Scratch(loaded)  # a loaded database comes without one
        return loaded
    except Exception:  # truncated, damaged or from another build: compile instead
        return None


def _hyperscan_scanner() -> Optional[Callable[[bytes], FrozenSet[str]]]:
    global _positions_db, _context_db, _generic_db, _line_end_db, _scan_with_line_ends
    try:
        import hyperscan  # type: ignore[import-untyped,unused-ignore]  # 0.7.8 (Python 3.9) is untyped
    except ImportError:
        return None
    b64_samples = _base64_samples()
    patterns: List[Tuple[str, bytes, Sample]] = [(family, SHAPES[family], _SHAPE_SAMPLES[family]) for family in SHAPES]
    patterns += [(B64, re.escape(anchor), b64_samples[anchor]) for anchor in ANCHORS[B64]]
    database = _database(
        hyperscan, [(pattern, sample) for _, pattern, sample in patterns], hyperscan.HS_FLAG_SINGLEMATCH
    )
    family_of = [family for family, _, _ in patterns]
    _positions_db = _database(hyperscan, [(re.escape(a), b64_samples[a]) for a in ANCHORS[B64]])

    # Where secret/SSO assignments end (every match, not just the first): detect.py then looks for
    # the key name only in the few hundred bytes before each, not at every `secret` in the file.
    _context_db = _database(hyperscan, [(SHAPES[CONTEXT], _sample_context)])
    # Where GoHighLevel names end: the generic rule looks only around them.
    _generic_db = _database(hyperscan, [(SHAPES[GENERIC], _sample_generic)])
    # Every line ending in base64 (detect.py decodes wrapped blocks from there): the B64_LINES family.
    # A pass of its own, every match kept for base64_line_ends: its bounded repeat of a wide class
    # slows a database it shares with the literal-led shapes more than a second pass costs (on
    # bench_detect's corpus: 0.06 s shapes alone, 0.07 s lines alone, 0.16 s both in one database).
    # The database holds a looser pattern (any of the 52 characters may be `=` or CR), which hyperscan
    # runs about a fifth faster; each of its matches is kept only if the exact regex matches there.
    line_end_db = _line_end_db = _database(hyperscan, [(_LOOSE_B64_LINE_END, _sample_b64_line)])

    def scan_with_line_ends(data: bytes) -> Tuple[FrozenSet[str], List[int]]:
        if not data:
            return frozenset(), []
        found: List[str] = []
        line_ends: List[int] = []

        def on_match(pattern_id: int, start: int, end: int, flags: int, context: Any) -> None:
            found.append(family_of[pattern_id])

        def on_line_end(pattern_id: int, start: int, end: int, flags: int, context: Any) -> None:
            if _B64_LINE_END_RE.match(data, end - 1):
                line_ends.append(end - 1)

        database.scan(data, match_event_handler=on_match)
        line_end_db.scan(data, match_event_handler=on_line_end)
        if line_ends:
            found.append(B64_LINES)
        return frozenset(found), sorted(line_ends)

    def scan(data: bytes) -> FrozenSet[str]:
        return scan_with_line_ends(data)[0]

    _scan_with_line_ends = scan_with_line_ends
    return scan


_scanner: Optional[Callable[[bytes], FrozenSet[str]]] = None
_compiled: Optional[Callable[[bytes], FrozenSet[str]]] = None

# "adaptive" (the pre-commit hook): the pure-Python pass until this many bytes have been looked at,
# then hyperscan. Importing hyperscan and loading (and canary-checking) its cached databases costs
# 30-100 ms; detection with the Python pass costs about 125 ms more per MiB than with hyperscan
# (`bench/bench_hook.py --crossover` measures both), so the two meet near 0.25-0.8 MiB. Both report
# the same findings: a usual commit never loads hyperscan, and a large one still gets it.
ADAPTIVE_BYTES = 512 * 1024
_adaptive_left: Optional[int] = None  # bytes the Python pass may still take, in "adaptive" mode


def use_backend(name: str) -> str:
    """Choose `hyperscan`, `python`, `auto` (hyperscan when installed) or `adaptive` (python for the
    first ADAPTIVE_BYTES, then auto); returns the backend in use now (tests compare them)."""
    global _scanner, _compiled, _adaptive_left
    _adaptive_left = None
    if name == "adaptive":
        if _compiled is None or _compiled is _python_families:  # nothing loaded yet: start in Python
            _scanner = _python_families
            _adaptive_left = ADAPTIVE_BYTES if _compiled is None else None
            return "python"
        name = "auto"
    if name in ("auto", "hyperscan") and _compiled is None:
        _compiled = _hyperscan_scanner() or _python_families  # compile once per process
    scanner = _compiled if name in ("auto", "hyperscan") and _compiled is not _python_families else None
    if scanner is None and name == "hyperscan":
        raise RuntimeError("hyperscan is not installed")
    _scanner = scanner or _python_families
    return "hyperscan" if scanner else "python"


def families(data: bytes) -> FrozenSet[str]:
    """The credential families whose anchors occur in `data`."""
    _choose_scanner(data)
    assert _scanner is not None
    return _scanner(data)


def families_and_line_ends(data: bytes) -> Tuple[FrozenSet[str], Optional[List[int]]]:
    """families(data) and, with hyperscan, what base64_line_ends(data) returns, from the same pass
    (None: not known, ask base64_line_ends when B64_LINES is among the families)."""
    _choose_scanner(data)
    assert _scanner is not None
    if _scanner is not _python_families and _scan_with_line_ends is not None:
        return _scan_with_line_ends(data)
    return _scanner(data), None


def _choose_scanner(data: bytes) -> None:
    global _adaptive_left
    if _scanner is None:
        use_backend("auto")
    elif _adaptive_left is not None:
        if len(data) > _adaptive_left:
            use_backend("auto")
        else:
            _adaptive_left -= len(data)


def base64_line_ends(data: bytes) -> Optional[List[int]]:
    """Sorted offsets of the newline ending each B64_LINE_END match (hyperscan only; None means
    "use the regex")."""
    if _scanner is _python_families or _line_end_db is None:
        return None
    ends: List[int] = []

    def on_match(pattern_id: int, start: int, end: int, flags: int, context: Any) -> None:
        if _B64_LINE_END_RE.match(data, end - 1):
            ends.append(end - 1)

    _line_end_db.scan(data, match_event_handler=on_match)
    return sorted(ends)


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


GHL_NAME_RE = re.compile(SHAPES[GENERIC])
# Each alternative of SHAPES[GENERIC] holds one of these (lowercased) and starts at it or one byte
# before it: the pure-Python backend finds them with `bytes.find` (memchr speed) and tries the
# pattern there, as a `re` search, which tries every position, is about six times slower.
_GENERIC_LITERALS = (b"ghl", b"hl", b"lc", b"high", b"lead", b"msgsndr")


def generic_match_ends(data: bytes) -> List[int]:
    """Sorted end offsets of SHAPES[GENERIC] matches: every one (hyperscan), else one per start
    (`re`; the generic pass only needs the names they fall in, which are the same)."""
    if _scanner is _python_families or _generic_db is None:
        lowered = data.lower()
        found: Set[int] = set()
        for literal in _GENERIC_LITERALS:
            at = lowered.find(literal)
            while at != -1:
                for start in (at - 1, at) if at else (at,):
                    m = GHL_NAME_RE.match(data, start)
                    if m is not None:
                        found.add(m.end())
                at = lowered.find(literal, at + 1)
        return sorted(found)
    ends: List[int] = []

    def on_match(pattern_id: int, start: int, end: int, flags: int, context: Any) -> None:
        ends.append(end)

    _generic_db.scan(data, match_event_handler=on_match)
    return sorted(ends)
