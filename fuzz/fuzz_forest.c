/* libFuzzer target for the forest codec (models/forest_codec.c): the tree
 * blob that peers gossip and the forest blob of model files.
 *
 * The first byte picks what the rest is: even, one tree blob; odd, a forest
 * blob. Decoding must return RM_OK or a named error and leave *out NULL on
 * error, and never crash, leak or read out of bounds (ASan, UBSan). What
 * decodes must walk: a few rows of every tree stay inside it; and it must
 * encode again to bytes that decode to a tree or forest predicting exactly
 * the same (the encoder may pick narrower widths than the input had, so the
 * bytes themselves may differ). Any mismatch aborts.
 *   scripts/fuzz.sh forest 600 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/forest.h"

#define ROWS 4
#define FEATURES_MAX 4096 /* predict only on trees this wide */

static float x[ROWS * FEATURES_MAX], pa[ROWS * RM_FOREST_CLASSES_MAX],
    pb[ROWS * RM_FOREST_CLASSES_MAX];
static int32_t y[ROWS];

/* Predictions of f and g on ROWS rows drawn from the input must agree. */
static void same(const rm_forest *f, const rm_forest *g, const uint8_t *data,
                 size_t size) {
    uint32_t d = rm_forest_features(f), C = rm_forest_classes(f);
    if (rm_forest_count(f) == 0 || d > FEATURES_MAX)
        return;
    for (size_t i = 0; i < (size_t)ROWS * d; i++)
        x[i] = size ? (float)data[i % size] - 100.0f : 0.0f;
    rm_dataset ds = {.n = ROWS, .d = d, .classes = C, .dtype = RM_DTYPE_F32,
                     .x_f32 = x, .scale = 1.0f, .y = y};
    if (rm_forest_predict_proba(f, &ds, 0, ROWS, pa) != RM_OK ||
        rm_forest_predict_proba(g, &ds, 0, ROWS, pb) != RM_OK ||
        memcmp(pa, pb, (size_t)ROWS * C * sizeof *pa) != 0)
        abort();
}

static void named(rm_err err) {
    if (strcmp(rm_err_name(err), "RM_EUNKNOWN") == 0)
        abort();
}

static void one_tree(const uint8_t *data, size_t size) {
    rm_tree *t = (rm_tree *)1;
    rm_err err = rm_tree_decode(data, size, &t, NULL);
    if (err) {
        named(err);
        if (t)
            abort();
        return;
    }
    uint64_t id;
    rm_tree_info in;
    rm_tree_get_info(t, &in);
    if (rm_tree_blob_id(data, size, &id) != RM_OK || id != in.id ||
        in.depth > RM_FOREST_DEPTH_MAX || in.leaves == 0 || in.nodes == 0)
        abort();
    uint8_t *again;
    size_t len;
    rm_tree *u;
    rm_forest *f, *g;
    if (rm_tree_encode(t, &again, &len) != RM_OK ||
        rm_tree_decode(again, len, &u, NULL) != RM_OK ||
        rm_forest_create(&f, in.features, in.classes) != RM_OK ||
        rm_forest_create(&g, in.features, in.classes) != RM_OK ||
        rm_forest_add(f, t) != RM_OK || rm_forest_add(g, u) != RM_OK)
        abort();
    free(again);
    same(f, g, data, size);
    rm_forest_free(f);
    rm_forest_free(g);
}

static void forest(const uint8_t *data, size_t size) {
    rm_forest *f = (rm_forest *)1, *g;
    rm_err err = rm_forest_decode(data, size, &f, NULL);
    if (err) {
        named(err);
        if (f)
            abort();
        return;
    }
    uint8_t *again;
    size_t len;
    if (rm_forest_encode(f, &again, &len) != RM_OK ||
        rm_forest_decode(again, len, &g, NULL) != RM_OK ||
        rm_forest_count(g) != rm_forest_count(f))
        abort();
    free(again);
    same(f, g, data, size);
    rm_forest_free(f);
    rm_forest_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0 || size > (1u << 20))
        return 0;
    if (data[0] % 2 == 0)
        one_tree(data + 1, size - 1);
    else
        forest(data + 1, size - 1);
    return 0;
}
