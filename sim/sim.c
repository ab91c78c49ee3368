/* The simulator's event loop: the shell that drives every peer's core in
 * virtual time. Setup (peers, shards, topology) is in sim_setup.c; the
 * metrics in sim_metrics.c. */
#include "sim/sim_internal.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- frame buffers ------------------------------------------------------ */

/* Every frame a core encodes lives ~10 ms of virtual time on the wire, and
 * thousands of other deliveries evict it meanwhile; but the buffer it is
 * written into can be a hot one. A LIFO pool hands the core the buffer
 * that the last delivery freed, which that delivery had just read, so
 * encoding a 4 KB frame writes to cache instead of missing on every line
 * (glibc gave back the oldest free chunk of the size). Each buffer starts
 * with a header holding its class; a free one keeps the next free buffer
 * of its class there. Virtual time is unaffected: buffers are only memory.
 * Large buffers (a 400 KB model's frames, and the copy a pairwise peer
 * keeps of the model it sent) are pooled too: glibc trimmed the heap top
 * when one was freed and faulted fresh pages in for the next, which made
 * iid-16's gossip 2.7 times slower once those copies came from here. */
typedef union {
    uint32_t cls;             /* in use: its class (below) */
    void *next;               /* free: the next free buffer of the class */
    max_align_t align;
} frame_head;

/* Classes: 0 .. SIM_FRAME_CLASSES - 1 small, then SIM_BIG_CLASSES big
 * ones, then one for plain malloc. */
enum { CLS_BIG = SIM_FRAME_CLASSES, CLS_MALLOC = SIM_FRAME_CLASSES + SIM_BIG_CLASSES };

static void **free_list(rm_sim *s, uint32_t cls) {
    return cls < CLS_BIG ? &s->frames[cls] : &s->big[cls - CLS_BIG].free;
}

/* The big class of `pages` pages, claimed if new; CLS_MALLOC when all
 * are taken by other sizes. */
static uint32_t big_class(rm_sim *s, size_t pages) {
    for (uint32_t k = 0; k < SIM_BIG_CLASSES; k++) {
        if (s->big[k].pages == pages)
            return CLS_BIG + k;
        if (s->big[k].pages == 0) {
            s->big[k].pages = pages;
            return CLS_BIG + k;
        }
    }
    return CLS_MALLOC;
}

void *sim_frame_alloc(void *sim, size_t len) {
    rm_sim *s = sim;
    if (len > SIZE_MAX - sizeof(frame_head) - SIM_BIG_PAGE)
        return NULL;
    size_t need = len + sizeof(frame_head);
    uint32_t cls = (uint32_t)((need - 1) / SIM_FRAME_CLASS);
    size_t bytes = ((size_t)cls + 1) * SIM_FRAME_CLASS;
    if (cls >= SIM_FRAME_CLASSES) {
        size_t pages = (need + SIM_BIG_PAGE - 1) / SIM_BIG_PAGE;
        cls = big_class(s, pages);
        bytes = cls == CLS_MALLOC ? need : pages * SIM_BIG_PAGE;
    }
    void **list = cls == CLS_MALLOC ? NULL : free_list(s, cls);
    frame_head *h;
    if (list && (h = *list))
        *list = h->next;
    else if (!(h = malloc(bytes)))
        return NULL;
    h->cls = cls;
    return h + 1;
}

void sim_frame_free(void *sim, void *bytes) {
    rm_sim *s = sim;
    if (!bytes)
        return;
    frame_head *h = (frame_head *)bytes - 1;
    if (h->cls == CLS_MALLOC) {
        free(h);
        return;
    }
    void **list = free_list(s, h->cls);
    h->next = *list;
    *list = h;
}

void sim_frames_release(rm_sim *s) {
    for (uint32_t c = 0; c < CLS_MALLOC; c++) {
        void **list = free_list(s, c);
        while (*list) {
            frame_head *h = *list;
            *list = h->next;
            free(h);
        }
    }
}

/* ---- messages in flight ------------------------------------------------- */

static uint32_t msg_alloc(rm_sim *s) {
    if (s->msg_free_len)
        return s->msg_free[--s->msg_free_len];
    if (s->nmsg == s->msg_cap) {
        uint32_t cap = s->msg_cap ? s->msg_cap * 2 : 1024;
        sim_msg *m = realloc(s->msg, cap * sizeof *m);
        uint32_t *f = realloc(s->msg_free, cap * sizeof *f);
        if (m)
            s->msg = m;
        if (f)
            s->msg_free = f;
        if (!m || !f)
            return UINT32_MAX;
        s->msg_cap = cap;
    }
    return s->nmsg++;
}

