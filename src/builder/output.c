#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "builder/output.h"
#include "lib/strbuf.h"
#include "lib/util.h"

static bool broken;
static bool mid_line;   /* the last byte written was not a newline */
static bool step_open;  /* ... because output_step_begin() wrote a header */
static size_t streamed; /* bytes of child output passed on */
static bool truncated;

bool output_broken(void)
{
        return broken;
}

static void write_all(const char *buf, size_t n)
{
        while (n > 0 && !broken) {
                ssize_t k = write(STDOUT_FILENO, buf, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        /* EPIPE (SIGPIPE is ignored) or worse: nobody is
                         * listening any more. */
                        broken = true;
                        return;
                }
                buf += k;
                n -= (size_t)k;
        }
}

static void line(const char *prefix, bool newline, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void line(const char *prefix, bool newline, const char *fmt, va_list ap)
{
        struct strbuf sb = STRBUF_INIT;
        _cleanup_free_ char *text = NULL;
        int n;

        n = vasprintf(&text, fmt, ap);
        if (n < 0)
                return;
        for (char *p = text; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = '?';
        if ((prefix && mid_line && strbuf_addch(&sb, '\n') < 0) ||
            strbuf_addstr(&sb, prefix ? prefix : "") < 0 || strbuf_add(&sb, text, (size_t)n) < 0 ||
            (newline && strbuf_addch(&sb, '\n') < 0)) {
                strbuf_release(&sb);
                return;
        }
        mid_line = !newline;
        step_open = !newline;
        write_all(sb.buf, sb.len);
        strbuf_release(&sb);
}

void output_step(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        line("-----> ", true, fmt, ap);
        va_end(ap);
}

void output_step_begin(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        line("-----> ", false, fmt, ap);
        va_end(ap);
}

void output_step_end(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        if (step_open)
                line(NULL, true, fmt, ap);
        else
                line("-----> ", true, fmt, ap);
        va_end(ap);
}

void output_detail(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        line("       ", true, fmt, ap);
        va_end(ap);
}

void output_stream(const char *buf, size_t n)
{
        size_t room;

        if (truncated || n == 0)
                return;
        step_open = false;
        room = OUTPUT_STREAM_MAX - streamed;
        if (n > room) {
                write_all(buf, room);
                streamed += room;
                truncated = true;
                mid_line = room > 0 ? buf[room - 1] != '\n' : mid_line;
                output_step("Build output truncated: more than %u MiB; the build goes on "
                            "without showing more",
                            OUTPUT_STREAM_MAX / (1024 * 1024));
                return;
        }
        write_all(buf, n);
        streamed += n;
        mid_line = buf[n - 1] != '\n';
}
