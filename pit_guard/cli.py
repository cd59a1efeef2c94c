"""Command line: a thin click layer. Each command calls plain functions and returns an exit code.

Heavy modules are imported inside the commands that need them, so the hook path starts fast.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import signal
import sys
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

import click

from pit_guard.errors import FatalError
from pit_guard.finding import (
    EXIT_CLEAN,
    EXIT_ERROR,
    EXIT_FINDINGS,
    NO_SIZE_LIMIT,
    Finding,
    Provenance,
    Suppression,
    Unread,
    Validation,
    describe_suppressed,
    display_path,
    redact_text,
)

if TYPE_CHECKING:
    from pit_guard.config import Config

FORMATS = ("text", "json", "sarif", "gitlab", "markdown")  # = report.FORMATTERS (a test checks)
# When this run started: GitLab reports carry the scan's start time.
_STARTED = datetime.datetime.now(datetime.timezone.utc)
_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def stdin_bytes() -> Optional[BinaryIO]:
    """Standard input as bytes, or None when the process has none (closed by the caller)."""
    return sys.stdin.buffer if sys.stdin is not None else None


def parse_size(text: str) -> int:
    """`25M`, `512K`, `1G` or a plain number of bytes."""
    value = text.strip().upper().rstrip("B").rstrip("I")
    unit = value[-1:] if value[-1:] in _SIZE_UNITS else ""
    try:
        size = int(float(value[: len(value) - len(unit)]) * _SIZE_UNITS[unit])
    except (ValueError, OverflowError):
        raise click.BadParameter(f"{text!r} is not a size such as 25M, 512K or 1048576") from None
    if size <= 0:
        raise click.BadParameter(f"{text!r}: the size must be positive")
    return size


def render(
    findings: Sequence[Finding],
    skipped: Sequence[Unread],
    fmt: str,
    show_secrets: bool,
    output: Optional[str],
    suppressed: Sequence[Suppression] = (),
) -> None:
    """Write the report to --output or stdout (colour only for text on a terminal)."""
    from pit_guard.reporting import formats as report

    if output is None and sys.stdout is None:
        raise FatalError("standard output is closed: nowhere to write the report (give --output FILE)")
    # NO_COLOR (no-color.org) turns colour off even on a terminal.
    color = output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    text = report.format_report(
        fmt, findings, skipped, show_secrets, color=color, started=_STARTED, suppressed=suppressed
    )
    if output:
        report.write_output(output, text, "report")
        return
    try:
        click.echo(text, nl=False)
        sys.stdout.flush()
    except OSError as e:
        silence_stdout()
        if isinstance(e, BrokenPipeError):
            raise FatalError("standard output was closed before the whole report was written") from None
        raise FatalError(f"cannot write the report to standard output: {e.strerror or e}") from None


def silence_stdout() -> None:
    """After stdout failed (closed pipe, full disk): send what Python still holds to /dev/null, so
    that its flush at exit prints no 'Exception ignored' traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no stdout, or not a real file (tests)
        pass


def notice(text: str) -> None:
    """Every line pit-guard itself writes to stderr: a token in it (a path, a ref name, a config
    value, an error message) redacted, control characters escaped. The one place notices go through."""
    line = text if text.startswith("pit-guard") else f"pit-guard: {text}"
    click.echo(display_path(line), err=True)


# With --fail-on live, only these pass: a dead or expired token opens nothing any more.
_NOT_LIVE = ("dead", "expired")


def exit_code(findings: Sequence[Finding], fail_on_expired: bool = False, fail_on: str = "any") -> int:
    failing = [f for f in findings if f.fails or (fail_on_expired and f.expired)]
    if fail_on == "live":
        # Unknown is not dead: a token that could not be checked counts as live here.
        failing = [f for f in failing if f.validation is None or f.validation.status not in _NOT_LIVE]
    return EXIT_FINDINGS if failing else EXIT_CLEAN


def run_validation(
    findings: Sequence[Finding], concurrency: int, timeout: float, total_timeout: float
) -> List[Finding]:
    """Opt-in liveness checks. Runs after suppression, so nothing suppressed is ever sent."""
    from pit_guard.validation.checks import override_notice, validate_findings

    told = override_notice()
    if told:
        notice(told)
    if not findings:
        return []
    return validate_findings(findings, concurrency=concurrency, timeout=timeout, total_timeout=total_timeout)


