/* err.c: formatting of error messages into a caller buffer. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>

enum status err_set(struct err *e, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return STATUS_ERR;
}
