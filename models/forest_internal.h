/* rumor: the random forest's in-memory layouts, shared by forest_*.c and
 * by nothing outside models/ (callers see the opaque types in forest.h). */
#ifndef RM_FOREST_INTERNAL_H
#define RM_FOREST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "models/forest.h"

#define RM_TREE_LEAF UINT32_MAX /* rm_tree_node.feature of a leaf */
#define RM_BIN_EDGES 255        /* edges per float feature: bins - 1 */
#define RM_Q_ONE 65535u         /* a quantised probability of 1 */

/* Nodes are in preorder: an internal node's left child is the node right
 * after it, so only the right child is stored. Children always come after
 * their parent, which makes every walk terminate. */
typedef struct {
    uint32_t feature; /* split feature, or RM_TREE_LEAF */
    union {
        float threshold;  /* internal: x <= threshold goes left */
        uint32_t entries; /* leaf: how many (class, probability) entries */
    };
    uint32_t next; /* internal: right child; leaf: its first entry */
} rm_tree_node;

/* One class of a leaf with a probability above 0: q/65535 as stored in the
 * blob, and p = q / (sum of the leaf's q), what prediction adds up. */
typedef struct {
    uint16_t cls;
    uint16_t q;
    float p;
} rm_tree_entry;

struct rm_tree {
    uint64_t id;
    uint32_t features, classes;
    uint32_t n_nodes, n_entries, leaves, depth;
    rm_tree_node *nodes;     /* (n_nodes) preorder */
    rm_tree_entry *entries;  /* (n_entries) leaves' classes, ascending per leaf */
};

struct rm_binned {
    size_t n;
    uint32_t d, classes;
    uint8_t *bins;  /* (n, d) row-major: feature f of row i at i * d + f */
    uint16_t *y;    /* (n) labels */
    float *edges;   /* float data: (d, RM_BIN_EDGES), bin <= t  <=>  x <= edges[f][t];
                       NULL for uint8 data, whose bin is the value */
};

/* Sets every entry's p from the q of its leaf: p = q / sum(q). Grown and
 * decoded trees both go through it, so a round trip predicts bit for bit
 * the same. */
void rm__tree_leaf_normalise(rm_tree_entry *e, uint32_t k);

/* Index of the leaf that the row x (features as stored) falls in. */
static inline uint32_t rm__tree_walk_u8(const rm_tree *t, const uint8_t *x) {
    const rm_tree_node *nd = t->nodes;
    uint32_t i = 0;
    while (nd[i].feature != RM_TREE_LEAF)
        i = (float)x[nd[i].feature] <= nd[i].threshold ? i + 1 : nd[i].next;
    return i;
}

static inline uint32_t rm__tree_walk_f32(const rm_tree *t, const float *x) {
    const rm_tree_node *nd = t->nodes;
    uint32_t i = 0;
    while (nd[i].feature != RM_TREE_LEAF)
        i = x[nd[i].feature] <= nd[i].threshold ? i + 1 : nd[i].next;
    return i;
}

#endif
