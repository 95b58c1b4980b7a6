/* Heroku Procfile parsing: one "type: command" per line.
 *
 * procfile_parse() returns a newly allocated struct procfile in *ret that
 * owns all its strings; free it with procfile_free() (NULL is fine).
 * procfile_get() returns a pointer into the procfile, valid until it is
 * freed.
 *
 * On failure procfile_parse() returns a negative errno, leaves *ret
 * untouched and, if ret_error is non-NULL, may store a malloc'd message for
 * the user that names the line ("line 3: ..."); the caller free()s it.  It
 * is not set on success or on -ENOMEM.  Errors: -EINVAL for malformed input
 * (no ':', bad or duplicate process type, empty command, NUL byte), -E2BIG
 * when a limit below is exceeded, -ENOMEM.
 *
 * Rules: leading/trailing blanks (space, tab, CR, VT, FF) around type and command are
 * trimmed; blank lines and lines starting with '#' are skipped; CRLF line
 * ends are accepted; the type must match ^[A-Za-z0-9_-]{1,59}$ and is stored
 * lower-cased; a type may appear only once (case-insensitively); the command
 * is everything after the first ':' and must not be empty.
 */
#pragma once

#include <stddef.h>

/* Bounds on what a pushed repository can make us parse. */
#define PROCFILE_MAX_ENTRIES 100
#define PROCFILE_MAX_LINE    8192
#define PROCFILE_MAX_SIZE    (64 * 1024)

struct procfile_entry {
        char *type;
        char *command;
};

struct procfile {
        size_t n;
        struct procfile_entry *entries;
};

int procfile_parse(const char *text, size_t len, struct procfile **ret, char **ret_error);
void procfile_free(struct procfile *pf);

/* The command for a type (compared exactly; stored types are lowercase), or
 * NULL if there is none. */
const char *procfile_get(const struct procfile *pf, const char *type);
