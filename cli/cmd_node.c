/* rumor node: one real peer: trains on its shard and gossips its model
 * with other nodes over encrypted TCP channels. */
#include <cblas.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_config.h"
#include "checkpoint/store.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "gossip/merge.h"
#include "node/keys.h"
#include "node/ckpt_job.h"
#include "node/node.h"

static const char usage[] =
    "usage: rumor node --listen IP:PORT --key FILE --allow FILE [options]\n"
    "\n"
    "Runs one peer: it trains on its shard of the data and, every interval,\n"
    "averages its model with a peer from its view over an encrypted channel.\n"
    "It prints a status line every few seconds and stops on SIGINT/SIGTERM,\n"
    "after --max-seconds, or once --steps are done (and --linger has passed).\n"
    "\n"
    "  --config FILE         settings from an INI file (docs/CONFIG.md): every key is\n"
    "                        one of these flags; the command line overrides it\n"
    "network:\n"
    "  --listen IP:PORT      address to listen on (IPv4), also the address peers dial\n"
    "  --key FILE            this node's key pair (rumor keygen)\n"
    "  --allow FILE          allow-list of the peers' public keys\n"
    "  --network-key HEX     a 32-byte key every node of the network holds\n"
    "  --seed-peer KEY@ADDR  a peer to start from: its public key (hex) and\n"
    "                        address; repeat for more\n"
    "  --handshake-timeout-ms MS  close a connection whose handshake is not done\n"
    "                        after MS (5000)\n"
    "  --idle-timeout-ms MS  close a connection that carried no frame either way\n"
    "                        for MS (60000, or 10 intervals if more; at least\n"
    "                        10 intervals)\n"
    "data and model:\n"
    "  --data SRC            fashion-mnist (default), mnist:DIR, FILE.csv or libsvm\n"
    "  --test FILE           test set file (default: t10k files or a held-out split)\n"
    "  --test-fraction F     held-out rows when there is no test set (0.1)\n"
    "  --shard I/N           train on shard I of N (0/1)\n"
    "  --split iid|label-skew  how the shards are dealt (iid)\n"
    "  --alpha A             label skew: Dirichlet concentration (0.5)\n"
    "  --model SPEC          mlp:784-128-10 (default), softmax:784-10, svm:784-10, or\n"
    "                        forest:trees=100,depth=20 (grows its share of the trees\n"
    "                        and gossips them; the forest is their union)\n"
    "  --dropout P           drop probability of hidden units (0)\n"
    "  --logit-adjust TAU    label-skewed shard: add TAU x log(class prior) to the\n"
    "                        logits while training, skip absent classes (0: off)\n"
    "  --lr X                Adam learning rate (0.001)\n"
    "  --batch B             rows per step (32)\n"
    "  --steps N             training steps, then only gossip (0: no limit)\n"
    "gossip:\n"
    "  --interval MS         one exchange started every MS milliseconds (200)\n"
    "  --merge RULE          pairwise | age | pushsum (pairwise)\n"
    "  --concurrent K        exchanges of its own in flight at once (1; up to 16):\n"
    "                        above 1 on links whose round trip exceeds --interval\n"
    "  --steps-per-merge N   bounded staleness: after N steps with no partner's\n"
    "                        model merged, wait for one (0: never wait)\n"
    "  --merge-wait-ms MS    ... but at most MS, then train on (1000)\n"
    "run:\n"
    "  --seed S              seed: shards (all nodes must agree) and init (1)\n"
    "  --status MS           status line period (2000; 0: none)\n"
    "  --eval-rows N         test rows evaluated (a random sample; 1000)\n"
    "  --max-seconds T       stop after T seconds (0: no limit)\n"
    "  --linger T            seconds to keep gossiping after --steps (2)\n"
    "checkpoints (docs/CHECKPOINTS.md):\n"
    "  --ckpt-dir DIR        keep snapshots in an LMDB store in DIR; on start, resume\n"
    "                        from the newest valid one (none: no checkpoints)\n"
    "  --ckpt-every N        a snapshot every N steps (500) ...\n"
    "  --ckpt-every-ms MS    ... or every MS milliseconds (10000), and on a clean stop\n"
    "  --ckpt-keep K         snapshots kept (3)\n"
    "  --ckpt-sync full|nosync  fsync each snapshot (full, the default) or not\n"
    "  --discard-corrupt     start fresh when DIR's store cannot be read at all\n"
    "                        (default: refuse to start)\n"
    "  --json                end with one JSON line of the results\n"
    "  -h, --help            this text\n";

typedef struct {
    const char *listen, *key, *allow, *data, *test;
    uint8_t network_key[32];
    bool has_network_key, json, label_skew, idle_given;
    float test_fraction, alpha, lr, dropout, logit_adjust, max_seconds, linger;
    rm_node_seed seeds[RM_NODE_SEEDS_MAX];
    uint32_t nseeds;
    uint64_t shard, shards, batch, steps, interval_ms, concurrent, seed, status_ms, eval_rows;
    uint64_t steps_per_merge, merge_wait_ms;
    uint64_t handshake_timeout_ms, idle_timeout_ms;
    rm_merge_rule merge;
    char model[128];
    const char *ckpt_dir;
    uint64_t ckpt_every, ckpt_every_ms, ckpt_keep;
    bool ckpt_nosync, discard_corrupt;
} node_args;

