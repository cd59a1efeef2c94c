"""[tool.pit-guard] / .pit-guard.toml: excluded paths, allowed fingerprints, disabled rules, size."""

from __future__ import annotations

import json
import pathlib
import uuid
from typing import Iterator, List

import pytest

from pit_guard import config
from pit_guard.cli import main
from pit_guard.finding import Finding, Unread, fingerprint
from pit_guard.pipeline import Options, finish

RULE = "ghl-private-integration-token"


def new_pit() -> str:
    return "pit-" + str(uuid.uuid4())


@pytest.fixture()
def repo(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[pathlib.Path]:
    """A git repository root as the current folder (where hooks and CI run)."""
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def write(path: pathlib.Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def reported(capsys: pytest.CaptureFixture[str], *args: str) -> List[str]:
    code = main(["scan", "--format", "json", *args])
    out = capsys.readouterr().out
    paths = [f["path"].replace("\\", "/") for f in json.loads(out)["findings"]] if code != 2 else []
    return sorted(paths)


def test_exclude_allow_and_disable_rules(repo: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    allowed = new_pit()
    write(repo / "src" / "app.env", f"A={new_pit()}\nB={allowed}\n")
    write(repo / "docs" / "guide.md", f"{new_pit()}\n")
    write(repo / "src" / "node_modules" / "x" / "index.js", f"'{new_pit()}'\n")
    write(repo / "tests" / "fixtures" / "deep" / "a.env", f"{new_pit()}\n")
    write(
        repo / "hook.json",
        "https://services.leadconnectorhq.com/hooks/Qw3rTy7uI9oP1aS5dF8g/webhook-trigger/"
        "5c2d9e1f-7a4b-4c8d-9e2f-1a3b5c7d9e0f\n",
    )
    assert reported(capsys, ".") == [
        "./docs/guide.md",
        "./hook.json",
        "./src/app.env",
        "./src/app.env",
        "./src/node_modules/x/index.js",
        "./tests/fixtures/deep/a.env",
    ]
    write(
        repo / ".pit-guard.toml",
        f"""
exclude = ["*.md", "node_modules", "tests/fixtures/"]
allow = ["{fingerprint(RULE, allowed)}"]
disable-rules = ["ghl-inbound-webhook-url"]
""",
    )
    assert reported(capsys, ".") == ["./src/app.env"]


def test_pyproject_table_and_precedence(repo: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo / "a.env", f"{new_pit()}\n")
    write(repo / "pyproject.toml", '[project]\nname = "x"\n\n[tool.pit-guard]\nexclude = ["*.env"]\n')
    assert reported(capsys, ".") == []
    # In one folder .pit-guard.toml wins (no merging of the two).
    write(repo / ".pit-guard.toml", "exclude = []\n")
    assert reported(capsys, ".") == ["./a.env"]


def test_found_from_a_subfolder_up_to_the_repository_root(
    repo: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(repo / "sub" / "a.env", f"{new_pit()}\n")
    write(repo / ".pit-guard.toml", 'exclude = ["sub/*.env"]\n')
    monkeypatch.chdir(repo / "sub")
    assert reported(capsys, ".") == []  # globs are relative to the config file's folder


def test_not_looked_for_above_the_repository_root(
    repo: pathlib.Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    outer = tmp_path_factory.mktemp("outer")
    write(outer / ".pit-guard.toml", 'exclude = ["*"]\n')
    (outer / "inner" / ".git").mkdir(parents=True)
    monkeypatch.chdir(outer / "inner")
    assert config.load_config() == config.Config()
    # Outside any repository, only the current folder counts.
    write(outer / "plain" / "x.txt", "")
    monkeypatch.chdir(outer / "plain")
    assert config._search_folders(str(outer / "plain")) == [str(outer / "plain")]


def test_explicit_config_file(repo: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo / "a.env", f"{new_pit()}\n")
    write(repo / "ci" / "strict.toml", 'exclude = ["*.env"]\n')
    assert reported(capsys, "--config", "ci/strict.toml", ".") == []
    assert main(["scan", "--config", "nope.toml", "."]) == 2
    assert "nope.toml" in capsys.readouterr().err


@pytest.mark.parametrize("key", ["validate-url", "api-url", "validate", "exlude"])
def test_unknown_keys_are_errors_naming_the_key(
    repo: pathlib.Path, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    """There is no network setting: a cloned repository's config cannot send a token anywhere."""
    write(repo / "a.env", f"{new_pit()}\n")
    write(repo / ".pit-guard.toml", f'"{key}" = "https://attacker.example"\n')
    assert main(["scan", "."]) == 2
    err = capsys.readouterr().err
    assert f"unknown key '{key}'" in err and ".pit-guard.toml" in err


@pytest.mark.parametrize(
    "text,message",
    [
        ('disable-rules = ["ghl-nope"]', "unknown rule id 'ghl-nope'"),
        ('allow = ["abc"]', "not a fingerprint"),
        ('exclude = "*.md"', "exclude must be a list of strings"),
        ('max-file-size = "big"', "max-file-size"),
        ("exclude = [", "not valid TOML"),
        ("[tool]\nx = 1", "unknown key 'tool'"),
    ],
)
def test_invalid_values_exit_2(repo: pathlib.Path, capsys: pytest.CaptureFixture[str], text: str, message: str) -> None:
    write(repo / ".pit-guard.toml", text + "\n")
    assert main(["scan", "."]) == 2
    assert message in capsys.readouterr().err


def test_max_file_size_from_config_and_flag_overrides(repo: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo / "big.env", f"{new_pit()}\n" + "#" * 4000)
    write(repo / ".pit-guard.toml", 'max-file-size = "1K"\n')
    assert reported(capsys, "big.env") == []
    assert reported(capsys, "--max-file-size", "1M", "big.env") == ["big.env"]
    write(repo / ".pit-guard.toml", "max-file-size = 1048576\n")
    assert reported(capsys, "big.env") == ["big.env"]
    assert reported(capsys, "--max-file-size", "1K", "big.env") == []


def test_finish_applies_config_for_every_mode(repo: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    """History findings (repository-relative paths) go through the same filter in finish()."""
    write(repo / ".pit-guard.toml", 'exclude = ["vendor"]\n')
    history = [Finding(RULE, new_pit(), "vendor/lib/conf.env", 3, 1), Finding(RULE, new_pit(), "app/conf.env", 1, 1)]
    options = Options(fmt="json", config=config.load_config())
    assert finish(history, [Unread("vendor/huge.bin", "too big")], options) == 1
    out = json.loads(capsys.readouterr().out)
    assert [f["path"] for f in out["findings"]] == ["app/conf.env"]
    assert out["skipped"] == []  # an excluded file is not even mentioned
    assert finish(history[:1], [], options) == 0


def test_exclude_matching_rules() -> None:
    cfg = config.Config(exclude=("*.lock", "docs/*.md", "/build", "fixtures/"), root="/r")
    assert config.is_excluded("/r/a/b/package.lock", cfg)
    assert config.is_excluded("/r/docs/x.md", cfg) and config.is_excluded("/r/docs/sub/x.md", cfg)
    assert not config.is_excluded("/r/src/docs/x.md", cfg)  # a pattern with `/` is anchored
    assert config.is_excluded("/r/build/out.js", cfg) and not config.is_excluded("/r/src/build.js", cfg)
    assert not config.is_excluded("/r/src/build/out.js", cfg)  # a leading `/` anchors too
    assert config.is_excluded("/r/a/fixtures/x.env", cfg)
    assert not config.is_excluded("<stdin>", cfg)
