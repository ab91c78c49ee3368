/* The simulator's building blocks: event heap, distributions, link model,
 * topologies. Randomized checks use fixed seeds and print the seed when they
 * fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/dist.h"
#include "sim/heap.h"
#include "sim/link.h"
#include "sim/topology.h"

/* Fails the test, naming the seed that reproduces it. */
#define CHECK_SEED(cond, seed)                                               \
    do {                                                                     \
        if (!(cond)) {                                                       \
            print_error("%s:%d: %s failed (seed %llu)\n", __FILE__,          \
                        __LINE__, #cond, (unsigned long long)(seed));        \
            fail();                                                          \
        }                                                                    \
    } while (0)

/* ---- heap */

static void heap_equal_times_pop_in_push_order(void **state) {
    (void)state;
    rm_heap h;
    assert_int_equal(rm_heap_init(&h, 0), RM_OK);
    assert_null(rm_heap_peek(&h));
    rm_event e;
    assert_int_equal(rm_heap_pop(&h, &e), 0);
    /* Times 7, 3, 7, 3, ...: all the 3s in push order, then all the 7s. */
    for (uint64_t i = 0; i < 1000; i++) {
        rm_event in = {.time_us = i % 2 ? 3 : 7, .seq = 12345, .arg = i};
        assert_int_equal(rm_heap_push(&h, in), RM_OK);
    }
    assert_int_equal(h.len, 1000);
    uint64_t prev_arg = 0;
    for (int i = 0; i < 1000; i++) {
        const rm_event *top = rm_heap_peek(&h);
        assert_non_null(top);
        rm_event want = *top;
        assert_int_equal(rm_heap_pop(&h, &e), 1);
        assert_memory_equal(&e, &want, sizeof e);
        assert_int_equal(e.time_us, i < 500 ? 3 : 7);
        assert_int_equal(e.arg % 2, i < 500 ? 1 : 0);
        if (i != 0 && i != 500)
            assert_true(e.arg > prev_arg);
        prev_arg = e.arg;
    }
    assert_int_equal(rm_heap_pop(&h, &e), 0);
    rm_heap_free(&h);
}

static int cmp_time_seq(const void *pa, const void *pb) {
    const rm_event *a = pa, *b = pb;
    if (a->time_us != b->time_us)
        return a->time_us < b->time_us ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Bulk: 100,000 pushes with many equal times, then pops, against qsort of
 * the same events by (time, seq). */
static void heap_matches_sort(void **state) {
    (void)state;
    enum { N = 100000 };
    rm_event *ref = malloc(N * sizeof *ref);
    assert_non_null(ref);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        rm_rng r;
        rm_rng_seed(&r, seed);
        rm_heap h;
        assert_int_equal(rm_heap_init(&h, 4), RM_OK);
        uint64_t range = seed == 1 ? 50 : UINT64_C(1) << 40;
        for (uint32_t i = 0; i < N; i++) {
            rm_event e = {.time_us = rm_rng_below(&r, range), .peer = i};
            assert_int_equal(rm_heap_push(&h, e), RM_OK);
            e.seq = i;
            ref[i] = e;
        }
        qsort(ref, N, sizeof *ref, cmp_time_seq);
        for (uint32_t i = 0; i < N; i++) {
            rm_event e;
            CHECK_SEED(rm_heap_pop(&h, &e) == 1, seed);
            CHECK_SEED(e.time_us == ref[i].time_us && e.peer == ref[i].peer &&
                           e.seq == ref[i].seq,
                       seed);
        }
        CHECK_SEED(h.len == 0, seed);
        rm_heap_free(&h);
    }
    free(ref);
}

/* Interleaved pushes and pops, as a simulator does them (each pop may push
 * events at or after the popped time), against a linear-scan reference. */
static void heap_interleaved_matches_reference(void **state) {
    (void)state;
    enum { CAP = 4096 };
    rm_event *ref = malloc(CAP * sizeof *ref);
    assert_non_null(ref);
    for (uint64_t seed = 100; seed < 120; seed++) {
        rm_rng r;
        rm_rng_seed(&r, seed);
        rm_heap h;
        assert_int_equal(rm_heap_init(&h, 1), RM_OK);
        size_t nref = 0;
        uint64_t now = 0, pushed = 0;
        for (int op = 0; op < 6000; op++) {
            if (nref < CAP && (nref == 0 || rm_rng_below(&r, 100) < 55)) {
                rm_event e = {.time_us = now + rm_rng_below(&r, 20),
                              .arg = pushed};
                assert_int_equal(rm_heap_push(&h, e), RM_OK);
                e.seq = pushed++;
                ref[nref++] = e;
                continue;
            }
            size_t best = 0;
            for (size_t i = 1; i < nref; i++)
                if (cmp_time_seq(&ref[i], &ref[best]) < 0)
                    best = i;
            rm_event e;
            CHECK_SEED(rm_heap_pop(&h, &e) == 1, seed);
            CHECK_SEED(e.arg == ref[best].arg && e.seq == ref[best].seq, seed);
            CHECK_SEED(e.time_us >= now, seed);
            now = e.time_us;
            ref[best] = ref[--nref];
        }
        CHECK_SEED(h.len == nref, seed);
        rm_heap_free(&h);
    }
    free(ref);
}

/* ---- distributions */

static void dist_sample_means(void **state) {
    (void)state;
    static const struct {
        const char *spec;
        double lo, hi; /* every draw in [lo, hi] */
    } cases[] = {
        {"const:80", 80, 80},          {"uniform:50,120", 50, 120},
        {"normal:80,10", 0, 1e12},     {"normal:1,2", 0, 1e12},
        {"lognormal:80,0.5", 0, 1e12}, {"pareto:40,2.5", 40, 1e12},
        {"exp:60", 0, 1e12},           {"uniform:3,3", 3, 3},
    };
    const int n = 200000;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint64_t seed = 1000 + c;
        rm_dist d;
        rm_diag diag = {{0}};
        assert_int_equal(rm_dist_parse(cases[c].spec, &d, &diag), RM_OK);
        rm_rng r;
        rm_rng_seed(&r, seed);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            double x = rm_dist_sample(&d, &r);
            CHECK_SEED(x >= cases[c].lo && x <= cases[c].hi, seed);
            sum += x;
        }
        double mean = rm_dist_mean(&d), got = sum / n;
        if (!(fabs(got - mean) <= 0.01 * mean + 1e-12)) {
            print_error("%s: sample mean %g, mean %g (seed %llu)\n",
                        cases[c].spec, got, mean, (unsigned long long)seed);
            fail();
        }
    }
    /* The rectified normal's mean is above a, not a: draws below 0 give 0. */
    rm_dist d = {.kind = RM_DIST_NORMAL, .a = 1, .b = 2};
    assert_true(rm_dist_mean(&d) > 1.3);
    d = (rm_dist){.kind = RM_DIST_PARETO, .a = 40, .b = 1};
    assert_true(isinf(rm_dist_mean(&d)));
    d = (rm_dist){.kind = RM_DIST_LOGNORMAL, .a = 80, .b = 0};
    assert_true(rm_dist_mean(&d) == 80);
}

