/* rumor: the real shell: libuv loop, TCP, channels, timers, thread pool. */
#define _POSIX_C_SOURCE 200809L
#include "node/node.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <sodium.h>

#include "gossip/wire.h"
#include "node/backoff.h"
#include "node/channel.h"
#include "node/ckpt_job.h"

#define READ_CHUNK 65536
#define TICK_MS 100           /* timeouts are checked this often */
#define HELLO_BYTES_MAX 512   /* a HELLO frame: header, 49 fixed, address */

typedef struct node node;

typedef struct pend {
    uint8_t *bytes;
    size_t len;
} pend;

typedef struct conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_shutdown_t sreq;
    node *n;
    rm_chan *ch;
    bool initiator, up, closing, connected;
    uint8_t id[RM_ID_BYTES];
    bool id_known;
    char addr[RM_PEER_ADDR_MAX + 1];
    pend q[RM_NODE_WQ_FRAMES];
    uint32_t nq;
    size_t q_bytes;
    size_t inflight_bytes;
    uint32_t inflight_writes;
    uint64_t born_ms;
    uint64_t last_frame_ms;   /* a frame sent or received, or the opening */
    struct conn *next;
} conn;

typedef struct {
    uv_write_t req;
    conn *c;
    uint8_t *buf;
    size_t len;
} wreq;

struct node {
    const rm_node_config *cfg;
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_timer_t core_timer, tick;
    uv_signal_t sigint, sigterm;
    uv_work_t work;
    rm_step_stats step_st;
    rm_rng train_rng;    /* used by the step on the pool, one at a time */
    rm_peer *core;
    rm_chan_replay *replay;
    conn *conns;
    uint64_t t0_us;
    uint64_t last_status_ms, steps_done_ms;
    bool stepping, stopping;
    double loss_sum;
    uint64_t loss_rows;
    double last_loss;
    rm_node_seed book[RM_NODE_SEEDS_MAX]; /* listen addresses known for ids */
    uint32_t nbook;
    struct {
        uint8_t id[RM_ID_BYTES];
        uint32_t failures;      /* consecutive failed dials; 0: a free slot */
        uint64_t until_ms;      /* no dial before this loop time */
    } backoff[RM_NODE_BACKOFF_MAX];
    uint32_t handshake_timeout_ms, idle_timeout_ms;
    uint8_t hello[HELLO_BYTES_MAX];  /* our HELLO frame */
    size_t hello_len;
    uint32_t model_n;
    rm_node_result *res;
    rm_tree_ws *tree_ws;         /* forest peers: the growing tree's scratch */
    rm_tree *grown;              /* ... the tree the last step grew, or NULL */
    uint64_t trees_grown;        /* ... steps taken (trees grown or skipped) */
    uint64_t max_steps;          /* the core's: --steps, or a forest's share */
    rm_ckpt_job *ckpt;           /* the snapshot being written on the pool */
    uv_work_t ckpt_work;
    rm_diag ckpt_diag;
    rm_err ckpt_err;
    uint64_t ckpt_ms, ckpt_step; /* when and at which step the last was taken */
};

static uint64_t mono_us(void) { return uv_hrtime() / 1000; }
static rm_time_us core_now(node *n) { return mono_us() - n->t0_us; }
static uint64_t wall_us(void) {
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

static void logf_(node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(node *n, const char *fmt, ...) {
    if (!n->cfg->err)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("rumor node: ", n->cfg->err);
    vfprintf(n->cfg->err, fmt, ap);
    fputc('\n', n->cfg->err);
    fflush(n->cfg->err);
    va_end(ap);
}

bool rm_node_parse_addr(const char *s, char *host, size_t cap, int *port) {
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= cap)
        return false;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || p <= 0 || p > 65535)
        return false;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    struct sockaddr_in sa;
    if (uv_ip4_addr(host, (int)p, &sa) != 0)
        return false;
    *port = (int)p;
    return true;
}

static void drive(node *n);

/* ---- connections ---------------------------------------------------------- */

static void book_put(node *n, const uint8_t id[RM_ID_BYTES], const char *addr) {
    for (uint32_t i = 0; i < n->nbook; i++)
        if (memcmp(n->book[i].id, id, RM_ID_BYTES) == 0) {
            snprintf(n->book[i].addr, sizeof n->book[i].addr, "%s", addr);
            return;
        }
    if (n->nbook < RM_NODE_SEEDS_MAX) {
        memcpy(n->book[n->nbook].id, id, RM_ID_BYTES);
        snprintf(n->book[n->nbook].addr, sizeof n->book[n->nbook].addr, "%s", addr);
        n->nbook++;
    }
}

static const char *book_get(node *n, const uint8_t id[RM_ID_BYTES]) {
    for (uint32_t i = 0; i < n->nbook; i++)
        if (memcmp(n->book[i].id, id, RM_ID_BYTES) == 0)
            return n->book[i].addr;
    return NULL;
}

/* ---- redial backoff (node/backoff.h); O(RM_NODE_BACKOFF_MAX) per call */

