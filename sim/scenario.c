/* Scenario files: INI, read with inih (docs/SCENARIOS.md). */
#include "sim/scenario.h"
#include "sim/scenario_values.h"

#include "gossip/peer.h"
#include "gossip/wire.h"
#include "models/mlp.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
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
    s->concurrent = 1;
    s->merge_wait_us = 1000000;
    s->view = 16;
    s->shuffle = 4;
    s->view_shuffle = true;
    s->norm_ratio = 100.0;
    s->topo = (rm_topo_spec){.kind = RM_TOPO_FULL, .k = 8};
    s->ckpt_keep = 2;
    s->rejoin = true;
    rm_link_model_ideal(&s->link);
}

/* ---- the reader and the handler ----------------------------------------- */

#define SECTION_MAX 49     /* inih keeps this much of a section's name */

typedef struct {
    rm_scenario *s;
    FILE *f;
    int line;               /* lines handed to inih so far: the current one */
    int err_line;           /* where err was found; 0: no error yet */
    char err[RM_SCN_TEXT_MAX];
    char why[WHY_MAX];      /* a value parser's reason, when it is not fixed */
    bool in_fault;          /* the current section is a [fault NAME] */
    /* Where keys were set, for errors found after the whole file is read. */
    int source_line, burst_line;
    int peers_line[RM_SCN_FAULTS_MAX], bridge_line[RM_SCN_FAULTS_MAX];
    char fault_name[RM_SCN_FAULTS_MAX][SECTION_MAX + 1];
} load_ctx;

static int fail_at(load_ctx *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first error; returns 0, which stops inih's handler or reader. */
static int fail_at(load_ctx *c, int line, const char *fmt, ...) {
    if (!c->err_line) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, sizeof c->err, fmt, ap);
        va_end(ap);
        c->err_line = line;
    }
    return 0;
}

/* "fault NAME" or "fault.NAME": the NAME, or NULL for another section. */
static const char *fault_name(const char *section) {
    if (strncmp(section, "fault", 5) == 0 && (section[5] == ' ' || section[5] == '.'))
        return section + 6;
    return NULL;
}

/* A [fault NAME] header: a new fault, with its defaults. */
static int begin_fault(load_ctx *c, const char *section) {
    rm_scenario *s = c->s;
    const char *name = fault_name(section);
    if (!name[0])
        return fail_at(c, c->line, "[%s] needs a name, as in [fault crash]", section);
    for (uint32_t i = 0; i < s->nfaults; i++)
        if (strcmp(c->fault_name[i], name) == 0)
            return fail_at(c, c->line, "[%s] appears twice (first at line %d): "
                           "fault names must be unique", section, s->faults[i].line);
    if (s->nfaults == RM_SCN_FAULTS_MAX)
        return fail_at(c, c->line, "[%s] is one fault too many (at most %d)", section,
                       RM_SCN_FAULTS_MAX);
    uint32_t i = s->nfaults++;
    rm_fault *f = &s->faults[i];
    memset(f, 0, sizeof *f);
    f->factor = 1.0;
    f->partition = RM_PART_HALVES;
    f->churn_on = f->churn_off = (rm_dist){.kind = RM_DIST_EXP, .a = 30000};
    f->line = c->line;
    snprintf(c->fault_name[i], sizeof c->fault_name[i], "%s", name);
    c->peers_line[i] = c->bridge_line[i] = 0;
    return 1;
}

/* inih's reader (fgets-like): hands over one whole line per call, so that
 * c->line is the line inih reports and the one its handler is called for.
 * It also sees what inih does not tell a handler: section headers (a
 * [fault NAME] starts a fault there, even one with no keys), lines too long
 * for inih's buffer (which inih would split and read as two), indented
 * lines (which inih would take as the previous key's value continued), and
 * NUL bytes (which would end the line where inih looks).
 * Returns NULL at the end of the file or at the first error. */
