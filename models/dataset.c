/* rumor: the dataset container, the batch gather, and the I/O helpers that
 * the readers share (dataset_io.h). */
#include "models/dataset.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/dataset_io.h"

void rm_dataset_free(rm_dataset *ds) {
    if (!ds)
        return;
    free(ds->x_u8);
    free(ds->x_f32);
    free(ds->y);
    memset(ds, 0, sizeof *ds);
}

rm_err rm_dataset_alloc(rm_dataset *out, size_t n, size_t d, rm_dtype dtype) {
    rm_err err = RM_OK;
    memset(out, 0, sizeof *out);
    size_t width = dtype == RM_DTYPE_U8 ? 1 : dtype == RM_DTYPE_F32 ? 4 : 0;
    if (width == 0 || d == 0)
        return RM_EINVAL;
    if (n > RM_DATA_ROWS_MAX || d > RM_DATA_FEATURES_MAX ||
        (unsigned long long)n * d * width > RM_DATA_BYTES_MAX)
        return RM_ETOO_LARGE;

    /* At least one element each, so that an empty dataset (an empty shard)
     * still has non-NULL buffers and calloc(0) never decides for us. */
    size_t cells = n * d > 0 ? n * d : 1;
    out->n = n;
    out->d = d;
    out->dtype = dtype;
    out->scale = 1.0f;
    out->y = calloc(n > 0 ? n : 1, sizeof *out->y);
    if (dtype == RM_DTYPE_U8)
        out->x_u8 = calloc(cells, 1);
    else
        out->x_f32 = calloc(cells, sizeof(float));
    if (!out->y || (!out->x_u8 && !out->x_f32)) {
        err = RM_ENOMEM;
        goto err;
    }
    return RM_OK;
err:
    rm_dataset_free(out);
    return err;
}

rm_err rm_dataset_subset(const rm_dataset *src, const uint32_t *idx, size_t m,
                         rm_dataset *out) {
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < m; i++)
        if (idx[i] >= src->n)
            return RM_ERANGE;
    rm_err err = rm_dataset_alloc(out, m, src->d, src->dtype);
    if (err)
        return err;
    out->scale = src->scale;
    out->classes = src->classes;

    size_t d = src->d;
    size_t row_bytes = d * (src->dtype == RM_DTYPE_U8 ? 1 : sizeof(float));
    for (size_t i = 0; i < m; i++) {
        if (src->dtype == RM_DTYPE_U8)
            memcpy(out->x_u8 + i * d, src->x_u8 + (size_t)idx[i] * d, row_bytes);
        else
            memcpy(out->x_f32 + i * d, src->x_f32 + (size_t)idx[i] * d,
                   row_bytes);
        out->y[i] = src->y[idx[i]];
    }
    return RM_OK;
}

/* The two row kernels of the gather. restrict and a plain counted loop let
 * gcc -O3 vectorise both (checked with -fopt-info-vec). */
static void row_u8_to_f32(float *restrict o, const uint8_t *restrict s,
                          size_t d, float scale) {
    for (size_t j = 0; j < d; j++)
        o[j] = (float)s[j] * scale;
}

static void row_f32_scale(float *restrict o, const float *restrict s, size_t d,
                          float scale) {
    for (size_t j = 0; j < d; j++)
        o[j] = s[j] * scale;
}

void rm_dataset_gather(const rm_dataset *ds, const uint32_t *idx, size_t m,
                       float *x, int32_t *y) {
    size_t d = ds->d;
    for (size_t i = 0; i < m; i++) {
        assert(idx[i] < ds->n);
        size_t r = idx[i];
        if (ds->dtype == RM_DTYPE_U8)
            row_u8_to_f32(x + i * d, ds->x_u8 + r * d, d, ds->scale);
        else if (ds->scale == 1.0f)
            memcpy(x + i * d, ds->x_f32 + r * d, d * sizeof *x);
        else
            row_f32_scale(x + i * d, ds->x_f32 + r * d, d, ds->scale);
        if (y)
            y[i] = ds->y[r];
    }
}

void rm_dataset_class_counts(const rm_dataset *ds, size_t *counts) {
    memset(counts, 0, ds->classes * sizeof *counts);
    for (size_t i = 0; i < ds->n; i++) {
        assert(ds->y[i] >= 0 && (uint32_t)ds->y[i] < ds->classes);
        if (ds->y[i] >= 0 && (uint32_t)ds->y[i] < ds->classes)
            counts[ds->y[i]]++;
    }
}

/* ---- helpers for the readers (dataset_io.h) ---------------------------- */

