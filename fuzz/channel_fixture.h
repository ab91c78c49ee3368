/* The deterministic setting shared by fuzz_channel.c and gen_channel_seeds.c:
 * fixed keys, a seeded random source, and one established session that both
 * programs rebuild byte for byte, so that the seeds hold genuine handshake
 * messages and frames that the fuzzer's channels accept. */
#ifndef RM_FUZZ_CHANNEL_FIXTURE_H
#define RM_FUZZ_CHANNEL_FIXTURE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "node/channel.h"
#include "node/keys.h"

#define FX_NOW 1700000000000000ull
#define FX_SEED_I 0x1111
#define FX_SEED_R 0x2222
#define FX_FRAME_MAX 512       /* small, so that the size checks are reached */
#define FX_REKEY_BYTES 700     /* small, so that rekeys happen */
#define FX_REKEY_US 1000000    /* one second */

static rm_keypair fx_alice, fx_bob;
/* Both sides' transport cipher for the current input: the first input byte
 * picks secretstream or AES-256-GCM (where the CPU has it). */
static unsigned fx_cipher = RM_CHAN_CIPHER_SECRETSTREAM;
static rm_keyset *fx_allow;
static uint8_t fx_nk[RM_CHAN_NETWORK_KEY_BYTES];

static void fx_random(void *ctx, uint8_t *buf, size_t n) {
    rm_rng *r = ctx;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = rm_rng_u64(r);
        memcpy(buf + i, &v, n - i < 8 ? n - i : 8);
    }
}

/* The plaintext of application frame k of a direction, n bytes. */
static void fx_plain(uint8_t *buf, size_t n, uint32_t k) {
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)(k * 131u + i * 7u + (i >> 3));
}

/* Index 0: secretstream, 1: AES-256-GCM; returns the index in effect. */
static int fx_set_cipher(int aes) {
    aes = aes && (rm_chan_ciphers_available() & RM_CHAN_CIPHER_AES256GCM);
    fx_cipher = aes ? RM_CHAN_CIPHER_AES256GCM : RM_CHAN_CIPHER_SECRETSTREAM;
    return aes;
}

static void fx_init(void) {
    if (fx_allow)
        return;
    uint8_t sk[RM_KEY_BYTES];
    memset(sk, 0x11, sizeof sk);
    if (rm_keypair_from_secret(&fx_alice, sk) != RM_OK)
        abort();
    memset(sk, 0x22, sizeof sk);
    if (rm_keypair_from_secret(&fx_bob, sk) != RM_OK)
        abort();
    memset(fx_nk, 0x42, sizeof fx_nk);
    fx_allow = rm_keyset_new();
    if (!fx_allow || rm_keyset_add(fx_allow, fx_alice.pk) != RM_OK)
        abort();
}

static rm_chan_config fx_config(rm_chan_role role, rm_rng *rng, rm_chan_replay *t) {
    rm_chan_config c = {.role = role, .network_key = fx_nk, .frame_bytes_max = FX_FRAME_MAX,
                        .rekey_bytes = FX_REKEY_BYTES, .rekey_interval_us = FX_REKEY_US,
                        .random = fx_random, .random_ctx = rng, .ciphers = fx_cipher};
    if (role == RM_CHAN_INITIATOR) {
        c.self = &fx_alice;
        c.peer_key = fx_bob.pk;
    } else {
        c.self = &fx_bob;
        c.allow = fx_allow;
        c.replay = t;
    }
    return c;
}

/* Creates the initiator and responder of the fixed session, seeding their
 * generators. The initiator's message 1 is waiting in it. */
static void fx_create(rm_chan **i, rm_chan **r, rm_rng *ri, rm_rng *rr, rm_chan_replay *t) {
    rm_rng_seed(ri, FX_SEED_I);
    rm_rng_seed(rr, FX_SEED_R);
    rm_chan_config ci = fx_config(RM_CHAN_INITIATOR, ri, t);
    rm_chan_config cr = fx_config(RM_CHAN_RESPONDER, rr, t);
    if (rm_chan_new(i, &ci, FX_NOW) != RM_OK || rm_chan_new(r, &cr, FX_NOW) != RM_OK)
        abort();
}

/* Moves every waiting byte from one channel to the other, also copying
 * them to copy (when not NULL, cap bytes at most); returns how many. */
static size_t fx_move(rm_chan *from, rm_chan *to, uint8_t *copy, size_t cap) {
    uint8_t buf[4096];
    size_t n, total = 0;
    while ((n = rm_chan_poll_out(from, buf, sizeof buf)) > 0) {
        if (copy) {
            if (total + n > cap)
                abort();
            memcpy(copy + total, buf, n);
        }
        total += n;
        if (rm_chan_recv(to, buf, n) != RM_OK)
            abort();
    }
    return total;
}

/* The fixed session, established: message 1, message 2 and the initiator's
 * key confirmation are copied out when the pointers are not NULL. */
static void fx_establish(rm_chan **i, rm_chan **r, rm_rng *ri, rm_rng *rr, rm_chan_replay *t,
                         uint8_t msg1[RM_CHAN_MSG1_BYTES], uint8_t msg2[RM_CHAN_MSG2_BYTES],
                         uint8_t confirm[RM_CHAN_FRAME_OVERHEAD]) {
    fx_create(i, r, ri, rr, t);
    fx_move(*i, *r, msg1, RM_CHAN_MSG1_BYTES);
    fx_move(*r, *i, msg2, RM_CHAN_MSG2_BYTES);
    fx_move(*i, *r, confirm, RM_CHAN_FRAME_OVERHEAD);
    if (rm_chan_get_state(*i) != RM_CHAN_OPEN || rm_chan_get_state(*r) != RM_CHAN_OPEN)
        abort();
}

#endif
