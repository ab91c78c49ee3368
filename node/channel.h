/* rumor: the secure channel between two peers, sans-IO.
 *
 * One rm_chan is one connection, from its handshake to its end. It does no
 * I/O, reads no clock and draws randomness only through the function in its
 * config: the shell feeds it the bytes it read (rm_chan_recv), takes out the
 * bytes it must write (rm_chan_poll_out), hands it plaintext frames to send
 * (rm_chan_send) and collects the frames that arrived (rm_chan_poll_frame).
 * docs/SECURITY.md describes the protocol byte by byte and its threat model;
 * in short:
 *
 *   1. initiator -> responder (134 bytes): a fresh ephemeral key; the
 *      initiator's static key, encrypted under a key that mixes DH(e_i, S_r)
 *      and the network key; a timestamp, the initiator's stream header and
 *      the transport ciphers it takes, under a key that also mixes
 *      DH(S_i, S_r). No model bytes.
 *   2. responder -> initiator (78 bytes), sent only once the initiator's key
 *      is admitted (allow-list or network key) and its timestamp is newer
 *      than the last one accepted from that key: a fresh ephemeral key, then,
 *      under keys that also mix DH(e_i, e_r) and DH(e_r, S_i), the cipher
 *      the responder chose and its stream header.
 *   3. Transport, one stream per direction: AES-256-GCM with counter nonces
 *      when both sides take it (AES-NI), else
 *      crypto_secretstream_xchacha20poly1305. The choice is in the
 *      handshake transcript and in both transport keys. Each frame on the
 *      wire is `u32 length | ciphertext`. The initiator's first frame is an
 *      empty key confirmation; only after it does the responder open.
 *
 * Any failure (a bad tag, a malformed or oversized message, an unknown or
 * low-order key, a replayed handshake, a truncated stream) closes the
 * channel for good: rm_chan_error() gives the code and rm_chan_reason() a
 * line for the log (peer fingerprint, what failed). Channels share nothing
 * but the borrowed allow-list and replay table, so a peer that fails closes
 * its own channel only. One channel is used by one thread at a time. */
#ifndef RM_CHANNEL_H
#define RM_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "node/keys.h"

#define RM_CHAN_NETWORK_KEY_BYTES 32
#define RM_CHAN_HASH_BYTES 32
#define RM_CHAN_MSG1_BYTES 134         /* handshake message 1 on the wire */
#define RM_CHAN_MSG2_BYTES 78          /* handshake message 2 on the wire */
#define RM_CHAN_FRAME_OVERHEAD 21      /* u32 length + 17 (either cipher) */
#define RM_CHAN_FRAME_MAX_DEFAULT (16u << 20)            /* plaintext bytes */
#define RM_CHAN_FRAME_MAX_LIMIT (UINT32_MAX - RM_CHAN_FRAME_OVERHEAD)
#define RM_CHAN_REKEY_BYTES_DEFAULT (64ull << 20)        /* 64 MiB */
#define RM_CHAN_REKEY_INTERVAL_US_DEFAULT (120ull * 1000000) /* 2 minutes */
#define RM_CHAN_REPLAY_ENTRIES_DEFAULT 4096
#define RM_CHAN_REASON_MAX 200

typedef struct rm_chan rm_chan;

/* ---- the replay table: the newest handshake timestamp accepted per key
 *
 * Shared by every responder channel of a node (borrowed through the config;
 * it must outlive them). A handshake from key K is accepted only if its
 * timestamp is newer than the entry for K, or, when K has none, newer than
 * the table's floor. The table holds at most entries_max keys; to make room
 * it drops the entry with the oldest timestamp and raises the floor to it,
 * so that a dropped key's old handshakes stay refused. The node persists
 * the entries and the floor (LMDB) and seeds a new table with them at
 * start, so replays fail across restarts too. */
typedef struct rm_chan_replay rm_chan_replay;

/* A table for up to entries_max keys (0: RM_CHAN_REPLAY_ENTRIES_DEFAULT),
 * allocated now. NULL when out of memory. */
rm_chan_replay *rm_chan_replay_new(size_t entries_max);

/* Frees the table; NULL is allowed. */
void rm_chan_replay_free(rm_chan_replay *t);

/* Raises the entry for pk to ts (an entry is never lowered); a key that is
 * not in the table is added, unless ts is not above the floor, which
 * already refuses it. Used to seed the table from storage. O(n). */
void rm_chan_replay_put(rm_chan_replay *t, const uint8_t pk[RM_KEY_BYTES], uint64_t ts);

/* The entry for pk into *ts; false (and *ts untouched) when there is none.
 * O(log n). */
bool rm_chan_replay_get(const rm_chan_replay *t, const uint8_t pk[RM_KEY_BYTES], uint64_t *ts);

