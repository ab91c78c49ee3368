/* The portable model file (models/model_file.h): round trips, and every
 * corruption refused with a named error: a bad magic, a cut at every
 * length, every single flipped byte, an unknown version, a declared length
 * beyond the maximum or the file. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "models/model_file.h"
#include "tests/test_util.h"

/* The whole file into *buf (malloc'd); returns its length. */
static size_t slurp(const char *path, uint8_t **buf) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(*buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return (size_t)n;
}

static const char *spill(const char *name, const uint8_t *b, size_t n) {
    return write_bytes(name, b, n, 0);
}

static rm_err load(const char *path, rm_diag *d) {
    char desc[128];
    uint8_t *p = (uint8_t *)"sentinel";
    size_t len = 99;
    rm_err err = rm_model_file_load(path, desc, &p, &len, d);
    if (err) {
        assert_null(p);
        assert_int_equal(len, 0);
    }
    free(p);
    return err;
}

static void round_trip(void **state) {
    (void)state;
    const char *path = tmp_path("rt.model");
    const char payload[] = "any bytes at all\0with a NUL inside";
    rm_diag d = {{0}};
    assert_int_equal(rm_model_file_save(path, "forest:trees=3", payload,
                                        sizeof payload, &d), RM_OK);
    char desc[128];
    uint8_t *p;
    size_t len;
    assert_int_equal(rm_model_file_load(path, desc, &p, &len, &d), RM_OK);
    assert_string_equal(desc, "forest:trees=3");
    assert_int_equal(len, sizeof payload);
    assert_memory_equal(p, payload, len);
    free(p);
    /* The exact size: 28 + descriptor + payload. */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 28 + 14 + sizeof payload);
    /* An empty payload is a payload. */
    assert_int_equal(rm_model_file_save(path, "x", "", 0, &d), RM_OK);
    assert_int_equal(rm_model_file_load(path, desc, &p, &len, &d), RM_OK);
    assert_non_null(p);
    assert_int_equal(len, 0);
    free(p);
    /* Overwriting leaves no temporary file behind (checked by name). */
    char tmpl[600];
    snprintf(tmpl, sizeof tmpl, "ls %s/rt.model.tmp.* 2>/dev/null | wc -l", RUMOR_TMP);
    FILE *ls = popen(tmpl, "r");
    int left = -1;
    assert_int_equal(fscanf(ls, "%d", &left), 1);
    pclose(ls);
    assert_int_equal(left, 0);
}

/* Bytes as they lie on disk: the header in docs/MODEL_FILE.md. */
static void layout_is_little_endian(void **state) {
    (void)state;
    const char *path = tmp_path("layout.model");
    const float params[2] = {1.0f, -2.5f};
    rm_diag d = {{0}};
    assert_int_equal(rm_model_file_save_params(path, "svm:1-2", params, 2, &d), RM_OK);
    uint8_t *b;
    size_t n = slurp(path, &b);
    assert_int_equal(n, 28 + 7 + 8);
    assert_memory_equal(b, "RUMORMDL", 8);
    const uint8_t ver[4] = {1, 0, 0, 0}, dlen[4] = {7, 0, 0, 0};
    assert_memory_equal(b + 8, ver, 4);
    assert_memory_equal(b + 12, dlen, 4);
    assert_memory_equal(b + 16, "svm:1-2", 7);
    const uint8_t plen[8] = {8, 0, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(b + 23, plen, 8);
    const uint8_t one[4] = {0x00, 0x00, 0x80, 0x3f}, m25[4] = {0x00, 0x00, 0x20, 0xc0};
    assert_memory_equal(b + 31, one, 4);
    assert_memory_equal(b + 35, m25, 4);
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, 39);
    assert_int_equal(b[39] | b[40] << 8 | b[41] << 16 | (uint32_t)b[42] << 24, crc);
    free(b);
}

