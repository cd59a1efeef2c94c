"""Archives read as streams, never extracted: every entry's bytes go through the detector.

What is an archive is told by its first bytes (magic), never by its name: zip and everything built
on it (jar, war, whl, apk, xpi, docx/xlsx/pptx, odt), tar, and gzip / bzip2 / xz (a compressed tar,
or one compressed file). An archive inside an archive is opened too, down to `Limits.depth` levels.

Nothing is written where an entry's name says: names are only ever shown, as the place of a
finding (`outer.zip!inner/dir/file.env`, one `!` per level). A nested zip (zip needs to seek) larger
than WHOLE bytes is copied to an anonymous temporary file, deleted when closed, never named.

Limits (fail closed: hitting one is an Unread that fails the run, unless the user set that limit):
uncompressed bytes in all (counted as they are decompressed, so a bomb stops at the limit), the
compression ratio of an entry, the number of entries, the nesting depth. Encrypted entries and
unsupported compression methods are Unread too.
"""

from __future__ import annotations

import bz2
import contextlib
import dataclasses
import gzip
import io
import lzma
import struct
import tarfile
import tempfile
import zipfile
import zlib
from typing import Any, Callable, Dict, List, Optional, Tuple

from pit_guard.archives.limits import HEAD, SEP, WHOLE, Limits, kind
from pit_guard.detection import detect
from pit_guard.finding import Finding, Unread

RATIO_FLOOR = 1 << 20  # the compression ratio is judged only past this many uncompressed bytes
_CHUNK = 1 << 20


def chain(inner: str, name: str, join: str = SEP) -> str:
    """The inner path of an entry `name` of the archive at `inner` ("" for the outermost)."""
    return f"{inner}{join}{name}" if inner else name


def _member_name(name: str) -> str:
    """A tar member's name as shown: without the `./` most tools put first."""
    while name.startswith("./"):
        name = name[2:]
    return name


@dataclasses.dataclass
class Outcome:
    findings: List[Finding] = dataclasses.field(default_factory=list)
    skipped: List[Unread] = dataclasses.field(default_factory=list)
    scanned: int = 0  # entries scanned


class _Stop(Exception):
    """A limit for the whole archive was hit: read nothing more of it."""

    def __init__(self, unread: Unread) -> None:
        super().__init__()
        self.unread = unread


class _Skip(Exception):
    """This entry (or nested archive) cannot be read to the end: `unread` says why, the rest goes on."""

    def __init__(self, unread: Unread) -> None:
        super().__init__()
        self.unread = unread


class Joined:
    """`head` (already read), then the rest of `read`: a file-like object with read(n)."""

    def __init__(self, head: bytes, read: Callable[[int], bytes]) -> None:
        self._head = head
        self._read = read

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n < 0:
                data, self._head = self._head + _read_all(self._read), b""
                return data
            data, self._head = self._head[:n], self._head[n:]
            if len(data) < n:
                data += fill(self._read, n - len(data))
            return data
        return _read_all(self._read) if n < 0 else fill(self._read, n)


def fill(read: Callable[[int], bytes], n: int) -> bytes:
    """Up to `n` bytes, short only at the end."""
    parts: List[bytes] = []
    got = 0
    while got < n:
        part = read(min(n - got, _CHUNK))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _read_all(read: Callable[[int], bytes]) -> bytes:
    parts: List[bytes] = []
    while True:
        part = read(_CHUNK)
        if not part:
            return b"".join(parts)
        parts.append(part)


class _Counter:
    """The compressed bytes a decompressor has taken from `source` (for its ratio)."""

    def __init__(self, source: Any) -> None:
        self._source = source
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._source.read(n)
        self.count += len(data)
        return data

    def readable(self) -> bool:
        return True


# What a broken or hostile archive raises while it is read: its own error, never the run's.
_BROKEN = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    tarfile.TarError,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    ValueError,
    struct.error,
)


