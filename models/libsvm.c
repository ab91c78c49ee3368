/* rumor: libsvm / svmlight text files, read as Spark MLlib reads them.
 *
 * One pass keeps the rows sparse (index, value) in growable arrays; a dense
 * (n, d) float matrix is filled at the end, once d is known. */
#include <stdlib.h>
#include <string.h>

#include "models/dataset.h"
#include "models/dataset_io.h"

typedef struct {
    uint32_t j; /* zero-based feature */
    float v;
} entry;

typedef struct {
    int32_t *y;
    size_t *start; /* row i's entries are e[start[i] .. start[i + 1]) */
    entry *e;
    size_t y_cap, start_cap, e_cap;
    size_t n, nnz;
    uint32_t max_index; /* largest one-based index seen */
    int32_t max_label;
    size_t line_minus;  /* first line with label -1, or 0 */
    size_t line_other;  /* first line with a label other than -1 and +1 */
} sparse;

static void sparse_free(sparse *s) {
    free(s->y);
    free(s->start);
    free(s->e);
}

/* Cuts the next blank-separated token from *p; NULL when none is left. */
static char *next_token(char **p) {
    char *tok = rm_skip_blanks(*p), *q = tok;
    if (*tok == '\0')
        return NULL;
    while (*q != '\0' && *q != ' ' && *q != '\t')
        q++;
    if (*q != '\0')
        *q++ = '\0';
    *p = q;
    return tok;
}

/* -1 and +1 become 0 and 1; other labels must be integers 0..K-1, and may
 * not share a file with -1 (where -1 and 0 would both become class 0). */
static rm_err parse_label(sparse *s, const char *tok, size_t line,
                          rm_diag *diag) {
    double v = 0;
    if (!rm_parse_f64(tok, &v))
        return rm_diag_set(diag, RM_EDATA_SYNTAX,
                           "line %zu: label '%.32s' is not a number", line, tok);
    if (v != -1.0 && !rm_label_ok(v))
        return rm_diag_set(diag, RM_EDATA_LABEL,
                           "line %zu: label '%.32s' is neither -1/+1 nor an "
                           "integer 0..%u", line, tok, RM_DATA_CLASSES_MAX - 1);
    if (v == -1.0 && !s->line_minus)
        s->line_minus = line;
    if (v != -1.0 && v != 1.0 && !s->line_other)
        s->line_other = line;
    if (s->line_minus && s->line_other)
        return rm_diag_set(diag, RM_EDATA_LABEL,
                           "line %zu: labels mix -1 (line %zu) with labels "
                           "other than +1 (line %zu)", line, s->line_minus,
                           s->line_other);
    int32_t y = v == -1.0 ? 0 : (int32_t)v;
    s->max_label = y > s->max_label ? y : s->max_label;
    rm_err err = rm_grow((void **)&s->y, &s->y_cap, s->n + 1, sizeof *s->y,
                         (size_t)RM_DATA_ROWS_MAX * sizeof *s->y);
    if (err == RM_ETOO_LARGE)
        return rm_diag_set(diag, err, "line %zu: more than %u rows", line,
                           RM_DATA_ROWS_MAX);
    if (err)
        return rm_diag_set(diag, err, "line %zu: out of memory", line);
    s->y[s->n] = y;
    return RM_OK;
}

