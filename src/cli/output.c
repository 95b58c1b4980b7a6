/* Output helpers shared by the commands: JSON, aligned "Label: value"
 * lists, times, and config values, which may hold any byte but NUL. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lib/base64.h"
#include "lib/strbuf.h"
#include "lib/timefmt.h"
#include "lib/utf8.h"
#include "lib/util.h"

int print_json(const json_t *json)
{
        /* Objects keep their keys in the order pierd sent them. */
        if (json_dumpf(json, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY) < 0) {
                cli_error("writing JSON failed");
                return -EIO;
        }
        fputc('\n', stdout);
        return 0;
}

size_t display_width(const char *s)
{
        size_t n = 0;

        /* Count code points: every byte that is not a continuation byte. */
        for (; *s; s++)
                if (((unsigned char)*s & 0xc0) != 0x80)
                        n++;
        return n;
}

void print_padded(const char *s, size_t width)
{
        size_t w = display_width(s);

        fputs(s, stdout);
        for (; w < width; w++)
                fputc(' ', stdout);
}

void print_fields(const struct field *fields, size_t n, size_t min_width)
{
        size_t width = min_width;

        for (size_t i = 0; i < n; i++)
                width = MAX(width, display_width(fields[i].label) + 1);
        for (size_t i = 0; i < n; i++) {
                fputs(fields[i].label, stdout);
                fputc(':', stdout);
                for (size_t w = display_width(fields[i].label) + 1; w < width + 1; w++)
                        fputc(' ', stdout);
                fwrite(fields[i].value, 1, fields[i].value_len, stdout);
                fputc('\n', stdout);
        }
}

int format_time(const char *iso, bool with_ago, char **ret)
{
        struct strbuf sb = STRBUF_INIT;
        char human[32], ago[32];
        int64_t t;
        int r;

        if (!iso)
                iso = "";
        if (time_parse_iso8601(iso, &t) < 0)
                r = strbuf_addstr(&sb, iso);
        else {
                time_human(t, human);
                if (with_ago) {
                        time_ago(t, now_usec(), ago);
                        r = strbuf_addf(&sb, "%s (%s)", human, ago);
                } else
                        r = strbuf_addstr(&sb, human);
        }
        if (r < 0)
                goto oom;
        *ret = strbuf_detach(&sb, NULL);
        if (!*ret)
                goto oom;
        return 0;
oom:
        strbuf_release(&sb);
        cli_error("out of memory");
        return -ENOMEM;
}

int config_value_decode(const json_t *v, char **ret, size_t *ret_len)
{
        const json_t *b64;
        void *bytes;
        size_t len;
        int r;

        if (json_is_string(v)) {
                len = json_string_length(v);
                bytes = malloc(len + 1);
                if (!bytes)
                        goto oom;
                memcpy(bytes, json_string_value(v), len + 1);
                *ret = bytes;
                *ret_len = len;
                return 0;
        }
        b64 = json_object_get(v, "base64");
        if (!json_is_string(b64)) {
                cli_error("pierd sent a config value that is neither a string nor "
                          "{\"base64\": ...}");
                return -EBADMSG;
        }
        r = base64_decode(json_string_value(b64), json_string_length(b64), &bytes, &len);
        if (r == -ENOMEM)
                goto oom;
        if (r < 0) {
                cli_error("pierd sent a config value that is not valid base64");
                return r;
        }
        *ret = bytes;
        *ret_len = len;
        return 0;
oom:
        cli_error("out of memory");
        return -ENOMEM;
}

int config_value_encode(const char *value, size_t len, json_t **ret)
{
        _cleanup_free_ char *b64 = NULL;
        json_t *v = NULL;

        /* JSON strings carry UTF-8 only; anything else travels as base64.
         * jansson checks UTF-8 itself, so a value it refuses also goes as
         * base64. */
        if (utf8_valid(value, len))
                v = json_stringn(value, len);
        if (!v) {
                if (base64_encode(value, len, &b64) < 0)
                        goto oom;
                v = json_pack("{s:s}", "base64", b64);
                if (!v)
                        goto oom;
        }
        *ret = v;
        return 0;
oom:
        cli_error("out of memory");
        return -ENOMEM;
}
