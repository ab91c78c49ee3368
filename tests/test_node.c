/* `rumor node` end to end on loopback: three nodes with keys on one
 * allow-list train on shards of a small CSV, exchange models over their
 * encrypted channels and end in agreement; a fourth node whose key is not
 * on the list is refused at the handshake. Then the timeouts: clients that
 * stall in the handshake are cut off, one that goes quiet after it is
 * ended cleanly, while the node keeps gossiping with its peer. Every node
 * stops by itself. */
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
#include <errno.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "node/channel.h"
#include "node/keys.h"
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

static int free_port(void);

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
    assert_int_equal(run_rumor(out, sizeof out, "node --listen 127.0.0.1:1 --key x --allow y "
                                                "--interval 100 --idle-timeout-ms 999"), 2);
    assert_non_null(strstr(out, "10 gossip intervals"));
    assert_int_equal(run_rumor(out, sizeof out, "node --listen 127.0.0.1:1 --key x --allow y "
                                                "--handshake-timeout-ms 0"), 2);
    assert_non_null(strstr(out, "--handshake-timeout-ms"));
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
    /* Ports the kernel found free: a fixed range (from the pid) sometimes
     * met a port that another test's connection was using. */
    int port[4];
    for (int i = 0; i < 4; i++) {
        bool again;
        do { /* four different ones */
            port[i] = free_port();
            again = false;
            for (int k = 0; k < i; k++)
                again = again || port[k] == port[i];
        } while (again);
    }
    char cmd[8192];
    int len = snprintf(cmd, sizeof cmd, "cd '%s' && (", tmp_path(dir));
    for (int i = 0; i < 4; i++) {
        char seed[512] = "";
        if (i > 0) /* b seeds from a, c from b, the stranger from a */
            snprintf(seed, sizeof seed, "--seed-peer %s@127.0.0.1:%d", pub[i == 3 ? 0 : i - 1],
                     port[i == 3 ? 0 : i - 1]);
        len += snprintf(cmd + len, sizeof cmd - (size_t)len,
                        "('%s' node --listen 127.0.0.1:%d --key %s.key --allow %s %s "
                        "--data node_blobs.csv --shard %d/3 --model mlp:2-8-3 --lr 0.01 "
                        "--batch 16 --steps 1000 --interval 50 --status 500 --linger 1.5 "
                        "--max-seconds 8 --seed 7 --json > %s.out 2> %s.err; "
                        "echo $? > %s.rc) & ",
                        RUMOR_BIN, port[i], names[i], i == 3 ? "node_s.allow" : "node.allow",
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
        print_message("%s: %g merges, %g exchanges, accuracy %.3f, %.1f s\n", names[i], merges,
                      json_number(out, "exchanges_done"), acc, json_number(out, "seconds"));
        /* (Every node ended: the harness waited for all four. How long they
         * took is not asserted: a loaded machine may stretch any of it.) */
        assert_int_equal((int)json_number(out, "steps"), 1000);
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
                int to = atoi(at + strlen("connection to 127.0.0.1:"));
                if (to != port[0] && to != port[1] && to != port[2] && to != port[3])
                    fail_msg("%s dialled port %d, not a node's (%d, %d, %d, %d)", names[i], to,
                             port[0], port[1], port[2], port[3]);
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

/* ---- timeouts ---------------------------------------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void nap_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* A port on 127.0.0.1 that was free a moment ago. */
static int free_port(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    assert_true(s >= 0);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
}

/* A TCP connection to 127.0.0.1:port, retried for up to 10 s while the
 * node starts. */
static int connect_to(int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (double t0 = now_s(); now_s() - t0 < 10;) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(s >= 0);
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0)
            return s;
        close(s);
        nap_ms(50);
    }
    fail_msg("nothing listens on 127.0.0.1:%d", port);
    return -1;
}

/* Waits up to secs for the peer to end the connection (EOF or reset),
 * discarding what it sends; true when it did. */
static bool ended_within(int fd, double secs) {
    uint8_t buf[4096];
    for (double t0 = now_s(); now_s() - t0 < secs;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t r = read(fd, buf, sizeof buf);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return true;
    }
    return false;
}

static void write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

