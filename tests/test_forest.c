/* Random forest: config specs, binning, CART splits (Gini by hand), limits
 * (depth, min_leaf), determinism by seed, the tree blob (round trip, every
 * truncation, hand-made malicious blobs, random corruption), and the forest
 * as a set (dedup by id, order independence, its own blob). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/forest.h"
#include "models/forest_internal.h"

/* ---- data --------------------------------------------------------------- */

/* n rows of d uint8 features, uniform; label = (x0 > 127) xor (x1 > 63)
 * when classes is 2, else cells of a grid over x0 and x2 (up to 8
 * classes) or a scramble of them (more). */
static void make_u8(rm_dataset *ds, size_t n, size_t d, uint32_t classes,
                    uint64_t seed) {
    rm_rng r;
    rm_rng_seed(&r, seed);
    assert_int_equal(rm_dataset_alloc(ds, n, d, RM_DTYPE_U8), RM_OK);
    ds->classes = classes;
    ds->scale = 1.0f / 255.0f;
    for (size_t i = 0; i < n; i++) {
        uint8_t *x = ds->x_u8 + i * d;
        for (size_t f = 0; f < d; f++)
            x[f] = (uint8_t)rm_rng_below(&r, 256);
        if (classes == 2)
            ds->y[i] = (x[0] > 127) ^ (x[1] > 63);
        else if (classes <= 8) /* a grid of 8 x 2 cells */
            ds->y[i] = (int32_t)(((x[0] >> 5) + (x[d > 2 ? 2 : 0] >> 7)) % classes);
        else
            ds->y[i] = (int32_t)((x[0] * 7u + x[d > 2 ? 2 : 0]) % classes);
    }
}

/* The same shape with float features: label = x0 + x1 > 0 (2 classes). */
static void make_f32(rm_dataset *ds, size_t n, size_t d, uint64_t seed) {
    rm_rng r;
    rm_rng_seed(&r, seed);
    assert_int_equal(rm_dataset_alloc(ds, n, d, RM_DTYPE_F32), RM_OK);
    ds->classes = 2;
    for (size_t i = 0; i < n; i++) {
        float *x = ds->x_f32 + i * d;
        for (size_t f = 0; f < d; f++)
            x[f] = (float)rm_rng_normal(&r);
        ds->y[i] = x[0] + x[1] > 0.0f;
    }
}

static rm_forest_config config(uint32_t depth, uint32_t min_leaf,
                               uint32_t features, bool bootstrap) {
    rm_forest_config c;
    rm_forest_config_default(&c);
    c.max_depth = depth;
    c.min_leaf = min_leaf;
    c.features_per_split = features;
    c.bootstrap = bootstrap;
    return c;
}

static rm_tree *grow(const rm_dataset *ds, const rm_forest_config *c,
                     uint64_t seed, uint64_t index) {
    rm_binned *b;
    rm_tree *t;
    assert_int_equal(rm_binned_create(&b, ds, NULL), RM_OK);
    assert_int_equal(rm_tree_grow_nth(&t, b, c, seed, index, NULL), RM_OK);
    rm_binned_free(b);
    return t;
}

/* A forest of `trees` trees of seed `seed` on ds. */
static rm_forest *grow_forest(const rm_dataset *ds, const rm_forest_config *c,
                              uint64_t seed, uint32_t trees) {
    rm_binned *b;
    rm_tree_ws *ws;
    rm_forest *f;
    assert_int_equal(rm_binned_create(&b, ds, NULL), RM_OK);
    assert_int_equal(rm_tree_ws_create(&ws, b), RM_OK);
    assert_int_equal(rm_forest_create(&f, (uint32_t)ds->d, ds->classes), RM_OK);
    for (uint32_t i = 0; i < trees; i++) {
        rm_tree *t;
        assert_int_equal(rm_tree_grow_nth(&t, b, c, seed, i, ws), RM_OK);
        assert_int_equal(rm_forest_add(f, t), RM_OK);
    }
    rm_tree_ws_free(ws);
    rm_binned_free(b);
    return f;
}

static double train_accuracy(const rm_tree *t, const rm_dataset *ds) {
    size_t hits = 0;
    for (size_t i = 0; i < ds->n; i++) {
        const rm_tree_node *nd = &t->nodes[rm_tree_leaf_of(t, ds, i)];
        const rm_tree_entry *e = t->entries + nd->next;
        uint32_t best = 0;
        for (uint32_t j = 1; j < nd->entries; j++)
            if (e[j].p > e[best].p)
                best = j;
        hits += e[best].cls == (uint32_t)ds->y[i];
    }
    return (double)hits / (double)ds->n;
}

/* ---- configuration ------------------------------------------------------ */

