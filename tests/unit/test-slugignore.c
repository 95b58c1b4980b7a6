#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "builder/slugignore.h"
#include "test.h"

static struct slugignore *parse(const char *text)
{
        struct slugignore *si = NULL;
        char *err = NULL;
        int r;

        r = slugignore_parse(text, strlen(text), &si, &err);
        CHECK(r == 0);
        CHECK(err == NULL);
        free(err);
        return si;
}

static void test_empty_and_comments(void)
{
        struct slugignore *si = parse("\n# a comment\n   \n\r\n");

        CHECK(si && si->n == 0);
        CHECK(!slugignore_match(si, "anything", false));
        slugignore_free(si);
}

static void test_name_at_any_depth(void)
{
        struct slugignore *si = parse("*.log\ntmp\n");

        CHECK(si->n == 2);
        CHECK(slugignore_match(si, "error.log", false));
        CHECK(slugignore_match(si, "a/b/error.log", false));
        CHECK(!slugignore_match(si, "error.log.txt", false));
        CHECK(slugignore_match(si, "tmp", true));
        CHECK(slugignore_match(si, "tmp", false));
        CHECK(slugignore_match(si, "src/tmp", true));
        CHECK(!slugignore_match(si, "src/tmpfile", false));
        slugignore_free(si);
}

static void test_anchored(void)
{
        struct slugignore *si = parse("/docs\nspec/fixtures\n");

        CHECK(slugignore_match(si, "docs", true));
        CHECK(!slugignore_match(si, "src/docs", true));
        CHECK(slugignore_match(si, "spec/fixtures", true));
        CHECK(!slugignore_match(si, "a/spec/fixtures", true));
        slugignore_free(si);
}

static void test_star_does_not_cross_slash_when_anchored(void)
{
        struct slugignore *si = parse("/vendor/*.gem\n");

        CHECK(slugignore_match(si, "vendor/x.gem", false));
        CHECK(!slugignore_match(si, "vendor/sub/x.gem", false));
        slugignore_free(si);
}

static void test_dir_only(void)
{
        struct slugignore *si = parse("cache/\n");

        CHECK(si->patterns[0].flags & SLUGIGNORE_DIR_ONLY);
        CHECK(slugignore_match(si, "cache", true));
        CHECK(!slugignore_match(si, "cache", false));
        CHECK(slugignore_match(si, "a/cache", true));
        slugignore_free(si);
}

static void test_children_of_matched_dir(void)
{
        struct slugignore *si = parse("/test\nlogs/\n");

        CHECK(slugignore_match(si, "test/unit/x.py", false));
        CHECK(slugignore_match(si, "app/logs/today.txt", false));
        CHECK(!slugignore_match(si, "app/logs", false)); /* a file named logs */
        CHECK(!slugignore_match(si, "testing/x", false));
        slugignore_free(si);
}

static void test_classes_and_question_mark(void)
{
        struct slugignore *si = parse("file?.[ch]\n");

        CHECK(slugignore_match(si, "file1.c", false));
        CHECK(slugignore_match(si, "d/fileX.h", false));
        CHECK(!slugignore_match(si, "file10.c", false));
        CHECK(!slugignore_match(si, "file1.o", false));
        slugignore_free(si);
}

static void test_leading_double_star(void)
{
        struct slugignore *si = parse("**/node_modules\n**/a/b\n");

        CHECK(!(si->patterns[0].flags & SLUGIGNORE_ANCHORED));
        CHECK(slugignore_match(si, "x/y/node_modules", true));
        CHECK(slugignore_match(si, "a/b", true));
        slugignore_free(si);
}

static void test_negation_ignored_and_escapes(void)
{
        struct slugignore *si = parse("!keep.me\n\\#hash\n\\!bang\nspace\\ \n");

        CHECK(si->n_negations == 1);
        CHECK(si->n == 3);
        CHECK(!slugignore_match(si, "keep.me", false));
        CHECK(slugignore_match(si, "#hash", false));
        CHECK(slugignore_match(si, "!bang", false));
        CHECK(slugignore_match(si, "space ", false));
        slugignore_free(si);
}

static void test_trailing_blanks_and_crlf(void)
{
        struct slugignore *si = parse("foo   \r\nbar\t\r\n");

        CHECK(si->n == 2);
        CHECK(slugignore_match(si, "foo", false));
        CHECK(slugignore_match(si, "bar", false));
        slugignore_free(si);
}

static void test_degenerate_patterns(void)
{
        struct slugignore *si = parse("/\n//\n");

        CHECK(si->n == 0);
        CHECK(!slugignore_match(si, "x", true));
        slugignore_free(si);

        /* "**" + "/" is every directory, as in gitignore */
        si = parse("**/\n");
        CHECK(si->n == 1);
        CHECK(slugignore_match(si, "a/b", true));
        CHECK(!slugignore_match(si, "top-level-file", false));
        slugignore_free(si);
}

static void test_errors(void)
{
        struct slugignore *si = NULL;
        char *err = NULL, *big;
        int r;

        r = slugignore_parse("ok\nbad\0line\n", 12, &si, &err);
        CHECK(r == -EINVAL);
        CHECK(si == NULL);
        CHECK_STREQ(err, "line 2: contains a NUL byte");
        free(err);
        err = NULL;

        big = malloc(SLUGIGNORE_MAX_LINE + 2);
        memset(big, 'a', SLUGIGNORE_MAX_LINE + 1);
        big[SLUGIGNORE_MAX_LINE + 1] = '\0';
        r = slugignore_parse(big, strlen(big), &si, &err);
        CHECK(r == -E2BIG);
        CHECK(err && strstr(err, "line 1"));
        free(err);
        err = NULL;
        free(big);

        big = malloc(SLUGIGNORE_MAX_PATTERNS * 2 + 3);
        for (size_t i = 0; i < SLUGIGNORE_MAX_PATTERNS + 1; i++) {
                big[2 * i] = 'x';
                big[2 * i + 1] = '\n';
        }
        r = slugignore_parse(big, (SLUGIGNORE_MAX_PATTERNS + 1) * 2, &si, &err);
        CHECK(r == -E2BIG);
        CHECK(err && strstr(err, "1000"));
        free(err);
        free(big);
}

static void test_match_null_and_empty(void)
{
        struct slugignore *si = parse("*\n");

        CHECK(!slugignore_match(NULL, "x", false));
        CHECK(!slugignore_match(si, "", false));
        CHECK(slugignore_match(si, "x", false));
        slugignore_free(si);
}

int main(void)
{
        RUN(test_empty_and_comments);
        RUN(test_name_at_any_depth);
        RUN(test_anchored);
        RUN(test_star_does_not_cross_slash_when_anchored);
        RUN(test_dir_only);
        RUN(test_children_of_matched_dir);
        RUN(test_classes_and_question_mark);
        RUN(test_leading_double_star);
        RUN(test_negation_ignored_and_escapes);
        RUN(test_trailing_blanks_and_crlf);
        RUN(test_degenerate_patterns);
        RUN(test_errors);
        RUN(test_match_null_and_empty);
        return test_done();
}