def live_first(findings: Sequence[Finding]) -> List[Finding]:
    """Order validated findings by urgency: live, unknown, not-checked, then dead and expired."""
    rank = {"live": 0, "unknown": 1, "not-checked": 2, "dead": 3, "expired": 4}
    return sorted(findings, key=lambda f: rank.get(f.validation.status, 2) if f.validation else 2)


def summarize(findings: Sequence[Finding], skipped: Sequence[Unread]) -> None:
    expired = sum(1 for f in findings if f.expired)
    parts = [f"{len(findings)} finding{'s' if len(findings) != 1 else ''}"]
    statuses = [f.validation.status for f in findings if f.validation is not None]
    for status in ("live", "unknown", "not-checked", "dead", "expired"):
        if statuses.count(status):
            parts.append(f"{statuses.count(status)} {status}")
    if expired:
        parts.append(f"{expired} expired (not failing)")
    unread = sum(1 for u in skipped if not u.chosen)
    if unread:
        parts.append(f"{unread} not scanned")
    if len(skipped) > unread:
        parts.append(f"{len(skipped) - unread} skipped (not failing)")
    notice(", ".join(parts))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pit-guard", prog_name="pit-guard")
def cli() -> None:
    """Find leaked GoHighLevel credentials. Exit codes: 0 clean, 1 findings, 2 usage or environment error."""


validate_options = [
    click.option(
        "--validate",
        is_flag=True,
        help="Ask GoHighLevel's API whether each token is still live (sends tokens to GoHighLevel only).",
    ),
    click.option(
        "--validate-concurrency",
        type=click.IntRange(1, 32),
        default=4,
        show_default=True,
        help="Parallel validation requests.",
    ),
    click.option(
        "--validate-timeout",
        type=click.FloatRange(0.1, 120),
        default=10.0,
        show_default=True,
        help="Seconds per validation request.",
    ),
    click.option(
        "--validate-total-timeout",
        type=click.FloatRange(1, 3600),
        default=120.0,
        show_default=True,
        help="Seconds for all validation; tokens left unchecked then are 'unknown'.",
    ),
    click.option(
        "--fail-on",
        type=click.Choice(["any", "live"]),
        default="any",
        show_default=True,
        help="'live': fail only on tokens that may still work (live, unknown, not-checked).",
    ),
]


_F = TypeVar("_F", bound=Callable[..., Any])

config_options = [
    click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False),
        help="Settings file to use instead of .pit-guard.toml / pyproject.toml found from here "
        "(CI: keep it outside the code under test, so a commit cannot change its own check).",
    ),
    click.option(
        "--no-config",
        is_flag=True,
        help="Ignore .pit-guard.toml / pyproject.toml settings: report everything the rules find.",
    ),
]


def report_options(f: _F) -> _F:
    """Options every scanning command shares (scan, audit, ci, hooks)."""
    options = [
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True),
        click.option(
            "--output", "-o", type=click.Path(dir_okay=False), help="Write the report to FILE instead of stdout."
        ),
        click.option("--show-secrets", is_flag=True, help="Print secrets in full (default: redacted)."),
        click.option("--fail-on-expired", is_flag=True, help="Expired OAuth tokens fail the run too."),
        click.option(
            "--baseline",
            "baseline_file",
            type=click.Path(dir_okay=False),
            help="Report only findings not accepted in FILE (written by `pit-guard baseline`).",
        ),
        *config_options,
    ] + validate_options
    for option in reversed(options):
        f = option(f)
    return f


def settings(config_file: Optional[str], no_config: bool = False) -> "Config":
    """This run's settings: none with --no-config, else --config FILE or the one found from here."""
    from pit_guard.config import Config, load_config

    if no_config:
        if config_file:
            raise click.UsageError("use either --config or --no-config, not both")
        return Config()
    return load_config(config_file)


