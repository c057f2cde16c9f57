/*
 * select.c - which algorithm runs a problem: the table of implementations, the pure
 * choice by shape, and the resolution of a call's AUTO options.
 *
 * SPDX-License-Identifier: MIT
 */
#include "algo.h"
#include "thread/pool.h"

extern const tconv_algo_impl tconv__algo_reference;

const tconv_algo_impl *tconv__algo_impl(tconv_algorithm algo)
{
    switch (algo) {
    case TCONV_ALGO_REFERENCE: return &tconv__algo_reference;
    default: return NULL;
    }
}

tconv_algorithm tconv__select_algorithm(const tconv_shape *s, tconv_isa isa, const char **reason)
{
    (void)s;
    (void)isa;
    *reason = "only the reference algorithm exists in this build";
    return TCONV_ALGO_REFERENCE;
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
        c->algorithm = (tconv_algorithm)exec->algorithm;
        const tconv_algo_impl *impl = tconv__algo_impl(c->algorithm);
        const char *why = "not implemented in this build";
        if (!impl || !impl->supports(s, &why))
            return tconv__fail(TCONV_ERR_UNSUPPORTED, "algorithm %s cannot run this problem: %s",
                               tconv_algorithm_name(c->algorithm), why);
        c->reason = "requested by the caller";
    }
    if (c->algorithm == TCONV_ALGO_REFERENCE)
        c->isa = TCONV_ISA_SCALAR; /* the reference is plain C whatever the CPU */
    c->threads = tconv__resolve_threads(exec->num_threads);
    return TCONV_OK;
}
