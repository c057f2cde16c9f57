/*
 * upsample_demo.c - enlarge an image 2x and 4x with a transposed convolution whose
 * weights are a bilinear kernel (the recipe of fully convolutional networks).
 *
 *   usage: upsample_demo [output-dir]        (default: the current directory)
 *
 * Writes input.png, up2x.png and up4x.png (binary PPM files input.ppm, ... when built
 * without libpng), prints the median time of several calls per factor and what
 * tconv_report says ran. The input is a 64x48 test pattern drawn here, so nothing
 * binary ships with the example.
 *
 * The layer, for an even factor s:
 *   kernel 2s x 2s, stride s, padding s/2, groups = channels = 3 (depthwise: each colour
 *   channel is enlarged on its own), weight shape (3, 1, 2s, 2s), every channel holding
 *   the same separable kernel k(ky) * k(kx) with k(i) = 1 - |i - (s - 1/2)| / s.
 *
 * Why the output is exactly s times larger:
 *   Hout = (H-1)*s - 2*(s/2) + 1*(2s-1) + 0 + 1 = s*H - s - s + 2s = s*H.
 *
 * Why it is bilinear interpolation: output row oy receives input row iy through kernel
 * tap ky = oy - iy*s + s/2, whose weight is k(ky) = 1 - |(oy + 1/2)/s - 1/2 - iy|, i.e.
 * one minus the distance, in input pixels, between the centre of output row oy and
 * the centre of input row iy. Exactly two input rows are closer than one pixel and
 * their weights add up to 1 (columns likewise): this is bilinear interpolation with
 * pixel centres at half-integers (PyTorch's align_corners=False).
 *
 * The borders: in the outer s/2 rows and columns on each side, one of the two
 * neighbours lies outside the image. A transposed convolution treats it as zero, so
 * those rows keep only 1 - d of the edge pixel (s = 2: 0.75; s = 4: 0.625 and 0.875) and
 * the picture fades slightly towards black at its edge; corners get the product of
 * both gains. The demo measures this by enlarging an all-ones image. (Interpolation
 * routines such as F.interpolate replicate the edge pixel instead, so they agree with
 * this layer everywhere except on those border rows and columns.)
 *
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, mkdir */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#ifndef TCONV_DEMO_PNG
#  define TCONV_DEMO_PNG 0 /* examples/meson.build sets it to 1 when libpng is found */
#endif
#if TCONV_DEMO_PNG
#  include <png.h>
#endif

#include "tconv.h"

#define IMG_W 64
#define IMG_H 48
#define CHANNELS 3
#define REPEATS 9

/* ------------------------------------------------------------ the test pattern */

/* Coverage of a disc of radius r centred at (cx, cy) for the pixel at (x, y), with a
 * one-pixel soft edge so the circles are not jagged. */
static float disc(int x, int y, float cx, float cy, float r)
{
    float dx = (float)x + 0.5f - cx, dy = (float)y + 0.5f - cy;
    float c = r + 0.5f - sqrtf(dx * dx + dy * dy);
    return c < 0.0f ? 0.0f : c > 1.0f ? 1.0f : c;
}

static void blend(float *rgb, float a, float r, float g, float b)
{
    rgb[0] += a * (r - rgb[0]);
    rgb[1] += a * (g - rgb[1]);
    rgb[2] += a * (b - rgb[2]);
}

/* 3x5 glyphs, one row per entry, bit 2 = left column. */
static const unsigned char glyphs[5][5] = {
    {7, 2, 2, 2, 2}, /* T */
    {3, 4, 4, 4, 3}, /* C */
    {7, 5, 5, 5, 7}, /* O */
    {6, 5, 5, 5, 5}, /* N */
    {5, 5, 5, 5, 2}, /* V */
};

static int text_pixel(int x, int y) /* "TCONV" with its top-left corner at (36, 2) */
{
    int gx = x - 36, gy = y - 2;
    if (gx < 0 || gy < 0 || gy >= 5 || gx >= 5 * 4 || gx % 4 == 3)
        return 0;
    return (glyphs[gx / 4][gy] >> (2 - gx % 4)) & 1;
}

static int stripe_pixel(int x) /* bars of widths 1, 1, 2, 2, 3, 3, ... from x = 2 */
{
    static const int widths[] = {1, 1, 2, 2, 3, 3, 4, 4, 5};
    int edge = 2;
    for (int i = 0; i < (int)(sizeof widths / sizeof widths[0]); i++) {
        if (x < edge + widths[i])
            return x >= edge ? 1 + i % 2 : 0; /* 1 = black, 2 = white */
        edge += widths[i];
    }
    return 0;
}

