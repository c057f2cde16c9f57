/*
 * test_validation.c - every way a call can be wrong, and the small API functions.
 *
 * Each invalid input is checked for (a) the exact status, (b) a message naming the rule
 * and the values, (c) no write to any buffer (all four tensors live in one arena that is
 * compared byte for byte after the call), and (d) the message being cleared by the next
 * successful call. Where the rule is about shapes rather than memory, the workspace
 * query, the shape query and plan creation must refuse it the same way.
 * Also: int64 overflow everywhere (this suite runs under UBSan, which must stay
 * silent), aliasing, unsupported algorithms and ISAs, caller workspaces and allocators,
 * status and name strings, versions, the ISA choice, thread-local messages.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algo.h" /* tconv__isa_for, tconv__cpu_features: pure internals under test */
#include "tconv.h"
#include "testutil.h"

/* ------------------------------------------------------------ the fixture */

/* The base problem: N=2, Cin=4, H=3, W=5, groups 2, Cout/groups 3, kernel 3x2,
 * stride (2, 3), padding (1, 0), dilation (1, 2), output_padding (1, 2), bias:
 *   Hout = (3-1)*2 - 2*1 + 1*(3-1) + 1 + 1 = 6,  Wout = (5-1)*3 - 0 + 2*(2-1) + 2 + 1 = 17. */
enum {
    BN = 2, BCIN = 4, BH = 3, BW = 5, BG = 2, BCOUTG = 3, BKH = 3, BKW = 2,
    BCOUT = BG * BCOUTG, BHOUT = 6, BWOUT = 17,
    X_LEN = BN * BCIN * BH * BW,            /* 120 */
    W_LEN = BCIN * BCOUTG * BKH * BKW,      /* 72 */
    Y_LEN = BN * BCOUT * BHOUT * BWOUT,     /* 1224 */
    /* arena layout in floats: room below x for an output that ends inside it */
    X_OFF = 1300, W_OFF = 1424, B_OFF = 1504, Y_OFF = 1536,
    ARENA_LEN = Y_OFF + Y_LEN + 1600
};

static void base_params(tconv_params *p)
{
    *p = tconv_params_default();
    p->stride[0] = 2;
    p->stride[1] = 3;
    p->padding[0] = 1;
    p->dilation[1] = 2;
    p->output_padding[0] = 1;
    p->output_padding[1] = 2;
    p->groups = BG;
}

typedef struct fixture {
    tconv_params p;
    tconv_tensor x, w, b, y;
    tconv_exec e;
    /* what is passed; tests set these to NULL to pass NULL */
    const tconv_params *pp;
    const tconv_tensor *px, *pw, *pb, *py;
    const tconv_exec *pe;
} fixture;

static float *arena;       /* x, w, b, y of the fixture, with room around them */
static float *arena_copy;  /* its contents before the call under test */
static float *good_buf;    /* a separate valid problem for the "next successful call" */
static int good_kind;      /* rotates over the API functions that must clear the message */
static int n_cases, n_calls; /* invalid inputs tried, and failing calls checked */

static void fixture_init(fixture *f)
{
    memset(f, 0, sizeof *f);
    base_params(&f->p);
    f->x = tconv_tensor_nchw(arena + X_OFF, BN, BCIN, BH, BW);
    f->w = tconv_tensor_nchw(arena + W_OFF, BCIN, BCOUTG, BKH, BKW);
    f->b = tconv_tensor_1d(arena + B_OFF, BCOUT);
    f->y = tconv_tensor_nchw(arena + Y_OFF, BN, BCOUT, BHOUT, BWOUT);
    f->e = tconv_exec_default();
    f->pp = &f->p;
    f->px = &f->x;
    f->pw = &f->w;
    f->pb = &f->b;
    f->py = &f->y;
    f->pe = &f->e;
}

/* The unbatched variant: x (Cin, H, W), y (Cout, Hout, Wout). */
static void fixture_init_unbatched(fixture *f)
{
    fixture_init(f);
    f->x = tconv_tensor_chw(arena + X_OFF, BCIN, BH, BW);
    f->y = tconv_tensor_chw(arena + Y_OFF, BCOUT, BHOUT, BWOUT);
}

static void fill_arena(void)
{
    tu_rng r = tu_rng_seed(1);
    for (size_t i = 0; i < ARENA_LEN; i++)
        arena[i] = tu_uniform(&r);
}

static int group_setup(void **state)
{
    (void)state;
    const size_t bytes = (ARENA_LEN * sizeof(float) + 63) / 64 * 64; /* aligned_alloc's rule */
    arena = aligned_alloc(64, bytes);
    arena_copy = malloc(bytes);
    good_buf = aligned_alloc(64, bytes);
    if (!arena || !arena_copy || !good_buf)
        return -1;
    fill_arena();
    memcpy(good_buf, arena, ARENA_LEN * sizeof(float));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    print_message("%d invalid inputs, %d failing calls checked\n", n_cases, n_calls);
    free(arena);
    free(arena_copy);
    free(good_buf);
    return 0;
}

/* A successful call of some kind (rotating), which must leave an empty message. */
static void successful_call(const char *file, int line)
{
    tconv_params p;
    base_params(&p);
    tconv_tensor x = tconv_tensor_nchw(good_buf + X_OFF, BN, BCIN, BH, BW);
    tconv_tensor w = tconv_tensor_nchw(good_buf + W_OFF, BCIN, BCOUTG, BKH, BKW);
    tconv_tensor b = tconv_tensor_1d(good_buf + B_OFF, BCOUT);
    tconv_tensor y = tconv_tensor_nchw(good_buf + Y_OFF, BN, BCOUT, BHOUT, BWOUT);
    tconv_status st = TCONV_OK;
    const int kind = good_kind++ % 6;
    switch (kind) {
    case 0: st = tconv_convtranspose2d(&p, &x, &w, &b, &y); break;
    case 1: st = tconv_convtranspose2d_ex(&p, &x, &w, &b, &y, NULL, NULL); break;
    case 2: {
        size_t bytes;
        st = tconv_workspace_size(&p, &x, &w, &b, &y, NULL, &bytes);
        break;
    }
    case 3: {
        int64_t shape[4];
        st = tconv_output_shape(&p, &x, &w, shape);
        break;
    }
    case 4: {
        const int64_t in[2] = {BH, BW}, k[2] = {BKH, BKW}, out[2] = {BHOUT, BWOUT};
        int64_t op[2];
        st = tconv_output_padding_for_size(&p, in, k, out, op);
        break;
    }
    default: {
        tconv_plan *plan = NULL;
        st = tconv_plan_create(&plan, &p, &x, &w, &b, NULL);
        tconv_plan_destroy(plan);
        break;
    }
    }
    if (st != TCONV_OK)
        fail_msg("%s:%d: the successful call (kind %d) failed: %s", file, line, kind,
                 tconv_last_error_message());
    if (tconv_last_error_message()[0] != '\0')
        fail_msg("%s:%d: message not cleared by a successful call (kind %d): \"%s\"", file, line,
                 kind, tconv_last_error_message());
}

enum {
    API_FWD = 1,  /* tconv_convtranspose2d (ignores exec) */
    API_EX = 2,   /* tconv_convtranspose2d_ex with the fixture's exec */
    API_WS = 4,   /* tconv_workspace_size */
    API_OS = 8,   /* tconv_output_shape (params, input, weight only) */
    API_PL = 16,  /* tconv_plan_create (params, input shape, weight, bias, exec) */
    API_RUN = 32, /* tconv_plan_run of a plan made from the fixture, on its input, output */
    /* a rule about the layer itself: every entry point refuses it */
    API_LAYER = API_FWD | API_EX | API_WS | API_OS | API_PL,
    /* a rule involving bias: not the shape query */
    API_BIAS = API_FWD | API_EX | API_WS | API_PL,
    /* a rule involving the output tensor's shape */
    API_OUT = API_FWD | API_EX | API_WS | API_RUN,
    /* a rule about memory (data pointers) of the output or input */
    API_MEM = API_FWD | API_EX | API_RUN,
    /* the output against the caller's weight or bias: a plan runs on its own copies */
    API_CALL = API_FWD | API_EX,
    /* a rule about exec */
    API_EXEC = API_EX | API_WS | API_PL
};

static const char *api_name(unsigned api)
{
    switch (api) {
    case API_FWD: return "tconv_convtranspose2d";
    case API_EX: return "tconv_convtranspose2d_ex";
    case API_WS: return "tconv_workspace_size";
    case API_OS: return "tconv_output_shape";
    case API_RUN: return "tconv_plan_run";
    default: return "tconv_plan_create";
    }
}

static int plan_marker; /* a non-NULL address *plan must not keep after a failure */

static tconv_status call_api(const fixture *f, unsigned api, bool *plan_leaked)
{
    tconv_report rep;
    size_t bytes;
    int64_t shape[4];
    tconv_plan *plan = (tconv_plan *)(void *)&plan_marker;
    tconv_status st;
    *plan_leaked = false;
    switch (api) {
    case API_FWD: return tconv_convtranspose2d(f->pp, f->px, f->pw, f->pb, f->py);
    case API_EX: return tconv_convtranspose2d_ex(f->pp, f->px, f->pw, f->pb, f->py, f->pe, &rep);
    case API_WS: return tconv_workspace_size(f->pp, f->px, f->pw, f->pb, f->py, f->pe, &bytes);
    case API_OS: return tconv_output_shape(f->pp, f->px, f->pw, shape);
    case API_RUN:
        /* a rule the layer or the caller's weight breaks is refused when the plan is
         * made (with the same status and message); the run checks the input and output */
        if ((st = tconv_plan_create(&plan, f->pp, f->px, f->pw, f->pb, f->pe)) != TCONV_OK)
            return st;
        st = tconv_plan_run(plan, f->px, f->py, f->pe, &rep);
        tconv_plan_destroy(plan);
        return st;
    default:
        st = tconv_plan_create(&plan, f->pp, f->px, f->pw, f->pb, f->pe);
        if (st == TCONV_OK)
            tconv_plan_destroy(plan);
        else if (plan != NULL)
            *plan_leaked = true;
        return st;
    }
}

