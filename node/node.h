/* rumor: the real shell around one peer core (DESIGN.md section 1).
 *
 * One libuv loop drives everything on one thread: a TCP listener, one
 * secure channel per connection (node/channel.h; initiator when we dialled,
 * responder when we accepted), one timer re-armed to the core's next
 * deadline, a status timer, SIGINT/SIGTERM. Training steps run on the libuv
 * thread pool; the core never touches the parameter buffer while one runs,
 * and the model is evaluated on the loop thread only between steps.
 *
 * Once a channel is open, the remote's static public key is its peer id.
 * Frames for a peer with no connection dial the address the core gave;
 * frames wait until the channel opens (at most RM_NODE_WQ_FRAMES frames or
 * RM_NODE_WQ_BYTES bytes); once it is open, a frame is dropped (and
 * counted) when the bytes the kernel has not yet taken would pass
 * RM_NODE_WQ_BYTES, or when some are blocked and RM_NODE_WQ_FRAMES writes
 * are in flight: the core sees a timeout. Any channel
 * failure closes that connection only, with a logged line (fingerprint,
 * address, reason).
 *
 * Timeouts: a connection whose handshake has not finished within
 * handshake_timeout_ms is closed; an open one that carried no frame in
 * either direction for idle_timeout_ms is closed cleanly (final frame, then
 * shutdown). Counting both directions keeps every connection the core
 * still sends on, even to a peer that has stopped answering: the core
 * notices that itself (exchange timeouts, suspicion) and stops sending.
 * A dial that fails, or a dialled connection that closes before its
 * channel opens, is retried no sooner than node/backoff.h says (250 ms
 * doubling to 30 s, jittered); a handshake with the peer, either way,
 * resets its count. */
#ifndef RM_NODE_H
#define RM_NODE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "base/rng.h"
#include "gossip/peer.h"
#include "models/dataset.h"
#include "models/forest.h"
#include "models/trainer.h"
#include "node/keys.h"

#define RM_NODE_WQ_FRAMES 4
#define RM_NODE_WQ_BYTES (8u << 20)
#define RM_NODE_SEEDS_MAX 64
#define RM_NODE_BACKOFF_MAX 256   /* peers whose redial waits are remembered */
#define RM_NODE_HANDSHAKE_TIMEOUT_MS_DEFAULT 5000u
#define RM_NODE_IDLE_TIMEOUT_MS_DEFAULT 60000u

typedef struct {
    uint8_t id[RM_ID_BYTES];
    char addr[RM_PEER_ADDR_MAX + 1];
} rm_node_seed;

/* A forest peer's learner (task-parallel): it grows trees first ..
 * first + share - 1 of the forest whose tree i is rm_tree_grow_nth(data,
 * cfg, seed, i), one per training step on the pool, and holds every tree
 * it grew or was sent (gossiped as items, merged by union). */
typedef struct {
    const rm_binned *data;           /* its shard, binned (borrowed) */
    rm_forest *forest;               /* the trees held (borrowed; grows) */
    rm_forest_config cfg;
    uint64_t seed;                   /* the same on every peer */
    uint32_t first, share;
} rm_node_forest;

typedef struct {
    const char *listen;              /* "127.0.0.1:PORT" (IPv4) */
    const rm_keypair *self;          /* borrowed */
    const rm_keyset *allow;          /* borrowed; NULL: network key only */
    const uint8_t *network_key;      /* NULL or 32 bytes */
    const rm_node_seed *seeds;
    uint32_t nseeds;
    rm_peer_config core;             /* id, addr, params, n are filled in */
    rm_trainer *trainer;             /* borrowed; stepped on the pool; NULL
                                        for a forest peer */
    rm_node_forest *forest;          /* a forest peer's learner, or NULL */
    rm_rng train_rng;                /* the trainer's generator (copied) */
    rm_rng core_rng;
    const rm_dataset *eval;          /* held-out rows for the status line */
    uint32_t status_ms;              /* status line period; 0: none */
    uint32_t handshake_timeout_ms;   /* a connection whose channel is not open
                                        this long after it began (dial or
                                        accept) is closed; 0: the default */
    uint32_t idle_timeout_ms;        /* an open connection that carried no
                                        frame in either direction for this
                                        long is closed cleanly; 0: the
                                        default. Keep it well above the
                                        gossip interval */
    double max_seconds;              /* stop after this long; 0: no limit */
    double linger_seconds;           /* once max_steps are done, keep
                                        gossiping this long, then stop */
    struct rm_store *store;          /* checkpoints; NULL: none (borrowed) */
    const char *model;               /* descriptor saved in each snapshot */
    uint64_t ckpt_every_steps;       /* a snapshot every this many steps ... */
    uint32_t ckpt_every_ms;          /* ... or this long, whichever first; and
                                        one more on a clean stop */
    const uint8_t *core_state;       /* a snapshot's core blobs to restore */
    size_t core_state_len;
    const uint8_t *core_bases;
    size_t core_bases_len;
    FILE *log;                       /* status lines (stdout); NULL: none */
    FILE *err;                       /* connection log (stderr) */
} rm_node_config;

typedef struct {
    rm_peer_stats core;
    double test_accuracy, test_loss, train_loss, seconds;
    uint64_t conns_accepted, conns_dialled, conns_failed, handshakes_refused;
    uint64_t handshake_timeouts, idle_closes;
    uint64_t wire_bytes_in, wire_bytes_out, frames_dropped;
    uint64_t ckpt_saves, ckpt_failed, ckpt_last_step;
    uint64_t items_refused;          /* trees from peers that did not decode */
    uint32_t view;
} rm_node_result;

/* Runs the node until SIGINT/SIGTERM, max_seconds, or max_steps + linger.
 * Returns RM_OK after a clean stop (LEAVE sent, channels closed), or an
 * error when it cannot start (RM_EINVAL: a bad listen address; RM_EIO: the
 * port cannot be bound; RM_ENOMEM); diag says which. */
rm_err rm_node_run(const rm_node_config *cfg, rm_node_result *res, rm_diag *diag);

/* Parses "HOST:PORT" (IPv4 dotted quad) into host (cap bytes) and port. */
bool rm_node_parse_addr(const char *s, char *host, size_t cap, int *port);

#endif
