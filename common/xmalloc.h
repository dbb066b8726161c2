#pragma once

/*
 * Allocation wrappers that abort with a log line on failure (tmux, smtpd).
 * Callers never check their result for NULL. Sizes computed from input must
 * be checked for overflow by the caller; xreallocarray and xcalloc check the
 * multiplication themselves.
 */

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Wipes a NUL-terminated secret with explicit_bzero, then frees it. NULL-safe. */
void xfree_secret(char *s);

#define free_and_null(p)    \
	do {                \
		free(p);    \
		(p) = NULL; \
	} while (0)

#define close_and_reset(fd)              \
	do {                             \
		if ((fd) >= 0)           \
			(void)close(fd); \
		(fd) = -1;               \
	} while (0)
