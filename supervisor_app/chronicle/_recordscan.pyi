"""Type stub of the optional C record scanner (_recordscan.c)."""

from typing_extensions import Buffer

def scan_window(
    window: Buffer, base: int, file_size: int, state: tuple[int, bool, int, int, int, int], /
) -> tuple[int, bool, int, int, int, int]: ...
