/* rumor: little-endian fields of byte formats (blobs, frames, snapshots).
 *
 * Byte shifts are correct on any host, and gcc and clang turn them into
 * single loads and stores on x86. The put functions return the byte after
 * what they wrote, so a writer reads `p = rm_le_put32(p, v);`. Bounds are
 * the caller's: check the bytes left before every get. Every codec uses
 * these (wire frames, peer state, snapshots, model files, tree blobs). */
#ifndef RM_LE_H
#define RM_LE_H

#include <stdint.h>
#include <string.h>

static inline uint32_t rm_le_get16(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static inline uint32_t rm_le_get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint64_t rm_le_get64(const uint8_t *p) {
    return (uint64_t)rm_le_get32(p) | (uint64_t)rm_le_get32(p + 4) << 32;
}

static inline float rm_le_getf32(const uint8_t *p) {
    uint32_t u = rm_le_get32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint8_t *rm_le_put16(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}

static inline uint8_t *rm_le_put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
    return p + 4;
}

static inline uint8_t *rm_le_put64(uint8_t *p, uint64_t v) {
    rm_le_put32(p, (uint32_t)v);
    return rm_le_put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint8_t *rm_le_putf32(uint8_t *p, float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return rm_le_put32(p, u);
}

#endif
