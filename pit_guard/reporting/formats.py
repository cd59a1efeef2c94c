"""Report formats: one function per format, each returns the whole report as a string.

Every format shows secrets redacted unless `show_secrets` is true: the full secret only ever
leaves through `Finding.shown(show_secrets)`, never by reading `finding.secret` here.
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import stat
import sys
import tempfile
import urllib.parse
import uuid
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from pit_guard import __version__
from pit_guard.detection.rules import RULES, RULES_BY_ID, Rule
from pit_guard.finding import Account, Finding, Provenance, Reach, Suppression, Unread, describe_suppressed
from pit_guard.reporting.html import format_html

JSON_SCHEMA_VERSION = 1
TOOL_NAME = "pit-guard"

Skipped = Sequence[Unread]
Suppressed = Sequence[Suppression]


def incomplete(skipped: Skipped) -> bool:
    """Whether something that could hold a credential was not read and the user did not choose it."""
    return any(not u.chosen for u in skipped)


def suppressed_dict(suppressed: Suppressed) -> Dict[str, Any]:
    """What config, baseline and inline markers suppressed, for the machine formats."""
    return {
        "total": sum(s.total for s in suppressed),
        "by": [
            {"how": s.how, "source": s.source, "findings": s.findings, "unread": s.unread}
            for s in suppressed
            if s.total
        ],
    }


# Content fingerprint key in SARIF partialFingerprints: versioned so a change of identity scheme
# never silently merges with alerts made by the old one.
SARIF_FINGERPRINT_KEY = "pitGuardFingerprint/v1"
SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_SRCROOT = "%SRCROOT%"

# GitLab report schema version these reports conform to (kept in tests/data and validated there).
GITLAB_SCHEMA_VERSION = "15.0.7"
# GitLab's own analyzers use this sha when a finding is not tied to a commit (plain file scans).
GITLAB_NO_COMMIT = "0000000"
# Fixed namespace so a vulnerability id is stable across runs for the same finding and place.
_GITLAB_ID_NAMESPACE = uuid.UUID("5f0c7a3e-2b1d-4e8f-9a6c-3d2e1f0a9b8c")

# A markdown checklist lists this many places per credential, then says how many more.
MARKDOWN_MAX_PLACES = 10


# An opaque PIT does not say which sub-account it opens: an id written beside it is a guess until
# --validate confirms it (validation/reach.py).
NEAR_ONLY = " (an id written near it, not confirmed)"


def owner(finding: Finding) -> str:
    """Which sub-account or agency a credential opens, in words, or '' when unknown."""
    if finding.location_id:
        return f"sub-account (location) {finding.location_id}{NEAR_ONLY if finding.location_near else ''}"
    if finding.company_id:
        return f"agency (company) {finding.company_id}"
    return ""


def status(finding: Finding) -> str:
    """What is known about whether it still works: validation first, then the token's own expiry."""
    if finding.validation is not None:
        return finding.validation.status
    return "expired" if finding.expired else "not validated"


def _reach(p: Provenance) -> str:
    """Where a history finding still is: what tells a pushed leak from a local one."""
    parts = []
    if p.in_head is not None:
        parts.append("still in HEAD" if p.in_head else "not in HEAD (history only)")
    parts.append(f"in {p.commit_count} commit{'s' if p.commit_count != 1 else ''}")
    if p.branches is not None:
        remote = [b for b in p.branches if b.startswith("remotes/")]
        branches = ", ".join(p.branches) if p.branches else "no branch (tags, stash or unreachable)"
        parts.append(f"branches: {branches} ({'pushed: revoke now' if remote else 'local branches only'})")
    return "; ".join(parts)


def exposure(p: Provenance) -> str:
    """One line for people: who introduced it, when, and how far it has spread."""
    where = f"repository {p.repository}: " if p.repository is not None else ""
    return f"{where}first seen: {p.commit[:12]} by {p.author} on {p.date}; {_reach(p)}"


