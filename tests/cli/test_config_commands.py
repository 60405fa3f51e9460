"""`chronicle-fleet validate-config` and `show-config`: exit codes, output formats, and the ops snippets."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from supervisor_app.cli import exit_codes
from supervisor_app.cli.fleet import main
from tests.commands import FLEET
from tests.config.sample_configs import MINIMAL, write_config

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"
EXAMPLES = sorted(str(path) for path in CONFIGS.glob("*.yaml"))

VALID = MINIMAL
INVALID = VALID.replace("name: okx", "name: OKX") + "    compression: {level: 30}\n"


@pytest.fixture
def valid(tmp_path: Path) -> Path:
    return write_config(tmp_path, VALID, "valid.yaml")


@pytest.fixture
def invalid(tmp_path: Path) -> Path:
    return write_config(tmp_path, INVALID, "invalid.yaml")


def run_module(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """The real command line, in a child process: `python -m supervisor_app ...`."""
    return subprocess.run([*FLEET, *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def with_venv_on_path() -> dict[str, str]:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_valid_files_exit_0_and_print_no_problem(capsys: pytest.CaptureFixture[str], valid: Path) -> None:
    assert main(["validate-config", str(valid), *EXAMPLES]) == exit_codes.OK
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip() == f"{1 + len(EXAMPLES)} files valid"


def test_one_invalid_file_makes_exit_1_and_only_its_problems_print(
    capsys: pytest.CaptureFixture[str], valid: Path, invalid: Path
) -> None:
    assert main(["validate-config", str(valid), str(invalid)]) == exit_codes.FAILURE
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"{invalid}:6:11: venues[0].name: 'OKX' is not a valid venue name "
        "(lowercase letters, digits, '.', '_', '-'; starts with a letter or digit; at most 64 characters)",
        f"{invalid}:8:26: venues[0].compression.level: 30 is greater than the maximum of 22",
    ]
    assert err.strip() == "2 problems in 1 of 2 files"


def test_json_format_prints_the_same_problems_as_an_array(capsys: pytest.CaptureFixture[str], invalid: Path) -> None:
    main(["validate-config", str(invalid)])
    text_lines = capsys.readouterr().out.splitlines()
    assert main(["validate-config", "--format", "json", str(invalid)]) == exit_codes.FAILURE
    out, err = capsys.readouterr()
    records = json.loads(out)
    assert err == ""
    assert [f"{r['file']}:{r['line']}:{r['column']}: {r['path']}: {r['message']}" for r in records] == text_lines


def test_json_format_of_valid_files_is_an_empty_array(capsys: pytest.CaptureFixture[str], valid: Path) -> None:
    assert main(["validate-config", "--format", "json", str(valid)]) == exit_codes.OK
    assert json.loads(capsys.readouterr().out) == []


def test_check_paths_is_off_by_default_and_on_when_asked(capsys: pytest.CaptureFixture[str], valid: Path) -> None:
    assert main(["validate-config", str(valid)]) == exit_codes.OK
    assert main(["validate-config", "--check-paths", str(valid)]) == exit_codes.FAILURE
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{valid}:7:12: venues[0].queue: queue directory {valid.parent}/q does not exist"]


def test_show_config_prints_the_resolved_config(capsys: pytest.CaptureFixture[str], valid: Path) -> None:
    assert main(["show-config", str(valid)]) == exit_codes.OK
    shown = json.loads(capsys.readouterr().out)
    assert shown["archive_root"] == str(valid.parent / "archive")
    assert shown["supervisor"] == {
        "state_dir": str(valid.parent / "state"),
        "log_dir": "stdout",
        "log_max_bytes": "50 MiB",
        "log_backups": 10,
        "stop_timeout": "30s",
    }
    assert shown["venues"][0]["queue"] == str(valid.parent / "q")
    assert shown["venues"][0]["compression"] == {"codec": "zstd", "level": 3, "block_size": "1 MiB", "keep_raw": False}
    assert shown["venues"][0]["archiver"]["poll_interval"] == "1s"
    assert shown["restart"] == {"initial_delay": "1s", "max_delay": "1m", "healthy_after": "1m"}


@pytest.mark.parametrize("name", ["fleet.example.yaml", "demo.yaml"])
def test_show_config_output_is_itself_the_same_valid_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    assert main(["show-config", str(CONFIGS / name)]) == exit_codes.OK
    shown = capsys.readouterr().out
    again = tmp_path / "shown.yaml"
    again.write_text(shown)
    assert main(["validate-config", str(again)]) == exit_codes.OK
    assert main(["show-config", str(again)]) == exit_codes.OK
    assert capsys.readouterr().out == shown


def test_show_config_of_an_invalid_file_prints_problems_on_stderr(
    capsys: pytest.CaptureFixture[str], invalid: Path
) -> None:
    assert main(["show-config", str(invalid)]) == exit_codes.FAILURE
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 2 and all(line.startswith(f"{invalid}:") for line in err.splitlines())


@pytest.mark.parametrize(
    "argv",
    [["validate-config"], ["validate-config", "--format", "xml", "f.yaml"], ["show-config"], ["show-config", "a", "b"]],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == exit_codes.USAGE
    assert "usage:" in capsys.readouterr().err


def test_subprocess_valid_examples_exit_0() -> None:
    result = run_module("validate-config", "configs/fleet.example.yaml", "configs/demo.yaml")
    assert (result.returncode, result.stdout) == (0, "")


def test_subprocess_invalid_file_exits_1_with_position(invalid: Path) -> None:
    result = run_module("validate-config", invalid.name, cwd=invalid.parent)
    assert result.returncode == 1
    assert (
        result.stdout.splitlines()[1]
        == "invalid.yaml:8:26: venues[0].compression.level: 30 is greater than the maximum of 22"
    )


def test_subprocess_usage_error_exits_2() -> None:
    result = run_module("validate-config")
    assert result.returncode == 2
    assert "the following arguments are required: FILE" in result.stderr


def test_subprocess_json_and_show_config(valid: Path) -> None:
    assert json.loads(run_module("validate-config", "--format", "json", str(valid)).stdout) == []
    shown = run_module("show-config", str(valid))
    assert shown.returncode == 0 and json.loads(shown.stdout)["venues"][0]["name"] == "okx"


def test_pre_commit_hook_is_offered_to_a_configs_repository(tmp_path: Path, invalid: Path) -> None:
    """`pre-commit try-repo` against this checkout, from a separate git repository holding configs."""
    configs_repo = tmp_path / "configs-repo"
    (configs_repo / "configs").mkdir(parents=True)
    shutil.copy(REPO / "configs" / "fleet.example.yaml", configs_repo / "configs" / "good.yaml")
    shutil.copy(invalid, configs_repo / "configs" / "bad.yaml")
    env = {**with_venv_on_path(), "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "GIT_AUTHOR_NAME": "t"}
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    for command in (["init", "-q"], ["add", "."], ["commit", "-qm", "configs"]):
        subprocess.run([*git, *command], cwd=configs_repo, check=True, env=env, capture_output=True)
    hook = "chronicle-fleet-validate-config"

    def try_repo(*files: str) -> subprocess.CompletedProcess[str]:
        argv = ["pre-commit", "try-repo", str(REPO), hook, "--files", *files]
        return subprocess.run(argv, cwd=configs_repo, env=env, capture_output=True, text=True, timeout=600)

    good = try_repo("configs/good.yaml")
    assert good.returncode == 0, good.stdout + good.stderr
    bad = try_repo("configs/good.yaml", "configs/bad.yaml")
    assert bad.returncode == 1
    assert "configs/bad.yaml:8:26: venues[0].compression.level: 30 is greater than the maximum of 22" in bad.stdout


def test_pre_commit_snippet_uses_the_offered_hook() -> None:
    offered = {hook["id"] for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    snippet = yaml.safe_load((REPO / "ops" / "pre-commit-config.yaml").read_text())["repos"][0]
    assert {hook["id"] for hook in snippet["hooks"]} <= offered and snippet["rev"]


def test_ci_job_runs_validate_config_over_the_configs() -> None:
    job = yaml.safe_load((REPO / "ops" / "ci" / "validate-config.yml").read_text())["jobs"]["validate-config"]
    (install,) = [step["run"] for step in job["steps"] if "pip install" in step.get("run", "")]
    assert "chronicle-fleet @ git+" in install and not install.rstrip().endswith(" .")
    (command,) = [step["run"] for step in job["steps"] if "validate-config" in step.get("run", "")]
    assert "configs/" in command and "--check-paths" not in command
    result = subprocess.run(
        command, shell=True, cwd=REPO, env=with_venv_on_path(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        (VALID.replace("queue: q", "queue: 'q ;x'"), "7:12: venues[0].queue", "comment"),
        (VALID.replace("archive_root: archive", "archive_root: 'archive #1'"), "2:15: archive_root", "comment"),
        (VALID.replace("queue: q", 'queue: "q\\nx"'), "7:12: venues[0].queue", "control character"),
    ],
)
def test_values_supervisord_would_misread_fail_validation_in_ci(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, where: str, words: str
) -> None:
    path = write_config(tmp_path, text)
    assert main(["validate-config", str(path)]) == exit_codes.FAILURE
    out = capsys.readouterr().out
    assert f"{path}:{where}:" in out and words in out, out
