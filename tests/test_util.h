/* Helpers shared by the tests: scratch files under RUMOR_TMP and running
 * the rumor binary (RUMOR_BIN). Include after <cmocka.h>. */
#ifndef RM_TEST_UTIL_H
#define RM_TEST_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* RUMOR_TMP/name, in one of four static buffers (valid for the next three
 * calls too, so that two paths can be used in one expression). */
static inline const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", RUMOR_TMP, name);
    return buf[k];
}

/* Writes len bytes to RUMOR_TMP/name, gzip-compressed when gz; returns the
 * path. */
static inline const char *write_bytes(const char *name, const void *bytes,
                                      size_t len, int gz) {
    const char *path = tmp_path(name);
    gzFile f = gzopen(path, gz ? "wb" : "wbT"); /* T: plain, no gzip */
    assert_non_null(f);
    assert_int_equal(gzwrite(f, bytes, (unsigned)len), (int)len);
    assert_int_equal(gzclose(f), Z_OK);
    return path;
}

/* Writes a NUL-terminated text the same way. */
static inline const char *write_text(const char *name, const char *text, int gz) {
    return write_bytes(name, text, strlen(text), gz);
}

/* The number after "key": in a JSON line of text; fails the test when
 * there is none. */
static inline double json_number(const char *text, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *at = strstr(text, pat);
    if (!at)
        fail_msg("no %s in: %s", key, text);
    return strtod(at + strlen(pat), NULL);
}

#ifdef RUMOR_BIN
#include <sys/wait.h>

/* Runs `rumor ARGS` (ARGS formatted like printf) in a shell, stdout and
 * stderr into out; returns the exit status (-1 when it did not exit). */
static inline int run_rumor(char *out, size_t len, const char *fmt, ...) {
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", RUMOR_BIN, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
#endif

#endif
