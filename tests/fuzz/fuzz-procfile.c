/* procfile_parse() on arbitrary bytes: no crash, no leak, and whatever it
 * accepts obeys the documented rules; whatever it rejects comes with a
 * printable one-line message. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/names.h"
#include "lib/procfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_blank(char c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct procfile *pf = NULL;
        char *err = NULL;
        int r;

        r = procfile_parse((const char *)data, size, &pf, &err);
        if (r < 0) {
                if (pf)
                        abort();
                if (r != -EINVAL && r != -E2BIG && r != -ENOMEM)
                        abort();
                if (r != -ENOMEM && !err)
                        abort();
                if (err) {
                        /* quoting keeps hostile bytes off the terminal */
                        for (const char *p = err; *p; p++)
                                if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                                        abort();
                        if (strlen(err) > 512)
                                abort();
                }
                free(err);
                return 0;
        }

        if (err || !pf || pf->n > PROCFILE_MAX_ENTRIES)
                abort();
        for (size_t i = 0; i < pf->n; i++) {
                const char *t = pf->entries[i].type, *c = pf->entries[i].command;
                size_t cl = strlen(c);

                if (!process_type_valid(t, strlen(t)))
                        abort();
                for (const char *p = t; *p; p++)
                        if (*p >= 'A' && *p <= 'Z')
                                abort();
                if (cl == 0 || is_blank(c[0]) || is_blank(c[cl - 1]) || strchr(c, '\n'))
                        abort();
                for (size_t j = 0; j < i; j++)
                        if (strcmp(pf->entries[j].type, t) == 0)
                                abort();
                if (procfile_get(pf, t) != c)
                        abort();
                /* the command came from the input */
                if (!memmem(data, size, c, cl))
                        abort();
        }
        procfile_free(pf);
        return 0;
}