rm_err rm_gz_open(const char *path, gzFile *gz, rm_diag *diag) {
    errno = 0;
    *gz = gzopen(path, "rb");
    if (!*gz) {
        if (errno == ENOENT)
            return rm_diag_set(diag, RM_ENOENT, "no such file");
        if (errno == 0)
            return rm_diag_set(diag, RM_ENOMEM, "out of memory opening file");
        return rm_diag_set(diag, RM_EIO, "cannot open: %s", strerror(errno));
    }
    /* 128 KiB instead of zlib's 8 KiB: fewer read calls on big files. */
    gzbuffer(*gz, 1u << 17);
    return RM_OK;
}

rm_err rm_gz_error(gzFile gz, rm_diag *diag) {
    int zerr = Z_OK;
    const char *msg = gzerror(gz, &zerr);
    if (zerr == Z_BUF_ERROR)
        return rm_diag_set(diag, RM_EDATA_TRUNCATED,
                           "gzip stream ends early: %s", msg);
    if (zerr == Z_ERRNO)
        return rm_diag_set(diag, RM_EIO, "read error: %s", strerror(errno));
    return rm_diag_set(diag, RM_EIO, "read error: %s", msg);
}

rm_err rm_lines_open(rm_lines *r, const char *path, rm_diag *diag) {
    memset(r, 0, sizeof *r);
    return rm_gz_open(path, &r->gz, diag);
}

rm_err rm_lines_next(rm_lines *r, char **line, rm_diag *diag) {
    rm_err err = RM_OK;
    size_t len = 0;
    *line = NULL;
    for (;;) {
        if (r->cap - len < 2) {
            size_t cap = r->cap;
            err = rm_grow((void **)&r->buf, &cap, cap ? cap * 2 : 4096, 1,
                          (size_t)RM_LINE_BYTES_MAX + 2);
            if (err == RM_ETOO_LARGE)
                return rm_diag_set(diag, err, "line %zu: longer than %u bytes",
                                   r->line + 1, RM_LINE_BYTES_MAX);
            if (err)
                return rm_diag_set(diag, err, "line %zu: out of memory",
                                   r->line + 1);
            r->cap = cap;
        }
        size_t room = r->cap - len;
        z_off_t at = gztell(r->gz);
        if (!gzgets(r->gz, r->buf + len, room > INT_MAX ? INT_MAX : (int)room)) {
            int zerr = Z_OK;
            gzerror(r->gz, &zerr);
            if (zerr != Z_OK) {
                rm_diag sub = {{0}};
                err = rm_gz_error(r->gz, &sub);
                return rm_diag_set(diag, err, "line %zu: %s", r->line + 1,
                                   sub.msg);
            }
            break; /* end of file */
        }
        /* gzgets reads through a NUL byte to the '\n'; strlen would then
         * drop the rest of the line and join the next one to it. */
        size_t got = strlen(r->buf + len);
        if (at >= 0 && gztell(r->gz) - at != (z_off_t)got)
            return rm_diag_set(diag, RM_EDATA_SYNTAX,
                               "line %zu: holds a NUL byte (not a text file?)",
                               r->line + 1);
        len += got;
        if (len > 0 && r->buf[len - 1] == '\n')
            break;
    }
    if (len == 0)
        return RM_OK; /* end of file: *line stays NULL */
    while (len > 0 && (r->buf[len - 1] == '\n' || r->buf[len - 1] == '\r'))
        r->buf[--len] = '\0';
    r->line++;
    *line = r->buf;
    return RM_OK;
}

void rm_lines_close(rm_lines *r) {
    if (r->gz)
        gzclose(r->gz);
    free(r->buf);
    memset(r, 0, sizeof *r);
}

rm_err rm_grow(void **buf, size_t *cap, size_t need, size_t size,
               size_t max_bytes) {
    if (need <= *cap)
        return RM_OK;
    if (need > max_bytes / size)
        return RM_ETOO_LARGE;
    size_t cap2 = *cap ? *cap : 16;
    while (cap2 < need)
        cap2 = cap2 > max_bytes / size / 2 ? max_bytes / size : cap2 * 2;
    void *p = realloc(*buf, cap2 * size);
    if (!p)
        return RM_ENOMEM;
    *buf = p;
    *cap = cap2;
    return RM_OK;
}

char *rm_skip_blanks(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

bool rm_parse_f64(const char *s, double *out) {
    char *end = NULL;
    if (*s == '\0' || *s == ' ' || *s == '\t')
        return false;
    double v = strtod(s, &end);
    if (*end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

bool rm_parse_f32(const char *s, float *out) {
    char *end = NULL;
    if (*s == '\0' || *s == ' ' || *s == '\t')
        return false;
    float v = strtof(s, &end);
    if (*end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

bool rm_label_ok(double v) {
    return v >= 0.0 && v < (double)RM_DATA_CLASSES_MAX && v == floor(v);
}
