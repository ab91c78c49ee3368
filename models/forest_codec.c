/* rumor: trees and forests as bytes (docs/FOREST.md has the layout).
 *
 * Little-endian, explicit widths, no struct casts. Nodes go in preorder
 * with the left child implicit (the next node) and the right child implicit
 * too (the node after the left subtree), so a blob holds no child index at
 * all: an index out of range or a back edge cannot be written, and the
 * decoder only has to check that the nodes make exactly one tree. */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/le.h"
#include "models/forest_internal.h"

#define TREE_MAGIC "RMTR"
#define FOREST_MAGIC "RMFO"
#define TREE_HEADER 28
#define FOREST_HEADER 20
#define F_FEATURE32 0x01u /* split features as u32, else u16 */
#define F_THRESH32 0x02u  /* thresholds as f32, else u8 */
#define F_CLASS16 0x04u   /* leaf classes as u16, else u8 */
#define TAG_SPLIT 0
#define TAG_LEAF 1
#define NODE_MIN 4 /* bytes of the smallest node: a split with u16, u8 */

/* ---- encoding ----------------------------------------------------------- */

static unsigned tree_flags(const rm_tree *t) {
    unsigned fl = 0;
    if (t->features > 65536)
        fl |= F_FEATURE32;
    if (t->classes > 256)
        fl |= F_CLASS16;
    for (uint32_t i = 0; i < t->n_nodes; i++) {
        const rm_tree_node *nd = &t->nodes[i];
        if (nd->feature != RM_TREE_LEAF &&
            !(nd->threshold >= 0.0f && nd->threshold <= 255.0f &&
              nd->threshold == floorf(nd->threshold)))
            fl |= F_THRESH32;
    }
    return fl;
}

static size_t tree_size(const rm_tree *t, unsigned fl) {
    size_t split = 1 + (fl & F_FEATURE32 ? 4 : 2) + (fl & F_THRESH32 ? 4 : 1);
    size_t entry = (fl & F_CLASS16 ? 2 : 1) + 2;
    size_t splits = t->n_nodes - t->leaves;
    return TREE_HEADER + splits * split + t->leaves * 3 + t->n_entries * entry;
}

/* Writes t's blob into p (tree_size bytes); returns the end. */
static uint8_t *tree_write(uint8_t *p, const rm_tree *t, unsigned fl) {
    memcpy(p, TREE_MAGIC, 4);
    p[4] = RM_TREE_BLOB_VERSION;
    p[5] = (uint8_t)fl;
    p = rm_le_put16(p + 6, 0);
    p = rm_le_put64(p, t->id);
    p = rm_le_put32(p, t->features);
    p = rm_le_put32(p, t->classes);
    p = rm_le_put32(p, t->n_nodes);
    for (uint32_t i = 0; i < t->n_nodes; i++) {
        const rm_tree_node *nd = &t->nodes[i];
        if (nd->feature != RM_TREE_LEAF) {
            *p++ = TAG_SPLIT;
            p = fl & F_FEATURE32 ? rm_le_put32(p, nd->feature) : rm_le_put16(p, nd->feature);
            if (fl & F_THRESH32)
                p = rm_le_putf32(p, nd->threshold);
            else
                *p++ = (uint8_t)nd->threshold;
            continue;
        }
        *p++ = TAG_LEAF;
        p = rm_le_put16(p, nd->entries);
        for (uint32_t j = 0; j < nd->entries; j++) {
            const rm_tree_entry *e = &t->entries[nd->next + j];
            if (fl & F_CLASS16)
                p = rm_le_put16(p, e->cls);
            else
                *p++ = (uint8_t)e->cls;
            p = rm_le_put16(p, e->q);
        }
    }
    return p;
}

rm_err rm_tree_encode(const rm_tree *t, uint8_t **out, size_t *len) {
    unsigned fl = tree_flags(t);
    size_t n = tree_size(t, fl);
    uint8_t *buf = malloc(n);
    *out = NULL;
    *len = 0;
    if (!buf)
        return RM_ENOMEM;
    uint8_t *end = tree_write(buf, t, fl);
    assert(end == buf + n);
    (void)end;
    *out = buf;
    *len = n;
    return RM_OK;
}

/* ---- decoding ----------------------------------------------------------- */

typedef struct {
    const uint8_t *p, *end;
} reader;

static int need(const reader *r, size_t n) {
    return (size_t)(r->end - r->p) >= n;
}

