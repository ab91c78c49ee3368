/* rumor: the snapshot codec. A snapshot is everything a peer needs to carry
 * on after a restart (parameters, optimizer state, counters, PRNG states,
 * its data order, the gossip core's view and delta bases), as one byte
 * string that ends in a BLAKE2b-256 hash of the rest.
 *
 * Pure: no I/O, no clock, no randomness; libsodium only for the hash. The
 * byte layout is in docs/CHECKPOINTS.md; every integer is little-endian.
 * checkpoint/store.h keeps these byte strings in LMDB. */
#ifndef RM_SNAPSHOT_H
#define RM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define RM_SNAP_FORMAT 1
#define RM_SNAP_MODEL_MAX 128 /* model descriptor, NUL included */
#define RM_SNAP_MAGIC_BYTES 8
#define RM_SNAP_HASH_BYTES 32 /* BLAKE2b-256 */

/* The first bytes of every snapshot: "RMSNAP" NUL 0x01. */
extern const uint8_t rm_snap_magic[RM_SNAP_MAGIC_BYTES];

typedef struct {
    uint32_t format;               /* set by decode; encode writes RM_SNAP_FORMAT */
    char model[RM_SNAP_MODEL_MAX]; /* model descriptor, e.g. "mlp:784-128-10", NUL-terminated */
    uint64_t saved_unix_ms;        /* wall clock of the save, from the caller */
    uint64_t step, epoch, cursor;  /* trainer counters; cursor = next position in `order` */
    uint64_t incarnation;
    uint64_t rng[4];      /* rm_rng state of the learner */
    uint64_t peer_rng[4]; /* rm_rng state of the gossip core */
    uint32_t opt_kind;    /* rm_opt_kind (0 none) */
    uint64_t opt_t;       /* optimizer steps taken */
    uint64_t nparams;
    const float *params;        /* (nparams) */
    const float *opt_m, *opt_v; /* (nparams) each, or NULL when absent */
    uint64_t norder;
    const uint32_t *order; /* (norder) the epoch's permutation; may be 0/NULL */
    uint64_t view_len;
    const uint8_t *view; /* opaque: the gossip core's membership view */
    uint64_t bases_len;
    const uint8_t *bases; /* opaque: per-neighbour delta bases */
    uint64_t extra_len;
    const uint8_t *extra; /* opaque: model-specific (random-forest trees) */
    void *mem_;           /* owned block after decode; NULL for caller-built snapshots */
} rm_snapshot;

/* The exact encoded size of s, hash included. O(1). Optional arrays count
 * when present: opt_m/opt_v when not NULL, order/view/bases/extra when their
 * length is not 0 (their pointer is then ignored). */
size_t rm_snapshot_size(const rm_snapshot *s);

/* Encodes s into buf, which must be exactly rm_snapshot_size(s) bytes, and
 * ends it with the hash. buf needs no alignment: the store passes an LMDB
 * MDB_RESERVE'd value, so a save copies the parameters once, straight into
 * the database page. Nothing is allocated. Cost: one pass over the arrays to
 * copy them and one to hash them (BLAKE2b dominates; docs/CHECKPOINTS.md).
 * Errors: RM_EINVAL when len differs from the size, the model descriptor is
 * not NUL-terminated within RM_SNAP_MODEL_MAX, or a present array has a NULL
 * pointer (buf is then untouched). */
rm_err rm_snapshot_write(const rm_snapshot *s, uint8_t *buf, size_t len);

/* Decodes and verifies buf. Checks, in this order: the length is at least
 * the smallest snapshot, the magic, the format, the hash, then the header
 * and every section's tag and length against the bytes left (so nothing is
 * allocated for a length the input does not hold). On success every array
 * of *out points into one malloc'd block out->mem_, 64-byte aligned per
 * array: copies, so buf may be unaligned (LMDB memory) and may go away.
 * Absent optional arrays are NULL (lengths 0). Floats are not checked
 * (NaN/Inf pass). Release *out with rm_snapshot_release.
 * Errors (d says what failed, e.g. "hash mismatch" or "section params:
 * length 99 exceeds the 40 bytes left"; *out is zeroed):
 *   RM_ECKPT_MAGIC   not a snapshot
 *   RM_ECKPT_FORMAT  a format other than RM_SNAP_FORMAT
 *   RM_ECKPT_HASH    the hash does not match the bytes before it
 *   RM_ECKPT_CORRUPT too short, or a hashed but malformed layout (bad tag,
 *                    order or length, missing section, trailing bytes)
 *   RM_ENOMEM */
rm_err rm_snapshot_decode(const uint8_t *buf, size_t len, rm_snapshot *out, rm_diag *d);

/* Everything rm_snapshot_decode checks, without copying anything out: 0 when
 * decode would succeed (short of memory), else its error and diag. When hdr
 * is not NULL it receives the fixed fields and the model descriptor (its
 * array pointers are NULL and mem_ is NULL) as far as the layout could be
 * read, even when the hash fails. Costs one hash pass; allocates nothing. */
rm_err rm_snapshot_verify(const uint8_t *buf, size_t len, rm_snapshot *hdr, rm_diag *d);

/* Frees s->mem_ and zeroes *s. Safe on a zeroed or caller-built snapshot
 * (mem_ NULL: nothing is freed, the caller's arrays are not touched). */
void rm_snapshot_release(rm_snapshot *s);

#endif
