/* rumor: the gossip wire codec (wire.h; docs/PROTOCOL.md gives every
 * field's offset).
 *
 * The encoder validates f and computes the frame's size first, checks it
 * against cap, then writes without further checks and asserts that it wrote
 * exactly that size. The decoder moves a cursor over the body and takes
 * each fixed-size block in one bounds check, so every read below is covered
 * by the `take` just before it. */
#include "gossip/wire.h"

#include "base/le.h"
#include "base/str.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

/* Body sizes of the fixed parts; the offsets inside them are in
 * docs/PROTOCOL.md and in the code below. */
#define HELLO_FIXED_BYTES 49  /* id, incarnation, model_n, model_tag, addr_len */
#define EX_FIXED_BYTES 49     /* exchange .. weight, nentries */
#define ENTRY_FIXED_BYTES 45  /* id, incarnation, age, addr_len */
#define MODEL_FIXED_BYTES 5   /* encoding, n */
#define CHUNK_BYTES 4
#define NEED_FULL_BYTES 16
#define VIEW_FIXED_BYTES 1
#define U64_BODY_BYTES 8      /* LEAVE, PING, ACK */
#define HAVE_FIXED_BYTES 18   /* exchange, incarnation, want_reply, nentries */
#define COUNT_BYTES 4         /* HAVE's nids, ITEMS' count */
#define ITEM_FIXED_BYTES 12   /* id, len */

/* Little-endian hosts copy float payloads with memcpy; others (and
 * compilers that do not say) go value by value through byte shifts. */
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WIRE_LE_HOST 1
#else
#define WIRE_LE_HOST 0
#endif

/* ---- little-endian primitives: base/le.h. */

static inline uint8_t *put_bytes(uint8_t *p, const void *src, size_t n) {
    if (n) /* src may be NULL when n is 0; memcpy does not allow that */
        memcpy(p, src, n);
    return p + n;
}

/* n floats from src to p, little-endian. */
static uint8_t *put_f32s(uint8_t *p, const float *src, uint64_t n) {
    if (WIRE_LE_HOST)
        return put_bytes(p, src, (size_t)(n * 4));
    for (uint64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], sizeof u);
        p = rm_le_put32(p, u);
    }
    return p;
}

/* An IEEE double is finite unless its exponent bits are all ones. Checked
 * on the bits, so that -ffast-math could never fold the test away. */
static int f64_bits_finite(uint64_t bits) {
    return ((bits >> 52) & 0x7ff) != 0x7ff;
}

static uint64_t f64_bits(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* ceil(n / chunk) without the overflow of n + chunk - 1; chunk > 0. */
static uint64_t nscales(uint32_t n, uint32_t chunk) {
    return (uint64_t)(n / chunk) + (n % chunk != 0);
}

/* ---- sizes, with the encoder's validation */

static rm_err addr_check(uint8_t len, const char *addr) {
    return memchr(addr, 0, len) ? RM_EINVAL : RM_OK;
}

static rm_err entries_bytes(uint8_t n, const rm_wire_entry *e, uint64_t *out) {
    if (n > RM_VIEW_ENTRIES_MAX)
        return RM_EINVAL;
    uint64_t sum = 0;
    for (unsigned i = 0; i < n; i++) {
        if (addr_check(e[i].addr_len, e[i].addr))
            return RM_EINVAL;
        sum += ENTRY_FIXED_BYTES + (uint64_t)e[i].addr_len;
    }
    *out = sum;
    return RM_OK;
}

/* Payload bytes after the model's fixed part (chunk field included). */
static rm_err model_bytes(const rm_wire_model *m, uint64_t *out) {
    switch (m->encoding) {
    case RM_ENC_F32:
    case RM_ENC_F32_DELTA:
        if (m->n && !m->f32)
            return RM_EINVAL;
        *out = (uint64_t)m->n * 4;
        return RM_OK;
    case RM_ENC_I8_DELTA:
        if (m->chunk == 0 || (m->n && (!m->i8 || !m->scales)))
            return RM_EINVAL;
        *out = CHUNK_BYTES + nscales(m->n, m->chunk) * 4 + m->n;
        return RM_OK;
    default:
        return RM_EINVAL;
    }
}

/* HAVE's id list: at most RM_WIRE_ITEMS_MAX, rising strictly. */
static rm_err ids_check(uint32_t n, const uint64_t *ids) {
    if (n > RM_WIRE_ITEMS_MAX || (n && !ids))
        return RM_EINVAL;
    for (uint32_t i = 1; i < n; i++)
        if (ids[i] <= ids[i - 1])
            return RM_EINVAL;
    return RM_OK;
}

/* ITEMS' records: bytes after the count. Below 2^16 x (12 + 2^32): no
 * overflow. */
static rm_err items_bytes(const rm_wire_items *it, uint64_t *out) {
    if (it->count > RM_WIRE_ITEMS_MAX || (it->count && !it->items))
        return RM_EINVAL;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < it->count; i++) {
        const rm_wire_item *x = &it->items[i];
        if ((x->len && !x->bytes) || (i && x->id <= it->items[i - 1].id))
            return RM_EINVAL;
        sum += ITEM_FIXED_BYTES + (uint64_t)x->len;
    }
    *out = sum;
    return RM_OK;
}

