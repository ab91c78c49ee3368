/* Writes a few valid snapshots, one file each, into the folder given: the
 * seed corpus of fuzz_snapshot (scripts/fuzz.sh runs it). They are small, so
 * that the fuzzer's mutations reach every section.
 *   gen_snapshot_seeds DIR */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/snapshot.h"
#include "seed_file.h"

static uint8_t buf[1 << 12];
static int write_snapshot(const char *dir, const rm_snapshot *s) {
    size_t len = rm_snapshot_size(s);
    if (len == 0 || len > sizeof buf || rm_snapshot_write(s, buf, len) != RM_OK)
        return -1;
    return fx_write_seed(dir, NULL, 0, buf, len);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gen_snapshot_seeds DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    static const float p[6] = {1, -2, 0.5f, 3, 0, -1};
    static const float m[6] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
    static const float v[6] = {1e-3f, 2e-3f, 3e-3f, 4e-3f, 5e-3f, 6e-3f};
    static const uint32_t order[5] = {3, 0, 4, 1, 2};
    static const uint8_t view[7] = {1, 2, 3, 4, 5, 6, 7};
    static const uint8_t bases[3] = {9, 8, 7};
    static const uint8_t extra[4] = {0xde, 0xad, 0xbe, 0xef};
    int bad = 0;

    rm_snapshot s;
    memset(&s, 0, sizeof s);
    strcpy(s.model, "mlp:2-2-2");
    s.saved_unix_ms = 1717000000000ull;
    s.step = 1000;
    s.epoch = 3;
    s.cursor = 2;
    s.incarnation = 4;
    for (int i = 0; i < 4; i++) {
        s.rng[i] = 0x0123456789abcdefull * (uint64_t)(i + 1);
        s.peer_rng[i] = 0xfedcba9876543210ull ^ (uint64_t)i;
    }
    s.nparams = 6;
    s.params = p;
    bad |= write_snapshot(dir, &s); /* the required sections only */

    s.opt_kind = 1; /* SGD: momentum only */
    s.opt_t = 1000;
    s.opt_m = m;
    bad |= write_snapshot(dir, &s);

    s.opt_kind = 2; /* Adam, with every optional section */
    s.opt_v = v;
    s.norder = 5;
    s.order = order;
    s.view_len = sizeof view;
    s.view = view;
    s.bases_len = sizeof bases;
    s.bases = bases;
    s.extra_len = sizeof extra;
    s.extra = extra;
    bad |= write_snapshot(dir, &s);

    memset(&s, 0, sizeof s); /* no parameters, no model name */
    bad |= write_snapshot(dir, &s);
    if (bad) {
        fprintf(stderr, "gen_snapshot_seeds: cannot write seeds into %s\n", dir);
        return 1;
    }
    return 0;
}