static char *read_line(char *str, int num, void *stream) {
    load_ctx *c = stream;
    if (c->err_line)
        return NULL;
    /* fgets, but counting the bytes: fgets cannot tell a NUL byte it read
     * from the end of the string, and the long-line check below would then
     * miss a long line with a NUL in it and read its tail as a line. */
    size_t len = 0;
    int ch;
    while (len + 1 < (size_t)num && (ch = getc(c->f)) != EOF) {
        str[len++] = (char)ch;
        if (ch == '\n')
            break;
    }
    if (len == 0)
        return NULL;
    str[len] = '\0';
    c->line++;
    if (memchr(str, '\0', len)) {
        fail_at(c, c->line, "the line holds a NUL byte");
        return NULL;
    }
    if (len == (size_t)num - 1 && str[len - 1] != '\n') {
        int next = getc(c->f);
        if (next != EOF) {
            fail_at(c, c->line, "the line is longer than %d characters", num - 2);
            return NULL;
        }
    }
    char *p = str;
    if (c->line == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3; /* a UTF-8 byte order mark, which inih skips too */
    char *start = p;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == '\f' ||
           *p == '\v')
        p++;
    if (*p == '\0' || *p == ';' || *p == '#')
        return str; /* blank or a comment */
    if (p != start) {
        fail_at(c, c->line, "the line is indented: start sections and keys at the "
                "first column (inih reads an indented line as the previous "
                "value continued)");
        return NULL;
    }
    if (*p == '[') {
        char *end = strchr(p, ']');
        if (!end)
            return str; /* inih reports it */
        char section[SECTION_MAX + 1];
        size_t n = (size_t)(end - p - 1);
        if (n > SECTION_MAX) {
            fail_at(c, c->line, "the section name is longer than %d characters",
                    SECTION_MAX);
            return NULL;
        }
        memcpy(section, p + 1, n);
        section[n] = '\0';
        c->in_fault = fault_name(section) != NULL;
        if (c->in_fault && !begin_fault(c, section))
            return NULL;
    }
    return str;
}

#define KEY(name) (strcmp(key, name) == 0)

static const char *run_key(rm_scenario *s, const char *key, const char *v) {
    const char *why;
    if (KEY("seed")) {
        char *end;
        errno = 0;
        s->seed = strtoull(v, &end, 10);
        return !(v[0] >= '0' && v[0] <= '9') || *end || errno ? "is not a whole number"
                                                               : NULL;
    }
    if (KEY("duration")) {
        if ((why = scn_parse_dur(v, &s->duration_us)))
            return why;
        return s->duration_us ? NULL : "must be above 0";
    }
    if (KEY("metrics_every")) {
        if ((why = scn_parse_dur(v, &s->metrics_every_us)))
            return why;
        return s->metrics_every_us ? NULL : "must be above 0";
    }
    if (KEY("train_until"))
        return scn_parse_dur(v, &s->train_until_us);
    return "is not a key of [run] (seed, duration, metrics_every, train_until)";
}

static const char *peers_key(load_ctx *c, const char *key, const char *v) {
    rm_scenario *s = c->s;
    if (KEY("count"))
        return scn_parse_u32(v, 1, PEERS_MAX, &s->peers);
    if (KEY("speed"))
        return scn_parse_dist(c->why, v, &s->speed);
    if (KEY("stragglers"))
        return scn_parse_real(v, 0.0, 1.0, &s->stragglers);
    if (KEY("straggler_factor"))
        return scn_parse_real(v, 1.0, 1e6, &s->straggler_factor);
    if (KEY("budget")) {
        if (!strcmp(v, "steps"))
            s->budget_time = false;
        else if (!strcmp(v, "time"))
            s->budget_time = true;
        else
            return "is not steps or time";
        return NULL;
    }
    return "is not a key of [peers] (count, speed, stragglers, straggler_factor, budget)";
}

