/* Tests for the gossip wire codec (gossip/wire.c): random round trips of
 * every frame type, every truncation, every named error, and the examples
 * of docs/PROTOCOL.md byte for byte. Randomized tests print their seed when
 * they fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/rng.h"
#include "gossip/wire.h"

#define MODEL_N_TEST 2000      /* largest random model */
#define IDS_TEST 4000          /* most ids in a random HAVE */
#define ITEMS_TEST 40          /* most items in a random ITEMS ... */
#define ITEM_BYTES_TEST 1200   /* ... each of at most this many bytes */
#define BUF_BYTES (1u << 16)   /* holds any frame made here */

static const rm_wire_limits big = {1u << 20, 1u << 20};

/* A frame and the arrays its model, ids or items point at. */
typedef struct {
    rm_frame f;
    float f32[MODEL_N_TEST];
    float scales[MODEL_N_TEST];
    int8_t i8[MODEL_N_TEST];
    uint64_t ids[IDS_TEST];
    rm_wire_item items[ITEMS_TEST];
    uint8_t blob[ITEMS_TEST * ITEM_BYTES_TEST];
} sample;

static uint8_t buf[BUF_BYTES], buf2[BUF_BYTES];
static sample s1;
static rm_frame dec;
static float vals[MODEL_N_TEST];

/* ---- random frames */

/* Integers of every magnitude, not just huge ones. */
static uint64_t rand_u64(rm_rng *r) {
    return rm_rng_u64(r) >> rm_rng_below(r, 64);
}

static void rand_addr(rm_rng *r, uint8_t *len, char *addr) {
    unsigned n = rm_rng_below(r, 8) == 0 ? (unsigned)rm_rng_below(r, 256)
                                         : (unsigned)rm_rng_below(r, 24);
    if (rm_rng_below(r, 16) == 0)
        n = RM_ADDR_MAX;
    for (unsigned i = 0; i < n; i++)
        addr[i] = (char)(1 + rm_rng_below(r, 255)); /* any byte but NUL */
    addr[n] = '\0';
    *len = (uint8_t)n;
}

static void rand_entries(rm_rng *r, uint8_t *n, rm_wire_entry *e) {
    *n = rm_rng_below(r, 10) == 0 ? (uint8_t)rm_rng_below(r, RM_VIEW_ENTRIES_MAX + 1)
                                  : (uint8_t)rm_rng_below(r, 4);
    for (unsigned i = 0; i < *n; i++) {
        for (int k = 0; k < RM_ID_BYTES; k++)
            e[i].id[k] = (uint8_t)rm_rng_u64(r);
        e[i].incarnation = rand_u64(r);
        e[i].age = (uint32_t)rand_u64(r);
        rand_addr(r, &e[i].addr_len, e[i].addr);
    }
}

/* Any float bits at all, NaN included: the codec must carry them as they
 * are; values are checked at merge time, not here. */