static void config_specs(void **state) {
    (void)state;
    rm_forest_config c;
    rm_diag d = {{0}};
    assert_int_equal(rm_forest_config_parse("forest", &c, &d), RM_OK);
    assert_int_equal(c.trees, 100);
    assert_int_equal(c.max_depth, 20);
    assert_int_equal(c.min_leaf, 1);
    assert_int_equal(c.features_per_split, 0);
    assert_true(c.bootstrap);
    assert_int_equal(rm_forest_config_parse(
                         "forest:trees=7,depth=3,min_leaf=2,features=28,bootstrap=0",
                         &c, &d),
                     RM_OK);
    assert_int_equal(c.trees, 7);
    assert_int_equal(c.max_depth, 3);
    assert_int_equal(c.min_leaf, 2);
    assert_int_equal(c.features_per_split, 28);
    assert_false(c.bootstrap);
    char buf[128];
    rm_forest_config_format(&c, buf, sizeof buf);
    assert_string_equal(buf,
                        "forest:trees=7,depth=3,min_leaf=2,features=28,bootstrap=0");
    rm_forest_config back;
    assert_int_equal(rm_forest_config_parse(buf, &back, &d), RM_OK);
    assert_memory_equal(&back, &c, sizeof c);

    const char *bad[] = {"", "forest:", "forests", "mlp:1-2", "forest:trees",
                         "forest:trees=", "forest:trees=0", "forest:depth=65",
                         "forest:depth=0", "forest:min_leaf=0", "forest:trees=1x",
                         "forest:trees=-1", "forest:trees=1,", "forest:leaves=3",
                         "forest:bootstrap=2", "forest:trees=99999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rm_forest_config keep = c;
        d.msg[0] = '\0';
        assert_int_equal(rm_forest_config_parse(bad[i], &c, &d), RM_EMODEL_SPEC);
        assert_true(strlen(d.msg) > 0);
        assert_memory_equal(&keep, &c, sizeof c);
    }
}

static void shares_add_up(void **state) {
    (void)state;
    for (uint32_t peers = 1; peers <= 17; peers++) {
        uint32_t sum = 0;
        for (uint32_t p = 0; p < peers; p++) {
            uint32_t s = rm_forest_share(100, peers, p);
            assert_true(s == 100 / peers || s == 100 / peers + 1);
            sum += s;
        }
        assert_int_equal(sum, 100);
    }
    assert_int_equal(rm_forest_share(100, 0, 0), 0);
    assert_int_equal(rm_forest_share(100, 8, 8), 0);
}

/* ---- binning ------------------------------------------------------------ */

static void float_features_bin_at_quantiles(void **state) {
    (void)state;
    rm_dataset ds;
    /* Feature 0 has 5 distinct values, feature 1 has 1000. */
    assert_int_equal(rm_dataset_alloc(&ds, 1000, 2, RM_DTYPE_F32), RM_OK);
    ds.classes = 2;
    for (size_t i = 0; i < 1000; i++) {
        ds.x_f32[i * 2] = (float)(i % 5) * 2.0f;
        ds.x_f32[i * 2 + 1] = (float)i * 0.5f;
        ds.y[i] = i % 2;
    }
    rm_binned *b;
    assert_int_equal(rm_binned_create(&b, &ds, NULL), RM_OK);
    for (size_t i = 0; i < 1000; i++)
        assert_int_equal(b->bins[i * 2], i % 5); /* each distinct value its bin */
    for (uint32_t t = 0; t < 4; t++)         /* edges half-way between */
        assert_true(b->edges[t] == (float)t * 2.0f + 1.0f);
    size_t per_bin[256] = {0};
    for (size_t i = 0; i < 1000; i++) {
        uint8_t bin = b->bins[i * 2 + 1];
        per_bin[bin]++;
        if (i > 0) /* monotone in the value */
            assert_true(bin >= b->bins[(i - 1) * 2 + 1]);
        /* bin <= t  <=>  x <= edge[t], for every t in use */
        for (uint32_t t = 0; t + 1 < 256 && isfinite(b->edges[RM_BIN_EDGES + t]);
             t += 17)
            assert_int_equal(bin <= t,
                             ds.x_f32[i * 2 + 1] <= b->edges[RM_BIN_EDGES + t]);
    }
    size_t used = 0;
    for (int k = 0; k < 256; k++) {
        used += per_bin[k] > 0;
        assert_true(per_bin[k] <= 4); /* 1000 values over 256 bins */
    }
    assert_true(used >= 250);
    rm_binned_free(b);

    /* NaN and infinity are refused with the row named; so are bad labels. */
    rm_diag d = {{0}};
    ds.x_f32[7 * 2 + 1] = NAN;
    assert_int_equal(rm_binned_create(&b, &ds, &d), RM_EINVAL);
    assert_non_null(strstr(d.msg, "row 8"));
    ds.x_f32[7 * 2 + 1] = INFINITY;
    assert_int_equal(rm_binned_create(&b, &ds, &d), RM_EINVAL);
    ds.x_f32[7 * 2 + 1] = 1.0f;
    ds.y[3] = 2;
    assert_int_equal(rm_binned_create(&b, &ds, &d), RM_EDATA_LABEL);
    ds.y[3] = 0;
    ds.classes = RM_FOREST_CLASSES_MAX + 1;
    assert_int_equal(rm_binned_create(&b, &ds, &d), RM_ETOO_LARGE);
    rm_dataset_free(&ds);
}

/* ---- growing ------------------------------------------------------------ */

/* One feature, two classes; rows per value (class 0, class 1):
 *   value 10: (0, 4)   value 20: (1, 3)   value 30: (3, 4)   value 40: (4, 2)
 * Weighted Gini of each cut (by hand, 21 rows):
 *   x <= 10: L (0,4) 0;       R (8,9)  1 - (64+81)/289 = 0.4983  -> 17/21 * 0.4983 = 0.4034
 *   x <= 20: L (1,7) 0.2188;  R (7,6)  1 - (49+36)/169 = 0.4970  -> (8*0.2188 + 13*0.4970)/21 = 0.3910
 *   x <= 30: L (4,14) 0.3457; R (4,2)  0.4444                    -> (18*0.3457 + 3*0.4444)/21... = 0.4063
 * so Gini cuts between 20 and 30 (misclassification would cut after 30,
 * entropy after 10), at the midpoint 25. */
