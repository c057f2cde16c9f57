/*
 * header_cxx.cpp - the installed header on its own as C++11 (-pedantic -Werror): it must
 * declare everything extern "C", its initialiser macros must be valid aggregate
 * initialisers, and a C++ program must link and run against the shared library.
 * Includes nothing but tconv.h, on purpose.
 *
 * SPDX-License-Identifier: MIT
 */
#include "tconv.h"
#include "tconv.h" /* the include guard must make a second inclusion harmless */

static_assert(TCONV_OK == 0, "status values are ABI");
static_assert(TCONV_ERR_SYSTEM == 9, "status values are ABI");
static_assert(TCONV_ALGO_DIRECT == 4 && TCONV_ALGO_COUNT == 5, "algorithm values are ABI");
static_assert(TCONV_ISA_AVX512 == 3, "isa values are ABI");
static_assert(TCONV_VERSION_NUMBER ==
                  TCONV_VERSION_MAJOR * 10000 + TCONV_VERSION_MINOR * 100 + TCONV_VERSION_PATCH,
              "version macros agree");

namespace {
/* A C++ function as allocator hook: the typedefs must accept ordinary functions. */
void *no_alloc(void *, size_t, size_t) { return nullptr; }
void no_free(void *, void *) {}
} // namespace

/* Returns the number of the first failed check, 0 if all pass. */
int main()
{
    tconv_params p = TCONV_PARAMS_INIT;
    tconv_exec e = TCONV_EXEC_INIT;
    const tconv_allocator a = {no_alloc, no_free, nullptr};
    e.allocator = &a;
    float x[2] = {1.0f, 2.0f}, w[1] = {3.0f}, y[2] = {0.0f, 0.0f};
    tconv_tensor xt = tconv_tensor_nchw(x, 1, 1, 1, 2);
    tconv_tensor wt = tconv_tensor_nchw(w, 1, 1, 1, 1);
    tconv_tensor yt = tconv_tensor_nchw(y, 1, 1, 1, 2);

    if (tconv_version_number() != TCONV_VERSION_NUMBER)
        return 1;
    if (tconv_convtranspose2d_ex(&p, &xt, &wt, nullptr, &yt, &e, nullptr) != TCONV_OK)
        return 2;
    if (y[0] != 3.0f || y[1] != 6.0f)
        return 3;
    tconv_plan *plan = nullptr;
    if (tconv_plan_create(&plan, &p, &xt, &wt, nullptr, nullptr) != TCONV_OK)
        return 4;
    y[0] = y[1] = 0.0f;
    const tconv_status st = tconv_plan_run(plan, &xt, &yt, nullptr, nullptr);
    tconv_plan_destroy(plan);
    if (st != TCONV_OK || y[0] != 3.0f || y[1] != 6.0f)
        return 5;
    if (tconv_isa_name(tconv_isa_detected())[0] == '?')
        return 6;
    return 0;
}
