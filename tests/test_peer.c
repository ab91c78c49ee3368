/* The peer core, driven input by input: the actions it emits, how it
 * merges, what it refuses, and how it treats time-outs, deltas and
 * restarted peers. No shell: frames are passed by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/peer.h"

enum { N = 37 }; /* not a multiple of any vector width */

typedef struct {
    rm_peer *core;
    float x[N];
    uint8_t id[RM_ID_BYTES];
} tpeer;

static void make(tpeer *t, uint8_t tag, float value, bool train,
                 void (*tweak)(rm_peer_config *)) {
    memset(t, 0, sizeof *t);
    memset(t->id, tag, RM_ID_BYTES);
    for (int i = 0; i < N; i++)
        t->x[i] = value + 0.01f * (float)i;
    rm_peer_config c;
    rm_peer_config_default(&c);
    memcpy(c.id, t->id, RM_ID_BYTES);
    snprintf(c.addr, sizeof c.addr, "peer-%u", tag);
    c.incarnation = 1;
    c.params = t->x;
    c.n = N;
    c.train = train;
    if (tweak)
        tweak(&c);
    rm_rng r;
    rm_rng_seed(&r, tag);
    assert_int_equal(rm_peer_create(&t->core, &c, &r, 0), RM_OK);
}

static void link_up(tpeer *a, tpeer *b) {
    char addr[32];
    snprintf(addr, sizeof addr, "peer-%u", b->id[0]);
    assert_int_equal(rm_peer_add_seed(a->core, b->id, addr, 1), RM_OK);
}

/* Polls one action, which must be of `kind`. */
static rm_action expect_core(rm_peer *core, rm_action_kind kind) {
    rm_action a;
    if (!rm_peer_poll(core, &a))
        fail_msg("expected an action of kind %d, got none", kind);
    if (a.kind != kind)
        fail_msg("expected an action of kind %d, got %d", kind, a.kind);
    return a;
}

static void expect_none_core(rm_peer *core) {
    rm_action a;
    if (rm_peer_poll(core, &a))
        fail_msg("expected no action, got kind %d", a.kind);
}

static rm_action expect(tpeer *t, rm_action_kind kind) { return expect_core(t->core, kind); }
static void expect_none(tpeer *t) { expect_none_core(t->core); }

static rm_frame decode(const rm_action *a) {
    rm_frame f;
    rm_wire_limits lim = {.frame_bytes_max = 1 << 20, .model_n_max = N};
    assert_int_equal(rm_wire_decode(a->bytes, a->len, &lim, &f), RM_OK);
    return f;
}

static void deliver(tpeer *to, const tpeer *from, rm_action *a, uint64_t now) {
    rm_input in = {.kind = RM_IN_FRAME, .peer = from->id, .bytes = a->bytes, .len = a->len};
    rm_peer_handle(to->core, now, &in);
    free(a->bytes);
    a->bytes = NULL;
}

static void fire_timer(tpeer *t) {
    uint64_t at = rm_peer_next_deadline(t->core);
    assert_true(at != RM_NEVER);
    rm_peer_handle(t->core, at, &(rm_input){.kind = RM_IN_TIMER});
}

static void no_training(rm_peer_config *c) { c->train = false; }

/* A default config over N floats at x, to try settings on. */
static void vector_cfg(rm_peer_config *c, float *x) {
    rm_peer_config_default(c);
    memset(c->id, 9, RM_ID_BYTES);
    c->params = x;
    c->n = N;
}

/* What rm_peer_create says to c (a peer it makes is freed at once). */
static rm_err try_create(const rm_peer_config *c) {
    rm_rng r;
    rm_rng_seed(&r, 9);
    rm_peer *p = NULL;
    rm_err err = rm_peer_create(&p, c, &r, 0);
    rm_peer_free(p);
    return err;
}

static void training_asks_for_steps_one_at_a_time(void **state) {
    (void)state;
    tpeer a;
    make(&a, 1, 0.0f, true, NULL);
    expect(&a, RM_ACT_RUN_STEP);
    expect_none(&a);
    /* A timer while stepping asks for nothing more. */
    rm_peer_handle(a.core, 10, &(rm_input){.kind = RM_IN_TIMER});
    expect_none(&a);
    rm_peer_handle(a.core, 20, &(rm_input){.kind = RM_IN_STEP_DONE, .samples = 32});
    expect(&a, RM_ACT_RUN_STEP);
    assert_int_equal(rm_peer_get_stats(a.core)->steps, 1);
    assert_int_equal(rm_peer_get_stats(a.core)->samples, 32);
    rm_peer_set_training(a.core, false);
    rm_peer_handle(a.core, 30, &(rm_input){.kind = RM_IN_STEP_DONE, .samples = 32});
    expect_none(&a);
    rm_peer_free(a.core);
}

static void max_steps_stops_training(void **state) {
    (void)state;
    tpeer a;
    make(&a, 1, 0.0f, true, NULL);
    rm_peer_free(a.core);
    rm_peer_config c;
    rm_peer_config_default(&c);
    memcpy(c.id, a.id, RM_ID_BYTES);
    c.params = a.x;
    c.n = N;
    c.max_steps = 3;
    rm_rng r;
    rm_rng_seed(&r, 1);
    assert_int_equal(rm_peer_create(&a.core, &c, &r, 0), RM_OK);
    for (int i = 0; i < 3; i++) {
        expect(&a, RM_ACT_RUN_STEP);
        rm_peer_handle(a.core, 1 + i, &(rm_input){.kind = RM_IN_STEP_DONE, .samples = 1});
    }
    expect_none(&a);
    rm_peer_free(a.core);
}

static void exchange_averages_both_sides(void **state) {
    (void)state;
    tpeer a, b;
    make(&a, 1, 0.0f, false, NULL);
    make(&b, 2, 10.0f, false, NULL);
    link_up(&a, &b);
    expect_none(&a);
    fire_timer(&a);
    rm_action push = expect(&a, RM_ACT_SEND);
    assert_memory_equal(push.peer, b.id, RM_ID_BYTES);
    assert_string_equal(push.addr, "peer-2");
    rm_frame f = decode(&push);
    assert_int_equal(f.type, RM_FRAME_PUSH);
    assert_int_equal(f.u.ex.model.n, N);
    assert_int_equal(f.u.ex.model.encoding, RM_ENC_F32);
    assert_memory_equal(f.u.ex.entries[0].id, a.id, RM_ID_BYTES); /* itself first */
    uint64_t exchange = f.u.ex.exchange;
    deliver(&b, &a, &push, 1000);
    rm_action reply = expect(&b, RM_ACT_SEND);
    f = decode(&reply);
    assert_int_equal(f.type, RM_FRAME_PULL_REPLY);
    assert_true(f.u.ex.exchange == exchange);
    /* The reply carries b's model from before the merge. */
    float sent[N];
    rm_wire_payload_f32(&f.u.ex.model, sent);
    assert_float_equal(sent[0], 10.0f, 0);
    deliver(&a, &b, &reply, 2000);
    for (int i = 0; i < N; i++) {
        assert_float_equal(a.x[i], 5.0f + 0.01f * i, 1e-5);
        assert_float_equal(b.x[i], 5.0f + 0.01f * i, 1e-5);
    }
    assert_int_equal(rm_peer_get_stats(a.core)->exchanges_done, 1);
    assert_int_equal(rm_peer_get_stats(b.core)->merges, 1);
    /* b learned a from the exchange (a was not in its view). */
    assert_int_equal(rm_peer_view_len(b.core), 1);
    rm_peer_free(a.core);
    rm_peer_free(b.core);
}

static void frames_during_a_step_wait_for_it(void **state) {
    (void)state;
    tpeer a, b;
    make(&a, 1, 0.0f, false, NULL);
    make(&b, 2, 10.0f, true, NULL);
    link_up(&a, &b);
    expect(&b, RM_ACT_RUN_STEP); /* b is stepping */
    fire_timer(&a);
    rm_action push = expect(&a, RM_ACT_SEND);
    deliver(&b, &a, &push, 500);
    expect_none(&b); /* queued: b's buffer has one writer at a time */
    assert_float_equal(b.x[0], 10.0f, 0);
    rm_peer_handle(b.core, 600, &(rm_input){.kind = RM_IN_STEP_DONE, .samples = 8});
    rm_action reply = expect(&b, RM_ACT_SEND);
    assert_int_equal(decode(&reply).type, RM_FRAME_PULL_REPLY);
    expect(&b, RM_ACT_RUN_STEP);
    assert_float_equal(b.x[0], 5.0f, 1e-6);
    free(reply.bytes);
    rm_peer_free(a.core);
    rm_peer_free(b.core);
}

/* A frame pool that counts: what the core takes and gives back. */
typedef struct {
    int allocs, frees;
} tpool;

static tpool pool;

static void *pool_alloc(void *ctx, size_t len) {
    assert_ptr_equal(ctx, &pool);
    pool.allocs++;
    return malloc(len);
}

static void pool_free(void *ctx, void *bytes) {
    assert_ptr_equal(ctx, &pool);
    pool.frees++;
    free(bytes);
}

