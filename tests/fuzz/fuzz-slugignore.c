/* slugignore_parse() and slugignore_match() on arbitrary bytes: no crash,
 * no leak; what is accepted obeys the limits, a literal name pattern
 * matches that name, and errors come as one printable line. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "builder/slugignore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const char *err)
{
        for (const char *p = err; *p; p++)
                if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct slugignore *si = NULL;
        char *err = NULL, *path;
        int r;

        r = slugignore_parse((const char *)data, size, &si, &err);
        if (r < 0) {
                if (si || (r != -EINVAL && r != -E2BIG && r != -ENOMEM))
                        abort();
                if (r != -ENOMEM && !err)
                        abort();
                if (err)
                        check_message(err);
                free(err);
                return 0;
        }
        if (err || !si || si->n > SLUGIGNORE_MAX_PATTERNS)
                abort();
        for (size_t i = 0; i < si->n; i++) {
                const struct slugignore_pattern *p = &si->patterns[i];
                size_t n = strlen(p->glob);

                if (n == 0 || p->glob[0] == '/' || p->glob[n - 1] == '/')
                        abort();
                /* A plain name, matched anywhere: it matches itself, as a
                 * directory always and as a file unless dir-only. */
                if (!(p->flags & SLUGIGNORE_ANCHORED) && !strpbrk(p->glob, "*?[\\")) {
                        if (!slugignore_match(si, p->glob, true))
                                abort();
                        if (!(p->flags & SLUGIGNORE_DIR_ONLY) &&
                            !slugignore_match(si, p->glob, false))
                                abort();
                }
        }

        /* The input as a path, too: whatever it is, no crash. */
        path = strndup((const char *)data, size);
        if (path) {
                (void)slugignore_match(si, path, false);
                (void)slugignore_match(si, path, true);
                free(path);
        }
        slugignore_free(si);
        return 0;
}
