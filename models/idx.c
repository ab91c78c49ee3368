/* rumor: IDX files (the MNIST format), plain or gzip.
 *
 * An IDX file is a 4-byte magic (0, 0, type, ndims), ndims big-endian u32
 * dimensions, then the product of the dimensions in elements, row-major.
 * Only type 0x08 (unsigned byte) is read here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/dataset.h"
#include "models/dataset_io.h"

/* The body buffer starts at this size and doubles as bytes arrive, so a
 * header that declares 16 GiB in front of a 100-byte file costs 1 MiB, not
 * 16 GiB, before it is found truncated. */
#define IDX_FIRST_BYTES (1u << 20)
/* gzread takes an unsigned count and returns an int. */
#define IDX_READ_BYTES_MAX (1u << 30)

static uint32_t be32(const uint8_t *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
           (uint32_t)b[3];
}

/* Reads up to n bytes into buf; *got says how many arrived before the end
 * of the file. Errors: those of rm_gz_error. */
static rm_err read_upto(gzFile gz, uint8_t *buf, size_t n, size_t *got,
                        rm_diag *diag) {
    *got = 0;
    while (*got < n) {
        size_t want = n - *got;
        int r = gzread(gz, buf + *got,
                       (unsigned)(want > IDX_READ_BYTES_MAX ? IDX_READ_BYTES_MAX
                                                            : want));
        if (r < 0)
            return rm_gz_error(gz, diag);
        if (r == 0) {
            int zerr = Z_OK;
            gzerror(gz, &zerr);
            return zerr == Z_OK ? RM_OK : rm_gz_error(gz, diag);
        }
        *got += (size_t)r;
    }
    return RM_OK;
}

/* Checks the dimensions; *bytes is their product. */
static rm_err check_dims(const uint32_t *dims, int ndims, size_t *bytes,
                         rm_diag *diag) {
    unsigned long long row = 1;
    for (int k = 0; k < ndims; k++)
        if (dims[k] == 0)
            return rm_diag_set(diag, RM_EDATA_SHAPE, "dimension %d is 0", k);
    if (dims[0] > RM_DATA_ROWS_MAX)
        return rm_diag_set(diag, RM_ETOO_LARGE,
                           "%u items exceed the maximum of %u", dims[0],
                           RM_DATA_ROWS_MAX);
    for (int k = 1; k < ndims; k++) {
        row *= dims[k]; /* stays below 2^56: row <= 2^24 before each step */
        if (row > RM_DATA_FEATURES_MAX)
            return rm_diag_set(diag, RM_ETOO_LARGE,
                               "%llu bytes per item exceed the maximum of %u",
                               row, RM_DATA_FEATURES_MAX);
    }
    unsigned long long total = row * dims[0];
    if (total > RM_DATA_BYTES_MAX)
        return rm_diag_set(diag, RM_ETOO_LARGE,
                           "%llu bytes of data exceed the maximum of %llu",
                           total, RM_DATA_BYTES_MAX);
    *bytes = (size_t)total;
    return RM_OK;
}

/* Reads exactly `total` bytes into a buffer that grows as they arrive. */
static rm_err read_body(gzFile gz, size_t total, uint8_t **out, rm_diag *diag) {
    rm_err err = RM_OK;
    uint8_t *buf = NULL;
    size_t cap = 0, done = 0, got = 0;
    while (done < total) {
        if (done == cap) {
            size_t cap2 = cap ? cap * 2 : IDX_FIRST_BYTES;
            cap2 = cap2 < total ? cap2 : total;
            uint8_t *p = realloc(buf, cap2);
            if (!p) {
                err = rm_diag_set(diag, RM_ENOMEM, "out of memory");
                goto err;
            }
            buf = p;
            cap = cap2;
        }
        err = read_upto(gz, buf + done, cap - done, &got, diag);
        if (err)
            goto err;
        done += got;
        if (done < cap) {
            err = rm_diag_set(diag, RM_EDATA_TRUNCATED,
                              "header declares %zu bytes of data, file holds %zu",
                              total, done);
            goto err;
        }
    }
    *out = buf;
    return RM_OK;
err:
    free(buf);
    return err;
}

rm_err rm_idx_read(const char *path, uint8_t **data, uint32_t dims[4],
                   int *ndims, rm_diag *diag) {
    rm_err err = RM_OK;
    gzFile gz = NULL;
    uint8_t head[4 + 4 * 4], extra = 0;
    uint32_t d[4] = {0, 0, 0, 0};
    size_t got = 0, total = 0;
    *data = NULL;
    memset(dims, 0, 4 * sizeof *dims);
    *ndims = 0;

    if ((err = rm_gz_open(path, &gz, diag)))
        goto err;
    if ((err = read_upto(gz, head, 4, &got, diag)))
        goto err;
    if (got < 4) {
        err = rm_diag_set(diag, RM_EDATA_TRUNCATED,
                          "file is %zu bytes, shorter than the 4-byte magic",
                          got);
        goto err;
    }
    if (head[0] != 0 || head[1] != 0 || head[2] != 0x08 || head[3] < 1 ||
        head[3] > 4) {
        err = rm_diag_set(diag, RM_EDATA_MAGIC,
                          "magic is %02x %02x %02x %02x, want 00 00 08 then "
                          "1 to 4 dimensions",
                          head[0], head[1], head[2], head[3]);
        goto err;
    }
    int nd = head[3];
    if ((err = read_upto(gz, head + 4, 4 * (size_t)nd, &got, diag)))
        goto err;
    if (got < 4 * (size_t)nd) {
        err = rm_diag_set(diag, RM_EDATA_TRUNCATED,
                          "file ends inside its %d dimensions", nd);
        goto err;
    }
    for (int k = 0; k < nd; k++)
        d[k] = be32(head + 4 + 4 * k);
    if ((err = check_dims(d, nd, &total, diag)))
        goto err;
    if ((err = read_body(gz, total, data, diag)))
        goto err;

    /* Exactly the declared bytes: one more byte is an error, and so is a
     * gzip stream cut before its trailer (read_upto reports that). */
    if ((err = read_upto(gz, &extra, 1, &got, diag)))
        goto err;
    if (got > 0) {
        err = rm_diag_set(diag, RM_EDATA_TRAILING,
                          "bytes follow the %zu bytes the header declares",
                          total);
        goto err;
    }
    gzclose(gz);
    memcpy(dims, d, sizeof d);
    *ndims = nd;
    return RM_OK;
err:
    if (gz)
        gzclose(gz);
    free(*data);
    *data = NULL;
    return err;
}

