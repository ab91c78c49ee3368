/* rumor gossip: one peer's core, sans-IO.
 *
 * The core decides; its shell (node/ for real TCP, sim/ for virtual time)
 * does. It is driven only by rm_peer_handle(now, input) and answers only
 * through rm_peer_poll(&action): it reads no clock, opens no socket or file,
 * starts no thread and draws randomness only from the rm_rng it was given.
 *
 * It merges incoming models straight into the learner's parameter buffer
 * (cfg.params, n floats), and only between training steps: while a step it
 * asked for (RM_ACT_RUN_STEP) runs, incoming frames wait in a bounded queue
 * and are handled when RM_IN_STEP_DONE arrives, so the buffer has one writer
 * at a time with no lock. Time is in microseconds of the shell's clock.
 *
 * A peer may also hold a set of items (cfg.items_max > 0): opaque blobs
 * with 64-bit ids, such as a random forest's trees, merged by union. Each
 * round it tells its partner which ids it holds (a HAVE frame) and each side
 * sends the other the items it lacks (ITEMS; docs/PROTOCOL.md). The core
 * never looks inside an item: a received one goes to the shell
 * (RM_ACT_ITEM), which checks it and hands it back with rm_peer_add_item
 * only if it is good, so a bad item is never forwarded. A peer with items
 * may have no parameter vector at all (params NULL, n 0: an "items-only"
 * peer); its HAVE is then the exchange itself. */
#ifndef RM_PEER_H
#define RM_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/rng.h"
#include "gossip/merge.h"
#include "gossip/wire.h"

typedef uint64_t rm_time_us;
#define RM_NEVER UINT64_MAX

/* Push-sum weights are integers (each peer starts with this much), so that
 * halving and adding conserve the total exactly; they travel as f64, exact
 * below 2^53 (10,000 peers * 2^32 is about 2^45). */
#define RM_PUSHSUM_UNIT (1ull << 32)

/* Longest address a peer keeps (= RM_VIEW_ADDR_MAX). */
#define RM_PEER_EXCHANGES_MAX 16
#define RM_PEER_ADDR_MAX 47

typedef struct {
    uint8_t id[RM_ID_BYTES];
    char addr[RM_PEER_ADDR_MAX + 1];
    uint64_t incarnation;
    float *params;                 /* the learner's buffer (borrowed) */
    uint32_t n;                    /* floats in it */
    uint32_t model_tag;            /* descriptor hash: peers must agree */
    float *scratch;                /* (n) floats the core may use inside a
                                      call; may be shared by peers driven on
                                      one thread; NULL: the core allocates */
    rm_merge_rule merge;
    uint32_t exchanges_max;        /* exchanges of its own in flight at once,
                                      1..RM_PEER_EXCHANGES_MAX (default 1): on
                                      a link whose round trip is longer than
                                      the interval, more than one keeps the
                                      gossip rate up. 1 with items */
    rm_time_us gossip_interval_us; /* one exchange started per interval */
    rm_time_us exchange_timeout_us;/* a reply later than this is a miss */
    uint32_t view_max;             /* V */
    uint32_t shuffle_len;          /* view entries piggybacked per exchange */
    bool view_shuffle;             /* learn new peers from piggybacked entries */
    bool train;                    /* keep asking for training steps */
    uint32_t suspect_after;        /* missed exchanges before suspicion */
    uint32_t drop_after;           /* missed exchanges before dropping */
    uint32_t steps_per_merge;      /* bounded staleness: after this many steps
                                      with no partner's model merged, wait for
                                      one before the next step; 0: never wait
                                      (fully asynchronous) */
    rm_time_us merge_wait_us;      /* ... but at most this long, then take
                                      steps_per_merge more (a peer with no
                                      partner still trains) */
    uint64_t max_steps;            /* stop training after this many; 0: never */
    double norm_ratio_max;         /* refuse ||y|| > ratio*||x|| + norm_abs_max; 0: off */
    double norm_abs_max;
    uint64_t stale_versions_max;   /* refuse versions this far behind the
                                      newest seen from that peer; 0: off */
    bool delta;                    /* send deltas against a shared base */
    bool delta_int8;               /* ... quantised to int8 (error feedback) */
    uint32_t delta_chunk;          /* values per int8 scale */
    uint32_t delta_bases_max;      /* neighbours with a base kept (LRU) */
    uint32_t pending_max;          /* frames queued while a step runs */
    uint32_t reseed_every;         /* every this many rounds, exchange with a
                                      bootstrap seed (heals partitions); 0: only
                                      when the view is empty */
    uint32_t seeds_max;            /* seeds kept (a random sample of those added) */
    bool rejoin;                   /* restarted with a stale model: first pull
                                      a fresh one (a PUSH flagged PULL, which
                                      the partner answers without merging),
                                      merge it weighted by samples trained
                                      on, and only then train again */
    uint32_t rejoin_rounds;        /* rounds to wait for that pull before
                                      training anyway (no peer answers) */
    uint32_t items_max;            /* items the peer holds at most, up to
                                      RM_WIRE_ITEMS_MAX; 0: no items */
    uint32_t items_frame_bytes;    /* most bytes of one ITEMS frame sent (what
                                      does not fit goes in later rounds); a
                                      receiver refuses larger frames, so peers
                                      must agree on it */
    /* Where frame buffers come from: the bytes of every RM_ACT_SEND, and
     * the frames the core keeps or is given (rm_input.give), which it
     * releases with frame_free. NULL (the default): malloc and free. A
     * shell with a pool that hands back the buffer it was last given gets
     * a cache-hot one for the next frame the core encodes; with malloc, a
     * 4 KB frame came back cold, and writing it cost a miss per line. */
    void *(*frame_alloc)(void *ctx, size_t len);
    void (*frame_free)(void *ctx, void *bytes);
    void *frame_ctx;
} rm_peer_config;

