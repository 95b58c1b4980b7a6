/* The dyno's environment: the NUL-separated NAME=VALUE pairs pierd writes
 * to the --env-file (config vars, PORT, DYNO, ...), plus what pier-dyno
 * adds itself.
 *
 * struct dyno_env owns copies of every name and value; free it with
 * dyno_env_free() (NULL is fine).  Names are config_key_valid() names
 * (lib/names.h); values are any bytes but NUL.  Order is kept (first
 * appearance); setting a name again replaces its value in place.
 * Bounds: at most DYNO_ENV_MAX_VARS pairs, DYNO_ENV_MAX_SIZE bytes of input.
 */
#pragma once

#include <stddef.h>

#define DYNO_ENV_MAX_VARS 1000
#define DYNO_ENV_MAX_SIZE (1024 * 1024)

struct dyno_env {
        size_t n;
        char **names;
        char **values;
};

/* Parses LEN bytes of "NAME=VALUE\0NAME=VALUE\0..." (the last NUL is
 * optional, empty entries are skipped, a later NAME wins).  Returns 0 with
 * a new dyno_env in *ret, -EINVAL (an entry without '=' or with a bad
 * name), -E2BIG (over a bound) or -ENOMEM. */
int dyno_env_parse(const char *data, size_t len, struct dyno_env **ret);

/* Sets NAME to VALUE.  0, -EINVAL (bad name), -E2BIG or -ENOMEM; unchanged
 * on failure. */
int dyno_env_set(struct dyno_env *env, const char *name, const char *value);

/* The value of NAME (pointing into env) or NULL. */
const char *dyno_env_get(const struct dyno_env *env, const char *name);

/* A malloc'd NULL-terminated envp of malloc'd "NAME=VALUE" strings; free
 * with dyno_env_strv_free(). */
int dyno_env_strv(const struct dyno_env *env, char ***ret);
void dyno_env_strv_free(char **v);

void dyno_env_free(struct dyno_env *env);

static inline void dyno_env_freep(struct dyno_env **env)
{
        dyno_env_free(*env);
}

static inline void dyno_env_strv_freep(char ***v)
{
        dyno_env_strv_free(*v);
}
