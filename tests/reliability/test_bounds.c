/*
 * test_bounds.c - no call reads or writes a byte outside the caller's tensors and
 * workspace.
 *
 * Each buffer the caller hands over (input, weight, bias, output, workspace) is put
 * against a page the process may not touch (PROT_NONE): once ending exactly at it,
 * once starting exactly after one. An access one float outside a tensor then faults
 * and the test dies. This is the check for the loads the other tools cannot see: the
 * AVX-512 kernels' masked loads are inline assembly, which AddressSanitizer does not
 * instrument, and valgrind runs no AVX-512 code at all (the AVX2 igemm's vmaskmovps
 * loads are intrinsics ASan does not look into either); the in-place direct feed reads
 * whole vectors in the channels it computes to be inside the input (whole_lo/whole_hi
 * in src/lower/phase.h) and masked ones at the ends, so a bound one channel too wide
 * faults here on the last channel of the last image.
 *
 * Shapes: those the direct feed reads in place (taps outside the input on every side,
 * several images per tile, the 4-row kernel, groups) or copies flat (larger images,
 * channels-last calls) or zero-padded (kernel_below_stride: a phase wider than the
 * input), the channel-vector direct kernel, the col2im and direct algorithms; every
 * algorithm that supports the shape, every ISA the machine has, 1 and 2 threads, both
 * placements, one-shot calls and plan runs (in the plan's kept workspace, then in a
 * guarded one of the size the run reports: a run's own need). Each result is checked:
 * at 1 thread against the reference (tu_check_close, factor 1: the rigorous bound), at
 * 2 threads and from the plan bit for bit against that one.
 *
 * SPDX-License-Identifier: MIT
 */
#define _DEFAULT_SOURCE /* mmap's MAP_ANONYMOUS, sysconf */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testutil.h"

/* ---------------------------------------------------------------- guarded memory */
/* `bytes` of read-write memory with a PROT_NONE page right after it (at_end) or right
 * before it (at the start). */
typedef struct guarded {
    char *map;
    size_t map_len;
    void *p;
} guarded;

static guarded guarded_new(size_t bytes, bool at_end)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t body = (bytes + page - 1) / page * page;
    guarded g;
    g.map_len = body + 2 * page;
    g.map = mmap(NULL, g.map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g.map != MAP_FAILED);
    assert_int_equal(mprotect(g.map, page, PROT_NONE), 0);
    assert_int_equal(mprotect(g.map + page + body, page, PROT_NONE), 0);
    g.p = at_end ? g.map + page + body - bytes : g.map + page;
    return g;
}

static void guarded_free(guarded *g)
{
    munmap(g->map, g->map_len);
}

/* ------------------------------------------------------------------ problems */
/* A row of tu_case_problem, named. */
typedef struct shape {
    const char *name;
    int64_t c[12]; /* N Cin H W Cout k stride pad outpad groups dil - */
} shape;

static const shape shapes[] = {
    {"small_b1", {1, 16, 8, 8, 16, 3, 1, 1, 0, 1, 1, 0}},
    {"fcn_up", {1, 21, 16, 16, 21, 4, 2, 1, 0, 1, 1, 0}},
    {"images_per_tile", {67, 4, 4, 4, 8, 2, 2, 0, 0, 1, 1, 0}},
    {"taps_3_beyond", {2, 8, 10, 20, 16, 3, 1, 3, 0, 1, 2, 0}},
    {"stride3_spare_lanes", {2, 3, 7, 5, 16, 4, 3, 3, 1, 1, 2, 0}},
    {"four_rows", {2, 16, 6, 7, 3, 4, 2, 1, 0, 1, 1, 0}},
    {"groups", {2, 32, 9, 9, 32, 3, 2, 1, 1, 4, 1, 0}},
    {"dcgan3_like", {1, 33, 8, 8, 16, 4, 2, 1, 0, 1, 1, 0}},
    {"one_channel", {3, 1, 5, 9, 8, 3, 1, 2, 0, 1, 1, 0}},
    {"depthwise", {2, 16, 9, 11, 16, 4, 2, 1, 0, 16, 1, 0}},
    {"one_by_one_input", {5, 10, 1, 1, 12, 4, 1, 0, 0, 1, 1, 0}}, /* col2im's GEMM into y */
    {"one_by_one_groups", {9, 6, 1, 1, 9, 3, 2, 0, 0, 3, 1, 0}},
    {"kernel_below_stride", {2, 6, 5, 6, 5, 2, 3, 0, 2, 1, 1, 0}},
    {"pairs_of_9_taps", {2, 8, 6, 6, 16, 6, 2, 2, 0, 1, 1, 0}}, /* the last slot's tap offsets */
    {"flat_copy", {2, 40, 16, 16, 16, 3, 2, 1, 1, 1, 1, 0}}, /* 40 KiB an image: copied flat */
    {"flat_copy_s1", {2, 48, 12, 16, 16, 3, 1, 1, 0, 1, 1, 0}}, /* stride 1: igemm to y */
    {"two_passes_pairs", {1, 16, 8, 16, 72, 4, 2, 1, 0, 1, 1, 0}}, /* C blocks of 64 + 8 rows */
    {"two_passes_s1", {2, 16, 9, 20, 68, 3, 1, 1, 0, 1, 1, 0}},    /* 64 + 4 rows */
};

