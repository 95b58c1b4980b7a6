/* A growing, NULL-terminated argument vector, for spawning programs with
 * argv arrays (never shell strings).
 *
 * `struct argv a = {0};` then argv_add()/argv_addf(); a->v is always
 * NULL-terminated once something was added.  Errors are sticky: after an
 * allocation fails, or a formatted argument would not fit in 4 KiB, adds
 * do nothing and a->oom stays true — check it once before using a->v.
 * The strings and the vector belong to `a`; argv_done() frees them all and
 * resets `a` (a caller that keeps a->v takes it and frees each string).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct argv {
        char **v;
        size_t n, alloc;
        bool oom;
};

void argv_add(struct argv *a, const char *s);
void argv_addf(struct argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void argv_done(struct argv *a);
