/*
 * shape.c - the output-size formula and PyTorch's
 * output_size -> output_padding translation.
 *
 * SPDX-License-Identifier: MIT
 */
#include "internal.h"

/* Size of the output before output_padding, i.e. what PyTorch calls the minimum size:
 * (in-1)*stride - 2*pad + dil*(k-1) + 1. Every step is checked; intermediate values
 * may be negative (too much padding), which callers report. */
static bool min_out_dim(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil,
                        int64_t *out)
{
    int64_t a, b, c;
    return tconv__mul(in - 1, stride, &a) && tconv__mul(pad, 2, &b) && tconv__add(a, -b, &a) &&
           tconv__mul(dil, k - 1, &c) && tconv__add(a, c, &a) && tconv__add(a, 1, out);
}

bool tconv__out_dim(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil,
                    int64_t outpad, int64_t *out)
{
    int64_t m;
    return min_out_dim(in, k, stride, pad, dil, &m) && tconv__add(m, outpad, out);
}

tconv_status tconv_output_padding_for_size(const tconv_params *params, const int64_t in_size[2],
                                           const int64_t kernel_size[2],
                                           const int64_t output_size[2],
                                           int64_t output_padding[2])
{
    tconv__clear_error();
    if (!params || !in_size || !kernel_size || !output_size || !output_padding)
        return tconv__fail(TCONV_ERR_NULL_POINTER,
                           "params, in_size, kernel_size, output_size and output_padding "
                           "must not be NULL");
    /* output_padding in params is what this call replaces: check everything else. */
    tconv_params p = *params;
    p.output_padding[0] = p.output_padding[1] = 0;
    tconv_status st = tconv__check_params(&p);
    if (st != TCONV_OK)
        return st;

    int64_t res[2];
    for (int d = 0; d < 2; d++) {
        if (in_size[d] < 1)
            return tconv__fail(TCONV_ERR_INVALID_ARGUMENT, "in_size[%d]=%lld must be >= 1", d,
                               (long long)in_size[d]);
        if (kernel_size[d] < 1)
            return tconv__fail(TCONV_ERR_INVALID_ARGUMENT, "kernel_size[%d]=%lld must be >= 1",
                               d, (long long)kernel_size[d]);
        int64_t lo, hi;
        if (!min_out_dim(in_size[d], kernel_size[d], p.stride[d], p.padding[d], p.dilation[d],
                         &lo) ||
            !tconv__add(lo, p.stride[d] - 1, &hi))
            return tconv__fail(TCONV_ERR_SIZE_OVERFLOW,
                               "output size of dimension %d overflows int64", d);
        if (hi < 1)
            return tconv__fail(TCONV_ERR_INVALID_ARGUMENT,
                               "requested output_size[%d]=%lld, but no size is valid: even "
                               "output_padding=%lld gives %lld (padding too large for an input "
                               "of %lld and a kernel of %lld)",
                               d, (long long)output_size[d], (long long)(p.stride[d] - 1),
                               (long long)hi, (long long)in_size[d], (long long)kernel_size[d]);
        const int64_t first = lo < 1 ? 1 : lo; /* sizes below 1 are never valid */
        if (output_size[d] < first || output_size[d] > hi)
            return tconv__fail(TCONV_ERR_INVALID_ARGUMENT,
                               "requested output_size[%d]=%lld, but valid sizes range from "
                               "%lld to %lld (for an input of %lld and a kernel of %lld)",
                               d, (long long)output_size[d], (long long)first, (long long)hi,
                               (long long)in_size[d], (long long)kernel_size[d]);
        res[d] = output_size[d] - lo;
    }
    output_padding[0] = res[0];
    output_padding[1] = res[1];
    return TCONV_OK;
}

tconv_status tconv_output_shape(const tconv_params *params, const tconv_tensor *input,
                                const tconv_tensor *weight, int64_t out_shape[TCONV_MAX_RANK])
{
    tconv__clear_error();
    if (!out_shape)
        return tconv__fail(TCONV_ERR_NULL_POINTER, "out_shape must not be NULL");
    tconv_problem pb;
    tconv_status st = tconv__build_problem(params, input, weight, NULL, NULL, TCONV_CHECK_SHAPES, &pb);
    if (st != TCONV_OK)
        return st;
    int64_t full[4] = {pb.s.n, pb.s.cout, pb.s.hout, pb.s.wout};
    const int64_t *src = input->rank == 4 ? full : full + 1;
    for (int d = 0; d < input->rank; d++)
        out_shape[d] = src[d];
    return TCONV_OK;
}
