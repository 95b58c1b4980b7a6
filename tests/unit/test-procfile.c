#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/procfile.h"
#include "lib/util.h"
#include "test.h"

static int parse(const char *text, struct procfile **ret, char **ret_error)
{
        return procfile_parse(text, strlen(text), ret, ret_error);
}

static void test_simple(void)
{
        struct procfile *pf = NULL;
        char *err = NULL;

        CHECK(parse("web: ./server --port $PORT\nworker: ./work\n", &pf, &err) == 0);
        CHECK(err == NULL);
        CHECK(pf && pf->n == 2);
        if (pf && pf->n == 2) {
                CHECK_STREQ(pf->entries[0].type, "web");
                CHECK_STREQ(pf->entries[0].command, "./server --port $PORT");
                CHECK_STREQ(pf->entries[1].type, "worker");
                CHECK_STREQ(pf->entries[1].command, "./work");
        }
        CHECK_STREQ(procfile_get(pf, "web"), "./server --port $PORT");
        CHECK_STREQ(procfile_get(pf, "worker"), "./work");
        CHECK(procfile_get(pf, "clock") == NULL);
        CHECK(procfile_get(pf, "") == NULL);
        CHECK(procfile_get(pf, NULL) == NULL);
        CHECK(procfile_get(NULL, "web") == NULL);
        procfile_free(pf);
        procfile_free(NULL);
}

static void test_whitespace_comments_crlf(void)
{
        struct procfile *pf = NULL;
        const char *text = "# the web process\r\n"
                           "\r\n"
                           "   \t\n"
                           "  Web\t :   bundle exec puma -C config/puma.rb  \t\r\n"
                           "  # worker: disabled\n"
                           "release:rake db:migrate\n"
                           "CLOCK_2-x: ./clock";

        CHECK(parse(text, &pf, NULL) == 0);
        CHECK(pf && pf->n == 3);
        CHECK_STREQ(procfile_get(pf, "web"), "bundle exec puma -C config/puma.rb");
        /* the command is everything after the first ':' */
        CHECK_STREQ(procfile_get(pf, "release"), "rake db:migrate");
        CHECK_STREQ(procfile_get(pf, "clock_2-x"), "./clock");
        CHECK(procfile_get(pf, "Web") == NULL);
        CHECK(procfile_get(pf, "worker") == NULL);
        procfile_free(pf);
}

static void test_empty(void)
{
        struct procfile *pf = NULL;

        CHECK(procfile_parse("", 0, &pf, NULL) == 0);
        CHECK(pf && pf->n == 0);
        procfile_free(pf);
        pf = NULL;
        CHECK(procfile_parse(NULL, 0, &pf, NULL) == 0);
        CHECK(pf && pf->n == 0);
        procfile_free(pf);
        pf = NULL;
        CHECK(parse("\n\n# nothing\n   \n", &pf, NULL) == 0);
        CHECK(pf && pf->n == 0);
        procfile_free(pf);
}

static void expect_error(const char *text, size_t len, int error, const char *message)
{
        struct procfile *pf = (struct procfile *)0x1;
        char *err = NULL;
        int r;

        r = procfile_parse(text, len, &pf, &err);
        if (r != error)
                printf("# expected %d, got %d\n", error, r);
        CHECK(r == error);
        CHECK(pf == (struct procfile *)0x1);
        CHECK_STREQ(err, message);
        free(err);

        /* ret_error is optional */
        CHECK(procfile_parse(text, len, &pf, NULL) == error);
        CHECK(pf == (struct procfile *)0x1);
}

#define EXPECT_ERROR(text, error, message) expect_error(text, strlen(text), error, message)

static void test_errors(void)
{
        EXPECT_ERROR("web: ok\nno colon here\n", -EINVAL,
                     "line 2: expected \"type: command\", got \"no colon here\"");
        EXPECT_ERROR("web: ok\n\nwe b: x\n", -EINVAL,
                     "line 3: invalid process type \"we b\" (use letters, digits, _ and -)");
        EXPECT_ERROR(": x\n", -EINVAL,
                     "line 1: invalid process type \"\" (use letters, digits, _ and -)");
        EXPECT_ERROR("w.eb: x\n", -EINVAL,
                     "line 1: invalid process type \"w.eb\" (use letters, digits, _ and -)");
        EXPECT_ERROR("web:\n", -EINVAL, "line 1: empty command for process type \"web\"");
        EXPECT_ERROR("web:   \t \r\n", -EINVAL, "line 1: empty command for process type \"web\"");
        EXPECT_ERROR("web: a\nworker: b\n\n# x\nweb: c\n", -EINVAL,
                     "line 5: duplicate process type \"web\" (first on line 1)");
        EXPECT_ERROR("# c\nweb: a\nWEB: b\n", -EINVAL,
                     "line 3: duplicate process type \"web\" (first on line 2)");
        expect_error("web: a\nwor\0ker: b\n", 18, -EINVAL,
                     "line 2: contains a NUL byte (a Procfile is text)");
}

