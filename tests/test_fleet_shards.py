"""--shard I/N and `pit-guard merge`: shards of a fleet merge into the single run's report, byte for
byte, in every format; one repository split by blob id merges into the same findings."""

from __future__ import annotations

import json

import pytest
from fleet_helpers import make_remote, new_pit

from pit_guard.cli import main
from pit_guard.fleet.targets import repository_shard

pytestmark = pytest.mark.usefixtures("fleet_env")


@pytest.fixture(scope="module")
def fleet(fleet_env_module):
    """Five repositories, built once for the module (the tests only read them)."""
    shared = new_pit()
    tokens = [shared]
    urls = []
    for i in range(5):
        own = [new_pit() for _ in range(i % 3)]
        tokens += own
        urls.append(make_remote(fleet_env_module, f"repo{i}", [*own, shared] if i % 2 else own)[1])
    return urls, tokens


@pytest.fixture(scope="module")
def shards(fleet, fleet_env_module):
    """The fleet's three JSON shard reports (what every format's merge reads), made once for the module;
    returns (exit codes, report paths, the clone folder they filled)."""
    urls, _ = fleet
    clones = str(fleet_env_module / "clones")
    codes, parts = [], []
    for i in (1, 2, 3):
        part = fleet_env_module / f"shard{i}.json"
        codes.append(
            main(["audit", *urls, "--clone-dir", clones, "--shard", f"{i}/3", "--format", "json", "-o", str(part)])
        )
        parts.append(str(part))
    return codes, parts, clones


def audit(capsys, *args):
    code = main(["audit", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("fmt", ["json", "sarif", "markdown", "text"])
def test_three_shards_merge_into_the_single_run_byte_for_byte(capsys, fleet, shards, fmt):
    """The shard reports are JSON whatever the merged format: made once (`shards`), merged here into
    each format and compared with that format's single run."""
    urls, tokens = fleet
    codes, parts, clones = shards
    code, single, _ = audit(capsys, *urls, "--clone-dir", clones, "--format", fmt, "--jobs", "2")
    assert code == 1
    assert all(code in (0, 1) for code in codes), codes
    sizes = [len(json.loads(open(part).read())["findings"]) for part in parts]
    # the work really was split as the hash of the names says (the names hold tmp_path: on some runs
    # every repository with a finding falls in one shard, so which shards hold findings is computed)
    holding = {repository_shard(u, 3) for i, u in enumerate(urls) if i % 3 or i % 2}  # the fixture's tokens
    assert [bool(n) for n in sizes] == [i in holding for i in range(3)]
    code = main(["merge", *parts, "--format", fmt])
    merged = capsys.readouterr()
    assert code == 1
    assert merged.out == single
    for token in tokens:
        assert token not in merged.out + merged.err


def test_shards_are_a_partition_of_the_repositories(tmp_path, capsys, fleet):
    urls, _ = fleet
    seen = []
    for i in (1, 2, 3):
        code, out, _ = audit(capsys, *urls, "--shard", f"{i}/3", "--list-only")
        assert code == 0
        seen += out.split()
    assert sorted(seen) == sorted(urls)
    again = [audit(capsys, *urls, "--shard", f"{i}/3", "--list-only")[1] for i in (1, 2, 3)]
    assert sorted("".join(again).split()) == sorted(seen)  # deterministic: a retry audits the same part


def test_one_repository_split_by_blob_merges_into_the_same_findings(tmp_path, capsys):
    tokens = [new_pit() for _ in range(8)]
    _, url = make_remote(tmp_path, "big", tokens, extra_files=6)
    clones = str(tmp_path / "clones")
    code, single, _ = audit(capsys, url, "--clone-dir", clones, "--format", "json")
    parts = []
    for i in (1, 2, 3):
        part = tmp_path / f"b{i}.json"
        audit(capsys, url, "--clone-dir", clones, "--shard", f"{i}/3", "--format", "json", "-o", str(part))
        parts.append(str(part))
    per_shard = [len(json.loads(open(p).read())["findings"]) for p in parts]
    assert sum(1 for n in per_shard if n) >= 2 and sum(per_shard) == 8
    code = main(["merge", *parts, "--format", "json"])
    merged = capsys.readouterr().out
    assert code == 1
    assert merged == single


def test_merge_keeps_an_incomplete_shard_incomplete(tmp_path, capsys, fleet):
    urls, _ = fleet
    gone = (tmp_path / "gone.git").as_uri()
    part = tmp_path / "s.json"
    code, _, _ = audit(capsys, gone, *urls, "--format", "json", "-o", str(part))
    assert code == 2
    code = main(["merge", str(part)])
    out = capsys.readouterr()
    assert code == 2
    assert "gone.git" in out.out and "INCOMPLETE" in out.out


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json", "cannot merge it"),
        ('{"tool": {"name": "other"}}', "not a pit-guard JSON report"),
        ('{"tool": {"name": "pit-guard"}, "version": 9}', "schema version 9"),
    ],
)
def test_merge_refuses_what_is_not_a_shard_report(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    code = main(["merge", str(bad)])
    err = capsys.readouterr().err
    assert code == 2 and message in err


def test_merge_validate_reads_each_secret_again_and_checks_it_once(tmp_path, capsys, ghl):
    """Shard reports are redacted; `merge --validate` reads the secret again from its repository
    and sends each distinct credential once, after the merge."""
    from ghl_fake_server import DEAD_PIT_401, LIVE_422

    live, dead = new_pit(), new_pit()
    ghl.reply(live, LIVE_422)
    ghl.reply(dead, DEAD_PIT_401)
    _, url_a = make_remote(tmp_path, "va", [live, dead])
    _, url_b = make_remote(tmp_path, "vb", [live])
    clones = str(tmp_path / "clones")
    parts = []
    for i in (1, 2):
        part = tmp_path / f"v{i}.json"
        audit(capsys, url_a, url_b, "--clone-dir", clones, "--shard", f"{i}/2", "--format", "json", "-o", str(part))
        assert live not in part.read_text() and dead not in part.read_text()
        parts.append(str(part))
    assert ghl.requests == []  # shards never validate
    code = main(["merge", *parts, "--format", "json", "--validate", "--clone-dir", str(tmp_path / "merge-clones")])
    out = capsys.readouterr()
    assert code == 1, out.err
    status = {
        f["provenance"]["repository"] + f["path"]: f["validation"]["status"] for f in json.loads(out.out)["findings"]
    }
    assert sorted(status.values()) == ["dead", "live", "live"]
    assert len(ghl.requests_for(live)) == 1 and len(ghl.requests_for(dead)) == 1
    assert live not in out.out + out.err and dead not in out.out + out.err
