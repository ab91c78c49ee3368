/* rumor: in-memory datasets, their readers, and how they are cut up.
 *
 * A dataset is n rows of d features plus one integer label per row. Features
 * stay in the width they were stored in: IDX pixels as uint8 (converted to
 * float one mini-batch at a time, times `scale`), libsvm and CSV values as
 * float. Labels are 0..classes-1.
 *
 * Readers return 0 or a negative rm_err and, when `diag` is not NULL, say
 * exactly what was wrong in diag->msg ("line 3: feature index 0 is not
 * one-based"). They never print; the caller names the file. On error *out is
 * left empty (all zero) and nothing leaks. */
#ifndef RM_DATASET_H
#define RM_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/rng.h"

typedef enum { RM_DTYPE_U8 = 1, RM_DTYPE_F32 = 2 } rm_dtype;

/* Upper bounds that every reader checks before it allocates. */
#define RM_DATA_ROWS_MAX (1u << 26)      /* 67M rows */
#define RM_DATA_FEATURES_MAX (1u << 24)  /* 16M features per row */
#define RM_DATA_BYTES_MAX (1ull << 34)   /* 16 GiB of feature data */
#define RM_DATA_CLASSES_MAX 65536u

typedef struct {
    size_t n;          /* rows */
    size_t d;          /* features per row */
    uint32_t classes;  /* labels are 0..classes-1 */
    rm_dtype dtype;    /* which of x_u8 / x_f32 holds the (n, d) features */
    uint8_t *x_u8;     /* (n, d) row-major, when dtype == RM_DTYPE_U8 */
    float *x_f32;      /* (n, d) row-major, when dtype == RM_DTYPE_F32 */
    float scale;       /* batch value = stored value * scale (1/255 for pixels) */
    int32_t *y;        /* (n) labels */
} rm_dataset;

/* Frees what the dataset owns and zeroes it. Safe on a zeroed dataset. */
void rm_dataset_free(rm_dataset *ds);

/* Allocates an empty (n, d) dataset of the given dtype, zero-filled, scale
 * 1, classes 0. n may be 0 (an empty shard); d may not.
 * Errors: RM_EINVAL, RM_ETOO_LARGE, RM_ENOMEM. */
rm_err rm_dataset_alloc(rm_dataset *out, size_t n, size_t d, rm_dtype dtype);

/* Copies rows idx[0..m) of src into a new dataset *out (same dtype, scale,
 * classes). Errors: RM_ENOMEM, RM_ERANGE (an index >= src->n). */
rm_err rm_dataset_subset(const rm_dataset *src, const uint32_t *idx, size_t m,
                         rm_dataset *out);

/* Converts rows idx[0..m) into the float batch x (m, d) and labels y (m).
 * This is the only place stored widths become float. y may be NULL. Every
 * idx[i] must be < ds->n (asserted). O(m * d), vectorised. */
void rm_dataset_gather(const rm_dataset *ds, const uint32_t *idx, size_t m,
                       float *x, int32_t *y);

/* Number of rows per class into counts[0..classes). */
void rm_dataset_class_counts(const rm_dataset *ds, size_t *counts);

/* ---- readers ----------------------------------------------------------- */

/* Reads an IDX file (plain or gzip, detected by content) of unsigned bytes:
 * magic 0x00000801 (labels, 1 dim) or 0x00000803 (images, 3 dims) or any
 * ubyte IDX with 1-4 dims. On success *data holds the bytes, *dims the shape
 * (ndims entries, rest 0). Checks the magic, every dimension against the
 * maxima above, that the file holds exactly the declared bytes.
 * Errors: RM_ENOENT, RM_EIO, RM_EDATA_MAGIC, RM_EDATA_SHAPE,
 * RM_EDATA_TRUNCATED, RM_EDATA_TRAILING, RM_ETOO_LARGE, RM_ENOMEM. */
rm_err rm_idx_read(const char *path, uint8_t **data, uint32_t dims[4],
                   int *ndims, rm_diag *diag);

/* Reads an IDX images file and an IDX labels file into one dataset
 * (uint8 features, scale 1/255). Checks that the row counts agree.
 * `classes` 0 means 1 + the largest label. Errors: those of rm_idx_read,
 * RM_EMISMATCH, RM_EDATA_LABEL. diag names which of the two files failed. */
rm_err rm_idx_read_pair(const char *images_path, const char *labels_path,
                        uint32_t classes, rm_dataset *out, rm_diag *diag);

/* Reads a libsvm / svmlight file as Spark MLlib does: each line is
 * `label index:value index:value ...` with one-based, strictly increasing
 * indices; `qid:N` is ignored; '#' starts a comment; blank lines are skipped.
 * Labels -1/+1 become 0/1; otherwise labels must be integers 0..K-1, and
 * -1 may not share a file with labels other than +1 (-1 and 0 would both
 * become 0). `features` 0 means the largest index seen. Dense float rows,
 * scale 1; classes is 1 + the largest label (2 for a -1/+1 file).
 * Errors: RM_ENOENT, RM_EIO, RM_EDATA_SYNTAX, RM_EDATA_INDEX,
 * RM_EDATA_LABEL, RM_EDATA_SHAPE (no rows, or no features), RM_ETOO_LARGE,
 * RM_EDATA_TRUNCATED (a gzip stream cut short), RM_ENOMEM;
 * diag gives "line N: ...". */
