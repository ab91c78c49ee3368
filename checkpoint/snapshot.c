/* The snapshot codec: explicit little-endian fields, tagged sections, and a
 * BLAKE2b-256 hash over everything before it (docs/CHECKPOINTS.md has the
 * byte layout). */
#include "checkpoint/snapshot.h"

#include "base/le.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

const uint8_t rm_snap_magic[RM_SNAP_MAGIC_BYTES] = {'R', 'M', 'S', 'N', 'A', 'P', 0, 1};

/* Fixed header offsets. */
enum {
    OFF_FORMAT = 8,
    OFF_OPT_KIND = 12,
    OFF_SAVED = 16,
    OFF_STEP = 24,
    OFF_EPOCH = 32,
    OFF_CURSOR = 40,
    OFF_INCARNATION = 48,
    OFF_RNG = 56,
    OFF_PEER_RNG = 88,
    OFF_OPT_T = 120,
    OFF_NPARAMS = 128,
    HEADER_BYTES = 136,
    SECTION_HEAD_BYTES = 12, /* tag u32, length u64 */
    /* header, the two required sections (model may be empty), hash */
    MIN_BYTES = HEADER_BYTES + 2 * SECTION_HEAD_BYTES + RM_SNAP_HASH_BYTES,
    ALIGN = 64, /* of each array in a decoded snapshot's block */
};

/* Section tags, in the order they must appear; each at most once. */
enum {
    TAG_MODEL = 1,
    TAG_PARAMS,
    TAG_OPT_M,
    TAG_OPT_V,
    TAG_ORDER,
    TAG_VIEW,
    TAG_BASES,
    TAG_EXTRA,
    TAG_END
};

static const char *const tag_name[TAG_END] = {
    "?", "model", "params", "opt_m", "opt_v", "order", "view", "bases", "extra",
};

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_LE 1
#else
#define HOST_LE 0
#endif

/* n 32-bit words (floats or u32) to little-endian bytes and back. On a
 * little-endian host that is a memcpy, the one copy a save makes. */
static void put_words(uint8_t *p, const void *v, uint64_t n) {
    if (HOST_LE) {
        memcpy(p, v, (size_t)n * 4);
        return;
    }
    const uint8_t *s = v;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, s + 4 * i, 4);
        rm_le_put32(p + 4 * i, u);
    }
}

static void get_words(void *v, const uint8_t *p, uint64_t n) {
    if (HOST_LE) {
        memcpy(v, p, (size_t)n * 4);
        return;
    }
    uint8_t *o = v;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t u = rm_le_get32(p + 4 * i);
        memcpy(o + 4 * i, &u, 4);
    }
}

/* ---- encode */

/* Bytes of each section's payload, 0 for an absent optional one; `present`
 * says which are written. Returns false when a length overflows. */
static bool section_lengths(const rm_snapshot *s, uint64_t len[TAG_END], bool present[TAG_END]) {
    memset(present, 0, TAG_END * sizeof present[0]);
    if (s->nparams > UINT64_MAX / 4 || s->norder > UINT64_MAX / 4)
        return false;
    const char *nul = memchr(s->model, 0, RM_SNAP_MODEL_MAX);
    len[TAG_MODEL] = nul ? (uint64_t)(nul - s->model) : RM_SNAP_MODEL_MAX;
    len[TAG_PARAMS] = s->nparams * 4;
    len[TAG_OPT_M] = len[TAG_OPT_V] = s->nparams * 4;
    len[TAG_ORDER] = s->norder * 4;
    len[TAG_VIEW] = s->view_len;
    len[TAG_BASES] = s->bases_len;
    len[TAG_EXTRA] = s->extra_len;
    present[TAG_MODEL] = present[TAG_PARAMS] = true;
    present[TAG_OPT_M] = s->opt_m != NULL;
    present[TAG_OPT_V] = s->opt_v != NULL;
    for (int t = TAG_ORDER; t < TAG_END; t++)
        present[t] = len[t] != 0;
    return true;
}

size_t rm_snapshot_size(const rm_snapshot *s) {
    uint64_t len[TAG_END];
    bool present[TAG_END];
    if (!section_lengths(s, len, present))
        return 0;
    uint64_t total = HEADER_BYTES + RM_SNAP_HASH_BYTES;
    for (int t = 1; t < TAG_END; t++) {
        if (!present[t])
            continue;
        if (len[t] > SIZE_MAX - SECTION_HEAD_BYTES - total)
            return 0;
        total += SECTION_HEAD_BYTES + len[t];
    }
    return (size_t)total;
}

