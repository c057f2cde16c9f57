/*
 * validate.c - every rule a call must satisfy before anything is written.
 *
 * Each check names the rule and the values in the thread's error message. The order
 * is: pointers, params, each tensor on its own (dtype, rank, reserved, shape, strides,
 * byte extent), then the tensors against each other and the params, then memory
 * (NULL data, alignment, aliasing).
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "internal.h"

#define LL(v) ((long long)(v))

tconv_status tconv__check_params(const tconv_params *p)
{
    if (!p)
        return tconv__fail(TCONV_ERR_NULL_POINTER, "params must not be NULL");
    for (size_t i = 0; i < sizeof p->reserved / sizeof p->reserved[0]; i++)
        if (p->reserved[i] != 0)
            return tconv__fail(TCONV_ERR_INVALID_ARGUMENT,
                               "params.reserved[%zu]=%lld must be zero (initialise params with "
                               "tconv_params_default())",
                               i, LL(p->reserved[i]));
    for (int d = 0; d < 2; d++) {
        if (p->stride[d] < 1)
            return tconv__fail(TCONV_ERR_INVALID_ARGUMENT, "stride[%d]=%lld must be >= 1", d,
                               LL(p->stride[d]));
        if (p->dilation[d] < 1)
            return tconv__fail(TCONV_ERR_INVALID_ARGUMENT, "dilation[%d]=%lld must be >= 1", d,
                               LL(p->dilation[d]));
        if (p->padding[d] < 0)
            return tconv__fail(TCONV_ERR_INVALID_ARGUMENT, "padding[%d]=%lld must be >= 0", d,
                               LL(p->padding[d]));
        if (p->output_padding[d] < 0)
            return tconv__fail(TCONV_ERR_INVALID_ARGUMENT, "output_padding[%d]=%lld must be >= 0",
                               d, LL(p->output_padding[d]));
        if (p->output_padding[d] >= p->stride[d] && p->output_padding[d] >= p->dilation[d])
            return tconv__fail(TCONV_ERR_INVALID_ARGUMENT,
                               "output_padding[%d]=%lld must be smaller than stride[%d]=%lld or "
                               "dilation[%d]=%lld",
                               d, LL(p->output_padding[d]), d, LL(p->stride[d]), d,
                               LL(p->dilation[d]));
    }
    if (p->groups < 1)
        return tconv__fail(TCONV_ERR_INVALID_ARGUMENT, "groups=%lld must be >= 1", LL(p->groups));
    return TCONV_OK;
}

/* Memory footprint of a view: the lowest and highest element offsets it touches
 * (relative to data), with a flag for empty views. */
typedef struct extent {
    int64_t lo, hi; /* inclusive element offsets */
    bool empty;
} extent;

/* Checks one tensor on its own: dtype, rank, reserved, non-negative dims, and that its
 * element offsets and byte extent fit in int64. `name` is used in messages. */