/* The merges count of the last status line in the file at path. */
static long last_merges(const char *path) {
    FILE *f = fopen(path, "r"); /* the node may not have started yet */
    if (!f)
        return -1;
    fclose(f);
    slurp(path);
    const char *at = NULL;
    for (const char *q = strstr(out, " merges "); q; q = strstr(q + 1, " merges "))
        at = q;
    return at ? atol(at + strlen(" merges ")) : -1;
}

/* Waits up to secs for node a's status lines to show more than `than`
 * merges; returns the count seen. */
static long merges_above(const char *path, long than, double secs) {
    long m = -1;
    for (double t0 = now_s(); now_s() - t0 < secs; nap_ms(100))
        if ((m = last_merges(path)) > than)
            break;
    return m;
}

static uint64_t wall_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* As an allowed peer, completes the handshake with the node listening on
 * fd's other end (its key node_pk), then says nothing. Returns the
 * channel, open. */
static rm_chan *quiet_peer(int fd, const rm_keypair *self, const uint8_t node_pk[32]) {
    rm_chan *ch;
    rm_chan_config cc = {.role = RM_CHAN_INITIATOR, .self = self, .peer_key = node_pk};
    uint8_t buf[RM_CHAN_MSG2_BYTES + 64];
    assert_int_equal(rm_chan_new(&ch, &cc, wall_us()), RM_OK);
    size_t n = rm_chan_poll_out(ch, buf, sizeof buf);
    write_all(fd, buf, n);
    for (size_t got = 0; got < RM_CHAN_MSG2_BYTES;) {
        ssize_t r = read(fd, buf, RM_CHAN_MSG2_BYTES - got);
        assert_true(r > 0);
        got += (size_t)r;
        assert_int_equal(rm_chan_recv(ch, buf, (size_t)r), RM_OK);
    }
    assert_int_equal(rm_chan_get_state(ch), RM_CHAN_OPEN);
    n = rm_chan_poll_out(ch, buf, sizeof buf); /* the key confirmation */
    write_all(fd, buf, n);
    return ch;
}

/* Reads what the node sends on ch until the connection ends (up to secs);
 * returns the channel's verdict on the end: RM_OK for a clean end (its
 * final frame came first). *frames counts the frames that arrived. */
static rm_err read_to_end(int fd, rm_chan *ch, double secs, int *frames) {
    uint8_t buf[4096];
    *frames = 0;
    for (double t0 = now_s(); now_s() - t0 < secs;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t r = read(fd, buf, sizeof buf);
        if (r == 0)
            return rm_chan_recv_eof(ch);
        if (r < 0)
            return RM_EIO;
        rm_err err = rm_chan_recv(ch, buf, (size_t)r);
        if (err)
            return err;
        const uint8_t *d;
        size_t len;
        while (rm_chan_poll_frame(ch, &d, &len))
            (*frames)++;
    }
    return RM_ECHAN_STATE; /* still open */
}

/* Node a (handshake timeout 300 ms, idle timeout 1 s) and node b gossip
 * every 50 ms. Once they exchange models, three clients connect to a: one
 * says nothing, one sends half of handshake message 1, and one completes
 * the handshake as an allowed peer and then says nothing (no HELLO, so a's
 * core never uses it). a cuts the first two off after its handshake
 * timeout and ends the third cleanly once it has been idle; through all of
 * it a keeps merging models from b, and their connection, busy both ways,
 * is never closed as idle. */