/* The source bytes of section t, already checked to be present. */
static const void *section_src(const rm_snapshot *s, int t) {
    switch (t) {
    case TAG_MODEL:
        return s->model;
    case TAG_PARAMS:
        return s->params;
    case TAG_OPT_M:
        return s->opt_m;
    case TAG_OPT_V:
        return s->opt_v;
    case TAG_ORDER:
        return s->order;
    case TAG_VIEW:
        return s->view;
    case TAG_BASES:
        return s->bases;
    default:
        return s->extra;
    }
}

rm_err rm_snapshot_write(const rm_snapshot *s, uint8_t *buf, size_t len) {
    uint64_t slen[TAG_END];
    bool present[TAG_END];
    if (!s || !buf || !section_lengths(s, slen, present) || len != rm_snapshot_size(s) ||
        len == 0 || slen[TAG_MODEL] >= RM_SNAP_MODEL_MAX)
        return RM_EINVAL;
    for (int t = TAG_PARAMS; t < TAG_END; t++)
        if (present[t] && slen[t] != 0 && section_src(s, t) == NULL)
            return RM_EINVAL;

    memcpy(buf, rm_snap_magic, RM_SNAP_MAGIC_BYTES);
    rm_le_put32(buf + OFF_FORMAT, RM_SNAP_FORMAT);
    rm_le_put32(buf + OFF_OPT_KIND, s->opt_kind);
    rm_le_put64(buf + OFF_SAVED, s->saved_unix_ms);
    rm_le_put64(buf + OFF_STEP, s->step);
    rm_le_put64(buf + OFF_EPOCH, s->epoch);
    rm_le_put64(buf + OFF_CURSOR, s->cursor);
    rm_le_put64(buf + OFF_INCARNATION, s->incarnation);
    for (int i = 0; i < 4; i++) {
        rm_le_put64(buf + OFF_RNG + 8 * i, s->rng[i]);
        rm_le_put64(buf + OFF_PEER_RNG + 8 * i, s->peer_rng[i]);
    }
    rm_le_put64(buf + OFF_OPT_T, s->opt_t);
    rm_le_put64(buf + OFF_NPARAMS, s->nparams);

    size_t pos = HEADER_BYTES;
    for (int t = 1; t < TAG_END; t++) {
        if (!present[t])
            continue;
        rm_le_put32(buf + pos, (uint32_t)t);
        rm_le_put64(buf + pos + 4, slen[t]);
        pos += SECTION_HEAD_BYTES;
        if (slen[t] == 0) {
            /* nothing to copy: an empty model, or m and v of 0 params */
        } else if (t >= TAG_PARAMS && t <= TAG_ORDER) {
            put_words(buf + pos, section_src(s, t), slen[t] / 4);
        } else {
            memcpy(buf + pos, section_src(s, t), (size_t)slen[t]);
        }
        pos += (size_t)slen[t];
    }
    /* The hash reads the bytes back from cache (1.2 MB fits in L2): for
     * mlp:784-128-10 with Adam, encode 1.50 ms = BLAKE2b 1.44 + copy 0.06
     * (bench_ckpt), so fusing copy and hash could save the copy at most. */
    crypto_generichash(buf + pos, RM_SNAP_HASH_BYTES, buf, pos, NULL, 0);
    return RM_OK;
}

/* ---- decode */

typedef struct {
    uint64_t off[TAG_END], len[TAG_END];
    bool present[TAG_END];
} layout;

/* Fixed header fields into *h (arrays NULL), from a buffer of at least
 * HEADER_BYTES. */
static void read_header(const uint8_t *buf, rm_snapshot *h) {
    memset(h, 0, sizeof *h);
    h->format = rm_le_get32(buf + OFF_FORMAT);
    h->opt_kind = rm_le_get32(buf + OFF_OPT_KIND);
    h->saved_unix_ms = rm_le_get64(buf + OFF_SAVED);
    h->step = rm_le_get64(buf + OFF_STEP);
    h->epoch = rm_le_get64(buf + OFF_EPOCH);
    h->cursor = rm_le_get64(buf + OFF_CURSOR);
    h->incarnation = rm_le_get64(buf + OFF_INCARNATION);
    for (int i = 0; i < 4; i++) {
        h->rng[i] = rm_le_get64(buf + OFF_RNG + 8 * i);
        h->peer_rng[i] = rm_le_get64(buf + OFF_PEER_RNG + 8 * i);
    }
    h->opt_t = rm_le_get64(buf + OFF_OPT_T);
    h->nparams = rm_le_get64(buf + OFF_NPARAMS);
}