rm_err rm_idx_read_pair(const char *images_path, const char *labels_path,
                        uint32_t classes, rm_dataset *out, rm_diag *diag) {
    rm_err err = RM_OK;
    uint8_t *img = NULL, *lab = NULL;
    uint32_t di[4], dl[4];
    int ni = 0, nl = 0;
    rm_diag sub = {{0}};
    memset(out, 0, sizeof *out);

    if ((err = rm_idx_read(images_path, &img, di, &ni, &sub))) {
        rm_diag_set(diag, err, "%s: %s", images_path, sub.msg);
        goto err;
    }
    if (ni != 2 && ni != 3) {
        err = rm_diag_set(diag, RM_EDATA_SHAPE,
                          "%s: images have %d dimensions, want 2 (n, d) or "
                          "3 (n, rows, cols)", images_path, ni);
        goto err;
    }
    if ((err = rm_idx_read(labels_path, &lab, dl, &nl, &sub))) {
        rm_diag_set(diag, err, "%s: %s", labels_path, sub.msg);
        goto err;
    }
    if (nl != 1) {
        err = rm_diag_set(diag, RM_EDATA_SHAPE,
                          "%s: labels have %d dimensions, want 1", labels_path,
                          nl);
        goto err;
    }
    if (di[0] != dl[0]) {
        err = rm_diag_set(diag, RM_EMISMATCH, "%s has %u images but %s has %u "
                          "labels", images_path, di[0], labels_path, dl[0]);
        goto err;
    }
    size_t n = di[0], d = ni == 3 ? (size_t)di[1] * di[2] : di[1];
    uint32_t top = 0;
    for (size_t i = 0; i < n; i++)
        top = lab[i] > top ? lab[i] : top;
    if (classes == 0)
        classes = top + 1;
    for (size_t i = 0; i < n; i++) {
        if (lab[i] >= classes) {
            err = rm_diag_set(diag, RM_EDATA_LABEL,
                              "%s: item %zu has label %u, want below %u",
                              labels_path, i, lab[i], classes);
            goto err;
        }
    }
    out->y = malloc(n * sizeof *out->y);
    if (!out->y) {
        err = rm_diag_set(diag, RM_ENOMEM, "out of memory");
        goto err;
    }
    for (size_t i = 0; i < n; i++)
        out->y[i] = lab[i];
    out->n = n;
    out->d = d;
    out->classes = classes;
    out->dtype = RM_DTYPE_U8;
    out->x_u8 = img; /* the image bytes are the features, row-major */
    out->scale = 1.0f / 255.0f;
    free(lab);
    return RM_OK;
err:
    free(img);
    free(lab);
    rm_dataset_free(out);
    return err;
}

/* Finds dir/name, else dir/name.gz, into path. */
static rm_err find_file(const char *dir, const char *name, char *path,
                        size_t cap, rm_diag *diag) {
    static const char *const suffix[2] = {"", ".gz"};
    for (int k = 0; k < 2; k++) {
        int len = snprintf(path, cap, "%s/%s%s", dir, name, suffix[k]);
        if (len < 0 || (size_t)len >= cap)
            return rm_diag_set(diag, RM_EINVAL, "%s: path too long", dir);
        errno = 0;
        FILE *f = fopen(path, "rb");
        if (f) {
            fclose(f);
            return RM_OK;
        }
        if (errno != ENOENT)
            return RM_OK; /* it is there; rm_idx_read will say what is wrong */
    }
    return rm_diag_set(diag, RM_ENOENT, "%s/%s: no such file (nor .gz)", dir,
                       name);
}

rm_err rm_mnist_read_dir(const char *dir, rm_dataset *train, rm_dataset *test,
                         rm_diag *diag) {
    static const char *const names[4] = {
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    rm_err err = RM_OK;
    char path[4][4096];
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    for (int k = 0; k < 4; k++)
        if ((err = find_file(dir, names[k], path[k], sizeof path[k], diag)))
            goto err;
    if ((err = rm_idx_read_pair(path[0], path[1], 10, train, diag)))
        goto err;
    if ((err = rm_idx_read_pair(path[2], path[3], 10, test, diag)))
        goto err;
    if (train->d != test->d) {
        err = rm_diag_set(diag, RM_EMISMATCH,
                          "train images have %zu features, test images %zu",
                          train->d, test->d);
        goto err;
    }
    return RM_OK;
err:
    rm_dataset_free(train);
    rm_dataset_free(test);
    return err;
}
