/* Tests for the dataset container (models/dataset.c) and for splits and
 * shards (models/split.c). Fixed seeds; a failing seeded check names its
 * seed. Row i of a test dataset holds the value i in every feature, so a
 * row can be recognised wherever it lands. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "models/dataset.h"

static rm_dataset make_ds(size_t n, size_t d, uint32_t classes) {
    rm_dataset ds;
    assert_int_equal(rm_dataset_alloc(&ds, n, d, RM_DTYPE_F32), RM_OK);
    ds.classes = classes;
    for (size_t i = 0; i < n; i++) {
        ds.y[i] = (int32_t)(i % classes);
        for (size_t j = 0; j < d; j++)
            ds.x_f32[i * d + j] = (float)i;
    }
    return ds;
}

static size_t row_of(const rm_dataset *ds, size_t i) {
    return (size_t)ds->x_f32[i * ds->d];
}

static void test_alloc_subset_gather(void **state) {
    (void)state;
    rm_dataset ds;
    assert_int_equal(rm_dataset_alloc(&ds, 4, 3, (rm_dtype)0), RM_EINVAL);
    assert_int_equal(rm_dataset_alloc(&ds, 4, 0, RM_DTYPE_U8), RM_EINVAL);
    assert_int_equal(rm_dataset_alloc(&ds, RM_DATA_ROWS_MAX + 1ull, 1,
                                      RM_DTYPE_U8), RM_ETOO_LARGE);
    assert_int_equal(rm_dataset_alloc(&ds, RM_DATA_ROWS_MAX, 1u << 10,
                                      RM_DTYPE_F32), RM_ETOO_LARGE);
    assert_null(ds.y);

    rm_dataset src = make_ds(5, 3, 2);
    uint32_t idx[3] = {4, 0, 4}, bad[2] = {1, 5};
    assert_int_equal(rm_dataset_subset(&src, bad, 2, &ds), RM_ERANGE);
    assert_int_equal(rm_dataset_subset(&src, idx, 3, &ds), RM_OK);
    assert_int_equal(ds.n, 3);
    assert_int_equal(ds.classes, 2);
    assert_int_equal(row_of(&ds, 0), 4);
    assert_int_equal(row_of(&ds, 1), 0);
    assert_int_equal(ds.y[0], 0);
    rm_dataset_free(&ds);

    float x[9];
    int32_t y[3];
    rm_dataset_gather(&src, idx, 3, x, y); /* scale 1: a plain copy */
    assert_float_equal(x[2], 4.0f, 0);
    assert_int_equal(y[2], 0);
    src.scale = 0.5f;
    rm_dataset_gather(&src, idx, 3, x, NULL);
    assert_float_equal(x[8], 2.0f, 0);
    assert_float_equal(x[3], 0.0f, 0);

    size_t counts[2];
    rm_dataset_class_counts(&src, counts);
    assert_int_equal(counts[0], 3);
    assert_int_equal(counts[1], 2);
    rm_dataset_free(&src);
    rm_dataset_free(&src); /* safe on a zeroed dataset */
}