static void pooled(rm_peer_config *c) {
    c->train = false;
    c->frame_alloc = pool_alloc;
    c->frame_free = pool_free;
    c->frame_ctx = &pool;
}

static void pooled_training(rm_peer_config *c) {
    pooled(c);
    c->train = true;
}

/* Every frame the core encodes comes from cfg.frame_alloc, and every frame
 * it is given goes back through cfg.frame_free: at once, after a step, or
 * when the core is freed with frames still queued or unpolled. So does a
 * pairwise initiator's copy of the model it sent, while its exchange is
 * open. */
static void frames_come_from_the_configured_pool(void **state) {
    (void)state;
    memset(&pool, 0, sizeof pool);
    tpeer a, b;
    make(&a, 1, 0.0f, false, pooled);
    make(&b, 2, 10.0f, true, pooled_training);
    link_up(&a, &b);
    link_up(&b, &a);
    expect(&b, RM_ACT_RUN_STEP);
    fire_timer(&a);
    rm_action push = expect(&a, RM_ACT_SEND);
    assert_int_equal(pool.allocs, 2); /* the frame and the copy sent */
    rm_peer_handle(b.core, 500, &(rm_input){.kind = RM_IN_FRAME, .peer = a.id,
                                            .bytes = push.bytes, .len = push.len,
                                            .give = true});
    assert_int_equal(pool.frees, 0); /* queued while b steps */
    rm_peer_handle(b.core, 600, &(rm_input){.kind = RM_IN_STEP_DONE, .samples = 8});
    assert_int_equal(pool.frees, 1);
    rm_action reply = expect(&b, RM_ACT_SEND);
    assert_int_equal(pool.allocs, 3);
    rm_peer_handle(a.core, 700, &(rm_input){.kind = RM_IN_FRAME, .peer = b.id,
                                            .bytes = reply.bytes, .len = reply.len,
                                            .give = true});
    assert_int_equal(pool.frees, 3); /* the reply and the copy sent */
    assert_float_equal(a.x[0], 5.0f, 1e-6);
    /* A frame still queued, and one never polled, are freed with the core. */
    fire_timer(&a);
    push = expect(&a, RM_ACT_SEND);
    rm_peer_handle(b.core, 800, &(rm_input){.kind = RM_IN_FRAME, .peer = a.id,
                                            .bytes = push.bytes, .len = push.len,
                                            .give = true});
    /* Until the exchange times out and a opens another, left unpolled. */
    for (int i = 0; i < 10 && pool.allocs < 7; i++)
        fire_timer(&a);
    assert_int_equal(pool.allocs, 7);
    assert_int_equal(pool.frees, 4); /* the timed-out exchange's copy */
    rm_peer_free(a.core);
    rm_peer_free(b.core);
    assert_int_equal(pool.frees, pool.allocs);
}

/* Builds a PUSH from `from` carrying model y, asking a pairwise partner
 * for the share `weight` (0: one half). */
static rm_action push_weighted(const tpeer *from, const float *y, uint32_t n,
                               double weight) {
    rm_frame f;
    memset(&f, 0, sizeof f);
    static uint64_t exchange = 77; /* a new exchange each time */
    f.type = RM_FRAME_PUSH;
    f.u.ex.exchange = exchange++;
    f.u.ex.incarnation = 1;
    f.u.ex.version = 1;
    f.u.ex.weight = weight;
    f.u.ex.nentries = 1;
    memcpy(f.u.ex.entries[0].id, from->id, RM_ID_BYTES);
    f.u.ex.entries[0].incarnation = 1;
    f.u.ex.model.encoding = RM_ENC_F32;
    f.u.ex.model.n = n;
    f.u.ex.model.f32 = y;
    rm_action a = {.kind = RM_ACT_SEND};
    size_t size = rm_wire_encoded_size(&f);
    a.bytes = malloc(size);
    assert_int_equal(rm_wire_encode(&f, a.bytes, size, &a.len), RM_OK);
    return a;
}

static rm_action push_of(const tpeer *from, const float *y, uint32_t n) {
    return push_weighted(from, y, n, 0.0);
}

static void one_step_per_merge(rm_peer_config *c) {
    c->steps_per_merge = 1;
    c->merge_wait_us = 5000;
    c->gossip_interval_us = 1000000; /* no exchange of its own in the way */
}

/* steps_per_merge = 1: after a step with no merge the peer asks for no
 * step until a partner's model is merged (here a PUSH), or until
 * merge_wait has passed; a merge during the step counts. */
static void bounded_staleness_waits_for_a_merge(void **state) {
    (void)state;
    tpeer a, b;
    make(&a, 1, 0.0f, true, one_step_per_merge);
    make(&b, 2, 4.0f, false, NULL);
    expect(&a, RM_ACT_RUN_STEP);
    rm_peer_handle(a.core, 100, &(rm_input){.kind = RM_IN_STEP_DONE, .samples = 8});
    expect_none(&a); /* waiting */
    assert_int_equal(rm_peer_next_deadline(a.core), 5100);
    rm_peer_handle(a.core, 200, &(rm_input){.kind = RM_IN_TIMER});
    expect_none(&a);
    float y[N];
    for (int i = 0; i < N; i++)
        y[i] = 4.0f;
    rm_action m = push_of(&b, y, N);
    deliver(&a, &b, &m, 300);
    free(expect(&a, RM_ACT_SEND).bytes); /* the reply ... */
    expect(&a, RM_ACT_RUN_STEP);         /* ... and the next step */
    /* A PUSH queued during the step is merged at its end: no wait. */
    m = push_of(&b, y, N);
    deliver(&a, &b, &m, 350);
    rm_peer_handle(a.core, 400, &(rm_input){.kind = RM_IN_STEP_DONE, .samples = 8});
    free(expect(&a, RM_ACT_SEND).bytes);
    expect(&a, RM_ACT_RUN_STEP);
    /* No partner at all: it waits merge_wait, then trains on. */
    rm_peer_handle(a.core, 500, &(rm_input){.kind = RM_IN_STEP_DONE, .samples = 8});
    expect_none(&a);
    rm_peer_handle(a.core, 5499, &(rm_input){.kind = RM_IN_TIMER});
    expect_none(&a);
    rm_peer_handle(a.core, 5500, &(rm_input){.kind = RM_IN_TIMER});
    expect(&a, RM_ACT_RUN_STEP);
    const rm_peer_stats *st = rm_peer_get_stats(a.core);
    assert_int_equal(st->steps, 3);
    assert_int_equal(st->merges, 2);
    assert_int_equal(st->merge_waits, 2);
    assert_int_equal(st->merge_wait_timeouts, 1);
    rm_peer_free(a.core);
    rm_peer_free(b.core);
    /* A wait of 0, or a peer with no model to merge, is refused. */
    rm_peer_config c;
    vector_cfg(&c, a.x);
    c.steps_per_merge = 2;
    c.merge_wait_us = 0;
    assert_int_equal(try_create(&c), RM_EINVAL);
    c.merge_wait_us = 1000;
    c.n = 0;
    c.params = NULL;
    c.items_max = 8;
    assert_int_equal(try_create(&c), RM_EINVAL);
}

static void bad_models_are_refused_and_counted(void **state) {
    (void)state;
    tpeer a, b;
    make(&a, 1, 1.0f, false, NULL);
    make(&b, 2, 1.0f, false, NULL);
    float y[N + 1];
    float before[N];
    memcpy(before, a.x, sizeof before);
    for (int i = 0; i <= N; i++)
        y[i] = 1.0f;
    y[5] = NAN;
    rm_action m = push_of(&b, y, N);
    deliver(&a, &b, &m, 1);
    y[5] = INFINITY;
    m = push_of(&b, y, N);
    deliver(&a, &b, &m, 2);
    y[5] = 1.0f;
    m = push_of(&b, y, N - 1); /* wrong shape */
    deliver(&a, &b, &m, 3);
    for (int i = 0; i < N; i++)
        y[i] = 1e7f; /* far beyond 100x the local norm + 1e3 */
    m = push_of(&b, y, N);
    deliver(&a, &b, &m, 4);
    for (int i = 0; i < N; i++)
        y[i] = 1.0f;
    m = push_weighted(&b, y, N, 0.75); /* a pairwise share above 1/2 */
    deliver(&a, &b, &m, 5);
    const rm_peer_stats *st = rm_peer_get_stats(a.core);
    assert_int_equal(st->refused_nonfinite, 2);
    assert_int_equal(st->refused_shape, 1);
    assert_int_equal(st->refused_norm, 1);
    assert_int_equal(st->refused_weight, 1);
    assert_int_equal(rm_peer_refused(st), 5);
    assert_int_equal(st->merges, 0);
    assert_memory_equal(a.x, before, sizeof before);
    rm_peer_free(a.core);
    rm_peer_free(b.core);
}

