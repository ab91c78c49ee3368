/* rumor: the checkpoint store, one LMDB environment per peer data directory.
 *
 * DIR/data.mdb holds two named databases: "snap" maps a snapshot id (u64,
 * big-endian key, so LMDB's byte order is numeric order) to the encoded
 * snapshot (checkpoint/snapshot.h), and "meta" holds the next id and the
 * incarnation. A save is one write transaction, so a crash at any point
 * leaves the previous snapshot whole; the last `keep` are kept. Layout,
 * durability and recovery: docs/CHECKPOINTS.md.
 *
 * Threads: every call takes the store's mutex, so calls from different
 * threads are safe and run one at a time; a save on a worker thread blocks
 * a load on another until it commits. The environment is opened with
 * MDB_NOTLS, so no transaction is tied to the thread that began it. Other
 * processes (a `rumor` command listing the store) may open the same
 * directory at the same time; LMDB serialises their writers.
 *
 * Borrowed data: nothing returned points into LMDB memory; decoded
 * snapshots are copies that outlive the store.
 *
 * Diagnostics: on an error return d->msg starts with the file or directory
 * it concerns (".../data.mdb: no snapshot"), so a caller prints it as it
 * is. The notes left on success (a skipped snapshot in load_latest, the
 * first bad one in verify) name the snapshot only ("snapshot 7: hash
 * mismatch"); with nothing to note, those two leave d->msg empty. */
#ifndef RM_STORE_H
#define RM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "checkpoint/snapshot.h"

typedef enum { RM_DURABLE_FULL = 0, RM_DURABLE_NOSYNC = 1 } rm_durability;

typedef struct {
    rm_durability durability; /* FULL: commit returns after fsync (default) */
    uint32_t keep;            /* the last `keep` snapshots are kept (>= 1; default 3) */
    size_t map_initial;       /* initial LMDB map size in bytes (default 64 MiB);
                                 grows on MDB_MAP_FULL */
} rm_store_options;

/* FULL, keep 3, 64 MiB. */
void rm_store_options_default(rm_store_options *o);

typedef struct rm_store rm_store;

/* One snapshot as rm_store_list sees it. The fields come from its header and
 * are 0 when even the header does not parse; hash_ok says whether the whole
 * snapshot verifies (rm_snapshot_verify). */
typedef struct {
    uint64_t id, step, epoch, incarnation, saved_unix_ms, bytes;
    bool hash_ok;
    char model[RM_SNAP_MODEL_MAX];
} rm_snap_info;

/* Opens the store in dir, creating the directory (mode 0700, parents too)
 * and the environment if missing. o may be NULL for the defaults. *fresh
 * (when fresh is not NULL) is true when the store holds no snapshot.
 * Errors: RM_EINVAL (keep 0, map_initial 0), RM_ECKPT_CORRUPT (a data file
 * that is not an LMDB environment; d names it: ".../data.mdb: not an LMDB
 * file"), RM_EIO (cannot create or open; d names the path and the reason),
 * RM_ENOMEM. On error *out is NULL. */
rm_err rm_store_open(rm_store **out, const char *dir, const rm_store_options *o, bool *fresh,
                     rm_diag *d);

/* Closes the environment and frees s; a NOSYNC store is flushed to disk
 * first (one fsync), so a clean shutdown is durable. NULL is a no-op. No
 * call may be in flight on another thread. */
void rm_store_close(rm_store *s);

/* Saves snap under a new id (one more than any id this store ever gave,
 * even after a prune) and prunes to the last `keep`, in one write
 * transaction. The snapshot is encoded straight into the database page
 * (MDB_RESERVE), so the parameters are copied once and hashed once.
 * MDB_MAP_FULL aborts the transaction, doubles the map and retries; it is
 * never an error by itself. With RM_DURABLE_FULL the snapshot is on disk
 * when this returns; with NOSYNC it survives a crash of this process but
 * not of the machine (docs/CHECKPOINTS.md). *id_out may be NULL.
 * Errors: RM_EINVAL (snap does not encode), RM_EIO (LMDB or disk; d has
 * mdb_strerror and the file), RM_ECKPT_CORRUPT, RM_ENOMEM; nothing is
 * saved or pruned on error. */
rm_err rm_store_save(rm_store *s, const rm_snapshot *snap, uint64_t *id_out, rm_diag *d);

/* Decodes the newest snapshot that verifies into *out, walking back over
 * newer ones that do not. *skipped (may be NULL) counts the bad ones passed
 * over; when it is not 0 the call still succeeds and d says why the newest
 * bad one was bad ("snapshot 7: hash mismatch"), for the caller to warn.
 * *id (may be NULL) is the loaded id. Release *out with
 * rm_snapshot_release.
 * Errors: RM_ECKPT_NONE (the store holds no snapshot), the decode error of
 * the newest one when none verifies (d: "all 3 snapshots are bad; ..."),
 * RM_EIO, RM_ENOMEM. */
rm_err rm_store_load_latest(rm_store *s, rm_snapshot *out, uint64_t *id, uint32_t *skipped,
                            rm_diag *d);

/* Decodes snapshot id into *out. Errors: RM_ECKPT_NONE (no such id), the
 * decode errors of rm_snapshot_decode, RM_EIO, RM_ENOMEM. */
rm_err rm_store_load(rm_store *s, uint64_t id, rm_snapshot *out, rm_diag *d);

/* Every snapshot, oldest first, into a malloc'd array (*out; free() it; NULL
 * when *n is 0). Hashes every snapshot to fill hash_ok: O(bytes stored).
 * Errors: RM_EIO, RM_ENOMEM (*out NULL, *n 0). */
rm_err rm_store_list(rm_store *s, rm_snap_info **out, size_t *n, rm_diag *d);

/* Verifies every snapshot (rm_snapshot_verify: hash and layout); *bad
 * counts those that fail and d names the first (oldest) bad one. Returns
 * RM_OK whenever the store could be read, bad ones or not.
 * Errors: RM_EIO. */
rm_err rm_store_verify(rm_store *s, size_t *bad, rm_diag *d);

/* Deletes all but the newest `keep` snapshots (keep 0 deletes all; ids are
 * never reused) in one write transaction. Errors: RM_EIO. */
rm_err rm_store_prune(rm_store *s, uint32_t keep, rm_diag *d);

/* Reads the incarnation from the meta database (0 in a fresh store), adds
 * 1, and commits with fsync whatever the durability setting, so a restarted
 * peer never reuses one; the first call on a fresh store gives 1.
 * Errors: RM_EIO (nothing is returned then: the caller must not announce
 * itself). */
rm_err rm_store_bump_incarnation(rm_store *s, uint64_t *incarnation, rm_diag *d);

/* Flushes everything committed to disk (fsync), for a NOSYNC store that
 * wants a durable point (before a clean exit). Errors: RM_EIO. */
rm_err rm_store_sync(rm_store *s, rm_diag *d);

/* DIR/data.mdb, for messages. Valid until rm_store_close. */
const char *rm_store_path(const rm_store *s);

#endif
