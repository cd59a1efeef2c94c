"""`pit-guard hook pre-commit` without click: what the command does, shared by the click command
(commands/hook.py) and a fast path that cli.main takes before building the click group.

A git hook runs on every commit, so its start-up time is the tool's latency: importing click and
every command costs more than scanning a usual staged change. The fast path reads the command line
only when it is plainly well-formed (known options, valid values, each given once); anything else
(`--help`, an unknown or repeated option, a value click would reject or convert) returns None and the
click command parses it, so help, usage errors and their exit codes are click's, unchanged.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from typing import Any, Dict, List, Optional, Sequence, Tuple

from pit_guard.archives.limits import Limits
from pit_guard.config import Config, load_config, parse_size
from pit_guard.finding import NO_SIZE_LIMIT
from pit_guard.pipeline import FORMATS, Options, refuse_overwrite


@dataclasses.dataclass(frozen=True)
class Run:
    """What a scanning command's shared options resolve to: the pipeline's options and the size limit."""

    options: Options
    max_file_size: int
    archives: Limits = Limits()  # how far archives and images are looked into


def size_limit(given: Optional[int], config: Config) -> Tuple[int, bool]:
    """The --max-file-size in force, and whether it is the config's (given on the command line wins)."""
    if given is not None:
        return given, False
    if config.max_file_size is not None:
        return config.max_file_size, True
    return NO_SIZE_LIMIT, False


def resolve(
    config: Config,
    *,
    fmt: str,
    output: Optional[str],
    show_secrets: bool,
    fail_on_expired: bool,
    baseline_file: Optional[str],
    validate: bool,
    validate_concurrency: int,
    validate_timeout: float,
    validate_total_timeout: float,
    fail_on: str,
    max_file_size: Optional[int],
    archives: Optional[Limits] = None,
) -> Run:
    """The run's options once its settings are loaded: --output checked against the inputs it must
    not overwrite, --max-file-size decided (given on the command line wins over the config's)."""
    refuse_overwrite(output, [("baseline", baseline_file), ("config file", config.source)])
    limit, from_config = size_limit(max_file_size, config)
    options = Options(
        fmt=fmt,
        output=output,
        show_secrets=show_secrets,
        fail_on_expired=fail_on_expired,
        baseline_file=baseline_file,
        config=config,
        size_limit_from_config=from_config,
        validate=validate,
        validate_concurrency=validate_concurrency,
        validate_timeout=validate_timeout,
        validate_total_timeout=validate_total_timeout,
        fail_on=fail_on,
    )
    return Run(options, limit, Limits() if archives is None else archives)


def pre_commit(files: Sequence[str], run: Run) -> int:
    """Scan what the commit adds (staged versions only; `files` as pre-commit passes them)."""
    from pit_guard import pipeline
    from pit_guard.detection import prefilter
    from pit_guard.sources import changes

    prefilter.use_backend("adaptive")  # a few staged files: no hyperscan database to load
    result = changes.scan_staged(".", list(files) or None, max_size=run.max_file_size, archives=run.archives)
    pipeline.tell_notes(result.notices)
    return pipeline.finish(result.findings, result.skipped, run.options)


# The command's options as click declares them (commands/options.py: report_options): name -> keyword.
_FLAGS = {
    "--show-secrets": "show_secrets",
    "--fail-on-expired": "fail_on_expired",
    "--no-config": "no_config",
    "--validate": "validate",
}
_VALUES = {
    "--format": "fmt",
    "--output": "output",
    "-o": "output",
    "--baseline": "baseline_file",
    "--config": "config_file",
    "--validate-concurrency": "validate_concurrency",
    "--validate-timeout": "validate_timeout",
    "--validate-total-timeout": "validate_total_timeout",
    "--fail-on": "fail_on",
    "--max-file-size": "max_file_size",
}
_PATHS = ("output", "baseline_file", "config_file")  # click.Path(dir_okay=False)
_DEFAULTS: Dict[str, Any] = {
    "fmt": "text",
    "output": None,
    "show_secrets": False,
    "fail_on_expired": False,
    "baseline_file": None,
    "config_file": None,
    "no_config": False,
    "validate": False,
    "validate_concurrency": 4,
    "validate_timeout": 10.0,
    "validate_total_timeout": 120.0,
    "fail_on": "any",
    "max_file_size": None,
}


def _value(key: str, text: str) -> Any:
    """`text` converted as click would, or ValueError where click might not accept it as is."""
    if text.startswith("-") or not text:
        raise ValueError(text)
    if key == "fmt" and text in FORMATS:
        return text
    if key == "fail_on" and text in ("any", "live"):
        return text
    if key == "validate_concurrency" and text.isdigit() and 1 <= int(text) <= 32:
        return int(text)
    if key in ("validate_timeout", "validate_total_timeout"):
        low, high = (0.1, 120.0) if key == "validate_timeout" else (1.0, 3600.0)
        if text.replace(".", "", 1).isdigit() and low <= float(text) <= high:
            return float(text)
    if key == "max_file_size":
        return parse_size(text)
    if key in _PATHS and _click_path_accepts(text, dir_okay=False):
        return text
    raise ValueError(text)


def _click_path_accepts(path: str, dir_okay: bool = True) -> bool:
    """Whether click.Path(dir_okay=...) takes `path` without a word: absent, or readable (and not a
    folder when dir_okay is False). A NUL in it is click's error too."""
    try:
        st = os.stat(path)
    except OSError:
        return True
    except ValueError:
        return False
    if not dir_okay and stat.S_ISDIR(st.st_mode):
        return False
    return os.access(path, os.R_OK)


def parse(args: Sequence[str]) -> Optional[Dict[str, Any]]:
    """The keyword arguments of `hook pre-commit ARGS` (files under "files"), or None when click
    must read the command line (help, errors, anything unusual)."""
    given: Dict[str, Any] = {}
    files: List[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            files += rest
            break
        if not arg.startswith("-"):
            files.append(arg)
            continue
        name, has_value, inline = arg.partition("=")
        if name.startswith("--") and name in _FLAGS and not has_value:
            key, value = _FLAGS[name], True
        elif name.startswith("--") and name in _VALUES:
            key = _VALUES[name]
            if not has_value:
                if not rest:
                    return None
                inline = rest.pop(0)
            try:
                value = _value(key, inline)
            except ValueError:
                return None
        elif arg == "-o" and rest:
            key = "output"
            try:
                value = _value(key, rest.pop(0))
            except ValueError:
                return None
        else:
            return None
        if key in given:
            return None
        given[key] = value
    if given.get("no_config") and given.get("config_file"):
        return None  # click's usage error
    if not all(_click_path_accepts(f) for f in files):
        return None
    return {**_DEFAULTS, **given, "files": files}


def fast_pre_commit(argv: Sequence[str]) -> Optional[int]:
    """Run `hook pre-commit` when `argv` names it and parse() can read it; None otherwise."""
    if len(argv) < 2 or argv[0] != "hook" or argv[1] != "pre-commit":
        return None
    parsed = parse(argv[2:])
    if parsed is None:
        return None
    files = parsed.pop("files")
    config_file, no_config = parsed.pop("config_file"), parsed.pop("no_config")
    config = Config() if no_config else load_config(config_file)
    return pre_commit(files, resolve(config, **parsed))
