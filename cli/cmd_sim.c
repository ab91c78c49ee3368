/* rumor sim: runs a scenario in virtual time and writes its metrics. */
#include <cblas.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "models/model_file.h"
#include "sim/sim.h"

static const char usage[] =
    "usage: rumor sim SCENARIO.ini [options]\n"
    "\n"
    "Runs the scenario's peers (the real gossip core and learners) in\n"
    "virtual time, with its network faults, and writes a metrics time series.\n"
    "The same scenario and seed give byte-identical output.\n"
    "\n"
    "  --seed S     seed of every random choice (default: the scenario's [run] seed)\n"
    "  --out DIR    write DIR/metrics.csv (and plots); created if missing\n"
    "  --plot       also write DIR/accuracy.png and DIR/consensus.png (gnuplot)\n"
    "  --no-faults  drop the scenario's [fault] sections: the same run, fault-free,\n"
    "               to compare against\n"
    "  --save FILE  write the model a live peer ends with (after the final\n"
    "               averaging, every peer's) as a model file for rumor eval\n"
    "               and rumor predict; not for vector:N models\n"
    "  --json       end with one JSON line of the results\n"
    "  --quiet      no progress lines\n"
    "  -h, --help   this text\n"
    "\n"
    "Scenario files are described in docs/SCENARIOS.md; examples are in\n"
    "examples/scenarios/.\n";

typedef struct {
    FILE *csv;
    bool quiet, tty;
    uint64_t duration_us;
    double wall0;
    rm_progress bar;
} run_ctx;

static void csv_header(FILE *f) {
    fputs("t_s,live,acc_mean,acc_min,acc_max,consensus,mean_error,bytes_sent,"
          "msgs_sent,msgs_dropped,refused,deliveries,events\n", f);
}

/* Fixed formats: the file must be byte-identical for the same seed. */
static void csv_row(FILE *f, const rm_sim_metrics *m) {
    fprintf(f, "%.3f,%u,%.6f,%.6f,%.6f,%.9e,%.9e,%llu,%llu,%llu,%llu,%llu,%llu\n",
            (double)m->t_us / 1e6, m->live, m->acc_mean, m->acc_min, m->acc_max,
            m->consensus, m->mean_error, (unsigned long long)m->bytes_sent,
            (unsigned long long)m->msgs_sent, (unsigned long long)m->msgs_dropped,
            (unsigned long long)m->refused, (unsigned long long)m->deliveries,
            (unsigned long long)m->events);
}

static void on_metrics(void *user, const rm_sim_metrics *m, int final) {
    run_ctx *c = user;
    if (c->csv)
        csv_row(c->csv, m);
    if (c->quiet || final)
        return;
    double frac = (double)m->t_us / (double)c->duration_us;
    char text[160];
    if (isnan(m->acc_mean))
        snprintf(text, sizeof text, "t=%.1fs live %u consensus %.3e", m->t_us / 1e6,
                 m->live, m->consensus);
    else
        snprintf(text, sizeof text, "t=%.1fs live %u acc %.2f%% [%.2f, %.2f] consensus %.3e",
                 m->t_us / 1e6, m->live, 100 * m->acc_mean, 100 * m->acc_min,
                 100 * m->acc_max, m->consensus);
    if (c->bar.on)
        rm_progress_draw(&c->bar, frac, text);
    else
        printf("  %s  (%.1f s wall)\n", text, rm_cli_now() - c->wall0);
}

static bool plot(const char *dir) {
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        fprintf(stderr, "rumor sim: --plot needs gnuplot: apt-get install gnuplot-nox "
                        "(metrics.csv was written)\n");
        return false;
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "gnuplot -e \"set datafile separator ','; set terminal png size 900,500; "
             "set key autotitle columnhead; set xlabel 'virtual time (s)'; "
             "set output '%s/accuracy.png'; set ylabel 'test accuracy'; set key bottom right; "
             "plot '%s/metrics.csv' using 1:3 with lines title 'mean', '' using 1:4 "
             "with lines title 'min', '' using 1:5 with lines title 'max'; "
             "set output '%s/consensus.png'; set logscale y; set ylabel "
             "'consensus distance'; plot '%s/metrics.csv' using 1:6 with lines "
             "title 'mean squared distance to the mean model'\"",
             dir, dir, dir, dir);
    return system(cmd) == 0;
}

static bool load_sim_data(const rm_scenario *sc, rm_dataset *train, rm_dataset *test) {
    if (sc->data == RM_DATA_NONE || strncmp(sc->model, "vector:", 7) == 0)
        return true;
    const char *src = sc->data == RM_DATA_FASHION_MNIST ? "fashion-mnist" : sc->data_path;
    return rm_cli_load_data("sim", src, NULL, 0.1, sc->seed, train, test);
}