static void gini_by_hand(void **state) {
    (void)state;
    static const uint8_t value[4] = {10, 20, 30, 40};
    static const int count[4][2] = {{0, 4}, {1, 3}, {3, 4}, {4, 2}};
    rm_dataset ds;
    assert_int_equal(rm_dataset_alloc(&ds, 21, 1, RM_DTYPE_U8), RM_OK);
    ds.classes = 2;
    size_t row = 0;
    for (int v = 0; v < 4; v++)
        for (int c = 0; c < 2; c++)
            for (int k = 0; k < count[v][c]; k++, row++) {
                ds.x_u8[row] = value[v];
                ds.y[row] = c;
            }
    assert_int_equal(row, 21);
    rm_forest_config c = config(1, 1, 0, false);
    rm_tree *t = grow(&ds, &c, 1, 0);
    assert_int_equal(t->n_nodes, 3);
    assert_int_equal(t->nodes[0].feature, 0);
    assert_true(t->nodes[0].threshold == 25.0f);
    /* Leaves hold the class fractions of their side. */
    const rm_tree_node *left = &t->nodes[1], *right = &t->nodes[t->nodes[0].next];
    assert_int_equal(t->nodes[0].next, 2);
    assert_int_equal(left->entries, 2);
    assert_int_equal(right->entries, 2);
    assert_true(fabsf(t->entries[left->next].p - 1.0f / 8.0f) < 1e-4f);
    assert_true(fabsf(t->entries[left->next + 1].p - 7.0f / 8.0f) < 1e-4f);
    assert_true(fabsf(t->entries[right->next].p - 7.0f / 13.0f) < 1e-4f);
    assert_true(fabsf(t->entries[right->next + 1].p - 6.0f / 13.0f) < 1e-4f);
    rm_tree_free(t);
    rm_dataset_free(&ds);
}

static void fits_separable_data(void **state) {
    (void)state;
    rm_dataset ds;
    make_u8(&ds, 400, 6, 2, 11);
    rm_forest_config c = config(12, 1, 0, false);
    rm_tree *t = grow(&ds, &c, 5, 0);
    assert_true(train_accuracy(t, &ds) == 1.0);
    rm_tree_info in;
    rm_tree_get_info(t, &in);
    assert_int_equal(in.features, 6);
    assert_int_equal(in.classes, 2);
    assert_int_equal(in.nodes, 2 * in.leaves - 1);
    rm_tree_free(t);
    rm_dataset_free(&ds);

    /* Float data: the same through quantile bins. */
    make_f32(&ds, 500, 4, 12);
    t = grow(&ds, &c, 5, 0);
    assert_true(train_accuracy(t, &ds) == 1.0);
    rm_tree_free(t);
    rm_dataset_free(&ds);

    /* Many classes, all features per split. */
    make_u8(&ds, 600, 3, 7, 13);
    c = config(30, 1, 3, false);
    t = grow(&ds, &c, 5, 0);
    assert_true(train_accuracy(t, &ds) == 1.0);
    rm_tree_free(t);
    rm_dataset_free(&ds);
}

/* Counts the training rows in each leaf: every leaf holds >= min_leaf, no
 * leaf is deeper than max_depth. */
static void limits_hold(void **state) {
    (void)state;
    rm_dataset ds;
    make_u8(&ds, 700, 8, 5, 21);
    const uint32_t depths[] = {1, 3, 6, 40}, leaves[] = {1, 4, 25};
    for (size_t a = 0; a < 4; a++)
        for (size_t l = 0; l < 3; l++) {
            rm_forest_config c = config(depths[a], leaves[l], 0, false);
            rm_tree *t = grow(&ds, &c, 3, a * 10 + l);
            rm_tree_info in;
            rm_tree_get_info(t, &in);
            assert_true(in.depth <= depths[a]);
            assert_true(in.leaves >= 1);
            uint32_t *rows = calloc(t->n_nodes, sizeof *rows);
            for (size_t i = 0; i < ds.n; i++)
                rows[rm_tree_leaf_of(t, &ds, i)]++;
            for (uint32_t i = 0; i < t->n_nodes; i++)
                if (t->nodes[i].feature == RM_TREE_LEAF)
                    assert_true(rows[i] >= leaves[l]);
            free(rows);
            rm_tree_free(t);
        }
    /* Depth 40 with min_leaf 1 grows far: the limit above was not idle. */
    rm_forest_config c = config(40, 1, 0, false);
    rm_tree *t = grow(&ds, &c, 3, 99);
    rm_tree_info in;
    rm_tree_get_info(t, &in);
    assert_true(in.depth > 6);
    rm_tree_free(t);
    /* Config values out of range. */
    rm_binned *b;
    assert_int_equal(rm_binned_create(&b, &ds, NULL), RM_OK);
    rm_rng r;
    rm_rng_seed(&r, 1);
    c = config(0, 1, 0, true);
    assert_int_equal(rm_tree_grow(&t, b, &c, 1, &r, NULL), RM_EINVAL);
    c = config(RM_FOREST_DEPTH_MAX + 1, 1, 0, true);
    assert_int_equal(rm_tree_grow(&t, b, &c, 1, &r, NULL), RM_EINVAL);
    c = config(5, 0, 0, true);
    assert_int_equal(rm_tree_grow(&t, b, &c, 1, &r, NULL), RM_EINVAL);
    rm_binned_free(b);
    rm_dataset_free(&ds);
}

