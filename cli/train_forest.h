/* rumor train --model forest:...: one peer grows a whole random forest
 * (models/forest.h) on its data, on --threads threads. */
#ifndef RM_CLI_TRAIN_FOREST_H
#define RM_CLI_TRAIN_FOREST_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *model;   /* "forest:trees=100,depth=20,..." */
    const char *data, *test, *save;
    float test_fraction;
    uint64_t threads, seed;
    bool json, quiet;
} rm_train_forest_args;

/* Loads the data, grows the forest, prints its test accuracy (and one JSON
 * line with --json), saves it with --save. Returns the exit code. */
int rm_train_forest(const rm_train_forest_args *a);

#endif
