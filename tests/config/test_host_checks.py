"""One queue under two paths, and cores this host lacks: found by --check-paths, `run` and `reload`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from supervisor_app.config import check_fleet_config, fleet_config_problems
from tests.commands import FLEET
from tests.config.sample_configs import write_config

TWO_VENUES = """\
version: 1
archive_root: archive
supervisor:
  state_dir: state
venues:
  - name: okx
    queue: {first}
  - name: okx-again
    queue: {second}
"""


def _fleet(tmp_path: Path, first: str, second: str) -> Path:
    (tmp_path / "real-queue").mkdir(exist_ok=True)
    (tmp_path / "archive").mkdir(exist_ok=True)
    return write_config(tmp_path, TWO_VENUES.format(first=first, second=second))


def test_a_symlink_to_the_same_queue_is_the_same_queue(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(tmp_path / "real-queue")
    config = _fleet(tmp_path, "real-queue", "link")
    assert fleet_config_problems(config) == []  # CI cannot see it: the paths differ as text
    (problem,) = fleet_config_problems(config, check_paths=True)
    assert (problem.line, problem.path) == (9, "venues[1].queue")
    assert f"{tmp_path}/link is the same queue as {tmp_path}/real-queue of venue 'okx'" in problem.message
    assert "same reader name 'raw-archiver'" in problem.message and problem.message.endswith("(line 7)")


def test_run_and_reload_check_it_too(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(tmp_path / "real-queue")
    config = _fleet(tmp_path, "real-queue", "link")
    assert check_fleet_config(config, on_host=True).config is None
    run = subprocess.run([*FLEET, "run", "-c", str(config)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "is the same queue as" in run.stdout and not (tmp_path / "state" / "supervisord.conf").exists()


def test_two_reader_names_on_one_queue_are_fine(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(tmp_path / "real-queue")
    _fleet(tmp_path, "real-queue", "link")
    text = TWO_VENUES.format(first="real-queue", second="link") + "    archiver: {reader_name: second}\n"
    assert fleet_config_problems(write_config(tmp_path, text), check_paths=True) == []


def test_dot_dot_and_trailing_slashes_are_caught_even_in_ci(tmp_path: Path) -> None:
    config = _fleet(tmp_path, "real-queue", "./sub/../real-queue/")
    (problem,) = fleet_config_problems(config)
    assert problem.path == "venues[1].queue" and "reads the same queue as venues[0]" in problem.message


def test_a_bind_mount_of_the_queue_is_the_same_queue(tmp_path: Path) -> None:
    (tmp_path / "mounted").mkdir()
    config = _fleet(tmp_path, "real-queue", "mounted")
    # A private mount namespace: the bind mount vanishes with the command.
    script = f"mount --bind {tmp_path}/real-queue {tmp_path}/mounted && exec {' '.join(FLEET)} validate-config --check-paths {config}"
    checked = subprocess.run(["unshare", "--mount", "sh", "-c", script], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 1, checked.stderr
    assert f"{tmp_path}/mounted is the same queue as {tmp_path}/real-queue" in checked.stdout


def test_cores_this_host_lacks(tmp_path: Path) -> None:
    (tmp_path / "q").mkdir()
    missing = max(os.sched_getaffinity(0)) + 1
    text = TWO_VENUES.format(first="q", second="q2").replace(
        "    queue: q2\n",
        f"    queue: q2\n    archiver: {{reader_name: b, resources: {{cpu_affinity: '0,{missing}'}}}}\n",
    )
    config = write_config(tmp_path, text)
    assert fleet_config_problems(config) == []
    (problem,) = check_fleet_config(config, on_host=True).problems
    assert problem.path == "venues[1].archiver.resources.cpu_affinity"
    assert problem.message.startswith(f"cores {missing} are not available on this host (usable: ")