/* Number of entries, and entry i (i < count) for persisting the table. */
size_t rm_chan_replay_count(const rm_chan_replay *t);
void rm_chan_replay_at(const rm_chan_replay *t, size_t i, uint8_t pk[RM_KEY_BYTES], uint64_t *ts);

/* The floor, and raising it (it is never lowered). */
uint64_t rm_chan_replay_floor(const rm_chan_replay *t);
void rm_chan_replay_raise_floor(rm_chan_replay *t, uint64_t floor);

/* ---- channels */

typedef enum {
    RM_CHAN_INITIATOR = 0,   /* dials: knows the responder's public key */
    RM_CHAN_RESPONDER = 1,   /* accepts: learns the initiator's key in message 1 */
} rm_chan_role;

/* Transport ciphers, as bits of a set. */
typedef enum {
    RM_CHAN_CIPHER_SECRETSTREAM = 1, /* crypto_secretstream_xchacha20poly1305 */
    RM_CHAN_CIPHER_AES256GCM = 2,    /* AES-256-GCM, counter nonces; needs AES-NI
                                        and CLMUL (crypto_aead_aes256gcm_is_available) */
} rm_chan_cipher;
#define RM_CHAN_CIPHERS_ALL (RM_CHAN_CIPHER_SECRETSTREAM | RM_CHAN_CIPHER_AES256GCM)

typedef enum {
    RM_CHAN_HANDSHAKE = 0,   /* keys not agreed or not yet confirmed */
    RM_CHAN_OPEN = 1,        /* frames flow both ways */
    RM_CHAN_CLOSED = 2,      /* failed (rm_chan_error < 0) or ended cleanly */
} rm_chan_state;

/* Fills buf with n random bytes. Production leaves it NULL (libsodium's
 * randombytes_buf); tests and the fuzzer pass a seeded generator. */
typedef void rm_chan_random_fn(void *ctx, uint8_t *buf, size_t n);

typedef struct {
    rm_chan_role role;
    const rm_keypair *self;          /* this node's key pair; copied */
    const uint8_t *peer_key;         /* initiator: the responder's public key
                                        (required); responder: NULL */
    const uint8_t *network_key;      /* NULL, or RM_CHAN_NETWORK_KEY_BYTES that
                                        both sides must hold; copied */
    const rm_keyset *allow;          /* responder: admitted keys, or NULL to
                                        admit whoever proves the network key;
                                        borrowed, outlives the channel */
    rm_chan_replay *replay;          /* responder: required; borrowed */
    size_t frame_bytes_max;          /* largest plaintext frame either way;
                                        0: RM_CHAN_FRAME_MAX_DEFAULT */
    uint64_t rekey_bytes;            /* 0: RM_CHAN_REKEY_BYTES_DEFAULT */
    uint64_t rekey_interval_us;      /* 0: RM_CHAN_REKEY_INTERVAL_US_DEFAULT */
    unsigned ciphers;                /* transport ciphers this side takes (a set
                                        of rm_chan_cipher); 0: every one this
                                        CPU runs. The initiator offers them,
                                        the responder picks AES-256-GCM when
                                        both take it, else secretstream */
    rm_chan_random_fn *random;       /* NULL: randombytes_buf */
    void *random_ctx;
} rm_chan_config;

/* Counters, for metrics and tests. Frames are transport frames, the key
 * confirmation and the final frame included; bytes are plaintext bytes. */
typedef struct {
    uint64_t frames_sent, frames_recv;
    uint64_t bytes_sent, bytes_recv;
    uint64_t rekeys_sent, rekeys_recv;
} rm_chan_stats;

/* Creates a channel in *out. An initiator writes handshake message 1 now,
 * stamped now_us (this node's wall clock in microseconds: timestamps are
 * compared across restarts, so not a monotonic clock), ready for
 * rm_chan_poll_out. A responder waits for message 1. Admission at the
 * responder: with an allow-list, the key must be on it; with a network key,
 * the peer must prove it; with both, both; with neither, the config is
 * refused. On error *out is NULL. Errors: RM_EINVAL (a required field
 * missing, a responder with neither allow-list nor network key, a
 * frame_bytes_max above RM_CHAN_FRAME_MAX_LIMIT, ciphers with an unknown bit
 * or none that this CPU runs), RM_ECHAN_BAD_KEY (a weak
 * peer key, an all-zero network key), RM_ENOMEM, RM_EIO (libsodium cannot
 * initialise). */
rm_err rm_chan_new(rm_chan **out, const rm_chan_config *cfg, uint64_t now_us) RM_MUST_CHECK;

/* Zeroes every secret the channel holds and frees it; NULL is allowed. */
void rm_chan_free(rm_chan *ch);

