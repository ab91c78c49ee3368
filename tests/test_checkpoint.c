/* Tests for the checkpoint library: the snapshot codec (checkpoint/
 * snapshot.c: round trips, every truncation, every flipped bit, lengths that
 * lie, named errors) and the LMDB store (checkpoint/store.c: round trip,
 * keep-K, ids, map growth, fallback past a corrupted snapshot, a foreign
 * data file, the incarnation). Stores live under RUMOR_TMP/ckpt_*. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <unistd.h>

#include "base/rng.h"
#include "checkpoint/snapshot.h"
#include "checkpoint/store.h"
#include "test_util.h"

#define SEED 20240605u

/* A snapshot and the arrays it points at. */
typedef struct {
    rm_snapshot s;
    float *params, *m, *v;
    uint32_t *order;
    uint8_t *view, *bases, *extra;
} sample;

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

/* Every field set; optional arrays present when full. */
static void make_sample(sample *x, uint64_t seed, uint64_t nparams, int full) {
    rm_rng r;
    rm_rng_seed(&r, seed);
    memset(x, 0, sizeof *x);
    rm_snapshot *s = &x->s;
    snprintf(s->model, sizeof s->model, "mlp:%llu-7-3", (unsigned long long)nparams);
    s->saved_unix_ms = 1717000000000ull + seed;
    s->step = rm_rng_u64(&r);
    s->epoch = rm_rng_u64(&r) >> 40;
    s->cursor = rm_rng_u64(&r) >> 50;
    s->incarnation = 1 + (seed & 0xff);
    for (int i = 0; i < 4; i++) {
        s->rng[i] = rm_rng_u64(&r);
        s->peer_rng[i] = rm_rng_u64(&r);
    }
    s->opt_kind = full ? 2 : 0;
    s->opt_t = full ? rm_rng_u64(&r) >> 30 : 0;
    s->nparams = nparams;
    x->params = xmalloc(nparams * 4);
    for (uint64_t i = 0; i < nparams; i++)
        x->params[i] = (float)rm_rng_normal(&r);
    s->params = x->params;
    if (!full)
        return;
    x->m = xmalloc(nparams * 4);
    x->v = xmalloc(nparams * 4);
    for (uint64_t i = 0; i < nparams; i++) {
        x->m[i] = (float)rm_rng_normal(&r);
        x->v[i] = rm_rng_float(&r);
    }
    s->opt_m = x->m;
    s->opt_v = x->v;
    s->norder = 1 + rm_rng_below(&r, 50);
    x->order = xmalloc(s->norder * 4);
    for (uint64_t i = 0; i < s->norder; i++)
        x->order[i] = (uint32_t)i;
    rm_rng_shuffle_u32(&r, x->order, s->norder);
    s->order = x->order;
    s->view_len = 1 + rm_rng_below(&r, 100);
    s->bases_len = 1 + rm_rng_below(&r, 100);
    s->extra_len = 1 + rm_rng_below(&r, 100);
    x->view = xmalloc(s->view_len);
    x->bases = xmalloc(s->bases_len);
    x->extra = xmalloc(s->extra_len);
    for (uint64_t i = 0; i < s->view_len; i++)
        x->view[i] = (uint8_t)rm_rng_u64(&r);
    for (uint64_t i = 0; i < s->bases_len; i++)
        x->bases[i] = (uint8_t)rm_rng_u64(&r);
    for (uint64_t i = 0; i < s->extra_len; i++)
        x->extra[i] = (uint8_t)rm_rng_u64(&r);
    s->view = x->view;
    s->bases = x->bases;
    s->extra = x->extra;
}

static void free_sample(sample *x) {
    free(x->params);
    free(x->m);
    free(x->v);
    free(x->order);
    free(x->view);
    free(x->bases);
    free(x->extra);
}

/* Encodes into a malloc'd buffer of exactly the size (ASan sees overreads). */
static uint8_t *encode(const rm_snapshot *s, size_t *len) {
    *len = rm_snapshot_size(s);
    assert_true(*len > 0);
    uint8_t *buf = xmalloc(*len);
    assert_int_equal(rm_snapshot_write(s, buf, *len), RM_OK);
    return buf;
}

static void assert_bytes_equal(const void *a, const void *b, uint64_t n) {
    if (n)
        assert_memory_equal(a, b, n);
}

