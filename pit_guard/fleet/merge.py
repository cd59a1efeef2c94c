"""`pit-guard merge`: shard reports (JSON, redacted) joined into the report one run would write.

Findings come back as KnownFinding (fingerprint and redacted form, no secret). Identical findings
(the same blob's commit messages or tags read by every blob shard of one repository) are kept once;
the same secret and place from several blob shards is one finding with its provenance joined
(earliest commit, HEAD if any shard saw it there, every branch). --validate reads each secret again
from its repository (the clone cache): raw tokens never travel between machines."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, List, Optional, Sequence, Tuple

from pit_guard.errors import FatalError
from pit_guard.finding import Finding, KnownFinding, Provenance, Suppression, Unread, Validation, redact
from pit_guard.fleet.run import SHARD_MARKER, sort_key

_SUPPRESSION_ORDER = ("allow-marker", "disable-rules", "exclude", "allow", "max-file-size", "baseline")


@dataclasses.dataclass
class Report:
    findings: List[Finding] = dataclasses.field(default_factory=list)
    skipped: List[Unread] = dataclasses.field(default_factory=list)
    suppressed: List[Suppression] = dataclasses.field(default_factory=list)
    shard: Optional[Tuple[int, int]] = None  # (I, N) of an `audit --shard I/N` report
    version: str = ""  # the pit-guard that wrote it
    text: str = ""
    path: str = ""


def _provenance(p: Optional[Dict[str, Any]]) -> Optional[Provenance]:
    if p is None:
        return None
    branches = p.get("branches")
    return Provenance(
        commit=str(p["commit"]),
        author=str(p["author"]),
        date=str(p["date"]),
        commit_count=int(p.get("commit_count", 1)),
        in_head=p.get("in_head"),
        branches=None if branches is None else tuple(str(b) for b in branches),
        repository=_optional_str(p.get("repository")),
        last_commit=_optional_str(p.get("last_commit")),
        last_date=_optional_str(p.get("last_date")),
    )


def _optional_str(value: Any) -> Optional[str]:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"expected a string, found {type(value).__name__}")
    return value


def _finding(d: Dict[str, Any]) -> Finding:
    shown = str(d["secret"])
    validation = d.get("validation")
    return KnownFinding(
        rule_id=str(d["rule_id"]),
        secret="",
        path=str(d["path"]),
        line=int(d["line"]),
        column=int(d["column"]),
        encoding=str(d.get("encoding", "plain")),
        location_id=d.get("location_id"),
        company_id=d.get("company_id"),
        auth_class=d.get("auth_class"),
        client_id=d.get("client_id"),
        scopes=tuple(d.get("scopes") or ()),
        issued_at=d.get("issued_at"),
        expires_at=d.get("expires_at"),
        expired=bool(d.get("expired")),
        provenance=_provenance(d.get("provenance")),
        validation=None if validation is None else Validation(**validation),
        known_fingerprint=str(d["fingerprint"]),
        # a shard run with --show-secrets: the merge still shows it redacted unless asked
        known_redacted=shown if d.get("secret_redacted", True) else redact(shown),
    )


def read_report(path: str, text: str) -> Report:
    """One shard's JSON report (`--format json`), or FatalError naming the file."""
    from pit_guard.detection.rules import RULES_BY_ID

    try:
        document = json.loads(text)
        if not isinstance(document, dict) or document.get("tool", {}).get("name") != "pit-guard":
            raise ValueError("not a pit-guard JSON report (write shard reports with --format json)")
        if document.get("version") != 1:
            raise ValueError(f"report schema version {document.get('version')!r}, this pit-guard reads 1")
        report = Report(version=str(document.get("tool", {}).get("version")), text=text, path=path)
        for d in document["findings"]:
            if d["rule_id"] not in RULES_BY_ID:
                raise ValueError(f"unknown rule {d['rule_id']!r} (written by another pit-guard version?)")
            report.findings.append(_finding(d))
        report.skipped = [Unread(str(u["path"]), str(u["reason"]), not u["fails"]) for u in document["skipped"]]
        for u in list(report.skipped):
            marker = SHARD_MARKER.fullmatch(u.path)
            if marker and u.chosen:
                if report.shard is not None:
                    raise ValueError("it names two shards")
                report.shard = (int(marker.group(1)), int(marker.group(2)))
                if not 1 <= report.shard[0] <= report.shard[1]:
                    raise ValueError(f"{u.path}: no such shard")
                report.skipped.remove(u)
        report.suppressed = [
            Suppression(str(s["how"]), str(s["source"]), int(s["findings"]), int(s["unread"]))
            for s in document["suppressed"]["by"]
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise FatalError(f"{path}: cannot merge it: {e}") from None
    return report


def _join(a: Provenance, b: Provenance) -> Provenance:
    first = a if (a.date, a.commit) <= (b.date, b.commit) else b
    branches = None if a.branches is None or b.branches is None else tuple(sorted({*a.branches, *b.branches}))
    in_head = None if a.in_head is None or b.in_head is None else a.in_head or b.in_head
    # last_date is a UTC committer date: compared as text, the newer is the later
    lasts = [(p.last_date or "", p.last_commit) for p in (a, b) if p.last_commit is not None]
    last_date, last_commit = max(lasts) if lasts else (first.last_date, first.last_commit)
    return dataclasses.replace(
        first,
        commit_count=max(a.commit_count, b.commit_count),
        in_head=in_head,
        branches=branches,
        last_commit=last_commit,
        last_date=last_date,
    )


def _checked(reports: Sequence[Report]) -> List[Report]:
    """The reports to join: written by one pit-guard version; of the shard reports, every shard of
    the same N exactly once (a retry's identical copy is dropped). A missing shard would make a
    merge look complete while part of the fleet was never read: exit 2 instead."""
    versions = sorted({r.version for r in reports})
    if len(versions) > 1:
        raise FatalError(
            f"the reports were written by different pit-guard versions ({', '.join(versions)}): "
            "run every shard with the same version"
        )
    out: List[Report] = []
    by_index: Dict[int, Report] = {}
    counts = sorted({r.shard[1] for r in reports if r.shard is not None})
    if len(counts) > 1:
        raise FatalError(f"the shard reports split the work differently (into {' and '.join(map(str, counts))})")
    for r in reports:
        if r.shard is None:
            out.append(r)
            continue
        other = by_index.get(r.shard[0])
        if other is None:
            by_index[r.shard[0]] = r
            out.append(r)
        elif other.text != r.text:
            raise FatalError(
                f"{other.path} and {r.path} are two different reports of shard {r.shard[0]}/{r.shard[1]}: "
                "give one of them"
            )
    if counts:
        missing = [str(i) for i in range(1, counts[0] + 1) if i not in by_index]
        if missing:
            raise FatalError(f"shard(s) {', '.join(missing)} of {counts[0]} missing: give every shard's report")
    return out


def merge(reports: Sequence[Report]) -> Report:
    reports = _checked(reports)
    out = Report()
    places: Dict[Tuple[Any, ...], Finding] = {}
    for report in reports:
        for f in report.findings:
            p = f.provenance
            key = (f.fingerprint, p.repository if p else None, f.path, f.line, f.column, f.rule_id, p is None)
            other = places.get(key)
            if other is None:
                places[key] = f
            elif other != f and other.provenance is not None and p is not None:
                places[key] = dataclasses.replace(other, provenance=_join(other.provenance, p))
    out.findings = sorted(places.values(), key=sort_key)
    out.skipped = sorted({u for r in reports for u in r.skipped}, key=lambda u: (u.path, u.reason))
    totals: Dict[Tuple[str, str], List[int]] = {}
    for report in reports:
        for s in report.suppressed:
            entry = totals.setdefault((s.how, s.source), [0, 0])
            entry[0] += s.findings
            entry[1] += s.unread
    rank = {how: i for i, how in enumerate(_SUPPRESSION_ORDER)}
    out.suppressed = [
        Suppression(how, source, n, unread)
        for (how, source), (n, unread) in sorted(totals.items(), key=lambda kv: (rank.get(kv[0][0], 99), kv[0][1]))
    ]
    return out


def with_secrets(findings: Sequence[Finding], clone_dir: str) -> Tuple[List[Finding], List[str]]:
    """Each redacted finding with its secret read again from its repository (for --validate and
    --show-secrets); what cannot be read again stays redacted (validation then says unknown)."""
    from pit_guard.detection.detect import scan_bytes
    from pit_guard.fleet import clones
    from pit_guard.fleet.forges import environment_credentials
    from pit_guard.fleet.targets import is_remote, remote_target
    from pit_guard.sources import git

    local: Dict[str, Optional[str]] = {}
    notes: List[str] = []
    secrets: Dict[str, str] = {}
    for f in findings:
        p = f.provenance
        if f.secret or f.fingerprint in secrets or p is None or p.repository is None or not p.commit:
            continue
        if p.repository not in local:
            try:
                remote = is_remote(p.repository)
                target = remote_target(p.repository, environment_credentials(p.repository)) if remote else None
                local[p.repository] = clones.ensure(target, clone_dir) if target is not None else p.repository
            except FatalError as e:
                notes.append(f"cannot read {p.repository} again: {e}")
                local[p.repository] = None
        root = local[p.repository]
        data = git.blob_at(root, p.commit, f.path) if root is not None else None
        for found in scan_bytes(data or b"", f.path):
            if found.fingerprint == f.fingerprint:
                secrets[f.fingerprint] = found.secret
                break
    out: List[Finding] = []
    for f in findings:
        secret = secrets.get(f.fingerprint)
        if isinstance(f, KnownFinding) and secret is not None:
            fields = {field.name: getattr(f, field.name) for field in dataclasses.fields(Finding)}
            fields["secret"] = secret
            out.append(Finding(**fields))
        else:
            out.append(f)
    missing = len({f.fingerprint for f in out if not f.secret})
    if missing:
        notes.append(f"{missing} secret(s) could not be read again from their repository: left redacted")
    return out, notes
