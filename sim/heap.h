/* rumor simulator: the event queue. A binary min-heap keyed by
 * (virtual time, insertion sequence): events at the same time come out in
 * the order they were pushed, so a run never depends on heap internals. */
#ifndef RM_SIM_HEAP_H
#define RM_SIM_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct {
    uint64_t time_us;   /* virtual time, microseconds */
    uint64_t seq;       /* insertion order, set by rm_heap_push */
    uint32_t kind;      /* what happens (the simulator's enum) */
    uint32_t peer;      /* whom it happens to */
    uint64_t arg;       /* kind-specific: a message slot, a timer id, ... */
} rm_event;

typedef struct {
    rm_event *ev;
    size_t len, cap;
    uint64_t next_seq;
} rm_heap;

/* Starts empty with room for cap events (at least 16; the array doubles as
 * needed and never shrinks, so a run that sizes it well never allocates
 * again). Errors: RM_ENOMEM. */
rm_err rm_heap_init(rm_heap *h, size_t cap);
/* Frees the array; h may be initialised again. */
void rm_heap_free(rm_heap *h);

/* Adds e (its seq is overwritten). O(log n). Errors: RM_ENOMEM (when the
 * array cannot grow; then nothing is changed). */
rm_err rm_heap_push(rm_heap *h, rm_event e);

/* Removes the earliest event into *out; returns 0 when empty, 1 otherwise.
 * O(log n). */
int rm_heap_pop(rm_heap *h, rm_event *out);

/* The earliest event without removing it, or NULL when empty. */
const rm_event *rm_heap_peek(const rm_heap *h);

/* The event that will come out after the earliest one (the smaller child
 * of the root), or NULL with fewer than two. O(1). */
const rm_event *rm_heap_peek2(const rm_heap *h);

#endif
