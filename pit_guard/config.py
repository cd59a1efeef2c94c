"""Project settings: `[tool.pit-guard]` in pyproject.toml, or a `.pit-guard.toml`.

Where: the current folder, then each parent up to the git repository root (the first folder
holding `.git`); the nearest folder with settings wins, and in one folder `.pit-guard.toml` wins
over pyproject.toml. Outside a git repository only the current folder is looked at, so a stray file
in a home folder never changes a scan. `--config FILE` names the file instead. One run, one config:
hooks and CI run at the repository root, which is where the file belongs.

Settings only ever narrow what is reported. There is deliberately no key about validation or
network: a config file in a cloned repository is untrusted input and must not be able to send a
token anywhere, so every unknown key is an error.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Tuple

from pit_guard.errors import FatalError
from pit_guard.finding import Finding, Suppression, Unread

# tomllib and fnmatch are imported where a config file is parsed or an exclude glob matched: most
# runs (the pre-commit hook above all) have neither, and the imports cost milliseconds on every run.

CONFIG_FILE = ".pit-guard.toml"
PYPROJECT = "pyproject.toml"
KEYS = ("exclude", "allow", "disable-rules", "max-file-size")
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMG]?)(?:I?B)?", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


@dataclasses.dataclass(frozen=True)
class Config:
    exclude: Tuple[str, ...] = ()  # path globs, relative to `root`
    allow: FrozenSet[str] = frozenset()  # content fingerprints never reported
    disable_rules: FrozenSet[str] = frozenset()  # rule ids never reported
    max_file_size: Optional[int] = None  # bytes; None: the command's default
    source: Optional[str] = None  # the file these came from, for messages
    root: str = "."  # folder the exclude globs are relative to (the config file's folder)


def parse_size(value: Any) -> int:
    """A size as `--max-file-size` and the config's max-file-size take it: a positive number of bytes,
    or `25M`, `512K`, `1.5G` (K, M, G are 1024-based; `KB`, `MiB` ... allowed). ValueError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        match = _SIZE.fullmatch(value.strip())
        if match:
            size = float(match.group(1)) * _SIZE_UNITS[match.group(2).upper()]
            if 1 <= size < 2**63:  # `0.0001K` is not a size: never a limit of 0 bytes
                return int(size)
    raise ValueError(f"{value!r} is not a positive size such as 25M, 512K or 1048576")


def _size_setting(value: Any, where: str) -> int:
    try:
        return parse_size(value)
    except ValueError:
        raise FatalError(
            f"{where}: max-file-size must be a number of bytes or a size such as 25M, not {value!r}"
        ) from None


