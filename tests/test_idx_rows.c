/* Tests for reading only some rows of an IDX pair (models/idx_rows.c):
 * the rows it keeps are exactly those that the whole-file reader and
 * rm_dataset_subset give, plain and gzip, for random row sets; a labels-only
 * dataset deals the same shards as the whole set; bad files and bad row
 * lists fail with the whole-file reader's codes; and the MNIST file names
 * are found with or without .gz. */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cmocka.h>

#include "base/rng.h"
#include "models/dataset.h"
#include "tests/test_util.h"

#define N 1000   /* rows */
#define R 12     /* rows x cols = 12 x 13 bytes a row */
#define C 13

static uint8_t images[16 + N * R * C], labels[8 + N];

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* An images file of n rows (3 dims) and a labels file of n labels (0..9);
 * the pixel bytes and labels come from seed. Named rows_img and rows_lab
 * (+ .gz when gz) under RUMOR_TMP; their paths into *img and *lab. */
static void write_pair(int gz, uint32_t n, uint64_t seed, const char **img, const char **lab) {
    rm_rng r;
    rm_rng_seed(&r, seed);
    images[0] = images[1] = 0, images[2] = 0x08, images[3] = 3;
    put_be32(images + 4, n);
    put_be32(images + 8, R);
    put_be32(images + 12, C);
    for (size_t i = 0; i < (size_t)n * R * C; i++)
        images[16 + i] = (uint8_t)rm_rng_u64(&r);
    labels[0] = labels[1] = 0, labels[2] = 0x08, labels[3] = 1;
    put_be32(labels + 4, n);
    for (uint32_t i = 0; i < n; i++)
        labels[8 + i] = (uint8_t)(rm_rng_u64(&r) % 10);
    static char ipath[600], lpath[600]; /* (tmp_path's buffers are reused) */
    snprintf(ipath, sizeof ipath, "%s",
             write_bytes(gz ? "rows_img.gz" : "rows_img", images, 16 + (size_t)n * R * C, gz));
    snprintf(lpath, sizeof lpath, "%s",
             write_bytes(gz ? "rows_lab.gz" : "rows_lab", labels, 8 + n, gz));
    *img = ipath;
    *lab = lpath;
}

static void assert_same_dataset(const rm_dataset *a, const rm_dataset *b) {
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->d, b->d);
    assert_int_equal(a->classes, b->classes);
    assert_int_equal(a->dtype, b->dtype);
    assert_true(a->scale == b->scale);
    if (a->n) {
        assert_memory_equal(a->x_u8, b->x_u8, a->n * a->d);
        assert_memory_equal(a->y, b->y, a->n * sizeof *a->y);
    }
}

static void rows_match_whole_reader(void **state) {
    (void)state;
    rm_rng r;
    rm_rng_seed(&r, 77);
    uint32_t *idx = malloc(N * sizeof *idx);
    assert_non_null(idx);
    for (int gz = 0; gz < 2; gz++) {
        const char *img, *lab;
        write_pair(gz, N, 10 + (uint64_t)gz, &img, &lab);
        rm_dataset all, want, got;
        rm_diag d = {{0}};
        assert_int_equal(rm_idx_read_pair(img, lab, 0, &all, &d), RM_OK);
        for (int trial = 0; trial < 12; trial++) {
            /* Every row, none, the first, the last, and random subsets of
             * every density. */
            size_t m = 0;
            for (uint32_t i = 0; i < N; i++) {
                bool keep = trial == 0   ? true
                            : trial == 1 ? false
                            : trial == 2 ? i == 0
                            : trial == 3 ? i == N - 1
                                         : rm_rng_u64(&r) % 11 < (uint64_t)(trial - 3);
                if (keep)
                    idx[m++] = i;
            }
            assert_int_equal(rm_dataset_subset(&all, idx, m, &want), RM_OK);
            assert_int_equal(rm_idx_read_pair_rows(img, lab, 0, idx, m, &got, &d), RM_OK);
            assert_same_dataset(&want, &got);
            rm_dataset_free(&want);
            rm_dataset_free(&got);
        }
        /* A fixed class count is kept as given. */
        idx[0] = 5;
        assert_int_equal(rm_idx_read_pair_rows(img, lab, 12, idx, 1, &got, &d), RM_OK);
        assert_int_equal(got.classes, 12);
        rm_dataset_free(&got);
        rm_dataset_free(&all);
    }
    free(idx);
}

