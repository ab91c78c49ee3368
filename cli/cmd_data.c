/* rumor data: look at a dataset (info) and cut it into one shard file per
 * peer (split), as the simulator and rumor node cut it in memory. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "cli/cli_util.h"
#include "cli/commands.h"

static const char usage[] =
    "usage: rumor data split [options] --peers N --out DIR SOURCE\n"
    "       rumor data info [--json] SOURCE\n"
    "\n"
    "split  cuts SOURCE into one libsvm file per peer, DIR/shard-I.libsvm,\n"
    "       and writes DIR/manifest.ini (source, kind, alpha, seed, peers, and\n"
    "       each shard's file, rows and class counts). The same seed gives the\n"
    "       same files; an IDX source's shards are the ones that\n"
    "       `rumor node --shard I/N --seed S` trains on.\n"
    "info   prints the rows, features, classes and class balance of SOURCE\n"
    "       (for an IDX directory: of its training and its test set).\n"
    "\n"
    "SOURCE is fashion-mnist, mnist:DIR or DIR (IDX files; split uses the\n"
    "training set), FILE.csv (label first) or a libsvm file (all rows).\n"
    "'rumor data split --help' lists split's options.\n";

static const char split_usage[] =
    "usage: rumor data split [options] --peers N --out DIR SOURCE\n"
    "\n"
    "Writes DIR/shard-I.libsvm for I in 0..N-1 and DIR/manifest.ini.\n"
    "Shard files are libsvm (label index:value ..., one-based indices, zeros\n"
    "left out but the last feature always written, so that every shard reads\n"
    "back with the source's width); values are the ones training sees (IDX\n"
    "pixels already scaled to [0, 1]), printed so that they read back bit for\n"
    "bit.\n"
    "\n"
    "  --peers N               shards, 1..65536 (required)\n"
    "  --kind iid|label-skew   iid: a seeded shuffle cut in near-equal parts\n"
    "                          (default); label-skew: each class dealt out in\n"
    "                          Dirichlet(alpha) shares\n"
    "  --alpha A               label-skew's concentration, > 0 (0.5); smaller\n"
    "                          is more skewed\n"
    "  --seed S                seed of the shuffle or the shares (1)\n"
    "  --out DIR               where to write (created if missing; required)\n"
    "  --gzip                  write shard-I.libsvm.gz instead (rumor reads both)\n"
    "  -h, --help              this text\n";

static const char info_usage[] =
    "usage: rumor data info [--json] SOURCE\n"
    "\n"
    "Prints rows, features, classes and the class balance of SOURCE\n"
    "(fashion-mnist, mnist:DIR, DIR, FILE.csv or a libsvm file).\n"
    "  --json      one JSON line per set\n"
    "  -h, --help  this text\n";

/* ---- info --------------------------------------------------------------- */

static void print_info(const char *what, const rm_dataset *ds, bool json) {
    size_t *counts = calloc(ds->classes ? ds->classes : 1, sizeof *counts);
    if (!counts)
        return;
    rm_dataset_class_counts(ds, counts);
    if (json) {
        printf("{\"set\":\"%s\",\"rows\":%zu,\"features\":%zu,\"classes\":%u,"
               "\"dtype\":\"%s\",\"class_counts\":[", what, ds->n, ds->d,
               ds->classes, ds->dtype == RM_DTYPE_U8 ? "uint8" : "float32");
        for (uint32_t c = 0; c < ds->classes; c++)
            printf("%s%zu", c ? "," : "", counts[c]);
        printf("]}\n");
    } else {
        printf("%s: %zu rows, %zu features, %u classes; stored as %s\n", what,
               ds->n, ds->d, ds->classes,
               ds->dtype == RM_DTYPE_U8 ? "uint8 (scaled to [0, 1] for training)"
                                        : "float32");
        printf("  %5s  %8s  %6s\n", "class", "rows", "share");
        for (uint32_t c = 0; c < ds->classes; c++)
            printf("  %5u  %8zu  %5.1f%%\n", c, counts[c],
                   ds->n ? 100.0 * (double)counts[c] / (double)ds->n : 0.0);
    }
    free(counts);
}

