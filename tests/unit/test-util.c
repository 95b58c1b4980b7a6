#include <fcntl.h>
#include <inttypes.h>

#include "lib/util.h"
#include "test.h"

static int free_count;

struct thing {
        int v;
};

static void thing_free(struct thing *t)
{
        free_count++;
        free(t);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct thing *, thing_free);

static void test_safe_atoi64(void)
{
        int64_t v = 42;

        CHECK(safe_atoi64("0", &v) == 0 && v == 0);
        CHECK(safe_atoi64("-0", &v) == 0 && v == 0);
        CHECK(safe_atoi64("123", &v) == 0 && v == 123);
        CHECK(safe_atoi64("-123", &v) == 0 && v == -123);
        CHECK(safe_atoi64("007", &v) == 0 && v == 7);
        CHECK(safe_atoi64("9223372036854775807", &v) == 0 && v == INT64_MAX);
        CHECK(safe_atoi64("-9223372036854775808", &v) == 0 && v == INT64_MIN);

        v = 42;
        CHECK(safe_atoi64("9223372036854775808", &v) == -ERANGE);
        CHECK(safe_atoi64("-9223372036854775809", &v) == -ERANGE);
        CHECK(safe_atoi64("99999999999999999999999999", &v) == -ERANGE);
        CHECK(safe_atoi64("18446744073709551616", &v) == -ERANGE);
        CHECK(v == 42);

        CHECK(safe_atoi64("", &v) == -EINVAL);
        CHECK(safe_atoi64("-", &v) == -EINVAL);
        CHECK(safe_atoi64("--1", &v) == -EINVAL);
        CHECK(safe_atoi64("+1", &v) == -EINVAL);
        CHECK(safe_atoi64(" 1", &v) == -EINVAL);
        CHECK(safe_atoi64("1 ", &v) == -EINVAL);
        CHECK(safe_atoi64("1\n", &v) == -EINVAL);
        CHECK(safe_atoi64("0x10", &v) == -EINVAL);
        CHECK(safe_atoi64("1e3", &v) == -EINVAL);
        CHECK(safe_atoi64("1.0", &v) == -EINVAL);
        CHECK(safe_atoi64("12a", &v) == -EINVAL);
        CHECK(safe_atoi64("99999999999999999999999x", &v) == -EINVAL);
        CHECK(safe_atoi64(NULL, &v) == -EINVAL);
        CHECK(v == 42);
}

static void test_safe_atou16(void)
{
        uint16_t v = 7;

        CHECK(safe_atou16("0", &v) == 0 && v == 0);
        CHECK(safe_atou16("80", &v) == 0 && v == 80);
        CHECK(safe_atou16("65535", &v) == 0 && v == 65535);
        CHECK(safe_atou16("00065535", &v) == 0 && v == 65535);

        v = 7;
        CHECK(safe_atou16("65536", &v) == -ERANGE);
        CHECK(safe_atou16("4294967296", &v) == -ERANGE);
        CHECK(safe_atou16("18446744073709551617", &v) == -ERANGE);
        CHECK(safe_atou16("-1", &v) == -EINVAL);
        CHECK(safe_atou16("-0", &v) == -EINVAL);
        CHECK(safe_atou16("+1", &v) == -EINVAL);
        CHECK(safe_atou16("", &v) == -EINVAL);
        CHECK(safe_atou16(" 80", &v) == -EINVAL);
        CHECK(safe_atou16("80 ", &v) == -EINVAL);
        CHECK(safe_atou16("8o", &v) == -EINVAL);
        CHECK(safe_atou16(NULL, &v) == -EINVAL);
        CHECK(v == 7);
}

static void test_take(void)
{
        _cleanup_free_ char *p = strdup("x");
        char *q;
        _cleanup_close_ int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int fd2;

        CHECK(p);
        q = TAKE_PTR(p);
        CHECK(p == NULL);
        CHECK(q && streq(q, "x"));
        free(q);

        CHECK(fd >= 0);
        fd2 = TAKE_FD(fd);
        CHECK(fd == -EBADF);
        CHECK(fd2 >= 0);
        CHECK(fcntl(fd2, F_GETFD) >= 0);
        close(fd2);
}

static void test_cleanup_close(void)
{
        int saved;

        {
                _cleanup_close_ int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                saved = fd;
                CHECK(fd >= 0);
                errno = ENOENT;
        }
        /* closed, and errno preserved */
        CHECK(fcntl(saved, F_GETFD) < 0 && errno == EBADF);

        {
                _cleanup_close_ int fd = -EBADF;
                (void)fd;
        }
        {
                _cleanup_close_ int fd = -1;
                (void)fd;
        }

        {
                _cleanup_fclose_ FILE *f = fopen("/dev/null", "re");
                CHECK(f);
                errno = EPERM;
        }
        CHECK(errno == EPERM);
        {
                _cleanup_fclose_ FILE *f = NULL;
                (void)f;
        }
}

static void test_trivial_cleanup(void)
{
        free_count = 0;
        {
                __attribute__((cleanup(thing_freep))) struct thing *t = calloc(1, sizeof(*t));
                CHECK(t);
        }
        CHECK(free_count == 1);
        {
                __attribute__((cleanup(thing_freep))) struct thing *t = NULL;
                (void)t;
        }
        CHECK(free_count == 1);
}

static void test_misc(void)
{
        int a[7];
        char *p;
        int i = 0;

        CHECK(ELEMENTSOF(a) == 7);
        CHECK(streq("abc", "abc"));
        CHECK(!streq("abc", "abd"));
        CHECK(strneq("abcdef", "abcxyz", 3));
        CHECK(!strneq("abcdef", "abcxyz", 4));
        CHECK(MIN(3, 5) == 3);
        CHECK(MAX(3, 5) == 5);
        CHECK(MIN(-1, 2) == -1);
        /* arguments are evaluated once */
        CHECK(MAX(i++, 0) == 0 && i == 1);

        p = malloc(10);
        CHECK(p);
        p = mfree(p);
        CHECK(p == NULL);

        CHECK(strdup_or_null(NULL) == NULL);
        p = strdup_or_null("hello");
        CHECK_STREQ(p, "hello");
        free(p);
}

int main(void)
{
        RUN(test_safe_atoi64);
        RUN(test_safe_atou16);
        RUN(test_take);
        RUN(test_cleanup_close);
        RUN(test_trivial_cleanup);
        RUN(test_misc);
        return test_done();
}
