/* Fast record walk and check of a chronicle segment: the C twin of
 * records.scan_window_python, which must return the same state for every input.
 *
 * A pure-Python walk costs about a microsecond per record; this one walks the
 * window with the GIL released so the archiver's compression threads keep
 * running. Every record's payload CRC-32 is checked, by carry-less multiply
 * folding where the CPU has it (3-4x zlib's crc32 on ~300-byte payloads, which
 * would double the scan's cost) and zlib's crc32 otherwise. PAD records
 * (type 0xFFFF, timestamp 0) are left out of the count and the time range; the
 * chronicle-rs reference wrongly counts them.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_CLMUL_CANDIDATE 1
#include <immintrin.h>
#endif

#define DATA_OFFSET 64u
#define RECORD_HEADER_LEN 64u
#define PAD_TYPE_ID 0xFFFFu

/* The range being checked when a window ends may run on into the next ones. */
enum check_kind {
    CHECK_NONE = 0,
    CHECK_CRC = 1,  /* a record's payload against the CRC-32 in its header */
    CHECK_PAD = 2,  /* a PAD record's payload: zeros */
    CHECK_TAIL = 3, /* after a zero commit word: zeros up to the end of the file */
    CHECK_CUT = 4,  /* under 64 bytes after the last record: zeros, else a header cut short */
};

/* records.ScanState, field for field. */
typedef struct {
    uint64_t next; /* offset of the next record header to read */
    int done;      /* the walk has found the end of the records */
    uint64_t good; /* records counted in the summary */
    uint64_t pads;
    uint64_t min_ts; /* min_ts and max_ts mean nothing while good is 0 */
    uint64_t max_ts;
    uint64_t bad;
    long long first_bad; /* -1: nothing found yet */
    int truncated;
    int after_end;
    int check;
    uint64_t check_end;
    uint32_t crc;
    uint64_t rec_offset;
    uint32_t rec_crc;
    uint64_t rec_ts;
} scan_state;

/* Byte-wise little-endian loads: correct on any host and alignment; compilers
 * turn them into single loads on x86 and arm64. */
static inline uint16_t load_u16(const unsigned char *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t load_u32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline uint64_t load_u64(const unsigned char *p) {
    return (uint64_t)load_u32(p) | ((uint64_t)load_u32(p + 4) << 32);
}

/* ------------------------------------------------------------------ CRC-32 */

#ifdef HAVE_CLMUL_CANDIDATE
static int use_clmul; /* set once at import: the CPU has PCLMULQDQ and SSE4.1 */

/* pshufb masks: 16 bytes from SHIFT_TABLE + 16 + r move a register's bytes down
 * by r (zeros in), from SHIFT_TABLE + r up by 16 - r. */
static const unsigned char SHIFT_TABLE[48] = {
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80,
};

/* CRC-32 (zlib's, bit-reflected) of len >= 16 bytes by folding 4 x 128 bits at a
 * time with carry-less multiplies, then one block at a time, then the partial
 * last block, then a Barrett reduction (Gopal et al., "Fast CRC Computation for
 * Generic Polynomials Using PCLMULQDQ Instruction", Intel, 2009). reg is the CRC
 * register, that is the zlib value inverted, in and out. */
__attribute__((target("pclmul,sse4.1"))) static uint32_t
clmul_crc(const unsigned char *p, size_t len, uint32_t reg) {
    /* x^T mod P, bit-reflected, for the fold distances T the paper names. */
    const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596LL, 0x0154442bd4LL); /* 4 blocks on */
    const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009eLL, 0x01751997d0LL); /* 1 block on */
    const __m128i k5 = _mm_set_epi64x(0, 0x0163cd6124LL);               /* 64 -> 32 bits */
    const __m128i barrett = _mm_set_epi64x(0x01f7011641LL, 0x01db710641LL); /* mu, P */
    const __m128i low32 = _mm_setr_epi32(~0, 0, ~0, 0);
    const unsigned char *end = p + len;
    __m128i a, t;