static void garbage_closes_the_sender_and_nothing_else(void **state) {
    (void)state;
    tpeer a, b, c;
    make(&a, 1, 0.0f, false, NULL);
    make(&b, 2, 1.0f, false, NULL);
    make(&c, 3, 2.0f, false, NULL);
    link_up(&a, &b);
    link_up(&a, &c);
    uint8_t junk[40] = {36, 0, 0, 0, 1, 99};
    rm_peer_handle(a.core, 1, &(rm_input){.kind = RM_IN_FRAME, .peer = b.id,
                                          .bytes = junk, .len = sizeof junk});
    rm_action close = expect(&a, RM_ACT_CLOSE);
    assert_memory_equal(close.peer, b.id, RM_ID_BYTES);
    assert_int_equal(rm_peer_get_stats(a.core)->malformed, 1);
    assert_int_equal(rm_peer_view_len(a.core), 1); /* b dropped, c kept */
    float y[N];
    for (int i = 0; i < N; i++)
        y[i] = 2.0f;
    rm_action m = push_of(&c, y, N);
    deliver(&a, &c, &m, 2);
    rm_action reply = expect(&a, RM_ACT_SEND); /* still serving c */
    assert_memory_equal(reply.peer, c.id, RM_ID_BYTES);
    free(reply.bytes);
    rm_peer_free(a.core);
    rm_peer_free(b.core);
    rm_peer_free(c.core);
}

static void silent_peers_are_suspected_then_dropped(void **state) {
    (void)state;
    tpeer a, b;
    make(&a, 1, 0.0f, false, NULL); /* suspect after 2, drop after 4 */
    make(&b, 2, 1.0f, false, NULL);
    /* b comes as a connection, not as a seed (seeds are re-contacted). */
    rm_peer_handle(a.core, 0, &(rm_input){.kind = RM_IN_PEER_UP, .peer = b.id,
                                          .addr = "peer-2"});
    /* b never answers: every PUSH times out. Fire timers until a has given
     * up on b; with 100 ms rounds and 400 ms time-outs that takes 4 misses. */
    int fired = 0;
    while (rm_peer_view_len(a.core) > 0 && fired < 100) {
        fire_timer(&a);
        fired++;
        rm_action m;
        while (rm_peer_poll(a.core, &m))
            free(m.bytes);
        if (rm_peer_get_stats(a.core)->exchanges_timed_out == 2)
            assert_int_equal(rm_peer_view_len(a.core), 1); /* suspected, kept */
    }
    assert_int_equal(rm_peer_view_len(a.core), 0);
    assert_true(rm_peer_get_stats(a.core)->exchanges_timed_out >= 4);
    rm_peer_free(a.core);
    rm_peer_free(b.core);
}

static void dropped_seeds_are_contacted_again(void **state) {
    (void)state;
    tpeer a, b;
    make(&a, 1, 0.0f, false, NULL);
    make(&b, 2, 1.0f, false, NULL);
    link_up(&a, &b); /* a seed */
    /* b is silent: after 4 time-outs a drops it, but it is a seed, so
     * later rounds go back to it (a partition that heals is found again). */
    int pushes_after_drop = 0;
    for (int fired = 0; fired < 100; fired++) {
        fire_timer(&a);
        rm_action m;
        while (rm_peer_poll(a.core, &m)) {
            if (rm_peer_get_stats(a.core)->exchanges_timed_out >= 4 &&
                m.kind == RM_ACT_SEND) {
                assert_memory_equal(m.peer, b.id, RM_ID_BYTES);
                pushes_after_drop++;
            }
            free(m.bytes);
        }
    }
    assert_true(pushes_after_drop > 0);
    rm_peer_free(a.core);
    rm_peer_free(b.core);
}

static void pushsum(rm_peer_config *c) {
    c->train = false;
    c->merge = RM_MERGE_PUSHSUM;
}

static void pushsum_conserves_weight_exactly(void **state) {
    (void)state;
    tpeer a, b;
    make(&a, 1, 0.0f, false, pushsum);
    make(&b, 2, 8.0f, false, pushsum);
    link_up(&a, &b);
    link_up(&b, &a);
    for (int round = 0; round < 5; round++) {
        fire_timer(&a);
        rm_action push = expect(&a, RM_ACT_SEND);
        assert_int_equal(rm_peer_weight(a.core) + rm_peer_weight(b.core) +
                             (uint64_t)decode(&push).u.ex.weight,
                         2 * RM_PUSHSUM_UNIT);
        deliver(&b, &a, &push, 1000 * (round + 1));
        rm_action reply = expect(&b, RM_ACT_SEND);
        deliver(&a, &b, &reply, 1000 * (round + 1) + 10);
        assert_int_equal(rm_peer_weight(a.core) + rm_peer_weight(b.core),
                         2 * RM_PUSHSUM_UNIT);
    }
    /* z/w estimates: both near the mean 4 (+ 0.01 i). */
    assert_float_equal(a.x[0], 4.0f, 0.6);
    assert_float_equal(b.x[0], 4.0f, 0.6);
    rm_peer_free(a.core);
    rm_peer_free(b.core);
}

static void deltas(rm_peer_config *c) {
    c->train = false;
    c->delta = true;
}

static void deltas_after_a_key_frame_and_need_full_without_a_base(void **state) {
    (void)state;
    tpeer a, b;
    make(&a, 1, 0.0f, false, deltas);
    make(&b, 2, 10.0f, false, deltas);
    link_up(&a, &b);
    /* First exchange: no shared base yet, so key frames both ways. */
    fire_timer(&a);
    rm_action push = expect(&a, RM_ACT_SEND);
    assert_int_equal(decode(&push).u.ex.model.encoding, RM_ENC_F32);
    deliver(&b, &a, &push, 1000);
    rm_action reply = expect(&b, RM_ACT_SEND);
    deliver(&a, &b, &reply, 1100);
    /* Second: a delta against the base both now hold. */
    a.x[3] += 1.0f;
    fire_timer(&a);
    push = expect(&a, RM_ACT_SEND);
    rm_frame f = decode(&push);
    assert_int_equal(f.u.ex.model.encoding, RM_ENC_F32_DELTA);
    assert_true(f.u.ex.base != 0);
    float a_before = a.x[3], b_before = b.x[3];
    deliver(&b, &a, &push, 2000);
    reply = expect(&b, RM_ACT_SEND);
    assert_int_equal(decode(&reply).u.ex.model.encoding, RM_ENC_F32_DELTA);
    deliver(&a, &b, &reply, 2100);
    assert_float_equal(a.x[3], (a_before + b_before) / 2, 1e-5);
    assert_float_equal(b.x[3], (a_before + b_before) / 2, 1e-5);
    /* A fresh b (restarted, no bases) answers a delta with NEED_FULL, and a
     * resends the whole model in the same exchange. */
    rm_peer_free(b.core);
    make(&b, 2, 10.0f, false, deltas);
    fire_timer(&a);
    push = expect(&a, RM_ACT_SEND);
    uint64_t exchange = decode(&push).u.ex.exchange;
    assert_int_equal(decode(&push).u.ex.model.encoding, RM_ENC_F32_DELTA);
    deliver(&b, &a, &push, 3000);
    rm_action need = expect(&b, RM_ACT_SEND);
    f = decode(&need);
    assert_int_equal(f.type, RM_FRAME_NEED_FULL);
    assert_true(f.u.need_full.exchange == exchange);
    deliver(&a, &b, &need, 3100);
    push = expect(&a, RM_ACT_SEND);
    f = decode(&push);
    assert_int_equal(f.type, RM_FRAME_PUSH);
    assert_int_equal(f.u.ex.model.encoding, RM_ENC_F32);
    assert_true(f.u.ex.exchange == exchange);
    deliver(&b, &a, &push, 3200);
    reply = expect(&b, RM_ACT_SEND);
    deliver(&a, &b, &reply, 3300);
    assert_int_equal(rm_peer_get_stats(a.core)->exchanges_done, 3);
    rm_peer_free(a.core);
    rm_peer_free(b.core);
}

static void int8_deltas(rm_peer_config *c) {
    c->train = false;
    c->delta = true;
    c->delta_int8 = true;
    c->delta_chunk = 8;
}

static void int8_deltas_keep_both_bases_equal(void **state) {
    (void)state;
    tpeer a, b;
    make(&a, 1, 0.0f, false, int8_deltas);
    make(&b, 2, 1.0f, false, int8_deltas);
    link_up(&a, &b);
    link_up(&b, &a);
    rm_rng r;
    rm_rng_seed(&r, 9);
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < N; i++) { /* both train a little in between */
            a.x[i] += 0.01f * (rm_rng_float(&r) - 0.5f);
            b.x[i] += 0.01f * (rm_rng_float(&r) - 0.5f);
        }
        tpeer *from = round % 2 ? &a : &b, *to = round % 2 ? &b : &a;
        fire_timer(from);
        rm_action push = expect(from, RM_ACT_SEND);
        deliver(to, from, &push, 1000 * (round + 1));
        rm_action reply = expect(to, RM_ACT_SEND);
        deliver(from, to, &reply, 1000 * (round + 1) + 5);
    }
    /* Quantisation error is fed back, not accumulated: the peers agree to
     * well within one int8 step of the last deltas. */
    for (int i = 0; i < N; i++)
        assert_float_equal(a.x[i], b.x[i], 2e-3);
    assert_int_equal(rm_peer_get_stats(a.core)->need_full_sent, 0);
    assert_int_equal(rm_peer_get_stats(b.core)->need_full_sent, 0);
    rm_peer_free(a.core);
    rm_peer_free(b.core);
}

