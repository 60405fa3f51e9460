"""`chronicle-fleet run`: supervise the fleet in the foreground; parsing, wiring and exit codes only."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supervisor_app.cli import exit_codes
from supervisor_app.cli.fleet_target import CONFIG_ENV, config_from_args
from supervisor_app.config.model import FleetConfig
from supervisor_app.config.problems import problems_as_text
from supervisor_app.durable import write_file_atomically
from supervisor_app.errors import ConfigError, ControlError, SupervisordError
from supervisor_app.file_lock import exclusive_lock
from supervisor_app.logs import JsonLogger, log_uncaught_exceptions
from supervisor_app.stdlib_logging import route_stdlib_logging
from supervisor_app.supervision import control
from supervisor_app.supervision.engine import Engine
from supervisor_app.supervision.install import install
from supervisor_app.supervision.plugins import Observer
from supervisor_app.supervision.plugins.archive_watch import ArchiveWatch
from supervisor_app.supervision.plugins.systemd_notify import SystemdNotifier
from supervisor_app.supervision.prepare_child import prepare_in_child
from supervisor_app.supervision.render import RenderedFleet
from supervisor_app.supervision.state_files import StateFiles, make_private_dir
from supervisor_app.supervision.supervisord.client import SupervisordClient
from supervisor_app.supervision.supervisord.process import SupervisordProcess, stop_orphans
from supervisor_app.supervision.venue_log import LastErrors
from supervisor_app.supervision.venue_records import VenueRecords
from supervisor_app.supervision.wakeup import Wakeup

if TYPE_CHECKING:
    from supervisor_app.supervision.plugins.metrics import MetricsExporter

SUPERVISORD_START_TIMEOUT_S = 20.0


def register(subparsers: Any) -> None:
    """Add `run` to the `chronicle-fleet` parser."""
    parser = subparsers.add_parser(
        "run",
        help="supervise one archiver per enabled venue (in the foreground, e.g. under systemd)",
        description="Validate the config, render supervisord's config into the state directory and run supervisord "
        "with one archiver per enabled venue. SIGTERM/SIGINT stop every archiver cleanly; SIGHUP reloads the config.",
    )
    parser.add_argument(
        "-c", "--config", type=Path, metavar="FILE", help=f"the fleet config (YAML; default: ${CONFIG_ENV})"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Supervise the fleet until SIGTERM/SIGINT; 0 after a clean stop."""
    path = config_from_args(args)
    if path is None:
        return exit_codes.USAGE
    log = JsonLogger(sys.stderr, component="supervisor", venue=None)
    log_uncaught_exceptions(log)  # a traceback in any thread must not break the JSON stream
    route_stdlib_logging(log)
    try:
        config, rendered = prepare_in_child(path)
        return _supervise(path, config, rendered, log)
    except ConfigError as error:
        return _config_invalid(error, log)
    except ControlError as error:
        log.error("run_refused", error=str(error))
        return exit_codes.FAILURE
    except SupervisordError as error:
        log.error("supervisord_failed", error=str(error))
        return exit_codes.TEMPFAIL
    except OSError as error:
        log.error("run_failed", error=str(error), exc_info=True)
        return exit_codes.TEMPFAIL


def _config_invalid(error: ConfigError, log: Any) -> int:
    """The same problem lines as validate-config on stdout, and one JSON event on stderr."""
    print(problems_as_text(error.problems))
    log.error("config_invalid", problems=[str(p) for p in error.problems], action="nothing was started or changed")
    return exit_codes.FAILURE


