#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "test.h"

/* Runs the logging calls with stderr pointed at a pipe and returns what
 * was written. */
static int capture_pipe[2] = {-1, -1};
static int saved_stderr = -1;

static void capture_begin(void)
{
        CHECK(pipe2(capture_pipe, O_CLOEXEC | O_NONBLOCK) == 0);
        saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        CHECK(saved_stderr >= 0);
        CHECK(dup2(capture_pipe[1], STDERR_FILENO) == STDERR_FILENO);
}

static char *capture_end(void)
{
        static char buf[65536];
        size_t n = 0;
        ssize_t k;

        CHECK(dup2(saved_stderr, STDERR_FILENO) == STDERR_FILENO);
        close(saved_stderr);
        close(capture_pipe[1]);
        while (n < sizeof(buf) - 1 && (k = read(capture_pipe[0], buf + n, sizeof(buf) - 1 - n)) > 0)
                n += (size_t)k;
        close(capture_pipe[0]);
        buf[n] = '\0';
        return buf;
}

static bool matches(const char *s, const char *pattern)
{
        regex_t re;
        bool m;

        if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
                return false;
        m = regexec(&re, s, 0, NULL, 0) == 0;
        regfree(&re);
        return m;
}

static void test_format(void)
{
        char *out, pattern[256];
        int r;

        log_set_ident("pierd");
        log_set_level(LOG_INFO);
        capture_begin();
        r = log_info("hello %s %d", "world", 42);
        out = capture_end();

        CHECK(r == 0);
        snprintf(pattern, sizeof(pattern),
                 "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}\\+00:00 "
                 "pierd\\[%ld\\]: INFO hello world 42\n$",
                 (long)getpid());
        if (!matches(out, pattern))
                printf("# got: %s", out);
        CHECK(matches(out, pattern));
}

static void test_errno(void)
{
        char *out;
        int r;

        log_set_ident("pier");
        capture_begin();
        errno = EAGAIN;
        r = log_error_errno(-ENOENT, "opening %s: %m", "/x");
        CHECK(r == -ENOENT);
        /* errno is preserved */
        CHECK(errno == EAGAIN);
        /* positive errors work the same */
        r = log_warning_errno(EACCES, "trying: %m");
        CHECK(r == -EACCES);
        out = capture_end();

        CHECK(strstr(out, " pier[") != NULL);
        CHECK(strstr(out, "]: ERROR opening /x: No such file or directory\n") != NULL);
        CHECK(strstr(out, "]: WARNING trying: Permission denied\n") != NULL);
}

static void test_levels(void)
{
        char *out;

        log_set_ident("t");
        log_set_level(LOG_WARNING);
        capture_begin();
        CHECK(log_debug("dropped-debug") == 0);
        CHECK(log_info("dropped-info") == 0);
        CHECK(log_notice("dropped-notice") == 0);
        /* filtered messages still return the error */
        CHECK(log_full_errno(LOG_INFO, -EIO, "dropped-errno") == -EIO);
        CHECK(log_warning("kept-warning") == 0);
        CHECK(log_error("kept-error") == 0);
        out = capture_end();

        CHECK(strstr(out, "dropped") == NULL);
        CHECK(strstr(out, "WARNING kept-warning\n") != NULL);
        CHECK(strstr(out, "ERROR kept-error\n") != NULL);

        log_set_level(LOG_DEBUG);
        capture_begin();
        log_debug("now-visible");
        log_notice("n");
        out = capture_end();
        CHECK(strstr(out, "DEBUG now-visible\n") != NULL);
        CHECK(strstr(out, "NOTICE n\n") != NULL);
        log_set_level(LOG_INFO);
}

static void test_one_line_and_truncation(void)
{
        char *out, *big;
        size_t lines = 0;

        log_set_ident("t");
        capture_begin();
        /* newlines in a message cannot forge a second log line */
        log_info("a\nt[1]: ERROR forged\r\nb");
        out = capture_end();
        for (const char *p = out; *p; p++)
                lines += *p == '\n';
        CHECK(lines == 1);
        CHECK(strstr(out, "INFO a t[1]: ERROR forged  b\n") != NULL);

        big = malloc(10000);
        CHECK(big);
        if (!big)
                return;
        memset(big, 'x', 9999);
        big[9999] = '\0';
        capture_begin();
        log_info("%s", big);
        out = capture_end();
        CHECK(strlen(out) == LOG_LINE_MAX - 1);
        CHECK(out[strlen(out) - 1] == '\n');
        CHECK(strchr(out, '\n') == out + strlen(out) - 1);
        free(big);
}

static void test_ident(void)
{
        char *out;
        char longident[200];

        memset(longident, 'i', sizeof(longident) - 1);
        longident[sizeof(longident) - 1] = '\0';
        log_set_ident(longident);
        capture_begin();
        log_info("x");
        out = capture_end();
        /* cut to 63 bytes */
        CHECK(strstr(out, " iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii[") !=
              NULL);

        /* the copy does not depend on the caller's buffer */
        memcpy(longident, "mine", 5);
        log_set_ident(longident);
        longident[0] = 'X';
        capture_begin();
        log_info("y");
        out = capture_end();
        CHECK(strstr(out, " mine[") != NULL);

        /* NULL falls back to the program name */
        log_set_ident(NULL);
        capture_begin();
        log_info("z");
        out = capture_end();
        CHECK(strstr(out, " test-log[") != NULL);
}

int main(void)
{
        RUN(test_format);
        RUN(test_errno);
        RUN(test_levels);
        RUN(test_one_line_and_truncation);
        RUN(test_ident);
        return test_done();
}