static float rand_f32_bits(rm_rng *r) {
    uint32_t u = (uint32_t)rm_rng_u64(r);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static double rand_weight(rm_rng *r) {
    uint64_t u = rm_rng_u64(r);
    if (((u >> 52) & 0x7ff) == 0x7ff)
        u &= ~(1ull << 62); /* finite: not all exponent bits set */
    double d;
    memcpy(&d, &u, sizeof d);
    return rm_rng_below(r, 4) == 0 ? d : rm_rng_double(r) * 2.0;
}

static void rand_model(rm_rng *r, sample *s, rm_wire_model *m) {
    memset(m, 0, sizeof *m);
    m->encoding = (uint8_t)rm_rng_below(r, RM_ENC_END);
    m->n = rm_rng_below(r, 8) == 0 ? (uint32_t)rm_rng_below(r, MODEL_N_TEST + 1)
                                   : (uint32_t)rm_rng_below(r, 40);
    if (m->encoding == RM_ENC_I8_DELTA) {
        uint64_t k = rm_rng_below(r, 10);
        m->chunk = k == 0 ? UINT32_MAX : (uint32_t)(1 + rm_rng_below(r, m->n + 8));
        for (uint32_t i = 0; i < m->n; i++) {
            s->i8[i] = (int8_t)rm_rng_u64(r);
            s->scales[i] = rand_f32_bits(r); /* more than needed: harmless */
        }
        m->i8 = s->i8;
        m->scales = s->scales;
    } else {
        for (uint32_t i = 0; i < m->n; i++)
            s->f32[i] = rand_f32_bits(r);
        m->f32 = s->f32;
    }
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* n random ids, strictly ascending: drawn, sorted, duplicates dropped.
 * Returns how many are left. */
static uint32_t rand_ids(rm_rng *r, uint64_t *ids, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        ids[i] = rm_rng_below(r, 4) == 0 ? rm_rng_below(r, 64) : rand_u64(r);
    qsort(ids, n, sizeof *ids, cmp_u64);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (k == 0 || ids[i] != ids[k - 1])
            ids[k++] = ids[i];
    return k;
}

static void rand_have(rm_rng *r, sample *s, rm_wire_have *h) {
    h->exchange = rand_u64(r);
    h->incarnation = rand_u64(r);
    h->want_reply = (uint8_t)(rm_rng_u64(r) & 1);
    rand_entries(r, &h->nentries, h->entries);
    uint32_t n = rm_rng_below(r, 8) == 0 ? (uint32_t)rm_rng_below(r, IDS_TEST + 1)
                                         : (uint32_t)rm_rng_below(r, 40);
    h->nids = rand_ids(r, s->ids, n);
    h->ids = s->ids;
}

static void rand_items(rm_rng *r, sample *s, rm_wire_items *it) {
    uint64_t ids[ITEMS_TEST];
    it->count = rand_ids(r, ids, (uint32_t)rm_rng_below(r, ITEMS_TEST + 1));
    for (uint32_t i = 0; i < it->count; i++) {
        rm_wire_item *x = &s->items[i];
        x->id = ids[i];
        x->len = rm_rng_below(r, 6) == 0 ? 0 : (uint32_t)rm_rng_below(r, ITEM_BYTES_TEST + 1);
        uint8_t *b = s->blob + (size_t)i * ITEM_BYTES_TEST;
        for (uint32_t k = 0; k < x->len; k++)
            b[k] = (uint8_t)rm_rng_u64(r);
        x->bytes = x->len ? b : NULL;
    }
    it->items = s->items;
}

static void rand_frame(rm_rng *r, uint8_t type, sample *s) {
    rm_frame *f = &s->f;
    memset(f, 0, sizeof *f);
    f->type = type;
    switch (type) {
    case RM_FRAME_HELLO:
        for (int k = 0; k < RM_ID_BYTES; k++)
            f->u.hello.id[k] = (uint8_t)rm_rng_u64(r);
        f->u.hello.incarnation = rand_u64(r);
        f->u.hello.model_n = (uint32_t)rand_u64(r);
        f->u.hello.model_tag = (uint32_t)rm_rng_u64(r);
        rand_addr(r, &f->u.hello.addr_len, f->u.hello.addr);
        break;
    case RM_FRAME_PUSH:
    case RM_FRAME_PULL_REPLY:
        f->u.ex.exchange = rand_u64(r);
        f->u.ex.incarnation = rand_u64(r);
        f->u.ex.version = rand_u64(r);
        f->u.ex.base = rand_u64(r);
        f->u.ex.samples = rand_u64(r);
        f->u.ex.weight = rand_weight(r);
        rand_entries(r, &f->u.ex.nentries, f->u.ex.entries);
        rand_model(r, s, &f->u.ex.model);
        if (type == RM_FRAME_PUSH && (rm_rng_u64(r) & 1))
            f->flags = RM_WIRE_FLAG_PULL;
        break;
    case RM_FRAME_NEED_FULL:
        f->u.need_full.exchange = rand_u64(r);
        f->u.need_full.base = rand_u64(r);
        break;
    case RM_FRAME_VIEW:
        rand_entries(r, &f->u.view.nentries, f->u.view.entries);
        break;
    case RM_FRAME_LEAVE:
        f->u.leave.incarnation = rand_u64(r);
        break;
    case RM_FRAME_HAVE:
        rand_have(r, s, &f->u.have);
        break;
    case RM_FRAME_ITEMS:
        rand_items(r, s, &f->u.items);
        break;
    default:
        f->u.ping.nonce = rand_u64(r);
        break;
    }
}

/* ---- comparison: the name of the first field that differs, or NULL */

static const char *entries_diff(uint8_t n, const rm_wire_entry *a,
                                const rm_wire_entry *b) {
    for (unsigned i = 0; i < n; i++) {
        if (memcmp(a[i].id, b[i].id, RM_ID_BYTES))
            return "entry id";
        if (a[i].incarnation != b[i].incarnation)
            return "entry incarnation";
        if (a[i].age != b[i].age)
            return "entry age";
        if (a[i].addr_len != b[i].addr_len)
            return "entry addr_len";
        if (memcmp(a[i].addr, b[i].addr, a[i].addr_len) ||
            b[i].addr[b[i].addr_len] != '\0')
            return "entry addr";
    }
    return NULL;
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* a: as encoded (arrays); b: as decoded (bytes into the frame). */
static const char *model_diff(const rm_wire_model *a, const rm_wire_model *b) {
    if (a->encoding != b->encoding)
        return "model encoding";
    if (a->n != b->n)
        return "model n";
    if (b->f32 || b->i8 || b->scales)
        return "decoded model array pointers (must be NULL)";
    if (a->encoding != RM_ENC_I8_DELTA) {
        if (b->chunk != 0)
            return "model chunk (must be 0)";
        if (b->nbytes != (size_t)a->n * 4)
            return "model nbytes";
        rm_wire_payload_f32(b, vals);
        for (uint32_t i = 0; i < a->n; i++)
            if (f32_bits(vals[i]) != f32_bits(a->f32[i]))
                return "model f32 payload";
        return NULL;
    }
    if (a->chunk != b->chunk)
        return "model chunk";
    size_t ns = a->n / a->chunk + (a->n % a->chunk != 0);
    if (b->nbytes != ns * 4 + a->n)
        return "model nbytes";
    for (size_t k = 0; k < ns; k++)
        if (le32(b->bytes + 4 * k) != f32_bits(a->scales[k]))
            return "model scales";
    if (a->n && memcmp(b->bytes + 4 * ns, a->i8, a->n))
        return "model i8 payload";
    rm_wire_payload_i8(b, vals);
    for (uint32_t i = 0; i < a->n; i++) {
        float want = (float)a->i8[i] * a->scales[i / a->chunk];
        if (f32_bits(vals[i]) != f32_bits(want) && !(want != want && vals[i] != vals[i]))
            return "model i8 values";
    }
    return NULL;
}

/* a: as encoded (ids array); b: as decoded (id bytes in the frame). */
static const char *have_diff(const rm_wire_have *a, const rm_wire_have *b) {
    if (a->exchange != b->exchange)
        return "have exchange";
    if (a->incarnation != b->incarnation)
        return "have incarnation";
    if (a->want_reply != b->want_reply)
        return "have want_reply";
    if (a->nentries != b->nentries)
        return "have nentries";
    const char *why = entries_diff(a->nentries, a->entries, b->entries);
    if (why)
        return why;
    if (a->nids != b->nids)
        return "have nids";
    if (b->ids)
        return "decoded ids pointer (must be NULL)";
    for (uint32_t i = 0; i < a->nids; i++)
        if (rm_wire_have_id(b, i) != a->ids[i])
            return "have id";
    return NULL;
}

static const char *items_diff(const rm_wire_items *a, const rm_wire_items *b) {
    if (a->count != b->count)
        return "items count";
    if (b->items)
        return "decoded items pointer (must be NULL)";
    rm_wire_items_iter it;
    rm_wire_item x;
    rm_wire_items_begin(b, &it);
    for (uint32_t i = 0; i < a->count; i++) {
        if (!rm_wire_items_next(&it, &x))
            return "items: the walk ended early";
        if (x.id != a->items[i].id)
            return "item id";
        if (x.len != a->items[i].len)
            return "item len";
        if (x.len && memcmp(x.bytes, a->items[i].bytes, x.len))
            return "item bytes";
    }
    return rm_wire_items_next(&it, &x) ? "items: the walk goes on" : NULL;
}

static const char *frame_diff(const rm_frame *a, const rm_frame *b) {
    if (a->type != b->type)
        return "type";
    if (a->flags != b->flags)
        return "flags";
    switch (a->type) {
    case RM_FRAME_HELLO:
        if (memcmp(a->u.hello.id, b->u.hello.id, RM_ID_BYTES))
            return "hello id";
        if (a->u.hello.incarnation != b->u.hello.incarnation)
            return "hello incarnation";
        if (a->u.hello.model_n != b->u.hello.model_n)
            return "hello model_n";
        if (a->u.hello.model_tag != b->u.hello.model_tag)
            return "hello model_tag";
        if (a->u.hello.addr_len != b->u.hello.addr_len)
            return "hello addr_len";
        if (memcmp(a->u.hello.addr, b->u.hello.addr, a->u.hello.addr_len) ||
            b->u.hello.addr[b->u.hello.addr_len] != '\0')
            return "hello addr";
        return NULL;
    case RM_FRAME_PUSH:
    case RM_FRAME_PULL_REPLY: {
        const rm_wire_exchange *x = &a->u.ex, *y = &b->u.ex;
        if (x->exchange != y->exchange)
            return "exchange";
        if (x->incarnation != y->incarnation)
            return "incarnation";
        if (x->version != y->version)
            return "version";
        if (x->base != y->base)
            return "base";
        if (x->samples != y->samples)
            return "samples";
        if (memcmp(&x->weight, &y->weight, sizeof x->weight))
            return "weight";
        if (x->nentries != y->nentries)
            return "nentries";
        const char *why = entries_diff(x->nentries, x->entries, y->entries);
        return why ? why : model_diff(&x->model, &y->model);
    }
    case RM_FRAME_NEED_FULL:
        if (a->u.need_full.exchange != b->u.need_full.exchange)
            return "need_full exchange";
        if (a->u.need_full.base != b->u.need_full.base)
            return "need_full base";
        return NULL;
    case RM_FRAME_VIEW:
        if (a->u.view.nentries != b->u.view.nentries)
            return "view nentries";
        return entries_diff(a->u.view.nentries, a->u.view.entries, b->u.view.entries);
    case RM_FRAME_LEAVE:
        return a->u.leave.incarnation != b->u.leave.incarnation ? "leave incarnation"
                                                                 : NULL;
    case RM_FRAME_HAVE:
        return have_diff(&a->u.have, &b->u.have);
    case RM_FRAME_ITEMS:
        return items_diff(&a->u.items, &b->u.items);
    default:
        return a->u.ping.nonce != b->u.ping.nonce ? "nonce" : NULL;
    }
}

/* Points a decoded HAVE's or ITEMS' encode-side array at its values, as a
 * peer that forwards the frame would. */
static uint64_t re_ids[RM_WIRE_ITEMS_MAX];
static rm_wire_item re_items[RM_WIRE_ITEMS_MAX];

static void lists_for_reencode(rm_frame *f) {
    if (f->type == RM_FRAME_HAVE) {
        for (uint32_t i = 0; i < f->u.have.nids; i++)
            re_ids[i] = rm_wire_have_id(&f->u.have, i);
        f->u.have.ids = re_ids;
    } else if (f->type == RM_FRAME_ITEMS) {
        rm_wire_items_iter it;
        rm_wire_items_begin(&f->u.items, &it);
        uint32_t n = 0;
        while (rm_wire_items_next(&it, &re_items[n]))
            n++;
        assert_int_equal(n, f->u.items.count);
        f->u.items.items = re_items;
    }
}

static size_t encode_ok(const rm_frame *f, uint8_t *out) {
    size_t len = 0;
    assert_int_equal(rm_wire_encode(f, out, BUF_BYTES, &len), RM_OK);
    assert_int_equal(len, rm_wire_encoded_size(f));
    return len;
}

#define FAIL_SEED(seed, i, what)                                              \
    do {                                                                      \
        print_error("test_wire: seed %llu frame %d: %s\n",                    \
                    (unsigned long long)(seed), (i), (what));                 \
        fail();                                                               \
    } while (0)

/* ---- round trips */

static void round_trip_random_frames(void **state) {
    (void)state;
    int per_type[RM_FRAME_TYPE_END] = {0};
    for (uint64_t seed = 1; seed <= 16; seed++) {
        rm_rng r;
        rm_rng_seed(&r, seed);
        for (int i = 0; i < 400; i++) {
            uint8_t type = (uint8_t)(1 + i % (RM_FRAME_TYPE_END - 1));
            rand_frame(&r, type, &s1);
            size_t len = 0;
            rm_err err = rm_wire_encode(&s1.f, buf, BUF_BYTES, &len);
            if (err)
                FAIL_SEED(seed, i, rm_strerror(err));
            if (len != rm_wire_encoded_size(&s1.f))
                FAIL_SEED(seed, i, "rm_wire_encoded_size disagrees with encode");
            if (rm_wire_frame_size(buf, len, &big) != (int64_t)len)
                FAIL_SEED(seed, i, "rm_wire_frame_size");
            memset(&dec, 0xa5, sizeof dec);
            if ((err = rm_wire_decode(buf, len, &big, &dec)))
                FAIL_SEED(seed, i, rm_strerror(err));
            const char *why = frame_diff(&s1.f, &dec);
            if (why)
                FAIL_SEED(seed, i, why);
            per_type[type]++;
        }
    }
    for (int t = 1; t < RM_FRAME_TYPE_END; t++)
        assert_true(per_type[t] >= 16 * 400 / (RM_FRAME_TYPE_END - 1));
}

/* Encoding a decoded frame gives back the same bytes: the format has one
 * encoding per frame. */
static void reencode_gives_same_bytes(void **state) {
    (void)state;
    const uint64_t seed = 99;
    rm_rng r;
    rm_rng_seed(&r, seed);
    static float scales[MODEL_N_TEST];
    for (int i = 0; i < 800; i++) {
        rand_frame(&r, (uint8_t)(1 + i % (RM_FRAME_TYPE_END - 1)), &s1);
        size_t len = encode_ok(&s1.f, buf);
        assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_OK);
        if (dec.type == RM_FRAME_PUSH || dec.type == RM_FRAME_PULL_REPLY) {
            rm_wire_model *m = &dec.u.ex.model;
            if (m->encoding == RM_ENC_I8_DELTA) {
                size_t ns = m->n / m->chunk + (m->n % m->chunk != 0);
                memcpy(scales, m->bytes, ns * 4); /* little-endian host */
                m->scales = scales;
                m->i8 = (const int8_t *)(m->bytes + ns * 4);
            } else {
                rm_wire_payload_f32(m, vals);
                m->f32 = vals;
            }
        }
        lists_for_reencode(&dec);
        size_t len2 = encode_ok(&dec, buf2);
        if (len2 != len || memcmp(buf, buf2, len))
            FAIL_SEED(seed, i, "re-encoded bytes differ");
    }
}

/* ---- truncation */

static void put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}


static void every_prefix_is_truncated(void **state) {
    (void)state;
    const uint64_t seed = 7;
    rm_rng r;
    rm_rng_seed(&r, seed);
    for (int i = 0; i < 160; i++) {
        rand_frame(&r, (uint8_t)(1 + i % (RM_FRAME_TYPE_END - 1)), &s1);
        size_t len = encode_ok(&s1.f, buf);
        for (size_t k = 0; k < len; k++) {
            /* As read from a stream: the length promises more. */
            if (rm_wire_decode(buf, k, &big, &dec) != RM_EWIRE_TRUNCATED)
                FAIL_SEED(seed, i, "prefix not TRUNCATED");
            int64_t fs = rm_wire_frame_size(buf, k, &big);
            if (k < 4 ? fs != RM_EWIRE_TRUNCATED : fs != (int64_t)len)
                FAIL_SEED(seed, i, "frame_size of a prefix");
            /* A consistent length, so that the body parser itself runs out
             * (patched in place and restored: a copy would make this
             * quadratic in the frame's size). */
            if (k >= RM_WIRE_HEADER_BYTES) {
                put_le32(buf, (uint32_t)(k - 4));
                rm_err err = rm_wire_decode(buf, k, &big, &dec);
                put_le32(buf, (uint32_t)(len - 4));
                if (err != RM_EWIRE_TRUNCATED)
                    FAIL_SEED(seed, i, "body prefix not TRUNCATED");
            }
        }
    }
}

/* ---- named errors, one mutation at a time */

static const float three[3] = {1.0f, -2.0f, 0.5f};

/* A PUSH with no entries and a 3-float model: the model starts at 57. */
static size_t small_push(uint8_t *out) {
    rm_frame *f = &s1.f;
    memset(f, 0, sizeof *f);
    f->type = RM_FRAME_PUSH;
    f->u.ex.weight = 1.0;
    f->u.ex.model.encoding = RM_ENC_F32;
    f->u.ex.model.n = 3;
    f->u.ex.model.f32 = three;
    return encode_ok(f, out);
}

static void frame_size_checks(void **state) {
    (void)state;
    rm_wire_limits lim = {64, 16};
    uint8_t h[8] = {0};
    assert_int_equal(rm_wire_frame_size(h, 0, &lim), RM_EWIRE_TRUNCATED);
    assert_int_equal(rm_wire_frame_size(h, 3, &lim), RM_EWIRE_TRUNCATED);
    for (uint32_t l = 0; l < 4; l++) {
        put_le32(h, l);
        assert_int_equal(rm_wire_frame_size(h, 8, &lim), RM_EWIRE_MALFORMED);
        assert_int_equal(rm_wire_decode(h, 4 + l, &lim, &dec), RM_EWIRE_MALFORMED);
    }
    put_le32(h, 60);
    assert_int_equal(rm_wire_frame_size(h, 4, &lim), 64);
    put_le32(h, 61);
    assert_int_equal(rm_wire_frame_size(h, 4, &lim), RM_EWIRE_TOO_LARGE);
    put_le32(h, UINT32_MAX);
    assert_int_equal(rm_wire_frame_size(h, 4, &lim), RM_EWIRE_TOO_LARGE);
    rm_wire_limits huge = {SIZE_MAX, 16};
    assert_int_equal(rm_wire_frame_size(h, 4, &huge), (int64_t)UINT32_MAX + 4);
}

static void oversized_frames_and_models(void **state) {
    (void)state;
    size_t len = small_push(buf);
    rm_wire_limits lim = {len, 3};
    assert_int_equal(rm_wire_decode(buf, len, &lim, &dec), RM_OK);
    lim.frame_bytes_max = len - 1;
    assert_int_equal(rm_wire_decode(buf, len, &lim, &dec), RM_EWIRE_TOO_LARGE);
    /* Refused from the header alone, before the body is there. */
    assert_int_equal(rm_wire_decode(buf, 8, &lim, &dec), RM_EWIRE_TOO_LARGE);
    lim = (rm_wire_limits){len, 2};
    assert_int_equal(rm_wire_decode(buf, len, &lim, &dec), RM_EWIRE_TOO_LARGE);
    /* A model that claims 2^32 - 1 values in a small frame. */
    put_le32(buf + 58, UINT32_MAX);
    lim = (rm_wire_limits){len, 1000};
    assert_int_equal(rm_wire_decode(buf, len, &lim, &dec), RM_EWIRE_TOO_LARGE);
    lim.model_n_max = UINT32_MAX;
    assert_int_equal(rm_wire_decode(buf, len, &lim, &dec), RM_EWIRE_TRUNCATED);
}

static void unknown_type(void **state) {
    (void)state;
    rm_frame f = {.type = RM_FRAME_PING, .u.ping.nonce = 5};
    size_t len = encode_ok(&f, buf);
    const uint8_t bad[] = {0, RM_FRAME_TYPE_END, 100, 255};
    for (size_t i = 0; i < sizeof bad; i++) {
        buf[5] = bad[i];
        assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_BAD_TYPE);
        f.type = bad[i];
        assert_int_equal(rm_wire_encode(&f, buf2, BUF_BYTES, &len), RM_EWIRE_BAD_TYPE);
        assert_int_equal(rm_wire_encoded_size(&f), 0);
    }
}