static void test_split(void **state) {
    (void)state;
    rm_dataset ds = make_ds(1000, 2, 10), tr, te, tr2, te2;
    rm_rng rng;
    rm_rng_seed(&rng, 42);
    assert_int_equal(rm_dataset_split(&ds, 0.2, &rng, &tr, &te), RM_OK);
    assert_int_equal(te.n, 200);
    assert_int_equal(tr.n, 800);
    /* Every row in exactly one part, each part in row order. */
    uint8_t seen[1000] = {0};
    for (size_t i = 0; i < tr.n; i++)
        seen[row_of(&tr, i)]++;
    for (size_t i = 0; i < te.n; i++)
        seen[row_of(&te, i)]++;
    for (size_t i = 0; i < 1000; i++)
        assert_int_equal(seen[i], 1);
    for (size_t i = 1; i < te.n; i++)
        assert_true(row_of(&te, i - 1) < row_of(&te, i));

    rm_rng_seed(&rng, 42); /* same seed, same split */
    assert_int_equal(rm_dataset_split(&ds, 0.2, &rng, &tr2, &te2), RM_OK);
    assert_memory_equal(te.x_f32, te2.x_f32, te.n * te.d * sizeof(float));
    rm_dataset_free(&tr2);
    rm_dataset_free(&te2);
    rm_rng_seed(&rng, 43); /* another seed, another split */
    assert_int_equal(rm_dataset_split(&ds, 0.2, &rng, &tr2, &te2), RM_OK);
    assert_true(memcmp(te.x_f32, te2.x_f32, te.n * te.d * sizeof(float)));
    rm_dataset_free(&tr2);
    rm_dataset_free(&te2);
    rm_dataset_free(&tr);
    rm_dataset_free(&te);

    rm_dataset ten = make_ds(10, 1, 2);
    assert_int_equal(rm_dataset_split(&ten, 0.25, &rng, &tr, &te), RM_OK);
    assert_int_equal(te.n, 3); /* round(2.5) */
    rm_dataset_free(&tr);
    rm_dataset_free(&te);
    assert_int_equal(rm_dataset_split(&ten, 0.0, &rng, &tr, &te), RM_OK);
    assert_int_equal(te.n, 0);
    assert_int_equal(tr.n, 10);
    rm_dataset_free(&tr);
    rm_dataset_free(&te);
    assert_int_equal(rm_dataset_split(&ten, 1.5, &rng, &tr, &te), RM_EINVAL);
    assert_int_equal(rm_dataset_split(&ten, -0.1, &rng, &tr, &te), RM_EINVAL);
    assert_int_equal(rm_dataset_split(&ten, NAN, &rng, &tr, &te), RM_EINVAL);
    rm_dataset_free(&ten);
    rm_dataset_free(&ds);
}

static void test_shard_iid(void **state) {
    (void)state;
    enum { N = 1003, P = 10 };
    rm_dataset ds = make_ds(N, 1, 10);
    uint32_t a[N], b[N];
    for (uint64_t seed = 1; seed <= 5; seed++) {
        rm_rng rng;
        rm_rng_seed(&rng, seed);
        assert_int_equal(rm_dataset_shard(&ds, P, RM_SHARD_IID, 0, &rng, a),
                         RM_OK);
        size_t size[P] = {0};
        for (size_t i = 0; i < N; i++) {
            assert_true(a[i] < P);
            size[a[i]]++;
        }
        for (int k = 0; k < P; k++)
            if (size[k] != 100 && size[k] != 101)
                fail_msg("seed %llu: shard %d has %zu rows",
                         (unsigned long long)seed, k, size[k]);
        rm_rng_seed(&rng, seed);
        assert_int_equal(rm_dataset_shard(&ds, P, RM_SHARD_IID, 0, &rng, b),
                         RM_OK);
        assert_memory_equal(a, b, sizeof a);
    }
    rm_rng rng;
    rm_rng_seed(&rng, 99);
    assert_int_equal(rm_dataset_shard(&ds, P, RM_SHARD_IID, 0, &rng, b), RM_OK);
    assert_true(memcmp(a, b, sizeof a));
    assert_int_equal(rm_dataset_shard(&ds, 0, RM_SHARD_IID, 0, &rng, b),
                     RM_EINVAL);
    assert_int_equal(rm_dataset_shard(&ds, P, (rm_shard_kind)7, 0, &rng, b),
                     RM_EINVAL);
    rm_dataset_free(&ds);
}

/* Mean over non-empty peers of the fraction of a peer's rows that belong
 * to its two largest classes. */
static double top2_share(const rm_dataset *ds, const uint32_t *shard_of,
                         uint32_t peers) {
    static size_t cnt[64][10];
    memset(cnt, 0, sizeof cnt);
    for (size_t i = 0; i < ds->n; i++)
        cnt[shard_of[i]][ds->y[i]]++;
    double sum = 0;
    int used = 0;
    for (uint32_t k = 0; k < peers; k++) {
        size_t total = 0, m1 = 0, m2 = 0;
        for (int c = 0; c < 10; c++) {
            size_t v = cnt[k][c];
            total += v;
            if (v > m1)
                m2 = m1, m1 = v;
            else if (v > m2)
                m2 = v;
        }
        if (total) {
            sum += (double)(m1 + m2) / (double)total;
            used++;
        }
    }
    return sum / used;
}

