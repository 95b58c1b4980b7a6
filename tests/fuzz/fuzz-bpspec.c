/* bp_list_parse() and bp_spec_parse() on arbitrary bytes: no crash, no
 * leak; accepted specs are built-in names of the documented shape or git
 * URLs with an allowed scheme, never a local path. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "builder/bpspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_spec(const struct bp_spec *s)
{
        if (s->kind == BP_BUILTIN) {
                if (!s->name || s->url || s->ref || !s->name[0] || strlen(s->name) > BP_NAME_MAX)
                        abort();
                for (const char *p = s->name; *p; p++)
                        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                              *p == '_'))
                                abort();
                if (s->name[0] == '-' || s->name[0] == '_')
                        abort();
        } else if (s->kind == BP_GIT) {
                if (s->name || !s->url)
                        abort();
                if (strncmp(s->url, "https://", 8) != 0 && strncmp(s->url, "http://", 7) != 0 &&
                    strncmp(s->url, "git://", 6) != 0)
                        abort();
                if (s->ref && (s->ref[0] == '-' || strstr(s->ref, "..")))
                        abort();
        } else
                abort();
}

static void check_message(const char *s)
{
        for (; s && *s; s++)
                if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct bp_list *l = NULL;
        struct bp_spec spec;
        char *err = NULL, *s;
        int r;

        r = bp_list_parse((const char *)data, size, &l, &err);
        if (r < 0) {
                if (l || (r != -EINVAL && r != -E2BIG && r != -ENOMEM))
                        abort();
                check_message(err);
                free(err);
        } else {
                if (err || !l || l->n > BP_LIST_MAX)
                        abort();
                for (size_t i = 0; i < l->n; i++)
                        check_spec(&l->specs[i]);
                bp_list_free(l);
        }

        s = strndup((const char *)data, size);
        if (!s)
                return 0;
        err = NULL;
        r = bp_spec_parse(s, &spec, &err);
        if (r == 0) {
                if (err)
                        abort();
                check_spec(&spec);
                bp_spec_done(&spec);
        } else {
                check_message(err);
                free(err);
        }
        free(s);
        return 0;
}
