#include <stdlib.h>
#include <string.h>

#include "lib/jsonscan.h"
#include "test.h"

static bool ok(const char *s, unsigned depth)
{
        return json_depth_ok(s, strlen(s), depth);
}

static void test_basic(void)
{
        CHECK(ok("", 0));
        CHECK(ok("1", 0));
        CHECK(ok("\"x\"", 0));
        CHECK(!ok("[]", 0));
        CHECK(ok("[]", 1));
        CHECK(ok("{}", 1));
        CHECK(ok("{\"a\":[1,2,3]}", 2));
        CHECK(!ok("{\"a\":[1,2,3]}", 1));
        CHECK(ok("[[[]]]", 3));
        CHECK(!ok("[[[]]]", 2));
        CHECK(ok("{\"a\":{\"b\":{}}}", 3));
        CHECK(!ok("{\"a\":{\"b\":{}}}", 2));
        /* siblings do not add up */
        CHECK(ok("[[],[],[],{},{}]", 2));
        CHECK(ok("[[1],[2],[3]] [[4]]", 2));
        CHECK(json_depth_ok(NULL, 0, 0));
        CHECK(!json_depth_ok(NULL, 5, 0));
}

static void test_strings(void)
{
        /* brackets inside strings do not count */
        CHECK(ok("\"[[[[[[[[\"", 0));
        CHECK(ok("{\"k\":\"{{{{{{\"}", 1));
        /* escaped quote does not end the string */
        CHECK(ok("[\"\\\"[[[[[[\"]", 1));
        /* escaped backslash then quote does end it */
        CHECK(!ok("[\"\\\\\"[[[[[[\"]", 1));
        CHECK(ok("[\"\\\\\"]", 1));
        /* \u escapes are plain characters to the scanner */
        CHECK(ok("[\"\\u005b\\u005b\"]", 1));
        /* an unterminated string swallows the rest */
        CHECK(ok("\"[[[[", 0));
        /* a backslash outside a string is not an escape */
        CHECK(!ok("\\[", 0));
}

static void test_unbalanced(void)
{
        /* closers never push the depth below zero, so they cannot "bank"
         * room for later openers */
        CHECK(!ok("]]]]]][[[[[[", 2));
        CHECK(ok("]]]]]][[", 2));
        CHECK(!ok("}}}[[[", 2));
        /* mismatched kinds still count as nesting */
        CHECK(!ok("[{[", 2));
        CHECK(ok("[}[}[}", 1));
}

static void test_len_respected(void)
{
        CHECK(json_depth_ok("[[[[", 2, 2));
        CHECK(!json_depth_ok("[[[[", 3, 2));
        /* NUL bytes are just bytes */
        CHECK(!json_depth_ok("[\0[", 3, 1));
}

static void test_deep(void)
{
        size_t n = 1000000;
        char *s = malloc(2 * n);

        CHECK(s);
        if (!s)
                return;
        memset(s, '[', n);
        memset(s + n, ']', n);
        CHECK(json_depth_ok(s, 2 * n, (unsigned)n));
        CHECK(!json_depth_ok(s, 2 * n, (unsigned)n - 1));
        CHECK(!json_depth_ok(s, 2 * n, 64));
        CHECK(json_depth_ok(s, 2 * n, ~0u));
        free(s);
}

int main(void)
{
        RUN(test_basic);
        RUN(test_strings);
        RUN(test_unbalanced);
        RUN(test_len_respected);
        RUN(test_deep);
        return test_done();
}