/* Checks the fixed header; on success r points at the first node. */
static rm_err read_header(reader *r, unsigned *fl, uint64_t *id,
                          uint32_t *features, uint32_t *classes,
                          uint32_t *nodes, rm_diag *diag) {
    if (!need(r, 6))
        return rm_diag_set(diag, RM_EWIRE_TRUNCATED, "tree header is cut short");
    if (memcmp(r->p, TREE_MAGIC, 4) != 0)
        return rm_diag_set(diag, RM_EWIRE_MALFORMED, "not a tree blob (magic)");
    if (r->p[4] != RM_TREE_BLOB_VERSION)
        return rm_diag_set(diag, RM_EWIRE_BAD_VERSION,
                           "tree blob version %u (this build reads %u)",
                           r->p[4], RM_TREE_BLOB_VERSION);
    if (!need(r, TREE_HEADER))
        return rm_diag_set(diag, RM_EWIRE_TRUNCATED, "tree header is cut short");
    const uint8_t *p = r->p;
    *fl = p[5];
    *id = rm_le_get64(p + 8);
    *features = rm_le_get32(p + 16);
    *classes = rm_le_get32(p + 20);
    *nodes = rm_le_get32(p + 24);
    r->p += TREE_HEADER;
    if ((*fl & ~(F_FEATURE32 | F_THRESH32 | F_CLASS16)) || rm_le_get16(p + 6) != 0)
        return rm_diag_set(diag, RM_EWIRE_MALFORMED,
                           "tree blob has unknown flags or reserved bits");
    if (*features == 0 || *classes == 0 || *nodes == 0)
        return rm_diag_set(diag, RM_EWIRE_MALFORMED,
                           "tree blob with no features, classes or nodes");
    if (*features > RM_DATA_FEATURES_MAX || *classes > RM_FOREST_CLASSES_MAX ||
        *nodes > RM_TREE_NODES_MAX)
        return rm_diag_set(diag, RM_EWIRE_TOO_LARGE,
                           "tree of %u features, %u classes, %u nodes is "
                           "beyond the limits",
                           *features, *classes, *nodes);
    if (*nodes > (size_t)(r->end - r->p) / NODE_MIN)
        return rm_diag_set(diag, RM_EWIRE_TRUNCATED,
                           "%u nodes cannot fit in %zu bytes", *nodes,
                           (size_t)(r->end - r->p));
    return RM_OK;
}

rm_err rm_tree_blob_id(const uint8_t *buf, size_t len, uint64_t *id) {
    reader r = {buf, buf + len};
    unsigned fl;
    uint32_t features, classes, nodes;
    return read_header(&r, &fl, id, &features, &classes, &nodes, NULL);
}

/* One pending child slot of the preorder walk: the depth it is at, and for
 * a right child its parent, whose `next` it sets. */
typedef struct {
    uint32_t parent;
    uint32_t depth;
} slot;

static rm_err read_leaf(reader *r, rm_tree *t, unsigned fl, uint32_t i,
                        size_t entries_max, rm_diag *diag) {
    size_t cw = fl & F_CLASS16 ? 2 : 1;
    if (!need(r, 2))
        return rm_diag_set(diag, RM_EWIRE_TRUNCATED, "node %u: leaf cut short", i);
    uint32_t k = rm_le_get16(r->p);
    r->p += 2;
    if (k == 0 || k > t->classes)
        return rm_diag_set(diag, RM_ETREE_VALUE,
                           "node %u: leaf with %u classes (1..%u)", i, k,
                           t->classes);
    if (!need(r, k * (cw + 2)))
        return rm_diag_set(diag, RM_EWIRE_TRUNCATED, "node %u: leaf cut short", i);
    if (t->n_entries + k > entries_max)
        return rm_diag_set(diag, RM_EWIRE_MALFORMED, "node %u: too many entries", i);
    rm_tree_entry *e = t->entries + t->n_entries;
    for (uint32_t j = 0; j < k; j++) {
        uint32_t c = cw == 2 ? rm_le_get16(r->p) : r->p[0];
        uint32_t q = rm_le_get16(r->p + cw);
        r->p += cw + 2;
        if (c >= t->classes || (j > 0 && c <= e[j - 1].cls) || q == 0)
            return rm_diag_set(diag, RM_ETREE_VALUE,
                               "node %u: leaf class %u (%u/65535) is out of "
                               "range, out of order or zero",
                               i, c, q);
        e[j] = (rm_tree_entry){.cls = (uint16_t)c, .q = (uint16_t)q};
    }
    rm__tree_leaf_normalise(e, k);
    t->nodes[i] = (rm_tree_node){.feature = RM_TREE_LEAF, .entries = k,
                                 .next = t->n_entries};
    t->n_entries += k;
    t->leaves++;
    return RM_OK;
}

