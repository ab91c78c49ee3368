/* rumor: the secure channel (channel.h; docs/SECURITY.md is the spec).
 *
 * The handshake follows the Noise IK pattern (Noise spec rev. 34, 7.5):
 *
 *     <- s
 *     ...
 *     -> e, es, s, ss     message 1, plus payload: timestamp, stream header
 *     <- e, ee, se        message 2, plus payload: stream header
 *
 * with Noise's symmetric state (h, ck) kept as a running transcript hash h
 * and a chaining key ck. Where rumor differs from Noise, on purpose: every
 * hash and KDF is BLAKE2b through crypto_generichash, keyed where Noise uses
 * HMAC; ck starts keyed by the network key, so every derived key depends on
 * it; each AEAD key also hashes h, and the two transport keys also hash both
 * static public keys and the transport cipher; the transport is one
 * secretstream per direction, or AES-256-GCM with counter nonces when both
 * sides can (message 1's payload offers, message 2's payload chooses; both
 * are encrypted, authenticated and in h, so nobody can downgrade the
 * choice without breaking the handshake). */
#include "node/channel.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define KEY crypto_scalarmult_BYTES                        /* 32 */
#define HASH RM_CHAN_HASH_BYTES                            /* 32 */
#define TAG crypto_aead_chacha20poly1305_ietf_ABYTES       /* 16 */
#define SS_HEADER crypto_secretstream_xchacha20poly1305_HEADERBYTES /* 24 */
#define SS_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES     /* 17 */
#define GCM_ABYTES crypto_aead_aes256gcm_ABYTES                    /* 16 */
#define GCM_NONCE crypto_aead_aes256gcm_NPUBBYTES                    /* 12 */
#define TS_BYTES 8
#define CIPHER_BYTES 1   /* the offer (message 1) and the choice (message 2) */

/* Message bodies (after the u32 length): type, ephemeral key, then AEAD
 * ciphertexts. */
#define MSG1_TYPE 0x01
#define MSG2_TYPE 0x02
#define MSG1_PAYLOAD (TS_BYTES + SS_HEADER + CIPHER_BYTES)                 /* 33 */
#define MSG2_PAYLOAD (CIPHER_BYTES + SS_HEADER)                           /* 25 */
#define MSG1_BODY (1 + KEY + (KEY + TAG) + (MSG1_PAYLOAD + TAG))           /* 130 */
#define MSG2_BODY (1 + KEY + (MSG2_PAYLOAD + TAG))                         /* 74 */

/* An AES-GCM key is retired (the frame that reaches this count carries
 * TAG_REKEY) long before its 64-bit frame counter could wrap; 64 MiB or 2
 * minutes retire it first in practice. */
#define GCM_FRAMES_PER_KEY (1ull << 31)

/* Frame tags: secretstream's own values, which the AES-GCM frames reuse. */
#define TAG_MESSAGE crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
#define TAG_REKEY crypto_secretstream_xchacha20poly1305_TAG_REKEY
#define TAG_FINAL crypto_secretstream_xchacha20poly1305_TAG_FINAL

_Static_assert(4 + MSG1_BODY == RM_CHAN_MSG1_BYTES, "message 1 size");
_Static_assert(4 + MSG2_BODY == RM_CHAN_MSG2_BYTES, "message 2 size");
_Static_assert(4 + SS_ABYTES == RM_CHAN_FRAME_OVERHEAD, "frame overhead");
_Static_assert(KEY == RM_KEY_BYTES, "X25519 key size");
_Static_assert(crypto_generichash_BYTES == HASH, "BLAKE2b-256");
_Static_assert(crypto_secretstream_xchacha20poly1305_KEYBYTES == HASH, "stream key size");
_Static_assert(crypto_aead_chacha20poly1305_ietf_KEYBYTES == HASH, "AEAD key size");
_Static_assert(crypto_aead_aes256gcm_KEYBYTES == HASH, "AES-256-GCM key size");
_Static_assert(1 + GCM_ABYTES == SS_ABYTES, "both ciphers: the same frame overhead");
_Static_assert(GCM_NONCE == 12, "a 96-bit GCM nonce");

/* Names the protocol, its version and its primitives: both sides hash it
 * first, so that any other protocol or version derives other keys. */
static const char protocol_name[] =
    "rumor-chan/2 IK X25519 ChaChaPoly BLAKE2b secretstream AES256GCM";

/* Buffers of a finished frame are kept for the next one up to this size;
 * a larger one is freed at once so that an idle channel holds little. */
#define BODY_KEEP_BYTES (64u << 10)

enum {
    ST_WAIT_MSG1,      /* responder */
    ST_WAIT_MSG2,      /* initiator, message 1 queued */
    ST_WAIT_CONFIRM,   /* responder, message 2 queued */
    ST_OPEN,
    ST_CLOSED,
};

typedef struct frame {
    struct frame *next;
    size_t len;
    uint8_t data[];
} frame;

struct rm_chan {
    rm_chan_role role;
    int st;
    rm_err err;
    char reason[RM_CHAN_REASON_MAX];

    /* config */
    rm_keypair self;
    uint8_t peer_pk[KEY];          /* initiator: configured; responder: from message 1 */
    bool peer_known, peer_proven;
    char peer_fp[RM_KEY_FP_CHARS + 1];
    uint8_t nk[RM_CHAN_NETWORK_KEY_BYTES]; /* all-zero: no network key */
    const rm_keyset *allow;
    rm_chan_replay *replay;
    size_t frame_max;
    uint64_t rekey_bytes, rekey_interval_us;
    rm_chan_random_fn *random;
    void *random_ctx;

    /* handshake: Noise's symmetric state and this side's ephemeral key */
    uint8_t h[HASH], ck[HASH];
    uint8_t e_sk[KEY], e_pk[KEY];
    uint8_t hdr_tx[SS_HEADER];
    bool have_hash;

    /* transport: the cipher both sides agreed on, and its state */
    uint8_t ciphers;               /* what this side accepts (a bit set) */
    uint8_t cipher;                /* the one chosen; 0 before the split */
    crypto_secretstream_xchacha20poly1305_state tx, rx;
    crypto_aead_aes256gcm_state gcm_tx, gcm_rx;    /* AES round keys */
    uint8_t gcm_tx_key[HASH], gcm_rx_key[HASH];    /* for the next rekey */
    uint64_t gcm_tx_n, gcm_rx_n;   /* frames under the current key: the nonce */
    bool tx_final, rx_final;
    bool tx_key_used;
    uint64_t tx_key_since_us, tx_key_bytes;
    rm_chan_stats stats;

