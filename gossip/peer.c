/* The peer core: exchanges, merges, deltas and membership, driven by
 * inputs and answering with actions. See peer.h for the contract and
 * docs/PROTOCOL.md for the exchange. */
#include "gossip/peer.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "gossip/peer_internal.h"

void rm_peer_config_default(rm_peer_config *c) {
    memset(c, 0, sizeof *c);
    c->merge = RM_MERGE_PAIRWISE;
    c->gossip_interval_us = 100000;
    c->exchange_timeout_us = 400000;
    c->view_max = 16;
    c->shuffle_len = 4;
    c->view_shuffle = true;
    c->suspect_after = 2;
    c->drop_after = 4;
    c->train = true;
    c->merge_wait_us = 1000000;
    c->norm_ratio_max = 100.0;
    c->norm_abs_max = 1e3;
    c->stale_versions_max = 1000;
    c->delta_chunk = 256;
    c->delta_bases_max = 16;
    c->pending_max = 32;
    c->reseed_every = 20;
    c->seeds_max = 4;
    c->rejoin_rounds = 10;
    c->items_frame_bytes = 4u << 20;
    c->exchanges_max = 1;
}

/* ---- frame buffers ------------------------------------------------------ */

static void *frame_alloc(const rm_peer *p, size_t len) {
    return p->cfg.frame_alloc ? p->cfg.frame_alloc(p->cfg.frame_ctx, len) : malloc(len);
}

static void frame_free(const rm_peer *p, const void *bytes) {
    if (p->cfg.frame_free)
        p->cfg.frame_free(p->cfg.frame_ctx, (void *)bytes);
    else
        free((void *)bytes);
}

/* Ends one of our exchanges. Its copy of the model sent goes back to the
 * frame allocator: from the simulator's pool, the next PUSH then copies
 * into a buffer still in cache (a cold 400 KB copy per exchange was 5% of
 * iid-16's wall time). */
static void exchange_end(rm_peer *p, peer_exchange *x) {
    x->active = false;
    if (x->sent) {
        frame_free(p, x->sent);
        x->sent = NULL;
    }
}

/* The largest frame a peer of this model sends: header and fields, a full
 * view sample, the model, and int8 scales at worst; with items, an ITEMS
 * frame of the budget, or a HAVE of every id. (Computed per frame, not
 * kept: 16 bytes of each of 10,000 simulated cores.) */
static size_t frame_bytes_max(const rm_peer *p) {
    size_t max = 1024 + (size_t)RM_VIEW_ENTRIES_MAX * (48 + RM_ADDR_MAX) + (size_t)p->cfg.n * 8;
    if (p->cfg.items_max) {
        size_t ids = (size_t)p->cfg.items_max * 8;
        max += ids > p->cfg.items_frame_bytes ? ids : p->cfg.items_frame_bytes;
    }
    return max;
}

/* ---- actions ------------------------------------------------------------ */

rm_action *peer_push_action(rm_peer *p, rm_action_kind kind) {
    if (p->out_head == p->out_len)
        p->out_head = p->out_len = 0;
    if (p->out_len == p->out_cap) {
        uint32_t cap = p->out_cap ? p->out_cap * 2 : 2;
        rm_action *a = realloc(p->out, cap * sizeof *a);
        if (!a)
            return NULL;
        p->out = a;
        p->out_cap = cap;
    }
    rm_action *a = &p->out[p->out_len++];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    return a;
}

static void copy_addr(char *dst, const char *src) {
    size_t n = src ? rm_strnlen(src, RM_PEER_ADDR_MAX) : 0;
    rm_copy_short(dst, src, n);
    dst[n] = '\0';
}

/* Encodes f and queues it for `to`. A frame that cannot be encoded or
 * allocated is not sent (the exchange then times out, as on a lossy link). */
