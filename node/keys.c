/* rumor: long-term identity keys, key files and the allow-list (keys.h). */
#define _POSIX_C_SOURCE 200809L

#include "node/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#define KEYFILE_HEADER "rumor-key v1"
#define ALLOW_LINE_MAX 1024

static rm_err sodium_ready(void) {
    return sodium_init() < 0 ? RM_EIO : RM_OK;
}

/* ---- keys */

rm_err rm_keypair_from_secret(rm_keypair *kp, const uint8_t sk[RM_KEY_BYTES]) {
    rm_err err = sodium_ready();
    if (err)
        return err;
    uint8_t pk[RM_KEY_BYTES];
    /* Fails only when the result is all-zero, which no clamped scalar
     * gives with the base point; checked all the same. */
    if (crypto_scalarmult_base(pk, sk) != 0 || rm_key_is_weak(pk))
        return RM_ECHAN_BAD_KEY;
    memmove(kp->sk, sk, RM_KEY_BYTES); /* sk may alias kp->sk */
    memcpy(kp->pk, pk, RM_KEY_BYTES);
    return RM_OK;
}

rm_err rm_keypair_generate(rm_keypair *kp) {
    rm_err err = sodium_ready();
    if (err)
        return err;
    uint8_t sk[RM_KEY_BYTES];
    randombytes_buf(sk, sizeof sk);
    err = rm_keypair_from_secret(kp, sk);
    sodium_memzero(sk, sizeof sk);
    return err;
}

void rm_keypair_wipe(rm_keypair *kp) {
    sodium_memzero(kp, sizeof *kp);
}

/* Every encoding of a point of order 1, 2, 4 or 8 on Curve25519 and its
 * twist, with the top bit cleared (X25519 ignores it): the list from
 * https://cr.yp.to/ecdh.html that libsodium's has_small_order() uses.
 * tests/test_channel.c checks that X25519 gives all-zero with each one. */