static bool flags_ok(uint8_t type, uint16_t flags) {
    return flags == 0 || (type == RM_FRAME_PUSH && flags == RM_WIRE_FLAG_PULL);
}

/* Validates f and gives the size of its body. */
static rm_err body_bytes(const rm_frame *f, uint64_t *out) {
    uint64_t a, b;
    rm_err err;
    if (!flags_ok(f->type, f->flags))
        return RM_EINVAL;
    switch (f->type) {
    case RM_FRAME_HELLO:
        if (addr_check(f->u.hello.addr_len, f->u.hello.addr))
            return RM_EINVAL;
        *out = HELLO_FIXED_BYTES + (uint64_t)f->u.hello.addr_len;
        return RM_OK;
    case RM_FRAME_PUSH:
    case RM_FRAME_PULL_REPLY:
        if (!f64_bits_finite(f64_bits(f->u.ex.weight)))
            return RM_EINVAL;
        if ((err = entries_bytes(f->u.ex.nentries, f->u.ex.entries, &a)) ||
            (err = model_bytes(&f->u.ex.model, &b)))
            return err;
        *out = EX_FIXED_BYTES + a + MODEL_FIXED_BYTES + b;
        return RM_OK;
    case RM_FRAME_NEED_FULL:
        *out = NEED_FULL_BYTES;
        return RM_OK;
    case RM_FRAME_VIEW:
        if ((err = entries_bytes(f->u.view.nentries, f->u.view.entries, &a)))
            return err;
        *out = VIEW_FIXED_BYTES + a;
        return RM_OK;
    case RM_FRAME_LEAVE:
    case RM_FRAME_PING:
    case RM_FRAME_ACK:
        *out = U64_BODY_BYTES;
        return RM_OK;
    case RM_FRAME_HAVE:
        if (f->u.have.want_reply > 1)
            return RM_EINVAL;
        if ((err = entries_bytes(f->u.have.nentries, f->u.have.entries, &a)) ||
            (err = ids_check(f->u.have.nids, f->u.have.ids)))
            return err;
        *out = HAVE_FIXED_BYTES + a + COUNT_BYTES + (uint64_t)f->u.have.nids * 8;
        return RM_OK;
    case RM_FRAME_ITEMS:
        if ((err = items_bytes(&f->u.items, &a)))
            return err;
        *out = COUNT_BYTES + a;
        return RM_OK;
    default:
        return RM_EWIRE_BAD_TYPE;
    }
}

/* The whole frame's size; the length field holds size - 4 and must fit
 * a u32, and the size must fit a size_t. */
static rm_err frame_bytes(const rm_frame *f, size_t *out) {
    uint64_t body;
    rm_err err = body_bytes(f, &body);
    if (err)
        return err;
    uint64_t length = RM_WIRE_HEADER_BYTES - 4 + body;
    if (length > UINT32_MAX)
        return RM_EWIRE_TOO_LARGE;
#if SIZE_MAX < UINT64_MAX
    if (4 + length > SIZE_MAX)
        return RM_EWIRE_TOO_LARGE;
#endif
    *out = (size_t)(4 + length);
    return RM_OK;
}

