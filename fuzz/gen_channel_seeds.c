/* Writes the seed corpus of fuzz_channel into the folder given: genuine
 * handshake messages and frames of the fixed session (channel_fixture.h)
 * for modes 0-2, and a few scripts for mode 3, once per transport cipher
 * (scripts/fuzz.sh runs it).
 *   gen_channel_seeds DIR */
#include <stdio.h>

#include "channel_fixture.h"
#include "seed_file.h"

static uint8_t seed[1 << 14];
static size_t seed_len;
static int bad;
static uint8_t cipher_bit; /* 4 for AES-256-GCM seeds, 0 for secretstream */

static void begin(uint8_t mode, uint8_t knob) {
    seed[0] = mode | cipher_bit;
    seed[1] = knob;
    seed_len = 2;
}

static void add(const uint8_t *p, size_t n) {
    if (seed_len + n > sizeof seed)
        abort();
    memcpy(seed + seed_len, p, n);
    seed_len += n;
}

static void finish(const char *dir) {
    if (fx_write_seed(dir, NULL, 0, seed, seed_len))
        bad = 1;
}

/* Frames k = 0, 1, ... of fx_plain, of the given sizes, sent by ch at now;
 * their wire bytes are appended to the seed. */
static void add_frames(rm_chan *ch, const size_t *sizes, size_t n, uint64_t now, int close) {
    static uint8_t plain[FX_FRAME_MAX], wire[1 << 13];
    for (size_t k = 0; k < n; k++) {
        fx_plain(plain, sizes[k], (uint32_t)k);
        if (rm_chan_send(ch, now + k, plain, sizes[k]) != RM_OK)
            abort();
    }
    if (close && rm_chan_close(ch) != RM_OK)
        abort();
    size_t got = rm_chan_poll_out(ch, wire, sizeof wire);
    if (rm_chan_out_pending(ch) != 0)
        abort();
    add(wire, got);
}

/* The seeds of one cipher (fx_cipher, and cipher_bit in the mode byte). */
static void write_seeds(const char *dir) {
    static const size_t sizes[] = {0, 40, 300, 512, 100, 7}; /* 512 + 300 > rekey */
    uint8_t msg1[RM_CHAN_MSG1_BYTES], msg2[RM_CHAN_MSG2_BYTES], confirm[RM_CHAN_FRAME_OVERHEAD];
    for (int variant = 0; variant < 3; variant++) {
        rm_chan *i, *r;
        rm_rng ri, rr;
        rm_chan_replay *t = rm_chan_replay_new(8);
        if (!t)
            abort();
        fx_establish(&i, &r, &ri, &rr, t, msg1, msg2, confirm);
        static const uint8_t knobs[] = {0, 0x85, 0x01};
        /* Mode 0: message 1, the confirmation, frames from the initiator. */
        begin(0, knobs[variant]);
        add(msg1, sizeof msg1);
        add(confirm, sizeof confirm);
        add_frames(i, sizes, 2 + 2 * (size_t)variant, FX_NOW, variant == 2);
        finish(dir);
        /* Mode 1: message 2, then frames from the responder. */
        begin(1, knobs[variant]);
        add(msg2, sizeof msg2);
        add_frames(r, sizes, 2 + 2 * (size_t)variant, FX_NOW + 2000000, variant == 1);
        finish(dir);
        rm_chan_free(i);
        rm_chan_free(r);
        rm_chan_replay_free(t);
        /* Mode 2: frames from the initiator of an established session. */
        t = rm_chan_replay_new(8);
        fx_establish(&i, &r, &ri, &rr, t, NULL, NULL, NULL);
        begin(2, knobs[variant]);
        add_frames(i, sizes, 3 + (size_t)variant, FX_NOW, variant != 0);
        finish(dir);
        rm_chan_free(i);
        rm_chan_free(r);
        rm_chan_replay_free(t);
    }

    /* Mode 3 scripts; an op byte is (op << 1 | side). */
    static const uint8_t scripts[][24] = {
        /* send 30 both ways, deliver both ways, time, send again, close */
        {0 << 1, 10, 0 << 1 | 1, 10, 1 << 1, 255, 1 << 1 | 1, 255, 6 << 1, 40,
         0 << 1, 200, 0 << 1, 200, 1 << 1, 255, 7 << 1, 1, 1 << 1, 255, 7 << 1 | 1, 0},
        /* send, flip a bit, deliver */
        {0 << 1, 20, 2 << 1, 0, 77, 1 << 1, 255},
        /* send two, duplicate the first, deliver */
        {0 << 1, 5, 0 << 1, 5, 4 << 1, 0, 15, 1 << 1, 255},
        /* send, drop bytes, deliver, hang up */
        {0 << 1, 9, 3 << 1, 4, 3, 1 << 1, 255, 7 << 1 | 1, 0},
    };
    for (size_t k = 0; k < sizeof scripts / sizeof scripts[0]; k++) {
        begin(3, 0);
        add(scripts[k], sizeof scripts[k]);
        finish(dir);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gen_channel_seeds DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    fx_init();
    for (int c = 0; c < 2; c++) {
        int aes = fx_set_cipher(c);
        if (c && !aes)
            break; /* no AES-NI here: the secretstream seeds only */
        cipher_bit = (uint8_t)(aes << 2);
        write_seeds(dir);
    }
    if (bad) {
        fprintf(stderr, "gen_channel_seeds: cannot write seeds into %s\n", dir);
        return 1;
    }
    return 0;
}