static void forest_blob(const rm_forest *f, uint8_t **blob, size_t *len) {
    assert_int_equal(rm_forest_encode(f, blob, len), RM_OK);
}

static void same_seed_same_bytes(void **state) {
    (void)state;
    rm_dataset ds;
    make_u8(&ds, 500, 10, 3, 31);
    rm_forest_config c = config(10, 2, 0, true);
    rm_forest *a = grow_forest(&ds, &c, 42, 6), *b = grow_forest(&ds, &c, 42, 6),
              *o = grow_forest(&ds, &c, 43, 6);
    uint8_t *ba, *bb, *bo;
    size_t la, lb, lo;
    forest_blob(a, &ba, &la);
    forest_blob(b, &bb, &lb);
    forest_blob(o, &bo, &lo);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);
    assert_true(la != lo || memcmp(ba, bo, la) != 0);
    /* Tree ids are the seed stream's: different seeds, different ids. */
    for (size_t i = 0; i < 6; i++)
        assert_false(rm_forest_has(o, rm_forest_tree(a, i)->id));
    assert_true(rm_forest_has(a, rm_tree_id_make(42, 5)));
    free(ba);
    free(bb);
    free(bo);
    rm_forest_free(a);
    rm_forest_free(b);
    rm_forest_free(o);
    rm_dataset_free(&ds);
}

/* A workspace keeps nothing from tree to tree, and tree i does not depend
 * on which trees were grown before it: what lets callers spread trees over
 * threads in any order. */
static void trees_do_not_depend_on_order(void **state) {
    (void)state;
    rm_dataset ds;
    make_u8(&ds, 300, 9, 4, 41);
    rm_forest_config c = config(8, 1, 3, true);
    rm_binned *b;
    rm_tree_ws *ws;
    assert_int_equal(rm_binned_create(&b, &ds, NULL), RM_OK);
    assert_int_equal(rm_tree_ws_create(&ws, b), RM_OK);
    rm_tree *fresh, *t;
    assert_int_equal(rm_tree_grow_nth(&fresh, b, &c, 7, 3, NULL), RM_OK);
    for (uint64_t i = 5; i-- > 0;) {
        assert_int_equal(rm_tree_grow_nth(&t, b, &c, 7, i, ws), RM_OK);
        if (i != 3)
            rm_tree_free(t);
        else
            break;
    }
    uint8_t *x, *y;
    size_t lx, ly;
    assert_int_equal(rm_tree_encode(fresh, &x, &lx), RM_OK);
    assert_int_equal(rm_tree_encode(t, &y, &ly), RM_OK);
    assert_int_equal(lx, ly);
    assert_memory_equal(x, y, lx);
    free(x);
    free(y);
    rm_tree_free(fresh);
    rm_tree_free(t);
    rm_tree_ws_free(ws);
    rm_binned_free(b);
    rm_dataset_free(&ds);
}

/* ---- the tree blob ------------------------------------------------------ */

static void same_predictions(const rm_forest *a, const rm_forest *b,
                             const rm_dataset *ds) {
    size_t C = rm_forest_classes(a);
    float *pa = malloc(ds->n * C * sizeof *pa), *pb = malloc(ds->n * C * sizeof *pb);
    assert_int_equal(rm_forest_predict_proba(a, ds, 0, ds->n, pa), RM_OK);
    assert_int_equal(rm_forest_predict_proba(b, ds, 0, ds->n, pb), RM_OK);
    assert_memory_equal(pa, pb, ds->n * C * sizeof *pa);
    for (size_t i = 0; i < ds->n; i++) {
        float sum = 0;
        for (size_t c = 0; c < C; c++)
            sum += pa[i * C + c];
        assert_true(fabsf(sum - 1.0f) < 1e-4f);
    }
    free(pa);
    free(pb);
}

/* Decodes every tree of f from its blob into a new forest and checks that
 * it predicts the same, bit for bit, and encodes to the same bytes. */