def severity(finding: Finding) -> Tuple[str, str]:
    """(GitLab severity, SARIF security-severity), from the finding's rule."""
    rule = RULES_BY_ID[finding.rule_id]
    return rule.severity, rule.security_severity


def report_path(path: str) -> str:
    """A path as CI tools want it: relative to the current folder when under it, `/`-separated.

    Paths from git history are already repository-relative; absolute paths outside the current
    folder stay absolute (there is nothing sensible to make them relative to).
    """
    if path.startswith("<"):  # <stdin> and other pseudo paths
        return path
    if os.path.isabs(path):
        try:
            relative = os.path.relpath(path)
        except ValueError:  # another drive on Windows
            relative = path
        if not relative.startswith(".."):
            path = relative
    else:
        path = os.path.normpath(path)
    return path.replace(os.sep, "/")


def _account_dict(account: Optional[Account]) -> Optional[Dict[str, Optional[str]]]:
    return None if account is None else {"id": account.id, "name": account.name}


def reach_to_dict(reach: Reach) -> Dict[str, Any]:
    """The `reach` object of the JSON report and SARIF (its shape: docs/reach.md)."""
    return {
        "kind": reach.kind,
        "agency": _account_dict(reach.agency),
        "sub_account": _account_dict(reach.sub_account),
        "sub_accounts": reach.sub_accounts,
        "sub_accounts_at_least": reach.sub_accounts_at_least,
        "first_sub_accounts": list(reach.first_sub_accounts),
        "identified": reach.identified,
        "scopes_working": list(reach.scopes_working),
        "scopes_refused": list(reach.scopes_refused),
        "scopes_claimed": list(reach.scopes_claimed),
        "auth_class": reach.auth_class,
        "client_id": reach.client_id,
        "requests": reach.requests,
        "blast_radius": reach.blast_radius,
        "summary": reach.summary,
        "note": reach.note,
    }


def reach_line(reach: Reach) -> str:
    """`reaches: agency "Acme" and 214 sub-accounts; scopes working: …` for text reports."""
    parts = [f"reaches: {reach.summary}"]
    if reach.first_sub_accounts:
        parts.append("first: " + ", ".join(f'"{name}"' for name in reach.first_sub_accounts))
    if reach.scopes_working:
        parts.append("scopes working: " + " ".join(reach.scopes_working))
    if reach.scopes_refused:
        parts.append("scopes refused: " + " ".join(reach.scopes_refused))
    if reach.note:
        parts.append(reach.note)
    return "; ".join(parts)


def blast_radius(finding: Finding) -> int:
    return finding.reach.blast_radius if finding.reach is not None else 0


def finding_to_dict(finding: Finding, show_secrets: bool) -> Dict[str, Any]:
    rule = RULES_BY_ID[finding.rule_id]
    out: Dict[str, Any] = {
        "rule_id": finding.rule_id,
        "rule_name": rule.name,
        "fingerprint": finding.fingerprint,
        "secret": finding.shown(show_secrets),
        # a finding read back from a redacted report or state has no secret to show in full
        "secret_redacted": not show_secrets or not finding.secret,
        "path": finding.path,
        "line": finding.line,
        "column": finding.column,
        "encoding": finding.encoding,
        "location_id": finding.location_id,
        "location_id_confirmed": None if finding.location_id is None else not finding.location_near,
        "company_id": finding.company_id,
        "auth_class": finding.auth_class,
        "client_id": finding.client_id,
        "scopes": list(finding.scopes),
        "issued_at": finding.issued_at,
        "expires_at": finding.expires_at,
        "expired": finding.expired,
        "fails": finding.fails,
        "revoke": rule.revoke,
        "provenance": None,
        "validation": None,
        "reach": None if finding.reach is None else reach_to_dict(finding.reach),
    }
    if finding.inner:  # inside an archive or image: the file that holds it, and the place in it
        out["archive"] = finding.outer
        out["archive_path"] = finding.inner
    if finding.key is not None:  # the generic rule: the key (or header) the value sat in
        out["key"] = finding.key
    if finding.provenance is not None:
        p = finding.provenance
        out["provenance"] = {
            "commit": p.commit,
            "author": p.author,
            "date": p.date,
            "commit_count": p.commit_count,
            "in_head": p.in_head,
            "branches": None if p.branches is None else list(p.branches),
        }
        if p.repository is not None:  # fleet audits only: single-repository reports keep their shape
            out["provenance"]["repository"] = p.repository
        if p.last_commit is not None:  # whole-history audits: the newest commit still holding it
            out["provenance"]["last_commit"] = p.last_commit
            out["provenance"]["last_date"] = p.last_date
    if finding.validation is not None:
        v = finding.validation
        out["validation"] = {"status": v.status, "reason": v.reason, "checked_at": v.checked_at}
    return out