/* The shards dealt over the labels alone are those dealt over the whole
 * set, for both kinds: a node that reads only its rows gets the rows it
 * would have got. */
static void labels_alone_deal_the_same_shards(void **state) {
    (void)state;
    const char *img, *lab;
    write_pair(1, N, 3, &img, &lab);
    rm_dataset all, labs;
    rm_diag d = {{0}};
    assert_int_equal(rm_idx_read_pair(img, lab, 10, &all, &d), RM_OK);
    assert_int_equal(rm_idx_read_labels(lab, 10, &labs, &d), RM_OK);
    assert_int_equal(labs.n, N);
    assert_int_equal(labs.classes, 10);
    assert_int_equal(labs.d, 0);
    assert_null(labs.x_u8);
    assert_memory_equal(labs.y, all.y, N * sizeof *all.y);
    uint32_t of_all[N], of_labs[N];
    for (int kind = RM_SHARD_IID; kind <= RM_SHARD_LABEL_SKEW; kind++) {
        rm_rng r1, r2;
        rm_rng_seed_stream(&r1, 1, 3);
        rm_rng_seed_stream(&r2, 1, 3);
        assert_int_equal(rm_dataset_shard(&all, 4, (rm_shard_kind)kind, 0.5, &r1, of_all), RM_OK);
        assert_int_equal(rm_dataset_shard(&labs, 4, (rm_shard_kind)kind, 0.5, &r2, of_labs),
                         RM_OK);
        assert_memory_equal(of_all, of_labs, sizeof of_all);
    }
    rm_dataset_free(&labs);
    assert_int_equal(rm_idx_read_labels(lab, 0, &labs, &d), RM_OK);
    assert_int_equal(labs.classes, all.classes); /* 1 + the largest label */
    rm_dataset_free(&labs);
    rm_dataset_free(&all);
}

