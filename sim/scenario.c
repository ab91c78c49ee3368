/* Scenario files: INI, read with inih (docs/SCENARIOS.md). */
#include "sim/scenario.h"

#include "gossip/wire.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rm_scenario_default(rm_scenario *s) {
    memset(s, 0, sizeof *s);
    s->seed = 1;
    s->duration_us = 60 * 1000000ull;
    s->metrics_every_us = 1000000;
    s->peers = 16;
    s->speed = (rm_dist){.kind = RM_DIST_CONST, .a = 1.0};
    s->straggler_factor = 1.0;
    s->data = RM_DATA_FASHION_MNIST;
    s->alpha = 0.5;
    s->eval_rows = 2000;
    strcpy(s->model, "mlp:784-128-10");
    s->vector_init_index = true;
    s->dropout = 0.2f;
    s->lr = 0.001f;
    s->batch = 32;
    s->step_us = 1000;
    s->merge = RM_MERGE_PAIRWISE;
    s->interval_us = 100000;
    s->timeout_us = 400000;
    s->view = 16;
    s->shuffle = 4;
    s->view_shuffle = true;
    s->norm_ratio = 100.0;
    s->topo = (rm_topo_spec){.kind = RM_TOPO_FULL, .k = 8};
    rm_link_model_ideal(&s->link);
}

bool rm_parse_duration_us(const char *s, uint64_t *us) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v < 0)
        return false;
    while (*end == ' ')
        end++;
    double scale;
    if (*end == '\0' || strcmp(end, "ms") == 0)
        scale = 1e3;
    else if (strcmp(end, "us") == 0)
        scale = 1.0;
    else if (strcmp(end, "s") == 0)
        scale = 1e6;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        scale = 60e6;
    else if (strcmp(end, "h") == 0)
        scale = 3600e6;
    else
        return false;
    if (v * scale > 1e18)
        return false;
    *us = (uint64_t)(v * scale + 0.5);
    return true;
}

/* ---- value parsers: each returns NULL or why the value is bad ---------- */

static const char *parse_u32(const char *v, uint32_t lo, uint32_t hi, uint32_t *out) {
    char *end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (end == v || *end || errno || v[0] == '-' || x < lo || x > hi)
        return "is not a whole number in range";
    *out = (uint32_t)x;
    return NULL;
}

static const char *parse_real(const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || errno || !isfinite(x))
        return "is not a number";
    if (*end == '%') { /* "25%" */
        x /= 100.0;
        end++;
    }
    if (*end || x < lo || x > hi)
        return "is not a number in range";
    *out = x;
    return NULL;
}

static const char *parse_bool(const char *v, bool *out) {
    if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
        *out = true;
    else if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
        *out = false;
    else
        return "is not on or off";
    return NULL;
}

static const char *parse_dur(const char *v, uint64_t *out) {
    return rm_parse_duration_us(v, out) ? NULL
                                        : "is not a duration (like 250ms, 1.5s, 2m)";
}

static const char *parse_dist(const char *v, rm_dist *out) {
    return rm_dist_parse(v, out, NULL) ? "is not a distribution (like const:80, "
                                         "uniform:50,120, lognormal:80,0.5)"
                                       : NULL;
}

/* "100MB", "12.5Mbit", "0" (unlimited): bytes per second. */
static const char *parse_bandwidth(const char *v, double *out) {
    char *end;
    double x = strtod(v, &end);
    if (end == v || !isfinite(x) || x < 0)
        return "is not a bandwidth (like 10MB, 100Mbit, 0 for unlimited)";
    static const struct { const char *unit; double bytes; } units[] = {
        {"", 1}, {"B", 1}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
        {"kbit", 125}, {"Mbit", 125e3}, {"Gbit", 125e6}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].unit) == 0) {
            *out = x * units[i].bytes;
            return NULL;
        }
    return "has an unknown unit (B, KB, MB, GB, kbit, Mbit, Gbit)";
}

/* "25%" or "0.25" (a share of the peers), or "3,5,7" (a list). */
static const char *parse_peers(const char *v, rm_fault *f, uint32_t peers) {
    if (strchr(v, '%') || strchr(v, '.'))
        return parse_real(v, 0.0, 1.0, &f->fraction);
    f->npeers = 0;
    const char *p = v;
    while (*p) {
        char *end;
        unsigned long x = strtoul(p, &end, 10);
        if (end == p || x >= peers || f->npeers == 64)
            return "is not a share (25%, 0.25) or a list of peer numbers below count";
        f->peers[f->npeers++] = (uint32_t)x;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return "is not a list of peer numbers";
    }
    return NULL;
}

