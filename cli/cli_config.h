/* rumor CLI: INI configuration files whose keys are the command's flags.
 *
 * `rumor node --config FILE` reads FILE and treats every `key = value` as
 * `--key value` (sections only group keys for the reader: [network],
 * [data], ...). The file's flags come first, so the command line overrides
 * them; a key may repeat where the flag may (seed-peer). A flag without a
 * value is written `key = true` (or false, to leave it off). */
#ifndef RM_CLI_CONFIG_H
#define RM_CLI_CONFIG_H

#include <getopt.h>
#include <stdbool.h>

/* If argv holds `--config FILE`, replaces argc and argv with a new vector:
 * argv[0], FILE's flags, then the rest of the command line without
 * --config. Unknown keys and syntax errors are reported as "FILE: line N:
 * ..." and return false. The new vector lives until the process exits. */
bool rm_cli_config_expand(const char *cmd, const struct option *opts, int *argc,
                          char ***argv);

#endif
