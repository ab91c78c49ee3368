/* bench_channel: what the secure channel costs, in memory and over a real
 * connection, for each transport cipher.
 *
 *   0. in memory, one core, libsodium alone on 400,000-byte messages:
 *      sealing and opening with crypto_secretstream_xchacha20poly1305 (the
 *      channel's fallback), crypto_aead_aes256gcm (precomputed key, the
 *      _afternm calls) and crypto_aead_chacha20poly1305_ietf; GB/s.
 * Then one TCP connection on 127.0.0.1 (an ephemeral port, blocking
 * sockets, TCP_NODELAY), two threads:
 *   1. plain: the sender writes FRAMES frames of 400,000 bytes (a 100k-float
 *      model) as `u32 length | payload`, the receiver reads them all; GB/s
 *      of payload.
 * and for each cipher the channel runs here (secretstream; AES-256-GCM
 * where the CPU has AES-NI), on an rm_chan pair that agreed on it:
 *   2. seal/open: one core doing rm_chan_send + rm_chan_poll_out, and
 *      rm_chan_recv + rm_chan_poll_frame, in memory: the ceiling of 3.
 *   3. encrypted: the same frames as 1 through the channel: the sender does
 *      rm_chan_send + rm_chan_poll_out + write, the receiver read +
 *      rm_chan_recv + rm_chan_poll_frame; GB/s of payload, and its ratio to
 *      the plain rate of this same run.
 *   4. exchange: a push-pull over the channel: A sends its 400 KB model, B
 *      receives it fully and replies with its own, A receives it fully;
 *      EXCHANGES times, median and p99 in milliseconds.
 * Each rate is the best of 3 passes (the first one also warms the socket).
 *
 * usage: bench_channel [FRAMES [EXCHANGES]]   (defaults 1000, 200)
 * prints one JSON line: frame_bytes, frames, exchanges, plain_gb_per_s;
 *   mem_{secretstream,aes256gcm,chacha20poly1305}_{seal,open} (GB/s);
 *   per channel cipher C in {secretstream, aes256gcm} (absent without
 *   AES-NI): C_seal_gb_per_s, C_open_gb_per_s, C_enc_gb_per_s, C_enc_ratio,
 *   C_exchange_ms_median, C_exchange_ms_p99; and cipher (what two nodes
 *   agree on here) with enc_gb_per_s, enc_ratio, seal_gb_per_s,
 *   exchange_ms_median, exchange_ms_p99 for that cipher. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
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

/* ---- 0. libsodium alone, in memory */

enum { PRIM_SS, PRIM_GCM, PRIM_CHACHA, PRIMS };
static const char *const prim_name[PRIMS] = {"secretstream", "aes256gcm", "chacha20poly1305"};

/* GB/s of sealing (open = false) or opening `frames` messages of
 * FRAME_BYTES with primitive p; best of PASSES. Opening checks every MAC. */
static double prim_rate(int p, bool open, long frames, const uint8_t *m, uint8_t *c,
                        uint8_t *back) {
    uint8_t k[32], hdr[crypto_secretstream_xchacha20poly1305_HEADERBYTES], nonce[12] = {0};
    randombytes_buf(k, sizeof k);
    crypto_aead_aes256gcm_state gcm;
    if (p == PRIM_GCM)
        crypto_aead_aes256gcm_beforenm(&gcm, k);
    crypto_secretstream_xchacha20poly1305_state tx, rx;
    const size_t clen = FRAME_BYTES + (p == PRIM_SS ? crypto_secretstream_xchacha20poly1305_ABYTES
                                                    : 16);
    double best = 1e30;
    for (int pass = 0; pass < PASSES; pass++) {
        crypto_secretstream_xchacha20poly1305_init_push(&tx, hdr, k);
        crypto_secretstream_xchacha20poly1305_init_pull(&rx, hdr, k);
        double t = 0;
        for (long f = 0; f < frames; f++) {
            memcpy(nonce, &f, sizeof f);
            double t0 = now_s();
            if (p == PRIM_SS)
                crypto_secretstream_xchacha20poly1305_push(&tx, c, NULL, m, FRAME_BYTES, NULL, 0,
                                                           0);
            else if (p == PRIM_GCM)
                crypto_aead_aes256gcm_encrypt_afternm(c, NULL, m, FRAME_BYTES, NULL, 0, NULL,
                                                      nonce, &gcm);
            else
                crypto_aead_chacha20poly1305_ietf_encrypt(c, NULL, m, FRAME_BYTES, NULL, 0, NULL,
                                                          nonce, k);
            if (!open) {
                t += now_s() - t0;
                continue;
            }
            t0 = now_s();
            int bad;
            unsigned char tag;
            if (p == PRIM_SS)
                bad = crypto_secretstream_xchacha20poly1305_pull(&rx, back, NULL, &tag, c, clen,
                                                                 NULL, 0);
            else if (p == PRIM_GCM)
                bad = crypto_aead_aes256gcm_decrypt_afternm(back, NULL, NULL, c, clen, NULL, 0,
                                                            nonce, &gcm);
            else
                bad = crypto_aead_chacha20poly1305_ietf_decrypt(back, NULL, NULL, c, clen, NULL,
                                                                0, nonce, k);
            t += now_s() - t0;
            if (bad)
                die("open");
        }
        if (pass == PASSES - 1 && open && memcmp(back, m, FRAME_BYTES) != 0)
            die("opened bytes differ");
        if (t < best)
            best = t;
    }
    return (double)frames * FRAME_BYTES / best / 1e9;
}