/* ---- the handler -------------------------------------------------------- */

typedef struct {
    rm_scenario *s;
    char section[64];   /* the section the current fault came from */
    char err[200];
} load_ctx;

#define KEY(name) (strcmp(key, name) == 0)

static const char *run_key(rm_scenario *s, const char *key, const char *v) {
    if (KEY("seed")) {
        char *end;
        s->seed = strtoull(v, &end, 10);
        return end == v || *end ? "is not a whole number" : NULL;
    }
    if (KEY("duration"))
        return parse_dur(v, &s->duration_us);
    if (KEY("metrics_every"))
        return parse_dur(v, &s->metrics_every_us);
    if (KEY("train_until"))
        return parse_dur(v, &s->train_until_us);
    return "is not a key of [run]";
}

static const char *peers_key(rm_scenario *s, const char *key, const char *v) {
    if (KEY("count"))
        return parse_u32(v, 1, 1000000, &s->peers);
    if (KEY("speed"))
        return parse_dist(v, &s->speed);
    if (KEY("stragglers"))
        return parse_real(v, 0.0, 1.0, &s->stragglers);
    if (KEY("straggler_factor"))
        return parse_real(v, 1.0, 1e6, &s->straggler_factor);
    return "is not a key of [peers]";
}

static const char *data_key(rm_scenario *s, const char *key, const char *v) {
    if (KEY("source")) {
        if (!strcmp(v, "fashion-mnist"))
            s->data = RM_DATA_FASHION_MNIST;
        else if (!strcmp(v, "none"))
            s->data = RM_DATA_NONE;
        else {
            if (strlen(v) >= sizeof s->data_path)
                return "is too long a path";
            s->data = RM_DATA_FILE;
            strcpy(s->data_path, v);
        }
        return NULL;
    }
    if (KEY("split")) {
        if (!strcmp(v, "iid"))
            s->label_skew = false;
        else if (!strcmp(v, "label-skew"))
            s->label_skew = true;
        else
            return "is not iid or label-skew";
        return NULL;
    }
    if (KEY("alpha"))
        return parse_real(v, 1e-6, 1e6, &s->alpha);
    if (KEY("eval_rows"))
        return parse_u32(v, 1, 10000000, &s->eval_rows);
    return "is not a key of [data]";
}

static const char *model_key(rm_scenario *s, const char *key, const char *v) {
    double x;
    const char *why;
    if (KEY("spec")) {
        if (strlen(v) >= sizeof s->model)
            return "is too long";
        strcpy(s->model, v);
        return NULL;
    }
    if (KEY("init")) {
        if (!strcmp(v, "index"))
            s->vector_init_index = true;
        else if (!strcmp(v, "random"))
            s->vector_init_index = false;
        else
            return "is not index or random";
        return NULL;
    }
    if (KEY("dropout")) {
        if ((why = parse_real(v, 0.0, 0.95, &x)))
            return why;
        s->dropout = (float)x;
        return NULL;
    }
    if (KEY("opt")) {
        if (!strcmp(v, "adam"))
            s->sgd = false;
        else if (!strcmp(v, "sgd"))
            s->sgd = true;
        else
            return "is not adam or sgd";
        return NULL;
    }
    if (KEY("lr")) {
        if ((why = parse_real(v, 1e-9, 100.0, &x)))
            return why;
        s->lr = (float)x;
        return NULL;
    }
    if (KEY("schedule")) {
        if (!strcmp(v, "none"))
            s->cosine = false;
        else if (!strcmp(v, "cosine"))
            s->cosine = true;
        else
            return "is not none or cosine";
        return NULL;
    }
    if (KEY("lr_min")) {
        if ((why = parse_real(v, 0.0, 100.0, &x)))
            return why;
        s->lr_min = (float)x;
        return NULL;
    }
    if (KEY("batch"))
        return parse_u32(v, 1, 65536, &s->batch);
    if (KEY("epochs"))
        return parse_real(v, 0.0, 1e6, &s->epochs);
    if (KEY("step_time"))
        return parse_dur(v, &s->step_us);
    return "is not a key of [model]";
}

