/* rumor: trees as objects (info, walks) and forests: the set of trees by
 * id, averaged prediction and evaluation. */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/forest_internal.h"

struct rm_forest {
    uint32_t features, classes;
    size_t count, cap;
    rm_tree **trees; /* (count) ascending by id */
};

/* ---- trees -------------------------------------------------------------- */

void rm_tree_free(rm_tree *t) {
    if (!t)
        return;
    free(t->nodes);
    free(t->entries);
    free(t);
}

void rm__tree_leaf_normalise(rm_tree_entry *e, uint32_t k) {
    uint32_t sum = 0;
    for (uint32_t i = 0; i < k; i++)
        sum += e[i].q;
    for (uint32_t i = 0; i < k; i++)
        e[i].p = (float)e[i].q / (float)sum;
}

void rm_tree_get_info(const rm_tree *t, rm_tree_info *out) {
    *out = (rm_tree_info){.id = t->id, .features = t->features,
                          .classes = t->classes, .nodes = t->n_nodes,
                          .leaves = t->leaves, .depth = t->depth};
}

uint32_t rm_tree_leaf_of(const rm_tree *t, const rm_dataset *ds, size_t row) {
    assert(ds->d == t->features && row < ds->n);
    if (ds->dtype == RM_DTYPE_U8)
        return rm__tree_walk_u8(t, ds->x_u8 + row * ds->d);
    return rm__tree_walk_f32(t, ds->x_f32 + row * ds->d);
}

/* ---- the set ------------------------------------------------------------ */

rm_err rm_forest_create(rm_forest **out, uint32_t features, uint32_t classes) {
    *out = NULL;
    if (features == 0 || classes == 0)
        return RM_EINVAL;
    if (classes > RM_FOREST_CLASSES_MAX || features > RM_DATA_FEATURES_MAX)
        return RM_ETOO_LARGE;
    rm_forest *f = calloc(1, sizeof *f);
    if (!f)
        return RM_ENOMEM;
    f->features = features;
    f->classes = classes;
    *out = f;
    return RM_OK;
}

void rm_forest_free(rm_forest *f) {
    if (!f)
        return;
    for (size_t i = 0; i < f->count; i++)
        rm_tree_free(f->trees[i]);
    free(f->trees);
    free(f);
}

/* The position of the first tree whose id is >= id. O(log count). */
static size_t lower_bound(const rm_forest *f, uint64_t id) {
    size_t lo = 0, hi = f->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->trees[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool rm_forest_has(const rm_forest *f, uint64_t id) {
    size_t i = lower_bound(f, id);
    return i < f->count && f->trees[i]->id == id;
}

rm_err rm_forest_add(rm_forest *f, rm_tree *t) {
    if (t->features != f->features || t->classes != f->classes)
        return RM_EMISMATCH;
    size_t at = lower_bound(f, t->id);
    if (at < f->count && f->trees[at]->id == t->id)
        return RM_ETREE_DUPLICATE;
    if (f->count >= RM_FOREST_TREES_MAX)
        return RM_ETOO_LARGE;
    if (f->count == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 16;
        rm_tree **p = realloc(f->trees, cap * sizeof *p);
        if (!p)
            return RM_ENOMEM;
        f->trees = p;
        f->cap = cap;
    }
    memmove(f->trees + at + 1, f->trees + at, (f->count - at) * sizeof *f->trees);
    f->trees[at] = t;
    f->count++;
    return RM_OK;
}

rm_err rm_forest_add_blob(rm_forest *f, const uint8_t *buf, size_t len,
                          rm_diag *diag) {
    uint64_t id;
    rm_err err = rm_tree_blob_id(buf, len, &id);
    if (err)
        return rm_diag_set(diag, err, "tree blob header: %s", rm_strerror(err));
    if (rm_forest_has(f, id))
        return rm_diag_set(diag, RM_ETREE_DUPLICATE,
                           "tree %016llx is in the forest already",
                           (unsigned long long)id);
    rm_tree *t;
    if ((err = rm_tree_decode(buf, len, &t, diag)))
        return err;
    if ((err = rm_forest_add(f, t)))
        rm_tree_free(t);
    return err;
}

size_t rm_forest_count(const rm_forest *f) { return f->count; }
uint32_t rm_forest_features(const rm_forest *f) { return f->features; }
uint32_t rm_forest_classes(const rm_forest *f) { return f->classes; }

const rm_tree *rm_forest_tree(const rm_forest *f, size_t i) {
    assert(i < f->count);
    return f->trees[i];
}

/* ---- prediction --------------------------------------------------------- */

rm_err rm_forest_predict_proba(const rm_forest *f, const rm_dataset *ds,
                               size_t first, size_t rows, float *proba) {
    if (f->count == 0 || first > ds->n || rows > ds->n - first)
        return RM_EINVAL;
    if (ds->d != f->features)
        return RM_EMISMATCH;
    const uint32_t C = f->classes;
    const size_t d = ds->d;
    memset(proba, 0, rows * C * sizeof *proba);
    /* Tree by tree: one tree's nodes stay in cache while every row walks it. */
    for (size_t k = 0; k < f->count; k++) {
        const rm_tree *t = f->trees[k];
        for (size_t r = 0; r < rows; r++) {
            size_t row = first + r;
            uint32_t leaf = ds->dtype == RM_DTYPE_U8
                                ? rm__tree_walk_u8(t, ds->x_u8 + row * d)
                                : rm__tree_walk_f32(t, ds->x_f32 + row * d);
            const rm_tree_node *nd = &t->nodes[leaf];
            const rm_tree_entry *e = t->entries + nd->next;
            float *out = proba + r * C;
            for (uint32_t j = 0; j < nd->entries; j++)
                out[e[j].cls] += e[j].p;
        }
    }
    float inv = 1.0f / (float)f->count;
    for (size_t i = 0; i < rows * C; i++)
        proba[i] *= inv;
    return RM_OK;
}

rm_err rm_forest_evaluate(const rm_forest *f, const rm_dataset *ds,
                          rm_eval_result *out) {
    enum { CHUNK = 1024 };
    memset(out, 0, sizeof *out);
    const uint32_t C = f->classes;
    if (ds->classes > C)
        return RM_EMISMATCH;
    float *p = malloc((size_t)CHUNK * C * sizeof *p);
    out->confusion = calloc((size_t)C * C, sizeof *out->confusion);
    rm_err err = RM_ENOMEM;
    if (!p || !out->confusion)
        goto err;
    out->classes = C;
    double loss = 0.0;
    uint64_t hits = 0;
    for (size_t at = 0; at < ds->n; at += CHUNK) {
        size_t rows = ds->n - at < CHUNK ? ds->n - at : CHUNK;
        if ((err = rm_forest_predict_proba(f, ds, at, rows, p)))
            goto err;
        for (size_t r = 0; r < rows; r++) {
            const float *pr = p + r * C;
            uint32_t arg = 0, y = (uint32_t)ds->y[at + r];
            if (y >= C) {
                err = RM_EDATA_LABEL;
                goto err;
            }
            for (uint32_t c = 1; c < C; c++)
                if (pr[c] > pr[arg])
                    arg = c;
            hits += arg == y;
            out->confusion[(size_t)y * C + arg]++;
            loss -= log(pr[y] > 1e-7f ? (double)pr[y] : 1e-7);
        }
    }
    out->rows = ds->n;
    out->accuracy = ds->n ? (double)hits / (double)ds->n : 0.0;
    out->loss = ds->n ? loss / (double)ds->n : 0.0;
    err = RM_OK;
err:
    free(p);
    if (err)
        rm_eval_result_free(out);
    return err;
}
