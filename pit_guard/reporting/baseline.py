"""Baselines: accept the findings an old repository already has, report only new ones.

A baseline entry is a content fingerprint (sha256 of rule id and secret), the rule id, and one path
for the humans reading the file. Line numbers are never part of it and the secret never is: moving,
re-indenting or copying a secret keeps its fingerprint, so it stays accepted.

`pit-guard baseline` replaces the file with what this scan finds (a secret removed since is
dropped, so it is reported again if it ever comes back); `--merge` keeps the entries already there,
for building a baseline from several partial scans. The file is written only when its content
changes, in a fixed order with a trailing newline, so an unchanged baseline keeps every byte.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Sequence, Set, Tuple

from pit_guard.errors import FatalError
from pit_guard.finding import Finding
from pit_guard.reporting.formats import write_output

BASELINE_VERSION = 1

Entry = Dict[str, str]


def entries_for(findings: Sequence[Finding]) -> List[Entry]:
    """One entry per fingerprint; its path is the smallest place it was found (stable)."""
    from pit_guard.reporting.formats import report_path

    best: Dict[str, Entry] = {}
    for f in findings:
        path = report_path(f.path)
        entry = best.get(f.fingerprint)
        if entry is None or path < entry["path"]:
            best[f.fingerprint] = {"fingerprint": f.fingerprint, "rule_id": f.rule_id, "path": path}
    return sort_entries(best.values())


def sort_entries(entries: Any) -> List[Entry]:
    return sorted(entries, key=lambda e: (e["path"], e["rule_id"], e["fingerprint"]))


def render(entries: Sequence[Entry]) -> str:
    document = {"version": BASELINE_VERSION, "findings": list(entries)}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def read_entries(path: str) -> List[Entry]:
    """Entries of a baseline file; a missing or malformed file is an error, never 'no baseline'
    (silently reporting everything, or nothing, would both be wrong)."""
    from pit_guard.small_files import read_small_file

    try:
        document = json.loads(read_small_file(path).decode("utf-8"))
    except FileNotFoundError:
        raise FatalError(f"{path}: baseline file not found (create it with `pit-guard baseline`)") from None
    except OSError as e:
        raise FatalError(f"{path}: cannot read the baseline: {e.strerror or e}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise FatalError(f"{path}: not a pit-guard baseline (invalid JSON: {e})") from None
    except RecursionError:
        raise FatalError(f"{path}: not a pit-guard baseline (JSON nested too deeply)") from None
    if not isinstance(document, dict) or document.get("version") != BASELINE_VERSION:
        raise FatalError(f"{path}: not a pit-guard baseline of version {BASELINE_VERSION}")
    findings = document.get("findings")
    if not isinstance(findings, list):
        raise FatalError(f"{path}: not a pit-guard baseline (no findings list)")
    entries: List[Entry] = []
    for item in findings:
        if not (
            isinstance(item, dict) and all(isinstance(item.get(k), str) for k in ("fingerprint", "rule_id", "path"))
        ):
            raise FatalError(f"{path}: malformed baseline entry {item!r:.80}")
        entries.append({"fingerprint": item["fingerprint"], "rule_id": item["rule_id"], "path": item["path"]})
    return entries


def load_fingerprints(path: str) -> Set[str]:
    return {entry["fingerprint"] for entry in read_entries(path)}


def filter_baselined(findings: Sequence[Finding], path: str) -> List[Finding]:
    """Findings not accepted by the baseline at `path`."""
    accepted = load_fingerprints(path)
    return [f for f in findings if f.fingerprint not in accepted]


def write_baseline(path: str, findings: Sequence[Finding], *, merge: bool = False) -> Tuple[int, bool]:
    """Write the baseline for `findings` (plus the existing entries with `merge`).

    Returns (number of entries, whether the file changed).
    """
    entries = entries_for(findings)
    if merge and os.path.exists(path):
        if not os.path.isfile(path):
            raise FatalError(f"{path}: --merge needs a regular baseline file to read")
        current = {e["fingerprint"] for e in entries}
        entries = sort_entries(entries + [e for e in read_entries(path) if e["fingerprint"] not in current])
    text = render(entries)
    # Written beside it and renamed (an interrupted run never leaves half a baseline); a pipe or
    # device is streamed to and never read.
    changed = write_output(path, text, "baseline", skip_unchanged=True)
    return len(entries), changed
