/* pushrefs_parse() and pushrefs_pick() on arbitrary bytes: no crash, no
 * leak; what is accepted is well formed, and the pick only ever deploys an
 * update (not a delete) of main or master. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "builder/pushrefs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const char *s)
{
        for (; s && *s; s++)
                if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct pushrefs *pr = NULL;
        char *err = NULL, *msg = NULL;
        size_t idx = (size_t)-1;
        int r;

        r = pushrefs_parse((const char *)data, size, &pr, &err);
        if (r < 0) {
                if (pr || (r != -EINVAL && r != -E2BIG && r != -ENOMEM))
                        abort();
                if (r != -ENOMEM && !err)
                        abort();
                check_message(err);
                free(err);
                return 0;
        }
        if (err || !pr || pr->n > PUSHREFS_MAX_LINES)
                abort();
        for (size_t i = 0; i < pr->n; i++) {
                const struct ref_update *u = &pr->updates[i];

                if (!oid_valid(u->old_oid) || !oid_valid(u->new_oid) ||
                    strlen(u->old_oid) != strlen(u->new_oid) || !u->ref[0])
                        abort();
                for (const char *p = u->ref; *p; p++)
                        if ((unsigned char)*p < 0x20 || *p == 0x7f)
                                abort();
        }

        r = pushrefs_pick(pr, &idx, &msg);
        if (r == 0) {
                const struct ref_update *u;

                if (msg || idx >= pr->n)
                        abort();
                u = &pr->updates[idx];
                if (strcmp(u->ref, "refs/heads/main") != 0 &&
                    strcmp(u->ref, "refs/heads/master") != 0)
                        abort();
                if (oid_is_null(u->new_oid))
                        abort();
        } else if (r == -EPERM) {
                if (!msg)
                        abort();
                check_message(msg);
        } else if (r == -ENOENT) {
                if (pr->n != 0 || msg)
                        abort();
        } else if (r != -ENOMEM)
                abort();
        free(msg);
        pushrefs_free(pr);
        return 0;
}
