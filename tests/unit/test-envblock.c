#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "builder/envblock.h"
#include "test.h"

static void test_set_get(void)
{
        struct env_list *e = env_list_new();

        CHECK(env_list_set(e, "A", "1", 1) == 0);
        CHECK(env_list_set(e, "AB", "2", 1) == 0);
        CHECK(env_list_set(e, "A", "three", 5) == 0);
        CHECK(e->n == 2);
        CHECK_STREQ(env_list_get(e, "A"), "three");
        CHECK_STREQ(env_list_get(e, "AB"), "2");
        CHECK(env_list_get(e, "ABC") == NULL);
        CHECK(e->entries[2] == NULL);
        CHECK(e->size == strlen("A=three") + 1 + strlen("AB=2") + 1);
        CHECK(env_list_set(e, "1BAD", "x", 1) == -EINVAL);
        CHECK(env_list_set(e, "B", "a\0b", 3) == -EINVAL);
        CHECK(e->n == 2);
        env_list_free(e);
        env_list_free(NULL);
}

static void test_export_diff(void)
{
        static const char out[] = "PATH=/app/bin:/usr/bin\0HOME=/app\0NEW=x=y\0PWD=/app\0"
                                  "SHLVL=1\0_=/usr/bin/env\0bad-name=1\0noequals\0EMPTY=\0";
        struct env_list *base = env_list_new(), *changed = NULL;

        CHECK(env_list_set(base, "PATH", "/usr/bin", 8) == 0);
        CHECK(env_list_set(base, "HOME", "/app", 4) == 0);
        CHECK(env_export_parse(out, sizeof(out) - 1, base, &changed) == 0);
        CHECK(changed && changed->n == 3);
        CHECK_STREQ(env_list_get(changed, "PATH"), "/app/bin:/usr/bin");
        CHECK_STREQ(env_list_get(changed, "NEW"), "x=y");
        CHECK_STREQ(env_list_get(changed, "EMPTY"), "");
        CHECK(env_list_get(changed, "HOME") == NULL);
        CHECK(env_list_get(changed, "PWD") == NULL);

        CHECK(env_list_merge(base, changed) == 0);
        CHECK_STREQ(env_list_get(base, "PATH"), "/app/bin:/usr/bin");
        CHECK(base->n == 4);
        env_list_free(changed);
        env_list_free(base);
}

static void test_export_no_trailing_nul(void)
{
        struct env_list *changed = NULL;

        CHECK(env_export_parse("A=1\0B=2", 7, NULL, &changed) == 0);
        CHECK(changed && changed->n == 2);
        CHECK_STREQ(env_list_get(changed, "B"), "2");
        env_list_free(changed);
}

static void test_limits(void)
{
        struct env_list *e = env_list_new(), *changed = NULL;
        char name[16], *big;
        int r = 0;

        for (int i = 0; r == 0 && i < ENV_MAX_VARS; i++) {
                snprintf(name, sizeof(name), "V%d", i);
                r = env_list_set(e, name, "", 0);
        }
        CHECK(r == 0);
        CHECK(env_list_set(e, "ONE_MORE", "", 0) == -E2BIG);
        CHECK(env_list_set(e, "V0", "replacing is fine", 17) == 0);
        env_list_free(e);

        big = malloc(ENV_MAX_ENTRY + 8);
        memcpy(big, "X=", 2);
        memset(big + 2, 'x', ENV_MAX_ENTRY);
        CHECK(env_export_parse(big, ENV_MAX_ENTRY + 2, NULL, &changed) == -E2BIG);
        CHECK(changed == NULL);
        free(big);
}

int main(void)
{
        RUN(test_set_get);
        RUN(test_export_diff);
        RUN(test_export_no_trailing_nul);
        RUN(test_limits);
        return test_done();
}
