/* Writes a few valid inputs for fuzz_forest into the folder given: small
 * trees grown on uint8 data (u8 thresholds) and on float data (f32
 * thresholds), with 3 and 300 classes (u8 and u16 class fields), each as a
 * tree blob (first byte 0) and as a forest blob (first byte 1).
 *   gen_forest_seeds DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/forest.h"
#include "seed_file.h"


/* Grows 2 small trees on n random rows of d features and writes them. */
static int seeds(const char *dir, rm_dtype dtype, uint32_t classes, uint64_t seed) {
    enum { N = 120, D = 6 };
    rm_dataset ds;
    rm_rng r;
    rm_rng_seed(&r, seed);
    if (rm_dataset_alloc(&ds, N, D, dtype))
        return -1;
    ds.classes = classes;
    for (size_t i = 0; i < N * D; i++) {
        if (dtype == RM_DTYPE_U8)
            ds.x_u8[i] = (uint8_t)rm_rng_below(&r, 256);
        else
            ds.x_f32[i] = (float)rm_rng_normal(&r);
    }
    for (size_t i = 0; i < N; i++)
        ds.y[i] = (int32_t)rm_rng_below(&r, classes);
    rm_forest_config c;
    rm_forest_config_default(&c);
    c.max_depth = 4;
    rm_binned *b;
    rm_forest *f;
    if (rm_binned_create(&b, &ds, NULL) || rm_forest_create(&f, D, classes))
        return -1;
    for (uint32_t i = 0; i < 2; i++) {
        rm_tree *t;
        uint8_t *blob;
        size_t len;
        if (rm_tree_grow_nth(&t, b, &c, seed, i, NULL) ||
            rm_tree_encode(t, &blob, &len) || fx_write_seed(dir, &(uint8_t){0}, 1, blob, len) ||
            rm_forest_add(f, t))
            return -1;
        free(blob);
    }
    uint8_t *blob;
    size_t len;
    if (rm_forest_encode(f, &blob, &len) || fx_write_seed(dir, &(uint8_t){1}, 1, blob, len))
        return -1;
    free(blob);
    rm_forest_free(f);
    rm_binned_free(b);
    rm_dataset_free(&ds);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gen_forest_seeds DIR\n");
        return 2;
    }
    if (seeds(argv[1], RM_DTYPE_U8, 3, 1) || seeds(argv[1], RM_DTYPE_F32, 3, 2) ||
        seeds(argv[1], RM_DTYPE_U8, 300, 3)) {
        fprintf(stderr, "gen_forest_seeds: failed\n");
        return 1;
    }
    return 0;
}
