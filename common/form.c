/*
 * form: application/x-www-form-urlencoded bodies and query strings
 * (WHATWG URL "application/x-www-form-urlencoded parsing", the format
 * Twilio uses for webhooks and REST requests).
 *
 * Invariants:
 * - A form is an ordered array of (key, value) pairs; both are NUL-terminated
 *   strings owned by the form. Repeated keys keep their insertion order.
 * - Parsing is one pass over the input. Each byte is examined a bounded number
 *   of times and the decoded output of a segment is never longer than the
 *   segment, so time and memory are O(len). Limits are checked before any
 *   allocation proportional to what they bound.
 * - Decoded strings never contain NUL: a raw NUL byte or %00 is rejected, so
 *   a value can be used as a C string without silently losing a tail.
 * - Encoding and parsing round-trip: form_parse(form_encode(f)) yields the same
 *   pairs as f (limits permitting), including empty keys and values.
 */

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "form.h"
#include "xmalloc.h"

#define FORM_MIN_CAP 8

const struct form_limits form_default_limits = {
	.max_bytes = 64 * 1024,
	.max_pairs = 512,
	.max_key_bytes = 256,
	.max_value_bytes = 16 * 1024,
};

struct form_pair {
	char *key;
	char *value;
};

struct form {
	struct form_pair *pairs;
	size_t count;
	size_t cap;
	/*
	 * form_parse's decoded strings, all in one block (NULL for a form built
	 * with form_add): a pair's string inside it is not freed on its own.
	 */
	char *arena;
	size_t arena_size;
};

struct form *
form_new(void)
{
	struct form *f = xcalloc(1, sizeof(*f));

	return f;
}

/* Frees a pair's string unless it lives in the form's parse arena. */
static void
form_str_free(const struct form *f, char *str)
{
	uintptr_t a = (uintptr_t)f->arena;
	uintptr_t p = (uintptr_t)str;

	if (f->arena != NULL && p >= a && p < a + f->arena_size)
		return;
	free(str);
}

void
form_free(struct form *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->count; i++) {
		form_str_free(f, f->pairs[i].key);
		form_str_free(f, f->pairs[i].value);
	}
	free(f->pairs);
	free(f->arena);
	free(f);
}

/* Appends a pair whose strings the form takes over. */
static void
form_add_owned(struct form *f, char *key, char *value)
{
	if (f->count == f->cap) {
		size_t cap = f->cap == 0 ? FORM_MIN_CAP : f->cap * 2;

		f->pairs = xreallocarray(f->pairs, cap, sizeof(*f->pairs));
		f->cap = cap;
	}
	f->pairs[f->count].key = key;
	f->pairs[f->count].value = value;
	f->count++;
}

void
form_add(struct form *f, const char *key, const char *value)
{
	form_add_owned(f, xstrdup(key), xstrdup(value));
}

void
form_add_int(struct form *f, const char *key, long long value)
{
	form_add_owned(f, xstrdup(key), xasprintf("%lld", value));
}

void
form_set(struct form *f, const char *key, const char *value)
{
	size_t first = SIZE_MAX;
	size_t out = 0;

	for (size_t i = 0; i < f->count; i++) {
		if (strcmp(f->pairs[i].key, key) != 0) {
			f->pairs[out++] = f->pairs[i];
		} else if (first == SIZE_MAX) {
			first = out;
			f->pairs[out++] = f->pairs[i];
		} else {
			form_str_free(f, f->pairs[i].key);
			form_str_free(f, f->pairs[i].value);
		}
	}
	f->count = out;
	if (first == SIZE_MAX) {
		form_add(f, key, value);
		return;
	}
	form_str_free(f, f->pairs[first].value);
	f->pairs[first].value = xstrdup(value);
}

size_t
form_count(const struct form *f)
{
	return f->count;
}

const char *
form_key(const struct form *f, size_t i)
{
	return i < f->count ? f->pairs[i].key : NULL;
}

const char *
form_value(const struct form *f, size_t i)
{
	return i < f->count ? f->pairs[i].value : NULL;
}

const char *
form_get(const struct form *f, const char *key)
{
	return form_get_nth(f, key, 0);
}

