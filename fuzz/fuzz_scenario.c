/* libFuzzer target for scenario files (sim/scenario.c, with inih and the
 * distribution, topology, merge-rule and model-spec parsers it calls).
 *
 * The input is written to a temporary file and read with rm_scenario_load.
 * Any input: RM_OK, or RM_EINVAL / RM_EIO / RM_ENOMEM with a diagnostic; an
 * RM_EINVAL diagnostic starts "line N: " with N a line of the file. A
 * scenario that loads must be one a run can use: peers within 1..1000000,
 * at most RM_SCN_FAULTS_MAX faults, each of a known kind and naming only
 * peers below [peers] count (a list of at most 64, or a share in [0, 1]),
 * a bridge below count, durations above 0 where a run divides by them and
 * none beyond 1e18 us, the texts NUL-terminated, a model spec that parses,
 * and the settings check() ties together. Any violation aborts; ASan and
 * UBSan catch the rest.
 *   scripts/fuzz.sh scenario 600 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/forest.h"
#include "models/mlp.h"
#include "sim/scenario.h"

#define PEERS_MAX 1000000u /* as sim/scenario.c */
#define DURATION_MAX 1000000000000000000ull

static char path[512];
static rm_scenario s;

static void fail(const char *why) {
    fprintf(stderr, "fuzz_scenario: %s\n", why);
    abort();
}

