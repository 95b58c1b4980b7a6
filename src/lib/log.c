#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/timefmt.h"

static char log_ident[64];
static int log_max_level = LOG_INFO;

void log_set_ident(const char *ident)
{
        if (!ident) {
                log_ident[0] = '\0';
                return;
        }
        snprintf(log_ident, sizeof(log_ident), "%s", ident);
}

void log_set_level(int level)
{
        log_max_level = level;
}

static const char *level_name(int level)
{
        switch (LOG_PRI(level)) {
        case LOG_EMERG:
                return "EMERG";
        case LOG_ALERT:
                return "ALERT";
        case LOG_CRIT:
                return "CRIT";
        case LOG_ERR:
                return "ERROR";
        case LOG_WARNING:
                return "WARNING";
        case LOG_NOTICE:
                return "NOTICE";
        case LOG_INFO:
                return "INFO";
        default:
                return "DEBUG";
        }
}

static void write_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return; /* nowhere left to report it */
                }
                p += k;
                n -= (size_t)k;
        }
}

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...)
{
        int saved_errno = errno;
        int e = error == INT_MIN ? INT_MAX : (error < 0 ? -error : error);
        char buf[LOG_LINE_MAX];
        char ts[40];
        size_t n, prefix;
        va_list ap;
        int k;

        (void)file;
        (void)line;

        if (LOG_PRI(level) > log_max_level)
                goto finish;

        time_rfc3339_usec(now_usec(), ts);
        k = snprintf(buf, sizeof(buf), "%s %s[%ld]: %s ", ts,
                     log_ident[0] ? log_ident : program_invocation_short_name, (long)getpid(),
                     level_name(level));
        if (k < 0)
                goto finish;
        prefix = (size_t)k < sizeof(buf) ? (size_t)k : sizeof(buf) - 1;

        /* glibc's printf expands %m from errno. */
        errno = e;
        va_start(ap, fmt);
        k = vsnprintf(buf + prefix, sizeof(buf) - prefix, fmt, ap);
        va_end(ap);
        if (k < 0)
                k = 0;
        n = prefix + (size_t)k;
        if (n > sizeof(buf) - 2)
                n = sizeof(buf) - 2; /* truncated; keep room for '\n' */

        for (size_t i = prefix; i < n; i++) {
                if (buf[i] == '\n' || buf[i] == '\r')
                        buf[i] = ' ';
        }
        buf[n++] = '\n';
        write_all(STDERR_FILENO, buf, n);

finish:
        errno = saved_errno;
        return -e;
}
