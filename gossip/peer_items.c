/* The peer core's item set: opaque blobs with 64-bit ids (a random
 * forest's trees), merged by union (docs/PROTOCOL.md, "The item exchange").
 *
 * Each round the initiator sends HAVE(want_reply = 1) with every id it
 * holds; the partner answers with ITEMS of what the initiator lacks and its
 * own HAVE(want_reply = 0), and the initiator sends ITEMS of what the
 * partner lacks. The set is one array sorted by id, so the ids a HAVE
 * carries come out ascending and "what does the partner lack" is one merge
 * walk over two sorted lists: O(ours + theirs). */
#include <stdlib.h>
#include <string.h>

#include "gossip/peer_internal.h"

#define ITEMS_FRAME_FIXED (RM_WIRE_HEADER_BYTES + 4) /* header, count */
#define ITEM_FIXED 12                                 /* id, len */

/* Index of the first item whose id is >= id (nitems when none). */
static uint32_t lower_bound(const rm_peer *p, uint64_t id) {
    uint32_t lo = 0, hi = p->nitems;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (p->items[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool rm_peer_has_item(const rm_peer *p, uint64_t id) {
    uint32_t i = lower_bound(p, id);
    return i < p->nitems && p->items[i].id == id;
}

uint32_t rm_peer_item_count(const rm_peer *p) { return p->nitems; }

rm_err rm_peer_add_item(rm_peer *p, uint64_t id, const uint8_t *bytes, size_t len) {
    if (p->cfg.items_max == 0 || (len && !bytes))
        return RM_EINVAL;
    /* It must fit an ITEMS frame on its own, or it could never be sent. */
    if (len > p->cfg.items_frame_bytes - ITEMS_FRAME_FIXED - ITEM_FIXED)
        return RM_ETOO_LARGE;
    uint32_t at = lower_bound(p, id);
    if (at < p->nitems && p->items[at].id == id)
        return RM_OK;
    if (p->nitems >= p->cfg.items_max)
        return RM_ETOO_LARGE;
    if (p->nitems == p->items_cap) {
        uint32_t cap = p->items_cap ? 2 * p->items_cap : 16;
        if (cap > p->cfg.items_max)
            cap = p->cfg.items_max;
        rm_item *grown = realloc(p->items, (size_t)cap * sizeof *grown);
        if (!grown)
            return RM_ENOMEM;
        p->items = grown;
        p->items_cap = cap;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return RM_ENOMEM;
    if (len)
        memcpy(copy, bytes, len);
    memmove(&p->items[at + 1], &p->items[at], (size_t)(p->nitems - at) * sizeof *p->items);
    p->items[at] = (rm_item){.id = id, .len = (uint32_t)len, .bytes = copy};
    p->nitems++;
    return RM_OK;
}

void peer_items_free(rm_peer *p) {
    for (uint32_t i = 0; i < p->nitems; i++)
        free(p->items[i].bytes);
    free(p->items);
    free(p->offered);
}

static const char *addr_of(rm_peer *p, const uint8_t *peer) {
    rm_view_entry *e = rm_view_find(&p->view, peer);
    return e ? e->addr : "";
}

/* Sends our ids. With want_reply it opens an item exchange, whose answer
 * (a HAVE without want_reply, same id, from `to`) gets our ITEMS. */
void peer_send_have(rm_peer *p, const uint8_t *to, uint64_t exchange, bool want_reply) {
    uint64_t *ids = malloc((p->nitems ? p->nitems : 1) * sizeof *ids);
    if (!ids)
        return; /* as on a lossy link: the exchange times out */
    for (uint32_t i = 0; i < p->nitems; i++)
        ids[i] = p->items[i].id;
    rm_frame f;
    f.type = RM_FRAME_HAVE;
    f.flags = 0;
    rm_wire_have *h = &f.u.have;
    h->exchange = exchange;
    h->incarnation = p->cfg.incarnation;
    h->want_reply = want_reply;
    h->nentries = peer_fill_entries(p, to, h->entries);
    h->nids = p->nitems;
    h->ids = ids;
    h->id_bytes = NULL;
    if (want_reply) {
        p->have_open = true;
        p->have.id = exchange;
        memcpy(p->have.peer, to, RM_ID_BYTES);
    }
    peer_send_frame(p, to, addr_of(p, to), &f);
    free(ids);
}

/* Sends `to` one ITEMS frame with the items that h does not list, in id
 * order, as many as fit items_frame_bytes (the rest go in later rounds;
 * rm_peer_add_item made sure that one always fits). Nothing when it lacks
 * nothing. */
static void send_missing(rm_peer *p, const uint8_t *to, const rm_wire_have *h) {
    rm_wire_item *out = NULL;
    uint32_t n = 0, j = 0;
    uint64_t bytes = ITEMS_FRAME_FIXED;
    for (uint32_t i = 0; i < p->nitems; i++) {
        const rm_item *it = &p->items[i];
        while (j < h->nids && rm_wire_have_id(h, j) < it->id)
            j++;
        if (j < h->nids && rm_wire_have_id(h, j) == it->id)
            continue;
        if (bytes + ITEM_FIXED + it->len > p->cfg.items_frame_bytes)
            break;
        if (!out && !(out = malloc((size_t)(p->nitems - i) * sizeof *out)))
            return;
        out[n++] = (rm_wire_item){.id = it->id, .len = it->len, .bytes = it->bytes};
        bytes += ITEM_FIXED + it->len;
    }
    if (n) {
        rm_frame f = {.type = RM_FRAME_ITEMS};
        f.u.items.count = n;
        f.u.items.items = out;
        peer_send_frame(p, to, addr_of(p, to), &f);
        p->st.items_out += n;
    }
    free(out);
}

void peer_on_have(rm_peer *p, const uint8_t *from, const rm_wire_have *h) {
    if (p->cfg.items_max == 0) {
        p->st.unexpected++;
        return;
    }
    peer_learn_entries(p, from, h->nentries, h->entries);
    rm_view_heard(&p->view, from);
    if (h->want_reply) {
        /* A HAVE the network duplicated would cost a second ITEMS. */
        rm_view_entry *e = rm_view_find(&p->view, from);
        if (e && e->last_have == h->exchange) {
            p->st.duplicates++;
            return;
        }
        if (e)
            e->last_have = h->exchange;
        send_missing(p, from, h);
        peer_send_have(p, from, h->exchange, false);
        return;
    }
    /* The answer to our HAVE: it ends an items-only peer's exchange. */
    if (!p->have_open || p->have.id != h->exchange ||
        memcmp(p->have.peer, from, RM_ID_BYTES) != 0) {
        p->st.unexpected++;
        return;
    }
    p->have_open = false;
    peer_exchange *x = p->cfg.n == 0 ? peer_find_exchange(p, from, h->exchange) : NULL;
    if (x) {
        x->active = false;
        p->st.exchanges_done++;
    }
    send_missing(p, from, h);
}

/* Was id handed to the shell during this input already? (A step's queued
 * frames are handled in one input, and two partners may send one item.) */
static bool offered(const rm_peer *p, uint64_t id) {
    for (uint32_t i = 0; i < p->noffered; i++)
        if (p->offered[i] == id)
            return true;
    return false;
}

static void remember_offer(rm_peer *p, uint64_t id) {
    if (p->noffered == p->offered_cap) {
        uint32_t cap = p->offered_cap ? 2 * p->offered_cap : 64;
        uint64_t *grown = realloc(p->offered, (size_t)cap * sizeof *grown);
        if (!grown)
            return; /* the shell may then see the id twice: it checks anyway */
        p->offered = grown;
        p->offered_cap = cap;
    }
    p->offered[p->noffered++] = id;
}

/* Items handed to the shell per input at most: a frame (or a step's worth
 * of queued frames) of 65,536 tiny items must not turn into 65,536 actions
 * and a quadratic duplicate check. The rest come again in later rounds. */
#define OFFERS_MAX 1024u

/* Hands the items we lack to the shell, which checks each and adds it back
 * (rm_peer_add_item) if it is good; at most OFFERS_MAX per input, and never
 * more than would fill items_max. O(count x log items + offered^2). */
void peer_on_items(rm_peer *p, const uint8_t *from, const rm_wire_items *its) {
    if (p->cfg.items_max == 0) {
        p->st.unexpected++;
        return;
    }
    rm_view_heard(&p->view, from);
    rm_wire_items_iter it;
    rm_wire_item x;
    rm_wire_items_begin(its, &it);
    while (rm_wire_items_next(&it, &x)) {
        if (p->noffered >= OFFERS_MAX || p->nitems + p->noffered >= p->cfg.items_max)
            break;
        if (rm_peer_has_item(p, x.id) || offered(p, x.id)) {
            p->st.items_dup++;
            continue;
        }
        uint8_t *copy = malloc(x.len ? x.len : 1);
        rm_action *a = copy ? peer_push_action(p, RM_ACT_ITEM) : NULL;
        if (!a) {
            free(copy);
            continue; /* a later round sends it again */
        }
        if (x.len)
            memcpy(copy, x.bytes, x.len);
        memcpy(a->peer, from, RM_ID_BYTES);
        const char *addr = addr_of(p, from); /* a view address: it fits */
        memcpy(a->addr, addr, strlen(addr) + 1);
        a->bytes = copy;
        a->len = x.len;
        a->item_id = x.id;
        p->st.items_in++;
        remember_offer(p, x.id);
    }
}
