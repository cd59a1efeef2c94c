"""How far pit-guard looks into archives, and how it tells one: light, so the hook path can import it
without the archive libraries (read.py imports those where an archive is read)."""

from __future__ import annotations

import dataclasses
from typing import FrozenSet, Optional

from pit_guard.finding import Unread

SEP = "!"  # between an archive's place and an entry's name
HEAD = 512  # enough to tell every kind (tar's magic is at 257)
ZIP_END = 22 + 0xFFFF  # a zip's end record and the longest comment after it: where a zip after other bytes shows
WHOLE = 32 << 20  # entries up to this size are read whole and scanned at once; larger ones streamed
OPTIONS = {
    "depth": "--max-archive-depth",
    "bytes": "--max-archive-bytes",
    "ratio": "--max-archive-ratio",
    "entries": "--max-archive-entries",
}


@dataclasses.dataclass(frozen=True)
class Limits:
    """How far pit-guard looks into one archive (an archive named on the command line or one blob)."""

    depth: int = 3  # archives inside archives: the outer one is level 1; 0 opens none
    total_bytes: int = 1 << 30  # uncompressed bytes read from one archive in all (nested ones included)
    # An entry expanding more than this many times is a bomb, not data (Apache POI's default too;
    # source code and configs compress 3-20 times). Judged past RATIO_FLOOR bytes, so small files never.
    ratio: int = 100
    entries: int = 100_000  # files in one archive in all (nested ones included)
    chosen: FrozenSet[str] = frozenset()  # the limits the user set (depth, bytes, ratio, entries)

    def value(self, what: str) -> int:
        return {"depth": self.depth, "bytes": self.total_bytes, "ratio": self.ratio, "entries": self.entries}[what]

    def unread(self, what: str, place: str, reason: str) -> Unread:
        chosen = what in self.chosen
        limit = f"{OPTIONS[what]} {self.value(what)}"
        told = f"{reason} ({limit})" if chosen else f"{reason} ({limit}, the default: raise it to scan this)"
        return Unread(place, told, chosen)


def kind(head: bytes) -> Optional[str]:
    """zip, tar, gzip, bzip2, xz, or None: from the first HEAD bytes."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"\x1f\x8b\x08"):
        return "gzip"
    if head.startswith(b"BZh") and head[3:4].isdigit() and head[4:10] == b"1AY&SY":
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head[257:262] == b"ustar":
        return "tar"
    return None