static int backoff_find(node *n, const uint8_t id[RM_ID_BYTES]) {
    for (int i = 0; i < RM_NODE_BACKOFF_MAX; i++)
        if (n->backoff[i].failures && memcmp(n->backoff[i].id, id, RM_ID_BYTES) == 0)
            return i;
    return -1;
}

/* One more failed dial to id: it is not dialled again for the wait this
 * returns. A full table forgets the entry whose wait ends first. */
static uint32_t backoff_fail(node *n, const uint8_t id[RM_ID_BYTES]) {
    int k = backoff_find(n, id);
    if (k < 0) {
        k = 0;
        for (int i = 0; i < RM_NODE_BACKOFF_MAX; i++) {
            if (!n->backoff[i].failures) {
                k = i;
                break;
            }
            if (n->backoff[i].until_ms < n->backoff[k].until_ms)
                k = i;
        }
        memcpy(n->backoff[k].id, id, RM_ID_BYTES);
        n->backoff[k].failures = 0;
    }
    if (n->backoff[k].failures < UINT32_MAX)
        n->backoff[k].failures++;
    uint64_t word;
    randombytes_buf(&word, sizeof word);
    uint32_t wait_ms = rm_backoff_delay_ms(n->backoff[k].failures, RM_BACKOFF_BASE_MS,
                                           RM_BACKOFF_CAP_MS, word);
    n->backoff[k].until_ms = uv_now(n->loop) + wait_ms;
    return wait_ms;
}

/* A handshake with id succeeded: its next failure starts from the base. */
static void backoff_reset(node *n, const uint8_t id[RM_ID_BYTES]) {
    int k = backoff_find(n, id);
    if (k >= 0)
        n->backoff[k].failures = 0;
}

static bool backoff_active(node *n, const uint8_t id[RM_ID_BYTES]) {
    int k = backoff_find(n, id);
    return k >= 0 && n->backoff[k].until_ms > uv_now(n->loop);
}

static void on_closed(uv_handle_t *h) {
    conn *c = h->data;
    node *n = c->n;
    for (conn **pp = &n->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    for (uint32_t i = 0; i < c->nq; i++)
        free(c->q[i].bytes);
    rm_chan_free(c->ch);
    free(c);
}

static void flush_out(conn *c);

static void on_shutdown(uv_shutdown_t *req, int status) {
    (void)status;
    conn *c = req->data;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* Closes one connection, logging why; tells the core if it knew of it.
 * graceful: an open channel first ends its stream (final frame) and the
 * socket is shut down after the queued writes, so the peer sees a clean
 * end rather than a cut; otherwise the socket is closed at once. */
static void conn_end(conn *c, const char *why, bool graceful) {
    if (c->closing)
        return;
    node *n = c->n;
    char fp[RM_KEY_FP_CHARS + 1] = "?";
    if (c->id_known)
        rm_key_fingerprint(fp, c->id);
    char wait[48] = "";
    if (c->initiator && !c->up && c->id_known && !n->stopping)
        snprintf(wait, sizeof wait, " (next dial in %u ms)", (unsigned)backoff_fail(n, c->id));
    if (why && !n->stopping)
        logf_(n, "connection %s %s (%s) closed: %s%s", c->initiator ? "to" : "from",
              c->addr, fp, why, wait);
    for (uint32_t i = 0; i < c->nq; i++) {
        free(c->q[i].bytes);
        n->res->frames_dropped++;
    }
    c->nq = 0;
    bool shut = false;
    if (graceful && c->connected && rm_chan_get_state(c->ch) == RM_CHAN_OPEN &&
        rm_chan_close(c->ch) == RM_OK) {
        flush_out(c); /* the final frame, while c is not yet closing */
        c->sreq.data = c;
        shut = !c->closing &&
               uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) == 0;
    }
    if (c->closing) /* flush_out failed and closed it */
        return;
    c->closing = true;
    if (!shut)
        uv_close((uv_handle_t *)&c->tcp, on_closed);
    if (c->up && !n->stopping) {
        c->up = false;
        rm_input in = {.kind = RM_IN_PEER_DOWN, .peer = c->id};
        rm_peer_handle(n->core, core_now(n), &in);
        drive(n);
    }
}

static void conn_close(conn *c, const char *why) {
    conn_end(c, why, false);
}

static void on_written(uv_write_t *req, int status) {
    wreq *w = (wreq *)req;
    conn *c = w->c;
    c->inflight_bytes -= w->len;
    c->inflight_writes--;
    free(w->buf);
    free(w);
    if (status < 0 && status != UV_ECANCELED)
        conn_close(c, uv_strerror(status));
}

/* Writes whatever wire bytes the channel has ready. */
static void flush_out(conn *c) {
    if (c->closing || !c->connected)
        return;
    size_t len = rm_chan_out_pending(c->ch);
    if (!len)
        return;
    wreq *w = malloc(sizeof *w);
    uint8_t *buf = malloc(len);
    if (!w || !buf) {
        free(w);
        free(buf);
        conn_close(c, "out of memory");
        return;
    }
    len = rm_chan_poll_out(c->ch, buf, len);
    w->c = c;
    w->buf = buf;
    w->len = len;
    c->inflight_bytes += len;
    c->inflight_writes++;
    c->n->res->wire_bytes_out += len;
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc < 0) {
        c->inflight_bytes -= len;
        c->inflight_writes--;
        free(buf);
        free(w);
        conn_close(c, uv_strerror(rc));
    }
}