static tconv_status check_tensor(const tconv_tensor *t, const char *name, int min_rank,
                                 int max_rank, extent *ext)
{
    if (t->dtype != TCONV_DTYPE_F32)
        return tconv__fail(TCONV_ERR_INVALID_ARGUMENT,
                           "%s.dtype=%d is not supported (only TCONV_DTYPE_F32=%d)", name,
                           (int)t->dtype, (int)TCONV_DTYPE_F32);
    if (t->rank < min_rank || t->rank > max_rank) {
        if (min_rank == max_rank)
            return tconv__fail(TCONV_ERR_INVALID_ARGUMENT, "%s.rank=%d must be %d", name,
                               (int)t->rank, min_rank);
        return tconv__fail(TCONV_ERR_INVALID_ARGUMENT, "%s.rank=%d must be %d or %d", name,
                           (int)t->rank, min_rank, max_rank);
    }
    for (int i = 0; i < 2; i++)
        if (t->reserved[i] != 0)
            return tconv__fail(TCONV_ERR_INVALID_ARGUMENT, "%s.reserved[%d]=%lld must be zero",
                               name, i, LL(t->reserved[i]));
    ext->empty = false;
    for (int d = 0; d < t->rank; d++) {
        if (t->shape[d] < 0)
            return tconv__fail(TCONV_ERR_INVALID_ARGUMENT, "%s.shape[%d]=%lld must be >= 0", name,
                               d, LL(t->shape[d]));
        if (t->shape[d] == 0)
            ext->empty = true;
    }
    ext->lo = ext->hi = 0;
    if (ext->empty)
        return TCONV_OK;
    for (int d = 0; d < t->rank; d++) {
        int64_t span;
        if (t->stride[d] == INT64_MIN || !tconv__mul(t->shape[d] - 1, t->stride[d], &span) ||
            !tconv__add(span < 0 ? ext->lo : ext->hi, span, span < 0 ? &ext->lo : &ext->hi))
            return tconv__fail(TCONV_ERR_SIZE_OVERFLOW,
                               "%s: offset of the last element along dimension %d "
                               "(shape %lld, stride %lld) overflows int64",
                               name, d, LL(t->shape[d]), LL(t->stride[d]));
    }
    /* Byte offsets must fit too (4-byte elements), and so must the element count. */
    int64_t tmp, count = 1;
    if (!tconv__mul(ext->lo, 4, &tmp) || !tconv__add(ext->hi, 1, &tmp) || !tconv__mul(tmp, 4, &tmp))
        return tconv__fail(TCONV_ERR_SIZE_OVERFLOW, "%s: byte extent overflows int64", name);
    for (int d = 0; d < t->rank; d++)
        if (!tconv__mul(count, t->shape[d], &count))
            return tconv__fail(TCONV_ERR_SIZE_OVERFLOW, "%s: element count overflows int64", name);
    return TCONV_OK;
}

/* The data pointer of a non-empty view: non-NULL, float-aligned, and the whole extent
 * inside the address space. Byte range [*blo, *bhi) for aliasing checks. */
static tconv_status check_memory(const tconv_tensor *t, const char *name, const extent *ext,
                                 uintptr_t *blo, uintptr_t *bhi)
{
    *blo = *bhi = 0;
    if (ext->empty)
        return TCONV_OK;
    if (!t->data)
        return tconv__fail(TCONV_ERR_NULL_POINTER, "%s.data must not be NULL", name);
    uintptr_t base = (uintptr_t)t->data;
    if (base % sizeof(float) != 0)
        return tconv__fail(TCONV_ERR_INVALID_ARGUMENT,
                           "%s.data=%p is not aligned to %zu bytes (float)", name, t->data,
                           sizeof(float));
    uint64_t down = (uint64_t)(-ext->lo) * 4u, up = ((uint64_t)ext->hi + 1u) * 4u;
    if (ext->lo < 0 && down > base)
        return tconv__fail(TCONV_ERR_SIZE_OVERFLOW,
                           "%s: negative strides reach below address 0", name);
    if (up > UINTPTR_MAX - base)
        return tconv__fail(TCONV_ERR_SIZE_OVERFLOW, "%s: extent wraps the address space", name);
    *blo = base - (ext->lo < 0 ? (uintptr_t)down : 0);
    *bhi = base + (uintptr_t)up;
    return TCONV_OK;
}

/* True if no two elements of the view share an address: with the dims that have more
 * than one element sorted by |stride|, each |stride| must exceed the reach of all
 * smaller ones. This accepts every permutation of a dense layout and every crop of
 * one; a few exotic interleavings that do not overlap are rejected (documented). */
static bool is_non_overlapping(const tconv_tensor *t)
{
    int64_t st[TCONV_MAX_RANK], sh[TCONV_MAX_RANK];
    int m = 0;
    for (int d = 0; d < t->rank; d++)
        if (t->shape[d] > 1) {
            st[m] = t->stride[d] < 0 ? -t->stride[d] : t->stride[d];
            sh[m] = t->shape[d];
            m++;
        }
    for (int i = 1; i < m; i++) /* insertion sort by |stride| */
        for (int j = i; j > 0 && st[j] < st[j - 1]; j--) {
            int64_t a = st[j]; st[j] = st[j - 1]; st[j - 1] = a;
            int64_t b = sh[j]; sh[j] = sh[j - 1]; sh[j - 1] = b;
        }
    int64_t reach = 0; /* largest offset reachable with the smaller dims */
    for (int i = 0; i < m; i++) {
        if (st[i] <= reach)
            return false;
        reach += st[i] * (sh[i] - 1); /* cannot overflow: check_tensor bounded the extent */
    }
    return true;
}