/* Every field of b equals a's; optional arrays absent in a are NULL in b. */
static void assert_same(const rm_snapshot *a, const rm_snapshot *b) {
    assert_int_equal(b->format, RM_SNAP_FORMAT);
    assert_string_equal(a->model, b->model);
    assert_true(a->saved_unix_ms == b->saved_unix_ms);
    assert_true(a->step == b->step && a->epoch == b->epoch && a->cursor == b->cursor);
    assert_true(a->incarnation == b->incarnation);
    assert_memory_equal(a->rng, b->rng, sizeof a->rng);
    assert_memory_equal(a->peer_rng, b->peer_rng, sizeof a->peer_rng);
    assert_int_equal(a->opt_kind, b->opt_kind);
    assert_true(a->opt_t == b->opt_t);
    assert_true(a->nparams == b->nparams);
    assert_non_null(b->params);
    assert_bytes_equal(a->params, b->params, a->nparams * 4);
    assert_int_equal(a->opt_m != NULL, b->opt_m != NULL);
    assert_int_equal(a->opt_v != NULL, b->opt_v != NULL);
    if (a->opt_m)
        assert_bytes_equal(a->opt_m, b->opt_m, a->nparams * 4);
    if (a->opt_v)
        assert_bytes_equal(a->opt_v, b->opt_v, a->nparams * 4);
    assert_true(a->norder == b->norder);
    assert_int_equal(b->order != NULL, a->norder != 0);
    assert_bytes_equal(a->order, b->order, a->norder * 4);
    assert_true(a->view_len == b->view_len && a->bases_len == b->bases_len &&
                a->extra_len == b->extra_len);
    assert_int_equal(b->view != NULL, a->view_len != 0);
    assert_int_equal(b->bases != NULL, a->bases_len != 0);
    assert_int_equal(b->extra != NULL, a->extra_len != 0);
    assert_bytes_equal(a->view, b->view, a->view_len);
    assert_bytes_equal(a->bases, b->bases, a->bases_len);
    assert_bytes_equal(a->extra, b->extra, a->extra_len);
    assert_non_null(b->mem_);
    assert_true((uintptr_t)b->params % 64 == 0);
}

/* Rewrites the hash of buf after an edit, so that the layout checks behind
 * it are reached. */
static void rehash(uint8_t *buf, size_t len) {
    crypto_generichash(buf + len - 32, 32, buf, len - 32, NULL, 0);
}

