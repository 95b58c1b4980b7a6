#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "builder/releaseyaml.h"
#include "builder/text.h"
#include "lib/names.h"
#include "lib/strbuf.h"
#include "lib/util.h"

#define KEY "default_process_types"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct procfile *, procfile_free);

struct parser {
        struct procfile *pf;
        size_t line;
        char **ret_error;
};

static int fail(struct parser *p, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct parser *p, int r, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        if (!p->ret_error)
                return r;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (msg)
                *p->ret_error = text_line_error(p->line, "%s", msg);
        return r;
}

/* Quoted text for a message, or "" when out of memory (the message is then
 * a little less precise, which beats failing). */
static char *quoted(const char *s, size_t n)
{
        struct strbuf sb = STRBUF_INIT;

        if (text_quote(&sb, s, n) < 0)
                strbuf_release(&sb);
        return strbuf_detach(&sb, NULL);
}

static bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

/* Narrows [*s, *s + *n) to exclude blanks at either end. */
static void trim(const char **s, size_t *n)
{
        while (*n > 0 && is_blank(**s)) {
                (*s)++;
                (*n)--;
        }
        while (*n > 0 && is_blank((*s)[*n - 1]))
                (*n)--;
}

/* Cuts a plain scalar at a comment: '#' after a blank starts one. */
static void strip_comment(const char *s, size_t *n)
{
        for (size_t i = 1; i < *n; i++)
                if (s[i] == '#' && is_blank(s[i - 1])) {
                        *n = i;
                        break;
                }
        if (*n > 0 && s[0] == '#')
                *n = 0;
}

/* Whether what follows a closing quote is only blanks and a comment. */
static bool only_comment(const char *s, size_t n)
{
        size_t i = 0;

        while (i < n && is_blank(s[i]))
                i++;
        return i == n || (s[i] == '#' && i > 0);
}

/* Reads a scalar (key or value) at s[0..n): quoted or plain.  For a key,
 * the plain form ends at the first ':'; *ret_used says how many bytes were
 * consumed.  The result is malloc'd in *ret.  Returns 0, -EINVAL (with the
 * message set) or -ENOMEM. */
static int scalar(struct parser *p, const char *s, size_t n, bool key, char **ret, size_t *ret_used)
{
        struct strbuf sb = STRBUF_INIT;
        size_t i;
        int r = 0;

        if (n > 0 && s[0] == '\'') {
                for (i = 1;; i++) {
                        if (i >= n) {
                                strbuf_release(&sb);
                                return fail(p, -EINVAL, "a quote ' is not closed");
                        }
                        if (s[i] == '\'') {
                                if (i + 1 < n && s[i + 1] == '\'') {
                                        r = strbuf_addch(&sb, '\'');
                                        i++;
                                } else
                                        break;
                        } else
                                r = strbuf_addch(&sb, s[i]);
                        if (r < 0)
                                goto oom;
                }
                i++;
        } else if (n > 0 && s[0] == '"') {
                for (i = 1;; i++) {
                        if (i >= n) {
                                strbuf_release(&sb);
                                return fail(p, -EINVAL, "a quote \" is not closed");
                        }
                        if (s[i] == '"')
                                break;
                        if (s[i] == '\\') {
                                char c;

                                if (++i >= n) {
                                        strbuf_release(&sb);
                                        return fail(p, -EINVAL, "a quote \" is not closed");
                                }
                                switch (s[i]) {
                                case '"':
                                case '\\':
                                case '/':
                                        c = s[i];
                                        break;
                                case 't':
                                        c = '\t';
                                        break;
                                default:
                                        strbuf_release(&sb);
                                        return fail(p, -EINVAL,
                                                    "the escape \\%c is not supported here; "
                                                    "use only \\\" \\\\ \\/ and \\t",
                                                    isprint((unsigned char)s[i]) ? s[i] : '?');
                                }
                                r = strbuf_addch(&sb, c);
                        } else
                                r = strbuf_addch(&sb, s[i]);
                        if (r < 0)
                                goto oom;
                }
                i++;
        } else if (key) {
                const char *colon = memchr(s, ':', n);

                i = colon ? (size_t)(colon - s) : n;
                r = strbuf_add(&sb, s, i);
                if (r < 0)
                        goto oom;
        } else {
                size_t len = n;

                if (len > 0 && strchr("|>[{&*!%@`", s[0])) {
                        strbuf_release(&sb);
                        return fail(p, -EINVAL, "a command starting with '%c' must be quoted",
                                    s[0]);
                }
                strip_comment(s, &len);
                while (len > 0 && is_blank(s[len - 1]))
                        len--;
                r = strbuf_add(&sb, s, len);
                if (r < 0)
                        goto oom;
                i = n;
        }
        *ret = strbuf_detach(&sb, NULL);
        if (!*ret)
                return -ENOMEM;
        *ret_used = i;
        return 0;
oom:
        strbuf_release(&sb);
        return -ENOMEM;
}

