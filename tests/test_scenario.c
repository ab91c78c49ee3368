/* Scenario files (sim/scenario.c): every example in examples/scenarios/
 * loads, keys land in the right fields, and every kind of bad file gives
 * an error that names its line and its key. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/scenario.h"

/* ---- durations ---------------------------------------------------------- */

static void durations(void **state) {
    (void)state;
    static const struct { const char *text; uint64_t us; } good[] = {
        {"250ms", 250000},   {"1.5s", 1500000},     {"2m", 120000000},
        {"2min", 120000000}, {"100us", 100},        {"1h", 3600000000ull},
        {"42", 42000},       {"0", 0},              {"0.1s", 100000},
        {"7 ms", 7000},      {"0.0005", 1},         {"1e3", 1000000},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t us = 12345;
        if (!rm_parse_duration_us(good[i].text, &us))
            fail_msg("'%s' was refused", good[i].text);
        if (us != good[i].us)
            fail_msg("'%s': %llu us, want %llu", good[i].text, (unsigned long long)us,
                     (unsigned long long)good[i].us);
    }
    static const char *const bad[] = {"", "ms", "abc", "5x", "5 parsecs", "-1s", "1s2",
                                      "inf", "nan", "1e30s", "5S", "3d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t us = 777;
        if (rm_parse_duration_us(bad[i], &us))
            fail_msg("'%s' was taken as %llu us", bad[i], (unsigned long long)us);
        assert_int_equal(us, 777); /* untouched */
    }
}

/* ---- the examples ------------------------------------------------------- */

static void every_example_loads(void **state) {
    (void)state;
    DIR *dir = opendir(RUMOR_EXAMPLES);
    assert_non_null(dir);
    int loaded = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".ini") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", RUMOR_EXAMPLES, e->d_name);
        rm_scenario s;
        rm_scenario_default(&s);
        rm_diag d = {{0}};
        rm_err err = rm_scenario_load(path, &s, &d);
        if (err)
            fail_msg("%s: %s (%s)", e->d_name, d.msg, rm_strerror(err));
        print_message("%-16s %6u peers, %5.0f s, model %s, %u fault%s\n", e->d_name,
                      s.peers, s.duration_us / 1e6, s.model, s.nfaults,
                      s.nfaults == 1 ? "" : "s");
        loaded++;
    }
    closedir(dir);
    assert_true(loaded >= 4);
}

static void load_example(const char *name, rm_scenario *s) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", RUMOR_EXAMPLES, name);
    rm_scenario_default(s);
    rm_diag d = {{0}};
    if (rm_scenario_load(path, s, &d))
        fail_msg("%s: %s", name, d.msg);
}

static void examples_land_in_their_fields(void **state) {
    (void)state;
    rm_scenario s;
    load_example("stragglers.ini", &s);
    assert_int_equal(s.peers, 16);
    assert_int_equal(s.speed.kind, RM_DIST_LOGNORMAL);
    assert_true(s.speed.a == 1.0 && s.speed.b == 0.4);
    assert_true(s.stragglers == 0.25);
    assert_true(s.straggler_factor == 8.0);
    assert_false(s.label_skew);
    assert_int_equal(s.nfaults, 1);
    const rm_fault *f = &s.faults[0];
    assert_int_equal(f->kind, RM_FAULT_SLOW);
    assert_int_equal(f->at_us, 5000000);
    assert_int_equal(f->npeers, 2);
    assert_int_equal(f->peers[0], 0);
    assert_int_equal(f->peers[1], 1);
    assert_true(f->factor == 4.0);
    assert_true(f->line > 0);

    load_example("flaky-wan.ini", &s);
    assert_int_equal(s.peers, 32);
    assert_true(s.label_skew);
    assert_int_equal(s.merge, RM_MERGE_AGE);
    assert_true(s.logit_adjust == 1.0f);
    assert_int_equal(s.concurrent, 2);
    assert_int_equal(s.steps_per_merge, 1);
    assert_int_equal(s.merge_wait_us, 500000);
    assert_int_equal(s.topo.kind, RM_TOPO_FULL);
    assert_int_equal(s.topo.k, 8);
    assert_int_equal(s.link.latency.kind, RM_DIST_LOGNORMAL);
    assert_true(s.link.bandwidth_bps == 12.5e6);
    assert_true(s.link.ge_on);
    assert_true(s.link.loss == 0.10);
    assert_int_equal(s.nfaults, 3);
    assert_int_equal(s.faults[0].kind, RM_FAULT_PARTITION);
    assert_int_equal(s.faults[1].kind, RM_FAULT_HEAL);
    assert_int_equal(s.faults[2].kind, RM_FAULT_CRASH);
    assert_true(s.faults[2].fraction == 0.25);
    assert_int_equal(s.faults[2].down_us, 10000000);

    load_example("forest-8.ini", &s);
    assert_int_equal(s.peers, 8);
    assert_string_equal(s.model, "forest:trees=100,depth=20,bootstrap=0,features=100");
    assert_true(s.ckpt_every_us > 0);
    assert_int_equal(s.nfaults, 1);
    assert_int_equal(s.faults[0].kind, RM_FAULT_CRASH);
    assert_true(s.faults[0].down_us > 0);
}