/* Encrypts and writes one frame on an open channel; false if dropped. */
static bool chan_write(conn *c, const uint8_t *bytes, size_t len) {
    /* Bytes the kernel has not taken yet: a write libuv could finish at
     * once does not count against the bounds. */
    size_t blocked = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
    if (blocked + len > RM_NODE_WQ_BYTES ||
        (blocked > 0 && c->inflight_writes >= RM_NODE_WQ_FRAMES))
        return false;
    rm_err err = rm_chan_send(c->ch, wall_us(), bytes, len);
    if (err)
        return false;
    c->last_frame_ms = uv_now(c->n->loop);
    flush_out(c);
    return true;
}

/* Sends one frame (malloc'd bytes, now ours) on c, or queues it until the
 * channel opens; drops it beyond the bounds. */
static void conn_send(conn *c, uint8_t *bytes, size_t len) {
    node *n = c->n;
    if (rm_chan_get_state(c->ch) == RM_CHAN_OPEN) {
        if (!chan_write(c, bytes, len))
            n->res->frames_dropped++;
        free(bytes);
        return;
    }
    if (c->nq >= RM_NODE_WQ_FRAMES || c->q_bytes + len > RM_NODE_WQ_BYTES) {
        n->res->frames_dropped++;
        free(bytes);
        return;
    }
    c->q[c->nq].bytes = bytes;
    c->q[c->nq].len = len;
    c->nq++;
    c->q_bytes += len;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)h;
    (void)suggested;
    buf->base = malloc(READ_CHUNK);
    buf->len = buf->base ? READ_CHUNK : 0;
}

/* The channel just opened: the peer is up, queued frames go out. */
static void conn_opened(conn *c) {
    node *n = c->n;
    const uint8_t *pk = rm_chan_peer_key(c->ch);
    memcpy(c->id, pk, RM_ID_BYTES);
    c->id_known = true;
    c->last_frame_ms = uv_now(n->loop);
    backoff_reset(n, c->id);
    /* First frame either way: our HELLO (listening address, model shape). */
    if (!chan_write(c, n->hello, n->hello_len))
        n->res->frames_dropped++;
    const char *addr = c->addr;
    if (c->initiator)
        book_put(n, c->id, c->addr);
    else if (book_get(n, c->id))
        addr = book_get(n, c->id);  /* its listening address, not the dial-out port */
    else
        return;  /* up once its HELLO tells its listening address (peer_up_from) */
    c->up = true;
    rm_input in = {.kind = RM_IN_PEER_UP, .peer = c->id, .addr = addr};
    rm_peer_handle(n->core, core_now(n), &in);
    for (uint32_t i = 0; i < c->nq; i++) {
        if (!chan_write(c, c->q[i].bytes, c->q[i].len))
            n->res->frames_dropped++;
        free(c->q[i].bytes);
    }
    c->nq = 0;
    c->q_bytes = 0;
    drive(n);
}

/* An accepted peer's first frame: its HELLO names the address it listens
 * on, which the core keeps in its view (the connection's own address is a
 * port the peer dialled out from). */
