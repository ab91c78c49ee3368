/* rumor: the gossip wire format (docs/PROTOCOL.md describes every field).
 *
 * Little-endian, explicit widths, no struct casts. A frame is
 *
 *     u32 length | u8 version | u8 type | u16 flags | body
 *
 * where `length` counts the bytes after itself (version..end of body), so a
 * stream reader reads 4 bytes, checks the length against its maximum, then
 * reads exactly that many. Decoders check every length against the bytes
 * that remain and against the configured maxima before they read, and
 * return a named error. Decoding borrows: pointers in a decoded frame point
 * into the input buffer and live as long as it does. */
#ifndef RM_WIRE_H
#define RM_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define RM_WIRE_VERSION 1
#define RM_WIRE_HEADER_BYTES 8      /* length, version, type, flags */
#define RM_ID_BYTES 32              /* a peer's id: its X25519 public key */
#define RM_ADDR_MAX 255             /* bytes of an address string */
#define RM_VIEW_ENTRIES_MAX 64      /* view entries piggybacked per frame */
#define RM_WIRE_ITEMS_MAX 65536     /* ids in a HAVE, items in an ITEMS */

/* Header flags. PULL, on a PUSH only: "answer with your model, but do not
 * merge mine" (a peer rejoining with a stale model asks for a fresh one
 * without dragging its partner back). Every other bit must be 0. */
#define RM_WIRE_FLAG_PULL 0x0001u

typedef enum {
    RM_FRAME_HELLO = 1,      /* who I am, my incarnation, my model's shape */
    RM_FRAME_PUSH = 2,       /* exchange opener: my model (full or delta) */
    RM_FRAME_PULL_REPLY = 3, /* answer to PUSH: my model as it was */
    RM_FRAME_NEED_FULL = 4,  /* I lack the base of your delta: send it full */
    RM_FRAME_VIEW = 5,       /* membership entries, on their own */
    RM_FRAME_LEAVE = 6,      /* I am leaving cleanly */
    RM_FRAME_PING = 7,
    RM_FRAME_ACK = 8,
    RM_FRAME_HAVE = 9,       /* the ids of the items I hold (union merge) */
    RM_FRAME_ITEMS = 10,     /* items you lack: id, length, bytes each */
    RM_FRAME_TYPE_END
} rm_frame_type;

/* How a model payload is encoded. */
typedef enum {
    RM_ENC_F32 = 0,        /* n float32: the whole model (a key frame) */
    RM_ENC_F32_DELTA = 1,  /* n float32: model minus the base */
    RM_ENC_I8_DELTA = 2,   /* model minus the base, int8 with one f32 scale
                              per chunk of `chunk` values */
    RM_ENC_END
} rm_encoding;

/* One membership entry as it travels. */
typedef struct {
    uint8_t id[RM_ID_BYTES];
    uint64_t incarnation;
    uint32_t age;            /* exchanges since the sender last heard of it */
    uint8_t addr_len;
    char addr[RM_ADDR_MAX + 1]; /* NUL-terminated after decoding */
} rm_wire_entry;

/* A model payload. On encode, exactly one of f32 / (i8, scales) is read
 * (it may be NULL when n is 0). On decode, f32, i8 and scales are NULL,
 * chunk is 0 unless the encoding is RM_ENC_I8_DELTA, and `bytes` points at
 * the raw little-endian payload in the input (it may be unaligned):
 * n float32 for the F32 encodings (nbytes = 4 n), or ceil(n / chunk)
 * float32 scales followed by n int8 for RM_ENC_I8_DELTA. The decoder checks
 * the payload's size, never its values: rm_wire_payload_f32 / _i8 turn it
 * into floats, and the caller checks those (NaN, norm). */
typedef struct {
    uint8_t encoding;        /* rm_encoding */
    uint32_t n;              /* values in the model */
    uint32_t chunk;          /* RM_ENC_I8_DELTA: values per scale */
    const float *f32;        /* encode: (n) */
    const int8_t *i8;        /* encode: (n) */
    const float *scales;     /* encode: (ceil(n / chunk)) */
    const uint8_t *bytes;    /* decode: the payload as sent */
    size_t nbytes;
} rm_wire_model;

