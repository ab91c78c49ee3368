/* rumor gossip: the vector loops that merging and delta coding are made
 * of. Each is one pass over n floats, written so that GCC vectorises it
 * (RM_HOT: AVX-512 / AVX2 / baseline clones). */
#ifndef RM_MERGE_H
#define RM_MERGE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    RM_MERGE_PAIRWISE = 0,  /* x <- (x + y) / 2 */
    RM_MERGE_AGE = 1,       /* x <- (s_x x + s_y y) / (s_x + s_y), s = samples seen */
    RM_MERGE_PUSHSUM = 2,   /* x <- (w_x x + w_y y) / (w_x + w_y), w_x += w_y */
    RM_MERGE_END
} rm_merge_rule;

/* Parses "pairwise", "age", "pushsum"; returns -1 when unknown. */
int rm_merge_rule_parse(const char *s);
const char *rm_merge_rule_name(rm_merge_rule r);

/* x (n) = a * x + b * y. */
void rm_vec_axpby(float *x, const float *y, float a, float b, size_t n);

/* The same, with y read as n native floats from possibly unaligned bytes
 * (a payload inside a frame, merged without copying it out first). */
void rm_vec_axpby_u(float *x, const uint8_t *y, float a, float b, size_t n);

/* The sum of squares of x (n); NaN or Inf in x shows as a non-finite
 * result. Summed in float vector lanes (reassociated), so the last bits
 * depend on the vector width: use it for bounds, not for values. */
double rm_vec_sumsq(const float *x, size_t n);

/* rm_vec_sumsq of n native floats at possibly unaligned bytes. */
double rm_vec_sumsq_u(const uint8_t *x, size_t n);

/* d (n) = x - base. */
void rm_vec_sub(float *d, const float *x, const float *base, size_t n);

/* x (n) += w (y - sent), y as n native floats at possibly unaligned
 * bytes: pairwise averaging (w = 1/2 for one exchange at a time) for the
 * initiator of an exchange, whose model may have moved since it sent
 * `sent`. */
void rm_vec_pairwise_u(float *x, const uint8_t *y, const float *sent, float w,
                       size_t n);

/* x (n) += y. */
void rm_vec_add(float *x, const float *y, size_t n);

/* Quantises d (n) to int8 in chunks: scale[c] = max|d| of chunk c / 127,
 * q[i] = round(d[i] / scale). Then overwrites d with the dequantised values
 * q * scale, which is what the receiver will reconstruct (so the sender's
 * copy of the shared base stays equal to the receiver's: error feedback).
 * Non-finite input gives scale 0 for its chunk. */
void rm_vec_quantize_i8(float *d, int8_t *q, float *scale, size_t n,
                        uint32_t chunk);

#endif
