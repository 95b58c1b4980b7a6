/* drainurl_parse() on any bytes: it never reads past len, and what it
 * accepts is consistent — a host that is in the URL, a port, a scheme;
 * a refusal always says why and leaves the output alone. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/drainurl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* An exact-size copy, so that ASan sees any read past the end. */
        char *url = malloc(size ? size : 1);
        if (!url)
                abort();
        memcpy(url, data, size);

        struct drainurl u;
        memset(&u, 0xa5, sizeof(u));
        const char *why = NULL;
        int r = drainurl_parse(url, size, &u, &why);
        if (r < 0) {
                if (!why || !*why)
                        abort();
                for (size_t i = 0; i < sizeof(u); i++)
                        if (((const unsigned char *)&u)[i] != 0xa5)
                                abort();
        } else {
                size_t hn = strnlen(u.host, sizeof(u.host));
                if (r != 0 || size > DRAINURL_MAX || hn == 0 || hn == sizeof(u.host) ||
                    u.port == 0 || u.scheme > DRAIN_HTTPS)
                        abort();
                if (!memmem(url, size, u.host, hn))
                        abort();
                /* syslog://HOST:PORT written back parses to the same. */
                if (u.scheme == DRAIN_SYSLOG || u.scheme == DRAIN_SYSLOG_TLS) {
                        char again[DRAINURL_MAX + 64];
                        int n = snprintf(again, sizeof(again),
                                         u.host_is_ip && strchr(u.host, ':') ? "%s://[%s]:%u"
                                                                              : "%s://%s:%u",
                                         u.scheme == DRAIN_SYSLOG ? "syslog" : "syslog+tls",
                                         u.host, u.port);
                        struct drainurl v;
                        if (n < 0 || drainurl_parse(again, (size_t)n, &v, &why) != 0 ||
                            strcmp(v.host, u.host) != 0 || v.port != u.port ||
                            v.scheme != u.scheme || v.host_is_ip != u.host_is_ip)
                                abort();
                }
        }
        free(url);
        return 0;
}
