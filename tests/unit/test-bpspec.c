#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "builder/bpspec.h"
#include "test.h"

static void test_builtin(void)
{
        struct bp_spec s;
        char *err = NULL;

        CHECK(bp_spec_parse("python", &s, &err) == 0);
        CHECK(s.kind == BP_BUILTIN);
        CHECK_STREQ(s.name, "python");
        bp_spec_done(&s);
        CHECK(bp_spec_parse("heroku/nodejs", &s, &err) == 0);
        CHECK_STREQ(s.name, "nodejs");
        bp_spec_done(&s);
        CHECK(err == NULL);
}

static void test_git(void)
{
        struct bp_spec s;
        char *err = NULL;

        CHECK(bp_spec_parse("https://github.com/heroku/heroku-buildpack-python", &s, &err) == 0);
        CHECK(s.kind == BP_GIT);
        CHECK_STREQ(s.url, "https://github.com/heroku/heroku-buildpack-python");
        CHECK(s.ref == NULL);
        bp_spec_done(&s);

        CHECK(bp_spec_parse("https://example.com/bp.git#v1.2", &s, &err) == 0);
        CHECK_STREQ(s.url, "https://example.com/bp.git");
        CHECK_STREQ(s.ref, "v1.2");
        bp_spec_done(&s);

        CHECK(bp_spec_parse("git://example.com/x#feature/y", &s, &err) == 0);
        CHECK_STREQ(s.ref, "feature/y");
        bp_spec_done(&s);
        CHECK(err == NULL);
}

static void refused(const char *spec, const char *needle)
{
        struct bp_spec s = {0};
        char *err = NULL;

        CHECK(bp_spec_parse(spec, &s, &err) == -EINVAL);
        CHECK(s.name == NULL && s.url == NULL);
        if (!err || !strstr(err, needle))
                printf("# %s: got %s\n", spec, err ? err : "(null)");
        CHECK(err && strstr(err, needle));
        free(err);
}

static void test_refused(void)
{
        refused("file:///etc/bp", "https://");
        refused("ssh://git@github.com/x/y", "https://");
        refused("/srv/bp.git", "https://");
        refused("bp.git", "https://");
        refused("ext::sh -c evil", "blank");
        refused("Python", "built-in");
        refused("-python", "built-in");
        refused("python#main", "#ref");
        refused("https://x/y.git#-oops", "ref");
        refused("https://x/y.git#a..b", "ref");
        refused("https://x/y\x1b[31m", "printable");
        refused("", "empty");
}

static void test_list(void)
{
        static const char text[] = "# buildpacks, in order\n"
                                   "\n"
                                   "  nodejs  \r\n"
                                   "https://example.com/bp.git#main\n"
                                   "python";
        struct bp_list *l = NULL;
        char *err = NULL;

        CHECK(bp_list_parse(text, strlen(text), &l, &err) == 0);
        CHECK(l && l->n == 3);
        CHECK_STREQ(l->specs[0].name, "nodejs");
        CHECK(l->specs[1].kind == BP_GIT);
        CHECK_STREQ(l->specs[2].name, "python");
        bp_list_free(l);
        bp_list_free(NULL);
}

static void test_list_errors(void)
{
        struct bp_list *l = NULL;
        char *err = NULL, big[BP_LIST_MAX * 3 + 8] = "";
        int r;

        r = bp_list_parse("python\nfile:///x\n", 17, &l, &err);
        CHECK(r == -EINVAL);
        CHECK(l == NULL);
        CHECK(err && strncmp(err, "line 2: ", 8) == 0);
        free(err);
        err = NULL;

        for (int i = 0; i < BP_LIST_MAX + 1; i++)
                memcpy(big + 2 * i, "a\n", 3);
        CHECK(bp_list_parse(big, strlen(big), &l, &err) == -E2BIG);
        CHECK(err && strstr(err, "more than"));
        free(err);
}

int main(void)
{
        RUN(test_builtin);
        RUN(test_git);
        RUN(test_refused);
        RUN(test_list);
        RUN(test_list_errors);
        return test_done();
}
