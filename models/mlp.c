#include "models/mlp.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/layers.h"

#define RM_MLP_WIDTH_MAX (1 << 20)

/* Parses the widths "IN-H-...-OUT" at p, up to the end or a ':' (left in
 * *rest); s is the whole spec, for messages. */
static rm_err parse_widths(const char *s, const char *p, rm_mlp_spec *spec,
                           const char **rest, rm_diag *diag) {
    int n = 0;
    for (;;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > RM_MLP_WIDTH_MAX)
            return rm_diag_set(diag, RM_EMODEL_SPEC,
                               "'%s': width %d is not a number in 1..%d", s,
                               n + 1, RM_MLP_WIDTH_MAX);
        if (n > RM_MLP_LAYERS_MAX)
            return rm_diag_set(diag, RM_EMODEL_SPEC,
                               "'%s': more than %d layers", s, RM_MLP_LAYERS_MAX);
        spec->dims[n++] = (int)v;
        if (*end == '\0' || *end == ':') {
            *rest = end;
            break;
        }
        if (*end != '-')
            return rm_diag_set(diag, RM_EMODEL_SPEC,
                               "'%s': unexpected '%c' after width %d", s, *end, n);
        p = end + 1;
    }
    if (n < 2)
        return rm_diag_set(diag, RM_EMODEL_SPEC,
                           "'%s': needs at least an input and an output width", s);
    if (spec->dims[n - 1] < 2)
        return rm_diag_set(diag, RM_EMODEL_SPEC,
                           "'%s': the output needs at least 2 classes", s);
    spec->layers = n - 1;
    return RM_OK;
}

/* The SVM's options after its widths: ":hinge", ":squared", ":lambda=X". */
static rm_err parse_svm_options(const char *s, const char *p, rm_mlp_spec *spec,
                                rm_diag *diag) {
    while (*p == ':') {
        p++;
        size_t len = strcspn(p, ":");
        if (len == 5 && strncmp(p, "hinge", 5) == 0)
            spec->loss = RM_LOSS_HINGE;
        else if ((len == 7 && strncmp(p, "squared", 7) == 0) ||
                 (len == 13 && strncmp(p, "squared-hinge", 13) == 0))
            spec->loss = RM_LOSS_SQUARED_HINGE;
        else if (len > 7 && strncmp(p, "lambda=", 7) == 0) {
            char *end;
            errno = 0;
            float v = strtof(p + 7, &end);
            if (end != p + len || errno || !(v >= 0.0f && v <= 1.0f))
                return rm_diag_set(diag, RM_EMODEL_SPEC,
                                   "'%s': lambda=%.*s is not a number in [0, 1]",
                                   s, (int)(len - 7), p + 7);
            spec->l2 = v;
        } else
            return rm_diag_set(diag, RM_EMODEL_SPEC,
                               "'%s': unknown SVM option '%.*s' (hinge, squared, "
                               "lambda=X)", s, (int)len, p);
        p += len;
    }
    return RM_OK;
}

rm_err rm_mlp_spec_parse(const char *s, rm_mlp_spec *spec, rm_diag *diag) {
    memset(spec, 0, sizeof *spec);
    const char *p, *rest = NULL;
    int one_layer = 0, svm = 0;
    if (strncmp(s, "mlp:", 4) == 0)
        p = s + 4;
    else if (strncmp(s, "softmax:", 8) == 0 || strncmp(s, "logreg:", 7) == 0 ||
             (svm = strncmp(s, "svm:", 4) == 0)) {
        p = strchr(s, ':') + 1;
        one_layer = 1;
    } else
        return rm_diag_set(diag, RM_EMODEL_SPEC,
                           "'%s': expected mlp:IN-H...-OUT, softmax:IN-OUT or "
                           "svm:IN-CLASSES", s);
    rm_err err = parse_widths(s, p, spec, &rest, diag);
    if (err)
        return err;
    if (one_layer && spec->layers != 1)
        return rm_diag_set(diag, RM_EMODEL_SPEC,
                           "'%s': %s has exactly two widths", s,
                           svm ? "a linear SVM" : "softmax regression");
    spec->classes = spec->dims[spec->layers];
    if (!svm) {
        if (*rest)
            return rm_diag_set(diag, RM_EMODEL_SPEC,
                               "'%s': unexpected '%s' after the widths", s, rest);
        return RM_OK;
    }
    spec->loss = RM_LOSS_HINGE;
    spec->l2 = RM_SVM_LAMBDA_DEFAULT;
    if (spec->classes == 2)
        spec->dims[1] = 1; /* binary: one weight vector, its sign decides */
    return parse_svm_options(s, rest, spec, diag);
}