static void flat_model_round_trip(void **state) {
    (void)state;
    rm_mlp_spec s;
    rm_mlp *m, *back;
    assert_int_equal(rm_mlp_spec_parse("svm:6-3:squared:lambda=0.01", &s, NULL), RM_OK);
    assert_int_equal(rm_mlp_create(&m, &s, 0.0f, 4), RM_OK);
    for (size_t i = 0; i < m->nparams; i++)
        m->params[i] = (float)i * 0.37f - 2.0f;
    char desc[128];
    rm_mlp_spec_format(&m->spec, desc, sizeof desc);
    const char *path = tmp_path("svm.model");
    rm_diag d = {{0}};
    assert_int_equal(rm_model_file_save_params(path, desc, m->params, m->nparams, &d), RM_OK);
    char got[128];
    uint8_t *p;
    size_t len;
    assert_int_equal(rm_model_file_load(path, got, &p, &len, &d), RM_OK);
    assert_string_equal(got, "svm:6-3:squared:lambda=0.01");
    assert_int_equal(rm_model_file_mlp(got, p, len, 8, &back, &d), RM_OK);
    assert_int_equal(back->nparams, m->nparams);
    assert_memory_equal(back->params, m->params, m->nparams * sizeof(float));
    assert_int_equal(back->spec.loss, RM_LOSS_SQUARED_HINGE);
    assert_int_equal(back->spec.classes, 3);
    rm_mlp_free(back);
    /* A payload of another size, or a descriptor that is no flat model. */
    assert_int_equal(rm_model_file_mlp(got, p, len - 4, 8, &back, &d), RM_EMISMATCH);
    assert_null(back);
    assert_non_null(strstr(d.msg, "payload"));
    assert_int_equal(rm_model_file_mlp("forest:trees=3", p, len, 8, &back, &d), RM_EMODEL_SPEC);
    free(p);
    rm_mlp_free(m);
}

/* A valid file to corrupt: 28 + 14 + 40 bytes. */
static size_t good_file(uint8_t **b) {
    const char *path = tmp_path("good.model");
    float params[10];
    for (int i = 0; i < 10; i++)
        params[i] = (float)i - 4.5f;
    rm_diag d = {{0}};
    assert_int_equal(rm_model_file_save_params(path, "mlp:3-2:x-y-zz", params, 10, &d), RM_OK);
    return slurp(path, b);
}

static void every_truncation_is_refused(void **state) {
    (void)state;
    uint8_t *b;
    size_t n = good_file(&b);
    for (size_t cut = 0; cut < n; cut++) {
        rm_diag d = {{0}};
        rm_err err = load(spill("cut.model", b, cut), &d);
        if (err != RM_EMODEL_FILE_TRUNCATED)
            fail_msg("cut at %zu of %zu: %s (%s)", cut, n, rm_err_name(err), d.msg);
        assert_non_null(strstr(d.msg, "cut.model"));
        assert_non_null(strstr(d.msg, "truncated"));
    }
    /* One byte more is trailing data. */
    uint8_t *more = malloc(n + 1);
    memcpy(more, b, n);
    more[n] = 0;
    rm_diag d = {{0}};
    assert_int_equal(load(spill("long.model", more, n + 1), &d), RM_EMODEL_FILE_TRAILING);
    free(more);
    free(b);
}

