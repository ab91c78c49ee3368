/* rumor cluster: N real peers on this machine (127.0.0.1), each its own
 * `rumor node` process with a fresh key, all on one allow-list, each on its
 * shard of the data. Shows one line per peer while they train, then each
 * peer's test accuracy and the spread. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "node/keys.h"

extern char **environ;

#define PEERS_MAX 64

static const char usage[] =
    "usage: rumor cluster --peers N [options]\n"
    "\n"
    "Starts N peers on 127.0.0.1, each a `rumor node` process with a fresh\n"
    "key pair, all on one allow-list, each training on its shard of the data\n"
    "and gossiping over encrypted channels. Shows one line per peer while\n"
    "they train, then every peer's test accuracy and the spread.\n"
    "\n"
    "  --peers N          how many peers (2..64)\n"
    "  --data SRC         fashion-mnist (default), or a data file\n"
    "  --model SPEC       mlp:784-128-10 (default)\n"
    "  --epochs E         passes each peer makes over its shard (5): the swarm\n"
    "                     processes as many samples as one central E-epoch run\n"
    "  --steps N          training steps per peer instead (needed for data\n"
    "                     other than fashion-mnist)\n"
    "  --batch B          rows per step (32)\n"
    "  --lr X             Adam learning rate (0.002)\n"
    "  --dropout P        (0.2)\n"
    "  --split iid|label-skew, --alpha A   how the shards are dealt (iid)\n"
    "  --merge RULE       pairwise | age | pushsum (pairwise)\n"
    "  --interval MS      gossip interval (50)\n"
    "  --steps-per-merge N\n"
    "                     bounded staleness: a peer waits for a partner's model\n"
    "                     after N steps without one (0: never; see rumor node)\n"
    "  --port P           first port; peer i listens on P + i (7400)\n"
    "  --dir DIR          keys, allow-list and logs (out/cluster)\n"
    "  --seed S           (1)\n"
    "  --json             end with one JSON line of the results\n"
    "  -h, --help         this text\n";

typedef struct {
    int peers, port, epochs, batch, steps;
    const char *data, *model, *split, *merge, *dir, *lr, *dropout, *alpha, *interval;
    const char *steps_per_merge;
    uint64_t seed;
    bool json;
} cluster_args;

/* The last line of a file that starts with `prefix`, into out. */
static bool last_line(const char *path, const char *prefix, char *out, size_t len) {
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[2048];
    bool found = false;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, prefix, strlen(prefix)) == 0) {
            snprintf(out, len, "%s", line);
            found = true;
        }
    fclose(f);
    if (found)
        out[strcspn(out, "\n")] = '\0';
    return found;
}

static double json_num(const char *json, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *at = strstr(json, pat);
    return at ? strtod(at + strlen(pat), NULL) : -1.0;
}

/* Fresh keys for every peer and one allow-list naming them all. */
static bool make_keys(const cluster_args *a, char hex[][RM_KEY_HEX_CHARS + 1]) {
    char path[4096];
    snprintf(path, sizeof path, "%s/allow.list", a->dir);
    FILE *allow = fopen(path, "w");
    if (!allow) {
        rm_cli_error("cluster", "%s: cannot write it: %s", path, strerror(errno));
        return false;
    }
    for (int i = 0; i < a->peers; i++) {
        rm_keypair kp;
        rm_diag d = {{0}};
        snprintf(path, sizeof path, "%s/peer-%d.key", a->dir, i);
        unlink(path); /* a new cluster, new identities */
        rm_err err = rm_keypair_generate(&kp);
        if (!err)
            err = rm_keyfile_write(path, &kp, &d);
        if (err) {
            rm_keypair_wipe(&kp);
            fclose(allow);
            rm_cli_error("cluster", "%s", d.msg[0] ? d.msg : rm_strerror(err));
            return false;
        }
        rm_key_to_hex(hex[i], kp.pk);
        rm_keypair_wipe(&kp);
        fprintf(allow, "%s peer-%d\n", hex[i], i);
    }
    fclose(allow);
    return true;
}