/* Splits "key: rest" at s[0..n).  Returns 0 with the key in *ret_key and
 * the rest (after ':' and blanks) in *ret_rest and *ret_rest_len. */
static int key_value(struct parser *p, const char *s, size_t n, char **ret_key,
                     const char **ret_rest, size_t *ret_rest_len)
{
        _cleanup_free_ char *key = NULL;
        size_t used;
        int r;

        r = scalar(p, s, n, true, &key, &used);
        if (r < 0)
                return r;
        while (used < n && is_blank(s[used]))
                used++;
        if (used >= n || s[used] != ':' || (used + 1 < n && !is_blank(s[used + 1]))) {
                _cleanup_free_ char *q = quoted(s, n);
                return fail(p, -EINVAL, "expected \"key: value\", got %s", q ? q : "");
        }
        used++;
        *ret_rest = s + used;
        *ret_rest_len = n - used;
        trim(ret_rest, ret_rest_len);
        *ret_key = TAKE_PTR(key);
        return 0;
}

static int add_type(struct parser *p, const char *s, size_t n)
{
        _cleanup_free_ char *type = NULL, *command = NULL;
        struct procfile_entry *grown;
        const char *rest;
        size_t rest_len, used;
        int r;

        r = key_value(p, s, n, &type, &rest, &rest_len);
        if (r < 0)
                return r;
        if (!process_type_valid(type, strlen(type))) {
                _cleanup_free_ char *q = quoted(type, strlen(type));
                return fail(p, -EINVAL,
                            "%s is not a valid process type (use letters, digits, '-' and '_', "
                            "at most 63)",
                            q ? q : "");
        }
        for (char *c = type; *c; c++)
                *c = (char)tolower((unsigned char)*c);
        if (procfile_get(p->pf, type))
                return fail(p, -EINVAL, "the process type %s appears twice", type);
        if (rest_len == 0)
                return fail(p, -EINVAL, "the process type %s has no command", type);
        r = scalar(p, rest, rest_len, false, &command, &used);
        if (r < 0)
                return r;
        if (!only_comment(rest + used, rest_len - used))
                return fail(p, -EINVAL, "unexpected text after the quoted command of %s", type);
        /* Quoted commands may have brought blanks of their own. */
        {
                const char *c = command;
                size_t cl = strlen(command);

                trim(&c, &cl);
                if (cl == 0)
                        return fail(p, -EINVAL, "the process type %s has no command", type);
                if (c != command || cl != strlen(command)) {
                        memmove(command, c, cl);
                        command[cl] = '\0';
                }
        }
        /* One line a command, as in a Procfile; YAML would read a lone CR
         * as a line break anyway. */
        for (const char *c = command; *c; c++)
                if ((*c > 0 && *c < 0x20 && *c != '\t') || *c == 0x7f)
                        return fail(p, -EINVAL, "the command of %s contains a control character",
                                    type);
        if (p->pf->n >= PROCFILE_MAX_ENTRIES)
                return fail(p, -E2BIG, "more than %d process types", PROCFILE_MAX_ENTRIES);

        grown = reallocarray(p->pf->entries, p->pf->n + 1, sizeof(*grown));
        if (!grown)
                return -ENOMEM;
        p->pf->entries = grown;
        p->pf->entries[p->pf->n].type = TAKE_PTR(type);
        p->pf->entries[p->pf->n].command = TAKE_PTR(command);
        p->pf->n++;
        return 0;
}

