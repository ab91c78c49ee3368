/* Tests for the secure channel (node/channel.c) and identity keys
 * (node/keys.c): key files and allow-lists; the handshake (admission by
 * allow-list and network key, replay, low-order keys, every flipped bit of
 * both messages, and a second implementation of message 1 written from
 * docs/SECURITY.md alone); the transport (every flipped bit of a frame,
 * truncation, duplication, reordering, reflection, sessions kept apart,
 * rekeying by bytes and by time, the frame-size limit); and one bad peer
 * closing only its own channel. Every random byte comes from a seeded
 * rm_rng, so every run sends the same bytes.
 *
 * The channel cases run twice, once per transport cipher (secretstream,
 * then AES-256-GCM where the CPU has it): g_cipher is what both sides take
 * in that run. The negotiation cases (who picks what, a downgrade that
 * fails) run once. */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "base/rng.h"
#include "node/channel.h"
#include "node/keys.h"

#define T0 1700000000000000ull /* a wall clock in microseconds */
#define SEED 0x5eed

/* ---- fixtures: keys, an allow-list, a replay table, seeded randomness */

static rm_keypair alice, bob, carol, dave; /* dave is on no allow-list */
static rm_keyset *allow;                   /* alice and carol */
static uint8_t nk1[32], nk2[32];           /* two different network keys */
static uint8_t wire[1 << 16];
static unsigned g_cipher = RM_CHAN_CIPHER_SECRETSTREAM; /* this run's cipher */

static void test_random(void *ctx, uint8_t *buf, size_t n) {
    rm_rng *r = ctx;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = rm_rng_u64(r);
        memcpy(buf + i, &v, n - i < 8 ? n - i : 8);
    }
}

static void make_key(rm_keypair *kp, uint8_t fill) {
    uint8_t sk[32];
    for (int i = 0; i < 32; i++)
        sk[i] = (uint8_t)(fill + 7 * i);
    assert_int_equal(rm_keypair_from_secret(kp, sk), RM_OK);
}

static int setup(void **state) {
    (void)state;
    if (sodium_init() < 0)
        return -1;
    make_key(&alice, 0x11);
    make_key(&bob, 0x22);
    make_key(&carol, 0x33);
    make_key(&dave, 0x44);
    allow = rm_keyset_new();
    if (!allow || rm_keyset_add(allow, alice.pk) != RM_OK ||
        rm_keyset_add(allow, carol.pk) != RM_OK)
        return -1;
    memset(nk1, 0xa1, sizeof nk1);
    memset(nk2, 0xa2, sizeof nk2);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    rm_keyset_free(allow);
    return 0;
}

/* A session under test: an initiator, a responder and their randomness. */
typedef struct {
    rm_chan *i, *r;
    rm_rng rng_i, rng_r;
    rm_chan_replay *replay;
    rm_chan_config ci, cr;
} pair;

static void pair_config(pair *p, uint64_t seed, const rm_keypair *ini, const uint8_t *nk_i,
                        const rm_keyset *al, const uint8_t *nk_r) {
    memset(p, 0, sizeof *p);
    rm_rng_seed(&p->rng_i, seed);
    rm_rng_seed(&p->rng_r, seed ^ 0xabcdef);
    p->replay = rm_chan_replay_new(0);
    assert_non_null(p->replay);
    p->ci = (rm_chan_config){.role = RM_CHAN_INITIATOR, .self = ini, .peer_key = bob.pk,
                             .network_key = nk_i, .random = test_random,
                             .random_ctx = &p->rng_i, .ciphers = g_cipher};
    p->cr = (rm_chan_config){.role = RM_CHAN_RESPONDER, .self = &bob, .network_key = nk_r,
                             .allow = al, .replay = p->replay, .random = test_random,
                             .random_ctx = &p->rng_r, .ciphers = g_cipher};
}

static void pair_create(pair *p, uint64_t now) {
    assert_int_equal(rm_chan_new(&p->i, &p->ci, now), RM_OK);
    assert_int_equal(rm_chan_new(&p->r, &p->cr, now), RM_OK);
}

static void pair_free(pair *p) {
    rm_chan_free(p->i);
    rm_chan_free(p->r);
    rm_chan_replay_free(p->replay);
    p->i = p->r = NULL;
    p->replay = NULL;
}

/* Moves every waiting byte from one channel to the other, in chunks of at
 * most chunk bytes; returns the first error of rm_chan_recv. */
static rm_err pump_chunked(rm_chan *from, rm_chan *to, size_t chunk) {
    size_t n;
    while ((n = rm_chan_poll_out(from, wire, chunk < sizeof wire ? chunk : sizeof wire)) > 0) {
        rm_err err = rm_chan_recv(to, wire, n);
        if (err)
            return err;
    }
    return RM_OK;
}

static rm_err pump(rm_chan *from, rm_chan *to) {
    return pump_chunked(from, to, sizeof wire);
}

/* Takes all waiting bytes of ch into buf; returns how many. */
static size_t take(rm_chan *ch, uint8_t *buf, size_t cap) {
    size_t n = rm_chan_out_pending(ch);
    assert_true(n <= cap);
    assert_int_equal(rm_chan_poll_out(ch, buf, cap), n);
    return n;
}

/* The whole handshake, key confirmation included. */
static void handshake(pair *p) {
    assert_int_equal(rm_chan_out_pending(p->i), RM_CHAN_MSG1_BYTES);
    assert_int_equal(pump(p->i, p->r), RM_OK);
    assert_int_equal(rm_chan_out_pending(p->r), RM_CHAN_MSG2_BYTES);
    assert_int_equal(pump(p->r, p->i), RM_OK);
    assert_int_equal(rm_chan_get_state(p->i), RM_CHAN_OPEN);
    assert_int_equal(rm_chan_get_state(p->r), RM_CHAN_HANDSHAKE); /* awaits the confirmation */
    assert_int_equal(pump(p->i, p->r), RM_OK);
    assert_int_equal(rm_chan_get_state(p->r), RM_CHAN_OPEN);
    assert_int_equal(rm_chan_get_cipher(p->i), rm_chan_get_cipher(p->r));
    if (p->ci.ciphers == g_cipher && p->cr.ciphers == g_cipher)
        assert_int_equal(rm_chan_get_cipher(p->r), g_cipher);
}

static void open_pair(pair *p, uint64_t seed, uint64_t now) {
    pair_config(p, seed, &alice, nk1, allow, nk1);
    pair_create(p, now);
    handshake(p);
}

/* The channel is closed with err, says why, and holds nothing to deliver
 * or to write. */
static void assert_closed(rm_chan *ch, rm_err err) {
    const uint8_t *d;
    size_t n;
    assert_int_equal(rm_chan_get_state(ch), RM_CHAN_CLOSED);
    if (err)
        assert_int_equal(rm_chan_error(ch), err);
    else
        assert_true(rm_chan_error(ch) < 0);
    assert_true(strlen(rm_chan_reason(ch)) > 10);
    assert_false(rm_chan_poll_frame(ch, &d, &n));
    assert_int_equal(rm_chan_out_pending(ch), 0);
}

static bool contains(const char *s, const char *part) {
    return strstr(s, part) != NULL;
}

static void fill(uint8_t *buf, size_t n, uint32_t salt) {
    for (size_t k = 0; k < n; k++)
        buf[k] = (uint8_t)(k * 31 + salt * 7 + (k >> 8));
}

/* ---- keys and files */

static void write_file(const char *path, const char *text, mode_t mode) {
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, mode), 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    assert_int_equal(close(fd), 0);
}

