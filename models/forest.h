/* rumor: random forests of CART classification trees.
 *
 * Trees are grown one at a time and are independent of each other, so the
 * work is task-parallel: a peer grows its share of the trees on its own
 * shard, gossips them as blobs, and every peer's forest becomes the union by
 * tree id. Prediction averages the trees' leaf class probabilities.
 *
 * The pieces, in the order a caller meets them:
 *
 *   rm_forest_config   trees, max depth, min samples per leaf, features per
 *                      split, bootstrap; parsed from "forest:trees=100,...".
 *   rm_binned          a dataset with every feature as a uint8 bin, stored
 *                      row-major. uint8 data (pixels) is its own binning;
 *                      float data (libsvm, CSV) gets at most 256 quantile
 *                      bins per feature, once per dataset. Read-only once
 *                      built: any number of threads may grow trees from one.
 *   rm_tree_ws         the scratch memory of one growing tree (one per
 *                      thread; reused from tree to tree).
 *   rm_tree            one grown tree: immutable, with a 64-bit id.
 *   rm_forest          a set of trees with the same features and classes,
 *                      kept in id order, one tree per id.
 *
 * Nothing here spawns a thread, holds a global or draws randomness of its
 * own: growing tree i of a peer is a function of (data, config, seed, i),
 * so a caller may grow trees on as many threads as it likes, each with its
 * own workspace, and get the same bits as one thread would. The tree blob
 * and the forest file are described in docs/FOREST.md. */
#ifndef RM_FOREST_H
#define RM_FOREST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/rng.h"
#include "models/dataset.h"
#include "models/eval.h"

#define RM_FOREST_DEPTH_MAX 64       /* the root is depth 0 */
#define RM_FOREST_CLASSES_MAX 1024   /* a split histogram is 256 x classes */
#define RM_FOREST_TREES_MAX 65536    /* trees in one forest or forest file */
#define RM_TREE_NODES_MAX (1u << 24) /* nodes in one tree (blob or grown) */
#define RM_TREE_BLOB_VERSION 1
#define RM_FOREST_BLOB_VERSION 1

/* ---- configuration ----------------------------------------------------- */

typedef struct {
    uint32_t trees;              /* in the whole forest, all peers together */
    uint32_t max_depth;          /* 1..RM_FOREST_DEPTH_MAX; the root is 0 */
    uint32_t min_leaf;           /* fewest samples in a leaf, >= 1; with
                                    bootstrap a row counts as often as it
                                    was drawn */
    uint32_t features_per_split; /* candidates drawn per node; 0 means
                                    floor(sqrt(d)) (at least 1) */
    bool bootstrap;              /* each tree on n rows drawn with replacement */
} rm_forest_config;

/* trees 100, max_depth 20, min_leaf 1, features_per_split 0, bootstrap. */
void rm_forest_config_default(rm_forest_config *c);

/* Parses "forest" or "forest:KEY=VALUE,..." over the defaults. Keys: trees
 * (1..RM_FOREST_TREES_MAX), depth (1..RM_FOREST_DEPTH_MAX), min_leaf
 * (>= 1), features (0 = sqrt(d)), bootstrap (0 or 1). Example:
 * "forest:trees=100,depth=20,min_leaf=1,features=28". On error *c is
 * unchanged. Errors: RM_EMODEL_SPEC (diag names the key and why). */
rm_err rm_forest_config_parse(const char *spec, rm_forest_config *c,
                              rm_diag *diag);

/* Writes the canonical spec with every key ("forest:trees=100,depth=20,
 * min_leaf=1,features=0,bootstrap=1") into buf (truncated to len-1 bytes,
 * always terminated when len > 0); parsing it gives *c back. */
void rm_forest_config_format(const rm_forest_config *c, char *buf, size_t len);

/* The number of trees that peer `peer` of `peers` grows when the forest
 * has `trees` in all: near-equal shares, the first trees % peers peers one
 * more. 0 when peers is 0 or peer >= peers. */
uint32_t rm_forest_share(uint32_t trees, uint32_t peers, uint32_t peer);

/* ---- binned data ------------------------------------------------------- */

typedef struct rm_binned rm_binned;

/* Bins every feature of ds to uint8 and keeps a copy of the labels, so ds
 * may be freed afterwards. uint8 features keep their value as their bin.
 * Float features get at most 256 bins at quantiles of their values (every
 * distinct value its own bin when there are at most 256); a split "bin <= t"
 * is then the split "x <= edge" with edge half-way between the largest
 * value in bin t and the smallest in bin t+1. O(n d) for uint8 data,
 * O(n d log n) for float data.
 * Errors: RM_EDATA_SHAPE (no rows, or d > 2^32-1), RM_EDATA_LABEL (a label
 * outside 0..classes-1), RM_ETOO_LARGE (classes > RM_FOREST_CLASSES_MAX
 * or 0), RM_EINVAL (a float feature that is NaN; diag names the row),
 * RM_ENOMEM. */