static void round_trip(const rm_forest *f, const rm_dataset *ds) {
    rm_forest *g;
    assert_int_equal(rm_forest_create(&g, rm_forest_features(f),
                                      rm_forest_classes(f)),
                     RM_OK);
    for (size_t i = 0; i < rm_forest_count(f); i++) {
        uint8_t *blob;
        size_t len;
        uint64_t id;
        assert_int_equal(rm_tree_encode(rm_forest_tree(f, i), &blob, &len), RM_OK);
        assert_int_equal(rm_tree_blob_id(blob, len, &id), RM_OK);
        assert_true(id == rm_forest_tree(f, i)->id);
        rm_diag d = {{0}};
        assert_int_equal(rm_forest_add_blob(g, blob, len, &d), RM_OK);
        free(blob);
    }
    same_predictions(f, g, ds);
    uint8_t *a, *b;
    size_t la, lb;
    forest_blob(f, &a, &la);
    forest_blob(g, &b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    rm_forest *h;
    rm_diag d = {{0}};
    assert_int_equal(rm_forest_decode(a, la, &h, &d), RM_OK);
    same_predictions(f, h, ds);
    free(a);
    free(b);
    rm_forest_free(g);
    rm_forest_free(h);
}

static void round_trips(void **state) {
    (void)state;
    rm_dataset ds;
    rm_forest_config c = config(12, 1, 0, true);
    /* uint8 thresholds, u16 features, u8 classes */
    make_u8(&ds, 400, 20, 3, 51);
    rm_forest *f = grow_forest(&ds, &c, 1, 5);
    round_trip(f, &ds);
    rm_forest_free(f);
    rm_dataset_free(&ds);
    /* float thresholds */
    make_f32(&ds, 300, 5, 52);
    f = grow_forest(&ds, &c, 2, 5);
    round_trip(f, &ds);
    rm_forest_free(f);
    rm_dataset_free(&ds);
    /* u16 classes */
    make_u8(&ds, 600, 4, 300, 53);
    f = grow_forest(&ds, &c, 3, 3);
    round_trip(f, &ds);
    rm_forest_free(f);
    rm_dataset_free(&ds);
    /* u32 features */
    make_u8(&ds, 40, 70000, 2, 54);
    c.features_per_split = 5000;
    f = grow_forest(&ds, &c, 4, 2);
    round_trip(f, &ds);
    rm_forest_free(f);
    rm_dataset_free(&ds);
}

static void every_truncation_is_refused(void **state) {
    (void)state;
    rm_dataset ds;
    make_u8(&ds, 300, 12, 3, 61);
    rm_forest_config c = config(10, 1, 0, true);
    rm_forest *f = grow_forest(&ds, &c, 9, 3);
    uint8_t *blob;
    size_t len;
    assert_int_equal(rm_tree_encode(rm_forest_tree(f, 0), &blob, &len), RM_OK);
    for (size_t cut = 0; cut < len; cut++) {
        rm_tree *t = (rm_tree *)1;
        rm_diag d = {{0}};
        uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan sees overreads */
        memcpy(copy, blob, cut);
        assert_int_equal(rm_tree_decode(copy, cut, &t, &d), RM_EWIRE_TRUNCATED);
        assert_null(t);
        free(copy);
    }
    free(blob);
    forest_blob(f, &blob, &len);
    for (size_t cut = 0; cut < len; cut++) {
        rm_forest *g = (rm_forest *)1;
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, blob, cut);
        assert_int_equal(rm_forest_decode(copy, cut, &g, NULL), RM_EWIRE_TRUNCATED);
        assert_null(g);
        free(copy);
    }
    free(blob);
    rm_forest_free(f);
    rm_dataset_free(&ds);
}

/* A blob written by hand. */
typedef struct {
    uint8_t b[4096];
    size_t n;
} blob_w;

static void w8(blob_w *w, uint32_t v) { w->b[w->n++] = (uint8_t)v; }
static void w16(blob_w *w, uint32_t v) {
    w8(w, v & 0xff);
    w8(w, v >> 8);
}
static void w32(blob_w *w, uint32_t v) {
    w16(w, v & 0xffff);
    w16(w, v >> 16);
}

/* Header of a tree with u16 features, f32 thresholds (flags 2), u8
 * classes: id 77, 10 features, 3 classes. */
static void header(blob_w *w, uint32_t nodes) {
    w->n = 0;
    memcpy(w->b, "RMTR", 4);
    w->n = 4;
    w8(w, RM_TREE_BLOB_VERSION);
    w8(w, 0x02);
    w16(w, 0);
    w32(w, 77);
    w32(w, 0);
    w32(w, 10);
    w32(w, 3);
    w32(w, nodes);
}

static void split_node(blob_w *w, uint32_t feature, float thr) {
    uint32_t u;
    memcpy(&u, &thr, 4);
    w8(w, 0);
    w16(w, feature);
    w32(w, u);
}

static void leaf_node(blob_w *w, uint32_t cls) {
    w8(w, 1);
    w16(w, 1);
    w8(w, cls);
    w16(w, 65535);
}

static rm_err decode(const blob_w *w, rm_diag *d) {
    rm_tree *t = NULL;
    uint8_t *copy = malloc(w->n);
    memcpy(copy, w->b, w->n);
    rm_err err = rm_tree_decode(copy, w->n, &t, d);
    free(copy);
    if (err)
        assert_null(t);
    rm_tree_free(t);
    return err;
}

