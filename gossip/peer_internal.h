/* rumor gossip: the peer core's state, shared by its two files: peer.c
 * (the exchange protocol, membership, timers, the API) and peer_model.c
 * (what goes in and out of the parameter buffer: delta bases, encoding the
 * local model, checking and merging an incoming one). Not a public header. */
#ifndef RM_PEER_INTERNAL_H
#define RM_PEER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "gossip/peer.h"
#include "gossip/view.h"

/* A base shared with one neighbour: the vector both sides hold under `id`,
 * against which deltas are computed. */
typedef struct {
    uint8_t peer[RM_ID_BYTES];
    uint64_t id;
    uint64_t used;           /* for least-recently-used eviction */
    float *v;                /* (n) */
} rm_base;

/* An item of the peer's set (rm_peer_add_item): its own copy. */
typedef struct {
    uint64_t id;
    uint32_t len;
    uint8_t *bytes;          /* (len) */
} rm_item;

/* A frame that arrived while a step was running. */
typedef struct {
    uint8_t peer[RM_ID_BYTES];
    uint8_t *bytes;
    size_t len;
} rm_pending;

/* One exchange this peer started: its PUSH (or HAVE) is out and the reply
 * is awaited until deadline. */
typedef struct {
    bool active;
    uint64_t id;
    uint8_t peer[RM_ID_BYTES];
    rm_time_us deadline;
    uint64_t sent_weight;    /* push-sum: the weight the PUSH carried */
    float *sent;             /* (n) pairwise: the model as sent in the PUSH,
                                from frame_alloc while the exchange is open */
} peer_exchange;

struct rm_peer {
    rm_peer_config cfg;
    rm_rng rng;
    rm_view view;
    rm_peer_stats st;
    uint64_t version;        /* ++ on every step and merge */
    double sumsq;            /* the model's sum of squares ... */
    uint64_t sumsq_version;  /* ... at version sumsq_version - 1 (0: never) */
    uint64_t weight;         /* push-sum weight */
    uint64_t age_samples;    /* samples behind the model (age merge) */
    uint64_t clock;          /* counts base uses */
    bool stepping, training, gossip_due;
    bool merge_waiting;      /* steps_per_merge reached: no step until a
                                merge or merge_wait_until */
    bool rejoining;          /* waiting for a fresh model (cfg.rejoin) */
    bool own_scratch;
    bool have_open;          /* our HAVE(want_reply) awaits its answer */
    uint32_t rejoin_left;    /* rounds left to wait for it */
    uint32_t npending;
    rm_time_us next_gossip;
    peer_exchange *ex;       /* (nex) exchanges we started: &ex1, or an array */
    uint32_t nex;            /* cfg.exchanges_max */
    uint32_t nseeds;
    peer_exchange ex1;
    rm_pending *pending;     /* (cfg.pending_max), allocated on first use */
    struct rm_seed {         /* the bootstrap peers, kept to re-contact */
        uint8_t id[RM_ID_BYTES];
        char *addr;          /* malloc'd, its length: a fixed 48 bytes was a
                                tenth of a 10,000-peer run's cores */
    } *seeds;
    uint64_t seeds_seen;     /* seeds ever added */
    uint32_t rounds;         /* gossip rounds started */
    uint32_t steps_unmerged; /* steps since a partner's model was merged */
    rm_time_us merge_wait_until;
    rm_action *out;          /* FIFO of actions: out[head .. len) */
    uint32_t out_head, out_len, out_cap;
    uint32_t nbases;
    rm_base *bases;          /* (cfg.delta_bases_max) when deltas are on */
    float *scratch;          /* (n): a decoded incoming model */
    const uint8_t *y;        /* the incoming model being merged: n native
                                floats, in scratch or (zero copy) in the frame */
    float *dscratch;         /* (n): an outgoing delta; then in the same block
                                delta_scales and delta_q */
    rm_item *items;          /* (items_cap) the item set, ascending ids */
    uint32_t nitems, items_cap;
    uint64_t *offered;       /* ids handed to the shell (RM_ACT_ITEM) during
                                the current input, sent twice by then */
    uint32_t noffered, offered_cap;
    struct {                 /* our HAVE(want_reply) (have_open): its answer
                                gets ITEMS */
        uint64_t id;
        uint8_t peer[RM_ID_BYTES];
    } have;
};

/* The outgoing delta's int8 scales (n / chunk + 1) and values (n), after
 * it in its block. */
static inline float *delta_scales(const rm_peer *p) { return p->dscratch + p->cfg.n; }
static inline int8_t *delta_q(const rm_peer *p) {
    return (int8_t *)(delta_scales(p) + p->cfg.n / p->cfg.delta_chunk + 1);
}

typedef enum { MODEL_OK, MODEL_NEED_FULL, MODEL_REFUSED } peer_model_status;

/* peer_model.c */
rm_base *peer_find_base(rm_peer *p, const uint8_t *peer);
rm_base *peer_base_slot(rm_peer *p, const uint8_t *peer);
void peer_drop_base(rm_peer *p, const uint8_t *peer);
uint64_t peer_fill_model(rm_peer *p, const uint8_t *peer, uint64_t base_id,
                         rm_wire_model *m, float *rebase);
peer_model_status peer_take_model(rm_peer *p, const uint8_t *from,
                                  const rm_wire_exchange *ex);
void peer_merge_model(rm_peer *p, const rm_wire_exchange *ex, const float *sent);
void peer_merge_stale(rm_peer *p, const rm_wire_exchange *ex);

/* peer.c */
void peer_cancel_step(rm_peer *p);
void peer_keep_base(rm_peer *p, const uint8_t *peer, uint64_t id);

/* peer.c, for peer_items.c */
peer_exchange *peer_find_exchange(rm_peer *p, const uint8_t *peer, uint64_t id);
rm_action *peer_push_action(rm_peer *p, rm_action_kind kind);
void peer_send_frame(rm_peer *p, const uint8_t *to, const char *addr,
                     const rm_frame *f);
uint8_t peer_fill_entries(rm_peer *p, const uint8_t *to, rm_wire_entry *entries);
void peer_learn_entries(rm_peer *p, const uint8_t *from, uint8_t n,
                        const rm_wire_entry *entries);

/* peer_items.c */
void peer_send_have(rm_peer *p, const uint8_t *to, uint64_t exchange, bool want_reply);
void peer_on_have(rm_peer *p, const uint8_t *from, const rm_wire_have *h);
void peer_on_items(rm_peer *p, const uint8_t *from, const rm_wire_items *it);
void peer_items_free(rm_peer *p);

#endif