#define LOAD(q) _mm_loadu_si128((const __m128i *)(q))
#define FOLD_INTO(x, k, next)                                                   \
    t = _mm_clmulepi64_si128((x), (k), 0x00);                                   \
    (x) = _mm_clmulepi64_si128((x), (k), 0x11);                                 \
    (x) = _mm_xor_si128(_mm_xor_si128((x), t), (next))
    a = _mm_xor_si128(LOAD(p), _mm_cvtsi32_si128((int)reg));
    p += 16;
    if (end - p >= 48) {
        __m128i b = LOAD(p), c = LOAD(p + 16), d = LOAD(p + 32);
        for (p += 48; end - p >= 64; p += 64) {
            FOLD_INTO(a, k1k2, LOAD(p));
            FOLD_INTO(b, k1k2, LOAD(p + 16));
            FOLD_INTO(c, k1k2, LOAD(p + 32));
            FOLD_INTO(d, k1k2, LOAD(p + 48));
        }
        FOLD_INTO(a, k3k4, b);
        FOLD_INTO(a, k3k4, c);
        FOLD_INTO(a, k3k4, d);
    }
    for (; end - p >= 16; p += 16) {
        FOLD_INTO(a, k3k4, LOAD(p));
    }
    if (end > p) {
        /* r < 16 bytes left: the stream a || tail regroups as its first r bytes,
         * folded on by one block, and a 16-byte block of a's other bytes and the
         * tail, which is the last 16 bytes of the data. */
        int r = (int)(end - p);
        __m128i up = LOAD(SHIFT_TABLE + r);
        __m128i head = _mm_shuffle_epi8(a, up);
        __m128i rest = _mm_shuffle_epi8(a, LOAD(SHIFT_TABLE + 16 + r));
        __m128i from_a = _mm_cmplt_epi8(up, _mm_setzero_si128());
        a = _mm_or_si128(rest, _mm_andnot_si128(from_a, LOAD(end - 16)));
        FOLD_INTO(head, k3k4, a);
        a = head;
    }
#undef FOLD_INTO
#undef LOAD
    /* 128 -> 64 bits, 64 -> 32 bits, then Barrett to the 32-bit remainder. */
    t = _mm_clmulepi64_si128(a, k3k4, 0x10);
    a = _mm_xor_si128(_mm_srli_si128(a, 8), t);
    t = _mm_srli_si128(a, 4);
    a = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(a, low32), k5, 0x00), t);
    t = _mm_clmulepi64_si128(_mm_and_si128(a, low32), barrett, 0x10);
    t = _mm_clmulepi64_si128(_mm_and_si128(t, low32), barrett, 0x00);
    a = _mm_xor_si128(a, t);
    return (uint32_t)_mm_extract_epi32(a, 1);
}
#endif

/* crc32(crc, p, len) as zlib computes it (zlib.crc32 in Python). */
static uint32_t crc_update(uint32_t crc, const unsigned char *p, size_t len) {
#ifdef HAVE_CLMUL_CANDIDATE
    if (use_clmul && len >= 16) return ~clmul_crc(p, len, ~crc);
#endif
    return len ? (uint32_t)crc32_z(crc, p, len) : crc;
}

/* Offset of the first non-zero byte in [p, p + len), or len. */
static size_t first_nonzero(const unsigned char *p, size_t len) {
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t word;
        memcpy(&word, p + i, 8);
        if (word) break;
    }
    for (; i < len && p[i] == 0; i++) {
    }
    return i;
}

/* ------------------------------------------------------------------ the walk */

/* Each record's position depends on the previous record's commit word: a chain of
 * dependent loads the CPU cannot run ahead of, one memory miss per record on a
 * cold 128 MiB segment. Touching the lines ahead turns it into a stream. (With
 * CRC checks on, reading every payload streams the window anyway.) */
#define PREFETCH_AHEAD 4096u
#define CACHE_LINE 64u

static inline void prefetch_until(const unsigned char *data, uint64_t len,
                                  uint64_t *next_line, uint64_t target) {
    if (target > len) target = len;
    for (; *next_line < target; *next_line += CACHE_LINE) {
#if defined(__GNUC__) || defined(__clang__)
        __builtin_prefetch(data + *next_line);
#endif
    }
}

static inline void note_bad(scan_state *st, uint64_t offset) {
    /* Problems are found in file order, so the first one found is the first in the file. */
    if (st->first_bad < 0) st->first_bad = (long long)offset;
}

static inline void bad_record(scan_state *st, uint64_t offset) {
    st->bad++;
    note_bad(st, offset);
}

static inline void good_record(scan_state *st, uint64_t ts) {
    if (st->good == 0 || ts < st->min_ts) st->min_ts = ts;
    if (st->good == 0 || ts > st->max_ts) st->max_ts = ts;
    st->good++;
}

