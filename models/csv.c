/* rumor: CSV files of numbers, one row per line, one column the label.
 *
 * Plain comma-separated numbers only: no quoting. A first line that does
 * not parse as numbers is a header and is skipped. */
#include <stdlib.h>
#include <string.h>

#include "models/dataset.h"
#include "models/dataset_io.h"

typedef struct {
    char **cell; /* the current line's cells, trimmed, NUL-terminated */
    size_t cell_cap, ncell;
    float *x;    /* (n, d) features so far */
    int32_t *y;
    size_t x_cap, y_cap;
    size_t n, d, ncol, label; /* label: column of the label, zero-based */
    size_t first_line;        /* line of the first data row */
    int32_t max_label;
} table;

/* Cuts line into trimmed cells at its commas. */
static rm_err split(table *t, char *p, size_t line, rm_diag *diag) {
    t->ncell = 0;
    for (;;) {
        rm_err err = rm_grow((void **)&t->cell, &t->cell_cap, t->ncell + 1,
                             sizeof *t->cell,
                             ((size_t)RM_DATA_FEATURES_MAX + 1) * sizeof(char *));
        if (err == RM_ETOO_LARGE)
            return rm_diag_set(diag, err, "line %zu: more than %u columns",
                               line, RM_DATA_FEATURES_MAX + 1);
        if (err)
            return rm_diag_set(diag, err, "line %zu: out of memory", line);
        char *c = rm_skip_blanks(p), *comma = strchr(c, ',');
        char *end = comma ? comma : c + strlen(c);
        p = comma ? comma + 1 : end;
        while (end > c && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        *end = '\0';
        t->cell[t->ncell++] = c;
        if (!comma)
            return RM_OK;
    }
}

static bool all_numeric(const table *t) {
    float v;
    for (size_t k = 0; k < t->ncell; k++)
        if (!rm_parse_f32(t->cell[k], &v))
            return false;
    return true;
}

/* The first data row fixes the number of columns and the label column. */
static rm_err set_shape(table *t, int label_col, size_t line, rm_diag *diag) {
    long long lc = label_col < 0 ? (long long)t->ncell + label_col : label_col;
    if (t->ncell < 2)
        return rm_diag_set(diag, RM_EDATA_SHAPE,
                           "line %zu: %zu column; need a label and a feature",
                           line, t->ncell);
    if (lc < 0 || lc >= (long long)t->ncell)
        return rm_diag_set(diag, RM_EDATA_SHAPE,
                           "line %zu: label column %d is outside the %zu "
                           "columns", line, label_col, t->ncell);
    t->ncol = t->ncell;
    t->d = t->ncell - 1;
    t->label = (size_t)lc;
    t->first_line = line;
    return RM_OK;
}

static rm_err add_row(table *t, size_t line, rm_diag *diag) {
    rm_err err = RM_OK;
    if (t->ncell != t->ncol)
        return rm_diag_set(diag, RM_EDATA_SHAPE,
                           "line %zu: %zu columns, but line %zu has %zu", line,
                           t->ncell, t->first_line, t->ncol);
    if ((err = rm_grow((void **)&t->y, &t->y_cap, t->n + 1, sizeof *t->y,
                       (size_t)RM_DATA_ROWS_MAX * sizeof *t->y)) ||
        (err = rm_grow((void **)&t->x, &t->x_cap, (t->n + 1) * t->d,
                       sizeof *t->x, RM_DATA_BYTES_MAX)))
        return rm_diag_set(diag, err, "line %zu: %s", line, rm_strerror(err));
    float *row = t->x + t->n * t->d;
    for (size_t k = 0; k < t->ncol; k++) {
        const char *c = t->cell[k];
        double v = 0;
        bool ok = k == t->label ? rm_parse_f64(c, &v) : rm_parse_f32(c, row++);
        if (!ok)
            return rm_diag_set(diag, RM_EDATA_SYNTAX,
                               "line %zu, column %zu: '%.32s' is not a finite "
                               "number", line, k + 1, c);
        if (k != t->label)
            continue;
        if (!rm_label_ok(v))
            return rm_diag_set(diag, RM_EDATA_LABEL,
                               "line %zu, column %zu: label '%.32s' is not an "
                               "integer 0..%u", line, k + 1, c,
                               RM_DATA_CLASSES_MAX - 1);
        t->y[t->n] = (int32_t)v;
        t->max_label = t->y[t->n] > t->max_label ? t->y[t->n] : t->max_label;
    }
    t->n++;
    return RM_OK;
}

rm_err rm_csv_read(const char *path, int label_col, rm_dataset *out,
                   rm_diag *diag) {
    rm_err err = RM_OK;
    rm_lines in = {0};
    table t = {0};
    char *line = NULL;
    bool first = true;
    memset(out, 0, sizeof *out);
    if ((err = rm_lines_open(&in, path, diag)))
        goto err;
    for (;;) {
        if ((err = rm_lines_next(&in, &line, diag)))
            goto err;
        if (!line)
            break;
        if (*rm_skip_blanks(line) == '\0')
            continue;
        if ((err = split(&t, line, in.line, diag)))
            goto err;
        if (first) {
            first = false;
            if (!all_numeric(&t))
                continue; /* a header */
        }
        if (t.ncol == 0 && (err = set_shape(&t, label_col, in.line, diag)))
            goto err;
        if ((err = add_row(&t, in.line, diag)))
            goto err;
    }
    if (t.n == 0) {
        err = rm_diag_set(diag, RM_EDATA_SHAPE, "no data rows");
        goto err;
    }
    out->n = t.n;
    out->d = t.d;
    out->classes = (uint32_t)t.max_label + 1;
    out->dtype = RM_DTYPE_F32;
    out->x_f32 = t.x;
    out->y = t.y;
    out->scale = 1.0f;
    free(t.cell);
    rm_lines_close(&in);
    return RM_OK;
err:
    free(t.cell);
    free(t.x);
    free(t.y);
    rm_lines_close(&in);
    return err;
}
