/*
 * basic.c - the smallest complete tconv program: one 2x2 image, a 3x3 kernel of ones,
 * stride 2. Expected output (5x5): each input pixel stamps a 3x3 block of its value,
 * and where blocks overlap (the middle row and column) the values add up.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>

#include "tconv.h"

int main(void)
{
    float x[2 * 2] = {1, 2, 3, 4}; /* input (N, Cin, H, W) = (1, 1, 2, 2) */
    float w[3 * 3];                /* weight (Cin, Cout/groups, kH, kW) = (1, 1, 3, 3) */
    float y[5 * 5];                /* Hout = (H-1)*stride + kH = (2-1)*2 + 3 = 5 */
    for (int i = 0; i < 9; i++)
        w[i] = 1.0f;

    tconv_tensor input = tconv_tensor_nchw(x, 1, 1, 2, 2);
    tconv_tensor weight = tconv_tensor_nchw(w, 1, 1, 3, 3);
    tconv_tensor output = tconv_tensor_nchw(y, 1, 1, 5, 5);
    tconv_params params = tconv_params_default();
    params.stride[0] = params.stride[1] = 2;

    tconv_status st = tconv_convtranspose2d(&params, &input, &weight, NULL, &output);
    if (st != TCONV_OK) {
        fprintf(stderr, "%s\n%s\n", tconv_status_string(st), tconv_last_error_message());
        return 1;
    }
    for (int r = 0; r < 5; r++)
        printf("%5.1f %5.1f %5.1f %5.1f %5.1f\n", y[r * 5], y[r * 5 + 1], y[r * 5 + 2],
               y[r * 5 + 3], y[r * 5 + 4]);
    return y[2 * 5 + 2] == 10.0f ? 0 : 1; /* the centre gets all four pixels: 1+2+3+4 */
}
