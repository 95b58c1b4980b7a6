#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "builder/pushrefs.h"
#include "builder/text.h"
#include "lib/strbuf.h"
#include "lib/util.h"

#define DEPLOY_HINT "push with: git push pier HEAD:main"

void pushrefs_free(struct pushrefs *pr)
{
        if (!pr)
                return;
        for (size_t i = 0; i < pr->n; i++)
                free(pr->updates[i].ref);
        free(pr->updates);
        free(pr);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct pushrefs *, pushrefs_free);

bool oid_is_null(const char *oid)
{
        if (!oid || !*oid)
                return false;
        for (; *oid; oid++)
                if (*oid != '0')
                        return false;
        return true;
}

static bool is_hex(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static size_t hex_run(const char *s, size_t n)
{
        size_t i = 0;

        while (i < n && is_hex(s[i]))
                i++;
        return i;
}

bool oid_valid(const char *s)
{
        size_t n;

        if (!s)
                return false;
        n = strlen(s);
        return (n == 40 || n == 64) && hex_run(s, n) == n;
}

static int fail(char **ret_error, int r, size_t line, const char *msg)
{
        if (ret_error)
                *ret_error = text_line_error(line, "%s", msg);
        return r;
}

static int parse_line(const char *s, size_t n, struct ref_update *ret)
{
        size_t a, b;
        const char *ref;
        size_t ref_len;

        a = hex_run(s, n);
        if ((a != 40 && a != 64) || a >= n || s[a] != ' ')
                return -EINVAL;
        b = hex_run(s + a + 1, n - a - 1);
        if (b != a || a + 1 + b >= n || s[a + 1 + b] != ' ')
                return -EINVAL;
        ref = s + a + 1 + b + 1;
        ref_len = n - (a + 1 + b + 1);
        while (ref_len > 0 && (ref[ref_len - 1] == ' ' || ref[ref_len - 1] == '\t'))
                ref_len--;
        if (ref_len == 0)
                return -EINVAL;
        for (size_t i = 0; i < ref_len; i++)
                if ((unsigned char)ref[i] < 0x20 || ref[i] == 0x7f)
                        return -EINVAL;
        ret->ref = strndup(ref, ref_len);
        if (!ret->ref)
                return -ENOMEM;
        memcpy(ret->old_oid, s, a);
        ret->old_oid[a] = '\0';
        memcpy(ret->new_oid, s + a + 1, b);
        ret->new_oid[b] = '\0';
        return 0;
}

int pushrefs_parse(const char *text, size_t len, struct pushrefs **ret, char **ret_error)
{
        __attribute__((cleanup(pushrefs_freep))) struct pushrefs *pr = NULL;
        size_t line_no = 0;
        int r;

        pr = calloc(1, sizeof(*pr));
        if (!pr)
                return -ENOMEM;

        for (size_t pos = 0; pos < len;) {
                const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
                size_t n = nl ? (size_t)(nl - line) : len - pos;
                struct ref_update u = {0}, *grown;

                pos += n + (nl ? 1 : 0);
                line_no++;
                if (line_no > PUSHREFS_MAX_LINES)
                        return fail(ret_error, -E2BIG, line_no, "more than 100 refs in one push");
                if (n > PUSHREFS_MAX_LINE)
                        return fail(ret_error, -E2BIG, line_no, "longer than 1024 bytes");
                if (n > 0 && line[n - 1] == '\r')
                        n--;
                if (n == 0)
                        continue;
                r = parse_line(line, n, &u);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return fail(ret_error, r, line_no,
                                    "expected \"OLD-OBJECT NEW-OBJECT REFNAME\"");
                grown = reallocarray(pr->updates, pr->n + 1, sizeof(*grown));
                if (!grown) {
                        free(u.ref);
                        return -ENOMEM;
                }
                pr->updates = grown;
                pr->updates[pr->n++] = u;
        }
        *ret = TAKE_PTR(pr);
        return 0;
}

static bool is_deploy_ref(const char *ref)
{
        return streq(ref, "refs/heads/main") || streq(ref, "refs/heads/master");
}

/* A ref name as it is when it is plain printable ASCII (git's rules for
 * ref names see to that), quoted and escaped otherwise. */
static int add_ref(struct strbuf *sb, const char *ref)
{
        for (const char *p = ref; *p; p++)
                if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
                        return text_quote(sb, ref, strlen(ref));
        return strbuf_addstr(sb, ref);
}

static int message(char **ret_message, const char *before, const char *ref, const char *after)
{
        struct strbuf sb = STRBUF_INIT;
        int r;

        r = strbuf_addstr(&sb, before);
        if (r >= 0 && ref)
                r = add_ref(&sb, ref);
        if (r >= 0)
                r = strbuf_addstr(&sb, after);
        if (r < 0) {
                strbuf_release(&sb);
                return -ENOMEM;
        }
        *ret_message = strbuf_detach(&sb, NULL);
        return *ret_message ? -EPERM : -ENOMEM;
}

int pushrefs_pick(const struct pushrefs *pr, size_t *ret_index, char **ret_message)
{
        size_t deploy = 0, idx = 0;

        if (!pr || pr->n == 0)
                return -ENOENT;

        for (size_t i = 0; i < pr->n; i++) {
                const struct ref_update *u = &pr->updates[i];

                if (!is_deploy_ref(u->ref))
                        return message(ret_message,
                                       "pier deploys only the main or master branch (you pushed ",
                                       u->ref, "); " DEPLOY_HINT);
                deploy++;
                idx = i;
        }
        if (deploy > 1)
                return message(ret_message,
                               "push either main or master, not both: pier deploys one branch",
                               NULL, "");
        if (oid_is_null(pr->updates[idx].new_oid))
                return message(ret_message, "The branch ", pr->updates[idx].ref + 11,
                               " is what pier deploys and cannot be deleted; to take the app "
                               "down, scale it to zero with: pier ps:scale web=0");
        *ret_index = idx;
        return 0;
}