static void peer_up_from(conn *c, const uint8_t *data, size_t len) {
    node *n = c->n;
    char addr[RM_PEER_ADDR_MAX + 1];
    snprintf(addr, sizeof addr, "%s", c->addr);
    rm_wire_limits lim = {.frame_bytes_max = HELLO_BYTES_MAX, .model_n_max = n->model_n};
    rm_frame f;
    if (len >= 6 && data[5] == RM_FRAME_HELLO && rm_wire_decode(data, len, &lim, &f) == RM_OK &&
        f.u.hello.addr_len > 0 && f.u.hello.addr_len <= RM_PEER_ADDR_MAX) {
        memcpy(addr, f.u.hello.addr, f.u.hello.addr_len);
        addr[f.u.hello.addr_len] = '\0';
        book_put(n, c->id, addr);
    }
    c->up = true;
    rm_input in = {.kind = RM_IN_PEER_UP, .peer = c->id, .addr = addr};
    rm_peer_handle(n->core, core_now(n), &in);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    conn *c = s->data;
    node *n = c->n;
    if (nread < 0) {
        free(buf->base);
        if (c->closing)
            return;
        rm_err err = nread == UV_EOF ? rm_chan_recv_eof(c->ch) : RM_EIO;
        if (nread != UV_EOF)
            conn_close(c, uv_strerror((int)nread));
        else
            conn_close(c, err ? rm_chan_reason(c->ch) : "peer ended the connection");
        return;
    }
    if (nread == 0 || c->closing) {
        free(buf->base);
        return;
    }
    n->res->wire_bytes_in += (uint64_t)nread;
    bool was_open = rm_chan_get_state(c->ch) == RM_CHAN_OPEN;
    rm_err err = rm_chan_recv(c->ch, (const uint8_t *)buf->base, (size_t)nread);
    free(buf->base);
    if (err) {
        if (err == RM_ECHAN_UNKNOWN_KEY || err == RM_ECHAN_AUTH || err == RM_ECHAN_REPLAY ||
            err == RM_ECHAN_BAD_KEY)
            if (!was_open)
                n->res->handshakes_refused++;
        conn_close(c, rm_chan_reason(c->ch));
        return;
    }
    flush_out(c);  /* handshake replies, key confirmation */
    if (!was_open && rm_chan_get_state(c->ch) == RM_CHAN_OPEN)
        conn_opened(c);
    const uint8_t *data;
    size_t len;
    while (!c->closing && !n->stopping && c->id_known &&
           rm_chan_get_state(c->ch) == RM_CHAN_OPEN && rm_chan_poll_frame(c->ch, &data, &len)) {
        c->last_frame_ms = uv_now(n->loop);
        if (!c->up)
            peer_up_from(c, data, len);
        rm_input in = {.kind = RM_IN_FRAME, .peer = c->id, .bytes = data, .len = len};
        rm_peer_handle(n->core, core_now(n), &in);
        drive(n);
    }
    if (!c->closing && rm_chan_get_state(c->ch) == RM_CHAN_CLOSED)
        conn_close(c, rm_chan_error(c->ch) ? rm_chan_reason(c->ch) : "peer ended the connection");
}

static conn *conn_new(node *n, bool initiator, const char *addr) {
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->n = n;
    c->initiator = initiator;
    snprintf(c->addr, sizeof c->addr, "%s", addr);
    c->born_ms = uv_now(n->loop);
    uv_tcp_init(n->loop, &c->tcp);
    c->tcp.data = c;
    c->next = n->conns;
    n->conns = c;
    return c;
}

static rm_chan_config chan_config(node *n, rm_chan_role role, const uint8_t *peer_key) {
    rm_chan_config cc = {0};
    cc.role = role;
    cc.self = n->cfg->self;
    cc.peer_key = peer_key;
    cc.network_key = n->cfg->network_key;
    cc.allow = n->cfg->allow;
    cc.replay = n->replay;
    return cc;
}

static void on_connect(uv_connect_t *req, int status) {
    conn *c = req->handle->data;
    if (c->closing)
        return;
    if (status < 0) {
        c->n->res->conns_failed++;
        conn_close(c, uv_strerror(status));
        return;
    }
    c->connected = true;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    flush_out(c);
}

/* Dials addr and starts a channel as initiator to the peer with key id. */
static conn *dial(node *n, const uint8_t id[RM_ID_BYTES], const char *addr) {
    char host[64];
    int port;
    struct sockaddr_in sa;
    if (!rm_node_parse_addr(addr, host, sizeof host, &port) || uv_ip4_addr(host, port, &sa))
        return NULL;
    conn *c = conn_new(n, true, addr);
    if (!c)
        return NULL;
    memcpy(c->id, id, RM_ID_BYTES);
    c->id_known = true;
    n->res->conns_dialled++;
    rm_chan_config cc = chan_config(n, RM_CHAN_INITIATOR, id);
    rm_err err = rm_chan_new(&c->ch, &cc, wall_us());
    if (err) {
        conn_close(c, rm_strerror(err));
        return NULL;
    }
    int rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&sa, on_connect);
    if (rc < 0) {
        n->res->conns_failed++;
        conn_close(c, uv_strerror(rc));
        return NULL;
    }
    return c;
}

