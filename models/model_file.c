/* rumor: the portable model file (model_file.h, docs/MODEL_FILE.md).
 *
 *   offset   bytes  field
 *   0        8      magic "RUMORMDL"
 *   8        4      u32 format version (1)
 *   12       4      u32 descriptor length D (1..127)
 *   16       D      descriptor, printable ASCII without blanks
 *   16+D     8      u64 payload length P (<= 1 GiB)
 *   24+D     P      payload
 *   24+D+P   4      u32 CRC-32 (zlib's) of bytes [0, 24+D+P)
 *
 * Integers are little-endian; the file is exactly 28 + D + P bytes. */
#define _POSIX_C_SOURCE 200809L

#include "models/model_file.h"

#include "base/le.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const uint8_t magic[8] = {'R', 'U', 'M', 'O', 'R', 'M', 'D', 'L'};

enum { FIXED_HEAD = 16, LEN_FIELD = 8, CRC_FIELD = 4 };

/* zlib's crc32 takes a uInt length: feed it in 1 GiB pieces. */
static uLong crc_add(uLong crc, const void *buf, size_t len) {
    const Bytef *p = buf;
    while (len > 0) {
        uInt k = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = crc32(crc, p, k);
        p += k;
        len -= k;
    }
    return crc;
}

static int descriptor_ok(const char *s, size_t n) {
    if (n == 0 || n > RM_MODEL_FILE_DESCRIPTOR_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return 0;
    return 1;
}

static int write_all(int fd, const void *buf, size_t len) {
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t k = write(fd, p, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

/* Flushes the folder that holds path, so that the rename is durable too.
 * Best effort: some file systems refuse fsync on a folder. */
static void sync_parent(const char *path) {
    char dir[4096] = ".";
    const char *slash = strrchr(path, '/');
    if (slash) {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        if (n >= sizeof dir)
            return;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

rm_err rm_model_file_save(const char *path, const char *descriptor,
                          const void *payload, size_t len, rm_diag *d) {
    size_t dn = strlen(descriptor);
    if (!descriptor_ok(descriptor, dn))
        return rm_diag_set(d, RM_EINVAL,
                           "%s: descriptor '%.40s' is not 1..%d printable "
                           "characters without blanks", path, descriptor,
                           RM_MODEL_FILE_DESCRIPTOR_MAX);
    if ((uint64_t)len > RM_MODEL_FILE_PAYLOAD_MAX)
        return rm_diag_set(d, RM_ETOO_LARGE,
                           "%s: a payload of %zu bytes exceeds the maximum of "
                           "%llu", path, len, RM_MODEL_FILE_PAYLOAD_MAX);
    uint8_t head[FIXED_HEAD + RM_MODEL_FILE_DESCRIPTOR_MAX + LEN_FIELD];
    memcpy(head, magic, 8);
    rm_le_put32(head + 8, RM_MODEL_FILE_VERSION);
    rm_le_put32(head + 12, (uint32_t)dn);
    memcpy(head + FIXED_HEAD, descriptor, dn);
    rm_le_put64(head + FIXED_HEAD + dn, (uint64_t)len);
    size_t hn = FIXED_HEAD + dn + LEN_FIELD;
    uint8_t tail[CRC_FIELD];
    rm_le_put32(tail, (uint32_t)crc_add(crc_add(crc32(0L, Z_NULL, 0), head, hn),
                                    payload, len));

    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= sizeof tmp)
        return rm_diag_set(d, RM_EINVAL, "%.64s...: path is too long", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        return rm_diag_set(d, e == ENOENT ? RM_ENOENT : RM_EIO,
                           "%s: cannot create a file beside it: %s", path,
                           strerror(e));
    }
    if (write_all(fd, head, hn) || write_all(fd, payload, len) ||
        write_all(fd, tail, sizeof tail) || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return rm_diag_set(d, RM_EIO, "%s: cannot write it: %s", tmp,
                           strerror(e));
    }
    /* mkstemp makes the file 0600; a model is not a secret. */
    fchmod(fd, 0644);
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return rm_diag_set(d, RM_EIO, "%s: cannot write it: %s", path,
                           strerror(e));
    }
    sync_parent(path);
    return RM_OK;
}

/* Reads exactly len bytes; 0, or -1 on an I/O error. The file's size
 * was checked beforehand, so a short read is an I/O error (the file
 * shrank while it was read). */
static int read_all(FILE *f, void *buf, size_t len) {
    return fread(buf, 1, len, f) == len ? 0 : -1;
}

rm_err rm_model_file_load(const char *path, char descriptor[128],
                          uint8_t **payload, size_t *len, rm_diag *d) {
    *payload = NULL;
    *len = 0;
    descriptor[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        return rm_diag_set(d, e == ENOENT ? RM_ENOENT : RM_EIO, "%s: %s", path,
                           strerror(e));
    }
    rm_err err = RM_OK;
    uint8_t head[FIXED_HEAD + RM_MODEL_FILE_DESCRIPTOR_MAX + LEN_FIELD];
    uint8_t *body = NULL;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        err = rm_diag_set(d, RM_EIO, "%s: not a regular file", path);
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    /* The magic first, on whatever is there: a file cut inside its
     * magic is truncated, one with other bytes is not a model file. */
    size_t have = size < 8 ? (size_t)size : 8;
    if (read_all(f, head, have))
        goto io;
    if (memcmp(head, magic, have) != 0) {
        err = rm_diag_set(d, RM_EMODEL_FILE_MAGIC,
                          "%s: bad magic: not a rumor model file", path);
        goto out;
    }
    if (size < FIXED_HEAD) {
        err = rm_diag_set(d, RM_EMODEL_FILE_TRUNCATED,
                          "%s: truncated: %llu bytes, shorter than the "
                          "header", path, (unsigned long long)size);
        goto out;
    }
    if (read_all(f, head + 8, FIXED_HEAD - 8))
        goto io;
    uint32_t version = rm_le_get32(head + 8);
    if (version != RM_MODEL_FILE_VERSION) {
        err = rm_diag_set(d, RM_EMODEL_FILE_VERSION,
                          "%s: unknown format version %u (this rumor reads "
                          "version %d)", path, version, RM_MODEL_FILE_VERSION);
        goto out;
    }
    uint32_t dn = rm_le_get32(head + 12);
    if (dn == 0 || dn > RM_MODEL_FILE_DESCRIPTOR_MAX) {
        err = rm_diag_set(d, RM_EMODEL_FILE_MALFORMED,
                          "%s: malformed header: a descriptor of %u bytes "
                          "(1..%d allowed)", path, dn,
                          RM_MODEL_FILE_DESCRIPTOR_MAX);
        goto out;
    }
    uint64_t hn = FIXED_HEAD + (uint64_t)dn + LEN_FIELD;
    if (size < hn) {
        err = rm_diag_set(d, RM_EMODEL_FILE_TRUNCATED,
                          "%s: truncated: %llu bytes, shorter than its "
                          "header", path, (unsigned long long)size);
        goto out;
    }
    if (read_all(f, head + FIXED_HEAD, dn + LEN_FIELD))
        goto io;
    if (!descriptor_ok((const char *)head + FIXED_HEAD, dn)) {
        err = rm_diag_set(d, RM_EMODEL_FILE_MALFORMED,
                          "%s: malformed header: the descriptor holds a "
                          "byte that is not printable ASCII", path);
        goto out;
    }
    uint64_t pn = rm_le_get64(head + FIXED_HEAD + dn);
    if (pn > RM_MODEL_FILE_PAYLOAD_MAX) {
        err = rm_diag_set(d, RM_ETOO_LARGE,
                          "%s: declares a payload of %llu bytes, above the "
                          "maximum of %llu", path, (unsigned long long)pn,
                          RM_MODEL_FILE_PAYLOAD_MAX);
        goto out;
    }
    uint64_t want = hn + pn + CRC_FIELD;
    if (size != want) {
        err = rm_diag_set(d, size < want ? RM_EMODEL_FILE_TRUNCATED
                                         : RM_EMODEL_FILE_TRAILING,
                          "%s: %s: %llu bytes, the header declares %llu", path,
                          size < want ? "truncated" : "bytes after the end",
                          (unsigned long long)size, (unsigned long long)want);
        goto out;
    }
    /* Only now, with the length bounded and backed by the file's bytes. */
    if (!(body = malloc(pn ? (size_t)pn : 1))) {
        err = rm_diag_set(d, RM_ENOMEM, "%s: out of memory for %llu bytes",
                          path, (unsigned long long)pn);
        goto out;
    }
    uint8_t tail[CRC_FIELD];
    if (read_all(f, body, (size_t)pn) || read_all(f, tail, CRC_FIELD))
        goto io;
    uLong crc = crc_add(crc_add(crc32(0L, Z_NULL, 0), head, (size_t)hn), body,
                        (size_t)pn);
    if ((uint32_t)crc != rm_le_get32(tail)) {
        err = rm_diag_set(d, RM_EMODEL_FILE_CHECKSUM,
                          "%s: checksum mismatch (CRC-32 %08x, the file says "
                          "%08x): the file is corrupt", path, (unsigned)crc,
                          rm_le_get32(tail));
        goto out;
    }
    memcpy(descriptor, head + FIXED_HEAD, dn);
    descriptor[dn] = '\0';
    *payload = body;
    *len = (size_t)pn;
    body = NULL;
    goto out;
io:
    err = rm_diag_set(d, RM_EIO, "%s: read error: %s", path,
                      ferror(f) ? strerror(errno) : "the file changed size");
out:
    free(body);
    fclose(f);
    return err;
}

rm_err rm_model_file_save_params(const char *path, const char *descriptor,
                                 const float *params, size_t n, rm_diag *d) {
    if (n > RM_MODEL_FILE_PAYLOAD_MAX / 4)
        return rm_diag_set(d, RM_ETOO_LARGE, "%s: %zu parameters are too many",
                           path, n);
    uint8_t *buf = malloc(n ? n * 4 : 1);
    if (!buf)
        return rm_diag_set(d, RM_ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++)
        rm_le_putf32(buf + 4 * i, params[i]);
    rm_err err = rm_model_file_save(path, descriptor, buf, n * 4, d);
    free(buf);
    return err;
}

rm_err rm_model_file_mlp(const char *descriptor, const uint8_t *payload,
                         size_t len, int batch_max, rm_mlp **out, rm_diag *d) {
    *out = NULL;
    rm_mlp_spec spec;
    rm_err err = rm_mlp_spec_parse(descriptor, &spec, d);
    if (err)
        return err;
    size_t n = rm_mlp_spec_nparams(&spec);
    if (len != n * 4)
        return rm_diag_set(d, RM_EMISMATCH,
                           "'%s' has %zu parameters (%zu bytes) but the "
                           "payload holds %zu bytes", descriptor, n, n * 4, len);
    if ((err = rm_mlp_create(out, &spec, 0.0f, batch_max)))
        return rm_diag_set(d, err, "'%s': %s", descriptor, rm_strerror(err));
    for (size_t i = 0; i < n; i++)
        (*out)->params[i] = rm_le_getf32(payload + 4 * i);
    return RM_OK;
}
