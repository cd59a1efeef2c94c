"""Reading the small files a run is configured by (config, baseline, report, CI event payload).

Such a path comes from the user, the environment or a repository, so it may name a FIFO (opening it
would block for ever), a device (/dev/zero never ends) or a huge file: only a regular file is read,
opened without blocking, and at most `limit` bytes of it.
"""

from __future__ import annotations

import os
import stat

# Far above any real config, baseline or report of pit-guard's; far below a memory problem.
DEFAULT_LIMIT = 256 * 1024 * 1024


class NotReadable(OSError):
    """The path is not a regular file of a sane size (the message says which)."""


def read_at_most(fd: int, size: int) -> bytes:
    """At most `size` bytes from `fd` (fewer at its end). Asking one byte more than a file should
    hold tells a caller that the file is bigger than it said, or grew while being read."""
    parts = []
    while size > 0:
        part = os.read(fd, min(size, 1 << 20))
        if not part:
            break
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def read_small_file(path: str, limit: int = DEFAULT_LIMIT) -> bytes:
    """The bytes of the regular file at `path` (a symlink to one is followed); OSError otherwise
    (FileNotFoundError when it does not exist, NotReadable for a FIFO, device, folder or a file
    over `limit`)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise NotReadable(f"{kind} (a FIFO, device or socket is never read)")
        if info.st_size > limit:
            raise NotReadable(f"larger than {limit} bytes")
        data = read_at_most(fd, limit + 1)
        if len(data) > limit:
            raise NotReadable(f"larger than {limit} bytes")
        return data
    finally:
        os.close(fd)
