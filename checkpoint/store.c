/* The checkpoint store: snapshots in LMDB, one environment per directory
 * (checkpoint/store.h; docs/CHECKPOINTS.md). */
#define _POSIX_C_SOURCE 200809L
#include "checkpoint/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#define MAP_DEFAULT_BYTES ((size_t)64 << 20)
#define MAP_STEP_BYTES ((size_t)1 << 20) /* map sizes are whole MiB */
#define MAP_GROW_MAX 40                  /* doublings per call: 1 MiB reaches 1 PiB */
#define PATH_BYTES 4096

/* LMDB's data file starts with a meta page: a 16-byte page header, then
 * mm_magic (native endian). Checked before mdb_env_open so that a foreign
 * file is reported as the data file (LMDB's MDB_INVALID could also mean
 * the lock file). */
#define LMDB_MAGIC 0xBEEFC0DEu
#define LMDB_MAGIC_OFFSET 16

/* A body's private answer: LMDB's map is full; grow it and run again. */
#define MAP_FULL_RETRY 1

static const char KEY_NEXT_ID[] = "next_id";
static const char KEY_INCARNATION[] = "incarnation";

struct rm_store {
    MDB_env *env;
    MDB_dbi snap, meta;
    rm_store_options opt;
    size_t map_bytes;
    pthread_mutex_t mu;
    char path[PATH_BYTES]; /* DIR/data.mdb */
};

void rm_store_options_default(rm_store_options *o) {
    o->durability = RM_DURABLE_FULL;
    o->keep = 3;
    o->map_initial = MAP_DEFAULT_BYTES;
}

const char *rm_store_path(const rm_store *s) {
    return s->path;
}

/* ---- LMDB errors, keys and values */

/* Maps an LMDB (or errno) code to an rm_err, with the file and the step in
 * d: ".../data.mdb: commit: No space left on device". */
static rm_err mdb_fail(const rm_store *s, int rc, const char *what, rm_diag *d) {
    rm_err err;
    switch (rc) {
    case MDB_INVALID:
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_VERSION_MISMATCH:
    case MDB_INCOMPATIBLE:
        err = RM_ECKPT_CORRUPT;
        break;
    case ENOMEM:
        err = RM_ENOMEM;
        break;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
        err = RM_ETOO_LARGE;
        break;
    default:
        err = RM_EIO;
        break;
    }
    return rm_diag_set(d, err, "%s: %s: %s", s->path, what, mdb_strerror(rc));
}

static void id_key(uint8_t k[8], uint64_t id) {
    for (int i = 0; i < 8; i++)
        k[i] = (uint8_t)(id >> (56 - 8 * i)); /* big-endian: byte order = numeric order */
}

static uint64_t key_id(const MDB_val *k) {
    uint64_t id = 0;
    if (k->mv_size != 8)
        return 0;
    for (int i = 0; i < 8; i++)
        id = id << 8 | ((const uint8_t *)k->mv_data)[i];
    return id;
}

/* A u64 in the meta database (little-endian, 8 bytes); *v = 0 when absent.
 * A value of another size is corruption. */
static int meta_get(rm_store *s, MDB_txn *txn, const char *name, uint64_t *v) {
    MDB_val k = {strlen(name), (void *)name}, val;
    *v = 0;
    int rc = mdb_get(txn, s->meta, &k, &val);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (val.mv_size != 8)
        return MDB_CORRUPTED;
    for (int i = 0; i < 8; i++)
        *v |= (uint64_t)((const uint8_t *)val.mv_data)[i] << (8 * i);
    return 0;
}

static int meta_put(rm_store *s, MDB_txn *txn, const char *name, uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    MDB_val k = {strlen(name), (void *)name}, val = {8, b};
    return mdb_put(txn, s->meta, &k, &val, 0);
}

/* ---- transactions */

/* Grows the map: doubled, and at least `need` bytes more than now. No
 * transaction may be open in this process (the mutex sees to it). */