void peer_send_frame(rm_peer *p, const uint8_t *to, const char *addr,
                       const rm_frame *f) {
    size_t size = rm_wire_encoded_size(f), len;
    uint8_t *buf = frame_alloc(p, size);
    if (!buf)
        return;
    if (rm_wire_encode(f, buf, size, &len) != RM_OK) {
        frame_free(p, buf);
        return;
    }
    rm_action *a = peer_push_action(p, RM_ACT_SEND);
    if (!a) {
        frame_free(p, buf);
        return;
    }
    memcpy(a->peer, to, RM_ID_BYTES);
    copy_addr(a->addr, addr);
    a->bytes = buf;
    a->len = len;
    p->st.frames_out++;
    p->st.bytes_out += len;
}

static void close_peer(rm_peer *p, const uint8_t *peer) {
    rm_action *a = peer_push_action(p, RM_ACT_CLOSE);
    if (a)
        memcpy(a->peer, peer, RM_ID_BYTES);
}

/* Drops a queued RUN_STEP that the shell has not polled yet. */
void peer_cancel_step(rm_peer *p) {
    for (uint32_t i = p->out_head; i < p->out_len; i++)
        if (p->out[i].kind == RM_ACT_RUN_STEP) {
            memmove(&p->out[i], &p->out[i + 1], (p->out_len - i - 1) * sizeof *p->out);
            p->out_len--;
            p->stepping = false;
            return;
        }
}

static void maybe_step(rm_peer *p) {
    if (!p->training || p->stepping || p->rejoining || p->merge_waiting)
        return;
    if (p->cfg.max_steps && p->st.steps >= p->cfg.max_steps)
        return;
    if (peer_push_action(p, RM_ACT_RUN_STEP))
        p->stepping = true;
}

/* ---- frames ------------------------------------------------------------- */

/* The view entries every exchange frame carries: first ourselves, so the
 * receiver learns our listen address and incarnation; then a random
 * sample of the view. Returns how many. */
uint8_t peer_fill_entries(rm_peer *p, const uint8_t *to, rm_wire_entry *entries) {
    rm_wire_entry *self = &entries[0];
    memcpy(self->id, p->cfg.id, RM_ID_BYTES);
    self->incarnation = p->cfg.incarnation;
    self->age = 0;
    self->addr_len = (uint8_t)rm_strnlen(p->cfg.addr, RM_PEER_ADDR_MAX);
    rm_copy_short(self->addr, p->cfg.addr, self->addr_len);
    self->addr[self->addr_len] = '\0';
    uint32_t k = p->cfg.shuffle_len < RM_VIEW_ENTRIES_MAX - 1 ? p->cfg.shuffle_len
                                                             : RM_VIEW_ENTRIES_MAX - 1;
    return (uint8_t)(1 + rm_view_sample(&p->view, &p->rng, to, entries + 1, k));
}

/* The common part of PUSH and PULL_REPLY: who we are, what we know. */
static void fill_exchange(rm_peer *p, rm_wire_exchange *x, const uint8_t *to,
                          uint64_t exchange, double weight) {
    memset(x, 0, offsetof(rm_wire_exchange, entries));
    x->exchange = exchange;
    x->incarnation = p->cfg.incarnation;
    x->version = p->version;
    x->samples = p->age_samples;
    x->weight = weight;
    x->nentries = peer_fill_entries(p, to, x->entries);
}

void peer_learn_entries(rm_peer *p, const uint8_t *from, uint8_t n,
                        const rm_wire_entry *entries) {
    for (uint32_t i = 0; i < n; i++) {
        const rm_wire_entry *e = &entries[i];
        if (memcmp(e->id, p->cfg.id, RM_ID_BYTES) == 0)
            continue;
        bool sender = memcmp(e->id, from, RM_ID_BYTES) == 0;
        if (!sender && !p->cfg.view_shuffle)
            continue;
        rm_view_learn(&p->view, e->id, e->addr, e->incarnation, e->age, true);
    }
}