static void bad_files_and_rows_refused(void **state) {
    (void)state;
    const char *img, *lab;
    rm_dataset out;
    rm_diag d = {{0}};
    uint32_t idx[3] = {1, 5, 9};
    write_pair(0, N, 4, &img, &lab);
    /* Rows out of order, repeated or past the end. */
    uint32_t bad[3][2] = {{5, 1}, {5, 5}, {0, N}};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(rm_idx_read_pair_rows(img, lab, 0, bad[k], 2, &out, &d), RM_ERANGE);
        assert_null(out.x_u8);
    }
    /* Fewer labels than images. */
    uint8_t *l2 = malloc(8 + N);
    assert_non_null(l2);
    memcpy(l2, labels, 8 + N);
    put_be32(l2 + 4, N - 1);
    const char *lab_short = write_bytes("rows_lab_short", l2, 8 + N - 1, 0);
    assert_int_equal(rm_idx_read_pair_rows(img, lab_short, 0, idx, 3, &out, &d), RM_EMISMATCH);
    /* A label past the class count. */
    assert_int_equal(rm_idx_read_pair_rows(img, lab, 3, idx, 3, &out, &d), RM_EDATA_LABEL);
    assert_int_equal(rm_idx_read_labels(lab, 3, &out, &d), RM_EDATA_LABEL);
    assert_non_null(strstr(d.msg, "rows_lab"));
    free(l2);
    /* Truncated images, whether the cut is before or after the rows
     * wanted; trailing bytes; a gzip stream cut short. */
    const char *cut = write_bytes("rows_img_cut", images, 16 + (size_t)N * R * C - 1, 0);
    assert_int_equal(rm_idx_read_pair_rows(cut, lab, 0, idx, 3, &out, &d), RM_EDATA_TRUNCATED);
    assert_non_null(strstr(d.msg, "rows_img_cut"));
    uint8_t *longer = malloc(17 + (size_t)N * R * C);
    assert_non_null(longer);
    memcpy(longer, images, 16 + (size_t)N * R * C);
    longer[16 + N * R * C] = 1;
    const char *trail = write_bytes("rows_img_trail", longer, 17 + (size_t)N * R * C, 0);
    assert_int_equal(rm_idx_read_pair_rows(trail, lab, 0, idx, 3, &out, &d), RM_EDATA_TRAILING);
    free(longer);
    write_pair(1, N, 4, &img, &lab);
    FILE *f = fopen(img, "rb");
    assert_non_null(f);
    static uint8_t gzbytes[1 << 20];
    size_t gzlen = fread(gzbytes, 1, sizeof gzbytes, f);
    fclose(f);
    const char *gzcut = tmp_path("rows_img_cut.gz");
    f = fopen(gzcut, "wb");
    assert_int_equal(fwrite(gzbytes, 1, gzlen - 20, f), gzlen - 20);
    fclose(f);
    assert_int_equal(rm_idx_read_pair_rows(gzcut, lab, 0, idx, 3, &out, &d), RM_EDATA_TRUNCATED);
    /* Not images: a labels file, a bad magic, a missing file. */
    assert_int_equal(rm_idx_read_pair_rows(lab, lab, 0, idx, 3, &out, &d), RM_EDATA_SHAPE);
    images[2] = 0x09;
    const char *magic = write_bytes("rows_img_magic", images, 16 + (size_t)N * R * C, 0);
    assert_int_equal(rm_idx_read_pair_rows(magic, lab, 0, idx, 3, &out, &d), RM_EDATA_MAGIC);
    assert_int_equal(rm_idx_read_pair_rows(tmp_path("no_such_file"), lab, 0, idx, 3, &out, &d),
                     RM_ENOENT);
    assert_int_equal(rm_idx_read_labels(tmp_path("no_such_file"), 0, &out, &d), RM_ENOENT);
    assert_int_equal(rm_idx_read_labels(img, 0, &out, &d), RM_EDATA_SHAPE); /* 3 dims */
}

static void mnist_paths_with_or_without_gz(void **state) {
    (void)state;
    char dir[600], img[700], lab[700];
    snprintf(dir, sizeof dir, "%s", tmp_path("rows_mnist"));
    mkdir(dir, 0700);
    static const char *const names[4] = {"rows_mnist/train-images-idx3-ubyte.gz",
                                         "rows_mnist/train-labels-idx1-ubyte",
                                         "rows_mnist/t10k-images-idx3-ubyte",
                                         "rows_mnist/t10k-labels-idx1-ubyte.gz"};
    rm_diag d = {{0}};
    for (int k = 0; k < 4; k++)
        remove(tmp_path(names[k]));
    assert_int_equal(rm_mnist_paths(dir, RM_MNIST_TRAIN, img, lab, sizeof img, &d), RM_ENOENT);
    assert_non_null(strstr(d.msg, "train-images-idx3-ubyte"));
    for (int k = 0; k < 4; k++)
        write_text(names[k], "x", 0);
    assert_int_equal(rm_mnist_paths(dir, RM_MNIST_TRAIN, img, lab, sizeof img, &d), RM_OK);
    assert_non_null(strstr(img, "train-images-idx3-ubyte.gz"));
    assert_non_null(strstr(lab, "train-labels-idx1-ubyte"));
    assert_null(strstr(lab, ".gz"));
    assert_int_equal(rm_mnist_paths(dir, RM_MNIST_TEST, img, lab, sizeof img, &d), RM_OK);
    assert_null(strstr(img, ".gz"));
    assert_non_null(strstr(lab, "t10k-labels-idx1-ubyte.gz"));
    assert_int_equal(rm_mnist_paths(dir, RM_MNIST_TEST, img, lab, 10, &d), RM_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows_match_whole_reader),
        cmocka_unit_test(labels_alone_deal_the_same_shards),
        cmocka_unit_test(bad_files_and_rows_refused),
        cmocka_unit_test(mnist_paths_with_or_without_gz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
