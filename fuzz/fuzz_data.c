/* libFuzzer target for the dataset readers (models/idx.c, libsvm.c, csv.c).
 *
 * The readers take paths, so the input is written to a temporary file. Its
 * first byte picks the reader and its argument; the rest is the file:
 *   byte 0 & 3    0: rm_idx_read          (bits 2-7 unused)
 *                 1: rm_idx_read_pair     bit 2 set: classes 0 (from the
 *                    labels), else bits 3-7 are classes (0..31); then two
 *                    bytes, little-endian, are the length of the images
 *                    file, and what follows it is the labels file
 *                 2: rm_libsvm_read       bit 2 set: features 0 (the
 *                    largest index), else bits 3-7 are features (0..31)
 *                 3: rm_csv_read          bits 2-7 pick label_col: 0..61
 *                    give -31..30, 62 INT_MIN, 63 INT_MAX
 * Every file is also written gzip-compressed (zlib, gzopen "wb") to a second
 * path and read again, so that the gzip path is fuzzed too; unless the file
 * is itself gzip (then the two reads see different bytes), both reads must
 * agree exactly: same error code, or the same dataset.
 *
 * Any input: the reader returns RM_OK or one of the errors its header
 * (models/dataset.h) lists, with a diagnostic, and leaves its outputs empty
 * on error. On success: n and d within the RM_DATA_* maxima, labels below
 * classes, dtype matching the one feature pointer set, values finite, and
 * the argument honoured (features, classes). Any violation aborts; ASan and
 * UBSan catch the rest.
 *
 * Memory: libsvm rows are made dense, n x (largest index) floats, so that a
 * few hundred bytes of `0 16000000:1` lines legitimately ask for gigabytes
 * (up to RM_DATA_BYTES_MAX). With features 0 the target first bounds n and
 * the largest index from the bytes and skips inputs whose dense matrix could
 * exceed DENSE_CELLS_MAX, so that the fuzzer's -rss_limit_mb and
 * -malloc_limit_mb (2048 MB) report only allocations a reader makes ahead of
 * the bytes that justify them. Every other reader allocates in proportion
 * to the bytes it has read.
 *   scripts/fuzz.sh data 600 */
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "models/dataset.h"

#define DENSE_CELLS_MAX (1u << 22) /* 16 MiB of floats */

/* path[file][0] plain, path[file][1] gzip; file 1 is the labels of a pair. */
static char path[2][2][512];

static void fail(const char *why) {
    fprintf(stderr, "fuzz_data: %s\n", why);
    abort();
}

