/* rumor: the forest's configuration: defaults, "forest:KEY=VALUE,..." specs,
 * and how the trees are shared out over peers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/forest.h"

void rm_forest_config_default(rm_forest_config *c) {
    c->trees = 100;
    c->max_depth = 20;
    c->min_leaf = 1;
    c->features_per_split = 0;
    c->bootstrap = true;
}

/* Parses the decimal in [p, p + len) into *v within [lo, hi]. */
static int parse_u32(const char *p, size_t len, uint32_t lo, uint32_t hi,
                     uint32_t *v) {
    char buf[16];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (buf[i] < '0' || buf[i] > '9')
            return -1;
    errno = 0;
    unsigned long long x = strtoull(buf, NULL, 10);
    if (errno || x < lo || x > hi)
        return -1;
    *v = (uint32_t)x;
    return 0;
}

rm_err rm_forest_config_parse(const char *spec, rm_forest_config *c,
                              rm_diag *diag) {
    static const char head[] = "forest";
    if (!spec || strncmp(spec, head, sizeof head - 1) != 0 ||
        (spec[sizeof head - 1] != '\0' && spec[sizeof head - 1] != ':'))
        return rm_diag_set(diag, RM_EMODEL_SPEC,
                           "a forest spec starts with \"forest\" or \"forest:\"");
    rm_forest_config out;
    rm_forest_config_default(&out);
    const char *p = spec + sizeof head - 1;
    if (*p == ':') {
        p++;
        if (*p == '\0')
            return rm_diag_set(diag, RM_EMODEL_SPEC, "nothing after \"forest:\"");
    }
    while (*p) {
        const char *end = strchr(p, ',');
        size_t item = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', item);
        if (!eq)
            return rm_diag_set(diag, RM_EMODEL_SPEC,
                               "\"%.*s\" is not KEY=VALUE", (int)item, p);
        size_t klen = (size_t)(eq - p), vlen = item - klen - 1;
        const char *val = eq + 1;
        struct {
            const char *key;
            uint32_t lo, hi, *dst;
        } keys[] = {
            {"trees", 1, RM_FOREST_TREES_MAX, &out.trees},
            {"depth", 1, RM_FOREST_DEPTH_MAX, &out.max_depth},
            {"min_leaf", 1, RM_DATA_ROWS_MAX, &out.min_leaf},
            {"features", 0, RM_DATA_FEATURES_MAX, &out.features_per_split},
        };
        int found = 0;
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            if (strlen(keys[k].key) != klen || memcmp(keys[k].key, p, klen))
                continue;
            found = 1;
            if (parse_u32(val, vlen, keys[k].lo, keys[k].hi, keys[k].dst))
                return rm_diag_set(diag, RM_EMODEL_SPEC,
                                   "%s=%.*s: expected an integer in %u..%u",
                                   keys[k].key, (int)vlen, val, keys[k].lo,
                                   keys[k].hi);
        }
        if (!found && klen == 9 && memcmp(p, "bootstrap", 9) == 0) {
            uint32_t v;
            found = 1;
            if (parse_u32(val, vlen, 0, 1, &v))
                return rm_diag_set(diag, RM_EMODEL_SPEC,
                                   "bootstrap=%.*s: expected 0 or 1", (int)vlen,
                                   val);
            out.bootstrap = v != 0;
        }
        if (!found)
            return rm_diag_set(diag, RM_EMODEL_SPEC,
                               "unknown key \"%.*s\" (trees, depth, min_leaf, "
                               "features, bootstrap)",
                               (int)klen, p);
        p = end ? end + 1 : p + item;
        if (end && *p == '\0')
            return rm_diag_set(diag, RM_EMODEL_SPEC, "spec ends with a comma");
    }
    *c = out;
    return RM_OK;
}

void rm_forest_config_format(const rm_forest_config *c, char *buf, size_t len) {
    if (len == 0)
        return;
    snprintf(buf, len,
             "forest:trees=%u,depth=%u,min_leaf=%u,features=%u,bootstrap=%d",
             c->trees, c->max_depth, c->min_leaf, c->features_per_split,
             c->bootstrap ? 1 : 0);
}

uint32_t rm_forest_share(uint32_t trees, uint32_t peers, uint32_t peer) {
    if (peers == 0 || peer >= peers)
        return 0;
    return trees / peers + (peer < trees % peers ? 1 : 0);
}