/* ---- bad files ---------------------------------------------------------- */

static char tmp_path[512];

/* Writes text to a scratch file and loads it over the defaults; returns the
 * error and leaves the message in d. */
static rm_err load_text(const char *text, rm_scenario *s, rm_diag *d) {
    snprintf(tmp_path, sizeof tmp_path, "%s/scenario_test.ini", RUMOR_TMP);
    FILE *f = fopen(tmp_path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    rm_scenario_default(s);
    memset(d, 0, sizeof *d);
    return rm_scenario_load(tmp_path, s, d);
}

/* The file must be refused with RM_EINVAL and a message holding every one
 * of the given pieces (NULL-terminated). */
static void refused(const char *text, ...) {
    rm_scenario s;
    rm_diag d;
    rm_err err = load_text(text, &s, &d);
    if (err != RM_EINVAL)
        fail_msg("got %s (%s), want RM_EINVAL, for:\n%s", rm_err_name(err), d.msg, text);
    va_list ap;
    va_start(ap, text);
    const char *piece;
    while ((piece = va_arg(ap, const char *)))
        if (!strstr(d.msg, piece))
            fail_msg("'%s' is not in the message \"%s\" for:\n%s", piece, d.msg, text);
    va_end(ap);
    print_message("  %s\n", d.msg);
}

static void loads(const char *text, rm_scenario *s) {
    rm_diag d;
    rm_err err = load_text(text, s, &d);
    if (err)
        fail_msg("%s (%s) for:\n%s", d.msg, rm_err_name(err), text);
}

static void bad_sections_and_keys(void **state) {
    (void)state;
    refused("[run]\nseed = 1\n\n[frobs]\nx = 1\n", "line 5", "[frobs] x", "unknown section",
            NULL);
    refused("[fault]\nkind = heal\n", "line 2", "[fault] kind", "unknown section", NULL);
    refused("seed = 1\n", "line 1", "[] seed", "unknown section", NULL);
    refused("[link]\nlatency = const:1\nlatenzy = 2\n", "line 3", "[link] latenzy",
            "is not a key of [link]", NULL);
    refused("[run]\nseed = 1\nthis is not ini\n", "line 3", "not a section", NULL);
    refused("[run\nseed = 1\n", "line 1", "not a section", NULL);
    refused("# comment\n[peers]\n  count = 8\n", "line 3", "indented", NULL);
    char long_line[400];
    snprintf(long_line, sizeof long_line, "[model]\nspec = vector:%0250d\n", 1);
    refused(long_line, "line 2", "longer than", NULL);
    /* The first error wins, whether inih or a key found it. */
    refused("[run]\nseed = x\ngarbage\n", "line 2", "[run] seed: 'x'", NULL);
    refused("[run]\ngarbage\nseed = x\n", "line 2", "not a section", NULL);
}

static void bad_values(void **state) {
    (void)state;
    refused("[run]\nduration = 5 parsecs\n", "line 2", "[run] duration: '5 parsecs'",
            "is not a duration", NULL);
    refused("[run]\nmetrics_every = 0\n", "line 2", "metrics_every", "above 0", NULL);
    refused("[gossip]\ninterval = 0ms\n", "line 2", "[gossip] interval", "above 0", NULL);
    refused("[run]\nseed = -3\n", "line 2", "seed", NULL);
    refused("[peers]\ncount = 0\n", "line 2", "[peers] count: '0'", NULL);
    refused("[peers]\nstragglers = 150%\n", "line 2", "stragglers", "in range", NULL);
    refused("[peers]\nbudget = forever\n", "line 2", "[peers] budget: 'forever'",
            "steps or time", NULL);
    refused("[checkpoint]\nkeep = 0\n", "line 2", "[checkpoint] keep: '0'", NULL);
    refused("[model]\nlogit_adjust = -1\n", "line 2", "[model] logit_adjust: '-1'", NULL);
    refused("[gossip]\nconcurrent = 17\n", "line 2", "[gossip] concurrent: '17'", NULL);
    refused("[gossip]\nmerge_wait = 0s\n", "line 2", "[gossip] merge_wait", "above 0", NULL);
    refused("[gossip]\nsteps_per_merge = few\n", "line 2", "[gossip] steps_per_merge: 'few'",
            NULL);
    refused("[checkpoint]\nevery = soon\n", "line 2", "[checkpoint] every", NULL);
    refused("[link]\nlatency = lognorm:80\n", "line 2", "[link] latency: 'lognorm:80'",
            "is not a distribution", "unknown distribution 'lognorm'", NULL);
    refused("[link]\njitter = uniform:120,50\n", "line 2", "[link] jitter",
            "uniform low 120 is above high 50", NULL);
    refused("[peers]\nspeed = lognormal:1\n", "line 2", "[peers] speed",
            "lognormal takes 2 parameters, not 1", NULL);
    refused("[peers]\nspeed = normal:1,x\n", "line 2", "parameter 2 is not a finite number",
            NULL);
    refused("[topology]\nkind = kregular\n", "line 2", "[topology] kind: 'kregular'",
            "is not a topology", "needs a degree", NULL);
    refused("[topology]\nkind = smallworld:4,2\n", "line 2", "rewiring probability", NULL);
    refused("[topology]\nkind = torus\n", "line 2", "unknown topology 'torus'", NULL);
    refused("[topology]\nshape = ring\n", "line 2", "[topology] shape", NULL);
    refused("[gossip]\nmerge = median\n", "line 2", "[gossip] merge: 'median'",
            "pairwise, age or pushsum", NULL);
    refused("[gossip]\ndelta = yes\n", "line 2", "[gossip] delta", NULL);
    refused("[link]\nbandwidth = 10 furlongs\n", "line 2", "[link] bandwidth", NULL);
    refused("[link]\nburst = maybe\n", "line 2", "[link] burst", "on or off", NULL);
    refused("[model]\nopt = rmsprop\n", "line 2", "[model] opt", NULL);
    refused("[model]\nspec = mlp:784-x-10\n", "line 2", "[model] spec: 'mlp:784-x-10'",
            "is not a model", "width 2", NULL);
    refused("[model]\nspec = resnet50\n", "line 2", "expected mlp:", NULL);
    refused("[model]\nspec = vector:0\n", "line 2", "vector:N needs a size", NULL);
    refused("[model]\nspec = forest:trees=0\n", "line 2", "[model] spec", "is not a forest",
            "trees", NULL);
    refused("[model]\nspec = forest:depth=20,leaves=3\n", "line 2", "is not a forest",
            "leaves", NULL);
    refused("[model]\nspec = vector:12x\n", "line 2", "vector:N needs a size", NULL);
    refused("[data]\nsplit = sorted\n", "line 2", "[data] split", NULL);
    /* Settings fine alone but not together name the key that needs the
     * other. */
    refused("[link]\nburst = on\nburst_enter = 0.1\n", "line 2", "[link] burst",
            "burst_exit", NULL);
    refused("[run]\nseed = 1\n[data]\nsource = none\n", "line 4", "[data] source",
            "vector:N", NULL);
}

static void bad_faults(void **state) {
    (void)state;
    refused("[run]\nseed = 1\n[fault x]\nat = 5s\n", "line 3", "[fault x]", "no kind",
            NULL);
    refused("[fault x]\n\n[run]\nseed = 1\n", "line 1", "[fault x]", "no kind", NULL);
    refused("[fault x]\nkind = explode\n", "line 2", "[fault x] kind: 'explode'", NULL);
    refused("[fault x]\nat = soon\n", "line 2", "[fault x] at", "duration", NULL);
    refused("[peers]\ncount = 8\n[fault c]\nkind = crash\npeers = 2,9\n", "line 5",
            "[fault c] peers", "peer 9", "count = 8", NULL);
    refused("[fault c]\nkind = crash\npeers = 2,x\n", "line 3", "[fault c] peers", NULL);
    refused("[fault c]\nkind = crash\npeers = -1\n", "line 3", "[fault c] peers", NULL);
    refused("[fault c]\nkind = crash\npeers = 2,,3\n", "line 3", "[fault c] peers", NULL);
    refused("[fault c]\nkind = crash\npeers = 120%\n", "line 3", "[fault c] peers", NULL);
    refused("[fault c]\nkind = crash\nat = 1s\n", "line 1", "[fault c]", "no peers", NULL);
    refused("[fault c]\nkind = slow\nfactor = 4\n", "line 1", "[fault c]", "no peers",
            NULL);
    refused("[fault p]\nkind = partition\npartition = isolate\n", "line 1", "no peers",
            NULL);
    refused("[fault p]\nkind = partition\npartition = diagonal\n", "line 3",
            "[fault p] partition", NULL);
    refused("[peers]\ncount = 4\n[fault p]\nkind = partition\npartition = bridge\n"
            "bridge = 4\n", "line 6", "[fault p] bridge", "peer 4", NULL);
    refused("[fault a]\nkind = heal\n[fault b]\nkind = heal\n[fault a]\nkind = heal\n",
            "line 5", "[fault a]", "twice", "line 1", NULL);
    refused("[fault ]\nkind = heal\n", "line 1", "needs a name", NULL);
    refused("[fault c]\nkind = churn\npeers = 25%\non = exp\n", "line 4", "[fault c] on",
            "exp needs 1 parameter", NULL);
    refused("[fault c]\nkind = heal\nfrequency = 2\n", "line 3", "[fault c] frequency",
            NULL);
    /* 65 faults: one too many. */
    char many[65 * 40];
    size_t n = 0;
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, "[fault f%d]\nkind = heal\n", i);
    refused(many, "line 129", "one fault too many", NULL);
}

