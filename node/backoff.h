/* rumor: how long the node waits before it dials a peer again.
 *
 * Exponential backoff with "equal jitter": after f consecutive failed dials
 * (f >= 1) the ceiling is d = min(cap, base * 2^(f-1)), and the wait is
 * d/2 plus a uniform draw from [0, d/2]. Half of the wait is certain, so a
 * peer is never hammered; the other half spreads the redials of many nodes
 * that lost the same peer at the same moment (a restart, a partition), so
 * that they do not all knock at once. The shell resets f after a handshake
 * with the peer succeeds.
 *
 * Pure: the random word comes from the caller (node.c draws it from
 * libsodium's randombytes_buf), so tests can pin every draw. */
#ifndef RM_BACKOFF_H
#define RM_BACKOFF_H

#include <stdint.h>

#define RM_BACKOFF_BASE_MS 250u     /* the first wait: 125..250 ms */
#define RM_BACKOFF_CAP_MS 30000u    /* no wait is longer than this */

/* The ceiling d for `failures` consecutive failures: base_ms * 2^(failures-1),
 * at most cap_ms; 0 when failures or base_ms is 0. Never overflows; at most
 * 33 doublings. */
uint32_t rm_backoff_ceiling_ms(uint32_t failures, uint32_t base_ms, uint32_t cap_ms);

/* The wait before the next dial after `failures` consecutive failures:
 * h + (random % (d - h + 1)) with d = rm_backoff_ceiling_ms(...) and
 * h = d / 2, so it lies in [d/2, d]; 0 when the ceiling is 0. `random` is
 * a uniform 64-bit word (the modulo bias is below 2^-31 for any 32-bit
 * ceiling). O(1). */
uint32_t rm_backoff_delay_ms(uint32_t failures, uint32_t base_ms, uint32_t cap_ms,
                             uint64_t random);

#endif
