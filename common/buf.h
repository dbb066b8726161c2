#pragma once

/*
 * Growable byte buffer, always NUL-terminated (so yajl and string functions
 * can read it directly). Embedded in other structs: buf_init / buf_clear.
 * Growth aborts through xrealloc on allocation failure.
 */

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data; /* NUL-terminated; never NULL after buf_init */
	size_t len; /* bytes used, not counting the NUL */
	size_t cap; /* bytes allocated */
};

void buf_init(struct buf *b);
/* Frees the storage; the buffer may be buf_init'ed again. NULL-safe. */
void buf_clear(struct buf *b);
/* Empties the buffer, keeping its storage. */
void buf_reset(struct buf *b);
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Drops the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/*
 * Returns the data (caller owns it, free()) and leaves the buffer cleared,
 * holding no storage: it may be appended to again (storage is allocated on
 * demand) or dropped without buf_clear. len_out may be NULL.
 */
char *buf_steal(struct buf *b, size_t *len_out);