    /* reassembly of the message or frame being received */
    uint8_t len_buf[4];
    size_t len_have;
    uint8_t *body;
    size_t body_len, body_have, body_cap;

    /* decrypted frames, and the one last handed out */
    frame *head, *tail, *polled;

    /* wire bytes to write: [out_off, out_len) of out */
    uint8_t *out;
    size_t out_off, out_len, out_cap;
};

/* ---- little helpers */

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void default_random(void *ctx, uint8_t *buf, size_t n) {
    (void)ctx;
    randombytes_buf(buf, n);
}

static void wipe_secrets(rm_chan *ch) {
    sodium_memzero(ch->self.sk, sizeof ch->self.sk);
    sodium_memzero(ch->e_sk, sizeof ch->e_sk);
    sodium_memzero(ch->ck, sizeof ch->ck);
    sodium_memzero(ch->nk, sizeof ch->nk);
    sodium_memzero(&ch->tx, sizeof ch->tx);
    sodium_memzero(&ch->rx, sizeof ch->rx);
    sodium_memzero(&ch->gcm_tx, sizeof ch->gcm_tx);
    sodium_memzero(&ch->gcm_rx, sizeof ch->gcm_rx);
    sodium_memzero(ch->gcm_tx_key, sizeof ch->gcm_tx_key);
    sodium_memzero(ch->gcm_rx_key, sizeof ch->gcm_rx_key);
}

static void free_frames(rm_chan *ch) {
    while (ch->head) {
        frame *f = ch->head;
        ch->head = f->next;
        free(f);
    }
    ch->tail = NULL;
}

/* Closes the channel for good with err and a reason for the log; drops the
 * frames not yet polled and the bytes not yet written. Returns err. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static rm_err fail(rm_chan *ch, rm_err err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ch->reason, sizeof ch->reason, fmt, ap);
    va_end(ap);
    ch->st = ST_CLOSED;
    ch->err = err;
    wipe_secrets(ch);
    free_frames(ch);
    free(ch->body);
    ch->body = NULL;
    ch->body_cap = ch->body_len = ch->body_have = ch->len_have = 0;
    ch->out_off = ch->out_len = 0;
    return err;
}

/* The peer as log lines name it. */
static const char *who(const rm_chan *ch) {
    return ch->peer_known ? ch->peer_fp : "(unknown key)";
}

/* Space for n more wire bytes at the end of the output queue, or NULL when
 * out of memory; the caller writes them and adds n to out_len. */
static uint8_t *out_reserve(rm_chan *ch, size_t n) {
    if (ch->out_off == ch->out_len)
        ch->out_off = ch->out_len = 0;
    if (ch->out_cap - ch->out_len >= n)
        return ch->out + ch->out_len;
    if (ch->out_off > 0) { /* slide the waiting bytes to the front */
        memmove(ch->out, ch->out + ch->out_off, ch->out_len - ch->out_off);
        ch->out_len -= ch->out_off;
        ch->out_off = 0;
        if (ch->out_cap - ch->out_len >= n)
            return ch->out + ch->out_len;
    }
    if (n > SIZE_MAX / 2 - ch->out_len)
        return NULL;
    size_t cap = ch->out_len + n;
    if (cap < 2 * ch->out_cap)
        cap = 2 * ch->out_cap;
    if (cap < 256)
        cap = 256;
    uint8_t *p = realloc(ch->out, cap);
    if (!p)
        return NULL;
    ch->out = p;
    ch->out_cap = cap;
    return ch->out + ch->out_len;
}

/* ---- the symmetric state: transcript hash h and chaining key ck */

/* h = BLAKE2b(h || data) */
static void mix_hash(uint8_t h[HASH], const uint8_t *data, size_t n) {
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, HASH);
    crypto_generichash_update(&st, h, HASH);
    crypto_generichash_update(&st, data, n);
    crypto_generichash_final(&st, h, HASH);
}

/* Mixes a DH result into ck and, when k is not NULL, derives the AEAD key
 * for the next handshake ciphertext:
 *     t  = BLAKE2b(key = ck, dh)
 *     ck = BLAKE2b(key = t, 0x01)
 *     k  = BLAKE2b(key = t, 0x02 || h)
 * (Noise's HKDF(ck, dh) with keyed BLAKE2b as the PRF, and h bound into k.) */
static void mix_key(uint8_t ck[HASH], uint8_t *k, const uint8_t dh[KEY], const uint8_t h[HASH]) {
    uint8_t t[HASH], in[1 + HASH];
    crypto_generichash(t, HASH, dh, KEY, ck, HASH);
    in[0] = 0x01;
    crypto_generichash(ck, HASH, in, 1, t, HASH);
    if (k) {
        in[0] = 0x02;
        memcpy(in + 1, h, HASH);
        crypto_generichash(k, HASH, in, sizeof in, t, HASH);
    }
    sodium_memzero(t, sizeof t);
}

/* X25519 with the checks the SSB handshake lacked: a weak peer key is
 * refused before the multiplication, an all-zero result after it. */
static bool dh(uint8_t out[KEY], const uint8_t sk[KEY], const uint8_t pk[KEY]) {
    if (rm_key_is_weak(pk))
        return false;
    return crypto_scalarmult(out, sk, pk) == 0;
}

/* Each handshake key encrypts exactly one message, so the nonce is 0. */
static void seal(uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t h[HASH],
                 const uint8_t k[HASH]) {
    static const uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
    crypto_aead_chacha20poly1305_ietf_encrypt(c, NULL, m, mlen, h, HASH, NULL, nonce, k);
}

static bool open_sealed(uint8_t *m, const uint8_t *c, size_t clen, const uint8_t h[HASH],
                        const uint8_t k[HASH]) {
    static const uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
    return crypto_aead_chacha20poly1305_ietf_decrypt(m, NULL, NULL, c, clen, h, HASH, nonce,
                                                     k) == 0;
}

/* h = BLAKE2b(BLAKE2b(protocol) || S_r); ck = BLAKE2b(key = network key,
 * protocol). The responder's static key is IK's pre-message. */
