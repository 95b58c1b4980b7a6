/* The SQLite store: every call against a real database in a temp dir. */
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"
#include "store/store.h"
#include "test.h"

static char dir[] = "/tmp/pier-test-store-XXXXXX";
static char path[256];
static int n_db;

static struct store *fresh(void)
{
        struct store *s = NULL;
        snprintf(path, sizeof(path), "%s/state-%d.db", dir, n_db++);
        CHECK(store_open(path, &s) == 0);
        return s;
}

static void test_open_migrates(void)
{
        struct store *s = fresh();
        CHECK(store_schema_version(s) >= 1);
        store_close(s);
        /* Opening again keeps the version and the data. */
        CHECK(store_open(path, &s) == 0);
        CHECK(store_schema_version(s) >= 1);
        store_close(s);
}

static void test_app_create_get_list(void)
{
        struct store *s = fresh();
        struct app *a = NULL, *b = NULL;
        CHECK(store_app_create(s, "zeta", "me@host", &a) == 0);
        CHECK(a && streq(a->name, "zeta") && streq(a->owner, "me@host"));
        CHECK(a && strlen(a->id) == 36);
        CHECK(a && a->released_at > 0);
        CHECK(store_app_create(s, "alpha", "me@host", NULL) == 0);
        CHECK(store_app_create(s, "zeta", "other", &b) == -EEXIST);
        CHECK(b == NULL);

        struct app *byid = NULL;
        CHECK(store_app_get(s, a->id, &byid) == 0);
        CHECK(byid && streq(byid->name, "zeta"));
        CHECK(store_app_get(s, "nope", &b) == -ENOENT);

        struct app_list *l = NULL;
        CHECK(store_app_list(s, &l) == 0);
        CHECK(l && l->n == 2);
        CHECK(l && streq(l->apps[0].name, "alpha") && streq(l->apps[1].name, "zeta"));
        app_list_free(l);
        app_free(byid);
        app_free(a);
        store_close(s);
}

static void test_initial_release(void)
{
        struct store *s = fresh();
        struct app *a = NULL;
        CHECK(store_app_create(s, "app1", "me", &a) == 0);
        struct release_list *l = NULL;
        CHECK(store_release_list(s, a->id, &l) == 0);
        CHECK(l && l->n == 1);
        CHECK(l && l->releases[0].version == 1);
        CHECK(l && streq(l->releases[0].description, "Initial release"));
        CHECK(l && l->releases[0].current);
        CHECK(l && streq(l->releases[0].status, "succeeded"));
        CHECK(l && l->releases[0].slug_id == NULL);
        release_list_free(l);
        app_free(a);
        store_close(s);
}

static void test_config_update_and_snapshots(void)
{
        struct store *s = fresh();
        struct app *a = NULL;
        CHECK(store_app_create(s, "app1", "me", &a) == 0);

        char bin[] = {'a', '\xff', '=', '\n', 'b'};
        struct config_var set[] = {
                {.key = "B", .value = "two words", .value_len = 9},
                {.key = "A", .value = bin, .value_len = sizeof(bin)},
        };
        struct config ch = {.n = 2, .vars = set};
        int64_t v = 0;
        CHECK(store_config_update(s, a->id, &ch, "me", "Set B, A config vars", &v) == 0);
        CHECK(v == 2);

        struct config *c = NULL;
        CHECK(store_config_get(s, a->id, &c) == 0);
        CHECK(c && c->n == 2);
        CHECK(c && streq(c->vars[0].key, "A")); /* sorted */
        CHECK(c && c->vars[0].value_len == sizeof(bin) &&
              memcmp(c->vars[0].value, bin, sizeof(bin)) == 0);
        config_free(c);

        struct config_var unset[] = {{.key = "A", .value = NULL}};
        struct config ch2 = {.n = 1, .vars = unset};
        CHECK(store_config_update(s, a->id, &ch2, "me", "Remove A config vars", &v) == 0);
        CHECK(v == 3);
        CHECK(store_config_get(s, a->id, &c) == 0);
        CHECK(c && c->n == 1 && streq(c->vars[0].key, "B"));
        config_free(c);

        /* Each release keeps the config it was made with. */
        CHECK(store_release_config(s, a->id, 2, &c) == 0);
        CHECK(c && c->n == 2);
        config_free(c);
        CHECK(store_release_config(s, a->id, 1, &c) == 0);
        CHECK(c && c->n == 0);
        config_free(c);

        struct release *r = NULL;
        CHECK(store_release_get(s, a->id, 3, &r) == 0);
        CHECK(r && r->current && streq(r->description, "Remove A config vars"));
        char id[37];
        snprintf(id, sizeof(id), "%s", r->id);
        release_free(r);
        r = NULL;
        CHECK(store_release_get(s, a->id, 2, &r) == 0);
        CHECK(r && !r->current);
        release_free(r);
        r = NULL;
        CHECK(store_release_get_by_id(s, a->id, id, &r) == 0);
        CHECK(r && r->version == 3);
        release_free(r);
        CHECK(store_release_get(s, a->id, 99, &r) == -ENOENT);
        app_free(a);
        store_close(s);
}

