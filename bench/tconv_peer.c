/*
 * tconv_peer.c - tconv as a peer of the ConvTranspose2d benchmark harness
 * (../shared/peers/run_peers.sh; protocol in its README): reads the shape table and
 * the harness's data files, cross-checks against the float64 reference, times the call
 * with the harness's policy, prints one 9-field TSV row per shape.
 *
 * Timed region (like the peers'): a plan is created outside it (weights packed once);
 * the plan run on NCHW data is inside. --mode oneshot times tconv_convtranspose2d_ex
 * instead (validation + packing + workspace allocation every call). The impl field
 * says algorithm/isa/threads, the call's workspace and the plan's packed weights.
 *
 *   tconv_peer --shapes FILE --data DIR [--threads T] [--budget S] [--check]
 *              [--only NAME] [--name PEERNAME] [--mode plan|oneshot]
 *              [--algo auto|reference|gemm_col2im|phase_gemm|direct] [--layout nchw|nhwc]
 *
 * --layout nhwc runs on channels-last input and output (the harness's NCHW data
 * transposed outside the timed region, the output transposed back for the check).
 *
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tconv.h"

typedef struct layer {
    char name[64];
    long n, cin, h, w, cout, k, stride, pad, outpad, groups, dil;
    long ho, wo;
} layer;

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "tconv_peer: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(2);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static tconv_params layer_params(const layer *l)
{
    tconv_params p = tconv_params_default();
    for (int d = 0; d < 2; d++) {
        p.stride[d] = l->stride;
        p.padding[d] = l->pad;
        p.output_padding[d] = l->outpad;
        p.dilation[d] = l->dil;
    }
    p.groups = l->groups;
    return p;
}

static int read_layers(const char *path, layer *out, int max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot open shapes file %s", path);
    char line[512];
    int count = 0;
    while (count < max && fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n' || line[0] == '\r')
            continue;
        layer *l = &out[count];
        if (sscanf(line, "%63s %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld", l->name, &l->n,
                   &l->cin, &l->h, &l->w, &l->cout, &l->k, &l->stride, &l->pad, &l->outpad,
                   &l->groups, &l->dil) != 12)
            die("bad shape line: %s", line);
        /* the output's size, and the line's parameters checked, by the library */
        const tconv_params p = layer_params(l);
        const tconv_tensor x = tconv_tensor_nchw(NULL, l->n, l->cin, l->h, l->w),
                           w = tconv_tensor_nchw(NULL, l->cin,
                                                 l->groups > 0 ? l->cout / l->groups : 0, l->k,
                                                 l->k);
        int64_t y[TCONV_MAX_RANK];
        if (tconv_output_shape(&p, &x, &w, y) != TCONV_OK || y[1] != l->cout)
            die("bad layer: %s", line);
        l->ho = (long)y[2];
        l->wo = (long)y[3];
        count++;
    }
    fclose(f);
    return count;
}

static void *load(const char *dir, const char *name, const char *file, size_t bytes)
{
    char path[2048];
    if (snprintf(path, sizeof path, "%s/%s/%s", dir, name, file) >= (int)sizeof path)
        die("path too long: %s", dir);
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open %s", path);
    void *p = malloc(bytes ? bytes : 1);
    if (!p || fread(p, 1, bytes, f) != bytes)
        die("cannot read %s", path);
    fclose(f);
    return p;
}

static void store(const char *dir, const char *name, const char *file, const void *p, size_t bytes)
{
    char path[2048];
    if (snprintf(path, sizeof path, "%s/%s/%s", dir, name, file) >= (int)sizeof path)
        die("path too long: %s", dir);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, bytes, f) != bytes)
        die("cannot write %s", path);
    fclose(f);
}

