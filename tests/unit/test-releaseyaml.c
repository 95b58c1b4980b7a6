#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "builder/releaseyaml.h"
#include "test.h"

static struct procfile *ok(const char *text)
{
        struct procfile *pf = NULL;
        char *err = NULL;
        int r;

        r = release_yaml_parse(text, strlen(text), &pf, &err);
        CHECK(r == 0);
        if (err)
                printf("# unexpected error: %s\n", err);
        free(err);
        return pf;
}

static char *bad(const char *text, int want)
{
        struct procfile *pf = NULL;
        char *err = NULL;
        int r;

        r = release_yaml_parse(text, strlen(text), &pf, &err);
        CHECK(r == want);
        CHECK(pf == NULL);
        CHECK(err != NULL);
        return err;
}

static void test_typical(void)
{
        struct procfile *pf = ok("---\n"
                                 "addons: []\n"
                                 "config_vars:\n"
                                 "  PATH: /app/bin:/usr/bin\n"
                                 "  weird: [1, {a: b}]\n"
                                 "default_process_types:\n"
                                 "  web: python app.py --port $PORT\n"
                                 "  Worker: \"celery -A tasks worker\"\n");

        CHECK(pf && pf->n == 2);
        CHECK_STREQ(procfile_get(pf, "web"), "python app.py --port $PORT");
        CHECK_STREQ(procfile_get(pf, "worker"), "celery -A tasks worker");
        CHECK(procfile_get(pf, "PATH") == NULL);
        procfile_free(pf);
}

static void test_empty_and_absent(void)
{
        struct procfile *pf;

        pf = ok("");
        CHECK(pf && pf->n == 0);
        procfile_free(pf);
        pf = ok("---\naddons: []\n");
        CHECK(pf && pf->n == 0);
        procfile_free(pf);
        pf = ok("--- {}\n");
        CHECK(pf && pf->n == 0);
        procfile_free(pf);
        pf = ok("default_process_types: {}\n");
        CHECK(pf && pf->n == 0);
        procfile_free(pf);
        pf = ok("default_process_types:\nother: 1\n");
        CHECK(pf && pf->n == 0);
        procfile_free(pf);
}

static void test_quotes_and_comments(void)
{
        struct procfile *pf = ok("default_process_types:   # the types\n"
                                 "    # a comment line\n"
                                 "    web: bin/web # trailing comment\n"
                                 "    hash: echo a#b\n"
                                 "    single: 'it''s # not a comment'\n"
                                 "    double: \"say \\\"hi\\\"\\tthere\" # comment\n"
                                 "    'quoted-key': x\n"
                                 "\n"
                                 "...\n");

        CHECK(pf && pf->n == 5);
        CHECK_STREQ(procfile_get(pf, "web"), "bin/web");
        CHECK_STREQ(procfile_get(pf, "hash"), "echo a#b");
        CHECK_STREQ(procfile_get(pf, "single"), "it's # not a comment");
        CHECK_STREQ(procfile_get(pf, "double"), "say \"hi\"\tthere");
        CHECK_STREQ(procfile_get(pf, "quoted-key"), "x");
        procfile_free(pf);
}

static void test_crlf_and_order(void)
{
        struct procfile *pf = ok("default_process_types:\r\n  b: 2\r\n  a: 1\r\n");

        CHECK(pf && pf->n == 2);
        CHECK_STREQ(pf->entries[0].type, "b");
        CHECK_STREQ(pf->entries[1].command, "1");
        procfile_free(pf);
}

static void test_errors(void)
{
        char *e;

        e = bad("default_process_types:\n  web: a\n  WEB: b\n", -EINVAL);
        CHECK(strstr(e, "line 3") && strstr(e, "twice"));
        free(e);
        e = bad("default_process_types:\n  web:\n", -EINVAL);
        CHECK(strstr(e, "no command"));
        free(e);
        e = bad("default_process_types:\n  web: ''\n", -EINVAL);
        free(e);
        e = bad("default_process_types:\n  we b: x\n", -EINVAL);
        CHECK(strstr(e, "not a valid process type"));
        free(e);
        e = bad("default_process_types:\n  web:\n    nested: 1\n", -EINVAL);
        free(e);
        e = bad("default_process_types:\n    web: a\n  worker: b\n", -EINVAL);
        CHECK(strstr(e, "line 3"));
        free(e);
        e = bad("default_process_types:\n\tweb: a\n", -EINVAL);
        CHECK(strstr(e, "tabs"));
        free(e);
        e = bad("default_process_types: {web: a}\n", -EINVAL);
        free(e);
        e = bad("default_process_types:\n  - web\n", -EINVAL);
        free(e);
        e = bad("default_process_types:\n  web: \"open\n", -EINVAL);
        CHECK(strstr(e, "not closed"));
        free(e);
        e = bad("default_process_types:\n  web: \"a\\nb\"\n", -EINVAL);
        free(e);
        e = bad("default_process_types:\n  web: a\rb\n", -EINVAL);
        CHECK(strstr(e, "control character"));
        free(e);
        e = bad("default_process_types:\n  web: |\n", -EINVAL);
        CHECK(strstr(e, "quoted"));
        free(e);
        e = bad("default_process_types:\n  web: 'x' y\n", -EINVAL);
        free(e);
        e = bad("default_process_types:\ndefault_process_types:\n", -EINVAL);
        free(e);
        e = bad("just some words\n", -EINVAL);
        CHECK(strstr(e, "line 1"));
        free(e);
}

static void test_nul_is_error(void)
{
        struct procfile *pf = NULL;
        char *err = NULL;
        static const char text[] = "default_process_types:\n  web: a\0b\n";

        CHECK(release_yaml_parse(text, sizeof(text) - 1, &pf, &err) == -EINVAL);
        CHECK(err && strstr(err, "NUL"));
        free(err);
}

static void test_control_chars_quoted_in_errors(void)
{
        char *e = bad("default_process_types:\n  \x1b[31m: x\n", -EINVAL);

        for (const char *p = e; *p; p++)
                CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
        free(e);
}

static void test_limits(void)
{
        size_t n = RELEASE_YAML_MAX_SIZE + 1;
        char *big = malloc(n + 1);
        struct procfile *pf = NULL;
        char *err = NULL;

        memset(big, '#', n);
        big[n] = '\0';
        CHECK(release_yaml_parse(big, n, &pf, &err) == -E2BIG);
        free(err);
        free(big);
}

int main(void)
{
        RUN(test_typical);
        RUN(test_empty_and_absent);
        RUN(test_quotes_and_comments);
        RUN(test_crlf_and_order);
        RUN(test_errors);
        RUN(test_nul_is_error);
        RUN(test_control_chars_quoted_in_errors);
        RUN(test_limits);
        return test_done();
}
