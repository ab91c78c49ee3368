/* rumor: the string helper C17 lacks (strnlen is POSIX, not ISO C). */
#ifndef RM_STR_H
#define RM_STR_H

#include <stddef.h>

/* Length of s, at most max; reads no byte past s[max - 1]. */
static inline size_t rm_strnlen(const char *s, size_t max) {
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

#endif
