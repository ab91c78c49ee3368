/* rumor ckpt: looks into a peer's checkpoint store: lists, shows and
 * verifies its snapshots, and exports the newest model as a model file. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "checkpoint/store.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "models/model_file.h"

/* "ckpt", or "export" when run as `rumor export`: messages name it. */
static const char *cmd_name = "ckpt";

static const char export_usage[] =
    "usage: rumor export DIR --out FILE [--id N]\n"
    "\n"
    "Writes the model of a peer's newest valid checkpoint (or of snapshot N)\n"
    "as a portable model file (docs/MODEL_FILE.md), for every model kind:\n"
    "an MLP, softmax regression or SVM as its parameters, a forest as its\n"
    "trees. DIR is the store `rumor node --ckpt-dir DIR` writes; `rumor eval`\n"
    "and `rumor predict` read the file. The same as `rumor ckpt export`.\n"
    "\n"
    "  --out FILE   the model file to write (written whole, then renamed)\n"
    "  --id N       this snapshot instead of the newest valid one\n"
    "  -h, --help   this text\n";

static const char usage[] =
    "usage: rumor ckpt ls|show|verify|export DIR [options]\n"
    "\n"
    "Reads the checkpoint store that `rumor node --ckpt-dir DIR` writes.\n"
    "\n"
    "  ls DIR                   one line per snapshot: id, step, epoch,\n"
    "                           incarnation, when, size, whether its hash holds\n"
    "  show DIR [--id N]        every field of one snapshot (default: the newest\n"
    "                           valid one)\n"
    "  verify DIR               decodes and hashes every snapshot; exits 1 if\n"
    "                           any is bad\n"
    "  export DIR --out FILE [--id N]\n"
    "                           writes the model of the newest valid snapshot\n"
    "                           (or snapshot N) as a portable model file, which\n"
    "                           `rumor eval` and `rumor predict` read\n"
    "  -h, --help               this text\n"
    "\n"
    "It reads the store through LMDB, which opens it for writing (as the node\n"
    "does), so run it on a stopped node's folder or a copy of a running one's.\n"
    "docs/CHECKPOINTS.md describes the store.\n";

/* Opens an existing store: a folder that does not exist is an error here,
 * not a new store. */
static rm_store *open_existing(const char *dir) {
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rm_cli_error(cmd_name, "%s: no such checkpoint folder", dir);
        return NULL;
    }
    rm_store_options o;
    rm_store_options_default(&o);
    rm_store *s = NULL;
    bool fresh;
    rm_diag d = {{0}};
    rm_err err = rm_store_open(&s, dir, &o, &fresh, &d);
    if (err) {
        rm_cli_error(cmd_name, "%s", d.msg[0] ? d.msg : rm_strerror(err));
        return NULL;
    }
    return s;
}

static void format_time(uint64_t unix_ms, char *buf, size_t len) {
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, len, "%" PRIu64 " ms", unix_ms);
}

static int cmd_ls(rm_store *s) {
    rm_snap_info *info = NULL;
    size_t n = 0;
    rm_diag d = {{0}};
    rm_err err = rm_store_list(s, &info, &n, &d);
    if (err) {
        rm_cli_error(cmd_name, "%s", d.msg[0] ? d.msg : rm_strerror(err));
        return RM_EXIT_FAIL;
    }
    printf("%6s %10s %6s %5s  %-20s %10s  %s\n", "id", "step", "epoch", "inc", "saved (UTC)",
           "bytes", "hash");
    for (size_t i = 0; i < n; i++) {
        char when[32];
        format_time(info[i].saved_unix_ms, when, sizeof when);
        printf("%6" PRIu64 " %10" PRIu64 " %6" PRIu64 " %5" PRIu64 "  %-20s %10" PRIu64 "  %s\n",
               info[i].id, info[i].step, info[i].epoch, info[i].incarnation, when,
               info[i].bytes, info[i].hash_ok ? "ok" : "BAD");
    }
    if (n == 0)
        printf("(no snapshots)\n");
    free(info);
    return RM_EXIT_OK;
}

static rm_err load(rm_store *s, uint64_t id, rm_snapshot *snap, uint64_t *got) {
    rm_diag d = {{0}};
    uint32_t skipped = 0;
    rm_err err = id ? rm_store_load(s, id, snap, &d)
                    : rm_store_load_latest(s, snap, got, &skipped, &d);
    if (id)
        *got = id;
    if (err)
        rm_cli_error(cmd_name, "%s", d.msg[0] ? d.msg : rm_strerror(err));
    else if (skipped)
        fprintf(stderr, "rumor ckpt: warning: %u newer snapshot(s) failed verification (%s); "
                        "showing the newest valid one\n", skipped, d.msg);
    return err;
}

