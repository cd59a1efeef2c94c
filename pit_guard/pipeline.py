"""The one pipeline every scanning command ends with.

A command reads its source (sources/), then hands the findings and what it could not read to
finish() with one typed Options value: suppression (allow markers, config, baseline: counted and
told) -> display-safe paths -> notices -> validation -> report -> summary -> exit code.

Heavy modules (report formats, validation) are imported where they are used, so the hook path
starts fast.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import sys
from typing import List, Optional, Sequence, Tuple

from pit_guard.config import Config, apply_config_counted
from pit_guard.errors import FatalError
from pit_guard.finding import (
    EXIT_CLEAN,
    EXIT_ERROR,
    EXIT_FINDINGS,
    Finding,
    Provenance,
    Suppression,
    Unread,
    Validation,
    describe_suppressed,
    display_path,
    notice,
)

FORMATS = ("text", "json", "sarif", "gitlab", "markdown", "html")  # = reporting.formats.FORMATTERS (a test checks)
# When this run started: GitLab reports carry the scan's start time.
STARTED = datetime.datetime.now(datetime.timezone.utc)


@dataclasses.dataclass(frozen=True)
class Options:
    """Everything finish() needs to know about this run, read once by the command."""

    fmt: str = "text"
    output: Optional[str] = None
    show_secrets: bool = False
    fail_on_expired: bool = False
    baseline_file: Optional[str] = None
    config: Config = Config()  # the settings in force (loaded once, by the command)
    size_limit_from_config: bool = False  # the config's max-file-size was the limit in force
    validate: bool = False
    validate_concurrency: int = 4
    validate_timeout: float = 10.0
    validate_total_timeout: float = 120.0
    fail_on: str = "any"  # any | live


def tell_notes(notes: Sequence[str]) -> None:
    """A source's notes (shallow clone, submodules, ...): one `note:` line each."""
    for note in notes:
        notice(f"note: {note}")