/* Starts peer i with its stdout and stderr in DIR/peer-i.log. */
static pid_t spawn_peer(const cluster_args *a, int i, char hex[][RM_KEY_HEX_CHARS + 1]) {
    char listen[32], key[4096], allow[4096], logp[4096], shard[32], seed1[160],
        seed2[160], seed[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", a->port + i);
    snprintf(key, sizeof key, "%s/peer-%d.key", a->dir, i);
    snprintf(allow, sizeof allow, "%s/allow.list", a->dir);
    snprintf(logp, sizeof logp, "%s/peer-%d.log", a->dir, i);
    snprintf(shard, sizeof shard, "%d/%d", i, a->peers);
    /* Two seeds each: the next peer on a ring and peer 0 (or 1). */
    int s1 = (i + 1) % a->peers, s2 = i == 0 ? a->peers - 1 : 0;
    snprintf(seed1, sizeof seed1, "%.64s@127.0.0.1:%d", hex[s1], a->port + s1);
    snprintf(seed2, sizeof seed2, "%.64s@127.0.0.1:%d", hex[s2], a->port + s2);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)a->seed);
    char *argv[64];
    int k = 0;
    argv[k++] = "rumor";
    argv[k++] = "node";
    argv[k++] = "--listen";    argv[k++] = listen;
    argv[k++] = "--key";       argv[k++] = key;
    argv[k++] = "--allow";     argv[k++] = allow;
    argv[k++] = "--seed-peer"; argv[k++] = seed1;
    if (s2 != s1 && s2 != i) {
        argv[k++] = "--seed-peer";
        argv[k++] = seed2;
    }
    argv[k++] = "--data";      argv[k++] = (char *)a->data;
    argv[k++] = "--shard";     argv[k++] = shard;
    argv[k++] = "--split";     argv[k++] = (char *)a->split;
    argv[k++] = "--alpha";     argv[k++] = (char *)a->alpha;
    argv[k++] = "--model";     argv[k++] = (char *)a->model;
    argv[k++] = "--dropout";   argv[k++] = (char *)a->dropout;
    argv[k++] = "--lr";        argv[k++] = (char *)a->lr;
    char batch[16], epochs_steps[32];
    snprintf(batch, sizeof batch, "%d", a->batch);
    argv[k++] = "--batch";     argv[k++] = batch;
    /* Epochs are counted over Fashion-MNIST's 60,000 rows; other data
     * gives --steps (checked in parse). */
    snprintf(epochs_steps, sizeof epochs_steps, "%d",
             a->steps ? a->steps : a->epochs * (60000 / a->peers) / a->batch);
    argv[k++] = "--steps";     argv[k++] = epochs_steps;
    argv[k++] = "--interval";  argv[k++] = (char *)a->interval;
    argv[k++] = "--merge";     argv[k++] = (char *)a->merge;
    argv[k++] = "--steps-per-merge"; argv[k++] = (char *)a->steps_per_merge;
    argv[k++] = "--seed";      argv[k++] = seed;
    argv[k++] = "--eval-rows"; argv[k++] = "10000";
    argv[k++] = "--status";    argv[k++] = "1000";
    argv[k++] = "--linger";    argv[k++] = "3";
    argv[k++] = "--json";
    argv[k] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        rm_cli_error("cluster", "cannot start peer %d: %s", i, strerror(rc));
        return -1;
    }
    return pid;
}

