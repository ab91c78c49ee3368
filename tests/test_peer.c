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
static rm_action expect(tpeer *t, rm_action_kind kind) {
    rm_action a;
    if (!rm_peer_poll(t->core, &a))
        fail_msg("expected an action of kind %d, got none", kind);
    if (a.kind != kind)
        fail_msg("expected an action of kind %d, got %d", kind, a.kind);
    return a;
}

static void expect_none(tpeer *t) {
    rm_action a;
    if (rm_peer_poll(t->core, &a))
        fail_msg("expected no action, got kind %d", a.kind);
}

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

/* Builds a PUSH from `from` carrying model y. */
static rm_action push_of(const tpeer *from, const float *y, uint32_t n) {
    rm_frame f;
    memset(&f, 0, sizeof f);
    static uint64_t exchange = 77; /* a new exchange each time */
    f.type = RM_FRAME_PUSH;
    f.u.ex.exchange = exchange++;
    f.u.ex.incarnation = 1;
    f.u.ex.version = 1;
    f.u.ex.weight = (double)RM_PUSHSUM_UNIT / 2;
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
    const rm_peer_stats *st = rm_peer_get_stats(a.core);
    assert_int_equal(st->refused_nonfinite, 2);
    assert_int_equal(st->refused_shape, 1);
    assert_int_equal(st->refused_norm, 1);
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
    expect(&b, RM_ACT_RUN_STEP);
    rm_peer_handle(b.core, 1, &(rm_input){.kind = RM_IN_STEP_DONE, .samples = 300});
    expect(&b, RM_ACT_RUN_STEP);
    rm_peer_set_training(b.core, false);
    rm_peer_handle(b.core, 1, &(rm_input){.kind = RM_IN_STEP_DONE, .samples = 0});
    expect_none(&b);
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
    expect(&a, RM_ACT_RUN_STEP);
    rm_peer_handle(a.core, 1, &(rm_input){.kind = RM_IN_STEP_DONE, .samples = 32});
    expect(&a, RM_ACT_RUN_STEP);
    rm_peer_set_training(a.core, false);
    rm_peer_handle(a.core, 1, &(rm_input){.kind = RM_IN_STEP_DONE, .samples = 0});
    expect_none(&a);
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(training_asks_for_steps_one_at_a_time),
        cmocka_unit_test(max_steps_stops_training),
        cmocka_unit_test(exchange_averages_both_sides),
        cmocka_unit_test(frames_during_a_step_wait_for_it),
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
        cmocka_unit_test(leave_sends_to_everyone_in_the_view),
        cmocka_unit_test(rejoin_pulls_a_fresh_model_before_training),
        cmocka_unit_test(rejoin_gives_up_when_nobody_answers),
        cmocka_unit_test(saved_state_round_trips_and_bad_blobs_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
