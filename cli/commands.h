/* rumor CLI: one entry point per subcommand, each in its own cmd_*.c.
 * Each takes argv with argv[0] = the subcommand's name and returns the
 * process exit code (0 ok, 1 failure, 2 usage error). */
#ifndef RM_COMMANDS_H
#define RM_COMMANDS_H

int rm_cmd_train(int argc, char **argv);
int rm_cmd_sim(int argc, char **argv);
int rm_cmd_keygen(int argc, char **argv);
int rm_cmd_cluster(int argc, char **argv);
int rm_cmd_node(int argc, char **argv);
int rm_cmd_ckpt(int argc, char **argv);
int rm_cmd_export(int argc, char **argv);
int rm_cmd_eval(int argc, char **argv);
int rm_cmd_predict(int argc, char **argv);
int rm_cmd_data(int argc, char **argv);

#endif
