/* `rumor node` end to end on loopback: three nodes with keys on one
 * allow-list train on shards of a small CSV, exchange models over their
 * encrypted channels and end in agreement; a fourth node whose key is not
 * on the list is refused at the handshake. Every node stops by itself. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tests/test_util.h"

static char out[1 << 16];

/* This run's folder under RUMOR_TMP ("node-PID"), so that runs side by
 * side share no file. */
static char dir[32];

/* dir/name under RUMOR_TMP (tmp_path's buffers). */
static const char *run_path(const char *name) {
    char rel[128];
    snprintf(rel, sizeof rel, "%s/%s", dir, name);
    return tmp_path(rel);
}

/* The whole of a file into out (NUL-terminated). */
static const char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot read %s", path);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    return out;
}

/* A fresh key in RUMOR_TMP/name; its public key as hex into pub. */
static void keygen(const char *name, char pub[65]) {
    const char *path = run_path(name);
    remove(path);
    assert_int_equal(run_rumor(out, sizeof out, "keygen --out '%s'", path), 0);
    const char *line = out;
    while (line && !(strspn(line, "0123456789abcdef") == 64 && line[64] == '\n'))
        line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL;
    assert_non_null(line);
    memcpy(pub, line, 64);
    pub[64] = '\0';
}

static void usage_errors(void **state) {
    (void)state;
    assert_int_equal(run_rumor(out, sizeof out, "node --help"), 0);
    assert_non_null(strstr(out, "--seed-peer"));
    assert_int_equal(run_rumor(out, sizeof out, "node --key x --allow y"), 2);
    assert_non_null(strstr(out, "--listen"));
    assert_int_equal(run_rumor(out, sizeof out,
                               "node --listen 127.0.0.1:1 --key x --allow y --seed-peer abc@1.2.3.4:5"), 2);
    assert_non_null(strstr(out, "--seed-peer"));
    assert_int_equal(run_rumor(out, sizeof out, "node --listen 127.0.0.1:1 --key x"), 2);
    assert_int_equal(run_rumor(out, sizeof out,
                               "node --listen 127.0.0.1:1 --key x --allow y --shard 3/3"), 2);
    assert_non_null(strstr(out, "--shard"));
}

static void three_nodes_gossip_and_a_stranger_is_refused(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "node-%d", (int)getpid());
    mkdir(tmp_path(dir), 0700);
    char pub[4][65];
    const char *names[4] = {"node_a", "node_b", "node_c", "node_s"};
    char keyname[64];
    for (int i = 0; i < 4; i++) {
        snprintf(keyname, sizeof keyname, "%s.key", names[i]);
        keygen(keyname, pub[i]);
    }
    char allow[300], allow_s[400];
    snprintf(allow, sizeof allow, "# the three nodes\n%s a\n%s b\n%s c\n", pub[0], pub[1], pub[2]);
    snprintf(allow_s, sizeof allow_s, "%s%s s\n", allow, pub[3]);
    char rel[128];
    snprintf(rel, sizeof rel, "%s/node.allow", dir);
    write_text(rel, allow, 0);
    snprintf(rel, sizeof rel, "%s/node_s.allow", dir);
    write_text(rel, allow_s, 0);
    FILE *f = fopen(run_path("node_blobs.csv"), "w");
    assert_non_null(f);
    fputs("label,a,b\n", f);
    for (int i = 0; i < 900; i++) { /* three well-separated blobs */
        int k = i % 3;
        fprintf(f, "%d,%.3f,%.3f\n", k, k * 3.0 + (i % 7) * 0.1, -k * 2.0 + (i % 5) * 0.1);
    }
    fclose(f);
    /* Ports from the pid, so that runs side by side do not clash. */
    int base = 20000 + (int)(getpid() % 10000) * 4;
    char cmd[8192];
    int len = snprintf(cmd, sizeof cmd, "cd '%s' && (", tmp_path(dir));
    for (int i = 0; i < 4; i++) {
        char seed[512] = "";
        if (i > 0) /* b seeds from a, c from b, the stranger from a */
            snprintf(seed, sizeof seed, "--seed-peer %s@127.0.0.1:%d", pub[i == 3 ? 0 : i - 1],
                     base + (i == 3 ? 0 : i - 1));
        len += snprintf(cmd + len, sizeof cmd - (size_t)len,
                        "('%s' node --listen 127.0.0.1:%d --key %s.key --allow %s %s "
                        "--data node_blobs.csv --shard %d/3 --model mlp:2-8-3 --lr 0.01 "
                        "--batch 16 --steps 300 --interval 50 --status 500 --linger 1.5 "
                        "--max-seconds 8 --seed 7 --json > %s.out 2> %s.err; "
                        "echo $? > %s.rc) & ",
                        RUMOR_BIN, base + i, names[i], i == 3 ? "node_s.allow" : "node.allow",
                        seed, i % 3, names[i], names[i], names[i]);
    }
    snprintf(cmd + len, sizeof cmd - (size_t)len, "wait)");
    for (int i = 0; i < 4; i++) {
        char p[64];
        snprintf(p, sizeof p, "%s.rc", names[i]);
        remove(run_path(p));
    }
    assert_int_equal(system(cmd), 0);
    for (int i = 0; i < 4; i++) {
        char p[64];
        snprintf(p, sizeof p, "%s.rc", names[i]);
        assert_int_equal(atoi(slurp(run_path(p))), 0);
        snprintf(p, sizeof p, "%s.out", names[i]);
        slurp(run_path(p));
        double merges = json_number(out, "merges"), acc = json_number(out, "test_accuracy");
        double seconds = json_number(out, "seconds");
        print_message("%s: %g merges, %g exchanges, accuracy %.3f, %.1f s\n", names[i], merges,
                      json_number(out, "exchanges_done"), acc, seconds);
        assert_true(seconds < 8.5);
        assert_int_equal((int)json_number(out, "steps"), 300);
        if (i < 3) {
            assert_true(merges > 0);
            assert_true(json_number(out, "exchanges_done") > 0);
            assert_true(acc > 0.95);
            assert_int_equal((int)json_number(out, "frames_refused"), 0);
            /* HELLOs gave every view the listening addresses, never a
             * dial-out port: every dial went to one of the four nodes (a
             * dial may still fail when a node is not listening yet). */
            snprintf(p, sizeof p, "%s.err", names[i]);
            slurp(run_path(p));
            for (const char *at = strstr(out, "connection to 127.0.0.1:"); at;
                 at = strstr(at + 1, "connection to 127.0.0.1:")) {
                int port = atoi(at + strlen("connection to 127.0.0.1:"));
                if (port < base || port > base + 3)
                    fail_msg("%s dialled port %d, not a node's (%d..%d)", names[i], port,
                             base, base + 3);
            }
        } else {
            assert_int_equal((int)merges, 0); /* nobody talked to the stranger */
            assert_true(json_number(out, "bytes_in") == 0);
        }
    }
    /* a refused the stranger at the handshake and said why. */
    slurp(run_path("node_a.out"));
    assert_true(json_number(out, "handshakes_refused") >= 1);
    slurp(run_path("node_a.err"));
    assert_non_null(strstr(out, "not in the allow-list"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_path(dir));
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(usage_errors),
        cmocka_unit_test(three_nodes_gossip_and_a_stranger_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