static void remove_files(void) {
    for (int f = 0; f < 2; f++)
        for (int z = 0; z < 2; z++)
            remove(path[f][z]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    for (int f = 0; f < 2; f++)
        for (int z = 0; z < 2; z++)
            snprintf(path[f][z], sizeof path[f][z], "%s/rumor-fuzz-data-%ld-%d%s",
                     tmp, (long)getpid(), f, z ? ".gz" : "");
    atexit(remove_files);
    return 0;
}

static void write_file(const char *p, const uint8_t *b, size_t n, int gz) {
    if (gz) {
        gzFile f = gzopen(p, "wb");
        if (!f)
            fail("cannot create the gzip temporary file");
        if (n && gzwrite(f, b, (unsigned)n) != (int)n)
            fail("cannot write the gzip temporary file");
        if (gzclose(f) != Z_OK)
            fail("cannot close the gzip temporary file");
        return;
    }
    FILE *f = fopen(p, "wb");
    if (!f)
        fail("cannot create the temporary file");
    if (fwrite(b, 1, n, f) != n || fclose(f) != 0)
        fail("cannot write the temporary file");
}

/* Whether zlib will read these bytes as gzip rather than as they are. */
static int is_gzip(const uint8_t *b, size_t n) {
    return n >= 2 && b[0] == 0x1f && b[1] == 0x8b;
}

static int in_list(int err, const int *ok, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (err == ok[k])
            return 1;
    return 0;
}

/* On error: a listed code, a diagnostic, and nothing left behind. */
static void check_error(int err, const rm_diag *d, const int *ok, size_t nok) {
    if (!in_list(err, ok, nok))
        fail("an error code the header does not list");
    if (!memchr(d->msg, '\0', sizeof d->msg) || d->msg[0] == '\0')
        fail("an error without a diagnostic");
}

static void check_empty(const rm_dataset *ds) {
    if (ds->n || ds->d || ds->classes || ds->dtype || ds->x_u8 || ds->x_f32 ||
        ds->y || ds->scale != 0.0f)
        fail("a failed read left the dataset not empty");
}

/* The invariants of any dataset a reader returns. */
static void check_dataset(const rm_dataset *ds) {
    if (ds->n == 0 || ds->n > RM_DATA_ROWS_MAX)
        fail("n is 0 or above RM_DATA_ROWS_MAX");
    if (ds->d == 0 || ds->d > RM_DATA_FEATURES_MAX)
        fail("d is 0 or above RM_DATA_FEATURES_MAX");
    size_t width = ds->dtype == RM_DTYPE_U8 ? 1 : 4;
    if ((unsigned long long)ds->n * ds->d * width > RM_DATA_BYTES_MAX)
        fail("n * d above RM_DATA_BYTES_MAX");
    if (ds->classes == 0 || ds->classes > RM_DATA_CLASSES_MAX)
        fail("classes is 0 or above RM_DATA_CLASSES_MAX");
    if (!ds->y)
        fail("no labels");
    if (ds->dtype == RM_DTYPE_U8) {
        if (!ds->x_u8 || ds->x_f32)
            fail("dtype u8 but x_u8 not the one pointer set");
        if (ds->scale != 1.0f / 255.0f)
            fail("u8 features without the 1/255 scale");
        unsigned sum = 0; /* touches every byte: ASan checks the size */
        for (size_t i = 0; i < ds->n * ds->d; i++)
            sum += ds->x_u8[i];
        (void)sum;
    } else if (ds->dtype == RM_DTYPE_F32) {
        if (!ds->x_f32 || ds->x_u8)
            fail("dtype f32 but x_f32 not the one pointer set");
        if (ds->scale != 1.0f)
            fail("f32 features with a scale other than 1");
        for (size_t i = 0; i < ds->n * ds->d; i++)
            if (!isfinite(ds->x_f32[i]))
                fail("a feature is not finite");
    } else {
        fail("unknown dtype");
    }
    for (size_t i = 0; i < ds->n; i++)
        if (ds->y[i] < 0 || (uint32_t)ds->y[i] >= ds->classes)
            fail("a label outside 0..classes-1");
}

static void same_dataset(int e0, const rm_dataset *a, int e1, const rm_dataset *b) {
    if (e0 != e1)
        fail("plain and gzip reads of the same bytes return different errors");
    if (e0)
        return;
    if (a->n != b->n || a->d != b->d || a->classes != b->classes ||
        a->dtype != b->dtype || a->scale != b->scale)
        fail("plain and gzip reads give different shapes");
    size_t cells = a->n * a->d;
    if (a->dtype == RM_DTYPE_U8 ? memcmp(a->x_u8, b->x_u8, cells)
                                : memcmp(a->x_f32, b->x_f32, cells * sizeof(float)))
        fail("plain and gzip reads give different features");
    if (memcmp(a->y, b->y, a->n * sizeof *a->y))
        fail("plain and gzip reads give different labels");
}

/* ---- IDX --------------------------------------------------------------- */

static const int idx_errors[] = {RM_EIO, RM_EDATA_MAGIC, RM_EDATA_SHAPE,
                                 RM_EDATA_TRUNCATED, RM_EDATA_TRAILING,
                                 RM_ETOO_LARGE, RM_ENOMEM};

typedef struct {
    int err;
    uint8_t *data;
    uint32_t dims[4];
    int ndims;
} idx_result;

static void idx_one(const char *p, idx_result *r) {
    rm_diag d = {{0}};
    r->err = rm_idx_read(p, &r->data, r->dims, &r->ndims, &d);
    if (r->err) {
        check_error(r->err, &d, idx_errors, sizeof idx_errors / sizeof *idx_errors);
        if (r->data || r->ndims || r->dims[0] || r->dims[1] || r->dims[2] ||
            r->dims[3])
            fail("a failed rm_idx_read left outputs set");
        return;
    }
    if (r->ndims < 1 || r->ndims > 4 || !r->data)
        fail("rm_idx_read: ndims outside 1..4, or no data");
    unsigned long long total = 1;
    for (int k = 0; k < 4; k++) {
        if (k < r->ndims && r->dims[k] == 0)
            fail("rm_idx_read: a dimension is 0");
        if (k >= r->ndims && r->dims[k] != 0)
            fail("rm_idx_read: a dimension beyond ndims is set");
        if (k < r->ndims)
            total *= r->dims[k];
    }
    if (r->dims[0] > RM_DATA_ROWS_MAX || total / r->dims[0] > RM_DATA_FEATURES_MAX ||
        total > RM_DATA_BYTES_MAX)
        fail("rm_idx_read: dimensions above the maxima");
    unsigned sum = 0; /* touches every byte: ASan checks the size */
    for (size_t i = 0; i < total; i++)
        sum += r->data[i];
    (void)sum;
}

static void fuzz_idx(const uint8_t *b, size_t n) {
    idx_result r[2];
    write_file(path[0][0], b, n, 0);
    write_file(path[0][1], b, n, 1);
    memset(r, 0, sizeof r);
    idx_one(path[0][0], &r[0]);
    idx_one(path[0][1], &r[1]);
    if (!is_gzip(b, n)) {
        if (r[0].err != r[1].err)
            fail("plain and gzip reads of the same bytes return different errors");
        if (!r[0].err) {
            if (r[0].ndims != r[1].ndims ||
                memcmp(r[0].dims, r[1].dims, sizeof r[0].dims))
                fail("plain and gzip reads give different dimensions");
            size_t total = 1;
            for (int k = 0; k < r[0].ndims; k++)
                total *= r[0].dims[k];
            if (memcmp(r[0].data, r[1].data, total))
                fail("plain and gzip reads give different bytes");
        }
    }
    free(r[0].data);
    free(r[1].data);
}

static const int pair_errors[] = {RM_EIO, RM_EDATA_MAGIC, RM_EDATA_SHAPE,
                                  RM_EDATA_TRUNCATED, RM_EDATA_TRAILING,
                                  RM_ETOO_LARGE, RM_ENOMEM, RM_EMISMATCH,
                                  RM_EDATA_LABEL};

static int pair_one(const char *img, const char *lab, uint32_t classes,
                    rm_dataset *ds) {
    rm_diag d = {{0}};
    int err = rm_idx_read_pair(img, lab, classes, ds, &d);
    if (err) {
        check_error(err, &d, pair_errors, sizeof pair_errors / sizeof *pair_errors);
        check_empty(ds);
        return err;
    }
    check_dataset(ds);
    if (ds->dtype != RM_DTYPE_U8)
        fail("rm_idx_read_pair: features not u8");
    if (classes && ds->classes != classes)
        fail("rm_idx_read_pair: classes not the one asked for");
    return err;
}

static void fuzz_idx_pair(uint8_t sel, const uint8_t *b, size_t n) {
    uint32_t classes = sel & 4 ? 0 : sel >> 3;
    if (n < 2)
        return;
    size_t li = (size_t)b[0] | (size_t)b[1] << 8;
    b += 2, n -= 2;
    li = li < n ? li : n;
    const uint8_t *lb = b + li;
    size_t ln = n - li;
    write_file(path[0][0], b, li, 0);
    write_file(path[0][1], b, li, 1);
    write_file(path[1][0], lb, ln, 0);
    write_file(path[1][1], lb, ln, 1);
    rm_dataset ds[2];
    int e0 = pair_one(path[0][0], path[1][0], classes, &ds[0]);
    int e1 = pair_one(path[0][1], path[1][1], classes, &ds[1]);
    if (!is_gzip(b, li) && !is_gzip(lb, ln))
        same_dataset(e0, &ds[0], e1, &ds[1]);
    rm_dataset_free(&ds[0]);
    rm_dataset_free(&ds[1]);
}

/* ---- libsvm and CSV ---------------------------------------------------- */

static const int text_errors[] = {RM_EIO, RM_EDATA_SYNTAX, RM_EDATA_INDEX,
                                  RM_EDATA_LABEL, RM_EDATA_SHAPE, RM_ETOO_LARGE,
                                  RM_EDATA_TRUNCATED, RM_ENOMEM};

/* An upper bound on the cells of the dense matrix that rm_libsvm_read with
 * features 0 makes of the file at p: (lines) x (largest number right before
 * a ':'). The bytes are read as the reader reads them (zlib, plain or gzip).
 * (A NUL byte is an error before any row is made dense.) */
static unsigned long long libsvm_cells_bound(const char *p) {
    gzFile gz = gzopen(p, "rb");
    if (!gz)
        fail("cannot reopen the temporary file");
    static uint8_t buf[1 << 16];
    unsigned long long lines = 1, run = 0, top = 0;
    int r;
    while ((r = gzread(gz, buf, sizeof buf)) > 0) {
        for (int k = 0; k < r; k++) {
            uint8_t c = buf[k];
            if (c >= '0' && c <= '9') {
                run = run * 10 + (c - '0');
                run = run > RM_DATA_FEATURES_MAX ? RM_DATA_FEATURES_MAX + 1ull : run;
                continue;
            }
            if (c == ':')
                top = run > top ? run : top;
            else if (c == '\n')
                lines++;
            run = 0;
        }
    }
    gzclose(gz);
    top = top < RM_DATA_FEATURES_MAX ? top : RM_DATA_FEATURES_MAX;
    return lines * top;
}

static int libsvm_one(const char *p, size_t features, rm_dataset *ds) {
    rm_diag d = {{0}};
    int err = rm_libsvm_read(p, features, ds, &d);
    if (err) {
        check_error(err, &d, text_errors, sizeof text_errors / sizeof *text_errors);
        check_empty(ds);
        return err;
    }
    check_dataset(ds);
    if (ds->dtype != RM_DTYPE_F32)
        fail("rm_libsvm_read: features not f32");
    if (features && ds->d != features)
        fail("rm_libsvm_read: d is not the features asked for");
    return err;
}

static void fuzz_libsvm(uint8_t sel, const uint8_t *b, size_t n) {
    size_t features = sel & 4 ? 0 : sel >> 3;
    write_file(path[0][0], b, n, 0);
    write_file(path[0][1], b, n, 1);
    if (features == 0 && (libsvm_cells_bound(path[0][0]) > DENSE_CELLS_MAX ||
                          libsvm_cells_bound(path[0][1]) > DENSE_CELLS_MAX))
        return;
    rm_dataset ds[2];
    int e0 = libsvm_one(path[0][0], features, &ds[0]);
    int e1 = libsvm_one(path[0][1], features, &ds[1]);
    if (!is_gzip(b, n))
        same_dataset(e0, &ds[0], e1, &ds[1]);
    rm_dataset_free(&ds[0]);
    rm_dataset_free(&ds[1]);
}

static int csv_one(const char *p, int label_col, rm_dataset *ds) {
    rm_diag d = {{0}};
    int err = rm_csv_read(p, label_col, ds, &d);
    if (err) {
        check_error(err, &d, text_errors, sizeof text_errors / sizeof *text_errors);
        check_empty(ds);
        return err;
    }
    check_dataset(ds);
    if (ds->dtype != RM_DTYPE_F32)
        fail("rm_csv_read: features not f32");
    return err;
}

static void fuzz_csv(uint8_t sel, const uint8_t *b, size_t n) {
    int k = sel >> 2;
    int label_col = k == 62 ? INT_MIN : k == 63 ? INT_MAX : k - 31;
    write_file(path[0][0], b, n, 0);
    write_file(path[0][1], b, n, 1);
    rm_dataset ds[2];
    int e0 = csv_one(path[0][0], label_col, &ds[0]);
    int e1 = csv_one(path[0][1], label_col, &ds[1]);
    if (!is_gzip(b, n))
        same_dataset(e0, &ds[0], e1, &ds[1]);
    rm_dataset_free(&ds[0]);
    rm_dataset_free(&ds[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    data++, size--;
    switch (sel & 3) {
    case 0:
        fuzz_idx(data, size);
        break;
    case 1:
        fuzz_idx_pair(sel, data, size);
        break;
    case 2:
        fuzz_libsvm(sel, data, size);
        break;
    default:
        fuzz_csv(sel, data, size);
        break;
    }
    return 0;
}