enum { OPT_LISTEN = 256, OPT_KEY, OPT_ALLOW, OPT_NETKEY, OPT_SEED_PEER, OPT_DATA,
       OPT_TEST, OPT_TEST_FRACTION, OPT_SHARD, OPT_SPLIT, OPT_ALPHA, OPT_MODEL,
       OPT_DROPOUT, OPT_LOGIT_ADJUST, OPT_LR, OPT_BATCH, OPT_STEPS, OPT_INTERVAL, OPT_CONCURRENT,
       OPT_STEPS_PER_MERGE, OPT_MERGE_WAIT, OPT_MERGE, OPT_SEED,
       OPT_STATUS, OPT_EVAL_ROWS, OPT_MAX_SECONDS, OPT_LINGER, OPT_JSON,
       OPT_HANDSHAKE_TIMEOUT, OPT_IDLE_TIMEOUT, OPT_CKPT_DIR, OPT_CKPT_EVERY,
       OPT_CKPT_EVERY_MS, OPT_CKPT_KEEP, OPT_CKPT_SYNC, OPT_DISCARD_CORRUPT };

static const struct option options[] = {
    {"listen", required_argument, 0, OPT_LISTEN},
    {"key", required_argument, 0, OPT_KEY},
    {"allow", required_argument, 0, OPT_ALLOW},
    {"network-key", required_argument, 0, OPT_NETKEY},
    {"seed-peer", required_argument, 0, OPT_SEED_PEER},
    {"handshake-timeout-ms", required_argument, 0, OPT_HANDSHAKE_TIMEOUT},
    {"idle-timeout-ms", required_argument, 0, OPT_IDLE_TIMEOUT},
    {"data", required_argument, 0, OPT_DATA},
    {"test", required_argument, 0, OPT_TEST},
    {"test-fraction", required_argument, 0, OPT_TEST_FRACTION},
    {"shard", required_argument, 0, OPT_SHARD},
    {"split", required_argument, 0, OPT_SPLIT},
    {"alpha", required_argument, 0, OPT_ALPHA},
    {"model", required_argument, 0, OPT_MODEL},
    {"dropout", required_argument, 0, OPT_DROPOUT},
    {"logit-adjust", required_argument, 0, OPT_LOGIT_ADJUST},
    {"lr", required_argument, 0, OPT_LR},
    {"batch", required_argument, 0, OPT_BATCH},
    {"steps", required_argument, 0, OPT_STEPS},
    {"interval", required_argument, 0, OPT_INTERVAL},
    {"merge", required_argument, 0, OPT_MERGE},
    {"concurrent", required_argument, 0, OPT_CONCURRENT},
    {"steps-per-merge", required_argument, 0, OPT_STEPS_PER_MERGE},
    {"merge-wait-ms", required_argument, 0, OPT_MERGE_WAIT},
    {"seed", required_argument, 0, OPT_SEED},
    {"status", required_argument, 0, OPT_STATUS},
    {"eval-rows", required_argument, 0, OPT_EVAL_ROWS},
    {"max-seconds", required_argument, 0, OPT_MAX_SECONDS},
    {"linger", required_argument, 0, OPT_LINGER},
    {"json", no_argument, 0, OPT_JSON},
    {"ckpt-dir", required_argument, 0, OPT_CKPT_DIR},
    {"ckpt-every", required_argument, 0, OPT_CKPT_EVERY},
    {"ckpt-every-ms", required_argument, 0, OPT_CKPT_EVERY_MS},
    {"ckpt-keep", required_argument, 0, OPT_CKPT_KEEP},
    {"ckpt-sync", required_argument, 0, OPT_CKPT_SYNC},
    {"discard-corrupt", no_argument, 0, OPT_DISCARD_CORRUPT},
    {"config", required_argument, 0, 'c'},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

static int parse_args(int argc, char **argv, node_args *a) {
    const char *cmd = "node";
    memset(a, 0, sizeof *a);
    if (!rm_cli_config_expand(cmd, options, &argc, &argv))
        return RM_EXIT_USAGE;
    a->data = "fashion-mnist";
    a->test_fraction = 0.1f;
    a->alpha = 0.5f;
    a->lr = 0.001f;
    a->linger = 2.0f;
    a->shards = 1;
    a->batch = 32;
    a->interval_ms = 200;
    a->concurrent = 1;
    a->merge_wait_ms = 1000;
    a->seed = 1;
    a->status_ms = 2000;
    a->eval_rows = 1000;
    a->handshake_timeout_ms = RM_NODE_HANDSHAKE_TIMEOUT_MS_DEFAULT;
    a->idle_timeout_ms = RM_NODE_IDLE_TIMEOUT_MS_DEFAULT;
    a->merge = RM_MERGE_PAIRWISE;
    a->ckpt_every = 500;
    a->ckpt_every_ms = 10000;
    a->ckpt_keep = 3;
    snprintf(a->model, sizeof a->model, "mlp:784-128-10");
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (ch) {
        case OPT_LISTEN: a->listen = optarg; break;
        case OPT_KEY: a->key = optarg; break;
        case OPT_ALLOW: a->allow = optarg; break;
        case OPT_NETKEY:
            if (strlen(optarg) != RM_KEY_HEX_CHARS ||
                rm_key_from_text(a->network_key, optarg, RM_KEY_HEX_CHARS) != RM_OK) {
                rm_cli_error(cmd, "--network-key: expected 64 hex digits");
                return RM_EXIT_USAGE;
            }
            a->has_network_key = true;
            break;
        case OPT_SEED_PEER: {
            const char *at = strchr(optarg, '@');
            rm_node_seed *s = &a->seeds[a->nseeds];
            char host[64];
            int port;
            if (a->nseeds >= RM_NODE_SEEDS_MAX) {
                rm_cli_error(cmd, "--seed-peer: at most %d", RM_NODE_SEEDS_MAX);
                return RM_EXIT_USAGE;
            }
            if (!at || at - optarg != 64 || strlen(at + 1) > RM_PEER_ADDR_MAX ||
                rm_key_from_text(s->id, optarg, RM_KEY_HEX_CHARS) != RM_OK ||
                !rm_node_parse_addr(at + 1, host, sizeof host, &port)) {
                rm_cli_error(cmd, "--seed-peer: '%s' is not KEY@IP:PORT (64 hex digits)", optarg);
                return RM_EXIT_USAGE;
            }
            snprintf(s->addr, sizeof s->addr, "%s", at + 1);
            a->nseeds++;
            break;
        }
        case OPT_HANDSHAKE_TIMEOUT:
            if (!rm_cli_parse_u64(cmd, "--handshake-timeout-ms", optarg, 1, 3600000,
                                  &a->handshake_timeout_ms))
                return RM_EXIT_USAGE;
            break;
        case OPT_IDLE_TIMEOUT:
            if (!rm_cli_parse_u64(cmd, "--idle-timeout-ms", optarg, 1, 86400000,
                                  &a->idle_timeout_ms))
                return RM_EXIT_USAGE;
            a->idle_given = true;
            break;
        case OPT_DATA: a->data = optarg; break;
        case OPT_TEST: a->test = optarg; break;
        case OPT_TEST_FRACTION:
            if (!rm_cli_parse_float(cmd, "--test-fraction", optarg, 0.001, 0.999, &a->test_fraction))
                return RM_EXIT_USAGE;
            break;
        case OPT_SHARD: {
            unsigned long i, k;
            char extra;
            if (sscanf(optarg, "%lu/%lu%c", &i, &k, &extra) != 2 || k == 0 || i >= k ||
                k > 100000) {
                rm_cli_error(cmd, "--shard: '%s' is not I/N with I < N", optarg);
                return RM_EXIT_USAGE;
            }
            a->shard = i;
            a->shards = k;
            break;
        }
        case OPT_SPLIT:
            if (strcmp(optarg, "iid") == 0)
                a->label_skew = false;
            else if (strcmp(optarg, "label-skew") == 0)
                a->label_skew = true;
            else {
                rm_cli_error(cmd, "--split: '%s' is not iid or label-skew", optarg);
                return RM_EXIT_USAGE;
            }
            break;
        case OPT_ALPHA:
            if (!rm_cli_parse_float(cmd, "--alpha", optarg, 1e-6, 1e6, &a->alpha))
                return RM_EXIT_USAGE;
            break;
        case OPT_MODEL:
            if (strlen(optarg) >= sizeof a->model) {
                rm_cli_error(cmd, "--model: spec is too long");
                return RM_EXIT_USAGE;
            }
            strcpy(a->model, optarg);
            break;
        case OPT_DROPOUT:
            if (!rm_cli_parse_float(cmd, "--dropout", optarg, 0.0, 0.95, &a->dropout))
                return RM_EXIT_USAGE;
            break;
        case OPT_LOGIT_ADJUST:
            if (!rm_cli_parse_float(cmd, "--logit-adjust", optarg, 0.0, 10.0,
                                    &a->logit_adjust))
                return RM_EXIT_USAGE;
            break;
        case OPT_LR:
            if (!rm_cli_parse_float(cmd, "--lr", optarg, 1e-9, 100.0, &a->lr))
                return RM_EXIT_USAGE;
            break;
        case OPT_BATCH:
            if (!rm_cli_parse_u64(cmd, "--batch", optarg, 1, 65536, &a->batch))
                return RM_EXIT_USAGE;
            break;
        case OPT_STEPS:
            if (!rm_cli_parse_u64(cmd, "--steps", optarg, 0, UINT64_MAX, &a->steps))
                return RM_EXIT_USAGE;
            break;
        case OPT_INTERVAL:
            if (!rm_cli_parse_u64(cmd, "--interval", optarg, 1, 3600000, &a->interval_ms))
                return RM_EXIT_USAGE;
            break;
        case OPT_CONCURRENT:
            if (!rm_cli_parse_u64(cmd, "--concurrent", optarg, 1, RM_PEER_EXCHANGES_MAX,
                                  &a->concurrent))
                return RM_EXIT_USAGE;
            break;
        case OPT_STEPS_PER_MERGE:
            if (!rm_cli_parse_u64(cmd, "--steps-per-merge", optarg, 0, 1000000,
                                  &a->steps_per_merge))
                return RM_EXIT_USAGE;
            break;
        case OPT_MERGE_WAIT:
            if (!rm_cli_parse_u64(cmd, "--merge-wait-ms", optarg, 1, 3600000,
                                  &a->merge_wait_ms))
                return RM_EXIT_USAGE;
            break;
        case OPT_MERGE: {
            int r = rm_merge_rule_parse(optarg);
            if (r < 0) {
                rm_cli_error(cmd, "--merge: '%s' is not pairwise, age or pushsum", optarg);
                return RM_EXIT_USAGE;
            }
            a->merge = (rm_merge_rule)r;
            break;
        }
        case OPT_SEED:
            if (!rm_cli_parse_u64(cmd, "--seed", optarg, 0, UINT64_MAX, &a->seed))
                return RM_EXIT_USAGE;
            break;
        case OPT_STATUS:
            if (!rm_cli_parse_u64(cmd, "--status", optarg, 0, 3600000, &a->status_ms))
                return RM_EXIT_USAGE;
            break;
        case OPT_EVAL_ROWS:
            if (!rm_cli_parse_u64(cmd, "--eval-rows", optarg, 1, 1u << 26, &a->eval_rows))
                return RM_EXIT_USAGE;
            break;
        case OPT_MAX_SECONDS:
            if (!rm_cli_parse_float(cmd, "--max-seconds", optarg, 0.0, 1e9, &a->max_seconds))
                return RM_EXIT_USAGE;
            break;
        case OPT_LINGER:
            if (!rm_cli_parse_float(cmd, "--linger", optarg, 0.0, 1e9, &a->linger))
                return RM_EXIT_USAGE;
            break;
        case OPT_JSON: a->json = true; break;
        case OPT_CKPT_DIR: a->ckpt_dir = optarg; break;
        case OPT_CKPT_EVERY:
            if (!rm_cli_parse_u64(cmd, "--ckpt-every", optarg, 0, UINT64_MAX, &a->ckpt_every))
                return RM_EXIT_USAGE;
            break;
        case OPT_CKPT_EVERY_MS:
            if (!rm_cli_parse_u64(cmd, "--ckpt-every-ms", optarg, 0, UINT32_MAX,
                                  &a->ckpt_every_ms))
                return RM_EXIT_USAGE;
            break;
        case OPT_CKPT_KEEP:
            if (!rm_cli_parse_u64(cmd, "--ckpt-keep", optarg, 1, 1000, &a->ckpt_keep))
                return RM_EXIT_USAGE;
            break;
        case OPT_CKPT_SYNC:
            if (strcmp(optarg, "full") && strcmp(optarg, "nosync")) {
                rm_cli_error(cmd, "--ckpt-sync: '%s' is not full or nosync", optarg);
                return RM_EXIT_USAGE;
            }
            a->ckpt_nosync = strcmp(optarg, "nosync") == 0;
            break;
        case OPT_DISCARD_CORRUPT: a->discard_corrupt = true; break;
        case 'c': break; /* expanded above */
        case 'h': fputs(usage, stdout); return RM_EXIT_OK;
        default: fputs("Try 'rumor node --help'.\n", stderr); return RM_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        rm_cli_error(cmd, "unexpected argument '%s' (try --help)", argv[optind]);
        return RM_EXIT_USAGE;
    }
    char host[64];
    int port;
    if (!a->listen || !rm_node_parse_addr(a->listen, host, sizeof host, &port) ||
        strlen(a->listen) > RM_PEER_ADDR_MAX) {
        rm_cli_error(cmd, "--listen: expected IP:PORT (try --help)");
        return RM_EXIT_USAGE;
    }
    if (!a->key) {
        rm_cli_error(cmd, "--key FILE is required (rumor keygen makes one)");
        return RM_EXIT_USAGE;
    }
    if (!a->allow && !a->has_network_key) {
        rm_cli_error(cmd, "--allow FILE or --network-key HEX is required");
        return RM_EXIT_USAGE;
    }
    /* An idle connection is one the core has stopped using: with a timeout
     * near the gossip interval, live connections would be cut and redialled
     * between exchanges. The default grows with a long interval. */
    if (!a->idle_given && a->idle_timeout_ms < 10 * a->interval_ms)
        a->idle_timeout_ms = 10 * a->interval_ms;
    if (a->idle_timeout_ms < 10 * a->interval_ms) {
        rm_cli_error(cmd, "--idle-timeout-ms %llu: must be at least 10 gossip intervals "
                     "(--interval %llu, so %llu)", (unsigned long long)a->idle_timeout_ms,
                     (unsigned long long)a->interval_ms,
                     (unsigned long long)(10 * a->interval_ms));
        return RM_EXIT_USAGE;
    }
    return -1;
}

/* ---- the node's data: its shard and the rows it evaluates on ------------- */

/* This node's rows, by increasing index, from shard_of over the whole
 * training set's labels: rm_dataset_shard with the seed's stream 3, so that
 * every node computes the same assignment. */
static rm_err pick_shard(const rm_dataset *labels, const node_args *a, uint32_t **idx,
                         size_t *m) {
    *idx = NULL;
    *m = 0;
    uint32_t *of = malloc((labels->n ? labels->n : 1) * sizeof *of);
    if (!of)
        return RM_ENOMEM;
    rm_rng r;
    rm_rng_seed_stream(&r, a->seed, 3); /* the shards: the same on every node */
    rm_err err = rm_dataset_shard(labels, (uint32_t)a->shards,
                                  a->label_skew ? RM_SHARD_LABEL_SKEW : RM_SHARD_IID, a->alpha,
                                  &r, of);
    size_t k = 0;
    for (size_t i = 0; !err && i < labels->n; i++)
        if (of[i] == a->shard)
            of[k++] = (uint32_t)i; /* in place: k <= i */
    *idx = of;
    *m = k;
    return err;
}

/* The test rows the node evaluates on: --eval-rows of the n, a random
 * sample in file order, the same on every node (the first rows of
 * Fashion-MNIST's test set are easier than the rest). Sets *m; NULL when
 * out of memory. */
static uint32_t *eval_rows_pick(const node_args *a, size_t n, size_t *m) {
    *m = a->eval_rows < n ? a->eval_rows : n;
    uint32_t *idx = malloc((*m ? *m : 1) * sizeof *idx);
    if (idx) {
        rm_rng r;
        rm_rng_seed_stream(&r, a->seed, 7);
        rm_rng_sample_sorted(&r, (uint32_t)n, (uint32_t)*m, idx);
    }
    return idx;
}

/* The folder of IDX files --data names, or NULL (a CSV or libsvm file). */
static const char *idx_folder(const char *data) {
    struct stat st;
    if (strcmp(data, "fashion-mnist") == 0)
        return RM_FASHION_MNIST_DIR;
    if (strncmp(data, "mnist:", 6) == 0)
        return data + 6;
    return stat(data, &st) == 0 && S_ISDIR(st.st_mode) ? data : NULL;
}

/* IDX folders: only this node's rows and the eval rows are ever read. The
 * labels come first (60 KB for Fashion-MNIST), the shard is picked from
 * them, and the image files are streamed keeping only those rows, so that
 * the node's peak memory is its shard, not the whole set (47 MB). */
static rm_err load_idx_rows(const char *dir, const node_args *a, rm_dataset *shard,
                            rm_dataset *eval, rm_diag *d) {
    char img[4096], lab[4096];
    rm_dataset labels = {0};
    uint32_t *idx = NULL;
    size_t m = 0;
    rm_err err = rm_mnist_paths(dir, RM_MNIST_TRAIN, img, lab, sizeof img, d);
    if (!err)
        err = rm_idx_read_labels(lab, 10, &labels, d);
    if (!err && (err = pick_shard(&labels, a, &idx, &m)))
        rm_diag_set(d, err, "cannot deal the shards: %s", rm_strerror(err));
    rm_dataset_free(&labels);
    if (!err)
        err = rm_idx_read_pair_rows(img, lab, 10, idx, m, shard, d);
    free(idx);
    idx = NULL;
    if (!err)
        err = rm_mnist_paths(dir, RM_MNIST_TEST, img, lab, sizeof img, d);
    if (!err)
        err = rm_idx_read_labels(lab, 10, &labels, d);
    if (!err && !(idx = eval_rows_pick(a, labels.n, &m)))
        err = rm_diag_set(d, RM_ENOMEM, "out of memory");
    rm_dataset_free(&labels);
    if (!err)
        err = rm_idx_read_pair_rows(img, lab, 10, idx, m, eval, d);
    free(idx);
    if (!err && shard->d != eval->d)
        err = rm_diag_set(d, RM_EMISMATCH, "train images have %zu features, test images %zu",
                          shard->d, eval->d);
    return err;
}

/* Reads the node's shard of the training rows and its eval rows (--eval-rows
 * test rows drawn from the seed). Returns -1 when it has both, else the exit code
 * after saying why. */
static int load_data(const char *cmd, const node_args *a, rm_dataset *shard, rm_dataset *eval) {
    const char *dir = idx_folder(a->data);
    rm_err err;
    if (dir && !a->test) {
        rm_diag d = {{0}};
        if ((err = load_idx_rows(dir, a, shard, eval, &d))) {
            rm_cli_error(cmd, "%s", d.msg[0] ? d.msg : rm_strerror(err));
            if (strcmp(a->data, "fashion-mnist") == 0 && err == RM_ENOENT)
                fprintf(stderr, "  (install it with: apt-get install dataset-fashion-mnist)\n");
            return RM_EXIT_FAIL;
        }
    } else {
        /* CSV and libsvm files (and a separate --test file): read whole,
         * then cut; they are text, so rarely large. */
        rm_dataset all = {0}, test = {0};
        uint32_t *idx = NULL;
        size_t m = 0;
        if (!rm_cli_load_data(cmd, a->data, a->test, a->test_fraction, a->seed, &all, &test))
            return RM_EXIT_FAIL;
        err = pick_shard(&all, a, &idx, &m);
        if (!err)
            err = rm_dataset_subset(&all, idx, m, shard);
        free(idx);
        idx = NULL;
        if (!err && !(idx = eval_rows_pick(a, test.n, &m)))
            err = RM_ENOMEM;
        if (!err)
            err = rm_dataset_subset(&test, idx, m, eval);
        free(idx);
        rm_dataset_free(&all);
        rm_dataset_free(&test);
        if (err) {
            rm_cli_error(cmd, "%s", rm_strerror(err));
            return RM_EXIT_FAIL;
        }
    }
    if (shard->n == 0) {
        rm_cli_error(cmd, "--shard %llu/%llu got no rows", (unsigned long long)a->shard,
                     (unsigned long long)a->shards);
        return RM_EXIT_USAGE;
    }
    return -1;
}

/* Opens the node's checkpoint store, bumps its incarnation (durably, before
 * the node says anything) and puts the newest valid snapshot, if any, back
 * into the trainer; *snap keeps the core's part for rm_node_run. Returns -1
 * when the node may start, else the exit code after saying why. */
static int open_checkpoints(const char *cmd, const node_args *a, rm_trainer *t,
                            rm_node_config *nc, rm_store **store, rm_snapshot *snap) {
    rm_store_options o;
    rm_store_options_default(&o);
    o.keep = (uint32_t)a->ckpt_keep;
    o.durability = a->ckpt_nosync ? RM_DURABLE_NOSYNC : RM_DURABLE_FULL;
    rm_diag d = {{0}};
    bool fresh;
    rm_err err = rm_store_open(store, a->ckpt_dir, &o, &fresh, &d);
    if (err == RM_ECKPT_CORRUPT && a->discard_corrupt) {
        fprintf(stderr, "rumor node: warning: %s; --discard-corrupt: starting fresh\n", d.msg);
        /* The store's two files only: the folder may hold the key too. */
        char f[4096];
        snprintf(f, sizeof f, "%s/data.mdb", a->ckpt_dir);
        remove(f);
        snprintf(f, sizeof f, "%s/lock.mdb", a->ckpt_dir);
        remove(f);
        d.msg[0] = '\0';
        err = rm_store_open(store, a->ckpt_dir, &o, &fresh, &d);
    }
    if (err) {
        rm_cli_error(cmd, "%s%s", d.msg[0] ? d.msg : rm_strerror(err),
                     err == RM_ECKPT_CORRUPT ? " (--discard-corrupt starts fresh instead)" : "");
        return RM_EXIT_FAIL;
    }
    if ((err = rm_store_bump_incarnation(*store, &nc->core.incarnation, &d))) {
        rm_cli_error(cmd, "%s", d.msg[0] ? d.msg : rm_strerror(err));
        return RM_EXIT_FAIL;
    }
    uint64_t id = 0;
    uint32_t skipped = 0;
    err = rm_store_load_latest(*store, snap, &id, &skipped, &d);
    if (err == RM_ECKPT_NONE) {
        printf("rumor node: no snapshot in %s yet: starting fresh (incarnation %llu)\n",
               a->ckpt_dir, (unsigned long long)nc->core.incarnation);
        return -1;
    }
    if (err) { /* snapshots there, none valid (or none readable) */
        bool damaged = err == RM_ECKPT_HASH || err == RM_ECKPT_CORRUPT ||
                       err == RM_ECKPT_MAGIC || err == RM_ECKPT_FORMAT;
        rm_cli_error(cmd, "%s%s", d.msg[0] ? d.msg : rm_strerror(err),
                     damaged && !a->discard_corrupt
                         ? " (--discard-corrupt starts fresh instead)" : "");
        if (!damaged || !a->discard_corrupt)
            return RM_EXIT_FAIL;
        return -1;
    }
    if (skipped)
        fprintf(stderr, "rumor node: warning: %u newer snapshot(s) failed verification (%s); "
                        "falling back to snapshot %llu\n", skipped, d.msg,
                (unsigned long long)id);
    if (nc->forest) { /* the trees it held */
        rm_forest *f = NULL;
        if (strcmp(snap->model, a->model) != 0)
            err = rm_diag_set(&d, RM_EMISMATCH, "the snapshot holds model %s, not %s",
                              snap->model, a->model);
        else
            err = rm_forest_decode(snap->extra, snap->extra_len, &f, &d);
        if (!err && (rm_forest_features(f) != rm_forest_features(nc->forest->forest) ||
                     rm_forest_classes(f) != rm_forest_classes(nc->forest->forest)))
            err = rm_diag_set(&d, RM_EMISMATCH,
                              "the snapshot's forest is for %u features and %u classes, "
                              "the data has %u and %u", rm_forest_features(f),
                              rm_forest_classes(f), rm_forest_features(nc->forest->forest),
                              rm_forest_classes(nc->forest->forest));
        if (err) {
            rm_forest_free(f);
            rm_cli_error(cmd, "%s: %s", a->ckpt_dir, d.msg);
            return RM_EXIT_FAIL;
        }
        rm_forest_free(nc->forest->forest);
        nc->forest->forest = f;
    } else if ((err = rm_ckpt_restore_trainer(snap, t, &nc->train_rng, &d))) {
        rm_cli_error(cmd, "%s: %s", a->ckpt_dir, d.msg);
        return RM_EXIT_FAIL;
    }
    nc->core_state = snap->view;
    nc->core_state_len = snap->view_len;
    nc->core_bases = snap->bases;
    nc->core_bases_len = snap->bases_len;
    nc->core.rejoin = true;
    printf("rumor node: resumed from snapshot %llu of %s: step %llu, epoch %llu "
           "(incarnation %llu); pulling a fresh model first\n", (unsigned long long)id,
           a->ckpt_dir, (unsigned long long)snap->step, (unsigned long long)snap->epoch,
           (unsigned long long)nc->core.incarnation);
    return -1;
}

/* A forest peer: its shard binned, an empty forest, and its share of the
 * trees (tree i of the forest is grown by the peer whose range holds i;
 * every peer uses the same seed, so ids never collide). */
static rm_err forest_setup(const node_args *a, const rm_dataset *shard,
                           const rm_dataset *eval, rm_node_forest *nf, rm_binned **bins,
                           rm_diag *d) {
    rm_forest_config_default(&nf->cfg);
    rm_err err = rm_forest_config_parse(a->model, &nf->cfg, d);
    if (!err)
        err = rm_binned_create(bins, shard, d);
    uint32_t classes = shard->classes > eval->classes ? shard->classes : eval->classes;
    if (!err && (err = rm_forest_create(&nf->forest, (uint32_t)shard->d, classes)))
        rm_diag_set(d, err, "cannot make the forest: %s", rm_strerror(err));
    nf->data = *bins;
    nf->seed = a->seed;
    nf->share = rm_forest_share(nf->cfg.trees, (uint32_t)a->shards, (uint32_t)a->shard);
    for (uint32_t j = 0; j < a->shard; j++)
        nf->first += rm_forest_share(nf->cfg.trees, (uint32_t)a->shards, j);
    return err;
}

/* FNV-1a of the model spec: peers refuse a HELLO for another model. */
static uint32_t model_tag(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

int rm_cmd_node(int argc, char **argv) {
    node_args a;
    int code = parse_args(argc, argv, &a);
    if (code >= 0)
        return code;
    const char *cmd = "node";
    openblas_set_num_threads(1);

    rm_keypair kp;
    rm_diag d = {{0}};
    rm_keyset *allow = NULL;
    if (rm_keyfile_read(&kp, a.key, &d) != RM_OK) {
        rm_cli_error(cmd, "%s", d.msg);
        return RM_EXIT_FAIL;
    }
    if (a.allow && rm_keyset_load(&allow, a.allow, &d) != RM_OK) {
        rm_cli_error(cmd, "%s", d.msg);
        rm_keypair_wipe(&kp);
        return RM_EXIT_FAIL;
    }
    rm_dataset shard = {0}, eval = {0};
    rm_trainer *t = NULL;
    rm_node_forest nf = {0};
    rm_binned *bins = NULL;
    rm_store *store = NULL;
    rm_snapshot snap = {0};
    code = load_data(cmd, &a, &shard, &eval);
    if (code >= 0)
        goto out;
    code = RM_EXIT_FAIL;
    rm_err err;
    rm_train_config tc;
    rm_train_config_default(&tc);
    snprintf(tc.model, sizeof tc.model, "%s", a.model);
    tc.dropout = a.dropout;
    tc.logit_adjust = a.logit_adjust;
    rm_optim_config_default(&tc.opt, RM_OPT_ADAM);
    tc.opt.lr = a.lr;
    tc.batch = (int)a.batch;
    tc.epochs = 1;
    rm_node_config nc;
    memset(&nc, 0, sizeof nc);
    /* Every node starts from the same initial model (the seed's), so that
     * the first averages are of models in one basin. */
    rm_rng init;
    rm_rng_seed_stream(&init, a.seed, 4);
    bool is_forest = strncmp(a.model, "forest", 6) == 0;
    if (is_forest && a.steps_per_merge) {
        rm_cli_error(cmd, "--steps-per-merge: a forest merges no models (its "
                          "trees travel as items); leave it 0");
        code = RM_EXIT_USAGE;
        goto out;
    }
    err = is_forest ? forest_setup(&a, &shard, &eval, &nf, &bins, &d)
                    : rm_trainer_create(&t, &tc, &shard, &init, &d);
    if (err) {
        rm_cli_error(cmd, "%s", d.msg[0] ? d.msg : rm_strerror(err));
        code = err == RM_ENOMEM ? RM_EXIT_FAIL : RM_EXIT_USAGE;
        goto out;
    }
    nc.listen = a.listen;
    nc.self = &kp;
    nc.allow = allow;
    nc.network_key = a.has_network_key ? a.network_key : NULL;
    nc.seeds = a.seeds;
    nc.nseeds = a.nseeds;
    rm_peer_config_default(&nc.core);
    nc.core.model_tag = model_tag(a.model);
    nc.core.merge = a.merge;
    nc.core.gossip_interval_us = a.interval_ms * 1000;
    nc.core.exchange_timeout_us = 4 * nc.core.gossip_interval_us;
    /* A forest's trees go one HAVE exchange at a time. */
    nc.core.exchanges_max = is_forest ? 1 : (uint32_t)a.concurrent;
    nc.core.steps_per_merge = (uint32_t)a.steps_per_merge;
    nc.core.merge_wait_us = a.merge_wait_ms * 1000;
    nc.core.max_steps = a.steps;
    nc.core.train = true;
    /* Per node streams: the key's first bytes tell nodes apart. */
    uint64_t who = 0;
    for (int k = 0; k < 8; k++)
        who = who << 8 | kp.pk[k];
    rm_rng_seed_stream(&nc.train_rng, a.seed ^ who, 5);
    nc.eval = &eval;
    nc.status_ms = (uint32_t)a.status_ms;
    nc.handshake_timeout_ms = (uint32_t)a.handshake_timeout_ms;
    nc.idle_timeout_ms = (uint32_t)a.idle_timeout_ms;
    nc.max_seconds = a.max_seconds;
    nc.linger_seconds = a.linger;
    nc.trainer = t;
    nc.forest = is_forest ? &nf : NULL;
    nc.model = a.model;
    if (a.ckpt_dir) {
        code = open_checkpoints(cmd, &a, t, &nc, &store, &snap);
        if (code >= 0)
            goto out;
        code = RM_EXIT_FAIL;
        nc.store = store;
        nc.ckpt_every_steps = a.ckpt_every;
        nc.ckpt_every_ms = (uint32_t)a.ckpt_every_ms;
    }
    /* The core's draws (exchange ids among them) are fresh in every
     * incarnation: a restarted node must not replay its old ids. */
    rm_rng_seed_stream(&nc.core_rng, a.seed ^ who, 6 + (nc.core.incarnation << 8));
    nc.log = stdout;
    nc.err = stderr;
    char fp[RM_KEY_FP_CHARS + 1];
    rm_key_fingerprint(fp, kp.pk);
    if (is_forest)
        printf("rumor node %s: listening on %s, %s, grows %u of its %u trees from tree %u "
               "(holds %zu), shard %llu/%llu (%zu rows), %zu eval rows, %u seed%s\n", fp,
               a.listen, a.model, nf.share, nf.cfg.trees, nf.first,
               rm_forest_count(nf.forest), (unsigned long long)a.shard,
               (unsigned long long)a.shards, shard.n, eval.n, a.nseeds,
               a.nseeds == 1 ? "" : "s");
    else
        printf("rumor node %s: listening on %s, %s, %zu parameters, shard %llu/%llu "
               "(%zu rows), %zu eval rows, %s merge, %u seed%s\n",
               fp, a.listen, a.model, t->mlp->nparams, (unsigned long long)a.shard,
               (unsigned long long)a.shards, shard.n, eval.n, rm_merge_rule_name(a.merge),
               a.nseeds, a.nseeds == 1 ? "" : "s");
    fflush(stdout);
    rm_node_result res;
    err = rm_node_run(&nc, &res, &d);
    if (err) {
        rm_cli_error(cmd, "%s", d.msg[0] ? d.msg : rm_strerror(err));
        goto out;
    }
    const rm_peer_stats *s = &res.core;
    uint64_t refused = rm_peer_refused(s);
    printf("done: %llu steps, %llu merges, %llu exchanges (%llu timed out), test %.2f%% "
           "(loss %.4f), %.1f s\n",
           (unsigned long long)s->steps, (unsigned long long)s->merges,
           (unsigned long long)s->exchanges_done, (unsigned long long)s->exchanges_timed_out,
           100.0 * res.test_accuracy, res.test_loss, res.seconds);
    if (a.json)
        printf("{\"id\":\"%s\",\"steps\":%llu,\"merges\":%llu,\"exchanges_done\":%llu,"
               "\"exchanges_timed_out\":%llu,\"test_accuracy\":%.6f,\"test_loss\":%.6f,"
               "\"train_loss\":%.6f,\"view\":%u,\"conns_accepted\":%llu,"
               "\"conns_dialled\":%llu,\"conns_failed\":%llu,\"handshakes_refused\":%llu,"
               "\"handshake_timeouts\":%llu,\"idle_closes\":%llu,"
               "\"frames_refused\":%llu,\"frames_dropped\":%llu,\"bytes_in\":%llu,"
               "\"bytes_out\":%llu,\"incarnation\":%llu,\"ckpt_saves\":%llu,"
               "\"ckpt_failed\":%llu,\"ckpt_last_step\":%llu,\"merge_waits\":%llu,"
               "\"merge_wait_timeouts\":%llu,\"seconds\":%.3f}\n",
               fp, (unsigned long long)s->steps, (unsigned long long)s->merges,
               (unsigned long long)s->exchanges_done,
               (unsigned long long)s->exchanges_timed_out, res.test_accuracy, res.test_loss,
               res.train_loss, res.view, (unsigned long long)res.conns_accepted,
               (unsigned long long)res.conns_dialled, (unsigned long long)res.conns_failed,
               (unsigned long long)res.handshakes_refused,
               (unsigned long long)res.handshake_timeouts, (unsigned long long)res.idle_closes,
               (unsigned long long)refused,
               (unsigned long long)res.frames_dropped, (unsigned long long)res.wire_bytes_in,
               (unsigned long long)res.wire_bytes_out, (unsigned long long)nc.core.incarnation,
               (unsigned long long)res.ckpt_saves, (unsigned long long)res.ckpt_failed,
               (unsigned long long)res.ckpt_last_step, (unsigned long long)s->merge_waits,
               (unsigned long long)s->merge_wait_timeouts, res.seconds);
    code = RM_EXIT_OK;
    goto out;
out:
    rm_snapshot_release(&snap);
    rm_store_close(store);
    rm_trainer_free(t);
    rm_forest_free(nf.forest);
    rm_binned_free(bins);
    rm_dataset_free(&shard);
    rm_dataset_free(&eval);
    rm_keyset_free(allow);
    rm_keypair_wipe(&kp);
    return code;
}
