/* rumor node: one checkpoint in flight. The loop thread copies what a
 * snapshot holds out of the trainer and the gossip core between two steps
 * (memcpy of about 1.3 MB for mlp:784-128-10 with Adam); a pool thread
 * encodes, hashes and writes it, so no training step waits for the disk. */
#ifndef RM_NODE_CKPT_JOB_H
#define RM_NODE_CKPT_JOB_H

#include <stdint.h>

#include "base/err.h"
#include "base/rng.h"
#include "checkpoint/store.h"
#include "gossip/peer.h"
#include "models/forest.h"
#include "models/trainer.h"

typedef struct rm_ckpt_job rm_ckpt_job;

/* Copies the trainer's state, its generator and the core's state (loop
 * thread, between steps). Errors: RM_ENOMEM. */
rm_err rm_ckpt_job_take(rm_ckpt_job **out, const rm_trainer *t, const rm_rng *train_rng,
                        const rm_peer *core, const char *model, uint64_t incarnation,
                        uint64_t unix_ms);

/* The same for a forest peer: the forest (encoded into the snapshot's
 * extra bytes), no parameters; `step` counts the trees it grew. */
rm_err rm_ckpt_job_take_forest(rm_ckpt_job **out, const rm_forest *f, uint64_t step,
                               const rm_peer *core, const char *model,
                               uint64_t incarnation, uint64_t unix_ms);

/* Writes it as one snapshot (any thread). */
rm_err rm_ckpt_job_save(rm_ckpt_job *j, rm_store *s, rm_diag *d);

/* The step the job holds. */
uint64_t rm_ckpt_job_step(const rm_ckpt_job *j);

void rm_ckpt_job_free(rm_ckpt_job *j);

/* Puts a loaded snapshot back into a freshly made trainer and its
 * generator. Errors: RM_EMISMATCH (another model, optimizer or shard:
 * diag says which), RM_ERANGE. */
rm_err rm_ckpt_restore_trainer(const rm_snapshot *s, rm_trainer *t, rm_rng *train_rng,
                               rm_diag *d);

#endif