static void malicious_blobs_are_refused(void **state) {
    (void)state;
    blob_w w;
    rm_diag d = {{0}};
    /* The good one the others are variations of: a split and two leaves. */
    header(&w, 3);
    split_node(&w, 4, 0.5f);
    leaf_node(&w, 0);
    leaf_node(&w, 2);
    assert_int_equal(decode(&w, &d), RM_OK);

    /* Child indices out of range, back edges and cycles cannot be written:
     * children are implicit in the preorder. What can be written is a
     * child that never comes ... */
    header(&w, 2);
    split_node(&w, 4, 0.5f);
    leaf_node(&w, 0);
    assert_int_equal(decode(&w, &d), RM_ETREE_SHAPE);
    header(&w, 3);
    split_node(&w, 4, 0.5f);
    leaf_node(&w, 0);
    split_node(&w, 4, 0.5f); /* the right child splits, with no children */
    assert_int_equal(decode(&w, &d), RM_ETREE_SHAPE);
    /* ... nodes after the tree is complete ... */
    header(&w, 4);
    split_node(&w, 4, 0.5f);
    leaf_node(&w, 0);
    leaf_node(&w, 1);
    leaf_node(&w, 1);
    assert_int_equal(decode(&w, &d), RM_ETREE_SHAPE);
    assert_non_null(strstr(d.msg, "node 3"));
    /* ... or a chain deeper than the limit: 65 splits, each the left child
     * of the one before (preorder: the splits, then the leaves). */
    header(&w, 2 * 65 + 1);
    for (int i = 0; i < 65; i++)
        split_node(&w, 1, 0.0f);
    for (int i = 0; i < 66; i++)
        leaf_node(&w, 0);
    assert_int_equal(decode(&w, &d), RM_ETREE_SHAPE);
    /* 64 levels of splits is the most allowed. */
    header(&w, 2 * 64 + 1);
    for (int i = 0; i < 64; i++)
        split_node(&w, 1, 0.0f);
    for (int i = 0; i < 65; i++)
        leaf_node(&w, 0);
    assert_int_equal(decode(&w, &d), RM_OK);

    /* Feature >= d. */
    header(&w, 3);
    split_node(&w, 10, 0.5f);
    leaf_node(&w, 0);
    leaf_node(&w, 2);
    assert_int_equal(decode(&w, &d), RM_ETREE_FEATURE);
    /* NaN and infinite thresholds. */
    header(&w, 3);
    split_node(&w, 1, NAN);
    leaf_node(&w, 0);
    leaf_node(&w, 2);
    assert_int_equal(decode(&w, &d), RM_ETREE_VALUE);
    header(&w, 3);
    split_node(&w, 1, -INFINITY);
    leaf_node(&w, 0);
    leaf_node(&w, 2);
    assert_int_equal(decode(&w, &d), RM_ETREE_VALUE);
    /* Leaves: probabilities are u16 (a NaN cannot be written), but a class
     * out of range, classes out of order or repeated, a zero probability,
     * and no or too many entries can. */
    static const struct {
        uint32_t k, cls[4], q[4];
    } bad[] = {
        {1, {3}, {65535}},                   /* class 3 of 3 */
        {2, {1, 0}, {9, 9}},                 /* out of order */
        {2, {1, 1}, {9, 9}},                 /* repeated */
        {1, {0}, {0}},                       /* zero probability */
        {0, {0}, {0}},                       /* no entries */
        {4, {0, 1, 2, 2}, {1, 1, 1, 1}},     /* more entries than classes */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        header(&w, 1);
        w8(&w, 1);
        w16(&w, bad[i].k);
        for (uint32_t j = 0; j < bad[i].k; j++) {
            w8(&w, bad[i].cls[j]);
            w16(&w, bad[i].q[j]);
        }
        if (bad[i].k == 0) /* pad: a 3-byte blob body is too short for a node */
            w16(&w, 0);
        assert_int_equal(decode(&w, &d), RM_ETREE_VALUE);
    }
    /* Huge node counts: beyond the limit, and more than the bytes hold. */
    header(&w, 0xffffffffu);
    leaf_node(&w, 0);
    assert_int_equal(decode(&w, &d), RM_EWIRE_TOO_LARGE);
    header(&w, RM_TREE_NODES_MAX);
    leaf_node(&w, 0);
    assert_int_equal(decode(&w, &d), RM_EWIRE_TRUNCATED);
    header(&w, 0);
    assert_int_equal(decode(&w, &d), RM_EWIRE_MALFORMED);
    /* Header fields. */
    header(&w, 1);
    leaf_node(&w, 0);
    w.b[0] = 'X';
    assert_int_equal(decode(&w, &d), RM_EWIRE_MALFORMED);
    w.b[0] = 'R';
    w.b[4] = 2;
    assert_int_equal(decode(&w, &d), RM_EWIRE_BAD_VERSION);
    w.b[4] = RM_TREE_BLOB_VERSION;
    w.b[5] = 0x08;
    assert_int_equal(decode(&w, &d), RM_EWIRE_MALFORMED);
    w.b[5] = 0x02;
    w.b[6] = 1;
    assert_int_equal(decode(&w, &d), RM_EWIRE_MALFORMED);
    w.b[6] = 0;
    w.b[16] = 0; /* 0 features */
    assert_int_equal(decode(&w, &d), RM_EWIRE_MALFORMED);
    w.b[16] = 10;
    w.b[23] = 0x10; /* 2^28 + 3 classes */
    assert_int_equal(decode(&w, &d), RM_EWIRE_TOO_LARGE);
    w.b[23] = 0;
    assert_int_equal(decode(&w, &d), RM_OK);
    w.b[28] = 7; /* unknown node tag */
    assert_int_equal(decode(&w, &d), RM_EWIRE_MALFORMED);
    w.b[28] = 1;
    w8(&w, 0); /* a byte after the tree */
    assert_int_equal(decode(&w, &d), RM_EWIRE_MALFORMED);
}