static void a_higher_incarnation_replaces_the_old_entry(void **state) {
    (void)state;
    tpeer a, b;
    make(&a, 1, 0.0f, false, NULL);
    make(&b, 2, 1.0f, false, NULL);
    link_up(&a, &b); /* known at incarnation 1 */
    float y[N];
    for (int i = 0; i < N; i++)
        y[i] = 1.0f;
    rm_action m = push_of(&b, y, N);
    /* Patch the sender's own entry to incarnation 5 (a restart). */
    rm_frame f = decode(&m);
    free(m.bytes);
    f.u.ex.entries[0].incarnation = 5;
    f.u.ex.incarnation = 5;
    f.u.ex.model.f32 = y;
    size_t size = rm_wire_encoded_size(&f);
    m.bytes = malloc(size);
    assert_int_equal(rm_wire_encode(&f, m.bytes, size, &m.len), RM_OK);
    deliver(&a, &b, &m, 10);
    rm_action reply = expect(&a, RM_ACT_SEND);
    free(reply.bytes);
    assert_int_equal(rm_peer_view_len(a.core), 1); /* replaced, not added */
    rm_peer_free(a.core);
    rm_peer_free(b.core);
}

static void duplicated_pushes_are_merged_once(void **state) {
    (void)state;
    tpeer a, b;
    make(&a, 1, 0.0f, false, NULL);
    make(&b, 2, 0.0f, false, NULL);
    float y[N];
    for (int i = 0; i < N; i++)
        y[i] = 4.0f;
    rm_action m = push_of(&b, y, N);
    rm_action copy = m;
    copy.bytes = malloc(m.len);
    memcpy(copy.bytes, m.bytes, m.len);
    deliver(&a, &b, &m, 1);
    rm_action reply = expect(&a, RM_ACT_SEND);
    free(reply.bytes);
    deliver(&a, &b, &copy, 2);
    expect_none(&a);
    assert_int_equal(rm_peer_get_stats(a.core)->merges, 1);
    assert_int_equal(rm_peer_get_stats(a.core)->duplicates, 1);
    assert_float_equal(a.x[0], 2.0f, 1e-6);
    rm_peer_free(a.core);
    rm_peer_free(b.core);
}

static void pairwise_conserves_the_sum_when_the_initiator_moved(void **state) {
    (void)state;
    tpeer a, b;
    make(&a, 1, 0.0f, false, NULL);
    make(&b, 2, 10.0f, false, NULL);
    link_up(&a, &b);
    double before = 0, after = 0;
    for (int i = 0; i < N; i++)
        before += (double)a.x[i] + b.x[i];
    fire_timer(&a);
    rm_action push = expect(&a, RM_ACT_SEND);
    deliver(&b, &a, &push, 1000);
    rm_action reply = expect(&b, RM_ACT_SEND);
    for (int i = 0; i < N; i++) /* a trains while the reply is on its way */
        a.x[i] += 2.0f;
    before += 2.0 * N;
    deliver(&a, &b, &reply, 2000);
    for (int i = 0; i < N; i++)
        after += (double)a.x[i] + b.x[i];
    assert_float_equal(after, before, 1e-3);
    assert_float_equal(a.x[0], 7.0f, 1e-5); /* 2 + (10 - 0) / 2 */
    assert_float_equal(b.x[0], 5.0f, 1e-5);
    rm_peer_free(a.core);
    rm_peer_free(b.core);
}

static void three_in_flight(rm_peer_config *c) {
    c->train = false;
    c->exchanges_max = 3;
    c->exchange_timeout_us = 10 * 1000 * 1000; /* none times out here */
}

/* exchanges_max = 3: up to three PUSHes out at once, each to a different
 * partner; a fourth round starts nothing; replies in any order are each
 * matched to their own exchange, and pairwise merging still conserves the
 * sum (each slot keeps the model its PUSH carried). Each side moves by a
 * quarter, not a half (three halves would overshoot: 0 -> 30 against
 * partners at 10, 20, 30), and the reply echoes that share. */
static void concurrent_exchanges_overlap_and_conserve_the_sum(void **state) {
    (void)state;
    tpeer a, q[3];
    make(&a, 1, 0.0f, false, three_in_flight);
    for (int k = 0; k < 3; k++) {
        make(&q[k], (uint8_t)(2 + k), 10.0f * (float)(k + 1), false, no_training);
        link_up(&a, &q[k]);
    }
    double before = 0, after = 0;
    for (int i = 0; i < N; i++)
        before += (double)a.x[i] + q[0].x[i] + q[1].x[i] + q[2].x[i];
    rm_action push[3];
    int got = 0;
    for (int round = 0; round < 50 && got < 3; round++) {
        fire_timer(&a);
        rm_action x;
        while (rm_peer_poll(a.core, &x)) {
            assert_int_equal(x.kind, RM_ACT_SEND);
            for (int j = 0; j < got; j++) /* never two with one partner */
                assert_memory_not_equal(x.peer, push[j].peer, RM_ID_BYTES);
            assert_true(got < 3);
            push[got++] = x;
        }
    }
    assert_int_equal(got, 3);
    for (int round = 0; round < 5; round++) { /* every slot is in flight */
        fire_timer(&a);
        expect_none(&a);
    }
    uint64_t now = rm_peer_next_deadline(a.core);
    rm_action reply[3];
    int from[3];
    for (int k = 0; k < 3; k++) {
        from[k] = push[k].peer[0] - 2;
        assert_float_equal(decode(&push[k]).u.ex.weight, 0.25, 0);
        deliver(&q[from[k]], &a, &push[k], now);
        reply[k] = expect(&q[from[k]], RM_ACT_SEND);
    }
    for (int k = 0; k < 3; k++) {
        assert_float_equal(decode(&reply[k]).u.ex.weight, 0.25, 0);
        assert_float_equal(q[from[k]].x[0], 7.5f * (float)(from[k] + 1), 1e-5);
    }
    for (int k = 2; k >= 0; k--) /* answers in another order than asked */
        deliver(&a, &q[from[k]], &reply[k], now + 1);
    for (int i = 0; i < N; i++)
        after += (double)a.x[i] + q[0].x[i] + q[1].x[i] + q[2].x[i];
    assert_float_equal(after, before, 1e-3);
    assert_float_equal(a.x[0], 15.0f, 1e-5); /* (10 + 20 + 30) / 4 */
    assert_int_equal(rm_peer_get_stats(a.core)->exchanges_done, 3);
    assert_int_equal(rm_peer_get_stats(a.core)->unexpected, 0);
    rm_peer_free(a.core);
    for (int k = 0; k < 3; k++)
        rm_peer_free(q[k].core);
    /* 1..RM_PEER_EXCHANGES_MAX, and 1 for a peer with items (one HAVE). */
    rm_peer_config c;
    vector_cfg(&c, a.x);
    uint32_t bad[] = {0, RM_PEER_EXCHANGES_MAX + 1};
    for (int k = 0; k < 2; k++) {
        c.exchanges_max = bad[k];
        assert_int_equal(try_create(&c), RM_EINVAL);
    }
    c.exchanges_max = 2;
    c.items_max = 8;
    assert_int_equal(try_create(&c), RM_EINVAL);
}

static void leave_sends_to_everyone_in_the_view(void **state) {
    (void)state;
    tpeer a, b, c;
    make(&a, 1, 0.0f, false, no_training);
    make(&b, 2, 0.0f, false, NULL);
    make(&c, 3, 0.0f, false, NULL);
    link_up(&a, &b);
    link_up(&a, &c);
    rm_peer_leave(a.core);
    rm_action m1 = expect(&a, RM_ACT_SEND), m2 = expect(&a, RM_ACT_SEND);
    assert_int_equal(decode(&m1).type, RM_FRAME_LEAVE);
    deliver(&b, &a, &m1, 1);
    free(m2.bytes);
    assert_int_equal(rm_peer_view_len(b.core), 0);
    rm_peer_free(a.core);
    rm_peer_free(b.core);
    rm_peer_free(c.core);
}


/* A training peer takes one step of `samples` rows and stops training
 * (the step it had asked for next ends with 0 rows): two steps counted. */
static void train_one_step(tpeer *t, uint64_t samples) {
    expect(t, RM_ACT_RUN_STEP);
    rm_peer_handle(t->core, 1, &(rm_input){.kind = RM_IN_STEP_DONE, .samples = samples});
    expect(t, RM_ACT_RUN_STEP);
    rm_peer_set_training(t->core, false);
    rm_peer_handle(t->core, 1, &(rm_input){.kind = RM_IN_STEP_DONE, .samples = 0});
    expect_none(t);
}

static void rejoin(rm_peer_config *c) {
    c->rejoin = true;
    c->rejoin_rounds = 2;
}

/* A restarted peer pulls before it trains: its PUSH carries PULL, the
 * partner answers without merging, and the pulled model is weighed by the
 * samples behind each side (none here: it is taken whole). */