class Walk:
    """One outermost archive: its budget of bytes and entries, and what the limits left out."""

    def __init__(self, name: str, limits: Limits, out: Outcome) -> None:
        self.name = name
        self.limits = limits
        self.out = out
        self.left = limits.total_bytes
        self.entries = 0
        self._hits: Dict[str, List[Unread]] = {}

    def place(self, inner: str) -> str:
        return f"{self.name}{SEP}{inner}" if inner else self.name

    # --- limits ---------------------------------------------------------------------------------

    def counted(self, read: Callable[[int], bytes], inner: str) -> Callable[[int], bytes]:
        """`read` with every byte counted against the archive's budget."""

        def reading(n: int) -> bytes:
            data = read(n)
            self.left -= len(data)
            if self.left < 0:
                reason = f"more than {self.limits.total_bytes} uncompressed bytes in this archive: the rest not read"
                raise _Stop(self.limits.unread("bytes", self.place(inner), reason))
            return data

        return reading

    def entry_count(self, inner: str) -> None:
        self.entries += 1
        if self.entries > self.limits.entries:
            reason = f"more than {self.limits.entries} entries in this archive: the rest not read"
            raise _Stop(self.limits.unread("entries", self.place(inner), reason))

    def hit(self, what: str, unread: Unread) -> None:
        """A limit hit by one entry: told once per limit, with how many more it left out."""
        self._hits.setdefault(what, []).append(unread)

    def finish(self) -> None:
        for hits in self._hits.values():
            first = hits[0]
            more = f" (and {len(hits) - 1} more entries like it)" if len(hits) > 1 else ""
            self.out.skipped.append(dataclasses.replace(first, reason=first.reason + more))
        self._hits = {}

    def too_expanded(self, inner: str, out: int, into: int) -> Optional[Unread]:
        if out > RATIO_FLOOR and out > self.limits.ratio * max(into, 1):
            reason = f"expands more than {self.limits.ratio} times (a decompression bomb?): not read"
            return self.limits.unread("ratio", self.place(inner), reason)
        return None

    # --- reading --------------------------------------------------------------------------------

    def run(self, archive: str, source: Any, inner: str = "", depth: int = 1, join: str = SEP) -> None:
        """Read the archive of kind `archive` from `source` (seekable for a zip), then tell the limits hit.
        `join` goes between `inner` and the names of its entries (`/` under an image layer)."""
        try:
            self.container(archive, inner, source, depth, join)
        except _Stop as stop:
            self.out.skipped.append(stop.unread)
        finally:
            self.finish()

    def container(self, archive: str, inner: str, source: Any, depth: int, join: str = SEP) -> None:
        try:
            if archive == "zip":
                self.zip(inner, source, depth, join)
            elif archive == "tar":
                self.tar(inner, source, depth, join)
            else:
                self.compressed(archive, inner, source, depth, join)
        except _Stop:
            raise
        except _Skip as skip:
            self.out.skipped.append(skip.unread)
        except _BROKEN as e:
            self.out.skipped.append(Unread(self.place(inner), f"a broken {archive} archive: {_why(e)}"))
            if archive == "zip":  # no central directory (truncated?): its stored entries still read as bytes
                with contextlib.suppress(OSError, ValueError):
                    source.seek(0)
                    self.scan(inner, b"", self.counted(source.read, inner))
        except OSError as e:
            self.out.skipped.append(Unread(self.place(inner), f"cannot read it: {e.strerror or _why(e)}"))
        except MemoryError:
            self.out.skipped.append(Unread(self.place(inner), "out of memory while reading it"))
        except Exception as e:  # noqa: BLE001 - whatever a hostile archive makes a library raise: its own error
            self.out.skipped.append(Unread(self.place(inner), f"cannot read it ({type(e).__name__}); please report it"))

    def entry(self, inner: str, read: Callable[[int], bytes], size: Optional[int], depth: int) -> None:
        """One entry's bytes (`read` counts them): a nested archive opened (within the depth), else scanned."""
        head = fill(read, HEAD)
        nested = kind(head)
        if nested is not None:
            if depth < self.limits.depth:
                stream = Joined(head, read)
                if nested == "zip":
                    with _seekable(stream, size) as seekable:
                        self.container(nested, inner, seekable, depth + 1)
                else:
                    self.container(nested, inner, stream, depth + 1)
                return
            reason = f"an archive nested more than {self.limits.depth} levels deep: its entries were not read"
            self.hit("depth", self.limits.unread("depth", self.place(inner), reason))
        self.scan(inner, head, read)

    def scan(self, inner: str, head: bytes, read: Callable[[int], bytes]) -> None:
        place = self.place(inner)
        data = head + fill(read, WHOLE + 1 - len(head))
        if len(data) <= WHOLE:
            found, error = detect.scan_or_error(data, place)
        else:
            found, error = detect.scan_stream_or_error(Joined(data, read).read, place)
        self.out.findings += [dataclasses.replace(f, path=place, inner=inner) for f in found] if inner else found
        if error is None:
            self.out.scanned += 1
        else:
            self.out.skipped.append(Unread(place, error))

    def zip(self, inner: str, source: Any, depth: int, join: str = SEP) -> None:
        self._zip_entry_count(inner, source)
        with zipfile.ZipFile(source) as archive:
            if archive.comment:  # shown by `unzip -l`, never extracted: a place a token hides
                self.scan(chain(inner, "(zip comment)", join), archive.comment, _no_more)
            _refuse_overlaps(archive.infolist(), self.place(inner))
            for info in archive.infolist():
                if info.is_dir() and info.file_size == 0:
                    continue  # a folder named `x/` may still hold bytes: then they are read
                child = chain(inner, info.filename, join)
                self.entry_count(child)
                if info.flag_bits & 0x1:
                    self.out.skipped.append(
                        Unread(self.place(child), "an encrypted entry: not scanned (pit-guard has no password)")
                    )
                    continue
                expanded = self.too_expanded(child, info.file_size, info.compress_size)
                if expanded is not None:
                    self.hit("ratio", expanded)
                    continue
                try:
                    with archive.open(info) as member:
                        self.entry(child, self.counted(member.read, child), info.file_size, depth)
                except NotImplementedError as e:  # a compression method zipfile lacks (deflate64, zstd, ...)
                    self.out.skipped.append(Unread(self.place(child), f"not scanned: {_why(e)}"))
                except _BROKEN as e:
                    self.out.skipped.append(Unread(self.place(child), f"a broken zip entry: {_why(e)}"))

    def _zip_entry_count(self, inner: str, source: Any) -> None:
        """Refuse a zip whose directory lists more entries than are left, before zipfile loads them all."""
        end_record = getattr(zipfile, "_EndRecData", None)
        total_at = getattr(zipfile, "_ECD_ENTRIES_TOTAL", None)
        if end_record is None or total_at is None:
            return
        end = end_record(source)
        listed = end[total_at] if end else 0
        size_at, location_at = getattr(zipfile, "_ECD_SIZE", None), getattr(zipfile, "_ECD_LOCATION", None)
        if end and size_at is not None and location_at is not None:
            # The count can lie (zipfile loads every entry of the directory, whatever it says: 1 million
            # listed as 1 made 520 MB and 19 s). Each entry starts with a signature: count those too.
            start = max(0, end[location_at] - end[size_at] - 76)  # 76: a zip64 end record and locator
            source.seek(start)
            directory = source.read(end[location_at] - start)
            listed = max(listed, directory.count(b"PK\x01\x02"))
            del directory
        source.seek(0)
        if listed > self.limits.entries - self.entries:
            reason = f"lists {listed} entries, more than {self.limits.entries} in all: not read"
            raise _Stop(self.limits.unread("entries", self.place(inner), reason))

    def tar(self, inner: str, source: Any, depth: int, join: str = SEP) -> None:
        broken = Blocks()
        # ignore_zeros: read past a zero block or a header that is not one (tarfile otherwise ends the
        # archive there without a word, leaving every later entry unread); `broken` counts the latter.
        with tarfile.open(fileobj=source, mode="r|", ignore_zeros=True, tarinfo=headers(broken)) as archive:
            for member in archive:
                child = chain(inner, _member_name(member.name), join)
                self.header(child, member)
                if not member.isreg() and member.type in tarfile.SUPPORTED_TYPES:
                    continue  # a folder, link or device (a type tarfile does not know holds data: read)
                self.entry_count(child)
                sparse: Optional[List[Tuple[int, int]]] = getattr(member, "sparse", None)
                if sparse is not None:  # holes are zeros made from nothing: judged like a ratio
                    expanded = self.too_expanded(child, member.size, sum(size for _, size in sparse))
                    if expanded is not None:
                        self.hit("ratio", expanded)
                        continue
                extracted = archive.extractfile(member)
                if extracted is None:
                    continue
                with extracted:
                    self.entry(child, self.counted(extracted.read, child), member.size, depth)
        if broken.bad:
            reason = f"{broken.bad} blocks of this tar are no valid header ({broken.first}): what they hold not read"
            self.out.skipped.append(Unread(self.place(inner), reason))

    def header(self, child: str, member: tarfile.TarInfo) -> None:
        """What a tar header carries besides the name: a link's target, pax records (comments, xattrs),
        plain text in the tar (found there before archives were opened), as `entry (tar header)`."""
        values = [member.linkname] + [f"{k}={v}" for k, v in member.pax_headers.items() if k not in _PAX_NAMES]
        text = "\n".join(value for value in values if value)
        if text:
            if not member.isreg():
                self.entry_count(child)  # a link is an entry too: a million of them are no free ride
            self.scan(f"{child} (tar header)", text.encode("utf-8", "surrogateescape"), _no_more)

    def compressed(self, archive: str, inner: str, source: Any, depth: int, join: str = SEP) -> None:
        """gzip, bzip2 or xz: a compressed tar (the same level), or one compressed file (one level down)."""
        counter: Any = _Counter(source)
        opened: Any
        if archive == "gzip":
            opened = gzip.GzipFile(fileobj=counter, mode="rb")
        elif archive == "bzip2":
            opened = bz2.BZ2File(counter, "rb")
        else:
            opened = lzma.LZMAFile(counter, "rb")
        made = 0

        def reading(n: int) -> bytes:
            nonlocal made
            data: bytes = opened.read(n)
            made += len(data)
            expanded = self.too_expanded(inner, made, counter.count)
            if expanded is not None:
                raise _Skip(expanded)
            return data

        with opened:
            read = self.counted(reading, inner)
            head = fill(read, HEAD)
            if kind(head) == "tar":
                self.tar(inner, Joined(head, read), depth, join)
            else:
                self.entry(chain(inner, _decompressed_name(inner or self.name)), Joined(head, read).read, None, depth)


