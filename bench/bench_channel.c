/* bench_channel: what the secure channel costs over a real connection.
 *
 * One TCP connection on 127.0.0.1 (an ephemeral port, blocking sockets,
 * TCP_NODELAY), two threads, and in one run:
 *   1. plain: the sender writes FRAMES frames of 400,000 bytes (a 100k-float
 *      model) as `u32 length | payload`, the receiver reads them all; GB/s
 *      of payload.
 *   2. encrypted: the same frames through an rm_chan pair (handshake done
 *      in memory first): the sender does rm_chan_send + rm_chan_poll_out +
 *      write, the receiver read + rm_chan_recv + rm_chan_poll_frame; GB/s of
 *      payload, and its ratio to the plain rate.
 *   3. exchange: a push-pull over the encrypted channel: A sends its 400 KB
 *      model, B receives it fully and replies with its own, A receives it
 *      fully; EXCHANGES times, median and p99 in milliseconds.
 * Each rate is the best of 3 passes (the first one also warms the socket).
 * For scale it also prints the in-memory rate of one core doing only
 * rm_chan_send + rm_chan_poll_out (the cipher, no socket): the encrypted
 * rate cannot pass it.
 *
 * usage: bench_channel [FRAMES [EXCHANGES]]   (defaults 1000, 200)
 * prints: {"frame_bytes":..,"frames":..,"plain_gb_per_s":..,
 *          "enc_gb_per_s":..,"enc_ratio":..,"seal_gb_per_s":..,
 *          "exchanges":..,
 *          "exchange_ms_median":..,"exchange_ms_p99":..} */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "node/channel.h"
#include "node/keys.h"

#define FRAME_BYTES 400000u
#define WIRE_CAP (FRAME_BYTES + RM_CHAN_FRAME_OVERHEAD + 4096)
#define READ_CHUNK (256u << 10)
#define PASSES 3

static void die(const char *what) {
    fprintf(stderr, "bench_channel: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(1);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t wall_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            die("write");
        }
        p += w;
        n -= (size_t)w;
    }
}

static void read_all(int fd, uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            die("read");
        p += r;
        n -= (size_t)r;
    }
}

/* ---- one side of the connection: its socket, channel and buffers */

typedef struct {
    int fd;
    rm_chan *ch;
    uint8_t *model;  /* FRAME_BYTES to send */
    uint8_t *wire;   /* WIRE_CAP bytes */
    uint8_t *in;     /* FRAME_BYTES received, or READ_CHUNK read */
} side;

static void plain_send(side *s) {
    uint32_t len = FRAME_BYTES;
    memcpy(s->wire, &len, 4);
    memcpy(s->wire + 4, s->model, FRAME_BYTES);
    write_all(s->fd, s->wire, 4 + FRAME_BYTES);
}

static void plain_recv(side *s) {
    uint32_t len;
    read_all(s->fd, (uint8_t *)&len, 4);
    if (len != FRAME_BYTES)
        die("plain frame length");
    read_all(s->fd, s->in, len);
}

static void enc_send(side *s) {
    if (rm_chan_send(s->ch, wall_us(), s->model, FRAME_BYTES) != RM_OK)
        die("rm_chan_send");
    size_t n;
    while ((n = rm_chan_poll_out(s->ch, s->wire, WIRE_CAP)) > 0)
        write_all(s->fd, s->wire, n);
}