static void every_flipped_byte_is_refused(void **state) {
    (void)state;
    uint8_t *b;
    size_t n = good_file(&b);
    const size_t payload_at = 16 + 14 + 8;
    for (size_t i = 0; i < n; i++)
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            rm_diag d = {{0}};
            rm_err err = load(spill("flip.model", b, n), &d);
            b[i] ^= (uint8_t)(1u << bit);
            if (err == RM_OK)
                fail_msg("byte %zu bit %d flipped: accepted", i, bit);
            assert_non_null(strstr(d.msg, "flip.model"));
            rm_err want = i < 8 ? RM_EMODEL_FILE_MAGIC
                          : i < 12 ? RM_EMODEL_FILE_VERSION
                                   : RM_OK; /* depends on the field */
            if (i >= payload_at)
                want = RM_EMODEL_FILE_CHECKSUM; /* payload and CRC */
            if (want != RM_OK && err != want)
                fail_msg("byte %zu bit %d: %s, wanted %s (%s)", i, bit,
                         rm_err_name(err), rm_err_name(want), d.msg);
            /* Header fields in between each have a named error too. */
            if (want == RM_OK && err != RM_EMODEL_FILE_MALFORMED &&
                err != RM_EMODEL_FILE_TRUNCATED && err != RM_EMODEL_FILE_TRAILING &&
                err != RM_EMODEL_FILE_CHECKSUM && err != RM_ETOO_LARGE)
                fail_msg("byte %zu bit %d: %s (%s)", i, bit, rm_err_name(err), d.msg);
        }
    free(b);
}

static void bad_headers_are_named(void **state) {
    (void)state;
    uint8_t *b;
    size_t n = good_file(&b);
    rm_diag d = {{0}};
    /* Another format altogether. */
    assert_int_equal(load(write_text("text.model", "label,a,b\n1,2,3\n", 0), &d),
                     RM_EMODEL_FILE_MAGIC);
    assert_non_null(strstr(d.msg, "bad magic"));
    /* A future version, even with a matching checksum. */
    b[8] = 2;
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, (uInt)(n - 4));
    for (int k = 0; k < 4; k++)
        b[n - 4 + k] = (uint8_t)(crc >> (8 * k));
    assert_int_equal(load(spill("v2.model", b, n), &d), RM_EMODEL_FILE_VERSION);
    assert_non_null(strstr(d.msg, "version 2"));
    b[8] = 1;
    /* A declared payload beyond the maximum is refused before any
     * allocation, and one beyond the file as truncated. */
    uint8_t *lenf = b + 16 + 14;
    memset(lenf, 0xff, 8);
    assert_int_equal(load(spill("huge.model", b, n), &d), RM_ETOO_LARGE);
    assert_non_null(strstr(d.msg, "maximum"));
    memset(lenf, 0, 8);
    lenf[3] = 0x20; /* 512 MiB: allowed, but not in the file */
    assert_int_equal(load(spill("big.model", b, n), &d), RM_EMODEL_FILE_TRUNCATED);
    /* A descriptor length of 0 or beyond 127. */
    memcpy(lenf, (uint8_t[8]){40, 0, 0, 0, 0, 0, 0, 0}, 8);
    b[12] = 0;
    assert_int_equal(load(spill("d0.model", b, n), &d), RM_EMODEL_FILE_MALFORMED);
    b[12] = 200;
    assert_int_equal(load(spill("d200.model", b, n), &d), RM_EMODEL_FILE_MALFORMED);
    b[12] = 14;
    b[17] = ' ';
    assert_int_equal(load(spill("blank.model", b, n), &d), RM_EMODEL_FILE_MALFORMED);
    free(b);
    /* Missing files and folders. */
    assert_int_equal(load(tmp_path("no-such.model"), &d), RM_ENOENT);
    assert_non_null(strstr(d.msg, "no-such.model"));
    assert_int_equal(rm_model_file_save(tmp_path("no/such/dir/m.model"), "x", "", 0, &d),
                     RM_ENOENT);
    assert_int_equal(rm_model_file_save(tmp_path("m.model"), "has blank", "", 0, &d),
                     RM_EINVAL);
    assert_int_equal(rm_model_file_save(tmp_path("m.model"), "", "", 0, &d), RM_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(layout_is_little_endian),
        cmocka_unit_test(flat_model_round_trip),
        cmocka_unit_test(every_truncation_is_refused),
        cmocka_unit_test(every_flipped_byte_is_refused),
        cmocka_unit_test(bad_headers_are_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
