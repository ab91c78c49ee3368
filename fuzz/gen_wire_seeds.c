/* Writes a few valid frames of every type, one file each, into the folder
 * given: the seed corpus of fuzz_wire (scripts/fuzz.sh runs it).
 *   gen_wire_seeds DIR */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gossip/wire.h"
#include "seed_file.h"

static uint8_t buf[1 << 14];
static rm_frame f;
static int write_frame(const char *dir) {
    size_t len;
    if (rm_wire_encode(&f, buf, sizeof buf, &len) != RM_OK)
        return -1;
    return fx_write_seed(dir, NULL, 0, buf, len);
}

static void entry(rm_wire_entry *e, uint8_t idb, const char *addr) {
    memset(e->id, idb, RM_ID_BYTES);
    e->incarnation = idb;
    e->age = 3;
    e->addr_len = (uint8_t)strlen(addr);
    memcpy(e->addr, addr, e->addr_len + 1u);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gen_wire_seeds DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    static const float x[8] = {1, -2, 0.5f, 3, 0, -1, 7, 0.25f};
    static const int8_t q[8] = {1, -1, 127, -128, 4, 0, 9, -9};
    static const float sc[3] = {0.01f, 0.5f, 2};
    int bad = 0;

    for (uint8_t type = 1; type < RM_FRAME_TYPE_END; type++) {
        memset(&f, 0, sizeof f);
        f.type = type;
        switch (type) {
        case RM_FRAME_HELLO:
            memset(f.u.hello.id, 7, RM_ID_BYTES);
            f.u.hello.incarnation = 3;
            f.u.hello.model_n = 1000;
            f.u.hello.model_tag = 0xdeadbeef;
            f.u.hello.addr_len = 13;
            memcpy(f.u.hello.addr, "10.0.0.1:7000", 14);
            bad |= write_frame(dir);
            break;
        case RM_FRAME_PUSH:
        case RM_FRAME_PULL_REPLY:
            f.u.ex.exchange = 42;
            f.u.ex.version = 7;
            f.u.ex.weight = 0.5;
            for (uint8_t enc = 0; enc < RM_ENC_END; enc++) {
                f.u.ex.nentries = enc; /* 0, 1 and 2 entries */
                for (uint8_t i = 0; i < enc; i++)
                    entry(&f.u.ex.entries[i], (uint8_t)(0x10 + i), "10.0.0.2:7000");
                f.u.ex.model = (rm_wire_model){.encoding = enc, .n = 8, .chunk = 3,
                                               .f32 = x, .i8 = q, .scales = sc};
                bad |= write_frame(dir);
            }
            break;
        case RM_FRAME_NEED_FULL:
            f.u.need_full.exchange = 42;
            f.u.need_full.base = 10;
            bad |= write_frame(dir);
            break;
        case RM_FRAME_VIEW:
            f.u.view.nentries = 2;
            entry(&f.u.view.entries[0], 0x11, "10.0.0.3:7000");
            entry(&f.u.view.entries[1], 0x22, "[::1]:7001");
            bad |= write_frame(dir);
            break;
        case RM_FRAME_LEAVE:
            f.u.leave.incarnation = 3;
            bad |= write_frame(dir);
            break;
        case RM_FRAME_HAVE: {
            static const uint64_t ids[3] = {5, 9, 0x0102030405060708ull};
            f.u.have.exchange = 42;
            f.u.have.want_reply = 1;
            f.u.have.nentries = 1;
            entry(&f.u.have.entries[0], 0x33, "10.0.0.4:7000");
            f.u.have.nids = 3;
            f.u.have.ids = ids;
            bad |= write_frame(dir);
            break;
        }
        case RM_FRAME_ITEMS: {
            static const rm_wire_item items[2] = {
                {.id = 5, .len = 3, .bytes = (const uint8_t *)"abc"},
                {.id = 9, .len = 0, .bytes = NULL}};
            f.u.items.count = 2;
            f.u.items.items = items;
            bad |= write_frame(dir);
            break;
        }
        default:
            f.u.ping.nonce = 0x0102030405060708ull;
            bad |= write_frame(dir);
            break;
        }
    }
    if (bad) {
        fprintf(stderr, "gen_wire_seeds: cannot write seeds into %s\n", dir);
        return 1;
    }
    return 0;
}
