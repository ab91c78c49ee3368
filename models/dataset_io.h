/* rumor: private helpers shared by the dataset readers (idx.c, libsvm.c,
 * csv.c). Not part of the public dataset API; defined in dataset.c.
 *
 * Files are read through zlib's gz functions, which read plain and gzip
 * files alike (gzip is detected by content, not by name). */
#ifndef RM_DATASET_IO_H
#define RM_DATASET_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <zlib.h>

#include "base/err.h"
#include "models/dataset.h"

/* A text line longer than this is refused (RM_ETOO_LARGE). A dense libsvm
 * row of RM_DATA_FEATURES_MAX features at ~20 bytes each still fits. */
#define RM_LINE_BYTES_MAX (1u << 30)

/* Opens path for reading. Errors: RM_ENOENT (no such file), RM_EIO, RM_ENOMEM;
 * on error *gz is NULL. */
rm_err rm_gz_open(const char *path, gzFile *gz, rm_diag *diag);

/* The rm_err for gz's error state after a short read: RM_EDATA_TRUNCATED
 * when a gzip stream ends early, RM_EIO otherwise; says so in diag. */
rm_err rm_gz_error(gzFile gz, rm_diag *diag);

/* A line reader over a plain or gzip text file. */
typedef struct {
    gzFile gz;
    char *buf;   /* the current line, NUL-terminated, without '\n' or '\r' */
    size_t cap;  /* bytes allocated at buf */
    size_t line; /* one-based number of the line last returned */
} rm_lines;

/* Opens a reader; *r is zeroed first. Errors: those of rm_gz_open. */
rm_err rm_lines_open(rm_lines *r, const char *path, rm_diag *diag);

/* The next line into *line (owned by r, valid until the next call), or
 * *line = NULL at the end of the file. Errors: RM_EIO, RM_EDATA_TRUNCATED,
 * RM_ETOO_LARGE, RM_ENOMEM, RM_EDATA_SYNTAX (a NUL byte in the line);
 * diag gives "line N: ...". */
rm_err rm_lines_next(rm_lines *r, char **line, rm_diag *diag);

/* Closes the file and frees the buffer; safe on a zeroed reader. */
void rm_lines_close(rm_lines *r);

/* Makes room for `need` elements of `size` bytes at *buf, which holds *cap
 * elements, by doubling; never beyond max_bytes in all. On error *buf and
 * *cap are unchanged. Errors: RM_ETOO_LARGE, RM_ENOMEM. O(1) amortised. */
rm_err rm_grow(void **buf, size_t *cap, size_t need, size_t size,
               size_t max_bytes);

/* Skips spaces and tabs. */
char *rm_skip_blanks(char *s);

/* Parses all of s (no leading or trailing blanks) as a finite float. False
 * for an empty string, trailing characters, nan, inf, or a value beyond the
 * float range. */
bool rm_parse_f32(const char *s, float *out);

/* Parses all of s as a finite number; false as rm_parse_f32. */
bool rm_parse_f64(const char *s, double *out);

/* Whether v is a valid label: an integer in [0, RM_DATA_CLASSES_MAX). */
bool rm_label_ok(double v);

#endif
