/* .slugignore: the files a push leaves out of the build (and so out of the
 * slug), as gitignore-like patterns.
 *
 * slugignore_parse() returns a newly allocated struct slugignore in *ret
 * that owns its patterns; free it with slugignore_free() (NULL is fine).
 * On failure it returns a negative errno, leaves *ret untouched and, unless
 * the error is -ENOMEM, stores a malloc'd one-line message naming the line
 * in *ret_error (when ret_error is non-NULL; the caller free()s it).
 * Errors: -EINVAL (a NUL byte), -E2BIG (a limit below), -ENOMEM.
 *
 * Rules, per line (LF or CRLF ends):
 *   - blank lines and lines starting with '#' are ignored; trailing blanks
 *     are trimmed (a blank escaped with '\' is kept);
 *   - a leading "\#" or "\!" stands for a literal '#' or '!';
 *   - a leading '!' (a gitignore negation) is not supported: such lines
 *     are ignored, as Heroku does, and counted in n_negations;
 *   - a trailing '/' makes the pattern match directories only;
 *   - a pattern with a '/' anywhere but at its end is anchored to the app
 *     root (a leading '/' is dropped), and then '*', '?' and '[...]' do
 *     not match '/' (fnmatch FNM_PATHNAME);
 *   - a pattern without one matches the name of a file or directory at any
 *     depth; a leading "**" followed by '/' means the same;
 *   - a path is ignored when it, or any directory above it, matches.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define SLUGIGNORE_MAX_SIZE     (64 * 1024)
#define SLUGIGNORE_MAX_PATTERNS 1000
#define SLUGIGNORE_MAX_LINE     4096

enum {
        SLUGIGNORE_DIR_ONLY = 1 << 0, /* trailing '/' */
        SLUGIGNORE_ANCHORED = 1 << 1, /* matched against the whole path */
};

struct slugignore_pattern {
        char *glob;
        unsigned flags;
};

struct slugignore {
        size_t n;
        struct slugignore_pattern *patterns;
        size_t n_negations;
};

int slugignore_parse(const char *text, size_t len, struct slugignore **ret, char **ret_error);
void slugignore_free(struct slugignore *si);

/* Whether PATH (relative to the app root: "a/b/c", no leading "./" or '/',
 * no empty, "." or ".." components) is ignored.  is_dir says whether PATH
 * itself is a directory; the directories above it are, by definition.
 * Matching allocates nothing; a path of PATH_MAX bytes or more (there is no
 * such path on Linux) matches nothing. */
bool slugignore_match(const struct slugignore *si, const char *path, bool is_dir);