/* (a) status, (b) message with every substring, (c) arena untouched, (d) cleared by the
 * next successful call; for every API in `apis`. */
static void expect_fail(const char *file, int line, const fixture *f, unsigned apis,
                        tconv_status want, const char *const *subs)
{
    n_cases++;
    for (unsigned api = 1; api <= API_RUN; api <<= 1) {
        if (!(apis & api))
            continue;
        memcpy(arena_copy, arena, ARENA_LEN * sizeof(float));
        bool plan_leaked;
        tconv_status st = call_api(f, api, &plan_leaked);
        const char *msg = tconv_last_error_message();
        n_calls++;
        if (st != want)
            fail_msg("%s:%d: %s returned %d (%s), want %d (%s); message \"%s\"", file, line,
                     api_name(api), (int)st, tconv_status_string(st), (int)want,
                     tconv_status_string(want), msg);
        if (!msg || !msg[0])
            fail_msg("%s:%d: %s failed without a message", file, line, api_name(api));
        for (int i = 0; subs[i]; i++)
            if (!strstr(msg, subs[i]))
                fail_msg("%s:%d: %s: message \"%s\" lacks \"%s\"", file, line, api_name(api), msg,
                         subs[i]);
        if (memcmp(arena_copy, arena, ARENA_LEN * sizeof(float)) != 0)
            fail_msg("%s:%d: %s wrote memory although it failed", file, line, api_name(api));
        if (plan_leaked)
            fail_msg("%s:%d: tconv_plan_create failed but left *plan non-NULL", file, line);
        successful_call(file, line);
    }
}

#define EXPECT_FAIL(f, apis, status, ...)                                                        \
    expect_fail(__FILE__, __LINE__, (f), (apis), (status), (const char *const[]){__VA_ARGS__, NULL})

/* The fixture as given must succeed on the listed APIs (the counterpart of a rule). */
static void expect_ok(const char *file, int line, const fixture *f, unsigned apis)
{
    for (unsigned api = 1; api <= API_RUN; api <<= 1) {
        if (!(apis & api))
            continue;
        bool plan_leaked;
        tconv_status st = call_api(f, api, &plan_leaked);
        if (st != TCONV_OK)
            fail_msg("%s:%d: %s returned %d: %s", file, line, api_name(api), (int)st,
                     tconv_last_error_message());
        if (tconv_last_error_message()[0] != '\0')
            fail_msg("%s:%d: %s succeeded with a message", file, line, api_name(api));
    }
    fill_arena(); /* forward calls wrote the output; later cases start clean */
}

#define EXPECT_OK(f, apis) expect_ok(__FILE__, __LINE__, (f), (apis))

/* ------------------------------------------------------------ the rules */

static void test_base_fixture_is_valid(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    EXPECT_OK(&f, API_LAYER);
    fixture_init_unbatched(&f);
    EXPECT_OK(&f, API_LAYER);
    /* and its result is right, so "valid" means something */
    fixture_init(&f);
    assert_int_equal(tconv_convtranspose2d(&f.p, &f.x, &f.w, &f.b, &f.y), TCONV_OK);
    char msg[256];
    if (!tu_check_exact(&f.p, &f.x, &f.w, &f.b, &f.y, 1.0, msg, sizeof msg))
        fail_msg("%s", msg);
    fill_arena();
}

static void test_null_pointers(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    f.pp = NULL;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_NULL_POINTER, "params must not be NULL");
    fixture_init(&f);
    f.px = NULL;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_NULL_POINTER, "input must not be NULL");
    fixture_init(&f);
    f.pw = NULL;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_NULL_POINTER, "weight must not be NULL");
    fixture_init(&f);
    f.py = NULL;
    EXPECT_FAIL(&f, API_MEM, TCONV_ERR_NULL_POINTER, "output must not be NULL");
    EXPECT_OK(&f, API_WS); /* the workspace query does not need an output */

    /* the result pointers of the queries */
    fixture_init(&f);
    assert_int_equal(tconv_output_shape(&f.p, &f.x, &f.w, NULL), TCONV_ERR_NULL_POINTER);
    assert_non_null(strstr(tconv_last_error_message(), "out_shape must not be NULL"));
    successful_call(__FILE__, __LINE__);
    assert_int_equal(tconv_workspace_size(&f.p, &f.x, &f.w, &f.b, &f.y, NULL, NULL),
                     TCONV_ERR_NULL_POINTER);
    assert_non_null(strstr(tconv_last_error_message(), "bytes must not be NULL"));
    successful_call(__FILE__, __LINE__);
    assert_int_equal(tconv_plan_create(NULL, &f.p, &f.x, &f.w, &f.b, NULL),
                     TCONV_ERR_NULL_POINTER);
    assert_non_null(strstr(tconv_last_error_message(), "plan must not be NULL"));
    successful_call(__FILE__, __LINE__);
}

static void test_null_data(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    f.x.data = NULL;
    EXPECT_FAIL(&f, API_MEM, TCONV_ERR_NULL_POINTER, "input.data must not be NULL");
    EXPECT_OK(&f, API_WS | API_OS | API_PL); /* shape-only uses accept NULL data */
    fixture_init(&f);
    f.w.data = NULL;
    EXPECT_FAIL(&f, API_MEM | API_PL, TCONV_ERR_NULL_POINTER, "weight.data must not be NULL");
    EXPECT_OK(&f, API_WS | API_OS);
    fixture_init(&f);
    f.b.data = NULL;
    EXPECT_FAIL(&f, API_MEM | API_PL, TCONV_ERR_NULL_POINTER, "bias.data must not be NULL");
    EXPECT_OK(&f, API_WS);
    fixture_init(&f);
    f.y.data = NULL;
    EXPECT_FAIL(&f, API_MEM, TCONV_ERR_NULL_POINTER, "output.data must not be NULL");
    EXPECT_OK(&f, API_WS);
}

static void test_stride_dilation_nonpositive(void **state)
{
    (void)state;
    const int64_t bad[3] = {0, -1, INT64_MIN};
    char m[96];
    fixture f;
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < 3; i++) {
            fixture_init(&f);
            f.p.stride[d] = bad[i];
            snprintf(m, sizeof m, "stride[%d]=%lld must be >= 1", d, (long long)bad[i]);
            EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, m);
            fixture_init(&f);
            f.p.dilation[d] = bad[i];
            snprintf(m, sizeof m, "dilation[%d]=%lld must be >= 1", d, (long long)bad[i]);
            EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, m);
        }
}

static void test_kernel_size_nonpositive(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    f.w.shape[2] = 0;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT,
                "kernel size (weight.shape[2], weight.shape[3]) = (0, 2) must be >= 1");
    fixture_init(&f);
    f.w.shape[3] = 0;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, "= (3, 0) must be >= 1");
    fixture_init(&f);
    f.w.shape[2] = -1;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, "weight.shape[2]=-1 must be >= 0");
    fixture_init(&f);
    f.w.shape[3] = INT64_MIN;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, "weight.shape[3]=", "must be >= 0");
}

static void test_padding_negative(void **state)
{
    (void)state;
    fixture f;
    char m[96];
    const int64_t bad[2] = {-1, INT64_MIN};
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < 2; i++) {
            fixture_init(&f);
            f.p.padding[d] = bad[i];
            snprintf(m, sizeof m, "padding[%d]=%lld must be >= 0", d, (long long)bad[i]);
            EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, m);
        }
}

static void test_output_padding_rule(void **state)
{
    (void)state;
    fixture f;
    /* stride (2, 3), dilation (1, 2): the limits are 2 and 3 */
    fixture_init(&f);
    f.p.output_padding[0] = 2;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT,
                "output_padding[0]=2 must be smaller than stride[0]=2 or dilation[0]=1");
    fixture_init(&f);
    f.p.output_padding[1] = 3;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT,
                "output_padding[1]=3 must be smaller than stride[1]=3 or dilation[1]=2");
    fixture_init(&f);
    f.p.output_padding[1] = INT64_MAX;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, "output_padding[1]=9223372036854775807");
    for (int d = 0; d < 2; d++) {
        fixture_init(&f);
        f.p.output_padding[d] = -1;
        char m[64];
        snprintf(m, sizeof m, "output_padding[%d]=-1 must be >= 0", d);
        EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, m);
    }

    /* PyTorch's "or dilation": stride 1, dilation 3 admits output_padding 2 */
    fixture_init(&f);
    f.p.stride[0] = 1;
    f.p.dilation[0] = 3;
    f.p.output_padding[0] = 2;
    f.p.padding[0] = 0;
    /* Hout = 2 + 3*2 + 2 + 1 = 11 */
    f.y = tconv_tensor_nchw(arena + Y_OFF, BN, BCOUT, 11, BWOUT);
    EXPECT_OK(&f, API_LAYER);
    assert_int_equal(tconv_convtranspose2d(&f.p, &f.x, &f.w, &f.b, &f.y), TCONV_OK);
    char msg[256];
    if (!tu_check_exact(&f.p, &f.x, &f.w, &f.b, &f.y, 1.0, msg, sizeof msg))
        fail_msg("output_padding by dilation: %s", msg);
    fill_arena();
    f.p.output_padding[0] = 3;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT,
                "output_padding[0]=3 must be smaller than stride[0]=1 or dilation[0]=3");
}

static void test_groups(void **state)
{
    (void)state;
    fixture f;
    const int64_t bad[3] = {0, -1, INT64_MIN};
    char m[96];
    for (int i = 0; i < 3; i++) {
        fixture_init(&f);
        f.p.groups = bad[i];
        snprintf(m, sizeof m, "groups=%lld must be >= 1", (long long)bad[i]);
        EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, m);
    }
    /* Cin = 4 is not divisible by 3, nor by 8 (more groups than channels) */
    fixture_init(&f);
    f.p.groups = 3;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT,
                "input channels Cin=4 must be divisible by groups=3");
    fixture_init(&f);
    f.p.groups = 8;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT,
                "input channels Cin=4 must be divisible by groups=8");
    /* Cout = weight.shape[1] * groups is divisible by construction, so a Cout that is
     * not (7 with groups 2) can only appear as an output or bias that disagrees */
    fixture_init(&f);
    f.y.shape[1] = 7;
    EXPECT_FAIL(&f, API_OUT, TCONV_ERR_SHAPE_MISMATCH, "output.shape[1]=7 must be Cout=6");
    fixture_init(&f);
    f.b.shape[0] = 7;
    EXPECT_FAIL(&f, API_BIAS, TCONV_ERR_SHAPE_MISMATCH,
                "bias.shape[0]=7 must equal the output channels Cout=weight.shape[1]*groups=6");
    /* weight.shape[1] (Cout/groups) must be positive */
    fixture_init(&f);
    f.w.shape[1] = 0;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, "weight.shape[1]=0", "must be >= 1");
}