size_t
form_get_count(const struct form *f, const char *key)
{
	size_t n = 0;

	for (size_t i = 0; i < f->count; i++) {
		if (strcmp(f->pairs[i].key, key) == 0)
			n++;
	}
	return n;
}

const char *
form_get_nth(const struct form *f, const char *key, size_t n)
{
	for (size_t i = 0; i < f->count; i++) {
		if (strcmp(f->pairs[i].key, key) != 0)
			continue;
		if (n == 0)
			return f->pairs[i].value;
		n--;
	}
	return NULL;
}

bool
form_has(const struct form *f, const char *key)
{
	return form_get_nth(f, key, 0) != NULL;
}

/* Value of an ASCII hex digit, or -1. */
static int
form_hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes len bytes at s (%XX a byte; '+' a space when plus_is_space) into d,
 * which has room for len + 1 bytes, and NUL-terminates it. Returns the decoded
 * length, -EINVAL (what names the problem in *what_out: a truncated or bad
 * escape, %00 or a NUL byte) or -E2BIG when the decoded string is longer than
 * max.
 */
static int
form_decode_into(const char *s, size_t len, size_t max, bool plus_is_space, char *d,
		 const char **what_out)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			int hi;
			int lo;

			if (len - i < 3) {
				*what_out = "truncated %-escape";
				return -EINVAL;
			}
			hi = form_hex_value((unsigned char)s[i + 1]);
			lo = form_hex_value((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0) {
				*what_out = "bad %-escape";
				return -EINVAL;
			}
			c = (unsigned char)(hi << 4 | lo);
			if (c == '\0') {
				*what_out = "%00 is not allowed";
				return -EINVAL;
			}
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		} else if (c == '\0') {
			*what_out = "NUL byte";
			return -EINVAL;
		}
		if (n == max || n == INT_MAX)
			return -E2BIG;
		d[n++] = (char)c;
	}
	d[n] = '\0';
	return (int)n;
}

/*
 * form_decode_into for form data ('+' is a space) into the parse arena at
 * *used (room for len + 1 bytes is there: see form_parse), advancing *used
 * past the string.
 */
static int
form_decode(struct form *f, size_t *used, const char *s, size_t len, size_t max, char **out,
	    const char **what_out)
{
	char *d = f->arena + *used;
	int r = form_decode_into(s, len, max, true, d, what_out);

	if (r < 0)
		return r;
	*used += (size_t)r + 1;
	*out = d;
	return 0;
}

int
form_decode_path_component(const char *s, size_t len, char *out)
{
	const char *what = NULL;
	int r = form_decode_into(s, len, len, false, out, &what);

	return r < 0 ? r : 0;
}

static bool
form_limits_are_valid(const struct form_limits *limits)
{
	return limits->max_bytes > 0 && limits->max_pairs > 0 && limits->max_key_bytes > 0 &&
	       limits->max_value_bytes > 0;
}

/**
 * form_parse() - parse an application/x-www-form-urlencoded string
 * @text: input bytes (borrowed; need not be NUL-terminated; may be NULL when len is 0)
 * @len: number of bytes at @text
 * @limits: limits to enforce, or NULL for form_default_limits
 * @form_out: on success, a new form owned by the caller
 * @cause_out: on failure and when not NULL, an allocated message the caller frees
 *
 * Return: 0; -EINVAL for a malformed escape, a NUL byte, %00 or invalid
 * arguments or limits; -E2BIG when the input, the number of pairs, or a
 * decoded key or value exceeds its limit. *form_out is untouched on failure.
 */
