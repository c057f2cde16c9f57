/*
 * memory.c - every allocation the library makes goes through here, so a caller's
 * allocator (tconv_exec.allocator) sees all of them.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>

#include "algo.h"

size_t tconv__align_up(size_t bytes)
{
    return bytes > SIZE_MAX - (TCONV_ALIGN - 1) ? SIZE_MAX
                                                  : (bytes + TCONV_ALIGN - 1) / TCONV_ALIGN * TCONV_ALIGN;
}

void *tconv__alloc(const tconv_allocator *a, size_t bytes)
{
    if (bytes == 0)
        bytes = 1;
    if (a)
        return a->alloc(a->ctx, bytes, TCONV_ALIGN);
    bytes = tconv__align_up(bytes); /* aligned_alloc wants a multiple of the alignment */
    return bytes == SIZE_MAX ? NULL : aligned_alloc(TCONV_ALIGN, bytes);
}

void tconv__free(const tconv_allocator *a, void *p)
{
    if (!p)
        return;
    if (a)
        a->free(a->ctx, p);
    else
        free(p);
}
