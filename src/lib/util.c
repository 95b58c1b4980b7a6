#include "lib/util.h"

/* Parses the digits of s (at least one, nothing else) as a magnitude no
 * larger than limit. */
static int parse_magnitude(const char *s, uint64_t limit, uint64_t *ret)
{
        uint64_t v = 0;

        if (!*s)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
        }
        /* Validate the whole string first so that "99999999999999999999x" is
         * -EINVAL rather than -ERANGE. */
        for (const char *p = s; *p; p++) {
                unsigned d = (unsigned)(*p - '0');
                if (v > (limit - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

int safe_atoi64(const char *s, int64_t *ret)
{
        bool negative = false;
        uint64_t v;
        int r;

        if (!s || !ret)
                return -EINVAL;
        if (*s == '-') {
                negative = true;
                s++;
        }
        r = parse_magnitude(s, negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, &v);
        if (r < 0)
                return r;
        if (negative)
                *ret = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
        else
                *ret = (int64_t)v;
        return 0;
}

int safe_atou16(const char *s, uint16_t *ret)
{
        uint64_t v;
        int r;

        if (!s || !ret)
                return -EINVAL;
        r = parse_magnitude(s, UINT16_MAX, &v);
        if (r < 0)
                return r;
        *ret = (uint16_t)v;
        return 0;
}