static rm_err read_split(reader *r, rm_tree *t, unsigned fl, uint32_t i,
                         rm_diag *diag) {
    size_t fw = fl & F_FEATURE32 ? 4 : 2, tw = fl & F_THRESH32 ? 4 : 1;
    if (!need(r, fw + tw))
        return rm_diag_set(diag, RM_EWIRE_TRUNCATED, "node %u: split cut short", i);
    uint32_t f = fw == 4 ? rm_le_get32(r->p) : rm_le_get16(r->p);
    float thr = tw == 4 ? rm_le_getf32(r->p + fw) : (float)r->p[fw];
    r->p += fw + tw;
    if (f >= t->features)
        return rm_diag_set(diag, RM_ETREE_FEATURE,
                           "node %u: feature %u of %u", i, f, t->features);
    if (!isfinite(thr))
        return rm_diag_set(diag, RM_ETREE_VALUE,
                           "node %u: threshold is not finite", i);
    t->nodes[i] = (rm_tree_node){.feature = f, .threshold = thr,
                                 .next = RM_TREE_LEAF};
    return RM_OK;
}

/* Reads t->n_nodes nodes in preorder, linking right children, and checks
 * that they form exactly one tree no deeper than RM_FOREST_DEPTH_MAX. */
static rm_err read_nodes(reader *r, rm_tree *t, unsigned fl,
                         size_t entries_max, rm_diag *diag) {
    /* Pending slots: one per level of the current path plus one. */
    slot stack[RM_FOREST_DEPTH_MAX + 2];
    size_t sp = 0;
    stack[sp++] = (slot){RM_TREE_LEAF, 0};
    for (uint32_t i = 0; i < t->n_nodes; i++) {
        if (sp == 0)
            return rm_diag_set(diag, RM_ETREE_SHAPE,
                               "node %u comes after the tree is complete", i);
        slot s = stack[--sp];
        if (s.parent != RM_TREE_LEAF)
            t->nodes[s.parent].next = i;
        if (!need(r, 1))
            return rm_diag_set(diag, RM_EWIRE_TRUNCATED, "node %u is missing", i);
        uint8_t tag = *r->p++;
        rm_err err;
        if (tag == TAG_LEAF) {
            if ((err = read_leaf(r, t, fl, i, entries_max, diag)))
                return err;
            if (s.depth > t->depth)
                t->depth = s.depth;
            continue;
        }
        if (tag != TAG_SPLIT)
            return rm_diag_set(diag, RM_EWIRE_MALFORMED,
                               "node %u: unknown tag %u", i, tag);
        if (s.depth >= RM_FOREST_DEPTH_MAX)
            return rm_diag_set(diag, RM_ETREE_SHAPE,
                               "node %u: splits at depth %u (at most %u)", i,
                               s.depth, RM_FOREST_DEPTH_MAX - 1);
        if ((err = read_split(r, t, fl, i, diag)))
            return err;
        /* Right first, so that the left child is popped next: node i + 1. */
        stack[sp++] = (slot){i, s.depth + 1};
        stack[sp++] = (slot){RM_TREE_LEAF, s.depth + 1};
    }
    if (sp != 0)
        return rm_diag_set(diag, RM_ETREE_SHAPE,
                           "%zu children missing after %u nodes", sp,
                           t->n_nodes);
    return RM_OK;
}

/* Decodes the tree at r->p, advancing r; bytes after it are the caller's. */
static rm_err tree_read(reader *r, rm_tree **out, rm_diag *diag) {
    /* Zeroed because GCC cannot see that read_header sets them on success. */
    unsigned fl = 0;
    uint64_t id = 0;
    uint32_t features = 0, classes = 0, nodes = 0;
    *out = NULL;
    rm_err err = read_header(r, &fl, &id, &features, &classes, &nodes, diag);
    if (err)
        return err;
    /* Each entry takes at least 3 bytes, so this bounds the allocation by a
     * small multiple of the blob's size. */
    size_t entries_max = (size_t)(r->end - r->p) / 3;
    rm_tree *t = calloc(1, sizeof *t);
    if (!t)
        return RM_ENOMEM;
    t->id = id;
    t->features = features;
    t->classes = classes;
    t->n_nodes = nodes;
    t->nodes = malloc((size_t)nodes * sizeof *t->nodes);
    t->entries = malloc((entries_max ? entries_max : 1) * sizeof *t->entries);
    if (!t->nodes || !t->entries) {
        rm_tree_free(t);
        return RM_ENOMEM;
    }
    if ((err = read_nodes(r, t, fl, entries_max, diag))) {
        rm_tree_free(t);
        return err;
    }
    rm_tree_entry *e = realloc(t->entries, (size_t)t->n_entries * sizeof *e);
    t->entries = e ? e : t->entries;
    *out = t;
    return RM_OK;
}

rm_err rm_tree_decode(const uint8_t *buf, size_t len, rm_tree **out,
                      rm_diag *diag) {
    reader r = {buf, buf + len};
    rm_err err = tree_read(&r, out, diag);
    if (err)
        return err;
    if (r.p != r.end) {
        rm_tree_free(*out);
        *out = NULL;
        return rm_diag_set(diag, RM_EWIRE_MALFORMED,
                           "%zu bytes after the tree", (size_t)(r.end - r.p));
    }
    return RM_OK;
}