static void bad_version(void **state) {
    (void)state;
    rm_frame f = {.type = RM_FRAME_ACK, .u.ping.nonce = 5};
    size_t len = encode_ok(&f, buf);
    const uint8_t bad[] = {0, RM_WIRE_VERSION + 1, 255};
    for (size_t i = 0; i < sizeof bad; i++) {
        buf[4] = bad[i];
        assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_BAD_VERSION);
    }
}

static void flags_must_be_zero(void **state) {
    (void)state;
    rm_frame f = {.type = RM_FRAME_LEAVE, .u.leave.incarnation = 1};
    size_t len = encode_ok(&f, buf);
    buf[6] = 1;
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_MALFORMED);
    buf[6] = 0;
    buf[7] = 0x80;
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_MALFORMED);
    f.flags = 1;
    assert_int_equal(rm_wire_encode(&f, buf, BUF_BYTES, &len), RM_EINVAL);
}

/* PULL is the one flag, and only a PUSH may carry it. */
static void pull_flag_only_on_push(void **state) {
    (void)state;
    rm_rng r;
    rm_rng_seed(&r, 12);
    rand_frame(&r, RM_FRAME_PUSH, &s1);
    s1.f.flags = RM_WIRE_FLAG_PULL;
    size_t len = encode_ok(&s1.f, buf);
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_OK);
    assert_int_equal(dec.flags, RM_WIRE_FLAG_PULL);
    buf[6] = 3; /* an unknown bit beside PULL */
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_MALFORMED);
    s1.f.flags = 2;
    assert_int_equal(rm_wire_encode(&s1.f, buf, BUF_BYTES, &len), RM_EINVAL);
    rand_frame(&r, RM_FRAME_PULL_REPLY, &s1);
    s1.f.flags = RM_WIRE_FLAG_PULL;
    assert_int_equal(rm_wire_encode(&s1.f, buf, BUF_BYTES, &len), RM_EINVAL);
    s1.f.flags = 0;
    len = encode_ok(&s1.f, buf);
    buf[6] = 1;
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_MALFORMED);
}