static void test_weight_cin_mismatch(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    f.w.shape[0] = 2; /* divisible by groups, but not Cin */
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_SHAPE_MISMATCH,
                "weight.shape[0]=2 must equal the input channels Cin=4");
    fixture_init_unbatched(&f);
    f.w.shape[0] = 6;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_SHAPE_MISMATCH,
                "weight.shape[0]=6 must equal the input channels Cin=4");
}

static void test_bias_shape(void **state)
{
    (void)state;
    fixture f;
    const int64_t bad[3] = {5, 0, 12};
    for (int i = 0; i < 3; i++) {
        fixture_init(&f);
        f.b.shape[0] = bad[i];
        char m[64];
        snprintf(m, sizeof m, "bias.shape[0]=%lld must equal", (long long)bad[i]);
        EXPECT_FAIL(&f, API_BIAS, TCONV_ERR_SHAPE_MISMATCH, m, "Cout=weight.shape[1]*groups=6");
    }
    fixture_init(&f);
    f.b.shape[0] = -1;
    EXPECT_FAIL(&f, API_BIAS, TCONV_ERR_INVALID_ARGUMENT, "bias.shape[0]=-1 must be >= 0");
}

static void test_output_shape_mismatch(void **state)
{
    (void)state;
    fixture f;
    static const char *const names4[4] = {"N", "Cout", "Hout", "Wout"};
    const int64_t want4[4] = {BN, BCOUT, BHOUT, BWOUT};
    char m[96];
    for (int d = 0; d < 4; d++)
        for (int delta = -1; delta <= 1; delta += 2) {
            fixture_init(&f);
            f.y.shape[d] += delta;
            snprintf(m, sizeof m, "output.shape[%d]=%lld must be %s=%lld", d,
                     (long long)(want4[d] + delta), names4[d], (long long)want4[d]);
            EXPECT_FAIL(&f, API_OUT, TCONV_ERR_SHAPE_MISMATCH, m);
        }
    for (int d = 0; d < 3; d++) {
        fixture_init_unbatched(&f);
        f.y.shape[d] += 1;
        snprintf(m, sizeof m, "output.shape[%d]=%lld must be %s=%lld", d,
                 (long long)(want4[d + 1] + 1), names4[d + 1], (long long)want4[d + 1]);
        EXPECT_FAIL(&f, API_OUT, TCONV_ERR_SHAPE_MISMATCH, m);
    }
    /* an empty output for a non-empty batch is a mismatch, not a no-op */
    fixture_init(&f);
    f.y.shape[0] = 0;
    EXPECT_FAIL(&f, API_OUT, TCONV_ERR_SHAPE_MISMATCH, "output.shape[0]=0 must be N=2");
}

static void test_output_size_below_one(void **state)
{
    (void)state;
    fixture f;
    /* Hout = 4 - 2*4 + 2 + 1 + 1 = 0 */
    fixture_init(&f);
    f.p.padding[0] = 4;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT,
                "output height = (3-1)*2 - 2*4 + 1*(3-1) + 1 + 1 = 0 must be >= 1");
    /* Wout = 12 - 2*10 + 2 + 2 + 1 = -3 */
    fixture_init(&f);
    f.p.padding[1] = 10;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT,
                "output width = (5-1)*3 - 2*10 + 2*(2-1) + 2 + 1 = -3 must be >= 1");
    /* the largest padding that still leaves one row is fine: Hout = 8 - 2*pad = 2 -> pad 3 */
    fixture_init(&f);
    f.p.padding[0] = 3;
    int64_t shape[4];
    assert_int_equal(tconv_output_shape(&f.p, &f.x, &f.w, shape), TCONV_OK);
    assert_int_equal(shape[2], 2);
    /* an absurd padding whose double still fits int64: a negative size, not an overflow */
    fixture_init(&f);
    f.p.padding[0] = INT64_MAX / 2;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, "output height", "must be >= 1");
}

static void test_input_empty_dims(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    f.x.shape[2] = 0;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, "input H=0 must be >= 1");
    fixture_init(&f);
    f.x.shape[3] = 0;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, "input W=0 must be >= 1");
    fixture_init(&f);
    f.x.shape[1] = 0;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, "input Cin=0 must be >= 1");
    fixture_init_unbatched(&f);
    f.x.shape[1] = 0;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, "input H=0 must be >= 1");
    fixture_init_unbatched(&f);
    f.x.shape[2] = 0;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, "input W=0 must be >= 1");
    fixture_init(&f);
    f.x.shape[2] = -3;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, "input.shape[2]=-3 must be >= 0");
    fixture_init(&f);
    f.x.shape[0] = -1;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, "input.shape[0]=-1 must be >= 0");
}

static void test_bad_dtype(void **state)
{
    (void)state;
    const int32_t bad[4] = {0, 2, -1, INT32_MAX};
    char m[80];
    fixture f;
    for (int i = 0; i < 4; i++) {
        fixture_init(&f);
        f.x.dtype = bad[i];
        snprintf(m, sizeof m, "input.dtype=%d is not supported", (int)bad[i]);
        EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, m, "TCONV_DTYPE_F32=1");
        fixture_init(&f);
        f.w.dtype = bad[i];
        snprintf(m, sizeof m, "weight.dtype=%d is not supported", (int)bad[i]);
        EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, m);
        fixture_init(&f);
        f.b.dtype = bad[i];
        snprintf(m, sizeof m, "bias.dtype=%d is not supported", (int)bad[i]);
        EXPECT_FAIL(&f, API_BIAS, TCONV_ERR_INVALID_ARGUMENT, m);
        fixture_init(&f);
        f.y.dtype = bad[i];
        snprintf(m, sizeof m, "output.dtype=%d is not supported", (int)bad[i]);
        EXPECT_FAIL(&f, API_OUT, TCONV_ERR_INVALID_ARGUMENT, m);
    }
}

static void test_bad_rank(void **state)
{
    (void)state;
    fixture f;
    const int32_t bad_in[5] = {2, 5, 1, 0, -1};
    char m[64];
    for (int i = 0; i < 5; i++) {
        fixture_init(&f);
        f.x.rank = bad_in[i];
        snprintf(m, sizeof m, "input.rank=%d must be 3 or 4", (int)bad_in[i]);
        EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, m);
    }
    const int32_t bad_w[3] = {3, 5, 1};
    for (int i = 0; i < 3; i++) {
        fixture_init(&f);
        f.w.rank = bad_w[i];
        snprintf(m, sizeof m, "weight.rank=%d must be 4", (int)bad_w[i]);
        EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, m);
    }
    const int32_t bad_b[3] = {2, 0, 4};
    for (int i = 0; i < 3; i++) {
        fixture_init(&f);
        f.b.rank = bad_b[i];
        snprintf(m, sizeof m, "bias.rank=%d must be 1", (int)bad_b[i]);
        EXPECT_FAIL(&f, API_BIAS, TCONV_ERR_INVALID_ARGUMENT, m);
    }
    /* output rank must follow the input's */
    fixture_init(&f);
    f.y = tconv_tensor_chw(arena + Y_OFF, BCOUT, BHOUT, BWOUT);
    EXPECT_FAIL(&f, API_OUT, TCONV_ERR_INVALID_ARGUMENT, "output.rank=3 must be 4");
    fixture_init_unbatched(&f);
    f.y = tconv_tensor_nchw(arena + Y_OFF, 1, BCOUT, BHOUT, BWOUT);
    EXPECT_FAIL(&f, API_OUT, TCONV_ERR_INVALID_ARGUMENT, "output.rank=4 must be 3");
    fixture_init(&f);
    f.y.rank = 5;
    EXPECT_FAIL(&f, API_OUT, TCONV_ERR_INVALID_ARGUMENT, "output.rank=5 must be 4");
}

static void test_reserved_fields(void **state)
{
    (void)state;
    fixture f;
    char m[80];
    for (int i = 0; i < 2; i++) {
        fixture_init(&f);
        f.x.reserved[i] = 7;
        snprintf(m, sizeof m, "input.reserved[%d]=7 must be zero", i);
        EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, m);
        fixture_init(&f);
        f.w.reserved[i] = -1;
        snprintf(m, sizeof m, "weight.reserved[%d]=-1 must be zero", i);
        EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, m);
        fixture_init(&f);
        f.b.reserved[i] = INT64_MIN;
        snprintf(m, sizeof m, "bias.reserved[%d]=%lld must be zero", i, (long long)INT64_MIN);
        EXPECT_FAIL(&f, API_BIAS, TCONV_ERR_INVALID_ARGUMENT, m);
        fixture_init(&f);
        f.y.reserved[i] = 1;
        snprintf(m, sizeof m, "output.reserved[%d]=1 must be zero", i);
        EXPECT_FAIL(&f, API_OUT, TCONV_ERR_INVALID_ARGUMENT, m);
    }
    for (int i = 0; i < 7; i++) {
        fixture_init(&f);
        f.p.reserved[i] = 3;
        snprintf(m, sizeof m, "params.reserved[%d]=3 must be zero", i);
        EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_INVALID_ARGUMENT, m, "tconv_params_default()");
    }
    for (int i = 0; i < 6; i++) {
        fixture_init(&f);
        f.e.reserved[i] = 9;
        snprintf(m, sizeof m, "exec.reserved[%d]=9 must be zero", i);
        EXPECT_FAIL(&f, API_EXEC, TCONV_ERR_INVALID_ARGUMENT, m, "tconv_exec_default()");
    }
}

