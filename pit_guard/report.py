"""Report formats: one function per format, each returns the whole report as a string.

Every format shows secrets redacted unless `show_secrets` is true.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Sequence, Tuple

from pit_guard import __version__
from pit_guard.finding import Finding
from pit_guard.rules import RULES_BY_ID

JSON_SCHEMA_VERSION = 1


def owner(finding: Finding) -> str:
    """Which sub-account or agency a credential opens, in words, or '' when unknown."""
    if finding.location_id:
        return f"sub-account (location) {finding.location_id}"
    if finding.company_id:
        return f"agency (company) {finding.company_id}"
    return ""


def finding_to_dict(finding: Finding, show_secrets: bool) -> Dict[str, Any]:
    rule = RULES_BY_ID[finding.rule_id]
    out: Dict[str, Any] = {
        "rule_id": finding.rule_id,
        "rule_name": rule.name,
        "fingerprint": finding.fingerprint,
        "secret": finding.shown(show_secrets),
        "secret_redacted": not show_secrets,
        "path": finding.path,
        "line": finding.line,
        "column": finding.column,
        "encoding": finding.encoding,
        "location_id": finding.location_id,
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
    }
    if finding.provenance is not None:
        p = finding.provenance
        out["provenance"] = {
            "commit": p.commit, "author": p.author, "date": p.date, "commit_count": p.commit_count,
            "in_head": p.in_head, "branches": list(p.branches),
        }
    if finding.validation is not None:
        v = finding.validation
        out["validation"] = {"status": v.status, "reason": v.reason, "checked_at": v.checked_at}
    return out


def format_json(findings: Sequence[Finding], skipped: Sequence[Tuple[str, str]], show_secrets: bool = False) -> str:
    document = {
        "version": JSON_SCHEMA_VERSION,
        "tool": {"name": "pit-guard", "version": __version__},
        "findings": [finding_to_dict(f, show_secrets) for f in findings],
        "skipped": [{"path": path, "reason": reason} for path, reason in skipped],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _style(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def format_text(findings: Sequence[Finding], skipped: Sequence[Tuple[str, str]], show_secrets: bool = False,
                color: bool = False) -> str:
    lines: List[str] = []
    for f in findings:
        rule = RULES_BY_ID[f.rule_id]
        where = _style(f"{f.path}:{f.line}:{f.column}", "1", color)
        state = " (expired)" if f.expired else ""
        lines.append(f"{where}: {_style(rule.name, '31', color)}{state} {f.shown(show_secrets)} [{f.rule_id}]")
        details = []
        if owner(f):
            details.append(f"opens: {owner(f)}")
        if f.encoding != "plain":
            details.append(f"encoded: {f.encoding}")
        if f.scopes:
            details.append("scopes: " + " ".join(f.scopes))
        if f.provenance is not None:
            p = f.provenance
            details.append(f"first seen: {p.commit[:12]} by {p.author} on {p.date}")
        if f.validation is not None:
            details.append(f"status: {f.validation.status} ({f.validation.reason})")
        for detail in details:
            lines.append(f"    {detail}")
        lines.append(f"    revoke: {rule.revoke}")
    for path, reason in skipped:
        lines.append(f"{path}: skipped: {reason}")
    return "\n".join(lines) + ("\n" if lines else "")
