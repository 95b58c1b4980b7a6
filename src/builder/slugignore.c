#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "builder/slugignore.h"
#include "builder/text.h"
#include "lib/strbuf.h"
#include "lib/util.h"

void slugignore_free(struct slugignore *si)
{
        if (!si)
                return;
        for (size_t i = 0; i < si->n; i++)
                free(si->patterns[i].glob);
        free(si->patterns);
        free(si);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct slugignore *, slugignore_free);

static int fail(char **ret_error, int r, size_t line, const char *msg)
{
        if (ret_error)
                *ret_error = text_line_error(line, "%s", msg);
        return r;
}

/* Adds the pattern in line[0..n) (a comment-free, non-blank line). */
static int add_pattern(struct slugignore *si, const char *line, size_t n)
{
        struct slugignore_pattern p = {0};
        struct slugignore_pattern *grown;
        const char *slash;

        /* Trailing blanks go, unless escaped: "foo\ " keeps its space. */
        while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t')) {
                if (n >= 2 && line[n - 2] == '\\')
                        break;
                n--;
        }
        if (n == 0)
                return 0;
        if (line[0] == '!') {
                si->n_negations++;
                return 0;
        }
        if (n >= 2 && line[0] == '\\' && (line[1] == '#' || line[1] == '!')) {
                line++;
                n--;
        }
        if (line[n - 1] == '/') {
                p.flags |= SLUGIGNORE_DIR_ONLY;
                while (n > 0 && line[n - 1] == '/')
                        n--;
        }
        /* "**" + "/" at the start: any depth, the same as no slash at all
         * for the rest, if the rest has none. */
        while (n >= 3 && strneq(line, "**/", 3)) {
                line += 3;
                n -= 3;
        }
        slash = memchr(line, '/', n);
        if (slash) {
                p.flags |= SLUGIGNORE_ANCHORED;
                while (n > 0 && line[0] == '/') {
                        line++;
                        n--;
                }
        }
        if (n == 0) /* "/" or "**" + "/" alone: nothing to match */
                return 0;

        if (si->n >= SLUGIGNORE_MAX_PATTERNS)
                return -E2BIG;
        p.glob = strndup(line, n);
        if (!p.glob)
                return -ENOMEM;
        grown = reallocarray(si->patterns, si->n + 1, sizeof(*grown));
        if (!grown) {
                free(p.glob);
                return -ENOMEM;
        }
        si->patterns = grown;
        si->patterns[si->n++] = p;
        return 0;
}

int slugignore_parse(const char *text, size_t len, struct slugignore **ret, char **ret_error)
{
        __attribute__((cleanup(slugignore_freep))) struct slugignore *si = NULL;
        size_t line_no = 0;
        int r;

        if (len > SLUGIGNORE_MAX_SIZE)
                return fail(ret_error, -E2BIG, 1, "the file is larger than 64 KiB");
        if (len > 0 && memchr(text, '\0', len)) {
                size_t at = (size_t)((const char *)memchr(text, '\0', len) - text), line = 1;

                for (size_t i = 0; i < at; i++)
                        line += text[i] == '\n';
                return fail(ret_error, -EINVAL, line, "contains a NUL byte");
        }

        si = calloc(1, sizeof(*si));
        if (!si)
                return -ENOMEM;

        for (size_t pos = 0; pos < len;) {
                const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
                size_t n = nl ? (size_t)(nl - line) : len - pos;

                pos += n + (nl ? 1 : 0);
                line_no++;
                if (n > SLUGIGNORE_MAX_LINE)
                        return fail(ret_error, -E2BIG, line_no, "longer than 4096 bytes");
                if (n > 0 && line[n - 1] == '\r')
                        n--;
                if (n == 0 || line[0] == '#')
                        continue;
                r = add_pattern(si, line, n);
                if (r == -E2BIG)
                        return fail(ret_error, r, line_no, "more than 1000 patterns");
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(si);
        return 0;
}

static bool pattern_match(const struct slugignore_pattern *p, const char *path, const char *name,
                          bool is_dir)
{
        if ((p->flags & SLUGIGNORE_DIR_ONLY) && !is_dir)
                return false;
        if (p->flags & SLUGIGNORE_ANCHORED)
                return fnmatch(p->glob, path, FNM_PATHNAME) == 0;
        return fnmatch(p->glob, name, 0) == 0;
}

bool slugignore_match(const struct slugignore *si, const char *path, bool is_dir)
{
        char buf[PATH_MAX];
        size_t total;

        if (!si || !path || !*path)
                return false;
        total = strlen(path);
        if (total >= sizeof(buf)) /* no such path on Linux */
                return false;
        memcpy(buf, path, total + 1);

        /* Each directory above the path, then the path itself: cut buf at
         * each '/' in turn. */
        for (size_t len = 1; len <= total; len++) {
                bool whole = len == total;
                const char *name;
                char saved;

                if (!whole && buf[len] != '/')
                        continue;
                saved = buf[len];
                buf[len] = '\0';
                name = strrchr(buf, '/');
                name = name ? name + 1 : buf;
                for (size_t i = 0; i < si->n; i++)
                        if (pattern_match(&si->patterns[i], buf, name, whole ? is_dir : true))
                                return true;
                buf[len] = saved;
        }
        return false;
}
