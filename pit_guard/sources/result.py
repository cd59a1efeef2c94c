"""What every source returns: one result type for files, staged changes, ranges, pushes and history."""

from __future__ import annotations

import dataclasses
from typing import List

from pit_guard.finding import Finding, Unread


@dataclasses.dataclass
class SourceResult:
    findings: List[Finding] = dataclasses.field(default_factory=list)
    skipped: List[Unread] = dataclasses.field(default_factory=list)  # not read: exit 2 unless chosen
    notices: List[str] = dataclasses.field(default_factory=list)  # told as `note:` lines
    scanned: int = 0  # files or blobs scanned
