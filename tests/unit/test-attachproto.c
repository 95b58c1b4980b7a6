/* The attach protocol's frames (lib/attachproto.h). */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "lib/attachproto.h"
#include "lib/strbuf.h"
#include "test.h"

static void test_round_trip(void)
{
        struct strbuf sb = STRBUF_INIT;
        CHECK(attach_frame_add(&sb, ATTACH_STDOUT, "hello", 5) == 0);
        CHECK(attach_frame_add(&sb, ATTACH_STDERR, "", 0) == 0);
        CHECK(attach_frame_add_exit(&sb, 130) == 0);
        CHECK(sb.len == 5 + 5 + 5 + 5 + 4);
        struct attach_frame f;
        size_t off = 0;
        int n = attach_frame_parse(sb.buf, sb.len, ATTACH_FROM_PIERD, &f);
        CHECK(n == 10);
        CHECK(f.type == ATTACH_STDOUT && f.len == 5 && memcmp(f.data, "hello", 5) == 0);
        off += (size_t)n;
        n = attach_frame_parse(sb.buf + off, sb.len - off, ATTACH_FROM_PIERD, &f);
        CHECK(n == 5 && f.type == ATTACH_STDERR && f.len == 0);
        off += (size_t)n;
        n = attach_frame_parse(sb.buf + off, sb.len - off, ATTACH_FROM_PIERD, &f);
        CHECK(n == 9 && f.type == ATTACH_EXIT && f.status == 130);
        strbuf_release(&sb);

        CHECK(attach_frame_add_exit(&sb, -1) == 0);
        CHECK(attach_frame_parse(sb.buf, sb.len, ATTACH_FROM_PIERD, &f) == 9 && f.status == -1);
        strbuf_release(&sb);
}

static void test_client_frames(void)
{
        struct strbuf sb = STRBUF_INIT;
        CHECK(attach_frame_add_resize(&sb, 24, 80) == 0);
        CHECK(attach_frame_add_signal(&sb, SIGINT) == 0);
        CHECK(attach_frame_add(&sb, ATTACH_STDIN, "", 0) == 0);
        struct attach_frame f;
        int n = attach_frame_parse(sb.buf, sb.len, ATTACH_FROM_CLIENT, &f);
        CHECK(n == 9 && f.type == ATTACH_RESIZE && f.rows == 24 && f.cols == 80);
        int m = attach_frame_parse(sb.buf + n, sb.len - (size_t)n, ATTACH_FROM_CLIENT, &f);
        CHECK(m == 6 && f.type == ATTACH_SIGNAL && f.signo == SIGINT);
        CHECK(attach_frame_parse(sb.buf + n + m, sb.len - (size_t)(n + m), ATTACH_FROM_CLIENT,
                                 &f) == 5);
        CHECK(f.type == ATTACH_STDIN && f.len == 0);
        /* the wrong direction */
        CHECK(attach_frame_parse(sb.buf, sb.len, ATTACH_FROM_PIERD, &f) == -EBADMSG);
        strbuf_release(&sb);
        CHECK(attach_frame_add_signal(&sb, SIGKILL) == -EINVAL);
        CHECK(attach_frame_add_signal(&sb, SIGSTOP) == -EINVAL);
        CHECK(attach_frame_add_resize(&sb, 0, 80) == -EINVAL);
        CHECK(attach_frame_add_resize(&sb, 24, ATTACH_WINSIZE_MAX + 1) == -EINVAL);
        CHECK(sb.len == 0);
}

static void test_partial(void)
{
        struct strbuf sb = STRBUF_INIT;
        CHECK(attach_frame_add(&sb, ATTACH_STDIN, "abc", 3) == 0);
        struct attach_frame f = {.len = 77};
        for (size_t i = 0; i < sb.len; i++)
                CHECK(attach_frame_parse(sb.buf, i, ATTACH_FROM_CLIENT, &f) == 0);
        CHECK(f.len == 77); /* untouched */
        CHECK(attach_frame_parse(sb.buf, sb.len, ATTACH_FROM_CLIENT, &f) == 8);
        strbuf_release(&sb);
}

static void test_hostile(void)
{
        struct attach_frame f;
        /* unknown type: refused at the first byte */
        CHECK(attach_frame_parse("\x09", 1, ATTACH_FROM_CLIENT, &f) == -EBADMSG);
        CHECK(attach_frame_parse("\xff\0\0\0\0", 5, ATTACH_FROM_CLIENT, &f) == -EBADMSG);
        /* too long, at the header already */
        CHECK(attach_frame_parse("\x00\x00\x01\x00\x01", 5, ATTACH_FROM_CLIENT, &f) == -EBADMSG);
        CHECK(attach_frame_parse("\x00\xff\xff\xff\xff", 5, ATTACH_FROM_CLIENT, &f) == -EBADMSG);
        /* exactly the maximum is fine (needs its bytes) */
        CHECK(attach_frame_parse("\x00\x00\x01\x00\x00", 5, ATTACH_FROM_CLIENT, &f) == 0);
        /* fixed sizes */
        CHECK(attach_frame_parse("\x03\0\0\0\x03", 5, ATTACH_FROM_CLIENT, &f) == -EBADMSG);
        CHECK(attach_frame_parse("\x04\0\0\0\x02", 5, ATTACH_FROM_CLIENT, &f) == -EBADMSG);
        /* bad values */
        CHECK(attach_frame_parse("\x04\0\0\0\x01\x09", 6, ATTACH_FROM_CLIENT, &f) == -EBADMSG);
        CHECK(attach_frame_parse("\x04\0\0\0\x01\x00", 6, ATTACH_FROM_CLIENT, &f) == -EBADMSG);
        CHECK(attach_frame_parse("\x03\0\0\0\x04\0\0\0\x50", 9, ATTACH_FROM_CLIENT, &f) ==
              -EBADMSG);
        CHECK(attach_frame_parse("\x03\0\0\0\x04\xff\xff\0\x50", 9, ATTACH_FROM_CLIENT, &f) ==
              -EBADMSG);
        CHECK(attach_frame_parse("\x05\0\0\0\x04\0\0\x01\x00", 9, ATTACH_FROM_PIERD, &f) ==
              -EBADMSG);
        CHECK(attach_frame_parse("\x05\0\0\0\x04\xff\xff\xff\xfe", 9, ATTACH_FROM_PIERD, &f) ==
              -EBADMSG);
        /* the client cannot send output or an exit status */
        CHECK(attach_frame_parse("\x01\0\0\0\0", 5, ATTACH_FROM_CLIENT, &f) == -EBADMSG);
        CHECK(attach_frame_parse("\x05\0\0\0\x04\0\0\0\0", 9, ATTACH_FROM_CLIENT, &f) ==
              -EBADMSG);
        CHECK(attach_frame_parse("", 0, ATTACH_FROM_CLIENT, &f) == 0);
        struct strbuf sb = STRBUF_INIT;
        char big[ATTACH_FRAME_MAX + 1] = {0};
        CHECK(attach_frame_add(&sb, ATTACH_STDIN, big, sizeof(big)) == -EINVAL);
        CHECK(attach_frame_add(&sb, ATTACH_STDIN, big, ATTACH_FRAME_MAX) == 0);
        CHECK(attach_frame_parse(sb.buf, sb.len, ATTACH_FROM_CLIENT, &f) ==
              ATTACH_HEADER_SIZE + ATTACH_FRAME_MAX);
        strbuf_release(&sb);
}

int main(void)
{
        RUN(test_round_trip);
        RUN(test_client_frames);
        RUN(test_partial);
        RUN(test_hostile);
        return test_done();
}