int
form_parse(const char *text, size_t len, const struct form_limits *limits, struct form **form_out,
	   char **cause_out)
{
	struct form *f = NULL;
	char *key = NULL;
	char *value = NULL;
	const char *what = NULL;
	const char *end;
	const char *p;
	size_t pairno = 0;
	size_t segments = 1;
	size_t used = 0;
	int r;

	if (limits == NULL)
		limits = &form_default_limits;
	if (form_out == NULL || (text == NULL && len > 0) || !form_limits_are_valid(limits)) {
		if (cause_out != NULL)
			*cause_out = xstrdup("invalid arguments");
		return -EINVAL;
	}
	if (len > limits->max_bytes) {
		if (cause_out != NULL)
			*cause_out = xasprintf("body of %zu bytes exceeds the limit of %zu", len,
					       limits->max_bytes);
		return -E2BIG;
	}

	f = form_new();
	/*
	 * One block for every decoded string: a pair's key and value decode to
	 * at most its segment's bytes plus two NULs, and segments are separated
	 * by '&', so len + 2 per segment is enough.
	 */
	for (p = text; p != NULL && p < text + len; p++) {
		p = memchr(p, '&', (size_t)(text + len - p));
		if (p == NULL)
			break;
		segments++;
	}
	f->arena_size = len + 2 * segments;
	f->arena = xmalloc(f->arena_size);
	if (segments <= limits->max_pairs) {
		f->pairs = xreallocarray(NULL, segments, sizeof(*f->pairs));
		f->cap = segments;
	}
	p = text;
	end = text == NULL ? NULL : text + len;
	while (p != end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *seg_end = amp == NULL ? end : amp;
		const char *eq;
		size_t key_len;

		if (seg_end == p) {
			p = amp + 1;
			continue;
		}
		pairno++;
		if (pairno > limits->max_pairs) {
			r = -E2BIG;
			if (cause_out != NULL)
				*cause_out = xasprintf("more than %zu pairs", limits->max_pairs);
			goto fail;
		}
		eq = memchr(p, '=', (size_t)(seg_end - p));
		key_len = (size_t)((eq == NULL ? seg_end : eq) - p);
		r = form_decode(f, &used, p, key_len, limits->max_key_bytes, &key, &what);
		if (r == -E2BIG) {
			if (cause_out != NULL)
				*cause_out = xasprintf("pair %zu: key longer than %zu bytes",
						       pairno, limits->max_key_bytes);
			goto fail;
		}
		if (r < 0) {
			if (cause_out != NULL)
				*cause_out = xasprintf("pair %zu: %s in key", pairno, what);
			goto fail;
		}
		if (eq == NULL) {
			r = form_decode(f, &used, "", 0, limits->max_value_bytes, &value, &what);
		} else {
			r = form_decode(f, &used, eq + 1, (size_t)(seg_end - eq - 1),
					limits->max_value_bytes, &value, &what);
		}
		if (r == -E2BIG) {
			if (cause_out != NULL)
				*cause_out = xasprintf("pair %zu: value longer than %zu bytes",
						       pairno, limits->max_value_bytes);
			goto fail;
		}
		if (r < 0) {
			if (cause_out != NULL)
				*cause_out = xasprintf("pair %zu: %s in value", pairno, what);
			goto fail;
		}
		form_add_owned(f, key, value);
		key = NULL;
		value = NULL;
		p = amp == NULL ? end : amp + 1;
	}
	*form_out = f;
	return 0;
fail:
	form_free(f); /* key and value, if any, are in its arena */
	return r;
}

/* RFC 3986 unreserved: ALPHA DIGIT - . _ ~ (never NUL). */
static bool
form_is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* Appends s with everything but ALPHA DIGIT - . _ ~ as %XX; space as space_as. */
static void
form_encode_with(struct buf *out, const char *s, const char *space_as)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		const unsigned char *run = p;
		unsigned char c;

		/* unreserved characters go out in one append per run */
		while (form_is_unreserved(*p))
			p++;
		if (p > run)
			buf_append(out, run, (size_t)(p - run));
		c = *p;
		if (c == '\0')
			break;
		if (c == ' ') {
			buf_puts(out, space_as);
		} else {
			char esc[3] = { '%', hex[c >> 4], hex[c & 0x0f] };

			buf_append(out, esc, sizeof(esc));
		}
		p++;
	}
}

void
form_encode_component(struct buf *out, const char *s)
{
	form_encode_with(out, s, "+");
}

void
form_encode_path_component(struct buf *out, const char *s)
{
	form_encode_with(out, s, "%20");
}

char *
form_encode(const struct form *f)
{
	struct buf b;
	char *s;

	buf_init(&b);
	for (size_t i = 0; i < f->count; i++) {
		if (i > 0)
			buf_putc(&b, '&');
		form_encode_component(&b, f->pairs[i].key);
		buf_putc(&b, '=');
		form_encode_component(&b, f->pairs[i].value);
	}
	s = buf_steal(&b, NULL);
	return s;
}
