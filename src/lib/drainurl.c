/* Log drain URLs: see drainurl.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "lib/drainurl.h"

static const struct {
        const char *name;
        enum drain_scheme scheme;
        uint16_t default_port; /* 0: the URL must give one */
} schemes[] = {
        {"syslog", DRAIN_SYSLOG, 0},
        {"syslog+tls", DRAIN_SYSLOG_TLS, 0},
        {"http", DRAIN_HTTP, 80},
        {"https", DRAIN_HTTPS, 443},
};

static int refuse(const char **why, const char *msg)
{
        *why = msg;
        return -EINVAL;
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/* A DNS name: dot-separated labels of 1..63 letters, digits, '-' and '_'
 * (some providers' names have one), no dash at either end of a label. */
static bool hostname_ok(const char *h, size_t n)
{
        size_t i = 0;
        while (i < n) {
                size_t start = i;
                while (i < n && h[i] != '.') {
                        char c = h[i];
                        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
                              c == '-' || c == '_'))
                                return false;
                        i++;
                }
                size_t label = i - start;
                if (label == 0 || label > 63 || h[start] == '-' || h[i - 1] == '-')
                        return false;
                if (i < n)
                        i++; /* the dot; a trailing one leaves an empty label */
                if (i == n && h[n - 1] == '.')
                        return false;
        }
        return n > 0;
}

static int parse(const char *url, size_t len, struct drainurl *u, const char **why)
{
        if (len == 0)
                return refuse(why, "the URL is empty");
        if (len > DRAINURL_MAX)
                return refuse(why, "the URL is longer than 512 characters");
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)url[i];
                if (c <= 0x20 || c >= 0x7f)
                        return refuse(why, "the URL holds a space, a control character or a "
                                      "non-ASCII byte (percent-encode them)");
        }
        if (memchr(url, '#', len))
                return refuse(why, "a fragment (#...) is never sent to the drain: remove it");

        const char *sep = memchr(url, ':', len);
        if (!sep || (size_t)(url + len - sep) < 3 || sep[1] != '/' || sep[2] != '/')
                return refuse(why, "the URL must start with syslog://, syslog+tls://, https:// or "
                              "http://");
        size_t slen = (size_t)(sep - url);
        size_t si;
        for (si = 0; si < sizeof(schemes) / sizeof(schemes[0]); si++)
                if (strlen(schemes[si].name) == slen &&
                    strncasecmp(schemes[si].name, url, slen) == 0)
                        break;
        if (si == sizeof(schemes) / sizeof(schemes[0]))
                return refuse(why, "the scheme must be syslog, syslog+tls, https or http");
        u->scheme = schemes[si].scheme;
        bool syslog = u->scheme == DRAIN_SYSLOG || u->scheme == DRAIN_SYSLOG_TLS;

        const char *auth = sep + 3, *end = url + len;
        const char *auth_end = auth;
        while (auth_end < end && *auth_end != '/' && *auth_end != '?')
                auth_end++;

        /* user:password@ — sent by libcurl as Basic auth; syslog has no
         * place for it (and it would end up in logs of pier's own). */
        const char *at = memrchr(auth, '@', (size_t)(auth_end - auth));
        if (at && syslog)
                return refuse(why, "a syslog drain URL takes no user name or password");
        const char *hp = at ? at + 1 : auth;

        const char *host, *host_end, *after;
        if (hp < auth_end && *hp == '[') {
                const char *rb = memchr(hp, ']', (size_t)(auth_end - hp));
                if (!rb)
                        return refuse(why, "an IPv6 address must be closed with ]");
                host = hp + 1;
                host_end = rb;
                after = rb + 1;
                char ip[64];
                size_t n = (size_t)(host_end - host);
                struct in6_addr a6;
                if (n == 0 || n >= sizeof(ip))
                        return refuse(why, "the IPv6 address is not valid");
                memcpy(ip, host, n);
                ip[n] = '\0';
                if (inet_pton(AF_INET6, ip, &a6) != 1)
                        return refuse(why, "the IPv6 address is not valid");
                u->host_is_ip = true;
        } else {
                host = hp;
                host_end = memchr(hp, ':', (size_t)(auth_end - hp));
                if (!host_end)
                        host_end = auth_end;
                after = host_end;
                size_t n = (size_t)(host_end - host);
                if (n == 0)
                        return refuse(why, "the URL has no host");
                if (n > DRAINURL_HOST_MAX || !hostname_ok(host, n))
                        return refuse(why, "the host is not a valid name: labels of letters, digits "
                                      "and dashes separated by dots, at most 253 characters");
                char ip[DRAINURL_HOST_MAX + 1];
                memcpy(ip, host, n);
                ip[n] = '\0';
                struct in_addr a4;
                u->host_is_ip = inet_pton(AF_INET, ip, &a4) == 1;
                /* "10.1" would be read by the resolver as 10.0.0.1. */
                if (!u->host_is_ip && strspn(ip, "0123456789.") == n)
                        return refuse(why, "the host is not a valid IPv4 address");
        }
        size_t hn = (size_t)(host_end - host);
        memcpy(u->host, host, hn);
        u->host[hn] = '\0';

        if (after < auth_end) {
                if (*after != ':')
                        return refuse(why, "unexpected characters after the host");
                const char *p = after + 1;
                size_t n = (size_t)(auth_end - p);
                uint32_t port = 0;
                if (n == 0 || n > 5)
                        return refuse(why, "the port must be a number from 1 to 65535");
                for (size_t i = 0; i < n; i++) {
                        if (!is_digit(p[i]))
                                return refuse(why, "the port must be a number from 1 to 65535");
                        port = port * 10 + (uint32_t)(p[i] - '0');
                }
                if (port < 1 || port > 65535)
                        return refuse(why, "the port must be a number from 1 to 65535");
                u->port = (uint16_t)port;
        } else if (schemes[si].default_port)
                u->port = schemes[si].default_port;
        else
                return refuse(why, "a syslog drain needs a port: syslog://HOST:PORT");

        if (syslog && !(auth_end == end || (auth_end + 1 == end && *auth_end == '/')))
                return refuse(why, "a syslog drain URL takes no path or query: syslog://HOST:PORT");
        return 0;
}

int drainurl_parse(const char *url, size_t len, struct drainurl *ret, const char **ret_why)
{
        struct drainurl u = {0};
        const char *why = NULL;
        if (memchr(url, '\0', len)) {
                *ret_why = "the URL holds a NUL byte";
                return -EINVAL;
        }
        int r = parse(url, len, &u, &why);
        if (r < 0) {
                *ret_why = why;
                return r;
        }
        *ret = u;
        return 0;
}