/* ---- forests ------------------------------------------------------------ */

rm_err rm_forest_encode(const rm_forest *f, uint8_t **out, size_t *len) {
    size_t count = rm_forest_count(f), n = FOREST_HEADER;
    *out = NULL;
    *len = 0;
    for (size_t i = 0; i < count; i++) {
        const rm_tree *t = rm_forest_tree(f, i);
        n += 4 + tree_size(t, tree_flags(t));
    }
    uint8_t *buf = malloc(n), *p = buf;
    if (!buf)
        return RM_ENOMEM;
    memcpy(p, FOREST_MAGIC, 4);
    p[4] = RM_FOREST_BLOB_VERSION;
    p[5] = 0;
    p = rm_le_put16(p + 6, 0);
    p = rm_le_put32(p, rm_forest_features(f));
    p = rm_le_put32(p, rm_forest_classes(f));
    p = rm_le_put32(p, (uint32_t)count);
    for (size_t i = 0; i < count; i++) {
        const rm_tree *t = rm_forest_tree(f, i);
        unsigned fl = tree_flags(t);
        p = rm_le_put32(p, (uint32_t)tree_size(t, fl));
        p = tree_write(p, t, fl);
    }
    *out = buf;
    *len = n;
    return RM_OK;
}

rm_err rm_forest_decode(const uint8_t *buf, size_t len, rm_forest **out,
                        rm_diag *diag) {
    *out = NULL;
    if (len < 6)
        return rm_diag_set(diag, RM_EWIRE_TRUNCATED, "forest header is cut short");
    if (memcmp(buf, FOREST_MAGIC, 4) != 0)
        return rm_diag_set(diag, RM_EWIRE_MALFORMED, "not a forest (magic)");
    if (buf[4] != RM_FOREST_BLOB_VERSION)
        return rm_diag_set(diag, RM_EWIRE_BAD_VERSION,
                           "forest version %u (this build reads %u)", buf[4],
                           RM_FOREST_BLOB_VERSION);
    if (len < FOREST_HEADER)
        return rm_diag_set(diag, RM_EWIRE_TRUNCATED, "forest header is cut short");
    if (buf[5] != 0 || rm_le_get16(buf + 6) != 0)
        return rm_diag_set(diag, RM_EWIRE_MALFORMED,
                           "forest has unknown flags or reserved bits");
    uint32_t features = rm_le_get32(buf + 8), classes = rm_le_get32(buf + 12),
             count = rm_le_get32(buf + 16);
    if (count > RM_FOREST_TREES_MAX)
        return rm_diag_set(diag, RM_EWIRE_TOO_LARGE, "%u trees (at most %u)",
                           count, RM_FOREST_TREES_MAX);
    rm_forest *f;
    rm_err err = rm_forest_create(&f, features, classes);
    if (err)
        return rm_diag_set(diag, err, "forest of %u features, %u classes",
                           features, classes);
    reader r = {buf + FOREST_HEADER, buf + len};
    for (uint32_t i = 0; i < count; i++) {
        if (!need(&r, 4)) {
            err = rm_diag_set(diag, RM_EWIRE_TRUNCATED, "tree %u is missing", i);
            goto err;
        }
        uint32_t n = rm_le_get32(r.p);
        r.p += 4;
        if (!need(&r, n)) {
            err = rm_diag_set(diag, RM_EWIRE_TRUNCATED,
                              "tree %u: %u bytes, %zu left", i, n,
                              (size_t)(r.end - r.p));
            goto err;
        }
        rm_tree *t;
        rm_diag inner = {{0}};
        if ((err = rm_tree_decode(r.p, n, &t, &inner))) {
            err = rm_diag_set(diag, err, "tree %u: %s", i, inner.msg);
            goto err;
        }
        r.p += n;
        if (i > 0 && t->id <= rm_forest_tree(f, i - 1)->id) {
            rm_tree_free(t);
            err = rm_diag_set(diag, RM_EWIRE_MALFORMED,
                              "tree %u: ids do not rise (a duplicate?)", i);
            goto err;
        }
        if ((err = rm_forest_add(f, t))) {
            rm_tree_free(t);
            err = rm_diag_set(diag, err, "tree %u: %s", i, rm_strerror(err));
            goto err;
        }
    }
    if (r.p != r.end) {
        err = rm_diag_set(diag, RM_EWIRE_MALFORMED, "%zu bytes after the forest",
                          (size_t)(r.end - r.p));
        goto err;
    }
    *out = f;
    return RM_OK;
err:
    rm_forest_free(f);
    return err;
}