_META_TYPES = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)
# Pax records not scanned: the name (shown, not scanned), the target (as linkname), numbers and owners.
_PAX_NAMES = frozenset(
    "path linkpath GNU.sparse.name GNU.sparse.major GNU.sparse.minor GNU.sparse.realsize GNU.sparse.size "
    "GNU.sparse.numblocks GNU.sparse.offset GNU.sparse.map mtime atime ctime size uid gid uname gname "
    "charset hdrcharset".split()
)
_MAX_RUN = 2048  # blocks in a row that are no header (1 MB): past this, the rest is not a tar's
_MAX_META = 1 << 20  # bytes of a pax or long-name header (names, times, xattrs: a few KB at most)


class Blocks:
    """Blocks of a tar that are no header, as tarfile passes over them (see `headers`)."""

    def __init__(self) -> None:
        self.bad = 0  # not a header, not empty: what they hold is not read
        self.first = ""  # why the first one is not
        self.run = 0  # blocks in a row that are no header (zeros included)


def headers(blocks: Blocks) -> Any:
    """A TarInfo class that counts in `blocks` each block that is no header (a zero block or the end
    are not counted): tarfile skips those (ignore_zeros) or stops at a truncated one, silently. A long
    run of such blocks ends the reading (a 10 GB sparse file of zeros after a tar is not walked)."""

    class Header(tarfile.TarInfo):
        def _proc_member(self, tar: tarfile.TarFile) -> Any:
            # tarfile reads a pax or long-name header whole, as large as it claims: a .tar.gz of 20 MB
            # claiming 600 MB held 1.2 GB in memory (a plain tar: its whole size). Real ones are small.
            if self.type in _META_TYPES and self.size > _MAX_META:
                raise tarfile.ReadError(f"a {self.size}-byte extended header (more than {_MAX_META}): a hostile tar?")
            return super()._proc_member(tar)  # type: ignore[misc]

        @classmethod
        def fromtarfile(cls, tar: tarfile.TarFile) -> Any:
            try:
                found = super().fromtarfile(tar)
            except tarfile.HeaderError as e:
                if type(e).__name__ == "EmptyHeaderError":  # the end
                    raise
                blocks.run += 1
                if type(e).__name__ != "EOFHeaderError":  # a zero block is no news
                    blocks.bad += 1
                    blocks.first = blocks.first or str(e) or type(e).__name__
                if blocks.run > _MAX_RUN:
                    raise tarfile.ReadError(f"more than {_MAX_RUN} blocks in a row that are no header") from None
                raise
            blocks.run = 0
            return found

    return Header