size_t rm_wire_encoded_size(const rm_frame *f) {
    size_t size;
    return frame_bytes(f, &size) ? 0 : size;
}

/* ---- encoder */

static uint8_t *put_addr(uint8_t *p, uint8_t len, const char *addr) {
    *p++ = len;
    rm_copy_short(p, addr, len);
    return p + len;
}

static uint8_t *put_entries(uint8_t *p, uint8_t n, const rm_wire_entry *e) {
    for (unsigned i = 0; i < n; i++) {
        p = put_bytes(p, e[i].id, RM_ID_BYTES);
        p = rm_le_put64(p, e[i].incarnation);
        p = rm_le_put32(p, e[i].age);
        p = put_addr(p, e[i].addr_len, e[i].addr);
    }
    return p;
}

static uint8_t *put_model(uint8_t *p, const rm_wire_model *m) {
    *p++ = m->encoding;
    p = rm_le_put32(p, m->n);
    if (m->encoding != RM_ENC_I8_DELTA)
        return put_f32s(p, m->f32, m->n);
    p = rm_le_put32(p, m->chunk);
    p = put_f32s(p, m->scales, nscales(m->n, m->chunk));
    return put_bytes(p, m->i8, m->n);
}

static uint8_t *put_exchange(uint8_t *p, const rm_wire_exchange *ex) {
    p = rm_le_put64(p, ex->exchange);
    p = rm_le_put64(p, ex->incarnation);
    p = rm_le_put64(p, ex->version);
    p = rm_le_put64(p, ex->base);
    p = rm_le_put64(p, ex->samples);
    p = rm_le_put64(p, f64_bits(ex->weight));
    *p++ = ex->nentries;
    p = put_entries(p, ex->nentries, ex->entries);
    return put_model(p, &ex->model);
}

rm_err rm_wire_encode(const rm_frame *f, uint8_t *buf, size_t cap, size_t *len) {
    size_t size;
    rm_err err = frame_bytes(f, &size);
    if (err)
        return err;
    if (size > cap)
        return RM_EWIRE_TOO_LARGE;

    uint8_t *p = buf;
    p = rm_le_put32(p, (uint32_t)(size - 4));
    *p++ = RM_WIRE_VERSION;
    *p++ = f->type;
    p = rm_le_put16(p, f->flags);
    switch (f->type) {
    case RM_FRAME_HELLO:
        p = put_bytes(p, f->u.hello.id, RM_ID_BYTES);
        p = rm_le_put64(p, f->u.hello.incarnation);
        p = rm_le_put32(p, f->u.hello.model_n);
        p = rm_le_put32(p, f->u.hello.model_tag);
        p = put_addr(p, f->u.hello.addr_len, f->u.hello.addr);
        break;
    case RM_FRAME_PUSH:
    case RM_FRAME_PULL_REPLY:
        p = put_exchange(p, &f->u.ex);
        break;
    case RM_FRAME_NEED_FULL:
        p = rm_le_put64(p, f->u.need_full.exchange);
        p = rm_le_put64(p, f->u.need_full.base);
        break;
    case RM_FRAME_VIEW:
        *p++ = f->u.view.nentries;
        p = put_entries(p, f->u.view.nentries, f->u.view.entries);
        break;
    case RM_FRAME_LEAVE:
        p = rm_le_put64(p, f->u.leave.incarnation);
        break;
    case RM_FRAME_HAVE:
        p = rm_le_put64(p, f->u.have.exchange);
        p = rm_le_put64(p, f->u.have.incarnation);
        *p++ = f->u.have.want_reply;
        *p++ = f->u.have.nentries;
        p = put_entries(p, f->u.have.nentries, f->u.have.entries);
        p = rm_le_put32(p, f->u.have.nids);
        for (uint32_t i = 0; i < f->u.have.nids; i++)
            p = rm_le_put64(p, f->u.have.ids[i]);
        break;
    case RM_FRAME_ITEMS:
        p = rm_le_put32(p, f->u.items.count);
        for (uint32_t i = 0; i < f->u.items.count; i++) {
            const rm_wire_item *x = &f->u.items.items[i];
            p = rm_le_put64(p, x->id);
            p = rm_le_put32(p, x->len);
            p = put_bytes(p, x->bytes, x->len);
        }
        break;
    default: /* PING, ACK: body_bytes refused every other type */
        p = rm_le_put64(p, f->u.ping.nonce);
        break;
    }
    assert((size_t)(p - buf) == size);
    *len = size;
    return RM_OK;
}

