/* Tests for the IDX reader (models/idx.c): plain and gzip files written
 * here, and every malformed case with its named error. */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cmocka.h>

#include "models/dataset.h"
#include "tests/test_util.h"

/* Writes len bytes to path, gzip-compressed when gz is set. */
static void write_path_bytes(const char *path, int gz, const uint8_t *b,
                        size_t len) {
    if (gz) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        if (len)
            assert_int_equal(gzwrite(f, b, (unsigned)len), (int)len);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(b, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
    }
}

/* An IDX ubyte file: header for ndims dims, then `body` bytes of payload
 * (the pattern i * 7 + 1), regardless of what the header declares. */
static void write_idx(const char *path, int gz, int ndims, const uint32_t *dims,
                      size_t body) {
    static uint8_t b[4096];
    size_t len = 0;
    b[len++] = 0, b[len++] = 0, b[len++] = 0x08, b[len++] = (uint8_t)ndims;
    for (int k = 0; k < ndims; k++) {
        b[len++] = (uint8_t)(dims[k] >> 24), b[len++] = (uint8_t)(dims[k] >> 16);
        b[len++] = (uint8_t)(dims[k] >> 8), b[len++] = (uint8_t)dims[k];
    }
    assert_true(len + body <= sizeof b);
    for (size_t i = 0; i < body; i++)
        b[len++] = (uint8_t)(i * 7 + 1);
    write_path_bytes(path, gz, b, len);
}

/* Labels file of n labels with the given values. */
static void write_labels(const char *path, int gz, const uint8_t *lab,
                         uint32_t n) {
    uint8_t b[256] = {0, 0, 0x08, 1, 0, 0, 0, (uint8_t)n};
    memcpy(b + 8, lab, n);
    write_path_bytes(path, gz, b, 8 + n);
}

static int read_err(const char *path, rm_diag *d) {
    uint8_t *data = (uint8_t *)1;
    uint32_t dims[4] = {9, 9, 9, 9};
    int nd = 9;
    int err = rm_idx_read(path, &data, dims, &nd, d);
    if (err) { /* on error nothing is left behind */
        assert_null(data);
        assert_int_equal(nd, 0);
        assert_int_equal(dims[0] | dims[1] | dims[2] | dims[3], 0);
    }
    return err;
}

static void test_read_plain_and_gz(void **state) {
    (void)state;
    uint32_t dims[3] = {3, 2, 2};
    for (int gz = 0; gz < 2; gz++) {
        const char *p = tmp_path(gz ? "ok.idx.gz" : "ok.idx");
        write_idx(p, gz, 3, dims, 12);
        uint8_t *data = NULL;
        uint32_t got[4];
        int nd = 0;
        assert_int_equal(rm_idx_read(p, &data, got, &nd, NULL), RM_OK);
        assert_int_equal(nd, 3);
        assert_int_equal(got[0], 3);
        assert_int_equal(got[1], 2);
        assert_int_equal(got[2], 2);
        assert_int_equal(got[3], 0);
        for (int i = 0; i < 12; i++)
            assert_int_equal(data[i], (uint8_t)(i * 7 + 1));
        free(data);
    }
}

static void test_read_pair(void **state) {
    (void)state;
    uint32_t dims[3] = {3, 2, 2};
    uint8_t lab[3] = {2, 0, 1};
    for (int gz = 0; gz < 2; gz++) {
        write_idx(tmp_path("pair-img"), gz, 3, dims, 12);
        write_labels(tmp_path("pair-lab"), gz, lab, 3);
        rm_dataset ds;
        assert_int_equal(rm_idx_read_pair(tmp_path("pair-img"),
                                          tmp_path("pair-lab"), 0, &ds, NULL),
                         RM_OK);
        assert_int_equal(ds.n, 3);
        assert_int_equal(ds.d, 4);
        assert_int_equal(ds.classes, 3); /* 1 + the largest label */
        assert_int_equal(ds.dtype, RM_DTYPE_U8);
        assert_int_equal(ds.y[0], 2);
        assert_int_equal(ds.y[2], 1);
        assert_int_equal(ds.x_u8[5], 5 * 7 + 1);

        uint32_t idx[2] = {2, 1};
        float x[8];
        int32_t y[2];
        rm_dataset_gather(&ds, idx, 2, x, y);
        assert_float_equal(x[0], (8 * 7 + 1) / 255.0f, 1e-6f);
        assert_float_equal(x[7], (7 * 7 + 1) / 255.0f, 1e-6f);
        assert_int_equal(y[0], 1);
        assert_int_equal(y[1], 0);
        rm_dataset_free(&ds);
        assert_null(ds.x_u8);
    }
}