static rm_err grow_map(rm_store *s, size_t need, rm_diag *d) {
    size_t next = s->map_bytes * 2;
    if (next < s->map_bytes + need)
        next = s->map_bytes + need;
    next = (next + MAP_STEP_BYTES - 1) / MAP_STEP_BYTES * MAP_STEP_BYTES;
    if (next <= s->map_bytes)
        return rm_diag_set(d, RM_ETOO_LARGE, "%s: map size cannot grow past %zu bytes", s->path,
                           s->map_bytes);
    int rc = mdb_env_set_mapsize(s->env, next);
    if (rc)
        return mdb_fail(s, rc, "growing the map", d);
    s->map_bytes = next;
    return RM_OK;
}

static int txn_begin(rm_store *s, unsigned flags, MDB_txn **txn) {
    int rc = mdb_txn_begin(s->env, NULL, flags, txn);
    if (rc == MDB_MAP_RESIZED) {
        /* another process grew the map: adopt its size and try again */
        rc = mdb_env_set_mapsize(s->env, 0);
        if (rc == 0) {
            MDB_envinfo info;
            mdb_env_info(s->env, &info);
            s->map_bytes = info.me_mapsize;
            rc = mdb_txn_begin(s->env, NULL, flags, txn);
        }
    }
    return rc;
}

/* The work of one write transaction: 0, MAP_FULL_RETRY, or an rm_err (with
 * d set). It must not commit or abort. */
typedef int (*write_body)(rm_store *s, MDB_txn *txn, void *ctx, rm_diag *d);

/* Runs body in a write transaction and commits it; on MDB_MAP_FULL (in the
 * body or at commit) aborts, grows the map by at least grow_bytes and runs
 * it again. Caller holds the mutex. */
static rm_err write_txn(rm_store *s, write_body body, void *ctx, size_t grow_bytes, rm_diag *d) {
    for (int attempt = 0; attempt <= MAP_GROW_MAX; attempt++) {
        MDB_txn *txn;
        int rc = txn_begin(s, 0, &txn);
        if (rc)
            return mdb_fail(s, rc, "beginning a write transaction", d);
        int r = body(s, txn, ctx, d);
        if (r != 0) {
            mdb_txn_abort(txn);
            if (r != MAP_FULL_RETRY)
                return r;
        } else {
            rc = mdb_txn_commit(txn); /* frees txn, committed or not */
            if (rc == 0)
                return RM_OK;
            if (rc != MDB_MAP_FULL)
                return mdb_fail(s, rc, "commit", d);
        }
        rm_err err = grow_map(s, grow_bytes, d);
        if (err)
            return err;
    }
    return rm_diag_set(d, RM_ETOO_LARGE, "%s: still full after %d map doublings", s->path,
                       MAP_GROW_MAX);
}

/* An LMDB code inside a body: MAP_FULL asks for a retry, the rest fail. */
static int body_fail(rm_store *s, int rc, const char *what, rm_diag *d) {
    return rc == MDB_MAP_FULL ? MAP_FULL_RETRY : mdb_fail(s, rc, what, d);
}

/* Deletes the oldest snapshots until at most keep are left. O(deleted). */
static int prune_in(rm_store *s, MDB_txn *txn, uint64_t keep, rm_diag *d) {
    MDB_stat st;
    int rc = mdb_stat(txn, s->snap, &st);
    if (rc)
        return body_fail(s, rc, "counting snapshots", d);
    if (st.ms_entries <= keep)
        return 0;
    MDB_cursor *c;
    rc = mdb_cursor_open(txn, s->snap, &c);
    if (rc)
        return body_fail(s, rc, "opening a cursor", d);
    for (size_t n = st.ms_entries; n > keep && rc == 0; n--) {
        MDB_val k, v;
        rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        if (rc == 0)
            rc = mdb_cursor_del(c, 0);
    }
    mdb_cursor_close(c);
    return rc ? body_fail(s, rc, "pruning", d) : 0;
}

/* ---- open and close */

/* mkdir -p with mode 0700 for what it creates. */
static rm_err make_dirs(const char *dir, rm_diag *d) {
    char p[PATH_BYTES];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof p)
        return rm_diag_set(d, RM_EINVAL, "checkpoint directory: empty or too long a path");
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST)
            return rm_diag_set(d, RM_EIO, "%s: cannot create: %s", p, strerror(errno));
        p[i] = c;
    }
    struct stat st;
    if (stat(dir, &st) != 0)
        return rm_diag_set(d, RM_EIO, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return rm_diag_set(d, RM_EIO, "%s: not a directory", dir);
    return RM_OK;
}

