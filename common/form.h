#pragma once

/*
 * application/x-www-form-urlencoded bodies and query strings: parse with
 * limits, look up (repeated keys keep their order), and encode.
 *
 * Parsing: '+' is a space, %XX is a byte; a malformed escape, a NUL byte
 * (%00) or invalid limits give -EINVAL; too many bytes or pairs give -E2BIG.
 * A key without '=' has the empty value. Empty segments ("a=1&&b=2") are
 * skipped.
 */

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct form;

struct form_limits {
	size_t max_bytes; /* whole input */
	size_t max_pairs;
	size_t max_key_bytes;	/* after decoding */
	size_t max_value_bytes; /* after decoding */
};

/* 64 KiB input, 512 pairs, 256-byte keys, 16 KiB values. */
extern const struct form_limits form_default_limits;

struct form *form_new(void);
void form_free(struct form *f);

/*
 * Parses len bytes at text (not necessarily NUL-terminated). limits may be
 * NULL for form_default_limits. On success *form_out is a new form the caller
 * owns. On failure returns -EINVAL or -E2BIG and, when cause_out is not NULL,
 * an allocated message in *cause_out ("pair 3: bad %-escape").
 */
int form_parse(const char *text, size_t len, const struct form_limits *limits,
	       struct form **form_out, char **cause_out);

/* Appends a pair; key and value are copied. */
void form_add(struct form *f, const char *key, const char *value);
void form_add_int(struct form *f, const char *key, long long value);
/* Replaces every pair with this key by one pair (appended if absent). */
void form_set(struct form *f, const char *key, const char *value);

size_t form_count(const struct form *f);
/* i < form_count; the strings are owned by the form. */
const char *form_key(const struct form *f, size_t i);
const char *form_value(const struct form *f, size_t i);
/* First value for key, or NULL when absent. */
const char *form_get(const struct form *f, const char *key);
/* Number of pairs with this key. */
size_t form_get_count(const struct form *f, const char *key);
/* The n-th (0-based) value for key, or NULL. */
const char *form_get_nth(const struct form *f, const char *key, size_t n);
bool form_has(const struct form *f, const char *key);

/* "k=v&k2=v2" in insertion order; caller frees. */
char *form_encode(const struct form *f);
/* Appends the form-urlencoding of s ('+' for space, %XX for reserved). */
void form_encode_component(struct buf *out, const char *s);
/* Appends a RFC 3986 percent-encoding of s (%20 for space) for URL paths. */
void form_encode_path_component(struct buf *out, const char *s);
/*
 * Decodes a URL path (or one segment): %XX is a byte, '+' stays '+'. out has
 * room for len + 1 bytes and receives a NUL-terminated string. Returns 0, or
 * -EINVAL for a truncated or bad escape, %00 or a NUL byte (out is then
 * unspecified).
 */
int form_decode_path_component(const char *s, size_t len, char *out);
