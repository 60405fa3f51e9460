"""The chronicle queue format: segments, records, reader positions, a writer, retention.

Knows nothing of archives, YAML or processes.

The public names are loaded on first use (PEP 562): an idle archiver does not load the writer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisor_app.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from supervisor_app.chronicle.reader_position import (
        ReaderPosition,
        decode_position,
        encode_slot,
        heartbeat,
        load_position,
        position_path,
        register_reader,
        store_position,
    )
    from supervisor_app.chronicle.records import (
        CRC32_METHOD,
        PAD_TYPE_ID,
        RECORD_HEADER_LEN,
        SCANNER_IMPLEMENTATION,
        Record,
        RecordScanner,
        RecordSummary,
        crc32,
        encode_record,
        iter_records,
        record_len,
        summarize_records,
        summarize_records_python,
    )
    from supervisor_app.chronicle.retention import (
        MAX_READER_LAG_BYTES,
        READER_TIMEOUT_NS,
        apply_retention,
        is_live,
        reader_lag_bytes,
        segments_to_delete,
    )
    from supervisor_app.chronicle.segment import (
        DEFAULT_SEGMENT_SIZE,
        SEG_DATA_OFFSET,
        SEG_FLAG_SEALED,
        SEG_HEADER_LEN,
        SEG_MAGIC,
        SEG_VERSION,
        SegmentHeader,
        decode_segment_header,
        encode_segment_header,
        list_segment_ids,
        mark_sealed,
        parse_segment_name,
        queue_segment_size,
        read_segment_header,
        segment_name,
    )
    from supervisor_app.chronicle.writer import (
        QueueWriter,
        repair_segment,
    )

_SOURCES = {
    "CRC32_METHOD": "records",
    "DEFAULT_SEGMENT_SIZE": "segment",
    "MAX_READER_LAG_BYTES": "retention",
    "PAD_TYPE_ID": "records",
    "QueueWriter": "writer",
    "READER_TIMEOUT_NS": "retention",
    "RECORD_HEADER_LEN": "records",
    "ReaderPosition": "reader_position",
    "Record": "records",
    "RecordScanner": "records",
    "RecordSummary": "records",
    "SCANNER_IMPLEMENTATION": "records",
    "SEG_DATA_OFFSET": "segment",
    "SEG_FLAG_SEALED": "segment",
    "SEG_HEADER_LEN": "segment",
    "SEG_MAGIC": "segment",
    "SEG_VERSION": "segment",
    "SegmentHeader": "segment",
    "apply_retention": "retention",
    "crc32": "records",
    "decode_position": "reader_position",
    "decode_segment_header": "segment",
    "encode_record": "records",
    "encode_segment_header": "segment",
    "encode_slot": "reader_position",
    "heartbeat": "reader_position",
    "is_live": "retention",
    "iter_records": "records",
    "list_segment_ids": "segment",
    "load_position": "reader_position",
    "mark_sealed": "segment",
    "parse_segment_name": "segment",
    "position_path": "reader_position",
    "queue_segment_size": "segment",
    "read_segment_header": "segment",
    "reader_lag_bytes": "retention",
    "record_len": "records",
    "register_reader": "reader_position",
    "repair_segment": "writer",
    "segment_name": "segment",
    "segments_to_delete": "retention",
    "store_position": "reader_position",
    "summarize_records": "records",
    "summarize_records_python": "records",
}

__all__ = [
    "CRC32_METHOD",
    "DEFAULT_SEGMENT_SIZE",
    "MAX_READER_LAG_BYTES",
    "PAD_TYPE_ID",
    "READER_TIMEOUT_NS",
    "RECORD_HEADER_LEN",
    "SCANNER_IMPLEMENTATION",
    "SEG_DATA_OFFSET",
    "SEG_FLAG_SEALED",
    "SEG_HEADER_LEN",
    "SEG_MAGIC",
    "SEG_VERSION",
    "QueueWriter",
    "ReaderPosition",
    "Record",
    "RecordScanner",
    "RecordSummary",
    "SegmentHeader",
    "apply_retention",
    "crc32",
    "decode_position",
    "decode_segment_header",
    "encode_record",
    "encode_segment_header",
    "encode_slot",
    "heartbeat",
    "is_live",
    "iter_records",
    "list_segment_ids",
    "load_position",
    "mark_sealed",
    "parse_segment_name",
    "position_path",
    "queue_segment_size",
    "read_segment_header",
    "reader_lag_bytes",
    "record_len",
    "register_reader",
    "repair_segment",
    "segment_name",
    "segments_to_delete",
    "store_position",
    "summarize_records",
    "summarize_records_python",
]

__getattr__ = lazy_exports(__name__, _SOURCES)
