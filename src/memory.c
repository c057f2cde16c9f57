/*
 * memory.c - every allocation the library makes goes through here, so a caller's
 * allocator (tconv_exec.allocator) sees all of them.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>

#include "algo.h"

#define TCONV_ALIGN 64

void *tconv__alloc(const tconv_allocator *a, size_t bytes)
{
    if (bytes == 0)
        bytes = 1;
    if (a)
        return a->alloc(a->ctx, bytes, TCONV_ALIGN);
    if (bytes > SIZE_MAX - TCONV_ALIGN)
        return NULL;
    /* aligned_alloc wants a multiple of the alignment */
    return aligned_alloc(TCONV_ALIGN, (bytes + TCONV_ALIGN - 1) / TCONV_ALIGN * TCONV_ALIGN);
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
