/* See envfile.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dyno/envfile.h"
#include "lib/names.h"
#include "lib/util.h"

void dyno_env_free(struct dyno_env *env)
{
        if (!env)
                return;
        for (size_t i = 0; i < env->n; i++) {
                free(env->names[i]);
                free(env->values[i]);
        }
        free(env->names);
        free(env->values);
        free(env);
}

const char *dyno_env_get(const struct dyno_env *env, const char *name)
{
        for (size_t i = 0; env && i < env->n; i++)
                if (streq(env->names[i], name))
                        return env->values[i];
        return NULL;
}

/* Takes NAME and VALUE (malloc'd) on success only. */
static int set_owned(struct dyno_env *env, char *name, char *value)
{
        char **names, **values;

        for (size_t i = 0; i < env->n; i++)
                if (streq(env->names[i], name)) {
                        free(env->values[i]);
                        env->values[i] = value;
                        free(name);
                        return 0;
                }
        if (env->n >= DYNO_ENV_MAX_VARS)
                return -E2BIG;
        names = reallocarray(env->names, env->n + 1, sizeof(char *));
        if (!names)
                return -ENOMEM;
        env->names = names;
        values = reallocarray(env->values, env->n + 1, sizeof(char *));
        if (!values)
                return -ENOMEM;
        env->values = values;
        env->names[env->n] = name;
        env->values[env->n] = value;
        env->n++;
        return 0;
}

static int set_n(struct dyno_env *env, const char *name, size_t name_len, const char *value,
                 size_t value_len)
{
        _cleanup_free_ char *n = strndup(name, name_len);
        _cleanup_free_ char *v = strndup(value, value_len);
        int r;

        if (!n || !v)
                return -ENOMEM;
        if (strlen(n) != name_len || !config_key_valid(n))
                return -EINVAL;
        r = set_owned(env, n, v);
        if (r < 0)
                return r;
        n = NULL; /* set_owned() took or freed it */
        v = NULL;
        return 0;
}

int dyno_env_set(struct dyno_env *env, const char *name, const char *value)
{
        return set_n(env, name, strlen(name), value, strlen(value));
}

int dyno_env_parse(const char *data, size_t len, struct dyno_env **ret)
{
        _cleanup_(dyno_env_freep) struct dyno_env *env = NULL;

        if (len > DYNO_ENV_MAX_SIZE)
                return -E2BIG;
        env = calloc(1, sizeof(*env));
        if (!env)
                return -ENOMEM;
        for (size_t pos = 0; pos < len;) {
                const char *entry = data + pos;
                const char *end = memchr(entry, '\0', len - pos);
                size_t elen = end ? (size_t)(end - entry) : len - pos;
                const char *eq = memchr(entry, '=', elen);
                int r;

                pos += elen + 1;
                if (elen == 0)
                        continue;
                if (!eq)
                        return -EINVAL;
                r = set_n(env, entry, (size_t)(eq - entry), eq + 1,
                          elen - (size_t)(eq - entry) - 1);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(env);
        return 0;
}

void dyno_env_strv_free(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

int dyno_env_strv(const struct dyno_env *env, char ***ret)
{
        char **v = calloc(env->n + 1, sizeof(char *));

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < env->n; i++) {
                size_t nl = strlen(env->names[i]), vl = strlen(env->values[i]);

                v[i] = malloc(nl + vl + 2);
                if (!v[i]) {
                        dyno_env_strv_free(v);
                        return -ENOMEM;
                }
                memcpy(v[i], env->names[i], nl);
                v[i][nl] = '=';
                memcpy(v[i] + nl + 1, env->values[i], vl + 1);
        }
        *ret = v;
        return 0;
}