def _strings(table: Dict[str, Any], key: str, where: str) -> List[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise FatalError(f"{where}: {key} must be a list of strings")
    return value


def parse_config(table: Dict[str, Any], source: str, root: str) -> Config:
    """Check every key and value: a typo must not silently turn a setting off."""
    from pit_guard.detection.rules import RULES_BY_ID

    for key in table:
        if key not in KEYS:
            raise FatalError(f"{source}: unknown key {key!r} in pit-guard settings (known: {', '.join(KEYS)})")
    allow = [fp.lower() for fp in _strings(table, "allow", source)]
    for fp in allow:
        if not _FINGERPRINT.fullmatch(fp):
            raise FatalError(f"{source}: allow: {fp!r} is not a fingerprint (64 hex characters, from the JSON report)")
    rules = _strings(table, "disable-rules", source)
    for rule_id in rules:
        if rule_id not in RULES_BY_ID:
            raise FatalError(
                f"{source}: disable-rules: unknown rule id {rule_id!r} (see `pit-guard --help` or the README)"
            )
    size = table.get("max-file-size")
    return Config(
        exclude=tuple(_strings(table, "exclude", source)),
        allow=frozenset(allow),
        disable_rules=frozenset(rules),
        max_file_size=None if size is None else _size_setting(size, source),
        source=source,
        root=os.path.dirname(os.path.abspath(source)),
    )


def _read_toml(path: str) -> Dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # the same parser, published separately before 3.11 (an environment-marker dependency)
        import tomli as tomllib

    from pit_guard.small_files import read_small_file

    try:
        return tomllib.loads(read_small_file(path).decode("utf-8"))
    except OSError as e:
        raise FatalError(f"{path}: cannot read the config file: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise FatalError(f"{path}: not valid TOML: {e}") from None
    except UnicodeDecodeError:
        raise FatalError(f"{path}: not valid TOML: the file is not UTF-8") from None


def _table_in(folder: str) -> Optional[Tuple[str, Dict[str, Any]]]:
    # A settings file that exists but cannot be read (a FIFO, a dangling link) is an error, never
    # skipped for the next candidate: that would silently change what the run reports.
    candidate = os.path.join(folder, CONFIG_FILE)
    if os.path.lexists(candidate):
        return candidate, _read_toml(candidate)
    candidate = os.path.join(folder, PYPROJECT)
    if os.path.lexists(candidate):
        tool = _read_toml(candidate).get("tool", {})
        if isinstance(tool, dict) and "pit-guard" in tool:
            table = tool["pit-guard"]
            if not isinstance(table, dict):
                raise FatalError(f"{candidate}: [tool.pit-guard] must be a table")
            return candidate, table
    return None


def _search_folders(start: str) -> List[str]:
    """`start` and its parents up to the git root; only `start` when not in a repository."""
    folders = []
    folder = os.path.abspath(start)
    while True:
        folders.append(folder)
        if os.path.exists(os.path.join(folder, ".git")):
            return folders
        parent = os.path.dirname(folder)
        if parent == folder:
            return folders[:1]
        folder = parent


def load_config(explicit: Optional[str] = None) -> Config:
    """The settings for this run: `explicit`, else the file found from the current folder up to the
    git root. Read once by the command and passed down (no cache: each call reads the file)."""
    if explicit is not None:
        if not os.path.lexists(explicit):
            raise FatalError(f"{explicit}: config file not found")
        data = _read_toml(explicit)
        if os.path.basename(explicit) == PYPROJECT:
            tool = data.get("tool", {})
            table = tool.get("pit-guard", {}) if isinstance(tool, dict) else None
            if not isinstance(table, dict):
                raise FatalError(f"{explicit}: [tool.pit-guard] must be a table")
            data = table
        return parse_config(data, explicit, os.path.dirname(os.path.abspath(explicit)))
    for folder in _search_folders(os.getcwd()):
        found = _table_in(folder)
        if found is not None:
            return parse_config(found[1], found[0], folder)
    return Config()


def _relative(path: str, root: str) -> Optional[str]:
    """`path` relative to `root`, `/`-separated, or None when it lies outside."""
    try:
        relative = os.path.relpath(os.path.abspath(path), root)
    except ValueError:  # another drive on Windows
        return None
    if relative == ".." or relative.startswith(".." + os.sep):
        return None
    return relative.replace(os.sep, "/")


def is_excluded(path: str, config: Config, inner: Optional[str] = None) -> bool:
    """Gitignore-like globs: a pattern without `/` matches any file or folder name; one with `/`
    (or starting with `/`) matches the path from the config's folder (`*` crosses `/`); a folder
    excludes what is in it. Inside an archive (`outer.zip!inner/file.env`) the patterns match the
    outer path, and each inner path too (anchored at the archive's root)."""
    if not config.exclude:
        return False
    if inner is None:  # an unread place: `!` taken as the archive separator
        outer, *parts = path.split("!")
    else:  # a finding says where its archive ends: a file named `creds!fixtures` is no archive
        outer = path[: -len(inner) - 1] if inner and path.endswith("!" + inner) else path
        parts = inner.split("!") if inner else []
    if any(_glob_excluded(part, config) for part in parts):
        return True
    if outer.startswith("<"):
        return False
    return _glob_excluded(_relative(outer, config.root) or outer.replace(os.sep, "/"), config)


def _glob_excluded(relative: str, config: Config) -> bool:
    import fnmatch

    parts = relative.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in config.exclude:
        # A leading or inner `/` anchors the pattern at the config's folder; a trailing one only
        # says "folder".
        anchored = pattern.startswith("/") or "/" in pattern.strip("/")
        pattern = pattern.strip("/")
        if anchored:
            if any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes):
                return True
        elif any(fnmatch.fnmatchcase(part, pattern) for part in parts):
            return True
    return False


def apply_config_counted(
    findings: Sequence[Finding], skipped: Sequence[Unread], config: Config, size_limit_from_config: bool = False
) -> Tuple[List[Finding], List[Unread], List[Suppression]]:
    """Drop what the settings exclude (disabled rules, excluded paths, allowed fingerprints), counting
    what each setting dropped (each item counted once, by the first setting that drops it:
    disable-rules, exclude, allow). An excluded unread input counts too, and
    so does an input the config's max-file-size left out (`size_limit_from_config`: it was in force)."""
    counts = {"disable-rules": 0, "exclude": 0, "allow": 0}
    kept: List[Finding] = []
    for f in findings:
        if f.rule_id in config.disable_rules:
            counts["disable-rules"] += 1
        elif is_excluded(f.path, config, f.inner):
            counts["exclude"] += 1
        elif f.fingerprint in config.allow:
            counts["allow"] += 1
        else:
            kept.append(f)
    unread = [u for u in skipped if not is_excluded(u.path, config)]
    source = config.source or "config"
    told = [
        Suppression(how, source, n, len(skipped) - len(unread) if how == "exclude" else 0) for how, n in counts.items()
    ]
    if size_limit_from_config:
        too_big = sum(1 for u in unread if u.chosen and "max-file-size" in u.reason)
        told.append(Suppression("max-file-size", source, 0, too_big))
    return kept, unread, [s for s in told if s.total]