static void rejoin_pulls_a_fresh_model_before_training(void **state) {
    (void)state;
    tpeer a, b;
    make(&a, 1, 0.0f, true, rejoin);
    make(&b, 2, 10.0f, true, NULL);
    train_one_step(&b, 300);
    float b_before[N];
    memcpy(b_before, b.x, sizeof b_before);
    link_up(&a, &b);
    assert_true(rm_peer_rejoining(a.core));
    expect_none(&a); /* no training step yet */
    fire_timer(&a);
    rm_action push = expect(&a, RM_ACT_SEND);
    rm_frame f = decode(&push);
    assert_int_equal(f.type, RM_FRAME_PUSH);
    assert_int_equal(f.flags, RM_WIRE_FLAG_PULL);
    deliver(&b, &a, &push, 2);
    rm_action reply = expect(&b, RM_ACT_SEND);
    assert_memory_equal(b.x, b_before, sizeof b_before); /* not merged */
    assert_int_equal(rm_peer_get_stats(b.core)->merges, 0);
    deliver(&a, &b, &reply, 3);
    assert_memory_equal(a.x, b_before, sizeof b_before);
    assert_false(rm_peer_rejoining(a.core));
    assert_int_equal(rm_peer_get_stats(a.core)->rejoins, 1);
    expect(&a, RM_ACT_RUN_STEP);
    rm_peer_free(a.core);
    rm_peer_free(b.core);
}

/* A rejoining peer that is pushed to (rather than pulling first) takes the
 * pusher's model in as its fresh one before it answers, so the pusher gets
 * back its own model, not the stale checkpoint. */
static void rejoin_takes_a_push_as_the_fresh_model(void **state) {
    (void)state;
    tpeer a, b;
    make(&a, 1, 0.0f, true, rejoin);
    make(&b, 2, 10.0f, true, NULL);
    train_one_step(&b, 300);
    float b_before[N];
    memcpy(b_before, b.x, sizeof b_before);
    link_up(&b, &a);
    fire_timer(&b);
    rm_action push = expect(&b, RM_ACT_SEND);
    assert_int_equal(decode(&push).flags, 0);
    deliver(&a, &b, &push, 2);
    assert_false(rm_peer_rejoining(a.core));
    assert_int_equal(rm_peer_get_stats(a.core)->rejoins, 1);
    assert_memory_equal(a.x, b_before, sizeof b_before); /* no samples: taken whole */
    rm_action reply = expect(&a, RM_ACT_SEND);
    assert_int_equal(decode(&reply).type, RM_FRAME_PULL_REPLY);
    rm_action own = expect(&a, RM_ACT_SEND); /* its own first round, no PULL now */
    assert_int_equal(decode(&own).type, RM_FRAME_PUSH);
    assert_int_equal(decode(&own).flags, 0);
    free(own.bytes);
    expect(&a, RM_ACT_RUN_STEP);
    deliver(&b, &a, &reply, 3);
    for (int i = 0; i < N; i++)
        assert_float_equal(b.x[i], b_before[i], 1e-6);
    rm_peer_free(a.core);
    rm_peer_free(b.core);
}

/* With nobody to pull from, a rejoining peer trains after rejoin_rounds. */
static void rejoin_gives_up_when_nobody_answers(void **state) {
    (void)state;
    tpeer a;
    make(&a, 1, 0.0f, true, rejoin);
    for (int round = 0; round < 2; round++) {
        fire_timer(&a);
        expect_none(&a);
    }
    fire_timer(&a);
    expect(&a, RM_ACT_RUN_STEP);
    assert_int_equal(rm_peer_get_stats(a.core)->rejoins, 0);
    rm_peer_free(a.core);
}

/* Saved core state comes back whole: counters, view, delta bases; a blob cut
 * anywhere or made for another model size is refused. */
static void saved_state_round_trips_and_bad_blobs_are_refused(void **state) {
    (void)state;
    tpeer a, b, c;
    make(&a, 1, 0.0f, true, deltas);
    make(&b, 2, 10.0f, false, deltas);
    rm_peer_set_training(a.core, true);
    train_one_step(&a, 32);
    link_up(&a, &b);
    fire_timer(&a);
    rm_action push = expect(&a, RM_ACT_SEND);
    deliver(&b, &a, &push, 2);
    rm_action reply = expect(&b, RM_ACT_SEND);
    deliver(&a, &b, &reply, 3);

    uint8_t *st, *bs, *st2, *bs2;
    size_t st_len, bs_len, st2_len, bs2_len;
    assert_int_equal(rm_peer_save_state(a.core, &st, &st_len, &bs, &bs_len), RM_OK);
    assert_true(bs_len > (size_t)N * 4); /* one base kept */
    make(&c, 1, 0.0f, false, deltas);
    assert_int_equal(rm_peer_restore_state(c.core, st, st_len, bs, bs_len), RM_OK);
    assert_int_equal(rm_peer_version(c.core), rm_peer_version(a.core));
    assert_int_equal(rm_peer_get_stats(c.core)->steps, 2);
    assert_int_equal(rm_peer_get_stats(c.core)->samples, 32);
    assert_int_equal(rm_peer_view_len(c.core), 1);
    assert_int_equal(rm_peer_save_state(c.core, &st2, &st2_len, &bs2, &bs2_len), RM_OK);
    assert_int_equal(st2_len, st_len);
    assert_memory_equal(st2, st, st_len);
    assert_int_equal(bs2_len, bs_len);
    assert_memory_equal(bs2, bs, bs_len);
    rm_peer_free(c.core);

    for (size_t cut = 0; cut < st_len; cut++) {
        make(&c, 1, 0.0f, false, deltas);
        assert_int_equal(rm_peer_restore_state(c.core, st, cut, NULL, 0), RM_EPEER_STATE);
        rm_peer_free(c.core);
    }
    for (size_t cut = 1; cut < bs_len; cut += 7) {
        make(&c, 1, 0.0f, false, deltas);
        assert_int_equal(rm_peer_restore_state(c.core, st, st_len, bs, cut), RM_EPEER_STATE);
        rm_peer_free(c.core);
    }
    st[8] ^= 1; /* the model size */
    make(&c, 1, 0.0f, false, deltas);
    assert_int_equal(rm_peer_restore_state(c.core, st, st_len, NULL, 0), RM_EPEER_STATE);
    rm_peer_free(c.core);
    free(st), free(bs), free(st2), free(bs2);
    rm_peer_free(a.core);
    rm_peer_free(b.core);
}

/* ---- items: sets of opaque blobs merged by union ---------------------- */

/* An items-only peer (no parameter vector, as a forest) and its shell. */
typedef struct {
    rm_peer *core;
    uint8_t id[RM_ID_BYTES];
    bool down;               /* frames to it are lost, its timers do not fire */
    uint32_t refused;        /* items its shell found bad */
    uint32_t offers;         /* RM_ACT_ITEM actions it got */
    uint32_t steps;          /* RM_ACT_RUN_STEP actions it got */
    uint32_t bad_from[4];    /* bad items offered, by sender */
} ipeer;

enum { IPEERS = 4, QMAX = 4096 };
static ipeer ip[IPEERS];
static struct {
    int from, to;
    uint8_t *bytes;
    size_t len;
} iq[QMAX];
static int iq_head, iq_tail;
static size_t items_frame_max;   /* largest ITEMS frame seen on the wire */

#define BAD_ITEM 0xba            /* an item whose first byte is this is bad */

/* Item id k's bytes: k, then a pattern; 20..26 bytes. */
static size_t item_bytes(uint64_t k, uint8_t *out) {
    size_t len = 20 + (size_t)(k % 7);
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(k + 3 * i);
    return len;
}

static void add_own_item(int i, uint64_t k) {
    uint8_t b[64];
    size_t len = item_bytes(k, b);
    assert_int_equal(rm_peer_add_item(ip[i].core, k, b, len), RM_OK);
}

static void items_cfg(rm_peer_config *c, int i) {
    rm_peer_config_default(c);
    memset(c->id, 0, RM_ID_BYTES);
    c->id[0] = (uint8_t)i;
    c->id[1] = 0x77;
    snprintf(c->addr, sizeof c->addr, "item-%d", i);
    c->incarnation = 1;
    c->params = NULL;
    c->n = 0;
    c->train = false;
    c->items_max = 64;
}

static void make_ipeer(int i, uint32_t frame_bytes) {
    rm_peer_config c;
    items_cfg(&c, i);
    if (frame_bytes)
        c.items_frame_bytes = frame_bytes;
    memset(&ip[i], 0, sizeof ip[i]);
    memcpy(ip[i].id, c.id, RM_ID_BYTES);
    rm_rng r;
    rm_rng_seed(&r, 100 + (uint64_t)i);
    assert_int_equal(rm_peer_create(&ip[i].core, &c, &r, 0), RM_OK);
}

/* Every peer knows every other one. */
static void mesh(int n) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (i != j) {
                char addr[32];
                snprintf(addr, sizeof addr, "item-%d", j);
                assert_int_equal(rm_peer_add_seed(ip[i].core, ip[j].id, addr, 1), RM_OK);
            }
}

/* The shell: carries out i's actions. Frames go into the queue; items
 * are checked (a first byte of BAD_ITEM is bad) and added back. */
