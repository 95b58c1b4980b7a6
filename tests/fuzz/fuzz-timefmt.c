/* time_parse_iso8601() on arbitrary strings: anything accepted must format
 * back to the same instant, and its first 19 characters must be what
 * time_iso8601() writes for it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/timefmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s, a[32], b[40];
        int64_t t = 0, u = 0;

        if (size > 64)
                return 0;
        s = malloc(size + 1);
        if (!s)
                abort();
        memcpy(s, data, size);
        s[size] = '\0';

        if (time_parse_iso8601(s, &t) == 0) {
                time_iso8601(t, a);
                if (strlen(a) != 20 || memcmp(a, s, 19) != 0 || a[19] != 'Z')
                        abort();
                time_rfc3339_usec(t, b);
                if (time_parse_iso8601(b, &u) != 0 || u != t)
                        abort();
                if (time_parse_iso8601(a, &u) != 0 ||
                    u != t - (t % USEC_PER_SEC + USEC_PER_SEC) % USEC_PER_SEC)
                        abort();
        }

        free(s);
        return 0;
}