static void good_faults(void **state) {
    (void)state;
    rm_scenario s;
    /* Faults may come before [peers]: peer numbers are checked against the
     * count once the whole file is read. */
    loads("[fault c]\nkind = crash\nat = 2.5s\npeers = 3,17,31\ndown = 4s\n"
          "[peers]\ncount = 32\n"
          "[fault.churn]\nkind = churn\nat = 1s\npeers = 12.5%\non = exp:2000\n"
          "off = uniform:100,500\n"
          "[fault stop]\nkind = churn-stop\nat = 10s\n"
          "[fault split]\nkind = partition\npartition = bridge\nbridge = 31\nat = 3s\n"
          "[fault heal]\nkind = heal\nat = 6s\n"
          "[fault slow]\nkind = slow\nat = 0\npeers = 0\nfactor = 2.5\n", &s);
    assert_int_equal(s.peers, 32);
    assert_int_equal(s.nfaults, 6);
    const rm_fault *f = s.faults;
    assert_int_equal(f[0].kind, RM_FAULT_CRASH);
    assert_int_equal(f[0].at_us, 2500000);
    assert_int_equal(f[0].npeers, 3);
    assert_int_equal(f[0].peers[2], 31);
    assert_int_equal(f[0].down_us, 4000000);
    assert_int_equal(f[0].line, 1);
    assert_int_equal(f[1].kind, RM_FAULT_CHURN);
    assert_true(f[1].fraction == 0.125);
    assert_int_equal(f[1].churn_on.kind, RM_DIST_EXP);
    assert_true(f[1].churn_on.a == 2000);
    assert_int_equal(f[1].churn_off.kind, RM_DIST_UNIFORM);
    assert_int_equal(f[1].line, 8);
    assert_int_equal(f[2].kind, RM_FAULT_CHURN_STOP);
    assert_int_equal(f[3].partition, RM_PART_BRIDGE);
    assert_int_equal(f[3].bridge, 31);
    assert_int_equal(f[4].kind, RM_FAULT_HEAL);
    assert_int_equal(f[5].kind, RM_FAULT_SLOW);
    assert_true(f[5].factor == 2.5);
    /* Defaults of a fault: halves, churn exp:30000 both ways, factor 1. */
    loads("[fault p]\nkind = partition\n[fault c]\nkind = churn\npeers = 1\n", &s);
    assert_int_equal(s.faults[0].partition, RM_PART_HALVES);
    assert_int_equal(s.faults[0].at_us, 0);
    assert_int_equal(s.faults[1].churn_on.kind, RM_DIST_EXP);
    assert_true(s.faults[1].churn_on.a == 30000 && s.faults[1].churn_off.a == 30000);
    assert_true(s.faults[1].factor == 1.0);
}

