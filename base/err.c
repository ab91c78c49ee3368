#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *rm_strerror(int err) {
    switch (err) {
    case RM_OK:
        return "success";
#define RM_ERR_WORDS(name, words) \
    case RM_E##name:              \
        return words;
        RM_ERR_TABLE(RM_ERR_WORDS)
#undef RM_ERR_WORDS
    default:
        return "unknown error";
    }
}

const char *rm_err_name(int err) {
    switch (err) {
    case RM_OK:
        return "RM_OK";
#define RM_ERR_NAME(name, words) \
    case RM_E##name:             \
        return "RM_E" #name;
        RM_ERR_TABLE(RM_ERR_NAME)
#undef RM_ERR_NAME
    default:
        return "RM_EUNKNOWN";
    }
}

int rm_diag_set(rm_diag *d, int err, const char *fmt, ...) {
    if (d) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof d->msg, fmt, ap);
        va_end(ap);
    }
    return err;
}
