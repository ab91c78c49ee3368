/* libFuzzer target for the secure channel (node/channel.c): the handshake
 * readers and the frame reader. The first input byte picks a mode (its low
 * two bits) and the transport cipher (bit 2: secretstream or AES-256-GCM),
 * the second is a knob (chunk size, end of connection); the rest is:
 *
 *   0  bytes to a fresh responder, as message 1 and whatever follows;
 *   1  bytes to a fresh initiator, as message 2 and whatever follows;
 *   2  bytes to the responder of an established session, as frames;
 *   3  a script run on an established session: either side sends frames,
 *      bytes in flight are delivered in pieces, flipped, dropped,
 *      duplicated or joined by raw input, the clock moves (rekeys), and
 *      sides close or hang up.
 *
 * Besides "no crash, no leak, no undefined behaviour", it checks what the
 * channel promises: every error is one of the documented codes with a
 * reason; a responder answers (and an initiator opens) exactly when the
 * input starts with the genuine handshake message, since nobody can forge
 * one without the keys; and every frame a channel delivers is, byte for byte,
 * the next frame its peer sent, however the bytes in flight were mangled.
 * The fixed session (fuzz/channel_fixture.h) lets the seeds from
 * gen_channel_seeds hold genuine messages and frames, so that the fuzzer
 * gets past the handshake. Any broken promise aborts.
 *   scripts/fuzz.sh channel 600 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channel_fixture.h"

#define LINK_BYTES (1u << 15)

/* The genuine handshake messages, per cipher (message 1 carries the offer). */
static uint8_t g_msg1s[2][RM_CHAN_MSG1_BYTES], g_msg2s[2][RM_CHAN_MSG2_BYTES];
static const uint8_t *g_msg1, *g_msg2;
static uint8_t plain[3 * 256], expect[3 * 256];

static void genuine_init(void) {
    static int done;
    if (done)
        return;
    for (int c = 0; c < 2; c++) {
        rm_chan *i, *r;
        rm_rng ri, rr;
        rm_chan_replay *t = rm_chan_replay_new(8);
        if (!t)
            abort();
        fx_set_cipher(c);
        fx_establish(&i, &r, &ri, &rr, t, g_msg1s[c], g_msg2s[c], NULL);
        rm_chan_free(i);
        rm_chan_free(r);
        rm_chan_replay_free(t);
    }
    done = 1;
}

static void check_err(const rm_chan *ch, rm_err err) {
    switch (err) {
    case RM_OK:
        return;
    case RM_ECHAN_AUTH:
    case RM_ECHAN_UNKNOWN_KEY:
    case RM_ECHAN_BAD_KEY:
    case RM_ECHAN_REPLAY:
    case RM_ECHAN_TOO_LARGE:
    case RM_ECHAN_MALFORMED:
    case RM_ECHAN_TRUNCATED:
        if (rm_chan_get_state(ch) != RM_CHAN_CLOSED || rm_chan_error(ch) != err ||
            rm_chan_reason(ch)[0] == '\0' || rm_chan_out_pending(ch) != 0)
            abort();
        return;
    case RM_ECHAN_STATE: /* bytes for a channel that is closed already */
        if (rm_chan_get_state(ch) != RM_CHAN_CLOSED)
            abort();
        return;
    default:
        abort();
    }
}

/* Takes every frame ch has decrypted; frame k must be fx_plain(k), and no
 * more than sent frames may arrive (sent < 0: unknown). */
static void drain(rm_chan *ch, uint32_t *got, int64_t sent) {
    const uint8_t *d;
    size_t n;
    while (rm_chan_poll_frame(ch, &d, &n)) {
        if (n > FX_FRAME_MAX || (sent >= 0 && *got >= sent))
            abort();
        fx_plain(expect, n, *got);
        if (memcmp(d, expect, n) != 0)
            abort();
        (*got)++;
    }
}

/* Feeds data to ch in chunks set by the knob, draining frames as they come;
 * the knob's top bit then ends the connection. */