static void trailing_byte(void **state) {
    (void)state;
    rm_rng r;
    rm_rng_seed(&r, 11);
    for (uint8_t t = 1; t < RM_FRAME_TYPE_END; t++) {
        rand_frame(&r, t, &s1);
        size_t len = encode_ok(&s1.f, buf);
        buf[len] = 0;
        /* One byte beyond the declared length ... */
        assert_int_equal(rm_wire_decode(buf, len + 1, &big, &dec), RM_EWIRE_MALFORMED);
        /* ... and one byte beyond the body inside the declared length. */
        put_le32(buf, (uint32_t)(len + 1 - 4));
        assert_int_equal(rm_wire_decode(buf, len + 1, &big, &dec), RM_EWIRE_MALFORMED);
    }
}

static void malformed_fields(void **state) {
    (void)state;
    size_t len;
    /* nentries above the maximum, in VIEW and in PUSH. */
    rm_frame f = {.type = RM_FRAME_VIEW};
    len = encode_ok(&f, buf);
    buf[8] = RM_VIEW_ENTRIES_MAX + 1;
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_MALFORMED);
    buf[8] = 1; /* within the maximum, but the entry is missing */
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_TRUNCATED);
    len = small_push(buf);
    buf[56] = 255;
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_MALFORMED);

    /* Weight NaN, +Inf, -Inf; the largest finite weight is fine. */
    const uint64_t bad_w[] = {0x7ff8000000000000ull, 0x7ff0000000000000ull,
                              0xfff0000000000000ull, 0x7ff0000000000001ull};
    for (size_t i = 0; i < 4; i++) {
        len = small_push(buf);
        for (int k = 0; k < 8; k++)
            buf[48 + k] = (uint8_t)(bad_w[i] >> (8 * k));
        assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_MALFORMED);
        memcpy(&s1.f.u.ex.weight, &bad_w[i], 8);
        assert_int_equal(rm_wire_encode(&s1.f, buf, BUF_BYTES, &len), RM_EINVAL);
    }
    len = small_push(buf);
    for (int k = 0; k < 8; k++)
        buf[48 + k] = (uint8_t)(0x7fefffffffffffffull >> (8 * k));
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_OK);

    /* Unknown encoding. */
    len = small_push(buf);
    buf[57] = RM_ENC_END;
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_MALFORMED);

    /* chunk 0 in an int8 delta. */
    static const int8_t q[3] = {1, 2, 3};
    static const float sc[1] = {0.5f};
    s1.f.u.ex.model = (rm_wire_model){.encoding = RM_ENC_I8_DELTA, .n = 3,
                                      .chunk = 4, .i8 = q, .scales = sc};
    len = encode_ok(&s1.f, buf);
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_OK);
    put_le32(buf + 62, 0);
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_MALFORMED);

    /* A NUL byte inside an address, in HELLO and in an entry. */
    rm_frame h = {.type = RM_FRAME_HELLO};
    memcpy(h.u.hello.addr, "a:1", 4);
    h.u.hello.addr_len = 3;
    len = encode_ok(&h, buf);
    buf[57 + 1] = 0;
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_MALFORMED);
    rm_frame v = {.type = RM_FRAME_VIEW};
    v.u.view.nentries = 1;
    memcpy(v.u.view.entries[0].addr, "b:2", 4);
    v.u.view.entries[0].addr_len = 3;
    len = encode_ok(&v, buf);
    buf[9 + 45 + 2] = 0;
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_MALFORMED);
    /* An addr_len that runs past the end. */
    len = encode_ok(&v, buf);
    buf[9 + 44] = 4;
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_TRUNCATED);
}