static int parse(int argc, char **argv, cluster_args *a) {
    static const struct option options[] = {
        {"peers", required_argument, 0, 'n'}, {"data", required_argument, 0, 'd'},
        {"model", required_argument, 0, 'm'}, {"epochs", required_argument, 0, 'e'},
        {"batch", required_argument, 0, 'b'}, {"lr", required_argument, 0, 'l'},
        {"dropout", required_argument, 0, 'D'}, {"split", required_argument, 0, 's'},
        {"alpha", required_argument, 0, 'a'}, {"merge", required_argument, 0, 'M'},
        {"interval", required_argument, 0, 'i'}, {"port", required_argument, 0, 'p'},
        {"dir", required_argument, 0, 'o'}, {"seed", required_argument, 0, 'S'},
        {"steps", required_argument, 0, 'T'},
        {"steps-per-merge", required_argument, 0, 'W'},
        {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    *a = (cluster_args){.peers = 0, .port = 7400, .epochs = 5, .batch = 32,
                        .data = "fashion-mnist", .model = "mlp:784-128-10",
                        .split = "iid", .merge = "pairwise", .dir = "out/cluster",
                        .lr = "0.002", .dropout = "0.2", .alpha = "0.5",
                        .interval = "50", .steps_per_merge = "0", .seed = 1};
    uint64_t u;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (ch) {
        case 'n':
            if (!rm_cli_parse_u64("cluster", "--peers", optarg, 2, PEERS_MAX, &u))
                return RM_EXIT_USAGE;
            a->peers = (int)u;
            break;
        case 'e':
            if (!rm_cli_parse_u64("cluster", "--epochs", optarg, 1, 1000, &u))
                return RM_EXIT_USAGE;
            a->epochs = (int)u;
            break;
        case 'b':
            if (!rm_cli_parse_u64("cluster", "--batch", optarg, 1, 65536, &u))
                return RM_EXIT_USAGE;
            a->batch = (int)u;
            break;
        case 'T':
            if (!rm_cli_parse_u64("cluster", "--steps", optarg, 1, 100000000, &u))
                return RM_EXIT_USAGE;
            a->steps = (int)u;
            break;
        case 'p':
            if (!rm_cli_parse_u64("cluster", "--port", optarg, 1024, 65000, &u))
                return RM_EXIT_USAGE;
            a->port = (int)u;
            break;
        case 'S':
            if (!rm_cli_parse_u64("cluster", "--seed", optarg, 0, UINT64_MAX, &a->seed))
                return RM_EXIT_USAGE;
            break;
        case 'd': a->data = optarg; break;
        case 'm': a->model = optarg; break;
        case 'l': a->lr = optarg; break;
        case 'D': a->dropout = optarg; break;
        case 's': a->split = optarg; break;
        case 'a': a->alpha = optarg; break;
        case 'M': a->merge = optarg; break;
        case 'i': a->interval = optarg; break;
        case 'W': a->steps_per_merge = optarg; break;
        case 'o': a->dir = optarg; break;
        case 'j': a->json = true; break;
        case 'h': fputs(usage, stdout); return RM_EXIT_OK;
        default: fputs("Try 'rumor cluster --help'.\n", stderr); return RM_EXIT_USAGE;
        }
    }
    if (a->peers == 0 || optind != argc) {
        rm_cli_error("cluster", "expected --peers N (try --help)");
        return RM_EXIT_USAGE;
    }
    if (!a->steps && strcmp(a->data, "fashion-mnist") != 0) {
        rm_cli_error("cluster", "--data %s: give --steps N (epochs are counted over "
                     "Fashion-MNIST's rows)", a->data);
        return RM_EXIT_USAGE;
    }
    if (a->port + a->peers > 65535) {
        rm_cli_error("cluster", "--port: %d + %d peers runs past port 65535", a->port,
                     a->peers);
        return RM_EXIT_USAGE;
    }
    return -1;
}

int rm_cmd_cluster(int argc, char **argv) {
    cluster_args a;
    int code = parse(argc, argv, &a);
    if (code >= 0)
        return code;
    if (!rm_cli_mkdirs("cluster", a.dir))
        return RM_EXIT_FAIL;
    char hex[PEERS_MAX][RM_KEY_HEX_CHARS + 1];
    if (!make_keys(&a, hex))
        return RM_EXIT_FAIL;
    printf("rumor cluster: %d peers on 127.0.0.1:%d..%d, %s, %s shards, %d epochs each "
           "of its shard, keys and logs in %s\n",
           a.peers, a.port, a.port + a.peers - 1, a.model, a.split, a.epochs, a.dir);
    fflush(stdout);
    double t0 = rm_cli_now();
    pid_t pid[PEERS_MAX];
    int started = 0;
    for (; started < a.peers; started++)
        if ((pid[started] = spawn_peer(&a, started, hex)) < 0)
            break;
    bool running = started == a.peers;
    int status[PEERS_MAX] = {0}, left = started;
    bool done[PEERS_MAX] = {false};
    /* One line per peer, every 2 s, from each peer's latest status line. */
    int tick = 0;
    while (left > 0) {
        for (int i = 0; i < started; i++) {
            if (done[i])
                continue;
            pid_t r = waitpid(pid[i], &status[i], WNOHANG);
            if (r == pid[i]) {
                done[i] = true;
                left--;
            }
        }
        if (!running) { /* a peer failed to start: stop the others */
            for (int i = 0; i < started; i++)
                if (!done[i])
                    kill(pid[i], SIGTERM);
        }
        if (left > 0 && ++tick % 10 == 0) {
            printf("  t=%.0fs\n", rm_cli_now() - t0);
            for (int i = 0; i < started; i++) {
                char logp[4096], line[512];
                snprintf(logp, sizeof logp, "%s/peer-%d.log", a.dir, i);
                if (last_line(logp, "t=", line, sizeof line))
                    printf("    peer %-2d %s\n", i, line);
            }
            fflush(stdout);
        }
        usleep(100000);
    }
    double wall = rm_cli_now() - t0;
    double sum = 0.0, lo = 1.0, hi = 0.0, bytes = 0.0;
    int ok = 0;
    printf("\nresults after %.1f s:\n", wall);
    for (int i = 0; i < started; i++) {
        char logp[4096], json[2048];
        snprintf(logp, sizeof logp, "%s/peer-%d.log", a.dir, i);
        bool exited = WIFEXITED(status[i]) && WEXITSTATUS(status[i]) == 0;
        if (!exited || !last_line(logp, "{", json, sizeof json)) {
            printf("  peer %-2d failed (see %s)\n", i, logp);
            continue;
        }
        double acc = json_num(json, "test_accuracy");
        printf("  peer %-2d test accuracy %.2f%%  merges %.0f  exchanges %.0f  sent %.1f MB",
               i, 100 * acc, json_num(json, "merges"), json_num(json, "exchanges_done"),
               json_num(json, "bytes_out") / 1e6);
        if (strcmp(a.steps_per_merge, "0") != 0) /* bounded staleness */
            printf("  waited for a merge %.0f times (%.0f in vain)",
                   json_num(json, "merge_waits"), json_num(json, "merge_wait_timeouts"));
        putchar('\n');
        sum += acc;
        lo = acc < lo ? acc : lo;
        hi = acc > hi ? acc : hi;
        bytes += json_num(json, "bytes_out");
        ok++;
    }
    if (ok == 0) {
        rm_cli_error("cluster", "no peer finished; logs are in %s", a.dir);
        return RM_EXIT_FAIL;
    }
    printf("  mean %.2f%%, min %.2f%%, max %.2f%%, spread %.2f points; %.1f MB sent\n",
           100 * sum / ok, 100 * lo, 100 * hi, 100 * (hi - lo), bytes / 1e6);
    if (a.json)
        printf("{\"peers\":%d,\"finished\":%d,\"mean_test_accuracy\":%.6f,"
               "\"min_test_accuracy\":%.6f,\"max_test_accuracy\":%.6f,\"wall_seconds\":%.3f,"
               "\"bytes_sent\":%.0f}\n",
               a.peers, ok, sum / ok, lo, hi, wall, bytes);
    return ok == a.peers ? RM_EXIT_OK : RM_EXIT_FAIL;
}