static void ishell(int i) {
    rm_action a;
    while (rm_peer_poll(ip[i].core, &a)) {
        if (a.kind == RM_ACT_SEND) {
            rm_frame f;
            rm_wire_limits lim = {.frame_bytes_max = 1 << 20, .model_n_max = 0};
            assert_int_equal(rm_wire_decode(a.bytes, a.len, &lim, &f), RM_OK);
            if (f.type == RM_FRAME_ITEMS && a.len > items_frame_max)
                items_frame_max = a.len;
            assert_true(iq_tail < QMAX);
            iq[iq_tail].from = i;
            iq[iq_tail].to = a.peer[0];
            iq[iq_tail].bytes = a.bytes;
            iq[iq_tail++].len = a.len;
        } else if (a.kind == RM_ACT_ITEM) {
            ip[i].offers++;
            uint8_t want[64];
            size_t len = item_bytes(a.item_id, want);
            if (a.len > 0 && a.bytes[0] == BAD_ITEM) {
                ip[i].refused++;
                ip[i].bad_from[a.peer[0]]++;
            } else {
                assert_int_equal(a.len, len); /* carried intact */
                assert_memory_equal(a.bytes, want, len);
                assert_int_equal(rm_peer_add_item(ip[i].core, a.item_id, a.bytes, a.len),
                                 RM_OK);
            }
            free(a.bytes);
        } else if (a.kind == RM_ACT_RUN_STEP) {
            ip[i].steps++;
        } else {
            free(a.bytes);
        }
    }
}

/* Delivers frames (in order) until none are left. */
static void iquiet(uint64_t now) {
    while (iq_head < iq_tail) {
        int to = iq[iq_head].to, from = iq[iq_head].from;
        uint8_t *b = iq[iq_head].bytes;
        size_t len = iq[iq_head++].len;
        if (!ip[to].down) {
            rm_input in = {.kind = RM_IN_FRAME, .peer = ip[from].id, .bytes = b,
                           .len = len, .give = true};
            rm_peer_handle(ip[to].core, now, &in);
            ishell(to);
        } else {
            free(b);
        }
    }
    iq_head = iq_tail = 0;
}

/* One round: n timers, each the earliest of the live peers', fired in
 * turn, with every frame delivered at that same instant. No other timer is
 * due then, so each exchange runs to its end before the next one starts
 * (a frame handled when the receiver's own round is due would start a
 * concurrent exchange, which may send an item twice). */
static void iround(int n, uint64_t *now) {
    for (int k = 0; k < n; k++) {
        int next = -1;
        for (int i = 0; i < n; i++)
            if (!ip[i].down && (next < 0 || rm_peer_next_deadline(ip[i].core) <
                                                rm_peer_next_deadline(ip[next].core)))
                next = i;
        if (next < 0)
            return;
        uint64_t at = rm_peer_next_deadline(ip[next].core);
        if (at > *now)
            *now = at;
        rm_peer_handle(ip[next].core, *now, &(rm_input){.kind = RM_IN_TIMER});
        ishell(next);
        iquiet(*now);
    }
}

static bool holds_all(int i, uint64_t first, uint64_t last) {
    for (uint64_t k = first; k <= last; k++)
        if (!rm_peer_has_item(ip[i].core, k))
            return false;
    return true;
}

/* Frees the peers and whatever is still in flight (a test must not hand
 * the next one its frames). */
static void ifree(int n) {
    for (int i = 0; i < n; i++)
        rm_peer_free(ip[i].core);
    for (int k = iq_head; k < iq_tail; k++)
        free(iq[k].bytes);
    iq_head = iq_tail = 0;
}

/* An items-only peer needs no vector; a peer needs one or the other. */
static void items_only_peers_are_accepted(void **state) {
    (void)state;
    rm_peer_config c;
    items_cfg(&c, 0);
    rm_rng r;
    rm_rng_seed(&r, 1);
    rm_peer *p = NULL;
    assert_int_equal(rm_peer_create(&p, &c, &r, 0), RM_OK);
    assert_int_equal(rm_peer_item_count(p), 0);
    assert_false(rm_peer_has_item(p, 5));
    rm_peer_free(p);
    c.items_max = 0; /* neither a vector nor items */
    assert_int_equal(rm_peer_create(&p, &c, &r, 0), RM_EINVAL);
    c.items_max = RM_WIRE_ITEMS_MAX + 1;
    assert_int_equal(rm_peer_create(&p, &c, &r, 0), RM_EINVAL);
    c.items_max = 2;
    c.items_frame_bytes = 63;
    assert_int_equal(rm_peer_create(&p, &c, &r, 0), RM_EINVAL);
    c.items_frame_bytes = 64;
    assert_int_equal(rm_peer_create(&p, &c, &r, 0), RM_OK);
    uint8_t b[64] = {0};
    /* 64 - header and count (12) - id and len (12) = 40 bytes at most. */
    assert_int_equal(rm_peer_add_item(p, 1, b, 41), RM_ETOO_LARGE);
    assert_int_equal(rm_peer_add_item(p, 9, b, 40), RM_OK);
    assert_int_equal(rm_peer_add_item(p, 3, b, 0), RM_OK);
    assert_int_equal(rm_peer_add_item(p, 9, b, 5), RM_OK); /* held: unchanged */
    assert_int_equal(rm_peer_add_item(p, 4, b, 1), RM_ETOO_LARGE); /* items_max */
    assert_int_equal(rm_peer_item_count(p), 2);
    assert_true(rm_peer_has_item(p, 3) && rm_peer_has_item(p, 9));
    rm_peer_free(p);
    /* A vector peer with items off refuses items. */
    tpeer v;
    make(&v, 9, 0.0f, false, NULL);
    assert_int_equal(rm_peer_add_item(v.core, 1, b, 1), RM_EINVAL);
    assert_int_equal(rm_peer_item_count(v.core), 0);
    rm_peer_free(v.core);
}

/* The first exchange, frame by frame: HAVE(1) -> ITEMS + HAVE(0) ->
 * ITEMS; then both hold the union and nothing moved twice. */
static void an_item_exchange_step_by_step(void **state) {
    (void)state;
    make_ipeer(0, 0);
    make_ipeer(1, 0);
    mesh(2);
    add_own_item(0, 1);
    add_own_item(0, 2);
    add_own_item(1, 2);
    add_own_item(1, 7);
    rm_peer_handle(ip[0].core, rm_peer_next_deadline(ip[0].core),
                   &(rm_input){.kind = RM_IN_TIMER});
    rm_action have = expect_core(ip[0].core, RM_ACT_SEND);
    expect_none_core(ip[0].core); /* no PUSH: an items-only peer has no model */
    rm_frame f;
    rm_wire_limits lim = {1 << 20, 0};
    assert_int_equal(rm_wire_decode(have.bytes, have.len, &lim, &f), RM_OK);
    assert_int_equal(f.type, RM_FRAME_HAVE);
    assert_int_equal(f.u.have.want_reply, 1);
    assert_int_equal(f.u.have.nids, 2);
    assert_int_equal(rm_wire_have_id(&f.u.have, 0), 1);
    assert_int_equal(rm_wire_have_id(&f.u.have, 1), 2);
    assert_memory_equal(f.u.have.entries[0].id, ip[0].id, RM_ID_BYTES);
    uint64_t exchange = f.u.have.exchange;
    rm_peer_handle(ip[1].core, 1000, &(rm_input){.kind = RM_IN_FRAME, .peer = ip[0].id,
                                                 .bytes = have.bytes, .len = have.len});
    free(have.bytes);
    rm_action items = expect_core(ip[1].core, RM_ACT_SEND);
    rm_action reply = expect_core(ip[1].core, RM_ACT_SEND);
    expect_none_core(ip[1].core);
    assert_int_equal(rm_wire_decode(items.bytes, items.len, &lim, &f), RM_OK);
    assert_int_equal(f.type, RM_FRAME_ITEMS);
    assert_int_equal(f.u.items.count, 1); /* 7: peer 0 holds 2 already */
    assert_int_equal(rm_wire_decode(reply.bytes, reply.len, &lim, &f), RM_OK);
    assert_int_equal(f.type, RM_FRAME_HAVE);
    assert_int_equal(f.u.have.want_reply, 0);
    assert_true(f.u.have.exchange == exchange);
    rm_peer_handle(ip[0].core, 2000, &(rm_input){.kind = RM_IN_FRAME, .peer = ip[1].id,
                                                 .bytes = items.bytes, .len = items.len});
    free(items.bytes);
    rm_action item = expect_core(ip[0].core, RM_ACT_ITEM);
    assert_int_equal(item.item_id, 7);
    assert_memory_equal(item.peer, ip[1].id, RM_ID_BYTES);
    assert_false(rm_peer_has_item(ip[0].core, 7)); /* until the shell says so */
    assert_int_equal(rm_peer_add_item(ip[0].core, 7, item.bytes, item.len), RM_OK);
    free(item.bytes);
    rm_peer_handle(ip[0].core, 2100, &(rm_input){.kind = RM_IN_FRAME, .peer = ip[1].id,
                                                 .bytes = reply.bytes, .len = reply.len});
    free(reply.bytes);
    rm_action back = expect_core(ip[0].core, RM_ACT_SEND);
    assert_int_equal(rm_wire_decode(back.bytes, back.len, &lim, &f), RM_OK);
    assert_int_equal(f.type, RM_FRAME_ITEMS);
    assert_int_equal(f.u.items.count, 1); /* 1 */
    expect_none_core(ip[0].core);
    const rm_peer_stats *st = rm_peer_get_stats(ip[0].core);
    assert_int_equal(st->exchanges_done, 1);
    assert_int_equal(st->items_in, 1);
    assert_int_equal(st->items_out, 1);
    rm_peer_handle(ip[1].core, 3000, &(rm_input){.kind = RM_IN_FRAME, .peer = ip[0].id,
                                                 .bytes = back.bytes, .len = back.len,
                                                 .give = true});
    ishell(1);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(rm_peer_item_count(ip[i].core), 3);
        assert_true(holds_all(i, 1, 2) && rm_peer_has_item(ip[i].core, 7));
        assert_int_equal(rm_peer_get_stats(ip[i].core)->items_dup, 0);
    }
    /* A second answer to the same HAVE is not expected: dropped. */
    rm_frame again = {.type = RM_FRAME_HAVE};
    again.u.have.exchange = exchange;
    uint8_t buf[256];
    size_t len;
    assert_int_equal(rm_wire_encode(&again, buf, sizeof buf, &len), RM_OK);
    rm_peer_handle(ip[0].core, 3100, &(rm_input){.kind = RM_IN_FRAME, .peer = ip[1].id,
                                                 .bytes = buf, .len = len});
    expect_none_core(ip[0].core);
    assert_int_equal(rm_peer_get_stats(ip[0].core)->unexpected, 1);
    ifree(2);
}