static bool ranges_overlap(uintptr_t alo, uintptr_t ahi, uintptr_t blo, uintptr_t bhi)
{
    return alo < bhi && blo < ahi && alo != ahi && blo != bhi;
}

static tconv_status check_output_shape(const tconv_shape *s, const tconv_tensor *output, int off)
{
    const int64_t want[4] = {s->n, s->cout, s->hout, s->wout};
    static const char *const out_dim[4] = {"N", "Cout", "Hout", "Wout"};
    for (int d = off; d < 4; d++)
        if (output->shape[d - off] != want[d])
            return tconv__fail(TCONV_ERR_SHAPE_MISMATCH, "output.shape[%d]=%lld must be %s=%lld",
                               d - off, LL(output->shape[d - off]), out_dim[d], LL(want[d]));
    return TCONV_OK;
}

/* The input's and output's data and strides, folded to 4-D (an unbatched tensor has one
 * image: n stride 0). */
static void set_data(const tconv_tensor *input, const tconv_tensor *output, int off,
                     tconv_problem *pb)
{
    for (int d = 0; d < 4; d++) {
        pb->xs[d] = d < off ? 0 : input->stride[d - off];
        pb->ys[d] = d < off || !output ? 0 : output->stride[d - off];
    }
    pb->x = (const float *)input->data;
    pb->y = output ? (float *)output->data : NULL;
}

static tconv_status output_overlaps_itself(void)
{
    return tconv__fail(TCONV_ERR_ALIASING,
                       "output strides make distinct elements share memory (each |stride| must "
                       "exceed the reach of the smaller ones)");
}

static tconv_status output_overlaps(uintptr_t yl, uintptr_t yh, const char *what)
{
    return tconv__fail(TCONV_ERR_ALIASING, "output memory [%p, %p) overlaps %s memory",
                       (void *)yl, (void *)yh, what);
}