static int cmd_info(int argc, char **argv) {
    const char *cmd = "data info";
    bool json = false;
    static const struct option options[] = {
        {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (ch) {
        case 'j': json = true; break;
        case 'h': fputs(info_usage, stdout); return RM_EXIT_OK;
        default: fputs("Try 'rumor data info --help'.\n", stderr); return RM_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        rm_cli_error(cmd, "expected one SOURCE (try --help)");
        return RM_EXIT_USAGE;
    }
    const char *src = argv[optind];
    rm_dataset train = {0}, test = {0};
    if (!rm_cli_load_rows(cmd, src, RM_CLI_ROWS_TRAIN, 0, &train))
        return RM_EXIT_FAIL;
    /* An IDX directory has a test set of its own; a file is one set. */
    struct stat st;
    bool idx = strcmp(src, "fashion-mnist") == 0 || strncmp(src, "mnist:", 6) == 0 ||
               (stat(src, &st) == 0 && S_ISDIR(st.st_mode));
    if (idx && !rm_cli_load_rows(cmd, src, RM_CLI_ROWS_TEST, 0, &test)) {
        rm_dataset_free(&train);
        return RM_EXIT_FAIL;
    }
    if (!json)
        printf("%s\n", src);
    print_info(idx ? "train" : "all", &train, json);
    if (idx) {
        if (!json)
            putchar('\n');
        print_info("test", &test, json);
    }
    rm_dataset_free(&train);
    rm_dataset_free(&test);
    return RM_EXIT_OK;
}

/* ---- split -------------------------------------------------------------- */

typedef struct {
    uint64_t peers, seed;
    rm_shard_kind kind;
    float alpha;
    const char *out;
    bool gzip;
} split_args;

/* Writes one shard as libsvm. Values go out with %.9g, which reads back
 * as the same float; for uint8 data the 256 strings are made once. */
static bool write_shard(const char *cmd, const char *path, const rm_dataset *ds,
                        bool gz) {
    gzFile f = gzopen(path, gz ? "wb6" : "wbT");
    if (!f) {
        rm_cli_error(cmd, "%s: cannot create it", path);
        return false;
    }
    char u8str[256][24];
    if (ds->dtype == RM_DTYPE_U8)
        for (int k = 0; k < 256; k++)
            snprintf(u8str[k], sizeof u8str[k], "%.9g", (double)((float)k * ds->scale));
    size_t cap = 32 + ds->d * 40;
    char *line = malloc(cap);
    bool ok = line != NULL;
    for (size_t i = 0; ok && i < ds->n; i++) {
        size_t at = (size_t)snprintf(line, cap, "%d", (int)ds->y[i]);
        for (size_t j = 0; j < ds->d; j++) {
            const char *v;
            char buf[24];
            if (ds->dtype == RM_DTYPE_U8) {
                uint8_t k = ds->x_u8[i * ds->d + j];
                if (k == 0 && j + 1 < ds->d)
                    continue;
                v = u8str[k];
            } else {
                float x = ds->x_f32[i * ds->d + j] * ds->scale;
                if (x == 0.0f && j + 1 < ds->d)
                    continue;
                snprintf(buf, sizeof buf, "%.9g", (double)x);
                v = buf;
            }
            at += (size_t)snprintf(line + at, cap - at, " %zu:%s", j + 1, v);
        }
        line[at++] = '\n';
        ok = gzwrite(f, line, (unsigned)at) == (int)at;
    }
    free(line);
    if (gzclose(f) != Z_OK || !ok) {
        rm_cli_error(cmd, "%s: cannot write it", path);
        return false;
    }
    return true;
}

static void write_counts(FILE *f, const rm_dataset *ds) {
    size_t *c = calloc(ds->classes ? ds->classes : 1, sizeof *c);
    if (!c)
        return;
    rm_dataset_class_counts(ds, c);
    for (uint32_t k = 0; k < ds->classes; k++)
        fprintf(f, "%s%zu", k ? "," : "", c[k]);
    free(c);
}

static int do_split(const char *cmd, const char *src, const split_args *a) {
    rm_dataset all = {0}, shard = {0};
    uint32_t *of = NULL;
    FILE *man = NULL;
    int code = RM_EXIT_FAIL;
    char path[4096];
    if (!rm_cli_load_rows(cmd, src, RM_CLI_ROWS_TRAIN, 0, &all))
        return RM_EXIT_FAIL;
    if (!(of = malloc(all.n * sizeof *of))) {
        rm_cli_error(cmd, "out of memory");
        goto out;
    }
    /* Stream 3 of the seed: the one `rumor node` shards with. */
    rm_rng r;
    rm_rng_seed_stream(&r, a->seed, 3);
    rm_err err = rm_dataset_shard(&all, (uint32_t)a->peers, a->kind, a->alpha, &r, of);
    if (err) {
        rm_cli_error(cmd, "%s: cannot shard it: %s", src, rm_strerror(err));
        goto out;
    }
    if (!rm_cli_mkdirs(cmd, a->out))
        goto out;
    snprintf(path, sizeof path, "%s/manifest.ini", a->out);
    if (!(man = fopen(path, "w"))) {
        rm_cli_error(cmd, "%s: cannot create it", path);
        goto out;
    }
    fprintf(man, "# rumor data split: one libsvm file per peer. Indices are one-based;\n"
                 "# values are as training sees them.\n"
                 "[split]\nsource = %s\nkind = %s\nalpha = %g\nseed = %llu\n"
                 "peers = %llu\nrows = %zu\nfeatures = %zu\nclasses = %u\n"
                 "format = libsvm%s\nclass_counts = ",
            src, a->kind == RM_SHARD_IID ? "iid" : "label-skew", (double)a->alpha,
            (unsigned long long)a->seed, (unsigned long long)a->peers, all.n, all.d,
            all.classes, a->gzip ? " (gzip)" : "");
    write_counts(man, &all);
    fputc('\n', man);
    int width = 1;
    for (uint64_t p = a->peers - 1; p >= 10; p /= 10)
        width++;
    for (uint32_t i = 0; i < a->peers; i++) {
        if ((err = rm_dataset_take_shard(&all, of, i, &shard))) {
            rm_cli_error(cmd, "shard %u: %s", i, rm_strerror(err));
            goto out;
        }
        shard.classes = all.classes;
        char name[64];
        snprintf(name, sizeof name, "shard-%0*u.libsvm%s", width, i, a->gzip ? ".gz" : "");
        snprintf(path, sizeof path, "%s/%s", a->out, name);
        if (!write_shard(cmd, path, &shard, a->gzip))
            goto out;
        fprintf(man, "\n[shard %u]\nfile = %s\nrows = %zu\nclass_counts = ", i, name,
                shard.n);
        write_counts(man, &shard);
        fputc('\n', man);
        rm_dataset_free(&shard);
    }
    if (fclose(man) != 0) {
        man = NULL;
        rm_cli_error(cmd, "%s/manifest.ini: cannot write it", a->out);
        goto out;
    }
    man = NULL;
    printf("rumor data split: %zu rows of %s into %llu %s shards in %s (seed %llu)\n",
           all.n, src, (unsigned long long)a->peers,
           a->kind == RM_SHARD_IID ? "iid" : "label-skew", a->out,
           (unsigned long long)a->seed);
    code = RM_EXIT_OK;
out:
    if (man)
        fclose(man);
    rm_dataset_free(&shard);
    rm_dataset_free(&all);
    free(of);
    return code;
}

static int cmd_split(int argc, char **argv) {
    const char *cmd = "data split";
    split_args a = {.seed = 1, .kind = RM_SHARD_IID, .alpha = 0.5f};
    static const struct option options[] = {
        {"peers", required_argument, 0, 'n'}, {"kind", required_argument, 0, 'k'},
        {"alpha", required_argument, 0, 'a'}, {"seed", required_argument, 0, 's'},
        {"out", required_argument, 0, 'o'},   {"gzip", no_argument, 0, 'z'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0},
    };
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (ch) {
        case 'n':
            if (!rm_cli_parse_u64(cmd, "--peers", optarg, 1, 65536, &a.peers))
                return RM_EXIT_USAGE;
            break;
        case 'k':
            if (strcmp(optarg, "iid") == 0)
                a.kind = RM_SHARD_IID;
            else if (strcmp(optarg, "label-skew") == 0)
                a.kind = RM_SHARD_LABEL_SKEW;
            else {
                rm_cli_error(cmd, "--kind: '%s' is not iid or label-skew", optarg);
                return RM_EXIT_USAGE;
            }
            break;
        case 'a':
            if (!rm_cli_parse_float(cmd, "--alpha", optarg, 1e-6, 1e6, &a.alpha))
                return RM_EXIT_USAGE;
            break;
        case 's':
            if (!rm_cli_parse_u64(cmd, "--seed", optarg, 0, UINT64_MAX, &a.seed))
                return RM_EXIT_USAGE;
            break;
        case 'o': a.out = optarg; break;
        case 'z': a.gzip = true; break;
        case 'h': fputs(split_usage, stdout); return RM_EXIT_OK;
        default: fputs("Try 'rumor data split --help'.\n", stderr); return RM_EXIT_USAGE;
        }
    }
    if (!a.peers || !a.out || optind + 1 != argc) {
        rm_cli_error(cmd, "%s (try --help)",
                     !a.peers ? "--peers N is required"
                     : !a.out ? "--out DIR is required"
                              : "expected one SOURCE");
        return RM_EXIT_USAGE;
    }
    return do_split(cmd, argv[optind], &a);
}

int rm_cmd_data(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage, stderr);
        return RM_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage, stdout);
        return RM_EXIT_OK;
    }
    if (strcmp(argv[1], "split") == 0)
        return cmd_split(argc - 1, argv + 1);
    if (strcmp(argv[1], "info") == 0)
        return cmd_info(argc - 1, argv + 1);
    rm_cli_error("data", "'%s' is not a data command (split, info)", argv[1]);
    return RM_EXIT_USAGE;
}