void rm_mlp_spec_format(const rm_mlp_spec *spec, char *buf, size_t len) {
    if (spec->loss != RM_LOSS_SOFTMAX) {
        snprintf(buf, len, "svm:%d-%d:%s:lambda=%g", spec->dims[0], spec->classes,
                 spec->loss == RM_LOSS_SQUARED_HINGE ? "squared" : "hinge",
                 (double)spec->l2);
        return;
    }
    size_t at = (size_t)snprintf(buf, len, "mlp:%d", spec->dims[0]);
    for (int l = 1; l <= spec->layers && at < len; l++)
        at += (size_t)snprintf(buf + at, len - at, "-%d", spec->dims[l]);
}

size_t rm_mlp_spec_nparams(const rm_mlp_spec *spec) {
    size_t n = 0;
    for (int l = 0; l < spec->layers; l++)
        n += (size_t)spec->dims[l] * spec->dims[l + 1] + spec->dims[l + 1];
    return n;
}

/* 64-byte aligned zeroed floats, so that vector loops start on a line. */
static float *alloc_floats(size_t n) {
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes ? bytes : 64);
    if (p)
        memset(p, 0, bytes);
    return p;
}

rm_err rm_mlp_create(rm_mlp **out, const rm_mlp_spec *spec, float dropout,
                     int batch_max) {
    *out = NULL;
    if (spec->layers < 1 || spec->layers > RM_MLP_LAYERS_MAX || batch_max < 1 ||
        !(dropout >= 0.0f && dropout < 1.0f))
        return RM_EINVAL;
    rm_mlp *m = calloc(1, sizeof *m);
    if (!m)
        return RM_ENOMEM;
    m->spec = *spec;
    m->dropout = dropout;
    m->batch_max = batch_max;
    m->nparams = rm_mlp_spec_nparams(spec);
    m->params = alloc_floats(m->nparams);
    m->grads = alloc_floats(m->nparams);
    if (!m->params || !m->grads)
        goto err;
    size_t at = 0, widest = 0;
    for (int l = 0; l < spec->layers; l++) {
        size_t in = (size_t)spec->dims[l], o = (size_t)spec->dims[l + 1];
        m->w[l] = m->params + at;
        m->dw[l] = m->grads + at;
        at += in * o;
        m->b[l] = m->params + at;
        m->db[l] = m->grads + at;
        at += o;
        if (in > widest)
            widest = in;
        if (o > widest)
            widest = o;
        if (!(m->act[l + 1] = alloc_floats((size_t)batch_max * o)))
            goto err;
        if (l + 1 < spec->layers &&
            !(m->mask[l] = alloc_floats((size_t)batch_max * o)))
            goto err;
    }
    if (!(m->probs = alloc_floats((size_t)batch_max * spec->classes)) ||
        !(m->dbuf[0] = alloc_floats((size_t)batch_max * widest)) ||
        !(m->dbuf[1] = alloc_floats((size_t)batch_max * widest)))
        goto err;
    *out = m;
    return RM_OK;
err:
    rm_mlp_free(m);
    return RM_ENOMEM;
}

void rm_mlp_free(rm_mlp *m) {
    if (!m)
        return;
    free(m->params);
    free(m->grads);
    for (int l = 0; l < RM_MLP_LAYERS_MAX; l++) {
        free(m->act[l + 1]);
        free(m->mask[l]);
    }
    free(m->probs);
    free(m->dbuf[0]);
    free(m->dbuf[1]);
    free(m);
}

void rm_mlp_init(rm_mlp *m, rm_rng *rng) {
    if (m->spec.loss != RM_LOSS_SOFTMAX) {
        memset(m->params, 0, m->nparams * sizeof *m->params);
        return;
    }
    for (int l = 0; l < m->spec.layers; l++) {
        int in = m->spec.dims[l], o = m->spec.dims[l + 1];
        int last = l == m->spec.layers - 1;
        /* He-uniform keeps ReLU activations' variance; Glorot suits the
         * linear output layer. */
        float limit = last ? sqrtf(6.0f / (float)(in + o)) : sqrtf(6.0f / (float)in);
        size_t nw = (size_t)in * o;
        for (size_t i = 0; i < nw; i++)
            m->w[l][i] = (2.0f * rm_rng_float(rng) - 1.0f) * limit;
        memset(m->b[l], 0, (size_t)o * sizeof(float));
    }
}