static void on_connection(uv_stream_t *server, int status) {
    node *n = server->data;
    if (status < 0 || n->stopping)
        return;
    conn *c = conn_new(n, false, "?");
    if (!c)
        return;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c, "accept failed");
        return;
    }
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0 &&
        ss.ss_family == AF_INET) {
        char ip[32];
        uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
        snprintf(c->addr, sizeof c->addr, "%s:%d", ip,
                 ntohs(((struct sockaddr_in *)&ss)->sin_port));
    }
    n->res->conns_accepted++;
    c->connected = true;
    rm_chan_config cc = chan_config(n, RM_CHAN_RESPONDER, NULL);
    rm_err err = rm_chan_new(&c->ch, &cc, wall_us());
    if (err) {
        conn_close(c, rm_strerror(err));
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* ---- the core's actions ----------------------------------------------------- */

static conn *find_conn(node *n, const uint8_t id[RM_ID_BYTES]) {
    conn *best = NULL;
    for (conn *c = n->conns; c; c = c->next) {
        if (c->closing || !c->id_known || memcmp(c->id, id, RM_ID_BYTES) != 0)
            continue;
        if (rm_chan_get_state(c->ch) == RM_CHAN_OPEN)
            return c;
        if (!best)
            best = c;
    }
    return best;
}

/* Steps the learner has taken (checkpoint cadence and records). */
static uint64_t learner_steps(const node *n) {
    return n->cfg->forest ? n->trees_grown : n->cfg->trainer->step;
}

/* A forest peer's step grows its next tree, unless it holds it already
 * (restored from a checkpoint, or sent back by a peer). */
static void grow_tree(node *n) {
    const rm_node_forest *f = n->cfg->forest;
    uint64_t index = f->first + n->trees_grown;
    n->grown = NULL;
    memset(&n->step_st, 0, sizeof n->step_st);
    if (n->trees_grown < f->share &&
        !rm_forest_has(f->forest, rm_tree_id_make(f->seed, index)))
        rm_tree_grow_nth(&n->grown, f->data, &f->cfg, f->seed, index, n->tree_ws);
    n->step_st.rows = 1;
}

static void step_work(uv_work_t *w) {
    node *n = w->data;
    if (n->cfg->forest)
        grow_tree(n);
    else
        rm_trainer_step(n->cfg->trainer, &n->train_rng, &n->step_st);
}

/* Keeps a tree (grown here or sent) and offers it to the core for gossip. */
static void keep_tree(node *n, rm_tree *t) {
    uint8_t *blob = NULL;
    size_t len = 0;
    rm_tree_info info;
    rm_tree_get_info(t, &info);
    if (rm_tree_encode(t, &blob, &len) != RM_OK || rm_forest_add(n->cfg->forest->forest, t)) {
        rm_tree_free(t);
        free(blob);
        return;
    }
    rm_peer_add_item(n->core, info.id, blob, len);
    free(blob);
}

static void evaluate(node *n) {
    if (!n->cfg->eval || !n->cfg->eval->n)
        return;
    rm_eval_result ev = {0};
    rm_err err = RM_EINVAL;
    if (!n->cfg->forest)
        err = rm_trainer_evaluate(n->cfg->trainer, n->cfg->eval, &ev);
    else if (rm_forest_count(n->cfg->forest->forest))
        err = rm_forest_evaluate(n->cfg->forest->forest, n->cfg->eval, &ev);
    if (err == RM_OK) {
        n->res->test_accuracy = ev.accuracy;
        n->res->test_loss = ev.loss;
    }
    rm_eval_result_free(&ev);
}

static void status_line(node *n);

/* ---- checkpoints: copied here between steps, written on the pool ---------- */

static void ckpt_work(uv_work_t *w) {
    node *n = w->data;
    n->ckpt_err = rm_ckpt_job_save(n->ckpt, n->cfg->store, &n->ckpt_diag);
}

static void ckpt_finished(node *n) {
    if (n->ckpt_err) {
        n->res->ckpt_failed++;
        logf_(n, "checkpoint at step %llu failed: %s",
              (unsigned long long)rm_ckpt_job_step(n->ckpt),
              n->ckpt_diag.msg[0] ? n->ckpt_diag.msg : rm_strerror(n->ckpt_err));
    } else {
        n->res->ckpt_saves++;
        n->res->ckpt_last_step = rm_ckpt_job_step(n->ckpt);
    }
    rm_ckpt_job_free(n->ckpt);
    n->ckpt = NULL;
}

static void ckpt_done(uv_work_t *w, int status) {
    (void)status;
    ckpt_finished(w->data);
}

static bool ckpt_take(node *n) {
    rm_err err = n->cfg->forest
                     ? rm_ckpt_job_take_forest(&n->ckpt, n->cfg->forest->forest,
                                               n->trees_grown, n->core, n->cfg->model,
                                               n->cfg->core.incarnation, wall_us() / 1000)
                     : rm_ckpt_job_take(&n->ckpt, n->cfg->trainer, &n->train_rng, n->core,
                                        n->cfg->model, n->cfg->core.incarnation,
                                        wall_us() / 1000);
    if (err) {
        n->res->ckpt_failed++;
        return false;
    }
    n->ckpt_ms = uv_now(n->loop);
    n->ckpt_step = learner_steps(n);
    n->ckpt_diag.msg[0] = '\0';
    return true;
}

/* Between steps: starts a snapshot when one is due and none is in flight. */
static void maybe_checkpoint(node *n) {
    const rm_node_config *c = n->cfg;
    if (!c->store || n->ckpt)
        return;
    bool due = (c->ckpt_every_steps && learner_steps(n) - n->ckpt_step >= c->ckpt_every_steps) ||
               (c->ckpt_every_ms && uv_now(n->loop) - n->ckpt_ms >= c->ckpt_every_ms);
    if (!due || !ckpt_take(n))
        return;
    n->ckpt_work.data = n;
    if (uv_queue_work(n->loop, &n->ckpt_work, ckpt_work, ckpt_done) != 0) {
        rm_ckpt_job_free(n->ckpt);
        n->ckpt = NULL;
    }
}

static void step_done(uv_work_t *w, int status) {
    node *n = w->data;
    (void)status;
    n->stepping = false;
    n->loss_sum += (double)n->step_st.loss * n->step_st.rows;
    n->loss_rows += (uint64_t)n->step_st.rows;
    n->last_loss = n->step_st.loss;
    if (n->cfg->forest) {
        n->trees_grown++;
        if (n->grown)
            keep_tree(n, n->grown);
        n->grown = NULL;
    }
    if (n->stopping)
        return;
    /* Between steps: the buffer is ours to read on this thread. */
    if (n->cfg->status_ms && uv_now(n->loop) - n->last_status_ms >= n->cfg->status_ms)
        status_line(n);
    rm_input in = {.kind = RM_IN_STEP_DONE, .samples = (uint64_t)n->step_st.rows};
    rm_peer_handle(n->core, core_now(n), &in);
    maybe_checkpoint(n);
    drive(n);
}

static void on_core_timer(uv_timer_t *t) {
    node *n = t->data;
    if (n->stopping)
        return;
    rm_input in = {.kind = RM_IN_TIMER};
    rm_peer_handle(n->core, core_now(n), &in);
    drive(n);
}

/* Carries out every action the core has queued, then re-arms the timer. */
static void drive(node *n) {
    rm_action a;
    while (rm_peer_poll(n->core, &a)) {
        switch (a.kind) {
        case RM_ACT_SEND: {
            conn *c = find_conn(n, a.peer);
            if (!c && !n->stopping && !backoff_active(n, a.peer))
                c = dial(n, a.peer, a.addr);
            if (!c) {
                n->res->frames_dropped++;
                free(a.bytes);
            } else {
                conn_send(c, a.bytes, a.len);
            }
            break;
        }
        case RM_ACT_RUN_STEP:
            if (n->stopping || n->stepping)
                break;
            n->stepping = true;
            n->work.data = n;
            if (uv_queue_work(n->loop, &n->work, step_work, step_done) != 0)
                n->stepping = false;
            break;
        case RM_ACT_ITEM: { /* a tree from a peer: kept only if it decodes whole */
            rm_tree *t = NULL;
            uint64_t id = 0;
            if (n->cfg->forest && rm_tree_blob_id(a.bytes, a.len, &id) == RM_OK &&
                id == a.item_id && rm_tree_decode(a.bytes, a.len, &t, NULL) == RM_OK)
                keep_tree(n, t);
            else
                n->res->items_refused++;
            break;
        }
        case RM_ACT_CLOSE:
            for (conn *c = n->conns; c; c = c->next)
                if (c->id_known && memcmp(c->id, a.peer, RM_ID_BYTES) == 0)
                    conn_close(c, "closed by the gossip core (misbehaved or left)");
            break;
        }
        free(a.kind == RM_ACT_SEND ? NULL : a.bytes);
    }
    if (n->stopping)
        return;
    rm_time_us d = rm_peer_next_deadline(n->core), now = core_now(n);
    if (d == RM_NEVER) {
        uv_timer_stop(&n->core_timer);
    } else {
        uint64_t ms = d > now ? (d - now + 999) / 1000 : 0;
        uv_timer_start(&n->core_timer, on_core_timer, ms, 0);
    }
}

/* ---- status, stopping ------------------------------------------------------- */

static uint32_t count_conns(node *n, bool open_only) {
    uint32_t k = 0;
    for (conn *c = n->conns; c; c = c->next)
        k += !c->closing && (!open_only || rm_chan_get_state(c->ch) == RM_CHAN_OPEN);
    return k;
}

static void status_line(node *n) {
    n->last_status_ms = uv_now(n->loop);
    evaluate(n);
    const rm_peer_stats *s = rm_peer_get_stats(n->core);
    /* the mean loss of the steps since the last line (the last mean when
     * no step ran since) */
    double loss = n->loss_rows ? n->loss_sum / (double)n->loss_rows : n->res->train_loss;
    n->res->train_loss = loss;
    n->loss_sum = 0.0;
    n->loss_rows = 0;
    if (n->cfg->log) {
        fprintf(n->cfg->log,
                "t=%.1fs step %llu loss %.4f test %.2f%% view %u conns %u merges %llu "
                "bytes in %llu out %llu refused %llu dropped %llu",
                (double)core_now(n) / 1e6, (unsigned long long)s->steps, loss,
                100.0 * n->res->test_accuracy, rm_peer_view_len(n->core),
                count_conns(n, true), (unsigned long long)s->merges,
                (unsigned long long)n->res->wire_bytes_in,
                (unsigned long long)n->res->wire_bytes_out,
                (unsigned long long)rm_peer_refused(s), (unsigned long long)n->res->frames_dropped);
        if (n->cfg->core.steps_per_merge) /* bounded staleness */
            fprintf(n->cfg->log, " waits %llu", (unsigned long long)s->merge_waits);
        fputc('\n', n->cfg->log);
        fflush(n->cfg->log);
    }
}

static void stop(node *n, const char *why) {
    if (n->stopping)
        return;
    logf_(n, "stopping: %s", why);
    n->stopping = true;  /* (no new connections for the LEAVE frames) */
    rm_peer_set_training(n->core, false);
    rm_peer_leave(n->core);
    drive(n);
    for (conn *c = n->conns; c; c = c->next) {
        if (c->closing)
            continue;
        c->closing = true;
        if (c->connected && rm_chan_get_state(c->ch) == RM_CHAN_OPEN) {
            if (rm_chan_close(c->ch) == RM_OK) {
                c->closing = false;
                flush_out(c);
                c->closing = true;
            }
            c->sreq.data = c;
            if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) == 0)
                continue;
        }
        uv_close((uv_handle_t *)&c->tcp, on_closed);
    }
    uv_close((uv_handle_t *)&n->listener, NULL);
    uv_close((uv_handle_t *)&n->core_timer, NULL);
    uv_close((uv_handle_t *)&n->tick, NULL);
    uv_close((uv_handle_t *)&n->sigint, NULL);
    uv_close((uv_handle_t *)&n->sigterm, NULL);
}