static void test_shard_label_skew(void **state) {
    (void)state;
    enum { N = 10000, P = 20 };
    rm_dataset ds = make_ds(N, 1, 10);
    static uint32_t a[N], b[N];
    for (uint64_t seed = 1; seed <= 5; seed++) {
        rm_rng rng;
        rm_rng_seed(&rng, seed);
        assert_int_equal(
            rm_dataset_shard(&ds, P, RM_SHARD_LABEL_SKEW, 0.1, &rng, a), RM_OK);
        for (size_t i = 0; i < N; i++)
            assert_true(a[i] < P);
        double skewed = top2_share(&ds, a, P);
        rm_rng_seed(&rng, seed);
        assert_int_equal(
            rm_dataset_shard(&ds, P, RM_SHARD_LABEL_SKEW, 0.1, &rng, b), RM_OK);
        assert_memory_equal(a, b, sizeof a);

        assert_int_equal(
            rm_dataset_shard(&ds, P, RM_SHARD_LABEL_SKEW, 100, &rng, b), RM_OK);
        double even = top2_share(&ds, b, P);
        size_t size[P] = {0};
        for (size_t i = 0; i < N; i++)
            size[b[i]]++;
        for (int k = 0; k < P; k++)
            if (size[k] < 400 || size[k] > 600)
                fail_msg("seed %llu: alpha 100 gave peer %d %zu rows",
                         (unsigned long long)seed, k, size[k]);
        /* Uniform would be 0.2; one class per peer would be 1. */
        if (!(skewed > 0.75 && even < 0.3))
            fail_msg("seed %llu: top-2 class share %.3f at alpha 0.1, %.3f "
                     "at alpha 100", (unsigned long long)seed, skewed, even);
    }
    rm_rng rng;
    rm_rng_seed(&rng, 1);
    assert_int_equal(rm_dataset_shard(&ds, P, RM_SHARD_LABEL_SKEW, 0, &rng, a),
                     RM_EINVAL);
    assert_int_equal(rm_dataset_shard(&ds, P, RM_SHARD_LABEL_SKEW, NAN, &rng,
                                      a), RM_EINVAL);
    /* At alpha 1e-6 all of a class's gamma draws almost surely underflow
     * to 0; the class then goes whole to one peer, and rows still all land. */
    assert_int_equal(
        rm_dataset_shard(&ds, P, RM_SHARD_LABEL_SKEW, 1e-6, &rng, a), RM_OK);
    for (size_t i = 0; i < N; i++)
        assert_true(a[i] < P);
    ds.y[7] = 10; /* outside ds.classes */
    assert_int_equal(
        rm_dataset_shard(&ds, P, RM_SHARD_LABEL_SKEW, 1, &rng, a), RM_EINVAL);
    rm_dataset_free(&ds);
}

static void test_take_shard(void **state) {
    (void)state;
    rm_dataset ds = make_ds(7, 2, 3), out;
    uint32_t shard_of[7] = {1, 0, 1, 1, 2, 0, 1};
    assert_int_equal(rm_dataset_take_shard(&ds, shard_of, 1, &out), RM_OK);
    assert_int_equal(out.n, 4);
    assert_int_equal(out.d, 2);
    assert_int_equal(out.classes, 3);
    size_t want[4] = {0, 2, 3, 6};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(row_of(&out, (size_t)i), want[i]);
        assert_int_equal(out.y[i], (int32_t)(want[i] % 3));
    }
    rm_dataset_free(&out);
    assert_int_equal(rm_dataset_take_shard(&ds, shard_of, 5, &out), RM_OK);
    assert_int_equal(out.n, 0); /* an empty shard is an empty dataset */
    rm_dataset_free(&out);
    rm_dataset_free(&ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_subset_gather),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_shard_iid),
        cmocka_unit_test(test_shard_label_skew),
        cmocka_unit_test(test_take_shard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