static void test_two_dim_images(void **state) {
    (void)state;
    uint32_t dims[2] = {2, 5};
    uint8_t lab[2] = {1, 0};
    write_idx(tmp_path("flat-img"), 0, 2, dims, 10);
    write_labels(tmp_path("flat-lab"), 0, lab, 2);
    rm_dataset ds;
    assert_int_equal(rm_idx_read_pair(tmp_path("flat-img"),
                                      tmp_path("flat-lab"), 10, &ds, NULL),
                     RM_OK);
    assert_int_equal(ds.n, 2);
    assert_int_equal(ds.d, 5);
    assert_int_equal(ds.classes, 10);
    rm_dataset_free(&ds);
}

static void test_wrong_magic(void **state) {
    (void)state;
    const uint8_t floats[] = {0, 0, 0x0D, 1, 0, 0, 0, 1, 1, 2, 3, 4};
    const uint8_t nonzero[] = {1, 0, 0x08, 1, 0, 0, 0, 1, 7};
    const uint8_t nodims[] = {0, 0, 0x08, 0, 7};
    const uint8_t fivedims[] = {0, 0, 0x08, 5, 0, 0, 0, 1};
    const uint8_t *cases[4] = {floats, nonzero, nodims, fivedims};
    size_t lens[4] = {sizeof floats, sizeof nonzero, sizeof nodims,
                      sizeof fivedims};
    for (int k = 0; k < 4; k++) {
        write_path_bytes(tmp_path("magic"), 0, cases[k], lens[k]);
        rm_diag d = {{0}};
        assert_int_equal(read_err(tmp_path("magic"), &d), RM_EDATA_MAGIC);
        assert_non_null(strstr(d.msg, "magic"));
    }
}

static void test_truncated(void **state) {
    (void)state;
    uint32_t dims[3] = {3, 2, 2};
    rm_diag d = {{0}};
    for (int gz = 0; gz < 2; gz++) {
        write_idx(tmp_path("short"), gz, 3, dims, 11); /* one byte short */
        assert_int_equal(read_err(tmp_path("short"), &d), RM_EDATA_TRUNCATED);
        assert_non_null(strstr(d.msg, "12"));
    }
    write_path_bytes(tmp_path("short"), 0, (const uint8_t *)"", 0); /* empty */
    assert_int_equal(read_err(tmp_path("short"), &d), RM_EDATA_TRUNCATED);
    const uint8_t in_dims[] = {0, 0, 0x08, 3, 0, 0, 0, 3, 0, 0};
    write_path_bytes(tmp_path("short"), 0, in_dims, sizeof in_dims);
    assert_int_equal(read_err(tmp_path("short"), &d), RM_EDATA_TRUNCATED);

    /* A gzip stream cut short before its trailer. */
    write_idx(tmp_path("cut.gz"), 1, 3, dims, 12);
    FILE *f = fopen(tmp_path("cut.gz"), "rb");
    uint8_t buf[256];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    write_path_bytes(tmp_path("cut.gz"), 0, buf, len - 6);
    assert_int_equal(read_err(tmp_path("cut.gz"), &d), RM_EDATA_TRUNCATED);
}

static void test_trailing(void **state) {
    (void)state;
    uint32_t dims[3] = {3, 2, 2};
    for (int gz = 0; gz < 2; gz++) {
        write_idx(tmp_path("long"), gz, 3, dims, 13);
        rm_diag d = {{0}};
        assert_int_equal(read_err(tmp_path("long"), &d), RM_EDATA_TRAILING);
    }
}

static void test_huge_dims(void **state) {
    (void)state;
    const uint32_t rows[3] = {0xffffffffu, 28, 28};
    const uint32_t wide[3] = {10, 1u << 12, 1u << 13};
    const uint32_t bytes[3] = {1u << 26, 1u << 10, 1u << 10};
    const uint32_t *cases[3] = {rows, wide, bytes};
    for (int k = 0; k < 3; k++) {
        write_idx(tmp_path("huge"), 0, 3, cases[k], 16);
        rm_diag d = {{0}};
        assert_int_equal(read_err(tmp_path("huge"), &d), RM_ETOO_LARGE);
        assert_non_null(strstr(d.msg, "maximum"));
    }
    /* Allowed, but 784 MB declared in front of 16 bytes: found truncated
     * without allocating what the header claims. */
    const uint32_t big[3] = {1000000, 28, 28};
    write_idx(tmp_path("huge"), 0, 3, big, 16);
    assert_int_equal(read_err(tmp_path("huge"), NULL), RM_EDATA_TRUNCATED);
}

