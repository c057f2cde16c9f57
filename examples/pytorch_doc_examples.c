/*
 * pytorch_doc_examples.c - the examples of PyTorch's torch.nn.ConvTranspose2d
 * documentation, done with tconv:
 *
 *   m = nn.ConvTranspose2d(16, 33, 3, stride=2)
 *   m = nn.ConvTranspose2d(16, 33, (3, 5), stride=(2, 1), padding=(4, 2))
 *   output = m(torch.randn(20, 16, 50, 100))
 *
 *   input = torch.randn(1, 16, 12, 12)
 *   downsample = nn.Conv2d(16, 16, 3, stride=2, padding=1)
 *   upsample = nn.ConvTranspose2d(16, 16, 3, stride=2, padding=1)
 *   h = downsample(input)                            # 1x16x6x6
 *   output = upsample(h, output_size=input.size())   # 1x16x12x12
 *
 * Each layer runs forward on random data. The program exits non-zero if a shape differs
 * from PyTorch's or a spot check of the values against a float64 evaluation fails.
 *
 * SPDX-License-Identifier: MIT
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tconv.h"

/* xorshift64*: the same data on every machine. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static float uniform(void) /* in [-1, 1) */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t r = rng_state * 0x2545f4914f6cdd1dull;
    return (float)((double)(r >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

static float *random_floats(int64_t count)
{
    float *p = malloc((size_t)count * sizeof *p);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (int64_t i = 0; i < count; i++)
        p[i] = uniform();
    return p;
}

static void print_shape(const char *label, int rank, const int64_t *shape)
{
    printf("%s", label);
    for (int d = 0; d < rank; d++)
        printf("%s%lld", d ? "x" : "", (long long)shape[d]);
}

static int same_shape(int rank, const int64_t *a, const int64_t *b)
{
    for (int d = 0; d < rank; d++)
        if (a[d] != b[d])
            return 0;
    return 1;
}

static int fail(const char *what, tconv_status st)
{
    fprintf(stderr, "%s failed: %s\n  %s\n", what, tconv_status_string(st),
            tconv_last_error_message());
    return 1;
}

/* Recomputes a few output elements in double straight from the gather definition and
 * checks the bound of docs/SEMANTICS.md: |y - exact| <= gamma(K+1) * S. */
static int spot_check(const tconv_params *p, const tconv_tensor *x, const tconv_tensor *w,
                      const float *b, const tconv_tensor *y)
{
    const int64_t cin = x->shape[1], h = x->shape[2], wd = x->shape[3];
    const int64_t cout_g = w->shape[1], kh = w->shape[2], kw = w->shape[3];
    const int64_t cin_g = cin / p->groups;
    const double u = ldexp(1.0, -24), nu = (double)(cin_g * kh * kw + 1) * u;
    const double gamma = nu / (1.0 - nu);
    const float *xd = x->data, *wdata = w->data, *yd = y->data;
    for (int t = 0; t < 16; t++) {
        int64_t idx[4];
        for (int d = 0; d < 4; d++)
            idx[d] = (int64_t)((uniform() + 1.0f) * 0.5f * (float)y->shape[d]) % y->shape[d];
        const int64_t n = idx[0], co = idx[1], oy = idx[2], ox = idx[3];
        const int64_t g = co / cout_g;
        double exact = b ? b[co] : 0.0, s = fabs(exact);
        for (int64_t ci = g * cin_g; ci < (g + 1) * cin_g; ci++)
            for (int64_t ky = 0; ky < kh; ky++)
                for (int64_t kx = 0; kx < kw; kx++) {
                    int64_t ty = oy + p->padding[0] - ky * p->dilation[0];
                    int64_t tx = ox + p->padding[1] - kx * p->dilation[1];
                    if (ty < 0 || tx < 0 || ty % p->stride[0] || tx % p->stride[1])
                        continue;
                    int64_t iy = ty / p->stride[0], ix = tx / p->stride[1];
                    if (iy >= h || ix >= wd)
                        continue;
                    double prod = (double)xd[((n * cin + ci) * h + iy) * wd + ix] *
                                  wdata[((ci * cout_g + co % cout_g) * kh + ky) * kw + kx];
                    exact += prod;
                    s += fabs(prod);
                }
        double got = yd[((n * y->shape[1] + co) * y->shape[2] + oy) * y->shape[3] + ox];
        if (!(fabs(got - exact) <= gamma * s + FLT_MIN)) {
            fprintf(stderr, "value at (%lld, %lld, %lld, %lld) is %.9g, expected %.9g\n",
                    (long long)n, (long long)co, (long long)oy, (long long)ox, got, exact);
            return 1;
        }
    }
    return 0;
}

/* Builds the layer (Cin, Cout, kernel, params), runs it on random N x Cin x H x W data
 * and compares the output shape with PyTorch's. */
static int run_layer(const char *torch_code, const tconv_params *p, const int64_t in_shape[4],
                     int64_t cout, int64_t kh, int64_t kw, const int64_t expected[4])
{
    const int64_t n = in_shape[0], cin = in_shape[1], h = in_shape[2], w = in_shape[3];
    float *xd = random_floats(n * cin * h * w);
    float *wd = random_floats(cin * (cout / p->groups) * kh * kw);
    float *bd = random_floats(cout);
    tconv_tensor x = tconv_tensor_nchw(xd, n, cin, h, w);
    tconv_tensor wt = tconv_tensor_nchw(wd, cin, cout / p->groups, kh, kw);
    tconv_tensor b = tconv_tensor_1d(bd, cout);

    printf("%s\n", torch_code);
    int64_t out[TCONV_MAX_RANK];
    tconv_status st = tconv_output_shape(p, &x, &wt, out);
    if (st != TCONV_OK)
        return fail("tconv_output_shape", st);
    print_shape("  input ", 4, in_shape);
    print_shape(" -> output ", 4, out);
    print_shape("   (PyTorch: ", 4, expected);
    int bad = !same_shape(4, out, expected);
    printf(")%s\n", bad ? "  MISMATCH" : "");

    float *yd = malloc((size_t)(out[0] * out[1] * out[2] * out[3]) * sizeof *yd);
    tconv_tensor y = tconv_tensor_nchw(yd, out[0], out[1], out[2], out[3]);
    tconv_report rep;
    st = yd ? tconv_convtranspose2d_ex(p, &x, &wt, &b, &y, NULL, &rep) : TCONV_ERR_OUT_OF_MEMORY;
    if (st != TCONV_OK) {
        bad |= fail("tconv_convtranspose2d_ex", st);
    } else {
        printf("  ran %s (%s, %d threads): %s\n", tconv_algorithm_name(rep.algorithm),
               tconv_isa_name(rep.isa), (int)rep.num_threads, rep.reason);
        bad |= spot_check(p, &x, &wt, bd, &y);
    }
    free(yd);
    free(bd);
    free(wd);
    free(xd);
    return bad;
}

int main(void)
{
    int bad = 0;
    const int64_t in[4] = {20, 16, 50, 100};

    /* With square kernels and equal stride */
    tconv_params p1 = tconv_params_default();
    p1.stride[0] = p1.stride[1] = 2;
    const int64_t want1[4] = {20, 33, 101, 201}; /* (50-1)*2 + 3 = 101, (100-1)*2 + 3 = 201 */
    bad |= run_layer("nn.ConvTranspose2d(16, 33, 3, stride=2)", &p1, in, 33, 3, 3, want1);

    /* Non-square kernels and unequal stride and with padding */
    tconv_params p2 = tconv_params_default();
    p2.stride[0] = 2;
    p2.stride[1] = 1;
    p2.padding[0] = 4;
    p2.padding[1] = 2;
    const int64_t want2[4] = {20, 33, 93, 100}; /* (50-1)*2 - 8 + 3 = 93, 99 - 4 + 5 = 100 */
    bad |= run_layer("nn.ConvTranspose2d(16, 33, (3, 5), stride=(2, 1), padding=(4, 2))", &p2,
                     in, 33, 3, 5, want2);

    /* Exact output size can also be specified as an argument. The convolution maps
     * 12 -> floor((12 + 2*1 - 3) / 2) + 1 = 6, but so does 11: a stride-2 transposed
     * convolution of 6 can give 11 or 12, and output_size picks one. */
    const int64_t x_shape[4] = {1, 16, 12, 12};
    int64_t h_shape[4] = {1, 16, 0, 0};
    for (int d = 0; d < 2; d++)
        h_shape[2 + d] = (x_shape[2 + d] + 2 * 1 - 1 * (3 - 1) - 1) / 2 + 1;
    const int64_t want_h[4] = {1, 16, 6, 6};
    printf("nn.Conv2d(16, 16, 3, stride=2, padding=1)   (shape only)\n");
    print_shape("  input ", 4, x_shape);
    print_shape(" -> h ", 4, h_shape);
    printf("%s\n", same_shape(4, h_shape, want_h) ? "" : "  MISMATCH");
    bad |= !same_shape(4, h_shape, want_h);

    tconv_params up = tconv_params_default();
    up.stride[0] = up.stride[1] = 2;
    up.padding[0] = up.padding[1] = 1;
    const int64_t in_size[2] = {h_shape[2], h_shape[3]}, kernel[2] = {3, 3};
    const int64_t out_size[2] = {x_shape[2], x_shape[3]}, too_big[2] = {14, 14};
    tconv_status st = tconv_output_padding_for_size(&up, in_size, kernel, out_size,
                                                    up.output_padding);
    if (st != TCONV_OK)
        return fail("tconv_output_padding_for_size", st);
    printf("output_size=(12, 12) -> output_padding=(%lld, %lld)   (without it: 11x11)\n",
           (long long)up.output_padding[0], (long long)up.output_padding[1]);
    int64_t ignored[2];
    st = tconv_output_padding_for_size(&up, in_size, kernel, too_big, ignored);
    printf("output_size=(14, 14) -> %s\n  %s\n", tconv_status_string(st),
           tconv_last_error_message());
    bad |= st != TCONV_ERR_INVALID_ARGUMENT;
    bad |= run_layer("nn.ConvTranspose2d(16, 16, 3, stride=2, padding=1), output_size=(12, 12)",
                     &up, h_shape, 16, 3, 3, x_shape);

    printf("%s\n", bad ? "FAILED" : "all shapes match PyTorch's documentation");
    return bad;
}
