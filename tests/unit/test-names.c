#include <string.h>

#include "lib/names.h"
#include "lib/util.h"
#include "test.h"

static void test_app_name_valid(void)
{
        static const char *const good[] = {
            "abc",
            "a1b",
            "my-app",
            "a-1",
            "aa0",
            "quiet-river-4821",
            "abcdefghijklmnopqrstuvwxyz1234", /* 30 */
            "a--b",
            "a-------------------z",
        };
        static const char *const bad[] = {
            "",
            "a",
            "ab",
            "1ab",
            "-ab",
            "ab-",
            "Abc",
            "aBc",
            "abC",
            "a_b",
            "a.b",
            "a b",
            "a/b",
            "../etc",
            "abc\n",
            "\nabc",
            "ab\tc",
            "abc ",
            "ábc",
            "abc\xff",
            "a\x80z",
            "abcdefghijklmnopqrstuvwxyz12345", /* 31 */
            "abcdefghijklmnopqrstuvwxyz12345678901234567890",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                if (!app_name_valid(good[i]))
                        printf("# should be valid: \"%s\"\n", good[i]);
                CHECK(app_name_valid(good[i]));
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (app_name_valid(bad[i]))
                        printf("# should be invalid: \"%s\"\n", bad[i]);
                CHECK(!app_name_valid(bad[i]));
        }
        CHECK(!app_name_valid(NULL));
        CHECK(strlen(APP_NAME_RULE) > 0);
}

static void test_config_key_valid(void)
{
        char key[300];

        CHECK(config_key_valid("A"));
        CHECK(config_key_valid("_"));
        CHECK(config_key_valid("DATABASE_URL"));
        CHECK(config_key_valid("lower_case1"));
        CHECK(config_key_valid("_9"));
        CHECK(!config_key_valid(""));
        CHECK(!config_key_valid("1ABC"));
        CHECK(!config_key_valid("A-B"));
        CHECK(!config_key_valid("A B"));
        CHECK(!config_key_valid("A=B"));
        CHECK(!config_key_valid("A\n"));
        CHECK(!config_key_valid("PATH;rm"));
        CHECK(!config_key_valid("Ä"));
        CHECK(!config_key_valid(NULL));

        memset(key, 'K', sizeof(key));
        key[256] = '\0';
        CHECK(config_key_valid(key));
        key[256] = 'K';
        key[257] = '\0';
        CHECK(!config_key_valid(key));
        key[299] = '\0';
        CHECK(!config_key_valid(key));
        CHECK(strlen(CONFIG_KEY_RULE) > 0);
}

static void test_process_type_valid(void)
{
        char t[70];

        CHECK(process_type_valid("web", 3));
        CHECK(process_type_valid("Worker_2-x", 10));
        CHECK(process_type_valid("-", 1));
        CHECK(process_type_valid("webX", 3)); /* only len bytes count */
        CHECK(!process_type_valid("web", 0));
        CHECK(!process_type_valid("", 0));
        CHECK(!process_type_valid(NULL, 3));
        CHECK(!process_type_valid("we b", 4));
        CHECK(!process_type_valid("web:", 4));
        CHECK(!process_type_valid("web\0x", 5));
        CHECK(!process_type_valid("w.b", 3));
        CHECK(!process_type_valid("wéb", 4));

        memset(t, 'a', sizeof(t));
        CHECK(process_type_valid(t, 59)); /* t.100 is a 63-character dyno name */
        CHECK(!process_type_valid(t, 60));
}

static void test_app_name_generate(void)
{
        char seen[32][32];
        char adjs[64][16];
        int n_adjs = 0;

        for (int i = 0; i < 2000; i++) {
                char buf[32];
                const char *d1, *d2;

                memset(buf, 'X', sizeof(buf));
                CHECK(app_name_generate(buf) == 0);
                CHECK(memchr(buf, '\0', sizeof(buf)) != NULL);
                if (!app_name_valid(buf))
                        printf("# generated invalid name \"%.32s\"\n", buf);
                CHECK(app_name_valid(buf));

                /* adjective-noun-NNNN */
                d1 = strchr(buf, '-');
                d2 = d1 ? strchr(d1 + 1, '-') : NULL;
                CHECK(d1 && d2 && d1 > buf && d2 > d1 + 1);
                if (d2) {
                        CHECK(strlen(d2 + 1) == 4);
                        CHECK(strspn(d2 + 1, "0123456789") == 4);
                        CHECK(strchr(d2 + 1, '-') == NULL);
                }
                if (i < 32)
                        memcpy(seen[i], buf, sizeof(buf));
                if (d1 && (size_t)(d1 - buf) < sizeof(adjs[0])) {
                        bool known = false;
                        for (int k = 0; k < n_adjs; k++)
                                known = known || strneq(adjs[k], buf, (size_t)(d1 - buf) + 1);
                        if (!known && n_adjs < 64) {
                                memcpy(adjs[n_adjs], buf, (size_t)(d1 - buf) + 1);
                                n_adjs++;
                        }
                }
        }

        /* 32 draws from ~22 million names: a repeat means a broken RNG */
        for (int i = 0; i < 32; i++)
                for (int j = i + 1; j < 32; j++)
                        CHECK(!streq(seen[i], seen[j]));

        /* 2000 draws from ~50 adjectives see (nearly) all of them */
        CHECK(n_adjs >= 45);
}

int main(void)
{
        RUN(test_app_name_valid);
        RUN(test_config_key_valid);
        RUN(test_process_type_valid);
        RUN(test_app_name_generate);
        return test_done();
}
