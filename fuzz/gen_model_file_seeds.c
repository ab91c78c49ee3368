/* Writes a few valid model files for fuzz_model_file into the folder given:
 * a small SVM, a binary SVM, an MLP, an empty payload, a forest-like blob.
 *   gen_model_file_seeds DIR */
#include <stdio.h>
#include <string.h>

#include "models/model_file.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gen_model_file_seeds DIR\n");
        return 2;
    }
    static const struct {
        const char *desc;
        size_t n; /* floats */
    } seeds[] = {{"svm:3-4:hinge:lambda=0.0001", 16}, {"svm:5-2:squared:lambda=0", 6},
                 {"mlp:2-3-2", 17}, {"softmax:4-3", 15}, {"x", 0}, {"forest:trees=1", 9}};
    float params[32];
    for (int i = 0; i < 32; i++)
        params[i] = (float)i * 0.25f - 3.0f;
    for (size_t k = 0; k < sizeof seeds / sizeof seeds[0]; k++) {
        char path[4096];
        rm_diag d = {{0}};
        snprintf(path, sizeof path, "%s/seed_%02zu", argv[1], k);
        if (rm_model_file_save_params(path, seeds[k].desc, params, seeds[k].n, &d)) {
            fprintf(stderr, "%s\n", d.msg);
            return 1;
        }
    }
    return 0;
}