/* Forward through every layer; with rng, hidden layers get dropout. */
static void forward(rm_mlp *m, const float *x, int B, rm_rng *rng) {
    const rm_mlp_spec *s = &m->spec;
    m->act[0] = (float *)x;
    for (int l = 0; l < s->layers; l++) {
        int in = s->dims[l], o = s->dims[l + 1];
        rm_dense_forward(m->act[l + 1], m->act[l], m->w[l], m->b[l], B, in, o);
        if (l + 1 < s->layers) {
            size_t n = (size_t)B * o;
            rm_relu_forward(m->act[l + 1], m->act[l + 1], n);
            if (rng && m->dropout > 0.0f)
                rm_dropout_forward(m->act[l + 1], m->mask[l], n, m->dropout, rng);
        }
    }
}

/* The loss of the last layer's outputs act[L] into *loss, and its
 * gradient into d (B, dims[L]) when d is not NULL. */
static float output_loss(rm_mlp *m, const int32_t *y, int B, float *d,
                         int *correct) {
    const int L = m->spec.layers, U = m->spec.dims[L];
    if (m->spec.loss == RM_LOSS_SOFTMAX) {
        if (d && m->logit_bias)
            for (int r = 0; r < B; r++)
                for (int j = 0; j < U; j++)
                    m->act[L][(size_t)r * U + j] += m->logit_bias[j];
        float loss = rm_softmax_xent_forward(m->probs, m->act[L], y, B, U, correct);
        if (d)
            rm_softmax_xent_backward(d, m->probs, y, B, U);
        return loss;
    }
    int squared = m->spec.loss == RM_LOSS_SQUARED_HINGE;
    float loss = rm_hinge_forward(m->act[L], y, B, U, squared, correct);
    if (d)
        rm_hinge_backward(d, m->act[L], y, B, U, squared);
    return loss;
}

/* (l2/2) ||w||^2 over every layer's weights (not biases), and its
 * gradient l2 * w added into dw. O(nparams), through BLAS. */
static float add_l2(rm_mlp *m) {
    const rm_mlp_spec *s = &m->spec;
    if (s->l2 == 0.0f)
        return 0.0f;
    double sq = 0.0;
    for (int l = 0; l < s->layers; l++) {
        int nw = s->dims[l] * s->dims[l + 1];
        sq += (double)cblas_sdot(nw, m->w[l], 1, m->w[l], 1);
        cblas_saxpy(nw, s->l2, m->w[l], 1, m->dw[l], 1);
    }
    return (float)(0.5 * (double)s->l2 * sq);
}

float rm_mlp_train_batch(rm_mlp *m, const float *x, const int32_t *y, int B,
                         rm_rng *rng, int *correct) {
    const rm_mlp_spec *s = &m->spec;
    const int L = s->layers;
    forward(m, x, B, rng);
    float *d = m->dbuf[0], *dnext = m->dbuf[1];
    float loss = output_loss(m, y, B, d, correct);
    for (int l = L - 1; l >= 0; l--) {
        int in = s->dims[l], o = s->dims[l + 1];
        float *din = l > 0 ? dnext : NULL;
        rm_dense_backward(din, m->dw[l], m->db[l], d, m->act[l], m->w[l], B, in, o);
        if (l > 0) {
            size_t n = (size_t)B * in;
            if (m->dropout > 0.0f)
                rm_dropout_backward(din, din, m->mask[l - 1], n);
            rm_relu_backward(din, m->act[l], din, n);
            dnext = d;
            d = din;
        }
    }
    return loss + add_l2(m);
}

const float *rm_mlp_predict(rm_mlp *m, const float *x, const int32_t *y, int B,
                            float *loss, int *correct) {
    const int L = m->spec.layers;
    forward(m, x, B, NULL);
    float l = output_loss(m, y, B, NULL, correct);
    if (loss)
        *loss = y ? l : 0.0f;
    if (m->spec.loss == RM_LOSS_SOFTMAX)
        return m->probs;
    /* An SVM's scores are its decision values; the binary one's single
     * value s becomes the row (-s, s), so that the argmax predicts. */
    const float *sc = m->act[L];
    if (m->spec.dims[L] == 1)
        for (int r = 0; r < B; r++) {
            m->probs[2 * r] = -sc[r];
            m->probs[2 * r + 1] = sc[r];
        }
    else
        memcpy(m->probs, sc, (size_t)B * m->spec.classes * sizeof *sc);
    return m->probs;
}
