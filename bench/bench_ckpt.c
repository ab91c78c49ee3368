/* bench_ckpt: what a checkpoint save costs, and where the time goes.
 *
 * A snapshot the size of mlp:784-128-10 trained with Adam (101,770
 * parameters, m and v: 1.22 MB) is saved into a fresh store (keep 3) in a
 * temporary directory, SAVES times with RM_DURABLE_NOSYNC and SAVES times
 * with RM_DURABLE_FULL (after 5 unmeasured saves each); median and p90 in
 * milliseconds. In the same run, the floor: a raw LMDB mdb_put of the same
 * number of bytes (a plain copy from a ready buffer, no encoding, no hash)
 * plus the same delete of the oldest and the commit, in an environment with
 * the same flags; and the ratio of our median to it. The pieces of a save,
 * each the median of SAVES runs on warm buffers: rm_snapshot_write (copy +
 * hash), BLAKE2b-256 alone, memcpy alone; and the BLAKE2b rate in MB/s.
 *
 * usage: bench_ckpt [SAVES [DIR]]   (defaults 100, $TMPDIR or /tmp)
 * prints one JSON object: {"snapshot_bytes":..,"saves":..,
 *   "nosync_ms_median":..,"nosync_ms_p90":..,"raw_nosync_ms_median":..,
 *   "raw_nosync_ms_p90":..,"nosync_ratio":..,
 *   "full_ms_median":..,"full_ms_p90":..,"raw_full_ms_median":..,
 *   "raw_full_ms_p90":..,"full_ratio":..,
 *   "encode_ms":..,"hash_ms":..,"memcpy_ms":..,"blake2b_mb_per_s":..} */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <sodium.h>

#include "base/rng.h"
#include "checkpoint/snapshot.h"
#include "checkpoint/store.h"

#define NPARAMS 101770u /* mlp:784-128-10: 784*128 + 128 + 128*10 + 10 */
#define WARMUP 5
#define KEEP 3

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void die(const char *what, const char *why) {
    fprintf(stderr, "bench_ckpt: %s: %s\n", what, why);
    exit(1);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (0..1) of n samples; sorts them. */
static double quantile(double *v, int n, double q) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int i = (int)(q * (n - 1) + 0.5);
    return v[i];
}

/* Removes DIR/data.mdb, DIR/lock.mdb and DIR. */
static void remove_env(const char *dir) {
    char p[4300];
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/lock.mdb", dir);
    unlink(p);
    rmdir(dir);
}

/* SAVES timed rm_store_save calls into a fresh store; times[] in ms. */
static void bench_store(const char *dir, rm_durability dur, const rm_snapshot *snap,
                        float *params, int saves, double *times) {
    rm_store_options o;
    rm_store_options_default(&o);
    o.durability = dur;
    o.keep = KEEP;
    rm_store *s;
    rm_diag d;
    if (rm_store_open(&s, dir, &o, NULL, &d) != RM_OK)
        die("open", d.msg);
    for (int i = 0; i < WARMUP + saves; i++) {
        params[0] = (float)i; /* a training step happened in between */
        double t0 = now_ms();
        if (rm_store_save(s, snap, NULL, &d) != RM_OK)
            die("save", d.msg);
        if (i >= WARMUP)
            times[i - WARMUP] = now_ms() - t0;
    }
    rm_store_close(s);
    remove_env(dir);
}

static void check_mdb(int rc, const char *what) {
    if (rc)
        die(what, mdb_strerror(rc));
}

/* The floor: mdb_put of `bytes` ready bytes, delete the oldest beyond KEEP,
 * commit; same environment flags as the store's. */
static void bench_raw(const char *dir, rm_durability dur, const uint8_t *value, size_t bytes,
                      int saves, double *times) {
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        die(dir, strerror(errno));
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    unsigned flags = MDB_NOTLS | (dur == RM_DURABLE_NOSYNC ? MDB_NOSYNC | MDB_NOMETASYNC : 0);
    check_mdb(mdb_env_create(&env), "env");
    check_mdb(mdb_env_set_maxdbs(env, 2), "maxdbs");
    check_mdb(mdb_env_set_mapsize(env, (size_t)64 << 20), "mapsize");
    check_mdb(mdb_env_open(env, dir, flags, 0600), "open");
    check_mdb(mdb_txn_begin(env, NULL, 0, &txn), "begin");
    check_mdb(mdb_dbi_open(txn, "snap", MDB_CREATE, &dbi), "dbi");
    check_mdb(mdb_txn_commit(txn), "commit");
    for (int i = 0; i < WARMUP + saves; i++) {
        uint8_t key[8];
        for (int k = 0; k < 8; k++)
            key[k] = (uint8_t)((uint64_t)(i + 1) >> (56 - 8 * k));
        double t0 = now_ms();
        check_mdb(mdb_txn_begin(env, NULL, 0, &txn), "begin");
        MDB_val k = {8, key}, v = {bytes, (void *)value};
        check_mdb(mdb_put(txn, dbi, &k, &v, MDB_APPEND), "put");
        if (i >= KEEP) {
            MDB_cursor *c;
            check_mdb(mdb_cursor_open(txn, dbi, &c), "cursor");
            check_mdb(mdb_cursor_get(c, &k, &v, MDB_FIRST), "first");
            check_mdb(mdb_cursor_del(c, 0), "del");
            mdb_cursor_close(c);
        }
        check_mdb(mdb_txn_commit(txn), "commit");
        if (i >= WARMUP)
            times[i - WARMUP] = now_ms() - t0;
    }
    mdb_env_close(env);
    remove_env(dir);
}