/* PUSH and PULL_REPLY share one body. */
typedef struct {
    uint64_t exchange;       /* chosen by the initiator, echoed in the reply */
    uint64_t incarnation;    /* the sender's */
    uint64_t version;        /* the sender's model version */
    uint64_t base;           /* base this delta is against (0: key frame) */
    uint64_t samples;        /* samples the sender has trained on (age merge) */
    double weight;           /* push-sum weight carried with the model */
    uint8_t nentries;
    rm_wire_entry entries[RM_VIEW_ENTRIES_MAX];
    rm_wire_model model;
} rm_wire_exchange;

/* HAVE: the sender's set of items (for a forest: its trees' ids), opening
 * or answering an item exchange, with view entries as on a PUSH. On
 * encode `ids` is read (nids values, strictly ascending; may be NULL when
 * nids is 0); on decode `ids` is NULL and `id_bytes` points at the nids
 * little-endian u64 in the input (unaligned): read them with
 * rm_wire_have_id. The decoder checks that they rise strictly. */
typedef struct {
    uint64_t exchange;       /* chosen by the initiator, echoed in the answer */
    uint64_t incarnation;    /* the sender's */
    uint8_t want_reply;      /* 1: answer with your own HAVE; 0: this is one */
    uint8_t nentries;
    rm_wire_entry entries[RM_VIEW_ENTRIES_MAX];
    uint32_t nids;           /* at most RM_WIRE_ITEMS_MAX */
    const uint64_t *ids;     /* encode: (nids) */
    const uint8_t *id_bytes; /* decode: 8 nids bytes */
} rm_wire_have;

/* One item of an ITEMS frame: an opaque blob with a 64-bit id. */
typedef struct {
    uint64_t id;
    uint32_t len;
    const uint8_t *bytes;    /* (len); may be NULL when len is 0 */
} rm_wire_item;

/* ITEMS: items the receiver lacks, ids strictly ascending. On encode
 * `items` is read (count of them; may be NULL when count is 0); on decode
 * `items` is NULL, and `bytes` and `nbytes` span the count records as sent,
 * every one of them already checked: walk them with rm_wire_items_next. */
typedef struct {
    uint32_t count;              /* at most RM_WIRE_ITEMS_MAX */
    const rm_wire_item *items;   /* encode: (count) */
    const uint8_t *bytes;        /* decode: the records */
    size_t nbytes;
} rm_wire_items;

typedef struct {
    uint8_t id[RM_ID_BYTES];
    uint64_t incarnation;
    uint32_t model_n;        /* floats in the sender's model */
    uint32_t model_tag;      /* hash of the model's descriptor: shapes must agree */
    uint8_t addr_len;
    char addr[RM_ADDR_MAX + 1];
} rm_wire_hello;

typedef struct {
    uint8_t type;            /* rm_frame_type */
    uint16_t flags;          /* RM_WIRE_FLAG_PULL on a PUSH, else 0 */
    union {
        rm_wire_hello hello;
        rm_wire_exchange ex;                 /* PUSH, PULL_REPLY */
        struct { uint64_t exchange, base; } need_full;
        struct { uint8_t nentries; rm_wire_entry entries[RM_VIEW_ENTRIES_MAX]; } view;
        struct { uint64_t incarnation; } leave;
        struct { uint64_t nonce; } ping;     /* PING and ACK */
        rm_wire_have have;
        rm_wire_items items;
    } u;
} rm_frame;

/* Limits a decoder enforces; a receiver sets them from its own model. */
typedef struct {
    size_t frame_bytes_max;  /* whole frame, header included */
    uint32_t model_n_max;    /* values in a model payload */
} rm_wire_limits;

/* Bytes rm_wire_encode will write for f, or 0 when f cannot be encoded
 * (rm_wire_encode says why). O(nentries) plus a scan of each address. */