static void test_config_limit_rolls_back(void)
{
        struct store *s = fresh();
        struct app *a = NULL;
        CHECK(store_app_create(s, "app1", "me", &a) == 0);
        size_t n = STORE_CONFIG_MAX_BYTES;
        char *big = malloc(n + 1);
        memset(big, 'x', n);
        big[n] = '\0';
        struct config_var set[] = {{.key = "OK", .value = "1", .value_len = 1},
                                   {.key = "BIG", .value = big, .value_len = n}};
        struct config ch = {.n = 2, .vars = set};
        int64_t v = 0;
        CHECK(store_config_update(s, a->id, &ch, "me", "x", &v) == -E2BIG);
        CHECK(v == 0);
        /* Nothing of it was kept: no var, no release, no version used. */
        struct config *c = NULL;
        CHECK(store_config_get(s, a->id, &c) == 0);
        CHECK(c && c->n == 0);
        config_free(c);
        struct config_var ok[] = {{.key = "OK", .value = "1", .value_len = 1}};
        struct config ch2 = {.n = 1, .vars = ok};
        CHECK(store_config_update(s, a->id, &ch2, "me", "Set OK config vars", &v) == 0);
        CHECK(v == 2);
        free(big);
        app_free(a);
        store_close(s);
}

static void test_rename_destroy(void)
{
        struct store *s = fresh();
        struct app *a = NULL, *b = NULL;
        CHECK(store_app_create(s, "one", "me", &a) == 0);
        CHECK(store_app_create(s, "two", "me", &b) == 0);
        CHECK(store_app_rename(s, a->id, "two") == -EEXIST);
        CHECK(store_app_rename(s, a->id, "three") == 0);
        struct app *x = NULL;
        CHECK(store_app_get(s, "one", &x) == -ENOENT);
        CHECK(store_app_get(s, "three", &x) == 0);
        app_free(x);

        struct config_var set[] = {{.key = "K", .value = "v", .value_len = 1}};
        struct config ch = {.n = 1, .vars = set};
        CHECK(store_config_update(s, a->id, &ch, "me", "Set K config vars", NULL) == 0);
        CHECK(store_app_destroy(s, a->id) == 0);
        CHECK(store_app_destroy(s, a->id) == -ENOENT);
        struct release_list *l = NULL;
        CHECK(store_release_list(s, a->id, &l) == 0);
        CHECK(l && l->n == 0);
        release_list_free(l);
        struct config *c = NULL;
        CHECK(store_config_get(s, a->id, &c) == 0);
        CHECK(c && c->n == 0);
        config_free(c);

        /* The same name again starts from v1. */
        struct app *again = NULL;
        CHECK(store_app_create(s, "three", "me", &again) == 0);
        CHECK(store_release_list(s, again->id, &l) == 0);
        CHECK(l && l->n == 1 && l->releases[0].version == 1);
        release_list_free(l);
        app_free(again);
        app_free(a);
        app_free(b);
        store_close(s);
}

static void test_tokens(void)
{
        struct store *s = fresh();
        struct token *t = NULL, *f = NULL;
        int64_t n = -1;
        CHECK(store_token_count(s, &n) == 0 && n == 0);
        CHECK(store_token_create(s, "aa", "me@h", "global", "admin", &t) == 0);
        CHECK(t && streq(t->scope, "global") && streq(t->user, "me@h"));
        CHECK(store_token_create(s, "aa", "x", "read", NULL, NULL) == -EEXIST);
        CHECK(store_token_create(s, "bb", "x", "read", NULL, NULL) == 0);
        CHECK(store_token_find(s, "aa", &f) == 0);
        CHECK(f && streq(f->id, t->id));
        token_free(f);
        f = NULL;
        CHECK(store_token_find(s, "cc", &f) == -ENOENT && f == NULL);
        struct token_list *l = NULL;
        CHECK(store_token_list(s, &l) == 0 && l && l->n == 2);
        token_list_free(l);
        CHECK(store_token_delete(s, t->id) == 0);
        CHECK(store_token_delete(s, t->id) == -ENOENT);
        CHECK(store_token_find(s, "aa", &f) == -ENOENT);
        CHECK(store_token_count(s, &n) == 0 && n == 1);
        token_free(t);
        store_close(s);
}