int main(int argc, char **argv) {
    int saves = argc > 1 ? atoi(argv[1]) : 100;
    const char *base = argc > 2 ? argv[2] : getenv("TMPDIR");
    if (saves < 1 || argc > 3) {
        fprintf(stderr, "usage: bench_ckpt [SAVES [DIR]]\n");
        return 2;
    }
    if (sodium_init() < 0)
        die("libsodium", "init failed");
    char dir[4096], sub[4200];
    snprintf(dir, sizeof dir, "%s/bench_ckpt.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir))
        die(dir, strerror(errno));

    float *p = malloc(NPARAMS * 4), *m = malloc(NPARAMS * 4), *v = malloc(NPARAMS * 4);
    double *t = malloc((size_t)saves * sizeof *t);
    if (!p || !m || !v || !t)
        die("malloc", "out of memory");
    rm_rng r;
    rm_rng_seed(&r, 1);
    for (unsigned i = 0; i < NPARAMS; i++) {
        p[i] = (float)rm_rng_normal(&r) * 0.05f;
        m[i] = (float)rm_rng_normal(&r) * 1e-3f;
        v[i] = rm_rng_float(&r) * 1e-6f;
    }
    static uint8_t view[512];
    rm_snapshot s;
    memset(&s, 0, sizeof s);
    strcpy(s.model, "mlp:784-128-10");
    s.saved_unix_ms = 1717000000000ull;
    s.step = 123456;
    s.epoch = 7;
    s.incarnation = 2;
    s.opt_kind = 2;
    s.opt_t = 123456;
    s.nparams = NPARAMS;
    s.params = p;
    s.opt_m = m;
    s.opt_v = v;
    s.view_len = sizeof view;
    s.view = view;
    size_t bytes = rm_snapshot_size(&s);
    uint8_t *buf = malloc(bytes), *copy = malloc(bytes);
    if (!buf || !copy)
        die("malloc", "out of memory");

    /* the pieces, on warm buffers */
    double enc, hash, mcpy;
    for (int i = 0; i < saves; i++) {
        double t0 = now_ms();
        if (rm_snapshot_write(&s, buf, bytes) != RM_OK)
            die("encode", "failed");
        t[i] = now_ms() - t0;
    }
    enc = quantile(t, saves, 0.5);
    uint8_t h[32];
    for (int i = 0; i < saves; i++) {
        double t0 = now_ms();
        crypto_generichash(h, sizeof h, buf, bytes - 32, NULL, 0);
        t[i] = now_ms() - t0;
    }
    hash = quantile(t, saves, 0.5);
    for (int i = 0; i < saves; i++) {
        buf[0] = (uint8_t)i;
        double t0 = now_ms();
        memcpy(copy, buf, bytes);
        t[i] = now_ms() - t0;
    }
    mcpy = quantile(t, saves, 0.5);
    memcpy(buf, copy, 1);

    double res[2][4]; /* per mode: ours median, p90, raw median, p90 */
    for (int mode = 0; mode < 2; mode++) {
        rm_durability dur = mode == 0 ? RM_DURABLE_NOSYNC : RM_DURABLE_FULL;
        snprintf(sub, sizeof sub, "%s/store", dir);
        bench_store(sub, dur, &s, p, saves, t);
        res[mode][0] = quantile(t, saves, 0.5);
        res[mode][1] = quantile(t, saves, 0.9);
        snprintf(sub, sizeof sub, "%s/raw", dir);
        bench_raw(sub, dur, buf, bytes, saves, t);
        res[mode][2] = quantile(t, saves, 0.5);
        res[mode][3] = quantile(t, saves, 0.9);
    }
    rmdir(dir);

    printf("{\"snapshot_bytes\":%zu,\"saves\":%d,"
           "\"nosync_ms_median\":%.3f,\"nosync_ms_p90\":%.3f,"
           "\"raw_nosync_ms_median\":%.3f,\"raw_nosync_ms_p90\":%.3f,\"nosync_ratio\":%.2f,"
           "\"full_ms_median\":%.3f,\"full_ms_p90\":%.3f,"
           "\"raw_full_ms_median\":%.3f,\"raw_full_ms_p90\":%.3f,\"full_ratio\":%.2f,"
           "\"encode_ms\":%.3f,\"hash_ms\":%.3f,\"memcpy_ms\":%.3f,\"blake2b_mb_per_s\":%.0f}\n",
           bytes, saves, res[0][0], res[0][1], res[0][2], res[0][3], res[0][0] / res[0][2],
           res[1][0], res[1][1], res[1][2], res[1][3], res[1][0] / res[1][2], enc, hash, mcpy,
           (double)(bytes - 32) / 1e6 / (hash / 1e3));
    free(p);
    free(m);
    free(v);
    free(t);
    free(buf);
    free(copy);
    return 0;
}
