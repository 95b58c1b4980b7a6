/* Small helpers used everywhere: scope-bound cleanup, ownership transfer and
 * strict number parsing.
 *
 * Ownership: a variable declared `_cleanup_free_ char *p = NULL;` is free()d
 * when it goes out of scope; `_cleanup_close_ int fd = -EBADF;` is close()d
 * when it is >= 0; `_cleanup_fclose_ FILE *f = NULL;` is fclose()d when
 * non-NULL.  To hand the object on (return it, store it in a struct), take it
 * out with TAKE_PTR(p) / TAKE_FD(fd), which return the value and reset the
 * variable to NULL / -EBADF so that the cleanup does nothing.
 *
 * DEFINE_TRIVIAL_CLEANUP_FUNC(struct foo *, foo_free) defines foo_freep(),
 * for use as `__attribute__((cleanup(foo_freep))) struct foo *f = NULL;`.
 *
 * safe_atoi64() and safe_atou16() parse a whole NUL-terminated string as a
 * plain decimal number: no whitespace, no '+', no base prefixes, no trailing
 * characters ("-" only for safe_atoi64).  They return 0, -EINVAL (not a
 * number) or -ERANGE (does not fit); *ret is written only on success.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

#define streq(a, b)     (strcmp((a), (b)) == 0)
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)

#undef MIN
#undef MAX
#define MIN(a, b)                                                                                  \
        __extension__({                                                                            \
                const __typeof__(a) _min_a = (a);                                                  \
                const __typeof__(b) _min_b = (b);                                                  \
                _min_a < _min_b ? _min_a : _min_b;                                                 \
        })
#define MAX(a, b)                                                                                  \
        __extension__({                                                                            \
                const __typeof__(a) _max_a = (a);                                                  \
                const __typeof__(b) _max_b = (b);                                                  \
                _max_a > _max_b ? _max_a : _max_b;                                                 \
        })

/* Returns the value of p and sets p to NULL, handing ownership to the caller. */
#define TAKE_PTR(p)                                                                                \
        __extension__({                                                                            \
                __typeof__(p) _take_ptr = (p);                                                     \
                (p) = NULL;                                                                        \
                _take_ptr;                                                                         \
        })

/* Returns the fd and sets the variable to -EBADF, handing ownership on. */
#define TAKE_FD(fd)                                                                                \
        __extension__({                                                                            \
                int _take_fd = (fd);                                                               \
                (fd) = -EBADF;                                                                     \
                _take_fd;                                                                          \
        })

/* free() that returns NULL, for `p = mfree(p);`. */
static inline void *mfree(void *p)
{
        free(p);
        return NULL;
}

/* strdup() that maps NULL to NULL.  Returns NULL also on OOM when s != NULL. */
static inline char *strdup_or_null(const char *s)
{
        return s ? strdup(s) : NULL;
}

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                    \
        static inline void func##p(type *p)                                                        \
        {                                                                                          \
                if (*p)                                                                            \
                        func(*p);                                                                  \
        }

static inline void freep(void *p)
{
        free(*(void **)p);
}

/* Closes the fd if it is valid; keeps errno intact so that error paths can
 * still read it. */
static inline void closep(int *fd)
{
        if (*fd >= 0) {
                int saved_errno = errno;
                (void)close(*fd);
                errno = saved_errno;
        }
}

static inline void fclosep(FILE **f)
{
        if (*f) {
                int saved_errno = errno;
                (void)fclose(*f);
                errno = saved_errno;
        }
}

#define _cleanup_(f)     __attribute__((cleanup(f)))
#define _cleanup_free_   _cleanup_(freep)
#define _cleanup_close_  _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

int safe_atoi64(const char *s, int64_t *ret);
int safe_atou16(const char *s, uint16_t *ret);
