#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "test.h"

static void test_init_and_detach_empty(void)
{
        struct strbuf sb = STRBUF_INIT;
        size_t len = 99;
        char *s;

        CHECK(sb.buf == NULL && sb.len == 0 && sb.alloc == 0);
        s = strbuf_detach(&sb, &len);
        CHECK_STREQ(s, "");
        CHECK(len == 0);
        CHECK(sb.buf == NULL && sb.len == 0 && sb.alloc == 0);
        free(s);

        /* ret_len may be NULL */
        s = strbuf_detach(&sb, NULL);
        CHECK_STREQ(s, "");
        free(s);

        strbuf_release(&sb);
        strbuf_release(&sb);
}

static void test_add(void)
{
        struct strbuf sb = STRBUF_INIT;
        size_t len;
        char *s;

        CHECK(strbuf_addstr(&sb, "hello") == 0);
        CHECK(sb.len == 5 && sb.alloc > 5);
        CHECK_STREQ(sb.buf, "hello");
        CHECK(strbuf_addch(&sb, ',') == 0);
        CHECK(strbuf_addch(&sb, ' ') == 0);
        CHECK(strbuf_add(&sb, "world!!!", 5) == 0);
        CHECK_STREQ(sb.buf, "hello, world");
        CHECK(strbuf_add(&sb, NULL, 0) == 0);
        CHECK(strbuf_addstr(&sb, "") == 0);
        CHECK(sb.len == 12);
        CHECK(sb.buf[sb.len] == '\0');

        s = strbuf_detach(&sb, &len);
        CHECK_STREQ(s, "hello, world");
        CHECK(len == 12);
        CHECK(sb.buf == NULL && sb.len == 0);
        free(s);
}

static void test_add_zero_len_allocates(void)
{
        struct strbuf sb = STRBUF_INIT;

        CHECK(strbuf_add(&sb, NULL, 0) == 0);
        CHECK(sb.buf && sb.buf[0] == '\0' && sb.len == 0);
        strbuf_release(&sb);
}

static void test_binary(void)
{
        struct strbuf sb = STRBUF_INIT;
        const char data[] = {'a', '\0', 'b', '\0'};

        CHECK(strbuf_add(&sb, data, sizeof(data)) == 0);
        CHECK(sb.len == 4);
        CHECK(memcmp(sb.buf, data, 4) == 0);
        CHECK(sb.buf[4] == '\0');
        strbuf_release(&sb);
}

static void test_addf(void)
{
        struct strbuf sb = STRBUF_INIT;
        char big[1000];

        CHECK(strbuf_addf(&sb, "%d-%s-%c", 42, "x", 'y') == 0);
        CHECK_STREQ(sb.buf, "42-x-y");
        CHECK(strbuf_addf(&sb, "%s", "") == 0);
        CHECK_STREQ(sb.buf, "42-x-y");

        /* forces the grow-and-retry path */
        memset(big, 'z', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        CHECK(strbuf_addf(&sb, "[%s]", big) == 0);
        CHECK(sb.len == 6 + 2 + 999);
        CHECK(sb.buf[6] == '[' && sb.buf[7] == 'z' && sb.buf[sb.len - 1] == ']');
        CHECK(strlen(sb.buf) == sb.len);

        /* many small appends */
        strbuf_reset(&sb);
        for (int i = 0; i < 10000; i++)
                CHECK(strbuf_addf(&sb, "%d,", i % 10) == 0);
        CHECK(sb.len == 20000);
        CHECK(strlen(sb.buf) == 20000);
        CHECK(sb.buf[0] == '0' && sb.buf[19998] == '9');
        strbuf_release(&sb);
}

static void test_reset_keeps_memory(void)
{
        struct strbuf sb = STRBUF_INIT;
        char *p;
        size_t alloc;

        CHECK(strbuf_addstr(&sb, "something long enough") == 0);
        p = sb.buf;
        alloc = sb.alloc;
        strbuf_reset(&sb);
        CHECK(sb.len == 0 && sb.buf == p && sb.alloc == alloc);
        CHECK_STREQ(sb.buf, "");
        CHECK(strbuf_addstr(&sb, "ab") == 0);
        CHECK_STREQ(sb.buf, "ab");
        strbuf_release(&sb);
        CHECK(sb.buf == NULL && sb.len == 0 && sb.alloc == 0);

        /* reset on an empty strbuf is fine */
        strbuf_reset(&sb);
        CHECK(sb.buf == NULL);
}

static void test_self_append(void)
{
        struct strbuf sb = STRBUF_INIT;

        CHECK(strbuf_addstr(&sb, "abc") == 0);
        /* doubling from its own buffer must survive a realloc */
        for (int i = 0; i < 12; i++)
                CHECK(strbuf_add(&sb, sb.buf, sb.len) == 0);
        CHECK(sb.len == 3u << 12);
        CHECK(strncmp(sb.buf, "abcabcabc", 9) == 0);
        CHECK(strncmp(sb.buf + sb.len - 3, "abc", 3) == 0);
        strbuf_release(&sb);
}

static void test_overflow(void)
{
        struct strbuf sb = STRBUF_INIT;

        CHECK(strbuf_addstr(&sb, "abc") == 0);
        /* sizes whose arithmetic would overflow fail before any allocation
         * and leave sb intact (an allocation of ~SIZE_MAX would make ASan
         * abort, so that case is not exercised here) */
        CHECK(strbuf_add(&sb, "x", SIZE_MAX) == -ENOMEM);
        CHECK(strbuf_add(&sb, "x", SIZE_MAX - 3) == -ENOMEM);
        CHECK(sb.len == 3);
        CHECK_STREQ(sb.buf, "abc");
        strbuf_release(&sb);
}

int main(void)
{
        RUN(test_init_and_detach_empty);
        RUN(test_add);
        RUN(test_add_zero_len_allocates);
        RUN(test_binary);
        RUN(test_addf);
        RUN(test_reset_keeps_memory);
        RUN(test_self_append);
        RUN(test_overflow);
        return test_done();
}