static void test_versions_sequential_across_connections(void)
{
        /* Two connections to one database (as two pierds would be): the
         * write lock taken up front keeps versions gap- and duplicate-free. */
        struct store *s1 = fresh(), *s2 = NULL;
        CHECK(store_open(path, &s2) == 0);
        struct app *a = NULL;
        CHECK(store_app_create(s1, "app1", "me", &a) == 0);
        struct config_var set[] = {{.key = "K", .value = "v", .value_len = 1}};
        struct config ch = {.n = 1, .vars = set};
        for (int i = 0; i < 10; i++) {
                int64_t v1 = 0, v2 = 0;
                CHECK(store_config_update(s1, a->id, &ch, "me", "d", &v1) == 0);
                CHECK(store_config_update(s2, a->id, &ch, "me", "d", &v2) == 0);
                CHECK(v1 == 2 + 2 * i && v2 == 3 + 2 * i);
        }
        app_free(a);
        store_close(s1);
        store_close(s2);
}

static void test_deploy_config_rollback(void)
{
        struct store *s = fresh();
        struct app *a = NULL;
        CHECK(store_app_create(s, "app1", "me", &a) == 0);
        CHECK(a && a->uid > STORE_APP_UID_BASE);
        struct slug sl = {.id = "11111111-1111-4111-8111-111111111111", .commit = "abc",
                          .size = 10, .process_types = "{\"web\":\"x\"}", .buildpack = "B"};
        int64_t v = 0;
        CHECK(store_release_deploy(s, a->id, &sl, "me", "Deploy abc", &v) == 0 && v == 2);
        /* the same slug twice is refused */
        CHECK(store_release_deploy(s, a->id, &sl, "me", "Deploy abc", &v) == -EEXIST);

        struct config_var set[] = {{.key = "K", .value = "1", .value_len = 1}};
        struct config ch = {.n = 1, .vars = set};
        CHECK(store_config_update(s, a->id, &ch, "me", "Set K config vars", &v) == 0 && v == 3);
        struct release *r = NULL;
        CHECK(store_release_get(s, a->id, 3, &r) == 0);
        /* a config change keeps the code */
        CHECK(r && r->slug_id && streq(r->slug_id, sl.id));
        CHECK(r && streq(r->process_types, "{\"web\":\"x\"}"));
        release_free(r);

        set[0].value = "2";
        CHECK(store_config_update(s, a->id, &ch, "me", "Set K config vars", &v) == 0 && v == 4);
        CHECK(store_release_rollback(s, a->id, 3, "me", &v) == 0 && v == 5);
        r = NULL;
        CHECK(store_release_get(s, a->id, 5, &r) == 0);
        CHECK(r && streq(r->description, "Rollback to v3") && r->current);
        CHECK(r && r->slug_id && streq(r->slug_id, sl.id));
        release_free(r);
        struct config *c = NULL;
        CHECK(store_config_get(s, a->id, &c) == 0);
        CHECK(c && c->n == 1 && streq(c->vars[0].value, "1"));
        config_free(c);
        CHECK(store_release_rollback(s, a->id, 99, "me", &v) == -ENOENT);

        struct slug *got = NULL;
        CHECK(store_slug_get(s, a->id, sl.id, &got) == 0);
        CHECK(got && streq(got->commit, "abc") && got->size == 10);
        slug_free(got);

        struct buildpack_list *bl = NULL;
        char *urls[] = {"python", "https://example.invalid/bp.git"};
        struct buildpack_list want = {.n = 2, .urls = urls};
        CHECK(store_buildpacks_set(s, a->id, &want) == 0);
        CHECK(store_buildpacks_get(s, a->id, &bl) == 0);
        CHECK(bl && bl->n == 2 && streq(bl->urls[1], urls[1]));
        buildpack_list_free(bl);
        app_free(a);
        store_close(s);
}

/* SPEC §3: with a release command, a release made by a deploy, a config
 * change or a rollback is pending and not current until it succeeded. */
