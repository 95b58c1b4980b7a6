/* Log drain URLs (SPEC.md §6): where an app's lines are forwarded.
 *
 *   syslog://HOST:PORT        RFC 5424 over TCP, octet-counted (RFC 6587)
 *   syslog+tls://HOST:PORT    the same over TLS
 *   https://[USER:PASS@]HOST[:PORT][/PATH][?QUERY]   logplex-1 POSTs
 *   http://...                the same without TLS (for testing)
 *
 * drainurl_parse() checks a URL a user gave and says what it found; it
 * allocates nothing (the host is copied into the struct).  On failure it
 * returns -EINVAL and points *ret_why at a static sentence saying what is
 * wrong, for the user.  Pure: no I/O, no DNS.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Long enough for any real endpoint with a token in its query string,
 * short enough to travel as one URL-encoded path segment of the API. */
#define DRAINURL_MAX 512
#define DRAINURL_HOST_MAX 253 /* RFC 1035 as text */

enum drain_scheme {
        DRAIN_SYSLOG,
        DRAIN_SYSLOG_TLS,
        DRAIN_HTTP,
        DRAIN_HTTPS,
};

struct drainurl {
        enum drain_scheme scheme;
        /* The host as written, without the brackets of an IPv6 literal. */
        char host[DRAINURL_HOST_MAX + 1];
        bool host_is_ip; /* an IPv4 or IPv6 literal: no SNI, check the IP */
        uint16_t port;   /* the scheme's default (80, 443) when not written */
};

/* url: len bytes (need not be NUL-terminated; a NUL inside is refused). */
int drainurl_parse(const char *url, size_t len, struct drainurl *ret, const char **ret_why);

/* The rules in one sentence, for error messages. */
#define DRAINURL_RULE                                                                              \
        "a drain URL is syslog://HOST:PORT, syslog+tls://HOST:PORT, or an http:// or https:// "  \
        "URL, at most 512 characters of printable ASCII"