/* Reads until one whole frame has arrived; checks its length. */
static void enc_recv(side *s) {
    const uint8_t *data;
    size_t len;
    while (!rm_chan_poll_frame(s->ch, &data, &len)) {
        ssize_t r = read(s->fd, s->in, READ_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            die("read");
        if (rm_chan_recv(s->ch, s->in, (size_t)r) != RM_OK) {
            fprintf(stderr, "bench_channel: %s\n", rm_chan_reason(s->ch));
            exit(1);
        }
    }
    if (len != FRAME_BYTES)
        die("encrypted frame length");
}

/* ---- the receiving thread: what to do, then a barrier per pass */

enum { JOB_PLAIN, JOB_ENC, JOB_EXCHANGE };

typedef struct {
    side *s;
    int job;
    long count;
    pthread_barrier_t *bar;
} job;

static void *peer_main(void *arg) {
    job *j = arg;
    for (int pass = 0; pass < PASSES; pass++) {
        pthread_barrier_wait(j->bar);
        for (long k = 0; k < j->count; k++) {
            if (j->job == JOB_PLAIN)
                plain_recv(j->s);
            else if (j->job == JOB_ENC)
                enc_recv(j->s);
            else {
                enc_recv(j->s);
                enc_send(j->s);
            }
        }
        pthread_barrier_wait(j->bar);
    }
    return NULL;
}

/* Runs PASSES passes of job on the peer thread while the main thread does
 * its part; returns the best pass's seconds. */
static double run_passes(side *a, side *b, int what, long count, double *lat_ms) {
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    job j = {.s = b, .job = what, .count = count, .bar = &bar};
    pthread_t t;
    if (pthread_create(&t, NULL, peer_main, &j) != 0)
        die("pthread_create");
    double best = 1e30;
    for (int pass = 0; pass < PASSES; pass++) {
        pthread_barrier_wait(&bar);
        double t0 = now_s();
        for (long k = 0; k < count; k++) {
            if (what == JOB_PLAIN)
                plain_send(a);
            else if (what == JOB_ENC)
                enc_send(a);
            else {
                double e0 = now_s();
                enc_send(a);
                enc_recv(a);
                if (pass == PASSES - 1)
                    lat_ms[k] = (now_s() - e0) * 1e3;
            }
        }
        pthread_barrier_wait(&bar); /* the receiver has everything */
        double dt = now_s() - t0;
        if (dt < best)
            best = dt;
    }
    pthread_join(t, NULL);
    pthread_barrier_destroy(&bar);
    return best;
}

static void connect_pair(int *fa, int *fb) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(l, 1) != 0)
        die("listen");
    socklen_t alen = sizeof addr;
    if (getsockname(l, (struct sockaddr *)&addr, &alen) != 0)
        die("getsockname");
    *fa = socket(AF_INET, SOCK_STREAM, 0);
    if (*fa < 0 || connect(*fa, (struct sockaddr *)&addr, sizeof addr) != 0)
        die("connect");
    *fb = accept(l, NULL, NULL);
    if (*fb < 0)
        die("accept");
    close(l);
    int one = 1;
    setsockopt(*fa, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(*fb, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Moves every waiting byte from one channel to the other, in memory. */
static void pump(rm_chan *from, rm_chan *to, uint8_t *buf) {
    size_t n;
    while ((n = rm_chan_poll_out(from, buf, WIRE_CAP)) > 0)
        if (rm_chan_recv(to, buf, n) != RM_OK) {
            fprintf(stderr, "bench_channel: handshake: %s\n", rm_chan_reason(to));
            exit(1);
        }
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int main(int argc, char **argv) {
    long frames = argc > 1 ? atol(argv[1]) : 1000;
    long exchanges = argc > 2 ? atol(argv[2]) : 200;
    if (frames < 1 || exchanges < 1) {
        fprintf(stderr, "usage: bench_channel [FRAMES [EXCHANGES]]\n");
        return 2;
    }
    if (sodium_init() < 0)
        die("sodium_init");

    side a = {0}, b = {0};
    side *ss[2] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        ss[i]->model = malloc(FRAME_BYTES);
        ss[i]->wire = malloc(WIRE_CAP);
        ss[i]->in = malloc(FRAME_BYTES > READ_CHUNK ? FRAME_BYTES : READ_CHUNK);
        if (!ss[i]->model || !ss[i]->wire || !ss[i]->in)
            die("malloc");
        randombytes_buf(ss[i]->model, FRAME_BYTES);
    }
    connect_pair(&a.fd, &b.fd);

    /* The channel pair: a dials b; b admits a by its allow-list. */
    rm_keypair ka, kb;
    if (rm_keypair_generate(&ka) != RM_OK || rm_keypair_generate(&kb) != RM_OK)
        die("rm_keypair_generate");
    rm_keyset *allow = rm_keyset_new();
    rm_chan_replay *replay = rm_chan_replay_new(0);
    if (!allow || !replay || rm_keyset_add(allow, ka.pk) != RM_OK)
        die("keyset");
    rm_chan_config ci = {.role = RM_CHAN_INITIATOR, .self = &ka, .peer_key = kb.pk};
    rm_chan_config cr = {.role = RM_CHAN_RESPONDER, .self = &kb, .allow = allow,
                         .replay = replay};
    uint64_t t = wall_us();
    if (rm_chan_new(&a.ch, &ci, t) != RM_OK || rm_chan_new(&b.ch, &cr, t) != RM_OK)
        die("rm_chan_new");
    pump(a.ch, b.ch, a.wire); /* message 1 */
    pump(b.ch, a.ch, b.wire); /* message 2 */
    pump(a.ch, b.ch, a.wire); /* key confirmation */
    if (rm_chan_get_state(a.ch) != RM_CHAN_OPEN || rm_chan_get_state(b.ch) != RM_CHAN_OPEN)
        die("handshake did not open");

    /* One core sealing frames in memory, on a channel pair of its own. */
    rm_chan *sa, *sb;
    rm_chan_replay *replay2 = rm_chan_replay_new(0);
    cr.replay = replay2;
    if (!replay2 || rm_chan_new(&sa, &ci, t + 1) != RM_OK ||
        rm_chan_new(&sb, &cr, t + 1) != RM_OK)
        die("rm_chan_new");
    pump(sa, sb, a.wire);
    pump(sb, sa, b.wire);
    double seal_s = 1e30;
    for (int pass = 0; pass < PASSES; pass++) {
        double t0 = now_s();
        for (long k = 0; k < frames; k++) {
            if (rm_chan_send(sa, wall_us(), a.model, FRAME_BYTES) != RM_OK)
                die("rm_chan_send");
            while (rm_chan_poll_out(sa, a.wire, WIRE_CAP) > 0) {
            }
        }
        double dt = now_s() - t0;
        if (dt < seal_s)
            seal_s = dt;
    }
    rm_chan_free(sa);
    rm_chan_free(sb);
    rm_chan_replay_free(replay2);

    double *lat = calloc((size_t)exchanges, sizeof *lat);
    if (!lat)
        die("calloc");
    double bytes = (double)frames * FRAME_BYTES;
    double plain_s = run_passes(&a, &b, JOB_PLAIN, frames, NULL);
    double enc_s = run_passes(&a, &b, JOB_ENC, frames, NULL);
    (void)run_passes(&a, &b, JOB_EXCHANGE, exchanges, lat);
    qsort(lat, (size_t)exchanges, sizeof *lat, cmp_double);
    double median = exchanges % 2 ? lat[exchanges / 2]
                                  : 0.5 * (lat[exchanges / 2 - 1] + lat[exchanges / 2]);
    long i99 = (long)((double)exchanges * 0.99 + 0.999999) - 1; /* nearest rank */
    if (i99 < 0)
        i99 = 0;
    double plain = bytes / plain_s / 1e9, enc = bytes / enc_s / 1e9;
    printf("{\"frame_bytes\":%u,\"frames\":%ld,\"plain_gb_per_s\":%.3f,\"enc_gb_per_s\":%.3f,"
           "\"enc_ratio\":%.3f,\"seal_gb_per_s\":%.3f,\"exchanges\":%ld,"
           "\"exchange_ms_median\":%.3f,\"exchange_ms_p99\":%.3f}\n",
           FRAME_BYTES, frames, plain, enc, enc / plain, bytes / seal_s / 1e9, exchanges,
           median, lat[i99]);

    rm_chan_free(a.ch);
    rm_chan_free(b.ch);
    rm_chan_replay_free(replay);
    rm_keyset_free(allow);
    rm_keypair_wipe(&ka);
    rm_keypair_wipe(&kb);
    close(a.fd);
    close(b.fd);
    for (int i = 0; i < 2; i++) {
        free(ss[i]->model);
        free(ss[i]->wire);
        free(ss[i]->in);
    }
    free(lat);
    return 0;
}