static void test_release_command_pending(void)
{
        struct store *s = fresh();
        struct app *a = NULL;
        CHECK(store_app_create(s, "app1", "me", &a) == 0);
        struct slug sl = {.id = "22222222-2222-4222-8222-222222222222",
                          .commit = "abc",
                          .size = 10,
                          .process_types = "{\"web\":\"x\",\"release\":\"./migrate\"}",
                          .buildpack = "B"};
        int64_t v = 0;
        struct release *r = NULL;
        CHECK(store_release_deploy(s, a->id, &sl, "me", "Deploy abc", &v) == 0 && v == 2);
        CHECK(store_release_get(s, a->id, 2, &r) == 0);
        CHECK(r && streq(r->status, "pending") && !r->current);
        release_free(r);
        r = NULL;
        /* A config change while v2's command runs keeps v2's code: v3 going
         * live after v2 must not undo the deploy. */
        struct config_var set[] = {{.key = "K", .value = "1", .value_len = 1}};
        struct config ch = {.n = 1, .vars = set};
        CHECK(store_config_update(s, a->id, &ch, "me", "Set K config vars", &v) == 0 && v == 3);
        CHECK(store_release_get(s, a->id, 3, &r) == 0);
        CHECK(r && r->slug_id && streq(r->slug_id, sl.id) && streq(r->status, "pending"));
        release_free(r);
        r = NULL;
        CHECK(store_release_set_status(s, a->id, 2, "succeeded") == 0);
        CHECK(store_release_set_status(s, a->id, 3, "succeeded") == 0);

        CHECK(store_config_update(s, a->id, &ch, "me", "Set K config vars", &v) == 0 && v == 4);
        CHECK(store_release_get(s, a->id, 4, &r) == 0);
        CHECK(r && streq(r->status, "pending") && !r->current);
        release_free(r);
        r = NULL;
        CHECK(store_release_get(s, a->id, 3, &r) == 0);
        CHECK(r && r->current);
        release_free(r);
        r = NULL;
        /* The command failed: v3 stays current; the app's config vars are
         * the new ones all the same, as on Heroku. */
        CHECK(store_release_set_status(s, a->id, 4, "failed") == 0);
        CHECK(store_release_set_status(s, a->id, 4, "succeeded") == -ENOENT);
        struct config *c = NULL;
        CHECK(store_config_get(s, a->id, &c) == 0);
        CHECK(c && c->n == 1);
        config_free(c);

        CHECK(store_release_rollback(s, a->id, 2, "me", &v) == 0 && v == 5);
        CHECK(store_release_get(s, a->id, 5, &r) == 0);
        CHECK(r && streq(r->status, "pending") && !r->current);
        release_free(r);
        r = NULL;
        CHECK(store_release_set_status(s, a->id, 5, "succeeded") == 0);
        CHECK(store_release_get(s, a->id, 5, &r) == 0);
        CHECK(r && streq(r->status, "succeeded") && r->current);
        release_free(r);
        r = NULL;

        /* pierd was killed while a release command ran: at start the
         * release is failed, not left pending for ever. */
        int n = -1;
        CHECK(store_config_update(s, a->id, &ch, "me", "Set K config vars", &v) == 0 && v == 6);
        CHECK(store_release_fail_pending(s, &n) == 0 && n == 1);
        CHECK(store_release_get(s, a->id, 6, &r) == 0);
        CHECK(r && streq(r->status, "failed") && !r->current);
        release_free(r);
        CHECK(store_release_fail_pending(s, &n) == 0 && n == 0);
        app_free(a);
        store_close(s);
}

static void test_maintenance(void)
{
        struct store *s = fresh();
        struct app *a = NULL, *x = NULL;
        CHECK(store_app_create(s, "quiet", "me", &a) == 0);
        CHECK(a && !a->maintenance);
        CHECK(store_app_set_maintenance(s, a->id, true) == 0);
        CHECK(store_app_get(s, "quiet", &x) == 0);
        CHECK(x && x->maintenance && x->updated_at >= a->updated_at);
        app_free(x);
        x = NULL;
        /* Setting it again is no error; off is off. */
        CHECK(store_app_set_maintenance(s, a->id, true) == 0);
        CHECK(store_app_set_maintenance(s, a->id, false) == 0);
        CHECK(store_app_get(s, a->id, &x) == 0);
        CHECK(x && !x->maintenance);
        app_free(x);
        CHECK(store_app_set_maintenance(s, "no-such-id", true) == -ENOENT);
        app_free(a);
        store_close(s);
}

