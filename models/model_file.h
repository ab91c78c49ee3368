/* rumor: the portable model file: one trained model, any kind, in a file
 * that another machine can load (docs/MODEL_FILE.md has the byte layout).
 *
 * A file holds a descriptor string that says what the model is
 * ("mlp:784-128-10", "svm:784-10:hinge:lambda=0.0001", "forest:...") and
 * an opaque payload: for flat models (MLP, softmax regression, linear SVM)
 * their nparams parameters as little-endian floats, for a forest its own
 * blob (rm_forest_encode). A CRC-32 of everything before it closes the
 * file. This module knows the container; what the payload means is the
 * model's business (rm_model_file_mlp below for flat models).
 *
 * Errors fill diag with the file's path and what was wrong with it
 * ("m.model: truncated: 40 bytes, the header declares 3168"), so a caller
 * may print diag->msg as it is. */
#ifndef RM_MODEL_FILE_H
#define RM_MODEL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "models/mlp.h"

#define RM_MODEL_FILE_VERSION 1
#define RM_MODEL_FILE_DESCRIPTOR_MAX 127      /* bytes, without the NUL */
#define RM_MODEL_FILE_PAYLOAD_MAX (1ull << 30) /* 1 GiB: 256M floats */

/* Writes a model file atomically: into a temporary file in the same folder
 * (PATH.tmp.XXXXXX), flushed to disk, then renamed over path, so a reader
 * sees the old file or the new one, never half of one; on error the
 * temporary file is removed and path is untouched. descriptor: 1 to
 * RM_MODEL_FILE_DESCRIPTOR_MAX printable ASCII characters, no blanks.
 * Errors: RM_EINVAL (a bad descriptor), RM_ETOO_LARGE (len above
 * RM_MODEL_FILE_PAYLOAD_MAX), RM_ENOENT (no such folder), RM_EIO. */
rm_err rm_model_file_save(const char *path, const char *descriptor,
                          const void *payload, size_t len, rm_diag *d);

/* Reads a model file whole. Every field is checked before it is used: the
 * magic, the format version, the descriptor, the declared payload length
 * against RM_MODEL_FILE_PAYLOAD_MAX and against the file's size (before
 * anything is allocated), then the CRC-32. On success descriptor holds the
 * NUL-terminated descriptor and *payload a malloc'd copy of the payload
 * (the caller frees it; non-NULL even when *len is 0). On error *payload
 * is NULL and *len 0.
 * Errors: RM_ENOENT, RM_EIO, RM_EMODEL_FILE_MAGIC, RM_EMODEL_FILE_VERSION,
 * RM_EMODEL_FILE_TRUNCATED, RM_EMODEL_FILE_TRAILING (bytes after the
 * declared end), RM_EMODEL_FILE_MALFORMED (a descriptor of bad length or
 * characters), RM_ETOO_LARGE (a declared length above the maximum),
 * RM_EMODEL_FILE_CHECKSUM, RM_ENOMEM. */
rm_err rm_model_file_load(const char *path, char descriptor[128],
                          uint8_t **payload, size_t *len, rm_diag *d);

/* Saves a flat model: descriptor (usually rm_mlp_spec_format's) and the n
 * floats of params as little-endian bytes. Errors: those of
 * rm_model_file_save, RM_ENOMEM. */
rm_err rm_model_file_save_params(const char *path, const char *descriptor,
                                 const float *params, size_t n, rm_diag *d);

/* Builds the flat model that a loaded file describes: parses the
 * descriptor as a model spec, checks that the payload holds exactly its
 * nparams floats, and creates an rm_mlp (workspace for batch_max rows)
 * holding them. Errors: RM_EMODEL_SPEC (not a flat model's descriptor),
 * RM_EMISMATCH (the payload's size is not the spec's), RM_EINVAL,
 * RM_ENOMEM; on error *out is NULL. */
rm_err rm_model_file_mlp(const char *descriptor, const uint8_t *payload,
                         size_t len, int batch_max, rm_mlp **out, rm_diag *d);

#endif