/* Heavy tails stay finite and bounded; draw counts depend on the kind only. */
static void dist_draws_are_bounded_and_counted(void **state) {
    (void)state;
    rm_dist d;
    assert_int_equal(rm_dist_parse("pareto:1,0.05", &d, NULL), RM_OK);
    rm_rng r, ref;
    rm_rng_seed(&r, 9);
    for (int i = 0; i < 10000; i++) {
        double x = rm_dist_sample(&d, &r);
        assert_true(x >= 1 && x <= RM_DIST_VALUE_MAX);
    }
    static const struct {
        const char *spec;
        int draws;
    } counts[] = {{"const:1", 0},       {"uniform:1,2", 1}, {"normal:1,2", 2},
                  {"lognormal:1,2", 2}, {"pareto:1,2", 1},  {"exp:1", 1}};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        assert_int_equal(rm_dist_parse(counts[c].spec, &d, NULL), RM_OK);
        rm_rng_seed(&r, 5);
        rm_rng_seed(&ref, 5);
        rm_dist_sample(&d, &r);
        for (int i = 0; i < counts[c].draws; i++)
            rm_rng_u64(&ref);
        assert_memory_equal(&r, &ref, sizeof r);
    }
}

static void dist_parse_and_format_round_trip(void **state) {
    (void)state;
    static const char *good[] = {"const:80",        "uniform:50,120",
                                 "normal:80,10",    "lognormal:80,0.5",
                                 "pareto:40,1.5",   "exp:60",
                                 "const:0",         "normal:0.1,0.3333333333333333",
                                 "exp:1e-05",       "uniform:0,1000000000000"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        rm_dist d, back;
        rm_diag diag = {{0}};
        assert_int_equal(rm_dist_parse(good[i], &d, &diag), RM_OK);
        char buf[64];
        rm_dist_format(&d, buf, sizeof buf);
        assert_string_equal(buf, good[i]);
        assert_int_equal(rm_dist_parse(buf, &back, &diag), RM_OK);
        assert_memory_equal(&d, &back, sizeof d);
    }
    rm_dist d;
    assert_int_equal(rm_dist_parse("lognormal:80,0.5", &d, NULL), RM_OK);
    assert_int_equal(d.kind, RM_DIST_LOGNORMAL);
    assert_true(d.a == 80 && d.b == 0.5);
    /* A short buffer truncates and stays terminated. */
    char tiny[6];
    rm_dist_format(&d, tiny, sizeof tiny);
    assert_string_equal(tiny, "logno");
}

