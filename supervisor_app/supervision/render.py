"""FleetConfig -> supervisord configuration text, every value checked or escaped.

supervisord reads its file with configparser and then %-expands most values: `%`
starts an expansion, ` ;` and ` #` start a comment, a newline starts a new key (and
`[` after it a new section), and values lose surrounding whitespace. A value that
cannot be written so that it reads back unchanged is refused; `%` is doubled. The
result can then be read back with supervisord's own parser as a last check.
"""

from __future__ import annotations

import io
import math
import shlex
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from supervisor_app.archive_root import S3Root, StoreSettings
from supervisor_app.config.ini_safety import ini_findings as config_ini_findings
from supervisor_app.config.ini_safety import ini_problem
from supervisor_app.config.model import FleetConfig, VenueConfig
from supervisor_app.config.problems import Finding
from supervisor_app.errors import ConfigError
from supervisor_app.process_limits import format_cpus
from supervisor_app.supervision.state_files import StateFiles

ARCHIVER_MODULE = "supervisor_app.cli.archiver"
PLUGIN_FACTORY = "supervisor_app.supervision.supervisord.plugin:make_rpcinterface"
STDOUT = Path("/dev/stdout")
COMPRESS_SLOTS_DIR = "compress-slots"  # in the state directory: one lock file per thread of the cap
_SUPERVISORD_LOG_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class RenderedFleet:
    """The supervisord configuration and, per enabled venue, its program section."""

    text: str
    programs: Mapping[str, str]  # venue name -> its [program:...] section


def render(config: FleetConfig, python: str = sys.executable) -> RenderedFleet:
    """The supervisord.conf for `config`; ConfigError (with unlocated Findings) if a value is unsafe."""
    findings = ini_findings(config, python)
    if findings:
        raise ConfigError("the config cannot be written safely into supervisord's configuration", findings)
    files = StateFiles(config.supervisor.state_dir)
    programs = {venue.name: _program_section(config, venue, python) for venue in config.enabled_venues}
    return RenderedFleet("\n".join([_header(config, files), *programs.values()]), programs)


def check_read_back(config: FleetConfig, rendered: RenderedFleet, python: str = sys.executable) -> None:
    """Read the rendered text with supervisord's own parser; ConfigError if it differs from what we meant.

    supervisord's parser insists that the state and log directories exist.
    """
    mismatches = list(_read_back_mismatches(config, rendered.text, python))
    if mismatches:
        raise ConfigError("supervisord would not read back the rendered configuration as written", mismatches)


def archiver_argv(config: FleetConfig, venue: VenueConfig, python: str = sys.executable) -> list[str]:
    """The archiver command line for one venue (never credentials: archivers take them from the AWS chain)."""
    archive_root = config.archive_root_of(venue)
    argv = [python, "-m", ARCHIVER_MODULE, "--source", str(venue.queue_dir), "--archive-root", str(archive_root)]
    if isinstance(archive_root, S3Root):
        argv += _store_argv(config.object_store)
    elif config.archive_root_must_exist:
        argv.append("--require-archive-root")
    argv += [
        "--venue",
        venue.name,
        "--reader-name",
        venue.archiver.reader_name,
        "--poll-ms",
        str(venue.archiver.poll_ms),
        "--refresh-when-idle",
        f"{venue.archiver.refresh_when_idle_s:g}",
    ]
    if venue.compression.codec == "zstd":
        argv += [
            "--compress",
            "--level",
            str(venue.compression.level),
            "--block-size",
            str(venue.compression.block_size),
        ]
        if venue.compression.keep_raw:
            argv.append("--retain-q")
    return argv + _resource_flags(config, venue)


def compress_slots_dir(config: FleetConfig) -> Path:
    """Where the archivers' shared compression slots (the max_compress_threads cap) live."""
    return StateFiles(config.supervisor.state_dir).root / COMPRESS_SLOTS_DIR


def _resource_flags(config: FleetConfig, venue: VenueConfig) -> list[str]:
    limits = venue.archiver.resources
    flags = ["--nice", str(limits.nice), "--io-class", limits.io_class]
    if limits.io_class == "best-effort":
        flags += ["--io-level", str(limits.io_level)]
    if limits.cpu_affinity is not None:
        flags += ["--cpu-affinity", format_cpus(limits.cpu_affinity)]
    if venue.compression.codec == "zstd":
        if limits.compress_threads is not None:
            flags += ["--compress-threads", str(limits.compress_threads)]
        cap = config.supervisor.max_compress_threads
        if cap is not None:
            flags += ["--compress-slots", f"{compress_slots_dir(config)}:{cap}"]
    return flags


def _store_argv(store: StoreSettings) -> list[str]:
    argv = []
    if store.endpoint is not None:
        argv += ["--s3-endpoint", store.endpoint]
    if store.region is not None:
        argv += ["--s3-region", store.region]
    if store.addressing_style != "auto":
        argv += ["--s3-addressing-style", store.addressing_style]
    return argv


def venue_logfile(config: FleetConfig, venue_name: str) -> Path:
    """Where a venue's output goes: a rotated file in the log directory, or stdout for journald."""
    directory = config.supervisor.logs.directory
    return STDOUT if directory is None else directory / f"{venue_name}.log"