/* Defaults: the initialiser macros equal the functions, and both are valid. */
static void test_defaults(void **state)
{
    (void)state;
    const tconv_params pm = TCONV_PARAMS_INIT;
    const tconv_params pf = tconv_params_default();
    assert_memory_equal(&pm, &pf, sizeof pm);
    assert_int_equal(pf.stride[0], 1);
    assert_int_equal(pf.stride[1], 1);
    assert_int_equal(pf.dilation[0], 1);
    assert_int_equal(pf.dilation[1], 1);
    assert_int_equal(pf.groups, 1);
    assert_int_equal(pf.padding[0] | pf.padding[1] | pf.output_padding[0] | pf.output_padding[1],
                     0);
    const tconv_exec em = TCONV_EXEC_INIT;
    const tconv_exec ef = tconv_exec_default();
    assert_int_equal(em.algorithm, ef.algorithm);
    assert_int_equal(ef.algorithm, TCONV_ALGO_AUTO);
    assert_int_equal(ef.isa, TCONV_ISA_AUTO);
    assert_int_equal(ef.num_threads, 0);
    assert_int_equal(ef.flags, 0);
    assert_null(ef.workspace);
    assert_int_equal(ef.workspace_size, 0);
    assert_null(ef.allocator);
    assert_null(ef.parallel_for);
    assert_null(ef.parallel_ctx);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(ef.reserved[i], 0);
        assert_int_equal(em.reserved[i], 0);
    }
}

static void *never_alloc(void *ctx, size_t size, size_t alignment)
{
    (void)ctx;
    (void)size;
    (void)alignment;
    return NULL;
}

static void never_free(void *ctx, void *p)
{
    (void)ctx;
    (void)p;
}

static void test_exec_fields(void **state)
{
    (void)state;
    fixture f;
    const int32_t bad_algo[3] = {-1, TCONV_ALGO_COUNT, INT32_MAX};
    char m[80];
    for (int i = 0; i < 3; i++) {
        fixture_init(&f);
        f.e.algorithm = bad_algo[i];
        snprintf(m, sizeof m, "exec.algorithm=%d is not a tconv_algorithm", (int)bad_algo[i]);
        EXPECT_FAIL(&f, API_EXEC, TCONV_ERR_INVALID_ARGUMENT, m);
    }
    const int32_t bad_isa[3] = {-1, TCONV_ISA_AVX512 + 1, INT32_MIN};
    for (int i = 0; i < 3; i++) {
        fixture_init(&f);
        f.e.isa = bad_isa[i];
        snprintf(m, sizeof m, "exec.isa=%d is not a tconv_isa", (int)bad_isa[i]);
        EXPECT_FAIL(&f, API_EXEC, TCONV_ERR_INVALID_ARGUMENT, m);
    }
    fixture_init(&f);
    f.e.num_threads = -1;
    EXPECT_FAIL(&f, API_EXEC, TCONV_ERR_INVALID_ARGUMENT, "exec.num_threads=-1 must be >= 0");
    const uint32_t bad_flags[3] = {2u, 0x80000000u, TCONV_FLAG_NO_ALLOC | 4u};
    for (int i = 0; i < 3; i++) {
        fixture_init(&f);
        f.e.flags = bad_flags[i];
        snprintf(m, sizeof m, "exec.flags=0x%x has unknown bits", (unsigned)bad_flags[i]);
        EXPECT_FAIL(&f, API_EXEC, TCONV_ERR_INVALID_ARGUMENT, m);
    }
    fixture_init(&f);
    f.e.workspace_size = 16;
    EXPECT_FAIL(&f, API_EXEC, TCONV_ERR_NULL_POINTER,
                "exec.workspace is NULL but exec.workspace_size=16");
    tconv_allocator a = {NULL, never_free, NULL};
    fixture_init(&f);
    f.e.allocator = &a;
    EXPECT_FAIL(&f, API_EXEC, TCONV_ERR_NULL_POINTER,
                "exec.allocator must provide both alloc and free");
    a.alloc = never_alloc;
    a.free = NULL;
    EXPECT_FAIL(&f, API_EXEC, TCONV_ERR_NULL_POINTER,
                "exec.allocator must provide both alloc and free");
    /* the plain call ignores exec entirely, so it must succeed with the same tensors */
    EXPECT_OK(&f, API_FWD);
    /* exec == NULL means defaults */
    fixture_init(&f);
    f.pe = NULL;
    EXPECT_OK(&f, API_EX | API_WS | API_PL);
}

/* ------------------------------------------------------------ int64 overflow */

static void test_overflow_tensor_extents(void **state)
{
    (void)state;
    fixture f;
    /* a dimension of INT64_MAX elements: its byte extent does not fit */
    fixture_init(&f);
    f.x.shape[0] = INT64_MAX;
    f.x.stride[0] = 1;
    f.x.stride[1] = f.x.stride[2] = f.x.stride[3] = 0;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_SIZE_OVERFLOW, "input: byte extent overflows int64");
    /* (shape-1)*stride overflows */
    fixture_init(&f);
    f.x.shape[0] = 3;
    f.x.stride[0] = INT64_MAX;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_SIZE_OVERFLOW,
                "input: offset of the last element along dimension 0",
                "shape 3, stride 9223372036854775807");
    /* the sum of per-dimension offsets overflows though each fits */
    fixture_init(&f);
    f.w.stride[0] = INT64_MAX / 4;
    f.w.stride[1] = INT64_MAX / 2;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_SIZE_OVERFLOW, "weight: offset of the last element");
    /* the same going down */
    fixture_init(&f);
    f.w.stride[0] = -(INT64_MAX / 4);
    f.w.stride[1] = -(INT64_MAX / 2);
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_SIZE_OVERFLOW, "weight: offset of the last element");
    /* INT64_MIN cannot even be negated */
    fixture_init(&f);
    f.w.stride[3] = INT64_MIN;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_SIZE_OVERFLOW,
                "weight: offset of the last element along dimension 3");
    fixture_init(&f);
    f.b.stride[0] = INT64_MIN;
    EXPECT_FAIL(&f, API_BIAS, TCONV_ERR_SIZE_OVERFLOW, "bias: offset of the last element");
    fixture_init(&f);
    f.y.stride[2] = INT64_MAX / 3;
    EXPECT_FAIL(&f, API_OUT, TCONV_ERR_SIZE_OVERFLOW, "output: offset of the last element");
    /* broadcast dims: tiny extent, but the element count does not fit */
    fixture_init(&f);
    f.x.shape[0] = f.x.shape[1] = INT64_C(1) << 32;
    f.x.stride[0] = f.x.stride[1] = 0;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_SIZE_OVERFLOW, "input: element count overflows int64");
    /* weight.shape[1]*groups: with groups dividing Cin, the weight's own element count
     * (Cin * shape[1] * kH * kW >= groups * shape[1]) overflows first */
    fixture_init(&f);
    f.w.shape[1] = INT64_C(1) << 62;
    f.w.stride[0] = f.w.stride[1] = f.w.stride[2] = f.w.stride[3] = 0;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_SIZE_OVERFLOW, "weight: element count overflows int64");
}

static void test_overflow_output_size(void **state)
{
    (void)state;
    fixture f;
    /* (H-1)*stride: H = 2^40 broadcast along H, stride 2^24 */
    fixture_init(&f);
    f.x.shape[2] = INT64_C(1) << 40;
    f.x.stride[2] = 0;
    f.p.stride[0] = INT64_C(1) << 24;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_SIZE_OVERFLOW, "output height", "overflows int64");
    /* (W-1)*stride with a single huge stride */
    fixture_init(&f);
    f.p.stride[1] = INT64_MAX / 2;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_SIZE_OVERFLOW, "output width", "overflows int64");
    /* dilation*(k-1) */
    fixture_init(&f);
    f.p.dilation[0] = INT64_MAX / 2 + 1;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_SIZE_OVERFLOW, "output height", "overflows int64");
    /* 2*padding */
    fixture_init(&f);
    f.p.padding[1] = INT64_MAX / 2 + 1;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_SIZE_OVERFLOW, "output width", "overflows int64");
    /* + output_padding: W = 1, stride INT64_MAX, output_padding INT64_MAX-1, k 2, dil 2
     * -> 0 + 2 + 1 + (INT64_MAX-1) */
    fixture_init(&f);
    f.x = tconv_tensor_nchw(arena + X_OFF, BN, BCIN, BH, 1);
    f.p.stride[1] = INT64_MAX;
    f.p.output_padding[1] = INT64_MAX - 1;
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_SIZE_OVERFLOW, "output width", "overflows int64");
    /* everything fits but N*Cout*Hout*Wout: 2^32 images x 2^32 channels */
    fixture_init(&f);
    f.x = tconv_tensor_nchw(arena + X_OFF, INT64_C(1) << 32, 1, 1, 1);
    f.x.stride[0] = 0;
    f.w = tconv_tensor_nchw(arena + W_OFF, 1, INT64_C(1) << 32, 1, 1);
    f.w.stride[1] = 0;
    f.p = tconv_params_default();
    EXPECT_FAIL(&f, API_OS, TCONV_ERR_SIZE_OVERFLOW,
                "output size 4294967296 x 4294967296 x 1 x 1 floats overflows int64");
    f.pb = NULL;
    f.py = NULL;
    EXPECT_FAIL(&f, API_WS | API_PL, TCONV_ERR_SIZE_OVERFLOW, "output size", "overflows int64");
    /* ... and the same in bytes only: 2^31 x 2^31 floats = 2^64 bytes */
    fixture_init(&f);
    f.x = tconv_tensor_nchw(arena + X_OFF, INT64_C(1) << 31, 1, 1, 1);
    f.x.stride[0] = 0;
    f.w = tconv_tensor_nchw(arena + W_OFF, 1, INT64_C(1) << 31, 1, 1);
    f.w.stride[1] = 0;
    f.p = tconv_params_default();
    f.pb = NULL;
    EXPECT_FAIL(&f, API_OS | API_PL, TCONV_ERR_SIZE_OVERFLOW, "output size 2147483648 x 2147483648");
    /* the matching output tensor cannot be described either */
    f.y = tconv_tensor_nchw(arena + Y_OFF, INT64_C(1) << 31, INT64_C(1) << 31, 1, 1);
    EXPECT_FAIL(&f, API_OUT, TCONV_ERR_SIZE_OVERFLOW, "output", "overflows int64");
    /* one image, but its output does not fit: 2^31 channels of 1 x 2^31 */
    fixture_init(&f);
    f.x = tconv_tensor_nchw(arena + X_OFF, 1, 1, 1, INT64_C(1) << 31);
    f.x.stride[3] = 0;
    f.w = tconv_tensor_nchw(arena + W_OFF, 1, INT64_C(1) << 31, 1, 1);
    f.w.stride[1] = 0;
    f.p = tconv_params_default();
    EXPECT_FAIL(&f, API_OS, TCONV_ERR_SIZE_OVERFLOW,
                "output image size 2147483648 x 1 x 2147483648 floats overflows int64");
    f.pb = NULL;
    f.py = NULL;
    EXPECT_FAIL(&f, API_WS | API_PL, TCONV_ERR_SIZE_OVERFLOW, "output image size");
    /* a W of INT64_MAX (broadcast), kernel 1, stride 1: Wout = INT64_MAX fits, the byte
     * counts do not (the input image's is checked first: it must fit even when N = 0) */
    fixture_init(&f);
    f.x = tconv_tensor_nchw(arena + X_OFF, 1, 1, 1, INT64_MAX);
    f.x.stride[0] = f.x.stride[1] = f.x.stride[2] = f.x.stride[3] = 0;
    f.w = tconv_tensor_nchw(arena + W_OFF, 1, 1, 1, 1);
    f.p = tconv_params_default();
    EXPECT_FAIL(&f, API_OS, TCONV_ERR_SIZE_OVERFLOW, "input image size 1 x 1 x 9223372036854775807");
}

