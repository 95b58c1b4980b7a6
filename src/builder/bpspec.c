#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "builder/bpspec.h"
#include "builder/text.h"
#include "lib/strbuf.h"
#include "lib/util.h"

void bp_spec_done(struct bp_spec *spec)
{
        if (!spec)
                return;
        free(spec->name);
        free(spec->url);
        free(spec->ref);
        *spec = (struct bp_spec){0};
}

void bp_list_free(struct bp_list *list)
{
        if (!list)
                return;
        for (size_t i = 0; i < list->n; i++)
                bp_spec_done(&list->specs[i]);
        free(list->specs);
        free(list);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct bp_list *, bp_list_free);

static int error_quoting(char **ret_error, const char *before, const char *s, const char *after)
{
        struct strbuf sb = STRBUF_INIT;

        if (!ret_error)
                return -EINVAL;
        if (strbuf_addstr(&sb, before) < 0 || text_quote(&sb, s, strlen(s)) < 0 ||
            strbuf_addstr(&sb, after) < 0) {
                strbuf_release(&sb);
                return -EINVAL;
        }
        *ret_error = strbuf_detach(&sb, NULL);
        return -EINVAL;
}

static bool name_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > BP_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

                if (!alnum && (i == 0 || (c != '-' && c != '_')))
                        return false;
        }
        return true;
}

static bool ref_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > BP_REF_MAX || strstr(s, ".."))
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool alnum =
                    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

                /* No leading '-' (an option to git), '.' or '/'. */
                if (!alnum && c != '_' && (i == 0 || (c != '.' && c != '/' && c != '-')))
                        return false;
        }
        return true;
}

static bool has_suffix(const char *s, size_t n, const char *suffix)
{
        size_t k = strlen(suffix);

        return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

int bp_spec_parse(const char *s, struct bp_spec *ret, char **ret_error)
{
        static const char *const schemes[] = {"https://", "http://", "git://"};
        _cleanup_free_ char *url = NULL, *ref = NULL, *name = NULL;
        const char *hash;
        size_t n, url_len;
        bool scheme_ok = false;

        n = strlen(s);
        if (n == 0)
                return error_quoting(ret_error, "a buildpack name cannot be empty", "", "");
        if (n > BP_SPEC_MAX) {
                if (ret_error)
                        *ret_error = strdup("a buildpack URL is longer than 2048 characters");
                return -E2BIG;
        }
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
                        return error_quoting(ret_error, "the buildpack ", s,
                                             " contains a blank or a character that is not "
                                             "printable ASCII");

        hash = strrchr(s, '#');
        url_len = hash ? (size_t)(hash - s) : n;

        if (!memmem(s, url_len, "://", 3) && !has_suffix(s, url_len, ".git")) {
                const char *bare = s;

                if (hash)
                        return error_quoting(ret_error, "the buildpack ", s,
                                             " is neither a built-in name nor a git URL; "
                                             "a #ref goes only after a git URL");
                if (strneq(bare, "heroku/", 7))
                        bare += 7;
                if (!name_valid(bare))
                        return error_quoting(ret_error, "", s,
                                             " is not a built-in buildpack name (python, nodejs, "
                                             "static, make, procfile) nor a git URL");
                name = strdup(bare);
                if (!name)
                        return -ENOMEM;
                *ret = (struct bp_spec){.kind = BP_BUILTIN, .name = TAKE_PTR(name)};
                return 0;
        }

        for (size_t i = 0; i < ELEMENTSOF(schemes); i++)
                if (url_len > strlen(schemes[i]) && strneq(s, schemes[i], strlen(schemes[i])))
                        scheme_ok = true;
        if (!scheme_ok)
                return error_quoting(ret_error, "the buildpack URL ", s,
                                     " must start with https://, http:// or git://");
        if (hash) {
                ref = strdup(hash + 1);
                if (!ref)
                        return -ENOMEM;
                if (!ref_valid(ref))
                        return error_quoting(ret_error, "the ref ", ref,
                                             " after '#' is not a valid branch, tag or commit");
        }
        url = strndup(s, url_len);
        if (!url)
                return -ENOMEM;
        *ret = (struct bp_spec){.kind = BP_GIT, .url = TAKE_PTR(url), .ref = TAKE_PTR(ref)};
        return 0;
}

int bp_list_push(struct bp_list *list, struct bp_spec *spec)
{
        struct bp_spec *grown;

        if (list->n >= BP_LIST_MAX)
                return -E2BIG;
        grown = reallocarray(list->specs, list->n + 1, sizeof(*grown));
        if (!grown)
                return -ENOMEM;
        list->specs = grown;
        list->specs[list->n++] = *spec;
        *spec = (struct bp_spec){0};
        return 0;
}

int bp_list_parse(const char *text, size_t len, struct bp_list **ret, char **ret_error)
{
        __attribute__((cleanup(bp_list_freep))) struct bp_list *list = NULL;
        size_t line_no = 0;
        int r;

        if (len > BP_LIST_MAX_SIZE) {
                if (ret_error)
                        *ret_error = text_line_error(1, "the file is larger than 16 KiB");
                return -E2BIG;
        }
        list = calloc(1, sizeof(*list));
        if (!list)
                return -ENOMEM;

        for (size_t pos = 0; pos < len;) {
                const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
                size_t n = nl ? (size_t)(nl - line) : len - pos;
                _cleanup_free_ char *s = NULL, *err = NULL;
                struct bp_spec spec = {0};

                pos += n + (nl ? 1 : 0);
                line_no++;
                while (n > 0 && (line[0] == ' ' || line[0] == '\t')) {
                        line++;
                        n--;
                }
                while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
                        n--;
                if (n == 0 || line[0] == '#')
                        continue;
                if (memchr(line, '\0', n)) {
                        if (ret_error)
                                *ret_error = text_line_error(line_no, "contains a NUL byte");
                        return -EINVAL;
                }
                s = strndup(line, n);
                if (!s)
                        return -ENOMEM;
                r = bp_spec_parse(s, &spec, &err);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        if (ret_error)
                                *ret_error = text_line_error(line_no, "%s",
                                                             err ? err : "not a valid buildpack");
                        return r;
                }
                r = bp_list_push(list, &spec);
                if (r < 0) {
                        bp_spec_done(&spec);
                        if (r == -E2BIG && ret_error)
                                *ret_error = text_line_error(line_no, "more than %d buildpacks",
                                                             BP_LIST_MAX);
                        return r;
                }
        }
        *ret = TAKE_PTR(list);
        return 0;
}
