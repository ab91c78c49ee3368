/* The seed generators' one way to write a seed: DIR/seed_NN, numbered in
 * the order written, holding head (len hn, may be 0: a selector byte, say)
 * then body. Returns 0, or -1 when the file was not written whole. */
#ifndef RM_FUZZ_SEED_FILE_H
#define RM_FUZZ_SEED_FILE_H

#include <stdio.h>

static inline int fx_write_seed(const char *dir, const void *head, size_t hn,
                                const void *body, size_t bn) {
    static int nfiles;
    char path[4096];
    snprintf(path, sizeof path, "%s/seed_%02d", dir, nfiles++);
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return -1;
    size_t w = (hn ? fwrite(head, 1, hn, fp) : 0) + (bn ? fwrite(body, 1, bn, fp) : 0);
    return fclose(fp) == 0 && w == hn + bn ? 0 : -1;
}

#endif
