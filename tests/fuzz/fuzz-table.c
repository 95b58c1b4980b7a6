/* pier-router's routing table: its own JSON reader.  Anything may come in
 * (a table file is written by pierd, but the router trusts nothing); what
 * parses must be consistent and freeable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router/table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct table *t = NULL;
        const char *err = NULL;
        int r = table_parse((const char *)data, size, "localhost", &t, &err);
        if (r < 0) {
                if (t || !err)
                        abort();
                return 0;
        }
        if (!t)
                abort();
        (void)table_n_apps(t);
        (void)table_version(t);
        /* lookups of arbitrary names: exact, wildcard, by app name */
        size_t n = size < 64 ? size : 64;
        (void)table_lookup(t, (const char *)data, n);
        (void)table_lookup(t, "a.example.com", 13);
        char name[65];
        memcpy(name, data, n);
        name[n] = '\0';
        (void)table_lookup_app(t, name);
        struct table *again = table_ref(t);
        table_unref(again);
        table_unref(t);
        return 0;
}
