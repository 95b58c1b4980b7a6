#include <string.h>

#include "lib/strbuf.h"
#include "lib/utf8.h"
#include "lib/util.h"
#include "test.h"

#define V(s)                                                                                       \
        {                                                                                          \
                s, sizeof(s) - 1                                                                   \
        }

struct sample {
        const char *s;
        size_t len;
};

static void test_valid(void)
{
        static const struct sample good[] = {
            V(""),
            V("hello"),
            V("\x00"), /* NUL is valid UTF-8 */
            V("\x7f"),
            V("\xc2\x80"),         /* U+0080, smallest 2-byte */
            V("\xc3\xa9"),         /* é */
            V("\xdf\xbf"),         /* U+07FF */
            V("\xe0\xa0\x80"),     /* U+0800, smallest 3-byte */
            V("\xe2\x82\xac"),     /* € */
            V("\xed\x9f\xbf"),     /* U+D7FF, just below surrogates */
            V("\xee\x80\x80"),     /* U+E000, just above surrogates */
            V("\xef\xbf\xbd"),     /* U+FFFD */
            V("\xef\xbf\xbf"),     /* U+FFFF */
            V("\xf0\x90\x80\x80"), /* U+10000, smallest 4-byte */
            V("\xf0\x9f\x98\x80"), /* 😀 */
            V("\xf4\x8f\xbf\xbf"), /* U+10FFFF, the maximum */
            V("a\xc3\xa9z\xe2\x82\xac\xf0\x9f\x98\x80!"),
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                if (!utf8_valid(good[i].s, good[i].len))
                        printf("# good[%zu] rejected\n", i);
                CHECK(utf8_valid(good[i].s, good[i].len));
        }
        CHECK(utf8_valid(NULL, 0));
}

static void test_invalid(void)
{
        static const struct sample bad[] = {
            V("\x80"), /* lone continuation */
            V("\xbf"),
            V("a\x80"),
            V("\xc0\x80"),                 /* overlong NUL */
            V("\xc0\xaf"),                 /* overlong '/' */
            V("\xc1\xbf"),                 /* overlong */
            V("\xe0\x80\xaf"),             /* overlong 3-byte '/' */
            V("\xe0\x9f\xbf"),             /* overlong U+07FF */
            V("\xf0\x80\x80\xaf"),         /* overlong 4-byte '/' */
            V("\xf0\x8f\xbf\xbf"),         /* overlong U+FFFF */
            V("\xed\xa0\x80"),             /* U+D800 high surrogate */
            V("\xed\xbf\xbf"),             /* U+DFFF low surrogate */
            V("\xed\xa0\xbd\xed\xb8\x80"), /* CESU-8 surrogate pair */
            V("\xf4\x90\x80\x80"),         /* U+110000 */
            V("\xf5\x80\x80\x80"),
            V("\xf7\xbf\xbf\xbf"),
            V("\xf8\x88\x80\x80\x80"), /* 5-byte form */
            V("\xfc\x84\x80\x80\x80\x80"),
            V("\xfe"),
            V("\xff"),
            V("\xc3"), /* truncated */
            V("\xe2\x82"),
            V("\xf0\x9f\x98"),
            V("\xc3\x28"), /* bad continuation */
            V("\xe2\x28\xa1"),
            V("\xe2\x82\x28"),
            V("\xf0\x28\x8c\xbc"),
            V("\xf0\x90\x28\xbc"),
            V("\xf0\x90\x8c\x28"),
            V("\xc3\xa9\xc3"), /* valid then truncated */
            V("abc\xe2\x82"),
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (utf8_valid(bad[i].s, bad[i].len))
                        printf("# bad[%zu] accepted\n", i);
                CHECK(!utf8_valid(bad[i].s, bad[i].len));
        }
        CHECK(!utf8_valid(NULL, 1));
}

static void test_len_is_respected(void)
{
        /* a sequence cut by len is truncated, even if the bytes go on */
        CHECK(!utf8_valid("\xe2\x82\xac", 2));
        CHECK(utf8_valid("\xe2\x82\xac", 3));
        CHECK(utf8_valid("ab\xff", 2));
        CHECK(utf8_valid("\xff", 0));
}

static void check_term(const char *in, const char *want)
{
        struct strbuf sb = STRBUF_INIT;
        CHECK(term_sanitize(in, strlen(in), &sb) == 0);
        CHECK(sb.len == strlen(want) && (!sb.len || memcmp(sb.buf, want, sb.len) == 0));
        strbuf_release(&sb);
}

static void test_term_sanitize(void)
{
        check_term("plain\ttext", "plain\ttext");
        /* colour stays */
        check_term("\033[1;31mred\033[0m", "\033[1;31mred\033[0m");
        /* cursor movement, line rewrite, OSC 52, bell, backspace: neutered */
        check_term("ok\r\033[2Kfake", "ok??[2Kfake");
        check_term("\033]52;c;cGF5\007", "?]52;c;cGF5?");
        check_term("a\bb\x7f", "a?b?");
        /* C1 controls in UTF-8 (U+009B is a CSI), other UTF-8 untouched */
        check_term("\xc2\x9b"
                   "2J \xc3\xa9",
                   "?2J \xc3\xa9");
        /* a lone ESC, and ESC [ at the very end */
        check_term("\033", "?");
        check_term("x\033[", "x?[");
}

static void test_exhaustive_two_and_three_bytes(void)
{
        /* compare against the definition: decode, then check range and
         * minimal length */
        for (unsigned a = 0x80; a <= 0xff; a++) {
                for (unsigned b = 0; b <= 0xff; b++) {
                        char s[2] = {(char)a, (char)b};
                        int expect = a >= 0xc2 && a <= 0xdf && (b & 0xc0) == 0x80;
                        CHECK(utf8_valid(s, 2) == expect);
                }
        }
        for (unsigned a = 0xe0; a <= 0xef; a++) {
                for (unsigned b = 0x80; b <= 0xbf; b++) {
                        for (unsigned c = 0; c <= 0xff; c++) {
                                char s[3] = {(char)a, (char)b, (char)c};
                                unsigned cp = (a & 0x0f) << 12 | (b & 0x3f) << 6 | (c & 0x3f);
                                int expect = (c & 0xc0) == 0x80 && cp >= 0x800 &&
                                             !(cp >= 0xd800 && cp <= 0xdfff);
                                if (utf8_valid(s, 3) != expect) {
                                        CHECK(utf8_valid(s, 3) == expect);
                                        return;
                                }
                        }
                }
        }
}

int main(void)
{
        RUN(test_valid);
        RUN(test_invalid);
        RUN(test_len_is_respected);
        RUN(test_exhaustive_two_and_three_bytes);
        RUN(test_term_sanitize);
        return test_done();
}
