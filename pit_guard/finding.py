"""The Finding record and how a secret is shown: redacted unless the user asks."""

from __future__ import annotations

import dataclasses
import re
import sys
from typing import Any, Dict, Optional, Sequence, Tuple

from pit_guard.detection.patterns import FIREBASE_REFRESH, JWT, SHAPES, UUID

# Exit codes (documented in README): stable across releases.
EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2

# --max-file-size when the user sets none: nothing is too big to scan (large inputs are streamed).
NO_SIZE_LIMIT = 1 << 62


def redact(secret: str) -> str:
    """Keep enough to recognise a token (`pit-3f2b…5a69`), never enough to use it."""
    if len(secret) <= 12:
        return secret[:2] + "…"
    head = 8 if secret[:4].lower() == "pit-" else 6
    if secret.startswith("https://"):
        # Webhook URL: host and path are not secret, the ids are.
        cut = secret.find("/hooks/")
        if cut != -1:
            return secret[: cut + len("/hooks/")] + "…" + secret[-4:]
    return secret[:head] + "…" + secret[-4:]


# Token shapes that can turn up outside file contents: in file names, paths, error messages.
# Built from the detector's own pieces, so the two cannot drift apart.
_SECRETISH = re.compile(
    r"(?i:pit)-" + UUID.decode() + r"|" + SHAPES[JWT].decode() + r"[A-Za-z0-9_-]*"
    r"|(?<=webhook-trigger/)[A-Za-z0-9-]{8,}"
    r"|" + SHAPES[FIREBASE_REFRESH].decode() + r"[A-Za-z0-9_-]*"
)


_CONTROL_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(32), 127)}


# The user (and password) part of a URL (`https://user:TOKEN@host/...`): a credential, never shown.
_USERINFO = re.compile(r"(?<=://)[^/@\s?#]+@")


def redact_url(url: str) -> str:
    """A URL as every output shows it: the userinfo part (`user:token@`) replaced by `***@`."""
    return _USERINFO.sub("***@", url)


def redact_text(text: str) -> str:
    """`text` (a path, an error message, a URL) with every token-shaped part and URL userinfo redacted."""
    return _SECRETISH.sub(lambda m: redact(m.group(0)), redact_url(text))


def display_path(path: str, show_secrets: bool = False) -> str:
    """A path as reports show it: printable (undecodable bytes as `\\xff`), tokens redacted."""
    printable = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    printable = printable.translate(_CONTROL_ESCAPES)  # a newline in a name must not fake a report line
    return printable if show_secrets else redact_text(printable)