static void send_push(rm_peer *p, peer_exchange *x, bool key_frame) {
    rm_frame f;
    uint64_t send_w = 0;
    double weight = 0.0;
    if (p->cfg.merge == RM_MERGE_PUSHSUM && !p->rejoining) {
        send_w = p->weight / 2;
        p->weight -= send_w;
        weight = (double)send_w;
    } else if (p->cfg.merge == RM_MERGE_PAIRWISE && p->nex > 1) {
        /* K exchanges in flight: each reply moves us by the share w of a
         * difference, so K halves overshot the mean (K = 8 diverged);
         * 1 / (K + 1) keeps the sum of our moves below one whole. One at
         * a time sends 0, read as 1/2. */
        weight = 1.0 / (double)(p->nex + 1);
    }
    x->sent_weight = send_w;
    f.type = RM_FRAME_PUSH;
    f.flags = p->rejoining ? RM_WIRE_FLAG_PULL : 0;
    fill_exchange(p, &f.u.ex, x->peer, x->id, weight);
    rm_base *b = peer_find_base(p, x->peer);
    uint64_t base_id = !key_frame && b ? b->id : 0;
    f.u.ex.base = peer_fill_model(p, x->peer, base_id, &f.u.ex.model, NULL);
    if (p->cfg.merge == RM_MERGE_PAIRWISE) {
        if (!x->sent) /* (a NEED_FULL's key frame reuses it) */
            x->sent = frame_alloc(p, (size_t)p->cfg.n * sizeof(float));
        if (x->sent) /* without it, the reply is averaged in as it stands */
            memcpy(x->sent, p->cfg.params, (size_t)p->cfg.n * sizeof(float));
    }
    rm_view_entry *e = rm_view_find(&p->view, x->peer);
    peer_send_frame(p, x->peer, e ? e->addr : "", &f);
}

/* ---- our exchanges ------------------------------------------------------ */

peer_exchange *peer_find_exchange(rm_peer *p, const uint8_t *peer, uint64_t id) {
    for (uint32_t i = 0; i < p->nex; i++)
        if (p->ex[i].active && p->ex[i].id == id &&
            memcmp(p->ex[i].peer, peer, RM_ID_BYTES) == 0)
            return &p->ex[i];
    return NULL;
}

/* A slot for a new exchange, or NULL when all are in flight. A rejoining
 * peer keeps one: its first answer ends the rejoin. */
static peer_exchange *free_exchange(rm_peer *p) {
    peer_exchange *x = NULL;
    uint32_t active = 0;
    for (uint32_t i = 0; i < p->nex; i++) {
        if (p->ex[i].active)
            active++;
        else if (!x)
            x = &p->ex[i];
    }
    return p->rejoining && active ? NULL : x;
}

static bool exchanging_with(const rm_peer *p, const uint8_t *peer) {
    for (uint32_t i = 0; i < p->nex; i++)
        if (p->ex[i].active && memcmp(p->ex[i].peer, peer, RM_ID_BYTES) == 0)
            return true;
    return false;
}

/* Every cfg.reseed_every rounds, and whenever the view is empty, the
 * partner is a random bootstrap seed, put back into the view. Without it a
 * partition that lasted long enough for each side to drop the other never
 * healed: the halves' views no longer named each other, and the swarm
 * stayed split after the network was whole again. */
static rm_view_entry *pick_partner(rm_peer *p) {
    bool reseed = p->nseeds > 0 &&
                  (p->view.len == 0 ||
                   (p->cfg.reseed_every && p->rounds % p->cfg.reseed_every == 0));
    if (reseed) {
        const struct rm_seed *sd = &p->seeds[rm_rng_below(&p->rng, p->nseeds)];
        rm_view_entry *e = rm_view_learn(&p->view, sd->id, sd->addr, 0,
                                         RM_VIEW_AGE_FRESH, true);
        /* A full view refuses so old an entry. After a partition heals,
         * each side's views are full of its own side, so the seed must
         * take the oldest entry's place, or the sides never meet again. */
        if (!e)
            e = rm_view_learn(&p->view, sd->id, sd->addr, 0, 0, true);
        if (e)
            return e;
    }
    return rm_view_pick(&p->view, &p->rng);
}