/* Interleaved RGB floats in [0, 1], row-major: pixel (x, y) at rgb[(y*IMG_W + x)*3]. */
static void draw_pattern(float *rgb)
{
    for (int y = 0; y < IMG_H; y++)
        for (int x = 0; x < IMG_W; x++) {
            float *p = rgb + (y * IMG_W + x) * CHANNELS;
            float fx = (float)x / (IMG_W - 1), fy = (float)y / (IMG_H - 1);
            p[0] = 0.15f + 0.7f * fx; /* background: two crossed gradients */
            p[1] = 0.2f + 0.5f * fy;
            p[2] = 0.85f - 0.6f * fx;
            blend(p, disc(x, y, 14.0f, 15.0f, 10.0f), 1.0f, 0.55f, 0.1f);
            blend(p, disc(x, y, 40.0f, 26.0f, 11.0f), 0.85f, 0.1f, 0.75f);
            blend(p, disc(x, y, 40.0f, 26.0f, 6.0f), 1.0f, 0.95f, 0.2f);
            blend(p, disc(x, y, 56.0f, 40.0f, 6.0f), 0.1f, 0.8f, 0.3f);
            if (x >= 34 && x < 56 && y < 9)
                blend(p, 1.0f, 0.05f, 0.05f, 0.25f);
            if (text_pixel(x, y))
                blend(p, 1.0f, 1.0f, 1.0f, 1.0f);
            if (y >= 34 && y < 46 && stripe_pixel(x))
                blend(p, 1.0f, stripe_pixel(x) == 2 ? 1.0f : 0.0f,
                      stripe_pixel(x) == 2 ? 1.0f : 0.0f, stripe_pixel(x) == 2 ? 1.0f : 0.0f);
        }
}

/* ------------------------------------------------------------ image files */

static unsigned char to_byte(float v)
{
    v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    return (unsigned char)lrintf(v * 255.0f);
}

#if TCONV_DEMO_PNG
static const char *const file_ext = "png";

static int write_rgb8(const char *path, const unsigned char *pix, int w, int h)
{
    FILE *f = fopen(path, "wb");
    png_bytep *rows = malloc((size_t)h * sizeof *rows);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    volatile int ok = 0; /* set after setjmp, read after a longjmp */
    if (!f || !rows || !info)
        goto done;
    for (int y = 0; y < h; y++)
        rows[y] = (png_bytep)(pix + (size_t)y * (size_t)w * 3);
    /* libpng reports errors by longjmp to here; nothing above changes after this. */
    if (setjmp(png_jmpbuf(png)) != 0)
        goto done;
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    ok = 1;
done:
    png_destroy_write_struct(&png, &info);
    free(rows);
    if (f && fclose(f) != 0)
        ok = 0;
    return ok;
}
#else
static const char *const file_ext = "ppm";

static int write_rgb8(const char *path, const unsigned char *pix, int w, int h)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    int ok = fprintf(f, "P6\n%d %d\n255\n", w, h) > 0 &&
             fwrite(pix, 3, (size_t)w * (size_t)h, f) == (size_t)w * (size_t)h;
    return fclose(f) == 0 && ok;
}
#endif

/* Writes dir/name.png (or .ppm) from interleaved RGB floats. */
static int save(const char *dir, const char *name, const float *rgb, int w, int h)
{
    char path[4096];
    size_t n = (size_t)w * (size_t)h * 3;
    unsigned char *pix = malloc(n);
    if (!pix)
        return 0;
    for (size_t i = 0; i < n; i++)
        pix[i] = to_byte(rgb[i]);
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, file_ext);
    int ok = write_rgb8(path, pix, w, h);
    free(pix);
    if (ok)
        printf("  wrote %s (%dx%d)\n", path, w, h);
    else
        fprintf(stderr, "could not write %s\n", path);
    return ok;
}

/* ------------------------------------------------------------ the layer */

/* Weight (CHANNELS, 1, 2s, 2s): the separable bilinear kernel, once per channel. */
static float *bilinear_weight(int s)
{
    const int k = 2 * s;
    float *w = malloc((size_t)(CHANNELS * k * k) * sizeof *w);
    if (!w)
        return NULL;
    for (int c = 0; c < CHANNELS; c++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float wy = 1.0f - fabsf((float)ky - ((float)s - 0.5f)) / (float)s;
                float wx = 1.0f - fabsf((float)kx - ((float)s - 0.5f)) / (float)s;
                w[(c * k + ky) * k + kx] = wy * wx;
            }
    return w;
}