/* A data file that exists and is not empty must start like LMDB's. */
static rm_err check_data_file(const char *path, rm_diag *d) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? RM_OK
                               : rm_diag_set(d, RM_EIO, "%s: %s", path, strerror(errno));
    uint8_t head[LMDB_MAGIC_OFFSET + 4];
    ssize_t got = pread(fd, head, sizeof head, 0);
    int e = errno;
    close(fd);
    if (got < 0)
        return rm_diag_set(d, RM_EIO, "%s: %s", path, strerror(e));
    if (got == 0)
        return RM_OK; /* empty: LMDB sets it up as new */
    uint32_t magic;
    memcpy(&magic, head + LMDB_MAGIC_OFFSET, 4);
    if ((size_t)got < sizeof head || magic != LMDB_MAGIC)
        return rm_diag_set(d, RM_ECKPT_CORRUPT, "%s: not an LMDB file", path);
    return RM_OK;
}

/* Creates the named databases, grows a map that the data already nearly
 * fills, and counts the snapshots. */
static int open_dbs(rm_store *s, rm_diag *d, bool *fresh) {
    MDB_txn *txn;
    int rc = txn_begin(s, 0, &txn);
    if (rc)
        return mdb_fail(s, rc, "beginning a write transaction", d);
    rc = mdb_dbi_open(txn, "snap", MDB_CREATE, &s->snap);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta);
    MDB_stat st = {0};
    if (rc == 0)
        rc = mdb_stat(txn, s->snap, &st);
    if (rc) {
        mdb_txn_abort(txn);
        return mdb_fail(s, rc, "opening the databases", d);
    }
    rc = mdb_txn_commit(txn);
    if (rc)
        return mdb_fail(s, rc, "creating the databases", d);
    if (fresh)
        *fresh = st.ms_entries == 0;

    MDB_envinfo info;
    MDB_stat est;
    mdb_env_info(s->env, &info);
    mdb_env_stat(s->env, &est);
    s->map_bytes = info.me_mapsize;
    size_t used = ((size_t)info.me_last_pgno + 1) * est.ms_psize;
    if (used > s->map_bytes / 2)
        return grow_map(s, used, d);
    return RM_OK;
}

rm_err rm_store_open(rm_store **out, const char *dir, const rm_store_options *o, bool *fresh,
                     rm_diag *d) {
    rm_store_options def;
    *out = NULL;
    if (!o) {
        rm_store_options_default(&def);
        o = &def;
    }
    if (o->keep == 0 || o->map_initial == 0 ||
        (o->durability != RM_DURABLE_FULL && o->durability != RM_DURABLE_NOSYNC))
        return rm_diag_set(d, RM_EINVAL,
                           "%s: store options: keep and map_initial must be > 0, "
                           "durability FULL or NOSYNC",
                           dir);
    rm_err err = make_dirs(dir, d);
    if (err)
        return err;

    rm_store *s = calloc(1, sizeof *s);
    if (!s)
        return rm_diag_set(d, RM_ENOMEM, "%s: store", dir);
    s->opt = *o;
    if ((size_t)snprintf(s->path, sizeof s->path, "%s/data.mdb", dir) >= sizeof s->path) {
        free(s);
        return rm_diag_set(d, RM_EINVAL, "%s: path too long", dir);
    }
    err = check_data_file(s->path, d);
    if (err) {
        free(s);
        return err;
    }
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return rm_diag_set(d, RM_ENOMEM, "%s: store mutex", dir);
    }
    s->map_bytes = (o->map_initial + MAP_STEP_BYTES - 1) / MAP_STEP_BYTES * MAP_STEP_BYTES;
    unsigned flags = MDB_NOTLS;
    if (o->durability == RM_DURABLE_NOSYNC)
        flags |= MDB_NOSYNC | MDB_NOMETASYNC;
    int rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, 2);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, s->map_bytes);
    if (rc == 0)
        rc = mdb_env_open(s->env, dir, flags, 0600);
    if (rc) {
        /* the data file's magic passed: LMDB's MDB_INVALID is its meta
         * page or the lock file of a running process */
        err = rc == MDB_INVALID ? rm_diag_set(d, RM_ECKPT_CORRUPT,
                                              "%s: not a valid LMDB environment (data.mdb or "
                                              "lock.mdb is damaged)",
                                              dir)
                                : mdb_fail(s, rc, "opening", d);
    } else {
        err = open_dbs(s, d, fresh);
    }
    if (err) {
        rm_store_close(s);
        return err;
    }
    *out = s;
    return RM_OK;
}