static void msg_release(rm_sim *s, uint32_t slot) {
    sim_frame_free(s, s->msg[slot].bytes);
    s->msg[slot].bytes = NULL;
    s->msg_free[s->msg_free_len++] = slot;
}

static void push_event(rm_sim *s, uint64_t t, uint32_t kind, uint32_t peer,
                       uint64_t arg) {
    rm_event e = {.time_us = t, .kind = kind, .peer = peer, .arg = arg};
    if (rm_heap_push(&s->heap, e) != RM_OK)
        s->oom = true;
}

/* Is a -> b cut by the current partition? */
static bool cut(const rm_sim *s, uint32_t a, uint32_t b) {
    if (!s->partitioned)
        return false;
    uint8_t sa = s->peer[a].side, sb = s->peer[b].side;
    if (sa == sb || sa == SIDE_BRIDGE || sb == SIDE_BRIDGE)
        return false;
    return s->oneway ? sa == 0 : true;
}

/* Sends bytes (ours now) from a to b over the modelled link. */
static void transmit(rm_sim *s, uint32_t a, uint32_t b, uint8_t *bytes,
                     size_t len) {
    s->m.bytes_sent += len;
    s->m.msgs_sent++;
    rm_link_state *ls = sim_link_state(s, a, b);
    uint64_t at[2];
    int n = ls ? rm_link_send(&s->sc.link, ls, s->now, len, &s->net_rng, at) : 0;
    if (n == 0 || cut(s, a, b)) {
        s->m.msgs_dropped++;
        sim_frame_free(s, bytes);
        return;
    }
    for (int i = 0; i < n; i++) {
        uint32_t slot = msg_alloc(s);
        uint8_t *copy = i == 0 ? bytes : sim_frame_alloc(s, len);
        if (slot == UINT32_MAX || !copy) {
            s->oom = true;
            if (i == 0)
                sim_frame_free(s, bytes);
            sim_frame_free(s, copy == bytes ? NULL : copy);
            return;
        }
        if (i > 0)
            memcpy(copy, bytes, len);
        s->msg[slot] = (sim_msg){.src = a, .bytes = copy, .len = (uint32_t)len};
        push_event(s, at[i], EV_DELIVER, b, slot);
    }
}

/* ---- driving one peer --------------------------------------------------- */

/* Carries out every action the core queued, then re-arms its timer. */
static void drain(rm_sim *s, uint32_t i) {
    sim_peer *p = &s->peer[i];
    rm_action a;
    while (rm_peer_poll(p->core, &a)) {
        switch (a.kind) {
        case RM_ACT_SEND:
            transmit(s, i, sim_peer_index(a.peer), a.bytes, a.len);
            break;
        case RM_ACT_RUN_STEP: {
            bool free_step = false;
            uint32_t rows = sim_learner_step(s, i, &free_step);
            double cost = free_step ? 0.0 : (double)s->sc.step_us * p->speed * p->slow;
            push_event(s, s->now + (uint64_t)(cost + 0.5), EV_STEP_DONE, i,
                       ((uint64_t)p->generation << 32) | rows);
            break;
        }
        case RM_ACT_CLOSE:
            break; /* no connections to close in virtual time */
        case RM_ACT_ITEM:
            sim_forest_item(s, i, &a);
            free(a.bytes);
            break;
        }
    }
    uint64_t t = rm_peer_next_deadline(p->core);
    if (t != RM_NEVER && t != p->timer_at) {
        p->timer_at = t;
        push_event(s, t < s->now ? s->now : t, EV_TIMER, i, p->generation);
    }
}

static void handle(rm_sim *s, uint32_t i, const rm_input *in) {
    /* Timed only where models are trained: reading the clock twice per
     * input cost a 10,000-peer averaging run 12% of its speed here. */
    double t0 = s->learn ? sim_host_seconds() : 0.0;
    rm_peer_handle(s->peer[i].core, s->now, in);
    if (s->learn)
        s->timing.core_seconds += sim_host_seconds() - t0;
    drain(s, i);
    if (s->peer[i].ckpt_dirty && s->sc.ckpt_every_us)
        sim_ckpt_save(s, i);
}

/* ---- faults ------------------------------------------------------------- */

static void crash(rm_sim *s, uint32_t i) {
    sim_peer *p = &s->peer[i];
    if (!p->up)
        return;
    p->up = false;
    p->generation++;          /* its pending steps and timers go stale */
    sim_peer_retire_stats(s, i);
    rm_peer_free(p->core);
    p->core = NULL;
    s->cores[i] = NULL;
    s->live--;
}

