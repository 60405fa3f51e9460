"""Reader position files: the reference's files, the double slot under torn writes, registering."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from pathlib import Path

import pytest

from supervisor_app.chronicle import (
    ReaderPosition,
    decode_position,
    encode_slot,
    heartbeat,
    load_position,
    position_path,
    read_segment_header,
    register_reader,
    store_position,
)
from supervisor_app.chronicle.reader_position import READERS_DIR, _private_tmp_name, update_position
from supervisor_app.errors import CorruptPositionError, UnsafePathError
from tests.chronicle.conftest import FixtureCase


def _first_unsealed(case: FixtureCase) -> int:
    return next(i for i in case.segment_ids if not read_segment_header(case.segment_path(i)).sealed)


@pytest.mark.parametrize("run", ["expected-copy", "expected-compress"])
def test_reference_position_files_decode(fixture_case: FixtureCase, run: str) -> None:
    path = fixture_case.root / run / "readers" / "raw-archiver.meta"
    position = load_position(path)
    # The reference archiver stops at the first unsealed segment, at its start.
    assert (position.segment_id, position.offset) == (_first_unsealed(fixture_case), 64)
    assert position.heartbeat_ns > 1_700_000_000 * 10**9


def test_decode_picks_the_valid_slot_with_the_higher_generation() -> None:
    older, newer = ReaderPosition(1, 64, 10, 3), ReaderPosition(2, 128, 20, 4)
    assert decode_position(encode_slot(newer) + encode_slot(older), source="t") == newer
    assert decode_position(encode_slot(older) + encode_slot(newer), source="t") == newer


def test_legacy_forms() -> None:
    segment_and_offset = (3).to_bytes(8, "little") + (640).to_bytes(8, "little")
    assert decode_position(segment_and_offset, source="t") == ReaderPosition(3, 640)
    assert decode_position((640).to_bytes(8, "little"), source="t") == ReaderPosition(0, 640)


@pytest.mark.parametrize("size", [0, 7, 40, 79, 81])
def test_other_sizes_are_corrupt(size: int) -> None:
    with pytest.raises(CorruptPositionError, match=f"somewhere.meta: {size} bytes"):
        decode_position(bytes(size), source="somewhere.meta")


def test_missing_file_is_the_default(tmp_path: Path) -> None:
    assert load_position(tmp_path / "nobody.meta") == ReaderPosition(0, 64, 0, 0)


def test_store_then_load_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "r.meta"
    first = store_position(path, ReaderPosition(2, 64, 111))
    second = store_position(path, ReaderPosition(3, 640, 222))
    assert (first.generation, second.generation) == (1, 2)
    assert load_position(path) == second == ReaderPosition(3, 640, 222, 2)
    data = path.read_bytes()
    assert len(data) == 80
    assert data[:40] == encode_slot(second) and data[40:] == encode_slot(first)  # slot = generation % 2


def test_store_never_goes_back_a_generation(tmp_path: Path) -> None:
    path = tmp_path / "r.meta"
    for segment_id in range(5):
        store_position(path, ReaderPosition(segment_id))
    stored = store_position(path, ReaderPosition(9, generation=0))
    assert stored.generation == 6
    assert load_position(path).segment_id == 9


def test_a_torn_slot_leaves_the_other_one(tmp_path: Path) -> None:
    path = tmp_path / "r.meta"
    store_position(path, ReaderPosition(1))  # generation 1, slot 1
    store_position(path, ReaderPosition(2))  # generation 2, slot 0
    torn = bytearray(path.read_bytes())
    torn[8:16] = b"\xee" * 8  # half-written slot 0
    path.write_bytes(bytes(torn))
    assert load_position(path) == ReaderPosition(1, 64, 0, 1)
    store_position(path, ReaderPosition(3))  # generation 2 again: rewrites the torn slot 0
    assert load_position(path) == ReaderPosition(3, 64, 0, 2)


def test_both_slots_corrupt_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "r.meta"
    path.write_bytes(b"\x01" * 80)
    with pytest.raises(CorruptPositionError, match=r"r\.meta: neither slot"):
        load_position(path)


def test_store_refuses_to_overwrite_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "r.meta"
    path.write_bytes(b"\x01" * 80)
    with pytest.raises(CorruptPositionError):
        store_position(path, ReaderPosition(3))
    assert path.read_bytes() == b"\x01" * 80


def test_store_upgrades_a_legacy_file(tmp_path: Path) -> None:
    path = tmp_path / "r.meta"
    path.write_bytes((640).to_bytes(8, "little"))
    stored = store_position(path, ReaderPosition(0, 1280))
    assert stored.generation == 1
    assert len(path.read_bytes()) == 80
    assert load_position(path) == stored


def test_heartbeat_keeps_the_position(tmp_path: Path) -> None:
    path = tmp_path / "r.meta"
    store_position(path, ReaderPosition(4, 640, 5))
    beat = heartbeat(path, 99)
    assert beat == load_position(path) == ReaderPosition(4, 640, 99, 2)


def test_a_position_file_that_is_a_symlink_is_refused_and_its_target_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.meta"
    store_position(target, ReaderPosition(7, 64, 1))
    before = target.read_bytes()
    path = tmp_path / "q" / "readers" / "r.meta"
    path.parent.mkdir(parents=True)
    path.symlink_to(target)
    for attempt in (
        lambda: load_position(path),
        lambda: heartbeat(path, 2),
        lambda: store_position(path, ReaderPosition(9)),
        lambda: update_position(path, lambda p: p),
    ):
        with pytest.raises(UnsafePathError, match=r"r\.meta: is a symbolic link"):
            attempt()
    assert target.read_bytes() == before


def test_a_position_file_that_is_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "r.meta"
    os.mkfifo(path)
    with pytest.raises(UnsafePathError, match="is not a regular file"):
        load_position(path)
    with pytest.raises(UnsafePathError, match="is not a regular file"):
        heartbeat(path, 1)


def test_heartbeat_needs_a_registered_reader(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        heartbeat(tmp_path / "r.meta", 1)
    assert not (tmp_path / "r.meta").exists()


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\\b", "a\0b"])
def test_reader_names_must_be_one_path_component(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="not one safe path component"):
        position_path(tmp_path, name)


def test_register_creates_readers_with_the_position_in_it(tmp_path: Path) -> None:
    path = register_reader(tmp_path, "archiver", ReaderPosition(3, 64))
    assert path == tmp_path / "readers" / "archiver.meta"
    assert os.listdir(tmp_path / "readers") == ["archiver.meta"]
    assert (load_position(path).segment_id, load_position(path).offset) == (3, 64)
    assert os.listdir(tmp_path) == ["readers"]  # no staging directory left behind


def test_register_adds_to_an_existing_readers_dir(tmp_path: Path) -> None:
    register_reader(tmp_path, "first", ReaderPosition(1))
    register_reader(tmp_path, "second", ReaderPosition(2))
    assert sorted(os.listdir(tmp_path / "readers")) == ["first.meta", "second.meta"]
    assert load_position(tmp_path / "readers" / "second.meta").segment_id == 2


def test_register_fills_an_empty_readers_dir(tmp_path: Path) -> None:
    (tmp_path / "readers").mkdir()  # as the reference archiver leaves it
    path = register_reader(tmp_path, "archiver", ReaderPosition(5))
    assert load_position(path).segment_id == 5


def test_register_leaves_an_existing_position_alone(tmp_path: Path) -> None:
    path = register_reader(tmp_path, "archiver", ReaderPosition(1))
    store_position(path, ReaderPosition(7))
    before = path.read_bytes()
    assert register_reader(tmp_path, "archiver", ReaderPosition(0)) == path
    assert path.read_bytes() == before


def _poll_readers(queue_dirs: list[Path], stop: threading.Event, seen: list[str]) -> None:
    """Record every sighting of readers/, and any without a valid position file in it."""
    while not stop.is_set():
        for queue_dir in queue_dirs:
            try:
                names = os.listdir(queue_dir / "readers")
            except FileNotFoundError:
                continue
            try:
                ok = names == ["r.meta"] and load_position(queue_dir / "readers" / "r.meta").offset == 64
            except (FileNotFoundError, CorruptPositionError):
                ok = False
            seen.append("ok" if ok else f"{queue_dir.name}: {names}")


def test_readers_dir_never_appears_without_a_position(tmp_path: Path) -> None:
    queue_dirs = [tmp_path / f"q{i}" for i in range(150)]
    for queue_dir in queue_dirs:
        queue_dir.mkdir()
    stop, seen = threading.Event(), []
    poller = threading.Thread(target=_poll_readers, args=(queue_dirs, stop, seen))
    poller.start()
    try:
        for queue_dir in queue_dirs:
            register_reader(queue_dir, "r", ReaderPosition())
    finally:
        stop.set()
        poller.join()
    assert seen, "the poller never saw a readers/ directory"
    assert [sighting for sighting in seen if sighting != "ok"] == []


def test_concurrent_registrations_both_land(tmp_path: Path) -> None:
    for attempt in range(30):
        queue_dir = tmp_path / f"q{attempt}"
        queue_dir.mkdir()
        barrier = threading.Barrier(2)

        def register(name: str, queue_dir: Path = queue_dir, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            register_reader(queue_dir, name, ReaderPosition())

        threads = [threading.Thread(target=register, args=(name,)) for name in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(os.listdir(queue_dir / "readers")) == ["a.meta", "b.meta"]
        assert sorted(os.listdir(queue_dir)) == ["readers"]


COMMITS = 1000


def _commit_all(path: Path) -> None:
    for segment_id in range(1, COMMITS + 1):
        update_position(
            path, lambda current, s=segment_id: ReaderPosition(s, 64, current.heartbeat_ns, current.generation)
        )


def _beat_all(path: Path) -> None:
    for now in range(2, 2 + 3 * COMMITS):
        heartbeat(path, now)


def test_heartbeats_from_another_process_never_roll_back_a_commit(tmp_path: Path) -> None:
    # Two processes, as the archiver and the supervisor's lease are: the flock serializes them.
    path = register_reader(tmp_path, "archiver", ReaderPosition(0, 64, 1, 0))
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_commit_all, args=(path,)), context.Process(target=_beat_all, args=(path,))]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    assert load_position(path).segment_id == COMMITS


def test_a_symbolic_link_in_place_of_the_staging_readers_dir_is_not_followed_to_delete_files(tmp_path: Path) -> None:
    """Whoever can write the queue dir plants the staging name as a link to a directory of someone else's files."""
    queue, victim = tmp_path / "queue", tmp_path / "victim"
    queue.mkdir()
    victim.mkdir()
    (victim / "keep.txt").write_text("not the archiver's to delete")
    (queue / _private_tmp_name(READERS_DIR)).symlink_to(victim)  # this thread's name, as register_reader's
    with contextlib.suppress(OSError):
        register_reader(queue, "r", ReaderPosition(0, 0))
    assert (victim / "keep.txt").read_text() == "not the archiver's to delete"