/* Starts an exchange in slot x (free). */
static void start_exchange(rm_peer *p, peer_exchange *x, rm_time_us now) {
    p->gossip_due = false;
    rm_view_tick(&p->view);
    p->rounds++;
    if (p->rejoining && p->rejoin_left-- == 0)
        p->rejoining = false; /* nobody answered: train on what we have */
    rm_view_entry *e = pick_partner(p);
    if (!e || exchanging_with(p, e->id))
        return; /* (a partner mid-exchange with us: this round is skipped) */
    x->active = true;
    x->id = rm_rng_u64(&p->rng) | 1; /* never 0: 0 means "no base" */
    memcpy(x->peer, e->id, RM_ID_BYTES);
    x->deadline = now + p->cfg.exchange_timeout_us;
    p->st.exchanges_started++;
    /* An items-only peer's HAVE is the exchange; a peer with both sends
     * it alongside its PUSH. */
    if (p->cfg.n)
        send_push(p, x, false);
    if (p->cfg.items_max)
        peer_send_have(p, x->peer, x->id, true);
}

static void on_push(rm_peer *p, const uint8_t *from, const rm_wire_exchange *in,
                    bool pull) {
    peer_learn_entries(p, from, in->nentries, in->entries);
    rm_view_heard(&p->view, from);
    rm_view_entry *e = rm_view_find(&p->view, from);
    const char *addr = e ? e->addr : "";
    /* A PUSH the network duplicated: merging it twice would count the
     * sender twice (and, with push-sum, create weight). */
    if (e && e->last_exchange == in->exchange) {
        p->st.duplicates++;
        return;
    }
    peer_model_status s = peer_take_model(p, from, in);
    if (s == MODEL_NEED_FULL) {
        rm_frame f = {.type = RM_FRAME_NEED_FULL};
        f.u.need_full.exchange = in->exchange;
        f.u.need_full.base = in->base;
        p->st.need_full_sent++;
        peer_send_frame(p, from, addr, &f);
        return; /* the key frame comes with the same exchange id */
    }
    if (e)
        e->last_exchange = in->exchange;
    if (s == MODEL_REFUSED && in->model.n != p->cfg.n)
        return; /* nothing we could answer with that it could use */

    rm_frame f;
    f.type = RM_FRAME_PULL_REPLY;
    f.flags = 0;
    /* A PULL asks for our model only: the sender's is stale. And while we
     * are the stale one (rejoining), the sender's model is the fresh model
     * we wait for: take it in, weighted by samples, before answering, so
     * that what we answer with is no longer our stale checkpoint. */
    bool rejoin_now = p->rejoining && s == MODEL_OK && !pull;
    if (rejoin_now) {
        peer_merge_stale(p, in);
        p->rejoining = false;
        p->st.rejoins++;
        if (p->cfg.merge == RM_MERGE_PUSHSUM)
            p->weight += (uint64_t)in->weight; /* the mass it sent is ours */
    }
    bool merge = s == MODEL_OK && !pull && !rejoin_now;
    uint64_t send_w = 0;
    if (p->cfg.merge == RM_MERGE_PUSHSUM && !pull && !rejoin_now) {
        /* Push-sum answers with half of its mass after taking the
         * sender's, so that the total is conserved. */
        if (merge)
            peer_merge_model(p, in, NULL);
        send_w = p->weight / 2;
        p->weight -= send_w;
    }
    /* Pairwise: echo the share the sender asked for, which we move by. */
    double weight = p->cfg.merge == RM_MERGE_PAIRWISE ? in->weight : (double)send_w;
    fill_exchange(p, &f.u.ex, from, in->exchange, weight);
    /* Reply against the base the sender used (when we hold it too); what
     * the sender will reconstruct from the reply becomes the new shared
     * base, stored here now and there when the reply arrives. */
    rm_base *b = p->cfg.delta ? peer_base_slot(p, from) : NULL;
    uint64_t want = s == MODEL_OK && in->base && b && b->id == in->base ? in->base : 0;
    f.u.ex.base = peer_fill_model(p, from, want, &f.u.ex.model, b ? b->v : NULL);
    peer_send_frame(p, from, addr, &f);
    if (b) {
        b->id = in->exchange;
        b->used = ++p->clock;
    }
    if (merge && p->cfg.merge != RM_MERGE_PUSHSUM)
        peer_merge_model(p, in, NULL);
}