/* Feeds len bytes read from the connection. Complete handshake messages are
 * processed and complete frames decrypted into the frame queue at once; a
 * partial message is kept for the next call. A frame's length is checked
 * against frame_bytes_max as soon as its 4 length bytes are in, before any
 * memory is set aside for it. Returns RM_OK, or the error that closed the
 * channel in this call (then drop the connection and log rm_chan_reason):
 * RM_ECHAN_AUTH, RM_ECHAN_UNKNOWN_KEY, RM_ECHAN_BAD_KEY, RM_ECHAN_REPLAY,
 * RM_ECHAN_TOO_LARGE, RM_ECHAN_MALFORMED (also: no transport cipher in
 * common, or a responder that chose one this side did not offer),
 * RM_ENOMEM. On a channel already
 * closed the bytes are ignored and RM_ECHAN_STATE is returned. O(len) plus
 * the decryption. */
rm_err rm_chan_recv(rm_chan *ch, const uint8_t *bytes, size_t len) RM_MUST_CHECK;

/* Tells the channel that the peer closed the connection. RM_OK when the
 * peer had ended its stream with a final frame (rm_chan_close); otherwise
 * the channel closes with RM_ECHAN_TRUNCATED (mid-frame, mid-handshake, or
 * a stream cut without its final frame) and that code is returned. On a
 * channel already closed, returns rm_chan_error. */
rm_err rm_chan_recv_eof(rm_chan *ch);

/* The next decrypted frame, in order: true and *data, *len set, or false
 * when none is waiting. The bytes are borrowed: they stay valid until the
 * next rm_chan_poll_frame or rm_chan_free. When the channel fails, frames
 * not yet polled are dropped: nothing arrives after a failure. */
bool rm_chan_poll_frame(rm_chan *ch, const uint8_t **data, size_t *len);

/* Encrypts len bytes (len may be 0) as one frame and queues its wire bytes.
 * The frame carries TAG_REKEY, and both sides move to a new key after it,
 * when the current key has carried rekey_bytes or was first used
 * rekey_interval_us or more before now_us (a clock that went backwards
 * counts as expired). Errors, the channel unchanged: RM_ECHAN_STATE (not
 * open, or closed for sending by rm_chan_close), RM_ECHAN_TOO_LARGE
 * (len > frame_bytes_max), RM_EINVAL, RM_ENOMEM. */
rm_err rm_chan_send(rm_chan *ch, uint64_t now_us, const uint8_t *data, size_t len)
    RM_MUST_CHECK;

/* Ends this side's stream cleanly: queues a final frame; rm_chan_send
 * fails afterwards. The channel is CLOSED (with no error) once both sides
 * have sent their final frame. Errors: RM_ECHAN_STATE (not open, or closed
 * already), RM_ENOMEM. */
rm_err rm_chan_close(rm_chan *ch) RM_MUST_CHECK;

/* Wire bytes waiting to be written. */
size_t rm_chan_out_pending(const rm_chan *ch);

/* Copies up to cap waiting wire bytes into buf and removes them from the
 * queue; returns how many. Write them to the connection in this order. */
size_t rm_chan_poll_out(rm_chan *ch, uint8_t *buf, size_t cap);

rm_chan_state rm_chan_get_state(const rm_chan *ch);

/* RM_OK while the channel works or after a clean end; the negative code
 * that closed it otherwise. */
rm_err rm_chan_error(const rm_chan *ch);

/* Why the channel closed, for the log ("peer 3b6a0c1d22e4f590: not in the
 * allow-list"); "" while it has not. Valid as long as the channel. */
const char *rm_chan_reason(const rm_chan *ch);

/* The peer's public key once the handshake has authenticated it (OPEN, or
 * CLOSED after being open), else NULL. Valid as long as the channel. */
const uint8_t *rm_chan_peer_key(const rm_chan *ch);

/* The handshake hash (Noise's "h"): equal on both sides of a session,
 * different for every session; not secret. False before the keys are
 * agreed. Usable for channel binding and to tell sessions apart. */
bool rm_chan_handshake_hash(const rm_chan *ch, uint8_t out[RM_CHAN_HASH_BYTES]);

void rm_chan_get_stats(const rm_chan *ch, rm_chan_stats *out);

/* The transport ciphers this CPU runs (a set of rm_chan_cipher):
 * secretstream always, AES-256-GCM where libsodium finds AES-NI and CLMUL.
 * 0 only if libsodium cannot initialise. */
unsigned rm_chan_ciphers_available(void);

/* The transport cipher agreed on: set once the keys are agreed (the
 * initiator after message 2, the responder after message 1), else 0. */
rm_chan_cipher rm_chan_get_cipher(const rm_chan *ch);

/* A short name for logs and benchmarks: "aes256gcm",
 * "secretstream-xchacha20poly1305", or "none". */
const char *rm_chan_cipher_name(rm_chan_cipher c);

#endif