/* The helpers compute strides in unsigned arithmetic: absurd shapes must neither be UB
 * (UBSan watches) nor slip through validation. */
static void test_overflow_helper_shapes(void **state)
{
    (void)state;
    fixture f;
    const int64_t big = INT64_C(1) << 32;
    fixture_init(&f);
    f.x = tconv_tensor_nchw(arena + X_OFF, big, big, big, 2);
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_SIZE_OVERFLOW, "input");
    fixture_init(&f);
    f.x = tconv_tensor_nhwc(arena + X_OFF, INT64_MAX, INT64_MAX, 2, 2);
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_SIZE_OVERFLOW, "input");
    fixture_init_unbatched(&f);
    f.x = tconv_tensor_chw(arena + X_OFF, INT64_MAX, INT64_MAX, INT64_MAX);
    EXPECT_FAIL(&f, API_LAYER, TCONV_ERR_SIZE_OVERFLOW, "input");
    fixture_init(&f);
    f.b = tconv_tensor_1d(arena + B_OFF, INT64_MAX);
    EXPECT_FAIL(&f, API_BIAS, TCONV_ERR_SIZE_OVERFLOW, "bias: byte extent overflows int64");
}

/* Memory: a view whose negative strides reach below address 0. */
static void test_overflow_address_space(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    f.x.shape[0] = 2;
    f.x.stride[0] = -(INT64_C(1) << 60);
    EXPECT_FAIL(&f, API_MEM, TCONV_ERR_SIZE_OVERFLOW, "input: negative strides reach below address 0");
    fixture_init(&f);
    f.y.stride[0] = -(INT64_C(1) << 60);
    EXPECT_FAIL(&f, API_MEM, TCONV_ERR_SIZE_OVERFLOW, "output: negative strides reach below address 0");
    /* a pointer near the top of the address space (never dereferenced: refused) */
    fixture_init(&f);
    f.x.data = (void *)(UINTPTR_MAX - 63);
    EXPECT_FAIL(&f, API_MEM, TCONV_ERR_SIZE_OVERFLOW, "input: extent wraps the address space");
    fixture_init(&f);
    f.y.data = (void *)(UINTPTR_MAX - 63);
    EXPECT_FAIL(&f, API_MEM, TCONV_ERR_SIZE_OVERFLOW, "output: extent wraps the address space");
}

/* ------------------------------------------------------------ memory */

static void test_misaligned(void **state)
{
    (void)state;
    fixture f;
    for (int off = 1; off < 4; off++) {
        fixture_init(&f);
        f.x.data = (char *)f.x.data + off;
        EXPECT_FAIL(&f, API_MEM, TCONV_ERR_INVALID_ARGUMENT, "input.data=",
                    "is not aligned to 4 bytes");
        fixture_init(&f);
        f.y.data = (char *)f.y.data + off;
        EXPECT_FAIL(&f, API_MEM, TCONV_ERR_INVALID_ARGUMENT, "output.data=",
                    "is not aligned to 4 bytes");
        fixture_init(&f);
        f.w.data = (char *)f.w.data + off;
        EXPECT_FAIL(&f, API_MEM, TCONV_ERR_INVALID_ARGUMENT, "weight.data=",
                    "is not aligned to 4 bytes");
        fixture_init(&f);
        f.b.data = (char *)f.b.data + off;
        EXPECT_FAIL(&f, API_MEM, TCONV_ERR_INVALID_ARGUMENT, "bias.data=",
                    "is not aligned to 4 bytes");
    }
}

/* Plan creation reads the weight and bias: it must refuse pointers the forward call
 * refuses, rather than load floats through them. Last in the suite because a library
 * that does load them trips UBSan's alignment check, which aborts the process. */
static void test_plan_create_checks_memory(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    f.w.data = (char *)f.w.data + 2;
    EXPECT_FAIL(&f, API_PL, TCONV_ERR_INVALID_ARGUMENT, "weight.data=", "is not aligned to 4 bytes");
    fixture_init(&f);
    f.b.data = (char *)f.b.data + 1;
    EXPECT_FAIL(&f, API_PL, TCONV_ERR_INVALID_ARGUMENT, "bias.data=", "is not aligned to 4 bytes");
}

static void test_aliasing(void **state)
{
    (void)state;
    fixture f;
    /* the output on top of the input */
    fixture_init(&f);
    f.y.data = f.x.data;
    EXPECT_FAIL(&f, API_MEM, TCONV_ERR_ALIASING, "overlaps input memory");
    /* only the output's last element is the input's first */
    fixture_init(&f);
    f.y.data = arena + X_OFF - (Y_LEN - 1);
    EXPECT_FAIL(&f, API_MEM, TCONV_ERR_ALIASING, "overlaps input memory");
    /* one element earlier they merely touch: fine */
    f.y.data = arena + X_OFF - Y_LEN;
    EXPECT_OK(&f, API_MEM);
    /* the output starting at the weight's last element */
    fixture_init(&f);
    f.y.data = arena + W_OFF + W_LEN - 1;
    EXPECT_FAIL(&f, API_CALL, TCONV_ERR_ALIASING, "overlaps weight memory");
    /* ... and at the bias's last element */
    fixture_init(&f);
    f.y.data = arena + B_OFF + BCOUT - 1;
    EXPECT_FAIL(&f, API_CALL, TCONV_ERR_ALIASING, "overlaps bias memory");
    /* a broadcast bias (stride 0) whose one element sits inside the output */
    fixture_init(&f);
    f.b.data = arena + Y_OFF + 100;
    f.b.stride[0] = 0;
    EXPECT_FAIL(&f, API_CALL, TCONV_ERR_ALIASING, "overlaps bias memory");
    /* an input stored backwards whose lowest element is the output's last */
    fixture_init(&f);
    f.x.stride[3] = -1;
    f.x.data = arena + Y_OFF + Y_LEN - 1 + (BW - 1);
    EXPECT_FAIL(&f, API_MEM, TCONV_ERR_ALIASING, "overlaps input memory");
    /* inputs may overlap each other: input and weight on the same floats */
    fixture_init(&f);
    f.w.data = f.x.data;
    EXPECT_OK(&f, API_MEM);
}

/* One failing call of the plan API: its status, a message with sub, the arena untouched,
 * the message cleared by the next successful call. */
static void expect_plan_fail(const char *file, int line, tconv_status st, tconv_status want,
                             const char *sub)
{
    const char *msg = tconv_last_error_message();
    n_calls++;
    if (st != want)
        fail_msg("%s:%d: returned %d (%s), want %d (%s); message \"%s\"", file, line, (int)st,
                 tconv_status_string(st), (int)want, tconv_status_string(want), msg);
    if (!strstr(msg, sub))
        fail_msg("%s:%d: message \"%s\" lacks \"%s\"", file, line, msg, sub);
    if (memcmp(arena_copy, arena, ARENA_LEN * sizeof(float)) != 0)
        fail_msg("%s:%d: wrote memory although it failed", file, line);
    successful_call(file, line);
}

#define EXPECT_PLAN_FAIL(call, want, sub)                                                  \
    do {                                                                                   \
        memcpy(arena_copy, arena, ARENA_LEN * sizeof(float));                              \
        const tconv_status st_ = (call);                                                   \
        expect_plan_fail(__FILE__, __LINE__, st_, (want), (sub));                          \
    } while (0)

/* What only a plan refuses: a NULL plan or input of a run, an input of another rank than
 * the plan's or that does not fit it, an exec asking for another algorithm or ISA than
 * planned (or invalid in itself), NULL arguments of the plan queries. */