def format_json(
    findings: Sequence[Finding], skipped: Skipped, show_secrets: bool = False, *, suppressed: Suppressed = ()
) -> str:
    unread = sum(1 for u in skipped if not u.chosen)
    document = {
        "version": JSON_SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": __version__},
        # false when something that could hold a credential was not read: the run exits 2.
        "complete": not unread,
        "unread": unread,
        "suppressed": suppressed_dict(suppressed),
        "findings": [finding_to_dict(f, show_secrets) for f in findings],
        "skipped": [{"path": u.path, "reason": u.reason, "fails": not u.chosen} for u in skipped],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# --- text -------------------------------------------------------------------------------------


def _style(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def _by_file(findings: Sequence[Finding]) -> List[List[Finding]]:
    """Findings grouped by path, files in the order first seen, each file's findings by position."""
    groups: Dict[str, List[Finding]] = {}
    for f in findings:
        groups.setdefault(f.path, []).append(f)
    return [sorted(group, key=lambda f: (f.line, f.column)) for group in groups.values()]


def format_text(
    findings: Sequence[Finding],
    skipped: Skipped,
    show_secrets: bool = False,
    color: bool = False,
    *,
    suppressed: Suppressed = (),
) -> str:
    """For people: one block per file; each finding's first line is `path:line:col: Name …`
    (the shape editors and terminals turn into links). ANSI colour only when `color`."""
    blocks: List[str] = []
    for group in _by_file(findings):
        lines: List[str] = []
        for f in group:
            rule = RULES_BY_ID[f.rule_id]
            where = _style(f"{f.path}:{f.line}:{f.column}", "1", color)
            name = _style(rule.name, "33" if f.expired else "31", color)
            state = " (expired)" if f.expired else ""
            lines.append(f"{where}: {name}{state} {f.shown(show_secrets)} [{f.rule_id}]")
            details = []
            if f.key is not None:
                details.append(f"key: {f.key}")
            if owner(f):
                details.append(f"opens: {owner(f)}")
            if f.encoding != "plain":
                details.append(f"encoded: {f.encoding}")
            if f.scopes:
                details.append("scopes: " + " ".join(f.scopes))
            if f.provenance is not None:
                details.append(exposure(f.provenance))
            if f.validation is not None:
                details.append(f"status: {f.validation.status} ({f.validation.reason})")
            if f.reach is not None:
                details.append(reach_line(f.reach))
            details.append(f"revoke: {rule.revoke}")
            lines.extend("    " + _style(detail, "2", color) for detail in details)
        blocks.append("\n".join(lines))
    if skipped:
        blocks.append("\n".join(f"{u.path}: {'skipped' if u.chosen else 'not scanned'}: {u.reason}" for u in skipped))
    told = describe_suppressed(suppressed)
    if told:
        blocks.append(_style(f"pit-guard: {told}", "2", color))
    if incomplete(skipped):
        blocks.append(_style("pit-guard: INCOMPLETE SCAN: inputs listed above were not read", "1;31", color))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


# --- SARIF --------------------------------------------------------------------------------------


def _sarif_uri(path: str) -> Tuple[str, bool]:
    """(URI, relative?) for an artifactLocation: percent-encoded (spaces, unicode, `%`, `#`)."""
    path = report_path(path)
    if os.path.isabs(path):
        return "file://" + urllib.parse.quote(path if path.startswith("/") else "/" + path), False
    return urllib.parse.quote(path, safe="/"), not path.startswith("<")


def _sarif_rule(rule: Rule) -> Dict[str, Any]:
    sev = (rule.severity, rule.security_severity)
    help_text = (
        f"{rule.description}\n\nHow to revoke: {rule.revoke}\n\n"
        "Revoke it first: deleting the line, or rewriting git history, does not un-leak a pushed "
        "secret. Then remove it from the code and load it from a secret store or environment variable."
    )
    help_markdown = (
        f"{rule.description}\n\n**How to revoke:** {rule.revoke}\n\n"
        "Revoke it first: deleting the line, or rewriting git history, does not un-leak a pushed "
        "secret. Then remove it from the code and load it from a secret store or environment variable."
    )
    return {
        "id": rule.id,
        # SARIF `name` is an identifier-like word; the human title is shortDescription.
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.name},
        "fullDescription": {"text": rule.description},
        "help": {"text": help_text, "markdown": help_markdown},
        "defaultConfiguration": {"level": "error"},
        "properties": {
            "security-severity": sev[1],
            "precision": "high",
            "tags": ["security", "secret", "gohighlevel", "external/cwe/cwe-798"],
        },
    }


def _sarif_message(f: Finding, show_secrets: bool) -> str:
    rule = RULES_BY_ID[f.rule_id]
    parts = [f"{rule.name} {f.shown(show_secrets)}"]
    if f.key is not None:
        parts.append(f"in {f.key}")
    if owner(f):
        parts.append(f"opens {owner(f)}")
    if f.validation is not None:
        parts.append(f"status: {f.validation.status} ({f.validation.reason})")
    elif f.expired:
        parts.append("expired")
    if f.reach is not None:
        parts.append(f"reaches {f.reach.summary}")
    if f.encoding != "plain":
        parts.append(f"{f.encoding}-encoded")
    return "; ".join(parts) + f". Revoke: {rule.revoke}"


def _sarif_properties(f: Finding) -> Dict[str, Any]:
    """Context for people and dashboards. Commit and author live here, never in fingerprints,
    so the same secret found in another commit stays one alert."""
    props: Dict[str, Any] = {"expired": f.expired}
    if f.encoding != "plain":
        props["encoding"] = f.encoding
    for key, value in (
        ("locationId", f.location_id),
        ("companyId", f.company_id),
        ("authClass", f.auth_class),
        ("clientId", f.client_id),
        ("key", f.key),
    ):
        if value:
            props[key] = value
    if f.provenance is not None:
        p = f.provenance
        props.update(
            {
                "commit": p.commit,
                "author": p.author,
                "date": p.date,
                "commitCount": p.commit_count,
                "inHead": p.in_head,
                "branches": None if p.branches is None else list(p.branches),
            }
        )
        if p.repository is not None:
            props["repository"] = p.repository
        if p.last_commit is not None:
            props["lastCommit"] = p.last_commit
            props["lastDate"] = p.last_date
    if f.inner:
        props["archivePath"] = f.inner  # the place inside the archive or image the location names
    if f.validation is not None:
        props["validationStatus"] = f.validation.status
        props["validationReason"] = f.validation.reason
        if f.validation.checked_at:
            props["validationCheckedAt"] = f.validation.checked_at
    if f.reach is not None:
        props["reach"] = reach_to_dict(f.reach)
        props["reachSummary"] = f.reach.summary
        props["blastRadius"] = f.reach.blast_radius
    return props


def format_sarif(
    findings: Sequence[Finding], skipped: Skipped, show_secrets: bool = False, *, suppressed: Suppressed = ()
) -> str:
    """SARIF 2.1.0 for GitHub code scanning (github/codeql-action/upload-sarif)."""
    rule_index = {rule.id: i for i, rule in enumerate(RULES)}
    results: List[Dict[str, Any]] = []
    for f in findings:
        uri, relative = _sarif_uri(f.outer)  # inside an archive: the archive (the inner path is a property)
        artifact: Dict[str, Any] = {"uri": uri}
        if relative:
            artifact["uriBaseId"] = SARIF_SRCROOT
        results.append(
            {
                "ruleId": f.rule_id,
                "ruleIndex": rule_index[f.rule_id],
                # An expired OAuth token does not fail the run: show it, but as a note.
                "level": "error" if f.fails else "note",
                "message": {"text": _sarif_message(f, show_secrets)},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": artifact,
                            "region": {"startLine": f.line, "startColumn": f.column},
                        }
                    }
                ],
                "partialFingerprints": {SARIF_FINGERPRINT_KEY: f.fingerprint},
                "properties": _sarif_properties(f),
            }
        )
    notifications = [
        {
            "level": "warning",
            "message": {"text": f"skipped {u.path}: {u.reason}"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _sarif_uri(u.path)[0]}}}],
        }
        for u in skipped
    ]
    # Not successful when something that could hold a credential was not read (the run exits 2).
    invocation: Dict[str, Any] = {"executionSuccessful": not incomplete(skipped)}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    invocation["properties"] = {"unread": sum(1 for u in skipped if not u.chosen)}
    document = {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": [_sarif_rule(rule) for rule in RULES],
                    }
                },
                "invocations": [invocation],
                # Finding columns count characters (code points), not UTF-16 units.
                "columnKind": "unicodeCodePoints",
                "results": results,
                "properties": {"complete": not incomplete(skipped), "suppressed": suppressed_dict(suppressed)},
            }
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# --- GitLab ---------------------------------------------------------------------------------------