static void put_u64_le(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u32_le(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Offsets from docs/CHECKPOINTS.md. */
#define HEADER_BYTES 136
#define OFF_NPARAMS 128
#define SEC_HEAD 12

/* The offset of section `tag`'s header in a valid encoding. */
static size_t section_at(const uint8_t *buf, size_t len, uint32_t tag) {
    size_t pos = HEADER_BYTES;
    while (pos + SEC_HEAD <= len - 32) {
        uint32_t t = (uint32_t)buf[pos] | (uint32_t)buf[pos + 1] << 8 |
                     (uint32_t)buf[pos + 2] << 16 | (uint32_t)buf[pos + 3] << 24;
        uint64_t l = 0;
        for (int i = 0; i < 8; i++)
            l |= (uint64_t)buf[pos + 4 + i] << (8 * i);
        if (t == tag)
            return pos;
        pos += SEC_HEAD + (size_t)l;
    }
    fail_msg("no section %u", tag);
    return 0;
}

/* Decodes and expects err, a zeroed snapshot, and `words` in the diag. */
static void expect_decode_error(const uint8_t *buf, size_t len, rm_err err, const char *words) {
    rm_snapshot out;
    rm_diag d = {{0}};
    memset(&out, 0x5a, sizeof out);
    rm_err got = rm_snapshot_decode(buf, len, &out, &d);
    if (got != err)
        fail_msg("decode gave %s (%s), expected %s", rm_err_name(got), d.msg, rm_err_name(err));
    assert_null(out.mem_);
    assert_null(out.params);
    if (words && !strstr(d.msg, words))
        fail_msg("diag \"%s\" lacks \"%s\"", d.msg, words);
    assert_int_equal(rm_snapshot_verify(buf, len, NULL, NULL), err);
}

/* ---- codec */

static void round_trip_every_field(void **state) {
    (void)state;
    for (uint64_t seed = SEED; seed < SEED + 20; seed++) {
        sample x;
        make_sample(&x, seed, seed % 7 == 0 ? 0 : 1 + seed % 300, 1);
        size_t len;
        uint8_t *buf = encode(&x.s, &len);
        rm_snapshot out;
        rm_diag d;
        if (rm_snapshot_decode(buf, len, &out, &d) != RM_OK)
            fail_msg("seed %llu: %s", (unsigned long long)seed, d.msg);
        assert_same(&x.s, &out);
        /* one encoding per snapshot: encoding the decoded one gives the same bytes */
        size_t len2;
        uint8_t *again = encode(&out, &len2);
        assert_int_equal(len, len2);
        assert_memory_equal(buf, again, len);
        rm_snapshot hdr;
        assert_int_equal(rm_snapshot_verify(buf, len, &hdr, &d), RM_OK);
        assert_string_equal(hdr.model, x.s.model);
        assert_true(hdr.step == x.s.step && hdr.params == NULL && hdr.mem_ == NULL);
        rm_snapshot_release(&out);
        assert_null(out.mem_);
        free(again);
        free(buf);
        free_sample(&x);
    }
}

static void round_trip_without_optional_arrays(void **state) {
    (void)state;
    sample x;
    make_sample(&x, SEED, 33, 0);
    size_t len;
    uint8_t *buf = encode(&x.s, &len);
    /* header, model and params sections, hash */
    assert_int_equal(len, HEADER_BYTES + 2 * SEC_HEAD + strlen(x.s.model) + 33 * 4 + 32);
    rm_snapshot out;
    assert_int_equal(rm_snapshot_decode(buf, len, &out, NULL), RM_OK);
    assert_same(&x.s, &out);
    assert_null(out.opt_m);
    assert_null(out.opt_v);
    assert_null(out.order);
    assert_null(out.view);
    rm_snapshot_release(&out);
    free(buf);

    /* only m (SGD momentum), an empty model name, no params at all */
    x.s.opt_m = x.params;
    x.s.model[0] = '\0';
    buf = encode(&x.s, &len);
    assert_int_equal(rm_snapshot_decode(buf, len, &out, NULL), RM_OK);
    assert_same(&x.s, &out);
    assert_null(out.opt_v);
    rm_snapshot_release(&out);
    free(buf);
    x.s.nparams = 0;
    x.s.params = NULL;
    x.s.opt_m = NULL;
    buf = encode(&x.s, &len);
    assert_int_equal(rm_snapshot_decode(buf, len, &out, NULL), RM_OK);
    assert_true(out.nparams == 0 && out.params != NULL);
    rm_snapshot_release(&out);
    free(buf);
    free_sample(&x);
}

static void every_prefix_is_rejected(void **state) {
    (void)state;
    sample x;
    make_sample(&x, SEED + 1, 5, 1);
    size_t len;
    uint8_t *buf = encode(&x.s, &len);
    for (size_t n = 0; n < len; n++) {
        uint8_t *p = xmalloc(n); /* exactly n bytes: ASan catches a read past them */
        memcpy(p, buf, n);
        rm_snapshot out;
        rm_diag d;
        rm_err err = rm_snapshot_decode(p, n, &out, &d);
        if (err == RM_OK)
            fail_msg("a %zu-byte prefix of %zu decoded", n, len);
        assert_true(err == RM_ECKPT_HASH || err == RM_ECKPT_CORRUPT || err == RM_ECKPT_MAGIC ||
                    err == RM_ECKPT_FORMAT);
        assert_null(out.mem_);
        rm_snapshot_release(&out); /* safe on the zeroed result */
        free(p);
    }
    /* one byte more is refused too */
    uint8_t *longer = xmalloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0;
    expect_decode_error(longer, len + 1, RM_ECKPT_HASH, "hash mismatch");
    free(longer);
    free(buf);
    free_sample(&x);
}

static void flipped_bit_fails_the_hash(void **state) {
    (void)state;
    sample x;
    make_sample(&x, SEED + 2, 4, 1);
    size_t len;
    uint8_t *buf = encode(&x.s, &len);
    for (size_t i = 0; i < len; i++) {
        for (int b = 0; b < 8; b++) {
            buf[i] ^= (uint8_t)(1u << b);
            rm_err want = i < 8 ? RM_ECKPT_MAGIC : i < 12 ? RM_ECKPT_FORMAT : RM_ECKPT_HASH;
            rm_snapshot out;
            rm_diag d;
            rm_err got = rm_snapshot_decode(buf, len, &out, &d);
            if (got != want)
                fail_msg("bit %d of byte %zu: %s (%s)", b, i, rm_err_name(got), d.msg);
            buf[i] ^= (uint8_t)(1u << b);
        }
    }
    free(buf);
    free_sample(&x);
}

static void huge_section_length_is_refused_before_allocating(void **state) {
    (void)state;
    sample x;
    make_sample(&x, SEED + 3, 10, 1);
    size_t len;
    uint8_t *buf = encode(&x.s, &len);
    size_t at = section_at(buf, len, 2); /* params */
    const uint64_t lies[] = {UINT64_MAX, 1ull << 62, 1ull << 40, len};
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        uint8_t *p = xmalloc(len);
        memcpy(p, buf, len);
        put_u64_le(p + at + 4, lies[i]);
        rehash(p, len);
        /* the copy would need lies[i] bytes: the check must come first */
        expect_decode_error(p, len, RM_ECKPT_CORRUPT, "section params: length");
        /* a header nparams to match changes nothing */
        put_u64_le(p + OFF_NPARAMS, lies[i] / 4);
        rehash(p, len);
        expect_decode_error(p, len, RM_ECKPT_CORRUPT, "exceeds");
        free(p);
    }
    /* a length that fits but disagrees with nparams */
    put_u64_le(buf + OFF_NPARAMS, 11);
    rehash(buf, len);
    expect_decode_error(buf, len, RM_ECKPT_CORRUPT, "nparams 11");
    free(buf);
    free_sample(&x);
}

static void wrong_magic_and_format_are_named(void **state) {
    (void)state;
    sample x;
    make_sample(&x, SEED + 4, 3, 0);
    size_t len;
    uint8_t *buf = encode(&x.s, &len);
    assert_memory_equal(buf, "RMSNAP\0\1", 8);
    buf[0] = 'X';
    expect_decode_error(buf, len, RM_ECKPT_MAGIC, "magic");
    expect_decode_error(buf, 3, RM_ECKPT_MAGIC, "magic");
    expect_decode_error(NULL, 0, RM_ECKPT_MAGIC, "magic");
    buf[0] = 'R';
    put_u32_le(buf + 8, 2);
    rehash(buf, len);
    expect_decode_error(buf, len, RM_ECKPT_FORMAT, "format 2");
    put_u32_le(buf + 8, 0);
    expect_decode_error(buf, len, RM_ECKPT_FORMAT, "format 0");
    put_u32_le(buf + 8, RM_SNAP_FORMAT);
    expect_decode_error(buf, 100, RM_ECKPT_CORRUPT, "truncated");
    assert_string_equal(rm_err_name(RM_ECKPT_HASH), "RM_ECKPT_HASH");
    assert_string_equal(rm_strerror(RM_ECKPT_HASH), "checkpoint hash does not match its content");
    free(buf);
    free_sample(&x);
}

/* Layouts that hash correctly but break a rule: each has its own words. */
static void malformed_layouts_are_corrupt(void **state) {
    (void)state;
    sample x;
    make_sample(&x, SEED + 5, 6, 1);
    size_t len;
    uint8_t *buf = encode(&x.s, &len);
    uint8_t *p = xmalloc(len + 64);
    size_t model = section_at(buf, len, 1), params = section_at(buf, len, 2),
           view = section_at(buf, len, 6);

    memcpy(p, buf, len); /* an unknown tag */
    put_u32_le(p + view, 99);
    rehash(p, len);
    expect_decode_error(p, len, RM_ECKPT_CORRUPT, "unknown section tag 99");

    memcpy(p, buf, len); /* view tagged as opt_m: after order, out of order */
    put_u32_le(p + view, 3);
    rehash(p, len);
    expect_decode_error(p, len, RM_ECKPT_CORRUPT, "out of order");

    memcpy(p, buf, len); /* params tagged as opt_m: params missing */
    put_u32_le(p + params, 3);
    rehash(p, len);
    expect_decode_error(p, len, RM_ECKPT_CORRUPT, "out of order");

    memcpy(p, buf, len); /* a NUL inside the model name */
    p[model + SEC_HEAD + 1] = 0;
    rehash(p, len);
    expect_decode_error(p, len, RM_ECKPT_CORRUPT, "NUL");

    /* bytes after the last section: fewer than a section header, then a
     * whole empty (tag 0) one */
    memcpy(p, buf, len - 32);
    memset(p + len - 32, 0, 5);
    rehash(p, len + 5);
    expect_decode_error(p, len + 5, RM_ECKPT_CORRUPT, "section header needs");
    memset(p + len - 32, 0, 12);
    rehash(p, len + 12);
    expect_decode_error(p, len + 12, RM_ECKPT_CORRUPT, "unknown section tag 0");

    /* an empty view section (the encoder leaves it out instead) */
    sample y;
    make_sample(&y, SEED + 6, 20, 0);
    size_t ylen;
    uint8_t *ybuf = encode(&y.s, &ylen);
    uint8_t *q = xmalloc(ylen + SEC_HEAD);
    memcpy(q, ybuf, ylen - 32);
    put_u32_le(q + ylen - 32, 6);
    put_u64_le(q + ylen - 32 + 4, 0);
    rehash(q, ylen + SEC_HEAD);
    expect_decode_error(q, ylen + SEC_HEAD, RM_ECKPT_CORRUPT, "section view: empty");
    /* the model section missing: params first */
    size_t ml = SEC_HEAD + strlen(y.s.model);
    memcpy(q, ybuf, HEADER_BYTES);
    memcpy(q + HEADER_BYTES, ybuf + HEADER_BYTES + ml, ylen - HEADER_BYTES - ml);
    rehash(q, ylen - ml);
    expect_decode_error(q, ylen - ml, RM_ECKPT_CORRUPT, "section model is missing");
    free(q);
    free(ybuf);
    free_sample(&y);
    free(p);
    free(buf);
    free_sample(&x);
}

static void write_refuses_what_does_not_encode(void **state) {
    (void)state;
    sample x;
    make_sample(&x, SEED + 7, 8, 1);
    size_t len = rm_snapshot_size(&x.s);
    uint8_t *buf = xmalloc(len + 1);
    assert_int_equal(rm_snapshot_write(&x.s, buf, len + 1), RM_EINVAL);
    assert_int_equal(rm_snapshot_write(&x.s, buf, len - 1), RM_EINVAL);
    x.s.params = NULL;
    assert_int_equal(rm_snapshot_write(&x.s, buf, len), RM_EINVAL);
    x.s.params = x.params;
    x.s.view = NULL;
    assert_int_equal(rm_snapshot_write(&x.s, buf, len), RM_EINVAL);
    x.s.view = x.view;
    memset(x.s.model, 'a', sizeof x.s.model); /* no NUL */
    assert_int_equal(rm_snapshot_write(&x.s, buf, rm_snapshot_size(&x.s)), RM_EINVAL);
    x.s.nparams = UINT64_MAX / 2;
    assert_int_equal(rm_snapshot_size(&x.s), 0);
    /* release leaves a caller-built snapshot's arrays alone */
    rm_snapshot_release(&x.s);
    assert_null(x.s.params);
    free(buf);
    free_sample(&x);
}

/* ---- store */

/* RUMOR_TMP/name, emptied of an earlier run's store. */
static const char *fresh_dir(const char *name) {
    const char *dir = tmp_path(name);
    char f[600];
    snprintf(f, sizeof f, "%s/data.mdb", dir);
    unlink(f);
    snprintf(f, sizeof f, "%s/lock.mdb", dir);
    unlink(f);
    rmdir(dir);
    return dir;
}

static rm_store *open_store(const char *dir, rm_durability dur, uint32_t keep, size_t map,
                            bool *fresh) {
    rm_store_options o;
    rm_store_options_default(&o);
    o.durability = dur;
    o.keep = keep;
    if (map)
        o.map_initial = map;
    rm_store *s;
    rm_diag d;
    if (rm_store_open(&s, dir, &o, fresh, &d) != RM_OK)
        fail_msg("open %s: %s", dir, d.msg);
    return s;
}

static uint64_t save(rm_store *s, const rm_snapshot *snap) {
    uint64_t id;
    rm_diag d;
    if (rm_store_save(s, snap, &id, &d) != RM_OK)
        fail_msg("save: %s", d.msg);
    return id;
}

static void store_round_trip(void **state) {
    (void)state;
    const char *dir = fresh_dir("ckpt_round_trip/nested");
    bool fresh = false;
    rm_store *s = open_store(dir, RM_DURABLE_FULL, 3, 0, &fresh);
    assert_true(fresh);
    assert_non_null(strstr(rm_store_path(s), "ckpt_round_trip/nested/data.mdb"));
    rm_snapshot out;
    rm_diag d;
    uint64_t id;
    uint32_t skipped = 7;
    assert_int_equal(rm_store_load_latest(s, &out, &id, &skipped, &d), RM_ECKPT_NONE);
    assert_int_equal(skipped, 0);
    assert_non_null(strstr(d.msg, "no snapshot"));

    sample x;
    make_sample(&x, SEED + 10, 1000, 1);
    assert_int_equal(strncmp(d.msg, rm_store_path(s), strlen(rm_store_path(s))), 0);
    assert_true(save(s, &x.s) == 1);
    assert_int_equal(rm_store_load_latest(s, &out, &id, &skipped, &d), RM_OK);
    assert_true(id == 1 && skipped == 0);
    assert_string_equal(d.msg, ""); /* nothing skipped, nothing to say */
    assert_same(&x.s, &out);
    rm_snapshot_release(&out);
    rm_store_close(s);

    s = open_store(dir, RM_DURABLE_NOSYNC, 3, 0, &fresh);
    assert_false(fresh);
    assert_int_equal(rm_store_load(s, 1, &out, &d), RM_OK);
    assert_same(&x.s, &out);
    rm_snapshot_release(&out);
    assert_int_equal(rm_store_load(s, 2, &out, &d), RM_ECKPT_NONE);
    assert_null(out.mem_);
    rm_store_close(s);
    free_sample(&x);
}

static void keep_prunes_the_oldest_and_list_is_in_order(void **state) {
    (void)state;
    const char *dir = fresh_dir("ckpt_keep");
    rm_store *s = open_store(dir, RM_DURABLE_NOSYNC, 3, 0, NULL);
    sample x;
    make_sample(&x, SEED + 11, 500, 1);
    for (uint64_t i = 1; i <= 5; i++) {
        x.s.step = 100 * i;
        assert_true(save(s, &x.s) == i);
    }
    rm_snap_info *v;
    size_t n;
    rm_diag d;
    assert_int_equal(rm_store_list(s, &v, &n, &d), RM_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        assert_true(v[i].id == 3 + i);
        assert_true(v[i].step == 100 * (3 + i));
        assert_true(v[i].hash_ok);
        assert_true(v[i].bytes == rm_snapshot_size(&x.s));
        assert_true(v[i].epoch == x.s.epoch && v[i].incarnation == x.s.incarnation);
        assert_true(v[i].saved_unix_ms == x.s.saved_unix_ms);
        assert_string_equal(v[i].model, x.s.model);
    }
    free(v);
    assert_int_equal(rm_store_prune(s, 1, &d), RM_OK);
    assert_int_equal(rm_store_list(s, &v, &n, &d), RM_OK);
    assert_int_equal(n, 1);
    assert_true(v[0].id == 5);
    free(v);
    assert_int_equal(rm_store_prune(s, 0, &d), RM_OK);
    assert_int_equal(rm_store_list(s, &v, &n, &d), RM_OK);
    assert_int_equal(n, 0);
    assert_null(v);
    rm_store_close(s);
    free_sample(&x);
}

static void ids_stay_monotonic_after_reopen_and_prune(void **state) {
    (void)state;
    const char *dir = fresh_dir("ckpt_ids");
    sample x;
    make_sample(&x, SEED + 12, 20, 0);
    rm_store *s = open_store(dir, RM_DURABLE_FULL, 2, 0, NULL);
    assert_true(save(s, &x.s) == 1);
    assert_true(save(s, &x.s) == 2);
    rm_store_close(s);
    s = open_store(dir, RM_DURABLE_FULL, 2, 0, NULL);
    assert_true(save(s, &x.s) == 3);
    rm_diag d;
    assert_int_equal(rm_store_prune(s, 0, &d), RM_OK);
    rm_store_close(s);
    bool fresh;
    s = open_store(dir, RM_DURABLE_FULL, 2, 0, &fresh);
    assert_true(fresh); /* no snapshot left, but the ids go on */
    assert_true(save(s, &x.s) == 4);
    rm_store_close(s);
    free_sample(&x);
}

static void map_full_grows_the_map(void **state) {
    (void)state;
    const char *dir = fresh_dir("ckpt_map_full");
    /* 1 MiB map; each snapshot is 1.2 MB and three are kept */
    rm_store *s = open_store(dir, RM_DURABLE_NOSYNC, 3, 1u << 20, NULL);
    sample x;
    make_sample(&x, SEED + 13, 100000, 1);
    for (uint64_t i = 1; i <= 8; i++) {
        x.s.step = i;
        x.params[0] = (float)i;
        assert_true(save(s, &x.s) == i);
    }
    rm_snapshot out;
    rm_diag d;
    uint64_t id;
    assert_int_equal(rm_store_load_latest(s, &out, &id, NULL, &d), RM_OK);
    assert_true(id == 8);
    assert_same(&x.s, &out);
    rm_snapshot_release(&out);
    rm_store_close(s);
    /* the grown environment reopens with the small initial size asked */
    s = open_store(dir, RM_DURABLE_NOSYNC, 3, 1u << 20, NULL);
    x.s.step = 9;
    assert_true(save(s, &x.s) == 9);
    size_t bad;
    assert_int_equal(rm_store_verify(s, &bad, &d), RM_OK);
    assert_int_equal(bad, 0);
    rm_store_close(s);
    free_sample(&x);
}

/* Flips one byte in the middle of every copy of the snapshot with the given
 * step in DIR/data.mdb (found by its magic, format, opt_kind and step: large
 * values lie in contiguous overflow pages). Returns how many it changed. */
static int corrupt_on_disk(const char *dir, uint64_t step, uint32_t opt_kind, size_t len) {
    char path[600];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = xmalloc((size_t)size);
    assert_int_equal(fread(b, 1, (size_t)size, f), (size_t)size);
    uint8_t pat[32];
    memcpy(pat, "RMSNAP\0\1", 8);
    put_u32_le(pat + 8, RM_SNAP_FORMAT);
    put_u32_le(pat + 12, opt_kind);
    int hits = 0;
    for (long i = 0; i + (long)len <= size; i++) {
        if (memcmp(b + i, pat, 16) != 0)
            continue;
        uint64_t st = 0;
        for (int k = 0; k < 8; k++)
            st |= (uint64_t)b[i + 24 + k] << (8 * k);
        if (st != step)
            continue;
        long at = i + (long)len / 2;
        uint8_t c = b[at] ^ 0x40;
        fseek(f, at, SEEK_SET);
        assert_int_equal(fwrite(&c, 1, 1, f), 1);
        hits++;
    }
    assert_int_equal(fclose(f), 0);
    free(b);
    return hits;
}

static void load_latest_falls_back_past_a_corrupt_snapshot(void **state) {
    (void)state;
    const char *dir = fresh_dir("ckpt_fallback");
    rm_store *s = open_store(dir, RM_DURABLE_FULL, 3, 0, NULL);
    sample x;
    make_sample(&x, SEED + 14, 4000, 1);
    size_t len = rm_snapshot_size(&x.s);
    for (uint64_t i = 1; i <= 3; i++) {
        x.s.step = 0x5eed0000 + i;
        save(s, &x.s);
    }
    rm_store_close(s);
    assert_int_equal(corrupt_on_disk(dir, 0x5eed0003, x.s.opt_kind, len), 1);

    s = open_store(dir, RM_DURABLE_FULL, 3, 0, NULL);
    rm_snapshot out;
    rm_diag d = {{0}};
    uint64_t id;
    uint32_t skipped;
    assert_int_equal(rm_store_load_latest(s, &out, &id, &skipped, &d), RM_OK);
    assert_true(id == 2);
    assert_int_equal(skipped, 1);
    assert_true(out.step == 0x5eed0002);
    if (!strstr(d.msg, "snapshot 3: hash mismatch"))
        fail_msg("diag: %s", d.msg);
    rm_snapshot_release(&out);
    assert_int_equal(rm_store_load(s, 3, &out, &d), RM_ECKPT_HASH);

    size_t bad;
    assert_int_equal(rm_store_verify(s, &bad, &d), RM_OK);
    assert_int_equal(bad, 1);
    assert_non_null(strstr(d.msg, "snapshot 3"));
    rm_snap_info *v;
    size_t n;
    assert_int_equal(rm_store_list(s, &v, &n, &d), RM_OK);
    assert_int_equal(n, 3);
    assert_true(v[0].hash_ok && v[1].hash_ok && !v[2].hash_ok);
    assert_true(v[2].step == 0x5eed0003); /* the header still reads */
    free(v);
    rm_store_close(s);

    /* all of them bad: the newest one's error, every one skipped */
    assert_int_equal(corrupt_on_disk(dir, 0x5eed0001, x.s.opt_kind, len), 1);
    assert_int_equal(corrupt_on_disk(dir, 0x5eed0002, x.s.opt_kind, len), 1);
    s = open_store(dir, RM_DURABLE_FULL, 3, 0, NULL);
    assert_int_equal(rm_store_load_latest(s, &out, &id, &skipped, &d), RM_ECKPT_HASH);
    assert_int_equal(skipped, 3);
    assert_non_null(strstr(d.msg, "all 3 snapshots are bad"));
    assert_null(out.mem_);
    assert_int_equal(rm_store_verify(s, &bad, &d), RM_OK);
    assert_int_equal(bad, 3);
    /* a good save after them is found first again */
    x.s.step = 77;
    assert_true(save(s, &x.s) == 4);
    assert_int_equal(rm_store_load_latest(s, &out, &id, &skipped, &d), RM_OK);
    assert_true(id == 4 && skipped == 0 && out.step == 77);
    rm_snapshot_release(&out);
    rm_store_close(s);
    free_sample(&x);
}

static void garbage_data_file_is_named(void **state) {
    (void)state;
    const char *dir = fresh_dir("ckpt_garbage");
    rm_store *s = open_store(dir, RM_DURABLE_FULL, 3, 0, NULL);
    rm_store_close(s);
    char path[600];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    static uint8_t junk[3 * 4096];
    rm_rng r;
    rm_rng_seed(&r, SEED);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)rm_rng_u64(&r);
    for (int k = 0; k < 2; k++) {
        size_t n = k == 0 ? sizeof junk : 10; /* a whole page of junk, or a few bytes */
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(junk, 1, n, f), n);
        fclose(f);
        rm_diag d;
        assert_int_equal(rm_store_open(&s, dir, NULL, NULL, &d), RM_ECKPT_CORRUPT);
        assert_null(s);
        if (!strstr(d.msg, path) || !strstr(d.msg, "not an LMDB file"))
            fail_msg("diag: %s", d.msg);
    }
    /* a directory that is a file */
    rm_diag d;
    assert_int_equal(rm_store_open(&s, path, NULL, NULL, &d), RM_EIO);
    assert_non_null(strstr(d.msg, "not a directory"));
    rm_store_options o;
    rm_store_options_default(&o);
    o.keep = 0;
    assert_int_equal(rm_store_open(&s, dir, &o, NULL, &d), RM_EINVAL);
}