static void on_tick(uv_timer_t *t) {
    node *n = t->data;
    if (n->stopping)
        return;
    uint64_t now = uv_now(n->loop);
    char why[80];
    for (conn *c = n->conns, *next; c; c = next) {
        next = c->next; /* (closing only unlinks c in on_closed, later) */
        if (c->closing || !c->ch)
            continue;
        rm_chan_state st = rm_chan_get_state(c->ch);
        if (st == RM_CHAN_HANDSHAKE && now - c->born_ms >= n->handshake_timeout_ms) {
            n->res->handshake_timeouts++;
            snprintf(why, sizeof why, "handshake not finished after %u ms (timeout)",
                     (unsigned)(now - c->born_ms));
            conn_close(c, why);
        } else if (st == RM_CHAN_OPEN && now - c->last_frame_ms >= n->idle_timeout_ms) {
            n->res->idle_closes++;
            snprintf(why, sizeof why, "idle: no frame either way for %u ms",
                     (unsigned)(now - c->last_frame_ms));
            conn_end(c, why, true);
        }
    }
    if (n->cfg->status_ms && !n->stepping && now - n->last_status_ms >= n->cfg->status_ms)
        status_line(n);
    double secs = (double)core_now(n) / 1e6;
    if (n->cfg->max_seconds > 0 && secs >= n->cfg->max_seconds) {
        stop(n, "--max-seconds reached");
        return;
    }
    const rm_peer_stats *s = rm_peer_get_stats(n->core);
    if ((n->max_steps || n->cfg->forest) && s->steps >= n->max_steps) {
        if (!n->steps_done_ms)
            n->steps_done_ms = now;
        else if ((double)(now - n->steps_done_ms) >= 1000.0 * n->cfg->linger_seconds)
            stop(n, "all steps done");
    }
}