def _gitlab_time(moment: Optional[datetime.datetime]) -> str:
    moment = moment or datetime.datetime.now(datetime.timezone.utc)
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")  # the schema wants exactly this shape, UTC


def _gitlab_vulnerability(f: Finding, show_secrets: bool) -> Dict[str, Any]:
    rule = RULES_BY_ID[f.rule_id]
    path = report_path(f.outer)  # inside an archive: the archive (the inner path is a detail)
    commit: Dict[str, Any] = {"sha": GITLAB_NO_COMMIT}
    repository = None
    if f.provenance is not None:
        commit = {"sha": f.provenance.commit, "author": f.provenance.author, "date": f.provenance.date}
        repository = f.provenance.repository
    description = rule.description
    if owner(f):
        description += f" It opens {owner(f)}."
    description += f" Status: {status(f)}"
    description += f" ({f.validation.reason})." if f.validation is not None else "."
    details: Dict[str, Any] = {
        "fingerprint": {"name": "Content fingerprint", "type": "text", "value": f.fingerprint},
        "status": {"name": "Status", "type": "text", "value": status(f)},
    }
    if f.encoding != "plain":
        details["encoding"] = {"name": "Encoding", "type": "text", "value": f.encoding}
    if f.reach is not None:
        description += f" Reaches {f.reach.summary}."
        details["reach"] = {"name": "Reaches", "type": "text", "value": reach_line(f.reach)}
    if f.inner:
        details["archive_path"] = {"name": "Place inside the archive", "type": "text", "value": f.inner}
    if f.key is not None:
        details["key"] = {"name": "Key", "type": "text", "value": f.key}
    place = f"{f.fingerprint}:{report_path(f.path)}:{f.line}:{commit['sha']}"
    if repository is not None:
        details["repository"] = {"name": "Repository", "type": "text", "value": repository}
        place = f"{repository}:{place}"
    return {
        # Stable per finding and place, so re-running a pipeline yields the same ids.
        "id": str(uuid.uuid5(_GITLAB_ID_NAMESPACE, place)),
        "category": "secret_detection",
        "name": rule.name,
        "description": description,
        "severity": severity(f)[0] if f.fails else "Low",
        "solution": rule.revoke,
        "scanner": {"id": TOOL_NAME, "name": TOOL_NAME},
        "identifiers": [{"type": "pit_guard_rule_id", "name": f"pit-guard {rule.id}", "value": rule.id}],
        "location": {"file": path, "start_line": f.line, "end_line": f.line, "commit": commit},
        # GitLab shows this as the leaked value: redacted like everywhere else.
        "raw_source_code_extract": f.shown(show_secrets),
        "details": details,
    }