tconv_status tconv__build_problem(const tconv_params *params, const tconv_tensor *input,
                                  const tconv_tensor *weight, const tconv_tensor *bias,
                                  const tconv_tensor *output, tconv_check check,
                                  tconv_problem *pb)
{
    if (!params || !input || !weight || (check == TCONV_CHECK_ALL && !output))
        return tconv__fail(TCONV_ERR_NULL_POINTER, "%s must not be NULL",
                           !params ? "params" : !input ? "input" : !weight ? "weight" : "output");
    if (check == TCONV_CHECK_WEIGHTS)
        output = NULL;
    tconv_status st = tconv__check_params(params);
    if (st != TCONV_OK)
        return st;

    extent ex, ew, eb = {0, 0, true}, ey = {0, 0, true};
    if ((st = check_tensor(input, "input", 3, 4, &ex)) != TCONV_OK ||
        (st = check_tensor(weight, "weight", 4, 4, &ew)) != TCONV_OK)
        return st;
    if (bias && (st = check_tensor(bias, "bias", 1, 1, &eb)) != TCONV_OK)
        return st;
    if (output && (st = check_tensor(output, "output", input->rank, input->rank, &ey)) != TCONV_OK)
        return st;

    memset(pb, 0, sizeof *pb);
    tconv_shape *s = &pb->s;
    const int off = input->rank == 4 ? 0 : 1; /* unbatched: dims shift by one */
    s->n = off ? 1 : input->shape[0];
    s->cin = input->shape[1 - off];
    s->h = input->shape[2 - off];
    s->w = input->shape[3 - off];
    s->kh = weight->shape[2];
    s->kw = weight->shape[3];
    s->groups = params->groups;
    s->sh = params->stride[0];      s->sw = params->stride[1];
    s->ph = params->padding[0];     s->pw = params->padding[1];
    s->oph = params->output_padding[0]; s->opw = params->output_padding[1];
    s->dh = params->dilation[0];    s->dw = params->dilation[1];

    static const char *const in_dim[4] = {"N", "Cin", "H", "W"};
    for (int d = 1; d < 4; d++) {
        int64_t v = d == 1 ? s->cin : d == 2 ? s->h : s->w;
        if (v < 1)
            return tconv__fail(TCONV_ERR_INVALID_ARGUMENT, "input %s=%lld must be >= 1",
                               in_dim[d], LL(v));
    }
    if (s->kh < 1 || s->kw < 1)
        return tconv__fail(TCONV_ERR_INVALID_ARGUMENT,
                           "kernel size (weight.shape[2], weight.shape[3]) = (%lld, %lld) must "
                           "be >= 1",
                           LL(s->kh), LL(s->kw));
    if (weight->shape[1] < 1)
        return tconv__fail(TCONV_ERR_INVALID_ARGUMENT,
                           "weight.shape[1]=%lld (Cout/groups) must be >= 1", LL(weight->shape[1]));
    if (s->cin % s->groups != 0)
        return tconv__fail(TCONV_ERR_INVALID_ARGUMENT,
                           "input channels Cin=%lld must be divisible by groups=%lld", LL(s->cin),
                           LL(s->groups));
    if (weight->shape[0] != s->cin)
        return tconv__fail(TCONV_ERR_SHAPE_MISMATCH,
                           "weight.shape[0]=%lld must equal the input channels Cin=%lld",
                           LL(weight->shape[0]), LL(s->cin));
    s->cin_g = s->cin / s->groups;
    s->cout_g = weight->shape[1];
    if (!tconv__mul(s->cout_g, s->groups, &s->cout))
        return tconv__fail(TCONV_ERR_SIZE_OVERFLOW,
                           "output channels weight.shape[1]*groups = %lld*%lld overflow int64",
                           LL(s->cout_g), LL(s->groups));
    if (!tconv__out_dim(s->h, s->kh, s->sh, s->ph, s->dh, s->oph, &s->hout) ||
        !tconv__out_dim(s->w, s->kw, s->sw, s->pw, s->dw, s->opw, &s->wout))
        return tconv__fail(TCONV_ERR_SIZE_OVERFLOW,
                           "output %s = (in-1)*stride - 2*padding + dilation*(k-1) + "
                           "output_padding + 1 overflows int64",
                           tconv__out_dim(s->h, s->kh, s->sh, s->ph, s->dh, s->oph, &s->hout)
                               ? "width" : "height");
    if (s->hout < 1 || s->wout < 1) {
        int d = s->hout < 1 ? 0 : 1;
        return tconv__fail(TCONV_ERR_INVALID_ARGUMENT,
                           "output %s = (%lld-1)*%lld - 2*%lld + %lld*(%lld-1) + %lld + 1 = %lld "
                           "must be >= 1 (padding too large)",
                           d ? "width" : "height", LL(d ? s->w : s->h), LL(params->stride[d]),
                           LL(params->padding[d]), LL(params->dilation[d]),
                           LL(d ? s->kw : s->kh), LL(params->output_padding[d]),
                           LL(d ? s->wout : s->hout));
    }
    /* Per-image sizes must fit even when N = 0 leaves the tensors empty (an empty batch
     * is validated like a batch of one; algorithms may compute per-image sizes). */
    int64_t count;
    if (!tconv__mul(s->cin, s->h, &count) || !tconv__mul(count, s->w, &count) ||
        !tconv__mul(count, 4, &count))
        return tconv__fail(TCONV_ERR_SIZE_OVERFLOW,
                           "input image size %lld x %lld x %lld floats overflows int64",
                           LL(s->cin), LL(s->h), LL(s->w));
    if (!tconv__mul(s->cout, s->hout, &count) || !tconv__mul(count, s->wout, &count) ||
        !tconv__mul(count, 4, &count))
        return tconv__fail(TCONV_ERR_SIZE_OVERFLOW,
                           "output image size %lld x %lld x %lld floats overflows int64",
                           LL(s->cout), LL(s->hout), LL(s->wout));
    if (!tconv__mul(s->n, s->cout, &count) || !tconv__mul(count, s->hout, &count) ||
        !tconv__mul(count, s->wout, &count) || !tconv__mul(count, 4, &count))
        return tconv__fail(TCONV_ERR_SIZE_OVERFLOW,
                           "output size %lld x %lld x %lld x %lld floats overflows int64",
                           LL(s->n), LL(s->cout), LL(s->hout), LL(s->wout));
    if (bias) {
        if (bias->shape[0] != s->cout)
            return tconv__fail(TCONV_ERR_SHAPE_MISMATCH,
                               "bias.shape[0]=%lld must equal the output channels "
                               "Cout=weight.shape[1]*groups=%lld",
                               LL(bias->shape[0]), LL(s->cout));
        s->has_bias = true;
    }
    if (output && (st = check_output_shape(s, output, off)) != TCONV_OK)
        return st;

    for (int d = 0; d < 4; d++)
        pb->ws[d] = weight->stride[d];
    pb->bs = bias ? bias->stride[0] : 0;
    pb->wt = (const float *)weight->data;
    pb->b = bias ? (const float *)bias->data : NULL;
    set_data(input, output, off, pb);

    if (check == TCONV_CHECK_SHAPES)
        return TCONV_OK;

    /* Without an output (plan creation) only the weight and bias are used. */
    uintptr_t xl = 0, xh = 0, wl, wh, bl = 0, bh = 0, yl, yh;
    if ((output && (st = check_memory(input, "input", &ex, &xl, &xh)) != TCONV_OK) ||
        (st = check_memory(weight, "weight", &ew, &wl, &wh)) != TCONV_OK ||
        (bias && (st = check_memory(bias, "bias", &eb, &bl, &bh)) != TCONV_OK))
        return st;
    if (!output)
        return TCONV_OK;
    if ((st = check_memory(output, "output", &ey, &yl, &yh)) != TCONV_OK)
        return st;
    if (!ey.empty && !is_non_overlapping(output))
        return output_overlaps_itself();
    const char *clash = ranges_overlap(yl, yh, xl, xh)   ? "input"
                        : ranges_overlap(yl, yh, wl, wh) ? "weight"
                        : ranges_overlap(yl, yh, bl, bh) ? "bias"
                                                         : NULL;
    if (clash)
        return output_overlaps(yl, yh, clash);
    return TCONV_OK;
}

