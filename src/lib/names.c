#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/names.h"
#include "lib/rand.h"
#include "lib/util.h"

static bool is_lower(char c)
{
        return c >= 'a' && c <= 'z';
}

static bool is_upper(char c)
{
        return c >= 'A' && c <= 'Z';
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

bool app_name_valid(const char *name)
{
        size_t len;

        if (!name)
                return false;
        len = strnlen(name, APP_NAME_MAX + 1);
        if (len < 3 || len > APP_NAME_MAX)
                return false;
        if (!is_lower(name[0]))
                return false;
        if (!is_lower(name[len - 1]) && !is_digit(name[len - 1]))
                return false;
        for (size_t i = 1; i < len - 1; i++) {
                if (!is_lower(name[i]) && !is_digit(name[i]) && name[i] != '-')
                        return false;
        }
        return true;
}

bool config_key_valid(const char *key)
{
        size_t len;

        if (!key)
                return false;
        len = strnlen(key, CONFIG_KEY_MAX + 1);
        if (len < 1 || len > CONFIG_KEY_MAX)
                return false;
        if (!is_lower(key[0]) && !is_upper(key[0]) && key[0] != '_')
                return false;
        for (size_t i = 1; i < len; i++) {
                char c = key[i];
                if (!is_lower(c) && !is_upper(c) && !is_digit(c) && c != '_')
                        return false;
        }
        return true;
}

bool process_type_valid(const char *s, size_t len)
{
        if (!s || len < 1 || len > PROCESS_TYPE_MAX)
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if (!is_lower(c) && !is_upper(c) && !is_digit(c) && c != '_' && c != '-')
                        return false;
        }
        return true;
}

/* At most 10 letters each, so that "adjective-noun-NNNN" is at most 26
 * characters, well within APP_NAME_MAX. */
static const char *const adjectives[] = {
    "ancient",  "autumn",    "bold",  "brave", "bright",   "calm",   "clever", "cool",   "crimson",
    "curious",  "damp",      "dark",  "dawn",  "eager",    "early",  "empty",  "fancy",  "frosty",
    "gentle",   "golden",    "grand", "green", "happy",    "hidden", "icy",    "jolly",  "keen",
    "late",     "lively",    "lucky", "misty", "morning",  "nimble", "noble",  "old",    "patient",
    "polite",   "proud",     "quiet", "rapid", "restless", "royal",  "shiny",  "silent", "snowy",
    "solitary", "sparkling", "still", "swift", "twilight",
};

static const char *const nouns[] = {
    "bird",    "breeze",   "brook",   "butterfly", "cloud", "dawn",   "dew",  "dream",     "dust",
    "feather", "field",    "fire",    "flower",    "fog",   "forest", "frog", "frost",     "glade",
    "glitter", "grass",    "harbor",  "haze",      "hill",  "lake",   "leaf", "meadow",    "moon",
    "morning", "mountain", "night",   "paper",     "pine",  "pond",   "rain", "resonance", "river",
    "sea",     "shadow",   "shape",   "silence",   "sky",   "smoke",  "snow", "sound",     "star",
    "sun",     "surf",     "thunder", "tree",      "water",
};

/* Returns a uniformly distributed number in [0, n) from the kernel CSPRNG,
 * rejecting the top of the range to avoid modulo bias. */
static int random_below(uint32_t n, uint32_t *ret)
{
        uint32_t limit = UINT32_MAX - UINT32_MAX % n;
        uint32_t v;
        int r;

        do {
                r = random_bytes(&v, sizeof(v));
                if (r < 0)
                        return r;
        } while (v >= limit);
        *ret = v % n;
        return 0;
}

int app_name_generate(char buf[static 32])
{
        uint32_t a, n, d;
        char out[32];
        int r, k;

        r = random_below(ELEMENTSOF(adjectives), &a);
        if (r < 0)
                return r;
        r = random_below(ELEMENTSOF(nouns), &n);
        if (r < 0)
                return r;
        /* 1000..9999: always four digits. */
        r = random_below(9000, &d);
        if (r < 0)
                return r;

        k = snprintf(out, sizeof(out), "%s-%s-%04u", adjectives[a], nouns[n],
                     (unsigned)(d + 1000) % 10000u);
        if (k < 0 || (size_t)k >= sizeof(out))
                return -EINVAL; /* cannot happen: the word lists are short */
        memcpy(buf, out, (size_t)k + 1);
        return 0;
}