def _decompressed_name(name: str) -> str:
    base = name.rsplit(SEP, 1)[-1].replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, extension = base.rpartition(".")
    if dot and stem and extension.lower() in ("gz", "gzip", "bz2", "xz", "z"):
        return stem
    return stem + ".tar" if dot and stem and extension.lower() in ("tgz", "tbz", "tbz2", "txz") else "(decompressed)"


class Spooled:
    """A nested zip made seekable: in memory up to WHOLE bytes, else an anonymous temporary file."""

    def __init__(self, stream: Joined, size: Optional[int]) -> None:
        self.file: Any
        if size is not None and size <= WHOLE:
            self.file = io.BytesIO(stream.read(WHOLE + 1))
            return
        self.file = tempfile.TemporaryFile()
        while True:
            part = stream.read(_CHUNK)
            if not part:
                break
            self.file.write(part)
        self.file.seek(0)

    def __enter__(self) -> Any:
        return self.file

    def __exit__(self, *exc: object) -> None:
        self.file.close()


def _seekable(stream: Joined, size: Optional[int]) -> Spooled:
    return Spooled(stream, size)


def seekable_stream(head: bytes, read: Callable[[int], bytes], archive: str) -> Any:
    """A stream (stdin, a large git blob) whose first bytes are `head`, as a source for scan_archive:
    a zip made seekable (Spooled), any other kind read as it comes."""
    stream = Joined(head, read)
    if archive == "zip":
        return Spooled(stream, None)
    return contextlib.nullcontext(stream)