static void incarnation_survives_reopen(void **state) {
    (void)state;
    const char *dir = fresh_dir("ckpt_incarnation");
    for (int round = 0; round < 3; round++) {
        rm_store *s = open_store(dir, round == 1 ? RM_DURABLE_NOSYNC : RM_DURABLE_FULL, 3, 0,
                                 NULL);
        uint64_t inc;
        rm_diag d;
        assert_int_equal(rm_store_bump_incarnation(s, &inc, &d), RM_OK);
        assert_true(inc == (uint64_t)(2 * round + 1));
        assert_int_equal(rm_store_bump_incarnation(s, &inc, &d), RM_OK);
        assert_true(inc == (uint64_t)(2 * round + 2));
        rm_store_close(s);
    }
    /* a sync of a NOSYNC store works too */
    rm_store *s = open_store(dir, RM_DURABLE_NOSYNC, 3, 0, NULL);
    rm_diag d;
    assert_int_equal(rm_store_sync(s, &d), RM_OK);
    rm_store_close(s);
}

static void save_refuses_a_snapshot_that_does_not_encode(void **state) {
    (void)state;
    const char *dir = fresh_dir("ckpt_refuse");
    rm_store *s = open_store(dir, RM_DURABLE_NOSYNC, 3, 0, NULL);
    sample x;
    make_sample(&x, SEED + 15, 10, 1);
    x.s.view = NULL; /* view_len says there is one */
    rm_diag d;
    uint64_t id = 99;
    assert_int_equal(rm_store_save(s, &x.s, &id, &d), RM_EINVAL);
    assert_true(id == 99);
    rm_snap_info *v;
    size_t n;
    assert_int_equal(rm_store_list(s, &v, &n, &d), RM_OK);
    assert_int_equal(n, 0);
    x.s.view = x.view;
    assert_true(save(s, &x.s) == 1); /* the failed one used no id */
    rm_store_close(s);
    free_sample(&x);
}