def ini_findings(config: FleetConfig, python: str = sys.executable) -> list[Finding]:
    """Every value that cannot be written into supervisord's configuration: the config's, and the interpreter's."""
    findings = config_ini_findings(config)
    problem = ini_problem(python)
    if problem is not None:
        findings.append(Finding((), f"the Python interpreter path {python!r} {problem}"))
    return findings


def _escape(text: str) -> str:
    """A checked value as supervisord must read it: `%` is an expansion, `%%` a percent sign."""
    return text.replace("%", "%%")


def _lines(section: str, values: Mapping[str, object]) -> str:
    body = "".join(f"{key}={_escape(str(value))}\n" for key, value in values.items())
    return f"[{section}]\n{body}"


def _header(config: FleetConfig, files: StateFiles) -> str:
    unix_http_server = _lines("unix_http_server", {"file": files.supervisord_socket, "chmod": "0700"})
    supervisord = _lines(
        "supervisord",
        {
            "nodaemon": "true",
            # Its own plain-text log goes to a file only: stdout carries JSON lines.
            "silent": "true",
            "logfile": files.supervisord_log,
            "logfile_maxbytes": _SUPERVISORD_LOG_BYTES,
            "logfile_backups": 3,
            "loglevel": "info",
            "pidfile": files.supervisord_pidfile,
            "childlogdir": files.root,
            "identifier": "chronicle-fleet",
            # Three descriptors per child (pipes and log file), plus room for the sockets.
            "minfds": max(1024, 4 * len(config.enabled_venues) + 64),
        },
    )
    rpc = _lines(
        "rpcinterface:supervisor", {"supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"}
    )
    plugin = _lines(
        "rpcinterface:chronicle", {"supervisor.rpcinterface_factory": PLUGIN_FACTORY, "wake_socket": files.wake_socket}
    )
    return "\n".join([_comment(config), unix_http_server, supervisord, rpc, plugin])


def _comment(config: FleetConfig) -> str:
    # The source path is only a comment, but a newline in it would still end the comment.
    source = str(config.path) if ini_problem(str(config.path)) is None else "the fleet config"
    return f"; Rendered by chronicle-fleet from {source}; `chronicle-fleet run` rewrites it on start and reload.\n"


def _program_section(config: FleetConfig, venue: VenueConfig, python: str) -> str:
    logfile = venue_logfile(config, venue.name)
    to_stdout = logfile == STDOUT
    return _lines(
        f"program:{venue.name}",
        {
            "command": shlex.join(archiver_argv(config, venue, python)),
            "directory": config.supervisor.state_dir,
            # The engine decides every start: supervisord never starts, restarts or gives up on its own.
            "autostart": "false",
            "autorestart": "false",
            "startsecs": 0,  # every exit is EXITED, never supervisord's BACKOFF/FATAL
            "startretries": 0,  # a failed spawn goes straight to FATAL, which the engine retries
            "stopsignal": "TERM",
            # supervisord itself runs with umask 027 (venue log files: no world access); the
            # archive it writes keeps the usual 022 (files 0644), as when run by hand.
            "umask": "022",
            "stopwaitsecs": max(1, math.ceil(config.supervisor.stop_timeout_s)),
            "exitcodes": 0,
            "redirect_stderr": "true",
            "stdout_logfile": logfile,
            "stdout_logfile_maxbytes": 0 if to_stdout else config.supervisor.logs.max_bytes,
            "stdout_logfile_backups": 0 if to_stdout else config.supervisor.logs.backups,
        },
    )


def _read_back_mismatches(config: FleetConfig, text: str, python: str) -> Iterator[Finding]:
    """Read `text` with supervisord's own parser and compare what matters with what we meant."""
    from supervisor.options import ServerOptions  # ~3.5 MiB: loaded only by the check, not by `run` at rest

    options = ServerOptions()
    try:
        parsed = options.read_config(io.StringIO(text))
    except ValueError as error:
        yield Finding((), f"supervisord cannot read the rendered configuration: {error}")
        return
    read_back = {group.name: group.process_configs[0] for group in parsed.process_group_configs}
    if parsed.logfile != str(StateFiles(config.supervisor.state_dir).supervisord_log):
        yield Finding(("supervisor", "state_dir"), f"reads back as {parsed.logfile!r}")
    for index, venue in enumerate(config.venues):
        if not venue.enabled:
            continue
        program = read_back.get(venue.name)
        if program is None:
            yield Finding(("venues", index, "name"), "has no program in the rendered configuration")
            continue
        if shlex.split(program.command) != archiver_argv(config, venue, python):
            yield Finding(("venues", index), f"its command reads back as {program.command!r}")
        if program.stdout_logfile != str(venue_logfile(config, venue.name)):
            yield Finding(
                ("supervisor", "log_dir"), f"the log file of {venue.name} reads back as {program.stdout_logfile!r}"
            )
    extra = set(read_back) - {venue.name for venue in config.enabled_venues}
    if extra:
        yield Finding((), f"the rendered configuration declares unexpected programs: {sorted(extra)}")
