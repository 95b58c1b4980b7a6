#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "builder/pushrefs.h"
#include "test.h"

#define Z40 "0000000000000000000000000000000000000000"
#define A40 "1111111111111111111111111111111111111111"
#define B40 "abcdefabcdefabcdefabcdefabcdefabcdefabcd"
#define B64 "abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd"

static struct pushrefs *parse_ok(const char *text)
{
        struct pushrefs *pr = NULL;
        char *err = NULL;

        CHECK(pushrefs_parse(text, strlen(text), &pr, &err) == 0);
        CHECK(err == NULL);
        free(err);
        return pr;
}

static void test_parse(void)
{
        struct pushrefs *pr =
            parse_ok(A40 " " B40 " refs/heads/main\n" Z40 " " B40 " refs/tags/v1\r\n\n");

        CHECK(pr && pr->n == 2);
        CHECK_STREQ(pr->updates[0].old_oid, A40);
        CHECK_STREQ(pr->updates[0].new_oid, B40);
        CHECK_STREQ(pr->updates[0].ref, "refs/heads/main");
        CHECK_STREQ(pr->updates[1].ref, "refs/tags/v1");
        CHECK(oid_is_null(pr->updates[1].old_oid));
        pushrefs_free(pr);

        pr = parse_ok(B64 " " B64 " refs/heads/master");
        CHECK(pr && pr->n == 1 && strlen(pr->updates[0].new_oid) == 64);
        pushrefs_free(pr);
}

static void test_parse_errors(void)
{
        static const char *const bad[] = {
            "x",
            A40 " " B40,
            A40 " " B40 " ",
            A40 "  " B40 " refs/heads/main",
            A40 " " B64 " refs/heads/main",
            "ABCDEFABCDEFABCDEFABCDEFABCDEFABCDEFABCD " B40 " refs/heads/main",
            A40 " " B40 " refs/heads/ma\x01in",
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct pushrefs *pr = NULL;
                char *err = NULL;

                CHECK(pushrefs_parse(bad[i], strlen(bad[i]), &pr, &err) == -EINVAL);
                CHECK(pr == NULL);
                CHECK(err && strstr(err, "line 1"));
                free(err);
        }
}

static void test_limits(void)
{
        size_t line = 41 * 2 + strlen("refs/heads/x\n");
        size_t n = (PUSHREFS_MAX_LINES + 1) * line;
        char *text = malloc(n + 1), *p = text, *err = NULL, *longline;
        struct pushrefs *pr = NULL;

        for (int i = 0; i < PUSHREFS_MAX_LINES + 1; i++) {
                memcpy(p, A40 " " B40 " refs/heads/x\n", line);
                p += line;
        }
        CHECK(pushrefs_parse(text, n, &pr, &err) == -E2BIG);
        CHECK(err && strstr(err, "100"));
        free(err);
        err = NULL;
        CHECK(pushrefs_parse(text, n - line, &pr, &err) == 0);
        CHECK(pr && pr->n == PUSHREFS_MAX_LINES);
        pushrefs_free(pr);
        free(text);

        longline = malloc(PUSHREFS_MAX_LINE + 2);
        memcpy(longline, A40 " " B40 " ", 82);
        memset(longline + 82, 'r', PUSHREFS_MAX_LINE + 1 - 82);
        longline[PUSHREFS_MAX_LINE + 1] = '\0';
        pr = NULL;
        CHECK(pushrefs_parse(longline, strlen(longline), &pr, &err) == -E2BIG);
        free(err);
        free(longline);
}

static int pick(const char *text, size_t *idx, char **msg)
{
        struct pushrefs *pr = parse_ok(text);
        int r = pushrefs_pick(pr, idx, msg);

        pushrefs_free(pr);
        return r;
}

static void test_pick(void)
{
        size_t idx = 99;
        char *msg = NULL;

        CHECK(pick(A40 " " B40 " refs/heads/main\n", &idx, &msg) == 0 && idx == 0);
        CHECK(pick(Z40 " " B40 " refs/heads/master\n", &idx, &msg) == 0 && idx == 0);
        CHECK(msg == NULL);
        CHECK(pick("", &idx, &msg) == -ENOENT);
        CHECK(msg == NULL);

        CHECK(pick(A40 " " B40 " refs/heads/feature\n", &idx, &msg) == -EPERM);
        CHECK_STREQ(msg, "pier deploys only the main or master branch (you pushed "
                         "refs/heads/feature); push with: git push pier HEAD:main");
        free(msg);
        msg = NULL;

        CHECK(pick(A40 " " B40 " refs/heads/a\"b c\n", &idx, &msg) == -EPERM);
        CHECK(msg && strstr(msg, "(you pushed \"refs/heads/a\\\"b c\")"));
        free(msg);
        msg = NULL;

        CHECK(pick(A40 " " B40 " refs/heads/main\n" Z40 " " B40 " refs/tags/v1\n", &idx, &msg) ==
              -EPERM);
        CHECK(msg && strstr(msg, "refs/tags/v1"));
        free(msg);
        msg = NULL;

        CHECK(pick(A40 " " B40 " refs/heads/main\n" A40 " " B40 " refs/heads/master\n", &idx,
                   &msg) == -EPERM);
        CHECK(msg && strstr(msg, "not both"));
        free(msg);
        msg = NULL;

        CHECK(pick(A40 " " Z40 " refs/heads/main\n", &idx, &msg) == -EPERM);
        CHECK_STREQ(msg, "The branch main is what pier deploys and cannot be deleted; to take "
                         "the app down, scale it to zero with: pier ps:scale web=0");
        free(msg);
}

static void test_oid_helpers(void)
{
        CHECK(oid_is_null(Z40));
        CHECK(!oid_is_null(A40));
        CHECK(!oid_is_null(""));
        CHECK(oid_valid(B40));
        CHECK(oid_valid(B64));
        CHECK(!oid_valid("abc"));
        CHECK(!oid_valid(NULL));
}

int main(void)
{
        RUN(test_parse);
        RUN(test_parse_errors);
        RUN(test_limits);
        RUN(test_pick);
        RUN(test_oid_helpers);
        return test_done();
}