static void dist_parse_errors_say_why(void **state) {
    (void)state;
    static const struct {
        const char *s, *why;
    } bad[] = {
        {"gauss:1", "unknown distribution 'gauss'"},
        {"", "unknown distribution"},
        {"const", "needs 1 parameter"},
        {"uniform", "needs 2 parameters"},
        {"const:", "parameter 1 is not a finite number"},
        {"const:1,2", "takes 1 parameter, not 2"},
        {"uniform:1", "takes 2 parameters, not 1"},
        {"uniform:1,2,3", "takes 2 parameters"},
        {"uniform:1,", "parameter 2 is not a finite number"},
        {"uniform:5,1", "low 5 is above high 1"},
        {"const:-1", "parameter 1 is negative"},
        {"normal:80,-1", "parameter 2 is negative"},
        {"const:inf", "not a finite number"},
        {"const:nan", "not a finite number"},
        {"const: 1", "not a finite number"},
        {"const:1e400", "not a finite number"},
        {"const:1e13", "exceeds"},
        {"exp:1x", "unexpected 'x' after parameter 1"},
        {"lognormal:0,1", "median must be > 0"},
        {"pareto:0,1", "scale must be > 0"},
        {"pareto:1,0", "alpha must be > 0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rm_dist d = {.kind = RM_DIST_EXP, .a = 1, .b = 1};
        rm_diag diag = {{0}};
        int err = rm_dist_parse(bad[i].s, &d, &diag);
        if (err != RM_EINVAL || !strstr(diag.msg, bad[i].why)) {
            print_error("'%s': got %d '%s', want '%s'\n", bad[i].s, err,
                        diag.msg, bad[i].why);
            fail();
        }
        assert_int_equal(d.kind, RM_DIST_CONST);
        assert_true(d.a == 0 && d.b == 0);
    }
    rm_dist d;
    assert_int_equal(rm_dist_parse(NULL, &d, NULL), RM_EINVAL);
}

/* ---- links */

static rm_link_model model_ideal(void) {
    rm_link_model m;
    rm_link_model_ideal(&m);
    return m;
}

static void link_ideal_delivers_now(void **state) {
    (void)state;
    rm_link_model m = model_ideal();
    rm_link_state s = {0};
    rm_rng r;
    rm_rng_seed(&r, 1);
    uint64_t at[2];
    for (uint64_t now = 0; now < 1000000; now += 777) {
        assert_int_equal(rm_link_send(&m, &s, now, 1 << 20, &r, at), 1);
        assert_int_equal(at[0], now);
    }
}

static void link_const_latency_is_exact(void **state) {
    (void)state;
    rm_link_model m = model_ideal();
    assert_int_equal(rm_dist_parse("const:80", &m.latency, NULL), RM_OK);
    assert_int_equal(rm_dist_parse("const:0.25", &m.jitter, NULL), RM_OK);
    rm_link_state s = {0};
    rm_rng r;
    rm_rng_seed(&r, 2);
    uint64_t at[2];
    assert_int_equal(rm_link_send(&m, &s, 1000, 100, &r, at), 1);
    assert_int_equal(at[0], 1000 + 80000 + 250);
    assert_int_equal(rm_link_send(&m, &s, 5000, 100, &r, at), 1);
    assert_int_equal(at[0], 5000 + 80250);
}

static void link_bandwidth_serialises(void **state) {
    (void)state;
    rm_link_model m = model_ideal();
    m.bandwidth_bps = 1e6; /* 1000 bytes take 1 ms */
    assert_int_equal(rm_dist_parse("const:10", &m.latency, NULL), RM_OK);
    rm_link_state s = {0};
    rm_rng r;
    rm_rng_seed(&r, 3);
    uint64_t a[2], b[2], c[2];
    assert_int_equal(rm_link_send(&m, &s, 0, 1000, &r, a), 1);
    assert_int_equal(rm_link_send(&m, &s, 0, 1000, &r, b), 1);
    assert_int_equal(a[0], 1000 + 10000);
    assert_int_equal(b[0] - a[0], 1000);
    assert_int_equal(s.busy_until_us, 2000);
    /* After the wire went idle, a message starts when it is sent. */
    assert_int_equal(rm_link_send(&m, &s, 50000, 500, &r, c), 1);
    assert_int_equal(c[0], 50000 + 500 + 10000);
}

/* Sends count messages at 1 ms intervals; returns how many were lost and
 * fills lost_at[i] when given. */
static int run_fates(const rm_link_model *m, uint64_t seed, int count,
                     uint8_t *lost_at, int *dups) {
    rm_link_state s = {0};
    rm_rng r;
    rm_rng_seed(&r, seed);
    int lost = 0;
    if (dups)
        *dups = 0;
    for (int i = 0; i < count; i++) {
        uint64_t at[2];
        int k = rm_link_send(m, &s, (uint64_t)i * 1000, 100, &r, at);
        lost += k == 0;
        if (lost_at)
            lost_at[i] = k == 0;
        if (dups && k == 2)
            (*dups)++;
    }
    return lost;
}

static void link_bernoulli_loss_rate(void **state) {
    (void)state;
    rm_link_model m = model_ideal();
    m.loss = 0.1;
    const int n = 100000;
    uint64_t seed = 4;
    int lost = run_fates(&m, seed, n, NULL, NULL);
    /* sd of the rate is sqrt(0.09 / n) = 0.00095; 5 sd. */
    CHECK_SEED(fabs((double)lost / n - 0.1) < 0.005, seed);
}

static void link_gilbert_elliott_bursts(void **state) {
    (void)state;
    rm_link_model m = model_ideal();
    m.ge_on = true;
    m.ge_p_good_bad = 0.01;
    m.ge_p_bad_good = 0.25;
    m.ge_loss_good = 0;
    m.ge_loss_bad = 1;
    enum { N = 400000 };
    uint8_t *lost = malloc(N);
    assert_non_null(lost);
    uint64_t seed = 5;
    int nlost = run_fates(&m, seed, N, lost, NULL);
    int bursts = 0;
    for (int i = 0; i < N; i++)
        bursts += lost[i] && (i == 0 || !lost[i - 1]);
    double stationary = 0.01 / (0.01 + 0.25); /* P(bad) = 0.0385 */
    double rate = (double)nlost / N, burst = (double)nlost / bursts;
    if (!(fabs(rate - stationary) < 0.1 * stationary &&
          fabs(burst - 1 / 0.25) < 0.1 * 4)) {
        print_error("loss rate %g (want %g), mean burst %g (want 4), seed %llu\n",
                    rate, stationary, burst, (unsigned long long)seed);
        fail();
    }
    /* With Bernoulli loss on top, a message is lost if either says so. */
    m.ge_loss_good = 0.02;
    m.ge_loss_bad = 0.5;
    m.loss = 0.05;
    seed = 6;
    nlost = run_fates(&m, seed, N, lost, NULL);
    double ge = stationary * 0.5 + (1 - stationary) * 0.02;
    double want = 1 - (1 - 0.05) * (1 - ge);
    CHECK_SEED(fabs((double)nlost / N - want) < 0.05 * want, seed);
    free(lost);
}

static void link_duplicates(void **state) {
    (void)state;
    rm_link_model m = model_ideal();
    m.duplicate = 0.05;
    assert_int_equal(rm_dist_parse("uniform:10,20", &m.latency, NULL), RM_OK);
    rm_link_state s = {0};
    rm_rng r;
    uint64_t seed = 7;
    rm_rng_seed(&r, seed);
    const int n = 100000;
    int dups = 0;
    for (int i = 0; i < n; i++) {
        uint64_t at[2], now = (uint64_t)i * 100;
        int k = rm_link_send(&m, &s, now, 10, &r, at);
        CHECK_SEED(k == 1 || k == 2, seed);
        if (k == 2) {
            dups++;
            CHECK_SEED(at[1] >= at[0] + 10000 && at[1] <= at[0] + 20000, seed);
        }
    }
    /* sd of the rate is sqrt(0.0475 / n) = 0.0007. */
    CHECK_SEED(fabs((double)dups / n - 0.05) < 0.0035, seed);
}

/* Counts i with arrival[i] < arrival[i - 1] over n messages sent 1 ms apart
 * with latency 10..100 ms: overtaking is possible unless FIFO holds. */
static int count_overtakes(double reorder, uint64_t seed, int n) {
    rm_link_model m = model_ideal();
    m.reorder = reorder;
    assert_int_equal(rm_dist_parse("uniform:10,100", &m.latency, NULL), RM_OK);
    assert_int_equal(rm_dist_parse("exp:5", &m.jitter, NULL), RM_OK);
    rm_link_state s = {0};
    rm_rng r;
    rm_rng_seed(&r, seed);
    uint64_t prev = 0;
    int overtakes = 0;
    for (int i = 0; i < n; i++) {
        uint64_t at[2];
        assert_int_equal(rm_link_send(&m, &s, (uint64_t)i * 1000, 10, &r, at), 1);
        overtakes += i > 0 && at[0] < prev;
        prev = at[0];
        assert_true(s.last_arrival_us >= at[0]);
    }
    return overtakes;
}

static void link_fifo_unless_reordered(void **state) {
    (void)state;
    uint64_t seed = 8;
    CHECK_SEED(count_overtakes(0, seed, 10000) == 0, seed);
    int o = count_overtakes(0.1, seed, 10000);
    CHECK_SEED(o > 100 && o < 1200, seed); /* ~10% reorder, most overtake */
}

/* Same seed, same fates; and a probability changes only its own decisions:
 * the draws behind every other decision stay where they were. */
static void link_fates_replay(void **state) {
    (void)state;
    rm_link_model m = model_ideal();
    m.loss = 0.1;
    m.duplicate = 0.1;
    m.reorder = 0.1;
    m.bandwidth_bps = 1e5;
    m.ge_on = true;
    m.ge_p_good_bad = 0.05;
    m.ge_p_bad_good = 0.3;
    m.ge_loss_bad = 0.8;
    assert_int_equal(rm_dist_parse("lognormal:40,0.5", &m.latency, NULL), RM_OK);
    assert_int_equal(rm_dist_parse("normal:2,1", &m.jitter, NULL), RM_OK);
    enum { N = 5000 };
    static uint64_t got[2][N][3];
    for (int run = 0; run < 2; run++) {
        rm_link_state s = {0};
        rm_rng r;
        rm_rng_seed(&r, 99);
        for (int i = 0; i < N; i++) {
            uint64_t at[2] = {0, 0};
            int k = rm_link_send(&m, &s, (uint64_t)i * 700, 300, &r, at);
            got[run][i][0] = (uint64_t)k;
            got[run][i][1] = k > 0 ? at[0] : 0;
            got[run][i][2] = k > 1 ? at[1] : 0;
        }
    }
    assert_memory_equal(got[0], got[1], sizeof got[0]);

    /* Ideal model: five uniforms per call and nothing else. */
    rm_link_model ideal = model_ideal();
    rm_link_state s = {0};
    rm_rng r, ref;
    rm_rng_seed(&r, 11);
    rm_rng_seed(&ref, 11);
    uint64_t at[2];
    rm_link_send(&ideal, &s, 0, 1, &r, at);
    for (int i = 0; i < 5; i++)
        rm_rng_u64(&ref);
    assert_memory_equal(&r, &ref, sizeof r);

    /* Raising the duplicate probability leaves every loss where it was. */
    enum { M = 20000 };
    uint8_t *a = malloc(M), *b = malloc(M);
    assert_non_null(a);
    assert_non_null(b);
    rm_link_model m2 = m;
    m2.duplicate = 0.6;
    m2.reorder = 0.9;
    int da, db;
    run_fates(&m, 12, M, a, &da);
    run_fates(&m2, 12, M, b, &db);
    assert_memory_equal(a, b, M);
    assert_true(db > 3 * da);
    free(a);
    free(b);
}

/* ---- topologies */

/* No self loops, no duplicates, ids in range; symmetric when undirected;
 * connected. Degrees into deg (n). */
static void check_topology(const rm_topology *t, int undirected,
                           uint64_t seed) {
    uint32_t n = t->n;
    uint32_t *stamp = calloc(n, sizeof *stamp);
    assert_non_null(stamp);
    CHECK_SEED(t->off[0] == 0, seed);
    for (uint32_t i = 0; i < n; i++) {
        CHECK_SEED(t->off[i] <= t->off[i + 1], seed);
        for (uint32_t e = t->off[i]; e < t->off[i + 1]; e++) {
            uint32_t j = t->nbr[e];
            CHECK_SEED(j < n && j != i, seed);
            CHECK_SEED(stamp[j] != i + 1, seed); /* duplicate */
            stamp[j] = i + 1;
        }
    }
    if (undirected) {
        /* j in nbr(i) iff i in nbr(j): count the (i, j) pairs with i < j and
         * j > i from both sides, and check each back edge exists. */
        for (uint32_t i = 0; i < n; i++)
            for (uint32_t e = t->off[i]; e < t->off[i + 1]; e++) {
                uint32_t j = t->nbr[e], found = 0;
                for (uint32_t f = t->off[j]; f < t->off[j + 1]; f++)
                    found |= t->nbr[f] == i;
                CHECK_SEED(found, seed);
            }
    }
    CHECK_SEED(rm_topo_connected(t) == 1, seed);
    free(stamp);
}

static void check_degrees(const rm_topology *t, uint32_t d, uint64_t seed) {
    for (uint32_t i = 0; i < t->n; i++)
        CHECK_SEED(t->off[i + 1] - t->off[i] == d, seed);
}

static rm_topology build(const char *spec_text, uint32_t n, uint64_t seed) {
    rm_topo_spec spec;
    rm_diag diag = {{0}};
    assert_int_equal(rm_topo_parse(spec_text, &spec, &diag), RM_OK);
    rm_rng r;
    rm_rng_seed(&r, seed);
    rm_topology t;
    int err = rm_topo_build(&spec, n, &r, &t);
    if (err) {
        print_error("%s, n = %u: %s (seed %llu)\n", spec_text, n,
                    rm_strerror(err), (unsigned long long)seed);
        fail();
    }
    return t;
}

static int build_err(const char *spec_text, uint32_t n) {
    rm_topo_spec spec;
    assert_int_equal(rm_topo_parse(spec_text, &spec, NULL), RM_OK);
    rm_rng r;
    rm_rng_seed(&r, 1);
    rm_topology t = {.n = 77};
    int err = rm_topo_build(&spec, n, &r, &t);
    assert_true(err == RM_OK || (t.n == 0 && !t.off && !t.nbr));
    rm_topo_free(&t);
    return err;
}

static void topo_full(void **state) {
    (void)state;
    static const struct {
        const char *spec;
        uint32_t n, k;
    } cases[] = {{"full", 10000, 8}, {"full", 5, 4},     {"full", 2, 1},
                 {"full", 1, 0},     {"full:3", 10, 3},  {"full:9", 10, 9},
                 {"full:1", 1000, 1}, {"full:60", 100, 60}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint64_t seed = 20 + c;
        rm_topology t = build(cases[c].spec, cases[c].n, seed);
        check_degrees(&t, cases[c].k, seed);
        check_topology(&t, 0, seed);
        rm_topo_free(&t);
    }
    /* More seeds than others is all of them (scenarios default to k = 8). */
    rm_topology t = build("full:10", 10, 1);
    check_degrees(&t, 9, 1);
    rm_topo_free(&t);
    t = build("full:8", 1, 1);
    check_degrees(&t, 0, 1);
    rm_topo_free(&t);
    assert_int_equal(build_err("full", 0), RM_EINVAL);
}

static void topo_ring_and_exponential(void **state) {
    (void)state;
    rm_topology t = build("ring", 10, 1);
    check_degrees(&t, 2, 1);
    check_topology(&t, 1, 1);
    for (uint32_t i = 0; i < 10; i++) {
        uint32_t a = t.nbr[2 * i], b = t.nbr[2 * i + 1];
        assert_true((a == (i + 1) % 10 && b == (i + 9) % 10));
    }
    rm_topo_free(&t);
    t = build("ring", 2, 1);
    check_degrees(&t, 1, 1);
    check_topology(&t, 1, 1);
    rm_topo_free(&t);
    t = build("ring", 1, 1);
    check_degrees(&t, 0, 1);
    assert_int_equal(rm_topo_connected(&t), 1);
    rm_topo_free(&t);

    static const struct {
        uint32_t n, d;
    } exp_cases[] = {{1, 0}, {2, 1}, {3, 2}, {8, 3}, {9, 4}, {1000, 10}, {1025, 11}};
    for (size_t c = 0; c < sizeof exp_cases / sizeof exp_cases[0]; c++) {
        t = build("exponential", exp_cases[c].n, 1);
        check_degrees(&t, exp_cases[c].d, c);
        check_topology(&t, 0, c);
        for (uint32_t i = 0; i < t.n; i++)
            for (uint32_t j = 0; j < exp_cases[c].d; j++)
                assert_int_equal(t.nbr[t.off[i] + j], (i + (1u << j)) % t.n);
        rm_topo_free(&t);
    }
    /* Directed: 0 -> 1 but not 1 -> 0 for n = 8. Reversing one edge of a
     * directed cycle shows connected() checks both directions. */
    t = build("exponential", 8, 1);
    for (uint32_t e = t.off[1]; e < t.off[2]; e++)
        assert_int_not_equal(t.nbr[e], 0);
    rm_topo_free(&t);
    uint32_t off[4] = {0, 1, 2, 3}, nbr[3] = {1, 2, 0};
    rm_topology cycle = {.n = 3, .off = off, .nbr = nbr};
    assert_int_equal(rm_topo_connected(&cycle), 1);
    nbr[2] = 1; /* 2 -> 1: nothing reaches 0 any more */
    assert_int_equal(rm_topo_connected(&cycle), 0);
}

static void topo_kregular(void **state) {
    (void)state;
    static const struct {
        uint32_t n, k;
    } cases[] = {{10000, 8}, {1000, 3}, {50, 2},  {2, 1},   {10, 9},
                 {10, 8},    {11, 6},   {12, 7},  {30, 16}, {7, 4}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char spec[32];
        snprintf(spec, sizeof spec, "kregular:%u", cases[c].k);
        for (uint64_t seed = 30; seed < (cases[c].n > 2000 ? 31 : 40); seed++) {
            rm_topology t = build(spec, cases[c].n, seed);
            check_degrees(&t, cases[c].k, seed);
            check_topology(&t, 1, seed);
            rm_topo_free(&t);
        }
    }
    assert_int_equal(build_err("kregular:3", 11), RM_EINVAL); /* odd n*k */
    assert_int_equal(build_err("kregular:5", 5), RM_EINVAL);  /* k >= n */
    assert_int_equal(build_err("kregular:1", 4), RM_EINVAL);  /* a matching */
    assert_int_equal(build_err("kregular:4", 0), RM_EINVAL);  /* no peers */

    /* Same seed, same graph. */
    rm_topology a = build("kregular:6", 500, 77), b = build("kregular:6", 500, 77);
    assert_memory_equal(a.nbr, b.nbr, a.off[500] * sizeof *a.nbr);
    rm_topo_free(&a);
    rm_topo_free(&b);
}

static void topo_smallworld(void **state) {
    (void)state;
    /* p = 0: the ring lattice itself. */
    rm_topology t = build("smallworld:4,0", 20, 1);
    check_degrees(&t, 4, 1);
    check_topology(&t, 1, 1);
    for (uint32_t i = 0; i < 20; i++)
        for (uint32_t e = t.off[i]; e < t.off[i + 1]; e++) {
            uint32_t d = (t.nbr[e] + 20 - i) % 20;
            assert_true(d == 1 || d == 2 || d == 18 || d == 19);
        }
    rm_topo_free(&t);

    static const struct {
        const char *spec;
        uint32_t n;
    } cases[] = {{"smallworld:6,0.1", 1000},  {"smallworld:4,0.5", 200},
                 {"smallworld:8,1", 100},     {"smallworld:2,0.05", 30},
                 {"smallworld:8,0.2", 10000}, {"smallworld:6,0.3", 7}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (uint64_t seed = 40; seed < 45; seed++) {
            t = build(cases[c].spec, cases[c].n, seed);
            rm_topo_spec spec;
            assert_int_equal(rm_topo_parse(cases[c].spec, &spec, NULL), RM_OK);
            CHECK_SEED(t.off[t.n] == t.n * spec.k, seed); /* degrees sum n*k */
            check_topology(&t, 1, seed);
            rm_topo_free(&t);
        }
    /* p = 0.1 moves about a tenth of the lattice edges. */
    t = build("smallworld:6,0.1", 1000, 3);
    uint32_t far = 0;
    for (uint32_t i = 0; i < 1000; i++)
        for (uint32_t e = t.off[i]; e < t.off[i + 1]; e++) {
            uint32_t d = (t.nbr[e] + 1000 - i) % 1000;
            far += d > 3 && d < 997;
        }
    assert_in_range(far, 2 * 240, 2 * 360); /* 300 of 3000 edges, 2 ends */
    rm_topo_free(&t);
    assert_int_equal(build_err("smallworld:4,0.1", 4), RM_EINVAL); /* k >= n */
}

static void topo_parse(void **state) {
    (void)state;
    static const struct {
        const char *s;
        rm_topo_kind kind;
        uint32_t k;
        double p;
    } good[] = {{"full", RM_TOPO_FULL, 0, 0},
                {"full:8", RM_TOPO_FULL, 8, 0},
                {"ring", RM_TOPO_RING, 2, 0},
                {"kregular:4", RM_TOPO_KREGULAR, 4, 0},
                {"exponential", RM_TOPO_EXPONENTIAL, 0, 0},
                {"smallworld:4,0.1", RM_TOPO_SMALLWORLD, 4, 0.1},
                {"smallworld:10,1", RM_TOPO_SMALLWORLD, 10, 1}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        rm_topo_spec spec;
        assert_int_equal(rm_topo_parse(good[i].s, &spec, NULL), RM_OK);
        assert_int_equal(spec.kind, good[i].kind);
        assert_int_equal(spec.k, good[i].k);
        assert_true(spec.rewire == good[i].p);
    }
    static const struct {
        const char *s, *why;
    } bad[] = {
        {"mesh", "unknown topology 'mesh'"},
        {"", "unknown topology"},
        {"ring:3", "ring takes no parameters"},
        {"exponential:2", "takes no parameters"},
        {"kregular", "needs a degree"},
        {"smallworld", "needs a degree and a rewiring probability"},
        {"kregular:0", "not an integer in 1..4096"},
        {"kregular:4097", "not an integer"},
        {"kregular:-4", "not an integer"},
        {"kregular:x", "not an integer"},
        {"kregular:4x", "unexpected 'x'"},
        {"full:8,2", "unexpected ','"},
        {"smallworld:3,0.1", "even degree"},
        {"smallworld:4", "rewiring probability"},
        {"smallworld:4,", "rewiring probability"},
        {"smallworld:4,1.5", "rewiring probability"},
        {"smallworld:4,nan", "rewiring probability"},
        {"smallworld:4,-0", "rewiring probability"},
        {"smallworld:4,0.1x", "unexpected 'x'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rm_topo_spec spec = {.kind = RM_TOPO_RING, .k = 3};
        rm_diag diag = {{0}};
        int err = rm_topo_parse(bad[i].s, &spec, &diag);
        if (err != RM_EINVAL || !strstr(diag.msg, bad[i].why)) {
            print_error("'%s': got %d '%s', want '%s'\n", bad[i].s, err,
                        diag.msg, bad[i].why);
            fail();
        }
        assert_int_equal(spec.k, 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(heap_equal_times_pop_in_push_order),
        cmocka_unit_test(heap_matches_sort),
        cmocka_unit_test(heap_interleaved_matches_reference),
        cmocka_unit_test(dist_sample_means),
        cmocka_unit_test(dist_draws_are_bounded_and_counted),
        cmocka_unit_test(dist_parse_and_format_round_trip),
        cmocka_unit_test(dist_parse_errors_say_why),
        cmocka_unit_test(link_ideal_delivers_now),
        cmocka_unit_test(link_const_latency_is_exact),
        cmocka_unit_test(link_bandwidth_serialises),
        cmocka_unit_test(link_bernoulli_loss_rate),
        cmocka_unit_test(link_gilbert_elliott_bursts),
        cmocka_unit_test(link_duplicates),
        cmocka_unit_test(link_fifo_unless_reordered),
        cmocka_unit_test(link_fates_replay),
        cmocka_unit_test(topo_full),
        cmocka_unit_test(topo_ring_and_exponential),
        cmocka_unit_test(topo_kregular),
        cmocka_unit_test(topo_smallworld),
        cmocka_unit_test(topo_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
