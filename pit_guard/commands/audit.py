"""`pit-guard audit`: every blob in a repository's history, once; or a whole fleet of them."""

from __future__ import annotations

import os
import sys
from typing import Optional, Tuple

import click

from pit_guard import pipeline
from pit_guard.commands.options import Run, report_options


@click.command()
@click.argument("repos", nargs=-1, type=click.Path())
@report_options
@click.option(
    "--include-unreachable",
    is_flag=True,
    help="Also scan objects no ref reaches (amended, reset or dropped commits, dangling blobs).",
)
@click.option("--clone-dir", type=click.Path(file_okay=False), help="Clone cache for remote repositories.")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None, help="Repositories audited at once [cores].")
@click.option("--github-org", multiple=True, help="Audit every repository of this GitHub organisation.")
@click.option("--github-user", multiple=True, help="Audit every repository of this GitHub user.")
@click.option("--github-api-url", help="GitHub REST API base [GITHUB_API_URL, else https://api.github.com].")
@click.option("--gitlab-group", multiple=True, help="Audit every project of this GitLab group and its subgroups.")
@click.option("--gitlab-url", help="GitLab API v4 base [CI_API_V4_URL, else https://gitlab.com/api/v4].")
@click.option("--include-forks", is_flag=True, help="Also audit forks listed by an organisation.")
@click.option("--include-archived", is_flag=True, help="Also audit archived repositories.")
@click.option("--list-only", is_flag=True, help="Print the repositories that would be audited, and stop.")
@click.option("--incremental", is_flag=True, help="Read only blobs no earlier run scanned (state in --state).")
@click.option("--state", "state_file", type=click.Path(dir_okay=False), help="Incremental state file (SQLite).")
@click.option("--shard", help="I/N: audit only shard I of N (join the JSON reports with `pit-guard merge`).")
def audit(
    repos: Tuple[str, ...],
    include_unreachable: bool,
    run: Run,
    clone_dir: Optional[str],
    jobs: Optional[int],
    github_org: Tuple[str, ...],
    github_user: Tuple[str, ...],
    github_api_url: Optional[str],
    gitlab_group: Tuple[str, ...],
    gitlab_url: Optional[str],
    include_forks: bool,
    include_archived: bool,
    list_only: bool,
    incremental: bool,
    state_file: Optional[str],
    shard: Optional[str],
) -> int:
    """Scan every blob in each repository's history once (all branches, tags, remote-tracking refs,
    stash). REPOS are local paths or git URLs (https, ssh, git@host:owner/repo, file://), default `.`.

    Each finding tells the commit and path that introduced it, its author and date, how many
    commits carry it, whether HEAD still has it, and which branches contain it; in a fleet audit
    (several repositories, remote URLs, organisations) also which repository.
    """
    from pit_guard.sources import git

    if click.get_current_context().get_parameter_source("repos") == click.core.ParameterSource.COMMANDLINE:
        git.use_named_repository()  # `audit PATH` reads PATH's repository, whatever GIT_DIR says
    if state_file and not incremental:
        raise click.UsageError("--state is the incremental state file: give --incremental too")
    progress = sys.stderr.isatty() and not os.environ.get("CI")
    forges = bool(github_org or github_user or gitlab_group)
    fleet = forges or incremental or shard is not None or list_only or len(repos) > 1
    if not fleet and len(repos) <= 1:
        from pit_guard.fleet.targets import is_remote

        fleet = bool(repos) and is_remote(repos[0])
    if not fleet:
        from pit_guard.sources.history import scan_history

        result = scan_history(
            repos[0] if repos else ".",
            include_unreachable=include_unreachable,
            max_file_size=run.max_file_size,
            progress=progress,
            archives=run.archives,
        )
        pipeline.tell_notes(result.notices)
        return pipeline.finish(result.findings, result.skipped, run.options)
    git.use_named_repository()  # every repository of a fleet is named (a URL, a path, a listing)
    from pit_guard.fleet import clones, state, targets
    from pit_guard.fleet import forges as forge_api
    from pit_guard.fleet import run as fleet_run

    chosen = targets.parse_targets(repos if repos or forges else (".",))
    listed = forge_api.list_all(
        github_orgs=github_org,
        github_users=github_user,
        github_api=github_api_url,
        gitlab_groups=gitlab_group,
        gitlab_api=gitlab_url,
        include_forks=include_forks,
        include_archived=include_archived,
    )
    seen = {t.name for t in chosen}
    chosen += [t for t in listed.targets if t.name not in seen]
    blob_shard = None
    if shard is not None:
        index, count = targets.parse_shard(shard)
        if len(chosen) == 1 and count > 1:
            blob_shard = (index, count)  # one repository: split by blob id
        else:
            chosen = [t for t in chosen if targets.repository_shard(t.name, count) == index]
    if list_only:
        pipeline.write_stdout(fleet_run.tell_targets(chosen))
        pipeline.tell_unread(listed.problems)
        return pipeline.incomplete_exit(listed.problems)
    options = fleet_run.FleetOptions(
        clone_dir=clone_dir or clones.default_clone_dir(),
        jobs=jobs or fleet_run.cpu_count(),
        max_file_size=run.max_file_size,
        include_unreachable=include_unreachable,
        state_file=(state_file or state.default_state_file()) if incremental else None,
        reread_hits=run.options.show_secrets or run.options.validate,
        blob_shard=blob_shard,
        progress=progress,
        archives=run.archives,
    )
    result, _failed = fleet_run.audit_fleet(chosen, options)
    result.skipped += listed.problems  # an organisation that could not be listed: exit 2
    if shard is not None:  # what `merge` checks: every shard of N there, once (a missing one is exit 2)
        result.skipped.append(fleet_run.shard_marker(*targets.parse_shard(shard)))
    pipeline.tell_notes(result.notices)
    return pipeline.finish(result.findings, result.skipped, run.options)