static const uint8_t weak_keys[7][RM_KEY_BYTES] = {
    /* 0 (order 4) */
    {0},
    /* 1 (order 1) */
    {1},
    /* order 8 */
    {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
     0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
     0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
    /* order 8 */
    {0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1,
     0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c,
     0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
    /* p - 1 (order 2) */
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    /* p, a second encoding of 0 */
    {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    /* p + 1, a second encoding of 1 */
    {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
};

bool rm_key_is_weak(const uint8_t pk[RM_KEY_BYTES]) {
    /* Public keys are not secret, but the loop runs in constant time all
     * the same: it costs nothing and keeps the function safe to reuse. */
    unsigned hit = 0;
    for (size_t j = 0; j < 7; j++) {
        unsigned diff = 0;
        for (size_t i = 0; i < RM_KEY_BYTES - 1; i++)
            diff |= pk[i] ^ weak_keys[j][i];
        diff |= (pk[RM_KEY_BYTES - 1] & 0x7fu) ^ weak_keys[j][RM_KEY_BYTES - 1];
        hit |= (diff - 1u) >> 8 & 1u; /* 1 when diff == 0 */
    }
    return hit != 0;
}

void rm_key_to_hex(char out[RM_KEY_HEX_CHARS + 1], const uint8_t pk[RM_KEY_BYTES]) {
    sodium_bin2hex(out, RM_KEY_HEX_CHARS + 1, pk, RM_KEY_BYTES);
}

void rm_key_to_base64(char out[RM_KEY_B64_CHARS + 1], const uint8_t pk[RM_KEY_BYTES]) {
    sodium_bin2base64(out, RM_KEY_B64_CHARS + 1, pk, RM_KEY_BYTES,
                      sodium_base64_VARIANT_ORIGINAL);
}

void rm_key_fingerprint(char out[RM_KEY_FP_CHARS + 1], const uint8_t pk[RM_KEY_BYTES]) {
    sodium_bin2hex(out, RM_KEY_FP_CHARS + 1, pk, RM_KEY_FP_CHARS / 2);
}

rm_err rm_key_from_text(uint8_t pk[RM_KEY_BYTES], const char *text, size_t len) {
    uint8_t tmp[RM_KEY_BYTES];
    size_t bin_len = 0;
    const char *end = NULL;
    int rc = -1;
    if (len == RM_KEY_HEX_CHARS)
        rc = sodium_hex2bin(tmp, sizeof tmp, text, len, NULL, &bin_len, &end);
    else if (len == RM_KEY_B64_CHARS)
        rc = sodium_base642bin(tmp, sizeof tmp, text, len, NULL, &bin_len, &end,
                               sodium_base64_VARIANT_ORIGINAL);
    if (rc != 0 || bin_len != RM_KEY_BYTES || end != text + len)
        return RM_EKEY_SYNTAX;
    memcpy(pk, tmp, RM_KEY_BYTES);
    return RM_OK;
}

/* ---- key files */

static rm_err write_all(int fd, const char *buf, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return RM_EIO;
        buf += w;
        n -= (size_t)w;
    }
    return RM_OK;
}

rm_err rm_keyfile_write(const char *path, const rm_keypair *kp, rm_diag *d) {
    if (!path || !kp)
        return rm_diag_set(d, RM_EINVAL, "no key file path");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return rm_diag_set(d, RM_EEXISTS, "%s: already exists; a key file is never overwritten",
                               path);
        return rm_diag_set(d, errno == ENOENT ? RM_ENOENT : RM_EIO, "%s: cannot create: %s",
                           path, strerror(errno));
    }
    /* open's mode went through the umask, which may only have removed bits;
     * fchmod makes it exactly 0600 all the same. */
    char text[sizeof KEYFILE_HEADER + 2 * (8 + RM_KEY_HEX_CHARS) + 8];
    char hex[RM_KEY_HEX_CHARS + 1];
    rm_err err = RM_OK;
    if (fchmod(fd, 0600) != 0) {
        err = rm_diag_set(d, RM_EIO, "%s: cannot set mode 0600: %s", path, strerror(errno));
        goto err;
    }
    int n = snprintf(text, sizeof text, KEYFILE_HEADER "\nsecret ");
    sodium_bin2hex(text + n, sizeof text - (size_t)n, kp->sk, RM_KEY_BYTES);
    n += RM_KEY_HEX_CHARS;
    rm_key_to_hex(hex, kp->pk);
    n += snprintf(text + n, sizeof text - (size_t)n, "\npublic %s\n", hex);
    if (write_all(fd, text, (size_t)n) != RM_OK || fsync(fd) != 0) {
        err = rm_diag_set(d, RM_EIO, "%s: cannot write: %s", path, strerror(errno));
        goto err;
    }
    sodium_memzero(text, sizeof text);
    if (close(fd) != 0) {
        fd = -1;
        err = rm_diag_set(d, RM_EIO, "%s: cannot close: %s", path, strerror(errno));
        goto err;
    }
    return RM_OK;
err:
    sodium_memzero(text, sizeof text);
    if (fd >= 0)
        close(fd);
    unlink(path);
    return err;
}

/* Cuts the next line out of [*p, end): sets *line and *len (without the
 * "\n" or "\r\n") and moves *p past it. False at the end of the text. */
static bool next_line(const char **p, const char *end, const char **line, size_t *len) {
    if (*p >= end)
        return false;
    const char *s = *p;
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *stop = nl ? nl : end;
    *p = nl ? nl + 1 : end;
    if (stop > s && stop[-1] == '\r')
        stop--;
    *line = s;
    *len = (size_t)(stop - s);
    return true;
}

/* "LABEL <64 hex digits>" into out. */
static bool parse_labeled_hex(uint8_t out[RM_KEY_BYTES], const char *label,
                              const char *line, size_t len) {
    size_t ll = strlen(label);
    if (len != ll + 1 + RM_KEY_HEX_CHARS || memcmp(line, label, ll) != 0 || line[ll] != ' ')
        return false;
    size_t bin_len = 0;
    const char *end = NULL;
    return sodium_hex2bin(out, RM_KEY_BYTES, line + ll + 1, RM_KEY_HEX_CHARS, NULL,
                          &bin_len, &end) == 0 &&
           bin_len == RM_KEY_BYTES && end == line + len;
}

static rm_err parse_keyfile(rm_keypair *kp, const char *text, size_t size, const char *path,
                            rm_diag *d) {
    const char *p = text, *end = text + size, *line;
    size_t len;
    uint8_t pk[RM_KEY_BYTES];
    if (!next_line(&p, end, &line, &len) || len != strlen(KEYFILE_HEADER) ||
        memcmp(line, KEYFILE_HEADER, len) != 0)
        return rm_diag_set(d, RM_EKEY_SYNTAX, "%s:1: expected '" KEYFILE_HEADER
                           "' (is this a rumor key file?)", path);
    if (!next_line(&p, end, &line, &len) || !parse_labeled_hex(kp->sk, "secret", line, len))
        return rm_diag_set(d, RM_EKEY_SYNTAX, "%s:2: expected 'secret' and 64 hex digits", path);
    if (!next_line(&p, end, &line, &len) || !parse_labeled_hex(pk, "public", line, len))
        return rm_diag_set(d, RM_EKEY_SYNTAX, "%s:3: expected 'public' and 64 hex digits", path);
    if (p != end)
        return rm_diag_set(d, RM_EKEY_SYNTAX, "%s:4: unexpected text after the public key",
                           path);
    if (rm_keypair_from_secret(kp, kp->sk) != RM_OK)
        return rm_diag_set(d, RM_EKEY_SYNTAX, "%s:2: the secret key is unusable", path);
    if (sodium_memcmp(pk, kp->pk, RM_KEY_BYTES) != 0)
        return rm_diag_set(d, RM_EKEY_SYNTAX, "%s:3: public key does not match the secret key",
                           path);
    return RM_OK;
}

rm_err rm_keyfile_read(rm_keypair *kp, const char *path, rm_diag *d) {
    char buf[RM_KEYFILE_BYTES_MAX + 1];
    size_t size = 0;
    rm_err err = sodium_ready();
    sodium_memzero(kp, sizeof *kp);
    if (err)
        return rm_diag_set(d, err, "libsodium cannot initialise");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rm_diag_set(d, errno == ENOENT ? RM_ENOENT : RM_EIO, "%s: cannot open: %s", path,
                           strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        err = rm_diag_set(d, RM_EIO, "%s: not a regular file", path);
        goto out;
    }
    if (st.st_mode & 077) {
        err = rm_diag_set(d, RM_EKEY_PERMS,
                          "%s: mode %03o lets other users at the secret key; chmod 600 it", path,
                          (unsigned)(st.st_mode & 0777));
        goto out;
    }
    if (st.st_size > RM_KEYFILE_BYTES_MAX) {
        err = rm_diag_set(d, RM_ETOO_LARGE, "%s: %lld bytes, a key file has at most %d", path,
                          (long long)st.st_size, RM_KEYFILE_BYTES_MAX);
        goto out;
    }
    while (size < sizeof buf) { /* one byte more than allowed: growth is caught */
        ssize_t r = read(fd, buf + size, sizeof buf - size);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = rm_diag_set(d, RM_EIO, "%s: cannot read: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        size += (size_t)r;
    }
    if (size > RM_KEYFILE_BYTES_MAX)
        err = rm_diag_set(d, RM_ETOO_LARGE, "%s: more than %d bytes", path,
                          RM_KEYFILE_BYTES_MAX);
    else
        err = parse_keyfile(kp, buf, size, path, d);
out:
    close(fd);
    sodium_memzero(buf, sizeof buf);
    if (err)
        sodium_memzero(kp, sizeof *kp);
    return err;
}

/* ---- the allow-list: a sorted array of keys */

struct rm_keyset {
    uint8_t (*keys)[RM_KEY_BYTES];
    size_t n, cap;
};

rm_keyset *rm_keyset_new(void) {
    return calloc(1, sizeof(rm_keyset));
}

void rm_keyset_free(rm_keyset *ks) {
    if (!ks)
        return;
    free(ks->keys);
    free(ks);
}

/* Index of the first key >= pk. O(log n). */
static size_t lower_bound(const rm_keyset *ks, const uint8_t pk[RM_KEY_BYTES]) {
    size_t lo = 0, hi = ks->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(ks->keys[mid], pk, RM_KEY_BYTES) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool rm_keyset_contains(const rm_keyset *ks, const uint8_t pk[RM_KEY_BYTES]) {
    size_t i = lower_bound(ks, pk);
    return i < ks->n && memcmp(ks->keys[i], pk, RM_KEY_BYTES) == 0;
}

size_t rm_keyset_count(const rm_keyset *ks) {
    return ks->n;
}

rm_err rm_keyset_add(rm_keyset *ks, const uint8_t pk[RM_KEY_BYTES]) {
    if (rm_key_is_weak(pk))
        return RM_ECHAN_BAD_KEY;
    size_t i = lower_bound(ks, pk);
    if (i < ks->n && memcmp(ks->keys[i], pk, RM_KEY_BYTES) == 0)
        return RM_OK;
    if (ks->n >= RM_KEYSET_MAX)
        return RM_ETOO_LARGE;
    if (ks->n == ks->cap) {
        size_t cap = ks->cap ? 2 * ks->cap : 16;
        if (cap > RM_KEYSET_MAX)
            cap = RM_KEYSET_MAX;
        void *keys = realloc(ks->keys, cap * RM_KEY_BYTES);
        if (!keys)
            return RM_ENOMEM;
        ks->keys = keys;
        ks->cap = cap;
    }
    memmove(ks->keys[i + 1], ks->keys[i], (ks->n - i) * RM_KEY_BYTES);
    memcpy(ks->keys[i], pk, RM_KEY_BYTES);
    ks->n++;
    return RM_OK;
}

static bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

/* One line of an allow-list (without its "\n") into ks. */
static rm_err load_line(rm_keyset *ks, const char *line, size_t len, const char *path,
                        size_t lineno, rm_diag *d) {
    size_t i = 0;
    while (i < len && is_blank(line[i]))
        i++;
    if (i == len || line[i] == '#')
        return RM_OK;
    size_t start = i;
    while (i < len && !is_blank(line[i]))
        i++;
    uint8_t pk[RM_KEY_BYTES];
    if (rm_key_from_text(pk, line + start, i - start) != RM_OK)
        return rm_diag_set(d, RM_EKEY_SYNTAX,
                           "%s:%zu: expected a public key (64 hex digits or 44 base64 "
                           "characters), found '%.*s'",
                           path, lineno, (int)(i - start > 24 ? 24 : i - start), line + start);
    rm_err err = rm_keyset_add(ks, pk);
    if (err == RM_ECHAN_BAD_KEY)
        return rm_diag_set(d, err, "%s:%zu: low-order or all-zero key refused", path, lineno);
    if (err)
        return rm_diag_set(d, err, "%s:%zu: %s", path, lineno, rm_strerror(err));
    return RM_OK;
}

rm_err rm_keyset_load(rm_keyset **out, const char *path, rm_diag *d) {
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return rm_diag_set(d, errno == ENOENT ? RM_ENOENT : RM_EIO, "%s: cannot open: %s", path,
                           strerror(errno));
    rm_keyset *ks = rm_keyset_new();
    rm_err err = ks ? RM_OK : rm_diag_set(d, RM_ENOMEM, "%s: out of memory", path);
    char line[ALLOW_LINE_MAX + 2]; /* the line, its "\n" and the NUL */
    size_t lineno = 0;
    while (!err && fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] == '\n')
            len--;
        else if (len > ALLOW_LINE_MAX)
            err = rm_diag_set(d, RM_EKEY_SYNTAX, "%s:%zu: line longer than %d bytes", path,
                              lineno, ALLOW_LINE_MAX);
        else if (!feof(f)) /* fgets stopped at neither "\n" nor the end: a NUL */
            err = rm_diag_set(d, RM_EKEY_SYNTAX, "%s:%zu: NUL byte in the line", path, lineno);
        if (!err)
            err = load_line(ks, line, len, path, lineno, d);
    }
    if (!err && ferror(f))
        err = rm_diag_set(d, RM_EIO, "%s: cannot read", path);
    fclose(f);
    if (err) {
        rm_keyset_free(ks);
        return err;
    }
    *out = ks;
    return RM_OK;
}