static void feed(rm_chan *ch, const uint8_t *data, size_t size, uint8_t knob) {
    size_t chunk = knob & 0x3f ? knob & 0x3fu : size;
    uint32_t got = 0;
    rm_err err = RM_OK;
    for (size_t off = 0; off < size && !err; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        err = rm_chan_recv(ch, data + off, n);
        check_err(ch, err);
        drain(ch, &got, -1);
    }
    if (knob & 0x80) {
        err = rm_chan_recv_eof(ch);
        if (err != RM_OK && err != RM_ECHAN_TRUNCATED && err != rm_chan_error(ch))
            abort();
    }
}

static void raw_responder(const uint8_t *data, size_t size, uint8_t knob) {
    rm_rng rr;
    rm_rng_seed(&rr, FX_SEED_R);
    rm_chan_replay *t = rm_chan_replay_new(8);
    rm_chan_config cr = fx_config(RM_CHAN_RESPONDER, &rr, t);
    rm_chan *r;
    if (!t || rm_chan_new(&r, &cr, FX_NOW) != RM_OK)
        abort();
    feed(r, data, size, knob);
    uint8_t h[RM_CHAN_HASH_BYTES];
    bool genuine = size >= RM_CHAN_MSG1_BYTES && memcmp(data, g_msg1, RM_CHAN_MSG1_BYTES) == 0;
    if (rm_chan_handshake_hash(r, h) != genuine)
        abort(); /* answered a forged message 1, or refused the genuine one */
    uint8_t out[RM_CHAN_MSG2_BYTES];
    size_t n = rm_chan_poll_out(r, out, sizeof out);
    if (n != 0 && (n != sizeof out || memcmp(out, g_msg2, sizeof out) != 0 ||
                   rm_chan_get_cipher(r) != fx_cipher))
        abort();
    rm_chan_free(r);
    rm_chan_replay_free(t);
}

static void raw_initiator(const uint8_t *data, size_t size, uint8_t knob) {
    rm_rng ri;
    rm_rng_seed(&ri, FX_SEED_I);
    rm_chan_config ci = fx_config(RM_CHAN_INITIATOR, &ri, NULL);
    rm_chan *i;
    uint8_t out[RM_CHAN_MSG1_BYTES];
    if (rm_chan_new(&i, &ci, FX_NOW) != RM_OK ||
        rm_chan_poll_out(i, out, sizeof out) != sizeof out ||
        memcmp(out, g_msg1, sizeof out) != 0)
        abort();
    feed(i, data, size, knob);
    uint8_t h[RM_CHAN_HASH_BYTES];
    bool genuine = size >= RM_CHAN_MSG2_BYTES && memcmp(data, g_msg2, RM_CHAN_MSG2_BYTES) == 0;
    if (rm_chan_handshake_hash(i, h) != genuine)
        abort(); /* opened on a forged message 2, or refused the genuine one */
    rm_chan_free(i);
}

static void raw_frames(const uint8_t *data, size_t size, uint8_t knob) {
    rm_chan *i, *r;
    rm_rng ri, rr;
    rm_chan_replay *t = rm_chan_replay_new(8);
    if (!t)
        abort();
    fx_establish(&i, &r, &ri, &rr, t, NULL, NULL, NULL);
    feed(r, data, size, knob);
    rm_chan_free(i);
    rm_chan_free(r);
    rm_chan_replay_free(t);
}

/* ---- scripts */

typedef struct {
    uint8_t b[LINK_BYTES];
    size_t len;
} link_buf;

static link_buf links[2]; /* 0: initiator -> responder, 1: back */

typedef struct {
    const uint8_t *p, *end;
} reader;

static uint8_t next(reader *rd) {
    return rd->p < rd->end ? *rd->p++ : 0;
}

/* Moves ch's waiting wire bytes into the link, as far as it has room. */
static void collect(rm_chan *ch, link_buf *l) {
    l->len += rm_chan_poll_out(ch, l->b + l->len, LINK_BYTES - l->len);
}