/* The example in docs/FOREST.md, byte for byte. */
static void documented_example(void **state) {
    (void)state;
    static const uint8_t blob[47] = {
        0x52, 0x4d, 0x54, 0x52, 0x01, 0x00, 0x00, 0x00,
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
        0x10, 0x03, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
        0x00, 0x2c, 0x01, 0x7f,
        0x01, 0x02, 0x00, 0x00, 0xff, 0xbf, 0x06, 0x00, 0x40,
        0x01, 0x01, 0x00, 0x09, 0xff, 0xff};
    rm_tree *t;
    rm_diag d = {{0}};
    assert_int_equal(rm_tree_decode(blob, sizeof blob, &t, &d), RM_OK);
    rm_tree_info in;
    rm_tree_get_info(t, &in);
    assert_true(in.id == 0x0102030405060708ull);
    assert_int_equal(in.features, 784);
    assert_int_equal(in.classes, 10);
    assert_int_equal(in.nodes, 3);
    assert_int_equal(in.leaves, 2);
    assert_int_equal(in.depth, 1);
    rm_forest *f;
    assert_int_equal(rm_forest_create(&f, 784, 10), RM_OK);
    assert_int_equal(rm_forest_add(f, t), RM_OK);
    rm_dataset ds;
    assert_int_equal(rm_dataset_alloc(&ds, 2, 784, RM_DTYPE_U8), RM_OK);
    ds.classes = 10;
    ds.x_u8[300] = 127;
    ds.x_u8[784 + 300] = 128;
    float p[20];
    assert_int_equal(rm_forest_predict_proba(f, &ds, 0, 2, p), RM_OK);
    assert_true(fabsf(p[0] - 0.75f) < 1e-4f && fabsf(p[6] - 0.25f) < 1e-4f);
    assert_true(p[10 + 9] == 1.0f);
    uint8_t *again;
    size_t len;
    assert_int_equal(rm_tree_encode(t, &again, &len), RM_OK);
    assert_int_equal(len, sizeof blob);
    assert_memory_equal(again, blob, len);
    free(again);
    rm_dataset_free(&ds);
    rm_forest_free(f);
}

/* Random byte changes of good blobs: every decode either fails with a named
 * error or gives a tree that walks (ASan and UBSan watch the walks). */
static void corrupted_blobs_never_crash(void **state) {
    (void)state;
    rm_dataset ds;
    make_f32(&ds, 300, 6, 71);
    rm_forest_config c = config(10, 1, 0, true);
    rm_forest *f = grow_forest(&ds, &c, 5, 2);
    uint8_t *blob;
    size_t len;
    assert_int_equal(rm_tree_encode(rm_forest_tree(f, 0), &blob, &len), RM_OK);
    rm_rng r;
    rm_rng_seed(&r, 72);
    uint8_t *copy = malloc(len);
    int ok = 0;
    for (int trial = 0; trial < 3000; trial++) {
        memcpy(copy, blob, len);
        int flips = 1 + (int)rm_rng_below(&r, 4);
        for (int k = 0; k < flips; k++)
            copy[rm_rng_below(&r, len)] = (uint8_t)rm_rng_u64(&r);
        rm_tree *t;
        rm_err err = rm_tree_decode(copy, len, &t, NULL);
        if (err) {
            assert_string_not_equal(rm_err_name(err), "RM_EUNKNOWN");
            continue;
        }
        ok++;
        rm_tree_info in;
        rm_tree_get_info(t, &in);
        if (in.features == ds.d)
            for (size_t i = 0; i < ds.n; i += 7)
                assert_true(rm_tree_leaf_of(t, &ds, i) < in.nodes);
        rm_tree_free(t);
    }
    assert_true(ok > 0); /* some changes (a threshold) are harmless */
    free(copy);
    free(blob);
    rm_forest_free(f);
    rm_dataset_free(&ds);
}

/* ---- the forest --------------------------------------------------------- */