/* Every training peer's checkpoint store holds 3 file descriptors open
 * (LMDB's data and lock files), so a few hundred peers outgrow the usual
 * soft limit of 1,024: raise it to the hard limit, as far as it needs. */
static void raise_fd_limit(uint32_t peers) {
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) != 0)
        return;
    rlim_t want = (rlim_t)peers * 3 + 64;
    if (r.rlim_cur != RLIM_INFINITY && r.rlim_cur < want) {
        r.rlim_cur = r.rlim_max == RLIM_INFINITY || r.rlim_max > want ? want : r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r); /* best effort: the error below names it */
    }
}

/* --save: the first live peer's model. After a final averaging phase every
 * peer holds the same one; without one, the file says which peer it is. */
static bool save_model(const rm_sim *sim, const char *spec, const char *path, bool quiet) {
    uint32_t i = rm_sim_first_live(sim);
    if (i == UINT32_MAX) {
        rm_cli_error("sim", "--save %s: no peer is up at the end of the run", path);
        return false;
    }
    rm_diag d = {{0}};
    rm_err err;
    const rm_forest *f = rm_sim_peer_forest(sim, i);
    if (!f && strncmp(spec, "forest", 6) == 0) {
        rm_cli_error("sim", "--save %s: peer %u holds no forest", path, i);
        return false;
    }
    if (f) {
        uint8_t *blob = NULL;
        size_t len = 0;
        err = rm_forest_encode(f, &blob, &len);
        if (!err)
            err = rm_model_file_save(path, spec, blob, len, &d);
        free(blob);
    } else {
        err = rm_model_file_save_params(path, spec, rm_sim_peer_params(sim, i),
                                        rm_sim_get_plan(sim)->params, &d);
    }
    if (err) {
        rm_cli_error("sim", "--save %s: %s", path, d.msg[0] ? d.msg : rm_strerror(err));
        return false;
    }
    if (!quiet)
        printf("  model               peer %u's, saved to %s\n", i, path);
    return true;
}