static void script(const uint8_t *data, size_t size) {
    rm_chan *ch[2];
    rm_rng ri, rr;
    rm_chan_replay *t = rm_chan_replay_new(8);
    if (!t)
        abort();
    fx_establish(&ch[0], &ch[1], &ri, &rr, t, NULL, NULL, NULL);
    links[0].len = links[1].len = 0;
    uint32_t sent[2] = {0, 0}, got[2] = {0, 0}; /* application frames, by sender */
    uint64_t now = FX_NOW;
    reader rd = {data, data + size};
    while (rd.p < rd.end) {
        uint8_t op = next(&rd);
        int s = op & 1;              /* the side that acts, or sends */
        link_buf *l = &links[s];     /* bytes on their way from s */
        rm_chan *to = ch[1 - s];
        switch ((op >> 1) % 8) {
        case 0: { /* s sends a frame, sometimes over the limit */
            size_t n = (size_t)next(&rd) * 3;
            fx_plain(plain, n, sent[s]);
            rm_err err = rm_chan_send(ch[s], now, plain, n);
            if (err == RM_OK)
                sent[s]++;
            else if (!(err == RM_ECHAN_TOO_LARGE && n > FX_FRAME_MAX) && err != RM_ECHAN_STATE)
                abort();
            collect(ch[s], l);
            break;
        }
        case 1: { /* deliver up to k bytes in flight from s */
            size_t k = (size_t)next(&rd) * 4 + 1;
            if (k > l->len)
                k = l->len;
            rm_err err = rm_chan_recv(to, l->b, k);
            check_err(to, err);
            memmove(l->b, l->b + k, l->len - k);
            l->len -= k;
            drain(to, &got[s], sent[s]);
            collect(to, &links[1 - s]); /* nothing, unless it closed */
            break;
        }
        case 2: /* flip one bit in flight */
            if (l->len) {
                size_t bit = ((size_t)next(&rd) << 8 | next(&rd)) % (l->len * 8);
                l->b[bit / 8] ^= (uint8_t)(1u << bit % 8);
            }
            break;
        case 3: /* drop a few bytes in flight */
            if (l->len) {
                size_t at = next(&rd) % l->len, k = next(&rd) % 32 + 1;
                if (k > l->len - at)
                    k = l->len - at;
                memmove(l->b + at, l->b + at + k, l->len - at - k);
                l->len -= k;
            }
            break;
        case 4: /* duplicate a run of bytes in flight, right after itself */
            if (l->len) {
                size_t at = next(&rd) % l->len, k = (size_t)next(&rd) * 2 + 1;
                if (k > l->len - at)
                    k = l->len - at;
                if (k <= LINK_BYTES - l->len) {
                    memmove(l->b + at + 2 * k, l->b + at + k, l->len - at - k);
                    memcpy(l->b + at + k, l->b + at, k);
                    l->len += k;
                }
            }
            break;
        case 5: { /* raw input joins the bytes in flight */
            size_t k = next(&rd);
            if (k > (size_t)(rd.end - rd.p))
                k = (size_t)(rd.end - rd.p);
            if (k <= LINK_BYTES - l->len) {
                memcpy(l->b + l->len, rd.p, k);
                l->len += k;
            }
            rd.p += k;
            break;
        }
        case 6: { /* the clock moves, now and then backwards */
            uint8_t dt = next(&rd);
            now = dt ? now + (uint64_t)dt * 50000 : now - 1;
            break;
        }
        default: { /* s closes its stream, or the other side sees the end */
            if (next(&rd) & 1) {
                rm_err err = rm_chan_close(ch[s]);
                if (err != RM_OK && err != RM_ECHAN_STATE)
                    abort();
                collect(ch[s], l);
            } else {
                rm_err err = rm_chan_recv_eof(to);
                if (err != RM_OK && err != RM_ECHAN_TRUNCATED && err != rm_chan_error(to))
                    abort();
            }
            break;
        }
        }
    }
    rm_chan_free(ch[0]);
    rm_chan_free(ch[1]);
    rm_chan_replay_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fx_init();
    genuine_init();
    if (size < 2)
        return 0;
    uint8_t mode = data[0] % 4, knob = data[1];
    int c = fx_set_cipher(data[0] >> 2 & 1);
    g_msg1 = g_msg1s[c];
    g_msg2 = g_msg2s[c];
    data += 2;
    size -= 2;
    switch (mode) {
    case 0:
        raw_responder(data, size, knob);
        break;
    case 1:
        raw_initiator(data, size, knob);
        break;
    case 2:
        raw_frames(data, size, knob);
        break;
    default:
        script(data, size);
        break;
    }
    return 0;
}