static const char *gossip_key(rm_scenario *s, const char *key, const char *v) {
    if (KEY("merge")) {
        int r = rm_merge_rule_parse(v);
        if (r < 0)
            return "is not pairwise, age or pushsum";
        s->merge = (rm_merge_rule)r;
        return NULL;
    }
    if (KEY("interval"))
        return parse_dur(v, &s->interval_us);
    if (KEY("timeout"))
        return parse_dur(v, &s->timeout_us);
    if (KEY("view"))
        return parse_u32(v, 1, 4096, &s->view);
    if (KEY("shuffle"))
        return parse_u32(v, 0, RM_VIEW_ENTRIES_MAX - 1, &s->shuffle);
    if (KEY("view_shuffle"))
        return parse_bool(v, &s->view_shuffle);
    if (KEY("delta")) {
        if (!strcmp(v, "off"))
            s->delta = s->delta_int8 = false;
        else if (!strcmp(v, "f32"))
            s->delta = true, s->delta_int8 = false;
        else if (!strcmp(v, "int8"))
            s->delta = s->delta_int8 = true;
        else
            return "is not off, f32 or int8";
        return NULL;
    }
    if (KEY("norm_ratio"))
        return parse_real(v, 0.0, 1e12, &s->norm_ratio);
    return "is not a key of [gossip]";
}

static const char *link_key(rm_link_model *l, const char *key, const char *v) {
    if (KEY("latency"))
        return parse_dist(v, &l->latency);
    if (KEY("jitter"))
        return parse_dist(v, &l->jitter);
    if (KEY("bandwidth"))
        return parse_bandwidth(v, &l->bandwidth_bps);
    if (KEY("loss"))
        return parse_real(v, 0.0, 1.0, &l->loss);
    if (KEY("burst"))
        return parse_bool(v, &l->ge_on);
    if (KEY("burst_enter"))
        return parse_real(v, 0.0, 1.0, &l->ge_p_good_bad);
    if (KEY("burst_exit"))
        return parse_real(v, 0.0, 1.0, &l->ge_p_bad_good);
    if (KEY("burst_loss_good"))
        return parse_real(v, 0.0, 1.0, &l->ge_loss_good);
    if (KEY("burst_loss_bad"))
        return parse_real(v, 0.0, 1.0, &l->ge_loss_bad);
    if (KEY("duplicate"))
        return parse_real(v, 0.0, 1.0, &l->duplicate);
    if (KEY("reorder"))
        return parse_real(v, 0.0, 1.0, &l->reorder);
    return "is not a key of [link]";
}

static const char *fault_key(rm_scenario *s, rm_fault *f, const char *key,
                             const char *v) {
    if (KEY("at"))
        return parse_dur(v, &f->at_us);
    if (KEY("kind")) {
        static const struct { const char *name; rm_fault_kind kind; } kinds[] = {
            {"partition", RM_FAULT_PARTITION}, {"heal", RM_FAULT_HEAL},
            {"crash", RM_FAULT_CRASH}, {"restart", RM_FAULT_RESTART},
            {"churn", RM_FAULT_CHURN}, {"churn-stop", RM_FAULT_CHURN_STOP},
            {"slow", RM_FAULT_SLOW}};
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
            if (!strcmp(v, kinds[i].name)) {
                f->kind = kinds[i].kind;
                return NULL;
            }
        return "is not partition, heal, crash, restart, churn, churn-stop or slow";
    }
    if (KEY("partition")) {
        if (!strcmp(v, "halves"))
            f->partition = RM_PART_HALVES;
        else if (!strcmp(v, "isolate"))
            f->partition = RM_PART_ISOLATE;
        else if (!strcmp(v, "bridge"))
            f->partition = RM_PART_BRIDGE;
        else if (!strcmp(v, "oneway"))
            f->partition = RM_PART_ONEWAY;
        else
            return "is not halves, isolate, bridge or oneway";
        return NULL;
    }
    if (KEY("bridge"))
        return parse_u32(v, 0, s->peers ? s->peers - 1 : 0, &f->bridge);
    if (KEY("peers"))
        return parse_peers(v, f, s->peers);
    if (KEY("down"))
        return parse_dur(v, &f->down_us);
    if (KEY("on"))
        return parse_dist(v, &f->churn_on);
    if (KEY("off"))
        return parse_dist(v, &f->churn_off);
    if (KEY("factor"))
        return parse_real(v, 1e-3, 1e6, &f->factor);
    return "is not a key of a [fault] section";
}