static tconv_params bilinear_params(int s)
{
    tconv_params p = tconv_params_default();
    p.stride[0] = p.stride[1] = s;
    p.padding[0] = p.padding[1] = s / 2;
    p.groups = CHANNELS;
    return p;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Enlarges `in` (IMG_H x IMG_W, interleaved RGB) by s into a new buffer. Both images
 * are channels-last tensors: (N, C, H, W) = (1, 3, H, W) with memory order H, W, C. */
static float *upsample(const float *in, int s, int timed)
{
    const int64_t oh = (int64_t)IMG_H * s, ow = (int64_t)IMG_W * s;
    float *w = bilinear_weight(s);
    float *out = malloc((size_t)(oh * ow * CHANNELS) * sizeof *out);
    if (!w || !out) {
        free(w);
        free(out);
        fprintf(stderr, "out of memory\n");
        return NULL;
    }
    tconv_params p = bilinear_params(s);
    tconv_tensor x = tconv_tensor_nhwc((void *)in, 1, CHANNELS, IMG_H, IMG_W);
    tconv_tensor wt = tconv_tensor_nchw(w, CHANNELS, 1, 2 * s, 2 * s);
    tconv_tensor y = tconv_tensor_nhwc(out, 1, CHANNELS, oh, ow);
    tconv_report rep;
    double times[REPEATS];
    const int reps = timed ? REPEATS : 1;
    for (int r = 0; r < reps; r++) {
        double t0 = now_seconds();
        tconv_status st = tconv_convtranspose2d_ex(&p, &x, &wt, NULL, &y, NULL, &rep);
        times[r] = now_seconds() - t0;
        if (st != TCONV_OK) {
            fprintf(stderr, "%dx: %s\n  %s\n", s, tconv_status_string(st),
                    tconv_last_error_message());
            free(w);
            free(out);
            return NULL;
        }
    }
    if (timed) {
        qsort(times, REPEATS, sizeof times[0], cmp_double);
        printf("%dx: %dx%d -> %lldx%lld, kernel %dx%d, stride %d, padding %d, groups %d\n", s,
               IMG_W, IMG_H, (long long)ow, (long long)oh, 2 * s, 2 * s, s, s / 2, CHANNELS);
        printf("  median of %d calls: %.3f ms; algorithm %s, isa %s, %d thread(s), "
               "workspace %zu bytes\n  reason: %s\n",
               REPEATS, 1e3 * times[REPEATS / 2], tconv_algorithm_name(rep.algorithm),
               tconv_isa_name(rep.isa), (int)rep.num_threads, rep.workspace_bytes, rep.reason);
    }
    free(w);
    return out;
}

/* Enlarges an all-ones image: the result is the gain at each output pixel, 1 inside
 * and smaller on the s/2 outermost rows and columns (see the top of the file). */
static int report_border_gain(int s)
{
    float *ones = malloc((size_t)(IMG_H * IMG_W * CHANNELS) * sizeof *ones);
    if (!ones)
        return 0;
    for (int i = 0; i < IMG_H * IMG_W * CHANNELS; i++)
        ones[i] = 1.0f;
    float *g = upsample(ones, s, 0);
    free(ones);
    if (!g)
        return 0;
    const int ow = IMG_W * s, oh = IMG_H * s, band = s / 2;
    float corner = g[0], edge_min = 1.0f, inner_min = 1.0f, inner_max = 1.0f;
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            float v = g[(y * ow + x) * CHANNELS];
            int border = y < band || y >= oh - band || x < band || x >= ow - band;
            if (border && (y >= band && y < oh - band)) /* left/right band, not corner */
                edge_min = v < edge_min ? v : edge_min;
            if (!border) {
                inner_min = v < inner_min ? v : inner_min;
                inner_max = v > inner_max ? v : inner_max;
            }
        }
    printf("  gain on a constant image: interior %g..%g, outer %d column(s) down to %g, "
           "corner %g\n",
           inner_min, inner_max, band, edge_min, corner);
    free(g);
    return inner_min == 1.0f && inner_max == 1.0f;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    if (argc > 2) {
        fprintf(stderr, "usage: %s [output-dir]\n", argv[0]);
        return 2;
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    printf("tconv %s, ISA detected: %s%s\n", tconv_version_string(),
           tconv_isa_name(tconv_isa_detected()),
           TCONV_DEMO_PNG ? "" : " (built without libpng: writing PPM files)");

    float *img = malloc((size_t)(IMG_H * IMG_W * CHANNELS) * sizeof *img);
    if (!img)
        return 1;
    draw_pattern(img);
    int ok = save(dir, "input", img, IMG_W, IMG_H);

    static const int factors[2] = {2, 4};
    static const char *const names[2] = {"up2x", "up4x"};
    for (int i = 0; i < 2 && ok; i++) {
        const int s = factors[i];
        float *big = upsample(img, s, 1);
        ok = big && report_border_gain(s) && save(dir, names[i], big, IMG_W * s, IMG_H * s);
        free(big);
    }
    free(img);
    return ok ? 0 : 1;
}
