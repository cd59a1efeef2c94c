"""`pit-guard scan`: files and folders (and stdin), or git changes with --staged, --since, --range."""

from __future__ import annotations

from typing import Optional, Sequence

import click

from pit_guard import pipeline
from pit_guard.commands.options import Run, report_options, stdin_bytes


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@report_options
@click.option("--staged", is_flag=True, help="Scan what `git commit` would add (the index), not files on disk.")
@click.option("--since", metavar="REF", help="Scan the commits after REF up to HEAD (REF..HEAD).")
@click.option("--range", "rng", metavar="A..B", help="Scan the commits of a range (git rev-list syntax).")
@click.option(
    "--image",
    metavar="NAME[:TAG]",
    help="Scan a container image through `docker save` / `podman save` (needs a client whose daemon answers; "
    "a saved tarball or OCI layout folder is scanned as a PATH without one).",
)
def scan(
    paths: Sequence[str],
    run: Run,
    staged: bool = False,
    since: Optional[str] = None,
    rng: Optional[str] = None,
    image: Optional[str] = None,
) -> int:
    """Scan files and folders (recursively, skipping .git); `-` reads stdin.

    With --staged, --since or --range, scan git changes instead (see `pit-guard audit` for history).
    """
    if image is not None:
        if staged or since or rng or paths:
            raise click.UsageError("--image scans one image: drop the paths, --staged, --since and --range")
        return _scan_image(image, run)
    if staged or since or rng:
        return _scan_git(paths, staged, since, rng, run)
    from pit_guard.sources.files import scan_paths

    result = scan_paths(list(paths), max_file_size=run.max_file_size, stdin=stdin_bytes(), archives=run.archives)
    return pipeline.finish(result.findings, result.skipped, run.options)


def _scan_image(name: str, run: Run) -> int:
    from pit_guard.archives.inputs import scan_source
    from pit_guard.sources.containers import save_image

    with save_image(name) as saved:
        outcome = scan_source("tar", saved, name, run.archives)
    return pipeline.finish(outcome.findings, outcome.skipped, run.options)


def _scan_git(paths: Sequence[str], staged: bool, since: Optional[str], rng: Optional[str], run: Run) -> int:
    """`scan --staged [FILES]`, `scan --since REF`, `scan --range A..B`."""
    from pit_guard.sources import changes

    if sum(bool(x) for x in (staged, since, rng)) > 1:
        raise click.UsageError("use only one of --staged, --since and --range")
    if staged:
        result = changes.scan_staged(".", list(paths) or None, max_size=run.max_file_size, archives=run.archives)
    else:
        if paths:
            raise click.UsageError("--since and --range scan commits, not paths: drop the paths")
        changes.require_revs(".", since or rng or "")
        revs = [f"{since}..HEAD"] if since else [rng or ""]
        result = changes.scan_range(".", revs, max_size=run.max_file_size, archives=run.archives)
    pipeline.tell_notes(result.notices)
    return pipeline.finish(result.findings, result.skipped, run.options)