def notice(text: str) -> None:
    """Every line pit-guard itself writes to stderr (commands, pipeline, the prefilter's cache): a
    token in it (a path, a ref name, a config value, an error message) redacted, control characters
    escaped. The one place notices go through; here, at the bottom, so that every layer can use it."""
    line = text if text.startswith("pit-guard") else f"pit-guard: {text}"
    stream = sys.stderr
    if stream is None:  # closed by the caller: nowhere to tell
        return
    try:
        stream.write(display_path(line) + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass  # standard error full or closed: the exit code still tells (a notice must not change it)


def placed(path: str, inner: str) -> str:
    """`path!inner`: where a finding inside an archive is (just `path` for one outside)."""
    return f"{path}!{inner}" if inner else path


def fingerprint(rule_id: str, secret: str) -> str:
    """Content identity: the same secret under the same rule is one finding wherever it is."""
    import hashlib  # here: a clean run never needs it

    return hashlib.sha256(f"{rule_id}:{secret}".encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class Unread:
    """Something that could hold a credential and was not read. The run cannot pass over it
    (exit 2) unless the user chose the limit that left it out (`chosen`: told, not failing)."""

    path: str
    reason: str
    chosen: bool = False


@dataclasses.dataclass(frozen=True)
class Suppression:
    """What one suppression source silenced in a run: told on stderr and in every report format,
    so a config or baseline can never make a scan look clean without a trace."""

    how: str  # allow-marker | disable-rules | exclude | allow | max-file-size | baseline
    source: str  # the file that asked for it ("" for inline `pit-guard: allow` markers)
    findings: int = 0
    unread: int = 0  # inputs that were not read but that the setting excludes (not failing the run)

    @property
    def total(self) -> int:
        return self.findings + self.unread

    def describe(self) -> str:
        """`10 by .pit-guard.toml exclude (2 of them unread files)`, `2 by baseline b.json`."""
        if self.how == "allow-marker":
            where = "inline `pit-guard: allow` markers"
        elif self.how == "baseline":
            where = f"baseline {self.source}"
        else:
            where = f"{self.source} {self.how}"
        extra = f" ({self.unread} of them unread input{'s' if self.unread != 1 else ''})" if self.unread else ""
        return f"{self.total} by {where}{extra}"


def describe_suppressed(suppressed: Sequence[Suppression]) -> str:
    """One line for people, or "" when nothing was suppressed."""
    total = sum(s.total for s in suppressed)
    if not total:
        return ""
    parts = ", ".join(s.describe() for s in suppressed if s.total)
    return f"{total} finding{'s' if total != 1 else ''} suppressed: {parts}"


@dataclasses.dataclass(frozen=True)
class Provenance:
    """Where in git history a secret came from (history and range scans only)."""

    commit: str  # full sha of the first commit that introduced it
    author: str
    date: str  # ISO 8601
    commit_count: int = 1  # how many commits carry it
    # Known for a whole-history audit; None where the scan cannot tell (a commit range).
    in_head: Optional[bool] = None
    branches: Optional[Tuple[str, ...]] = None  # local and remote-tracking branches holding it
    # Fleet audits (many repositories in one report): which one, as a redacted URL or a path.
    repository: Optional[str] = None
    # Whole-history audits: the newest commit (by committer time) whose tree still holds it: a
    # branch tip while it is in a branch, else the last commit before it was removed.
    last_commit: Optional[str] = None
    last_date: Optional[str] = None  # its committer date, ISO 8601 in UTC (what "newest" is by)


@dataclasses.dataclass(frozen=True)
class Validation:
    """What GoHighLevel's API (or the token's own `exp`) says about a secret."""

    status: str  # live | dead | expired | unknown | not-checked
    reason: str
    checked_at: Optional[str] = None  # ISO 8601 UTC


@dataclasses.dataclass(frozen=True)
class Account:
    """An agency or sub-account as GoHighLevel names it: its id and name, nothing personal."""

    id: Optional[str] = None
    name: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Reach:
    """What a live token opens (validation/reach.py; the JSON shape is in docs/reach.md)."""

    kind: str = "unknown"  # sub-account | agency | unknown
    agency: Optional[Account] = None
    sub_account: Optional[Account] = None
    sub_accounts: Optional[int] = None  # agency tokens: how many sub-accounts it reaches
    sub_accounts_at_least: bool = False  # the count stopped where the requests did: maybe more
    first_sub_accounts: Tuple[str, ...] = ()  # names
    identified: bool = False  # an answer confirmed which account it opens
    scopes_working: Tuple[str, ...] = ()
    scopes_refused: Tuple[str, ...] = ()
    scopes_claimed: Tuple[str, ...] = ()  # from the token's own claims, no request
    auth_class: Optional[str] = None
    client_id: Optional[str] = None
    requests: int = 0
    note: str = ""

    @property
    def blast_radius(self) -> int:
        """How many sub-accounts it opens: what reports sort by, widest first."""
        if self.kind == "agency":
            return max(1, self.sub_accounts or 0)
        return 1 if self.kind == "sub-account" else 0

    @property
    def summary(self) -> str:
        """`agency "Acme" and 214 sub-accounts`, `sub-account "Main St" (abc…)`, `sub-account not identified`."""
        if self.kind == "agency":
            name = _named(self.agency, with_id=not (self.agency and self.agency.name))
            if self.sub_accounts is None:
                return f"agency{name} (sub-accounts not counted)"
            more = "at least " if self.sub_accounts_at_least else ""
            return f"agency{name} and {more}{self.sub_accounts} sub-account{'s' if self.sub_accounts != 1 else ''}"
        if self.kind == "sub-account":
            if not self.identified or self.sub_account is None:
                return "sub-account not identified"
            return f"sub-account{_named(self.sub_account)}"
        return "not identified"


def _named(account: Optional[Account], with_id: bool = True) -> str:
    if account is None:
        return ""
    text = f' "{account.name}"' if account.name else ""
    if account.id and with_id:
        text += f" ({account.id})" if account.name else f" {account.id}"
    return text


@dataclasses.dataclass(frozen=True)
class Finding:
    rule_id: str
    secret: str  # full, normalised secret: never printed unless --show-secrets
    path: str  # file path, "<stdin>", or the path in a commit
    line: int  # 1-based
    column: int  # 1-based, in characters
    encoding: str = "plain"  # plain | base64 | url | json-escaped
    location_id: Optional[str] = None
    # location_id was read from text near the token (an opaque PIT), not from the token or an answer
    location_near: bool = False
    company_id: Optional[str] = None
    auth_class: Optional[str] = None  # Location | Company (OAuth)
    client_id: Optional[str] = None  # OAuth sourceId or the client_id beside a client secret
    scopes: Tuple[str, ...] = ()
    issued_at: Optional[int] = None  # epoch seconds
    expires_at: Optional[int] = None  # epoch seconds
    expired: bool = False
    provenance: Optional[Provenance] = None
    validation: Optional[Validation] = None
    reach: Optional[Reach] = None  # what a live token opens (--validate)
    # On a line marked `pit-guard: allow`: sources keep it so that the pipeline can count what the
    # marker suppresses (it is never reported, never validated).
    allowed: bool = False
    # The key name (or request header) the value sat in: what the generic rule judged it by.
    key: Optional[str] = None
    # Inside an archive or image: the place in it (`inner/dir/file.env`, `!` between nested archives);
    # `path` then ends with `!` and this, and SARIF / GitLab point at the outer file.
    inner: str = ""

    @property
    def outer(self) -> str:
        """The file on disk or in git that holds the finding (the archive, for one inside it)."""
        return self.path[: -len(self.inner) - 1] if self.inner and self.path.endswith("!" + self.inner) else self.path

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.rule_id, self.secret)

    @property
    def redacted(self) -> str:
        return redact(self.secret)

    def shown(self, show_secrets: bool) -> str:
        return self.secret if show_secrets else self.redacted

    @property
    def fails(self) -> bool:
        """Whether this finding fails the run by default: an expired OAuth token does not."""
        if self.validation is not None and self.validation.status == "expired":
            return False
        return not self.expired

    def __repr__(self) -> str:  # keep secrets out of tracebacks and logs
        return (
            f"Finding(rule_id={self.rule_id!r}, secret={self.redacted!r}, "
            f"path={self.path!r}, line={self.line}, column={self.column})"
        )


@dataclasses.dataclass(frozen=True, repr=False)
class KnownFinding(Finding):
    """A finding read back from an incremental state file or a shard's redacted JSON report: the
    secret itself is not there (`secret` is ""), only its fingerprint and redacted form. It reports
    like any finding; showing it in full or validating it needs its blob read again."""

    known_fingerprint: str = ""
    known_redacted: str = ""

    @property
    def fingerprint(self) -> str:
        return self.known_fingerprint

    @property
    def redacted(self) -> str:
        return self.known_redacted

    def shown(self, show_secrets: bool) -> str:
        return self.known_redacted


def finding_record(f: Finding) -> Dict[str, Any]:
    """What an incremental state keeps of a finding: no secret, only its fingerprint and redacted form."""
    return {
        "rule_id": f.rule_id,
        "fingerprint": f.fingerprint,
        "redacted": f.redacted,
        "line": f.line,
        "column": f.column,
        "encoding": f.encoding,
        "location_id": f.location_id,
        "company_id": f.company_id,
        "auth_class": f.auth_class,
        "client_id": f.client_id,
        "scopes": list(f.scopes),
        "issued_at": f.issued_at,
        "expires_at": f.expires_at,
        "allowed": f.allowed,
    }


def finding_from_record(r: Dict[str, Any], now: float) -> Finding:
    expires_at = r.get("expires_at")
    return KnownFinding(
        rule_id=r["rule_id"],
        secret="",
        path="",
        line=r["line"],
        column=r["column"],
        encoding=r.get("encoding", "plain"),
        location_id=r.get("location_id"),
        company_id=r.get("company_id"),
        auth_class=r.get("auth_class"),
        client_id=r.get("client_id"),
        scopes=tuple(r.get("scopes") or ()),
        issued_at=r.get("issued_at"),
        expires_at=expires_at,
        expired=expires_at is not None and expires_at < now,  # as the detector decides it: today
        allowed=bool(r.get("allowed")),
        known_fingerprint=r["fingerprint"],
        known_redacted=r["redacted"],
    )
