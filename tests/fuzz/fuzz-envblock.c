/* env_export_parse() on arbitrary bytes (what a buildpack's export file
 * leaves in `env -0`): no crash, no leak; what is kept is within bounds,
 * has valid names, and differs from the base. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "builder/envblock.h"
#include "lib/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct env_list *base = env_list_new(), *changed = NULL;
        size_t total = 0;
        int r;

        if (!base)
                return 0;
        if (env_list_set(base, "PATH", "/usr/bin:/bin", 13) < 0 ||
            env_list_set(base, "HOME", "/app", 4) < 0) {
                env_list_free(base);
                return 0;
        }
        r = env_export_parse((const char *)data, size, base, &changed);
        if (r < 0) {
                if (changed || (r != -E2BIG && r != -ENOMEM))
                        abort();
                env_list_free(base);
                return 0;
        }
        if (!changed || changed->n > ENV_MAX_VARS || changed->entries[changed->n])
                abort();
        for (size_t i = 0; i < changed->n; i++) {
                const char *e = changed->entries[i], *eq = strchr(e, '=');
                char name[CONFIG_KEY_MAX + 1];
                const char *old;

                if (!eq || (size_t)(eq - e) > CONFIG_KEY_MAX)
                        abort();
                memcpy(name, e, (size_t)(eq - e));
                name[eq - e] = '\0';
                if (!config_key_valid(name) || strcmp(name, "PWD") == 0 ||
                    strcmp(name, "SHLVL") == 0)
                        abort();
                old = env_list_get(base, name);
                if (old && strcmp(old, eq + 1) == 0)
                        abort();
                for (size_t j = 0; j < i; j++)
                        if (strncmp(changed->entries[j], e, (size_t)(eq - e) + 1) == 0)
                                abort();
                total += strlen(e) + 1;
        }
        if (total != changed->size || total > ENV_MAX_SIZE)
                abort();
        r = env_list_merge(base, changed);
        if (r < 0 && r != -E2BIG && r != -ENOMEM)
                abort();
        env_list_free(changed);
        env_list_free(base);
        return 0;
}
