"""A multipart upload fed like a file: bytes in, parts out, a few in flight at once across the whole archiver.

Part buffers are anonymous memory maps, reused within an upload and unmapped when it
ends: the RSS they add goes away with them. (Freed 8 MiB heap blocks would raise
malloc's mmap threshold and stay in the heap, so an idle archiver would keep the RSS of
its last busy minute.)
"""

from __future__ import annotations

import mmap
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress

from supervisor_app.archive.object_store.client import S3Client, UploadedPart
from supervisor_app.archive.object_store.settings import MIN_PART_SIZE, TransferSettings
from supervisor_app.chronicle.records import crc32

DEFAULT_PART_SIZE = TransferSettings.part_size
DEFAULT_PARTS_IN_FLIGHT = TransferSettings.parts_in_flight


class PartBudget:
    """The part buffers every upload of one archiver may hold at once (filling or in flight), and the sending threads.

    With `parts` in flight, one more buffer is being filled: a single upload keeps `parts`
    in flight, two at once (a `.q` kept beside its `.q.zst`) share them; the memory never
    exceeds `parts + 1` buffers.
    """

    def __init__(self, parts: int = DEFAULT_PARTS_IN_FLIGHT, *, progress: Callable[[], None] = lambda: None) -> None:
        """`progress` is called (from a sending thread) each time the store acknowledges a part."""
        self.parts = parts
        self.progress = progress
        self._slots = threading.BoundedSemaphore(parts + 1)
        self._pool: ThreadPoolExecutor | None = None  # started by the first part, ended by close()

    def acquire(self, timeout_s: float) -> bool:
        return self._slots.acquire(timeout=timeout_s)

    def release(self) -> None:
        self._slots.release()

    def submit(self, send: Callable[[], UploadedPart]) -> Future[UploadedPart]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.parts, thread_name_prefix="s3-part")
        return self._pool.submit(send)

    def close(self) -> None:
        """End the sending threads (after a pass: an idle archiver keeps none); the next part starts them again."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class MultipartWriter:
    """Cuts what it is given into `part_size` parts and uploads them; `finish` returns the parts for completing.

    Every buffer it holds, filling or in flight, is a slot of the budget.
    """

    def __init__(self, client: S3Client, key: str, upload_id: str, *, part_size: int, budget: PartBudget) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part size {part_size} is under S3's minimum of {MIN_PART_SIZE} bytes")
        self.key = key
        self.upload_id = upload_id
        self.size = 0
        self._client = client
        self._part_size = part_size
        self._budget = budget
        self._lock = threading.Lock()
        self._free: list[mmap.mmap] = []  # buffers whose part has been sent
        self._buffers: list[mmap.mmap] = []  # every buffer, unmapped at the end
        self._futures: list[Future[UploadedPart]] = []
        self._buffer: mmap.mmap | None = None  # being filled; it holds a slot
        self._filled = 0

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Take the next bytes of the object; they are copied into a part buffer at once (a sinks.WindowSink)."""
        view = memoryview(data).cast("B")
        while view:
            buffer = self._buffer if self._buffer is not None else self._take()
            take = view[: self._part_size - self._filled]
            buffer[self._filled : self._filled + len(take)] = take
            self._filled += len(take)
            self.size += len(take)
            view = view[len(take) :]
            if self._filled == self._part_size:
                self._send()

    def release(self, end: int) -> None:
        """Nothing to do: what `feed` took was copied."""

    def finish(self) -> list[UploadedPart]:
        """Send the last part and wait for every part; the first failure is raised here. The buffers are unmapped."""
        try:
            if self._buffer is not None or not self._futures:
                if self._buffer is None:
                    self._take()  # an empty object is one empty part
                self._send()
            parts = [future.result() for future in self._futures]
        finally:
            self._settle()
        return sorted(parts, key=lambda p: p.number)

    def abort(self) -> None:
        """Abandon the upload: stop sending, wait for parts under way, and ask the store to drop the parts."""
        for future in self._futures:
            future.cancel()
        self._settle()
        self._client.abort_upload(self.key, self.upload_id)

    def _take(self) -> mmap.mmap:
        """A buffer to fill, once the budget has a slot; a part that failed meanwhile is raised instead of waiting on."""
        while not self._budget.acquire(timeout_s=0.2):
            self._raise_failed()
        with self._lock:
            if self._free:
                self._buffer = self._free.pop()
            else:
                self._buffer = mmap.mmap(-1, self._part_size)
                self._buffers.append(self._buffer)
        self._filled = 0
        return self._buffer

    def _send(self) -> None:
        """Upload the buffer being filled; its slot goes with it and comes back when the part is acknowledged."""
        body, size, number = self._buffer, self._filled, len(self._futures) + 1
        assert body is not None
        self._buffer = None
        try:
            future = self._budget.submit(lambda: self._upload(number, body, size))
        except BaseException:
            self._budget.release()
            raise
        self._futures.append(future)

    def _upload(self, number: int, body: mmap.mmap, size: int) -> UploadedPart:
        try:
            with memoryview(body) as whole, whole[:size] as part:
                uploaded = self._client.upload_part(self.key, self.upload_id, number, part, crc32(part))
            self._budget.progress()
            return uploaded
        finally:
            with self._lock:
                self._free.append(body)
            self._budget.release()

    def _settle(self) -> None:
        """Wait for the parts under way, give back the slot of a buffer being filled, and unmap every buffer."""
        for future in self._futures:
            with suppress(BaseException):
                future.result()
        if self._buffer is not None:
            self._buffer = None
            self._budget.release()
        with self._lock:
            for buffer in self._buffers:
                with suppress(BufferError):  # still exported: unmapped when the last view goes
                    buffer.close()
            self._buffers.clear()
            self._free.clear()

    def _raise_failed(self) -> None:
        for future in self._futures:
            if future.done() and not future.cancelled() and future.exception() is not None:
                future.result()