/* ---- 2. the channel in memory */

/* The channel pair a dials b with, both taking only `cipher`; the
 * handshake done in memory. */
static void chan_pair(rm_chan **a, rm_chan **b, unsigned cipher, const rm_keypair *ka,
                      const rm_keypair *kb, rm_keyset *allow, rm_chan_replay *replay,
                      uint8_t *buf) {
    rm_chan_config ci = {.role = RM_CHAN_INITIATOR, .self = ka, .peer_key = kb->pk,
                         .ciphers = cipher};
    rm_chan_config cr = {.role = RM_CHAN_RESPONDER, .self = kb, .allow = allow,
                         .replay = replay, .ciphers = cipher};
    uint64_t t = wall_us();
    if (rm_chan_new(a, &ci, t) != RM_OK || rm_chan_new(b, &cr, t) != RM_OK)
        die("rm_chan_new");
    pump(*a, *b, buf); /* message 1 */
    pump(*b, *a, buf); /* message 2 */
    pump(*a, *b, buf); /* key confirmation */
    if (rm_chan_get_state(*a) != RM_CHAN_OPEN || rm_chan_get_state(*b) != RM_CHAN_OPEN ||
        rm_chan_get_cipher(*a) != cipher)
        die("handshake did not open");
}

/* One core: rm_chan_send + rm_chan_poll_out (seal), and rm_chan_recv +
 * rm_chan_poll_frame of those bytes (open); GB/s each, best of PASSES. */
static void chan_mem_rates(rm_chan *a, rm_chan *b, long frames, side *s, double *seal,
                           double *open) {
    double best_seal = 1e30, best_open = 1e30;
    for (int pass = 0; pass < PASSES; pass++) {
        double ts = 0, to = 0;
        for (long k = 0; k < frames; k++) {
            double t0 = now_s();
            if (rm_chan_send(a, wall_us(), s->model, FRAME_BYTES) != RM_OK)
                die("rm_chan_send");
            size_t n = rm_chan_poll_out(a, s->wire, WIRE_CAP);
            double t1 = now_s();
            const uint8_t *d;
            size_t len;
            if (rm_chan_recv(b, s->wire, n) != RM_OK || !rm_chan_poll_frame(b, &d, &len) ||
                len != FRAME_BYTES)
                die("rm_chan_recv in memory");
            to += now_s() - t1;
            ts += t1 - t0;
        }
        best_seal = ts < best_seal ? ts : best_seal;
        best_open = to < best_open ? to : best_open;
    }
    *seal = (double)frames * FRAME_BYTES / best_seal / 1e9;
    *open = (double)frames * FRAME_BYTES / best_open / 1e9;
}

typedef struct {
    const char *name;
    double seal, open, enc, median, p99;
} cipher_result;

