/* See argv.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/argv.h"

#define ARG_FORMAT_MAX 4096

void argv_add(struct argv *a, const char *s)
{
        if (a->oom)
                return;
        if (a->n + 2 > a->alloc) {
                size_t alloc = a->alloc ? a->alloc * 2 : 64;
                char **grown = reallocarray(a->v, alloc, sizeof(char *));
                if (!grown) {
                        a->oom = true;
                        return;
                }
                a->v = grown;
                a->alloc = alloc;
        }
        char *copy = strdup(s);
        if (!copy) {
                a->oom = true;
                return;
        }
        a->v[a->n++] = copy;
        a->v[a->n] = NULL;
}

void argv_addf(struct argv *a, const char *fmt, ...)
{
        char buf[ARG_FORMAT_MAX];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= sizeof(buf)) {
                a->oom = true;
                return;
        }
        argv_add(a, buf);
}

void argv_done(struct argv *a)
{
        for (size_t i = 0; i < a->n; i++)
                free(a->v[i]);
        free(a->v);
        *a = (struct argv){0};
}
