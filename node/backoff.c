/* rumor: redial backoff (backoff.h). */
#include "node/backoff.h"

uint32_t rm_backoff_ceiling_ms(uint32_t failures, uint32_t base_ms, uint32_t cap_ms) {
    if (failures == 0 || base_ms == 0)
        return 0;
    uint64_t d = base_ms;
    /* Doubling stops at the cap, so d stays below 2^33 and never wraps. */
    for (uint32_t k = 1; k < failures && d < cap_ms; k++)
        d *= 2;
    return d < cap_ms ? (uint32_t)d : cap_ms;
}

uint32_t rm_backoff_delay_ms(uint32_t failures, uint32_t base_ms, uint32_t cap_ms,
                             uint64_t random) {
    uint32_t d = rm_backoff_ceiling_ms(failures, base_ms, cap_ms);
    uint32_t half = d / 2;
    return half + (uint32_t)(random % ((uint64_t)(d - half) + 1));
}
