#include "cli/cli_util.h"

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

double rm_cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double rm_cli_peak_rss_mb(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0.0;
    return (double)ru.ru_maxrss / 1024.0; /* Linux reports KiB */
}

void rm_cli_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "rumor %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

bool rm_cli_parse_u64(const char *cmd, const char *flag, const char *s,
                      uint64_t min, uint64_t max, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end != '\0' || s[0] == '-' || v < min || v > max) {
        rm_cli_error(cmd, "%s: '%s' is not a whole number in %llu..%llu", flag,
                     s, (unsigned long long)min, (unsigned long long)max);
        return false;
    }
    *out = v;
    return true;
}

bool rm_cli_parse_float(const char *cmd, const char *flag, const char *s,
                        double min, double max, float *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v) || v < min || v > max) {
        rm_cli_error(cmd, "%s: '%s' is not a number in [%g, %g]", flag, s, min,
                     max);
        return false;
    }
    *out = (float)v;
    return true;
}

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Reads one CSV or libsvm file, chosen by its name; `features` fixes a
 * libsvm file's width (0: its largest index). */
static bool load_file(const char *cmd, const char *path, size_t features,
                      rm_dataset *out) {
    rm_diag diag = {{0}};
    rm_err err;
    if (ends_with(path, ".csv") || ends_with(path, ".csv.gz"))
        err = rm_csv_read(path, 0, out, &diag);
    else
        err = rm_libsvm_read(path, features, out, &diag);
    if (err) {
        rm_cli_error(cmd, "%s: %s%s%s", path, rm_strerror(err),
                     diag.msg[0] ? ": " : "", diag.msg);
        return false;
    }
    return true;
}

bool rm_cli_load_data(const char *cmd, const char *data, const char *test_path,
                      double test_fraction, uint64_t seed, rm_dataset *train,
                      rm_dataset *test) {
    rm_diag diag = {{0}};
    const char *dir = NULL;
    if (strcmp(data, "fashion-mnist") == 0)
        dir = RM_FASHION_MNIST_DIR;
    else if (strncmp(data, "mnist:", 6) == 0)
        dir = data + 6;
    else if (is_dir(data))
        dir = data;
    if (dir) {
        rm_err err = rm_mnist_read_dir(dir, train, test, &diag);
        if (err) {
            rm_cli_error(cmd, "%s%s%s", diag.msg[0] ? diag.msg : dir,
                         diag.msg[0] ? "" : ": ", diag.msg[0] ? "" : rm_strerror(err));
            if (strcmp(data, "fashion-mnist") == 0 && err == RM_ENOENT)
                fprintf(stderr, "  (install it with: apt-get install dataset-fashion-mnist)\n");
            return false;
        }
        if (test_path) {
            rm_dataset_free(test);
            if (!load_file(cmd, test_path, train->d, test)) {
                rm_dataset_free(train);
                return false;
            }
        }
        return true;
    }
    /* A libsvm test file whose last features are all zero is still as
     * wide as the training set. */
    if (test_path)
        return load_file(cmd, data, 0, train) &&
               load_file(cmd, test_path, train->d, test);
    rm_dataset all = {0};
    if (!load_file(cmd, data, 0, &all))
        return false;
    rm_rng rng;
    rm_rng_seed_stream(&rng, seed, 0x5eed5);
    rm_err err = rm_dataset_split(&all, test_fraction, &rng, train, test);
    rm_dataset_free(&all);
    if (err) {
        rm_cli_error(cmd, "%s: cannot split off a test set: %s", data,
                     rm_strerror(err));
        return false;
    }
    return true;
}

bool rm_cli_load_rows(const char *cmd, const char *src, rm_cli_rows which,
                      size_t features, rm_dataset *out) {
    const char *dir = NULL;
    if (strcmp(src, "fashion-mnist") == 0)
        dir = RM_FASHION_MNIST_DIR;
    else if (strncmp(src, "mnist:", 6) == 0)
        dir = src + 6;
    else if (is_dir(src))
        dir = src;
    if (!dir)
        return load_file(cmd, src, features, out);
    rm_dataset other = {0};
    bool ok = which == RM_CLI_ROWS_TEST
                  ? rm_cli_load_data(cmd, src, NULL, 0.1, 1, &other, out)
                  : rm_cli_load_data(cmd, src, NULL, 0.1, 1, out, &other);
    rm_dataset_free(&other);
    return ok;
}

bool rm_cli_mkdirs(const char *cmd, const char *dir) {
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path) {
        rm_cli_error(cmd, "'%s': not a usable folder name", dir);
        return false;
    }
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char keep = path[i];
        path[i] = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            rm_cli_error(cmd, "%s: cannot create it: %s", path, strerror(errno));
            return false;
        }
        path[i] = keep;
    }
    if (!is_dir(dir)) {
        rm_cli_error(cmd, "%s: exists and is not a folder", dir);
        return false;
    }
    return true;
}

void rm_progress_init(rm_progress *p) {
    p->on = isatty(STDOUT_FILENO) == 1;
    p->last_draw = 0.0;
}

void rm_progress_draw(rm_progress *p, double frac, const char *text) {
    if (!p->on)
        return;
    double now = rm_cli_now();
    if (now - p->last_draw < 0.1 && frac < 1.0)
        return;
    p->last_draw = now;
    enum { WIDTH = 30 };
    int fill = (int)(frac * WIDTH + 0.5);
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = '\0';
    printf("\r[%s] %3d%%  %s\033[K", bar, (int)(frac * 100.0 + 0.5), text);
    fflush(stdout);
}

void rm_progress_clear(rm_progress *p) {
    if (!p->on)
        return;
    printf("\r\033[K");
    fflush(stdout);
}

bool rm_cli_tmpdir(const char *cmd, const char *what, char *buf, size_t len) {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !tmp[0])
        tmp = "/tmp";
    if (snprintf(buf, len, "%s/rumor-%s-XXXXXX", tmp, what) >= (int)len) {
        rm_cli_error(cmd, "TMPDIR '%s' is too long", tmp);
        return false;
    }
    if (!mkdtemp(buf)) {
        rm_cli_error(cmd, "%s: cannot make a temporary folder: %s", buf, strerror(errno));
        return false;
    }
    return true;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

void rm_cli_rmtree(const char *dir) {
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}
