/* rumor: the command-line entry point; dispatches to one subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli/blas_tune.h"
#include "cli/cli_util.h"
#include "cli/commands.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"train", rm_cmd_train, "train one model on one machine (no network)"},
    {"sim", rm_cmd_sim, "run a scenario of many peers in virtual time"},
    {"keygen", rm_cmd_keygen, "create a peer's identity key pair"},
    {"cluster", rm_cmd_cluster, "run N real peers on this machine (127.0.0.1)"},
    {"node", rm_cmd_node, "run one real peer: train and gossip over TCP"},
    {"ckpt", rm_cmd_ckpt, "list, show, verify and export a peer's checkpoints"},
    {"export", rm_cmd_export, "write a peer's newest checkpointed model as a model file"},
    {"eval", rm_cmd_eval, "score a saved model on a dataset (accuracy, confusion)"},
    {"predict", rm_cmd_predict, "one prediction per row from a saved model"},
    {"data", rm_cmd_data, "dataset info, and shard files for N peers"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
    fputs("usage: rumor <command> [options]\n"
          "\n"
          "rumor trains machine-learning models on many peers with no master:\n"
          "each peer trains on its own data and averages its model with peers\n"
          "over encrypted channels.\n"
          "\n"
          "commands:\n",
          f);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fputs("\n'rumor <command> --help' describes a command's options.\n", f);
}

int main(int argc, char **argv) {
    rm_blas_tune(argv);
    if (argc < 2) {
        usage(stderr);
        return RM_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return RM_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        puts("rumor 0.1.0");
        return RM_EXIT_OK;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "rumor: '%s' is not a command. See 'rumor --help'.\n", argv[1]);
    return RM_EXIT_USAGE;
}
