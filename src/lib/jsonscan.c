#include "lib/jsonscan.h"

bool json_depth_ok(const char *s, size_t len, unsigned max_depth)
{
        bool in_string = false, escaped = false;
        unsigned depth = 0;

        if (!s)
                return len == 0;

        for (size_t i = 0; i < len; i++) {
                char c = s[i];

                if (in_string) {
                        if (escaped)
                                escaped = false;
                        else if (c == '\\')
                                escaped = true;
                        else if (c == '"')
                                in_string = false;
                        continue;
                }

                switch (c) {
                case '"':
                        in_string = true;
                        break;
                case '[':
                case '{':
                        if (depth >= max_depth)
                                return false;
                        depth++;
                        break;
                case ']':
                case '}':
                        /* Unbalanced closers are the real parser's problem;
                         * just never go below zero. */
                        if (depth > 0)
                                depth--;
                        break;
                default:
                        break;
                }
        }
        return true;
}
