"""Container images: `docker save` and OCI image-layout tarballs, and OCI layout folders.

Every layer is read in full, so a file a later layer deletes (a `.wh.` whiteout) is still found, in
the layer that holds it: `image.tar!layer 3f2b9c0d1e4a/app/.env`. The image config is scanned where
build-time values land: `Env`, `Cmd`, `Entrypoint`, `Labels` and each history entry's `created_by`
(`ENV`, `ARG` and `RUN` lines), as `image.tar!config Env` (line N: the Nth value); anything else in
the config is scanned too (`image.tar!config`). Each layer has its own byte budget (Limits).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tarfile
from typing import IO, Any, Dict, List, Optional, Set, Tuple

from pit_guard.archives.limits import HEAD, SEP, Limits, kind
from pit_guard.archives.read import Blocks, Outcome, Walk, headers
from pit_guard.detection import detect
from pit_guard.finding import Finding, Unread

_BLOB = re.compile(r"blobs/[a-z0-9]{1,32}/[A-Za-z0-9]{16,128}")
_CONFIG_PARTS = ("Env", "Cmd", "Entrypoint", "Labels")
_MAX_JSON = 64 << 20  # a manifest or config larger than this is not one
# An image tarball has a few files a layer (and at most a few hundred layers): a tar with more members
# is read as a plain archive, without listing them all first.
_IMAGE_MEMBERS = 4096


class _Store:
    """The files of an image: members of a tarball, or files of an OCI layout folder."""

    def names(self) -> List[str]:
        raise NotImplementedError

    def open(self, name: str) -> Optional[IO[bytes]]:
        raise NotImplementedError


class TarStore(_Store):
    def __init__(self, archive: tarfile.TarFile) -> None:
        self._archive = archive
        self._members: Dict[str, tarfile.TarInfo] = {}
        self.shadowed: List[tarfile.TarInfo] = []  # a member a later one of the same name hides
        for member in archive.getmembers():
            if member.isreg():
                hidden = self._members.get(_clean(member.name))
                self.shadowed += [hidden] if hidden is not None else []
                self._members[_clean(member.name)] = member

    def open_shadowed(self, member: tarfile.TarInfo) -> Optional[IO[bytes]]:
        return self._archive.extractfile(member)

    def names(self) -> List[str]:
        return list(self._members)

    def open(self, name: str) -> Optional[IO[bytes]]:
        member = self._members.get(_clean(name))
        return None if member is None else self._archive.extractfile(member)


class FolderStore(_Store):
    def __init__(self, root: str) -> None:
        self._root = root

    def names(self) -> List[str]:
        found = ["oci-layout", "index.json"]
        blobs = os.path.join(self._root, "blobs")
        for algorithm in sorted(os.listdir(blobs)) if os.path.isdir(blobs) else []:
            folder = os.path.join(blobs, algorithm)
            if os.path.isdir(folder):
                found += [f"blobs/{algorithm}/{name}" for name in sorted(os.listdir(folder))]
        return found

    def open(self, name: str) -> Optional[IO[bytes]]:
        name = _clean(name)
        if name not in ("oci-layout", "index.json") and not _BLOB.fullmatch(name):
            return None  # a name from a manifest never leaves the layout's blobs
        path = os.path.join(self._root, *name.split("/"))
        return open(path, "rb") if os.path.isfile(path) and not os.path.islink(path) else None


def _error(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if isinstance(error, RecursionError) else str(error)


def _clean(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name


def is_layout_folder(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "oci-layout")) and os.path.isfile(os.path.join(path, "index.json"))


def tar_image(source: Any) -> Optional[TarStore]:
    """The image in an uncompressed, seekable tarball, or None when it is no image (then rewound)."""
    broken = Blocks()
    try:
        archive = tarfile.open(fileobj=source, mode="r:", tarinfo=headers(broken))
        for count, _member in enumerate(archive, 1):
            if count > _IMAGE_MEMBERS:
                source.seek(0)
                return None
        if broken.bad:  # tarfile stopped at a header that is none: read as a plain tar, which tells it
            source.seek(0)
            return None
        store = TarStore(archive)
    except Exception:  # noqa: BLE001 - not a tar tarfile can list: read as a plain archive (which tells why)
        source.seek(0)
        return None
    names = set(store.names())
    if "manifest.json" in names or {"oci-layout", "index.json"} <= names:
        return store
    source.seek(0)
    return None


def _short(blob: str) -> str:
    """`blobs/sha256/3f2b…` and legacy `3f2b…/layer.tar` -> 3f2b9c0d1e4a."""
    parts = _clean(blob).split("/")
    if len(parts) == 3 and parts[0] == "blobs":
        return parts[2][:12]
    if len(parts) == 2 and parts[1] == "layer.tar":
        return parts[0][:12]
    return _clean(blob)


def _digest_blob(digest: Any) -> Optional[str]:
    if not isinstance(digest, str) or ":" not in digest:
        return None
    algorithm, _, hexdigest = digest.partition(":")
    name = f"blobs/{algorithm}/{hexdigest}"
    return name if _BLOB.fullmatch(name) else None


class _Image:
    def __init__(self, store: _Store, name: str, limits: Limits) -> None:
        self.store = store
        self.name = name
        self.limits = limits
        self.out = Outcome()

    def place(self, inner: str) -> str:
        return f"{self.name}{SEP}{inner}"

    def json(self, blob: str) -> Any:
        f = self.store.open(blob)
        if f is None:
            raise ValueError(f"{blob} is missing from the image")
        with f:
            data = f.read(_MAX_JSON + 1)
        if len(data) > _MAX_JSON:
            raise ValueError(f"{blob} is too large for a manifest")
        return json.loads(data)

    def parts(self) -> Tuple[List[str], List[str]]:
        """(config blobs, layer blobs) of every image in the store."""
        configs: List[str] = []
        layers: List[str] = []
        if "manifest.json" in self.store.names():
            manifest = self.json("manifest.json")
            for item in manifest if isinstance(manifest, list) else []:
                if isinstance(item, dict):
                    if isinstance(item.get("Config"), str):
                        configs.append(item["Config"])
                    layers += [layer for layer in item.get("Layers") or [] if isinstance(layer, str)]
            return configs, layers
        pending = [self.json("index.json")]
        seen: Set[str] = set()
        while pending:
            document = pending.pop(0)
            if not isinstance(document, dict):
                continue
            for entry in document.get("manifests") or []:
                blob = _digest_blob(entry.get("digest")) if isinstance(entry, dict) else None
                if blob and blob not in seen:
                    seen.add(blob)
                    pending.append(self.json(blob))
            config = document.get("config")
            if isinstance(config, dict):
                blob = _digest_blob(config.get("digest"))
                configs += [blob] if blob else []
            for layer in document.get("layers") or []:
                blob = _digest_blob(layer.get("digest")) if isinstance(layer, dict) else None
                layers += [blob] if blob else []
        return configs, layers

    def scan(self) -> Outcome:
        try:
            configs, layers = self.parts()
        except Exception:  # noqa: BLE001 - a hostile manifest (bad JSON, nesting past recursion): no image then,
            configs, layers = [], []  # every file read as it is below (the manifest too), none left out
        done: Set[str] = set()
        # Each once, however it is spelled (`./x/layer.tar` is `x/layer.tar`): a manifest listing one
        # layer a thousand times must not make a thousand reads of it.
        for blob in dict.fromkeys(map(_clean, configs)):
            done.add(blob)
            self.config(blob)
        for blob in dict.fromkeys(map(_clean, layers)):
            done.add(blob)
            self.layer(blob)
        for other in self.store.names():  # repositories, legacy `<id>/json`, anything else: scanned as it is
            if other not in done:
                self.other(other)
        if isinstance(self.store, TarStore):  # a member hidden by a later one of its name: read all the same
            for member in self.store.shadowed:
                self.other(_clean(member.name), self.store.open_shadowed(member))
        return self.out

    def config(self, blob: str) -> None:
        try:
            document = self.json(blob)
        except Exception as e:  # noqa: BLE001 - as for the manifest
            opened = self.store.open(blob)
            if opened is None:
                self.out.skipped.append(Unread(self.place("config"), f"cannot read the image config: {_error(e)}"))
            else:  # no JSON (or too large for it): its bytes scanned as they are
                opened.close()
                self.other(blob)
            return
        if not isinstance(document, dict):
            document = {}
        found = document.get("config")
        config: Dict[str, Any] = found if isinstance(found, dict) else {}
        texts: Dict[str, List[str]] = {}
        for key in _CONFIG_PARTS:
            value = config.get(key)
            if isinstance(value, dict):
                texts[key] = [f"{k}={v}" for k, v in value.items()]
            elif isinstance(value, list):
                texts[key] = [str(v) for v in value]
            elif isinstance(value, str):
                texts[key] = [value]
        history = document.get("history")
        if isinstance(history, list):
            texts["history"] = [str(h.get("created_by", "")) if isinstance(h, dict) else "" for h in history]
        seen: Set[str] = set()
        for key, lines in texts.items():
            # One value a line, newlines in a value escaped: line N is the Nth value.
            data = "\n".join(line.replace("\n", "\\n") for line in lines).encode("utf-8", "replace")
            seen.update(f.fingerprint for f in self.found(f"config {key}", data))
        whole = json.dumps(document, indent=1).encode("utf-8", "replace")
        found, error = detect.scan_or_error(whole, self.place("config"))
        self.add("config", [f for f in found if f.fingerprint not in seen], error)

    def found(self, inner: str, data: bytes) -> List[Finding]:
        found, error = detect.scan_or_error(data, self.place(inner))
        self.add(inner, found, error)
        return found

    def add(self, inner: str, found: List[Finding], error: Optional[str]) -> None:
        self.out.findings += [dataclasses.replace(f, path=self.place(inner), inner=inner) for f in found]
        if error is None:
            self.out.scanned += 1
        else:
            self.out.skipped.append(Unread(self.place(inner), error))

    def layer(self, blob: str) -> None:
        label = f"layer {_short(blob)}"
        try:
            f = self.store.open(blob)
        except OSError as e:
            self.out.skipped.append(Unread(self.place(label), f"cannot read it: {e.strerror or e}"))
            return
        if f is None:
            self.out.skipped.append(Unread(self.place(label), "missing from the image: not scanned"))
            return
        with f:
            head = f.read(HEAD)
            layer_kind = kind(head)
            if layer_kind is None:
                why = "zstd-compressed" if head.startswith(b"\x28\xb5\x2f\xfd") else "not a tar archive"
                self.out.skipped.append(Unread(self.place(label), f"a layer pit-guard cannot read ({why})"))
                return
            f.seek(0)
            walk = Walk(self.name, self.limits, self.out)
            walk.run(layer_kind, f, inner=label, depth=1, join="/")

    def other(self, member: str, opened: Optional[IO[bytes]] = None) -> None:
        try:
            f = self.store.open(member) if opened is None else opened
        except OSError as e:
            self.out.skipped.append(Unread(self.place(member), f"cannot read it: {e.strerror or e}"))
            return
        if f is None:
            return
        with f:
            head = f.read(HEAD)
            f.seek(0)
            walk = Walk(self.name, self.limits, self.out)
            member_kind = kind(head)
            if member_kind is None:
                walk.scan(member, b"", f.read)
            else:
                walk.run(member_kind, f, inner=member, depth=2)


def scan_image(store: _Store, name: str, limits: Limits) -> Outcome:
    """Every layer and the config of each image in `store`, placed under `name`."""
    image = _Image(store, name, limits)
    try:
        return image.scan()
    except OSError as e:  # a layout folder's file that cannot be opened or listed
        image.out.skipped.append(Unread(name, f"cannot read the image: {e.strerror or e}"))
        return image.out