static void restart(rm_sim *s, uint32_t i) {
    sim_peer *p = &s->peer[i];
    if (p->up)
        return;
    if (sim_peer_start(s, i) != RM_OK) {
        s->oom = true;
        return;
    }
    s->live++;
    drain(s, i);
}

/* The peers a fault applies to: its list, or a random share of them. */
static uint32_t fault_targets(rm_sim *s, const rm_fault *f, uint32_t *out) {
    if (f->fraction <= 0.0) {
        for (uint32_t k = 0; k < f->npeers; k++)
            out[k] = f->peers[k];
        return f->npeers;
    }
    uint32_t n = s->sc.peers, want = (uint32_t)(f->fraction * n + 0.5);
    for (uint32_t k = 0; k < n; k++)
        out[k] = k;
    rm_rng_shuffle_u32(&s->fault_rng, out, n);
    return want;
}

static void apply_fault(rm_sim *s, const rm_fault *f) {
    uint32_t n = s->sc.peers;
    uint32_t *t = s->scratch_idx, nt;
    switch (f->kind) {
    case RM_FAULT_PARTITION:
        s->partitioned = true;
        s->oneway = f->partition == RM_PART_ONEWAY;
        for (uint32_t k = 0; k < n; k++)
            s->peer[k].side = k < n / 2 ? 0 : 1;
        if (f->partition == RM_PART_ISOLATE) {
            for (uint32_t k = 0; k < n; k++)
                s->peer[k].side = 0;
            nt = fault_targets(s, f, t);
            for (uint32_t k = 0; k < nt; k++)
                s->peer[t[k]].side = 1;
        } else if (f->partition == RM_PART_BRIDGE && f->bridge < n) {
            s->peer[f->bridge].side = SIDE_BRIDGE;
        }
        break;
    case RM_FAULT_HEAL:
        s->partitioned = false;
        break;
    case RM_FAULT_CRASH:
        nt = fault_targets(s, f, t);
        for (uint32_t k = 0; k < nt; k++) {
            crash(s, t[k]);
            if (f->down_us)
                push_event(s, s->now + f->down_us, EV_RESTART, t[k], 0);
        }
        break;
    case RM_FAULT_RESTART:
        for (uint32_t k = 0; k < n; k++)
            if (!s->peer[k].up && !s->peer[k].churning)
                restart(s, k);
        break;
    case RM_FAULT_CHURN:
        nt = fault_targets(s, f, t);
        for (uint32_t k = 0; k < nt; k++) {
            sim_peer *p = &s->peer[t[k]];
            p->churning = true;
            p->churn = f;
            double on_ms = rm_dist_sample(&f->churn_on, &s->fault_rng);
            push_event(s, s->now + (uint64_t)(on_ms * 1000.0), EV_CHURN, t[k],
                       ++p->churn_epoch);
        }
        break;
    case RM_FAULT_CHURN_STOP:
        for (uint32_t k = 0; k < n; k++)
            if (s->peer[k].churning) {
                s->peer[k].churning = false;
                s->peer[k].churn_epoch++;
                restart(s, k);
            }
        break;
    case RM_FAULT_SLOW:
        nt = fault_targets(s, f, t);
        for (uint32_t k = 0; k < nt; k++)
            s->peer[t[k]].slow = f->factor;
        break;
    }
}

/* A churning peer flips: up peers go down for an off-time, down ones come
 * back for an on-time. */
static void churn(rm_sim *s, uint32_t i) {
    sim_peer *p = &s->peer[i];
    const rm_fault *f = p->churn;
    double ms;
    if (p->up) {
        crash(s, i);
        ms = rm_dist_sample(&f->churn_off, &s->fault_rng);
    } else {
        restart(s, i);
        ms = rm_dist_sample(&f->churn_on, &s->fault_rng);
    }
    push_event(s, s->now + (uint64_t)(ms * 1000.0), EV_CHURN, i, p->churn_epoch);
}

/* ---- the loop ----------------------------------------------------------- */