void rm_store_close(rm_store *s) {
    if (!s)
        return;
    if (s->env) {
        /* A NOSYNC store flushes once on the way out, so that a clean
         * shutdown is durable; a failure has no one to report to, and the
         * next open finds the last state that reached the disk. */
        if (s->opt.durability == RM_DURABLE_NOSYNC)
            mdb_env_sync(s->env, 1);
        mdb_env_close(s->env); /* also closes the DBI handles */
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* ---- save and prune */

typedef struct {
    const rm_snapshot *snap;
    size_t bytes;
    uint64_t id;
} save_ctx;

static int save_body(rm_store *s, MDB_txn *txn, void *ctx, rm_diag *d) {
    save_ctx *c = ctx;
    uint64_t next;
    int rc = meta_get(s, txn, KEY_NEXT_ID, &next);
    if (rc)
        return body_fail(s, rc, "reading the next id", d);
    /* the newest key decides too, should meta ever lag behind it */
    MDB_cursor *cur;
    MDB_val k, v;
    rc = mdb_cursor_open(txn, s->snap, &cur);
    if (rc)
        return body_fail(s, rc, "opening a cursor", d);
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc == 0 && key_id(&k) >= next)
        next = key_id(&k) + 1;
    else if (rc && rc != MDB_NOTFOUND)
        return body_fail(s, rc, "reading the newest id", d);
    if (next == 0)
        next = 1;

    uint8_t key[8];
    id_key(key, next);
    k = (MDB_val){sizeof key, key};
    v = (MDB_val){c->bytes, NULL};
    /* MDB_RESERVE: LMDB hands back the value's place in its dirty pages and
     * the snapshot is encoded straight into it (one copy of the
     * parameters). MDB_APPEND: ids only grow, so no B-tree search. */
    rc = mdb_put(txn, s->snap, &k, &v, MDB_RESERVE | MDB_APPEND);
    if (rc)
        return body_fail(s, rc, "reserving the snapshot", d);
    if (rm_snapshot_write(c->snap, v.mv_data, c->bytes) != RM_OK)
        return rm_diag_set(d, RM_EINVAL, "%s: the snapshot does not encode", s->path);
    rc = meta_put(s, txn, KEY_NEXT_ID, next + 1);
    if (rc)
        return body_fail(s, rc, "writing the next id", d);
    c->id = next;
    return prune_in(s, txn, s->opt.keep, d);
}

rm_err rm_store_save(rm_store *s, const rm_snapshot *snap, uint64_t *id_out, rm_diag *d) {
    save_ctx c = {snap, rm_snapshot_size(snap), 0};
    if (c.bytes == 0)
        return rm_diag_set(d, RM_EINVAL, "%s: the snapshot has no encodable size", s->path);
    pthread_mutex_lock(&s->mu);
    /* grow by at least twice the snapshot: it and the pages it frees */
    rm_err err = write_txn(s, save_body, &c, 2 * c.bytes, d);
    pthread_mutex_unlock(&s->mu);
    if (err == RM_OK && id_out)
        *id_out = c.id;
    return err;
}

static int prune_body(rm_store *s, MDB_txn *txn, void *ctx, rm_diag *d) {
    return prune_in(s, txn, *(const uint32_t *)ctx, d);
}

rm_err rm_store_prune(rm_store *s, uint32_t keep, rm_diag *d) {
    pthread_mutex_lock(&s->mu);
    rm_err err = write_txn(s, prune_body, &keep, MAP_STEP_BYTES, d);
    pthread_mutex_unlock(&s->mu);
    return err;
}

/* ---- incarnation and sync */

static int bump_body(rm_store *s, MDB_txn *txn, void *ctx, rm_diag *d) {
    uint64_t *inc = ctx;
    int rc = meta_get(s, txn, KEY_INCARNATION, inc);
    if (rc)
        return body_fail(s, rc, "reading the incarnation", d);
    if (*inc == UINT64_MAX)
        return rm_diag_set(d, RM_ERANGE, "%s: incarnation is at its maximum", s->path);
    *inc += 1;
    rc = meta_put(s, txn, KEY_INCARNATION, *inc);
    return rc ? body_fail(s, rc, "writing the incarnation", d) : 0;
}

rm_err rm_store_bump_incarnation(rm_store *s, uint64_t *incarnation, rm_diag *d) {
    uint64_t inc = 0;
    pthread_mutex_lock(&s->mu);
    rm_err err = write_txn(s, bump_body, &inc, MAP_STEP_BYTES, d);
    /* NOSYNC commits did not reach the disk: force this one (and all before
     * it) there before the caller announces the new incarnation. */
    if (err == RM_OK && s->opt.durability == RM_DURABLE_NOSYNC) {
        int rc = mdb_env_sync(s->env, 1);
        if (rc)
            err = mdb_fail(s, rc, "syncing the incarnation", d);
    }
    pthread_mutex_unlock(&s->mu);
    if (err == RM_OK && incarnation)
        *incarnation = inc;
    return err;
}

rm_err rm_store_sync(rm_store *s, rm_diag *d) {
    pthread_mutex_lock(&s->mu);
    int rc = mdb_env_sync(s->env, 1);
    pthread_mutex_unlock(&s->mu);
    return rc ? mdb_fail(s, rc, "sync", d) : RM_OK;
}

/* ---- reading */

/* A read transaction and a cursor over "snap"; both closed by read_end. */
static rm_err read_begin(rm_store *s, MDB_txn **txn, MDB_cursor **c, rm_diag *d) {
    int rc = txn_begin(s, MDB_RDONLY, txn);
    if (rc)
        return mdb_fail(s, rc, "beginning a read transaction", d);
    rc = mdb_cursor_open(*txn, s->snap, c);
    if (rc) {
        mdb_txn_abort(*txn);
        return mdb_fail(s, rc, "opening a cursor", d);
    }
    return RM_OK;
}

static void read_end(MDB_txn *txn, MDB_cursor *c) {
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
}

rm_err rm_store_load_latest(rm_store *s, rm_snapshot *out, uint64_t *id, uint32_t *skipped,
                            rm_diag *d) {
    MDB_txn *txn;
    MDB_cursor *c;
    uint32_t bad = 0;
    rm_err first_err = RM_OK;
    uint64_t first_id = 0;
    rm_diag first = {{0}}, why;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    rm_err err = read_begin(s, &txn, &c, d);
    if (err)
        goto out;
    MDB_val k, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    uint64_t cur = 0;
    for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
        cur = key_id(&k);
        err = rm_snapshot_decode(v.mv_data, v.mv_size, out, &why);
        if (err == RM_OK) {
            if (id)
                *id = cur;
            break;
        }
        if (err == RM_ENOMEM) /* not the snapshot's fault: say so, stop */
            break;
        if (bad++ == 0) {
            first_err = err;
            first_id = cur;
            first = why;
        }
    }
    read_end(txn, c);
    if (err == RM_OK && rc == 0) {
        if (bad)
            rm_diag_set(d, RM_OK, "snapshot %llu: %s", (unsigned long long)first_id, first.msg);
        else if (d)
            d->msg[0] = '\0';
    } else if (err == RM_ENOMEM) {
        rm_diag_set(d, err, "%s: snapshot %llu: %s", s->path, (unsigned long long)cur, why.msg);
    } else if (rc != MDB_NOTFOUND) {
        err = mdb_fail(s, rc, "reading snapshots", d);
    } else if (bad == 0) {
        err = rm_diag_set(d, RM_ECKPT_NONE, "%s: no snapshot", s->path);
    } else {
        err = rm_diag_set(d, first_err, "%s: all %u snapshots are bad; newest (%llu): %s",
                          s->path, (unsigned)bad, (unsigned long long)first_id, first.msg);
    }
out:
    pthread_mutex_unlock(&s->mu);
    if (skipped)
        *skipped = bad;
    return err;
}

