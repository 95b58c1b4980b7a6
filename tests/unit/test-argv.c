/* argv: the growing argument vector. */
#include <string.h>

#include "lib/argv.h"
#include "test.h"

static void test_add_and_terminate(void)
{
        struct argv a = {0};
        argv_add(&a, "bwrap");
        argv_addf(&a, "--uid=%u", 1000u);
        CHECK(!a.oom);
        CHECK(a.n == 2);
        CHECK_STREQ(a.v[0], "bwrap");
        CHECK_STREQ(a.v[1], "--uid=1000");
        CHECK(a.v[2] == NULL);
        argv_done(&a);
        CHECK(a.v == NULL && a.n == 0 && !a.oom);
        argv_done(&a); /* twice is fine */
}

static void test_grows(void)
{
        struct argv a = {0};
        for (int i = 0; i < 1000; i++)
                argv_addf(&a, "%d", i);
        CHECK(!a.oom && a.n == 1000);
        CHECK_STREQ(a.v[999], "999");
        CHECK(a.v[1000] == NULL);
        argv_done(&a);
}

static void test_too_long_is_sticky(void)
{
        struct argv a = {0};
        char big[5000];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        argv_add(&a, big); /* plain adds have no size limit */
        CHECK(!a.oom && strlen(a.v[0]) == sizeof(big) - 1);
        argv_addf(&a, "%s", big); /* a formatted one over 4 KiB fails */
        CHECK(a.oom);
        argv_add(&a, "after");
        CHECK(a.n == 1); /* nothing more is added once failed */
        argv_done(&a);
}

int main(void)
{
        RUN(test_add_and_terminate);
        RUN(test_grows);
        RUN(test_too_long_is_sticky);
        return test_done();
}