static void good_values(void **state) {
    (void)state;
    rm_scenario s, def;
    rm_scenario_default(&def);
    /* Blank lines, comments (; and # at the start, ; inline), CRLF. */
    loads("\xEF\xBB\xBF# a byte order mark, then comments\r\n; another\r\n\r\n"
          "[run]\r\nseed = 99 ; inline\r\nduration = 1.5m\r\n", &s);
    assert_int_equal(s.seed, 99);
    assert_int_equal(s.duration_us, 90000000);
    assert_int_equal(s.peers, def.peers);
    loads("[link]\nbandwidth = 100Mbit\nloss = 2.5%\nlatency = pareto:40,1.5\n"
          "[gossip]\nmerge = pushsum\ndelta = int8\nview_shuffle = no\n"
          "[topology]\nkind = smallworld:6,0.25\n", &s);
    assert_true(s.link.bandwidth_bps == 12.5e6);
    assert_true(s.link.loss == 0.025);
    assert_int_equal(s.link.latency.kind, RM_DIST_PARETO);
    assert_int_equal(s.merge, RM_MERGE_PUSHSUM);
    assert_true(s.delta && s.delta_int8);
    assert_false(s.view_shuffle);
    assert_int_equal(s.topo.kind, RM_TOPO_SMALLWORLD);
    assert_int_equal(s.topo.k, 6);
    assert_true(s.topo.rewire == 0.25);
    /* An empty file is the defaults. */
    loads("", &s);
    assert_memory_equal(&s, &def, sizeof s);
}