static void test_domains(void)
{
        struct store *s = fresh();
        struct app *a = NULL, *b = NULL;
        CHECK(store_app_create(s, "one", "me", &a) == 0);
        CHECK(store_app_create(s, "two", "me", &b) == 0);

        struct domain *d = NULL, *e = NULL;
        CHECK(store_domain_add(s, a->id, "www.example.com", &d) == 0);
        CHECK(d && streq(d->hostname, "www.example.com") && streq(d->app_id, a->id));
        CHECK(d && strlen(d->id) == 36 && d->created_at > 0);
        CHECK(store_domain_add(s, a->id, "api.example.com", NULL) == 0);
        /* A hostname belongs to one app: this one or another. */
        CHECK(store_domain_add(s, a->id, "www.example.com", &e) == -EEXIST);
        CHECK(store_domain_add(s, b->id, "www.example.com", &e) == -EEXIST);
        CHECK(e == NULL);
        CHECK(store_domain_add(s, "no-such-id", "x.example.com", NULL) == -ENOENT);

        struct domain_list *l = NULL;
        CHECK(store_domain_list(s, a->id, &l) == 0);
        CHECK(l && l->n == 2);
        CHECK(l && l->n == 2 && streq(l->domains[0].hostname, "api.example.com") &&
              streq(l->domains[1].hostname, "www.example.com"));
        domain_list_free(l);
        l = NULL;
        CHECK(store_domain_list(s, b->id, &l) == 0);
        CHECK(l && l->n == 0);
        domain_list_free(l);

        /* By hostname or id, only the app's own. */
        CHECK(store_domain_get(s, a->id, "www.example.com", &e) == 0);
        CHECK(e && d && streq(e->id, d->id));
        domain_free(e);
        e = NULL;
        CHECK(store_domain_get(s, a->id, d->id, &e) == 0);
        CHECK(e && streq(e->hostname, "www.example.com"));
        domain_free(e);
        e = NULL;
        CHECK(store_domain_get(s, b->id, "www.example.com", &e) == -ENOENT);
        CHECK(store_domain_find(s, "www.example.com", &e) == 0);
        CHECK(e && streq(e->app_id, a->id));
        domain_free(e);
        e = NULL;
        CHECK(store_domain_find(s, "nope.example.com", &e) == -ENOENT);

        CHECK(store_domain_remove(s, b->id, "www.example.com") == -ENOENT);
        CHECK(store_domain_remove(s, a->id, d->id) == 0);
        CHECK(store_domain_remove(s, a->id, "www.example.com") == -ENOENT);
        CHECK(store_domain_add(s, b->id, "www.example.com", NULL) == 0);

        /* Destroying an app frees its hostnames for others. */
        CHECK(store_app_destroy(s, a->id) == 0);
        CHECK(store_domain_list(s, a->id, &l) == 0);
        CHECK(l && l->n == 0);
        domain_list_free(l);
        CHECK(store_domain_add(s, b->id, "api.example.com", NULL) == 0);

        /* At most STORE_DOMAINS_MAX an app, and a refused add keeps nothing. */
        struct app *c = NULL;
        CHECK(store_app_create(s, "three", "me", &c) == 0);
        int r = 0;
        for (int i = 0; i < STORE_DOMAINS_MAX && r == 0; i++) {
                char h[64];
                snprintf(h, sizeof(h), "h%d.example.org", i);
                r = store_domain_add(s, c->id, h, NULL);
        }
        CHECK(r == 0);
        CHECK(store_domain_add(s, c->id, "one-more.example.org", NULL) == -E2BIG);
        CHECK(store_domain_find(s, "one-more.example.org", &e) == -ENOENT);
        CHECK(store_domain_remove(s, c->id, "h0.example.org") == 0);
        CHECK(store_domain_add(s, c->id, "one-more.example.org", NULL) == 0);

        /* They survive a reopen. */
        store_close(s);
        CHECK(store_open(path, &s) == 0);
        CHECK(store_domain_list(s, b->id, &l) == 0);
        CHECK(l && l->n == 2);
        domain_list_free(l);

        app_free(c);
        domain_free(d);
        app_free(a);
        app_free(b);
        store_close(s);
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
        return remove(p);
}

