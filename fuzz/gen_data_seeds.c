/* Writes tiny valid inputs of fuzz_data, one file each, into the folder
 * given: IDX files of 1 to 4 dimensions (plain and gzip), IDX image and label
 * pairs, libsvm and CSV files (as tests/fixtures holds, plain and gzip), each
 * behind the selector byte that fuzz_data.c describes. scripts/fuzz.sh runs
 * it when the corpus is empty.
 *   gen_data_seeds DIR */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include "seed_file.h"

static const char *dir;
static int bad;

/* The selector byte: reader 0..3 in bits 0-1, its argument above. */
#define SEL_IDX 0
#define SEL_PAIR(classes) (1 | ((classes) ? (classes) << 3 : 4))
#define SEL_LIBSVM(features) (2 | ((features) ? (features) << 3 : 4))
#define SEL_CSV(label_col) (3 | ((label_col) + 31) << 2)

static void put(uint8_t sel, const uint8_t *a, size_t an) {
    if (fx_write_seed(dir, &sel, 1, a, an))
        bad = 1;
}

/* gzip-compresses in[0..n) into out; returns its length, 0 on failure. */
static size_t gzip(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    z.next_in = (uint8_t *)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int r = deflate(&z, Z_FINISH);
    size_t len = cap - z.avail_out;
    deflateEnd(&z);
    return r == Z_STREAM_END ? len : 0;
}

/* An IDX ubyte file with the given dimensions and i * 7 + 1 as its bytes. */
static size_t idx(uint8_t *b, int ndims, const uint32_t *dims) {
    size_t len = 0, total = 1;
    b[len++] = 0, b[len++] = 0, b[len++] = 0x08, b[len++] = (uint8_t)ndims;
    for (int k = 0; k < ndims; k++) {
        b[len++] = (uint8_t)(dims[k] >> 24), b[len++] = (uint8_t)(dims[k] >> 16);
        b[len++] = (uint8_t)(dims[k] >> 8), b[len++] = (uint8_t)dims[k];
        total *= dims[k];
    }
    for (size_t i = 0; i < total; i++)
        b[len++] = (uint8_t)(i * 7 + 1);
    return len;
}

static void put_text(uint8_t sel, const char *text) {
    static uint8_t z[1024];
    size_t n = strlen(text);
    put(sel, (const uint8_t *)text, n);
    size_t zn = gzip((const uint8_t *)text, n, z, sizeof z);
    if (!zn)
        bad = 1;
    else
        put(sel, z, zn);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gen_data_seeds DIR\n");
        return 2;
    }
    dir = argv[1];
    static uint8_t b[512], z[1024], pair[1024];

    /* IDX: labels (1 dim), flat images (2), images (3), and 4 dims. */
    static const uint32_t dims[4][4] = {{5}, {2, 3}, {2, 2, 3}, {1, 2, 2, 2}};
    for (int k = 0; k < 4; k++) {
        size_t n = idx(b, k + 1, dims[k]);
        put(SEL_IDX, b, n);
        size_t zn = gzip(b, n, z, sizeof z);
        if (!zn)
            bad = 1;
        else
            put(SEL_IDX, z, zn);
    }

    /* IDX pairs: 3 images of 2x2 (and flat 3x4), 3 labels; classes 0
     * (from the labels) or 10. Length of the images file, LE16, first. */
    static const uint32_t img3[3] = {3, 2, 2}, img2[2] = {3, 4}, lab[1] = {3};
    for (int k = 0; k < 4; k++) {
        size_t in = idx(pair + 2, k % 2 ? 2 : 3, k % 2 ? img2 : img3);
        pair[0] = (uint8_t)in, pair[1] = (uint8_t)(in >> 8);
        uint8_t *l = pair + 2 + in;
        size_t ln = idx(l, 1, lab);
        l[8] = 0, l[9] = 2, l[10] = 1; /* labels 0, 2, 1 */
        put((uint8_t)(k < 2 ? SEL_PAIR(0) : SEL_PAIR(10)), pair, 2 + in + ln);
    }
    /* and a gzip images file with a plain labels file */
    {
        size_t in = idx(b, 3, img3);
        size_t zn = gzip(b, in, z, sizeof z);
        uint8_t len2[2] = {(uint8_t)zn, (uint8_t)(zn >> 8)};
        uint8_t both[600];
        size_t ln = idx(both, 1, lab);
        if (!zn || zn + ln > sizeof both) {
            bad = 1;
        } else {
            memmove(both + 2 + zn, both, ln);
            memcpy(both, len2, 2);
            memcpy(both + 2, z, zn);
            put(SEL_PAIR(0), both, 2 + zn + ln);
        }
    }

    /* libsvm: tests/fixtures/tiny.libsvm, and a multiclass file. */
    static const char libsvm_pm[] =
        "# libsvm fixture: comments, qid, blank lines, -1/+1 labels\n"
        "+1 qid:3 1:0.5 3:2   # a trailing comment\n"
        "-1 2:-1.25e1\n"
        "\n"
        "+1 1:1 2:2 3:3 4:4\n";
    static const char libsvm_multi[] = "0 1:1 5:2\r\n2 2:0.5\n1 3:-1 4:1e3\n";
    put_text(SEL_LIBSVM(0), libsvm_pm);
    put_text(SEL_LIBSVM(0), libsvm_multi);
    put_text(SEL_LIBSVM(6), libsvm_multi);

    /* CSV: tests/fixtures/tiny.csv (label last), label first, label in the
     * middle, and no header. */
    static const char csv_header[] =
        "sepal_length, sepal_width ,petal_length,species\n"
        "5.1,3.5,1.4,0\n"
        "\n"
        "4.9, 3.0 ,1.4,2\n"
        "6.2,2.9,4.3,1\n";
    static const char csv_plain[] = "1,0.5,-2\n0,1e-3,7\r\n2,3,4\n";
    put_text(SEL_CSV(-1), csv_header);
    put_text(SEL_CSV(0), csv_plain);
    put_text(SEL_CSV(1), "0.5,1,2\n0.25,0,3\n");
    put_text(SEL_CSV(-3), csv_plain);

    if (bad)
        fprintf(stderr, "gen_data_seeds: could not write every seed\n");
    return bad;
}
