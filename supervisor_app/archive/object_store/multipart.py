"""A multipart upload fed like a file: bytes in, parts out, a few in flight at once across the whole archiver."""

from __future__ import annotations

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
    """The parts every upload of one archiver may have in flight at once, and the threads that send them."""

    def __init__(self, parts: int = DEFAULT_PARTS_IN_FLIGHT) -> None:
        self.parts = parts
        self._slots = threading.BoundedSemaphore(parts)
        self._pool = ThreadPoolExecutor(max_workers=parts, thread_name_prefix="s3-part")

    def acquire(self, timeout_s: float) -> bool:
        return self._slots.acquire(timeout=timeout_s)

    def release(self) -> None:
        self._slots.release()

    def submit(self, send: Callable[[], UploadedPart]) -> Future[UploadedPart]:
        return self._pool.submit(send)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class MultipartWriter:
    """Cuts what it is given into `part_size` parts and uploads them; `finish` returns the parts for completing."""

    def __init__(self, client: S3Client, key: str, upload_id: str, *, part_size: int, budget: PartBudget) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part size {part_size} is under S3's minimum of {MIN_PART_SIZE} bytes")
        self.key = key
        self.upload_id = upload_id
        self._client = client
        self._part_size = part_size
        self._budget = budget
        self._buffer = bytearray(part_size)
        self._filled = 0
        self._futures: list[Future[UploadedPart]] = []
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data).cast("B")
        while view:
            room = self._part_size - self._filled
            take = view[:room]
            self._buffer[self._filled : self._filled + len(take)] = take
            self._filled += len(take)
            self.size += len(take)
            view = view[len(take) :]
            if self._filled == self._part_size:
                self._send()

    def finish(self) -> list[UploadedPart]:
        """Send the last part and wait for every part; the first failure is raised here."""
        if self._filled or not self._futures:
            self._send()  # an empty object is one empty part
        parts = [future.result() for future in self._futures]
        return sorted(parts, key=lambda p: p.number)

    def abort(self) -> None:
        """Abandon the upload: stop sending, wait for parts under way, and ask the store to drop the parts."""
        for future in self._futures:
            future.cancel()
        for future in self._futures:
            with suppress(BaseException):
                future.result()
        self._client.abort_upload(self.key, self.upload_id)

    def _send(self) -> None:
        body = self._buffer if self._filled == self._part_size else self._buffer[: self._filled]
        number = len(self._futures) + 1
        self._buffer = bytearray(self._part_size)
        self._filled = 0
        # Wait for a free slot; a part that failed meanwhile is raised instead of waiting on.
        while not self._budget.acquire(timeout_s=0.2):
            self._raise_failed()
        try:
            future = self._budget.submit(lambda: self._upload(number, body))
        except BaseException:
            self._budget.release()
            raise
        self._futures.append(future)

    def _upload(self, number: int, body: bytearray) -> UploadedPart:
        try:
            return self._client.upload_part(self.key, self.upload_id, number, body, crc32(body))
        finally:
            self._budget.release()

    def _raise_failed(self) -> None:
        for future in self._futures:
            if future.done() and not future.cancelled() and future.exception() is not None:
                future.result()
