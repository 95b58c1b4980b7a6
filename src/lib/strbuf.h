/* A growable byte buffer.
 *
 * Lifecycle: declare `struct strbuf sb = STRBUF_INIT;` (no allocation yet),
 * append with strbuf_add*(), and finish with either strbuf_release() (frees
 * the memory) or strbuf_detach() (hands the malloc'd string to the caller,
 * who free()s it).  After either call the strbuf is back to STRBUF_INIT and
 * may be reused.
 *
 * Invariants: when buf is non-NULL it holds len bytes followed by a NUL, and
 * alloc is the size of the allocation (alloc > len).  buf may contain NUL
 * bytes of its own when fed binary data through strbuf_add().
 *
 * The arguments of strbuf_addf() must not point into sb->buf itself (they
 * may be invalidated by growing); strbuf_add() does handle that case.
 *
 * Errors: the add functions return 0 or -ENOMEM (-EINVAL when a format
 * cannot be rendered); on failure the buffer is left exactly as it was.
 */
#pragma once

#include <stddef.h>

struct strbuf {
        char *buf;
        size_t len, alloc;
};

/* clang-format off */
#define STRBUF_INIT {0}
/* clang-format on */

int strbuf_add(struct strbuf *sb, const void *data, size_t len);
int strbuf_addstr(struct strbuf *sb, const char *s);
int strbuf_addch(struct strbuf *sb, char c);
int strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Empties the buffer but keeps its memory for reuse. */
void strbuf_reset(struct strbuf *sb);

/* Frees the memory and returns the buffer to STRBUF_INIT. */
void strbuf_release(struct strbuf *sb);

/* Returns the contents as a malloc'd NUL-terminated string ("" when nothing
 * was added) and stores its length in *ret_len if ret_len is non-NULL; the
 * strbuf is reset to STRBUF_INIT.  Returns NULL only on OOM, in which case
 * the strbuf is unchanged. */
char *strbuf_detach(struct strbuf *sb, size_t *ret_len);