static void on_reply(rm_peer *p, const uint8_t *from, const rm_wire_exchange *in) {
    peer_exchange *x = peer_find_exchange(p, from, in->exchange);
    if (!x) {
        p->st.unexpected++;
        return;
    }
    peer_learn_entries(p, from, in->nentries, in->entries);
    rm_view_heard(&p->view, from);
    peer_model_status s = peer_take_model(p, from, in);
    if (s == MODEL_NEED_FULL) { /* our base and theirs disagree */
        exchange_end(p, x);
        peer_drop_base(p, from);
        p->st.unexpected++;
        return;
    }
    if (s == MODEL_OK) {
        if (p->rejoining) {
            peer_merge_stale(p, in);
            p->rejoining = false;
            p->st.rejoins++;
        } else {
            peer_merge_model(p, in, x->sent);
        }
        peer_keep_base(p, from, in->exchange);
    }
    exchange_end(p, x);
    p->st.exchanges_done++;
}

static void on_need_full(rm_peer *p, const uint8_t *from, uint64_t exchange) {
    p->st.need_full_received++;
    peer_drop_base(p, from);
    peer_exchange *x = peer_find_exchange(p, from, exchange);
    if (!x)
        return;
    p->weight += x->sent_weight; /* they did not take it */
    send_push(p, x, true);
}

static void handle_frame(rm_peer *p, rm_time_us now, const uint8_t *from,
                         const uint8_t *bytes, size_t len) {
    (void)now;
    rm_frame f;
    p->st.frames_in++;
    p->st.bytes_in += len;
    if (rm_wire_decode(bytes, len, &(rm_wire_limits){.model_n_max = p->cfg.n,
                                                      .frame_bytes_max = frame_bytes_max(p)},
                       &f) != RM_OK) {
        /* Garbage from an authenticated peer: drop it, serve the rest. */
        p->st.malformed++;
        rm_view_remove(&p->view, from);
        close_peer(p, from);
        return;
    }
    bool vector_frame = f.type == RM_FRAME_PUSH || f.type == RM_FRAME_PULL_REPLY ||
                        f.type == RM_FRAME_NEED_FULL;
    if (vector_frame && p->cfg.n == 0) {
        p->st.refused_shape++; /* an items-only peer has no model to merge */
        return;
    }
    switch (f.type) {
    case RM_FRAME_PUSH:
        on_push(p, from, &f.u.ex, f.flags & RM_WIRE_FLAG_PULL);
        break;
    case RM_FRAME_PULL_REPLY:
        on_reply(p, from, &f.u.ex);
        break;
    case RM_FRAME_NEED_FULL:
        on_need_full(p, from, f.u.need_full.exchange);
        break;
    case RM_FRAME_VIEW:
        if (p->cfg.view_shuffle)
            for (uint32_t i = 0; i < f.u.view.nentries; i++) {
                const rm_wire_entry *e = &f.u.view.entries[i];
                if (memcmp(e->id, p->cfg.id, RM_ID_BYTES) != 0)
                    rm_view_learn(&p->view, e->id, e->addr, e->incarnation, e->age, true);
            }
        break;
    case RM_FRAME_HELLO:
        if (f.u.hello.model_n != p->cfg.n || f.u.hello.model_tag != p->cfg.model_tag) {
            p->st.refused_shape++;
            close_peer(p, from);
            break;
        }
        rm_view_learn(&p->view, from, f.u.hello.addr, f.u.hello.incarnation, 0, true);
        rm_view_heard(&p->view, from);
        break;
    case RM_FRAME_LEAVE:
        rm_view_remove(&p->view, from);
        peer_drop_base(p, from);
        break;
    case RM_FRAME_PING: {
        rm_frame ack = {.type = RM_FRAME_ACK};
        ack.u.ping.nonce = f.u.ping.nonce;
        rm_view_entry *e = rm_view_find(&p->view, from);
        peer_send_frame(p, from, e ? e->addr : "", &ack);
        break;
    }
    case RM_FRAME_ACK:
        rm_view_heard(&p->view, from);
        break;
    case RM_FRAME_HAVE:
        peer_on_have(p, from, &f.u.have);
        break;
    case RM_FRAME_ITEMS:
        peer_on_items(p, from, &f.u.items);
        break;
    default:
        break;
    }
}

/* Copies a frame that arrived during a step; dropped when the queue is
 * full (bounded memory; the sender sees a timeout). */
