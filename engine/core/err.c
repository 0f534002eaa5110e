/* err.c: formatting of error messages into a caller buffer. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>

enum status err_vset(struct err *e, const char *fmt, va_list ap)
{
    if (e)
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    return STATUS_ERR;
}

enum status err_set(struct err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, fmt, ap);
    va_end(ap);
    return STATUS_ERR;
}