/* ---- decoder */

typedef struct {
    const uint8_t *p;
    size_t left;
} reader;

/* The next n bytes, or NULL when fewer than n remain. */
static const uint8_t *take(reader *r, uint64_t n) {
    if (n > r->left)
        return NULL;
    const uint8_t *q = r->p;
    r->p += n;
    r->left -= (size_t)n;
    return q;
}

/* len address bytes into addr, NUL-terminated. */
static rm_err take_addr(reader *r, uint8_t len, char *addr) {
    const uint8_t *q = take(r, len);
    if (!q)
        return RM_EWIRE_TRUNCATED;
    if (memchr(q, 0, len))
        return RM_EWIRE_MALFORMED;
    rm_copy_short(addr, q, len);
    addr[len] = '\0';
    return RM_OK;
}

/* n was read by the caller; entries follow it. */
static rm_err take_entries(reader *r, uint8_t n, rm_wire_entry *e) {
    if (n > RM_VIEW_ENTRIES_MAX)
        return RM_EWIRE_MALFORMED;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *q = take(r, ENTRY_FIXED_BYTES);
        if (!q)
            return RM_EWIRE_TRUNCATED;
        memcpy(e[i].id, q, RM_ID_BYTES);
        e[i].incarnation = rm_le_get64(q + 32);
        e[i].age = rm_le_get32(q + 40);
        e[i].addr_len = q[44];
        rm_err err = take_addr(r, e[i].addr_len, e[i].addr);
        if (err)
            return err;
    }
    return RM_OK;
}

static rm_err take_model(reader *r, const rm_wire_limits *lim, rm_wire_model *m) {
    const uint8_t *q = take(r, MODEL_FIXED_BYTES);
    if (!q)
        return RM_EWIRE_TRUNCATED;
    m->encoding = q[0];
    m->n = rm_le_get32(q + 1);
    m->chunk = 0;
    m->f32 = NULL;
    m->i8 = NULL;
    m->scales = NULL;
    if (m->encoding >= RM_ENC_END)
        return RM_EWIRE_MALFORMED;
    if (m->n > lim->model_n_max)
        return RM_EWIRE_TOO_LARGE;
    uint64_t nbytes = (uint64_t)m->n * 4; /* < 2^34: no overflow */
    if (m->encoding == RM_ENC_I8_DELTA) {
        if (!(q = take(r, CHUNK_BYTES)))
            return RM_EWIRE_TRUNCATED;
        m->chunk = rm_le_get32(q);
        if (m->chunk == 0)
            return RM_EWIRE_MALFORMED;
        nbytes = nscales(m->n, m->chunk) * 4 + m->n; /* < 2^35 */
    }
    if (!(m->bytes = take(r, nbytes)))
        return RM_EWIRE_TRUNCATED;
    m->nbytes = (size_t)nbytes; /* fits: it was within the input */
    return RM_OK;
}

static rm_err take_exchange(reader *r, const rm_wire_limits *lim,
                            rm_wire_exchange *ex) {
    const uint8_t *q = take(r, EX_FIXED_BYTES);
    if (!q)
        return RM_EWIRE_TRUNCATED;
    ex->exchange = rm_le_get64(q);
    ex->incarnation = rm_le_get64(q + 8);
    ex->version = rm_le_get64(q + 16);
    ex->base = rm_le_get64(q + 24);
    ex->samples = rm_le_get64(q + 32);
    uint64_t w = rm_le_get64(q + 40);
    if (!f64_bits_finite(w))
        return RM_EWIRE_MALFORMED;
    memcpy(&ex->weight, &w, sizeof w);
    ex->nentries = q[48];
    rm_err err = take_entries(r, ex->nentries, ex->entries);
    if (err)
        return err;
    return take_model(r, lim, &ex->model);
}