int release_yaml_parse(const char *text, size_t len, struct procfile **ret, char **ret_error)
{
        __attribute__((cleanup(procfile_freep))) struct procfile *pf = NULL;
        struct parser p = {.ret_error = ret_error};
        bool in_map = false, seen = false;
        size_t map_indent = 0;
        int r;

        if (len > RELEASE_YAML_MAX_SIZE) {
                p.line = 1;
                return fail(&p, -E2BIG, "the output of bin/release is larger than 64 KiB");
        }
        pf = calloc(1, sizeof(*pf));
        if (!pf)
                return -ENOMEM;
        p.pf = pf;

        for (size_t pos = 0; pos < len;) {
                const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
                size_t n = nl ? (size_t)(nl - line) : len - pos, indent = 0, ws = 0;
                bool tab = false;

                pos += n + (nl ? 1 : 0);
                p.line++;
                if (n > RELEASE_YAML_MAX_LINE)
                        return fail(&p, -E2BIG, "longer than %d bytes", RELEASE_YAML_MAX_LINE);
                if (memchr(line, '\0', n))
                        return fail(&p, -EINVAL, "contains a NUL byte");
                if (n > 0 && line[n - 1] == '\r')
                        n--;
                while (ws < n && is_blank(line[ws])) {
                        if (line[ws] == '\t')
                                tab = true;
                        else if (!tab)
                                indent++;
                        ws++;
                }
                if (ws == n || line[ws] == '#')
                        continue;

                if (ws == 0) {
                        _cleanup_free_ char *key = NULL;
                        const char *rest;
                        size_t rest_len;

                        in_map = false;
                        if (n >= 3 && (strneq(line, "---", 3) || strneq(line, "...", 3)) &&
                            (n == 3 || is_blank(line[3]))) {
                                rest = line + 3;
                                rest_len = n - 3;
                                trim(&rest, &rest_len);
                                strip_comment(rest, &rest_len);
                                trim(&rest, &rest_len);
                                if (rest_len == 0 || (rest_len == 2 && strneq(rest, "{}", 2)))
                                        continue;
                                return fail(&p, -EINVAL,
                                            "a value on the \"---\" line is not supported");
                        }
                        r = key_value(&p, line, n, &key, &rest, &rest_len);
                        if (r < 0)
                                return r;
                        if (!streq(key, KEY))
                                continue;
                        if (seen)
                                return fail(&p, -EINVAL, KEY " appears twice");
                        seen = true;
                        strip_comment(rest, &rest_len);
                        trim(&rest, &rest_len);
                        if (rest_len == 0) {
                                in_map = true;
                                map_indent = 0;
                        } else if (!((rest_len == 2 && strneq(rest, "{}", 2)) ||
                                     (rest_len == 1 && rest[0] == '~') ||
                                     (rest_len == 4 && strneq(rest, "null", 4))))
                                return fail(&p, -EINVAL,
                                            KEY " must be followed by one \"type: command\" "
                                                "per line, indented");
                        continue;
                }

                if (!in_map)
                        continue;
                if (tab)
                        return fail(&p, -EINVAL, "tabs cannot indent YAML; use spaces");
                if (map_indent == 0)
                        map_indent = indent;
                if (indent > map_indent)
                        return fail(&p, -EINVAL,
                                    "nested values under a process type are not supported");
                if (indent < map_indent)
                        return fail(&p, -EINVAL, "the indentation does not match the lines above");
                if (line[ws] == '-')
                        return fail(&p, -EINVAL,
                                    KEY " must be a map of \"type: command\", not a list");
                r = add_type(&p, line + ws, n - ws);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(pf);
        return 0;
}
