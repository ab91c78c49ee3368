/* rumor: long-term identity keys, key files and the allow-list.
 *
 * A peer's identity is an X25519 key pair; its 32-byte public key is its id
 * (gossip's RM_ID_BYTES). docs/SECURITY.md says how the channel uses them.
 *
 * Key file (written by `rumor keygen`, mode 0600, never overwritten):
 *
 *     rumor-key v1
 *     secret <64 lowercase hex digits>
 *     public <64 lowercase hex digits>
 *
 * The reader accepts exactly these three lines (a final newline optional,
 * "\r\n" tolerated), checks that the public key is the one the secret key
 * gives, and refuses a file that other users may read or write.
 *
 * Allow-list file (authorized keys): one public key per line, as 64 hex
 * digits or 44 base64 characters, optionally followed by whitespace and a
 * free-form name ("3b6a...9f alice@laptop"); blank lines and lines whose
 * first non-blank character is '#' are ignored.
 *
 * Errors from the file readers name the file and the line in the rm_diag
 * ("peers.allow:7: expected a public key ..."); nothing here prints. */
#ifndef RM_KEYS_H
#define RM_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define RM_KEY_BYTES 32          /* an X25519 public or secret key */
#define RM_KEY_HEX_CHARS 64      /* a key as hex, without the NUL */
#define RM_KEY_B64_CHARS 44      /* a key as padded standard base64 */
#define RM_KEY_FP_CHARS 16       /* a fingerprint: the first 8 bytes as hex */
#define RM_KEYFILE_BYTES_MAX 4096 /* a longer key file is refused unread */
#define RM_KEYSET_MAX (1u << 20)  /* most keys an allow-list may hold */

/* A result that must not be ignored (libsodium's warn_unused_result). */
#ifndef RM_MUST_CHECK
#if defined(__GNUC__)
#define RM_MUST_CHECK __attribute__((warn_unused_result))
#else
#define RM_MUST_CHECK
#endif
#endif

typedef struct {
    uint8_t pk[RM_KEY_BYTES];    /* public: the peer's identity */
    uint8_t sk[RM_KEY_BYTES];    /* secret: zero it with rm_keypair_wipe */
} rm_keypair;

/* A fresh key pair from libsodium's CSPRNG. Errors: RM_EIO when libsodium
 * cannot initialise. */
rm_err rm_keypair_generate(rm_keypair *kp) RM_MUST_CHECK;

/* The key pair of a given secret key (pk = X25519(sk, base point); the
 * secret is used as stored, X25519 clamps it). Tests and the key-file
 * reader use it. Errors: RM_ECHAN_BAD_KEY when the public key would be
 * all-zero or low-order (no clamped scalar gives that; a defensive check). */
rm_err rm_keypair_from_secret(rm_keypair *kp, const uint8_t sk[RM_KEY_BYTES]) RM_MUST_CHECK;

/* Zeroes the key pair (sodium_memzero, not optimised away). */
void rm_keypair_wipe(rm_keypair *kp);

/* True when pk is one of the public keys that X25519 must never accept: the
 * all-zero key and every encoding (top bit set or not) of a point of small
 * order on Curve25519 or its twist; a shared secret with such a key is fixed
 * whatever the secret key (the flaw of the first Secure Scuttlebutt
 * handshake). The channel refuses them before any scalar multiplication. */
bool rm_key_is_weak(const uint8_t pk[RM_KEY_BYTES]);

/* Writes pk as 64 lowercase hex digits and a NUL into out. */
void rm_key_to_hex(char out[RM_KEY_HEX_CHARS + 1], const uint8_t pk[RM_KEY_BYTES]);

/* Writes pk as 44 characters of padded standard base64 and a NUL. */
void rm_key_to_base64(char out[RM_KEY_B64_CHARS + 1], const uint8_t pk[RM_KEY_BYTES]);

/* The fingerprint used in log lines: the first 8 bytes of pk as 16 hex
 * digits and a NUL. It names a key for a person; it is not a digest. */
void rm_key_fingerprint(char out[RM_KEY_FP_CHARS + 1], const uint8_t pk[RM_KEY_BYTES]);

/* Parses a public key from exactly len characters of text: 64 hex digits
 * (either case) or 44 characters of padded standard base64. Leading and
 * trailing spaces are not skipped. Errors: RM_EKEY_SYNTAX, pk unchanged. */
rm_err rm_key_from_text(uint8_t pk[RM_KEY_BYTES], const char *text, size_t len) RM_MUST_CHECK;

/* Creates the key file at path with mode 0600 and writes kp to it (format
 * above), then fsyncs it. Never replaces a file: open uses O_CREAT|O_EXCL.
 * On error nothing is left at path (a partly written file is unlinked) and
 * d says what failed. Errors: RM_EEXISTS (path exists), RM_EIO, RM_EINVAL. */
rm_err rm_keyfile_write(const char *path, const rm_keypair *kp, rm_diag *d) RM_MUST_CHECK;

/* Reads a key file into kp. On error kp is zeroed and d names the file and,
 * where it applies, the line. Errors: RM_ENOENT, RM_EIO, RM_ETOO_LARGE
 * (over RM_KEYFILE_BYTES_MAX), RM_EKEY_PERMS (group or others may read or
 * write it), RM_EKEY_SYNTAX (wrong header, a line that is not "secret HEX"
 * or "public HEX", or a public key that does not match the secret one). */
rm_err rm_keyfile_read(rm_keypair *kp, const char *path, rm_diag *d) RM_MUST_CHECK;

/* ---- a set of public keys: the allow-list */

typedef struct rm_keyset rm_keyset;

/* An empty set; NULL when out of memory. */
rm_keyset *rm_keyset_new(void);

/* Frees the set; NULL is allowed. */
void rm_keyset_free(rm_keyset *ks);

/* Adds pk (a key already present is not added twice). O(n) for the sorted
 * insert. Errors: RM_ECHAN_BAD_KEY (a weak key, see rm_key_is_weak),
 * RM_ETOO_LARGE (RM_KEYSET_MAX keys already), RM_ENOMEM; the set is
 * unchanged on error. */
rm_err rm_keyset_add(rm_keyset *ks, const uint8_t pk[RM_KEY_BYTES]) RM_MUST_CHECK;

/* True when pk is in the set. O(log n). */
bool rm_keyset_contains(const rm_keyset *ks, const uint8_t pk[RM_KEY_BYTES]);

/* Number of distinct keys in the set. */
size_t rm_keyset_count(const rm_keyset *ks);

/* Reads an allow-list file (format above) into a new set, *out. On error
 * *out is NULL and d names the file and line. A line longer than 1024
 * bytes is an error. Errors: RM_ENOENT, RM_EIO, RM_EKEY_SYNTAX,
 * RM_ECHAN_BAD_KEY (a weak key listed), RM_ETOO_LARGE, RM_ENOMEM. */
rm_err rm_keyset_load(rm_keyset **out, const char *path, rm_diag *d) RM_MUST_CHECK;

#endif
