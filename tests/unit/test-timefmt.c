#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "lib/timefmt.h"
#include "lib/util.h"
#include "test.h"

#define SEC(x) (USEC_PER_SEC * (x))

static void test_clocks(void)
{
        int64_t a = now_usec(), m1 = mono_usec(), m2;

        /* after 2020-01-01 and before 2200 */
        CHECK(a > SEC(1577836800));
        CHECK(a < SEC(7258118400));
        m2 = mono_usec();
        CHECK(m1 > 0);
        CHECK(m2 >= m1);
}

static void test_iso8601(void)
{
        char buf[32];

        time_iso8601(SEC(1795694400), buf);
        CHECK_STREQ(buf, "2026-11-26T12:00:00Z");
        /* sub-seconds are dropped, not rounded */
        time_iso8601(SEC(1795694400) + 999999, buf);
        CHECK_STREQ(buf, "2026-11-26T12:00:00Z");
        time_iso8601(0, buf);
        CHECK_STREQ(buf, "1970-01-01T00:00:00Z");
        /* before the epoch: floor, not truncation towards zero */
        time_iso8601(-1, buf);
        CHECK_STREQ(buf, "1969-12-31T23:59:59Z");
        time_iso8601(SEC(-1), buf);
        CHECK_STREQ(buf, "1969-12-31T23:59:59Z");
        time_iso8601(SEC(951782400), buf);
        CHECK_STREQ(buf, "2000-02-29T00:00:00Z");
        time_iso8601(SEC(253402300799), buf);
        CHECK_STREQ(buf, "9999-12-31T23:59:59Z");

        /* the extremes still produce a string that fits */
        time_iso8601(INT64_MAX, buf);
        CHECK(memchr(buf, '\0', sizeof(buf)) && buf[strlen(buf) - 1] == 'Z');
        time_iso8601(INT64_MIN, buf);
        CHECK(memchr(buf, '\0', sizeof(buf)) && buf[strlen(buf) - 1] == 'Z');
}

static void test_rfc3339_usec(void)
{
        char buf[40];

        time_rfc3339_usec(SEC(1795700840) + 677020, buf);
        CHECK_STREQ(buf, "2026-11-26T13:47:20.677020+00:00");
        time_rfc3339_usec(SEC(1795700840) + 5, buf);
        CHECK_STREQ(buf, "2026-11-26T13:47:20.000005+00:00");
        time_rfc3339_usec(0, buf);
        CHECK_STREQ(buf, "1970-01-01T00:00:00.000000+00:00");
        time_rfc3339_usec(-1, buf);
        CHECK_STREQ(buf, "1969-12-31T23:59:59.999999+00:00");
        time_rfc3339_usec(INT64_MAX, buf);
        CHECK(memchr(buf, '\0', sizeof(buf)) != NULL);
        CHECK(strlen(buf) > 6 && streq(buf + strlen(buf) - 6, "+00:00"));
        time_rfc3339_usec(INT64_MIN, buf);
        CHECK(memchr(buf, '\0', sizeof(buf)) != NULL);
        CHECK(strlen(buf) > 6 && streq(buf + strlen(buf) - 6, "+00:00"));
}

static void test_human(void)
{
        char buf[32];

        time_human(SEC(1795694400), buf);
        CHECK_STREQ(buf, "2026/11/26 12:00:00 +0000");
        time_human(SEC(1795700840) + 677020, buf);
        CHECK_STREQ(buf, "2026/11/26 13:47:20 +0000");
        time_human(INT64_MAX, buf);
        CHECK(memchr(buf, '\0', sizeof(buf)) != NULL);
        time_human(INT64_MIN, buf);
        CHECK(memchr(buf, '\0', sizeof(buf)) != NULL);
}

static void test_ago(void)
{
        int64_t now = SEC(1795694400);
        char buf[32];

        time_ago(now, now, buf);
        CHECK_STREQ(buf, "~ 0s ago");
        time_ago(now - SEC(12), now, buf);
        CHECK_STREQ(buf, "~ 12s ago");
        time_ago(now - SEC(59) - 999999, now, buf);
        CHECK_STREQ(buf, "~ 59s ago");
        time_ago(now - SEC(60), now, buf);
        CHECK_STREQ(buf, "~ 1m ago");
        time_ago(now - SEC(5 * 60 + 59), now, buf);
        CHECK_STREQ(buf, "~ 5m ago");
        time_ago(now - SEC(3599), now, buf);
        CHECK_STREQ(buf, "~ 59m ago");
        time_ago(now - SEC(3600), now, buf);
        CHECK_STREQ(buf, "~ 1h ago");
        time_ago(now - SEC(3 * 3600 + 1), now, buf);
        CHECK_STREQ(buf, "~ 3h ago");
        time_ago(now - SEC(86399), now, buf);
        CHECK_STREQ(buf, "~ 23h ago");
        time_ago(now - SEC(86400), now, buf);
        CHECK_STREQ(buf, "~ 1d ago");
        time_ago(now - SEC(2 * 86400 + 7), now, buf);
        CHECK_STREQ(buf, "~ 2d ago");
        time_ago(now - SEC(400 * 86400), now, buf);
        CHECK_STREQ(buf, "~ 400d ago");

        /* the future counts as now */
        time_ago(now + SEC(100), now, buf);
        CHECK_STREQ(buf, "~ 0s ago");

        /* no overflow at the extremes */
        time_ago(INT64_MIN, INT64_MAX, buf);
        CHECK_STREQ(buf, "~ 106751991d ago");
        time_ago(INT64_MAX, INT64_MIN, buf);
        CHECK_STREQ(buf, "~ 0s ago");
}