static rm_err take_have(reader *r, rm_wire_have *h) {
    const uint8_t *q = take(r, HAVE_FIXED_BYTES);
    if (!q)
        return RM_EWIRE_TRUNCATED;
    h->exchange = rm_le_get64(q);
    h->incarnation = rm_le_get64(q + 8);
    h->want_reply = q[16];
    h->nentries = q[17];
    h->ids = NULL;
    if (h->want_reply > 1)
        return RM_EWIRE_MALFORMED;
    rm_err err = take_entries(r, h->nentries, h->entries);
    if (err)
        return err;
    if (!(q = take(r, COUNT_BYTES)))
        return RM_EWIRE_TRUNCATED;
    h->nids = rm_le_get32(q);
    if (h->nids > RM_WIRE_ITEMS_MAX)
        return RM_EWIRE_TOO_LARGE;
    if (!(h->id_bytes = take(r, (uint64_t)h->nids * 8)))
        return RM_EWIRE_TRUNCATED;
    for (uint32_t i = 1; i < h->nids; i++)
        if (rm_le_get64(h->id_bytes + 8 * (size_t)i) <= rm_le_get64(h->id_bytes + 8 * (size_t)(i - 1)))
            return RM_EWIRE_MALFORMED;
    return RM_OK;
}

/* Walks every record once, so that rm_wire_items_next needs no checks. */
static rm_err take_items(reader *r, rm_wire_items *it) {
    const uint8_t *q = take(r, COUNT_BYTES);
    if (!q)
        return RM_EWIRE_TRUNCATED;
    it->count = rm_le_get32(q);
    it->items = NULL;
    if (it->count > RM_WIRE_ITEMS_MAX)
        return RM_EWIRE_TOO_LARGE;
    it->bytes = r->p;
    size_t before = r->left;
    uint64_t prev = 0;
    for (uint32_t i = 0; i < it->count; i++) {
        if (!(q = take(r, ITEM_FIXED_BYTES)))
            return RM_EWIRE_TRUNCATED;
        uint64_t id = rm_le_get64(q);
        if (i && id <= prev)
            return RM_EWIRE_MALFORMED;
        prev = id;
        if (!take(r, rm_le_get32(q + 8)))
            return RM_EWIRE_TRUNCATED;
    }
    it->nbytes = before - r->left;
    return RM_OK;
}

static rm_err take_body(reader *r, const rm_wire_limits *lim, rm_frame *f) {
    const uint8_t *q;
    switch (f->type) {
    case RM_FRAME_HELLO:
        if (!(q = take(r, HELLO_FIXED_BYTES)))
            return RM_EWIRE_TRUNCATED;
        memcpy(f->u.hello.id, q, RM_ID_BYTES);
        f->u.hello.incarnation = rm_le_get64(q + 32);
        f->u.hello.model_n = rm_le_get32(q + 40);
        f->u.hello.model_tag = rm_le_get32(q + 44);
        f->u.hello.addr_len = q[48];
        return take_addr(r, f->u.hello.addr_len, f->u.hello.addr);
    case RM_FRAME_PUSH:
    case RM_FRAME_PULL_REPLY:
        return take_exchange(r, lim, &f->u.ex);
    case RM_FRAME_NEED_FULL:
        if (!(q = take(r, NEED_FULL_BYTES)))
            return RM_EWIRE_TRUNCATED;
        f->u.need_full.exchange = rm_le_get64(q);
        f->u.need_full.base = rm_le_get64(q + 8);
        return RM_OK;
    case RM_FRAME_VIEW:
        if (!(q = take(r, VIEW_FIXED_BYTES)))
            return RM_EWIRE_TRUNCATED;
        f->u.view.nentries = q[0];
        return take_entries(r, f->u.view.nentries, f->u.view.entries);
    case RM_FRAME_LEAVE:
        if (!(q = take(r, U64_BODY_BYTES)))
            return RM_EWIRE_TRUNCATED;
        f->u.leave.incarnation = rm_le_get64(q);
        return RM_OK;
    case RM_FRAME_HAVE:
        return take_have(r, &f->u.have);
    case RM_FRAME_ITEMS:
        return take_items(r, &f->u.items);
    default: /* PING, ACK: the caller checked the type */
        if (!(q = take(r, U64_BODY_BYTES)))
            return RM_EWIRE_TRUNCATED;
        f->u.ping.nonce = rm_le_get64(q);
        return RM_OK;
    }
}

