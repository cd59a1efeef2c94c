"""Where sources hand bytes over: an input whose first bytes are an archive's is read as one (a tar
holding a container image as an image); anything else is left to the caller to scan as usual."""

from __future__ import annotations

import io
import zipfile
from typing import Any, Callable, Optional, Tuple

from pit_guard.archives.images import scan_image, tar_image
from pit_guard.archives.limits import HEAD, ZIP_END, Limits, kind
from pit_guard.archives.read import Joined, Outcome, Spooled, fill, scan_archive
from pit_guard.detection import detect
from pit_guard.finding import Unread


def scan_source(archive: str, source: Any, name: str, limits: Limits) -> Outcome:
    """scan_archive, or scan_image when `source` is a seekable tar holding an image."""
    if archive == "tar" and limits.depth > 0 and hasattr(source, "seek"):
        store = tar_image(source)
        if store is not None:
            return scan_image(store, name, limits)
    return scan_archive(archive, source, name, limits)


def scan_blob_bytes(data: bytes, name: str, limits: Limits) -> Optional[Outcome]:
    """What an archive held in `data` (a git blob) holds, or None when `data` is no archive."""
    archive = kind(data[:HEAD])
    if archive is None:
        return _appended_zip(data, name, limits)
    return scan_source(archive, io.BytesIO(data), name, limits)


def _appended_zip(data: bytes, name: str, limits: Limits) -> Optional[Outcome]:
    """A zip after other bytes (self-extracting, appended to a script): the bytes scanned as they are
    and the zip's entries read too; None for anything else."""
    if limits.depth < 1 or data.find(b"PK\x05\x06", max(0, len(data) - ZIP_END)) < 0:  # no copy: every blob
        return None
    source = io.BytesIO(data)
    if not zipfile.is_zipfile(source):
        return None
    found, error = detect.scan_or_error(data, name)
    outcome = scan_archive("zip", source, name, limits)
    outcome.findings[:0] = found
    outcome.skipped += [Unread(name, error)] if error is not None else []
    return outcome


def scan_blob_stream(
    read: Callable[[int], bytes], name: str, limits: Limits
) -> Tuple[Optional[Outcome], Callable[[int], bytes]]:
    """Like scan_blob_bytes for a blob too large to hold (read as it comes): (None, the same stream
    from its start) when it is no archive, for the caller to scan as usual."""
    head = fill(read, HEAD)
    archive = kind(head)
    if archive is None:
        return None, Joined(head, read).read
    stream = Joined(head, read)
    if archive in ("zip", "tar"):  # a zip must seek; a tar may be an image (found by seeking)
        with Spooled(stream, None) as source:
            return scan_source(archive, source, name, limits), _no_more
    return scan_archive(archive, stream, name, limits), _no_more


def _no_more(n: int) -> bytes:
    return b""
