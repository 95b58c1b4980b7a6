#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/names.h"
#include "lib/procfile.h"
#include "lib/util.h"

void procfile_free(struct procfile *pf)
{
        if (!pf)
                return;
        for (size_t i = 0; i < pf->n; i++) {
                free(pf->entries[i].type);
                free(pf->entries[i].command);
        }
        free(pf->entries);
        free(pf);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct procfile *, procfile_free);

const char *procfile_get(const struct procfile *pf, const char *type)
{
        if (!pf || !type)
                return NULL;
        for (size_t i = 0; i < pf->n; i++) {
                if (streq(pf->entries[i].type, type))
                        return pf->entries[i].command;
        }
        return NULL;
}

static bool is_blank(char c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Narrows [*p, *p + *n) to exclude blanks at either end. */
static void trim(const char **p, size_t *n)
{
        while (*n > 0 && is_blank(**p)) {
                (*p)++;
                (*n)--;
        }
        while (*n > 0 && is_blank((*p)[*n - 1]))
                (*n)--;
}

/* Longest quoted string: 64 bytes shown, each at most 4 characters
 * escaped, two quotes, "..." and the NUL. */
#define QUOTED_MAX (64 * 4 + 2 + 3 + 1)

/* Writes s quoted for an error message: at most 64 bytes of it, with
 * quotes, backslashes and non-printable bytes escaped, so that a hostile
 * Procfile cannot put control characters on the user's terminal. */
static void quote(char out[static QUOTED_MAX], const char *s, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        size_t shown = MIN(n, (size_t)64), o = 0;

        out[o++] = '"';
        for (size_t i = 0; i < shown; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c == '"' || c == '\\') {
                        out[o++] = '\\';
                        out[o++] = (char)c;
                } else if (c < 0x20 || c >= 0x7f) {
                        out[o++] = '\\';
                        out[o++] = 'x';
                        out[o++] = hex[c >> 4];
                        out[o++] = hex[c & 0xf];
                } else
                        out[o++] = (char)c;
        }
        if (shown < n) {
                memcpy(out + o, "...", 3);
                o += 3;
        }
        out[o++] = '"';
        out[o] = '\0';
}

/* Stores the formatted message in *ret_error (if wanted) and returns error,
 * or -ENOMEM if the message cannot be built. */
static int set_error(char **ret_error, int error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int set_error(char **ret_error, int error, const char *fmt, ...)
{
        va_list ap;
        char *msg;
        int r;

        if (!ret_error)
                return error;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;

        *ret_error = msg;
        return error;
}

static void lowercase(char *s)
{
        for (; *s; s++) {
                if (*s >= 'A' && *s <= 'Z')
                        *s = (char)(*s - 'A' + 'a');
        }
}

/* Adds one entry, taking ownership of neither string (they are copied). */
static int procfile_add(struct procfile *pf, const char *type, size_t type_len, const char *cmd,
                        size_t cmd_len)
{
        _cleanup_free_ char *t = NULL, *c = NULL;

        t = strndup(type, type_len);
        if (!t)
                return -ENOMEM;
        lowercase(t);
        c = strndup(cmd, cmd_len);
        if (!c)
                return -ENOMEM;

        /* Grow in steps of 8; PROCFILE_MAX_ENTRIES bounds the total. */
        if (pf->n % 8 == 0) {
                struct procfile_entry *e = realloc(pf->entries, (pf->n + 8) * sizeof(*e));
                if (!e)
                        return -ENOMEM;
                pf->entries = e;
        }
        pf->entries[pf->n++] = (struct procfile_entry){TAKE_PTR(t), TAKE_PTR(c)};
        return 0;
}

int procfile_parse(const char *text, size_t len, struct procfile **ret, char **ret_error)
{
        __attribute__((cleanup(procfile_freep))) struct procfile *pf = NULL;
        size_t first_line[PROCFILE_MAX_ENTRIES];
        const char *nul;
        size_t pos = 0, lineno = 0;
        int r;

        if (!ret || (!text && len > 0))
                return -EINVAL;
        if (len > PROCFILE_MAX_SIZE)
                return set_error(ret_error, -E2BIG,
                                 "Procfile is %zu bytes, larger than the limit of 64 KiB", len);
        nul = len > 0 ? memchr(text, '\0', len) : NULL;
        if (nul) {
                size_t l = 1;
                for (const char *p = text; p < nul; p++)
                        l += *p == '\n';
                return set_error(ret_error, -EINVAL,
                                 "line %zu: contains a NUL byte (a Procfile is text)", l);
        }

        pf = calloc(1, sizeof(*pf));
        if (!pf)
                return -ENOMEM;

        while (pos < len) {
                const char *line = text + pos, *nl, *colon, *type, *cmd;
                size_t line_len, type_len, cmd_len;
                char q[QUOTED_MAX];

                nl = memchr(line, '\n', len - pos);
                line_len = nl ? (size_t)(nl - line) : len - pos;
                pos += line_len + (nl ? 1 : 0);
                lineno++;

                if (line_len > PROCFILE_MAX_LINE)
                        return set_error(ret_error, -E2BIG,
                                         "line %zu: longer than the limit of %d bytes", lineno,
                                         PROCFILE_MAX_LINE);

                /* Also drops the '\r' of a CRLF line end. */
                trim(&line, &line_len);
                if (line_len == 0 || line[0] == '#')
                        continue;

                colon = memchr(line, ':', line_len);
                if (!colon) {
                        quote(q, line, line_len);
                        return set_error(ret_error, -EINVAL,
                                         "line %zu: expected \"type: command\", got %s", lineno, q);
                }

                type = line;
                type_len = (size_t)(colon - line);
                trim(&type, &type_len);
                if (!process_type_valid(type, type_len)) {
                        quote(q, type, type_len);
                        return set_error(
                            ret_error, -EINVAL,
                            "line %zu: invalid process type %s (use letters, digits, _ and -)",
                            lineno, q);
                }

                cmd = colon + 1;
                cmd_len = (size_t)(line + line_len - cmd);
                trim(&cmd, &cmd_len);
                if (cmd_len == 0) {
                        quote(q, type, type_len);
                        return set_error(ret_error, -EINVAL,
                                         "line %zu: empty command for process type %s", lineno, q);
                }

                for (size_t i = 0; i < pf->n; i++) {
                        if (strlen(pf->entries[i].type) == type_len &&
                            strncasecmp(pf->entries[i].type, type, type_len) == 0) {
                                quote(q, pf->entries[i].type, type_len);
                                return set_error(
                                    ret_error, -EINVAL,
                                    "line %zu: duplicate process type %s (first on line %zu)",
                                    lineno, q, first_line[i]);
                        }
                }

                if (pf->n >= PROCFILE_MAX_ENTRIES)
                        return set_error(ret_error, -E2BIG,
                                         "line %zu: too many process types (the limit is %d)",
                                         lineno, PROCFILE_MAX_ENTRIES);

                first_line[pf->n] = lineno;
                r = procfile_add(pf, type, type_len, cmd, cmd_len);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(pf);
        return 0;
}