def suppress(
    findings: Sequence[Finding],
    skipped: Sequence[Unread],
    config_file: Optional[str],
    baseline_file: Optional[str],
    no_config: bool = False,
) -> Tuple[List[Finding], List[Unread], List[Suppression]]:
    """Inline markers, config (disabled rules, excluded paths, allowed fingerprints), then the
    baseline: before validation, so nothing suppressed is ever sent anywhere. Returns what is
    kept and what each source suppressed (told on stderr and in every report, never silent)."""
    from pit_guard.config import apply_config_counted

    told: List[Suppression] = []
    marked = sum(1 for f in findings if f.allowed)  # a `pit-guard: allow` line
    if marked:
        told.append(Suppression("allow-marker", "", marked))
    findings = [f for f in findings if not f.allowed]
    config = settings(config_file, no_config)
    kept, skipped, by_config = apply_config_counted(findings, skipped, config, _size_limit_from(config))
    told += by_config
    if baseline_file:
        from pit_guard.reporting.baseline import filter_baselined

        before = len(kept)
        kept = filter_baselined(kept, baseline_file)
        if before > len(kept):
            told.append(Suppression("baseline", baseline_file, before - len(kept)))
    return kept, skipped, told


def _size_limit_from(config: "Config") -> bool:
    """Whether the config's max-file-size is the limit in force (no --max-file-size was given)."""
    from click.core import ParameterSource

    context = click.get_current_context(silent=True)
    if context is None or config.max_file_size is None or "max_file_size" not in context.params:
        return False
    return context.get_parameter_source("max_file_size") in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)


def tell_suppressed(suppressed: Sequence[Suppression]) -> None:
    told = describe_suppressed(suppressed)
    if told:
        notice(told)


def refuse_overwrite(output: Optional[str], inputs: Sequence[Tuple[str, Optional[str]]]) -> None:
    """--output must not destroy a file this run reads (its baseline, its config), even via a symlink
    or another spelling of the path."""
    if not output:
        return
    for what, path in inputs:
        if not path:
            continue
        try:
            same = os.path.samefile(output, path)
        except OSError:  # one of them does not exist (yet)
            same = os.path.realpath(output) == os.path.realpath(path)
        if same:
            raise FatalError(f"--output {output} is the {what} this run reads: refusing to overwrite it")


def max_file_size_setting(given: int, config_file: Optional[str]) -> int:
    """--max-file-size when given on the command line, else the config's, else the default.

    Every scanning command calls this first: it also refuses, before any scanning, a --config with
    --no-config and an --output that is the baseline or config file (finish() checks again)."""
    from click.core import ParameterSource

    context = click.get_current_context()
    source = context.get_parameter_source("max_file_size")
    config = settings(config_file, bool(context.params.get("no_config")))
    output = context.params.get("output")
    baseline_file = context.params.get("baseline_file")
    if context.info_name != "baseline":  # `baseline --output` is the baseline it writes
        refuse_overwrite(output, [("baseline", baseline_file), ("config file", config.source)])
    configured = config.max_file_size
    if source in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP, None) and configured is not None:
        return configured
    return given


def displayable(
    findings: Sequence[Finding], skipped: Sequence[Unread], show_secrets: bool
) -> Tuple[List[Finding], List[Unread]]:
    """Paths as every output shows them: printable, and with a token in a file name redacted.

    Done after suppression (exclude globs and baselines match the real paths). Every string from
    outside (paths, ref names, authors, reasons) reaches output through here or notice()."""

    def provenance(p: Optional[Provenance]) -> Optional[Provenance]:
        if p is None:
            return None
        branches = None if p.branches is None else tuple(display_path(b, show_secrets) for b in p.branches)
        return dataclasses.replace(
            p, author=display_path(p.author, show_secrets), date=display_path(p.date, show_secrets), branches=branches
        )

    def validation(v: Optional[Validation]) -> Optional[Validation]:
        return None if v is None else dataclasses.replace(v, reason=display_path(v.reason, show_secrets))

    shown = [
        dataclasses.replace(
            f,
            path=display_path(f.path, show_secrets),
            provenance=provenance(f.provenance),
            validation=validation(f.validation),
        )
        for f in findings
    ]
    unread = [
        dataclasses.replace(u, path=display_path(u.path, show_secrets), reason=display_path(u.reason, show_secrets))
        for u in skipped
    ]
    return shown, unread


