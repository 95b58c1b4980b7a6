/* Logging for daemons and command-line tools.  Library code (src/lib,
 * src/net, src/store) never logs: it returns an error and its caller logs
 * once, with context.
 *
 * Each message becomes one line on stderr, written with a single write():
 *
 *     2026-11-26T13:47:20.677020+00:00 pierd[4242]: ERROR starting web.1: No such file or directory
 *
 * State is process-global (the ident and the maximum level) and not
 * thread-safe to change; set it once at start-up.  log_set_ident() copies
 * the string (up to 63 bytes), so the argument need not outlive the call.
 *
 * In a format, "%m" expands to strerror() of the error passed in (the r of
 * log_error_errno(r, ...)), not of errno.  Messages longer than LOG_LINE_MAX
 * are truncated, and newlines inside a message become spaces so that one
 * message is always one line.
 *
 * The *_errno() macros return -abs(r), so an error path reads
 *
 *     if (r < 0)
 *             return log_error_errno(r, "loading %s: %m", path);
 *
 * The other macros return 0.  errno is preserved across all calls.
 */
#pragma once

#include <syslog.h>

#define LOG_LINE_MAX 4096

/* Defaults to program_invocation_short_name. */
void log_set_ident(const char *ident);

/* Messages with a level numerically above this (less severe) are dropped.
 * Defaults to LOG_INFO. */
void log_set_level(int level);

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define log_full_errno(level, error, ...)                                                          \
        log_internal((level), (error), __FILE__, __LINE__, __VA_ARGS__)

#define log_debug(...)   log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)    log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)  log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)   log_full_errno(LOG_ERR, 0, __VA_ARGS__)

#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, (error), __VA_ARGS__)
#define log_error_errno(error, ...)   log_full_errno(LOG_ERR, (error), __VA_ARGS__)
