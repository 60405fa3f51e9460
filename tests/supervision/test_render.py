"""Rendering supervisord's config: what each program says, and that no value can subvert the file."""

from __future__ import annotations

import dataclasses
import io
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from supervisor.options import ServerOptions

from supervisor_app.config.model import (
    ArchiverSettings,
    BusSource,
    CompressionPolicy,
    FleetConfig,
    LogSettings,
    ResourceLimits,
    SupervisorSettings,
    VenueConfig,
)
from supervisor_app.errors import ConfigError
from supervisor_app.supervision.render import (
    RenderedFleet,
    archiver_argv,
    check_read_back,
    ini_problem,
    render,
)


@pytest.fixture
def root() -> Iterator[Path]:
    """A short directory: the supervisord socket path must fit in 107 bytes."""
    path = Path(tempfile.mkdtemp(prefix="cf-render-", dir="/tmp"))
    (path / "state").mkdir()
    (path / "logs").mkdir()
    yield path
    shutil.rmtree(path)


def _config(root: Path, **changes: object) -> FleetConfig:
    venues = (
        VenueConfig(
            "alpha",
            root / "bus/streams/raw/alpha/queue",
            "bus:main",
            compression=CompressionPolicy(level=9, block_size=65536, keep_raw=True),
        ),
        VenueConfig(
            "beta",
            root / "q",
            "queue",
            compression=CompressionPolicy(codec="none"),
            archiver=ArchiverSettings(poll_ms=250, reader_name="arch-2", refresh_when_idle_s=0.5),
        ),
        VenueConfig("off", root / "off", "queue", enabled=False),
    )
    config = FleetConfig(
        path=root / "fleet.yaml",
        archive_root=root / "archive",
        venues=venues,
        buses=(BusSource("main", root / "bus"),),
        supervisor=SupervisorSettings(
            state_dir=root / "state", logs=LogSettings(root / "logs", max_bytes=1 << 20, backups=3), stop_timeout_s=2.5
        ),
    )
    return dataclasses.replace(config, **changes)


def _read_back(rendered: RenderedFleet) -> dict[str, object]:
    parsed = ServerOptions().read_config(io.StringIO(rendered.text))
    return {group.name: group.process_configs[0] for group in parsed.process_group_configs}


def test_each_enabled_venue_is_a_program_our_engine_alone_restarts(root: Path) -> None:
    config = _config(root)
    rendered = render(config)
    programs = _read_back(rendered)
    assert sorted(programs) == ["alpha", "beta"] == sorted(rendered.programs)
    alpha = programs["alpha"]
    assert (alpha.autostart, alpha.autorestart, alpha.startsecs, alpha.startretries) == (False, False, 0, 0)
    assert (alpha.stopsignal, alpha.stopwaitsecs, alpha.redirect_stderr, alpha.exitcodes) == (15, 3, True, [0])
    assert (alpha.stdout_logfile, alpha.stdout_logfile_maxbytes, alpha.stdout_logfile_backups) == (
        str(root / "logs/alpha.log"),
        1 << 20,
        3,
    )
    assert (
        "[unix_http_server]" in rendered.text
        and "chmod=0700" in rendered.text
        and "inet_http_server" not in rendered.text
    )
    assert "silent=true" in rendered.text and f"logfile={root}/state/supervisord.log" in rendered.text
    check_read_back(config, rendered)


def test_the_command_carries_each_venue_s_settings(root: Path) -> None:
    config = _config(root)
    alpha, beta = config.venues[:2]
    assert archiver_argv(config, alpha) == [
        sys.executable, "-m", "supervisor_app.cli.archiver",
        "--source", str(root / "bus/streams/raw/alpha/queue"), "--archive-root", str(root / "archive"),
        "--venue", "alpha", "--reader-name", "raw-archiver", "--poll-ms", "1000", "--refresh-when-idle", "60",
        "--compress", "--level", "9", "--block-size", "65536", "--retain-q",
        "--nice", "10", "--io-class", "best-effort", "--io-level", "7",
    ]  # fmt: skip
    assert archiver_argv(config, beta)[-14:-6] == [
        "--venue", "beta", "--reader-name", "arch-2", "--poll-ms", "250", "--refresh-when-idle", "0.5",
    ]  # fmt: skip
    assert shlex.split(_read_back(render(config))["beta"].command) == archiver_argv(config, beta)