def silence_stdout() -> None:
    """After stdout failed (closed pipe, full disk): send what Python still holds to /dev/null, so
    that its flush at exit prints no 'Exception ignored' traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no stdout, or not a real file (tests)
        pass


_ANSI = r"\033\[[;?0-9]*[a-zA-Z]"  # what click.echo strips when stdout is not a terminal


def write_stdout(text: str) -> None:
    """What `click.echo(text, nl=False)` does on a POSIX stdout, without importing click (the hook
    path does not): ANSI sequences stripped unless stdout is a terminal, a stdout whose encoding is
    ASCII (a misconfigured locale) written as UTF-8 with undecodable characters replaced; flushed."""
    stream = sys.stdout
    if stream is None:
        return
    if "\033" in text and not stream.isatty():
        import re

        text = re.sub(_ANSI, "", text)
    binary = getattr(stream, "buffer", None)
    if text and binary is not None and _is_ascii(getattr(stream, "encoding", None) or "ascii"):
        stream.flush()
        binary.write(text.encode("utf-8", "replace"))
        binary.flush()
    elif text:
        stream.write(text)
    stream.flush()


def _is_ascii(encoding: str) -> bool:
    import codecs

    try:
        return codecs.lookup(encoding).name == "ascii"
    except LookupError:
        return False


def render(
    findings: Sequence[Finding],
    skipped: Sequence[Unread],
    fmt: str,
    show_secrets: bool,
    output: Optional[str],
    suppressed: Sequence[Suppression] = (),
) -> None:
    """Write the report to --output or stdout (colour only for text on a terminal)."""
    from pit_guard.reporting import formats

    if output is None and sys.stdout is None:
        raise FatalError("standard output is closed: nowhere to write the report (give --output FILE)")
    # NO_COLOR (no-color.org) turns colour off even on a terminal.
    color = output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    text = formats.format_report(
        fmt, findings, skipped, show_secrets, color=color, started=STARTED, suppressed=suppressed
    )
    if output:
        formats.write_output(output, text, "report")
        return
    try:
        write_stdout(text)
    except OSError as e:
        silence_stdout()
        if isinstance(e, BrokenPipeError):
            raise FatalError("standard output was closed before the whole report was written") from None
        raise FatalError(f"cannot write the report to standard output: {e.strerror or e}") from None


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
    """Opt-in liveness checks, and what each live token reaches (validation/reach.py). Runs after
    suppression, so nothing suppressed is ever sent."""
    from pit_guard.validation.checks import override_notice, validate_findings
    from pit_guard.validation.reach import reach_of, settle

    told = override_notice()
    if told:
        notice(told)
    if not findings:
        return []
    checked = validate_findings(
        findings, concurrency=concurrency, timeout=timeout, total_timeout=total_timeout, follow=reach_of
    )
    return [settle(f) for f in checked]


def live_first(findings: Sequence[Finding]) -> List[Finding]:
    """Order validated findings by urgency: live (widest reach first), unknown, not-checked, then dead
    and expired."""
    rank = {"live": 0, "unknown": 1, "not-checked": 2, "dead": 3, "expired": 4}

    def urgency(f: Finding) -> Tuple[int, int]:
        # Among live tokens, the widest reach first (an agency token before a sub-account's).
        return (rank.get(f.validation.status, 2) if f.validation else 2, -(f.reach.blast_radius if f.reach else 0))

    return sorted(findings, key=urgency)


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


def suppress(
    findings: Sequence[Finding],
    skipped: Sequence[Unread],
    config: Config,
    baseline_file: Optional[str],
    size_limit_from_config: bool = False,
) -> Tuple[List[Finding], List[Unread], List[Suppression]]:
    """Inline markers, config (disabled rules, excluded paths, allowed fingerprints), then the
    baseline: before validation, so nothing suppressed is ever sent anywhere. Returns what is
    kept and what each source suppressed (told on stderr and in every report, never silent)."""
    told: List[Suppression] = []
    marked = sum(1 for f in findings if f.allowed)  # a `pit-guard: allow` line
    if marked:
        told.append(Suppression("allow-marker", "", marked))
    findings = [f for f in findings if not f.allowed]
    kept, skipped, by_config = apply_config_counted(findings, skipped, config, size_limit_from_config)
    told += by_config
    if baseline_file:
        from pit_guard.reporting.baseline import filter_baselined

        before = len(kept)
        kept = filter_baselined(kept, baseline_file)
        if before > len(kept):
            told.append(Suppression("baseline", baseline_file, before - len(kept)))
    return kept, skipped, told


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
        repository = None if p.repository is None else display_path(p.repository, show_secrets)
        return dataclasses.replace(
            p,
            author=display_path(p.author, show_secrets),
            date=display_path(p.date, show_secrets),
            last_date=None if p.last_date is None else display_path(p.last_date, show_secrets),
            branches=branches,
            repository=repository,
        )

    def validation(v: Optional[Validation]) -> Optional[Validation]:
        return None if v is None else dataclasses.replace(v, reason=display_path(v.reason, show_secrets))

    shown = [
        dataclasses.replace(
            f,
            path=display_path(f.path, show_secrets),
            inner=display_path(f.inner, show_secrets),
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


def finish(
    findings: Sequence[Finding],
    skipped: Sequence[Unread],
    options: Options,
    earlier: Sequence[Suppression] = (),
) -> int:
    """The one pipeline every scanning command ends with: suppression, notices, validation, report,
    summary, exit code (an incomplete scan exits 2 after reporting what it found). `earlier`: what
    the runs being merged (`pit-guard merge`) already suppressed, told with this run's own."""
    config = options.config
    refuse_overwrite(options.output, [("baseline", options.baseline_file), ("config file", config.source)])
    findings, skipped, suppressed = suppress(
        findings, skipped, config, options.baseline_file, options.size_limit_from_config
    )
    suppressed = [*earlier, *suppressed]
    findings, skipped = displayable(findings, skipped, options.show_secrets)
    suppressed = [dataclasses.replace(s, source=display_path(s.source)) for s in suppressed]
    tell_unread(skipped)
    tell_suppressed(suppressed)
    if options.validate:
        findings = live_first(
            run_validation(
                findings, options.validate_concurrency, options.validate_timeout, options.validate_total_timeout
            )
        )
    render(findings, skipped, options.fmt, options.show_secrets, options.output, suppressed)
    summarize(findings, skipped)
    return incomplete_exit(skipped) or exit_code(findings, options.fail_on_expired, options.fail_on)