static void test_plan_refusals(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    tconv_plan *plan = NULL;
    assert_int_equal(tconv_plan_create(&plan, &f.p, &f.x, &f.w, &f.b, NULL), TCONV_OK);
    tconv_report info;
    assert_int_equal(tconv_plan_info(plan, &info), TCONV_OK);
    size_t bytes;
    n_cases++;

    EXPECT_PLAN_FAIL(tconv_plan_run(NULL, &f.x, &f.y, NULL, NULL), TCONV_ERR_NULL_POINTER,
                     "plan must not be NULL");
    EXPECT_PLAN_FAIL(tconv_plan_run(plan, NULL, &f.y, NULL, NULL), TCONV_ERR_NULL_POINTER,
                     "input must not be NULL");
    /* one image unbatched on a plan made for a batch */
    fixture u;
    fixture_init_unbatched(&u);
    EXPECT_PLAN_FAIL(tconv_plan_run(plan, &u.x, &u.y, NULL, NULL), TCONV_ERR_SHAPE_MISMATCH,
                     "differs from the plan's");
    /* a batch larger than planned */
    tconv_tensor x2 = tconv_tensor_nchw(f.x.data, BN + 1, BCIN, BH, BW);
    EXPECT_PLAN_FAIL(tconv_plan_run(plan, &x2, &f.y, NULL, NULL), TCONV_ERR_SHAPE_MISMATCH,
                     "does not fit the plan");
    /* another algorithm than the plan's */
    tconv_exec e = tconv_exec_default();
    e.algorithm = info.algorithm == TCONV_ALGO_REFERENCE ? TCONV_ALGO_GEMM_COL2IM
                                                         : TCONV_ALGO_REFERENCE;
    EXPECT_PLAN_FAIL(tconv_plan_run(plan, &f.x, &f.y, &e, NULL), TCONV_ERR_INVALID_ARGUMENT,
                     "differs from the plan's");
    EXPECT_PLAN_FAIL(tconv_plan_workspace_size(plan, &e, &bytes), TCONV_ERR_INVALID_ARGUMENT,
                     "differs from the plan's");
    /* another ISA than the plan's, where this machine has one to ask for */
    e = tconv_exec_default();
    e.isa = info.isa != TCONV_ISA_SCALAR                  ? TCONV_ISA_SCALAR
            : tconv_isa_detected() != TCONV_ISA_SCALAR ? tconv_isa_detected()
                                                          : TCONV_ISA_AUTO;
    if (e.isa != TCONV_ISA_AUTO) {
        EXPECT_PLAN_FAIL(tconv_plan_run(plan, &f.x, &f.y, &e, NULL),
                         TCONV_ERR_INVALID_ARGUMENT, "differs from the plan's");
    }
    /* an exec invalid in itself, as for the other calls */
    e = tconv_exec_default();
    e.num_threads = -1;
    EXPECT_PLAN_FAIL(tconv_plan_run(plan, &f.x, &f.y, &e, NULL), TCONV_ERR_INVALID_ARGUMENT,
                     "exec.num_threads=-1 must be >= 0");
    EXPECT_PLAN_FAIL(tconv_plan_workspace_size(NULL, NULL, &bytes), TCONV_ERR_NULL_POINTER,
                     "plan must not be NULL");
    EXPECT_PLAN_FAIL(tconv_plan_workspace_size(plan, NULL, NULL), TCONV_ERR_NULL_POINTER,
                     "bytes must not be NULL");
    EXPECT_PLAN_FAIL(tconv_plan_info(NULL, &info), TCONV_ERR_NULL_POINTER,
                     "plan must not be NULL");
    EXPECT_PLAN_FAIL(tconv_plan_info(plan, NULL), TCONV_ERR_NULL_POINTER,
                     "report must not be NULL");
    /* and the plan still runs */
    assert_int_equal(tconv_plan_run(plan, &f.x, &f.y, NULL, NULL), TCONV_OK);
    tconv_plan_destroy(plan);
    tconv_plan_destroy(NULL); /* as free(NULL) */
    fill_arena();
}

/* A plan runs on its private copies of the weight and bias: after creation the caller
 * may reuse their memory, even for the run's output, and the result is the same. */
static void test_plan_run_uses_its_copies(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    tconv_plan *plan = NULL;
    assert_int_equal(tconv_plan_create(&plan, &f.p, &f.x, &f.w, &f.b, NULL), TCONV_OK);
    float *want = malloc(Y_LEN * sizeof(float));
    assert_non_null(want);
    tconv_tensor yw = f.y;
    yw.data = want;
    assert_int_equal(tconv_convtranspose2d(&f.p, &f.x, &f.w, &f.b, &yw), TCONV_OK);
    /* the output from the weight's last element on, over the bias */
    f.y.data = arena + W_OFF + W_LEN - 1;
    assert_int_equal(tconv_plan_run(plan, &f.x, &f.y, NULL, NULL), TCONV_OK);
    assert_memory_equal(f.y.data, want, Y_LEN * sizeof(float));
    /* and the caller's weight and bias overwritten with garbage change nothing */
    for (int i = 0; i < W_LEN + BCOUT + 64; i++)
        arena[W_OFF + i] = 1e30f;
    f.y.data = arena + Y_OFF;
    assert_int_equal(tconv_plan_run(plan, &f.x, &f.y, NULL, NULL), TCONV_OK);
    assert_memory_equal(f.y.data, want, Y_LEN * sizeof(float));
    free(want);
    tconv_plan_destroy(plan);
    fill_arena();
}

static void test_output_self_overlap(void **state)
{
    (void)state;
    fixture f;
    const char *rule = "output strides make distinct elements share memory";
    for (int d = 0; d < 4; d++) { /* stride 0 on each dim of size > 1 */
        fixture_init(&f);
        f.y.stride[d] = 0;
        EXPECT_FAIL(&f, API_MEM, TCONV_ERR_ALIASING, rule);
    }
    /* H and W interleaved: (h, w+1) and (h+1, w) share an address */
    fixture_init(&f);
    f.y.stride[2] = 1;
    EXPECT_FAIL(&f, API_MEM, TCONV_ERR_ALIASING, rule);
    /* negative strides overlapping: W backwards over H's rows */
    fixture_init(&f);
    f.y.stride[3] = -1;
    f.y.stride[2] = 2;
    f.y.data = arena + Y_OFF + BWOUT;
    EXPECT_FAIL(&f, API_MEM, TCONV_ERR_ALIASING, rule);
    /* channels equal to images: n and c collide */
    fixture_init(&f);
    f.y.stride[0] = f.y.stride[1];
    EXPECT_FAIL(&f, API_MEM, TCONV_ERR_ALIASING, rule);
    /* stride 0 or anything on a dim of size 1 is harmless */
    fixture_init(&f);
    f.x.shape[0] = f.y.shape[0] = 1;
    f.y.stride[0] = 0;
    EXPECT_OK(&f, API_MEM);
    f.y.stride[0] = -123456789;
    EXPECT_OK(&f, API_MEM);
}

/* ------------------------------------------------------------ algorithms and ISAs */

/* Each explicit algorithm either runs the problem correctly and says so in the report,
 * or refuses it with UNSUPPORTED naming the algorithm, on every entry point, writing
 * nothing. Two shapes: the base one and one with 72 stride phases (past what a
 * phase decomposition typically allows). */
static void test_explicit_algorithms(void **state)
{
    (void)state;
    int unsupported = 0, ran = 0;
    for (int shape = 0; shape < 2; shape++)
        for (int a = TCONV_ALGO_REFERENCE; a < TCONV_ALGO_COUNT; a++) {
            fixture f;
            fixture_init(&f);
            if (shape == 1) {
                /* Hout = 9 - 2 + 2 + 1 + 1 = 11, Wout = 8 + 2 + 2 + 1 = 13 */
                f.p.stride[0] = 9;
                f.p.stride[1] = 8;
                f.x = tconv_tensor_nchw(arena + X_OFF, 1, BCIN, 2, 2);
                f.y = tconv_tensor_nchw(arena + Y_OFF, 1, BCOUT, 11, 13);
            }
            f.e.algorithm = a;
            size_t ws;
            tconv_status st = tconv_workspace_size(f.pp, f.px, f.pw, f.pb, f.py, f.pe, &ws);
            if (st == TCONV_ERR_UNSUPPORTED) {
                char m[96];
                snprintf(m, sizeof m, "algorithm %s cannot run this problem",
                         tconv_algorithm_name(a));
                EXPECT_FAIL(&f, API_EX | API_WS | API_PL, TCONV_ERR_UNSUPPORTED, m);
                unsupported++;
                continue;
            }
            if (st != TCONV_OK)
                fail_msg("algorithm %s: workspace query %d: %s", tconv_algorithm_name(a), (int)st,
                         tconv_last_error_message());
            tconv_report rep;
            st = tconv_convtranspose2d_ex(f.pp, f.px, f.pw, f.pb, f.py, f.pe, &rep);
            if (st != TCONV_OK)
                fail_msg("algorithm %s: query said OK but the call gave %d: %s",
                         tconv_algorithm_name(a), (int)st, tconv_last_error_message());
            assert_int_equal(rep.algorithm, a);
            assert_int_equal(rep.workspace_bytes, ws);
            char msg[256];
            if (!tu_check_exact(&f.p, &f.x, &f.w, &f.b, &f.y, 1.0, msg, sizeof msg))
                fail_msg("algorithm %s, shape %d: %s", tconv_algorithm_name(a), shape, msg);
            fill_arena();
            ran++;
        }
    print_message("explicit algorithms: %d ran, %d refused\n", ran, unsupported);
    assert_true(ran >= 2); /* the reference always runs */
    assert_int_equal(ran + unsupported, 2 * (TCONV_ALGO_COUNT - 1));
}

static void test_unsupported_isa(void **state)
{
    (void)state;
    const tconv_isa best = tconv_isa_detected();
    assert_true(best >= TCONV_ISA_SCALAR && best <= TCONV_ISA_AVX512);
    /* every level up to the detected one is accepted */
    for (int isa = TCONV_ISA_AUTO; isa <= (int)best; isa++) {
        fixture f;
        fixture_init(&f);
        f.e.isa = isa;
        EXPECT_OK(&f, API_EX | API_WS | API_PL);
    }
    if (best == TCONV_ISA_AVX512)
        skip(); /* nothing above; the TCONV_ISA=scalar run of this suite covers it */
    for (int isa = (int)best + 1; isa <= TCONV_ISA_AVX512; isa++) {
        fixture f;
        fixture_init(&f);
        f.e.isa = isa;
        char m[128];
        snprintf(m, sizeof m, "exec.isa=%s is not available", tconv_isa_name(isa));
        EXPECT_FAIL(&f, API_EX | API_WS | API_PL, TCONV_ERR_UNSUPPORTED, m, tconv_isa_name(best));
    }
}

/* ------------------------------------------------------------ memory hooks */

#define MAX_BLOCKS 64

/* An allocator that records every block, checks the alignment contract, and can be
 * told to fail the k-th allocation. */
typedef struct counting {
    int allocs, frees, failed, bad_alignment, unknown_frees, null_frees;
    int fail_at; /* 1-based index of the allocation to refuse; 0 = never */
    void *blocks[MAX_BLOCKS];
} counting;

