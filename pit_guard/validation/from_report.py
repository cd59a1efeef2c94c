"""Findings back from a JSON report, for `pit-guard validate --report FILE`.

A report holds secrets redacted unless it was written with --show-secrets, so a redacted entry is
recovered by re-reading the place it names (the file, or the blob in the commit for history
findings) and keeping the credential whose fingerprint matches. The fingerprint is a SHA-256 of
rule and secret: a report can only lead us to a token whose hash it already holds.
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Optional, Tuple

from pit_guard.errors import FatalError
from pit_guard.finding import Finding, Provenance, fingerprint

MAX_READ = 64 * 1024 * 1024  # a report naming a huge file is not read past this
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def findings_from_report(
    document: object, root: str = ".", name: str = "the report"
) -> Tuple[List[Finding], List[Tuple[Dict[str, Any], str]]]:
    """(findings recovered with their full secret, [(report entry, why not)]).

    Anything but a pit-guard JSON report is a FatalError: it would re-check nothing and pass."""
    from pit_guard.detection.rules import RULES_BY_ID

    entries = document.get("findings") if isinstance(document, dict) else None
    if not isinstance(document, dict) or document.get("version") != 1 or not isinstance(entries, list):
        raise FatalError(f"{name}: not a pit-guard JSON report (write one with --format json)")
    recovered: List[Finding] = []
    missing: List[Tuple[Dict[str, Any], str]] = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("rule_id") not in RULES_BY_ID:
            raise FatalError(f"{name}: a finding in the report has no known rule_id")
        secret, why = _secret_for(entry, root)
        if secret is None:
            missing.append((entry, why))
        else:
            recovered.append(_finding(entry, secret))
    return recovered, missing


def _secret_for(entry: Dict[str, Any], root: str) -> Tuple[Optional[str], str]:
    rule_id, wanted = entry.get("rule_id"), entry.get("fingerprint")
    if not isinstance(rule_id, str) or not isinstance(wanted, str):
        return None, "the report entry has no rule_id or fingerprint"
    secret = entry.get("secret")
    if entry.get("secret_redacted") is False and isinstance(secret, str) and fingerprint(rule_id, secret) == wanted:
        return secret, ""
    data = _source(entry, root)
    if data is None:
        return None, "the secret is redacted in the report and its source could not be read"
    from pit_guard.detection.detect import scan_bytes

    for found in scan_bytes(data, str(entry.get("path", ""))):
        if found.rule_id == rule_id and found.fingerprint == wanted:
            return found.secret, ""
    return None, "the secret is redacted in the report and is no longer at the place it names"


def _source(entry: Dict[str, Any], root: str) -> Optional[bytes]:
    path = entry.get("path")
    if not isinstance(path, str) or not path or path == "<stdin>":
        return None
    provenance = entry.get("provenance")
    commit = provenance.get("commit") if isinstance(provenance, dict) else None
    if isinstance(commit, str) and _SHA.fullmatch(commit):
        from pit_guard.sources.git import blob_at

        data = blob_at(root, commit, path)
        return data[:MAX_READ] if data is not None else None
    from pit_guard.small_files import read_small_file

    for candidate in (path, os.path.join(root, path)):
        try:  # a crafted report may name a FIFO or a device: only regular files are read
            return read_small_file(candidate, MAX_READ)
        except OSError:
            continue
    return None


def _finding(entry: Dict[str, Any], secret: str) -> Finding:
    provenance = entry.get("provenance")
    return Finding(
        rule_id=str(entry["rule_id"]),
        secret=secret,
        path=str(entry.get("path", "")),
        line=_int(entry.get("line"), 1),
        column=_int(entry.get("column"), 1),
        encoding=str(entry.get("encoding") or "plain"),
        location_id=_str(entry.get("location_id")),
        company_id=_str(entry.get("company_id")),
        auth_class=_str(entry.get("auth_class")),
        client_id=_str(entry.get("client_id")),
        scopes=tuple(str(s) for s in entry.get("scopes") or ()),
        issued_at=_opt_int(entry.get("issued_at")),
        expires_at=_opt_int(entry.get("expires_at")),
        expired=bool(entry.get("expired")),
        provenance=_provenance(provenance) if isinstance(provenance, dict) else None,
        key=_key(entry.get("key")),
    )


def _provenance(p: Dict[str, Any]) -> Provenance:
    return Provenance(
        commit=str(p.get("commit", "")),
        author=str(p.get("author", "")),
        date=str(p.get("date", "")),
        commit_count=_int(p.get("commit_count"), 1),
        in_head=p.get("in_head") if isinstance(p.get("in_head"), bool) else None,
        branches=tuple(str(b) for b in p["branches"]) if isinstance(p.get("branches"), list) else None,
        last_commit=_str(p.get("last_commit")),
        last_date=_str(p.get("last_date")),
    )


def _key(value: Any) -> Optional[str]:
    """The generic rule's key name, only if it is one (a crafted report could hold anything)."""
    return value if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_.-]{1,80}", value) else None


def _str(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


def _opt_int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _int(value: Any, default: int) -> int:
    found = _opt_int(value)
    return default if found is None else found
