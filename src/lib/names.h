/* Validation of the names users choose: app names, config var names and
 * Procfile process types, plus a generator for readable app names.
 *
 * Pure functions on caller-owned strings; nothing is allocated.  The *_RULE
 * strings say the rule in words, for error messages that reach a user.
 */
#pragma once

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>

/* ^[a-z][a-z0-9-]{1,28}[a-z0-9]$ -- an app name is also a DNS label and a
 * directory name, hence lowercase and no leading or trailing dash. */
#define APP_NAME_RULE                                                                              \
        "app names must start with a letter, end with a letter or digit, use only lowercase "      \
        "letters, digits and dashes, and be 3 to 30 characters long"
#define APP_NAME_MAX 30

/* ^[A-Za-z_][A-Za-z0-9_]*$, 1 to 256 characters: a valid shell variable. */
#define CONFIG_KEY_RULE                                                                            \
        "config var names must start with a letter or underscore and contain only letters, "       \
        "digits and underscores (at most 256 characters)"
#define CONFIG_KEY_MAX 256

/* pierd's app[api] line when it starts a release's release command, then
 * the dyno's name: "Running release command for v7 as release.4821".  The
 * push, the CLI and releases:output find the command's output by it. */
#define RELEASE_COMMAND_EVENT "Running release command for v%" PRId64 " as "

/* A dyno is named TYPE.N with N up to 100 (the formation's limit), and a
 * dyno name has at most 63 characters. */
#define PROCESS_TYPE_MAX 59

/* NULL is not valid. */
bool app_name_valid(const char *name);
bool config_key_valid(const char *key);

/* ^[A-Za-z0-9_-]{1,59}$ over exactly len bytes (s need not be
 * NUL-terminated). */
bool process_type_valid(const char *s, size_t len);

/* Writes a random name such as "quiet-river-4821" (adjective, noun, four
 * digits) that satisfies app_name_valid().  Returns 0, or a negative errno
 * from random_bytes() with buf untouched. */
int app_name_generate(char buf[static 32]);