static void test_drains(void)
{
        struct store *s = fresh();
        struct app *a = NULL, *b = NULL;
        CHECK(store_app_create(s, "one", "me", &a) == 0);
        CHECK(store_app_create(s, "two", "me", &b) == 0);

        struct drain *d = NULL, *e = NULL;
        CHECK(store_drain_add(s, a->id, "syslog://logs.example.com:514", &d) == 0);
        CHECK(d && streq(d->url, "syslog://logs.example.com:514") && streq(d->app_id, a->id));
        CHECK(d && strlen(d->id) == 36 && d->created_at > 0);
        CHECK(d && strlen(d->token) == 38 && strncmp(d->token, "d.", 2) == 0 &&
              !streq(d->token + 2, d->id));
        CHECK(store_drain_add(s, a->id, "https://h.example.com/x", NULL) == 0);
        /* A URL once per app; another app may have it too. */
        CHECK(store_drain_add(s, a->id, "syslog://logs.example.com:514", &e) == -EEXIST);
        CHECK(e == NULL);
        CHECK(store_drain_add(s, b->id, "syslog://logs.example.com:514", &e) == 0);
        CHECK(e && d && !streq(e->token, d->token) && !streq(e->id, d->id));
        drain_free(e);
        e = NULL;
        CHECK(store_drain_add(s, "no-such-id", "syslog://x:1", NULL) == -ENOENT);

        struct drain_list *l = NULL;
        CHECK(store_drain_list(s, a->id, &l) == 0);
        CHECK(l && l->n == 2 && streq(l->drains[0].url, "syslog://logs.example.com:514") &&
              streq(l->drains[1].url, "https://h.example.com/x"));
        drain_list_free(l);
        l = NULL;
        CHECK(store_drain_list_all(s, &l) == 0);
        CHECK(l && l->n == 3);
        drain_list_free(l);
        l = NULL;

        /* By URL, id or token, only the app's own. */
        CHECK(store_drain_get(s, a->id, "syslog://logs.example.com:514", &e) == 0);
        CHECK(e && d && streq(e->id, d->id) && streq(e->token, d->token));
        drain_free(e);
        e = NULL;
        CHECK(d && store_drain_get(s, a->id, d->id, &e) == 0);
        drain_free(e);
        e = NULL;
        CHECK(d && store_drain_get(s, a->id, d->token, &e) == 0);
        drain_free(e);
        e = NULL;
        CHECK(d && store_drain_get(s, b->id, d->id, &e) == -ENOENT);
        CHECK(e == NULL);

        CHECK(d && store_drain_remove(s, b->id, d->id) == -ENOENT);
        CHECK(d && store_drain_remove(s, a->id, d->id) == 0);
        CHECK(store_drain_remove(s, a->id, "syslog://logs.example.com:514") == -ENOENT);
        CHECK(store_drain_remove(s, a->id, "https://h.example.com/x") == 0);
        CHECK(store_drain_list(s, a->id, &l) == 0);
        CHECK(l && l->n == 0);
        drain_list_free(l);
        l = NULL;

        /* At most STORE_DRAINS_MAX an app; a refused add keeps nothing. */
        int r = 0;
        for (int i = 0; i < STORE_DRAINS_MAX && r == 0; i++) {
                char u[64];
                snprintf(u, sizeof(u), "syslog://h%d.example.org:514", i);
                r = store_drain_add(s, a->id, u, NULL);
        }
        CHECK(r == 0);
        CHECK(store_drain_add(s, a->id, "syslog://more.example.org:514", NULL) == -E2BIG);
        CHECK(store_drain_get(s, a->id, "syslog://more.example.org:514", &e) == -ENOENT);

        /* Destroying an app takes its drains along. */
        CHECK(store_app_destroy(s, a->id) == 0);
        CHECK(store_drain_list_all(s, &l) == 0);
        CHECK(l && l->n == 1 && streq(l->drains[0].app_id, b->id));
        drain_list_free(l);

        drain_free(d);
        app_free(a);
        app_free(b);
        store_close(s);
}

int main(void)
{
        if (!mkdtemp(dir))
                return 1;
        RUN(test_open_migrates);
        RUN(test_app_create_get_list);
        RUN(test_initial_release);
        RUN(test_config_update_and_snapshots);
        RUN(test_config_limit_rolls_back);
        RUN(test_rename_destroy);
        RUN(test_tokens);
        RUN(test_versions_sequential_across_connections);
        RUN(test_deploy_config_rollback);
        RUN(test_release_command_pending);
        RUN(test_maintenance);
        RUN(test_domains);
        RUN(test_drains);
        if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
                return 1;
        return test_done();
}
