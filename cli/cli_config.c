#include "cli/cli_config.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"

typedef struct {
    const struct option *opts;
    char **args;           /* flags read so far */
    int n, cap;
    char err[256];
} cfg_ctx;

static bool push(cfg_ctx *c, const char *s) {
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 32;
        char **a = realloc(c->args, (size_t)cap * sizeof *a);
        if (!a)
            return false;
        c->args = a;
        c->cap = cap;
    }
    return (c->args[c->n++] = strdup(s)) != NULL;
}

static int on_key(void *user, const char *section, const char *key, const char *value) {
    (void)section;
    cfg_ctx *c = user;
    const struct option *o = c->opts;
    while (o->name && strcmp(o->name, key) != 0)
        o++;
    if (!o->name || strcmp(key, "config") == 0 || strcmp(key, "help") == 0) {
        if (!c->err[0])
            snprintf(c->err, sizeof c->err, "'%s' is not a setting (see --help)", key);
        return 0;
    }
    char flag[128];
    snprintf(flag, sizeof flag, "--%s", key);
    if (o->has_arg == no_argument) {
        if (strcmp(value, "false") == 0)
            return 1;
        if (strcmp(value, "true") != 0) {
            if (!c->err[0])
                snprintf(c->err, sizeof c->err, "%s: '%s' is not true or false", key, value);
            return 0;
        }
        return push(c, flag);
    }
    return push(c, flag) && push(c, value);
}

static void free_args(cfg_ctx *c) {
    for (int i = 0; i < c->n; i++)
        free(c->args[i]);
    free(c->args);
}

/* The expanded vector and its strings, freed when the process exits. */
static char **expanded;
static int expanded_from, expanded_to;

static void free_expanded(void) {
    for (int i = expanded_from; i < expanded_to; i++)
        free(expanded[i]);
    free(expanded);
}

bool rm_cli_config_expand(const char *cmd, const struct option *opts, int *argc,
                          char ***argv) {
    int at = -1;
    for (int i = 1; i < *argc; i++)
        if (strcmp((*argv)[i], "--config") == 0 && i + 1 < *argc) {
            at = i;
            break;
        }
    if (at < 0)
        return true;
    const char *path = (*argv)[at + 1];
    cfg_ctx c = {.opts = opts};
    FILE *f = fopen(path, "r");
    if (!f) {
        rm_cli_error(cmd, "%s: cannot read it: %s", path, strerror(errno));
        return false;
    }
    int line = ini_parse_file(f, on_key, &c);
    fclose(f);
    if (line != 0) {
        rm_cli_error(cmd, "%s: line %d: %s", path, line,
                     c.err[0] ? c.err : "not a section, key = value, or comment");
        free_args(&c);
        return false;
    }
    /* argv[0], the file's flags, then the command line minus --config FILE. */
    int n = 1 + c.n + (*argc - 3);
    char **v = calloc((size_t)n + 1, sizeof *v);
    if (!v) {
        rm_cli_error(cmd, "out of memory");
        free_args(&c);
        return false;
    }
    int k = 0;
    v[k++] = (*argv)[0];
    for (int i = 0; i < c.n; i++)
        v[k++] = c.args[i];
    for (int i = 1; i < *argc; i++)
        if (i != at && i != at + 1)
            v[k++] = (*argv)[i];
    v[k] = NULL;
    free(c.args); /* the strings now belong to v */
    expanded = v;
    expanded_from = 1;
    expanded_to = 1 + c.n;
    atexit(free_expanded);
    *argc = k;
    *argv = v;
    return true;
}