static void forest_dedups_by_id(void **state) {
    (void)state;
    rm_dataset ds;
    make_u8(&ds, 200, 5, 2, 81);
    rm_forest_config c = config(6, 1, 0, true);
    rm_forest *f = grow_forest(&ds, &c, 1, 4);
    assert_int_equal(rm_forest_count(f), 4);
    /* The same tree again, grown or received as a blob. */
    rm_tree *again = grow(&ds, &c, 1, 2);
    assert_int_equal(rm_forest_add(f, again), RM_ETREE_DUPLICATE);
    uint8_t *blob;
    size_t len;
    assert_int_equal(rm_tree_encode(again, &blob, &len), RM_OK);
    rm_diag d = {{0}};
    assert_int_equal(rm_forest_add_blob(f, blob, len, &d), RM_ETREE_DUPLICATE);
    assert_int_equal(rm_forest_count(f), 4);
    free(blob);
    rm_tree_free(again);
    /* Trees of another shape do not mix in. */
    rm_dataset other;
    make_u8(&other, 200, 6, 2, 82);
    rm_tree *t = grow(&other, &c, 9, 0);
    assert_int_equal(rm_forest_add(f, t), RM_EMISMATCH);
    rm_tree_free(t);
    rm_dataset_free(&other);

    /* Trees from two peers in either order: the same forest, byte for byte. */
    rm_forest *p = grow_forest(&ds, &c, 2, 3), *ab, *ba;
    assert_int_equal(rm_forest_create(&ab, 5, 2), RM_OK);
    assert_int_equal(rm_forest_create(&ba, 5, 2), RM_OK);
    const rm_forest *order[2][2] = {{f, p}, {p, f}};
    rm_forest *into[2] = {ab, ba};
    for (int o = 0; o < 2; o++)
        for (int s = 0; s < 2; s++)
            for (size_t i = 0; i < rm_forest_count(order[o][s]); i++) {
                assert_int_equal(rm_tree_encode(rm_forest_tree(order[o][s], i),
                                                &blob, &len),
                                 RM_OK);
                assert_int_equal(rm_forest_add_blob(into[o], blob, len, NULL), RM_OK);
                /* a second delivery is recognised */
                assert_int_equal(rm_forest_add_blob(into[o], blob, len, NULL),
                                 RM_ETREE_DUPLICATE);
                free(blob);
            }
    assert_int_equal(rm_forest_count(ab), 7);
    uint8_t *x, *y;
    size_t lx, ly;
    forest_blob(ab, &x, &lx);
    forest_blob(ba, &y, &ly);
    assert_int_equal(lx, ly);
    assert_memory_equal(x, y, lx);
    for (size_t i = 1; i < rm_forest_count(ab); i++)
        assert_true(rm_forest_tree(ab, i - 1)->id < rm_forest_tree(ab, i)->id);
    same_predictions(ab, ba, &ds);

    /* A forest blob with the same tree twice is refused, and so are a
     * header that does not match its trees, a huge count, and bytes after
     * the last tree. The first tree's record starts at 20: u32 len, blob. */
    uint32_t n0 = (uint32_t)x[20] | (uint32_t)x[21] << 8 |
                  (uint32_t)x[22] << 16 | (uint32_t)x[23] << 24;
    size_t dl = 20 + 2 * (4 + (size_t)n0);
    uint8_t *dup = malloc(dl + 1);
    memcpy(dup, x, 20 + 4 + n0);
    memcpy(dup + 20 + 4 + n0, x + 20, 4 + n0);
    dup[16] = 2;
    rm_forest *g;
    d.msg[0] = '\0';
    assert_int_equal(rm_forest_decode(dup, dl, &g, &d), RM_EWIRE_MALFORMED);
    assert_non_null(strstr(d.msg, "tree 1"));
    dup[16] = 1;
    assert_int_equal(rm_forest_decode(dup, 20 + 4 + n0, &g, &d), RM_OK);
    rm_forest_free(g);
    dup[8] = 6; /* 6 features, trees of 5 */
    assert_int_equal(rm_forest_decode(dup, 20 + 4 + n0, &g, &d), RM_EMISMATCH);
    dup[8] = 5;
    dup[19] = 0x80;
    assert_int_equal(rm_forest_decode(dup, 20 + 4 + n0, &g, &d), RM_EWIRE_TOO_LARGE);
    dup[19] = 0;
    dup[20 + 4 + n0] = 0;
    assert_int_equal(rm_forest_decode(dup, 20 + 4 + n0 + 1, &g, &d),
                     RM_EWIRE_MALFORMED);
    free(dup);
    free(x);
    free(y);
    rm_forest_free(f);
    rm_forest_free(p);
    rm_forest_free(ab);
    rm_forest_free(ba);
    rm_dataset_free(&ds);
}

static void predicts_and_evaluates(void **state) {
    (void)state;
    rm_dataset train, test;
    make_u8(&train, 2000, 8, 2, 91);
    make_u8(&test, 500, 8, 2, 92);
    rm_forest_config c = config(12, 1, 0, true);
    rm_forest *f;
    assert_int_equal(rm_forest_create(&f, 8, 2), RM_OK);
    float p[2];
    assert_int_equal(rm_forest_predict_proba(f, &test, 0, 1, p), RM_EINVAL);
    rm_forest_free(f);
    f = grow_forest(&train, &c, 1, 15);
    rm_eval_result r;
    assert_int_equal(rm_forest_evaluate(f, &test, &r), RM_OK);
    assert_true(r.accuracy > 0.9); /* an xor of two thresholds */
    assert_int_equal(r.rows, 500);
    uint64_t sum = 0, diag = 0;
    for (int i = 0; i < 4; i++)
        sum += r.confusion[i];
    diag = r.confusion[0] + r.confusion[3];
    assert_int_equal(sum, 500);
    assert_true(fabs((double)diag / 500.0 - r.accuracy) < 1e-12);
    assert_true(r.loss > 0.0 && r.loss < 1.0);
    rm_eval_result_free(&r);
    assert_int_equal(rm_forest_predict_proba(f, &test, 499, 2, p), RM_EINVAL);
    rm_dataset wide;
    make_u8(&wide, 10, 9, 2, 93);
    assert_int_equal(rm_forest_predict_proba(f, &wide, 0, 1, p), RM_EMISMATCH);
    rm_dataset_free(&wide);
    rm_forest_free(f);
    rm_dataset_free(&train);
    rm_dataset_free(&test);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_specs),
        cmocka_unit_test(shares_add_up),
        cmocka_unit_test(float_features_bin_at_quantiles),
        cmocka_unit_test(gini_by_hand),
        cmocka_unit_test(fits_separable_data),
        cmocka_unit_test(limits_hold),
        cmocka_unit_test(same_seed_same_bytes),
        cmocka_unit_test(trees_do_not_depend_on_order),
        cmocka_unit_test(round_trips),
        cmocka_unit_test(every_truncation_is_refused),
        cmocka_unit_test(malicious_blobs_are_refused),
        cmocka_unit_test(documented_example),
        cmocka_unit_test(corrupted_blobs_never_crash),
        cmocka_unit_test(forest_dedups_by_id),
        cmocka_unit_test(predicts_and_evaluates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