def test_the_command_carries_the_share_of_the_host_and_the_fleet_s_cap_on_compression(root: Path) -> None:
    limits = ResourceLimits(nice=15, io_class="idle", io_level=3, cpu_affinity=(0, 1, 2, 6), compress_threads=2)
    config = _config(root, supervisor=SupervisorSettings(state_dir=root / "state", max_compress_threads=5))
    alpha, beta = (
        dataclasses.replace(v, archiver=dataclasses.replace(v.archiver, resources=limits)) for v in config.venues[:2]
    )
    config = dataclasses.replace(config, venues=(alpha, beta))
    # idle has no level; copy mode neither compresses nor takes slots.
    common = ["--nice", "15", "--io-class", "idle", "--cpu-affinity", "0-2,6"]
    slots = ["--compress-threads", "2", "--compress-slots", f"{root}/state/compress-slots:5"]
    assert archiver_argv(config, alpha)[-len(common) - len(slots) :] == common + slots
    assert archiver_argv(config, beta)[-len(common) - 1 :] == ["0.5", *common]
    rendered = render(config)
    check_read_back(config, rendered)
    assert shlex.split(_read_back(rendered)["alpha"].command) == archiver_argv(config, alpha)


def test_journald_mode_sends_every_venue_to_stdout_without_rotation(root: Path) -> None:
    config = _config(root, supervisor=SupervisorSettings(state_dir=root / "state", logs=LogSettings(None)))
    alpha = _read_back(render(config))["alpha"]
    assert (alpha.stdout_logfile, alpha.stdout_logfile_maxbytes, alpha.stdout_logfile_backups) == ("/dev/stdout", 0, 0)


@pytest.mark.parametrize(
    "name",
    [
        "100%",
        "%(here)s",
        "%(ENV_HOME)s x",
        "[program:x]",
        "a;b#c",
        'quote\'s "double"',
        "ünï cödé",
        "tab-free  two spaces",
    ],
)
def test_legal_but_special_characters_reach_the_archiver_verbatim(root: Path, name: str) -> None:
    queue = root / name / "queue"
    config = _config(root, archive_root=root / f"archive {name}", venues=(VenueConfig("alpha", queue, "queue"),))
    rendered = render(config)
    check_read_back(config, rendered)
    assert shlex.split(_read_back(rendered)["alpha"].command) == archiver_argv(config, config.venues[0])


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("/data/a ;b", "comment"),
        ("/data/a #b", "comment"),
        ("/data/a\t;b", "control character"),
        ("/data/a\n[program:evil]\ncommand=/bin/sh", "control character"),
        ("/data/a\rb", "control character"),
        ("/data/\x1b[31m", "control character"),
        ("/data/a ", "whitespace"),
        (" /data/a", "whitespace"),
    ],
)
def test_values_supervisord_would_misread_are_refused(text: str, words: str) -> None:
    problem = ini_problem(text)
    assert problem is not None and words in problem


def test_refusals_name_the_config_path_of_each_bad_value(root: Path) -> None:
    venues = (
        VenueConfig("alpha", root / "bus ;x/streams/raw/alpha/queue", "bus:main"),
        VenueConfig("also-on-main", root / "bus ;x/streams/raw/also-on-main/queue", "bus:main"),
        VenueConfig("beta", root / "q\n[program:evil]", "queue"),
        VenueConfig("bad name", root / "q2", "queue", archiver=ArchiverSettings(reader_name="r]x")),
        VenueConfig("off", root / "off #x", "queue", enabled=False),  # never rendered, so never refused
    )
    config = _config(
        root,
        venues=venues,
        archive_root=root / "a #b",
        supervisor=SupervisorSettings(root / "state", LogSettings(root / "logs ")),
    )
    with pytest.raises(ConfigError) as raised:
        render(config)
    paths = [finding.path for finding in raised.value.problems]
    assert paths == [
        ("archive_root",),
        ("supervisor", "log_dir"),
        ("buses", "main"),  # once, though two venues read from that bus
        ("venues", 2, "queue"),
        ("venues", 3, "name"),
        ("venues", 3, "archiver", "reader_name"),
    ]


def test_a_state_dir_too_long_for_a_unix_socket_is_refused(root: Path) -> None:
    config = _config(root, supervisor=SupervisorSettings(state_dir=root / ("s" * 100)))
    with pytest.raises(ConfigError) as raised:
        render(config)
    [finding] = raised.value.problems
    assert finding.path == ("supervisor", "state_dir") and "107 bytes" in finding.message


def test_reading_back_catches_a_file_that_does_not_say_what_we_meant(root: Path) -> None:
    config = _config(root)
    rendered = render(config)
    tampered = RenderedFleet(rendered.text.replace("--venue alpha", "--venue mallory"), rendered.programs)
    with pytest.raises(ConfigError) as raised:
        check_read_back(config, tampered)
    [finding] = raised.value.problems
    assert finding.path == ("venues", 0) and "mallory" in finding.message
