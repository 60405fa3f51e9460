"""The supervisord internals our plugin relies on: if an upgrade changes one, this fails loudly, by name."""

from __future__ import annotations

import inspect
from importlib.metadata import version

from packaging.specifiers import SpecifierSet
from supervisor import events, loggers, process, states
from supervisor.medusa import asyncore_25

from supervisor_app.supervision.supervisord import plugin

PINNED = SpecifierSet(">=4.2.5,<4.4")  # pyproject.toml's range


def test_the_installed_supervisor_is_in_the_tested_range() -> None:
    assert version("supervisor") in PINNED, f"supervisor {version('supervisor')} is outside {PINNED}"


def test_process_state_events_carry_what_the_feed_records() -> None:
    assert issubclass(events.ProcessStateEvent, events.Event)
    assert {"process", "from_state"} <= set(inspect.signature(events.ProcessStateEvent.__init__).parameters)
    assert callable(events.subscribe)
    for name in ("laststart", "laststop", "exitstatus", "spawnerr", "pid"):
        assert hasattr(process.Subprocess, name), f"supervisor.process.Subprocess.{name} is gone"
    assert callable(process.Subprocess.get_state)
    assert states.getProcessStateDescription(states.ProcessStates.EXITED) == "EXITED"
    assert states.getProcessStateDescription(states.ProcessStates.STOPPED) == "STOPPED"


def test_the_signal_name_is_still_in_supervisord_s_exit_line() -> None:
    # supervisord keeps only -1 as the exit status of a killed child; the name is in this line alone.
    _, message = process.decode_wait_status(9)  # a wait status: killed by signal 9
    assert message == "terminated by SIGKILL"
    source = inspect.getsource(process.Subprocess.finish)
    assert '"stopped: %s (%s)"' in source and '"exited: %s (%s)"' in source
    line = plugin._KILLED_LINE.match(f"exited: alpha ({message}; not expected)")
    assert line is not None and (line["name"], line["signal"]) == ("alpha", "SIGKILL")


def test_the_log_handler_and_poll_loop_hooks_exist() -> None:
    assert issubclass(plugin._SignalNames, loggers.Handler)
    assert loggers.LevelsByName.INFO is not None
    assert issubclass(plugin._SignalWake, asyncore_25.file_dispatcher)
    assert isinstance(asyncore_25.socket_map, dict)  # supervisord polls every dispatcher registered here


def test_our_copy_of_the_fault_codes_matches_supervisord_s() -> None:
    from supervisor.xmlrpc import Faults as Theirs

    from supervisor_app.supervision.supervisord.client import Faults as Ours

    ours = {name: value for name, value in vars(Ours).items() if name.isupper()}
    assert ours == {name: getattr(Theirs, name) for name in ours}