int64_t rm_wire_frame_size(const uint8_t *buf, size_t len, const rm_wire_limits *lim) {
    if (len < 4)
        return RM_EWIRE_TRUNCATED;
    uint64_t size = 4 + (uint64_t)rm_le_get32(buf);
    if (size < RM_WIRE_HEADER_BYTES)
        return RM_EWIRE_MALFORMED;
    if (size > lim->frame_bytes_max)
        return RM_EWIRE_TOO_LARGE;
    return (int64_t)size;
}

rm_err rm_wire_decode(const uint8_t *buf, size_t len, const rm_wire_limits *lim,
                      rm_frame *out) {
    int64_t size = rm_wire_frame_size(buf, len, lim);
    if (size < 0)
        return (rm_err)size;
    if (len < (uint64_t)size)
        return RM_EWIRE_TRUNCATED;
    if (len > (uint64_t)size)
        return RM_EWIRE_MALFORMED;
    if (buf[4] != RM_WIRE_VERSION)
        return RM_EWIRE_BAD_VERSION;
    if (buf[5] == 0 || buf[5] >= RM_FRAME_TYPE_END)
        return RM_EWIRE_BAD_TYPE;
    if (!flags_ok(buf[5], rm_le_get16(buf + 6)))
        return RM_EWIRE_MALFORMED;
    out->type = buf[5];
    out->flags = rm_le_get16(buf + 6);

    reader r = {buf + RM_WIRE_HEADER_BYTES, len - RM_WIRE_HEADER_BYTES};
    rm_err err = take_body(&r, lim, out);
    if (err)
        return err;
    return r.left ? RM_EWIRE_MALFORMED : RM_OK;
}

/* ---- payloads */

void rm_wire_payload_f32(const rm_wire_model *m, float *dst) {
    assert(m->encoding == RM_ENC_F32 || m->encoding == RM_ENC_F32_DELTA);
    assert(m->nbytes == (size_t)m->n * 4);
    if (m->n == 0)
        return;
    if (WIRE_LE_HOST) {
        memcpy(dst, m->bytes, (size_t)m->n * 4);
        return;
    }
    for (uint32_t i = 0; i < m->n; i++)
        dst[i] = rm_le_getf32(m->bytes + (size_t)i * 4);
}

void rm_wire_payload_i8(const rm_wire_model *m, float *dst) {
    assert(m->encoding == RM_ENC_I8_DELTA && m->chunk > 0);
    uint64_t ns = nscales(m->n, m->chunk);
    assert(m->nbytes == ns * 4 + m->n);
    const uint8_t *scale = m->bytes;
    const int8_t *q = (const int8_t *)(m->bytes + ns * 4);
    /* i in 64 bits: i + chunk may pass UINT32_MAX on the last chunk. */
    for (uint64_t i = 0; i < m->n; i += m->chunk, scale += 4) {
        float s = rm_le_getf32(scale);
        uint64_t end = m->n - i < m->chunk ? m->n : i + m->chunk;
        for (uint64_t j = i; j < end; j++)
            dst[j] = (float)q[j] * s;
    }
}

/* ---- item lists */

uint64_t rm_wire_have_id(const rm_wire_have *h, uint32_t i) {
    assert(i < h->nids);
    return h->ids ? h->ids[i] : rm_le_get64(h->id_bytes + 8 * (size_t)i);
}

void rm_wire_items_begin(const rm_wire_items *it, rm_wire_items_iter *iter) {
    iter->p = it->bytes;
    iter->left = it->nbytes;
    iter->remaining = it->count;
}

bool rm_wire_items_next(rm_wire_items_iter *iter, rm_wire_item *out) {
    if (iter->remaining == 0)
        return false;
    /* The decoder walked these records: they are whole. */
    assert(iter->left >= ITEM_FIXED_BYTES);
    out->id = rm_le_get64(iter->p);
    out->len = rm_le_get32(iter->p + 8);
    assert(iter->left - ITEM_FIXED_BYTES >= out->len);
    out->bytes = iter->p + ITEM_FIXED_BYTES;
    iter->p += ITEM_FIXED_BYTES + (size_t)out->len;
    iter->left -= ITEM_FIXED_BYTES + (size_t)out->len;
    iter->remaining--;
    return true;
}