/* Parses one `index:value` into s->e; *prev is the row's last index. */
static rm_err parse_pair(sparse *s, char *tok, uint32_t *prev, size_t features,
                         size_t line, rm_diag *diag) {
    char *colon = strchr(tok, ':');
    if (!colon || colon == tok)
        return rm_diag_set(diag, RM_EDATA_SYNTAX,
                           "line %zu: '%.32s' is not index:value", line, tok);
    *colon = '\0';
    if (strcmp(tok, "qid") == 0)
        return RM_OK; /* ranking query ids mean nothing to a classifier */
    unsigned long long j = 0;
    for (const char *c = tok; *c; c++) {
        if (*c < '0' || *c > '9')
            return rm_diag_set(diag, RM_EDATA_SYNTAX,
                               "line %zu: feature index '%.32s' is not a "
                               "number", line, tok);
        if (j <= RM_DATA_FEATURES_MAX) /* saturate: no overflow */
            j = j * 10 + (unsigned)(*c - '0');
    }
    if (j == 0)
        return rm_diag_set(diag, RM_EDATA_INDEX,
                           "line %zu: feature index 0 is not one-based", line);
    if (j <= *prev)
        return rm_diag_set(diag, RM_EDATA_INDEX,
                           "line %zu: feature index %llu follows %u; indices "
                           "must increase", line, j, *prev);
    if (features && j > features)
        return rm_diag_set(diag, RM_EDATA_INDEX,
                           "line %zu: feature index %llu is beyond %zu "
                           "features", line, j, features);
    if (j > RM_DATA_FEATURES_MAX)
        return rm_diag_set(diag, RM_ETOO_LARGE,
                           "line %zu: feature index %.32s exceeds the maximum "
                           "of %u", line, tok, RM_DATA_FEATURES_MAX);
    float v = 0;
    if (!rm_parse_f32(colon + 1, &v))
        return rm_diag_set(diag, RM_EDATA_SYNTAX,
                           "line %zu: value '%.32s' of feature %llu is not a "
                           "finite number", line, colon + 1, j);
    rm_err err = rm_grow((void **)&s->e, &s->e_cap, s->nnz + 1, sizeof *s->e,
                         RM_DATA_BYTES_MAX);
    if (err)
        return rm_diag_set(diag, err, "line %zu: %s", line, rm_strerror(err));
    s->e[s->nnz++] = (entry){(uint32_t)j - 1, v};
    *prev = (uint32_t)j;
    s->max_index = *prev > s->max_index ? *prev : s->max_index;
    return RM_OK;
}

/* Parses one line; blank and comment-only lines add no row. */
static rm_err parse_line(sparse *s, char *p, size_t line, size_t features,
                         rm_diag *diag) {
    rm_err err = RM_OK;
    char *hash = strchr(p, '#');
    if (hash)
        *hash = '\0';
    char *tok = next_token(&p);
    if (!tok)
        return RM_OK;
    if ((err = parse_label(s, tok, line, diag)))
        return err;
    /* parse_label bounded the rows, so only memory can run out here. */
    if ((err = rm_grow((void **)&s->start, &s->start_cap, s->n + 2,
                       sizeof *s->start,
                       ((size_t)RM_DATA_ROWS_MAX + 1) * sizeof *s->start)))
        return rm_diag_set(diag, err, "line %zu: out of memory", line);
    s->start[s->n] = s->nnz;
    uint32_t prev = 0;
    while ((tok = next_token(&p)))
        if ((err = parse_pair(s, tok, &prev, features, line, diag)))
            return err;
    s->n++;
    s->start[s->n] = s->nnz;
    return RM_OK;
}

static rm_err densify(const sparse *s, size_t features, rm_dataset *out,
                      rm_diag *diag) {
    size_t d = features ? features : s->max_index;
    if (s->n == 0)
        return rm_diag_set(diag, RM_EDATA_SHAPE, "no rows");
    if (d == 0)
        return rm_diag_set(diag, RM_EDATA_SHAPE, "no features in any row");
    rm_err err = rm_dataset_alloc(out, s->n, d, RM_DTYPE_F32);
    if (err)
        return rm_diag_set(diag, err, "%zu rows of %zu features: %s", s->n, d,
                           rm_strerror(err));
    for (size_t i = 0; i < s->n; i++) {
        float *row = out->x_f32 + i * d;
        for (size_t k = s->start[i]; k < s->start[i + 1]; k++)
            row[s->e[k].j] = s->e[k].v;
        out->y[i] = s->y[i];
    }
    out->classes = (uint32_t)s->max_label + 1;
    if (s->line_minus && out->classes < 2)
        out->classes = 2; /* a -1/+1 file is binary even if one side is absent */
    return RM_OK;
}

rm_err rm_libsvm_read(const char *path, size_t features, rm_dataset *out,
                      rm_diag *diag) {
    rm_err err = RM_OK;
    rm_lines in = {0};
    sparse s = {0};
    char *line = NULL;
    memset(out, 0, sizeof *out);
    if (features > RM_DATA_FEATURES_MAX)
        return rm_diag_set(diag, RM_ETOO_LARGE,
                           "%zu features exceed the maximum of %u", features,
                           RM_DATA_FEATURES_MAX);
    if ((err = rm_lines_open(&in, path, diag)))
        goto err;
    for (;;) {
        if ((err = rm_lines_next(&in, &line, diag)))
            goto err;
        if (!line)
            break;
        if ((err = parse_line(&s, line, in.line, features, diag)))
            goto err;
    }
    if ((err = densify(&s, features, out, diag)))
        goto err;
    rm_lines_close(&in);
    sparse_free(&s);
    return RM_OK;
err:
    rm_lines_close(&in);
    sparse_free(&s);
    rm_dataset_free(out);
    return err;
}