static void on_signal(uv_signal_t *s, int signum) {
    node *n = s->data;
    stop(n, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

/* ---- running ------------------------------------------------------------------ */

rm_err rm_node_run(const rm_node_config *cfg, rm_node_result *res, rm_diag *diag) {
    memset(res, 0, sizeof *res);
    node n0 = {0}, *n = &n0;
    n->cfg = cfg;
    n->res = res;
    n->train_rng = cfg->train_rng;
    n->handshake_timeout_ms = cfg->handshake_timeout_ms ? cfg->handshake_timeout_ms
                                                        : RM_NODE_HANDSHAKE_TIMEOUT_MS_DEFAULT;
    n->idle_timeout_ms =
        cfg->idle_timeout_ms ? cfg->idle_timeout_ms : RM_NODE_IDLE_TIMEOUT_MS_DEFAULT;
    char host[64];
    int port;
    struct sockaddr_in sa;
    if (!rm_node_parse_addr(cfg->listen, host, sizeof host, &port) ||
        uv_ip4_addr(host, port, &sa))
        return rm_diag_set(diag, RM_EINVAL, "--listen: '%s' is not IPV4:PORT", cfg->listen);
    /* A write to a peer that has just gone must fail with EPIPE, not kill
     * the node (libuv writes with write(2), which raises SIGPIPE). */
    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0) /* randombytes_buf draws the redial jitter */
        return rm_diag_set(diag, RM_EIO, "libsodium cannot initialise");
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0)
        return rm_diag_set(diag, RM_EIO, "cannot start the event loop");
    n->loop = &loop;
    rm_err err = RM_ENOMEM;
    if (!(n->replay = rm_chan_replay_new(0)))
        goto fail_loop;
    rm_peer_config pc = cfg->core;
    memcpy(pc.id, cfg->self->pk, RM_ID_BYTES);
    snprintf(pc.addr, sizeof pc.addr, "%s", cfg->listen);
    size_t np = 0;
    if (cfg->forest) { /* items only: the trees */
        pc.params = NULL;
        pc.items_max = RM_FOREST_TREES_MAX;
        pc.max_steps = cfg->forest->share;
        pc.train = cfg->forest->share > 0; /* (max_steps 0 would mean no limit) */
        if (rm_tree_ws_create(&n->tree_ws, cfg->forest->data)) {
            err = rm_diag_set(diag, RM_ENOMEM, "out of memory");
            goto fail_replay;
        }
    } else {
        pc.params = rm_trainer_params(cfg->trainer, &np);
    }
    pc.n = (uint32_t)np;
    n->max_steps = pc.max_steps;
    n->model_n = pc.n;
    rm_frame hf = {.type = RM_FRAME_HELLO};
    memcpy(hf.u.hello.id, pc.id, RM_ID_BYTES);
    hf.u.hello.incarnation = pc.incarnation;
    hf.u.hello.model_n = pc.n;
    hf.u.hello.model_tag = pc.model_tag;
    hf.u.hello.addr_len = (uint8_t)strlen(pc.addr);
    memcpy(hf.u.hello.addr, pc.addr, hf.u.hello.addr_len);
    if ((err = rm_wire_encode(&hf, n->hello, sizeof n->hello, &n->hello_len))) {
        rm_diag_set(diag, err, "--listen %s: cannot say it in a HELLO", cfg->listen);
        goto fail_replay;
    }
    n->t0_us = mono_us();
    err = rm_peer_create(&n->core, &pc, &cfg->core_rng, core_now(n));
    if (err) {
        rm_diag_set(diag, err, "cannot create the gossip core: %s", rm_strerror(err));
        goto fail_replay;
    }
    if (cfg->core_state &&
        (err = rm_peer_restore_state(n->core, cfg->core_state, cfg->core_state_len,
                                     cfg->core_bases, cfg->core_bases_len))) {
        rm_diag_set(diag, err, "cannot restore the gossip core from the snapshot: %s",
                    rm_strerror(err));
        rm_peer_free(n->core);
        goto fail_replay;
    }
    if (cfg->forest) { /* trees restored from a checkpoint go back to the core */
        const rm_forest *f = cfg->forest->forest;
        for (size_t i = 0; i < rm_forest_count(f); i++) {
            uint8_t *blob = NULL;
            size_t len = 0;
            rm_tree_info info;
            rm_tree_get_info(rm_forest_tree(f, i), &info);
            if (rm_tree_encode(rm_forest_tree(f, i), &blob, &len) == RM_OK)
                rm_peer_add_item(n->core, info.id, blob, len);
            free(blob);
        }
        n->trees_grown = rm_peer_get_stats(n->core)->steps;
    }
    n->ckpt_ms = uv_now(&loop);
    n->ckpt_step = learner_steps(n);
    for (uint32_t i = 0; i < cfg->nseeds; i++) {
        if (memcmp(cfg->seeds[i].id, cfg->self->pk, RM_ID_BYTES) == 0)
            continue;
        book_put(n, cfg->seeds[i].id, cfg->seeds[i].addr);
        rm_peer_add_seed(n->core, cfg->seeds[i].id, cfg->seeds[i].addr, 0);
    }
    uv_tcp_init(&loop, &n->listener);
    n->listener.data = n;
    int rc = uv_tcp_bind(&n->listener, (const struct sockaddr *)&sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&n->listener, 64, on_connection);
    if (rc < 0) {
        err = rm_diag_set(diag, RM_EIO, "--listen %s: %s", cfg->listen, uv_strerror(rc));
        uv_close((uv_handle_t *)&n->listener, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        rm_peer_free(n->core);
        goto fail_replay;
    }
    uv_timer_init(&loop, &n->core_timer);
    n->core_timer.data = n;
    uv_timer_init(&loop, &n->tick);
    n->tick.data = n;
    uv_timer_start(&n->tick, on_tick, TICK_MS, TICK_MS);
    uv_signal_init(&loop, &n->sigint);
    uv_signal_init(&loop, &n->sigterm);
    n->sigint.data = n->sigterm.data = n;
    uv_signal_start(&n->sigint, on_signal, SIGINT);
    uv_signal_start(&n->sigterm, on_signal, SIGTERM);
    n->last_status_ms = uv_now(&loop);
    drive(n);  /* the first step */

    uv_run(&loop, UV_RUN_DEFAULT);

    /* Everything is closed and no step runs: the last snapshot (the pool's
     * one, if any, has finished: uv_run waits for it), then the final
     * model's evaluation. */
    if (cfg->store && ckpt_take(n)) {
        n->ckpt_err = rm_ckpt_job_save(n->ckpt, cfg->store, &n->ckpt_diag);
        ckpt_finished(n);
    }
    evaluate(n);
    if (n->loss_rows)
        res->train_loss = n->loss_sum / (double)n->loss_rows;
    res->core = *rm_peer_get_stats(n->core);
    res->view = rm_peer_view_len(n->core);
    res->seconds = (double)core_now(n) / 1e6;
    rm_peer_free(n->core);
    rm_tree_ws_free(n->tree_ws);
    rm_chan_replay_free(n->replay);
    uv_loop_close(&loop);
    return RM_OK;

fail_replay:
    rm_tree_ws_free(n->tree_ws);
    rm_chan_replay_free(n->replay);
fail_loop:
    uv_loop_close(&loop);
    return err;
}