static inline void clear_check(scan_state *st) {
    st->check = CHECK_NONE;
    st->check_end = 0;
    st->crc = 0;
    st->rec_offset = 0;
    st->rec_crc = 0;
    st->rec_ts = 0;
}

/* Check the bytes of the pending range from start to the end of the window (or
 * of the range), and conclude it when they are its last. Returns 0 while the
 * range goes on in the next window. */
static int continue_check(const unsigned char *window, uint64_t base, uint64_t end,
                          uint64_t start, scan_state *st) {
    uint64_t stop = st->check_end < end ? st->check_end : end;
    const unsigned char *chunk = window + (start - base);
    size_t len = (size_t)(stop - start);
    if (st->check == CHECK_CRC) {
        st->crc = crc_update(st->crc, chunk, len);
        if (stop < st->check_end) return 0;
        if (st->crc == st->rec_crc) {
            good_record(st, st->rec_ts);
        } else {
            bad_record(st, st->rec_offset);
        }
    } else {
        size_t nonzero = first_nonzero(chunk, len);
        if (nonzero == len && stop < st->check_end) return 0;
        if (nonzero == len) {
            if (st->check == CHECK_PAD) st->pads++;
        } else if (st->check == CHECK_PAD) {
            bad_record(st, st->rec_offset);
        } else if (st->check == CHECK_CUT) {
            st->truncated = 1;
            note_bad(st, st->rec_offset);
        } else {
            st->after_end = 1;
            note_bad(st, start + nonzero);
        }
    }
    clear_check(st);
    return 1;
}

static inline int reserved_zero(const unsigned char *header) {
    /* bytes 4..8 and 32..64 */
    if (load_u32(header + 4) != 0) return 0;
    for (unsigned i = 32; i < RECORD_HEADER_LEN; i += 8) {
        if (load_u64(header + i) != 0) return 0;
    }
    return 1;
}

/* Walk and check the records in the window [base, base + len) of a segment of
 * file_size bytes, the window after the last one fed. */
static void walk_window(const unsigned char *window, uint64_t len, uint64_t base,
                        uint64_t file_size, int verify_crc, scan_state *st) {
    uint64_t end = base + len;
    uint64_t start = base; /* where the pending check goes on */
    uint64_t next_line = st->next > base ? st->next - base : 0;
    for (;;) {
        if (st->check != CHECK_NONE && !continue_check(window, base, end, start, st)) break;
        if (st->done) break;
        uint64_t offset = st->next;
        if (file_size < RECORD_HEADER_LEN || offset > file_size - RECORD_HEADER_LEN) {
            /* no room for another record: the data ends here */
            st->done = 1;
            if (offset < file_size) {
                st->check = CHECK_CUT;
                st->check_end = file_size;
                st->rec_offset = offset;
                start = offset;
            }
            continue;
        }
        if (offset + RECORD_HEADER_LEN > end) break; /* the header is in the next window */
        const unsigned char *header = window + (offset - base);
        if (!verify_crc) prefetch_until(window, len, &next_line, offset - base + PREFETCH_AHEAD);
        uint64_t commit = load_u32(header);
        if (commit == 0) {
            st->done = 1;
            st->check = CHECK_TAIL;
            st->check_end = file_size;
            start = offset;
            continue;
        }
        /* commit = payload_len + 1; record length = align_up(64 + payload_len, 64) */
        uint64_t length = (commit + 126u) & ~(uint64_t)63u;
        if (length > file_size - offset) {
            st->done = 1;
            st->truncated = 1;
            note_bad(st, offset);
            break;
        }
        st->next = offset + length;
        uint64_t payload_end = offset + RECORD_HEADER_LEN + commit - 1;
        uint64_t ts = load_u64(header + 16);
        uint32_t header_crc = load_u32(header + 28);
        if (!reserved_zero(header)) {
            bad_record(st, offset);
        } else if (load_u16(header + 24) == PAD_TYPE_ID) {
            /* Exactly what a writer's repair leaves: all zero but the commit word and type id, up to the end. */
            if (st->next == file_size && load_u64(header + 8) == 0 && ts == 0 &&
                load_u16(header + 26) == 0 && header_crc == 0) {
                st->check = CHECK_PAD;
                st->check_end = payload_end;
                st->rec_offset = offset;
                start = offset + RECORD_HEADER_LEN;
            } else {
                bad_record(st, offset);
            }
        } else if (verify_crc) {
            st->check = CHECK_CRC;
            st->check_end = payload_end;
            st->rec_offset = offset;
            st->rec_crc = header_crc;
            st->rec_ts = ts;
            start = offset + RECORD_HEADER_LEN;
        } else {
            good_record(st, ts);
        }
    }
}