def _supervise(path: Path, config: FleetConfig, rendered: RenderedFleet, log: Any) -> int:
    files = StateFiles(config.supervisor.state_dir)
    make_private_dir(files.root)
    with _exclusive(files.lock), contextlib.ExitStack() as cleanup:  # callbacks run last-in, first-out
        install(config, rendered, path)
        _write_pid(files, cleanup)
        wakeup = Wakeup(files.wake_socket)  # bound before supervisord's plugin first pokes it
        cleanup.callback(wakeup.close)
        last_errors = LastErrors()  # journald mode: what each archiver last said at error level
        daemon = SupervisordProcess.start(files, log, on_venue_line=last_errors.note)
        client = SupervisordClient(files.supervisord_socket)
        cleanup.callback(_end_supervisord, daemon, client, config, log)
        watch = ArchiveWatch(config.archive_root, config.venues, log=log)
        notifier = SystemdNotifier()
        cleanup.callback(notifier.close)
        records = VenueRecords(files.venue_records, log=log)
        observers: list[Observer] = [notifier]
        exporter: MetricsExporter | None = None
        if config.supervisor.metrics.enabled:
            # Imported only by a fleet that exports: prometheus_client costs `run` ~2 MiB of RSS.
            from supervisor_app.supervision.plugins.metrics import FleetMetrics, MetricsExporter

            metrics = FleetMetrics(records)
            observers.append(metrics)
            exporter = MetricsExporter(config.supervisor.metrics, metrics, log=log)
        engine = Engine(
            config,
            rendered,
            client,
            config_path=path.absolute(),
            prepare=prepare_in_child,
            install=install,
            supervisord_alive=daemon.alive,
            waker=wakeup,
            log=log,
            records=records,
            watch=watch,
            supervisord_pid=daemon.pid,
            last_errors=last_errors,
            observers=observers,
        )
        cleanup.enter_context(_signals_to(engine))
        daemon.wait_ready(client, SUPERVISORD_START_TIMEOUT_S, files.supervisord_log)
        watch.start()
        cleanup.callback(watch.close)
        if exporter is not None:
            exporter.start()
            cleanup.callback(exporter.close)
        server = control.ControlServer(files.control_socket, control.engine_handler(engine, _answer_timeout(config)))
        server.start()
        cleanup.callback(server.close)
        try:
            engine.run()
        except SupervisordError:
            stop_orphans(engine.running_pids(), config.supervisor.stop_timeout_s, log)
            raise
    log.info("run_finished")
    return exit_codes.OK


def _write_pid(files: StateFiles, cleanup: contextlib.ExitStack) -> None:
    """`run`'s pid in the state directory, for `kill -HUP` and the unit; removed on exit."""
    write_file_atomically(files.run_pidfile, f"{os.getpid()}\n".encode(), mode=0o644)
    cleanup.callback(files.run_pidfile.unlink, missing_ok=True)


def _answer_timeout(config: FleetConfig) -> float:
    return config.supervisor.stop_timeout_s + 60.0


@contextlib.contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """One `run` per state directory: a second one would fight over the sockets and programs."""
    busy = f"another `chronicle-fleet run` is using the state directory {lock.parent}"
    with exclusive_lock(lock, held_elsewhere=lambda: ControlError(busy), mode=0o600):
        yield


@contextlib.contextmanager
def _signals_to(engine: Engine) -> Iterator[None]:
    """SIGTERM/SIGINT ask the engine for a clean shutdown, SIGHUP for a reload."""
    wanted = {
        signal.SIGTERM: engine.request_shutdown,
        signal.SIGINT: engine.request_shutdown,
        signal.SIGHUP: engine.request_reload,
    }
    previous = {signum: signal.signal(signum, lambda *_, act=act: act()) for signum, act in wanted.items()}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _end_supervisord(daemon: SupervisordProcess, client: SupervisordClient, config: FleetConfig, log: Any) -> None:
    """Make sure supervisord is gone (it stops any archiver still running first), killing it as a last resort."""
    if daemon.alive():
        with contextlib.suppress(SupervisordError):
            client.shutdown()
    code = daemon.wait(config.supervisor.stop_timeout_s + 10.0)
    if code is None:
        log.error("supervisord_killed", reason="it did not exit after shutdown")
        daemon.kill()
        code = daemon.wait(5.0)
    client.close()
    log.info("supervisord_exited", exit_code=code)