static void key_file_roundtrip(void **state) {
    (void)state;
    const char *path = RUMOR_TMP "/test_channel.key";
    rm_keypair kp, back;
    rm_diag d = {{0}};
    unlink(path);
    assert_int_equal(rm_keypair_generate(&kp), RM_OK);
    assert_int_equal(rm_keyfile_write(path, &kp, &d), RM_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(rm_keyfile_read(&back, path, &d), RM_OK);
    assert_memory_equal(&kp, &back, sizeof kp);

    /* Never overwritten. */
    rm_keypair other;
    make_key(&other, 0x99);
    assert_int_equal(rm_keyfile_write(path, &other, &d), RM_EEXISTS);
    assert_int_equal(rm_keyfile_read(&back, path, &d), RM_OK);
    assert_memory_equal(&kp, &back, sizeof kp);

    /* Readable by others: refused, and the error says what to do. */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(rm_keyfile_read(&back, path, &d), RM_EKEY_PERMS);
    assert_true(contains(d.msg, path) && contains(d.msg, "chmod 600"));
    assert_true(sodium_is_zero((const uint8_t *)&back, sizeof back));
    unlink(path);
    assert_int_equal(rm_keyfile_read(&back, path, &d), RM_ENOENT);
    assert_true(contains(d.msg, path));
    rm_keypair_wipe(&kp);
    assert_true(sodium_is_zero((const uint8_t *)&kp, sizeof kp));
}

static void key_file_errors_name_the_line(void **state) {
    (void)state;
    const char *path = RUMOR_TMP "/test_channel_bad.key";
    char sk_hex[65], pk_hex[65], other_hex[65], text[512];
    sodium_bin2hex(sk_hex, sizeof sk_hex, alice.sk, 32);
    rm_key_to_hex(pk_hex, alice.pk);
    rm_key_to_hex(other_hex, bob.pk);
    rm_keypair kp;
    rm_diag d = {{0}};
    static const struct {
        const char *fmt;   /* %s: secret hex, then public hex */
        rm_err err;
        const char *where; /* appears in the message after the path */
    } cases[] = {
        {"rumor-key v1\nsecret %s\npublic %s\n", RM_OK, ""},
        {"rumor-key v1\r\nsecret %s\r\npublic %s\r\n", RM_OK, ""},
        {"rumor-key v1\nsecret %s\npublic %s", RM_OK, ""},
        {"rumor-key v2\nsecret %s\npublic %s\n", RM_EKEY_SYNTAX, ":1:"},
        {"rumor-key v1\nsecrets %s\npublic %s\n", RM_EKEY_SYNTAX, ":2:"},
        {"rumor-key v1\nsecret %.63s\npublic %s\n", RM_EKEY_SYNTAX, ":2:"},
        {"rumor-key v1\nsecret %s\npublic  %s\n", RM_EKEY_SYNTAX, ":3:"},
        {"rumor-key v1\nsecret %s\npublic %s\n\n", RM_EKEY_SYNTAX, ":4:"},
        {"rumor-key v1\nsecret %s\n", RM_EKEY_SYNTAX, ":3:"},
        {"", RM_EKEY_SYNTAX, ":1:"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        snprintf(text, sizeof text, cases[c].fmt, sk_hex, pk_hex);
        write_file(path, text, 0600);
        d.msg[0] = '\0';
        assert_int_equal(rm_keyfile_read(&kp, path, &d), cases[c].err);
        if (cases[c].err == RM_OK) {
            assert_memory_equal(kp.pk, alice.pk, 32);
            assert_memory_equal(kp.sk, alice.sk, 32);
        } else {
            assert_true(contains(d.msg, path));
            assert_true(contains(d.msg, cases[c].where));
        }
    }
    /* A public key that is not the secret key's. */
    snprintf(text, sizeof text, "rumor-key v1\nsecret %s\npublic %s\n", sk_hex, other_hex);
    write_file(path, text, 0600);
    assert_int_equal(rm_keyfile_read(&kp, path, &d), RM_EKEY_SYNTAX);
    assert_true(contains(d.msg, ":3:") && contains(d.msg, "does not match"));
    /* Too large, refused unread. */
    char *big = malloc(RM_KEYFILE_BYTES_MAX + 2);
    assert_non_null(big);
    memset(big, 'a', RM_KEYFILE_BYTES_MAX + 1);
    big[RM_KEYFILE_BYTES_MAX + 1] = '\0';
    write_file(path, big, 0600);
    free(big);
    assert_int_equal(rm_keyfile_read(&kp, path, &d), RM_ETOO_LARGE);
    unlink(path);
}

static void key_text_forms(void **state) {
    (void)state;
    char hex[65], b64[45], fp[17];
    uint8_t pk[32];
    rm_key_to_hex(hex, alice.pk);
    rm_key_to_base64(b64, alice.pk);
    rm_key_fingerprint(fp, alice.pk);
    assert_int_equal(strlen(hex), 64);
    assert_int_equal(strlen(b64), 44);
    assert_int_equal(strlen(fp), 16);
    assert_memory_equal(fp, hex, 16);
    assert_int_equal(rm_key_from_text(pk, hex, 64), RM_OK);
    assert_memory_equal(pk, alice.pk, 32);
    memset(pk, 0, sizeof pk);
    assert_int_equal(rm_key_from_text(pk, b64, 44), RM_OK);
    assert_memory_equal(pk, alice.pk, 32);
    for (int k = 0; k < 64; k++)
        if (hex[k] >= 'a')
            hex[k] = (char)(hex[k] - 'a' + 'A');
    assert_int_equal(rm_key_from_text(pk, hex, 64), RM_OK);
    assert_memory_equal(pk, alice.pk, 32);
    assert_int_equal(rm_key_from_text(pk, hex, 63), RM_EKEY_SYNTAX);
    hex[10] = 'g';
    assert_int_equal(rm_key_from_text(pk, hex, 64), RM_EKEY_SYNTAX);
    b64[3] = '*';
    assert_int_equal(rm_key_from_text(pk, b64, 44), RM_EKEY_SYNTAX);
    assert_int_equal(rm_key_from_text(pk, "", 0), RM_EKEY_SYNTAX);
}

static void allow_list_file(void **state) {
    (void)state;
    const char *path = RUMOR_TMP "/test_channel.allow";
    char a[65], c[45], text[1024];
    rm_key_to_hex(a, alice.pk);
    rm_key_to_base64(c, carol.pk);
    snprintf(text, sizeof text,
             "# peers of the test cluster\n"
             "\n"
             "%s alice@laptop\n"
             "   %s\tcarol\r\n"
             "  # indented comment\n"
             "%s\n", a, c, a);
    write_file(path, text, 0644);
    rm_keyset *ks = NULL;
    rm_diag d = {{0}};
    assert_int_equal(rm_keyset_load(&ks, path, &d), RM_OK);
    assert_int_equal(rm_keyset_count(ks), 2);
    assert_true(rm_keyset_contains(ks, alice.pk));
    assert_true(rm_keyset_contains(ks, carol.pk));
    assert_false(rm_keyset_contains(ks, bob.pk));
    rm_keyset_free(ks);

    snprintf(text, sizeof text, "%s\n# fine\n\nnot-a-key here\n", a);
    write_file(path, text, 0644);
    assert_int_equal(rm_keyset_load(&ks, path, &d), RM_EKEY_SYNTAX);
    assert_null(ks);
    char where[600];
    snprintf(where, sizeof where, "%s:4:", path);
    assert_true(contains(d.msg, where) && contains(d.msg, "not-a-key"));

    snprintf(text, sizeof text, "%s\n%064d\n", a, 0); /* the all-zero key */
    write_file(path, text, 0644);
    assert_int_equal(rm_keyset_load(&ks, path, &d), RM_ECHAN_BAD_KEY);
    snprintf(where, sizeof where, "%s:2:", path);
    assert_true(contains(d.msg, where));

    char *longline = malloc(2100);
    assert_non_null(longline);
    memset(longline, '#', 2000);
    strcpy(longline + 2000, "\n");
    write_file(path, longline, 0644);
    free(longline);
    assert_int_equal(rm_keyset_load(&ks, path, &d), RM_EKEY_SYNTAX);
    snprintf(where, sizeof where, "%s:1:", path);
    assert_true(contains(d.msg, where) && contains(d.msg, "longer"));
    unlink(path);
    assert_int_equal(rm_keyset_load(&ks, path, &d), RM_ENOENT);
}

/* ---- the handshake */

static void happy_path_many_frames(void **state) {
    (void)state;
    pair p;
    open_pair(&p, SEED, T0);
    uint8_t h_i[32], h_r[32];
    assert_true(rm_chan_handshake_hash(p.i, h_i));
    assert_true(rm_chan_handshake_hash(p.r, h_r));
    assert_memory_equal(h_i, h_r, 32);
    assert_memory_equal(rm_chan_peer_key(p.i), bob.pk, 32);
    assert_memory_equal(rm_chan_peer_key(p.r), alice.pk, 32);

    static uint8_t buf[3000];
    uint64_t now = T0;
    for (uint32_t k = 0; k < 300; k++) {
        size_t n = (k * 977u) % sizeof buf;
        fill(buf, n, k);
        rm_chan *from = k % 3 == 2 ? p.r : p.i, *to = from == p.i ? p.r : p.i;
        assert_int_equal(rm_chan_send(from, now += 1000, buf, n), RM_OK);
        /* Alternate whole writes and byte-by-byte delivery. */
        assert_int_equal(pump_chunked(from, to, k % 5 == 0 ? 1 : k % 7 + 3), RM_OK);
        const uint8_t *d;
        size_t len;
        assert_true(rm_chan_poll_frame(to, &d, &len));
        assert_int_equal(len, n);
        if (n)
            assert_memory_equal(d, buf, n);
        assert_false(rm_chan_poll_frame(to, &d, &len));
    }
    /* Many frames queued at once arrive in order. */
    for (uint32_t k = 0; k < 50; k++) {
        fill(buf, 100 + k, k);
        assert_int_equal(rm_chan_send(p.i, now, buf, 100 + k), RM_OK);
    }
    assert_int_equal(pump(p.i, p.r), RM_OK);
    for (uint32_t k = 0; k < 50; k++) {
        const uint8_t *d;
        size_t len;
        fill(buf, 100 + k, k);
        assert_true(rm_chan_poll_frame(p.r, &d, &len));
        assert_int_equal(len, 100 + k);
        assert_memory_equal(d, buf, len);
    }
    rm_chan_stats si, sr;
    rm_chan_get_stats(p.i, &si);
    rm_chan_get_stats(p.r, &sr);
    assert_int_equal(si.frames_sent, sr.frames_recv);
    assert_int_equal(sr.frames_sent, si.frames_recv);
    assert_int_equal(si.bytes_sent, sr.bytes_recv);
    assert_int_equal(si.rekeys_sent, 0);
    assert_int_equal(rm_chan_error(p.i), RM_OK);
    assert_int_equal(rm_chan_error(p.r), RM_OK);
    pair_free(&p);
}

static void unknown_key_refused_before_any_model_byte(void **state) {
    (void)state;
    rm_keyset *only_carol = rm_keyset_new();
    assert_non_null(only_carol);
    assert_int_equal(rm_keyset_add(only_carol, carol.pk), RM_OK);
    pair p;
    pair_config(&p, SEED, &alice, NULL, only_carol, NULL);
    pair_create(&p, T0);
    /* The initiator cannot send a model byte before the handshake ends. */
    uint8_t model[16] = {1, 2, 3};
    assert_int_equal(rm_chan_send(p.i, T0, model, sizeof model), RM_ECHAN_STATE);
    assert_int_equal(rm_chan_out_pending(p.i), RM_CHAN_MSG1_BYTES);

    assert_int_equal(pump(p.i, p.r), RM_ECHAN_UNKNOWN_KEY);
    assert_closed(p.r, RM_ECHAN_UNKNOWN_KEY);
    char fp[17];
    rm_key_fingerprint(fp, alice.pk);
    assert_true(contains(rm_chan_reason(p.r), fp));
    assert_true(contains(rm_chan_reason(p.r), "allow-list"));
    /* The responder said nothing: no message 2, nothing about itself. */
    assert_int_equal(rm_chan_out_pending(p.r), 0);
    assert_null(rm_chan_peer_key(p.r));
    assert_false(rm_chan_handshake_hash(p.r, (uint8_t[32]){0}));
    assert_int_equal(rm_chan_get_state(p.i), RM_CHAN_HANDSHAKE);
    uint64_t ts;
    assert_false(rm_chan_replay_get(p.replay, alice.pk, &ts)); /* not recorded */
    assert_int_equal(rm_chan_recv(p.r, wire, 1), RM_ECHAN_STATE);
    pair_free(&p);

    /* dave holds the network key but is not on the allow-list: refused. */
    pair_config(&p, SEED, &dave, nk1, allow, nk1);
    pair_create(&p, T0);
    assert_int_equal(pump(p.i, p.r), RM_ECHAN_UNKNOWN_KEY);
    assert_closed(p.r, RM_ECHAN_UNKNOWN_KEY);
    pair_free(&p);
    rm_keyset_free(only_carol);
}

static void wrong_network_key_refused(void **state) {
    (void)state;
    static const struct {
        const uint8_t *nk_i, *nk_r;
        bool with_allow;
    } cases[] = {
        {nk2, nk1, false}, /* a stranger with another network key */
        {nk2, nk1, true},  /* even an allowed key needs the right network key */
        {NULL, nk1, true}, /* no network key at all */
        {nk1, NULL, true}, /* the responder has none */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        pair p;
        pair_config(&p, SEED + c, &alice, cases[c].nk_i, cases[c].with_allow ? allow : NULL,
                    cases[c].nk_r);
        pair_create(&p, T0);
        assert_int_equal(pump(p.i, p.r), RM_ECHAN_AUTH);
        assert_closed(p.r, RM_ECHAN_AUTH);
        assert_true(contains(rm_chan_reason(p.r), "network key"));
        assert_int_equal(rm_chan_out_pending(p.r), 0);
        pair_free(&p);
    }
}

static void network_key_admits_without_allow_list(void **state) {
    (void)state;
    const rm_keypair *who[] = {&alice, &dave};
    for (int k = 0; k < 2; k++) {
        pair p;
        pair_config(&p, SEED + k, who[k], nk1, NULL, nk1);
        pair_create(&p, T0);
        handshake(&p);
        assert_memory_equal(rm_chan_peer_key(p.r), who[k]->pk, 32);
        pair_free(&p);
    }
}

static void bad_configs_refused(void **state) {
    (void)state;
    rm_chan *ch = (rm_chan *)1;
    rm_chan_replay *t = rm_chan_replay_new(4);
    uint8_t zero[32] = {0};
    rm_chan_config c = {.role = RM_CHAN_RESPONDER, .self = &bob, .replay = t};
    assert_int_equal(rm_chan_new(&ch, &c, T0), RM_EINVAL); /* neither list nor key */
    assert_null(ch);
    c.allow = allow;
    c.replay = NULL;
    assert_int_equal(rm_chan_new(&ch, &c, T0), RM_EINVAL); /* no replay table */
    c.replay = t;
    c.network_key = zero;
    assert_int_equal(rm_chan_new(&ch, &c, T0), RM_ECHAN_BAD_KEY);
    c.network_key = NULL;
    c.frame_bytes_max = (size_t)RM_CHAN_FRAME_MAX_LIMIT + 1;
    assert_int_equal(rm_chan_new(&ch, &c, T0), RM_EINVAL);
    c.frame_bytes_max = 0;
    c.ciphers = 4; /* no such cipher */
    assert_int_equal(rm_chan_new(&ch, &c, T0), RM_EINVAL);
    c = (rm_chan_config){.role = RM_CHAN_INITIATOR, .self = &alice};
    assert_int_equal(rm_chan_new(&ch, &c, T0), RM_EINVAL); /* no responder key */
    c.peer_key = zero;
    assert_int_equal(rm_chan_new(&ch, &c, T0), RM_ECHAN_BAD_KEY);
    rm_chan_replay_free(t);
}

/* Every bit of message 1, flipped in turn: the responder closes with a
 * reason and writes nothing. */
static void flipped_bit_in_message1(void **state) {
    (void)state;
    pair p;
    open_pair(&p, SEED, T0); /* the unflipped message 1 is accepted */
    pair_free(&p);
    pair_config(&p, SEED, &alice, nk1, allow, nk1);
    assert_int_equal(rm_chan_new(&p.i, &p.ci, T0), RM_OK);
    uint8_t msg1[RM_CHAN_MSG1_BYTES];
    assert_int_equal(take(p.i, msg1, sizeof msg1), sizeof msg1);
    for (size_t bit = 0; bit < 8 * sizeof msg1; bit++) {
        msg1[bit / 8] ^= (uint8_t)(1u << bit % 8);
        assert_int_equal(rm_chan_new(&p.r, &p.cr, T0), RM_OK);
        rm_err err = rm_chan_recv(p.r, msg1, sizeof msg1);
        assert_true(err < 0);
        assert_closed(p.r, err);
        rm_chan_free(p.r);
        p.r = NULL;
        msg1[bit / 8] ^= (uint8_t)(1u << bit % 8);
    }
    assert_int_equal(rm_chan_replay_count(p.replay), 0);
    pair_free(&p);
}

/* Every bit of message 2, flipped in turn: the initiator closes. */
static void flipped_bit_in_message2(void **state) {
    (void)state;
    pair p;
    pair_config(&p, SEED, &alice, nk1, allow, nk1);
    pair_create(&p, T0);
    assert_int_equal(pump(p.i, p.r), RM_OK);
    uint8_t msg2[RM_CHAN_MSG2_BYTES];
    assert_int_equal(take(p.r, msg2, sizeof msg2), sizeof msg2);
    for (size_t bit = 0; bit <= 8 * sizeof msg2; bit++) {
        bool flip = bit < 8 * sizeof msg2; /* the last round: unflipped */
        if (flip)
            msg2[bit / 8] ^= (uint8_t)(1u << bit % 8);
        rm_chan_free(p.i);
        rm_rng_seed(&p.rng_i, SEED); /* the same ephemeral key as before */
        assert_int_equal(rm_chan_new(&p.i, &p.ci, T0), RM_OK);
        assert_int_equal(rm_chan_poll_out(p.i, wire, sizeof wire), RM_CHAN_MSG1_BYTES);
        rm_err err = rm_chan_recv(p.i, msg2, sizeof msg2);
        if (flip) {
            assert_true(err < 0);
            assert_closed(p.i, err);
            assert_null(rm_chan_peer_key(p.i));
            msg2[bit / 8] ^= (uint8_t)(1u << bit % 8);
        } else {
            assert_int_equal(err, RM_OK);
            assert_int_equal(rm_chan_get_state(p.i), RM_CHAN_OPEN);
        }
    }
    pair_free(&p);
}

/* Every bit of a frame, flipped in turn, on a fresh session each time
 * (the same seed gives the same bytes): the receiver closes and delivers
 * nothing. A flipped length may ask for more bytes than arrive, so a good
 * frame follows and then the end of the connection. */
static void flipped_bit_in_frame(void **state) {
    (void)state;
    uint8_t msg[16], f1[RM_CHAN_FRAME_OVERHEAD + sizeof msg], f2[RM_CHAN_FRAME_OVERHEAD + 8];
    fill(msg, sizeof msg, 3);
    for (size_t bit = 0; bit <= 8 * sizeof f1; bit++) {
        pair p;
        open_pair(&p, SEED, T0);
        assert_int_equal(rm_chan_send(p.i, T0, msg, sizeof msg), RM_OK);
        assert_int_equal(take(p.i, f1, sizeof f1), sizeof f1);
        assert_int_equal(rm_chan_send(p.i, T0, msg, 8), RM_OK);
        assert_int_equal(take(p.i, f2, sizeof f2), sizeof f2);
        bool flip = bit < 8 * sizeof f1; /* the last round: unflipped */
        if (flip)
            f1[bit / 8] ^= (uint8_t)(1u << bit % 8);
        rm_err err = rm_chan_recv(p.r, f1, sizeof f1);
        if (!err)
            err = rm_chan_recv(p.r, f2, sizeof f2);
        if (!err)
            err = rm_chan_recv_eof(p.r);
        if (flip) {
            assert_true(err < 0);
            assert_closed(p.r, err);
        } else {
            assert_int_equal(err, RM_ECHAN_TRUNCATED); /* no final frame */
        }
        pair_free(&p);
    }
}

static void truncated_frame_closes(void **state) {
    (void)state;
    uint8_t msg[100], f[RM_CHAN_FRAME_OVERHEAD + sizeof msg];
    fill(msg, sizeof msg, 9);
    /* Cut inside the frame, inside the length prefix, after a whole frame
     * but before the final frame: each a truncation. */
    static const size_t cuts[] = {sizeof f - 1, RM_CHAN_FRAME_OVERHEAD, 2, sizeof f};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        pair p;
        open_pair(&p, SEED, T0);
        assert_int_equal(rm_chan_send(p.i, T0, msg, sizeof msg), RM_OK);
        assert_int_equal(take(p.i, f, sizeof f), sizeof f);
        assert_int_equal(rm_chan_recv(p.r, f, cuts[c]), RM_OK);
        const uint8_t *d;
        size_t n;
        if (cuts[c] == sizeof f) {
            assert_true(rm_chan_poll_frame(p.r, &d, &n)); /* a whole frame is delivered */
            assert_int_equal(n, sizeof msg);
        } else {
            assert_false(rm_chan_poll_frame(p.r, &d, &n));
        }
        assert_int_equal(rm_chan_recv_eof(p.r), RM_ECHAN_TRUNCATED);
        assert_closed(p.r, RM_ECHAN_TRUNCATED);
        assert_true(contains(rm_chan_reason(p.r), cuts[c] == sizeof f ? "without a final frame"
                                                                      : "connection ended"));
        pair_free(&p);
    }
    /* Cut during the handshake. */
    pair p;
    pair_config(&p, SEED, &alice, nk1, allow, nk1);
    pair_create(&p, T0);
    assert_int_equal(rm_chan_recv(p.r, wire, 0), RM_OK);
    assert_int_equal(rm_chan_poll_out(p.i, wire, 50), 50);
    assert_int_equal(rm_chan_recv(p.r, wire, 50), RM_OK);
    assert_int_equal(rm_chan_recv_eof(p.r), RM_ECHAN_TRUNCATED);
    assert_closed(p.r, RM_ECHAN_TRUNCATED);
    pair_free(&p);
}

static void duplicated_frame_closes(void **state) {
    (void)state;
    pair p;
    open_pair(&p, SEED, T0);
    uint8_t a[] = "frame a", fa[RM_CHAN_FRAME_OVERHEAD + sizeof a];
    assert_int_equal(rm_chan_send(p.i, T0, a, sizeof a), RM_OK);
    assert_int_equal(take(p.i, fa, sizeof fa), sizeof fa);
    assert_int_equal(rm_chan_recv(p.r, fa, sizeof fa), RM_OK);
    assert_int_equal(rm_chan_recv(p.r, fa, sizeof fa), RM_ECHAN_AUTH);
    assert_true(contains(rm_chan_reason(p.r), "frame 3")); /* confirmation, a, then a again */
    assert_closed(p.r, RM_ECHAN_AUTH);
    pair_free(&p);
}

static void reordered_frame_closes(void **state) {
    (void)state;
    pair p;
    open_pair(&p, SEED, T0);
    uint8_t a[] = "frame a", b[] = "frame b";
    uint8_t fa[RM_CHAN_FRAME_OVERHEAD + sizeof a], fb[RM_CHAN_FRAME_OVERHEAD + sizeof b];
    assert_int_equal(rm_chan_send(p.i, T0, a, sizeof a), RM_OK);
    assert_int_equal(take(p.i, fa, sizeof fa), sizeof fa);
    assert_int_equal(rm_chan_send(p.i, T0, b, sizeof b), RM_OK);
    assert_int_equal(take(p.i, fb, sizeof fb), sizeof fb);
    assert_int_equal(rm_chan_recv(p.r, fb, sizeof fb), RM_ECHAN_AUTH);
    assert_closed(p.r, RM_ECHAN_AUTH);
    pair_free(&p);
    /* A dropped frame is a reordering of what follows it. */
    open_pair(&p, SEED, T0);
    assert_int_equal(rm_chan_send(p.i, T0, a, sizeof a), RM_OK);
    assert_int_equal(take(p.i, fa, sizeof fa), sizeof fa);
    assert_int_equal(rm_chan_send(p.i, T0, b, sizeof b), RM_OK);
    assert_int_equal(take(p.i, fb, sizeof fb), sizeof fb);
    assert_int_equal(rm_chan_recv(p.r, fb, sizeof fb), RM_ECHAN_AUTH);
    assert_closed(p.r, RM_ECHAN_AUTH);
    pair_free(&p);
}

static void replayed_handshake_refused(void **state) {
    (void)state;
    pair p;
    pair_config(&p, SEED, &alice, nk1, allow, nk1);
    pair_create(&p, T0);
    uint8_t msg1[RM_CHAN_MSG1_BYTES];
    assert_int_equal(take(p.i, msg1, sizeof msg1), sizeof msg1);
    assert_int_equal(rm_chan_recv(p.r, msg1, sizeof msg1), RM_OK);
    assert_int_equal(pump(p.r, p.i), RM_OK);
    assert_int_equal(pump(p.i, p.r), RM_OK);
    assert_int_equal(rm_chan_get_state(p.r), RM_CHAN_OPEN);
    uint64_t ts = 0;
    assert_true(rm_chan_replay_get(p.replay, alice.pk, &ts));
    assert_int_equal(ts, T0);

    /* The same message 1, replayed to a fresh responder with the same
     * table: refused, and nothing is written back. */
    rm_chan *r2;
    assert_int_equal(rm_chan_new(&r2, &p.cr, T0), RM_OK);
    assert_int_equal(rm_chan_recv(r2, msg1, sizeof msg1), RM_ECHAN_REPLAY);
    assert_closed(r2, RM_ECHAN_REPLAY);
    assert_true(contains(rm_chan_reason(r2), "replay"));
    rm_chan_free(r2);

    /* After a restart: the table saved and loaded entry by entry. */
    rm_chan_replay *t2 = rm_chan_replay_new(0);
    for (size_t k = 0; k < rm_chan_replay_count(p.replay); k++) {
        uint8_t pk[32];
        uint64_t v;
        rm_chan_replay_at(p.replay, k, pk, &v);
        rm_chan_replay_put(t2, pk, v);
    }
    rm_chan_config cr2 = p.cr;
    cr2.replay = t2;
    assert_int_equal(rm_chan_new(&r2, &cr2, T0), RM_OK);
    assert_int_equal(rm_chan_recv(r2, msg1, sizeof msg1), RM_ECHAN_REPLAY);
    rm_chan_free(r2);

    /* A genuine new handshake with an older or equal clock: refused; a
     * newer one: accepted. */
    const uint64_t clocks[] = {T0 - 1, T0, T0 + 1};
    for (int k = 0; k < 3; k++) {
        pair q;
        pair_config(&q, SEED + 10 + k, &alice, nk1, allow, nk1);
        rm_chan_replay_free(q.replay);
        q.replay = NULL;
        q.cr.replay = t2;
        pair_create(&q, clocks[k]);
        rm_err err = pump(q.i, q.r);
        assert_int_equal(err, k < 2 ? RM_ECHAN_REPLAY : RM_OK);
        pair_free(&q);
    }
    assert_true(rm_chan_replay_get(t2, alice.pk, &ts));
    assert_int_equal(ts, T0 + 1);
    rm_chan_replay_free(t2);
    pair_free(&p);
}

static void replay_table_bounded(void **state) {
    (void)state;
    rm_chan_replay *t = rm_chan_replay_new(2);
    assert_non_null(t);
    rm_chan_replay_put(t, alice.pk, 100);
    rm_chan_replay_put(t, carol.pk, 300);
    rm_chan_replay_put(t, alice.pk, 50); /* never lowered */
    uint64_t ts;
    assert_true(rm_chan_replay_get(t, alice.pk, &ts));
    assert_int_equal(ts, 100);
    rm_chan_replay_put(t, dave.pk, 200); /* full: alice (100) goes, floor 100 */
    assert_int_equal(rm_chan_replay_count(t), 2);
    assert_false(rm_chan_replay_get(t, alice.pk, &ts));
    assert_int_equal(rm_chan_replay_floor(t), 100);
    rm_chan_replay_put(t, bob.pk, 90); /* below the floor: refused already */
    assert_false(rm_chan_replay_get(t, bob.pk, &ts));
    rm_chan_replay_raise_floor(t, 20);
    assert_int_equal(rm_chan_replay_floor(t), 100);

    /* alice's old handshake (ts 100) is still refused after eviction. */
    pair p;
    pair_config(&p, SEED, &alice, nk1, allow, nk1);
    p.cr.replay = t;
    pair_create(&p, 100);
    assert_int_equal(pump(p.i, p.r), RM_ECHAN_REPLAY);
    pair_free(&p);
    pair_config(&p, SEED, &alice, nk1, allow, nk1);
    p.cr.replay = t;
    pair_create(&p, 101);
    assert_int_equal(pump(p.i, p.r), RM_OK);
    pair_free(&p);
    rm_chan_replay_free(t);
}

static void stale_message2_refused(void **state) {
    (void)state;
    pair p;
    pair_config(&p, SEED, &alice, nk1, allow, nk1);
    pair_create(&p, T0);
    assert_int_equal(pump(p.i, p.r), RM_OK);
    uint8_t msg2[RM_CHAN_MSG2_BYTES];
    assert_int_equal(take(p.r, msg2, sizeof msg2), sizeof msg2);
    rm_chan *i2; /* a new session: a new ephemeral key */
    assert_int_equal(rm_chan_new(&i2, &p.ci, T0 + 1), RM_OK);
    assert_int_equal(rm_chan_recv(i2, msg2, sizeof msg2), RM_ECHAN_AUTH);
    rm_chan_free(i2);
    pair_free(&p);
}

/* ---- low-order keys */

static const uint8_t weak[7][32] = {
    {0},
    {1},
    {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
     0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
    {0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b,
     0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
};

/* ---- a second implementation of message 1, from docs/SECURITY.md */

static const char spec_protocol[] =
    "rumor-chan/2 IK X25519 ChaChaPoly BLAKE2b secretstream AES256GCM";
static uint8_t spec_h[32], spec_ck[32]; /* the state spec_msg1 leaves */
static unsigned spec_offer;              /* message 1's cipher offer; 0: g_cipher */

static void spec_mix_hash(uint8_t h[32], const uint8_t *d, size_t n) {
    uint8_t in[32 + 64];
    memcpy(in, h, 32);
    memcpy(in + 32, d, n);
    crypto_generichash(h, 32, in, 32 + n, NULL, 0);
}

static void spec_mix_key(uint8_t ck[32], uint8_t k[32], const uint8_t dh[32],
                         const uint8_t h[32]) {
    uint8_t t[32], in[33] = {0x01};
    crypto_generichash(t, 32, dh, 32, ck, 32);
    crypto_generichash(ck, 32, in, 1, t, 32);
    in[0] = 0x02;
    memcpy(in + 1, h, 32);
    crypto_generichash(k, 32, in, 33, t, 32);
}

/* Message 1 to bob claiming static key s_pk, with ephemeral secret e_sk,
 * timestamp ts and stream header hdr. ss = X25519(ss_sk, ss_pk): the
 * initiator computes it as (s_i, S_r); a thief of bob's key as (s_r, S_i). */
static void spec_msg1(uint8_t out[RM_CHAN_MSG1_BYTES], const uint8_t ss_sk[32],
                      const uint8_t ss_pk[32], const uint8_t s_pk[32], const uint8_t e_sk[32],
                      uint64_t ts, const uint8_t hdr[24], const uint8_t nk[32]) {
    static const uint8_t n0[12];
    uint8_t h[32], ck[32], k[32], e_pk[32], dh[32], pay[33], zero_nk[32] = {0};
    crypto_generichash(h, 32, (const uint8_t *)spec_protocol, strlen(spec_protocol), NULL, 0);
    spec_mix_hash(h, bob.pk, 32);
    crypto_generichash(ck, 32, (const uint8_t *)spec_protocol, strlen(spec_protocol),
                       nk ? nk : zero_nk, 32);
    out[0] = 130, out[1] = out[2] = out[3] = 0, out[4] = 0x01;
    crypto_scalarmult_base(e_pk, e_sk);
    memcpy(out + 5, e_pk, 32);
    spec_mix_hash(h, e_pk, 32);
    assert_int_equal(crypto_scalarmult(dh, e_sk, bob.pk), 0);
    spec_mix_key(ck, k, dh, h);
    crypto_aead_chacha20poly1305_ietf_encrypt(out + 37, NULL, s_pk, 32, h, 32, NULL, n0, k);
    spec_mix_hash(h, out + 37, 48);
    if (crypto_scalarmult(dh, ss_sk, ss_pk) != 0)
        memset(dh, 0, 32);
    spec_mix_key(ck, k, dh, h);
    for (int b = 0; b < 8; b++)
        pay[b] = (uint8_t)(ts >> 8 * b);
    memcpy(pay + 8, hdr, 24);
    pay[32] = (uint8_t)(spec_offer ? spec_offer : g_cipher);
    crypto_aead_chacha20poly1305_ietf_encrypt(out + 85, NULL, pay, 33, h, 32, NULL, n0, k);
    spec_mix_hash(h, out + 85, 49);
    memcpy(spec_h, h, 32); /* for spec_finish */
    memcpy(spec_ck, ck, 32);
}

/* The initiator's side of message 2 and the split, after spec_msg1 with
 * ephemeral e_sk and static key pair (s_sk, s_pk): checks message 2 (the
 * responder must have chosen g_cipher) and derives both transport keys and
 * the responder's header. */
static void spec_finish(const uint8_t msg2[RM_CHAN_MSG2_BYTES], const uint8_t e_sk[32],
                        const uint8_t s_sk[32], const uint8_t s_pk[32], uint8_t k_i2r[32],
                        uint8_t k_r2i[32], uint8_t hdr_r[24]) {
    static const uint8_t n0[12];
    uint8_t dh[32], k[32], in[1 + 32 + 64 + 1], pay[25];
    assert_int_equal(msg2[0], 74);
    assert_int_equal(msg2[4], 0x02);
    spec_mix_hash(spec_h, msg2 + 5, 32);
    assert_int_equal(crypto_scalarmult(dh, e_sk, msg2 + 5), 0);
    spec_mix_key(spec_ck, k, dh, spec_h);
    assert_int_equal(crypto_scalarmult(dh, s_sk, msg2 + 5), 0);
    spec_mix_key(spec_ck, k, dh, spec_h);
    assert_int_equal(crypto_aead_chacha20poly1305_ietf_decrypt(pay, NULL, NULL, msg2 + 37, 41,
                                                               spec_h, 32, n0, k), 0);
    assert_int_equal(pay[0], g_cipher);
    memcpy(hdr_r, pay + 1, 24);
    spec_mix_hash(spec_h, msg2 + 37, 41);
    memcpy(in + 1, spec_h, 32);
    memcpy(in + 33, s_pk, 32);
    memcpy(in + 65, bob.pk, 32);
    in[97] = pay[0];
    in[0] = 0x03;
    crypto_generichash(k_i2r, 32, in, sizeof in, spec_ck, 32);
    in[0] = 0x04;
    crypto_generichash(k_r2i, 32, in, sizeof in, spec_ck, 32);
}

static void message1_matches_the_spec(void **state) {
    (void)state;
    const uint8_t *nks[] = {nk1, NULL};
    for (int k = 0; k < 2; k++) {
        pair p;
        pair_config(&p, SEED, &alice, nks[k], allow, nks[k]);
        rm_rng copy = p.rng_i;
        uint8_t e_sk[32], hdr[24], mine[RM_CHAN_MSG1_BYTES], theirs[RM_CHAN_MSG1_BYTES];
        test_random(&copy, e_sk, 32); /* the channel draws e, then its header */
        test_random(&copy, hdr, 24);
        spec_msg1(mine, alice.sk, bob.pk, alice.pk, e_sk, T0, hdr, nks[k]);
        assert_int_equal(rm_chan_new(&p.i, &p.ci, T0), RM_OK);
        assert_int_equal(take(p.i, theirs, sizeof theirs), sizeof theirs);
        assert_memory_equal(mine, theirs, sizeof mine);
        pair_free(&p);
    }
}

static void low_order_keys_refused(void **state) {
    (void)state;
    uint8_t sk[32], out[32], key[32], msg[RM_CHAN_MSG1_BYTES];
    memset(sk, 0x5a, sizeof sk);
    assert_false(rm_key_is_weak(alice.pk));
    for (int w = 0; w < 14; w++) {
        memcpy(key, weak[w % 7], 32);
        if (w >= 7)
            key[31] |= 0x80; /* X25519 ignores the top bit: the same point */
        assert_true(rm_key_is_weak(key));
        /* Independent of our list: X25519 with the key gives all-zero. */
        assert_int_equal(crypto_scalarmult(out, sk, key), -1);

        /* As a configured peer key or an allow-list entry. */
        rm_chan *ch = NULL;
        rm_chan_config ci = {.role = RM_CHAN_INITIATOR, .self = &alice, .peer_key = key};
        assert_int_equal(rm_chan_new(&ch, &ci, T0), RM_ECHAN_BAD_KEY);
        rm_keyset *ks = rm_keyset_new();
        assert_int_equal(rm_keyset_add(ks, key), RM_ECHAN_BAD_KEY);
        assert_int_equal(rm_keyset_count(ks), 0);
        rm_keyset_free(ks);

        pair p;
        /* As the initiator's ephemeral key in message 1. */
        pair_config(&p, SEED, &alice, nk1, allow, nk1);
        assert_int_equal(rm_chan_new(&p.i, &p.ci, T0), RM_OK);
        assert_int_equal(take(p.i, msg, sizeof msg), sizeof msg);
        memcpy(msg + 5, key, 32);
        assert_int_equal(rm_chan_new(&p.r, &p.cr, T0), RM_OK);
        assert_int_equal(rm_chan_recv(p.r, msg, sizeof msg), RM_ECHAN_BAD_KEY);
        assert_closed(p.r, RM_ECHAN_BAD_KEY);
        assert_true(contains(rm_chan_reason(p.r), "low-order"));
        rm_chan_free(p.r);

        /* As the initiator's static key, properly encrypted in message 1
         * (the network key holder's attack: responder without a list). */
        rm_chan_config cr = p.cr;
        cr.allow = NULL;
        uint8_t e_sk[32], hdr[24] = {0};
        memset(e_sk, 0x77, sizeof e_sk);
        spec_msg1(msg, sk, bob.pk, key, e_sk, T0, hdr, nk1);
        assert_int_equal(rm_chan_new(&p.r, &cr, T0), RM_OK);
        assert_int_equal(rm_chan_recv(p.r, msg, sizeof msg), RM_ECHAN_BAD_KEY);
        assert_closed(p.r, RM_ECHAN_BAD_KEY);
        rm_chan_free(p.r);
        p.r = NULL;

        /* As the responder's ephemeral key in message 2. */
        uint8_t msg2[RM_CHAN_MSG2_BYTES];
        assert_int_equal(rm_chan_new(&p.r, &p.cr, T0), RM_OK);
        rm_chan_free(p.i);
        rm_rng_seed(&p.rng_i, SEED);
        assert_int_equal(rm_chan_new(&p.i, &p.ci, T0), RM_OK);
        assert_int_equal(pump(p.i, p.r), RM_OK);
        assert_int_equal(take(p.r, msg2, sizeof msg2), sizeof msg2);
        memcpy(msg2 + 5, key, 32);
        assert_int_equal(rm_chan_recv(p.i, msg2, sizeof msg2), RM_ECHAN_BAD_KEY);
        assert_closed(p.i, RM_ECHAN_BAD_KEY);
        pair_free(&p);
    }
    /* A spec-built message 1 with a good static key is accepted: the
     * builder above is right, so the refusals are the checks, not it. */
    pair p;
    pair_config(&p, SEED, &alice, nk1, allow, nk1);
    uint8_t e_sk[32], hdr[24] = {0};
    memset(e_sk, 0x77, sizeof e_sk);
    spec_msg1(msg, alice.sk, bob.pk, alice.pk, e_sk, T0, hdr, nk1);
    assert_int_equal(rm_chan_new(&p.r, &p.cr, T0), RM_OK);
    assert_int_equal(rm_chan_recv(p.r, msg, sizeof msg), RM_OK);
    assert_int_equal(rm_chan_out_pending(p.r), RM_CHAN_MSG2_BYTES);
    pair_free(&p);
}

/* One direction of the transport, from docs/SECURITY.md section 4: a
 * secretstream, or AES-256-GCM with a frame counter as nonce. */
typedef struct {
    crypto_secretstream_xchacha20poly1305_state ss;
    crypto_aead_aes256gcm_state gcm;
    uint8_t key[32];
    uint64_t n;
} spec_stream;

static void spec_stream_init(spec_stream *st, const uint8_t k[32], const uint8_t hdr[24]) {
    memset(st, 0, sizeof *st);
    if (g_cipher == RM_CHAN_CIPHER_AES256GCM) {
        memcpy(st->key, k, 32);
        crypto_aead_aes256gcm_beforenm(&st->gcm, k);
    } else {
        crypto_secretstream_xchacha20poly1305_init_pull(&st->ss, hdr, k); /* push state */
    }
}

static void spec_gcm_nonce(uint8_t nonce[12], uint64_t n) {
    memset(nonce, 0, 12);
    for (int b = 0; b < 8; b++)
        nonce[b] = (uint8_t)(n >> 8 * b);
}

/* After a TAG_REKEY frame: key = BLAKE2b(key = key, 0x05), counter 0. */
static void spec_gcm_rekey(spec_stream *st) {
    static const uint8_t five[1] = {5};
    uint8_t next[32];
    crypto_generichash(next, 32, five, 1, st->key, 32);
    memcpy(st->key, next, 32);
    crypto_aead_aes256gcm_beforenm(&st->gcm, st->key);
    st->n = 0;
}

/* One whole frame of m (len bytes) with tag into f; returns 21 + len. */
static size_t spec_seal(spec_stream *st, uint8_t *f, const uint8_t *m, size_t len, uint8_t tag) {
    for (int b = 0; b < 4; b++)
        f[b] = (uint8_t)((17 + len) >> 8 * b);
    if (g_cipher != RM_CHAN_CIPHER_AES256GCM) {
        crypto_secretstream_xchacha20poly1305_push(&st->ss, f + 4, NULL, m, len, NULL, 0, tag);
        return 21 + len;
    }
    uint8_t nonce[12];
    f[4] = tag; /* in the clear; the length and it are the associated data */
    spec_gcm_nonce(nonce, st->n++);
    crypto_aead_aes256gcm_encrypt(f + 5, NULL, m, len, f, 5, NULL, nonce, st->key);
    if (tag == crypto_secretstream_xchacha20poly1305_TAG_REKEY)
        spec_gcm_rekey(st);
    return 21 + len;
}

/* Opens one whole frame f (flen bytes) into m and *tag. */
static bool spec_open(spec_stream *st, uint8_t *m, unsigned char *tag, const uint8_t *f,
                      size_t flen) {
    if (g_cipher != RM_CHAN_CIPHER_AES256GCM)
        return crypto_secretstream_xchacha20poly1305_pull(&st->ss, m, NULL, tag, f + 4,
                                                          flen - 4, NULL, 0) == 0;
    uint8_t nonce[12];
    spec_gcm_nonce(nonce, st->n++);
    *tag = f[4];
    return crypto_aead_aes256gcm_decrypt(m, NULL, NULL, f + 5, flen - 5, f, 5, nonce,
                                         st->key) == 0;
}

/* The whole handshake from docs/SECURITY.md, as an initiator written
 * apart from channel.c: the channel accepts it, both sides agree on the
 * handshake hash and the keys, and frames flow both ways. With the keys in
 * hand the test also sends what no rumor channel sends: a first frame
 * that is not the key confirmation, a tag rumor never uses, a final frame
 * with bytes; each closes the responder. */
static void spec_initiator_completes_handshake(void **state) {
    (void)state;
    for (int variant = 0; variant < 4; variant++) {
        pair p;
        pair_config(&p, SEED, &alice, nk1, allow, nk1);
        uint8_t msg1[RM_CHAN_MSG1_BYTES], msg2[RM_CHAN_MSG2_BYTES], e_sk[32], hdr_i[24];
        uint8_t k_i2r[32], k_r2i[32], hdr_r[24], h[32], f[64];
        memset(e_sk, 0x31 + variant, sizeof e_sk);
        memset(hdr_i, 0x41 + variant, sizeof hdr_i);
        spec_msg1(msg1, alice.sk, bob.pk, alice.pk, e_sk, T0, hdr_i, nk1);
        assert_int_equal(rm_chan_new(&p.r, &p.cr, T0), RM_OK);
        assert_int_equal(rm_chan_recv(p.r, msg1, sizeof msg1), RM_OK);
        assert_int_equal(take(p.r, msg2, sizeof msg2), sizeof msg2);
        spec_finish(msg2, e_sk, alice.sk, alice.pk, k_i2r, k_r2i, hdr_r);
        assert_true(rm_chan_handshake_hash(p.r, h));
        assert_memory_equal(h, spec_h, 32);

        spec_stream tx, rx;
        spec_stream_init(&tx, k_i2r, hdr_i);
        spec_stream_init(&rx, k_r2i, hdr_r);
        static const uint8_t hello[5] = "hello";
        /* variant 0: the confirmation, then frames both ways, a rekey;
         * 1: a first frame with bytes; 2: TAG_PUSH; 3: a final frame with bytes */
        size_t n0 = variant == 1 ? sizeof hello : 0;
        rm_err err = rm_chan_recv(p.r, f, spec_seal(&tx, f, hello, n0, 0));
        if (variant == 1) {
            assert_int_equal(err, RM_ECHAN_MALFORMED);
            assert_true(contains(rm_chan_reason(p.r), "key confirmation"));
            pair_free(&p);
            continue;
        }
        assert_int_equal(err, RM_OK);
        assert_int_equal(rm_chan_get_state(p.r), RM_CHAN_OPEN);
        static const uint8_t tags[] = {0, 0, crypto_secretstream_xchacha20poly1305_TAG_PUSH,
                                       crypto_secretstream_xchacha20poly1305_TAG_FINAL};
        err = rm_chan_recv(p.r, f, spec_seal(&tx, f, hello, sizeof hello, tags[variant]));
        if (variant > 0) {
            assert_int_equal(err, RM_ECHAN_MALFORMED);
            assert_closed(p.r, RM_ECHAN_MALFORMED);
            pair_free(&p);
            continue;
        }
        const uint8_t *d;
        size_t n;
        assert_int_equal(err, RM_OK);
        assert_true(rm_chan_poll_frame(p.r, &d, &n));
        assert_int_equal(n, sizeof hello);
        assert_memory_equal(d, hello, n);
        /* A rekey, then a frame under the next key. */
        err = rm_chan_recv(p.r, f, spec_seal(&tx, f, hello, 3,
                                             crypto_secretstream_xchacha20poly1305_TAG_REKEY));
        assert_int_equal(err, RM_OK);
        assert_int_equal(rm_chan_recv(p.r, f, spec_seal(&tx, f, hello + 1, 4, 0)), RM_OK);
        assert_true(rm_chan_poll_frame(p.r, &d, &n));
        assert_int_equal(n, 3);
        assert_true(rm_chan_poll_frame(p.r, &d, &n));
        assert_int_equal(n, 4);
        assert_memory_equal(d, hello + 1, 4);
        assert_int_equal(rm_chan_send(p.r, T0, (const uint8_t *)"back", 4), RM_OK);
        assert_int_equal(take(p.r, f, sizeof f), 25);
        uint8_t m[4];
        unsigned char tag = 0xff;
        assert_true(spec_open(&rx, m, &tag, f, 25));
        assert_memory_equal(m, "back", 4);
        assert_int_equal(tag, 0);
        pair_free(&p);
    }
}

/* Key-compromise impersonation: a thief of bob's secret key can forge a
 * message 1 that claims to come from alice (IK's first message cannot
 * stop that), but without alice's key it cannot derive the keys that mix
 * DH(e_r, S_i): bob never opens, never lets a model byte out, and closes
 * on whatever the thief sends next. */
static void kci_forged_message1_never_opens(void **state) {
    (void)state;
    pair p;
    pair_config(&p, SEED, &alice, nk1, allow, nk1);
    uint8_t msg[RM_CHAN_MSG1_BYTES], e_sk[32], hdr[24] = {0};
    memset(e_sk, 0x66, sizeof e_sk);
    spec_msg1(msg, bob.sk, alice.pk, alice.pk, e_sk, T0, hdr, nk1);
    assert_int_equal(rm_chan_new(&p.r, &p.cr, T0), RM_OK);
    assert_int_equal(rm_chan_recv(p.r, msg, sizeof msg), RM_OK); /* accepted: IK's limit */
    assert_int_equal(rm_chan_out_pending(p.r), RM_CHAN_MSG2_BYTES);
    assert_int_equal(rm_chan_get_state(p.r), RM_CHAN_HANDSHAKE);
    assert_null(rm_chan_peer_key(p.r));
    uint8_t model[8] = {1};
    assert_int_equal(rm_chan_send(p.r, T0, model, sizeof model), RM_ECHAN_STATE);
    assert_int_equal(rm_chan_close(p.r), RM_ECHAN_STATE);
    /* The thief's best guess at a key confirmation: an empty frame under a
     * key it can compute (everything but se), and the header it sent. */
    uint8_t guess[RM_CHAN_FRAME_OVERHEAD], k[32];
    crypto_secretstream_xchacha20poly1305_state st;
    memset(k, 0, sizeof k);
    crypto_secretstream_xchacha20poly1305_init_pull(&st, hdr, k);
    guess[0] = 17, guess[1] = guess[2] = guess[3] = 0;
    crypto_secretstream_xchacha20poly1305_push(&st, guess + 4, NULL, hdr, 0, NULL, 0, 0);
    assert_int_equal(rm_chan_recv(p.r, guess, sizeof guess), RM_ECHAN_AUTH);
    assert_closed(p.r, RM_ECHAN_AUTH);
    pair_free(&p);
}

/* dave holds the network key and claims alice's (listed) key: he can
 * encrypt her public key, not prove her secret one. */
static void claimed_key_must_be_proved(void **state) {
    (void)state;
    pair p;
    pair_config(&p, SEED, &alice, nk1, allow, nk1);
    uint8_t msg[RM_CHAN_MSG1_BYTES], e_sk[32], hdr[24] = {0};
    memset(e_sk, 0x55, sizeof e_sk);
    spec_msg1(msg, dave.sk, bob.pk, alice.pk, e_sk, T0, hdr, nk1);
    assert_int_equal(rm_chan_new(&p.r, &p.cr, T0), RM_OK);
    assert_int_equal(rm_chan_recv(p.r, msg, sizeof msg), RM_ECHAN_AUTH);
    assert_closed(p.r, RM_ECHAN_AUTH);
    assert_true(contains(rm_chan_reason(p.r), "does not prove"));
    assert_int_equal(rm_chan_replay_count(p.replay), 0);
    pair_free(&p);
}

/* ---- sessions, directions, streams */

static void two_sessions_derive_different_keys(void **state) {
    (void)state;
    pair s1, s2;
    open_pair(&s1, SEED, T0);
    open_pair(&s2, SEED + 1, T0 + 1); /* the same two peers, again */
    uint8_t h1[32], h2[32];
    assert_true(rm_chan_handshake_hash(s1.i, h1));
    assert_true(rm_chan_handshake_hash(s2.i, h2));
    assert_memory_not_equal(h1, h2, 32);
    /* Frame 2 of session 1, fed to session 2 at the same position. */
    uint8_t m[] = "model bytes", f[RM_CHAN_FRAME_OVERHEAD + sizeof m];
    assert_int_equal(rm_chan_send(s1.i, T0, m, sizeof m), RM_OK);
    assert_int_equal(take(s1.i, f, sizeof f), sizeof f);
    assert_int_equal(rm_chan_recv(s2.r, f, sizeof f), RM_ECHAN_AUTH);
    assert_closed(s2.r, RM_ECHAN_AUTH);
    assert_int_equal(rm_chan_send(s1.r, T0, m, sizeof m), RM_OK);
    assert_int_equal(take(s1.r, f, sizeof f), sizeof f);
    assert_int_equal(rm_chan_recv(s2.i, f, sizeof f), RM_ECHAN_AUTH);
    /* Session 1 still works with its own frames. */
    assert_int_equal(rm_chan_recv(s1.i, f, sizeof f), RM_OK);
    pair_free(&s1);
    pair_free(&s2);
}

/* Keystream reuse and the wrong-side header: if both directions shared a
 * key and header, a frame reflected back to its sender would decrypt. */
static void reflected_frame_refused(void **state) {
    (void)state;
    uint8_t m[32] = {0}, fi[RM_CHAN_FRAME_OVERHEAD + 32], fr[RM_CHAN_FRAME_OVERHEAD + 32];
    pair p;
    open_pair(&p, SEED, T0);
    assert_int_equal(rm_chan_send(p.i, T0, m, sizeof m), RM_OK);
    assert_int_equal(take(p.i, fi, sizeof fi), sizeof fi);
    assert_int_equal(rm_chan_send(p.r, T0, m, sizeof m), RM_OK);
    assert_int_equal(take(p.r, fr, sizeof fr), sizeof fr);
    /* The same plaintext, at the same place in each stream: other bytes. */
    assert_memory_not_equal(fi + 4, fr + 4, sizeof fi - 4);
    assert_int_equal(rm_chan_recv(p.i, fi, sizeof fi), RM_ECHAN_AUTH);
    assert_int_equal(rm_chan_recv(p.r, fr, sizeof fr), RM_ECHAN_AUTH);
    pair_free(&p);
}

/* The channel builds its sending stream with init_pull and its own header
 * (channel.c, stream_init_push): check it is the state init_push makes. */
static void push_state_is_init_push_state(void **state) {
    (void)state;
    uint8_t k[32], hdr[24], m[100], c1[117], c2[117];
    crypto_secretstream_xchacha20poly1305_state a, b;
    memset(k, 3, sizeof k);
    fill(m, sizeof m, 1);
    crypto_secretstream_xchacha20poly1305_init_push(&a, hdr, k);
    crypto_secretstream_xchacha20poly1305_init_pull(&b, hdr, k);
    for (int r = 0; r < 3; r++) {
        unsigned char tag = r == 1 ? crypto_secretstream_xchacha20poly1305_TAG_REKEY : 0;
        crypto_secretstream_xchacha20poly1305_push(&a, c1, NULL, m, sizeof m, NULL, 0, tag);
        crypto_secretstream_xchacha20poly1305_push(&b, c2, NULL, m, sizeof m, NULL, 0, tag);
        assert_memory_equal(c1, c2, sizeof c1);
    }
}

static void deterministic_bytes(void **state) {
    (void)state;
    uint8_t a[512], b[512], m[40] = {7};
    size_t na = 0, nb = 0;
    for (int run = 0; run < 2; run++) {
        uint8_t *out = run ? b : a;
        size_t *n = run ? &nb : &na;
        pair p;
        pair_config(&p, SEED, &alice, nk1, allow, nk1);
        pair_create(&p, T0);
        *n += take(p.i, out + *n, 512 - *n);
        assert_int_equal(rm_chan_recv(p.r, out, *n), RM_OK);
        size_t k = take(p.r, out + *n, 512 - *n);
        assert_int_equal(rm_chan_recv(p.i, out + *n, k), RM_OK);
        *n += k;
        assert_int_equal(rm_chan_send(p.i, T0, m, sizeof m), RM_OK);
        *n += take(p.i, out + *n, 512 - *n);
        pair_free(&p);
    }
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
}

/* ---- rekeying */

static void send_and_check(pair *p, rm_chan *from, uint64_t now, size_t n, uint32_t salt) {
    static uint8_t buf[1 << 20];
    rm_chan *to = from == p->i ? p->r : p->i;
    fill(buf, n, salt);
    assert_int_equal(rm_chan_send(from, now, buf, n), RM_OK);
    assert_int_equal(pump(from, to), RM_OK);
    const uint8_t *d;
    size_t len;
    assert_true(rm_chan_poll_frame(to, &d, &len));
    assert_int_equal(len, n);
    assert_memory_equal(d, buf, n);
}

static void rekey_after_bytes(void **state) {
    (void)state;
    pair p;
    pair_config(&p, SEED, &alice, nk1, allow, nk1);
    p.ci.rekey_bytes = p.cr.rekey_bytes = 1000;
    pair_create(&p, T0);
    handshake(&p);
    /* 300-byte frames: the 4th, 8th, ... carry the rekey (900 + 300 >= 1000). */
    for (uint32_t k = 0; k < 30; k++) {
        send_and_check(&p, p.i, T0, 300, k);
        send_and_check(&p, p.r, T0, 300, k + 100);
    }
    rm_chan_stats si, sr;
    rm_chan_get_stats(p.i, &si);
    rm_chan_get_stats(p.r, &sr);
    assert_int_equal(si.rekeys_sent, 7);
    assert_int_equal(sr.rekeys_recv, 7);
    assert_int_equal(sr.rekeys_sent, 7);
    assert_int_equal(si.rekeys_recv, 7);
    pair_free(&p);
}

static void rekey_after_64_mib_by_default(void **state) {
    (void)state;
    pair p;
    open_pair(&p, SEED, T0);
    rm_chan_stats st;
    for (uint32_t k = 0; k < 65; k++) {
        send_and_check(&p, p.i, T0, 1u << 20, k);
        rm_chan_get_stats(p.r, &st);
        assert_int_equal(st.rekeys_recv, k >= 63 ? 1 : 0); /* the 64th MiB carries it */
    }
    pair_free(&p);
}

static void rekey_after_two_minutes(void **state) {
    (void)state;
    pair p;
    open_pair(&p, SEED, T0);
    const uint64_t min2 = 120ull * 1000000;
    static const struct {
        uint64_t dt;
        uint64_t rekeys;  /* after this send */
    } steps[] = {
        {0, 0},                  /* first use of the key */
        {min2 - 1, 0},           /* just under 2 minutes */
        {min2, 1},               /* 2 minutes: this frame carries the rekey */
        {min2 + 1, 1},           /* the new key's first use */
        {2 * min2, 1},
        {2 * min2 + 1, 2},       /* 2 minutes after the new key's first use */
        {2 * min2 + 2, 2},
        {1, 3},                  /* the clock went backwards: rekey */
    };
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        send_and_check(&p, p.i, T0 + steps[s].dt, 10, (uint32_t)s);
        rm_chan_stats si, sr;
        rm_chan_get_stats(p.i, &si);
        rm_chan_get_stats(p.r, &sr);
        assert_int_equal(si.rekeys_sent, steps[s].rekeys);
        assert_int_equal(sr.rekeys_recv, steps[s].rekeys);
    }
    pair_free(&p);
}

/* ---- limits */

static void frame_size_limit_before_allocation(void **state) {
    (void)state;
    uint8_t buf[1001] = {0}, len4[4];
    /* The sender refuses, and its channel goes on. */
    pair p;
    pair_config(&p, SEED, &alice, nk1, allow, nk1);
    p.ci.frame_bytes_max = p.cr.frame_bytes_max = 1000;
    pair_create(&p, T0);
    handshake(&p);
    assert_int_equal(rm_chan_send(p.i, T0, buf, 1001), RM_ECHAN_TOO_LARGE);
    assert_int_equal(rm_chan_out_pending(p.i), 0);
    send_and_check(&p, p.i, T0, 1000, 1);
    pair_free(&p);

    /* The receiver closes on the 4 length bytes alone: nothing else has
     * arrived, so nothing was set aside for the body. */
    static const uint32_t lens[] = {1000 + 17 + 1, UINT32_MAX, 16, 0};
    static const rm_err errs[] = {RM_ECHAN_TOO_LARGE, RM_ECHAN_TOO_LARGE, RM_ECHAN_MALFORMED,
                                  RM_ECHAN_MALFORMED};
    for (int k = 0; k < 4; k++) {
        pair_config(&p, SEED, &alice, nk1, allow, nk1);
        p.ci.frame_bytes_max = p.cr.frame_bytes_max = 1000;
        pair_create(&p, T0);
        handshake(&p);
        for (int b = 0; b < 4; b++)
            len4[b] = (uint8_t)(lens[k] >> 8 * b);
        assert_int_equal(rm_chan_recv(p.r, len4, 3), RM_OK);
        assert_int_equal(rm_chan_recv(p.r, len4 + 3, 1), errs[k]);
        assert_closed(p.r, errs[k]);
        pair_free(&p);
    }
    /* A handshake message of the wrong size, likewise. */
    pair_config(&p, SEED, &alice, nk1, allow, nk1);
    pair_create(&p, T0);
    len4[0] = 0xff, len4[1] = 0xff, len4[2] = 0xff, len4[3] = 0x7f;
    assert_int_equal(rm_chan_recv(p.r, len4, 4), RM_ECHAN_MALFORMED);
    pair_free(&p);
}

/* ---- one bad peer, the others go on */

static void keeps_serving_other_peers(void **state) {
    (void)state;
    rm_chan_replay *shared = rm_chan_replay_new(0);
    pair pa, pc;
    pair_config(&pa, SEED, &alice, nk1, allow, nk1);
    pair_config(&pc, SEED + 1, &carol, nk1, allow, nk1);
    pa.cr.replay = pc.cr.replay = shared; /* one node: one table, one list */
    pair_create(&pa, T0);
    pair_create(&pc, T0);
    handshake(&pa);
    handshake(&pc);

    /* An on-path attacker flips a bit in alice's frame: alice's channel
     * closes with a reason... */
    uint8_t m[50], f[RM_CHAN_FRAME_OVERHEAD + 50];
    fill(m, sizeof m, 4);
    assert_int_equal(rm_chan_send(pa.i, T0, m, sizeof m), RM_OK);
    assert_int_equal(take(pa.i, f, sizeof f), sizeof f);
    f[30] ^= 0x10;
    assert_int_equal(rm_chan_recv(pa.r, f, sizeof f), RM_ECHAN_AUTH);
    assert_closed(pa.r, RM_ECHAN_AUTH);

    /* ...while carol's goes on both ways, and alice can reconnect. */
    for (uint32_t k = 0; k < 20; k++) {
        send_and_check(&pc, pc.i, T0 + k, 100 + k, k);
        send_and_check(&pc, pc.r, T0 + k, 200 + k, k);
    }
    assert_int_equal(rm_chan_error(pc.r), RM_OK);
    pair pa2;
    pair_config(&pa2, SEED + 2, &alice, nk1, allow, nk1);
    pa2.cr.replay = shared;
    pair_create(&pa2, T0 + 5);
    handshake(&pa2);
    send_and_check(&pa2, pa2.i, T0 + 5, 64, 1);
    pair_free(&pa2);
    pair_free(&pa);
    pair_free(&pc);
    rm_chan_replay_free(shared);
}

static void clean_close(void **state) {
    (void)state;
    pair p;
    open_pair(&p, SEED, T0);
    send_and_check(&p, p.r, T0, 10, 1);
    assert_int_equal(rm_chan_close(p.i), RM_OK);
    assert_int_equal(rm_chan_close(p.i), RM_ECHAN_STATE);
    assert_int_equal(rm_chan_send(p.i, T0, (const uint8_t *)"x", 1), RM_ECHAN_STATE);
    assert_int_equal(pump(p.i, p.r), RM_OK);
    assert_int_equal(rm_chan_get_state(p.r), RM_CHAN_OPEN); /* it may still send */
    send_and_check(&p, p.r, T0, 10, 2);
    assert_int_equal(rm_chan_close(p.r), RM_OK);
    assert_int_equal(rm_chan_get_state(p.r), RM_CHAN_CLOSED);
    assert_int_equal(rm_chan_error(p.r), RM_OK);
    assert_int_equal(pump(p.r, p.i), RM_OK);
    assert_int_equal(rm_chan_get_state(p.i), RM_CHAN_CLOSED);
    assert_int_equal(rm_chan_error(p.i), RM_OK);
    assert_int_equal(rm_chan_recv_eof(p.i), RM_OK);
    pair_free(&p);

    /* Bytes after the final frame close the channel. */
    open_pair(&p, SEED, T0);
    assert_int_equal(rm_chan_close(p.i), RM_OK);
    uint8_t f[64];
    size_t n = take(p.i, f, sizeof f);
    f[n] = 0;
    assert_int_equal(rm_chan_recv(p.r, f, n + 1), RM_ECHAN_MALFORMED);
    assert_closed(p.r, RM_ECHAN_MALFORMED);
    pair_free(&p);
    /* The end of the connection after a final frame is no truncation. */
    open_pair(&p, SEED, T0);
    assert_int_equal(rm_chan_close(p.i), RM_OK);
    assert_int_equal(pump(p.i, p.r), RM_OK);
    assert_int_equal(rm_chan_recv_eof(p.r), RM_OK);
    assert_int_equal(rm_chan_get_state(p.r), RM_CHAN_CLOSED);
    assert_int_equal(rm_chan_error(p.r), RM_OK);
    pair_free(&p);
}

static void error_codes_have_names(void **state) {
    (void)state;
    static const rm_err codes[] = {RM_ECHAN_AUTH, RM_ECHAN_REPLAY, RM_ECHAN_UNKNOWN_KEY,
                                   RM_ECHAN_BAD_KEY, RM_ECHAN_TOO_LARGE, RM_ECHAN_STATE,
                                   RM_ECHAN_MALFORMED, RM_ECHAN_TRUNCATED, RM_EKEY_SYNTAX,
                                   RM_EKEY_PERMS, RM_EEXISTS};
    for (size_t k = 0; k < sizeof codes / sizeof codes[0]; k++) {
        assert_string_not_equal(rm_strerror(codes[k]), "unknown error");
        assert_string_not_equal(rm_err_name(codes[k]), "RM_EUNKNOWN");
    }
    assert_string_equal(rm_err_name(RM_ECHAN_AUTH), "RM_ECHAN_AUTH");
}

/* ---- choosing the transport cipher */

#define SS RM_CHAN_CIPHER_SECRETSTREAM
#define GCM RM_CHAN_CIPHER_AES256GCM

/* Who offers what, who picks what: AES-256-GCM when both take it, else
 * secretstream, else no session; frames flow under whatever was picked. */
static void cipher_negotiation(void **state) {
    (void)state;
    unsigned avail = rm_chan_ciphers_available();
    static const struct {
        unsigned ini, resp, want; /* want 0: no cipher in common */
    } cases[] = {
        {SS, SS, SS},         {SS | GCM, SS, SS},   {SS, SS | GCM, SS},
        {GCM, GCM, GCM},      {SS | GCM, SS | GCM, GCM}, {GCM, SS | GCM, GCM},
        {SS | GCM, GCM, GCM}, {0, 0, GCM},          {0, SS, SS},
        {GCM, SS, 0},         {SS, GCM, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        unsigned ini = cases[c].ini, resp = cases[c].resp, want = cases[c].want;
        bool gcm_only = ini == GCM || resp == GCM;
        if (!(avail & GCM)) {
            if (gcm_only) { /* a side that takes only what this CPU lacks */
                rm_chan *ch = NULL;
                rm_chan_config cc = {.role = RM_CHAN_INITIATOR, .self = &alice,
                                     .peer_key = bob.pk, .ciphers = GCM};
                assert_int_equal(rm_chan_new(&ch, &cc, T0), RM_EINVAL);
                continue;
            }
            want = want ? SS : 0;
        }
        pair p;
        pair_config(&p, SEED + c, &alice, nk1, allow, nk1);
        p.ci.ciphers = ini;
        p.cr.ciphers = resp;
        pair_create(&p, T0);
        if (!want) {
            assert_int_equal(pump(p.i, p.r), RM_ECHAN_MALFORMED);
            assert_closed(p.r, RM_ECHAN_MALFORMED);
            assert_true(contains(rm_chan_reason(p.r), "no transport cipher in common"));
            assert_int_equal(rm_chan_get_state(p.i), RM_CHAN_HANDSHAKE);
            pair_free(&p);
            continue;
        }
        assert_int_equal(rm_chan_get_cipher(p.i), 0); /* not before message 2 */
        handshake(&p);
        assert_int_equal(rm_chan_get_cipher(p.i), want);
        assert_int_equal(rm_chan_get_cipher(p.r), want);
        assert_string_equal(rm_chan_cipher_name(want),
                            want == GCM ? "aes256gcm" : "secretstream-xchacha20poly1305");
        send_and_check(&p, p.i, T0, 1000, 1);
        send_and_check(&p, p.r, T0, 2000, 2);
        pair_free(&p);
    }
}

/* As bob, written from docs/SECURITY.md: reads a message 1 from alice
 * (network key nk) and answers with a message 2 that names `choice` as the
 * transport cipher, whatever the offer was. */
static void spec_msg2(uint8_t out[RM_CHAN_MSG2_BYTES], const uint8_t msg1[RM_CHAN_MSG1_BYTES],
                      const uint8_t nk[32], uint8_t choice) {
    static const uint8_t n0[12];
    uint8_t h[32], ck[32], k[32], dh[32], s_i[32], pay1[33], pay2[25], e_sk[32], e_pk[32];
    crypto_generichash(h, 32, (const uint8_t *)spec_protocol, strlen(spec_protocol), NULL, 0);
    spec_mix_hash(h, bob.pk, 32);
    crypto_generichash(ck, 32, (const uint8_t *)spec_protocol, strlen(spec_protocol), nk, 32);
    spec_mix_hash(h, msg1 + 5, 32);
    assert_int_equal(crypto_scalarmult(dh, bob.sk, msg1 + 5), 0); /* es */
    spec_mix_key(ck, k, dh, h);
    assert_int_equal(crypto_aead_chacha20poly1305_ietf_decrypt(s_i, NULL, NULL, msg1 + 37, 48,
                                                               h, 32, n0, k), 0);
    spec_mix_hash(h, msg1 + 37, 48);
    assert_int_equal(crypto_scalarmult(dh, bob.sk, s_i), 0); /* ss */
    spec_mix_key(ck, k, dh, h);
    assert_int_equal(crypto_aead_chacha20poly1305_ietf_decrypt(pay1, NULL, NULL, msg1 + 85, 49,
                                                               h, 32, n0, k), 0);
    spec_mix_hash(h, msg1 + 85, 49);
    memset(e_sk, 0x5e, sizeof e_sk);
    crypto_scalarmult_base(e_pk, e_sk);
    out[0] = 74, out[1] = out[2] = out[3] = 0, out[4] = 0x02;
    memcpy(out + 5, e_pk, 32);
    spec_mix_hash(h, e_pk, 32);
    assert_int_equal(crypto_scalarmult(dh, e_sk, msg1 + 5), 0); /* ee */
    spec_mix_key(ck, k, dh, h);
    assert_int_equal(crypto_scalarmult(dh, e_sk, s_i), 0); /* se */
    spec_mix_key(ck, k, dh, h);
    pay2[0] = choice;
    memset(pay2 + 1, 0x24, 24);
    crypto_aead_chacha20poly1305_ietf_encrypt(out + 37, NULL, pay2, 25, h, 32, NULL, n0, k);
}

/* Nobody can push a session onto a cipher a side did not offer: an
 * on-path attacker who changes the offer in message 1 or the choice in
 * message 2 breaks a MAC (both travel encrypted, and both are in the
 * transcript that keys everything after), and even the genuine responder
 * cannot pick a cipher the initiator did not offer, or none, or two. */
static void cipher_downgrade_refused(void **state) {
    (void)state;
    unsigned avail = rm_chan_ciphers_available();
    /* On path: every bit of the byte that carries the offer (message 1's
     * payload: timestamp 8, header 24, then the offer, at 85 + 32)... */
    uint8_t msg1[RM_CHAN_MSG1_BYTES], msg2[RM_CHAN_MSG2_BYTES];
    for (int bit = 0; bit < 8; bit++) {
        pair p;
        pair_config(&p, SEED, &alice, nk1, allow, nk1);
        p.ci.ciphers = p.cr.ciphers = 0;
        pair_create(&p, T0);
        assert_int_equal(take(p.i, msg1, sizeof msg1), sizeof msg1);
        msg1[85 + 32] ^= (uint8_t)(1u << bit);
        assert_int_equal(rm_chan_recv(p.r, msg1, sizeof msg1), RM_ECHAN_AUTH);
        assert_closed(p.r, RM_ECHAN_AUTH);
        pair_free(&p);
    }
    /* ...and of the byte that carries the choice (message 2, at 37). */
    for (int bit = 0; bit < 8; bit++) {
        pair p;
        pair_config(&p, SEED, &alice, nk1, allow, nk1);
        p.ci.ciphers = p.cr.ciphers = 0;
        pair_create(&p, T0);
        assert_int_equal(pump(p.i, p.r), RM_OK);
        assert_int_equal(take(p.r, msg2, sizeof msg2), sizeof msg2);
        msg2[37] ^= (uint8_t)(1u << bit);
        assert_int_equal(rm_chan_recv(p.i, msg2, sizeof msg2), RM_ECHAN_AUTH);
        assert_closed(p.i, RM_ECHAN_AUTH);
        assert_null(rm_chan_peer_key(p.i));
        pair_free(&p);
    }
    /* A responder holding bob's key that names another cipher than those
     * offered: the initiator refuses; naming an offered one opens. */
    static const struct {
        unsigned offer;
        uint8_t choice;
        bool opens;
    } cases[] = {
        {SS, GCM, false},     /* a downgrade's mirror: upgrade to what was not offered */
        {GCM, SS, false},     /* a downgrade to what was not offered */
        {SS | GCM, 0, false}, /* none */
        {SS | GCM, 3, false}, /* two */
        {SS | GCM, 4, false}, /* an unknown one */
        {SS | GCM, 0x80, false},
        {SS, SS, true},
        {GCM, GCM, true},
        {SS | GCM, SS, true}, /* a responder without AES-NI may pick secretstream */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        if ((cases[c].offer | cases[c].choice) & GCM && !(avail & GCM))
            continue;
        pair p;
        pair_config(&p, SEED + c, &alice, nk1, allow, nk1);
        p.ci.ciphers = cases[c].offer;
        assert_int_equal(rm_chan_new(&p.i, &p.ci, T0), RM_OK);
        assert_int_equal(take(p.i, msg1, sizeof msg1), sizeof msg1);
        spec_msg2(msg2, msg1, nk1, cases[c].choice);
        rm_err err = rm_chan_recv(p.i, msg2, sizeof msg2);
        if (cases[c].opens) {
            assert_int_equal(err, RM_OK);
            assert_int_equal(rm_chan_get_state(p.i), RM_CHAN_OPEN);
            assert_int_equal(rm_chan_get_cipher(p.i), cases[c].choice);
        } else {
            assert_int_equal(err, RM_ECHAN_MALFORMED);
            assert_closed(p.i, RM_ECHAN_MALFORMED);
            assert_true(contains(rm_chan_reason(p.i), "did not offer"));
            assert_null(rm_chan_peer_key(p.i));
        }
        pair_free(&p);
    }
}

static int setup_secretstream(void **state) {
    g_cipher = RM_CHAN_CIPHER_SECRETSTREAM;
    return setup(state);
}

static int setup_aes256gcm(void **state) {
    g_cipher = RM_CHAN_CIPHER_AES256GCM;
    return setup(state);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(key_file_roundtrip),
        cmocka_unit_test(key_file_errors_name_the_line),
        cmocka_unit_test(key_text_forms),
        cmocka_unit_test(allow_list_file),
        cmocka_unit_test(happy_path_many_frames),
        cmocka_unit_test(unknown_key_refused_before_any_model_byte),
        cmocka_unit_test(wrong_network_key_refused),
        cmocka_unit_test(network_key_admits_without_allow_list),
        cmocka_unit_test(bad_configs_refused),
        cmocka_unit_test(flipped_bit_in_message1),
        cmocka_unit_test(flipped_bit_in_message2),
        cmocka_unit_test(flipped_bit_in_frame),
        cmocka_unit_test(truncated_frame_closes),
        cmocka_unit_test(duplicated_frame_closes),
        cmocka_unit_test(reordered_frame_closes),
        cmocka_unit_test(replayed_handshake_refused),
        cmocka_unit_test(replay_table_bounded),
        cmocka_unit_test(stale_message2_refused),
        cmocka_unit_test(message1_matches_the_spec),
        cmocka_unit_test(spec_initiator_completes_handshake),
        cmocka_unit_test(low_order_keys_refused),
        cmocka_unit_test(kci_forged_message1_never_opens),
        cmocka_unit_test(claimed_key_must_be_proved),
        cmocka_unit_test(two_sessions_derive_different_keys),
        cmocka_unit_test(reflected_frame_refused),
        cmocka_unit_test(push_state_is_init_push_state),
        cmocka_unit_test(deterministic_bytes),
        cmocka_unit_test(rekey_after_bytes),
        cmocka_unit_test(rekey_after_64_mib_by_default),
        cmocka_unit_test(rekey_after_two_minutes),
        cmocka_unit_test(frame_size_limit_before_allocation),
        cmocka_unit_test(keeps_serving_other_peers),
        cmocka_unit_test(clean_close),
        cmocka_unit_test(error_codes_have_names),
    };
    const struct CMUnitTest once[] = {
        cmocka_unit_test(cipher_negotiation),
        cmocka_unit_test(cipher_downgrade_refused),
    };
    int failed = cmocka_run_group_tests_name("secretstream", tests, setup_secretstream, teardown);
    if (rm_chan_ciphers_available() & RM_CHAN_CIPHER_AES256GCM)
        failed += cmocka_run_group_tests_name("aes256gcm", tests, setup_aes256gcm, teardown);
    else
        printf("aes256gcm: this CPU lacks AES-NI or CLMUL; its run is skipped\n");
    failed += cmocka_run_group_tests_name("negotiation", once, setup, teardown);
    return failed;
}
