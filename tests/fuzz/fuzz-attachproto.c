/* The attach protocol's frame parser (lib/attachproto.h), both ways: it
 * must never read past the input, take more than it was given, or accept
 * a frame that does not encode back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/attachproto.h"
#include "lib/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size, enum attach_sender from)
{
        size_t off = 0;
        while (off < size) {
                struct attach_frame f;
                int n = attach_frame_parse(data + off, size - off, from, &f);
                if (n <= 0)
                        return;
                if ((size_t)n > size - off || f.len > ATTACH_FRAME_MAX ||
                    (size_t)n != ATTACH_HEADER_SIZE + f.len)
                        abort();
                struct strbuf sb = STRBUF_INIT;
                if (attach_frame_add(&sb, f.type, f.data, f.len) < 0)
                        abort();
                if (sb.len != (size_t)n || memcmp(sb.buf, data + off, sb.len) != 0)
                        abort();
                strbuf_release(&sb);
                off += (size_t)n;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        check(data, size, ATTACH_FROM_CLIENT);
        check(data, size, ATTACH_FROM_PIERD);
        return 0;
}
