/* dyno/envfile.c: the NUL-separated env file pierd hands pier-dyno. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dyno/envfile.h"
#include "lib/util.h"
#include "test.h"

#define LIT(s) (s), sizeof(s) - 1

static void test_parse(void)
{
        struct dyno_env *env = NULL;
        static const char data[] = "A=1\0B=with space\0C=multi\nline \"q\" 'x'\0EMPTY=\0"
                                   "EQ=a=b\0A=2";
        CHECK(dyno_env_parse(data, sizeof(data) - 1, &env) == 0);
        if (!env)
                return;
        CHECK(env->n == 5);
        CHECK_STREQ(dyno_env_get(env, "A"), "2"); /* later wins, first place kept */
        CHECK_STREQ(env->names[0], "A");
        CHECK_STREQ(dyno_env_get(env, "B"), "with space");
        CHECK_STREQ(dyno_env_get(env, "C"), "multi\nline \"q\" 'x'");
        CHECK_STREQ(dyno_env_get(env, "EMPTY"), "");
        CHECK_STREQ(dyno_env_get(env, "EQ"), "a=b");
        CHECK(dyno_env_get(env, "NOPE") == NULL);

        CHECK(dyno_env_set(env, "HOME", "/app") == 0);
        CHECK(dyno_env_set(env, "B", "b") == 0);
        CHECK(dyno_env_set(env, "1BAD", "x") == -EINVAL);
        CHECK(env->n == 6);

        char **v = NULL;
        CHECK(dyno_env_strv(env, &v) == 0);
        if (v) {
                CHECK_STREQ(v[0], "A=2");
                CHECK_STREQ(v[1], "B=b");
                CHECK_STREQ(v[5], "HOME=/app");
                CHECK(v[6] == NULL);
        }
        dyno_env_strv_free(v);
        dyno_env_free(env);
}

static void test_edges(void)
{
        struct dyno_env *env = NULL;

        CHECK(dyno_env_parse("", 0, &env) == 0);
        CHECK(env && env->n == 0);
        dyno_env_free(env);
        env = NULL;
        /* trailing NUL, empty entries */
        CHECK(dyno_env_parse(LIT("\0\0X=1\0\0"), &env) == 0);
        CHECK(env && env->n == 1);
        dyno_env_free(env);

        env = (struct dyno_env *)0x1;
        CHECK(dyno_env_parse(LIT("NOEQUALS\0"), &env) == -EINVAL);
        CHECK(dyno_env_parse(LIT("=x\0"), &env) == -EINVAL);
        CHECK(dyno_env_parse(LIT("A B=x\0"), &env) == -EINVAL);
        CHECK(dyno_env_parse(LIT("A=1\0B-C=2\0"), &env) == -EINVAL);
        CHECK(env == (struct dyno_env *)0x1);
        dyno_env_free(NULL);
}

static void test_bounds(void)
{
        struct dyno_env *env = (struct dyno_env *)0x1;
        size_t size = (DYNO_ENV_MAX_VARS + 1) * 8;
        char *buf = malloc(size);
        size_t len = 0;

        CHECK(buf != NULL);
        if (!buf)
                return;
        for (int i = 0; i <= DYNO_ENV_MAX_VARS; i++)
                len += (size_t)snprintf(buf + len, size - len, "V%d=", i) + 1;
        CHECK(dyno_env_parse(buf, len, &env) == -E2BIG);
        CHECK(env == (struct dyno_env *)0x1);
        CHECK(dyno_env_parse(buf, DYNO_ENV_MAX_SIZE + 1, &env) == -E2BIG);
        free(buf);
}

int main(void)
{
        RUN(test_parse);
        RUN(test_edges);
        RUN(test_bounds);
        return test_done();
}