static void *counting_alloc(void *ctx, size_t size, size_t alignment)
{
    counting *c = ctx;
    if (c->fail_at && c->allocs + c->failed + 1 == c->fail_at) {
        c->failed++;
        return NULL;
    }
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > 4096) {
        c->bad_alignment++;
        alignment = 64;
    }
    void *p = aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
    if (!p)
        return NULL;
    for (int i = 0; i < MAX_BLOCKS; i++)
        if (!c->blocks[i]) {
            c->blocks[i] = p;
            c->allocs++;
            return p;
        }
    free(p);
    return NULL;
}

static void counting_free(void *ctx, void *p)
{
    counting *c = ctx;
    if (!p) {
        c->null_frees++;
        return;
    }
    for (int i = 0; i < MAX_BLOCKS; i++)
        if (c->blocks[i] == p) {
            c->blocks[i] = NULL;
            c->frees++;
            free(p);
            return;
        }
    c->unknown_frees++;
}

static void check_balanced(const counting *c, const char *what)
{
    if (c->allocs != c->frees || c->unknown_frees || c->bad_alignment)
        fail_msg("%s: %d allocations, %d frees, %d frees of unknown pointers, %d bad alignments",
                 what, c->allocs, c->frees, c->unknown_frees, c->bad_alignment);
}

static void test_allocator_one_shot(void **state)
{
    (void)state;
    for (int a = TCONV_ALGO_AUTO; a < TCONV_ALGO_COUNT; a++)
        for (int threads = 1; threads <= 2; threads++) {
            counting c;
            memset(&c, 0, sizeof c);
            tconv_allocator al = {counting_alloc, counting_free, &c};
            fixture f;
            fixture_init(&f);
            f.e.algorithm = a;
            f.e.num_threads = threads;
            f.e.allocator = &al;
            size_t ws;
            if (tconv_workspace_size(f.pp, f.px, f.pw, f.pb, f.py, f.pe, &ws) ==
                TCONV_ERR_UNSUPPORTED)
                continue;
            char what[64];
            snprintf(what, sizeof what, "%s, %d threads", tconv_algorithm_name(a), threads);
            assert_int_equal(tconv_convtranspose2d_ex(f.pp, f.px, f.pw, f.pb, f.py, f.pe, NULL),
                             TCONV_OK);
            check_balanced(&c, what);
            /* scratch memory the call needs comes from the hook when the caller gives none */
            if (ws > 0 && c.allocs == 0)
                fail_msg("%s: needs %zu bytes of workspace but never called the allocator",
                         what, ws);
            /* a refusing allocator: OUT_OF_MEMORY if memory is needed, and nothing written */
            memset(&c, 0, sizeof c);
            c.fail_at = 1;
            memcpy(arena_copy, arena, ARENA_LEN * sizeof(float));
            tconv_status st = tconv_convtranspose2d_ex(f.pp, f.px, f.pw, f.pb, f.py, f.pe, NULL);
            if (ws > 0) {
                assert_int_equal(st, TCONV_ERR_OUT_OF_MEMORY);
                assert_memory_equal(arena_copy, arena, ARENA_LEN * sizeof(float));
            } else {
                assert_int_equal(st, TCONV_OK);
            }
            check_balanced(&c, what);
            fill_arena();
        }
}

static void test_allocator_plans(void **state)
{
    (void)state;
    counting c;
    memset(&c, 0, sizeof c);
    tconv_allocator al = {counting_alloc, counting_free, &c};
    fixture f;
    fixture_init(&f);
    f.e.allocator = &al;
    tconv_plan *plan = NULL;
    assert_int_equal(tconv_plan_create(&plan, f.pp, f.px, f.pw, f.pb, f.pe), TCONV_OK);
    assert_non_null(plan);
    /* the plan holds a weight copy at least, so it must have allocated through the hook */
    const int held = c.allocs - c.frees;
    assert_true(held >= 1);
    /* runs with and without the allocator; nothing they take stays behind */
    assert_int_equal(tconv_plan_run(plan, f.px, f.py, f.pe, NULL), TCONV_OK);
    assert_int_equal(tconv_plan_run(plan, f.px, f.py, NULL, NULL), TCONV_OK);
    assert_int_equal(c.allocs - c.frees, held);
    tconv_report rep;
    assert_int_equal(tconv_plan_info(plan, &rep), TCONV_OK);
    tconv_plan_destroy(plan);
    check_balanced(&c, "plan");
    const int total = c.allocs;
    fill_arena();

    /* refuse each allocation of plan creation in turn: OUT_OF_MEMORY, *plan NULL, and
     * every block handed out so far is returned */
    for (int k = 1; k <= total; k++) {
        memset(&c, 0, sizeof c);
        c.fail_at = k;
        plan = (tconv_plan *)(void *)&plan_marker;
        tconv_status st = tconv_plan_create(&plan, f.pp, f.px, f.pw, f.pb, f.pe);
        if (st != TCONV_ERR_OUT_OF_MEMORY)
            fail_msg("allocation %d of %d refused: status %d", k, total, (int)st);
        assert_null(plan);
        assert_non_null(strstr(tconv_last_error_message(), "allocate"));
        char what[48];
        snprintf(what, sizeof what, "plan, allocation %d refused", k);
        check_balanced(&c, what);
    }
}

/* TCONV_FLAG_NO_ALLOC: with the workspace tconv_workspace_size() reports the call
 * allocates nothing; with less it refuses; with no need it just runs. */
static void test_no_alloc_workspace(void **state)
{
    (void)state;
    int needed = 0, not_needed = 0;
    for (int a = TCONV_ALGO_AUTO; a < TCONV_ALGO_COUNT; a++) {
        counting c;
        memset(&c, 0, sizeof c);
        tconv_allocator al = {counting_alloc, counting_free, &c};
        fixture f;
        fixture_init(&f);
        f.e.algorithm = a;
        f.e.allocator = &al;
        f.e.flags = TCONV_FLAG_NO_ALLOC;
        size_t ws;
        tconv_status st = tconv_workspace_size(f.pp, f.px, f.pw, f.pb, f.py, f.pe, &ws);
        if (st == TCONV_ERR_UNSUPPORTED)
            continue;
        assert_int_equal(st, TCONV_OK);
        char msg[256];
        if (ws == 0) {
            EXPECT_OK(&f, API_EX);
            assert_int_equal(c.allocs, 0);
            not_needed++;
            continue;
        }
        needed++;
        char need[64];
        snprintf(need, sizeof need, "needs %zu bytes", ws);
        /* none at all, then one byte short; the size includes room to align any
         * pointer, so the tight case is a pointer one byte past a 64-byte boundary */
        EXPECT_FAIL(&f, API_EX, TCONV_ERR_WORKSPACE_TOO_SMALL, need, "TCONV_FLAG_NO_ALLOC");
        void *buf = aligned_alloc(64, (ws + 128) / 64 * 64);
        f.e.workspace = (char *)buf + 1;
        f.e.workspace_size = ws - 1;
        EXPECT_FAIL(&f, API_EX, TCONV_ERR_WORKSPACE_TOO_SMALL, need, "TCONV_FLAG_NO_ALLOC");
        /* exactly enough: runs, right, without the allocator */
        f.e.workspace_size = ws;
        assert_int_equal(tconv_convtranspose2d_ex(f.pp, f.px, f.pw, f.pb, f.py, f.pe, NULL),
                         TCONV_OK);
        assert_int_equal(c.allocs, 0);
        if (!tu_check_exact(&f.p, &f.x, &f.w, &f.b, &f.y, 1.0, msg, sizeof msg))
            fail_msg("%s with a caller workspace: %s", tconv_algorithm_name(a), msg);
        fill_arena();
        free(buf);
    }
    assert_true(needed + not_needed >= 2); /* AUTO and the reference at least */
}

/* The header promises that "with a caller workspace of at least tconv_workspace_size()
 * bytes the call allocates nothing" and states no alignment, so memory from malloc (16
 * bytes aligned, here deliberately not 64) of exactly that size must do, with
 * TCONV_FLAG_NO_ALLOC and without any allocation. */
static void test_workspace_any_alignment(void **state)
{
    (void)state;
    int checked = 0;
    for (int a = TCONV_ALGO_AUTO; a < TCONV_ALGO_COUNT; a++) {
        counting c;
        memset(&c, 0, sizeof c);
        tconv_allocator al = {counting_alloc, counting_free, &c};
        fixture f;
        fixture_init(&f);
        f.e.algorithm = a;
        f.e.allocator = &al;
        size_t ws;
        if (tconv_workspace_size(f.pp, f.px, f.pw, f.pb, f.py, f.pe, &ws) != TCONV_OK || ws == 0)
            continue;
        char *raw = aligned_alloc(64, (ws + 16 + 63) / 64 * 64);
        f.e.workspace = raw + 16;
        f.e.workspace_size = ws;
        /* without the flag: runs, and takes nothing from the allocator */
        tconv_status st = tconv_convtranspose2d_ex(f.pp, f.px, f.pw, f.pb, f.py, f.pe, NULL);
        const int allocs = c.allocs;
        /* with the flag: must not refuse a workspace of the size it asked for */
        f.e.flags = TCONV_FLAG_NO_ALLOC;
        tconv_status st2 = tconv_convtranspose2d_ex(f.pp, f.px, f.pw, f.pb, f.py, f.pe, NULL);
        char msg[512];
        snprintf(msg, sizeof msg, "%s", tconv_last_error_message());
        free(raw);
        fill_arena();
        assert_int_equal(st, TCONV_OK);
        if (allocs != 0)
            fail_msg("%s: a %zu-byte workspace at a 16-byte aligned address was not used: %d "
                     "allocations",
                     tconv_algorithm_name(a), ws, allocs);
        if (st2 != TCONV_OK)
            fail_msg("%s with TCONV_FLAG_NO_ALLOC and a %zu-byte workspace at a 16-byte aligned "
                     "address: status %d: %s",
                     tconv_algorithm_name(a), ws, (int)st2, msg);
        checked++;
    }
    if (checked == 0)
        skip(); /* no algorithm of this build needs workspace for the fixture */
}

/* ------------------------------------------------------------ strings, versions, ISA */