/* Checks section t's length against what its kind allows. */
static rm_err check_section(int t, uint64_t slen, const uint8_t *data, uint64_t nparams,
                            rm_diag *d) {
    switch (t) {
    case TAG_MODEL:
        if (slen >= RM_SNAP_MODEL_MAX)
            return rm_diag_set(d, RM_ECKPT_CORRUPT,
                               "section model: length %llu, at most %d allowed",
                               (unsigned long long)slen, RM_SNAP_MODEL_MAX - 1);
        if (memchr(data, 0, (size_t)slen))
            return rm_diag_set(d, RM_ECKPT_CORRUPT, "section model: holds a NUL byte");
        return RM_OK;
    case TAG_PARAMS:
    case TAG_OPT_M:
    case TAG_OPT_V:
        /* slen fits in the buffer, so slen / 4 cannot overflow: compare
         * that way round */
        if (slen % 4 != 0 || slen / 4 != nparams)
            return rm_diag_set(d, RM_ECKPT_CORRUPT,
                               "section %s: length %llu, but nparams %llu needs 4 bytes each",
                               tag_name[t], (unsigned long long)slen,
                               (unsigned long long)nparams);
        return RM_OK;
    case TAG_ORDER:
        if (slen == 0 || slen % 4 != 0)
            return rm_diag_set(d, RM_ECKPT_CORRUPT,
                               "section order: length %llu is not a positive multiple of 4",
                               (unsigned long long)slen);
        return RM_OK;
    default:
        if (slen == 0)
            return rm_diag_set(d, RM_ECKPT_CORRUPT, "section %s: empty (it is left out instead)",
                               tag_name[t]);
        return RM_OK;
    }
}

/* Walks the sections of a buffer whose magic, format and minimum length are
 * checked: tags strictly increasing, known, each length within the bytes
 * left and allowed for its kind; model and params present. */
static rm_err read_sections(const uint8_t *buf, size_t len, uint64_t nparams, layout *lay,
                            rm_diag *d) {
    memset(lay, 0, sizeof *lay);
    size_t end = len - RM_SNAP_HASH_BYTES, pos = HEADER_BYTES;
    int prev = 0;
    while (pos < end) {
        if (end - pos < SECTION_HEAD_BYTES)
            return rm_diag_set(d, RM_ECKPT_CORRUPT,
                               "offset %zu: %zu bytes left, a section header needs %d", pos,
                               end - pos, SECTION_HEAD_BYTES);
        uint32_t t = rm_le_get32(buf + pos);
        uint64_t slen = rm_le_get64(buf + pos + 4);
        if (t == 0 || t >= TAG_END)
            return rm_diag_set(d, RM_ECKPT_CORRUPT, "offset %zu: unknown section tag %u", pos,
                               (unsigned)t);
        if ((int)t <= prev)
            return rm_diag_set(d, RM_ECKPT_CORRUPT,
                               "offset %zu: section %s after section %s (out of order)", pos,
                               tag_name[t], tag_name[prev]);
        pos += SECTION_HEAD_BYTES;
        if (slen > end - pos)
            return rm_diag_set(d, RM_ECKPT_CORRUPT,
                               "section %s: length %llu exceeds the %zu bytes left", tag_name[t],
                               (unsigned long long)slen, end - pos);
        rm_err err = check_section((int)t, slen, buf + pos, nparams, d);
        if (err)
            return err;
        lay->present[t] = true;
        lay->off[t] = pos;
        lay->len[t] = slen;
        pos += (size_t)slen;
        prev = (int)t;
    }
    for (int t = TAG_MODEL; t <= TAG_PARAMS; t++)
        if (!lay->present[t])
            return rm_diag_set(d, RM_ECKPT_CORRUPT, "section %s is missing", tag_name[t]);
    return RM_OK;
}

/* The model descriptor of a snapshot whose hash failed, when its first
 * section still reads as one; else "". For rm_snapshot_verify's hdr. */
static void best_effort_model(const uint8_t *buf, size_t len, char *model) {
    model[0] = '\0';
    size_t end = len - RM_SNAP_HASH_BYTES;
    if (rm_le_get32(buf + HEADER_BYTES) != TAG_MODEL)
        return;
    uint64_t slen = rm_le_get64(buf + HEADER_BYTES + 4);
    size_t at = HEADER_BYTES + SECTION_HEAD_BYTES;
    if (slen >= RM_SNAP_MODEL_MAX || slen > end - at || memchr(buf + at, 0, (size_t)slen))
        return;
    memcpy(model, buf + at, (size_t)slen);
    model[slen] = '\0';
}