static const char *data_key(load_ctx *c, const char *key, const char *v) {
    rm_scenario *s = c->s;
    if (KEY("source")) {
        c->source_line = c->line;
        if (!v[0])
            return "is empty (fashion-mnist, none, or a data file's path)";
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
        return scn_parse_real(v, 1e-6, 1e6, &s->alpha);
    if (KEY("eval_rows"))
        return scn_parse_u32(v, 1, 10000000, &s->eval_rows);
    return "is not a key of [data] (source, split, alpha, eval_rows)";
}
static const char *model_key(load_ctx *c, const char *key, const char *v) {
    rm_scenario *s = c->s;
    double x;
    const char *why;
    if (KEY("spec")) {
        if (strlen(v) >= sizeof s->model)
            return "is too long";
        if ((why = scn_parse_model(c->why, v)))
            return why;
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
        if ((why = scn_parse_real(v, 0.0, 0.95, &x)))
            return why;
        s->dropout = (float)x;
        return NULL;
    }
    if (KEY("logit_adjust")) {
        if ((why = scn_parse_real(v, 0.0, 10.0, &x)))
            return why;
        s->logit_adjust = (float)x;
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
        if ((why = scn_parse_real(v, 1e-9, 100.0, &x)))
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
        if ((why = scn_parse_real(v, 0.0, 100.0, &x)))
            return why;
        s->lr_min = (float)x;
        return NULL;
    }
    if (KEY("batch"))
        return scn_parse_u32(v, 1, 65536, &s->batch);
    if (KEY("epochs"))
        return scn_parse_real(v, 0.0, 1e6, &s->epochs);
    if (KEY("step_time"))
        return scn_parse_dur(v, &s->step_us);
    return "is not a key of [model] (spec, init, dropout, logit_adjust, opt, lr, schedule, lr_min, "
           "batch, epochs, step_time)";
}

static const char *gossip_key(rm_scenario *s, const char *key, const char *v) {
    const char *why;
    if (KEY("merge")) {
        int r = rm_merge_rule_parse(v);
        if (r < 0)
            return "is not pairwise, age or pushsum";
        s->merge = (rm_merge_rule)r;
        return NULL;
    }
    if (KEY("interval")) {
        if ((why = scn_parse_dur(v, &s->interval_us)))
            return why;
        return s->interval_us ? NULL : "must be above 0";
    }
    if (KEY("timeout")) {
        if ((why = scn_parse_dur(v, &s->timeout_us)))
            return why;
        return s->timeout_us ? NULL : "must be above 0";
    }
    if (KEY("concurrent"))
        return scn_parse_u32(v, 1, RM_PEER_EXCHANGES_MAX, &s->concurrent);
    if (KEY("steps_per_merge"))
        return scn_parse_u32(v, 0, 1000000, &s->steps_per_merge);
    if (KEY("merge_wait")) {
        if ((why = scn_parse_dur(v, &s->merge_wait_us)))
            return why;
        return s->merge_wait_us ? NULL : "must be above 0";
    }
    if (KEY("view"))
        return scn_parse_u32(v, 1, 4096, &s->view);
    if (KEY("shuffle"))
        return scn_parse_u32(v, 0, RM_VIEW_ENTRIES_MAX - 1, &s->shuffle);
    if (KEY("view_shuffle"))
        return scn_parse_bool(v, &s->view_shuffle);
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
        return scn_parse_real(v, 0.0, 1e12, &s->norm_ratio);
    return "is not a key of [gossip] (merge, interval, timeout, concurrent, "
           "steps_per_merge, merge_wait, view, shuffle, "
           "view_shuffle, delta, norm_ratio)";
}

static const char *link_key(load_ctx *c, const char *key, const char *v) {
    rm_link_model *l = &c->s->link;
    if (KEY("latency"))
        return scn_parse_dist(c->why, v, &l->latency);
    if (KEY("jitter"))
        return scn_parse_dist(c->why, v, &l->jitter);
    if (KEY("bandwidth"))
        return scn_parse_bandwidth(v, &l->bandwidth_bps);
    if (KEY("loss"))
        return scn_parse_real(v, 0.0, 1.0, &l->loss);
    if (KEY("burst")) {
        c->burst_line = c->line;
        return scn_parse_bool(v, &l->ge_on);
    }
    if (KEY("burst_enter"))
        return scn_parse_real(v, 0.0, 1.0, &l->ge_p_good_bad);
    if (KEY("burst_exit"))
        return scn_parse_real(v, 0.0, 1.0, &l->ge_p_bad_good);
    if (KEY("burst_loss_good"))
        return scn_parse_real(v, 0.0, 1.0, &l->ge_loss_good);
    if (KEY("burst_loss_bad"))
        return scn_parse_real(v, 0.0, 1.0, &l->ge_loss_bad);
    if (KEY("duplicate"))
        return scn_parse_real(v, 0.0, 1.0, &l->duplicate);
    if (KEY("reorder"))
        return scn_parse_real(v, 0.0, 1.0, &l->reorder);
    return "is not a key of [link] (latency, jitter, bandwidth, loss, burst, "
           "burst_enter, burst_exit, burst_loss_good, burst_loss_bad, duplicate, "
           "reorder)";
}

static const char *fault_key(load_ctx *c, const char *key, const char *v) {
    const uint32_t i = c->s->nfaults - 1;
    rm_fault *f = &c->s->faults[i];
    if (KEY("at"))
        return scn_parse_dur(v, &f->at_us);
    if (KEY("kind")) {
        static const struct { const char *name; rm_fault_kind kind; } kinds[] = {
            {"partition", RM_FAULT_PARTITION}, {"heal", RM_FAULT_HEAL},
            {"crash", RM_FAULT_CRASH}, {"restart", RM_FAULT_RESTART},
            {"churn", RM_FAULT_CHURN}, {"churn-stop", RM_FAULT_CHURN_STOP},
            {"slow", RM_FAULT_SLOW}};
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
            if (!strcmp(v, kinds[k].name)) {
                f->kind = kinds[k].kind;
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
    if (KEY("bridge")) {
        c->bridge_line[i] = c->line;
        return scn_parse_u32(v, 0, PEERS_MAX - 1, &f->bridge);
    }
    if (KEY("peers")) {
        c->peers_line[i] = c->line;
        return scn_parse_peers(v, f);
    }
    if (KEY("down"))
        return scn_parse_dur(v, &f->down_us);
    if (KEY("on"))
        return scn_parse_dist(c->why, v, &f->churn_on);
    if (KEY("off"))
        return scn_parse_dist(c->why, v, &f->churn_off);
    if (KEY("factor"))
        return scn_parse_real(v, 1e-3, 1e6, &f->factor);
    return "is not a key of a [fault] section (at, kind, partition, bridge, peers, "
           "down, on, off, factor)";
}

static const char *checkpoint_key(rm_scenario *s, const char *key, const char *v) {
    if (KEY("every"))
        return scn_parse_dur(v, &s->ckpt_every_us);
    if (KEY("keep"))
        return scn_parse_u32(v, 1, 100, &s->ckpt_keep);
    if (KEY("rejoin"))
        return scn_parse_bool(v, &s->rejoin);
    return "is not a key of [checkpoint] (every, keep, rejoin)";
}

static int on_key(void *user, const char *section, const char *key,
                  const char *value) {
    load_ctx *c = user;
    rm_scenario *s = c->s;
    const char *why;
    if (!strcmp(section, "run"))
        why = run_key(s, key, value);
    else if (!strcmp(section, "peers"))
        why = peers_key(c, key, value);
    else if (!strcmp(section, "data"))
        why = data_key(c, key, value);
    else if (!strcmp(section, "model"))
        why = model_key(c, key, value);
    else if (!strcmp(section, "gossip"))
        why = gossip_key(s, key, value);
    else if (!strcmp(section, "topology"))
        why = KEY("kind") ? scn_parse_topo(c->why, value, &s->topo)
                          : "is not a key of [topology] (kind)";
    else if (!strcmp(section, "link"))
        why = link_key(c, key, value);
    else if (!strcmp(section, "checkpoint"))
        why = checkpoint_key(s, key, value);
    else if (fault_name(section) && c->in_fault && s->nfaults)
        why = fault_key(c, key, value);
    else
        why = "is in an unknown section (run, peers, data, model, gossip, topology, "
              "link, checkpoint, fault NAME)";
    if (why)
        return fail_at(c, c->line, "[%s] %s: '%s' %s", section, key, value, why);
    return 1;
}

/* Settings that are each fine alone but not together, and faults that
 * cannot act; found once the whole file is read. */
static rm_err check(const load_ctx *c, rm_diag *diag) {
    const rm_scenario *s = c->s;
    if (s->link.ge_on && s->link.ge_p_bad_good <= 0.0)
        return rm_diag_set(diag, RM_EINVAL, "line %d: [link] burst: 'on' needs "
                           "burst_exit above 0 (bursts would never end)", c->burst_line);
    if (s->data == RM_DATA_NONE && strncmp(s->model, "vector:", 7) != 0)
        return rm_diag_set(diag, RM_EINVAL, "line %d: [data] source: 'none' needs "
                           "[model] spec = vector:N (the model '%s' trains on data)",
                           c->source_line, s->model);
    for (uint32_t i = 0; i < s->nfaults; i++) {
        const rm_fault *f = &s->faults[i];
        const char *name = c->fault_name[i];
        if (f->kind == 0)
            return rm_diag_set(diag, RM_EINVAL, "line %d: [fault %s] has no kind "
                               "(partition, heal, crash, restart, churn, churn-stop "
                               "or slow)", f->line, name);
        for (uint32_t k = 0; k < f->npeers; k++)
            if (f->peers[k] >= s->peers)
                return rm_diag_set(diag, RM_EINVAL, "line %d: [fault %s] peers: peer %u "
                                   "is not below [peers] count = %u", c->peers_line[i],
                                   name, f->peers[k], s->peers);
        bool needs_peers = f->kind == RM_FAULT_CRASH || f->kind == RM_FAULT_CHURN ||
                           f->kind == RM_FAULT_SLOW ||
                           (f->kind == RM_FAULT_PARTITION &&
                            f->partition == RM_PART_ISOLATE);
        if (needs_peers && f->fraction <= 0.0 && f->npeers == 0)
            return rm_diag_set(diag, RM_EINVAL, "line %d: [fault %s] names no peers "
                               "(peers = 25%% or peers = 3,5,7)", f->line, name);
        if (f->kind == RM_FAULT_PARTITION && f->partition == RM_PART_BRIDGE &&
            f->bridge >= s->peers)
            return rm_diag_set(diag, RM_EINVAL, "line %d: [fault %s] bridge: peer %u "
                               "is not below [peers] count = %u",
                               c->bridge_line[i] ? c->bridge_line[i] : f->line, name,
                               f->bridge, s->peers);
    }
    return RM_OK;
}

rm_err rm_scenario_load(const char *path, rm_scenario *s, rm_diag *diag) {
    load_ctx c = {.s = s};
    c.f = fopen(path, "r");
    if (!c.f)
        return rm_diag_set(diag, errno == ENOENT ? RM_ENOENT : RM_EIO,
                           "cannot open it: %s", strerror(errno));
    int line = ini_parse_stream(read_line, &c, on_key, &c);
    bool io_error = ferror(c.f);
    fclose(c.f);
    if (io_error)
        return rm_diag_set(diag, RM_EIO, "cannot read it (after line %d)", c.line);
    if (line < 0)
        return rm_diag_set(diag, RM_ENOMEM, "out of memory reading it");
    /* inih goes on after a bad line; we stop at ours. The first one wins. */
    if (c.err_line && (line == 0 || c.err_line <= line))
        return rm_diag_set(diag, RM_EINVAL, "line %d: %s", c.err_line, c.err);
    if (line > 0)
        return rm_diag_set(diag, RM_EINVAL, "line %d: not a section, key = value, "
                           "or comment", line);
    return check(&c, diag);
}
