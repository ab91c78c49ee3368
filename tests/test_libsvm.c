/* Tests for the libsvm reader (models/libsvm.c): the committed fixture
 * tests/fixtures/tiny.libsvm, its gzip copy, and one small file per
 * malformed case, each with its named error and line number. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "models/dataset.h"
#include "tests/test_util.h"

/* Writes text to a scratch file (gzip when gz is set); returns its path. */
static char *slurp(const char *path) {
    static char buf[4096];
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    return buf;
}

static void check_tiny(const rm_dataset *ds) {
    static const float want[3][4] = {
        {0.5f, 0, 2, 0}, {0, -12.5f, 0, 0}, {1, 2, 3, 4}};
    assert_int_equal(ds->n, 3);
    assert_int_equal(ds->d, 4);
    assert_int_equal(ds->classes, 2);
    assert_int_equal(ds->dtype, RM_DTYPE_F32);
    assert_int_equal(ds->y[0], 1); /* +1 */
    assert_int_equal(ds->y[1], 0); /* -1 */
    assert_int_equal(ds->y[2], 1);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            assert_float_equal(ds->x_f32[i * 4 + j], want[i][j], 0);
}

static void test_fixture(void **state) {
    (void)state;
    rm_dataset ds;
    rm_diag d = {{0}};
    assert_int_equal(rm_libsvm_read(RUMOR_FIXTURES "/tiny.libsvm", 0, &ds, &d),
                     RM_OK);
    check_tiny(&ds);
    rm_dataset_free(&ds);

    const char *gz = write_text("tiny.libsvm.gz",
                                slurp(RUMOR_FIXTURES "/tiny.libsvm"), 1);
    assert_int_equal(rm_libsvm_read(gz, 0, &ds, &d), RM_OK);
    check_tiny(&ds);
    rm_dataset_free(&ds);
}

static void test_features_and_multiclass(void **state) {
    (void)state;
    rm_dataset ds;
    /* Integer labels as written by many tools, CRLF, no final newline. */
    const char *p = write_text("multi.libsvm",
                               "0 1:1\r\n2.0 2:1 qid:7\r\n1 1:3 2:4", 0);
    assert_int_equal(rm_libsvm_read(p, 10, &ds, NULL), RM_OK);
    assert_int_equal(ds.n, 3);
    assert_int_equal(ds.d, 10); /* `features` wins over the largest index */
    assert_int_equal(ds.classes, 3);
    assert_int_equal(ds.y[1], 2);
    assert_float_equal(ds.x_f32[2 * 10 + 1], 4.0f, 0);
    rm_dataset_free(&ds);
}

typedef struct {
    const char *text;
    size_t features;
    int err;
    const char *where; /* must appear in diag->msg */
} bad_case;

static void test_malformed(void **state) {
    (void)state;
    static const bad_case cases[] = {
        {"1 1:1\n1 0:1\n", 0, RM_EDATA_INDEX, "line 2:"},
        {"1 2:1 1:1\n", 0, RM_EDATA_INDEX, "line 1:"},
        {"1 1:1\n\n# c\n1 2:1 2:1\n", 0, RM_EDATA_INDEX, "line 4:"},
        {"1 1:1 5:1\n", 4, RM_EDATA_INDEX, "beyond 4"},
        {"1 99999999999999999999:1\n", 0, RM_ETOO_LARGE, "line 1:"},
        {"1 1:1\n1 1:abc\n", 0, RM_EDATA_SYNTAX, "line 2:"},
        {"1 1:nan\n", 0, RM_EDATA_SYNTAX, "line 1:"},
        {"1 1:inf\n", 0, RM_EDATA_SYNTAX, "line 1:"},
        {"1 1:1e50\n", 0, RM_EDATA_SYNTAX, "line 1:"},
        {"1 1:\n", 0, RM_EDATA_SYNTAX, "line 1:"},
        {"1 7\n", 0, RM_EDATA_SYNTAX, "line 1:"},
        {"1 x:1\n", 0, RM_EDATA_SYNTAX, "line 1:"},
        {"1 -3:1\n", 0, RM_EDATA_SYNTAX, "line 1:"},
        {"1 1:1\nyes 1:1\n", 0, RM_EDATA_SYNTAX, "line 2:"},
        {"1 1:1\n0.5 1:1\n", 0, RM_EDATA_LABEL, "line 2:"},
        {"-2 1:1\n", 0, RM_EDATA_LABEL, "line 1:"},
        {"-1 1:1\n+1 1:1\n0 1:1\n", 0, RM_EDATA_LABEL, "line 3:"},
        {"", 0, RM_EDATA_SHAPE, "no rows"},
        {"# only a comment\n\n", 0, RM_EDATA_SHAPE, "no rows"},
        {"1\n0\n", 0, RM_EDATA_SHAPE, "no features"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        rm_dataset ds;
        rm_diag d = {{0}};
        const char *p = write_text("bad.libsvm", cases[k].text, 0);
        int err = rm_libsvm_read(p, cases[k].features, &ds, &d);
        if (err != cases[k].err || !strstr(d.msg, cases[k].where))
            fail_msg("case %zu (%s): got %s \"%s\", want %s with \"%s\"", k,
                     cases[k].text, rm_err_name(err), d.msg,
                     rm_err_name(cases[k].err), cases[k].where);
        assert_int_equal(ds.n, 0);
        assert_null(ds.x_f32);
        assert_null(ds.y);
    }
}

/* A NUL byte is an error on its line, plain or gzip. Before, the line
 * reader dropped the rest of the line after it and the second line was joined to the first
 * and read as one row, 1 1:10 2:1
 * (found by fuzz/fuzz_data.c). */
static void test_nul_byte(void **state) {
    (void)state;
    static const char text[] = "1 1:1\0x\n0 2:1\n";
    for (int gz = 0; gz < 2; gz++) {
        const char *p = write_bytes(gz ? "nul.libsvm.gz" : "nul.libsvm", text,
                                    sizeof text - 1, gz);
        rm_dataset ds;
        rm_diag d = {{0}};
        assert_int_equal(rm_libsvm_read(p, 0, &ds, &d), RM_EDATA_SYNTAX);
        assert_non_null(strstr(d.msg, "line 1: holds a NUL byte"));
        assert_null(ds.y);
    }
}

static void test_missing_file(void **state) {
    (void)state;
    rm_dataset ds;
    assert_int_equal(rm_libsvm_read(tmp_path("none.libsvm"), 0, &ds, NULL),
                     RM_ENOENT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture),
        cmocka_unit_test(test_features_and_multiclass),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