def format_gitlab(
    findings: Sequence[Finding],
    skipped: Skipped,
    show_secrets: bool = False,
    *,
    started: Optional[datetime.datetime] = None,
    finished: Optional[datetime.datetime] = None,
    suppressed: Suppressed = (),
) -> str:
    """GitLab secret detection report (`artifacts: reports: secret_detection`)."""
    tool = {"id": TOOL_NAME, "name": TOOL_NAME, "version": __version__, "vendor": {"name": TOOL_NAME}}
    scan: Dict[str, Any] = {
        "analyzer": dict(tool),
        "scanner": dict(tool),
        "type": "secret_detection",
        "start_time": _gitlab_time(started),
        "end_time": _gitlab_time(finished),
        # A scan that could not read everything is not a success (the run exits 2).
        "status": "failure" if incomplete(skipped) else "success",
        "primary_identifiers": [
            {"type": "pit_guard_rule_id", "name": f"pit-guard {rule.id}", "value": rule.id} for rule in RULES
        ],
    }
    messages = [{"level": "warn", "value": f"skipped {u.path}: {u.reason}"} for u in skipped]
    told = describe_suppressed(suppressed)
    if told:
        messages.append({"level": "info", "value": told})
    if messages:
        scan["messages"] = messages
    document = {
        "version": GITLAB_SCHEMA_VERSION,
        "scan": scan,
        "vulnerabilities": [_gitlab_vulnerability(f, show_secrets) for f in findings],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# --- markdown -------------------------------------------------------------------------------------


def _md_code(text: str) -> str:
    """A code span that survives backticks and newlines in paths."""
    text = text.replace("\n", "\\n").replace("\r", "\\r")
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_escape(text: str) -> str:
    """Plain text from git (author names) must not turn into markdown or HTML."""
    for char in "\\`*_[]<>#|":
        text = text.replace(char, "\\" + char)
    return text.replace("\n", " ")


def _account(f: Finding) -> Tuple[int, str, str]:
    """(order, key, heading) of the account a credential belongs to."""
    if f.location_id:
        near = NEAR_ONLY if f.location_near else ""
        return 0, f.location_id, f"Sub-account (location) {_md_code(f.location_id)}{near}"
    if f.company_id:
        return 1, f.company_id, f"Agency (company) {_md_code(f.company_id)}"
    if f.client_id:
        return 2, f.client_id, f"Marketplace app {_md_code(f.client_id)}"
    return 3, "", "Account not known (find where the credential is configured)"


def _place(f: Finding) -> str:
    place = f"{_md_code(report_path(f.path))} line {f.line}"
    if f.provenance is not None:
        p = f.provenance
        if p.repository is not None:
            place = f"repository {_md_code(p.repository)}: {place}"
        place += f", commit {_md_code(p.commit[:12])} by {_md_escape(p.author)} on {_md_escape(p.date)}"
        place += "; " + _md_escape(_reach(p))
    return place


def _repository(f: Finding) -> str:
    return f.provenance.repository or "" if f.provenance is not None else ""


def format_markdown(
    findings: Sequence[Finding], skipped: Skipped, show_secrets: bool = False, *, suppressed: Suppressed = ()
) -> str:
    """A revocation checklist: one entry per credential (however many places hold it), grouped by
    the sub-account or agency it opens, in the order a person works through it."""
    rule_order = {rule.id: i for i, rule in enumerate(RULES)}
    credentials: Dict[str, List[Finding]] = {}
    for f in findings:
        credentials.setdefault(f.fingerprint, []).append(f)
    accounts: Dict[Tuple[int, str, str], List[List[Finding]]] = {}
    for places in credentials.values():
        accounts.setdefault(_account(places[0]), []).append(places)

    count = len(credentials)
    out = ["# GoHighLevel credentials to revoke", ""]
    if not count:
        out.append("pit-guard found no GoHighLevel credentials.")
    else:
        out.append(
            f"pit-guard found {count} credential{'s' if count != 1 else ''} in {len(findings)} "
            f"place{'s' if len(findings) != 1 else ''}. Revoke each one first (deleting it from the "
            "code or from git history does not un-leak it), then remove it from the code."
        )
    # Widest reach first (an agency token opening 214 sub-accounts before a single sub-account's).
    widest = {a: max(blast_radius(ps[0]) for ps in group) for a, group in accounts.items()}
    for account in sorted(accounts, key=lambda a: (-widest[a], a[0], a[1])):
        out += ["", f"## {account[2]}"]
        group = sorted(
            accounts[account],
            key=lambda ps: (-blast_radius(ps[0]), rule_order.get(ps[0].rule_id, 99), ps[0].fingerprint),
        )
        for places in group:
            first = places[0]
            rule = RULES_BY_ID[first.rule_id]
            # The same place can come twice (a file scan and its history): list it once.
            unique: Dict[str, Finding] = {}
            for f in sorted(places, key=lambda f: (_repository(f), report_path(f.path), f.line, f.column)):
                unique.setdefault(_place(f), f)
            places = list(unique.values())
            state = status(first)
            reason = f" ({_md_escape(first.validation.reason)})" if first.validation is not None else ""
            out += ["", f"### {rule.name} {_md_code(first.shown(show_secrets))}", ""]
            out.append(f"- Status: **{state}**{reason}")
            if first.reach is not None:
                out.append(f"- Reaches: **{_md_escape(first.reach.summary)}**")
                detail = reach_line(first.reach).split("; ", 1)[1:]
                if detail:
                    out.append(f"  - {_md_escape(detail[0])}")
            out.append(f"- Rule: {_md_code(rule.id)}, fingerprint {_md_code(first.fingerprint)}")
            if first.key is not None:
                out.append(f"- Key: {_md_code(first.key)}")
            repositories = sorted({_repository(f) for f in places} - {""})
            if repositories:  # a fleet audit: every repository holding it, however many places
                count_repos = f"{len(repositories)} repositor{'ies' if len(repositories) != 1 else 'y'}"
                out.append(f"- In {count_repos}: " + ", ".join(_md_code(r) for r in repositories))
            out.append(f"- Found in {len(places)} place{'s' if len(places) != 1 else ''}:")
            out += [f"  - {_place(f)}" for f in places[:MARKDOWN_MAX_PLACES]]
            if len(places) > MARKDOWN_MAX_PLACES:
                out.append(f"  - … and {len(places) - MARKDOWN_MAX_PLACES} more (see `--format json`)")
            if state in ("expired", "dead"):
                out.append(f"- [ ] Confirm it no longer works ({state}); no revocation needed")
            else:
                out.append(f"- [ ] Revoke it: {rule.revoke}")
                out.append("- [ ] Put the new credential where the integration reads it (secret store or environment)")
            out.append("- [ ] Remove it from every place listed above")
    if incomplete(skipped):
        out += ["", "**Incomplete scan:** inputs listed under *Not scanned* were not read."]
    if skipped:
        out += ["", "## Not scanned", ""]
        out += [f"- {_md_code(report_path(u.path))}: {_md_escape(u.reason)}" for u in skipped]
    told = describe_suppressed(suppressed)
    if told:
        out += ["", "## Suppressed", "", _md_escape(told)]
    return "\n".join(out) + "\n"


# --- dispatch -------------------------------------------------------------------------------------

FORMATTERS: Dict[str, Callable[..., str]] = {
    "text": format_text,
    "json": format_json,
    "sarif": format_sarif,
    "gitlab": format_gitlab,
    "markdown": format_markdown,
    "html": format_html,
}


def format_report(
    fmt: str,
    findings: Sequence[Finding],
    skipped: Skipped,
    show_secrets: bool,
    *,
    color: bool = False,
    started: Optional[datetime.datetime] = None,
    suppressed: Suppressed = (),
) -> str:
    if fmt == "text":
        return format_text(findings, skipped, show_secrets, color=color, suppressed=suppressed)
    if fmt in ("gitlab", "html"):
        return FORMATTERS[fmt](findings, skipped, show_secrets, started=started, suppressed=suppressed)
    return FORMATTERS[fmt](findings, skipped, show_secrets, suppressed=suppressed)


# --- writing --------------------------------------------------------------------------------------


def _same_stream(st: os.stat_result) -> Optional[int]:
    """The standard stream (1 or 2) that `st` is, or None (`--output /dev/stdout`, `/proc/self/fd/1`)."""
    for fd in (1, 2):
        try:
            other = os.fstat(fd)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
            return fd
    return None


def write_output(path: str, text: str, what: str, *, skip_unchanged: bool = False) -> bool:
    """Write `text` to `path`; returns False when `skip_unchanged` and the file already holds it.

    A regular file (or a new one) is replaced atomically: written beside it and renamed, so an
    interrupted or failed run never leaves half a report and a reader never sees one; a symlink
    keeps pointing at the replaced file. Anything else (a pipe, /dev/stdout, a terminal,
    /dev/full) is never read and gets the bytes streamed. Errors are FatalError (exit 2).
    """
    from pit_guard.errors import FatalError

    data = text.encode("utf-8")
    try:
        st: Optional[os.stat_result] = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise FatalError(f"{path}: cannot write the {what}: {e.strerror or e}") from None
    if st is not None and (not stat.S_ISREG(st.st_mode) or _same_stream(st) is not None):
        _stream(path, data, what, _same_stream(st))
        return True
    target = os.path.realpath(path)
    if skip_unchanged and st is not None and st.st_size == len(data):
        try:
            with open(target, "rb") as f:
                if f.read(len(data) + 1) == data:  # bounded: never more than the new content and a byte
                    return False
        except OSError:
            pass  # unreadable: write it
    if st is not None:
        mode = stat.S_IMODE(st.st_mode)
    else:
        umask = os.umask(0o22)
        os.umask(umask)
        mode = 0o666 & ~umask
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=os.path.dirname(target))
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
        tmp = None
    except OSError as e:
        raise FatalError(f"{path}: cannot write the {what}: {e.strerror or e}") from None
    finally:
        if tmp is not None:  # failed or interrupted (a signal): no temp file left behind
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return True


def _stream(path: str, data: bytes, what: str, fd: Optional[int]) -> None:
    from pit_guard.errors import FatalError

    try:
        if fd is not None:  # our own stdout or stderr: write through it, do not reopen (and truncate) it
            stream = sys.stdout if fd == 1 else sys.stderr
            if stream is None:
                raise OSError(errno.EBADF, "the stream is closed")
            stream.flush()
            _write_all(fd, data)
        else:
            with open(path, "wb") as f:
                f.write(data)
    except OSError as e:
        raise FatalError(f"{path}: cannot write the {what}: {e.strerror or e}") from None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
