/* Environments as lists of NAME=VALUE strings, and the `env -0` output a
 * buildpack's `export` file leaves behind.
 *
 * struct env_list owns its strings ("NAME=VALUE", malloc'd) and a
 * NULL-terminated array of them, ready to be an envp; free it with
 * env_list_free() (NULL is fine).  Names are config_key_valid() names
 * (lib/names.h).  Bounds: at most ENV_MAX_VARS entries of at most
 * ENV_MAX_ENTRY bytes each, ENV_MAX_SIZE bytes in all.
 *
 * env_export_parse() reads NUL-separated NAME=VALUE entries (the output of
 * `env -0`) and keeps those that differ from BASE: new names, or names BASE
 * has with another value.  Shell bookkeeping (PWD, OLDPWD, SHLVL, _) is
 * left out.  Entries whose name is not a valid variable name are skipped
 * (a shell can export odd names; they cannot be carried on safely).  A
 * trailing NUL is optional.  It returns a new list in *ret, or -E2BIG
 * (over a bound) or -ENOMEM with *ret untouched.
 */
#pragma once

#include <stddef.h>

#define ENV_MAX_VARS  1000
#define ENV_MAX_ENTRY (128 * 1024)
#define ENV_MAX_SIZE  (1024 * 1024)

struct env_list {
        size_t n;
        char **entries; /* n entries + NULL */
        size_t size;    /* sum of strlen(entries[i]) + 1 */
};

struct env_list *env_list_new(void);
void env_list_free(struct env_list *env);

/* Sets NAME to VALUE (replacing an earlier value).  Returns 0, -EINVAL (bad
 * name, or a NUL inside value[0..value_len)), -E2BIG or -ENOMEM; env is
 * unchanged on failure. */
int env_list_set(struct env_list *env, const char *name, const char *value, size_t value_len);

/* The value of NAME, pointing into env, or NULL. */
const char *env_list_get(const struct env_list *env, const char *name);

/* Sets every entry of FROM in TO. */
int env_list_merge(struct env_list *to, const struct env_list *from);

int env_export_parse(const char *data, size_t len, const struct env_list *base,
                     struct env_list **ret);