static void dispatch(rm_sim *s, const rm_event *e) {
    sim_peer *p = e->kind < EV_FAULT ? &s->peer[e->peer] : NULL;
    switch (e->kind) {
    case EV_DELIVER: {
        sim_msg *m = &s->msg[e->arg];
        if (!p->up) {
            s->m.msgs_dropped++;
        } else {
            rm_input in = {.kind = RM_IN_FRAME, .peer = s->peer[m->src].id,
                           .bytes = m->bytes, .len = m->len, .give = true};
            m->bytes = NULL; /* the core's now: no copy if it must queue it */
            s->m.deliveries++;
            handle(s, e->peer, &in);
        }
        msg_release(s, (uint32_t)e->arg);
        break;
    }
    case EV_TIMER:
        if (!p->up || e->arg != p->generation || e->time_us != p->timer_at)
            break; /* stale: re-armed since, or the peer restarted */
        p->timer_at = RM_NEVER;
        handle(s, e->peer, &(rm_input){.kind = RM_IN_TIMER});
        break;
    case EV_STEP_DONE:
        if (!p->up || (e->arg >> 32) != p->generation)
            break;
        handle(s, e->peer, &(rm_input){.kind = RM_IN_STEP_DONE,
                                       .samples = e->arg & 0xffffffffu});
        if (s->sc.ckpt_every_us)
            sim_ckpt_save(s, e->peer);
        break;
    case EV_RESTART:
        if (!p->churning)
            restart(s, e->peer);
        break;
    case EV_CHURN:
        if (p->churning && e->arg == p->churn_epoch)
            churn(s, e->peer);
        break;
    case EV_FAULT:
        apply_fault(s, &s->sc.faults[e->arg]);
        break;
    case EV_STOP_TRAINING:
        s->training = false;
        for (uint32_t k = 0; k < s->sc.peers; k++)
            if (s->peer[k].up) {
                rm_peer_set_training(s->peer[k].core, false);
                drain(s, k);
            }
        break;
    case EV_METRICS:
        sim_metrics_sample(s, false);
        if (e->time_us + s->sc.metrics_every_us < s->sc.duration_us)
            push_event(s, e->time_us + s->sc.metrics_every_us, EV_METRICS, 0, 0);
        break;
    }
}

/* A software pipeline over the event queue. In a 10,000-peer run every
 * delivery touches state that was evicted long ago (the message, the
 * receiver's core, view and 4 KB model), behind chains of pointers. Two
 * events ahead, start loading the receiver's sim_peer and core and the
 * message slot; one event ahead (those now cached), the view, the model,
 * the message's bytes and the sender's id. A timer that is due (not stale)
 * starts an exchange, which reads the same view and model, so it gets the
 * same. Hints only: no effect on what the run computes. */
static void prefetch_ahead(const rm_sim *s) {
#if defined(__GNUC__)
    if (s->n > 4096)
        return; /* large models stream in by themselves: hints only cost */
    const rm_event *e2 = rm_heap_peek2(&s->heap);
    if (e2 && (e2->kind == EV_DELIVER || e2->kind == EV_TIMER)) {
        __builtin_prefetch(&s->peer[e2->peer].timer_at);
        const rm_peer *core = s->cores[e2->peer];
        if (core)
            rm_peer_prefetch_self(core);
        if (e2->kind == EV_DELIVER)
            __builtin_prefetch(&s->msg[e2->arg]);
    }
    const rm_event *e1 = rm_heap_peek(&s->heap);
    if (e1 && e1->kind == EV_DELIVER) {
        const sim_msg *m = &s->msg[e1->arg];
        for (uint32_t off = 0; off < m->len; off += 64)
            __builtin_prefetch(m->bytes + off);
        __builtin_prefetch(s->peer[m->src].id);
        if (s->cores[e1->peer])
            rm_peer_prefetch(s->cores[e1->peer]);
    } else if (e1 && e1->kind == EV_TIMER && s->cores[e1->peer] &&
               s->peer[e1->peer].timer_at == e1->time_us) {
        rm_peer_prefetch(s->cores[e1->peer]);
    }
#else
    (void)s;
#endif
}

rm_err rm_sim_run(rm_sim *s) {
    for (uint32_t i = 0; i < s->sc.nfaults; i++)
        push_event(s, s->sc.faults[i].at_us, EV_FAULT, 0, i);
    if (s->sc.train_until_us)
        push_event(s, s->sc.train_until_us, EV_STOP_TRAINING, 0, 0);
    push_event(s, 0, EV_METRICS, 0, 0);
    for (uint32_t i = 0; i < s->sc.peers; i++)
        drain(s, i);
    rm_event e;
    while (!s->oom && rm_heap_pop(&s->heap, &e)) {
        if (e.time_us >= s->sc.duration_us)
            break;
        s->now = e.time_us;
        s->m.events++;
        prefetch_ahead(s);
        dispatch(s, &e);
    }
    if (s->oom)
        return RM_ENOMEM;
    s->now = s->sc.duration_us;
    sim_metrics_sample(s, true);
    return RM_OK;
}
