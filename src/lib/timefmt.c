#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/timefmt.h"

static int64_t clock_usec(clockid_t clock)
{
        struct timespec ts;

        if (clock_gettime(clock, &ts) < 0)
                return 0; /* only with an invalid clock id */
        return (int64_t)ts.tv_sec * USEC_PER_SEC + ts.tv_nsec / 1000;
}

int64_t now_usec(void)
{
        return clock_usec(CLOCK_REALTIME);
}

int64_t mono_usec(void)
{
        return clock_usec(CLOCK_MONOTONIC);
}

/* Splits usec into broken-down UTC time and the microseconds within the
 * second (always 0..999999, also before 1970). */
static bool split_usec(int64_t usec, struct tm *ret_tm, int *ret_frac)
{
        int64_t sec = usec / USEC_PER_SEC, frac = usec % USEC_PER_SEC;
        time_t t;

        if (frac < 0) {
                frac += USEC_PER_SEC;
                sec--;
        }
        t = (time_t)sec;
        if ((int64_t)t != sec)
                return false; /* 32-bit time_t */
        if (!gmtime_r(&t, ret_tm))
                return false;
        *ret_frac = (int)frac;
        return true;
}

/* On the failure paths (32-bit time_t; output that cannot fit, which the
 * buffer sizes rule out for every int64_t) the buffer still gets a string. */
static void format_invalid(char *buf, size_t size)
{
        snprintf(buf, size, "(invalid time)");
}

static void check_fit(int k, char *buf, size_t size)
{
        if (k < 0 || (size_t)k >= size)
                format_invalid(buf, size);
}

void time_iso8601(int64_t usec, char buf[static 32])
{
        struct tm tm;
        int frac, k;

        if (!split_usec(usec, &tm, &frac)) {
                format_invalid(buf, 32);
                return;
        }
        k = snprintf(buf, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        check_fit(k, buf, 32);
}

void time_rfc3339_usec(int64_t usec, char buf[static 40])
{
        struct tm tm;
        int frac, k;

        if (!split_usec(usec, &tm, &frac)) {
                format_invalid(buf, 40);
                return;
        }
        k = snprintf(buf, 40, "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
        check_fit(k, buf, 40);
}

void time_human(int64_t usec, char buf[static 32])
{
        struct tm tm;
        int frac, k;

        if (!split_usec(usec, &tm, &frac)) {
                format_invalid(buf, 32);
                return;
        }
        k = snprintf(buf, 32, "%04d/%02d/%02d %02d:%02d:%02d +0000", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        check_fit(k, buf, 32);
}

void time_ago(int64_t then_usec, int64_t now, char buf[static 32])
{
        int64_t diff, sec;

        if (__builtin_sub_overflow(now, then_usec, &diff))
                diff = now > then_usec ? INT64_MAX : 0;
        if (diff < 0)
                diff = 0;
        sec = diff / USEC_PER_SEC;

        if (sec < 60)
                snprintf(buf, 32, "~ %llds ago", (long long)sec);
        else if (sec < 60 * 60)
                snprintf(buf, 32, "~ %lldm ago", (long long)(sec / 60));
        else if (sec < 24 * 60 * 60)
                snprintf(buf, 32, "~ %lldh ago", (long long)(sec / (60 * 60)));
        else
                snprintf(buf, 32, "~ %lldd ago", (long long)(sec / (24 * 60 * 60)));
}

/* Reads exactly n decimal digits. */
static bool parse_digits(const char *s, unsigned n, int *ret)
{
        int v = 0;

        for (unsigned i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (s[i] - '0');
        }
        *ret = v;
        return true;
}

static int days_in_month(int year, int month)
{
        static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

        return month == 2 && leap ? 29 : days[month - 1];
}

int time_parse_iso8601(const char *s, int64_t *ret)
{
        int year, month, day, hour, min, sec, frac = 0;
        struct tm tm = {0};
        const char *p;
        time_t t;

        if (!s || !ret)
                return -EINVAL;

        /* "YYYY-MM-DDTHH:MM:SS": check each position; a NUL anywhere stops at
         * the first mismatch, so we never read past the string. */
        if (!parse_digits(s, 4, &year) || s[4] != '-' || !parse_digits(s + 5, 2, &month) ||
            s[7] != '-' || !parse_digits(s + 8, 2, &day) || s[10] != 'T' ||
            !parse_digits(s + 11, 2, &hour) || s[13] != ':' || !parse_digits(s + 14, 2, &min) ||
            s[16] != ':' || !parse_digits(s + 17, 2, &sec))
                return -EINVAL;
        p = s + 19;

        if (*p == '.') {
                unsigned n = 0;

                p++;
                while (*p >= '0' && *p <= '9') {
                        if (n >= 9)
                                return -EINVAL;
                        if (n < 6)
                                frac = frac * 10 + (*p - '0');
                        n++;
                        p++;
                }
                if (n == 0)
                        return -EINVAL;
                for (; n < 6; n++)
                        frac *= 10;
        }

        if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
                return -EINVAL;

        if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
            min > 59 || sec > 59)
                return -EINVAL;

        tm.tm_year = year - 1900;
        tm.tm_mon = month - 1;
        tm.tm_mday = day;
        tm.tm_hour = hour;
        tm.tm_min = min;
        tm.tm_sec = sec;
        /* The fields are in range, so timegm() does not normalise anything
         * and -1 is a real time (1969-12-31T23:59:59Z), not an error. */
        t = timegm(&tm);

        *ret = (int64_t)t * USEC_PER_SEC + frac;
        return 0;
}