static void test_zero_dim(void **state) {
    (void)state;
    const uint32_t dims[3] = {3, 0, 2};
    write_idx(tmp_path("zero"), 0, 3, dims, 0);
    assert_int_equal(read_err(tmp_path("zero"), NULL), RM_EDATA_SHAPE);
}

static void test_missing_file(void **state) {
    (void)state;
    rm_diag d = {{0}};
    assert_int_equal(read_err(tmp_path("no-such-file"), &d), RM_ENOENT);
    rm_dataset ds;
    uint8_t lab[1] = {0};
    write_labels(tmp_path("lab1"), 0, lab, 1);
    assert_int_equal(rm_idx_read_pair(tmp_path("no-such-file"),
                                      tmp_path("lab1"), 10, &ds, &d),
                     RM_ENOENT);
    assert_non_null(strstr(d.msg, "no-such-file"));
    assert_null(ds.x_u8);
}

static void test_pair_errors(void **state) {
    (void)state;
    uint32_t dims[3] = {3, 2, 2};
    uint8_t lab[4] = {0, 1, 2, 3};
    rm_dataset ds;
    rm_diag d = {{0}};
    write_idx(tmp_path("e-img"), 0, 3, dims, 12);

    write_labels(tmp_path("e-lab"), 0, lab, 4);
    assert_int_equal(rm_idx_read_pair(tmp_path("e-img"), tmp_path("e-lab"), 10,
                                      &ds, &d), RM_EMISMATCH);
    assert_non_null(strstr(d.msg, "e-lab"));
    assert_int_equal(ds.n, 0);

    write_labels(tmp_path("e-lab"), 0, lab + 1, 3); /* 1, 2, 3 */
    assert_int_equal(rm_idx_read_pair(tmp_path("e-img"), tmp_path("e-lab"), 3,
                                      &ds, &d), RM_EDATA_LABEL);
    assert_non_null(strstr(d.msg, "label 3"));

    /* Images with one dimension, labels with two. */
    assert_int_equal(rm_idx_read_pair(tmp_path("e-lab"), tmp_path("e-lab"), 10,
                                      &ds, &d), RM_EDATA_SHAPE);
    assert_int_equal(rm_idx_read_pair(tmp_path("e-img"), tmp_path("e-img"), 10,
                                      &ds, &d), RM_EDATA_SHAPE);
    assert_null(ds.y);
}

static void test_mnist_dir(void **state) {
    (void)state;
    const char *dir = tmp_path("mnist");
    char p[600];
    mkdir(dir, 0755); /* may exist from an earlier run */
    uint32_t train[3] = {2, 28, 28}, test[3] = {2, 28, 28};
    uint8_t lab[4] = {9, 0, 3, 9};
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", dir);
    remove(p);
    rm_dataset a, b;
    rm_diag d = {{0}};
    assert_int_equal(rm_mnist_read_dir(dir, &a, &b, &d), RM_ENOENT);
    assert_non_null(strstr(d.msg, "train-images-idx3-ubyte"));

    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", dir);
    write_idx(p, 0, 3, train, 2 * 784);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte", dir);
    write_labels(p, 0, lab, 2);
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte.gz", dir);
    write_idx(p, 1, 3, test, 2 * 784);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte.gz", dir);
    write_labels(p, 1, lab + 2, 2);

    assert_int_equal(rm_mnist_read_dir(dir, &a, &b, &d), RM_OK);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.d, 784);
    assert_int_equal(a.classes, 10);
    assert_int_equal(b.n, 2);
    assert_int_equal(b.y[1], 9);
    rm_dataset_free(&a);
    rm_dataset_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_plain_and_gz),
        cmocka_unit_test(test_read_pair),
        cmocka_unit_test(test_two_dim_images),
        cmocka_unit_test(test_wrong_magic),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_trailing),
        cmocka_unit_test(test_huge_dims),
        cmocka_unit_test(test_zero_dim),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_pair_errors),
        cmocka_unit_test(test_mnist_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