/* bytes as MB (10^6) from 0.1 MB up, else as KB (10^3): small layers' scratch shows */
static const char *size_text(char buf[32], size_t bytes)
{
    if (bytes >= 100000)
        snprintf(buf, 32, "%.2fMB", (double)bytes / 1e6);
    else
        snprintf(buf, 32, "%.1fKB", (double)bytes / 1e3);
    return buf;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* What one timed call needs. */
typedef struct job {
    bool oneshot;
    tconv_params p;
    tconv_tensor x, w, b, y;
    tconv_exec exec;
    tconv_plan *plan;
    tconv_report rep;
    tconv_status st;
} job;

static void call(job *j)
{
    j->st = j->oneshot ? tconv_convtranspose2d_ex(&j->p, &j->x, &j->w, &j->b, &j->y, &j->exec, &j->rep)
                       : tconv_plan_run(j->plan, &j->x, &j->y, &j->exec, &j->rep);
}

int main(int argc, char **argv)
{
    const char *shapes = NULL, *data = NULL, *only = NULL, *name = "tconv", *algo = "auto";
    const char *mode = "plan";
    const char *layout = "nchw";
    int threads = 1;
    double budget = 0.25;
    bool check = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--check") == 0) {
            check = true;
            continue;
        }
        if (!v)
            die("option %s needs a value", a);
        if (strcmp(a, "--shapes") == 0) shapes = v;
        else if (strcmp(a, "--data") == 0) data = v;
        else if (strcmp(a, "--only") == 0) only = v;
        else if (strcmp(a, "--name") == 0) name = v;
        else if (strcmp(a, "--algo") == 0) algo = v;
        else if (strcmp(a, "--mode") == 0) mode = v;
        else if (strcmp(a, "--layout") == 0) layout = v;
        else if (strcmp(a, "--threads") == 0) threads = atoi(v);
        else if (strcmp(a, "--budget") == 0) budget = atof(v);
        else die("unknown option %s", a);
        i++;
    }
    if (!shapes || !data)
        die("%s", "--shapes and --data are required");
    int algo_id = -1;
    for (int i = 0; i < TCONV_ALGO_COUNT; i++)
        if (strcmp(tconv_algorithm_name(i), algo) == 0)
            algo_id = i;
    if (algo_id < 0)
        die("unknown --algo %s", algo);
    if (strcmp(mode, "plan") != 0 && strcmp(mode, "oneshot") != 0)
        die("unknown --mode %s", mode);
    if (strcmp(layout, "nchw") != 0 && strcmp(layout, "nhwc") != 0)
        die("unknown --layout %s", layout);
    const bool nhwc = strcmp(layout, "nhwc") == 0;

    static layer layers[256];
    int count = read_layers(shapes, layers, 256);
    int failures = 0;
    for (int li = 0; li < count; li++) {
        const layer *l = &layers[li];
        if (only && strcmp(only, l->name) != 0)
            continue;
        size_t nx = (size_t)(l->n * l->cin * l->h * l->w);
        size_t nw = (size_t)(l->cin * (l->cout / l->groups) * l->k * l->k);
        size_t ny = (size_t)(l->n * l->cout * l->ho * l->wo);
        float *x = load(data, l->name, "x.f32", nx * 4);
        float *w = load(data, l->name, "w.f32", nw * 4);
        float *b = load(data, l->name, "b.f32", (size_t)l->cout * 4);
        double *ref = load(data, l->name, "ref.f64", ny * 8);
        float *y = malloc(ny * 4 + 64);

        job j;
        memset(&j, 0, sizeof j);
        j.oneshot = strcmp(mode, "oneshot") == 0;
        j.p = layer_params(l);
        float *xl = x, *yl = y; /* the data in the layout timed */
        if (nhwc) {
            xl = malloc(nx * 4 + 64);
            yl = malloc(ny * 4 + 64);
            if (!xl || !yl)
                die("out of memory for %s", l->name);
            for (long n = 0; n < l->n; n++)
                for (long c = 0; c < l->cin; c++)
                    for (long i = 0; i < l->h * l->w; i++)
                        xl[(n * l->h * l->w + i) * l->cin + c] =
                            x[(n * l->cin + c) * l->h * l->w + i];
        }
        j.x = nhwc ? tconv_tensor_nhwc(xl, l->n, l->cin, l->h, l->w)
                   : tconv_tensor_nchw(x, l->n, l->cin, l->h, l->w);
        j.w = tconv_tensor_nchw(w, l->cin, l->cout / l->groups, l->k, l->k);
        j.b = tconv_tensor_1d(b, l->cout);
        j.y = nhwc ? tconv_tensor_nhwc(yl, l->n, l->cout, l->ho, l->wo)
                   : tconv_tensor_nchw(y, l->n, l->cout, l->ho, l->wo);
        tconv_exec ce = tconv_exec_default();
        ce.algorithm = algo_id;
        j.exec = tconv_exec_default();
        j.exec.num_threads = threads;
        if (j.oneshot)
            j.exec.algorithm = algo_id;
        else if (tconv_plan_create(&j.plan, &j.p, &j.x, &j.w, &j.b, &ce) != TCONV_OK)
            j.st = TCONV_ERR_UNSUPPORTED;

        size_t packed = 0, ws = 0;
        if (j.st == TCONV_OK) {
            tconv_report info;
            if (j.plan) {
                tconv_plan_info(j.plan, &info);
                packed = info.workspace_bytes; /* the plan's packed weights */
            }
            call(&j); /* also the --check call */
            ws = j.rep.workspace_bytes; /* per call (one-shot: includes packing) */
        }
        if (j.st != TCONV_OK) {
            fprintf(stderr, "tconv_peer: %s: %s\n", l->name, tconv_last_error_message());
            printf("%s\t%d\t%s\tunsupported\tnan\tnan\t0\tnan\t-\n", name, threads, l->name);
        } else {
            double med = NAN, mn = NAN;
            int reps = 0;
            if (!check) {
                double t0 = now();
                int warm = 0;
                do {
                    call(&j);
                    warm++;
                } while (warm < 2 || (now() - t0 < 0.2 * budget && warm < 50));
                enum { MAX_REPS = 100000 };
                double *t = malloc(sizeof(double) * MAX_REPS);
                double start = now();
                while (reps < MAX_REPS && (reps < 5 || now() - start < budget)) {
                    double a = now();
                    call(&j);
                    t[reps++] = now() - a;
                }
                qsort(t, (size_t)reps, sizeof(double), cmp_double);
                med = 1e3 * (reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]));
                mn = 1e3 * t[0];
                free(t);
            }
            if (nhwc)
                for (long n = 0; n < l->n; n++)
                    for (long c = 0; c < l->cout; c++)
                        for (long i = 0; i < l->ho * l->wo; i++)
                            y[(n * l->cout + c) * l->ho * l->wo + i] =
                                yl[(n * l->ho * l->wo + i) * l->cout + c];
            double maxerr = 0, maxref = 0;
            for (size_t i = 0; i < ny; i++) {
                double e = fabs((double)y[i] - ref[i]);
                if (!(e <= maxerr))
                    maxerr = e;
                if (fabs(ref[i]) > maxref)
                    maxref = fabs(ref[i]);
            }
            double rel = maxerr / (maxref > 0 ? maxref : 1);
            bool ok = rel < 1e-4 && j.st == TCONV_OK;
            failures += !ok;
            char wsz[32], psz[32];
            printf("%s\t%d\t%s\t%s\t%.5f\t%.5f\t%d\t%.2e\t%s/%s/%dT/ws=%s/packed=%s\n", name,
                   threads, l->name, ok ? "ok" : "FAIL", med, mn, reps, rel,
                   tconv_algorithm_name(j.rep.algorithm), tconv_isa_name(j.rep.isa),
                   j.rep.num_threads, size_text(wsz, ws), size_text(psz, packed));
            if (check) {
                char file[128];
                snprintf(file, sizeof file, "out_%s.f32", name);
                store(data, l->name, file, y, ny * 4);
            }
        }
        fflush(stdout);
        tconv_plan_destroy(j.plan);
        if (nhwc) {
            free(xl);
            free(yl);
        }
        free(x);
        free(w);
        free(b);
        free(ref);
        free(y);
    }
    return failures ? 1 : 0;
}
