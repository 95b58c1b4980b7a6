#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "builder/envblock.h"
#include "lib/names.h"
#include "lib/util.h"

struct env_list *env_list_new(void)
{
        struct env_list *env = calloc(1, sizeof(*env));

        if (!env)
                return NULL;
        env->entries = calloc(1, sizeof(char *));
        if (!env->entries)
                return mfree(env);
        return env;
}

void env_list_free(struct env_list *env)
{
        if (!env)
                return;
        for (size_t i = 0; i < env->n; i++)
                free(env->entries[i]);
        free(env->entries);
        free(env);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct env_list *, env_list_free);

static ssize_t find(const struct env_list *env, const char *name, size_t name_len)
{
        for (size_t i = 0; i < env->n; i++)
                if (strneq(env->entries[i], name, name_len) && env->entries[i][name_len] == '=')
                        return (ssize_t)i;
        return -1;
}

const char *env_list_get(const struct env_list *env, const char *name)
{
        ssize_t i;

        if (!env || !name)
                return NULL;
        i = find(env, name, strlen(name));
        return i < 0 ? NULL : env->entries[i] + strlen(name) + 1;
}

/* Sets the entry name[0..name_len)=value[0..value_len); the name is valid. */
static int set(struct env_list *env, const char *name, size_t name_len, const char *value,
               size_t value_len)
{
        size_t entry_len = name_len + 1 + value_len;
        ssize_t i = find(env, name, name_len);
        size_t old_len = i >= 0 ? strlen(env->entries[i]) + 1 : 0;
        char *entry;

        if (memchr(value, '\0', value_len))
                return -EINVAL;
        if (entry_len + 1 > ENV_MAX_ENTRY || env->size - old_len + entry_len + 1 > ENV_MAX_SIZE ||
            (i < 0 && env->n >= ENV_MAX_VARS))
                return -E2BIG;
        entry = malloc(entry_len + 1);
        if (!entry)
                return -ENOMEM;
        memcpy(entry, name, name_len);
        entry[name_len] = '=';
        memcpy(entry + name_len + 1, value, value_len);
        entry[entry_len] = '\0';

        if (i >= 0) {
                free(env->entries[i]);
                env->entries[i] = entry;
        } else {
                char **grown = reallocarray(env->entries, env->n + 2, sizeof(char *));

                if (!grown) {
                        free(entry);
                        return -ENOMEM;
                }
                env->entries = grown;
                env->entries[env->n++] = entry;
                env->entries[env->n] = NULL;
        }
        env->size = env->size - old_len + entry_len + 1;
        return 0;
}

int env_list_set(struct env_list *env, const char *name, const char *value, size_t value_len)
{
        if (!config_key_valid(name))
                return -EINVAL;
        return set(env, name, strlen(name), value, value_len);
}

int env_list_merge(struct env_list *to, const struct env_list *from)
{
        for (size_t i = 0; i < from->n; i++) {
                const char *e = from->entries[i], *eq = strchr(e, '=');
                int r;

                r = set(to, e, (size_t)(eq - e), eq + 1, strlen(eq + 1));
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool name_valid(const char *s, size_t n)
{
        char buf[CONFIG_KEY_MAX + 1];

        if (n == 0 || n > CONFIG_KEY_MAX)
                return false;
        memcpy(buf, s, n);
        buf[n] = '\0';
        return config_key_valid(buf);
}

static bool is_shell_bookkeeping(const char *s, size_t n)
{
        static const char *const names[] = {"PWD", "OLDPWD", "SHLVL", "_"};

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (n == strlen(names[i]) && memcmp(s, names[i], n) == 0)
                        return true;
        return false;
}

int env_export_parse(const char *data, size_t len, const struct env_list *base,
                     struct env_list **ret)
{
        __attribute__((cleanup(env_list_freep))) struct env_list *out = NULL;
        int r;

        if (len > ENV_MAX_SIZE)
                return -E2BIG;
        out = env_list_new();
        if (!out)
                return -ENOMEM;

        for (size_t pos = 0; pos < len;) {
                const char *e = data + pos, *end = memchr(e, '\0', len - pos), *eq;
                size_t n = end ? (size_t)(end - e) : len - pos, name_len;
                ssize_t i;

                pos += n + 1;
                eq = memchr(e, '=', n);
                if (!eq)
                        continue;
                name_len = (size_t)(eq - e);
                if (!name_valid(e, name_len) || is_shell_bookkeeping(e, name_len))
                        continue;
                if (base) {
                        i = find(base, e, name_len);
                        if (i >= 0 && strlen(base->entries[i]) == n &&
                            memcmp(base->entries[i], e, n) == 0)
                                continue;
                }
                r = set(out, e, name_len, eq + 1, n - name_len - 1);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(out);
        return 0;
}