/* Defaults: pairwise merge, 100 ms interval, timeout 4 intervals, V = 16,
 * fully asynchronous steps (a 1 s wait when steps_per_merge is set),
 * 4 entries per exchange, shuffle on, suspect after 2 misses, drop after 4,
 * training on, norm bound 100x + 1e3, stale bound 1000 versions, deltas off,
 * int8 chunk 256, 16 bases, 32 pending frames, a seed every 20 rounds,
 * 4 seeds kept, rejoin off (10 rounds when on), items off (4 MiB ITEMS
 * frames when on). */
void rm_peer_config_default(rm_peer_config *c);

typedef enum {
    RM_IN_FRAME = 1,    /* bytes from peer: one whole frame */
    RM_IN_PEER_UP,      /* a connection to peer (id, addr) is up */
    RM_IN_PEER_DOWN,    /* the connection to peer is gone */
    RM_IN_TIMER,        /* the deadline the core asked for has come */
    RM_IN_STEP_DONE,    /* the step asked for finished; `samples` rows */
    RM_IN_CKPT_DONE,    /* a checkpoint asked for was written */
} rm_input_kind;

typedef struct {
    rm_input_kind kind;
    const uint8_t *peer;     /* FRAME, PEER_UP, PEER_DOWN */
    const char *addr;        /* PEER_UP */
    const uint8_t *bytes;    /* FRAME */
    size_t len;
    bool give;               /* FRAME: bytes came from cfg.frame_alloc
                                (malloc by default) and are now the core's
                                to free (it keeps a frame that arrives
                                during a step without copying it); false:
                                borrowed for the call */
    uint64_t samples;        /* STEP_DONE */
} rm_input;

typedef enum {
    RM_ACT_SEND = 1,    /* send bytes to peer (at addr): one whole frame */
    RM_ACT_RUN_STEP,    /* run one training step, then report STEP_DONE */
    RM_ACT_CLOSE,       /* drop the connection to peer (it misbehaved or left) */
    RM_ACT_ITEM,        /* peer sent an item the core does not hold: check it
                           and, if it is good, rm_peer_add_item it */
} rm_action_kind;

typedef struct {
    rm_action_kind kind;
    uint8_t peer[RM_ID_BYTES];
    char addr[RM_PEER_ADDR_MAX + 1];
    uint8_t *bytes;          /* now the shell's to free: SEND from
                                cfg.frame_alloc (default malloc), ITEM from
                                malloc */
    size_t len;
    uint64_t item_id;        /* ITEM: the id it came with */
} rm_action;

/* What a peer counted; every refusal has its own reason. */
typedef struct {
    uint64_t frames_in, frames_out, bytes_in, bytes_out;
    uint64_t exchanges_started, exchanges_done, exchanges_timed_out;
    uint64_t merges, steps, samples;
    uint64_t refused_nonfinite, refused_shape, refused_norm, refused_stale;
    uint64_t malformed, need_full_sent, need_full_received, pending_dropped;
    uint64_t unexpected;     /* replies to no open exchange (late, foreign) */
    uint64_t duplicates;     /* PUSHes seen twice (the network duplicated them) */
    uint64_t rejoins;        /* fresh models pulled and merged after a restart */
    uint64_t items_in;       /* items received that the core lacked (RM_ACT_ITEM) */
    uint64_t items_out;      /* items sent in ITEMS frames */
    uint64_t items_dup;      /* items received that it held already */
    uint64_t refused_weight; /* pairwise frames asking for a share above 1/2 */
    uint64_t merge_waits;    /* times it stopped training to wait for a merge */
    uint64_t merge_wait_timeouts; /* ... and trained on without one */
} rm_peer_stats;