int main(int argc, char **argv) {
    long frames = argc > 1 ? atol(argv[1]) : 1000;
    long exchanges = argc > 2 ? atol(argv[2]) : 200;
    if (frames < 1 || exchanges < 1) {
        fprintf(stderr, "usage: bench_channel [FRAMES [EXCHANGES]]\n");
        return 2;
    }
    if (sodium_init() < 0)
        die("sodium_init");
    unsigned avail = rm_chan_ciphers_available();

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

    /* 0. libsodium alone. */
    double prim[PRIMS][2];
    for (int p = 0; p < PRIMS; p++) {
        if (p == PRIM_GCM && !(avail & RM_CHAN_CIPHER_AES256GCM)) {
            prim[p][0] = prim[p][1] = 0;
            continue;
        }
        prim[p][0] = prim_rate(p, false, frames, a.model, a.wire, b.in);
        prim[p][1] = prim_rate(p, true, frames, a.model, a.wire, b.in);
    }

    connect_pair(&a.fd, &b.fd);
    rm_keypair ka, kb;
    if (rm_keypair_generate(&ka) != RM_OK || rm_keypair_generate(&kb) != RM_OK)
        die("rm_keypair_generate");
    rm_keyset *allow = rm_keyset_new();
    rm_chan_replay *replay = rm_chan_replay_new(0);
    if (!allow || !replay || rm_keyset_add(allow, ka.pk) != RM_OK)
        die("keyset");

    double bytes = (double)frames * FRAME_BYTES;
    double plain = bytes / run_passes(&a, &b, JOB_PLAIN, frames, NULL) / 1e9;
    double *lat = calloc((size_t)exchanges, sizeof *lat);
    if (!lat)
        die("calloc");
    static const unsigned ciphers[2] = {RM_CHAN_CIPHER_SECRETSTREAM, RM_CHAN_CIPHER_AES256GCM};
    cipher_result res[2] = {{0}};
    int nres = 0;
    for (int c = 0; c < 2; c++) {
        if (!(avail & ciphers[c]))
            continue;
        cipher_result *r = &res[nres++];
        r->name = c ? "aes256gcm" : "secretstream";
        rm_chan *ma, *mb;
        chan_pair(&ma, &mb, ciphers[c], &ka, &kb, allow, replay, a.wire);
        chan_mem_rates(ma, mb, frames, &a, &r->seal, &r->open);
        rm_chan_free(ma);
        rm_chan_free(mb);
        chan_pair(&a.ch, &b.ch, ciphers[c], &ka, &kb, allow, replay, a.wire);
        r->enc = bytes / run_passes(&a, &b, JOB_ENC, frames, NULL) / 1e9;
        (void)run_passes(&a, &b, JOB_EXCHANGE, exchanges, lat);
        qsort(lat, (size_t)exchanges, sizeof *lat, cmp_double);
        r->median = exchanges % 2 ? lat[exchanges / 2]
                                  : 0.5 * (lat[exchanges / 2 - 1] + lat[exchanges / 2]);
        long i99 = (long)((double)exchanges * 0.99 + 0.999999) - 1; /* nearest rank */
        r->p99 = lat[i99 < 0 ? 0 : i99];
        rm_chan_free(a.ch);
        rm_chan_free(b.ch);
        a.ch = b.ch = NULL;
    }
    /* What two nodes agree on here: AES-256-GCM where it runs. */
    const cipher_result *agreed = &res[nres - 1];

    printf("{\"frame_bytes\":%u,\"frames\":%ld,\"exchanges\":%ld,\"plain_gb_per_s\":%.3f",
           FRAME_BYTES, frames, exchanges, plain);
    for (int p = 0; p < PRIMS; p++)
        printf(",\"mem_%s_seal\":%.3f,\"mem_%s_open\":%.3f", prim_name[p], prim[p][0],
               prim_name[p], prim[p][1]);
    for (int c = 0; c < nres; c++)
        printf(",\"%s_seal_gb_per_s\":%.3f,\"%s_open_gb_per_s\":%.3f,\"%s_enc_gb_per_s\":%.3f,"
               "\"%s_enc_ratio\":%.3f,\"%s_exchange_ms_median\":%.3f,"
               "\"%s_exchange_ms_p99\":%.3f",
               res[c].name, res[c].seal, res[c].name, res[c].open, res[c].name, res[c].enc,
               res[c].name, res[c].enc / plain, res[c].name, res[c].median, res[c].name,
               res[c].p99);
    printf(",\"cipher\":\"%s\",\"enc_gb_per_s\":%.3f,\"enc_ratio\":%.3f,\"seal_gb_per_s\":%.3f,"
           "\"exchange_ms_median\":%.3f,\"exchange_ms_p99\":%.3f}\n",
           agreed->name, agreed->enc, agreed->enc / plain, agreed->seal, agreed->median,
           agreed->p99);

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