static void test_error_quoting(void)
{
        /* control characters and quotes from the file are escaped, long
         * values are cut */
        EXPECT_ERROR("\x1b[31m\"x\\: y\n", -EINVAL,
                     "line 1: invalid process type \"\\x1b[31m\\\"x\\\\\" (use letters, digits, _ "
                     "and -)");
        EXPECT_ERROR("w\xc3\xa9: y\n", -EINVAL,
                     "line 1: invalid process type \"w\\xc3\\xa9\" (use letters, digits, _ and -)");

        char line[200];
        char expected[300];
        memset(line, 'a', 100);
        memcpy(line + 100, "\n", 2);
        snprintf(expected, sizeof(expected), "line 1: expected \"type: command\", got \"%.64s...\"",
                 line);
        EXPECT_ERROR(line, -EINVAL, expected);
}

static void test_type_limits(void)
{
        char buf[200];
        struct procfile *pf = NULL;

        /* 59 characters is the longest type (its dyno TYPE.100 has 63) */
        memset(buf, 't', 59);
        memcpy(buf + 59, ": x\n", 5);
        CHECK(parse(buf, &pf, NULL) == 0);
        CHECK(pf && pf->n == 1 && strlen(pf->entries[0].type) == 59);
        procfile_free(pf);

        memset(buf, 't', 60);
        memcpy(buf + 60, ": x\n", 5);
        pf = NULL;
        CHECK(parse(buf, &pf, NULL) == -EINVAL);
        CHECK(pf == NULL);
}

static void test_size_limits(void)
{
        struct procfile *pf = NULL;
        char *err = NULL, *big;
        size_t n;

        /* a line of exactly 8192 bytes is fine, 8193 is not */
        big = malloc(70 * 1024);
        CHECK(big);
        if (!big)
                return;
        memcpy(big, "web: ", 5);
        memset(big + 5, 'x', 8192 - 5);
        big[8192] = '\n';
        CHECK(procfile_parse(big, 8193, &pf, NULL) == 0);
        CHECK(pf && strlen(procfile_get(pf, "web")) == 8192 - 5);
        procfile_free(pf);

        memset(big + 5, 'x', 8193 - 5);
        big[8193] = '\n';
        CHECK(procfile_parse(big, 8194, &pf, &err) == -E2BIG);
        CHECK_STREQ(err, "line 1: longer than the limit of 8192 bytes");
        err = mfree(err);

        /* the file limit applies to the length given */
        memset(big, '\n', 70 * 1024);
        CHECK(procfile_parse(big, 64 * 1024, &pf, NULL) == 0);
        CHECK(pf && pf->n == 0);
        procfile_free(pf);
        CHECK(procfile_parse(big, 64 * 1024 + 1, &pf, &err) == -E2BIG);
        CHECK_STREQ(err, "Procfile is 65537 bytes, larger than the limit of 64 KiB");
        err = mfree(err);
        free(big);

        /* 100 entries are fine, 101 are not */
        big = malloc(100 * 32);
        CHECK(big);
        if (!big)
                return;
        n = 0;
        for (int i = 0; i < 101; i++)
                n += (size_t)snprintf(big + n, 100 * 32 - n, "t%d: run %d\n", i, i);
        {
                size_t hundred = 0;
                for (int lines = 0; hundred < n; hundred++)
                        if (big[hundred] == '\n' && ++lines == 100)
                                break;
                pf = NULL;
                CHECK(procfile_parse(big, hundred + 1, &pf, NULL) == 0);
                CHECK(pf && pf->n == 100);
                CHECK_STREQ(procfile_get(pf, "t99"), "run 99");
                CHECK_STREQ(procfile_get(pf, "t0"), "run 0");
                procfile_free(pf);
        }
        pf = NULL;
        CHECK(procfile_parse(big, n, &pf, &err) == -E2BIG);
        CHECK(pf == NULL);
        CHECK_STREQ(err, "line 101: too many process types (the limit is 100)");
        free(err);
        free(big);
}

static void test_no_trailing_newline_and_cr_only(void)
{
        struct procfile *pf = NULL;

        CHECK(procfile_parse("web: a b", 8, &pf, NULL) == 0);
        CHECK_STREQ(procfile_get(pf, "web"), "a b");
        procfile_free(pf);

        /* only the given length is read */
        pf = NULL;
        CHECK(procfile_parse("web: abcdef", 8, &pf, NULL) == 0);
        CHECK_STREQ(procfile_get(pf, "web"), "abc");
        procfile_free(pf);

        /* a lone CR is not a line break: it stays in the command */
        pf = NULL;
        CHECK(parse("web: a\rworker: b\n", &pf, NULL) == 0);
        CHECK(pf && pf->n == 1);
        CHECK_STREQ(procfile_get(pf, "web"), "a\rworker: b");
        procfile_free(pf);
}

int main(void)
{
        RUN(test_simple);
        RUN(test_whitespace_comments_crlf);
        RUN(test_empty);
        RUN(test_errors);
        RUN(test_error_quoting);
        RUN(test_type_limits);
        RUN(test_size_limits);
        RUN(test_no_trailing_newline_and_cr_only);
        return test_done();
}
