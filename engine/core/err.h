/* err.h: the status/error convention shared by every engine module.
 *
 * Fallible functions return enum status and, on failure, write one line into a
 * caller-owned struct err (which may be NULL when the caller does not care).
 * Only main() prints and exits. */
#ifndef ERR_H
#define ERR_H

#include <stdarg.h>

enum status {
    STATUS_OK = 0,
    STATUS_ERR = 1,
};

struct err {
    char msg[512];
};

/* Formats a message into e (if not NULL) and returns STATUS_ERR, so callers can
 * write `return err_set(e, "...", ...);`. */
enum status err_set(struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* err_set with the arguments as a va_list, for wrappers that do more on failure. */
enum status err_vset(struct err *e, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#endif
