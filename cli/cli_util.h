/* rumor CLI: what every subcommand shares: clocks, flag values, data
 * loading with errors that name the file, a progress bar, JSON output. */
#ifndef RM_CLI_UTIL_H
#define RM_CLI_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "models/dataset.h"

/* Exit codes of every subcommand. */
enum { RM_EXIT_OK = 0, RM_EXIT_FAIL = 1, RM_EXIT_USAGE = 2 };

/* Where `--data fashion-mnist` points: Debian's dataset-fashion-mnist. */
#define RM_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Monotonic seconds. */
double rm_cli_now(void);

/* Peak resident set size of this process, in MiB. */
double rm_cli_peak_rss_mb(void);

/* Prints "rumor CMD: " + the formatted message to stderr. */
__attribute__((format(printf, 2, 3))) void rm_cli_error(const char *cmd,
                                                        const char *fmt, ...);

/* Flag value parsers: on a bad value they print which flag and why, and
 * return false. */
bool rm_cli_parse_u64(const char *cmd, const char *flag, const char *s,
                      uint64_t min, uint64_t max, uint64_t *out);
bool rm_cli_parse_float(const char *cmd, const char *flag, const char *s,
                        double min, double max, float *out);

/* Loads a training set and a test set. `data` is "fashion-mnist" (or
 * "mnist:DIR", or a directory) for the IDX files, or a .csv / libsvm file.
 * `test_path` is a second file for the test set; without one, IDX
 * directories use their t10k files and other files hold out
 * `test_fraction` of the rows by a seeded split. Prints an error naming the
 * file on failure. */
bool rm_cli_load_data(const char *cmd, const char *data, const char *test_path,
                      double test_fraction, uint64_t seed, rm_dataset *train,
                      rm_dataset *test);

/* Which rows rm_cli_load_rows reads from an IDX directory. */
typedef enum { RM_CLI_ROWS_TRAIN = 0, RM_CLI_ROWS_TEST = 1 } rm_cli_rows;

/* Loads one set of rows from src (anything rm_cli_load_data takes): an
 * IDX directory gives its training set or its test (t10k) set; a CSV or
 * libsvm file gives every row it has, whichever is asked. `features`
 * fixes a libsvm file's width (0: its largest index), so that a file whose
 * last features happen to be zero still fits a model. Prints an error
 * naming the file on failure. */
bool rm_cli_load_rows(const char *cmd, const char *src, rm_cli_rows which,
                      size_t features, rm_dataset *out);

/* Creates dir and any missing parents (like mkdir -p). Prints an error
 * naming the folder and returns false when it cannot. */
bool rm_cli_mkdirs(const char *cmd, const char *dir);

/* Makes a fresh private folder $TMPDIR/rumor-WHAT-XXXXXX into buf. */
bool rm_cli_tmpdir(const char *cmd, const char *what, char *buf, size_t len);

/* Removes a folder and everything under it (as rm -rf); quiet. */
void rm_cli_rmtree(const char *dir);

/* A one-line progress bar on a terminal; silent when stdout is not one. */
typedef struct {
    bool on;
    double last_draw;
} rm_progress;

void rm_progress_init(rm_progress *p);
/* Redraws at most 10 times a second: "[#####.....] 52%  text". */
void rm_progress_draw(rm_progress *p, double frac, const char *text);
/* Clears the bar so the next line prints cleanly. */
void rm_progress_clear(rm_progress *p);

#endif