/* The node's pattern: saves on a worker thread while another thread reads
 * the store (here it lists and loads, which the node's loop does not). */
typedef struct {
    rm_store *s;
    const rm_snapshot *snap;
    int saves, failed;
    atomic_int done;
} saver;

static void *save_thread(void *arg) {
    saver *w = arg;
    rm_diag d;
    for (int i = 0; i < w->saves; i++)
        w->failed += rm_store_save(w->s, w->snap, NULL, &d) != RM_OK;
    atomic_store(&w->done, 1);
    return NULL;
}

static void saves_on_a_worker_thread(void **state) {
    (void)state;
    const char *dir = fresh_dir("ckpt_thread");
    /* a small map, so that some saves grow it while the other thread reads */
    rm_store *s = open_store(dir, RM_DURABLE_NOSYNC, 2, 1u << 20, NULL);
    sample x;
    make_sample(&x, SEED + 16, 50000, 1);
    saver w = {s, &x.s, 30, 0, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, save_thread, &w), 0);
    int loaded = 0, last = 0;
    while (!last) {
        last = atomic_load(&w.done); /* one more pass after the last save */
        rm_snapshot out;
        rm_diag d;
        rm_err err = rm_store_load_latest(s, &out, NULL, NULL, &d);
        assert_true(err == RM_OK || err == RM_ECKPT_NONE);
        if (err == RM_OK) {
            assert_same(&x.s, &out);
            loaded++;
        }
        rm_snapshot_release(&out);
        rm_snap_info *v;
        size_t n;
        assert_int_equal(rm_store_list(s, &v, &n, &d), RM_OK);
        assert_true(n <= 2);
        free(v);
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(w.failed, 0);
    assert_true(loaded > 0);
    rm_store_close(s);
    free_sample(&x);
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_every_field),
        cmocka_unit_test(round_trip_without_optional_arrays),
        cmocka_unit_test(every_prefix_is_rejected),
        cmocka_unit_test(flipped_bit_fails_the_hash),
        cmocka_unit_test(huge_section_length_is_refused_before_allocating),
        cmocka_unit_test(wrong_magic_and_format_are_named),
        cmocka_unit_test(malformed_layouts_are_corrupt),
        cmocka_unit_test(write_refuses_what_does_not_encode),
        cmocka_unit_test(store_round_trip),
        cmocka_unit_test(keep_prunes_the_oldest_and_list_is_in_order),
        cmocka_unit_test(ids_stay_monotonic_after_reopen_and_prune),
        cmocka_unit_test(map_full_grows_the_map),
        cmocka_unit_test(load_latest_falls_back_past_a_corrupt_snapshot),
        cmocka_unit_test(garbage_data_file_is_named),
        cmocka_unit_test(incarnation_survives_reopen),
        cmocka_unit_test(save_refuses_a_snapshot_that_does_not_encode),
        cmocka_unit_test(saves_on_a_worker_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