static void encoder_refuses_what_decoder_would(void **state) {
    (void)state;
    size_t len = 0;
    rm_frame v = {.type = RM_FRAME_VIEW};
    v.u.view.nentries = RM_VIEW_ENTRIES_MAX + 1;
    assert_int_equal(rm_wire_encode(&v, buf, BUF_BYTES, &len), RM_EINVAL);
    assert_int_equal(rm_wire_encoded_size(&v), 0);
    v.u.view.nentries = 1;
    v.u.view.entries[0].addr_len = 2; /* addr is "\0\0" */
    assert_int_equal(rm_wire_encode(&v, buf, BUF_BYTES, &len), RM_EINVAL);

    small_push(buf);
    rm_wire_model *m = &s1.f.u.ex.model;
    m->encoding = RM_ENC_END;
    assert_int_equal(rm_wire_encode(&s1.f, buf, BUF_BYTES, &len), RM_EINVAL);
    m->encoding = RM_ENC_F32;
    m->f32 = NULL;
    assert_int_equal(rm_wire_encode(&s1.f, buf, BUF_BYTES, &len), RM_EINVAL);
    m->n = 0; /* no values: no array needed */
    assert_int_equal(rm_wire_encode(&s1.f, buf, BUF_BYTES, &len), RM_OK);
    static const int8_t q[3] = {1, 2, 3};
    static const float sc[3] = {1, 1, 1};
    *m = (rm_wire_model){.encoding = RM_ENC_I8_DELTA, .n = 3, .chunk = 0,
                         .i8 = q, .scales = sc};
    assert_int_equal(rm_wire_encode(&s1.f, buf, BUF_BYTES, &len), RM_EINVAL);
    m->chunk = 1;
    m->scales = NULL;
    assert_int_equal(rm_wire_encode(&s1.f, buf, BUF_BYTES, &len), RM_EINVAL);
    m->scales = sc;
    size_t size = rm_wire_encoded_size(&s1.f);
    assert_int_equal(size, 8 + 49 + 5 + 4 + 12 + 3);
    /* cap one byte short: refused, and *len untouched. */
    len = 12345;
    assert_int_equal(rm_wire_encode(&s1.f, buf, size - 1, &len), RM_EWIRE_TOO_LARGE);
    assert_int_equal(len, 12345);
    assert_int_equal(rm_wire_encode(&s1.f, buf, size, &len), RM_OK);
    assert_int_equal(len, size);
    /* A model too big for the u32 length field. */
    static const float one = 1.0f;
    *m = (rm_wire_model){.encoding = RM_ENC_F32, .n = UINT32_MAX, .f32 = &one};
    assert_int_equal(rm_wire_encode(&s1.f, buf, BUF_BYTES, &len), RM_EWIRE_TOO_LARGE);
    assert_int_equal(rm_wire_encoded_size(&s1.f), 0);
}

/* HAVE and ITEMS: every count and length against its maximum and against
 * the bytes left, ids that must rise strictly, and an encoder that refuses
 * the same. A HAVE with no entries has nids at 26 and ids from 30; an
 * ITEMS has its count at 8 and its first item's id at 12, len at 20. */
