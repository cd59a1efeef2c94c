"""`pit-guard purge`: rewrite history without the credentials (on a mirror clone), and prove it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, List, Optional

import click

from pit_guard.errors import FatalError
from pit_guard.finding import EXIT_CLEAN, EXIT_FINDINGS, notice

if TYPE_CHECKING:
    from pit_guard.remediation.purge import Target


def _echo(line: str = "") -> None:
    from pit_guard.finding import display_path

    click.echo(display_path(line))


@click.command()
@click.argument("repo", required=False, default=".", type=click.Path())
@click.option(
    "--report",
    "report_file",
    type=click.Path(exists=True, dir_okay=False),
    help="The credentials to purge, from a pit-guard JSON report of this repository (default: audit it now).",
)
@click.option("--apply", "do_apply", is_flag=True, help="Do it: mirror-clone, rewrite the clone, audit the result.")
@click.option(
    "--into",
    type=click.Path(),
    help="Folder for the rewritten mirror clone (must not exist; default: REPO-purged beside REPO).",
)
@click.option(
    "--expressions",
    "expressions_file",
    type=click.Path(dir_okay=False),
    help="Where to write the git-filter-repo expressions file (0600, outside the repository; it holds the "
    "secrets: delete it when done). Default: in the --into folder with --apply, else beside REPO.",
)
@click.option(
    "--i-have-revoked",
    "revoked",
    is_flag=True,
    help="Purge even though credentials may still work (live, unknown or not validated): you revoked them.",
)
def purge(
    repo: str,
    report_file: Optional[str],
    do_apply: bool,
    into: Optional[str],
    expressions_file: Optional[str],
    revoked: bool,
) -> int:
    """Remove the credentials found in REPO's history: write a git-filter-repo expressions file and
    print the steps; with --apply, rewrite a fresh mirror clone and audit it (done only at 0 findings).

    Revoke first: rewriting history does not un-leak a pushed credential. Purge refuses while any
    credential may still work (validate with `pit-guard audit --validate --format json -o FILE`,
    pass --report FILE) unless --i-have-revoked. Needs `pip install 'pit-guard[purge]'` for --apply.
    """
    from pit_guard.remediation import purge as p
    from pit_guard.sources import git

    if click.get_current_context().get_parameter_source("repo") == click.core.ParameterSource.COMMANDLINE:
        git.use_named_repository()
    where = p.target(repo)
    # From here on every git command names its repository by folder: GIT_DIR or GIT_WORK_TREE left in
    # the environment would make git-filter-repo rewrite the user's clone instead of the mirror.
    git.use_named_repository()
    if where.repo.shallow:  # the rewrite would make its oldest commit a root: the push would cut the history off
        raise FatalError(
            f"{where.folder} is a shallow clone: its rewrite would replace the remote's history with the few "
            "commits it has. Run `git fetch --unshallow` first, then purge again"
        )
    into_given = into is not None
    into = os.path.abspath(into or where.default_into)
    if report_file:
        findings = p.from_report(report_file, where)
    else:
        findings, unread = p.audit(where.folder)
        if unread:
            for u in unread:
                notice(f"not scanned {u.path}: {u.reason}")
            raise FatalError(f"the audit of {where.folder} is incomplete (listed above): nothing purged")
    credentials = {f.fingerprint: f for f in findings}
    if not credentials:
        notice(f"no credentials in {where.folder}'s history: nothing to purge")
        return EXIT_CLEAN
    behind = p.behind_remotes(where)
    if behind:
        for branch, remote in behind[:10]:
            notice(f"  {branch} lacks commits of {remote}")
        raise FatalError(
            f"{len(behind)} local branch(es) lack commits their remote has (listed above): the force-push would "
            "delete those from the remote. Bring each up to date (`git pull --ff-only`, or merge), then purge again"
        )
    risky = p.may_still_work(findings)
    if risky:
        notice(
            f"warning: {len(risky)} of {len(credentials)} credential(s) may still work (live, unknown or not "
            "validated). Revoke them first: a rewrite does not un-leak what was pushed or cloned."
        )
        for f in risky[:10]:
            state = f.validation.status if f.validation is not None else "not validated"
            notice(f"  {f.rule_id} {f.redacted} ({state}), first in {f.path}")
        if len(risky) > 10:
            notice(f"  ... and {len(risky) - 10} more")
        if not revoked:
            raise FatalError(
                "refusing to purge before revocation: revoke each credential (see `pit-guard audit` for how), "
                "then run again with --i-have-revoked (or with --report from `audit --validate --format json`)"
            )
        notice("--i-have-revoked: going on")
    if do_apply:
        program = p.filter_repo_program()
        p.check_into(into, where)
    if expressions_file:
        p.check_outside(expressions_file, where)
        expr_path = os.path.abspath(expressions_file)
    elif do_apply:
        expr_path = os.path.join(into, p.EXPRESSIONS_NAME)
    else:
        expr_path = where.folder.rstrip(os.sep) + "-" + p.EXPRESSIONS_NAME
    if do_apply and not into_given:
        p.check_not_in_a_work_tree(into, "--into")
    if not do_apply and not expressions_file:
        p.check_not_in_a_work_tree(expr_path, "--expressions")
    data = p.expressions(findings)
    if not do_apply:
        p.write_secret_file(expr_path, data)
        _steps(where, into, expr_path, len(credentials))
        return EXIT_CLEAN

    if expressions_file:
        p.write_secret_file(expr_path, data)
        git.local_mirror_copy(where.folder, into)
    else:
        git.local_mirror_copy(where.folder, into)
    try:
        if not expressions_file:
            p.write_secret_file(expr_path, data)
        notice(f"rewriting a mirror clone in {into} ({len(credentials)} credential(s))")
        try:
            git.filter_repo(program, into, expr_path)
        except FatalError:
            notice(f"the rewrite failed: {into} is left as it is for a look (delete it); your clone is unchanged")
            raise
        left, unread = p.prove(into)
    except BaseException:  # a failure, Ctrl-C, SIGTERM: the secrets file we put in the clone must not stay
        if not expressions_file and os.path.lexists(expr_path):
            os.unlink(expr_path)
        raise
    for u in unread:
        notice(f"not scanned {u.path}: {u.reason}")
    if unread:
        raise FatalError(f"the audit of the rewritten clone {into} is incomplete (listed above): NOT done")
    if left:
        for f in left:
            notice(f"still there: {f.rule_id} {f.redacted} in {f.path}:{f.line}")
        notice(
            f"NOT done: the audit of {into} still finds {len(left)} finding(s). Do not push it; "
            f"your clone is unchanged. Remove {into} and {expr_path}."
        )
        notice(
            "git-filter-repo rewrites text only: a file it takes for binary (a NUL byte in its first 8 KB: UTF-16 "
            "text, archives, images) or a credential split across lines (wrapped base64) stays. Drop such files "
            "from the history (`git filter-repo --force --invert-paths --path PATH`, in the clone) or purge again "
            "after removing them"
        )
        return EXIT_FINDINGS
    names = p.names_with_tokens(into)
    if names:
        for name in names:
            notice(f"still there: a token in the {name}")
        notice(
            f"NOT done: {len(names)} ref or file name(s) in {into} hold a token, which a text rewrite cannot "
            f"change. Rename them there (`git -C {into} filter-repo --force --path-rename OLD:NEW`, "
            f"`git -C {into} branch -m OLD NEW`) and check `git -C {into} log --all --name-only` before any push; "
            f"then remove {expr_path}."
        )
        return EXIT_FINDINGS
    _done(where, into, expr_path, len(credentials))
    return EXIT_CLEAN


# The mirror holds what the user's clone holds: a commit only the remote has is neither purged nor kept.
_FETCH_FIRST = (
    "A force-push replaces the remote's branches with these: `git fetch --all --tags` and bring every branch up "
    "to date in your clone before purging, so that nothing pushed since is lost (run purge again if the fetch "
    "brought anything)."
)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _push_lines(where: Target, into: str) -> List[str]:
    from pit_guard.remediation import purge as p

    commands = p.push_commands(where, into)
    if not commands:
        return ["(this repository has no remote: replace your clone with a clone of the rewritten one)"]
    return commands


def _steps(where: Target, into: str, expr_path: str, count: int) -> None:

    _echo(f"Wrote the git-filter-repo expressions for {count} credential(s) to {expr_path} (mode 0600).")
    _echo("It holds the secrets: do not commit, share or print it, and delete it when done.")
    _echo()
    _echo("Next steps (or run this command again with --apply, which does 1 to 3 and checks the result):")
    _echo(f"  1. git clone --mirror --no-hardlinks {_quote(where.folder)} {_quote(into)}")
    _echo(
        f"  2. git -C {_quote(into)} filter-repo --replace-text {_quote(expr_path)} "
        f"--replace-message {_quote(expr_path)}"
    )
    _echo(f"  3. pit-guard audit {_quote(into)}   (must find nothing; if it finds something, do not push)")
    _echo(f"  4. force-push the rewritten refs (from {into}, after step 3). {_FETCH_FIRST}")
    for line in _remotes_text(where):
        _echo(f"       {line}")
    _echo(f"  5. rm {_quote(expr_path)}")
    _after()


def _remotes_text(where: Target) -> List[str]:
    from pit_guard.sources import git

    remotes = git.remote_urls(where.repo)
    if not remotes:
        return ["(no remote: replace your clone with a clone of the rewritten one)"]
    return [
        f"git push --force -- {_quote(url)} 'refs/heads/*:refs/heads/*' 'refs/tags/*:refs/tags/*'" for _, url in remotes
    ]


def _done(where: Target, into: str, expr_path: str, count: int) -> None:
    _echo(f"Done: {into} holds the history without the {count} credential(s); its audit finds nothing.")
    _echo("Your own clone was not changed.")
    _echo()
    _echo(f"Force-push the rewritten history (check the branches and tags first: `git -C {_quote(into)} branch -a`).")
    _echo(_FETCH_FIRST)
    for line in _push_lines(where, into):
        _echo(f"  {line}")
    _echo()
    _echo(f"Then delete the expressions file (it holds the secrets): rm {_quote(expr_path)}")
    _after()


def _after() -> None:
    from pit_guard.remediation import purge as p

    _echo()
    _echo("What a rewrite cannot reach, and what to do about each:")
    for line in p.cannot_reach():
        _echo(f"  - {line}")