static int on_key(void *user, const char *section, const char *key,
                  const char *value) {
    load_ctx *c = user;
    rm_scenario *s = c->s;
    const char *why;
    if (!strcmp(section, "run"))
        why = run_key(s, key, value);
    else if (!strcmp(section, "peers"))
        why = peers_key(s, key, value);
    else if (!strcmp(section, "data"))
        why = data_key(s, key, value);
    else if (!strcmp(section, "model"))
        why = model_key(s, key, value);
    else if (!strcmp(section, "gossip"))
        why = gossip_key(s, key, value);
    else if (!strcmp(section, "topology"))
        why = KEY("kind") ? (rm_topo_parse(value, &s->topo, NULL)
                                 ? "is not a topology (full, full:8, ring, kregular:4, "
                                   "exponential, smallworld:4,0.1)"
                                 : NULL)
                          : "is not a key of [topology]";
    else if (!strcmp(section, "link"))
        why = link_key(&s->link, key, value);
    else if (!strncmp(section, "fault", 5) && (section[5] == ' ' || section[5] == '.')) {
        if (strcmp(section, c->section) != 0) { /* a new fault begins */
            if (s->nfaults == RM_SCN_FAULTS_MAX) {
                why = "is one fault too many (at most 64)";
                goto out;
            }
            snprintf(c->section, sizeof c->section, "%s", section);
            rm_fault *f = &s->faults[s->nfaults++];
            memset(f, 0, sizeof *f);
            f->factor = 1.0;
            f->partition = RM_PART_HALVES;
            f->churn_on = f->churn_off = (rm_dist){.kind = RM_DIST_EXP, .a = 30000};
        }
        why = fault_key(s, &s->faults[s->nfaults - 1], key, value);
    } else {
        why = "is in an unknown section (run, peers, data, model, gossip, topology, "
              "link, fault NAME)";
    }
out:
    if (why && !c->err[0])
        snprintf(c->err, sizeof c->err, "[%s] %s: '%s' %s", section, key, value, why);
    return why == NULL;
}

/* Settings that are each fine alone but not together. */
static rm_err check(const rm_scenario *s, rm_diag *diag) {
    if (s->metrics_every_us == 0)
        return rm_diag_set(diag, RM_EINVAL, "[run] metrics_every must be above 0");
    if (s->interval_us == 0 || s->timeout_us == 0)
        return rm_diag_set(diag, RM_EINVAL, "[gossip] interval and timeout must be above 0");
    if (s->link.ge_on && s->link.ge_p_bad_good <= 0.0)
        return rm_diag_set(diag, RM_EINVAL,
                           "[link] burst_exit must be above 0 (bursts would never end)");
    if (s->data == RM_DATA_NONE && strncmp(s->model, "vector:", 7) != 0)
        return rm_diag_set(diag, RM_EINVAL,
                           "[data] source = none needs [model] spec = vector:N");
    for (uint32_t i = 0; i < s->nfaults; i++) {
        const rm_fault *f = &s->faults[i];
        if (f->kind == 0)
            return rm_diag_set(diag, RM_EINVAL, "fault %u: no kind = ...", i + 1);
        for (uint32_t k = 0; k < f->npeers; k++)
            if (f->peers[k] >= s->peers)
                return rm_diag_set(diag, RM_EINVAL, "fault %u: peer %u is not below "
                                   "[peers] count = %u (set count first)",
                                   i + 1, f->peers[k], s->peers);
    }
    return RM_OK;
}

rm_err rm_scenario_load(const char *path, rm_scenario *s, rm_diag *diag) {
    load_ctx c = {.s = s};
    FILE *f = fopen(path, "r");
    if (!f)
        return rm_diag_set(diag, errno == ENOENT ? RM_ENOENT : RM_EIO,
                           "cannot open it: %s", strerror(errno));
    int line = ini_parse_file(f, on_key, &c);
    fclose(f);
    if (line != 0) {
        if (c.err[0])
            return rm_diag_set(diag, RM_EINVAL, "line %d: %s", line, c.err);
        return rm_diag_set(diag, RM_EINVAL, "line %d: not a section, key = value, "
                           "or comment", line);
    }
    return check(s, diag);
}
