/* libFuzzer target for the model file reader (models/model_file.c) and, on
 * files it accepts, the flat-model loader behind `rumor eval`/`predict`.
 *
 * The reader takes a path, so the input is written to a temporary file.
 * Any input: rm_model_file_load returns RM_OK or one of the errors its
 * header lists, with a diagnostic that names the file, and leaves its
 * outputs empty on error. On success: the descriptor is 1..127 printable
 * characters, the payload within the maximum, and saving that descriptor
 * and payload again gives back the input byte for byte (the format has one
 * encoding of each model). A descriptor that is a model spec goes through
 * rm_model_file_mlp, which must accept exactly the payloads of its size.
 * Any violation aborts; ASan and UBSan catch the rest.
 *   scripts/fuzz.sh model_file 600 */
#define _POSIX_C_SOURCE 200809L

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/model_file.h"

static char in_path[512], out_path[512];

static void fail(const char *why) {
    fprintf(stderr, "fuzz_model_file: %s\n", why);
    abort();
}

static void write_file(const char *path, const uint8_t *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(b, 1, n, f) != n) || fclose(f) != 0)
        fail("cannot write the temporary file");
}

static int known(rm_err err) {
    return err == RM_ENOENT || err == RM_EIO || err == RM_EMODEL_FILE_MAGIC ||
           err == RM_EMODEL_FILE_VERSION || err == RM_EMODEL_FILE_TRUNCATED ||
           err == RM_EMODEL_FILE_TRAILING || err == RM_EMODEL_FILE_MALFORMED ||
           err == RM_ETOO_LARGE || err == RM_EMODEL_FILE_CHECKSUM ||
           err == RM_ENOMEM;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!in_path[0]) {
        snprintf(in_path, sizeof in_path, "/tmp/fuzz_model_file_%d.in", (int)getpid());
        snprintf(out_path, sizeof out_path, "/tmp/fuzz_model_file_%d.out", (int)getpid());
    }
    write_file(in_path, data, size);
    char desc[128];
    uint8_t *payload = (uint8_t *)"x";
    size_t len = 7;
    rm_diag d = {{0}};
    rm_err err = rm_model_file_load(in_path, desc, &payload, &len, &d);
    if (err) {
        if (!known(err))
            fail("an error the header does not list");
        if (payload || len)
            fail("outputs not emptied on error");
        if (!strstr(d.msg, in_path))
            fail("the diagnostic does not name the file");
        return 0;
    }
    size_t dn = strlen(desc);
    if (dn < 1 || dn > RM_MODEL_FILE_DESCRIPTOR_MAX || !payload ||
        len > RM_MODEL_FILE_PAYLOAD_MAX || size != 28 + dn + len)
        fail("an accepted file breaks the format's bounds");
    for (size_t i = 0; i < dn; i++)
        if (desc[i] < 0x21 || desc[i] > 0x7e)
            fail("a descriptor byte that is not printable");
    /* One encoding per model: saving it again gives the same bytes. */
    if (rm_model_file_save(out_path, desc, payload, len, &d) != RM_OK)
        fail("cannot save what was loaded");
    FILE *f = fopen(out_path, "rb");
    uint8_t *again = malloc(size + 1);
    if (!f || !again || fread(again, 1, size + 1, f) != size || memcmp(again, data, size))
        fail("saving the loaded model gives other bytes");
    fclose(f);
    free(again);
    rm_mlp_spec spec;
    if (rm_mlp_spec_parse(desc, &spec, NULL) == RM_OK) {
        rm_mlp *m = NULL;
        size_t n = rm_mlp_spec_nparams(&spec);
        /* Only models small enough to build here; the sizes decide. */
        if (n <= (1u << 20)) {
            err = rm_model_file_mlp(desc, payload, len, 1, &m, &d);
            if ((err == RM_OK) != (len == 4 * n) || (err && err != RM_EMISMATCH))
                fail("rm_model_file_mlp disagrees with the spec's size");
            if (m && memcmp(m->params, payload, len))
                fail("the parameters are not the payload's floats");
            rm_mlp_free(m);
        }
    }
    free(payload);
    return 0;
}