def _refuse_overlaps(infos: List[zipfile.ZipInfo], place: str) -> None:
    """Entries whose bytes overlap (many entries reading one deflate stream: Fifield's "better zip
    bomb") are refused: each may stay under the ratio limit while the zip as a whole is far past it
    (1.8 MB made 1 GB to scan). No zip tool writes them (CPython 3.12 refuses them too)."""
    ordered = sorted(infos, key=lambda info: info.header_offset)
    for one, after in zip(ordered, ordered[1:]):
        if after.header_offset < one.header_offset + 30 + one.compress_size:  # 30: a local header at least
            raise _Skip(Unread(place, "entries overlapping one another (a zip bomb?): not read"))


def _no_more(n: int) -> bytes:
    return b""


def _why(error: BaseException) -> str:
    """An archive library's message: names from the archive in it are redacted where it is shown."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def scan_archive(archive: str, source: Any, name: str, limits: Limits) -> Outcome:
    """Every entry of the archive of kind `archive` (see `kind`) read from `source` (a binary file,
    seekable when it is a zip), placed under `name`."""
    out = Outcome()
    walk = Walk(name, limits, out)
    if limits.depth < 1:  # opens none: its bytes are scanned as they are
        out.skipped.append(limits.unread("depth", name, f"a {archive} archive: its entries were not read"))
        walk.scan("", b"", source.read)
        return out
    walk.run(archive, source)
    return out
