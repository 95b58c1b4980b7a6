/* release_yaml_parse() on arbitrary bytes: no crash, no leak; accepted
 * types are valid, lower-case and unique, commands are one trimmed line;
 * errors come as one printable line. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "builder/releaseyaml.h"
#include "lib/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_blank(char c)
{
        return c == ' ' || c == '\t';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct procfile *pf = NULL;
        char *err = NULL;
        int r;

        r = release_yaml_parse((const char *)data, size, &pf, &err);
        if (r < 0) {
                if (pf || (r != -EINVAL && r != -E2BIG && r != -ENOMEM))
                        abort();
                if (r != -ENOMEM && !err)
                        abort();
                for (const char *p = err; p && *p; p++)
                        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                                abort();
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
                if (cl == 0 || is_blank(c[0]) || is_blank(c[cl - 1]) || strpbrk(c, "\r\n"))
                        abort();
                for (size_t j = 0; j < i; j++)
                        if (strcmp(pf->entries[j].type, t) == 0)
                                abort();
        }
        procfile_free(pf);
        return 0;
}
