#include "gossip/view.h"

#include "base/str.h"

#include <stdlib.h>
#include <string.h>

rm_err rm_view_init(rm_view *v, uint32_t max, uint32_t suspect_after,
                    uint32_t drop_after) {
    memset(v, 0, sizeof *v);
    if (max == 0 || max > 4096 || suspect_after == 0 || drop_after < suspect_after)
        return RM_EINVAL;
    v->e = calloc(max, sizeof *v->e);
    if (!v->e)
        return RM_ENOMEM;
    v->max = max;
    v->suspect_after = suspect_after;
    v->drop_after = drop_after;
    return RM_OK;
}

void rm_view_free(rm_view *v) {
    free(v->e);
    memset(v, 0, sizeof *v);
}

rm_view_entry *rm_view_find(rm_view *v, const uint8_t id[RM_ID_BYTES]) {
    for (uint32_t i = 0; i < v->len; i++)
        if (memcmp(v->e[i].id, id, RM_ID_BYTES) == 0)
            return &v->e[i];
    return NULL;
}

static void set_addr(rm_view_entry *e, const char *addr) {
    size_t n = addr ? rm_strnlen(addr, RM_VIEW_ADDR_MAX) : 0;
    rm_copy_short(e->addr, addr ? addr : "", n);
    e->addr[n] = '\0';
}

rm_view_entry *rm_view_learn(rm_view *v, const uint8_t id[RM_ID_BYTES],
                             const char *addr, uint64_t incarnation,
                             uint32_t age, bool replace) {
    if (addr && rm_strnlen(addr, RM_VIEW_ADDR_MAX + 1) > RM_VIEW_ADDR_MAX)
        return NULL;
    rm_view_entry *e = rm_view_find(v, id);
    if (e) {
        if (incarnation < e->incarnation)
            return NULL;
        if (incarnation > e->incarnation) {
            e->incarnation = incarnation;
            e->misses = 0;
            e->last_version = 0; /* a new life counts versions anew ... */
            e->last_exchange = 0; /* ... and draws its exchange ids anew */
            e->last_have = 0;
            if (addr && addr[0])
                set_addr(e, addr);
        }
        if (age < rm_view_age(v, e))
            e->heard = v->round - age;
        return e;
    }
    if (v->len < v->max) {
        e = &v->e[v->len++];
    } else {
        if (!replace)
            return NULL;
        rm_view_entry *oldest = &v->e[0];
        for (uint32_t i = 1; i < v->len; i++)
            if (rm_view_age(v, &v->e[i]) > rm_view_age(v, oldest))
                oldest = &v->e[i];
        if (rm_view_age(v, oldest) <= age)
            return NULL;
        e = oldest;
    }
    memset(e, 0, sizeof *e);
    memcpy(e->id, id, RM_ID_BYTES);
    set_addr(e, addr);
    e->incarnation = incarnation;
    e->heard = v->round - age;
    return e;
}

void rm_view_heard(rm_view *v, const uint8_t id[RM_ID_BYTES]) {
    rm_view_entry *e = rm_view_find(v, id);
    if (e) {
        e->heard = v->round;
        e->misses = 0;
    }
}

void rm_view_remove(rm_view *v, const uint8_t id[RM_ID_BYTES]) {
    rm_view_entry *e = rm_view_find(v, id);
    if (e)
        *e = v->e[--v->len]; /* order does not matter */
}

bool rm_view_missed(rm_view *v, const uint8_t id[RM_ID_BYTES]) {
    rm_view_entry *e = rm_view_find(v, id);
    if (!e)
        return false;
    if (++e->misses >= v->drop_after) {
        rm_view_remove(v, id);
        return true;
    }
    return false;
}

void rm_view_tick(rm_view *v) {
    v->round++;
}

uint32_t rm_view_age(const rm_view *v, const rm_view_entry *e) {
    return v->round - e->heard; /* unsigned: right across wrap-around */
}

rm_view_entry *rm_view_pick(rm_view *v, rm_rng *rng) {
    if (v->len == 0)
        return NULL;
    uint32_t healthy = 0;
    for (uint32_t i = 0; i < v->len; i++)
        healthy += v->e[i].misses < v->suspect_after;
    /* Healthy peers are preferred, but one round in two probes a suspected
     * one: a suspect that is never tried again is never dropped (a killed
     * peer stayed in every view) and never cleared either. */
    bool probe = healthy < v->len && (healthy == 0 || rm_rng_below(rng, 2) == 0);
    uint32_t pool = probe ? v->len - healthy : healthy;
    uint64_t k = rm_rng_below(rng, pool);
    for (uint32_t i = 0; i < v->len; i++)
        if ((v->e[i].misses < v->suspect_after) != probe && k-- == 0)
            return &v->e[i];
    return NULL; /* unreachable */
}

uint32_t rm_view_sample(const rm_view *v, rm_rng *rng, const uint8_t *skip,
                        rm_wire_entry *out, uint32_t k) {
    /* Partial Fisher-Yates over indices; views are small. */
    uint32_t idx[4096], n = 0, got = 0;
    for (uint32_t i = 0; i < v->len; i++)
        if (!skip || memcmp(v->e[i].id, skip, RM_ID_BYTES) != 0)
            idx[n++] = i;
    for (uint32_t i = 0; i < n && got < k; i++) {
        uint32_t j = i + (uint32_t)rm_rng_below(rng, n - i);
        uint32_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
        const rm_view_entry *e = &v->e[idx[i]];
        rm_wire_entry *w = &out[got++];
        memcpy(w->id, e->id, RM_ID_BYTES);
        w->incarnation = e->incarnation;
        w->age = rm_view_age(v, e);
        w->addr_len = (uint8_t)rm_strnlen(e->addr, RM_VIEW_ADDR_MAX);
        rm_copy_short(w->addr, e->addr, w->addr_len);
        w->addr[w->addr_len] = '\0';
    }
    return got;
}
