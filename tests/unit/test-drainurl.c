/* Drain URLs: what drainurl_parse() accepts, what it finds, and that every
 * refusal says why. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/drainurl.h"
#include "lib/util.h"
#include "test.h"

static int parse(const char *url, struct drainurl *u, const char **why)
{
        return drainurl_parse(url, strlen(url), u, why);
}

static void test_syslog(void)
{
        struct drainurl u;
        const char *why = NULL;
        CHECK(parse("syslog://logs.example.com:514", &u, &why) == 0);
        CHECK(u.scheme == DRAIN_SYSLOG && u.port == 514 && !u.host_is_ip);
        CHECK_STREQ(u.host, "logs.example.com");
        CHECK(parse("syslog+tls://logs3.papertrailapp.com:12345/", &u, &why) == 0);
        CHECK(u.scheme == DRAIN_SYSLOG_TLS && u.port == 12345);
        CHECK_STREQ(u.host, "logs3.papertrailapp.com");
        CHECK(parse("SYSLOG://127.0.0.1:1", &u, &why) == 0);
        CHECK(u.scheme == DRAIN_SYSLOG && u.host_is_ip && u.port == 1);
        CHECK_STREQ(u.host, "127.0.0.1");
        CHECK(parse("syslog://[::1]:6514", &u, &why) == 0);
        CHECK(u.host_is_ip && u.port == 6514);
        CHECK_STREQ(u.host, "::1");
        CHECK(parse("syslog://localhost:65535", &u, &why) == 0);
        CHECK(u.port == 65535);
}

static void test_http(void)
{
        struct drainurl u;
        const char *why = NULL;
        CHECK(parse("https://logs.example.com/drain?token=abc&x=1", &u, &why) == 0);
        CHECK(u.scheme == DRAIN_HTTPS && u.port == 443);
        CHECK_STREQ(u.host, "logs.example.com");
        CHECK(parse("http://127.0.0.1:8080", &u, &why) == 0);
        CHECK(u.scheme == DRAIN_HTTP && u.port == 8080 && u.host_is_ip);
        CHECK(parse("http://example.com", &u, &why) == 0);
        CHECK(u.port == 80);
        CHECK(parse("https://user:s3cret@example.com:8443/x", &u, &why) == 0);
        CHECK(u.port == 8443);
        CHECK_STREQ(u.host, "example.com");
        CHECK(parse("https://[2001:db8::1]/x", &u, &why) == 0);
        CHECK_STREQ(u.host, "2001:db8::1");
        CHECK(parse("https://my_host.example.com?q", &u, &why) == 0);
}

static void test_refused(void)
{
        static const char *const bad[] = {
            "",
            "logs.example.com:514",
            "syslog:/x:1",
            "syslog://",
            "syslog://host",                 /* no port */
            "syslog://host:",                /* empty port */
            "syslog://host:0",
            "syslog://host:65536",
            "syslog://host:123456",
            "syslog://host:12a",
            "syslog://host:514/path",
            "syslog://host:514?x",
            "syslog://user@host:514",
            "syslog+tls://u:p@host:514",
            "ftp://example.com",
            "tcp://example.com:1",
            "https://",
            "https://:443",
            "https://exa mple.com",
            "https://example.com/\x01",
            "https://example.com/\xc3\xa9",
            "https://example.com/#frag",
            "https://-bad.example.com",
            "https://bad-.example.com",
            "https://a..b",
            "https://.a",
            "https://a.",
            "https://a!b.com",
            "https://[::1",
            "https://[nope]/",
            "https://[::1]x/",
            "https://10.1",
            "https://1.2.3.4.5",
            "https://host:1:2",
            "https://2001:db8::1/",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct drainurl u = {.port = 7};
                const char *why = NULL;
                int r = parse(bad[i], &u, &why);
                if (r != -EINVAL || !why || !*why || u.port != 7)
                        printf("# accepted or no reason: \"%s\"\n", bad[i]);
                CHECK(r == -EINVAL && why && *why);
                CHECK(u.port == 7); /* untouched */
        }
}

static void test_limits(void)
{
        char url[DRAINURL_MAX + 2];
        struct drainurl u;
        const char *why = NULL;
        /* exactly the limit */
        snprintf(url, sizeof(url), "https://e.com/");
        size_t n = strlen(url);
        memset(url + n, 'a', DRAINURL_MAX - n);
        url[DRAINURL_MAX] = '\0';
        CHECK(parse(url, &u, &why) == 0);
        url[DRAINURL_MAX] = 'a';
        url[DRAINURL_MAX + 1] = '\0';
        CHECK(parse(url, &u, &why) == -EINVAL);
        /* a 63-character label is fine, 64 is not */
        char host[128] = "https://";
        memset(host + 8, 'x', 63);
        memcpy(host + 8 + 63, ".com", 5);
        CHECK(parse(host, &u, &why) == 0);
        memset(host + 8, 'x', 64);
        memcpy(host + 8 + 64, ".com", 5);
        CHECK(parse(host, &u, &why) == -EINVAL);
        /* a NUL inside */
        CHECK(drainurl_parse("syslog://a:1\0x", 14, &u, &why) == -EINVAL);
        /* not NUL-terminated: only len bytes are read */
        CHECK(drainurl_parse("syslog://a:19999", 13, &u, &why) == 0);
        CHECK(u.port == 19);
}

int main(void)
{
        RUN(test_syslog);
        RUN(test_http);
        RUN(test_refused);
        RUN(test_limits);
        return test_done();
}