static void have_and_items_errors(void **state) {
    (void)state;
    static const uint64_t ids[3] = {5, 9, 12};
    rm_frame h = {.type = RM_FRAME_HAVE};
    h.u.have.want_reply = 1;
    h.u.have.nids = 3;
    h.u.have.ids = ids;
    size_t len = encode_ok(&h, buf);
    assert_int_equal(len, 30 + 24);
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_OK);
    buf[24] = 2; /* want_reply is 0 or 1 */
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_MALFORMED);
    buf[24] = 1;
    put_le32(buf + 26, RM_WIRE_ITEMS_MAX + 1);
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_TOO_LARGE);
    put_le32(buf + 26, RM_WIRE_ITEMS_MAX); /* allowed, but not there */
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_TRUNCATED);
    put_le32(buf + 26, 4);
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_TRUNCATED);
    put_le32(buf + 26, 3);
    buf[38] = 5; /* the second id equal to the first */
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_MALFORMED);
    buf[38] = 4; /* below it */
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_MALFORMED);
    static const uint64_t unsorted[3] = {5, 12, 9}, twice[2] = {7, 7};
    h.u.have.ids = unsorted;
    assert_int_equal(rm_wire_encode(&h, buf, BUF_BYTES, &len), RM_EINVAL);
    h.u.have.ids = twice;
    h.u.have.nids = 2;
    assert_int_equal(rm_wire_encode(&h, buf, BUF_BYTES, &len), RM_EINVAL);
    h.u.have.ids = NULL;
    assert_int_equal(rm_wire_encode(&h, buf, BUF_BYTES, &len), RM_EINVAL);
    h.u.have.nids = 0; /* no ids: no array needed */
    assert_int_equal(rm_wire_encode(&h, buf, BUF_BYTES, &len), RM_OK);
    h.u.have.want_reply = 2;
    assert_int_equal(rm_wire_encode(&h, buf, BUF_BYTES, &len), RM_EINVAL);
    h.u.have.want_reply = 0;
    h.u.have.nids = RM_WIRE_ITEMS_MAX + 1;
    h.u.have.ids = re_ids; /* zeros: refused for the count first */
    assert_int_equal(rm_wire_encode(&h, buf, BUF_BYTES, &len), RM_EINVAL);
    /* The most ids a HAVE may hold encode and decode. */
    for (uint32_t i = 0; i < RM_WIRE_ITEMS_MAX; i++)
        re_ids[i] = 3 * (uint64_t)i + 1;
    h.u.have.nids = RM_WIRE_ITEMS_MAX;
    static uint8_t large[8 * RM_WIRE_ITEMS_MAX + 64];
    assert_int_equal(rm_wire_encode(&h, large, sizeof large, &len), RM_OK);
    rm_wire_limits lim = {len, 0};
    assert_int_equal(rm_wire_decode(large, len, &lim, &dec), RM_OK);
    assert_int_equal(dec.u.have.nids, RM_WIRE_ITEMS_MAX);
    assert_true(rm_wire_have_id(&dec.u.have, RM_WIRE_ITEMS_MAX - 1) ==
                3 * (uint64_t)(RM_WIRE_ITEMS_MAX - 1) + 1);
    lim.frame_bytes_max = len - 1;
    assert_int_equal(rm_wire_decode(large, len, &lim, &dec), RM_EWIRE_TOO_LARGE);

    static const uint8_t abc[3] = {'a', 'b', 'c'}, de[2] = {0xde, 0xad};
    rm_wire_item two[2] = {{.id = 5, .len = 3, .bytes = abc},
                           {.id = 9, .len = 2, .bytes = de}};
    rm_frame it = {.type = RM_FRAME_ITEMS};
    it.u.items.count = 2;
    it.u.items.items = two;
    len = encode_ok(&it, buf);
    assert_int_equal(len, 12 + 15 + 14);
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_OK);
    put_le32(buf + 8, RM_WIRE_ITEMS_MAX + 1);
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_TOO_LARGE);
    put_le32(buf + 8, 3); /* a third item that is not there */
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_TRUNCATED);
    put_le32(buf + 8, 2);
    put_le32(buf + 20, 4 + 15); /* the first item swallows the second and more */
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_TRUNCATED);
    put_le32(buf + 20, UINT32_MAX);
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_TRUNCATED);
    put_le32(buf + 20, 3 + 14); /* ... exactly: then one item is missing */
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_TRUNCATED);
    put_le32(buf + 20, 3);
    put_le32(buf + 8, 1); /* one item, and the second's bytes left over */
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_MALFORMED);
    put_le32(buf + 8, 2);
    buf[12 + 15] = 5; /* the second id equal to the first */
    assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_EWIRE_MALFORMED);
    two[1].id = 5;
    assert_int_equal(rm_wire_encode(&it, buf, BUF_BYTES, &len), RM_EINVAL);
    two[1].id = 9;
    two[1].bytes = NULL;
    assert_int_equal(rm_wire_encode(&it, buf, BUF_BYTES, &len), RM_EINVAL);
    two[1].len = 0; /* an empty item needs no bytes */
    assert_int_equal(rm_wire_encode(&it, buf, BUF_BYTES, &len), RM_OK);
    it.u.items.items = NULL;
    assert_int_equal(rm_wire_encode(&it, buf, BUF_BYTES, &len), RM_EINVAL);
    it.u.items.count = RM_WIRE_ITEMS_MAX + 1;
    it.u.items.items = re_items;
    assert_int_equal(rm_wire_encode(&it, buf, BUF_BYTES, &len), RM_EINVAL);
    /* An item beyond the receiver's frame limit is refused from the
     * header, before its bytes are read. */
    it.u.items.count = 2;
    it.u.items.items = two;
    two[1] = (rm_wire_item){.id = 9, .len = 2, .bytes = de};
    len = encode_ok(&it, buf);
    lim = (rm_wire_limits){len - 1, 0};
    assert_int_equal(rm_wire_decode(buf, 8, &lim, &dec), RM_EWIRE_TOO_LARGE);
}

static void payload_i8_values(void **state) {
    (void)state;
    static const int8_t q[7] = {1, -1, 127, -128, 4, 0, -7};
    static const float sc[7] = {0.01f, 0.5f, -2.0f, 3, 4, 5, 6};
    const uint32_t chunks[] = {1, 3, 6, 7, 100, UINT32_MAX};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        rm_frame f = {.type = RM_FRAME_PULL_REPLY};
        f.u.ex.model = (rm_wire_model){.encoding = RM_ENC_I8_DELTA, .n = 7,
                                       .chunk = chunks[c], .i8 = q, .scales = sc};
        size_t len = encode_ok(&f, buf);
        assert_int_equal(rm_wire_decode(buf, len, &big, &dec), RM_OK);
        rm_wire_payload_i8(&dec.u.ex.model, vals);
        for (uint32_t i = 0; i < 7; i++)
            assert_true(vals[i] == (float)q[i] * f.u.ex.model.scales[i / chunks[c]]);
    }
}

/* ---- the examples of docs/PROTOCOL.md, copied as they appear there */

static const char ex_hello[] =
    "0000  42 00 00 00 01 01 00 00 00 01 02 03 04 05 06 07\n"
    "0010  08 09 0a 0b 0c 0d 0e 0f 10 11 12 13 14 15 16 17\n"
    "0020  18 19 1a 1b 1c 1d 1e 1f 03 00 00 00 00 00 00 00\n"
    "0030  e8 03 00 00 ef be ad de 0d 31 30 2e 30 2e 30 2e\n"
    "0040  31 3a 37 30 30 30\n";

