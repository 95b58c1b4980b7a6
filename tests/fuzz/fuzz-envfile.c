/* pier-dyno's env file (NUL-separated KEY=VALUE, from pierd): parse
 * anything, and what parses must turn into an environment whose every
 * entry has a '=' and no NUL, and survive setting HOME on top. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dyno/envfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct dyno_env *env = NULL;
        if (dyno_env_parse((const char *)data, size, &env) < 0)
                return 0;
        if (dyno_env_set(env, "HOME", "/app") < 0)
                abort();
        char **v = NULL;
        if (dyno_env_strv(env, &v) < 0)
                abort();
        int home = 0;
        for (char **p = v; *p; p++) {
                if (!strchr(*p, '='))
                        abort();
                if (strncmp(*p, "HOME=", 5) == 0) {
                        home++;
                        if (strcmp(*p, "HOME=/app") != 0)
                                abort();
                }
        }
        if (home != 1)
                abort();
        dyno_env_strv_free(v);
        dyno_env_free(env);
        return 0;
}