def finish(
    findings: Sequence[Finding],
    skipped: Sequence[Unread],
    *,
    fmt: str,
    output: Optional[str],
    show_secrets: bool,
    fail_on_expired: bool,
    baseline_file: Optional[str] = None,
    config_file: Optional[str] = None,
    validate: bool = False,
    validate_concurrency: int = 4,
    validate_timeout: float = 10.0,
    validate_total_timeout: float = 120.0,
    fail_on: str = "any",
    no_config: bool = False,
    **_: object,
) -> int:
    """The one pipeline every scanning command ends with: notices, report, summary, exit code.

    Filtering (config, baseline, inline markers: counted and told) and validation slot in here so
    that every mode gets them.
    """
    config = settings(config_file, no_config)
    refuse_overwrite(output, [("baseline", baseline_file), ("config file", config.source)])
    findings, skipped, suppressed = suppress(findings, skipped, config_file, baseline_file, no_config)
    findings, skipped = displayable(findings, skipped, show_secrets)
    suppressed = [dataclasses.replace(s, source=display_path(s.source)) for s in suppressed]
    tell_unread(skipped)
    tell_suppressed(suppressed)
    if validate:
        findings = live_first(run_validation(findings, validate_concurrency, validate_timeout, validate_total_timeout))
    render(findings, skipped, fmt, show_secrets, output, suppressed)
    summarize(findings, skipped)
    return incomplete_exit(skipped) or exit_code(findings, fail_on_expired, fail_on)


def tell_unread(skipped: Sequence[Unread]) -> None:
    for u in skipped:
        notice(f"{'skipped' if u.chosen else 'not scanned'} {u.path}: {u.reason}")


def incomplete_exit(skipped: Sequence[Unread]) -> int:
    """Fail closed: anything not read that the user did not choose to leave out makes the run exit 2
    (the findings above are still reported), because a clean result it cannot vouch for is not clean."""
    unread = sum(1 for u in skipped if not u.chosen)
    if not unread:
        return 0
    notice(
        f"{unread} input{'s' if unread != 1 else ''} could not be read (listed above): the scan is incomplete, exit 2"
    )
    return EXIT_ERROR


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@report_options
@click.option(
    "--max-file-size",
    default=None,
    callback=lambda c, p, v: parse_size(v) if v is not None else NO_SIZE_LIMIT,
    help="Skip (with a notice) files larger than this, e.g. 25M (default: no limit; large files are streamed).",
)
@click.option("--staged", is_flag=True, help="Scan what `git commit` would add (the index), not files on disk.")
@click.option("--since", metavar="REF", help="Scan the commits after REF up to HEAD (REF..HEAD).")
@click.option("--range", "rng", metavar="A..B", help="Scan the commits of a range (git rev-list syntax).")
def scan(
    paths: Sequence[str],
    max_file_size: int,
    staged: bool = False,
    since: Optional[str] = None,
    rng: Optional[str] = None,
    **options: object,
) -> int:
    """Scan files and folders (recursively, skipping .git); `-` reads stdin.

    With --staged, --since or --range, scan git changes instead (see `pit-guard audit` for history).
    """
    from pit_guard.sources.files import scan_paths

    max_file_size = max_file_size_setting(max_file_size, options.get("config_file"))  # type: ignore[arg-type]
    if staged or since or rng:
        from pit_guard.git_cli import scan_git

        return scan_git(paths, staged, since, rng, max_file_size, **options)
    result = scan_paths(list(paths), max_file_size=max_file_size, stdin=stdin_bytes())
    return finish(result.findings, result.skipped, **options)  # type: ignore[arg-type]


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--output",
    "-o",
    default=".pit-guard-baseline.json",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Baseline file to write.",
)
@click.option("--merge", is_flag=True, help="Keep entries already in the file that this scan does not find.")
@config_options[0]
@config_options[1]
@click.option(
    "--max-file-size",
    default=None,
    callback=lambda c, p, v: parse_size(v) if v is not None else NO_SIZE_LIMIT,
    help="Skip (with a notice) files larger than this, e.g. 25M (default: no limit; large files are streamed).",
)
@click.option(
    "--history",
    is_flag=True,
    help="Also accept every credential in the git history of the current repository (as `audit` finds them).",
)
def baseline(
    paths: Sequence[str],
    output: str,
    merge: bool,
    config_file: Optional[str],
    no_config: bool,
    max_file_size: int,
    history: bool,
) -> int:
    """Accept what PATHS hold today: write their findings' fingerprints to a baseline file.

    Later scans given `--baseline FILE` report only findings not in it.
    """
    from pit_guard.reporting.baseline import write_baseline
    from pit_guard.sources.files import scan_paths

    refuse_overwrite(output, [("config file", settings(config_file, no_config).source)])
    max_file_size = max_file_size_setting(max_file_size, config_file)
    result = scan_paths(list(paths), max_file_size=max_file_size, stdin=stdin_bytes())
    found, skipped = list(result.findings), list(result.skipped)
    if history:
        from pit_guard.sources.history import audit

        past = audit(".", max_file_size=max_file_size)
        for told in past.notices:
            notice(told)
        found += past.findings
        skipped += past.skipped
    findings, skipped, suppressed = suppress(found, skipped, config_file, None, no_config)
    findings, skipped = displayable(findings, skipped, False)  # a baseline never holds a token
    tell_unread(skipped)
    tell_suppressed(suppressed)
    count, changed = write_baseline(output, findings, merge=merge)
    state = "written" if changed else "unchanged"
    notice(f"baseline {output}: {count} entr{'ies' if count != 1 else 'y'} ({state})")
    return incomplete_exit(skipped) or EXIT_CLEAN