/* Three peers with their own items and some in common reach the union,
 * and, with one exchange at a time, no item crosses a link twice. */
static void items_converge_to_the_union_without_duplicates(void **state) {
    (void)state;
    for (int i = 0; i < 3; i++)
        make_ipeer(i, 0);
    mesh(3);
    for (uint64_t k = 1; k <= 10; k++)
        add_own_item(0, k);
    for (uint64_t k = 8; k <= 20; k++)
        add_own_item(1, k);
    add_own_item(2, 1000);
    uint64_t now = 0;
    int rounds = 0;
    while (rounds < 20 && !(holds_all(0, 1, 20) && holds_all(1, 1, 20) &&
                            holds_all(2, 1, 20))) {
        iround(3, &now);
        rounds++;
    }
    print_message("3 peers reach the union of 21 items in %d rounds\n", rounds);
    for (int i = 0; i < 3; i++) {
        assert_true(holds_all(i, 1, 20));
        assert_true(rm_peer_has_item(ip[i].core, 1000));
        assert_int_equal(rm_peer_item_count(ip[i].core), 21);
        const rm_peer_stats *st = rm_peer_get_stats(ip[i].core);
        assert_int_equal(st->items_dup, 0);
        assert_int_equal(st->items_in, 21 - (i == 0 ? 10 : i == 1 ? 13 : 1));
        assert_int_equal(ip[i].refused, 0);
    }
    /* Once converged, exchanges carry ids only. */
    uint64_t out = 0;
    for (int i = 0; i < 3; i++)
        out += rm_peer_get_stats(ip[i].core)->items_out;
    iround(3, &now);
    for (int i = 0; i < 3; i++)
        out -= rm_peer_get_stats(ip[i].core)->items_out;
    assert_true(out == 0);
    ifree(3);
}

/* An ITEMS frame holds at most items_frame_bytes: the rest of what a
 * partner lacks goes in later rounds. */
static void the_byte_budget_splits_items_across_rounds(void **state) {
    (void)state;
    /* 12 bytes of header and count, then 32..38 bytes per item: three of
     * our items fit in 128 bytes, never four. */
    make_ipeer(0, 128);
    make_ipeer(1, 128);
    mesh(2);
    for (uint64_t k = 1; k <= 10; k++)
        add_own_item(0, k);
    items_frame_max = 0;
    uint64_t now = 0;
    uint32_t got[12] = {0};
    int rounds = 0;
    while (rounds < 12 && rm_peer_item_count(ip[1].core) < 10) {
        iround(2, &now);
        got[rounds++] = rm_peer_item_count(ip[1].core);
    }
    print_message("10 items over 128-byte ITEMS frames: %d rounds, largest frame %zu "
                  "bytes\n", rounds, items_frame_max);
    assert_true(items_frame_max <= 128);
    assert_int_equal(rm_peer_item_count(ip[1].core), 10);
    /* A round is two exchanges, and each sends one frame of 3 items. */
    assert_int_equal(got[0], 6);
    assert_int_equal(rounds, 2);
    assert_int_equal(rm_peer_get_stats(ip[1].core)->items_dup, 0);
    ifree(2);
}

/* A peer that was down misses the exchanges; when it comes back it gets
 * every item, among them those of a peer that is gone for good. */
static void a_peer_that_was_down_gets_everything_later(void **state) {
    (void)state;
    for (int i = 0; i < 3; i++)
        make_ipeer(i, 0);
    mesh(3);
    for (uint64_t k = 1; k <= 5; k++)
        add_own_item(0, k);
    for (uint64_t k = 6; k <= 9; k++)
        add_own_item(1, k);
    ip[2].down = true;
    uint64_t now = 0;
    for (int r = 0; r < 50 && !(holds_all(0, 1, 9) && holds_all(1, 1, 9)); r++)
        iround(3, &now);
    assert_true(holds_all(0, 1, 9) && holds_all(1, 1, 9));
    assert_int_equal(rm_peer_item_count(ip[2].core), 0);
    /* Peer 0 leaves for good; peer 2 comes back. */
    ip[0].down = true;
    ip[2].down = false;
    for (int r = 0; r < 50 && !holds_all(2, 1, 9); r++)
        iround(3, &now);
    assert_true(holds_all(2, 1, 9));
    assert_true(rm_peer_get_stats(ip[2].core)->exchanges_done > 0);
    ifree(3);
}

/* An item the shell refuses is never kept, so never offered to anyone
 * else; a later copy is handed to the shell again. */
static void a_bad_item_is_not_forwarded(void **state) {
    (void)state;
    for (int i = 0; i < 3; i++)
        make_ipeer(i, 0);
    mesh(3);
    uint8_t bad[24];
    memset(bad, BAD_ITEM, sizeof bad);
    assert_int_equal(rm_peer_add_item(ip[0].core, 66, bad, sizeof bad), RM_OK);
    add_own_item(0, 1);
    add_own_item(2, 2);
    uint64_t now = 0;
    for (int r = 0; r < 8; r++)
        iround(3, &now);
    for (int i = 1; i < 3; i++) {
        assert_true(holds_all(i, 1, 2));
        assert_false(rm_peer_has_item(ip[i].core, 66));
        assert_int_equal(rm_peer_item_count(ip[i].core), 2);
        /* Offered by peer 0 (again after each refusal), never by the other. */
        assert_true(ip[i].bad_from[0] >= 1);
        assert_int_equal(ip[i].bad_from[3 - i], 0);
        assert_int_equal(ip[i].refused, ip[i].bad_from[0]);
    }
    print_message("bad item: refused %u and %u times, only ever sent by its owner\n",
                  ip[1].refused, ip[2].refused);
    ifree(3);
}

/* Frames that arrive during a training step wait for it, as for vectors,
 * and an item sent by two partners meanwhile reaches the shell once. */
static void items_during_a_step_wait_and_reach_the_shell_once(void **state) {
    (void)state;
    for (int i = 0; i < 3; i++)
        make_ipeer(i, 0);
    rm_peer_free(ip[2].core);
    rm_peer_config c;
    items_cfg(&c, 2);
    c.train = true;
    c.max_steps = 2;
    rm_rng r;
    rm_rng_seed(&r, 102);
    assert_int_equal(rm_peer_create(&ip[2].core, &c, &r, 0), RM_OK);
    ishell(2);
    assert_int_equal(ip[2].steps, 1);
    assert_true(rm_peer_stepping(ip[2].core));
    add_own_item(0, 5);
    add_own_item(1, 5);
    /* Both send peer 2 an ITEMS frame holding item 5. */
    for (int i = 0; i < 2; i++) {
        uint8_t b[64];
        size_t len = item_bytes(5, b);
        rm_wire_item it = {.id = 5, .len = (uint32_t)len, .bytes = b};
        rm_frame f = {.type = RM_FRAME_ITEMS};
        f.u.items.count = 1;
        f.u.items.items = &it;
        uint8_t buf[128];
        size_t flen;
        assert_int_equal(rm_wire_encode(&f, buf, sizeof buf, &flen), RM_OK);
        rm_peer_handle(ip[2].core, 10 + (uint64_t)i,
                       &(rm_input){.kind = RM_IN_FRAME, .peer = ip[i].id, .bytes = buf,
                                   .len = flen});
        ishell(2);
        assert_int_equal(ip[2].offers, 0); /* queued */
    }
    rm_peer_handle(ip[2].core, 20, &(rm_input){.kind = RM_IN_STEP_DONE, .samples = 1});
    ishell(2);
    assert_int_equal(ip[2].offers, 1);
    assert_int_equal(ip[2].steps, 2);
    assert_true(rm_peer_has_item(ip[2].core, 5));
    assert_int_equal(rm_peer_get_stats(ip[2].core)->items_dup, 1);
    rm_peer_handle(ip[2].core, 30, &(rm_input){.kind = RM_IN_STEP_DONE, .samples = 1});
    ishell(2);
    assert_int_equal(ip[2].steps, 2); /* max_steps */
    ifree(3);
}