size_t rm_wire_encoded_size(const rm_frame *f);

/* Encodes f into buf (cap bytes); *len gets the frame's size. The encoder
 * refuses whatever the decoder would refuse, so that a frame it writes
 * always decodes. On error nothing is written to *len and buf's contents
 * are unspecified.
 * Errors: RM_EWIRE_TOO_LARGE (cap too small, or the frame's length would
 * not fit its u32 field), RM_EWIRE_BAD_TYPE, RM_EINVAL (flags not 0, an
 * entry count above RM_VIEW_ENTRIES_MAX, an address holding a NUL byte, an
 * unknown encoding, a chunk of 0, a NULL payload pointer with n > 0, a
 * weight that is NaN or infinite, a want_reply above 1, more than
 * RM_WIRE_ITEMS_MAX ids or items, ids that do not rise strictly, a NULL
 * ids, items or item bytes pointer with a count or length above 0). */
rm_err rm_wire_encode(const rm_frame *f, uint8_t *buf, size_t cap, size_t *len);

/* Reads the length prefix of a frame that starts at buf (at least 4 bytes)
 * and returns the whole frame's size, or a negative error:
 * RM_EWIRE_TRUNCATED (fewer than 4 bytes), RM_EWIRE_TOO_LARGE (beyond
 * lim->frame_bytes_max), RM_EWIRE_MALFORMED (shorter than a header). */
int64_t rm_wire_frame_size(const uint8_t *buf, size_t len, const rm_wire_limits *lim);

/* Decodes exactly one frame of len bytes; lim must not be NULL. Errors:
 * RM_EWIRE_TRUNCATED (len below the declared size, or a field, id list or
 * item that runs past the end), RM_EWIRE_TOO_LARGE (the frame beyond
 * lim->frame_bytes_max, a model beyond lim->model_n_max, more than
 * RM_WIRE_ITEMS_MAX ids or items), RM_EWIRE_BAD_VERSION,
 * RM_EWIRE_BAD_TYPE, RM_EWIRE_MALFORMED (flags not 0, a field out of range,
 * an address holding a NUL byte, a NaN or infinite weight, ids that do not
 * rise strictly, trailing bytes, len above the declared size). On error
 * *out is unspecified. On success only the fields of out->type's member are
 * written (entries up to nentries), and payload pointers borrow from buf.
 * Cost: O(nentries) and the address bytes, O(nids) or O(count) for HAVE
 * and ITEMS; the model payload and the item bytes are not touched. */
rm_err rm_wire_decode(const uint8_t *buf, size_t len, const rm_wire_limits *lim,
                      rm_frame *out);

/* Decodes a RM_ENC_F32 or RM_ENC_F32_DELTA payload into dst (m->n floats).
 * m comes from a successful rm_wire_decode. A memcpy on little-endian
 * hosts. */
void rm_wire_payload_f32(const rm_wire_model *m, float *dst);

/* Id i (< h->nids) of a HAVE that rm_wire_decode gave (or that is about
 * to be encoded: then h->ids[i]). */
uint64_t rm_wire_have_id(const rm_wire_have *h, uint32_t i);

/* A walk over the items of a decoded ITEMS frame. */
typedef struct {
    const uint8_t *p;
    size_t left;
    uint32_t remaining;
} rm_wire_items_iter;

/* Starts a walk over it, which comes from a successful rm_wire_decode. */
void rm_wire_items_begin(const rm_wire_items *it, rm_wire_items_iter *iter);

/* The next item into *out (its bytes borrow from the frame); false when
 * every item has been given. */
bool rm_wire_items_next(rm_wire_items_iter *iter, rm_wire_item *out);

/* Decodes a RM_ENC_I8_DELTA payload: dst[i] = q[i] * scale[i / chunk].
 * m comes from a successful rm_wire_decode; dst holds m->n floats. */
void rm_wire_payload_i8(const rm_wire_model *m, float *dst);

#endif
