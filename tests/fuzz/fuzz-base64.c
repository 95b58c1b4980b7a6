/* base64: decoding arbitrary input never misbehaves; decoding is strict, so
 * anything accepted re-encodes to exactly the input; and encoding arbitrary
 * bytes then decoding gives them back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        void *dec = NULL;
        char *enc = NULL;
        size_t dec_len = 0;

        if (base64_decode((const char *)data, size, &dec, &dec_len) == 0) {
                if (((char *)dec)[dec_len] != '\0')
                        abort();
                if (base64_encode(dec, dec_len, &enc) < 0)
                        abort();
                if (strlen(enc) != size || memcmp(enc, data, size) != 0)
                        abort();
                free(enc);
                free(dec);
                enc = NULL;
                dec = NULL;
        }

        if (base64_encode(data, size, &enc) < 0)
                abort();
        if (strlen(enc) != (size + 2) / 3 * 4)
                abort();
        if (base64_decode(enc, strlen(enc), &dec, &dec_len) < 0)
                abort();
        if (dec_len != size || memcmp(dec, data, size) != 0)
                abort();
        free(enc);
        free(dec);
        return 0;
}
