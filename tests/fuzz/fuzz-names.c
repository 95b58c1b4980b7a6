/* The name validators against POSIX regular expressions of the documented
 * rules (the C locale makes [a-z] mean ASCII). */
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static regex_t app_re, key_re, type_re;

static void compile(regex_t *re, const char *pattern)
{
        if (regcomp(re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
                abort();
}

static bool match(const regex_t *re, const char *s)
{
        return regexec(re, s, 0, NULL, 0) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static bool initialized;
        char *s;
        size_t len;

        if (!initialized) {
                compile(&app_re, "^[a-z][a-z0-9-]{1,28}[a-z0-9]$");
                compile(&key_re, "^[A-Za-z_][A-Za-z0-9_]*$");
                compile(&type_re, "^[A-Za-z0-9_-]{1,59}$");
                initialized = true;
        }

        /* the validators see a C string; regexec too */
        s = malloc(size + 1);
        if (!s)
                abort();
        memcpy(s, data, size);
        s[size] = '\0';
        len = strlen(s);

        if (app_name_valid(s) != match(&app_re, s))
                abort();
        if (config_key_valid(s) != (match(&key_re, s) && len <= 256))
                abort();
        /* process_type_valid() takes a length; with it, NUL bytes count
         * as (invalid) characters */
        if (process_type_valid((const char *)data, size) != (size == len && match(&type_re, s)))
                abort();
        if (process_type_valid(s, len) != match(&type_re, s))
                abort();

        free(s);
        return 0;
}
