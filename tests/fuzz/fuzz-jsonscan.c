/* json_depth_ok() against a reference that first blanks out string
 * contents and then measures the deepest nesting, checked at the exact
 * threshold and around it. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/jsonscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t reference_max_depth(const uint8_t *data, size_t size)
{
        uint8_t *copy = malloc(size + 1);
        size_t depth = 0, max = 0, i = 0;

        if (!copy)
                abort();
        memcpy(copy, data, size);

        /* pass 1: replace everything inside strings (and the quotes) by
         * spaces */
        while (i < size) {
                if (copy[i] != '"') {
                        i++;
                        continue;
                }
                copy[i++] = ' ';
                while (i < size && copy[i] != '"') {
                        if (copy[i] == '\\' && i + 1 < size)
                                copy[i++] = ' ';
                        copy[i++] = ' ';
                }
                if (i < size)
                        copy[i++] = ' ';
        }

        /* pass 2: count */
        for (i = 0; i < size; i++) {
                if (copy[i] == '[' || copy[i] == '{') {
                        depth++;
                        if (depth > max)
                                max = depth;
                } else if ((copy[i] == ']' || copy[i] == '}') && depth > 0) {
                        depth--;
                }
        }
        free(copy);
        return max;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *s = (const char *)data;
        size_t max = reference_max_depth(data, size);

        if (!json_depth_ok(s, size, (unsigned)max))
                abort();
        if (max > 0 && json_depth_ok(s, size, (unsigned)max - 1))
                abort();
        if (!json_depth_ok(s, size, (unsigned)max + 1))
                abort();
        if (max > 0 && json_depth_ok(s, size, 0))
                abort();
        if (!json_depth_ok(s, size, ~0u))
                abort();
        return 0;
}
