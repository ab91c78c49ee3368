/* rumor gossip: the membership view, a partial view of up to `max` peers.
 *
 * Each entry is a peer's id, address, incarnation, age (own gossip rounds
 * since it was last heard of) and missed exchanges. A restarted peer comes
 * back with a higher incarnation and replaces its old entry; lower
 * incarnations are ignored. A peer that misses `suspect_after` exchanges is
 * suspected (picked last), and dropped after `drop_after`. O(max) per
 * operation: views are small (tens of entries). */
#ifndef RM_VIEW_H
#define RM_VIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "base/rng.h"
#include "gossip/wire.h"

/* Addresses kept in a view are short ("203.0.113.7:7000", "[2001:db8::1]:7000"
 * fit): a view is kept by every peer, 10,000 of them in a simulation, so
 * entries stay small. Longer addresses are not stored. */
#define RM_VIEW_ADDR_MAX 47

/* The age a re-contacted seed enters with: older than any entry heard of
 * (so it is the first to go when the view is full), but not forgotten. */
#define RM_VIEW_AGE_FRESH 1000000u

typedef struct {
    uint8_t id[RM_ID_BYTES];
    char addr[RM_VIEW_ADDR_MAX + 1];
    uint64_t incarnation;
    uint32_t heard;           /* the view's round when last heard of;
                                 age = round - heard (no per-round pass) */
    uint32_t misses;
    uint64_t last_version;    /* newest model version seen from it */
    uint64_t last_exchange;   /* the last exchange it opened with us */
    uint64_t last_have;       /* the last item exchange it opened with us */
} rm_view_entry;

typedef struct {
    rm_view_entry *e;         /* (max) */
    uint32_t len, max;
    uint32_t round;           /* own gossip rounds so far */
    uint32_t suspect_after, drop_after;
} rm_view;

rm_err rm_view_init(rm_view *v, uint32_t max, uint32_t suspect_after,
                    uint32_t drop_after);
void rm_view_free(rm_view *v);

/* The entry for id, or NULL. */
rm_view_entry *rm_view_find(rm_view *v, const uint8_t id[RM_ID_BYTES]);

/* Learns of a peer. Known: a higher incarnation replaces the entry's
 * incarnation and address and clears its misses; a lower one is ignored;
 * age becomes the smaller. Unknown: added when there is room, else it
 * replaces the oldest entry if it is younger (when `replace` is true).
 * Returns the entry, or NULL when it was not taken (an address longer than
 * RM_VIEW_ADDR_MAX is never taken). */
rm_view_entry *rm_view_learn(rm_view *v, const uint8_t id[RM_ID_BYTES],
                             const char *addr, uint64_t incarnation,
                             uint32_t age, bool replace);

/* Heard from id directly: age 0, misses cleared. */
void rm_view_heard(rm_view *v, const uint8_t id[RM_ID_BYTES]);

/* One missed exchange with id; returns true when it was dropped. */
bool rm_view_missed(rm_view *v, const uint8_t id[RM_ID_BYTES]);

/* Removes id (it left). */
void rm_view_remove(rm_view *v, const uint8_t id[RM_ID_BYTES]);

/* Ages every entry by one round. O(1). */
void rm_view_tick(rm_view *v);

/* Rounds since the entry was last heard of. */
uint32_t rm_view_age(const rm_view *v, const rm_view_entry *e);

/* Picks an exchange partner: uniformly among unsuspected entries, except
 * that one pick in two (and every pick when all are suspected) goes to a
 * suspected entry, so that suspects are confirmed dead or cleared. NULL
 * when the view is empty. */
rm_view_entry *rm_view_pick(rm_view *v, rm_rng *rng);

/* Fills out with up to k distinct random entries other than `skip`
 * (may be NULL), for piggybacking. Returns how many. */
uint32_t rm_view_sample(const rm_view *v, rm_rng *rng, const uint8_t *skip,
                        rm_wire_entry *out, uint32_t k);

#endif
