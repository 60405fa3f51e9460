"""Type stub of the optional C record scanner (_recordscan.c)."""

from typing import Literal, TypeAlias

from typing_extensions import Buffer

# records.ScanState as a plain tuple: next, done, good, pads, min_ts, max_ts, bad, first_bad,
# truncated, data_after_end, check, check_end, crc, rec_offset, rec_crc, rec_ts.
_State: TypeAlias = tuple[int, bool, int, int, int, int, int, int, bool, bool, int, int, int, int, int, int]

def scan_window(window: Buffer, base: int, file_size: int, state: _State, verify_crc: bool, /) -> _State: ...
def crc32(data: Buffer, value: int = 0, /) -> int: ...
def crc32_method() -> Literal["pclmul", "zlib"]: ...