static void queue_frame(rm_peer *p, const uint8_t *from, const uint8_t *bytes,
                        size_t len, bool given) {
    if (p->npending >= p->cfg.pending_max ||
        (!p->pending && !(p->pending = calloc(p->cfg.pending_max, sizeof *p->pending)))) {
        /* (allocated on first use: most peers of a vector run never queue) */
        p->st.pending_dropped++;
        if (given)
            frame_free(p, bytes);
        return;
    }
    uint8_t *copy = given ? (uint8_t *)bytes : frame_alloc(p, len ? len : 1);
    if (!copy) {
        p->st.pending_dropped++;
        return;
    }
    if (!given)
        memcpy(copy, bytes, len);
    rm_pending *q = &p->pending[p->npending++];
    memcpy(q->peer, from, RM_ID_BYTES);
    q->bytes = copy;
    q->len = len;
}

static void timers(rm_peer *p, rm_time_us now) {
    if (p->merge_waiting && now >= p->merge_wait_until) {
        p->merge_waiting = false;
        p->steps_unmerged = 0;
        p->st.merge_wait_timeouts++;
    }
    for (uint32_t i = 0; i < p->nex; i++) {
        peer_exchange *x = &p->ex[i];
        if (x->active && now >= x->deadline) {
            exchange_end(p, x);
            p->st.exchanges_timed_out++;
            if (rm_view_missed(&p->view, x->peer))
                peer_drop_base(p, x->peer);
        }
    }
    if (now >= p->next_gossip) {
        p->next_gossip += p->cfg.gossip_interval_us;
        if (p->next_gossip <= now) /* fell behind: no bursts of catch-up */
            p->next_gossip = now + p->cfg.gossip_interval_us;
        peer_exchange *x = free_exchange(p);
        if (x) {
            if (p->stepping)
                p->gossip_due = true;
            else
                start_exchange(p, x, now);
        }
    }
}

void rm_peer_handle(rm_peer *p, rm_time_us now, const rm_input *in) {
    p->noffered = 0; /* the shell has taken the last input's items in */
    switch (in->kind) {
    case RM_IN_FRAME:
        if (p->stepping) {
            queue_frame(p, in->peer, in->bytes, in->len, in->give);
        } else {
            handle_frame(p, now, in->peer, in->bytes, in->len);
            if (in->give)
                frame_free(p, in->bytes);
        }
        break;
    case RM_IN_STEP_DONE:
        if (!p->stepping)
            break;
        p->stepping = false;
        p->st.steps++;
        p->st.samples += in->samples;
        p->age_samples += in->samples;
        p->version++;
        p->steps_unmerged++; /* (the queued frames' merges below reset it) */
        for (uint32_t i = 0; i < p->npending; i++) {
            handle_frame(p, now, p->pending[i].peer, p->pending[i].bytes,
                         p->pending[i].len);
            frame_free(p, p->pending[i].bytes);
        }
        p->npending = 0;
        if (p->cfg.steps_per_merge && p->steps_unmerged >= p->cfg.steps_per_merge) {
            p->merge_waiting = true;
            p->merge_wait_until = now + p->cfg.merge_wait_us;
            p->st.merge_waits++;
        }
        peer_exchange *x = p->gossip_due ? free_exchange(p) : NULL;
        if (x)
            start_exchange(p, x, now);
        p->gossip_due = false;
        break;
    case RM_IN_PEER_UP:
        rm_view_learn(&p->view, in->peer, in->addr, 0, 0, true);
        break;
    case RM_IN_PEER_DOWN:
    case RM_IN_TIMER:
    case RM_IN_CKPT_DONE:
        break;
    }
    timers(p, now);
    maybe_step(p);
}

bool rm_peer_poll(rm_peer *p, rm_action *out) {
    if (p->out_head == p->out_len)
        return false;
    *out = p->out[p->out_head++];
    if (p->out_head == p->out_len) {
        /* Drained: give the queue back. A shell drains after every input,
         * so a resting peer holds none (10,000 simulated peers each kept
         * 2-4 actions of 120 bytes: 4 MB). */
        free(p->out);
        p->out = NULL;
        p->out_head = p->out_len = p->out_cap = 0;
    }
    return true;
}