static size_t count(const int64_t *shape4)
{
    return (size_t)(shape4[0] * shape4[1] * shape4[2] * shape4[3]);
}

/* A dense NCHW or NHWC view of data. */
static tconv_tensor view(float *data, const int64_t *s, bool nhwc)
{
    return nhwc ? tconv_tensor_nhwc(data, s[0], s[1], s[2], s[3])
                : tconv_tensor_nchw(data, s[0], s[1], s[2], s[3]);
}

/* One shape, one layout, one placement: every algorithm x ISA x threads, one-shot and
 * plan, all buffers guarded. Returns the calls made. */
static int check(const shape *s, bool nhwc, bool at_end, tu_rng *r)
{
    const tu_problem t = tu_case_problem(s->c);
    const size_t nx = count(t.xshape), nw = count(t.wshape), ny = count(t.yshape);
    const int64_t nb = t.yshape[1];
    const tu_layout lay = nhwc ? TU_CHANNELS_LAST : TU_CONTIGUOUS;
    tu_tensor x = tu_tensor_new(4, t.xshape, lay, r, 0),
              w = tu_tensor_new(4, t.wshape, TU_CONTIGUOUS, r, 0),
              b = tu_tensor_new(1, &nb, TU_CONTIGUOUS, r, 0),
              want = tu_tensor_new(4, t.yshape, lay, NULL, 0),
              first = tu_tensor_new(4, t.yshape, lay, NULL, 0);
    tconv_exec ref = tconv_exec_default();
    ref.algorithm = TCONV_ALGO_REFERENCE;
    assert_int_equal(tconv_convtranspose2d_ex(&t.p, &x.t, &w.t, &b.t, &want.t, &ref, NULL),
                     TCONV_OK);

    guarded gx = guarded_new(nx * sizeof(float), at_end),
            gw = guarded_new(nw * sizeof(float), at_end),
            gb = guarded_new((size_t)nb * sizeof(float), at_end),
            gy = guarded_new(ny * sizeof(float), at_end);
    memcpy(gx.p, x.buf, nx * sizeof(float)); /* dense, in the views' layouts */
    memcpy(gw.p, w.buf, nw * sizeof(float));
    memcpy(gb.p, b.buf, (size_t)nb * sizeof(float));
    const tconv_tensor tx = view(gx.p, t.xshape, nhwc), ty = view(gy.p, t.yshape, nhwc),
                       tw = tconv_tensor_nchw(gw.p, t.wshape[0], t.wshape[1], t.wshape[2],
                                              t.wshape[3]),
                       tb = tconv_tensor_1d(gb.p, nb);
    char msg[512];
    int calls = 0;
    tu_bound bound = tu_bound_new(&t.p, &tx, &tw, &tb); /* for every 1-thread check */
    for (int algo = TCONV_ALGO_AUTO; algo < TCONV_ALGO_COUNT; algo++) {
        if (algo == TCONV_ALGO_REFERENCE)
            continue; /* the specification: plain loops over the tensors' own shapes */
        for (int isa = TCONV_ISA_SCALAR; isa <= (int)tconv_isa_detected(); isa++)
            for (int threads = 1; threads <= 2; threads++) {
                tconv_exec e = tconv_exec_default();
                e.algorithm = (tconv_algorithm)algo;
                e.isa = (tconv_isa)isa;
                e.num_threads = threads;
                /* the caller's workspace, guarded too (64-byte aligned when it starts
                 * after the guard, so tconv uses it from its first byte) */
                size_t ws = 0;
                tconv_status st = tconv_workspace_size(&t.p, &tx, &tw, &tb, &ty, &e, &ws);
                if (st == TCONV_ERR_UNSUPPORTED)
                    continue;
                assert_int_equal(st, TCONV_OK);
                guarded gws = guarded_new(ws, at_end);
                e.workspace = ws ? gws.p : NULL;
                e.workspace_size = ws;
                e.flags = TCONV_FLAG_NO_ALLOC;
                memset(gy.p, 0xFF, ny * sizeof(float));
                st = tconv_convtranspose2d_ex(&t.p, &tx, &tw, &tb, &ty, &e, NULL);
                if (st != TCONV_OK)
                    fail_msg("%s %s %s isa %d threads %d: %s", s->name, nhwc ? "nhwc" : "nchw",
                             tconv_algorithm_name(e.algorithm), isa, threads,
                             tconv_last_error_message());
                /* the reference's value within the rigorous bound at 1 thread; the
                 * same bits at 2 threads and from the plan (as test_algos checks) */
                if (threads == 1) {
                    if (!tu_check_close_bound(&bound, &ty, &want.t, 1.0, msg, sizeof msg))
                        fail_msg("%s %s %s isa %d: %s", s->name, nhwc ? "nhwc" : "nchw",
                                 tconv_algorithm_name(e.algorithm), isa, msg);
                    memcpy(first.buf, gy.p, ny * sizeof(float));
                } else if (!tu_same_bits(&ty, &first.t, msg, sizeof msg)) {
                    fail_msg("%s %s %s isa %d threads %d: %s", s->name, nhwc ? "nhwc" : "nchw",
                             tconv_algorithm_name(e.algorithm), isa, threads, msg);
                }
                guarded_free(&gws);
                calls++;

                /* a plan made from the guarded tensors, run on them */
                tconv_exec pe = tconv_exec_default();
                pe.algorithm = e.algorithm;
                pe.isa = e.isa;
                tconv_plan *plan = NULL;
                assert_int_equal(tconv_plan_create(&plan, &t.p, &tx, &tw, &tb, &pe), TCONV_OK);
                pe.num_threads = threads;
                tconv_report rep;
                memset(gy.p, 0xFF, ny * sizeof(float));
                if (tconv_plan_run(plan, &tx, &ty, &pe, &rep) != TCONV_OK)
                    fail_msg("%s plan: %s", s->name, tconv_last_error_message());
                if (!tu_same_bits(&ty, &first.t, msg, sizeof msg))
                    fail_msg("%s %s plan %s isa %d threads %d: %s", s->name, nhwc ? "nhwc" : "nchw",
                             tconv_algorithm_name(pe.algorithm), isa, threads, msg);
                calls++;
                /* again in a guarded workspace of the size the run reported (its own
                 * need: a run may need less than the plan's query, which covers any
                 * views) */
                gws = guarded_new(rep.workspace_bytes, at_end);
                pe.workspace = rep.workspace_bytes ? gws.p : NULL;
                pe.workspace_size = rep.workspace_bytes;
                pe.flags = TCONV_FLAG_NO_ALLOC;
                memset(gy.p, 0xFF, ny * sizeof(float));
                if (tconv_plan_run(plan, &tx, &ty, &pe, NULL) != TCONV_OK)
                    fail_msg("%s plan, guarded workspace: %s", s->name, tconv_last_error_message());
                if (!tu_same_bits(&ty, &first.t, msg, sizeof msg))
                    fail_msg("%s %s plan %s isa %d threads %d, guarded workspace: %s", s->name,
                             nhwc ? "nhwc" : "nchw", tconv_algorithm_name(pe.algorithm), isa,
                             threads, msg);
                guarded_free(&gws);
                tconv_plan_destroy(plan);
                calls++;
            }
    }
    tu_bound_free(&bound);
    guarded_free(&gx);
    guarded_free(&gw);
    guarded_free(&gb);
    guarded_free(&gy);
    tu_tensor_free(&x);
    tu_tensor_free(&w);
    tu_tensor_free(&b);
    tu_tensor_free(&want);
    tu_tensor_free(&first);
    return calls;
}

static void test_guard_pages(void **state)
{
    (void)state;
    tu_rng r = tu_rng_seed(2026);
    int calls = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int nhwc = 0; nhwc < 2; nhwc++)
            for (int at_end = 0; at_end < 2; at_end++)
                calls += check(&shapes[i], nhwc, at_end, &r);
    printf("guarded calls: %d\n", calls);
    assert_true(calls > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guard_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
