/*
 * error.c - status names, the per-thread error message, version.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

/* Thread-local so concurrent callers never see each other's messages. */
static _Thread_local char tl_message[512];

void tconv__clear_error(void)
{
    tl_message[0] = '\0';
}

tconv_status tconv__fail(tconv_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_message, sizeof tl_message, fmt, ap);
    va_end(ap);
    return status;
}

const char *tconv_last_error_message(void)
{
    return tl_message;
}

const char *tconv_status_string(tconv_status status)
{
    switch (status) {
    case TCONV_OK: return "TCONV_OK: success";
    case TCONV_ERR_NULL_POINTER: return "TCONV_ERR_NULL_POINTER: a required pointer is NULL";
    case TCONV_ERR_INVALID_ARGUMENT:
        return "TCONV_ERR_INVALID_ARGUMENT: a parameter breaks a rule";
    case TCONV_ERR_SHAPE_MISMATCH:
        return "TCONV_ERR_SHAPE_MISMATCH: tensor shapes do not agree";
    case TCONV_ERR_SIZE_OVERFLOW:
        return "TCONV_ERR_SIZE_OVERFLOW: a size does not fit in 64 bits";
    case TCONV_ERR_ALIASING: return "TCONV_ERR_ALIASING: output memory overlaps an input or itself";
    case TCONV_ERR_UNSUPPORTED: return "TCONV_ERR_UNSUPPORTED: not supported by this algorithm or build";
    case TCONV_ERR_OUT_OF_MEMORY: return "TCONV_ERR_OUT_OF_MEMORY: an allocation failed";
    case TCONV_ERR_WORKSPACE_TOO_SMALL:
        return "TCONV_ERR_WORKSPACE_TOO_SMALL: the caller's workspace is too small";
    case TCONV_ERR_SYSTEM: return "TCONV_ERR_SYSTEM: the system refused a resource";
    }
    return "TCONV_ERR_?: unknown status";
}

unsigned tconv_version_number(void)
{
    return TCONV_VERSION_NUMBER;
}

const char *tconv_version_string(void)
{
    return TCONV_VERSION_STRING;
}