static void hs_init(rm_chan *ch, const uint8_t responder_pk[KEY]) {
    const uint8_t *name = (const uint8_t *)protocol_name;
    size_t name_len = sizeof protocol_name - 1;
    crypto_generichash(ch->h, HASH, name, name_len, NULL, 0);
    mix_hash(ch->h, responder_pk, KEY);
    crypto_generichash(ch->ck, HASH, name, name_len, ch->nk, sizeof ch->nk);
}

/* A fresh ephemeral key pair from the injected random source. */
static bool make_ephemeral(rm_chan *ch) {
    ch->random(ch->random_ctx, ch->e_sk, KEY);
    return crypto_scalarmult_base(ch->e_pk, ch->e_sk) == 0 && !rm_key_is_weak(ch->e_pk);
}

/* Sets up a stream that encrypts with key k and header hdr: the state
 * crypto_secretstream_xchacha20poly1305_init_push would build if its
 * random header came out as hdr. init_push draws the header from
 * randombytes_buf itself, which would hide randomness inside the channel;
 * both functions compute HChaCha20(k, hdr[0..16]), a zero counter and the
 * nonce hdr[16..24] (libsodium 1.0.18, secretstream_xchacha20poly1305.c),
 * so init_pull gives the same state. tests/test_channel.c checks it. */
static void stream_init_push(crypto_secretstream_xchacha20poly1305_state *st,
                             const uint8_t hdr[SS_HEADER], const uint8_t k[HASH]) {
    crypto_secretstream_xchacha20poly1305_init_pull(st, hdr, k);
}

/* An AES-GCM key's successor: k' = BLAKE2b(key = k, 0x05); the old key and
 * its round keys are overwritten, so a later compromise cannot read back. */
static void gcm_rekey(crypto_aead_aes256gcm_state *st, uint8_t k[HASH], uint64_t *n) {
    static const uint8_t five[1] = {0x05};
    uint8_t next[HASH];
    crypto_generichash(next, HASH, five, 1, k, HASH);
    memcpy(k, next, HASH);
    sodium_memzero(next, sizeof next);
    crypto_aead_aes256gcm_beforenm(st, k);
    *n = 0;
}

/* Frame n's nonce: n as 8 little-endian bytes, then 4 zero bytes. Each
 * key is used by one direction of one session and n never repeats under
 * it (it restarts only with a new key), so no nonce is used twice. */
static void gcm_nonce(uint8_t nonce[GCM_NONCE], uint64_t n) {
    put_u64(nonce, n);
    memset(nonce + 8, 0, GCM_NONCE - 8);
}

/* The transport keys, one per direction, bound to the chosen cipher, and
 * the two streams: each side pushes with its own header and pulls with
 * the header the OTHER side sent.
 *     k_i2r = BLAKE2b(key = ck, 0x03 || h || S_i || S_r || cipher)
 *     k_r2i = BLAKE2b(key = ck, 0x04 || h || S_i || S_r || cipher)
 * With AES-256-GCM the keys key one GCM state per direction instead. */
static void split(rm_chan *ch, const uint8_t hdr_rx[SS_HEADER]) {
    bool ini = ch->role == RM_CHAN_INITIATOR;
    const uint8_t *s_i = ini ? ch->self.pk : ch->peer_pk;
    const uint8_t *s_r = ini ? ch->peer_pk : ch->self.pk;
    uint8_t in[1 + HASH + 2 * KEY + CIPHER_BYTES], k_i2r[HASH], k_r2i[HASH];
    memcpy(in + 1, ch->h, HASH);
    memcpy(in + 1 + HASH, s_i, KEY);
    memcpy(in + 1 + HASH + KEY, s_r, KEY);
    in[1 + HASH + 2 * KEY] = ch->cipher;
    in[0] = 0x03;
    crypto_generichash(k_i2r, HASH, in, sizeof in, ch->ck, HASH);
    in[0] = 0x04;
    crypto_generichash(k_r2i, HASH, in, sizeof in, ch->ck, HASH);
    if (ch->cipher == RM_CHAN_CIPHER_AES256GCM) {
        memcpy(ch->gcm_tx_key, ini ? k_i2r : k_r2i, HASH);
        memcpy(ch->gcm_rx_key, ini ? k_r2i : k_i2r, HASH);
        crypto_aead_aes256gcm_beforenm(&ch->gcm_tx, ch->gcm_tx_key);
        crypto_aead_aes256gcm_beforenm(&ch->gcm_rx, ch->gcm_rx_key);
        ch->gcm_tx_n = ch->gcm_rx_n = 0;
    } else {
        stream_init_push(&ch->tx, ch->hdr_tx, ini ? k_i2r : k_r2i);
        crypto_secretstream_xchacha20poly1305_init_pull(&ch->rx, hdr_rx, ini ? k_r2i : k_i2r);
    }
    sodium_memzero(k_i2r, sizeof k_i2r);
    sodium_memzero(k_r2i, sizeof k_r2i);
    /* The handshake's secrets are spent: only the two stream states remain. */
    sodium_memzero(ch->ck, sizeof ch->ck);
    sodium_memzero(ch->e_sk, sizeof ch->e_sk);
    sodium_memzero(ch->self.sk, sizeof ch->self.sk);
    sodium_memzero(ch->nk, sizeof ch->nk);
    ch->have_hash = true;
}

/* Queues one transport frame: u32 length, then the secretstream message;
 * or, with AES-256-GCM, the tag byte, the ciphertext and its 16-byte MAC,
 * the length and the tag authenticated as associated data. A TAG_REKEY
 * frame is the last under its key. */
static rm_err push_frame(rm_chan *ch, const uint8_t *m, size_t len, uint8_t tag) {
    uint8_t *p = out_reserve(ch, RM_CHAN_FRAME_OVERHEAD + len);
    if (!p)
        return RM_ENOMEM;
    put_u32(p, (uint32_t)(SS_ABYTES + len));
    if (ch->cipher == RM_CHAN_CIPHER_AES256GCM) {
        uint8_t nonce[GCM_NONCE];
        p[4] = tag;
        gcm_nonce(nonce, ch->gcm_tx_n++);
        crypto_aead_aes256gcm_encrypt_afternm(p + 5, NULL, m, len, p, 5, NULL, nonce,
                                              &ch->gcm_tx);
        if (tag == TAG_REKEY)
            gcm_rekey(&ch->gcm_tx, ch->gcm_tx_key, &ch->gcm_tx_n);
    } else {
        crypto_secretstream_xchacha20poly1305_push(&ch->tx, p + 4, NULL, m, len, NULL, 0, tag);
    }
    ch->out_len += RM_CHAN_FRAME_OVERHEAD + len;
    ch->stats.frames_sent++;
    ch->stats.bytes_sent += len;
    return RM_OK;
}