static void test_parse(void)
{
        int64_t t = 42;

        CHECK(time_parse_iso8601("2026-11-26T12:00:00Z", &t) == 0 && t == SEC(1795694400));
        CHECK(time_parse_iso8601("2026-11-26T12:00:00+00:00", &t) == 0 && t == SEC(1795694400));
        CHECK(time_parse_iso8601("2026-11-26T13:47:20.677020+00:00", &t) == 0 &&
              t == SEC(1795700840) + 677020);
        CHECK(time_parse_iso8601("2026-11-26T13:47:20.677020Z", &t) == 0 &&
              t == SEC(1795700840) + 677020);
        CHECK(time_parse_iso8601("2026-11-26T13:47:20.5Z", &t) == 0 &&
              t == SEC(1795700840) + 500000);
        CHECK(time_parse_iso8601("2026-11-26T13:47:20.123456789Z", &t) == 0 &&
              t == SEC(1795700840) + 123456);
        CHECK(time_parse_iso8601("1970-01-01T00:00:00Z", &t) == 0 && t == 0);
        CHECK(time_parse_iso8601("1969-12-31T23:59:59Z", &t) == 0 && t == SEC(-1));
        CHECK(time_parse_iso8601("1969-12-31T23:59:59.5Z", &t) == 0 && t == SEC(-1) + 500000);
        CHECK(time_parse_iso8601("2000-02-29T00:00:00Z", &t) == 0 && t == SEC(951782400));
        CHECK(time_parse_iso8601("1900-03-01T00:00:00Z", &t) == 0 && t == SEC(-2203891200));
        CHECK(time_parse_iso8601("9999-12-31T23:59:59Z", &t) == 0 && t == SEC(253402300799));
        CHECK(time_parse_iso8601("0000-01-01T00:00:00Z", &t) == 0 && t == SEC(-62167219200));
}

static void test_parse_rejects(void)
{
        static const char *const bad[] = {
            "",
            "2026",
            "2026-11-26",
            "2026-11-26T12:00:00", /* no zone */
            "2026-11-26T12:00Z",
            "2026-11-26 12:00:00Z", /* space instead of T */
            "2026-11-26t12:00:00Z",
            "2026-11-26T12:00:00z",
            "2026-11-26T12:00:00+01:00", /* other offsets */
            "2026-11-26T12:00:00-00:00",
            "2026-11-26T12:00:00+0000",
            "2026-11-26T12:00:00+00",
            "2026-11-26T12:00:00ZZ",
            "2026-11-26T12:00:00Z ",
            " 2026-11-26T12:00:00Z",
            "2026-11-26T12:00:00.Z",           /* empty fraction */
            "2026-11-26T12:00:00.1234567890Z", /* 10 fraction digits */
            "2026-11-26T12:00:00,5Z",
            "2026-13-01T00:00:00Z",
            "2026-00-01T00:00:00Z",
            "2026-11-00T00:00:00Z",
            "2026-11-31T00:00:00Z",
            "2026-02-29T00:00:00Z", /* not a leap year */
            "1900-02-29T00:00:00Z", /* not a leap year */
            "2026-11-26T24:00:00Z",
            "2026-11-26T23:60:00Z",
            "2026-11-26T23:59:60Z", /* leap seconds refused */
            "20261-11-26T12:00:00Z",
            "-2026-11-26T12:00:00Z",
            "+2026-11-26T12:00:00Z",
            "2026-1-26T12:00:00Z",
            "2026-11-26T1:00:00Z",
            "2O26-11-26T12:00:00Z",
            "2026-11-26T12:00:0aZ",
            "2026/11/26T12:00:00Z",
            "2026-11-26T12-00-00Z",
            "2026-11-26T12:00:00.-5Z",
            "2026-11-26T12:00:00+00:00Z",
            "\xff\xfe",
        };
        int64_t t = 42;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = time_parse_iso8601(bad[i], &t);
                if (r != -EINVAL)
                        printf("# accepted \"%s\"\n", bad[i]);
                CHECK(r == -EINVAL);
        }
        CHECK(time_parse_iso8601(NULL, &t) == -EINVAL);
        CHECK(t == 42);
}

static void test_roundtrip(void)
{
        /* every format parses back to what was formatted */
        static const int64_t samples[] = {
            0,
            1,
            -1,
            SEC(1795700840) + 677020,
            SEC(951782400),
            SEC(-2203891200) + 999999,
            SEC(253402300799) + 123456,
            SEC(-62167219200),
        };

        for (size_t i = 0; i < ELEMENTSOF(samples); i++) {
                char a[32], b[40];
                int64_t t = 0, floor_sec = samples[i] / USEC_PER_SEC;

                if (samples[i] % USEC_PER_SEC < 0)
                        floor_sec--;
                time_iso8601(samples[i], a);
                CHECK(time_parse_iso8601(a, &t) == 0 && t == floor_sec * USEC_PER_SEC);
                time_rfc3339_usec(samples[i], b);
                CHECK(time_parse_iso8601(b, &t) == 0 && t == samples[i]);
        }
}

int main(void)
{
        RUN(test_clocks);
        RUN(test_iso8601);
        RUN(test_rfc3339_usec);
        RUN(test_human);
        RUN(test_ago);
        RUN(test_parse);
        RUN(test_parse_rejects);
        RUN(test_roundtrip);
        return test_done();
}
