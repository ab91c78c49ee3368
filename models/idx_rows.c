/* rumor: reading only some rows of an IDX pair (dataset.h, "reading only
 * some rows").
 *
 * A node trains on its shard: 1/N of the rows. Reading the whole image
 * file first and keeping the shard afterwards made its peak memory the
 * whole set (47 MB of Fashion-MNIST pixels, and the node's peak RSS 83-92
 * MB); here the labels are read first (1 byte a row), the caller picks its
 * rows from them, and the image file is then streamed once, keeping only
 * the rows picked. The checks are those of rm_idx_read_pair, so a file it
 * refuses is refused here too, with the same codes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/dataset.h"
#include "models/dataset_io.h"

/* Skipped rows are read into a buffer of this size, a few rows at a time. */
#define SKIP_BYTES (64u << 10)

static uint32_t be32(const uint8_t *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* Reads exactly n bytes (n <= INT_MAX); RM_EDATA_TRUNCATED when the file
 * ends first. what names the part for the message. */
static rm_err read_exact(gzFile gz, void *buf, size_t n, const char *what, rm_diag *diag) {
    size_t got = 0;
    while (got < n) {
        int r = gzread(gz, (uint8_t *)buf + got, (unsigned)(n - got));
        if (r < 0)
            return rm_gz_error(gz, diag);
        if (r == 0) {
            int zerr = Z_OK;
            gzerror(gz, &zerr);
            if (zerr != Z_OK)
                return rm_gz_error(gz, diag);
            return rm_diag_set(diag, RM_EDATA_TRUNCATED, "file ends inside %s", what);
        }
        got += (size_t)r;
    }
    return RM_OK;
}

/* Reads the header of an unsigned-byte IDX file: magic, then ndims
 * dimensions into d[4]; checks them as rm_idx_read does. *row_bytes is the
 * product of all dimensions but the first. */
static rm_err read_header(gzFile gz, uint32_t d[4], int *ndims, size_t *row_bytes,
                          rm_diag *diag) {
    uint8_t head[4 + 16];
    rm_err err = read_exact(gz, head, 4, "its 4-byte magic", diag);
    if (err)
        return err;
    if (head[0] != 0 || head[1] != 0 || head[2] != 0x08 || head[3] < 1 || head[3] > 4)
        return rm_diag_set(diag, RM_EDATA_MAGIC,
                           "magic is %02x %02x %02x %02x, want 00 00 08 then 1 to 4 "
                           "dimensions", head[0], head[1], head[2], head[3]);
    int nd = head[3];
    if ((err = read_exact(gz, head + 4, 4 * (size_t)nd, "its dimensions", diag)))
        return err;
    memset(d, 0, 4 * sizeof *d);
    unsigned long long row = 1;
    for (int k = 0; k < nd; k++) {
        d[k] = be32(head + 4 + 4 * k);
        if (d[k] == 0)
            return rm_diag_set(diag, RM_EDATA_SHAPE, "dimension %d is 0", k);
    }
    if (d[0] > RM_DATA_ROWS_MAX)
        return rm_diag_set(diag, RM_ETOO_LARGE, "%u items exceed the maximum of %u", d[0],
                           RM_DATA_ROWS_MAX);
    for (int k = 1; k < nd; k++) {
        row *= d[k];
        if (row > RM_DATA_FEATURES_MAX)
            return rm_diag_set(diag, RM_ETOO_LARGE,
                               "%llu bytes per item exceed the maximum of %u", row,
                               RM_DATA_FEATURES_MAX);
    }
    if (row * d[0] > RM_DATA_BYTES_MAX)
        return rm_diag_set(diag, RM_ETOO_LARGE, "%llu bytes of data exceed the maximum of %llu",
                           row * d[0], RM_DATA_BYTES_MAX);
    *ndims = nd;
    *row_bytes = (size_t)row;
    return RM_OK;
}

/* Reads and drops n bytes. */
static rm_err skip(gzFile gz, uint8_t *scratch, unsigned long long n, rm_diag *diag) {
    while (n > 0) {
        size_t k = n < SKIP_BYTES ? (size_t)n : SKIP_BYTES;
        rm_err err = read_exact(gz, scratch, k, "its data", diag);
        if (err)
            return err;
        n -= k;
    }
    return RM_OK;
}

/* After the declared bytes: the end of the file, and of a whole gzip
 * stream. */
static rm_err expect_end(gzFile gz, size_t declared, rm_diag *diag) {
    uint8_t extra;
    int r = gzread(gz, &extra, 1);
    if (r < 0)
        return rm_gz_error(gz, diag);
    if (r > 0)
        return rm_diag_set(diag, RM_EDATA_TRAILING,
                           "bytes follow the %zu bytes the header declares", declared);
    int zerr = Z_OK;
    gzerror(gz, &zerr);
    return zerr == Z_OK ? RM_OK : rm_gz_error(gz, diag);
}

/* The labels file into lab (malloc'd, n bytes), with its checks; classes 0
 * becomes 1 + the largest label. diag says what failed, without the path. */
static rm_err read_labels_raw(const char *path, uint8_t **lab, size_t *n, uint32_t *classes,
                              rm_diag *diag) {
    uint32_t d[4];
    int nd;
    rm_err err = rm_idx_read(path, lab, d, &nd, diag);
    if (err)
        return err;
    if (nd != 1) {
        free(*lab);
        *lab = NULL;
        return rm_diag_set(diag, RM_EDATA_SHAPE, "labels have %d dimensions, want 1", nd);
    }
    *n = d[0];
    uint32_t top = 0;
    for (size_t i = 0; i < *n; i++)
        top = (*lab)[i] > top ? (*lab)[i] : top;
    if (*classes == 0)
        *classes = top + 1;
    for (size_t i = 0; i < *n; i++)
        if ((*lab)[i] >= *classes) {
            err = rm_diag_set(diag, RM_EDATA_LABEL, "item %zu has label %u, want below %u", i,
                              (*lab)[i], *classes);
            free(*lab);
            *lab = NULL;
            return err;
        }
    return RM_OK;
}

rm_err rm_idx_read_labels(const char *labels_path, uint32_t classes, rm_dataset *out,
                          rm_diag *diag) {
    memset(out, 0, sizeof *out);
    uint8_t *lab = NULL;
    size_t n = 0;
    rm_diag sub = {{0}};
    rm_err err = read_labels_raw(labels_path, &lab, &n, &classes, &sub);
    if (err)
        return rm_diag_set(diag, err, "%s: %s", labels_path, sub.msg);
    out->y = malloc((n ? n : 1) * sizeof *out->y);
    if (!out->y) {
        free(lab);
        return rm_diag_set(diag, RM_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        out->y[i] = lab[i];
    free(lab);
    out->n = n;
    out->classes = classes;
    out->dtype = RM_DTYPE_U8;
    out->scale = 1.0f / 255.0f;
    return RM_OK;
}

rm_err rm_idx_read_pair_rows(const char *images_path, const char *labels_path, uint32_t classes,
                             const uint32_t *idx, size_t m, rm_dataset *out, rm_diag *diag) {
    rm_err err;
    gzFile gz = NULL;
    uint8_t *lab = NULL, *scratch = NULL;
    uint32_t d[4];
    int nd = 0;
    size_t row = 0, n = 0;
    rm_diag sub = {{0}};
    memset(out, 0, sizeof *out);

    if ((err = rm_gz_open(images_path, &gz, &sub)) ||
        (err = read_header(gz, d, &nd, &row, &sub))) {
        rm_diag_set(diag, err, "%s: %s", images_path, sub.msg);
        goto err;
    }
    if (nd != 2 && nd != 3) {
        err = rm_diag_set(diag, RM_EDATA_SHAPE, "%s: images have %d dimensions, want 2 (n, d) "
                          "or 3 (n, rows, cols)", images_path, nd);
        goto err;
    }
    if ((err = read_labels_raw(labels_path, &lab, &n, &classes, &sub))) {
        rm_diag_set(diag, err, "%s: %s", labels_path, sub.msg);
        goto err;
    }
    if (d[0] != n) {
        err = rm_diag_set(diag, RM_EMISMATCH, "%s has %u images but %s has %zu labels",
                          images_path, d[0], labels_path, n);
        goto err;
    }
    for (size_t k = 0; k < m; k++)
        if (idx[k] >= n || (k > 0 && idx[k] <= idx[k - 1])) {
            err = rm_diag_set(diag, RM_ERANGE, "row %u: not below %zu, or not after row %u",
                              idx[k], n, k ? idx[k - 1] : 0);
            goto err;
        }
    if ((err = rm_dataset_alloc(out, m, row, RM_DTYPE_U8))) {
        rm_diag_set(diag, err, "%s: %zu rows of %zu bytes: %s", images_path, m, row,
                    rm_strerror(err));
        goto err;
    }
    if (!(scratch = malloc(SKIP_BYTES))) {
        err = rm_diag_set(diag, RM_ENOMEM, "out of memory");
        goto err;
    }
    /* One pass: skip to each wanted row, read it in place; then the rest,
     * so that a truncated or overlong file fails as rm_idx_read_pair does. */
    size_t at = 0;
    for (size_t k = 0; k < m; k++) {
        if ((err = skip(gz, scratch, (unsigned long long)(idx[k] - at) * row, &sub)) ||
            (err = read_exact(gz, out->x_u8 + k * row, row, "its data", &sub))) {
            rm_diag_set(diag, err, "%s: %s", images_path, sub.msg);
            goto err;
        }
        out->y[k] = lab[idx[k]];
        at = idx[k] + 1;
    }
    if ((err = skip(gz, scratch, (unsigned long long)(n - at) * row, &sub)) ||
        (err = expect_end(gz, n * row, &sub))) {
        rm_diag_set(diag, err, "%s: %s", images_path, sub.msg);
        goto err;
    }
    out->classes = classes;
    out->scale = 1.0f / 255.0f;
    gzclose(gz);
    free(lab);
    free(scratch);
    return RM_OK;
err:
    if (gz)
        gzclose(gz);
    free(lab);
    free(scratch);
    rm_dataset_free(out);
    return err;
}

rm_err rm_mnist_paths(const char *dir, rm_mnist_split split, char *images, char *labels,
                      size_t cap, rm_diag *diag) {
    static const char *const names[2][2] = {
        {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
        {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}};
    if (split != RM_MNIST_TRAIN && split != RM_MNIST_TEST)
        return rm_diag_set(diag, RM_EINVAL, "unknown split %d", (int)split);
    char *paths[2] = {images, labels};
    for (int f = 0; f < 2; f++) {
        static const char *const suffix[2] = {"", ".gz"};
        int k;
        for (k = 0; k < 2; k++) {
            int len = snprintf(paths[f], cap, "%s/%s%s", dir, names[split][f], suffix[k]);
            if (len < 0 || (size_t)len >= cap)
                return rm_diag_set(diag, RM_EINVAL, "%s: path too long", dir);
            errno = 0;
            FILE *fp = fopen(paths[f], "rb");
            if (fp) {
                fclose(fp);
                break;
            }
            if (errno != ENOENT)
                break; /* it is there; the reader will say what is wrong */
        }
        if (k == 2)
            return rm_diag_set(diag, RM_ENOENT, "%s/%s: no such file (nor .gz)", dir,
                               names[split][f]);
    }
    return RM_OK;
}