static int cmd_show(rm_store *s, uint64_t id) {
    rm_snapshot snap;
    uint64_t got = 0;
    if (load(s, id, &snap, &got))
        return RM_EXIT_FAIL;
    char when[32];
    format_time(snap.saved_unix_ms, when, sizeof when);
    double sumsq = 0;
    for (uint64_t i = 0; i < snap.nparams; i++)
        sumsq += (double)snap.params[i] * snap.params[i];
    printf("snapshot     %" PRIu64 " of %s (format %u)\n", got, rm_store_path(s), snap.format);
    printf("model        %s, %" PRIu64 " parameters, L2 norm %.6g\n", snap.model,
           snap.nparams, sqrt(sumsq));
    printf("saved        %s\n", when);
    printf("training     step %" PRIu64 ", epoch %" PRIu64 ", cursor %" PRIu64 " of %" PRIu64
           " rows\n", snap.step, snap.epoch, snap.cursor, snap.norder);
    printf("optimizer    %s, %" PRIu64 " steps taken\n",
           snap.opt_kind == 2 ? "adam" : snap.opt_kind == 1 ? "sgd" : "none", snap.opt_t);
    printf("incarnation  %" PRIu64 "\n", snap.incarnation);
    printf("rng          %016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64 "\n",
           snap.rng[0], snap.rng[1], snap.rng[2], snap.rng[3]);
    printf("gossip core  %" PRIu64 " bytes of state and view, %" PRIu64
           " bytes of delta bases\n", snap.view_len, snap.bases_len);
    if (snap.extra_len)
        printf("model extra  %" PRIu64 " bytes\n", snap.extra_len);
    rm_snapshot_release(&snap);
    return RM_EXIT_OK;
}

static int cmd_verify(rm_store *s) {
    size_t bad = 0;
    rm_diag d = {{0}};
    rm_err err = rm_store_verify(s, &bad, &d);
    if (err) {
        rm_cli_error(cmd_name, "%s", d.msg[0] ? d.msg : rm_strerror(err));
        return RM_EXIT_FAIL;
    }
    rm_snap_info *info = NULL;
    size_t n = 0;
    if (rm_store_list(s, &info, &n, NULL) == RM_OK)
        free(info);
    if (bad) {
        printf("%s: %zu of %zu snapshots are bad: %s\n", rm_store_path(s), bad, n, d.msg);
        return RM_EXIT_FAIL;
    }
    printf("%s: all %zu snapshots verify\n", rm_store_path(s), n);
    return RM_EXIT_OK;
}

/* Forests keep their trees in the snapshot's extra bytes; every other model
 * is its parameters. */
static int cmd_export(rm_store *s, uint64_t id, const char *out) {
    rm_snapshot snap;
    uint64_t got = 0;
    if (load(s, id, &snap, &got))
        return RM_EXIT_FAIL;
    rm_diag d = {{0}};
    rm_err err = strncmp(snap.model, "forest", 6) == 0
                     ? rm_model_file_save(out, snap.model, snap.extra, snap.extra_len, &d)
                     : rm_model_file_save_params(out, snap.model, snap.params, snap.nparams, &d);
    if (err)
        rm_cli_error(cmd_name, "%s: %s", out, d.msg[0] ? d.msg : rm_strerror(err));
    else
        printf("wrote %s: %s from snapshot %" PRIu64 " (step %" PRIu64 ")\n", out, snap.model,
               got, snap.step);
    rm_snapshot_release(&snap);
    return err ? RM_EXIT_FAIL : RM_EXIT_OK;
}

static int run(int argc, char **argv) {
    static const struct option options[] = {{"id", required_argument, 0, 'i'},
                                            {"out", required_argument, 0, 'o'},
                                            {"help", no_argument, 0, 'h'},
                                            {0, 0, 0, 0}};
    uint64_t id = 0;
    const char *out = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (ch) {
        case 'i':
            if (!rm_cli_parse_u64("ckpt", "--id", optarg, 1, UINT64_MAX, &id))
                return RM_EXIT_USAGE;
            break;
        case 'o': out = optarg; break;
        case 'h': fputs(strcmp(cmd_name, "export") ? usage : export_usage, stdout);
                  return RM_EXIT_OK;
        default: fprintf(stderr, "Try 'rumor %s --help'.\n", cmd_name); return RM_EXIT_USAGE;
        }
    }
    if (optind != argc - 2) {
        rm_cli_error(cmd_name, strcmp(cmd_name, "export")
                                   ? "expected ls|show|verify|export and a folder (try --help)"
                                   : "expected one checkpoint folder (try --help)");
        return RM_EXIT_USAGE;
    }
    const char *what = argv[optind], *dir = argv[optind + 1];
    bool export = strcmp(what, "export") == 0;
    if (strcmp(what, "ls") && strcmp(what, "show") && strcmp(what, "verify") && !export) {
        rm_cli_error(cmd_name, "'%s' is not ls, show, verify or export", what);
        return RM_EXIT_USAGE;
    }
    if (export != (out != NULL)) {
        rm_cli_error(cmd_name, export ? "--out FILE is needed: the model file to write"
                                      : "--out is for export only");
        return RM_EXIT_USAGE;
    }
    rm_store *s = open_existing(dir);
    if (!s)
        return RM_EXIT_FAIL;
    int code = what[0] == 'l'   ? cmd_ls(s)
               : what[0] == 's' ? cmd_show(s, id)
               : what[0] == 'v' ? cmd_verify(s)
                                : cmd_export(s, id, out);
    rm_store_close(s);
    return code;
}

int rm_cmd_ckpt(int argc, char **argv) {
    cmd_name = "ckpt";
    return run(argc, argv);
}

/* rumor export DIR ... is rumor ckpt export DIR ... */
int rm_cmd_export(int argc, char **argv) {
    char **args = malloc(((size_t)argc + 2) * sizeof *args);
    if (!args) {
        rm_cli_error("export", "out of memory");
        return RM_EXIT_FAIL;
    }
    args[0] = argv[0];
    args[1] = "export";
    for (int i = 1; i <= argc; i++) /* argv[argc] is NULL */
        args[i + 1] = argv[i];
    cmd_name = "export";
    int code = run(argc + 1, args);
    free(args);
    return code;
}