rm_err rm_store_load(rm_store *s, uint64_t id, rm_snapshot *out, rm_diag *d) {
    MDB_txn *txn;
    rm_diag why;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    rm_err err = RM_OK;
    int rc = txn_begin(s, MDB_RDONLY, &txn);
    if (rc) {
        err = mdb_fail(s, rc, "beginning a read transaction", d);
        goto out;
    }
    uint8_t key[8];
    id_key(key, id);
    MDB_val k = {sizeof key, key}, v;
    rc = mdb_get(txn, s->snap, &k, &v);
    if (rc == MDB_NOTFOUND)
        err = rm_diag_set(d, RM_ECKPT_NONE, "%s: no snapshot %llu", s->path,
                          (unsigned long long)id);
    else if (rc)
        err = mdb_fail(s, rc, "reading a snapshot", d);
    else if ((err = rm_snapshot_decode(v.mv_data, v.mv_size, out, &why)) != RM_OK)
        rm_diag_set(d, err, "%s: snapshot %llu: %s", s->path, (unsigned long long)id, why.msg);
    mdb_txn_abort(txn);
out:
    pthread_mutex_unlock(&s->mu);
    return err;
}

rm_err rm_store_list(rm_store *s, rm_snap_info **out, size_t *n, rm_diag *d) {
    MDB_txn *txn;
    MDB_cursor *c;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&s->mu);
    rm_err err = read_begin(s, &txn, &c, d);
    if (err)
        goto out;
    MDB_stat st;
    int rc = mdb_stat(txn, s->snap, &st);
    rm_snap_info *v = NULL;
    if (rc == 0 && st.ms_entries > 0) {
        v = calloc(st.ms_entries, sizeof *v);
        if (!v) {
            read_end(txn, c);
            err = rm_diag_set(d, RM_ENOMEM, "%s: listing %zu snapshots", s->path,
                              (size_t)st.ms_entries);
            goto out;
        }
    }
    size_t i = 0;
    MDB_val k, val;
    if (rc == 0)
        rc = mdb_cursor_get(c, &k, &val, MDB_FIRST);
    for (; rc == 0 && i < st.ms_entries; rc = mdb_cursor_get(c, &k, &val, MDB_NEXT), i++) {
        rm_snapshot h;
        v[i].id = key_id(&k);
        v[i].bytes = val.mv_size;
        v[i].hash_ok = rm_snapshot_verify(val.mv_data, val.mv_size, &h, NULL) == RM_OK;
        v[i].step = h.step;
        v[i].epoch = h.epoch;
        v[i].incarnation = h.incarnation;
        v[i].saved_unix_ms = h.saved_unix_ms;
        memcpy(v[i].model, h.model, sizeof v[i].model);
    }
    read_end(txn, c);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        free(v);
        err = mdb_fail(s, rc, "listing snapshots", d);
        goto out;
    }
    *out = v;
    *n = i;
out:
    pthread_mutex_unlock(&s->mu);
    return err;
}

rm_err rm_store_verify(rm_store *s, size_t *bad, rm_diag *d) {
    MDB_txn *txn;
    MDB_cursor *c;
    size_t nbad = 0;
    if (d)
        d->msg[0] = '\0';
    pthread_mutex_lock(&s->mu);
    rm_err err = read_begin(s, &txn, &c, d);
    if (err)
        goto out;
    MDB_val k, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        rm_diag why;
        rm_err e = rm_snapshot_verify(v.mv_data, v.mv_size, NULL, &why);
        if (e && nbad++ == 0)
            rm_diag_set(d, e, "snapshot %llu: %s", (unsigned long long)key_id(&k), why.msg);
    }
    read_end(txn, c);
    if (rc != MDB_NOTFOUND)
        err = mdb_fail(s, rc, "verifying snapshots", d);
out:
    pthread_mutex_unlock(&s->mu);
    if (bad)
        *bad = nbad;
    return err;
}