/* A NUL byte is refused on its line. fgets could not tell it from the end
 * of the string, so that a long line holding one escaped the long-line
 * check and its tail was read as a line of its own (found by
 * fuzz/fuzz_scenario.c): here "duration = 5s" would have been taken. */
static void nul_bytes(void **state) {
    (void)state;
    char text[512];
    size_t n = (size_t)snprintf(text, sizeof text, "[run]\n# note");
    text[n++] = '\0';
    while (n < 6 + 199) /* inih's 200-byte buffer takes 199 of line 2 */
        text[n++] = 'x';
    n += (size_t)snprintf(text + n, sizeof text - n, "duration = 5s\n");
    static const char shorter[] = "[run]\nseed = 1\0junk\n";
    const struct { const char *text; size_t len; } cases[] = {
        {text, n}, {shorter, sizeof shorter - 1}};
    for (size_t k = 0; k < 2; k++) {
        snprintf(tmp_path, sizeof tmp_path, "%s/scenario_test.ini", RUMOR_TMP);
        FILE *f = fopen(tmp_path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(cases[k].text, 1, cases[k].len, f), cases[k].len);
        assert_int_equal(fclose(f), 0);
        rm_scenario s;
        rm_scenario_default(&s);
        rm_diag d = {{0}};
        assert_int_equal(rm_scenario_load(tmp_path, &s, &d), RM_EINVAL);
        if (!strstr(d.msg, "line 2: the line holds a NUL byte"))
            fail_msg("message \"%s\"", d.msg);
    }
}

static void missing_file(void **state) {
    (void)state;
    rm_scenario s;
    rm_scenario_default(&s);
    rm_diag d = {{0}};
    char path[512];
    snprintf(path, sizeof path, "%s/no-such-scenario.ini", RUMOR_TMP);
    assert_int_equal(rm_scenario_load(path, &s, &d), RM_ENOENT);
    assert_non_null(strstr(d.msg, "cannot open"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(durations),
        cmocka_unit_test(every_example_loads),
        cmocka_unit_test(examples_land_in_their_fields),
        cmocka_unit_test(bad_sections_and_keys),
        cmocka_unit_test(bad_values),
        cmocka_unit_test(bad_faults),
        cmocka_unit_test(good_faults),
        cmocka_unit_test(good_values),
        cmocka_unit_test(nul_bytes),
        cmocka_unit_test(missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