static void stalled_clients_time_out_while_the_node_serves(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "node-to-%d", (int)getpid());
    mkdir(tmp_path(dir), 0700);
    char pub[2][65], tpub[65];
    keygen("a.key", pub[0]);
    keygen("b.key", pub[1]);
    rm_keypair quiet;
    assert_int_equal(rm_keypair_generate(&quiet), RM_OK);
    rm_key_to_hex(tpub, quiet.pk);
    char allow[300], rel[128];
    snprintf(allow, sizeof allow, "%s a\n%s b\n%s quiet\n", pub[0], pub[1], tpub);
    snprintf(rel, sizeof rel, "%s/allow", dir);
    write_text(rel, allow, 0);
    FILE *f = fopen(run_path("blobs.csv"), "w");
    assert_non_null(f);
    fputs("label,a,b\n", f);
    for (int i = 0; i < 900; i++) {
        int k = i % 3;
        fprintf(f, "%d,%.3f,%.3f\n", k, k * 3.0 + (i % 7) * 0.1, -k * 2.0 + (i % 5) * 0.1);
    }
    fclose(f);
    int port[2] = {free_port(), free_port()};
    char cmd[4096];
    int len = snprintf(cmd, sizeof cmd, "cd '%s' && (", tmp_path(dir));
    for (int i = 0; i < 2; i++) {
        char seed[128] = "";
        if (i == 1)
            snprintf(seed, sizeof seed, "--seed-peer %s@127.0.0.1:%d", pub[0], port[0]);
        len += snprintf(cmd + len, sizeof cmd - (size_t)len,
                        "('%s' node --listen 127.0.0.1:%d --key %c.key --allow allow %s "
                        "--data blobs.csv --shard %d/2 --model mlp:2-8-3 --lr 0.01 --batch 16 "
                        "--interval 50 --status 100 --handshake-timeout-ms 300 "
                        "--idle-timeout-ms 1000 --max-seconds 9 --linger 0 --seed 7 --json "
                        "> %c.out 2> %c.err; echo $? > %c.rc) & ",
                        RUMOR_BIN, port[i], 'a' + i, seed, i, 'a' + i, 'a' + i, 'a' + i);
    }
    snprintf(cmd + len, sizeof cmd - (size_t)len, "true)");
    remove(run_path("a.rc"));
    remove(run_path("b.rc"));
    assert_int_equal(system(cmd), 0); /* the nodes run on in the background */

    char a_out[256];
    snprintf(a_out, sizeof a_out, "%s", run_path("a.out"));
    long m0 = merges_above(a_out, 0, 10);
    assert_true(m0 > 0); /* a and b exchange models */

    uint8_t a_pk[32], half[60] = {RM_CHAN_MSG1_BYTES - 4, 0, 0, 0, 0x01}; /* 60 bytes of it */
    assert_int_equal(rm_key_from_text(a_pk, pub[0], 64), RM_OK);
    int silent = connect_to(port[0]), halfway = connect_to(port[0]);
    int idle = connect_to(port[0]);
    write_all(halfway, half, sizeof half);
    rm_chan *ch = quiet_peer(idle, &quiet, a_pk);
    assert_true(ended_within(silent, 5));
    assert_true(ended_within(halfway, 5));
    int frames;
    assert_int_equal(read_to_end(idle, ch, 6, &frames), RM_OK); /* a clean end */
    assert_int_equal(frames, 1);                                 /* a's HELLO */
    rm_chan_free(ch);
    close(silent);
    close(halfway);
    close(idle);
    long m1 = last_merges(a_out);
    assert_true(merges_above(a_out, m1, 5) > m1); /* a still serves b */

    for (double t0 = now_s(); now_s() - t0 < 20; nap_ms(100)) {
        FILE *fa = fopen(run_path("a.rc"), "r"), *fb = fopen(run_path("b.rc"), "r");
        bool done = fa && fb;
        if (fa)
            fclose(fa);
        if (fb)
            fclose(fb);
        if (done)
            break;
    }
    for (int i = 0; i < 2; i++) {
        char p[16];
        snprintf(p, sizeof p, "%c.rc", 'a' + i);
        assert_int_equal(atoi(slurp(run_path(p))), 0);
    }
    slurp(run_path("a.out"));
    assert_true(json_number(out, "handshake_timeouts") >= 2);
    assert_int_equal((int)json_number(out, "idle_closes"), 1); /* the quiet peer only */
    slurp(run_path("b.out"));
    assert_int_equal((int)json_number(out, "idle_closes"), 0);
    assert_true(json_number(out, "merges") > 0);
    slurp(run_path("a.err"));
    assert_non_null(strstr(out, "handshake not finished after"));
    assert_non_null(strstr(out, "idle: no frame either way"));
    rm_keypair_wipe(&quiet);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_path(dir));
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(usage_errors),
        cmocka_unit_test(three_nodes_gossip_and_a_stranger_is_refused),
        cmocka_unit_test(stalled_clients_time_out_while_the_node_serves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