static void remove_file(void) {
    remove(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(path, sizeof path, "%s/rumor-fuzz-scenario-%ld.ini", tmp,
             (long)getpid());
    atexit(remove_file);
    return 0;
}

static void check_dur(uint64_t us, int nonzero, const char *what) {
    if (us > DURATION_MAX || (nonzero && us == 0))
        fail(what);
}

static void check_real(double x, double lo, double hi, const char *what) {
    if (!(x >= lo && x <= hi))
        fail(what);
}

static void check_text(const char *t, size_t cap, const char *what) {
    if (!memchr(t, '\0', cap))
        fail(what);
}

/* The number of lines as fgets counts them: a last line without '\n'
 * counts too. */
static long count_lines(const uint8_t *b, size_t n) {
    long lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += b[i] == '\n';
    return lines + (n > 0 && b[n - 1] != '\n');
}

static void check_error(int err, const rm_diag *d, const uint8_t *b, size_t n) {
    if (err != RM_EINVAL && err != RM_EIO && err != RM_ENOMEM)
        fail("an error code the header does not list");
    if (!memchr(d->msg, '\0', sizeof d->msg) || d->msg[0] == '\0')
        fail("an error without a diagnostic");
    if (err != RM_EINVAL)
        return;
    long line = 0;
    int used = 0;
    if (sscanf(d->msg, "line %ld: %n", &line, &used) != 1 || used == 0)
        fail("an RM_EINVAL diagnostic that does not start with its line");
    if (line < 1 || line > count_lines(b, n))
        fail("an RM_EINVAL diagnostic names a line the file does not have");
}

static void check_scenario(void) {
    check_dur(s.duration_us, 1, "[run] duration 0 or too long");
    check_dur(s.metrics_every_us, 1, "[run] metrics_every 0 or too long");
    check_dur(s.train_until_us, 0, "[run] train_until too long");
    if (s.peers < 1 || s.peers > PEERS_MAX)
        fail("[peers] count outside 1..1000000");
    check_real(s.stragglers, 0.0, 1.0, "[peers] stragglers outside [0, 1]");
    check_real(s.straggler_factor, 1.0, 1e6, "[peers] straggler_factor outside range");
    if (s.data != RM_DATA_FASHION_MNIST && s.data != RM_DATA_FILE &&
        s.data != RM_DATA_NONE)
        fail("[data] source of no known kind");
    check_text(s.data_path, sizeof s.data_path, "[data] source not NUL-terminated");
    check_real(s.alpha, 1e-6, 1e6, "[data] alpha outside range");
    if (s.eval_rows < 1)
        fail("[data] eval_rows 0");
    check_text(s.model, sizeof s.model, "[model] spec not NUL-terminated");
    bool forest = strncmp(s.model, "forest", 6) == 0 &&
                  (s.model[6] == '\0' || s.model[6] == ':');
    if (forest) {
        rm_forest_config fc;
        rm_forest_config_default(&fc);
        if (rm_forest_config_parse(s.model, &fc, NULL) != RM_OK)
            fail("[model] forest spec kept that does not parse");
    } else if (strncmp(s.model, "vector:", 7) != 0) {
        rm_mlp_spec spec;
        if (rm_mlp_spec_parse(s.model, &spec, NULL) != RM_OK)
            fail("[model] spec kept that does not parse");
    } else {
        char *end;
        unsigned long long n = strtoull(s.model + 7, &end, 10);
        if (*end || n < 1 || n > 1u << 24)
            fail("[model] spec vector:N kept with N outside 1..16777216");
    }
    if (s.data == RM_DATA_NONE && strncmp(s.model, "vector:", 7) != 0)
        fail("[data] source = none with a model that trains on data");
    check_real(s.dropout, 0.0, 0.95, "[model] dropout outside range");
    check_real(s.lr, 1e-9, 100.0, "[model] lr outside range");
    check_real(s.lr_min, 0.0, 100.0, "[model] lr_min outside range");
    if (s.batch < 1 || s.batch > 65536)
        fail("[model] batch outside 1..65536");
    check_real(s.epochs, 0.0, 1e6, "[model] epochs outside range");
    check_dur(s.step_us, 0, "[model] step_time too long");
    if ((unsigned)s.merge >= RM_MERGE_END)
        fail("[gossip] merge of no known rule");
    check_dur(s.interval_us, 1, "[gossip] interval 0 or too long");
    check_dur(s.timeout_us, 1, "[gossip] timeout 0 or too long");
    if (s.view < 1 || s.view > 4096)
        fail("[gossip] view outside 1..4096");
    if (s.delta_int8 && !s.delta)
        fail("[gossip] int8 deltas without deltas");
    check_real(s.norm_ratio, 0.0, 1e12, "[gossip] norm_ratio outside range");
    check_real(s.link.loss, 0.0, 1.0, "[link] loss outside [0, 1]");
    check_real(s.link.duplicate, 0.0, 1.0, "[link] duplicate outside [0, 1]");
    check_real(s.link.reorder, 0.0, 1.0, "[link] reorder outside [0, 1]");
    if (!(s.link.bandwidth_bps >= 0.0) || isnan(s.link.bandwidth_bps))
        fail("[link] bandwidth negative or not a number");
    if (s.link.ge_on && !(s.link.ge_p_bad_good > 0.0))
        fail("[link] burst on with burst_exit 0");
    if (s.nfaults > RM_SCN_FAULTS_MAX)
        fail("more faults than RM_SCN_FAULTS_MAX");
    for (uint32_t i = 0; i < s.nfaults; i++) {
        const rm_fault *f = &s.faults[i];
        if (f->kind < RM_FAULT_PARTITION || f->kind > RM_FAULT_SLOW)
            fail("a fault of no known kind");
        if (f->partition < RM_PART_HALVES || f->partition > RM_PART_ONEWAY)
            fail("a partition of no known kind");
        check_dur(f->at_us, 0, "a fault's at too long");
        check_dur(f->down_us, 0, "a fault's down too long");
        check_real(f->fraction, 0.0, 1.0, "a fault's share outside [0, 1]");
        check_real(f->factor, 1e-3, 1e6, "a fault's factor outside range");
        if (f->npeers > sizeof f->peers / sizeof f->peers[0])
            fail("a fault lists more peers than it holds");
        if (f->npeers && f->fraction != 0.0)
            fail("a fault with both a list and a share of peers");
        for (uint32_t k = 0; k < f->npeers; k++)
            if (f->peers[k] >= s.peers)
                fail("a fault names a peer not below [peers] count");
        if (f->kind == RM_FAULT_PARTITION && f->partition == RM_PART_BRIDGE &&
            f->bridge >= s.peers)
            fail("a bridge not below [peers] count");
        int needs_peers = f->kind == RM_FAULT_CRASH || f->kind == RM_FAULT_CHURN ||
                          f->kind == RM_FAULT_SLOW ||
                          (f->kind == RM_FAULT_PARTITION &&
                           f->partition == RM_PART_ISOLATE);
        if (needs_peers && f->npeers == 0 && !(f->fraction > 0.0))
            fail("a fault that acts on peers names none");
        if (f->line < 1)
            fail("a fault without its line");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f)
        fail("cannot create the temporary file");
    if (fwrite(data, 1, size, f) != size || fclose(f) != 0)
        fail("cannot write the temporary file");
    rm_diag d = {{0}};
    rm_scenario_default(&s);
    int err = rm_scenario_load(path, &s, &d);
    if (err) {
        check_error(err, &d, data, size);
        return 0;
    }
    check_scenario();
    return 0;
}