static const char ex_push[] =
    "0000  80 00 00 00 01 02 00 00 2a 00 00 00 00 00 00 00\n"
    "0010  03 00 00 00 00 00 00 00 07 00 00 00 00 00 00 00\n"
    "0020  00 00 00 00 00 00 00 00 00 19 00 00 00 00 00 00\n"
    "0030  00 00 00 00 00 00 e0 3f 01 aa aa aa aa aa aa aa\n"
    "0040  aa aa aa aa aa aa aa aa aa aa aa aa aa aa aa aa\n"
    "0050  aa aa aa aa aa aa aa aa aa 01 00 00 00 00 00 00\n"
    "0060  00 02 00 00 00 0d 31 30 2e 30 2e 30 2e 32 3a 37\n"
    "0070  30 30 30 00 03 00 00 00 00 00 80 3f 00 00 00 c0\n"
    "0080  00 00 00 3f\n";

static const char ex_pull_reply[] =
    "0000  4b 00 00 00 01 03 00 00 2a 00 00 00 00 00 00 00\n"
    "0010  09 00 00 00 00 00 00 00 0c 00 00 00 00 00 00 00\n"
    "0020  0a 00 00 00 00 00 00 00 00 32 00 00 00 00 00 00\n"
    "0030  00 00 00 00 00 00 d0 3f 00 02 05 00 00 00 04 00\n"
    "0040  00 00 0a d7 23 3c 00 00 00 3f 01 ff 7f 80 04\n";

static const char ex_need_full[] =
    "0000  14 00 00 00 01 04 00 00 2a 00 00 00 00 00 00 00\n"
    "0010  0a 00 00 00 00 00 00 00\n";

static const char ex_view[] =
    "0000  76 00 00 00 01 05 00 00 02 11 11 11 11 11 11 11\n"
    "0010  11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11\n"
    "0020  11 11 11 11 11 11 11 11 11 05 00 00 00 00 00 00\n"
    "0030  00 00 00 00 00 0d 31 30 2e 30 2e 30 2e 33 3a 37\n"
    "0040  30 30 30 22 22 22 22 22 22 22 22 22 22 22 22 22\n"
    "0050  22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22\n"
    "0060  22 22 22 01 00 00 00 00 00 00 00 07 00 00 00 0a\n"
    "0070  5b 3a 3a 31 5d 3a 37 30 30 31\n";

static const char ex_leave[] =
    "0000  0c 00 00 00 01 06 00 00 03 00 00 00 00 00 00 00\n";

static const char ex_ping[] =
    "0000  0c 00 00 00 01 07 00 00 08 07 06 05 04 03 02 01\n";

static const char ex_ack[] =
    "0000  0c 00 00 00 01 08 00 00 08 07 06 05 04 03 02 01\n";

static const char ex_have[] =
    "0000  32 00 00 00 01 09 00 00 2a 00 00 00 00 00 00 00\n"
    "0010  03 00 00 00 00 00 00 00 01 00 03 00 00 00 05 00\n"
    "0020  00 00 00 00 00 00 09 00 00 00 00 00 00 00 08 07\n"
    "0030  06 05 04 03 02 01\n";

static const char ex_items[] =
    "0000  25 00 00 00 01 0a 00 00 02 00 00 00 05 00 00 00\n"
    "0010  00 00 00 00 03 00 00 00 61 62 63 09 00 00 00 00\n"
    "0020  00 00 00 02 00 00 00 de ad\n";

static const char *const examples[] = {ex_hello, ex_push, ex_pull_reply,
                                       ex_need_full, ex_view, ex_leave,
                                       ex_ping, ex_ack, ex_have, ex_items};

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Bytes of a dump in the doc's format: "OFFS  xx xx ...\n" per line. The
 * offset column must count the bytes, so a line cannot go missing. */
static size_t parse_dump(const char *s, uint8_t *out) {
    size_t n = 0;
    while (*s) {
        assert_true(strlen(s) >= 6 && s[4] == ' ' && s[5] == ' ');
        assert_int_equal(strtoul(s, NULL, 16), n);
        s += 6;
        while (*s && *s != '\n') {
            assert_true(hexval(s[0]) >= 0 && hexval(s[1]) >= 0);
            out[n++] = (uint8_t)(hexval(s[0]) << 4 | hexval(s[1]));
            s += 2;
            if (*s == ' ')
                s++;
        }
        if (*s == '\n')
            s++;
    }
    return n;
}

/* Decodes an example, then checks that encoding the result gives it back. */
static size_t decode_example(const char *dump, rm_frame *f) {
    size_t len = parse_dump(dump, buf);
    assert_int_equal(rm_wire_frame_size(buf, len, &big), len);
    assert_int_equal(rm_wire_decode(buf, len, &big, f), RM_OK);
    return len;
}

static void assert_reencodes(const rm_frame *f, size_t len) {
    assert_int_equal(encode_ok(f, buf2), len);
    assert_memory_equal(buf, buf2, len);
}