/* scan_window(buf, base, file_size, state, verify_crc) -> state; state is records.ScanState. */
static PyObject *scan_window(PyObject *module, PyObject *args) {
    PyObject *owner;
    unsigned long long base, file_size;
    unsigned long long next, good, pads, min_ts, max_ts, bad, check_end, rec_offset, rec_ts;
    unsigned long crc, rec_crc;
    long long first_bad;
    int done, truncated, after_end, check, verify_crc;
    Py_buffer view;
    (void)module;
    if (!PyArg_ParseTuple(args, "OKK(KpKKKKKLppiKkKkK)p", &owner, &base, &file_size, &next, &done,
                          &good, &pads, &min_ts, &max_ts, &bad, &first_bad, &truncated,
                          &after_end, &check, &check_end, &crc, &rec_offset, &rec_crc, &rec_ts,
                          &verify_crc)) {
        return NULL;
    }
    /* A state this scan never returns for the window before this one would read out of bounds. */
    if (check < CHECK_NONE || check > CHECK_CUT ||
        (check != CHECK_NONE && (check_end < base || check_end > file_size)) || (!done && next < base)) {
        PyErr_Format(PyExc_ValueError, "scan state does not follow on to a window at offset %llu", base);
        return NULL;
    }
    if (PyObject_GetBuffer(owner, &view, PyBUF_SIMPLE) != 0) {
        return NULL;
    }
    scan_state st = {next, done, good, pads, min_ts, max_ts, bad, first_bad, truncated,
                     after_end, check, check_end, (uint32_t)crc, rec_offset, (uint32_t)rec_crc,
                     rec_ts};
    /* The buffer export keeps a bytearray from resizing and an mmap from closing. */
    Py_BEGIN_ALLOW_THREADS
    walk_window((const unsigned char *)view.buf, (uint64_t)view.len, base, file_size, verify_crc, &st);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return Py_BuildValue("(KOKKKKKLOOiKkKkK)", (unsigned long long)st.next,
                         st.done ? Py_True : Py_False, (unsigned long long)st.good,
                         (unsigned long long)st.pads, (unsigned long long)st.min_ts,
                         (unsigned long long)st.max_ts, (unsigned long long)st.bad, st.first_bad,
                         st.truncated ? Py_True : Py_False, st.after_end ? Py_True : Py_False,
                         st.check, (unsigned long long)st.check_end, (unsigned long)st.crc,
                         (unsigned long long)st.rec_offset, (unsigned long)st.rec_crc,
                         (unsigned long long)st.rec_ts);
}

/* crc32(buf, value=0) -> zlib.crc32(buf, value), computed as the scanner does, GIL released. */
static PyObject *crc32_py(PyObject *module, PyObject *args) {
    PyObject *owner;
    unsigned long value = 0;
    Py_buffer view;
    (void)module;
    if (!PyArg_ParseTuple(args, "O|k", &owner, &value)) {
        return NULL;
    }
    if (PyObject_GetBuffer(owner, &view, PyBUF_SIMPLE) != 0) {
        return NULL;
    }
    uint32_t crc = (uint32_t)value;
    Py_BEGIN_ALLOW_THREADS
    crc = crc_update(crc, (const unsigned char *)view.buf, (size_t)view.len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(crc);
}

static PyObject *crc32_method(PyObject *module, PyObject *args) {
    (void)args;
    (void)module;
#ifdef HAVE_CLMUL_CANDIDATE
    if (use_clmul) return PyUnicode_FromString("pclmul");
#endif
    return PyUnicode_FromString("zlib");
}

static PyMethodDef methods[] = {
    {"scan_window", scan_window, METH_VARARGS,
     "scan_window(buf, base, file_size, state, verify_crc) -> state (see records.ScanState)"},
    {"crc32", crc32_py, METH_VARARGS, "crc32(buf, value=0) -> zlib.crc32(buf, value)"},
    {"crc32_method", crc32_method, METH_NOARGS, "crc32_method() -> 'pclmul' or 'zlib'"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_recordscan",
    .m_doc = "C walk and check of a chronicle segment's records (see records.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__recordscan(void) {
#ifdef HAVE_CLMUL_CANDIDATE
    __builtin_cpu_init();
    use_clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
#endif
    return PyModule_Create(&module_def);
}