/* ---- the replay table: a sorted array of (key, newest timestamp) */

typedef struct {
    uint8_t pk[KEY];
    uint64_t ts;
} replay_entry;

struct rm_chan_replay {
    replay_entry *e;     /* sorted by key */
    size_t n, max;
    uint64_t floor;      /* refuses timestamps <= floor from keys not in e */
};

rm_chan_replay *rm_chan_replay_new(size_t entries_max) {
    if (entries_max == 0)
        entries_max = RM_CHAN_REPLAY_ENTRIES_DEFAULT;
    if (entries_max > SIZE_MAX / sizeof(replay_entry))
        return NULL;
    rm_chan_replay *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->e = malloc(entries_max * sizeof *t->e);
    if (!t->e) {
        free(t);
        return NULL;
    }
    t->max = entries_max;
    return t;
}

void rm_chan_replay_free(rm_chan_replay *t) {
    if (!t)
        return;
    free(t->e);
    free(t);
}

/* Index of the first entry whose key is >= pk. O(log n). */
static size_t replay_find(const rm_chan_replay *t, const uint8_t pk[KEY]) {
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(t->e[mid].pk, pk, KEY) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool rm_chan_replay_get(const rm_chan_replay *t, const uint8_t pk[RM_KEY_BYTES], uint64_t *ts) {
    size_t i = replay_find(t, pk);
    if (i < t->n && memcmp(t->e[i].pk, pk, KEY) == 0) {
        *ts = t->e[i].ts;
        return true;
    }
    return false;
}

void rm_chan_replay_put(rm_chan_replay *t, const uint8_t pk[RM_KEY_BYTES], uint64_t ts) {
    size_t i = replay_find(t, pk);
    if (i < t->n && memcmp(t->e[i].pk, pk, KEY) == 0) {
        if (ts > t->e[i].ts)
            t->e[i].ts = ts;
        return;
    }
    if (ts <= t->floor) /* the floor refuses ts already */
        return;
    if (t->n == t->max) {
        /* Full: forget the oldest entry, but keep refusing what it refused
         * by raising the floor to its timestamp. O(n), only when full. */
        size_t j = 0;
        for (size_t k = 1; k < t->n; k++)
            if (t->e[k].ts < t->e[j].ts)
                j = k;
        if (t->e[j].ts > t->floor)
            t->floor = t->e[j].ts;
        memmove(&t->e[j], &t->e[j + 1], (t->n - j - 1) * sizeof *t->e);
        t->n--;
        if (j < i)
            i--;
    }
    if (ts <= t->floor) /* the raised floor refuses ts now */
        return;
    memmove(&t->e[i + 1], &t->e[i], (t->n - i) * sizeof *t->e);
    memcpy(t->e[i].pk, pk, KEY);
    t->e[i].ts = ts;
    t->n++;
}

size_t rm_chan_replay_count(const rm_chan_replay *t) {
    return t->n;
}

void rm_chan_replay_at(const rm_chan_replay *t, size_t i, uint8_t pk[RM_KEY_BYTES], uint64_t *ts) {
    memcpy(pk, t->e[i].pk, KEY);
    *ts = t->e[i].ts;
}

uint64_t rm_chan_replay_floor(const rm_chan_replay *t) {
    return t->floor;
}

void rm_chan_replay_raise_floor(rm_chan_replay *t, uint64_t floor) {
    if (floor > t->floor)
        t->floor = floor;
}

/* The newest timestamp accepted from pk so far: its entry, or the floor. */
static uint64_t replay_last(const rm_chan_replay *t, const uint8_t pk[KEY]) {
    uint64_t ts;
    return rm_chan_replay_get(t, pk, &ts) ? ts : t->floor;
}

/* ---- handshake message 1 */

/* Initiator: -> e, es, s, ss, payload (timestamp, stream header). */
static rm_err write_msg1(rm_chan *ch, uint64_t now_us) {
    uint8_t *m = out_reserve(ch, RM_CHAN_MSG1_BYTES);
    if (!m)
        return RM_ENOMEM;
    uint8_t k[HASH], shared[KEY], payload[MSG1_PAYLOAD];
    rm_err err = RM_OK;
    put_u32(m, MSG1_BODY);
    m[4] = MSG1_TYPE;
    uint8_t *e = m + 5, *c_s = e + KEY, *c_p = c_s + KEY + TAG;

    if (!make_ephemeral(ch)) {
        err = RM_ECHAN_BAD_KEY;
        goto out;
    }
    memcpy(e, ch->e_pk, KEY);
    mix_hash(ch->h, e, KEY);
    if (!dh(shared, ch->e_sk, ch->peer_pk)) { /* es */
        err = RM_ECHAN_BAD_KEY;
        goto out;
    }
    mix_key(ch->ck, k, shared, ch->h);
    seal(c_s, ch->self.pk, KEY, ch->h, k); /* s */
    mix_hash(ch->h, c_s, KEY + TAG);
    if (!dh(shared, ch->self.sk, ch->peer_pk)) { /* ss */
        err = RM_ECHAN_BAD_KEY;
        goto out;
    }
    mix_key(ch->ck, k, shared, ch->h);
    put_u64(payload, now_us);
    ch->random(ch->random_ctx, ch->hdr_tx, SS_HEADER);
    memcpy(payload + TS_BYTES, ch->hdr_tx, SS_HEADER);
    payload[TS_BYTES + SS_HEADER] = ch->ciphers; /* the offer */
    seal(c_p, payload, sizeof payload, ch->h, k);
    mix_hash(ch->h, c_p, sizeof payload + TAG);
    ch->out_len += RM_CHAN_MSG1_BYTES;
out:
    sodium_memzero(k, sizeof k);
    sodium_memzero(shared, sizeof shared);
    return err;
}

/* Responder: <- e, ee, se, payload (the chosen cipher, stream header). */
static rm_err write_msg2(rm_chan *ch, const uint8_t e_i[KEY], const uint8_t hdr_rx[SS_HEADER]) {
    uint8_t *m = out_reserve(ch, RM_CHAN_MSG2_BYTES);
    if (!m)
        return fail(ch, RM_ENOMEM, "peer %s: out of memory for handshake message 2", who(ch));
    uint8_t k[HASH], shared[KEY], payload[MSG2_PAYLOAD];
    put_u32(m, MSG2_BODY);
    m[4] = MSG2_TYPE;
    uint8_t *e = m + 5, *c_p = e + KEY;
    bool ok = make_ephemeral(ch);
    if (ok) {
        memcpy(e, ch->e_pk, KEY);
        mix_hash(ch->h, e, KEY);
        ok = dh(shared, ch->e_sk, e_i); /* ee */
    }
    if (ok) {
        mix_key(ch->ck, NULL, shared, ch->h);
        ok = dh(shared, ch->e_sk, ch->peer_pk); /* se */
    }
    if (ok) {
        mix_key(ch->ck, k, shared, ch->h);
        ch->random(ch->random_ctx, ch->hdr_tx, SS_HEADER);
        payload[0] = ch->cipher;
        memcpy(payload + CIPHER_BYTES, ch->hdr_tx, SS_HEADER);
        seal(c_p, payload, sizeof payload, ch->h, k);
        mix_hash(ch->h, c_p, sizeof payload + TAG);
        ch->out_len += RM_CHAN_MSG2_BYTES;
        split(ch, hdr_rx);
        ch->st = ST_WAIT_CONFIRM;
    }
    sodium_memzero(k, sizeof k);
    sodium_memzero(shared, sizeof shared);
    if (!ok) /* both keys were checked: only a broken random source gets here */
        return fail(ch, RM_ECHAN_BAD_KEY, "peer %s: cannot make an ephemeral key", who(ch));
    return RM_OK;
}


/* Responder: reads -> e, es, s, ss, payload. Only once the whole message
 * authenticates (the peer has proved its static key) is that key checked
 * against the allow-list and its timestamp against the replay table, so
 * that a refusal logs a key the peer really holds, and a listed key and an
 * unlisted one cost the same time (the list's members do not leak through
 * timing). Message 2 is written only after both checks: a refused peer
 * learns nothing about us. */
static rm_err read_msg1(rm_chan *ch, const uint8_t *b) {
    uint8_t k[HASH], shared[KEY], payload[MSG1_PAYLOAD];
    const uint8_t *e_i = b + 1, *c_s = e_i + KEY, *c_p = c_s + KEY + TAG;
    rm_err err = RM_OK;
    if (b[0] != MSG1_TYPE)
        return fail(ch, RM_ECHAN_MALFORMED, "handshake message 1 has type %u, expected %u",
                    b[0], MSG1_TYPE);
    mix_hash(ch->h, e_i, KEY);
    if (!dh(shared, ch->self.sk, e_i)) { /* es */
        err = fail(ch, RM_ECHAN_BAD_KEY, "handshake message 1: low-order or all-zero "
                   "ephemeral key");
        goto out;
    }
    mix_key(ch->ck, k, shared, ch->h);
    if (!open_sealed(ch->peer_pk, c_s, KEY + TAG, ch->h, k)) { /* s */
        err = fail(ch, RM_ECHAN_AUTH, "handshake message 1 does not authenticate: wrong "
                   "network key, not meant for this node's key, or tampered");
        goto out;
    }
    mix_hash(ch->h, c_s, KEY + TAG);
    ch->peer_known = true;
    rm_key_fingerprint(ch->peer_fp, ch->peer_pk);
    if (rm_key_is_weak(ch->peer_pk)) {
        err = fail(ch, RM_ECHAN_BAD_KEY, "peer %s: low-order or all-zero static key", who(ch));
        goto out;
    }
    if (!dh(shared, ch->self.sk, ch->peer_pk)) { /* ss; the key was checked above */
        err = fail(ch, RM_ECHAN_BAD_KEY, "peer %s: unusable static key", who(ch));
        goto out;
    }
    mix_key(ch->ck, k, shared, ch->h);
    if (!open_sealed(payload, c_p, sizeof payload + TAG, ch->h, k)) {
        err = fail(ch, RM_ECHAN_AUTH, "peer %s: handshake message 1 does not prove the "
                   "static key it claims (forged or tampered)", who(ch));
        goto out;
    }
    mix_hash(ch->h, c_p, sizeof payload + TAG);
    if (ch->allow && !rm_keyset_contains(ch->allow, ch->peer_pk)) {
        err = fail(ch, RM_ECHAN_UNKNOWN_KEY, "peer %s: not in the allow-list", who(ch));
        goto out;
    }
    uint64_t ts = get_u64(payload), last = replay_last(ch->replay, ch->peer_pk);
    if (ts <= last) {
        err = fail(ch, RM_ECHAN_REPLAY, "peer %s: handshake timestamp %llu is not newer than "
                   "%llu, the last accepted (a replay)", who(ch), (unsigned long long)ts,
                   (unsigned long long)last);
        goto out;
    }
    /* The cipher: AES-256-GCM when both sides take it, else secretstream.
     * The offer came encrypted under k2 and is in h, and so is the choice
     * in message 2: an attacker can change neither without failing a MAC. */
    uint8_t common = payload[TS_BYTES + SS_HEADER] & ch->ciphers;
    ch->cipher = common & RM_CHAN_CIPHER_AES256GCM     ? RM_CHAN_CIPHER_AES256GCM
                 : common & RM_CHAN_CIPHER_SECRETSTREAM ? RM_CHAN_CIPHER_SECRETSTREAM
                                                        : 0;
    if (!ch->cipher) {
        err = fail(ch, RM_ECHAN_MALFORMED, "peer %s: no transport cipher in common (it "
                   "offers 0x%02x, this side takes 0x%02x)", who(ch),
                   payload[TS_BYTES + SS_HEADER], ch->ciphers);
        goto out;
    }
    rm_chan_replay_put(ch->replay, ch->peer_pk, ts);
    err = write_msg2(ch, e_i, payload + TS_BYTES);
out:
    sodium_memzero(k, sizeof k);
    sodium_memzero(shared, sizeof shared);
    sodium_memzero(payload, sizeof payload);
    return err;
}

/* ---- handshake message 2 */

static const uint8_t empty[1];

/* Initiator: reads <- e, ee, se, payload; then queues the key confirmation
 * (an empty frame) that opens the channel at the responder. */
static rm_err read_msg2(rm_chan *ch, const uint8_t *b) {
    uint8_t k[HASH], shared[KEY], payload[MSG2_PAYLOAD];
    const uint8_t *e_r = b + 1, *c_p = e_r + KEY;
    rm_err err = RM_OK;
    if (b[0] != MSG2_TYPE)
        return fail(ch, RM_ECHAN_MALFORMED, "responder %s: handshake message 2 has type %u, "
                    "expected %u", who(ch), b[0], MSG2_TYPE);
    mix_hash(ch->h, e_r, KEY);
    if (!dh(shared, ch->e_sk, e_r)) { /* ee */
        err = fail(ch, RM_ECHAN_BAD_KEY, "responder %s: low-order or all-zero ephemeral key",
                   who(ch));
        goto out;
    }
    mix_key(ch->ck, NULL, shared, ch->h);
    if (!dh(shared, ch->self.sk, e_r)) { /* se; e_r was checked above */
        err = fail(ch, RM_ECHAN_BAD_KEY, "responder %s: unusable ephemeral key", who(ch));
        goto out;
    }
    mix_key(ch->ck, k, shared, ch->h);
    if (!open_sealed(payload, c_p, sizeof payload + TAG, ch->h, k)) {
        err = fail(ch, RM_ECHAN_AUTH, "responder %s: handshake message 2 does not "
                   "authenticate: wrong responder key or network key, stale, or tampered",
                   who(ch));
        goto out;
    }
    /* The responder must choose one cipher that this side offered. */
    if ((payload[0] != RM_CHAN_CIPHER_SECRETSTREAM && payload[0] != RM_CHAN_CIPHER_AES256GCM) ||
        !(payload[0] & ch->ciphers)) {
        err = fail(ch, RM_ECHAN_MALFORMED, "responder %s: chose transport cipher 0x%02x, which "
                   "this side did not offer (0x%02x)", who(ch), payload[0], ch->ciphers);
        goto out;
    }
    ch->cipher = payload[0];
    mix_hash(ch->h, c_p, sizeof payload + TAG);
    split(ch, payload + CIPHER_BYTES);
    ch->peer_proven = true;
    ch->st = ST_OPEN;
    if (push_frame(ch, empty, 0, TAG_MESSAGE) != RM_OK)
        err = fail(ch, RM_ENOMEM, "responder %s: out of memory for the key confirmation",
                   who(ch));
out:
    sodium_memzero(k, sizeof k);
    sodium_memzero(shared, sizeof shared);
    sodium_memzero(payload, sizeof payload);
    return err;
}

/* ---- transport frames */

/* Decrypts one frame's body into m: the secretstream message, or the tag
 * byte and the AES-GCM ciphertext (length and tag as associated data, the
 * next counter as nonce). False when it does not authenticate. */
static bool open_frame(rm_chan *ch, uint8_t *m, unsigned char *tag, const uint8_t *c,
                       size_t clen) {
    if (ch->cipher != RM_CHAN_CIPHER_AES256GCM)
        return crypto_secretstream_xchacha20poly1305_pull(&ch->rx, m, NULL, tag, c, clen, NULL,
                                                          0) == 0;
    uint8_t ad[5], nonce[GCM_NONCE];
    put_u32(ad, (uint32_t)clen);
    ad[4] = c[0];
    gcm_nonce(nonce, ch->gcm_rx_n);
    if (crypto_aead_aes256gcm_decrypt_afternm(m, NULL, NULL, c + 1, clen - 1, ad, sizeof ad,
                                              nonce, &ch->gcm_rx) != 0)
        return false;
    *tag = c[0];
    if (++ch->gcm_rx_n >= GCM_FRAMES_PER_KEY && *tag == TAG_MESSAGE)
        return false; /* the sender had to rekey by now: no more frames */
    if (*tag == TAG_REKEY)
        gcm_rekey(&ch->gcm_rx, ch->gcm_rx_key, &ch->gcm_rx_n);
    return true;
}

/* One complete frame's ciphertext (clen >= SS_ABYTES, checked). */
static rm_err read_frame(rm_chan *ch, const uint8_t *c, size_t clen) {
    size_t mlen = clen - SS_ABYTES;
    unsigned long long nr = (unsigned long long)ch->stats.frames_recv + 1;
    frame *f = malloc(sizeof *f + mlen);
    if (!f)
        return fail(ch, RM_ENOMEM, "peer %s: out of memory for a %zu-byte frame", who(ch), mlen);
    unsigned char tag = 0;
    if (!open_frame(ch, f->data, &tag, c, clen)) {
        free(f);
        return fail(ch, RM_ECHAN_AUTH, "peer %s: frame %llu failed authentication (tampered, "
                    "cut, reordered, duplicated, replayed or from another session)", who(ch), nr);
    }
    ch->stats.frames_recv++;
    if (ch->st == ST_WAIT_CONFIRM) {
        free(f);
        if (tag != TAG_MESSAGE || mlen != 0)
            return fail(ch, RM_ECHAN_MALFORMED, "peer %s: first frame is not the key "
                        "confirmation", who(ch));
        ch->peer_proven = true;
        ch->st = ST_OPEN;
        return RM_OK;
    }
    switch (tag) {
    case TAG_MESSAGE:
        break;
    case TAG_REKEY: /* open_frame (or pull) has rekeyed rx already */
        ch->stats.rekeys_recv++;
        break;
    case TAG_FINAL:
        free(f);
        if (mlen != 0)
            return fail(ch, RM_ECHAN_MALFORMED, "peer %s: final frame carries %zu bytes",
                        who(ch), mlen);
        ch->rx_final = true;
        if (ch->tx_final) {
            ch->st = ST_CLOSED;
            wipe_secrets(ch);
            snprintf(ch->reason, sizeof ch->reason, "peer %s: ended cleanly", who(ch));
        }
        return RM_OK;
    default:
        free(f);
        return fail(ch, RM_ECHAN_MALFORMED, "peer %s: frame %llu has tag %u, which rumor never "
                    "sends", who(ch), nr, (unsigned)tag);
    }
    ch->stats.bytes_recv += mlen;
    f->len = mlen;
    f->next = NULL;
    if (ch->tail)
        ch->tail->next = f;
    else
        ch->head = f;
    ch->tail = f;
    return RM_OK;
}

/* Checks the length of the message or frame whose 4 length bytes just
 * arrived, before anything is allocated for it. */
static rm_err check_length(rm_chan *ch, uint32_t len) {
    switch (ch->st) {
    case ST_WAIT_MSG1:
        if (len != MSG1_BODY)
            return fail(ch, RM_ECHAN_MALFORMED, "handshake message 1 announces %lu bytes, "
                        "expected %d", (unsigned long)len, MSG1_BODY);
        return RM_OK;
    case ST_WAIT_MSG2:
        if (len != MSG2_BODY)
            return fail(ch, RM_ECHAN_MALFORMED, "responder %s: handshake message 2 announces "
                        "%lu bytes, expected %d", who(ch), (unsigned long)len, MSG2_BODY);
        return RM_OK;
    default:
        if (len < SS_ABYTES)
            return fail(ch, RM_ECHAN_MALFORMED, "peer %s: frame of %lu bytes is shorter than "
                        "its authentication tag", who(ch), (unsigned long)len);
        if (len - SS_ABYTES > ch->frame_max)
            return fail(ch, RM_ECHAN_TOO_LARGE, "peer %s: frame of %lu bytes exceeds the "
                        "maximum of %zu", who(ch), (unsigned long)len,
                        ch->frame_max + SS_ABYTES);
        return RM_OK;
    }
}

static rm_err process_body(rm_chan *ch) {
    switch (ch->st) {
    case ST_WAIT_MSG1:
        return read_msg1(ch, ch->body);
    case ST_WAIT_MSG2:
        return read_msg2(ch, ch->body);
    default:
        return read_frame(ch, ch->body, ch->body_len);
    }
}

/* ---- the API */

rm_err rm_chan_new(rm_chan **out, const rm_chan_config *cfg, uint64_t now_us) {
    *out = NULL;
    if (!cfg || !cfg->self)
        return RM_EINVAL;
    bool ini = cfg->role == RM_CHAN_INITIATOR;
    if (!ini && cfg->role != RM_CHAN_RESPONDER)
        return RM_EINVAL;
    if (ini ? !cfg->peer_key
            : (cfg->peer_key || !cfg->replay || (!cfg->allow && !cfg->network_key)))
        return RM_EINVAL;
    if (cfg->frame_bytes_max > RM_CHAN_FRAME_MAX_LIMIT ||
        cfg->frame_bytes_max > SIZE_MAX - sizeof(frame) - RM_CHAN_FRAME_OVERHEAD)
        return RM_EINVAL;
    if (sodium_init() < 0)
        return RM_EIO;
    unsigned ciphers = cfg->ciphers ? cfg->ciphers : RM_CHAN_CIPHERS_ALL;
    if (ciphers & ~(unsigned)RM_CHAN_CIPHERS_ALL || !(ciphers &= rm_chan_ciphers_available()))
        return RM_EINVAL;
    if ((ini && rm_key_is_weak(cfg->peer_key)) || rm_key_is_weak(cfg->self->pk) ||
        (cfg->network_key && sodium_is_zero(cfg->network_key, RM_CHAN_NETWORK_KEY_BYTES)))
        return RM_ECHAN_BAD_KEY;

    rm_chan *ch = calloc(1, sizeof *ch);
    if (!ch)
        return RM_ENOMEM;
    ch->role = cfg->role;
    ch->ciphers = (uint8_t)ciphers;
    ch->self = *cfg->self;
    if (cfg->network_key)
        memcpy(ch->nk, cfg->network_key, sizeof ch->nk);
    ch->allow = cfg->allow;
    ch->replay = cfg->replay;
    ch->frame_max = cfg->frame_bytes_max ? cfg->frame_bytes_max : RM_CHAN_FRAME_MAX_DEFAULT;
    ch->rekey_bytes = cfg->rekey_bytes ? cfg->rekey_bytes : RM_CHAN_REKEY_BYTES_DEFAULT;
    ch->rekey_interval_us =
        cfg->rekey_interval_us ? cfg->rekey_interval_us : RM_CHAN_REKEY_INTERVAL_US_DEFAULT;
    ch->random = cfg->random ? cfg->random : default_random;
    ch->random_ctx = cfg->random_ctx;
    if (ini) {
        memcpy(ch->peer_pk, cfg->peer_key, KEY);
        ch->peer_known = true;
        rm_key_fingerprint(ch->peer_fp, ch->peer_pk);
        hs_init(ch, ch->peer_pk);
        ch->st = ST_WAIT_MSG2;
        rm_err err = write_msg1(ch, now_us);
        if (err) {
            rm_chan_free(ch);
            return err;
        }
    } else {
        hs_init(ch, ch->self.pk);
        ch->st = ST_WAIT_MSG1;
    }
    *out = ch;
    return RM_OK;
}

void rm_chan_free(rm_chan *ch) {
    if (!ch)
        return;
    free_frames(ch);
    free(ch->polled);
    free(ch->body);
    free(ch->out);
    sodium_memzero(ch, sizeof *ch);
    free(ch);
}

rm_err rm_chan_recv(rm_chan *ch, const uint8_t *bytes, size_t len) {
    if (ch->st == ST_CLOSED)
        return RM_ECHAN_STATE;
    if (!bytes && len)
        return RM_EINVAL;
    while (len > 0) {
        if (ch->rx_final)
            return fail(ch, RM_ECHAN_MALFORMED, "peer %s: bytes after its final frame", who(ch));
        if (ch->len_have < 4) {
            size_t take = 4 - ch->len_have < len ? 4 - ch->len_have : len;
            memcpy(ch->len_buf + ch->len_have, bytes, take);
            ch->len_have += take;
            bytes += take;
            len -= take;
            if (ch->len_have < 4)
                break;
            uint32_t n = get_u32(ch->len_buf);
            rm_err err = check_length(ch, n);
            if (err)
                return err;
            if (ch->body_cap < n) {
                free(ch->body);
                ch->body_cap = 0;
                ch->body = malloc(n);
                if (!ch->body)
                    return fail(ch, RM_ENOMEM, "peer %s: out of memory for a %lu-byte frame",
                                who(ch), (unsigned long)n);
                ch->body_cap = n;
            }
            ch->body_len = n;
            ch->body_have = 0;
        }
        size_t take = ch->body_len - ch->body_have < len ? ch->body_len - ch->body_have : len;
        memcpy(ch->body + ch->body_have, bytes, take);
        ch->body_have += take;
        bytes += take;
        len -= take;
        if (ch->body_have < ch->body_len)
            break;
        ch->len_have = 0;
        rm_err err = process_body(ch);
        if (err)
            return err;
        if (ch->body_cap > BODY_KEEP_BYTES) {
            free(ch->body);
            ch->body = NULL;
            ch->body_cap = 0;
        }
    }
    return RM_OK;
}

rm_err rm_chan_recv_eof(rm_chan *ch) {
    if (ch->st == ST_CLOSED)
        return ch->err;
    if (ch->rx_final) {
        ch->st = ST_CLOSED;
        wipe_secrets(ch);
        snprintf(ch->reason, sizeof ch->reason, "peer %s: ended cleanly", who(ch));
        return RM_OK;
    }
    if (ch->len_have == 4)
        return fail(ch, RM_ECHAN_TRUNCATED, "peer %s: connection ended %zu bytes into a "
                    "%zu-byte message", who(ch), ch->body_have, ch->body_len);
    if (ch->len_have > 0)
        return fail(ch, RM_ECHAN_TRUNCATED, "peer %s: connection ended inside a length prefix",
                    who(ch));
    if (ch->st != ST_OPEN)
        return fail(ch, RM_ECHAN_TRUNCATED, "peer %s: connection ended during the handshake",
                    who(ch));
    return fail(ch, RM_ECHAN_TRUNCATED, "peer %s: connection ended without a final frame "
                "(stream cut short)", who(ch));
}

bool rm_chan_poll_frame(rm_chan *ch, const uint8_t **data, size_t *len) {
    free(ch->polled);
    ch->polled = NULL;
    frame *f = ch->head;
    if (!f)
        return false;
    ch->head = f->next;
    if (!ch->head)
        ch->tail = NULL;
    ch->polled = f;
    *data = f->data;
    *len = f->len;
    return true;
}

rm_err rm_chan_send(rm_chan *ch, uint64_t now_us, const uint8_t *data, size_t len) {
    if (ch->st != ST_OPEN || ch->tx_final)
        return RM_ECHAN_STATE;
    if (len > ch->frame_max)
        return RM_ECHAN_TOO_LARGE;
    if (!data && len)
        return RM_EINVAL;
    /* Invariant: tx_key_bytes < rekey_bytes, so the subtraction is safe. */
    bool full = len >= ch->rekey_bytes - ch->tx_key_bytes;
    bool old = ch->tx_key_used && (now_us < ch->tx_key_since_us ||
                                   now_us - ch->tx_key_since_us >= ch->rekey_interval_us);
    bool worn = ch->cipher == RM_CHAN_CIPHER_AES256GCM && ch->gcm_tx_n + 1 >= GCM_FRAMES_PER_KEY;
    uint8_t tag = full || old || worn ? TAG_REKEY : TAG_MESSAGE;
    rm_err err = push_frame(ch, len ? data : empty, len, tag);
    if (err)
        return err;
    if (tag == TAG_REKEY) {
        ch->tx_key_used = false; /* push_frame has rekeyed tx already */
        ch->tx_key_bytes = 0;
        ch->stats.rekeys_sent++;
    } else {
        if (!ch->tx_key_used) {
            ch->tx_key_used = true;
            ch->tx_key_since_us = now_us;
        }
        ch->tx_key_bytes += len;
    }
    return RM_OK;
}

rm_err rm_chan_close(rm_chan *ch) {
    if (ch->st != ST_OPEN || ch->tx_final)
        return RM_ECHAN_STATE;
    rm_err err = push_frame(ch, empty, 0, TAG_FINAL);
    if (err)
        return err;
    ch->tx_final = true;
    if (ch->rx_final) {
        ch->st = ST_CLOSED;
        wipe_secrets(ch);
        snprintf(ch->reason, sizeof ch->reason, "peer %s: ended cleanly", who(ch));
    }
    return RM_OK;
}

size_t rm_chan_out_pending(const rm_chan *ch) {
    return ch->out_len - ch->out_off;
}

size_t rm_chan_poll_out(rm_chan *ch, uint8_t *buf, size_t cap) {
    size_t n = ch->out_len - ch->out_off;
    if (n > cap)
        n = cap;
    if (n > 0)
        memcpy(buf, ch->out + ch->out_off, n);
    ch->out_off += n;
    if (ch->out_off == ch->out_len)
        ch->out_off = ch->out_len = 0;
    return n;
}

rm_chan_state rm_chan_get_state(const rm_chan *ch) {
    switch (ch->st) {
    case ST_OPEN:
        return RM_CHAN_OPEN;
    case ST_CLOSED:
        return RM_CHAN_CLOSED;
    default:
        return RM_CHAN_HANDSHAKE;
    }
}

rm_err rm_chan_error(const rm_chan *ch) {
    return ch->err;
}

const char *rm_chan_reason(const rm_chan *ch) {
    return ch->reason;
}

const uint8_t *rm_chan_peer_key(const rm_chan *ch) {
    return ch->peer_proven ? ch->peer_pk : NULL;
}

bool rm_chan_handshake_hash(const rm_chan *ch, uint8_t out[RM_CHAN_HASH_BYTES]) {
    if (!ch->have_hash)
        return false;
    memcpy(out, ch->h, HASH);
    return true;
}

void rm_chan_get_stats(const rm_chan *ch, rm_chan_stats *out) {
    *out = ch->stats;
}

unsigned rm_chan_ciphers_available(void) {
    if (sodium_init() < 0)
        return 0;
    return RM_CHAN_CIPHER_SECRETSTREAM |
           (crypto_aead_aes256gcm_is_available() ? RM_CHAN_CIPHER_AES256GCM : 0);
}

rm_chan_cipher rm_chan_get_cipher(const rm_chan *ch) {
    return (rm_chan_cipher)ch->cipher;
}

const char *rm_chan_cipher_name(rm_chan_cipher c) {
    switch (c) {
    case RM_CHAN_CIPHER_SECRETSTREAM:
        return "secretstream-xchacha20poly1305";
    case RM_CHAN_CIPHER_AES256GCM:
        return "aes256gcm";
    default:
        return "none";
    }
}
