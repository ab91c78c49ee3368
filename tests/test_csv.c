/* Tests for the CSV reader (models/csv.c): the committed fixture
 * tests/fixtures/tiny.csv (with a header), headerless files, the label
 * column from either end, and each malformed case with its line. */
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

static void test_fixture_with_header(void **state) {
    (void)state;
    rm_dataset ds;
    assert_int_equal(rm_csv_read(RUMOR_FIXTURES "/tiny.csv", -1, &ds, NULL),
                     RM_OK);
    assert_int_equal(ds.n, 3);
    assert_int_equal(ds.d, 3);
    assert_int_equal(ds.classes, 3);
    assert_int_equal(ds.dtype, RM_DTYPE_F32);
    assert_float_equal(ds.scale, 1.0f, 0);
    assert_int_equal(ds.y[0], 0);
    assert_int_equal(ds.y[1], 2);
    assert_int_equal(ds.y[2], 1);
    assert_float_equal(ds.x_f32[3], 4.9f, 0); /* " 3.0 " trimmed */
    assert_float_equal(ds.x_f32[4], 3.0f, 0);
    assert_float_equal(ds.x_f32[8], 4.3f, 0);
    rm_dataset_free(&ds);
}

static void test_label_column(void **state) {
    (void)state;
    rm_dataset ds;
    /* No header: the first line is numeric, so it is data. */
    const char *p = write_text("first.csv", "1,2,3\n0,5,6\n", 0);
    assert_int_equal(rm_csv_read(p, 0, &ds, NULL), RM_OK);
    assert_int_equal(ds.n, 2);
    assert_int_equal(ds.d, 2);
    assert_int_equal(ds.y[0], 1);
    assert_int_equal(ds.y[1], 0);
    assert_float_equal(ds.x_f32[0], 2.0f, 0);
    assert_float_equal(ds.x_f32[3], 6.0f, 0);
    rm_dataset_free(&ds);

    /* -3 of three columns is column 0; -1 is the last; gzip as well. */
    p = write_text("first.csv.gz", "1,2,3\n0,5,6\r\n", 1);
    assert_int_equal(rm_csv_read(p, -3, &ds, NULL), RM_OK);
    assert_int_equal(ds.y[0], 1);
    rm_dataset_free(&ds);
    assert_int_equal(rm_csv_read(p, -1, &ds, NULL), RM_OK);
    assert_int_equal(ds.y[1], 6);
    assert_int_equal(ds.classes, 7);
    assert_float_equal(ds.x_f32[2], 0.0f, 0);
    rm_dataset_free(&ds);
}

typedef struct {
    const char *text;
    int label_col;
    int err;
    const char *where;
} bad_case;

static void test_malformed(void **state) {
    (void)state;
    static const bad_case cases[] = {
        {"1,2,0\n1,2\n", -1, RM_EDATA_SHAPE, "line 2:"},
        {"a,b,c\n1,2,0\n\n1,2,3,1\n", -1, RM_EDATA_SHAPE, "line 4:"},
        {"a,b,c\n1,2,0\n1,x,1\n", -1, RM_EDATA_SYNTAX, "line 3, column 2:"},
        {"1,2,0\n1,,0\n", -1, RM_EDATA_SYNTAX, "line 2, column 2:"},
        {"1,2,0\n1,nan,0\n", -1, RM_EDATA_SYNTAX, "line 2, column 2:"},
        {"1,2,0\n1,2,yes\n", -1, RM_EDATA_SYNTAX, "line 2, column 3:"},
        {"1,2,0\n1,2,0.5\n", -1, RM_EDATA_LABEL, "line 2, column 3:"},
        {"1,2,0\n1,2,-1\n", -1, RM_EDATA_LABEL, "line 2, column 3:"},
        {"1,2,0\n", 3, RM_EDATA_SHAPE, "label column 3"},
        {"1,2,0\n", -4, RM_EDATA_SHAPE, "label column -4"},
        {"1\n2\n", -1, RM_EDATA_SHAPE, "line 1:"},
        {"", -1, RM_EDATA_SHAPE, "no data rows"},
        {"\n  \n", -1, RM_EDATA_SHAPE, "no data rows"},
        {"x,y,label\n", -1, RM_EDATA_SHAPE, "no data rows"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        rm_dataset ds;
        rm_diag d = {{0}};
        const char *p = write_text("bad.csv", cases[k].text, 0);
        int err = rm_csv_read(p, cases[k].label_col, &ds, &d);
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
 * and read as one row, 1,23,4
 * (found by fuzz/fuzz_data.c). */
static void test_nul_byte(void **state) {
    (void)state;
    static const char text[] = "1,2\0x\n3,4\n";
    for (int gz = 0; gz < 2; gz++) {
        const char *p = write_bytes(gz ? "nul.csv.gz" : "nul.csv", text,
                                    sizeof text - 1, gz);
        rm_dataset ds;
        rm_diag d = {{0}};
        assert_int_equal(rm_csv_read(p, -1, &ds, &d), RM_EDATA_SYNTAX);
        assert_non_null(strstr(d.msg, "line 1: holds a NUL byte"));
        assert_null(ds.y);
    }
}

static void test_missing_file(void **state) {
    (void)state;
    rm_dataset ds;
    assert_int_equal(rm_csv_read(tmp_path("none.csv"), -1, &ds, NULL),
                     RM_ENOENT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_with_header),
        cmocka_unit_test(test_label_column),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