/* A frame of many items (an allow-listed peer may send 65,536 tiny ones)
 * is handed to the shell only up to what items_max leaves room for. */
static void an_items_flood_is_capped_at_items_max(void **state) {
    (void)state;
    make_ipeer(0, 0);
    make_ipeer(1, 0);
    enum { COUNT = 200 };
    static rm_wire_item its[COUNT];
    static uint8_t b[COUNT][64];
    for (int k = 0; k < COUNT; k++) {
        size_t len = item_bytes((uint64_t)k + 1, b[k]);
        its[k] = (rm_wire_item){.id = (uint64_t)k + 1, .len = (uint32_t)len, .bytes = b[k]};
    }
    rm_frame f = {.type = RM_FRAME_ITEMS};
    f.u.items.count = COUNT;
    f.u.items.items = its;
    static uint8_t buf[COUNT * 64];
    size_t flen;
    assert_int_equal(rm_wire_encode(&f, buf, sizeof buf, &flen), RM_OK);
    rm_peer_handle(ip[1].core, 10, &(rm_input){.kind = RM_IN_FRAME, .peer = ip[0].id,
                                                .bytes = buf, .len = flen});
    ishell(1);
    assert_int_equal(ip[1].offers, 64); /* items_max */
    assert_int_equal(rm_peer_item_count(ip[1].core), 64);
    ifree(2);
}

/* A silent partner of an items-only peer times out, is suspected, then
 * dropped, as with PUSH. A PUSH is a model beyond its limit of 0 values:
 * malformed, and the sender is closed; a NEED_FULL has the wrong shape. */
static void items_only_exchanges_time_out_like_pushes(void **state) {
    (void)state;
    make_ipeer(0, 0);
    make_ipeer(1, 0);
    rm_peer_handle(ip[0].core, 0, &(rm_input){.kind = RM_IN_PEER_UP, .peer = ip[1].id,
                                              .addr = "item-1"});
    for (int fired = 0; fired < 100 && rm_peer_view_len(ip[0].core) > 0; fired++) {
        uint64_t at = rm_peer_next_deadline(ip[0].core);
        rm_peer_handle(ip[0].core, at, &(rm_input){.kind = RM_IN_TIMER});
        rm_action a;
        while (rm_peer_poll(ip[0].core, &a))
            free(a.bytes);
    }
    assert_int_equal(rm_peer_view_len(ip[0].core), 0);
    assert_true(rm_peer_get_stats(ip[0].core)->exchanges_timed_out >= 4);
    tpeer v;
    make(&v, 9, 1.0f, false, NULL);
    float y[N];
    for (int i = 0; i < N; i++)
        y[i] = 1.0f;
    rm_action m = push_of(&v, y, N);
    rm_peer_handle(ip[0].core, 1, &(rm_input){.kind = RM_IN_FRAME, .peer = v.id,
                                              .bytes = m.bytes, .len = m.len});
    free(m.bytes);
    expect_core(ip[0].core, RM_ACT_CLOSE);
    assert_int_equal(rm_peer_get_stats(ip[0].core)->malformed, 1);
    rm_frame nf = {.type = RM_FRAME_NEED_FULL};
    uint8_t buf[64];
    size_t len;
    assert_int_equal(rm_wire_encode(&nf, buf, sizeof buf, &len), RM_OK);
    rm_peer_handle(ip[0].core, 2, &(rm_input){.kind = RM_IN_FRAME, .peer = v.id,
                                              .bytes = buf, .len = len});
    expect_none_core(ip[0].core);
    assert_int_equal(rm_peer_get_stats(ip[0].core)->refused_shape, 1);
    rm_peer_free(v.core);
    ifree(2);
}

static void with_items(rm_peer_config *c) {
    c->train = false;
    c->items_max = 8;
}

/* A peer with a vector and items sends its HAVE alongside its PUSH: one
 * exchange averages the vectors and unites the sets. */
static void vector_and_items_together(void **state) {
    (void)state;
    tpeer a, b;
    make(&a, 1, 0.0f, false, with_items);
    make(&b, 2, 10.0f, false, with_items);
    link_up(&a, &b);
    uint8_t x[3] = {1, 2, 3}, z[2] = {9, 9};
    assert_int_equal(rm_peer_add_item(a.core, 11, x, 3), RM_OK);
    assert_int_equal(rm_peer_add_item(b.core, 22, z, 2), RM_OK);
    fire_timer(&a);
    rm_action push = expect(&a, RM_ACT_SEND), have = expect(&a, RM_ACT_SEND);
    assert_int_equal(decode(&push).type, RM_FRAME_PUSH);
    rm_frame h = decode(&have);
    assert_int_equal(h.type, RM_FRAME_HAVE);
    assert_true(h.u.have.exchange == decode(&push).u.ex.exchange);
    deliver(&b, &a, &push, 1000);
    deliver(&b, &a, &have, 1001);
    rm_action reply = expect(&b, RM_ACT_SEND), items = expect(&b, RM_ACT_SEND),
              have_back = expect(&b, RM_ACT_SEND);
    assert_int_equal(decode(&reply).type, RM_FRAME_PULL_REPLY);
    assert_int_equal(decode(&items).type, RM_FRAME_ITEMS);
    assert_int_equal(decode(&have_back).type, RM_FRAME_HAVE);
    deliver(&a, &b, &reply, 2000);
    deliver(&a, &b, &items, 2001);
    rm_action item = expect(&a, RM_ACT_ITEM);
    assert_int_equal(item.item_id, 22);
    assert_int_equal(rm_peer_add_item(a.core, 22, item.bytes, item.len), RM_OK);
    free(item.bytes);
    deliver(&a, &b, &have_back, 2002);
    rm_action back = expect(&a, RM_ACT_SEND);
    assert_int_equal(decode(&back).type, RM_FRAME_ITEMS);
    deliver(&b, &a, &back, 3000);
    item = expect(&b, RM_ACT_ITEM);
    assert_int_equal(item.item_id, 11);
    assert_memory_equal(item.bytes, x, 3);
    assert_int_equal(rm_peer_add_item(b.core, 11, item.bytes, item.len), RM_OK);
    free(item.bytes);
    assert_float_equal(a.x[0], 5.0f, 1e-5);
    assert_float_equal(b.x[0], 5.0f, 1e-5);
    assert_int_equal(rm_peer_item_count(a.core), 2);
    assert_int_equal(rm_peer_item_count(b.core), 2);
    assert_int_equal(rm_peer_get_stats(a.core)->exchanges_done, 1); /* one, by the reply */
    rm_peer_free(a.core);
    rm_peer_free(b.core);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(training_asks_for_steps_one_at_a_time),
        cmocka_unit_test(max_steps_stops_training),
        cmocka_unit_test(exchange_averages_both_sides),
        cmocka_unit_test(frames_during_a_step_wait_for_it),
        cmocka_unit_test(frames_come_from_the_configured_pool),
        cmocka_unit_test(bad_models_are_refused_and_counted),
        cmocka_unit_test(garbage_closes_the_sender_and_nothing_else),
        cmocka_unit_test(silent_peers_are_suspected_then_dropped),
        cmocka_unit_test(dropped_seeds_are_contacted_again),
        cmocka_unit_test(pushsum_conserves_weight_exactly),
        cmocka_unit_test(deltas_after_a_key_frame_and_need_full_without_a_base),
        cmocka_unit_test(int8_deltas_keep_both_bases_equal),
        cmocka_unit_test(a_higher_incarnation_replaces_the_old_entry),
        cmocka_unit_test(duplicated_pushes_are_merged_once),
        cmocka_unit_test(pairwise_conserves_the_sum_when_the_initiator_moved),
        cmocka_unit_test(concurrent_exchanges_overlap_and_conserve_the_sum),
        cmocka_unit_test(bounded_staleness_waits_for_a_merge),
        cmocka_unit_test(leave_sends_to_everyone_in_the_view),
        cmocka_unit_test(rejoin_pulls_a_fresh_model_before_training),
        cmocka_unit_test(rejoin_gives_up_when_nobody_answers),
        cmocka_unit_test(rejoin_takes_a_push_as_the_fresh_model),
        cmocka_unit_test(saved_state_round_trips_and_bad_blobs_are_refused),
        cmocka_unit_test(items_only_peers_are_accepted),
        cmocka_unit_test(an_item_exchange_step_by_step),
        cmocka_unit_test(items_converge_to_the_union_without_duplicates),
        cmocka_unit_test(the_byte_budget_splits_items_across_rounds),
        cmocka_unit_test(a_peer_that_was_down_gets_everything_later),
        cmocka_unit_test(a_bad_item_is_not_forwarded),
        cmocka_unit_test(items_during_a_step_wait_and_reach_the_shell_once),
        cmocka_unit_test(an_items_flood_is_capped_at_items_max),
        cmocka_unit_test(items_only_exchanges_time_out_like_pushes),
        cmocka_unit_test(vector_and_items_together),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