tconv_status tconv__build_run_problem(const tconv_problem *planned, int rank,
                                      const tconv_tensor *input, const tconv_tensor *output,
                                      tconv_problem *pb)
{
    if (!input)
        return tconv__fail(TCONV_ERR_NULL_POINTER, "input must not be NULL");
    /* Does the input fit the plan? Read from its rank and shape before anything else
     * about it, so that the message speaks of the plan; any other rank fails
     * check_tensor below. */
    const int off = input->rank == 4 ? 0 : 1;
    const int64_t n = off ? 1 : input->shape[0];
    if (input->rank == rank) {
        const int64_t c = input->shape[1 - off], h = input->shape[2 - off],
                      w = input->shape[3 - off];
        const tconv_shape *s = &planned->s;
        if (c != s->cin || h != s->h || w != s->w || n > s->n)
            return tconv__fail(TCONV_ERR_SHAPE_MISMATCH,
                               "input (N=%lld, Cin=%lld, H=%lld, W=%lld) does not fit the plan "
                               "(N<=%lld, Cin=%lld, H=%lld, W=%lld)",
                               LL(n), LL(c), LL(h), LL(w), LL(s->n), LL(s->cin), LL(s->h),
                               LL(s->w));
    } else if (input->rank == 3 || input->rank == 4) {
        return tconv__fail(TCONV_ERR_SHAPE_MISMATCH, "input.rank=%d differs from the plan's %d",
                           (int)input->rank, rank);
    }
    if (!output)
        return tconv__fail(TCONV_ERR_NULL_POINTER, "output must not be NULL");
    extent ex, ey;
    tconv_status st;
    if ((st = check_tensor(input, "input", 3, 4, &ex)) != TCONV_OK ||
        (st = check_tensor(output, "output", input->rank, input->rank, &ey)) != TCONV_OK)
        return st;
    *pb = *planned;
    pb->s.n = n;
    if ((st = check_output_shape(&pb->s, output, off)) != TCONV_OK)
        return st;
    set_data(input, output, off, pb);
    uintptr_t xl, xh, yl, yh;
    if ((st = check_memory(input, "input", &ex, &xl, &xh)) != TCONV_OK ||
        (st = check_memory(output, "output", &ey, &yl, &yh)) != TCONV_OK)
        return st;
    if (!ey.empty && !is_non_overlapping(output))
        return output_overlaps_itself();
    if (ranges_overlap(yl, yh, xl, xh))
        return output_overlaps(yl, yh, "input");
    return TCONV_OK;
}
