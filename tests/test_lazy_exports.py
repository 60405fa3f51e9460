"""What loads on first use: the packages' public names, and an archiver's work path; nothing loads early."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from supervisor_app.chronicle.writer import QueueWriter

LAZY_PACKAGES = ("supervisor_app.archive", "supervisor_app.chronicle", "supervisor_app.config")


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_public_name_resolves_to_its_module(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(module._SOURCES)
    for name in module.__all__:
        value = getattr(module, name)
        assert value is getattr(importlib.import_module(f"{package}.{module._SOURCES[name]}"), name)


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_an_unknown_name_is_an_attribute_error(package: str) -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = importlib.import_module(package).nope


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_importing_the_package_loads_none_of_its_modules(package: str) -> None:
    probe = f"import sys, {package}; print(sorted(m for m in sys.modules if m.startswith('{package}.')))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_an_idle_archiver_loads_none_of_the_work_path(tmp_path: Path) -> None:
    """An archiver with nothing to archive (most of them, most of the time) imports only what idling needs."""
    QueueWriter(tmp_path / "q", segment_size=64 * 1024).close()
    probe = textwrap.dedent(
        f"""
        import sys, threading
        from pathlib import Path
        from supervisor_app.archive.archiver import ArchiverConfig, RawArchiver
        from supervisor_app.logs import JsonLogger

        config = ArchiverConfig(source=Path({str(tmp_path / "q")!r}), archive_root=Path({str(tmp_path / "a")!r}),
                                venue="v", compress=True)
        result = RawArchiver(config, log=JsonLogger(sys.stderr), stop=threading.Event()).run_once()
        assert result.archived == 0 and result.source_present
        print(" ".join(sorted(sys.modules)))
        """
    )
    subprocess.run([sys.executable, "-c", probe], capture_output=True, check=True)  # registers the reader, once
    loaded = set(
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    )
    work_path = {
        "concurrent.futures",  # and logging with it
        "zstandard",
        "datetime",
        "shutil",
        "traceback",
        "supervisor_app.archive.meta",
        "supervisor_app.archive.publish",
        "supervisor_app.archive.recording",
    }
    assert loaded & work_path == set()
    assert "supervisor_app.archive.archiver" in loaded  # the probe did run


@pytest.mark.parametrize("compress", [False, True], ids=["copy", "compress"])
def test_an_archiver_that_archived_keeps_none_of_the_heavy_modules(tmp_path: Path, compress: bool) -> None:
    """What the work path loads stays loaded for the archiver's life: none of the stdlib's heavy modules."""
    with QueueWriter(tmp_path / "q", segment_size=64 * 1024, retention=False) as writer:
        while writer.current_segment_id < 3:
            writer.append(b"x" * 1000, timestamp_ns=1_769_212_800_000_000_000)
    probe = textwrap.dedent(
        f"""
        import sys, threading
        from pathlib import Path
        from supervisor_app.archive.archiver import ArchiverConfig, RawArchiver
        from supervisor_app.logs import JsonLogger

        config = ArchiverConfig(source=Path({str(tmp_path / "q")!r}), archive_root=Path({str(tmp_path / "a")!r}),
                                venue="v", compress={compress})
        result = RawArchiver(config, log=JsonLogger(sys.stderr), stop=threading.Event()).run_once()
        assert result.archived == 3, result
        print(" ".join(sorted(sys.modules)))
        """
    )
    loaded = set(
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    )
    heavy = {"concurrent.futures", "logging", "traceback", "datetime", "shutil", "bz2", "lzma", "ssl"}
    assert loaded & heavy == set()
    assert "supervisor_app.archive.publish" in loaded  # it did archive
    assert ("zstandard" in loaded) == compress


def test_run_loads_neither_openssl_nor_another_command_s_modules() -> None:
    """`run` talks to supervisord over a unix socket: OpenSSL (ssl, or hashlib's libcrypto) would cost it ~4 MiB."""
    probe = textwrap.dedent(
        """
        import sys
        from supervisor_app.cli import fleet, run_command
        from supervisor_app.supervision import engine
        from supervisor_app.supervision.plugins import archive_watch, reader_leases, stall_watchdog, systemd_notify
        from supervisor_app.supervision.supervisord import client, process

        fleet.build_parser()
        print(" ".join(sorted(sys.modules)))
        """
    )
    loaded = set(
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    )
    assert loaded & {"ssl", "_ssl", "_hashlib", "hashlib", "http.client", "xmlrpc.client"} == set()
    verify_chain = {
        "supervisor_app.archive.verify",
        "supervisor_app.archive.seekable_zstd",
        "concurrent.futures.thread",
    }
    assert loaded & verify_chain == set()
    assert "supervisor_app.cli.run_command" in loaded  # the probe did run
