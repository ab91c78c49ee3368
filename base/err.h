/* rumor: error codes shared by every module.
 *
 * Every function that can fail returns an rm_err: 0 on success or one of the
 * negative codes below. rm_strerror() names a code in words; callers that talk
 * to a person add the file, line, peer or field (see rm_diag). */
#ifndef RM_ERR_H
#define RM_ERR_H

#include <stddef.h>

/* X(name, words): the single table that defines every code. */
#define RM_ERR_TABLE(X)                                                      \
    X(NOMEM, "out of memory")                                                \
    X(INVAL, "invalid argument")                                             \
    X(IO, "input/output error")                                              \
    X(NOENT, "no such file or directory")                                    \
    X(RANGE, "value out of range")                                           \
    X(TOO_LARGE, "size exceeds the allowed maximum")                         \
    X(DATA_TRUNCATED, "data file is truncated")                              \
    X(DATA_TRAILING, "data file has bytes after its declared end")           \
    X(DATA_MAGIC, "data file has a wrong magic number")                      \
    X(DATA_SHAPE, "data has an unexpected shape")                            \
    X(DATA_SYNTAX, "data file has a syntax error")                           \
    X(DATA_INDEX, "feature index out of range")                              \
    X(DATA_LABEL, "label out of range")                                      \
    X(MODEL_SPEC, "malformed model specification")                           \
    X(MISMATCH, "sizes do not match")                                        \
    X(WIRE_TRUNCATED, "frame is truncated")                                  \
    X(WIRE_TOO_LARGE, "frame exceeds the allowed size")                      \
    X(WIRE_BAD_VERSION, "frame has an unknown protocol version")             \
    X(WIRE_BAD_TYPE, "frame has an unknown type")                            \
    X(WIRE_MALFORMED, "frame is malformed")                                  \
    X(CHAN_AUTH, "channel message failed authentication")                    \
    X(CHAN_REPLAY, "handshake is a replay: its timestamp is not newer")      \
    X(CHAN_UNKNOWN_KEY, "peer key is not admitted")                          \
    X(CHAN_BAD_KEY, "low-order, all-zero or unusable key")                   \
    X(CHAN_TOO_LARGE, "channel frame exceeds the allowed size")              \
    X(CHAN_STATE, "channel is not in a state that allows this call")         \
    X(CHAN_MALFORMED, "channel message is malformed")                        \
    X(CHAN_TRUNCATED, "connection ended mid-frame or without a final frame") \
    X(KEY_SYNTAX, "malformed key, key file or allow-list")                   \
    X(KEY_PERMS, "key file is accessible to other users")                    \
    X(CKPT_MAGIC, "not a checkpoint: wrong magic number")                    \
    X(CKPT_FORMAT, "checkpoint has an unknown format version")               \
    X(CKPT_CORRUPT, "checkpoint or checkpoint store is corrupt")             \
    X(CKPT_HASH, "checkpoint hash does not match its content")               \
    X(CKPT_NONE, "no checkpoint")                                            \
    X(PEER_STATE, "saved peer state is malformed")                          \
    X(EXISTS, "file already exists")                                         \
    X(TREE_SHAPE, "tree blob is not one tree of bounded depth")              \
    X(TREE_FEATURE, "tree splits on a feature the data does not have")       \
    X(TREE_VALUE, "tree holds a non-finite threshold or a bad leaf")         \
    X(TREE_DUPLICATE, "forest already holds a tree with this id")            \
    X(MODEL_FILE_MAGIC, "not a rumor model file: wrong magic number")        \
    X(MODEL_FILE_VERSION, "model file has an unknown format version")        \
    X(MODEL_FILE_TRUNCATED, "model file is truncated")                       \
    X(MODEL_FILE_TRAILING, "model file has bytes after its declared end")    \
    X(MODEL_FILE_MALFORMED, "model file header is malformed")                \
    X(MODEL_FILE_CHECKSUM, "model file checksum does not match its content")

typedef enum {
    RM_OK = 0,
#define RM_ERR_ENUM(name, words) RM_E##name,
    RM__ERR_FIRST = -1000,
    RM_ERR_TABLE(RM_ERR_ENUM)
#undef RM_ERR_ENUM
    RM__ERR_END
} rm_err;

/* Words for an error code; never NULL. Unknown codes give "unknown error". */
const char *rm_strerror(int err);

/* Short machine name of a code, e.g. "RM_EDATA_MAGIC". */
const char *rm_err_name(int err);

/* A diagnostic: what exactly went wrong, in words, filled by parsers that can
 * say more than the code does ("line 17: index 0 is not one-based"). The
 * library never prints it; the caller adds the file name and prints. */
typedef struct {
    char msg[256];
} rm_diag;

/* Formats into d->msg when d is not NULL. Returns err, so that a parser can
 * write `return rm_diag_set(d, RM_EDATA_SYNTAX, "line %zu: ...", line);`. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
int rm_diag_set(rm_diag *d, int err, const char *fmt, ...);

#endif