rm_err rm_libsvm_read(const char *path, size_t features, rm_dataset *out,
                      rm_diag *diag);

/* Reads a CSV file of numbers: one row per line, comma separated, the label
 * in column `label_col` (negative counts from the end: -1 is the last). A
 * first line that is not numeric is taken as a header and skipped. Every row
 * must have the same number of columns (at least 2). Labels must be
 * integers 0..K-1. No quoting; blank lines are skipped.
 * Errors: as rm_libsvm_read, plus RM_EDATA_SHAPE for a ragged row, a label
 * column outside the row, or no data rows; diag gives "line N: ..." or
 * "line N, column C: ...". */
rm_err rm_csv_read(const char *path, int label_col, rm_dataset *out,
                   rm_diag *diag);

/* Reads the Fashion-MNIST (or MNIST) IDX files from a directory holding
 * train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
 * t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]; 10 classes.
 * Errors: those of rm_idx_read_pair (RM_ENOENT when neither NAME nor
 * NAME.gz exists), RM_EMISMATCH when train and test rows differ in width,
 * RM_EINVAL for a path too long. diag names the file that failed. */
rm_err rm_mnist_read_dir(const char *dir, rm_dataset *train, rm_dataset *test,
                         rm_diag *diag);

/* ---- cutting up -------------------------------------------------------- */

/* Splits ds into train and test rows by a seeded shuffle; test gets
 * round(n * test_fraction) rows; both keep the rows in their order in ds.
 * Errors: RM_EINVAL (test_fraction outside [0, 1]), RM_ENOMEM. */
rm_err rm_dataset_split(const rm_dataset *ds, double test_fraction, rm_rng *rng,
                        rm_dataset *train, rm_dataset *test);

typedef enum { RM_SHARD_IID = 1, RM_SHARD_LABEL_SKEW = 2 } rm_shard_kind;

/* Assigns every row of ds to one of `peers` shards. IID: a seeded shuffle cut
 * into near-equal parts. LABEL_SKEW: for each class, shares over the peers
 * are drawn from Dirichlet(alpha) and that class's rows are dealt out in
 * those shares (Hsu et al. 2019); smaller alpha, more skew. On success
 * shard_of[i] is row i's shard; a shard may be empty. Deterministic for the
 * state of rng. O(n + classes * peers).
 * Errors: RM_EINVAL (peers 0, unknown kind, alpha not > 0, a label outside
 * 0..classes-1), RM_ENOMEM. */
rm_err rm_dataset_shard(const rm_dataset *ds, uint32_t peers,
                        rm_shard_kind kind, double alpha, rm_rng *rng,
                        uint32_t *shard_of);

/* The rows of shard `which` as a new dataset, in row order (n 0 if none).
 * Errors: RM_ENOMEM. */
rm_err rm_dataset_take_shard(const rm_dataset *ds, const uint32_t *shard_of,
                             uint32_t which, rm_dataset *out);

/* ---- reading only some rows (models/idx_rows.c) ------------------------ */

/* Reads an IDX labels file (unsigned bytes, 1 dimension) as a dataset of
 * labels only: n rows, d 0, no feature buffer, scale 1/255; `classes` 0
 * means 1 + the largest label. It is all rm_dataset_shard needs (it looks
 * at n, classes and y only), so a node can choose its rows before it reads
 * a single image. Errors: those of rm_idx_read, RM_EDATA_SHAPE,
 * RM_EDATA_LABEL, RM_ENOMEM; diag names the file. */
rm_err rm_idx_read_labels(const char *labels_path, uint32_t classes,
                          rm_dataset *out, rm_diag *diag);

/* Reads rows idx[0..m) (strictly increasing) of an IDX images + labels
 * pair: the dataset that rm_idx_read_pair followed by rm_dataset_subset
 * gives, but the images are streamed once (plain or gzip) and only the m
 * rows are kept, so memory is m rows plus 64 KiB, not the whole file. The
 * file is still read to its end and checked as rm_idx_read_pair checks it.
 * Errors: those of rm_idx_read_pair, RM_ERANGE (an index not below the
 * row count, or not increasing); diag names the file. O(file) time. */
rm_err rm_idx_read_pair_rows(const char *images_path, const char *labels_path,
                             uint32_t classes, const uint32_t *idx, size_t m,
                             rm_dataset *out, rm_diag *diag);

typedef enum { RM_MNIST_TRAIN = 0, RM_MNIST_TEST = 1 } rm_mnist_split;

/* The images and labels paths (cap bytes each) of one split of an MNIST
 * folder, as rm_mnist_read_dir finds them: NAME, else NAME.gz.
 * Errors: RM_ENOENT (neither exists), RM_EINVAL (a path too long). */
rm_err rm_mnist_paths(const char *dir, rm_mnist_split split, char *images,
                      char *labels, size_t cap, rm_diag *diag);

#endif
