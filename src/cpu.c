/*
 * cpu.c - which micro-kernel ISA this machine can run: CPU features are read once
 * (cpuid + xgetbv on x86-64), capped by $TCONV_ISA so tests can force every level.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "algo.h"

#if defined(__x86_64__) || defined(_M_X64)
#  include <cpuid.h>

static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

tconv_cpu_features tconv__cpu_features(void)
{
    tconv_cpu_features f = {false, false};
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return f;
    const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28);
    if (!osxsave || !avx)
        return f;
    const uint64_t xcr0 = read_xcr0();
    const bool ymm_saved = (xcr0 & 0x6) == 0x6;          /* SSE + AVX state */
    const bool zmm_saved = (xcr0 & 0xe6) == 0xe6;        /* + opmask, ZMM_Hi256, Hi16_ZMM */
    if (__get_cpuid_max(0, NULL) < 7)
        return f;
    __cpuid_count(7, 0, a, b, c, d);
    const bool avx2 = b & (1u << 5), avx512f = b & (1u << 16);
    f.avx2_fma = ymm_saved && avx2 && fma;
    f.avx512f = f.avx2_fma && zmm_saved && avx512f;
    return f;
}
#else
tconv_cpu_features tconv__cpu_features(void)
{
    tconv_cpu_features f = {false, false};
    return f;
}
#endif

tconv_isa tconv__isa_for(tconv_cpu_features f, const char *request)
{
    /* the AVX-512 files are built with AVX2 and FMA too, so they need all three */
    tconv_isa best = f.avx512f && f.avx2_fma ? TCONV_ISA_AVX512
                     : f.avx2_fma            ? TCONV_ISA_AVX2
                                             : TCONV_ISA_SCALAR;
#if !TCONV_HAVE_X86_KERNELS
    best = TCONV_ISA_SCALAR; /* this build has no x86 micro-kernels */
#endif
    tconv_isa cap = TCONV_ISA_AVX512;
    if (request && strcmp(request, "scalar") == 0)
        cap = TCONV_ISA_SCALAR;
    else if (request && strcmp(request, "avx2") == 0)
        cap = TCONV_ISA_AVX2;
    return best < cap ? best : cap;
}

tconv_isa tconv_isa_detected(void)
{
    static atomic_int cached = 0; /* 0 = not yet computed; the value is idempotent */
    int v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v == 0) {
        v = (int)tconv__isa_for(tconv__cpu_features(), getenv("TCONV_ISA"));
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return (tconv_isa)v;
}