rm_err rm_binned_create(rm_binned **out, const rm_dataset *ds, rm_diag *diag);

void rm_binned_free(rm_binned *b);

/* ---- growing one tree -------------------------------------------------- */

typedef struct rm_tree rm_tree;
typedef struct rm_tree_ws rm_tree_ws;

/* Scratch memory for growing trees from b (and from any binned set of no
 * more rows, features and classes): about 20 n + 12 d + 1 KB x classes
 * bytes.
 * One workspace serves one tree at a time. Errors: RM_ENOMEM. */
rm_err rm_tree_ws_create(rm_tree_ws **out, const rm_binned *b);

void rm_tree_ws_free(rm_tree_ws *ws);

/* Grows one tree on b with the given id, drawing the bootstrap sample and
 * every node's candidate features from rng. ws may be NULL (then one is
 * made and freed inside). Splits minimise weighted Gini impurity exactly
 * over the bins; a node becomes a leaf at max_depth, below 2 min_leaf
 * samples, when pure, or when no candidate feature splits it with min_leaf
 * samples on each side. As in scikit-learn, at least features_per_split
 * candidates are tried, more while none of them splits the node. Leaves
 * hold class probabilities quantised to 1/65535.
 * Reentrant: b and c are only read. O(n log n) per level of depth for
 * the bootstrap sample and partitions, plus features_per_split x (node rows
 * + 256 x classes) per node.
 * Errors: RM_EINVAL (a config value out of range), RM_ETOO_LARGE (ws made
 * for a smaller set, or more than RM_TREE_NODES_MAX nodes), RM_ENOMEM. */
rm_err rm_tree_grow(rm_tree **out, const rm_binned *b,
                    const rm_forest_config *c, uint64_t id, rm_rng *rng,
                    rm_tree_ws *ws);

/* The id of tree `index` of the peer whose forest seed is `seed`: the first
 * draw of rm_rng_seed_stream(seed, index). Two peers with different seeds
 * get different ids (but for a 2^-64 chance); a peer that grows its tree
 * `index` again gets the same id, so the copy is recognised. */
uint64_t rm_tree_id_make(uint64_t seed, uint64_t index);

/* Grows tree `index` of seed `seed`: its id is rm_tree_id_make(seed, index)
 * and its randomness the rest of that stream, so the tree depends on
 * (b, c, seed, index) alone, whichever thread grows it and in what order.
 * Errors: those of rm_tree_grow. */
rm_err rm_tree_grow_nth(rm_tree **out, const rm_binned *b,
                        const rm_forest_config *c, uint64_t seed,
                        uint64_t index, rm_tree_ws *ws);

void rm_tree_free(rm_tree *t);

typedef struct {
    uint64_t id;
    uint32_t features; /* d of the data it was grown on */
    uint32_t classes;
    uint32_t nodes;    /* internal nodes and leaves */
    uint32_t leaves;
    uint32_t depth;    /* of its deepest leaf; a lone leaf is depth 0 */
} rm_tree_info;

void rm_tree_get_info(const rm_tree *t, rm_tree_info *out);

/* The index (0..nodes-1, preorder) of the leaf that row `row` of ds falls
 * in; ds must have t's feature count (asserted) and row < ds->n. Values are
 * compared as stored (uint8 pixels as 0..255, not scaled). */
uint32_t rm_tree_leaf_of(const rm_tree *t, const rm_dataset *ds, size_t row);

/* ---- one tree as bytes ------------------------------------------------- */

/* Encodes t into a new malloc'd blob (the caller frees *out): a versioned,
 * little-endian, compact record (docs/FOREST.md). Deterministic: the same
 * tree gives the same bytes. Errors: RM_ENOMEM. */
rm_err rm_tree_encode(const rm_tree *t, uint8_t **out, size_t *len);

/* Decodes one tree blob of exactly len bytes. Every length, count, index
 * and value is checked before it is used, so no blob can make it read out
 * of bounds, allocate more than a small multiple of len, or build a tree
 * that predicts slowly (depth is at most RM_FOREST_DEPTH_MAX).
 * Errors: RM_EWIRE_TRUNCATED (the blob ends early), RM_EWIRE_BAD_VERSION,
 * RM_EWIRE_MALFORMED (bad magic, flags, node tag or bytes after the tree),
 * RM_EWIRE_TOO_LARGE (more nodes, classes or features than allowed),
 * RM_ETREE_SHAPE (not one tree: children missing, nodes after the tree is
 * complete, or deeper than RM_FOREST_DEPTH_MAX), RM_ETREE_FEATURE (a split
 * on a feature >= the tree's feature count), RM_ETREE_VALUE (a threshold
 * that is not finite, a leaf class out of range or out of order, a zero
 * probability), RM_ENOMEM; diag says which node. */