static void test_status_strings(void **state)
{
    (void)state;
    static const char *const names[10] = {
        "TCONV_OK", "TCONV_ERR_NULL_POINTER", "TCONV_ERR_INVALID_ARGUMENT",
        "TCONV_ERR_SHAPE_MISMATCH", "TCONV_ERR_SIZE_OVERFLOW", "TCONV_ERR_ALIASING",
        "TCONV_ERR_UNSUPPORTED", "TCONV_ERR_OUT_OF_MEMORY", "TCONV_ERR_WORKSPACE_TOO_SMALL",
        "TCONV_ERR_SYSTEM"};
    /* the values are ABI */
    assert_int_equal(TCONV_OK, 0);
    assert_int_equal(TCONV_ERR_NULL_POINTER, 1);
    assert_int_equal(TCONV_ERR_INVALID_ARGUMENT, 2);
    assert_int_equal(TCONV_ERR_SHAPE_MISMATCH, 3);
    assert_int_equal(TCONV_ERR_SIZE_OVERFLOW, 4);
    assert_int_equal(TCONV_ERR_ALIASING, 5);
    assert_int_equal(TCONV_ERR_UNSUPPORTED, 6);
    assert_int_equal(TCONV_ERR_OUT_OF_MEMORY, 7);
    assert_int_equal(TCONV_ERR_WORKSPACE_TOO_SMALL, 8);
    assert_int_equal(TCONV_ERR_SYSTEM, 9);
    const char *seen[10];
    for (int s = 0; s < 10; s++) {
        const char *str = tconv_status_string((tconv_status)s);
        assert_non_null(str);
        const size_t len = strlen(names[s]);
        /* starts with the constant's name, then ':' or the end */
        if (strncmp(str, names[s], len) != 0 || (str[len] != '\0' && str[len] != ':'))
            fail_msg("status %d: \"%s\" does not start with %s", s, str, names[s]);
        for (int t = 0; t < s; t++)
            assert_string_not_equal(str, seen[t]);
        seen[s] = str;
    }
    const int unknown[4] = {10, 99, -1, INT_MAX};
    for (int i = 0; i < 4; i++) {
        const char *str = tconv_status_string((tconv_status)unknown[i]);
        assert_non_null(str);
        for (int s = 0; s < 10; s++)
            assert_string_not_equal(str, seen[s]);
    }
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(tconv_algorithm_name(TCONV_ALGO_AUTO), "auto");
    assert_string_equal(tconv_algorithm_name(TCONV_ALGO_REFERENCE), "reference");
    assert_string_equal(tconv_algorithm_name(TCONV_ALGO_GEMM_COL2IM), "gemm_col2im");
    assert_string_equal(tconv_algorithm_name(TCONV_ALGO_PHASE_GEMM), "phase_gemm");
    assert_string_equal(tconv_algorithm_name(TCONV_ALGO_DIRECT), "direct");
    assert_int_equal(TCONV_ALGO_COUNT, 5);
    assert_string_equal(tconv_algorithm_name(-1), "?");
    assert_string_equal(tconv_algorithm_name(TCONV_ALGO_COUNT), "?");
    assert_string_equal(tconv_algorithm_name(INT_MIN), "?");
    assert_string_equal(tconv_algorithm_name(INT_MAX), "?");
    assert_string_equal(tconv_isa_name(TCONV_ISA_AUTO), "auto");
    assert_string_equal(tconv_isa_name(TCONV_ISA_SCALAR), "scalar");
    assert_string_equal(tconv_isa_name(TCONV_ISA_AVX2), "avx2");
    assert_string_equal(tconv_isa_name(TCONV_ISA_AVX512), "avx512");
    assert_string_equal(tconv_isa_name(-1), "?");
    assert_string_equal(tconv_isa_name(TCONV_ISA_AVX512 + 1), "?");
    assert_string_equal(tconv_isa_name(INT_MIN), "?");
}

static void test_version(void **state)
{
    (void)state;
    assert_int_equal(TCONV_VERSION_NUMBER,
                     TCONV_VERSION_MAJOR * 10000 + TCONV_VERSION_MINOR * 100 + TCONV_VERSION_PATCH);
    assert_int_equal(tconv_version_number(), TCONV_VERSION_NUMBER);
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", TCONV_VERSION_MAJOR, TCONV_VERSION_MINOR,
             TCONV_VERSION_PATCH);
    assert_string_equal(TCONV_VERSION_STRING, v);
    assert_non_null(tconv_version_string());
    assert_string_equal(tconv_version_string(), v);
#ifdef TCONV_TEST_PROJECT_VERSION
    /* the header and meson's project() must be bumped together */
    assert_string_equal(TCONV_VERSION_STRING, TCONV_TEST_PROJECT_VERSION);
#endif
}

/* The pure ISA choice for every feature set and request string. */
static void test_isa_for(void **state)
{
    (void)state;
    static const char *const requests[] = {NULL, "", "scalar", "avx2", "avx512", "bogus",
                                           "AVX2", "avx2 "};
    /* the cap each request puts on the level; unknown strings put none */
    static const tconv_isa caps[] = {TCONV_ISA_AVX512, TCONV_ISA_AVX512, TCONV_ISA_SCALAR,
                                     TCONV_ISA_AVX2,   TCONV_ISA_AVX512, TCONV_ISA_AVX512,
                                     TCONV_ISA_AVX512, TCONV_ISA_AVX512};
    for (int avx2 = 0; avx2 < 2; avx2++)
        for (int avx512 = 0; avx512 < 2; avx512++) {
            tconv_cpu_features f = {avx2 != 0, avx512 != 0};
#if defined(__x86_64__) || defined(_M_X64)
            tconv_isa best = avx512 ? TCONV_ISA_AVX512 : avx2 ? TCONV_ISA_AVX2 : TCONV_ISA_SCALAR;
#else
            tconv_isa best = TCONV_ISA_SCALAR; /* no x86 kernels in this build */
#endif
            for (size_t r = 0; r < sizeof requests / sizeof requests[0]; r++) {
                const tconv_isa got = tconv__isa_for(f, requests[r]);
                tconv_isa want = best < caps[r] ? best : caps[r];
                /* AVX-512F without AVX2+FMA exists on no CPU; scalar is as good an answer */
                if (avx512 && !avx2 && got == TCONV_ISA_SCALAR)
                    want = TCONV_ISA_SCALAR;
                if (got != want)
                    fail_msg("features avx2=%d avx512f=%d, request %s%s%s: got %s, want %s", avx2,
                             avx512, requests[r] ? "\"" : "", requests[r] ? requests[r] : "NULL",
                             requests[r] ? "\"" : "", tconv_isa_name(got), tconv_isa_name(want));
            }
        }
    /* tconv_isa_detected() is that choice for this CPU and $TCONV_ISA */
    assert_int_equal(tconv_isa_detected(), tconv__isa_for(tconv__cpu_features(), getenv("TCONV_ISA")));
    const char *env = getenv("TCONV_ISA");
    if (env && strcmp(env, "scalar") == 0)
        assert_int_equal(tconv_isa_detected(), TCONV_ISA_SCALAR);
}

/* ------------------------------------------------------------ thread-local messages */

static void *other_thread(void *arg)
{
    char *out = arg;
    /* a new thread starts with no message, whatever the main thread did */
    snprintf(out, 256, "%s", tconv_last_error_message());
    tconv_params p = tconv_params_default();
    p.groups = -77;
    int64_t in[2] = {1, 1}, k[2] = {1, 1}, sz[2] = {1, 1}, op[2];
    if (tconv_output_padding_for_size(&p, in, k, sz, op) != TCONV_ERR_INVALID_ARGUMENT)
        snprintf(out, 256, "the other thread's call did not fail");
    return NULL;
}

static void test_message_thread_local(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    f.p.groups = -5;
    assert_int_equal(tconv_convtranspose2d(&f.p, &f.x, &f.w, &f.b, &f.y),
                     TCONV_ERR_INVALID_ARGUMENT);
    char mine[256];
    snprintf(mine, sizeof mine, "%s", tconv_last_error_message());
    assert_non_null(strstr(mine, "groups=-5"));
    char theirs[256] = "not run";
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, other_thread, theirs), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_string_equal(theirs, "");
    /* the other thread's failure (groups=-77) did not replace this thread's message */
    assert_string_equal(tconv_last_error_message(), mine);
    successful_call(__FILE__, __LINE__);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_fixture_is_valid),
        cmocka_unit_test(test_null_pointers),
        cmocka_unit_test(test_null_data),
        cmocka_unit_test(test_stride_dilation_nonpositive),
        cmocka_unit_test(test_kernel_size_nonpositive),
        cmocka_unit_test(test_padding_negative),
        cmocka_unit_test(test_output_padding_rule),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_weight_cin_mismatch),
        cmocka_unit_test(test_bias_shape),
        cmocka_unit_test(test_output_shape_mismatch),
        cmocka_unit_test(test_output_size_below_one),
        cmocka_unit_test(test_input_empty_dims),
        cmocka_unit_test(test_bad_dtype),
        cmocka_unit_test(test_bad_rank),
        cmocka_unit_test(test_reserved_fields),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_exec_fields),
        cmocka_unit_test(test_overflow_tensor_extents),
        cmocka_unit_test(test_overflow_output_size),
        cmocka_unit_test(test_overflow_helper_shapes),
        cmocka_unit_test(test_overflow_address_space),
        cmocka_unit_test(test_misaligned),
        cmocka_unit_test(test_aliasing),
        cmocka_unit_test(test_plan_refusals),
        cmocka_unit_test(test_plan_run_uses_its_copies),
        cmocka_unit_test(test_output_self_overlap),
        cmocka_unit_test(test_explicit_algorithms),
        cmocka_unit_test(test_unsupported_isa),
        cmocka_unit_test(test_allocator_one_shot),
        cmocka_unit_test(test_allocator_plans),
        cmocka_unit_test(test_no_alloc_workspace),
        cmocka_unit_test(test_workspace_any_alignment),
        cmocka_unit_test(test_status_strings),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_isa_for),
        cmocka_unit_test(test_message_thread_local),
        cmocka_unit_test(test_plan_create_checks_memory), /* last: see its comment */
    };
    return cmocka_run_group_tests_name("validation", tests, group_setup, group_teardown);
}