int rm_cmd_sim(int argc, char **argv) {
    static const struct option options[] = {
        {"seed", required_argument, 0, 's'}, {"out", required_argument, 0, 'o'},
        {"plot", no_argument, 0, 'p'},       {"json", no_argument, 0, 'j'},
        {"quiet", no_argument, 0, 'q'},      {"help", no_argument, 0, 'h'},
        {"no-faults", no_argument, 0, 'F'},  {"save", required_argument, 0, 'S'},
        {0, 0, 0, 0}};
    const char *out = NULL, *save = NULL;
    bool json = false, want_plot = false, quiet = false, seed_set = false, no_faults = false;
    uint64_t seed = 0;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (ch) {
        case 's':
            if (!rm_cli_parse_u64("sim", "--seed", optarg, 0, UINT64_MAX, &seed))
                return RM_EXIT_USAGE;
            seed_set = true;
            break;
        case 'o': out = optarg; break;
        case 'p': want_plot = true; break;
        case 'j': json = true; break;
        case 'q': quiet = true; break;
        case 'F': no_faults = true; break;
        case 'S': save = optarg; break;
        case 'h': fputs(usage, stdout); return RM_EXIT_OK;
        default: fputs("Try 'rumor sim --help'.\n", stderr); return RM_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        rm_cli_error("sim", "expected one scenario file (try --help)");
        return RM_EXIT_USAGE;
    }
    const char *path = argv[optind];
    if (want_plot && !out) {
        rm_cli_error("sim", "--plot needs --out DIR");
        return RM_EXIT_USAGE;
    }
    rm_scenario sc;
    rm_scenario_default(&sc);
    rm_diag diag = {{0}};
    rm_err err = rm_scenario_load(path, &sc, &diag);
    if (err) {
        rm_cli_error("sim", "%s: %s", path, diag.msg[0] ? diag.msg : rm_strerror(err));
        return err == RM_EINVAL ? RM_EXIT_USAGE : RM_EXIT_FAIL;
    }
    if (save && strncmp(sc.model, "vector:", 7) == 0) {
        rm_cli_error("sim", "--save: %s's model is a vector (%s), not a model file kind",
                     path, sc.model);
        return RM_EXIT_USAGE;
    }
    if (!seed_set)
        seed = sc.seed;
    if (no_faults)
        sc.nfaults = 0;
    /* One BLAS thread: a run must be bit-for-bit repeatable. */
    openblas_set_num_threads(1);

    rm_dataset train = {0}, test = {0};
    if (!load_sim_data(&sc, &train, &test))
        return RM_EXIT_FAIL;
    run_ctx c = {.quiet = quiet, .duration_us = sc.duration_us};
    rm_progress_init(&c.bar);
    if (quiet)
        c.bar.on = false;
    char csv_path[4096];
    if (out) {
        if (!rm_cli_mkdirs("sim", out)) {
            rm_dataset_free(&train);
            rm_dataset_free(&test);
            return RM_EXIT_FAIL;
        }
        snprintf(csv_path, sizeof csv_path, "%s/metrics.csv", out);
        if (!(c.csv = fopen(csv_path, "w"))) {
            rm_cli_error("sim", "%s: cannot write it: %s", csv_path, strerror(errno));
            rm_dataset_free(&train);
            rm_dataset_free(&test);
            return RM_EXIT_FAIL;
        }
        csv_header(c.csv);
    }
    rm_sim_options o = {.seed = seed, .train = train.n ? &train : NULL,
                        .test = test.n ? &test : NULL, .on_metrics = on_metrics,
                        .ctx = &c};
    rm_sim *sim = NULL;
    int code = RM_EXIT_FAIL;
    char ckpt_dir[4096] = "";
    if (sc.ckpt_every_us) {
        raise_fd_limit(sc.peers);
        if (!rm_cli_tmpdir("sim", "ckpt", ckpt_dir, sizeof ckpt_dir)) {
            ckpt_dir[0] = '\0';
            goto out;
        }
        o.ckpt_dir = ckpt_dir;
    }
    err = rm_sim_create(&sim, &sc, &o, &diag);
    if (err) {
        rm_cli_error("sim", "%s: %s", path, diag.msg[0] ? diag.msg : rm_strerror(err));
        goto out;
    }
    const rm_sim_plan *plan = rm_sim_get_plan(sim);
    char lat[64], spd[64];
    rm_dist_format(&sc.link.latency, lat, sizeof lat);
    rm_dist_format(&sc.speed, spd, sizeof spd);
    if (!quiet) {
        printf("rumor sim %s\n  seed %llu (rerun: rumor sim %s --seed %llu)\n", path,
               (unsigned long long)seed, path, (unsigned long long)seed);
        if (strncmp(sc.model, "forest", 6) == 0) /* trees, merged by union */
            printf("  %u peers, model %s (trees gossiped as items, merged by union), "
                   "interval %.0f ms, view %u\n", plan->peers, sc.model,
                   sc.interval_us / 1e3, sc.view);
        else
            printf("  %u peers, model %s (%llu floats), merge %s, interval %.0f ms, view %u, "
                   "delta %s\n", plan->peers, sc.model, (unsigned long long)plan->params,
                   rm_merge_rule_name(sc.merge), sc.interval_us / 1e3, sc.view,
                   sc.delta ? (sc.delta_int8 ? "int8" : "f32") : "off");
        printf("  gossip: %u exchange(s) in flight at most, timeout %.0f ms",
               sc.concurrent, sc.timeout_us / 1e3);
        if (sc.steps_per_merge)
            printf("; a merge awaited after %u step(s) (%.0f ms at most)",
                   sc.steps_per_merge, sc.merge_wait_us / 1e3);
        putchar('\n');
        if (train.n)
            printf("  data: %zu train rows (%s, shards %llu..%llu rows), %u eval rows; "
                   "%llu steps per peer\n", train.n,
                   sc.label_skew ? "label skew" : "iid",
                   (unsigned long long)plan->shard_min, (unsigned long long)plan->shard_max,
                   sc.eval_rows, (unsigned long long)plan->steps_per_peer);
        if (sc.logit_adjust > 0.0f)
            printf("  logit adjustment: tau %g (shard priors in the training logits)\n",
                   (double)sc.logit_adjust);
        printf("  devices: step %.2f ms x speed %s (%.2f..%.2f), %u stragglers\n",
               sc.step_us / 1e3, spd, plan->speed_min, plan->speed_max, plan->stragglers);
        printf("  topology %u edges; link latency %s ms, loss %.3f%s, duplicate %.3f, "
               "reorder %.3f; %u faults; %.1f s virtual\n", plan->topo_edges, lat,
               sc.link.loss, sc.link.ge_on ? " + bursts" : "", sc.link.duplicate,
               sc.link.reorder, sc.nfaults, sc.duration_us / 1e6);
        fflush(stdout);
    }
    c.wall0 = rm_cli_now();
    err = rm_sim_run(sim);
    double wall = rm_cli_now() - c.wall0;
    rm_progress_clear(&c.bar);
    if (err) {
        rm_cli_error("sim", "the run failed: %s", rm_strerror(err));
        goto out;
    }
    const rm_sim_metrics *m = rm_sim_last(sim);
    const rm_sim_timing *tm = rm_sim_get_timing(sim);
    double overhead = wall > 0 ? (wall - tm->learn_seconds - tm->eval_seconds) / wall : 0;
    double machinery = wall > 0 ? overhead - tm->core_seconds / wall : 0;
    if (!quiet) {
        printf("\nsummary after %.1f s of virtual time (%.1f s wall, %.0f deliveries/s):\n",
               m->t_us / 1e6, wall, m->deliveries / wall);
        printf("  live peers          %u of %u\n", m->live, plan->peers);
        if (!isnan(m->acc_mean))
            printf("  test accuracy       mean %.2f%%  min %.2f%%  max %.2f%% (full test set)\n",
                   100 * m->acc_mean, 100 * m->acc_min, 100 * m->acc_max);
        printf("  consensus distance  %.3e\n", m->consensus);
        if (!isnan(m->mean_error))
            printf("  error of the mean   %.3e\n", m->mean_error);
        printf("  messages            %llu sent, %llu dropped, %llu refused, %llu delivered\n",
               (unsigned long long)m->msgs_sent, (unsigned long long)m->msgs_dropped,
               (unsigned long long)m->refused, (unsigned long long)m->deliveries);
        printf("  bytes sent          %.1f MB; %llu events\n", m->bytes_sent / 1e6,
               (unsigned long long)m->events);
        if (sc.steps_per_merge)
            printf("  merge waits         %llu (%llu ended by merge_wait, not a merge)\n",
                   (unsigned long long)m->merge_waits,
                   (unsigned long long)m->merge_wait_timeouts);
        printf("  wall time           %.1f s: training %.1f s, evaluation %.1f s, "
               "the rest %.1f s (%.1f%%)\n", wall, tm->learn_seconds, tm->eval_seconds,
               wall - tm->learn_seconds - tm->eval_seconds, 100 * overhead);
        if (tm->core_seconds > 0) /* (measured in training runs only) */
            printf("                      of which the peers' gossip cores %.1f s, "
                   "the simulator itself %.1f s (%.1f%%)\n", tm->core_seconds,
                   machinery * wall, 100 * machinery);
        const rm_sim_ckpt_stats *ck = rm_sim_get_ckpt_stats(sim);
        if (sc.ckpt_every_us)
            printf("  checkpoints         %llu saved (%.1f s), %llu restored, %llu bad skipped, "
                   "%llu failed\n", (unsigned long long)ck->saves, tm->ckpt_seconds,
                   (unsigned long long)ck->restores, (unsigned long long)ck->skipped,
                   (unsigned long long)ck->failed);
        if (out)
            printf("  metrics             %s\n", csv_path);
    }
    if (c.csv) {
        fclose(c.csv);
        c.csv = NULL;
        if (want_plot && plot(out) && !quiet)
            printf("  plots               %s/accuracy.png, %s/consensus.png\n", out, out);
    }
    if (save && !save_model(sim, sc.model, save, quiet))
        goto out; /* (the JSON line, when asked for, stays the last line) */
    if (json)
        printf("{\"seed\":%llu,\"peers\":%u,\"virtual_seconds\":%.3f,"
               "\"mean_test_accuracy\":%.6f,\"min_test_accuracy\":%.6f,"
               "\"consensus_distance\":%.9e,\"mean_error\":%.9e,\"bytes_sent\":%llu,"
               "\"events\":%llu,\"deliveries\":%llu,\"merge_waits\":%llu,"
               "\"wall_seconds\":%.3f,"
               "\"learn_seconds\":%.3f,\"eval_seconds\":%.3f,\"core_seconds\":%.3f,"
               "\"sim_overhead\":%.4f,\"sim_machinery\":%.4f}\n",
               (unsigned long long)seed, plan->peers, m->t_us / 1e6,
               isnan(m->acc_mean) ? -1.0 : m->acc_mean,
               isnan(m->acc_min) ? -1.0 : m->acc_min, m->consensus,
               isnan(m->mean_error) ? -1.0 : m->mean_error,
               (unsigned long long)m->bytes_sent, (unsigned long long)m->events,
               (unsigned long long)m->deliveries, (unsigned long long)m->merge_waits,
               wall, tm->learn_seconds,
               tm->eval_seconds, tm->core_seconds, overhead, machinery);
    code = RM_EXIT_OK;
out:
    if (c.csv)
        fclose(c.csv);
    rm_sim_free(sim);
    if (ckpt_dir[0])
        rm_cli_rmtree(ckpt_dir);
    rm_dataset_free(&train);
    rm_dataset_free(&test);
    return code;
}