rm_err rm_tree_decode(const uint8_t *buf, size_t len, rm_tree **out,
                      rm_diag *diag);

/* Reads only the id from a blob's header (for dedup before decoding).
 * Errors: RM_EWIRE_TRUNCATED, RM_EWIRE_MALFORMED, RM_EWIRE_BAD_VERSION. */
rm_err rm_tree_blob_id(const uint8_t *buf, size_t len, uint64_t *id);

/* ---- forests ----------------------------------------------------------- */

typedef struct rm_forest rm_forest;

/* An empty forest for data with `features` features and `classes` classes.
 * Errors: RM_EINVAL (either 0), RM_ETOO_LARGE (classes above
 * RM_FOREST_CLASSES_MAX or features above RM_DATA_FEATURES_MAX),
 * RM_ENOMEM. */
rm_err rm_forest_create(rm_forest **out, uint32_t features, uint32_t classes);

/* Frees the forest and every tree in it. */
void rm_forest_free(rm_forest *f);

/* Adds t. On RM_OK the forest owns t; on any error the caller still does.
 * O(trees) (kept sorted by id).
 * Errors: RM_ETREE_DUPLICATE (a tree with t's id is in already),
 * RM_EMISMATCH (t's features or classes differ from the forest's),
 * RM_ETOO_LARGE (RM_FOREST_TREES_MAX trees already), RM_ENOMEM. */
rm_err rm_forest_add(rm_forest *f, rm_tree *t);

/* Decodes a tree blob and adds it; a blob whose id is already in the
 * forest is refused with RM_ETREE_DUPLICATE before it is decoded.
 * Errors: those of rm_tree_decode and rm_forest_add. */
rm_err rm_forest_add_blob(rm_forest *f, const uint8_t *buf, size_t len,
                          rm_diag *diag);

size_t rm_forest_count(const rm_forest *f);
uint32_t rm_forest_features(const rm_forest *f);
uint32_t rm_forest_classes(const rm_forest *f);
bool rm_forest_has(const rm_forest *f, uint64_t id); /* O(log trees) */

/* The i-th tree in id order (i < count), borrowed: valid until the forest
 * is freed (adding trees does not move them). */
const rm_tree *rm_forest_tree(const rm_forest *f, size_t i);

/* Class probabilities of rows [first, first + rows) of ds into proba
 * (rows, classes): the mean over the trees of each tree's leaf
 * probabilities. Trees are summed in id order, so the result does not
 * depend on the order in which they were added. O(rows x trees x depth).
 * Errors: RM_EINVAL (no trees, or rows beyond ds->n), RM_EMISMATCH (ds->d is
 * not the forest's feature count). */
rm_err rm_forest_predict_proba(const rm_forest *f, const rm_dataset *ds,
                               size_t first, size_t rows, float *proba);

/* Accuracy, mean cross-entropy (probabilities clamped to 1e-7) and the
 * confusion matrix of the forest on ds, as rm_mlp_evaluate gives them;
 * release with rm_eval_result_free. Ties go to the lower class.
 * Errors: those of rm_forest_predict_proba, RM_EMISMATCH (ds->classes
 * above the forest's), RM_EDATA_LABEL (a label outside the forest's
 * classes), RM_ENOMEM. */
rm_err rm_forest_evaluate(const rm_forest *f, const rm_dataset *ds,
                          rm_eval_result *out);

/* The whole forest as one malloc'd blob (a model file or a checkpoint's
 * part): header, then each tree blob with its length, in id order.
 * Errors: RM_ENOMEM. */
rm_err rm_forest_encode(const rm_forest *f, uint8_t **out, size_t *len);

/* Decodes a forest blob of exactly len bytes, every tree checked as
 * rm_tree_decode does; tree ids must rise strictly (no duplicates).
 * Errors: those of rm_tree_decode (diag names the tree), RM_EMISMATCH (a
 * tree whose features or classes differ from the header's), RM_EINVAL and
 * RM_ETOO_LARGE (the header's features or classes, as rm_forest_create). */
rm_err rm_forest_decode(const uint8_t *buf, size_t len, rm_forest **out,
                        rm_diag *diag);

#endif