rm_time_us rm_peer_next_deadline(const rm_peer *p) {
    rm_time_us t = p->next_gossip;
    if (p->merge_waiting && p->merge_wait_until < t)
        t = p->merge_wait_until;
    for (uint32_t i = 0; i < p->nex; i++)
        if (p->ex[i].active && p->ex[i].deadline < t)
            t = p->ex[i].deadline;
    return t;
}

rm_err rm_peer_create(rm_peer **out, const rm_peer_config *cfg,
                      const rm_rng *rng, rm_time_us now) {
    *out = NULL;
    /* A peer gossips a vector, a set of items, or both. */
    bool vector_ok = cfg->n ? cfg->params != NULL : cfg->items_max > 0;
    bool items_ok = cfg->items_max <= RM_WIRE_ITEMS_MAX &&
                    (cfg->items_max == 0 || cfg->items_frame_bytes >= 64);
    if (!vector_ok || !items_ok || cfg->merge >= RM_MERGE_END ||
        cfg->gossip_interval_us == 0 || cfg->exchange_timeout_us == 0 ||
        cfg->delta_chunk == 0 || (cfg->delta && cfg->delta_bases_max == 0) ||
        cfg->pending_max == 0 || cfg->exchanges_max == 0 ||
        cfg->exchanges_max > RM_PEER_EXCHANGES_MAX ||
        (cfg->items_max && cfg->exchanges_max > 1) || /* one HAVE open at a time */
        (cfg->steps_per_merge && (!cfg->n || cfg->merge_wait_us == 0)))
        return RM_EINVAL;
    rm_peer *p = calloc(1, sizeof *p);
    if (!p)
        return RM_ENOMEM;
    p->cfg = *cfg;
    p->rng = *rng;
    p->nex = cfg->exchanges_max;
    p->ex = &p->ex1;
    if (p->nex > 1 && !(p->ex = calloc(p->nex, sizeof *p->ex))) {
        free(p);
        return RM_ENOMEM;
    }
    p->training = cfg->train;
    p->rejoining = cfg->rejoin && cfg->n; /* a stale vector to refresh */
    p->rejoin_left = cfg->rejoin_rounds;
    p->weight = RM_PUSHSUM_UNIT;
    rm_err err = rm_view_init(&p->view, cfg->view_max, cfg->suspect_after,
                              cfg->drop_after);
    if (err)
        goto err;
    err = RM_ENOMEM;
    size_t bytes = (size_t)cfg->n * sizeof(float);
    p->scratch = cfg->scratch;
    if (!p->scratch && cfg->n) {
        if (!(p->scratch = malloc(bytes)))
            goto err;
        p->own_scratch = true;
    }
    if (cfg->delta) {
        p->bases = calloc(cfg->delta_bases_max, sizeof *p->bases);
        /* One block: the delta, its int8 scales, its int8 values. */
        size_t scales = (size_t)cfg->n / cfg->delta_chunk + 1;
        p->dscratch = malloc(bytes + scales * sizeof(float) + cfg->n);
        if (!p->bases || !p->dscratch)
            goto err;
    }
    /* Desynchronise peers: the first exchange comes at a random point of
     * the first interval (a rejoining peer, which waits for it, at once). */
    p->next_gossip = now + 1 + (cfg->rejoin ? 0 : rm_rng_below(&p->rng, cfg->gossip_interval_us));
    maybe_step(p);
    *out = p;
    return RM_OK;
err:
    rm_peer_free(p);
    return err;
}

void rm_peer_free(rm_peer *p) {
    if (!p)
        return;
    rm_view_free(&p->view);
    for (uint32_t i = 0; i < p->npending; i++)
        frame_free(p, p->pending[i].bytes);
    free(p->pending);
    for (uint32_t i = p->out_head; i < p->out_len; i++) {
        if (p->out[i].kind == RM_ACT_SEND)
            frame_free(p, p->out[i].bytes);
        else
            free(p->out[i].bytes);
    }
    free(p->out);
    if (p->bases)
        for (uint32_t i = 0; i < p->cfg.delta_bases_max; i++)
            free(p->bases[i].v);
    free(p->bases);
    if (p->own_scratch)
        free(p->scratch);
    for (uint32_t i = 0; i < p->nseeds; i++)
        free(p->seeds[i].addr);
    free(p->seeds);
    for (uint32_t i = 0; i < p->nex; i++)
        if (p->ex[i].sent)
            frame_free(p, p->ex[i].sent);
    if (p->ex != &p->ex1)
        free(p->ex);
    free(p->dscratch);
    peer_items_free(p);
    free(p);
}