/* Frames refused for any reason, malformed ones included. */
uint64_t rm_peer_refused(const rm_peer_stats *s);

typedef struct rm_peer rm_peer;

/* Creates a peer at time now; rng is its own generator (copied in). The
 * first poll asks for a training step when cfg->train. cfg->params may be
 * NULL with cfg->n 0 only when cfg->items_max > 0 (an items-only peer).
 * Errors: RM_EINVAL (a field out of range), RM_ENOMEM. */
rm_err rm_peer_create(rm_peer **out, const rm_peer_config *cfg,
                      const rm_rng *rng, rm_time_us now);
void rm_peer_free(rm_peer *p);

/* Adds a bootstrap seed (or topology neighbour): into the view, and to the
 * list the core goes back to every cfg.reseed_every rounds. */
rm_err rm_peer_add_seed(rm_peer *p, const uint8_t id[RM_ID_BYTES],
                        const char *addr, uint64_t incarnation);

/* Feeds one input. Actions it causes are queued for rm_peer_poll. */
void rm_peer_handle(rm_peer *p, rm_time_us now, const rm_input *in);

/* Takes the next action; false when there is none. */
bool rm_peer_poll(rm_peer *p, rm_action *out);

/* When the core next wants RM_IN_TIMER; RM_NEVER if never. */
rm_time_us rm_peer_next_deadline(const rm_peer *p);

/* Stops or resumes asking for training steps (a step already running
 * still reports STEP_DONE). */
void rm_peer_set_training(rm_peer *p, bool on);

/* Sends LEAVE to every peer in the view (clean shutdown). */
void rm_peer_leave(rm_peer *p);

/* A hint, no effect on behaviour: starts loading the state that handling a
 * frame touches (the core, its view, the model) into the CPU caches. A
 * shell that knows which peer it drives next calls it early; in a
 * 10,000-peer simulation every peer's state is cold. */
void rm_peer_prefetch(const rm_peer *p);

/* The first stage of that: only the core's own struct (about 850 bytes),
 * with no pointer followed, so it never waits. Call it an event or two
 * before rm_peer_prefetch, which then finds the pointers it follows (the
 * view's entries, the model) already cached. */
void rm_peer_prefetch_self(const rm_peer *p);

/* What a checkpoint keeps of the core besides the parameters: *state gets
 * the counters (version, steps, samples, push-sum weight) and the
 * membership view, *bases the delta bases (empty when deltas are off); both
 * malloc'd, versioned little-endian blobs that only
 * rm_peer_restore_state reads (format in gossip/peer_state.c).
 * Errors: RM_ENOMEM. */
rm_err rm_peer_save_state(const rm_peer *p, uint8_t **state, size_t *state_len,
                          uint8_t **bases, size_t *bases_len);

/* Puts saved state back into a peer just created for the same model shape
 * (before any input). bases may be NULL. Errors: RM_EPEER_STATE (a blob
 * that is cut short, of another format, or of another model size),
 * RM_ENOMEM. */
rm_err rm_peer_restore_state(rm_peer *p, const uint8_t *state, size_t state_len,
                             const uint8_t *bases, size_t bases_len);

/* Adds an item to the peer's set (a copy of len bytes): one the shell made
 * (a tree it grew) or one it received through RM_ACT_ITEM and found good.
 * From then on the core offers it to partners that lack it. An id held
 * already is left as it is (RM_OK). O(items) for the sorted insert.
 * Errors: RM_EINVAL (items off), RM_ETOO_LARGE (items_max held already, or
 * an item too large for an ITEMS frame of items_frame_bytes), RM_ENOMEM. */
rm_err rm_peer_add_item(rm_peer *p, uint64_t id, const uint8_t *bytes, size_t len);

/* Items held (0 when items are off), and whether id is one (O(log items)). */
uint32_t rm_peer_item_count(const rm_peer *p);
bool rm_peer_has_item(const rm_peer *p, uint64_t id);

/* The core's generator, for a checkpoint (pass it back to rm_peer_create). */
const rm_rng *rm_peer_rng(const rm_peer *p);

/* True while a rejoining peer waits for its first fresh model. */
bool rm_peer_rejoining(const rm_peer *p);

const rm_peer_stats *rm_peer_get_stats(const rm_peer *p);
uint64_t rm_peer_weight(const rm_peer *p);   /* push-sum weight */
uint64_t rm_peer_version(const rm_peer *p);
uint32_t rm_peer_view_len(const rm_peer *p);
bool rm_peer_stepping(const rm_peer *p);

#endif
