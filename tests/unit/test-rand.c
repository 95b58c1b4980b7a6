#include <stdint.h>
#include <string.h>

#include "lib/rand.h"
#include "test.h"

static int is_hex_lower(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void test_random_bytes(void)
{
        uint8_t a[64], b[64], big[100000];
        unsigned counts[256] = {0};

        memset(a, 0, sizeof(a));
        memset(b, 0, sizeof(b));
        CHECK(random_bytes(a, sizeof(a)) == 0);
        CHECK(random_bytes(b, sizeof(b)) == 0);
        CHECK(memcmp(a, b, sizeof(a)) != 0);
        CHECK(random_bytes(NULL, 0) == 0);

        /* every byte value shows up in 100000 bytes (expected ~390 each) */
        CHECK(random_bytes(big, sizeof(big)) == 0);
        for (size_t i = 0; i < sizeof(big); i++)
                counts[big[i]]++;
        for (int i = 0; i < 256; i++)
                CHECK(counts[i] > 200 && counts[i] < 600);
}

static void test_uuid_v4(void)
{
        char u[37], v[37];

        for (int k = 0; k < 200; k++) {
                memset(u, 'X', sizeof(u));
                CHECK(uuid_v4(u) == 0);
                CHECK(u[36] == '\0');
                CHECK(strlen(u) == 36);
                for (int i = 0; i < 36; i++) {
                        if (i == 8 || i == 13 || i == 18 || i == 23)
                                CHECK(u[i] == '-');
                        else
                                CHECK(is_hex_lower(u[i]));
                }
                CHECK(u[14] == '4');
                CHECK(u[19] == '8' || u[19] == '9' || u[19] == 'a' || u[19] == 'b');
        }
        CHECK(uuid_v4(v) == 0);
        CHECK(strcmp(u, v) != 0);
}

static void test_token_new(void)
{
        char t[65], s[65];

        memset(t, 'X', sizeof(t));
        CHECK(token_new(t) == 0);
        CHECK(t[64] == '\0');
        CHECK(strlen(t) == 64);
        for (int i = 0; i < 64; i++)
                CHECK(is_hex_lower(t[i]));
        CHECK(token_new(s) == 0);
        CHECK(strcmp(s, t) != 0);
}

int main(void)
{
        RUN(test_random_bytes);
        RUN(test_uuid_v4);
        RUN(test_token_new);
        return test_done();
}
