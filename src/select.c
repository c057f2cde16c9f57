/*
 * select.c - which algorithm runs a problem: the pure choice by shape, the rules each
 * algorithm needs, and the dispatch table.
 *
 * SPDX-License-Identifier: MIT
 */
#include "algo.h"

tconv_algorithm tconv__select_algorithm(const tconv_shape *s, tconv_isa isa, const char **reason)
{
    (void)s;
    (void)isa;
    *reason = "only the reference algorithm exists in this build";
    return TCONV_ALGO_REFERENCE;
}

bool tconv__algo_supports(tconv_algorithm algo, const tconv_shape *s, const char **why)
{
    (void)s;
    switch (algo) {
    case TCONV_ALGO_REFERENCE:
        return true;
    default:
        *why = "not implemented in this build";
        return false;
    }
}

tconv_status tconv__choose(const tconv_shape *s, const tconv_exec *exec, tconv_algo_choice *c)
{
    const tconv_isa best = tconv_isa_detected();
    if (exec->isa != TCONV_ISA_AUTO && exec->isa > (int)best)
        return tconv__fail(TCONV_ERR_UNSUPPORTED,
                           "exec.isa=%s is not available: this CPU and build support up to %s",
                           tconv_isa_name(exec->isa), tconv_isa_name(best));
    c->isa = exec->isa == TCONV_ISA_AUTO ? best : (tconv_isa)exec->isa;
    if (exec->algorithm == TCONV_ALGO_AUTO) {
        c->algorithm = tconv__select_algorithm(s, c->isa, &c->reason);
    } else {
        const char *why = "";
        c->algorithm = (tconv_algorithm)exec->algorithm;
        if (!tconv__algo_supports(c->algorithm, s, &why))
            return tconv__fail(TCONV_ERR_UNSUPPORTED, "algorithm %s cannot run this problem: %s",
                               tconv_algorithm_name(c->algorithm), why);
        c->reason = "requested by the caller";
    }
    if (c->algorithm == TCONV_ALGO_REFERENCE)
        c->isa = TCONV_ISA_SCALAR;
    c->threads = 1;
    return TCONV_OK;
}

size_t tconv__algo_workspace(const tconv_shape *s, const tconv_algo_choice *c)
{
    (void)s;
    (void)c;
    return 0;
}

tconv_status tconv__algo_run(const tconv_problem *pb, const tconv_algo_choice *c,
                             const tconv_exec *exec, void *workspace)
{
    (void)exec;
    (void)workspace;
    switch (c->algorithm) {
    case TCONV_ALGO_REFERENCE:
        tconv__ref_convtranspose2d(pb);
        return TCONV_OK;
    default:
        return tconv__fail(TCONV_ERR_UNSUPPORTED, "algorithm %s is not implemented",
                           tconv_algorithm_name(c->algorithm));
    }
}
