/* pier-router's routing table: parsing, host lookup (exact and wildcard),
 * lookup by app name, and the per-app flags. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "router/table.h"
#include "test.h"

static struct table *parse(const char *json)
{
        struct table *t = NULL;
        const char *err = NULL;
        int r = table_parse(json, strlen(json), "localhost", &t, &err);
        if (r < 0) {
                printf("# table_parse: %s\n", err ? err : "?");
                return NULL;
        }
        return t;
}

static const char *app_at(const struct table *t, const char *host)
{
        const struct table_app *a = table_lookup(t, host, strlen(host));
        return a ? a->name : NULL;
}

static void test_exact_and_wildcard(void)
{
        struct table *t = parse(
                "{\"apps\": ["
                "{\"name\": \"wild\", \"hosts\": [\"*.example.com\", \"*.b.example.com\"]},"
                "{\"name\": \"www\", \"hosts\": [\"www.example.com\"]},"
                "{\"name\": \"deep\", \"hosts\": [\"x.y.example.com\"]}]}");
        CHECK(t);
        if (!t)
                return;
        CHECK_STREQ(app_at(t, "a.example.com"), "wild");
        CHECK_STREQ(app_at(t, "shop-2.example.com"), "wild");
        CHECK_STREQ(app_at(t, "www.example.com"), "www"); /* exact wins */
        CHECK_STREQ(app_at(t, "a.b.example.com"), "wild"); /* via *.b.example.com */
        CHECK_STREQ(app_at(t, "x.y.example.com"), "deep");
        CHECK(!app_at(t, "z.y.example.com"));  /* one label only: not *.example.com */
        CHECK(!app_at(t, "example.com"));      /* not the bare domain */
        CHECK(!app_at(t, "*.example.com"));    /* nor the pattern itself */
        CHECK(!app_at(t, ".example.com"));
        CHECK(!app_at(t, "a.example.co"));
        CHECK(!app_at(t, "aexample.com"));
        CHECK_STREQ(app_at(t, "www.localhost"), "www"); /* NAME.DOMAIN */
        table_unref(t);
}

static void test_bad_wildcards(void)
{
        static const char *bad[] = {"*", "*.", "*..example.com", "a.*.example.com", "**.example.com",
                                    "*example.com", "x*.example.com"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char json[256];
                snprintf(json, sizeof(json), "{\"apps\": [{\"name\": \"a\", \"hosts\": [\"%s\"]}]}",
                         bad[i]);
                struct table *t = NULL;
                const char *err = NULL;
                CHECK(table_parse(json, strlen(json), "", &t, &err) == -EINVAL);
                CHECK(!t);
                CHECK(err);
        }
}

static void test_flags_and_names(void)
{
        struct table *t = parse(
                "{\"apps\": ["
                "{\"name\": \"plain\", \"dynos\": [{\"name\": \"web.1\", \"port\": 5000}]},"
                "{\"id\": \"0c9b7a2e-1f3d-4e5a-9b8c-7d6e5f4a3b2c\", \"name\": \"blank\","
                " \"deployed\": false, \"starting\": false},"
                "{\"name\": \"boot\", \"deployed\": true, \"starting\": true, \"extra\": [1]}]}");
        CHECK(t);
        if (!t)
                return;
        struct table_app *plain = table_lookup_app(t, "plain");
        struct table_app *blank = table_lookup_app(t, "blank");
        struct table_app *boot = table_lookup_app(t, "boot");
        CHECK(plain && blank && boot);
        if (plain && blank && boot) {
                CHECK(plain->deployed && !plain->starting && !plain->id); /* defaults */
                CHECK(plain->n_dynos == 1 && plain->dynos[0].port == 5000);
                CHECK(!blank->deployed && !blank->starting);
                CHECK_STREQ(blank->id, "0c9b7a2e-1f3d-4e5a-9b8c-7d6e5f4a3b2c");
                CHECK(boot->deployed && boot->starting);
                CHECK(plain->n_waiting == 0);
        }
        CHECK(!table_lookup_app(t, "nope"));
        CHECK(!table_lookup_app(t, "plai"));
        CHECK(table_lookup(t, "boot.localhost", 14) == boot);
        table_unref(t);

        /* an id goes into log lines unquoted: a plain token only */
        struct table *bad = NULL;
        const char *err = NULL;
        static const char j[] = "{\"apps\": [{\"id\": \"a b\", \"name\": \"x\"}]}";
        CHECK(table_parse(j, sizeof(j) - 1, "", &bad, &err) == -EINVAL);
        static const char k[] = "{\"apps\": [{\"name\": \"x\", \"starting\": 1}]}";
        CHECK(table_parse(k, sizeof(k) - 1, "", &bad, &err) == -EINVAL);
}

static void test_many_apps(void)
{
        /* the name index holds them all, collisions and all */
        size_t cap = 64 * 1024, n = 0;
        char *json = malloc(cap);
        CHECK(json);
        if (!json)
                return;
        n += (size_t)snprintf(json + n, cap - n, "{\"apps\": [");
        for (int i = 0; i < 1000; i++)
                n += (size_t)snprintf(json + n, cap - n, "%s{\"name\": \"app%d\"}", i ? "," : "", i);
        n += (size_t)snprintf(json + n, cap - n, "]}");
        struct table *t = parse(json);
        CHECK(t && table_n_apps(t) == 1000);
        for (int i = 0; t && i < 1000; i++) {
                char name[16], host[32];
                snprintf(name, sizeof(name), "app%d", i);
                snprintf(host, sizeof(host), "app%d.localhost", i);
                struct table_app *a = table_lookup_app(t, name);
                CHECK(a && strcmp(a->name, name) == 0);
                CHECK(table_lookup(t, host, strlen(host)) == a);
        }
        table_unref(t);
        free(json);
}

int main(void)
{
        RUN(test_exact_and_wildcard);
        RUN(test_bad_wildcards);
        RUN(test_flags_and_names);
        RUN(test_many_apps);
        return test_done();
}
