/*
 * header_c99.c - the installed header on its own, as strict C99 (-std=c99 -pedantic
 * -Werror), linked against the shared library the way an application is: only exported
 * symbols are reachable. Includes nothing but tconv.h, on purpose.
 *
 * SPDX-License-Identifier: MIT
 */
#include "tconv.h"
#include "tconv.h" /* the include guard must make a second inclusion harmless */

/* Returns the number of the first failed check, 0 if all pass. */
int main(void)
{
    tconv_params p = TCONV_PARAMS_INIT;
    tconv_exec e = TCONV_EXEC_INIT;
    tconv_report rep;
    float x[2] = {1.0f, 2.0f}, w[1] = {3.0f}, b[1] = {0.5f}, y[2] = {0.0f, 0.0f};
    tconv_tensor xt = tconv_tensor_nchw(x, 1, 1, 1, 2);
    tconv_tensor wt = tconv_tensor_nchw(w, 1, 1, 1, 1);
    tconv_tensor bt = tconv_tensor_1d(b, 1);
    tconv_tensor yt = tconv_tensor_nchw(y, 1, 1, 1, 2);
    int64_t shape[TCONV_MAX_RANK];

    if (tconv_version_number() != TCONV_VERSION_NUMBER)
        return 1;
    if (tconv_status_string(TCONV_OK) == NULL || tconv_last_error_message() == NULL)
        return 2;
    if (tconv_output_shape(&p, &xt, &wt, shape) != TCONV_OK || shape[3] != 2)
        return 3;
    e.algorithm = TCONV_ALGO_REFERENCE;
    if (tconv_convtranspose2d_ex(&p, &xt, &wt, &bt, &yt, &e, &rep) != TCONV_OK)
        return 4;
    /* 1x1 kernel of 3, bias 0.5: exact */
    if (y[0] != 3.5f || y[1] != 6.5f || rep.algorithm != TCONV_ALGO_REFERENCE)
        return 5;
    p.stride[0] = 0;
    if (tconv_convtranspose2d(&p, &xt, &wt, NULL, &yt) != TCONV_ERR_INVALID_ARGUMENT)
        return 6;
    return 0;
}