@cli.command("validate")
@click.option(
    "--report",
    "report_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Re-check the findings of a pit-guard JSON report (redacted secrets are re-read from their file or commit).",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the report to FILE instead of stdout.")
@click.option("--show-secrets", is_flag=True, help="Print secrets in full (default: redacted).")
@click.option("--validate-concurrency", type=click.IntRange(1, 32), default=4, show_default=True)
@click.option("--validate-timeout", type=click.FloatRange(0.1, 120), default=10.0, show_default=True)
@click.option("--validate-total-timeout", type=click.FloatRange(1, 3600), default=120.0, show_default=True)
def validate_command(
    report_file: Optional[str],
    fmt: str,
    output: Optional[str],
    show_secrets: bool,
    validate_concurrency: int,
    validate_timeout: float,
    validate_total_timeout: float,
) -> int:
    """Is a token still live? Reads findings from --report, or one token from stdin or a prompt.

    A token is never taken from the command line (it would land in shell history). Exit 1 when
    any token may still work (live, unknown or not checked), 0 when all are dead or expired.
    """
    import json

    missing: List[Tuple[Dict[str, Any], str]] = []
    refuse_overwrite(output, [("report", report_file)])
    if report_file:
        from pit_guard.validation.from_report import findings_from_report

        try:
            with open(report_file, encoding="utf-8") as f:
                document = json.load(f)
        except (OSError, ValueError, RecursionError) as e:
            raise FatalError(f"{report_file}: not a readable pit-guard JSON report ({e.__class__.__name__})") from None
        findings, missing = findings_from_report(document, root=".", name=report_file)
        for entry, reason in missing:
            notice(f"not checked: {entry.get('path')}:{entry.get('line')}: {reason}")
    else:
        from pit_guard.detection.detect import scan_bytes

        if sys.stdin is None:
            raise FatalError("no standard input to read a token from (pipe it in, or run in a terminal)")
        if sys.stdin.isatty():
            import getpass

            text = getpass.getpass("GoHighLevel token (input hidden): ")
        else:
            text = sys.stdin.read()
        findings = scan_bytes(text.encode("utf-8", "surrogateescape"), "<stdin>")
        if not findings:
            raise FatalError("no GoHighLevel credential found in the input (paste the whole token)")
    checked = live_first(run_validation(findings, validate_concurrency, validate_timeout, validate_total_timeout))
    checked, _ = displayable(checked, [], show_secrets)
    render(checked, [], fmt, show_secrets, output)
    summarize(checked, [])
    if report_file and missing:
        return EXIT_FINDINGS  # a credential that could not be checked may still work
    return exit_code(checked, fail_on="live")


# audit, ci and hook live in git_cli.py (the git modes), which adds them to `cli` when imported;
# they end with finish() too. Imported last: git_cli uses report_options and finish from here.
import pit_guard.git_cli  # noqa: E402,F401


class Interrupted(BaseException):
    """SIGTERM or SIGHUP (what `timeout`, CI cancellation and a closed terminal send): unwinds like
    Ctrl-C, so that worker pools, git processes and temp files are cleaned up on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.code = 128 + signum


# Exit codes for a run ended by a signal (the shell's 128 + signal number; documented in README).
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _on_signal(signum: int, frame: object) -> None:
    for other in (*_SIGNALS, signal.SIGINT):  # a second signal must not interrupt the clean-up
        signal.signal(other, signal.SIG_IGN)
    raise Interrupted(signum)


def _catch_signals() -> Dict[int, Any]:
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for signum in _SIGNALS:
        previous[signum] = signal.signal(signum, _on_signal)
    previous[signal.SIGINT] = signal.getsignal(signal.SIGINT)
    return previous


def _end_children() -> None:
    """Stop every child process still running (git, pool workers) and reap it: an interrupted run
    leaves nothing behind. Linux: children are found in /proc; elsewhere the pools' own clean-up is it."""
    import time

    me = os.getpid()
    children = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 1 and int(fields[1]) == me:
            children.append(int(entry))
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + 2.0
    for pid in children:
        try:
            while os.waitpid(pid, os.WNOHANG) == (0, 0):
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    break
                time.sleep(0.01)
        except OSError:  # already reaped (by its Popen or pool) or not ours
            pass


def main(argv: Optional[List[str]] = None) -> int:
    """Exit codes: 0 clean, 1 findings, 2 usage or environment error or incomplete scan;
    130 Ctrl-C (SIGINT), 143 SIGTERM, 129 SIGHUP (no traceback, no process or temp file left)."""
    previous = _catch_signals()
    try:
        try:
            return _main(argv)
        except Interrupted as e:
            code = e.code
        except KeyboardInterrupt:
            code = 130
        for signum in previous:  # from here on, ignore further signals until we are out
            signal.signal(signum, signal.SIG_IGN)
        _end_children()
        try:
            click.echo(f"pit-guard: interrupted, exit {code}", err=True)
        except (OSError, ValueError):
            pass
        return code
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


def _main(argv: Optional[List[str]]) -> int:
    try:
        code = cli.main(args=argv, prog_name="pit-guard", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.Abort as e:
        if isinstance(e.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        click.echo("pit-guard: aborted", err=True)
        return EXIT_ERROR
    except click.ClickException as e:
        setattr(e, "message", redact_text(e.message))  # noqa: B010 - click marks it final; the redaction must win
        e.show()
        return EXIT_ERROR
    except FatalError as e:
        # Messages name paths and values the user gave: a token among them is redacted.
        notice(f"error: {e}")
        return EXIT_ERROR
    # Environment errors: plain messages, exit 2 (not "internal error").
    except RecursionError:
        notice("error: an input is nested too deeply to read (e.g. a JSON file with thousands of levels)")
        return EXIT_ERROR
    except MemoryError:
        notice("error: out of memory (an input too large for this machine?)")
        return EXIT_ERROR
    except BrokenPipeError:
        silence_stdout()
        notice("error: standard output was closed before everything was written")
        return EXIT_ERROR
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        notice(f"error: {where}{e.strerror or e}")
        return EXIT_ERROR
    except Exception as e:  # a bug must not look like a clean run, nor print a token in a traceback
        if os.environ.get("PIT_GUARD_DEBUG"):
            import traceback

            # The traceback, redacted, and still exit 2 (never 1, the findings code).
            click.echo(redact_text(traceback.format_exc()), err=True, nl=False)
        notice(
            f"internal error: {type(e).__name__}: {redact_text(str(e))[:300]} "
            "(set PIT_GUARD_DEBUG=1 for the traceback, and please report it)"
        )
        return EXIT_ERROR
    return code if isinstance(code, int) else EXIT_CLEAN


if __name__ == "__main__":
    sys.exit(main())
