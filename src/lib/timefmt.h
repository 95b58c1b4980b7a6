/* Time stamps and their text forms.
 *
 * A time is an int64_t count of microseconds since the Unix epoch, UTC (a
 * duration, for mono_usec(), since an arbitrary point).  All formatting is in
 * UTC and writes into caller-provided buffers whose sizes are in the
 * prototypes; nothing is allocated.  Every int64_t value formats (years
 * beyond 9999 simply get more digits).
 */
#pragma once

#include <stdint.h>

#define USEC_PER_SEC INT64_C(1000000)

/* CLOCK_REALTIME: wall-clock time, for time stamps. */
int64_t now_usec(void);

/* CLOCK_MONOTONIC: for measuring intervals and timeouts. */
int64_t mono_usec(void);

/* "2026-11-26T12:00:00Z" (sub-second part dropped). */
void time_iso8601(int64_t usec, char buf[static 32]);

/* Parses "YYYY-MM-DDTHH:MM:SS" followed by an optional fraction of 1 to 9
 * digits (".677020"; digits past microseconds are dropped) and then "Z" or
 * "+00:00", nothing else: no other offsets, no lowercase 't'/'z', no leap
 * second 60, no whitespace.  Years 0000..9999.  Returns 0 or -EINVAL; *ret is
 * written only on success. */
int time_parse_iso8601(const char *s, int64_t *ret);

/* "2026-11-26T13:47:20.677020+00:00", the time stamp of log lines. */
void time_rfc3339_usec(int64_t usec, char buf[static 40]);

/* "2026/11/26 12:00:00 +0000", for people. */
void time_human(int64_t usec, char buf[static 32]);

/* "~ 12s ago", "~ 5m ago", "~ 3h ago" or "~ 2d ago", rounding down; a then
 * in the future counts as "~ 0s ago". */
void time_ago(int64_t then_usec, int64_t now_usec, char buf[static 32]);