static void protocol_examples_decode(void **state) {
    (void)state;
    rm_frame f;
    uint8_t id[RM_ID_BYTES];

    /* HELLO */
    size_t len = decode_example(ex_hello, &f);
    assert_int_equal(len, 70);
    assert_int_equal(f.type, RM_FRAME_HELLO);
    for (int i = 0; i < RM_ID_BYTES; i++)
        id[i] = (uint8_t)i;
    assert_memory_equal(f.u.hello.id, id, RM_ID_BYTES);
    assert_int_equal(f.u.hello.incarnation, 3);
    assert_int_equal(f.u.hello.model_n, 1000);
    assert_int_equal(f.u.hello.model_tag, 0xdeadbeef);
    assert_string_equal(f.u.hello.addr, "10.0.0.1:7000");
    assert_reencodes(&f, len);

    /* PUSH: 3 floats, one entry */
    len = decode_example(ex_push, &f);
    assert_int_equal(len, 132);
    assert_int_equal(f.type, RM_FRAME_PUSH);
    rm_wire_exchange *x = &f.u.ex;
    assert_int_equal(x->exchange, 42);
    assert_int_equal(x->incarnation, 3);
    assert_int_equal(x->version, 7);
    assert_int_equal(x->base, 0);
    assert_int_equal(x->samples, 6400);
    assert_true(x->weight == 0.5);
    assert_int_equal(x->nentries, 1);
    memset(id, 0xaa, sizeof id);
    assert_memory_equal(x->entries[0].id, id, RM_ID_BYTES);
    assert_int_equal(x->entries[0].incarnation, 1);
    assert_int_equal(x->entries[0].age, 2);
    assert_string_equal(x->entries[0].addr, "10.0.0.2:7000");
    assert_int_equal(x->model.encoding, RM_ENC_F32);
    assert_int_equal(x->model.n, 3);
    rm_wire_payload_f32(&x->model, vals);
    assert_true(vals[0] == 1.0f && vals[1] == -2.0f && vals[2] == 0.5f);
    x->model.f32 = vals;
    assert_reencodes(&f, len);

    /* PULL_REPLY: int8 delta */
    len = decode_example(ex_pull_reply, &f);
    assert_int_equal(len, 79);
    assert_int_equal(f.type, RM_FRAME_PULL_REPLY);
    assert_int_equal(x->exchange, 42);
    assert_int_equal(x->incarnation, 9);
    assert_int_equal(x->version, 12);
    assert_int_equal(x->base, 10);
    assert_int_equal(x->samples, 12800);
    assert_true(x->weight == 0.25);
    assert_int_equal(x->nentries, 0);
    assert_int_equal(x->model.encoding, RM_ENC_I8_DELTA);
    assert_int_equal(x->model.n, 5);
    assert_int_equal(x->model.chunk, 4);
    rm_wire_payload_i8(&x->model, vals);
    const float want[5] = {0.01f * 1, 0.01f * -1, 0.01f * 127, 0.01f * -128, 2.0f};
    for (int i = 0; i < 5; i++)
        assert_true(vals[i] == want[i]);
    static const float sc[2] = {0.01f, 0.5f};
    static const int8_t q[5] = {1, -1, 127, -128, 4};
    x->model.scales = sc;
    x->model.i8 = q;
    assert_reencodes(&f, len);

    /* NEED_FULL */
    len = decode_example(ex_need_full, &f);
    assert_int_equal(len, 24);
    assert_int_equal(f.type, RM_FRAME_NEED_FULL);
    assert_int_equal(f.u.need_full.exchange, 42);
    assert_int_equal(f.u.need_full.base, 10);
    assert_reencodes(&f, len);

    /* VIEW: two entries */
    len = decode_example(ex_view, &f);
    assert_int_equal(len, 122);
    assert_int_equal(f.type, RM_FRAME_VIEW);
    assert_int_equal(f.u.view.nentries, 2);
    memset(id, 0x11, sizeof id);
    assert_memory_equal(f.u.view.entries[0].id, id, RM_ID_BYTES);
    assert_int_equal(f.u.view.entries[0].incarnation, 5);
    assert_int_equal(f.u.view.entries[0].age, 0);
    assert_string_equal(f.u.view.entries[0].addr, "10.0.0.3:7000");
    memset(id, 0x22, sizeof id);
    assert_memory_equal(f.u.view.entries[1].id, id, RM_ID_BYTES);
    assert_int_equal(f.u.view.entries[1].incarnation, 1);
    assert_int_equal(f.u.view.entries[1].age, 7);
    assert_string_equal(f.u.view.entries[1].addr, "[::1]:7001");
    assert_reencodes(&f, len);

    /* LEAVE, PING, ACK */
    len = decode_example(ex_leave, &f);
    assert_int_equal(f.type, RM_FRAME_LEAVE);
    assert_int_equal(f.u.leave.incarnation, 3);
    assert_reencodes(&f, len);
    len = decode_example(ex_ping, &f);
    assert_int_equal(f.type, RM_FRAME_PING);
    assert_int_equal(f.u.ping.nonce, 0x0102030405060708ull);
    assert_reencodes(&f, len);
    len = decode_example(ex_ack, &f);
    assert_int_equal(f.type, RM_FRAME_ACK);
    assert_int_equal(f.u.ping.nonce, 0x0102030405060708ull);
    assert_reencodes(&f, len);

    /* HAVE: three ids, asking for a reply */
    len = decode_example(ex_have, &f);
    assert_int_equal(len, 54);
    assert_int_equal(f.type, RM_FRAME_HAVE);
    assert_int_equal(f.u.have.exchange, 42);
    assert_int_equal(f.u.have.incarnation, 3);
    assert_int_equal(f.u.have.want_reply, 1);
    assert_int_equal(f.u.have.nentries, 0);
    assert_int_equal(f.u.have.nids, 3);
    assert_int_equal(rm_wire_have_id(&f.u.have, 0), 5);
    assert_int_equal(rm_wire_have_id(&f.u.have, 1), 9);
    assert_true(rm_wire_have_id(&f.u.have, 2) == 0x0102030405060708ull);
    lists_for_reencode(&f);
    assert_reencodes(&f, len);

    /* ITEMS: two blobs */
    len = decode_example(ex_items, &f);
    assert_int_equal(len, 41);
    assert_int_equal(f.type, RM_FRAME_ITEMS);
    assert_int_equal(f.u.items.count, 2);
    rm_wire_items_iter it;
    rm_wire_item item;
    rm_wire_items_begin(&f.u.items, &it);
    assert_true(rm_wire_items_next(&it, &item));
    assert_int_equal(item.id, 5);
    assert_int_equal(item.len, 3);
    assert_memory_equal(item.bytes, "abc", 3);
    assert_true(rm_wire_items_next(&it, &item));
    assert_int_equal(item.id, 9);
    assert_int_equal(item.len, 2);
    assert_memory_equal(item.bytes, "\xde\xad", 2);
    assert_false(rm_wire_items_next(&it, &item));
    lists_for_reencode(&f);
    assert_reencodes(&f, len);
}

/* The dumps above must still be in the doc, letter for letter. */
static void protocol_doc_holds_the_examples(void **state) {
    (void)state;
    const char *path = RUMOR_FIXTURES "/../../docs/PROTOCOL.md";
    FILE *fp = fopen(path, "rb");
    if (!fp)
        print_error("test_wire: cannot open %s\n", path);
    assert_non_null(fp);
    static char doc[1 << 16];
    size_t n = fread(doc, 1, sizeof doc - 1, fp);
    assert_true(n < sizeof doc - 1);
    doc[n] = '\0';
    fclose(fp);
    for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
        if (!strstr(doc, examples[i]))
            print_error("test_wire: docs/PROTOCOL.md lacks:\n%s", examples[i]);
        assert_non_null(strstr(doc, examples[i]));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_random_frames),
        cmocka_unit_test(reencode_gives_same_bytes),
        cmocka_unit_test(every_prefix_is_truncated),
        cmocka_unit_test(frame_size_checks),
        cmocka_unit_test(oversized_frames_and_models),
        cmocka_unit_test(unknown_type),
        cmocka_unit_test(bad_version),
        cmocka_unit_test(flags_must_be_zero),
        cmocka_unit_test(pull_flag_only_on_push),
        cmocka_unit_test(trailing_byte),
        cmocka_unit_test(malformed_fields),
        cmocka_unit_test(encoder_refuses_what_decoder_would),
        cmocka_unit_test(have_and_items_errors),
        cmocka_unit_test(payload_i8_values),
        cmocka_unit_test(protocol_examples_decode),
        cmocka_unit_test(protocol_doc_holds_the_examples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