/* All checks of decode; fills *hdr (fixed fields, model) and *lay. */
static rm_err check_all(const uint8_t *buf, size_t len, rm_snapshot *hdr, layout *lay,
                        rm_diag *d) {
    memset(hdr, 0, sizeof *hdr);
    if (!buf && len)
        return rm_diag_set(d, RM_EINVAL, "no buffer");
    size_t mlen = len < RM_SNAP_MAGIC_BYTES ? len : RM_SNAP_MAGIC_BYTES;
    if (len == 0 || memcmp(buf, rm_snap_magic, mlen) != 0)
        return rm_diag_set(d, RM_ECKPT_MAGIC, "not a snapshot: wrong magic number");
    if (len >= OFF_FORMAT + 4 && rm_le_get32(buf + OFF_FORMAT) != RM_SNAP_FORMAT)
        return rm_diag_set(d, RM_ECKPT_FORMAT, "format %u, this build reads format %d",
                           (unsigned)rm_le_get32(buf + OFF_FORMAT), RM_SNAP_FORMAT);
    if (len < MIN_BYTES)
        return rm_diag_set(d, RM_ECKPT_CORRUPT, "truncated: %zu bytes, a snapshot has at least %d",
                           len, MIN_BYTES);
    read_header(buf, hdr);
    uint8_t h[RM_SNAP_HASH_BYTES];
    size_t body = len - RM_SNAP_HASH_BYTES;
    crypto_generichash(h, sizeof h, buf, body, NULL, 0);
    if (sodium_memcmp(h, buf + body, sizeof h) != 0) {
        best_effort_model(buf, len, hdr->model);
        return rm_diag_set(d, RM_ECKPT_HASH, "hash mismatch (%zu bytes)", len);
    }
    rm_err err = read_sections(buf, len, hdr->nparams, lay, d);
    if (err)
        return err;
    memcpy(hdr->model, buf + lay->off[TAG_MODEL], (size_t)lay->len[TAG_MODEL]);
    hdr->model[lay->len[TAG_MODEL]] = '\0';
    return RM_OK;
}

rm_err rm_snapshot_verify(const uint8_t *buf, size_t len, rm_snapshot *hdr, rm_diag *d) {
    rm_snapshot tmp;
    layout lay;
    if (sodium_init() < 0)
        return rm_diag_set(d, RM_ENOMEM, "libsodium did not initialise");
    rm_err err = check_all(buf, len, &tmp, &lay, d);
    if (hdr)
        *hdr = tmp;
    return err;
}

static uint64_t round_up(uint64_t n) {
    return (n + ALIGN - 1) / ALIGN * ALIGN;
}

rm_err rm_snapshot_decode(const uint8_t *buf, size_t len, rm_snapshot *out, rm_diag *d) {
    layout lay;
    if (!out)
        return rm_diag_set(d, RM_EINVAL, "no output snapshot");
    if (sodium_init() < 0) {
        memset(out, 0, sizeof *out);
        return rm_diag_set(d, RM_ENOMEM, "libsodium did not initialise");
    }
    rm_err err = check_all(buf, len, out, &lay, d);
    if (err) {
        memset(out, 0, sizeof *out);
        return err;
    }
    /* Every length is within len now, so the sum cannot overflow. */
    uint64_t total = ALIGN, at[TAG_END] = {0};
    for (int t = TAG_PARAMS; t < TAG_END; t++) {
        if (!lay.present[t])
            continue;
        at[t] = total;
        total += round_up(lay.len[t]);
    }
    uint8_t *mem = aligned_alloc(ALIGN, (size_t)total);
    if (!mem) {
        memset(out, 0, sizeof *out);
        return rm_diag_set(d, RM_ENOMEM, "%llu bytes for the snapshot's arrays",
                           (unsigned long long)total);
    }
    for (int t = TAG_PARAMS; t < TAG_END; t++) {
        if (!lay.present[t])
            continue;
        if (t <= TAG_ORDER)
            get_words(mem + at[t], buf + lay.off[t], lay.len[t] / 4);
        else
            memcpy(mem + at[t], buf + lay.off[t], (size_t)lay.len[t]);
    }
    out->mem_ = mem;
    out->params = (const float *)(mem + at[TAG_PARAMS]);
    out->opt_m = lay.present[TAG_OPT_M] ? (const float *)(mem + at[TAG_OPT_M]) : NULL;
    out->opt_v = lay.present[TAG_OPT_V] ? (const float *)(mem + at[TAG_OPT_V]) : NULL;
    out->norder = lay.len[TAG_ORDER] / 4;
    out->order = lay.present[TAG_ORDER] ? (const uint32_t *)(mem + at[TAG_ORDER]) : NULL;
    out->view_len = lay.len[TAG_VIEW];
    out->view = lay.present[TAG_VIEW] ? mem + at[TAG_VIEW] : NULL;
    out->bases_len = lay.len[TAG_BASES];
    out->bases = lay.present[TAG_BASES] ? mem + at[TAG_BASES] : NULL;
    out->extra_len = lay.len[TAG_EXTRA];
    out->extra = lay.present[TAG_EXTRA] ? mem + at[TAG_EXTRA] : NULL;
    return RM_OK;
}

void rm_snapshot_release(rm_snapshot *s) {
    if (!s)
        return;
    free(s->mem_);
    memset(s, 0, sizeof *s);
}