rm_err rm_peer_add_seed(rm_peer *p, const uint8_t id[RM_ID_BYTES],
                        const char *addr, uint64_t incarnation) {
    if (memcmp(id, p->cfg.id, RM_ID_BYTES) == 0)
        return RM_EINVAL;
    /* At most seeds_max are kept, a uniform sample of those added
     * (reservoir sampling): memory per peer stays small with many seeds. */
    struct rm_seed *sd;
    size_t len = addr ? rm_strnlen(addr, RM_PEER_ADDR_MAX) : 0;
    char *copy = malloc(len + 1);
    if (!copy)
        return RM_ENOMEM;
    rm_copy_short(copy, addr ? addr : "", len);
    copy[len] = '\0';
    p->seeds_seen++;
    if (p->nseeds < p->cfg.seeds_max) {
        if (!(sd = realloc(p->seeds, (p->nseeds + 1) * sizeof *sd))) {
            free(copy);
            return RM_ENOMEM;
        }
        p->seeds = sd;
        sd += p->nseeds++;
        sd->addr = NULL;
    } else {
        uint64_t k = rm_rng_below(&p->rng, p->seeds_seen);
        sd = k < p->nseeds ? &p->seeds[k] : NULL;
    }
    if (sd) {
        memcpy(sd->id, id, RM_ID_BYTES);
        free(sd->addr);
        sd->addr = copy;
    } else {
        free(copy);
    }
    return rm_view_learn(&p->view, id, addr, incarnation, 0, false) ? RM_OK
                                                                   : RM_ETOO_LARGE;
}

void rm_peer_set_training(rm_peer *p, bool on) {
    p->training = on;
    maybe_step(p);
}

void rm_peer_leave(rm_peer *p) {
    rm_frame f = {.type = RM_FRAME_LEAVE};
    f.u.leave.incarnation = p->cfg.incarnation;
    for (uint32_t i = 0; i < p->view.len; i++)
        peer_send_frame(p, p->view.e[i].id, p->view.e[i].addr, &f);
    p->training = false;
}

static void prefetch_bytes(const void *at, size_t len, int write) {
#if defined(__GNUC__)
    const char *c = at;
    for (size_t off = 0; off < len; off += 64) {
        if (write)
            __builtin_prefetch(c + off, 1);
        else
            __builtin_prefetch(c + off, 0);
    }
#else
    (void)at, (void)len, (void)write;
#endif
}

void rm_peer_prefetch_self(const rm_peer *p) { prefetch_bytes(p, sizeof *p, 1); }

void rm_peer_prefetch(const rm_peer *p) {
    prefetch_bytes(p->view.e, (size_t)p->view.len * sizeof *p->view.e, 1);
    prefetch_bytes(p->cfg.params, (size_t)p->cfg.n * sizeof(float), 1);
}

const rm_peer_stats *rm_peer_get_stats(const rm_peer *p) { return &p->st; }

uint64_t rm_peer_refused(const rm_peer_stats *s) {
    return s->refused_nonfinite + s->refused_shape + s->refused_norm + s->refused_stale +
           s->refused_weight + s->malformed;
}
uint64_t rm_peer_weight(const rm_peer *p) { return p->weight; }
const rm_rng *rm_peer_rng(const rm_peer *p) { return &p->rng; }
bool rm_peer_rejoining(const rm_peer *p) { return p->rejoining; }
uint64_t rm_peer_version(const rm_peer *p) { return p->version; }
uint32_t rm_peer_view_len(const rm_peer *p) { return p->view.len; }
bool rm_peer_stepping(const rm_peer *p) { return p->stepping; }
