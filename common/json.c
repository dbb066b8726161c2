/*
 * json: the one module that talks to yajl 2.1 (STYLE.md 3, 11).
 *
 * Parsing goes through yajl_tree_parse. A struct json_value is a yajl_val
 * seen through an opaque pointer; struct json_doc owns the root. Before yajl
 * sees the input, json_prescan() checks in one linear pass, without recursion,
 * that it holds no NUL byte, no comment (yajl_tree_parse turns comments on,
 * strict JSON has none) and no nesting deeper than the limit. Because
 * brackets outside strings are counted exactly as yajl's lexer sees them,
 * the tree yajl builds (and yajl_tree_free, which recurses once per level)
 * never nests deeper than the limit, so a depth bomb costs one scan.
 *
 * Generation goes through one yajl_gen per struct json_gen, reused across
 * json_gen_reset, so a page costs no allocation beyond yajl's own buffer.
 * Invariants kept here:
 *  - the output is always valid, strict UTF-8 JSON: strings are checked
 *    with a strict UTF-8 validator (RFC 3629: no overlongs, surrogates or
 *    code points above U+10FFFF) and invalid sequences are written as
 *    U+FFFD, so untrusted bytes can never make yajl refuse a string and
 *    leave a key without its value;
 *  - the open containers are tracked in struct json_gen, so a key where a
 *    value is due, a value where a key is due or a mismatched close asserts
 *    (yajl alone catches only some of these);
 *  - doubles are written in the shortest form that reads back to the same
 *    value, integral ones without a fraction, non-finite ones as null.
 */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "buf.h"
#include "json.h"
#include "log.h"
#include "xmalloc.h"

/* yajl_gen refuses to open a container at depth YAJL_MAX_DEPTH. */
#define JSON_GEN_MAX_DEPTH (YAJL_MAX_DEPTH - 1)

/* Enough for "%.17g" of any double. */
#define JSON_DOUBLE_MAX 32

const struct json_limits json_default_limits = {
	.max_bytes = 4 * 1024 * 1024,
	.max_depth = 64,
};

struct json_doc {
	yajl_val root;
};

enum json_gen_frame {
	JSON_GEN_ARRAY,
	JSON_GEN_OBJECT_KEY,   /* object, a key is due */
	JSON_GEN_OBJECT_VALUE, /* object, the value of a key is due */
};

struct json_gen {
	yajl_gen yg;
	unsigned depth;
	bool complete; /* a top-level value has been written */
	unsigned char frames[JSON_GEN_MAX_DEPTH];
	struct buf scratch; /* U+FFFD replacement of invalid UTF-8 */
};

static yajl_val
json_val(const struct json_value *v)
{
	return (yajl_val)(uintptr_t)v;
}

static const struct json_value *
json_wrap(yajl_val v)
{
	return (const struct json_value *)v;
}

static void json_set_cause(char **cause_out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
json_set_cause(char **cause_out, const char *fmt, ...)
{
	va_list ap;

	if (cause_out == NULL)
		return;
	va_start(ap, fmt);
	*cause_out = xvasprintf(fmt, ap);
	va_end(ap);
}

/*
 * One pass over the input: rejects NUL bytes, comments and nesting deeper
 * than max_depth, tracking strings exactly as yajl's lexer does.
 */
static int
json_prescan(const char *text, size_t len, unsigned max_depth, char **cause_out)
{
	unsigned depth = 0;
	bool in_string = false;
	bool escaped = false;

	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (c == '\0') {
			json_set_cause(cause_out, "invalid JSON: NUL byte at offset %zu", i);
			return -EINVAL;
		}
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
			if (depth >= max_depth) {
				json_set_cause(cause_out,
					       "invalid JSON: nesting deeper than %u at offset %zu",
					       max_depth, i);
				return -EINVAL;
			}
			depth++;
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		case '/':
			json_set_cause(cause_out, "invalid JSON: comment at offset %zu", i);
			return -EINVAL;
		default:
			break;
		}
	}
	return 0;
}

/* yajl's verbose message quotes the input over several lines; keep line one. */
static void
json_set_yajl_cause(char **cause_out, const char *msg)
{
	size_t n = strcspn(msg, "\n");

	while (n > 0 && (msg[n - 1] == '.' || msg[n - 1] == ' '))
		n--;
	if (n == 0)
		json_set_cause(cause_out, "invalid JSON");
	else
		json_set_cause(cause_out, "invalid JSON: %.*s", (int)n, msg);
}

/**
 * json_parse() - parse one JSON document
 * @text: the input, len bytes, not necessarily NUL-terminated (it is copied)
 * @len: input size in bytes
 * @limits: size and depth limits, or NULL for json_default_limits; a
 *	max_depth above JSON_MAX_DEPTH is lowered to it
 * @doc_out: on success, the new document; the caller owns it (json_doc_free)
 * @cause_out: on failure, when not NULL, an allocated one-line message
 *
 * Return: 0, -E2BIG when len exceeds max_bytes, -EINVAL for invalid JSON
 * (syntax, NUL byte, comment, nesting deeper than max_depth).
 */
int
json_parse(const char *text, size_t len, const struct json_limits *limits,
	   struct json_doc **doc_out, char **cause_out)
{
	char errbuf[256];
	char *copy = NULL;
	yajl_val root;
	unsigned max_depth;
	int r;

	if (limits == NULL)
		limits = &json_default_limits;
	max_depth = limits->max_depth < JSON_MAX_DEPTH ? limits->max_depth : JSON_MAX_DEPTH;
	if (len > limits->max_bytes) {
		json_set_cause(cause_out, "JSON body too large: %zu bytes, limit %zu", len,
			       limits->max_bytes);
		return -E2BIG;
	}
	if (text == NULL && len > 0) {
		json_set_cause(cause_out, "invalid JSON: no input");
		return -EINVAL;
	}
	r = json_prescan(text, len, max_depth, cause_out);
	if (r < 0)
		return r;
	copy = xmalloc(len + 1);
	if (len > 0)
		memcpy(copy, text, len);
	copy[len] = '\0';
	errbuf[0] = '\0';
	root = yajl_tree_parse(copy, errbuf, sizeof(errbuf));
	if (root == NULL) {
		json_set_yajl_cause(cause_out, errbuf);
		r = -EINVAL;
		goto out;
	}
	*doc_out = xmalloc(sizeof(**doc_out));
	(*doc_out)->root = root;
	r = 0;
out:
	free(copy);
	return r;
}

/**
 * json_doc_free() - free a document and every value in it
 * @doc: the document, or NULL
 */
void
json_doc_free(struct json_doc *doc)
{
	if (doc == NULL)
		return;
	yajl_tree_free(doc->root);
	free(doc);
}

/**
 * json_doc_root() - the top-level value of a document
 * @doc: the document, or NULL
 *
 * Return: the root, owned by doc, or NULL when doc is NULL.
 */
const struct json_value *
json_doc_root(const struct json_doc *doc)
{
	return doc == NULL ? NULL : json_wrap(doc->root);
}

/**
 * json_type() - the JSON type of a value
 * @v: a value, or NULL (reported as JSON_NULL)
 */
enum json_type
json_type(const struct json_value *v)
{
	yajl_val y = json_val(v);

	if (y == NULL)
		return JSON_NULL;
	switch (y->type) {
	case yajl_t_string:
		return JSON_STRING;
	case yajl_t_number:
		return JSON_NUMBER;
	case yajl_t_object:
		return JSON_OBJECT;
	case yajl_t_array:
		return JSON_ARRAY;
	case yajl_t_true:
	case yajl_t_false:
		return JSON_BOOL;
	case yajl_t_null:
	case yajl_t_any:
	default:
		return JSON_NULL;
	}
}

bool
json_is_object(const struct json_value *v)
{
	return json_type(v) == JSON_OBJECT;
}

bool
json_is_array(const struct json_value *v)
{
	return json_type(v) == JSON_ARRAY;
}

/**
 * json_get() - member of an object
 * @v: an object (anything else, or NULL, has no members)
 * @key: the member name
 *
 * With duplicate names the first member wins.
 * Return: the member's value, owned by the document, or NULL when absent.
 */
const struct json_value *
json_get(const struct json_value *v, const char *key)
{
	yajl_val y = json_val(v);

	if (y == NULL || key == NULL || !YAJL_IS_OBJECT(y))
		return NULL;
	for (size_t i = 0; i < y->u.object.len; i++) {
		if (strcmp(y->u.object.keys[i], key) == 0)
			return json_wrap(y->u.object.values[i]);
	}
	return NULL;
}

const struct json_value *
json_path_keys(const struct json_value *v, const char *const *keys, size_t n)
{
	for (size_t i = 0; v != NULL && i < n && keys[i] != NULL; i++)
		v = json_get(v, keys[i]);
	return v;
}

const char *
json_string(const struct json_value *v)
{
	yajl_val y = json_val(v);

	return YAJL_IS_STRING(y) ? y->u.string : NULL;
}

bool
json_bool(const struct json_value *v)
{
	yajl_val y = json_val(v);

	return YAJL_IS_TRUE(y);
}

/* A decimal integer: optional '-', one or more digits, nothing else. */
static int
json_parse_int64_text(const char *s, int64_t *out)
{
	bool neg = false;
	uint64_t limit;
	uint64_t n = 0;

	if (*s == '-') {
		neg = true;
		s++;
	}
	if (*s == '\0')
		return -EINVAL;
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *s != '\0'; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		d = (unsigned)(*s - '0');
		if (n > (limit - d) / 10)
			return -EINVAL;
		n = n * 10 + d;
	}
	if (neg)
		*out = n == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)n;
	else
		*out = (int64_t)n;
	return 0;
}

/* A JSON number (RFC 8259 grammar), so strtod's "inf", "0x1p3" and spaces fail. */
static bool
json_is_number_text(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '0') {
		s++;
	} else if (*s >= '1' && *s <= '9') {
		while (*s >= '0' && *s <= '9')
			s++;
	} else {
		return false;
	}
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (*s < '0' || *s > '9')
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

static int
json_parse_double_text(const char *s, double *out)
{
	char *end = NULL;
	double d;

	if (!json_is_number_text(s))
		return -EINVAL;
	errno = 0;
	d = strtod(s, &end);
	if (end == NULL || *end != '\0' || !isfinite(d))
		return -EINVAL;
	*out = d;
	return 0;
}

/**
 * json_int64() - a value as a 64-bit integer
 * @v: the value
 * @out: the integer, written only on success
 *
 * Accepts integers, numbers with an integral value in range (3.0, 1e3), and
 * strings holding a decimal integer ("12"), since Twilio sends some counts
 * as strings.
 * Return: 0, -ENOENT for NULL or JSON null, -EINVAL for another type, a
 * fraction or a value outside int64_t.
 */
int
json_int64(const struct json_value *v, int64_t *out)
{
	yajl_val y = json_val(v);
	double d;

	if (y == NULL || YAJL_IS_NULL(y))
		return -ENOENT;
	if (YAJL_IS_STRING(y))
		return json_parse_int64_text(y->u.string, out);
	if (!YAJL_IS_NUMBER(y))
		return -EINVAL;
	if (YAJL_IS_INTEGER(y)) {
		*out = y->u.number.i;
		return 0;
	}
	if (!YAJL_IS_DOUBLE(y))
		return -EINVAL;
	d = y->u.number.d;
	/* 2^63 is exact as a double; the range is [-2^63, 2^63). */
	if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || floor(d) != d)
		return -EINVAL;
	*out = (int64_t)d;
	return 0;
}

/**
 * json_double() - a value as a double
 * @v: the value
 * @out: the number, written only on success
 *
 * Accepts any number that fits a double, and strings holding a JSON number.
 * Return: 0, -ENOENT for NULL or JSON null, -EINVAL for another type or a
 * number beyond the range of a double (1e999; tiny ones read as 0 or a
 * subnormal).
 */
int
json_double(const struct json_value *v, double *out)
{
	yajl_val y = json_val(v);

	if (y == NULL || YAJL_IS_NULL(y))
		return -ENOENT;
	if (YAJL_IS_STRING(y))
		return json_parse_double_text(y->u.string, out);
	if (!YAJL_IS_NUMBER(y))
		return -EINVAL;
	if (YAJL_IS_DOUBLE(y) && isfinite(y->u.number.d)) {
		*out = y->u.number.d;
		return 0;
	}
	if (YAJL_IS_INTEGER(y)) {
		*out = (double)y->u.number.i;
		return 0;
	}
	/* yajl flags strtod's ERANGE as invalid: accept underflow, not overflow */
	return json_parse_double_text(y->u.number.r, out);
}

/**
 * json_get_string() - a string member
 * @obj: an object; NULL or a non-object has no members
 * @key: the member name
 * @out: the string, owned by the document, written only on success
 *
 * Return: 0, -ENOENT when absent or null, -EINVAL when not a string.
 */
int
json_get_string(const struct json_value *obj, const char *key, const char **out)
{
	yajl_val y = json_val(json_get(obj, key));

	if (y == NULL || YAJL_IS_NULL(y))
		return -ENOENT;
	if (!YAJL_IS_STRING(y))
		return -EINVAL;
	*out = y->u.string;
	return 0;
}

/* As json_int64() on a member; -ENOENT when absent. */
int
json_get_int64(const struct json_value *obj, const char *key, int64_t *out)
{
	return json_int64(json_get(obj, key), out);
}

/* As json_double() on a member; -ENOENT when absent. */
int
json_get_double(const struct json_value *obj, const char *key, double *out)
{
	return json_double(json_get(obj, key), out);
}

/**
 * json_get_bool() - a boolean member
 * @obj: an object
 * @key: the member name
 * @out: the value, written only on success
 *
 * Return: 0, -ENOENT when absent or null, -EINVAL when not true or false.
 */
int
json_get_bool(const struct json_value *obj, const char *key, bool *out)
{
	yajl_val y = json_val(json_get(obj, key));

	if (y == NULL || YAJL_IS_NULL(y))
		return -ENOENT;
	if (YAJL_IS_TRUE(y)) {
		*out = true;
		return 0;
	}
	if (YAJL_IS_FALSE(y)) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

size_t
json_array_len(const struct json_value *v)
{
	yajl_val y = json_val(v);

	return YAJL_IS_ARRAY(y) ? y->u.array.len : 0;
}

const struct json_value *
json_array_at(const struct json_value *v, size_t i)
{
	yajl_val y = json_val(v);

	if (y == NULL || !YAJL_IS_ARRAY(y) || i >= y->u.array.len)
		return NULL;
	return json_wrap(y->u.array.values[i]);
}

size_t
json_object_len(const struct json_value *v)
{
	yajl_val y = json_val(v);

	return YAJL_IS_OBJECT(y) ? y->u.object.len : 0;
}

const char *
json_object_key(const struct json_value *v, size_t i)
{
	yajl_val y = json_val(v);

	if (y == NULL || !YAJL_IS_OBJECT(y) || i >= y->u.object.len)
		return NULL;
	return y->u.object.keys[i];
}

const struct json_value *
json_object_at(const struct json_value *v, size_t i)
{
	yajl_val y = json_val(v);

	if (y == NULL || !YAJL_IS_OBJECT(y) || i >= y->u.object.len)
		return NULL;
	return json_wrap(y->u.object.values[i]);
}

/*
 * Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when the
 * bytes there are not one (RFC 3629 table 3-7).
 */
static size_t
json_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80;
	unsigned char hi = 0xbf;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return len;
}

/* Offset of the first invalid UTF-8 byte, or len when s is valid. */
static size_t
json_utf8_valid_prefix(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t n;

		/* ASCII fast path, eight bytes at a time (memcpy: no alignment needed) */
		while (len - i >= sizeof(uint64_t)) {
			uint64_t w;

			memcpy(&w, s + i, sizeof(w));
			if ((w & UINT64_C(0x8080808080808080)) != 0)
				break;
			i += sizeof(w);
		}
		if (i == len)
			break;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		n = json_utf8_seq(s + i, len - i);
		if (n == 0)
			return i;
		i += n;
	}
	return len;
}

/*
 * Writes one string (key or value) into yajl. Invalid UTF-8 bytes become
 * U+FFFD, one per invalid byte, through the reused scratch buffer.
 */
static void
json_gen_put_string(struct json_gen *g, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t valid = json_utf8_valid_prefix(u, len);
	yajl_gen_status st;

	if (valid < len) {
		size_t i = valid;

		buf_reset(&g->scratch);
		buf_append(&g->scratch, s, valid);
		while (i < len) {
			size_t n = json_utf8_seq(u + i, len - i);

			if (n == 0) {
				buf_append(&g->scratch, "\xef\xbf\xbd", 3);
				i++;
			} else {
				buf_append(&g->scratch, u + i, n);
				i += n;
			}
		}
		u = (const unsigned char *)g->scratch.data;
		len = g->scratch.len;
	}
	st = yajl_gen_string(g->yg, u, len);
	assert(st == yajl_gen_status_ok);
	(void)st;
}

/* Checks that a value may be written now and records that it was. */
static void
json_gen_before_value(struct json_gen *g)
{
	assert(!g->complete);
	if (g->depth > 0) {
		assert(g->frames[g->depth - 1] != JSON_GEN_OBJECT_KEY);
		if (g->frames[g->depth - 1] == JSON_GEN_OBJECT_VALUE)
			g->frames[g->depth - 1] = JSON_GEN_OBJECT_KEY;
	}
}

/* After a scalar or a closed container at this depth. */
static void
json_gen_after_value(struct json_gen *g)
{
	if (g->depth == 0)
		g->complete = true;
}

static void
json_gen_check(yajl_gen_status st)
{
	assert(st == yajl_gen_status_ok);
	(void)st;
}

/**
 * json_gen_new() - a new generator
 *
 * Return: the generator; the caller owns it (json_gen_free).
 */
struct json_gen *
json_gen_new(void)
{
	struct json_gen *g = xcalloc(1, sizeof(*g));

	g->yg = yajl_gen_alloc(NULL);
	if (g->yg == NULL)
		fatalx("json_gen_new: out of memory");
	yajl_gen_config(g->yg, yajl_gen_beautify, 0);
	/*
	 * Off on purpose: json_gen_string already replaces invalid UTF-8 with
	 * U+FFFD before yajl sees it, and yajl's second pass cost ~20%.
	 */
	yajl_gen_config(g->yg, yajl_gen_validate_utf8, 0);
	yajl_gen_config(g->yg, yajl_gen_escape_solidus, 0);
	buf_init(&g->scratch);
	return g;
}

/**
 * json_gen_free() - free a generator and its text
 * @g: the generator, or NULL
 */
void
json_gen_free(struct json_gen *g)
{
	if (g == NULL)
		return;
	yajl_gen_free(g->yg);
	buf_clear(&g->scratch);
	free(g);
}

/**
 * json_gen_reset() - empty a generator for the next document
 * @g: the generator
 *
 * Keeps the allocated buffers, so a reused generator does not allocate.
 */
void
json_gen_reset(struct json_gen *g)
{
	yajl_gen_reset(g->yg, NULL);
	yajl_gen_clear(g->yg);
	g->depth = 0;
	g->complete = false;
}

static void
json_gen_open(struct json_gen *g, enum json_gen_frame frame)
{
	json_gen_before_value(g);
	assert(g->depth < JSON_GEN_MAX_DEPTH);
	if (frame == JSON_GEN_ARRAY)
		json_gen_check(yajl_gen_array_open(g->yg));
	else
		json_gen_check(yajl_gen_map_open(g->yg));
	g->frames[g->depth++] = (unsigned char)frame;
}

static void
json_gen_close(struct json_gen *g, bool object)
{
	assert(g->depth > 0);
	if (object) {
		assert(g->frames[g->depth - 1] == JSON_GEN_OBJECT_KEY);
		json_gen_check(yajl_gen_map_close(g->yg));
	} else {
		assert(g->frames[g->depth - 1] == JSON_GEN_ARRAY);
		json_gen_check(yajl_gen_array_close(g->yg));
	}
	g->depth--;
	json_gen_after_value(g);
}

void
json_gen_object_open(struct json_gen *g)
{
	json_gen_open(g, JSON_GEN_OBJECT_KEY);
}

void
json_gen_object_close(struct json_gen *g)
{
	json_gen_close(g, true);
}

void
json_gen_array_open(struct json_gen *g)
{
	json_gen_open(g, JSON_GEN_ARRAY);
}

void
json_gen_array_close(struct json_gen *g)
{
	json_gen_close(g, false);
}

/**
 * json_gen_key() - write an object member name
 * @g: the generator, inside an object where a key is due (else asserts)
 * @key: the name; invalid UTF-8 is written as U+FFFD
 */
void
json_gen_key(struct json_gen *g, const char *key)
{
	assert(key != NULL);
	assert(g->depth > 0 && g->frames[g->depth - 1] == JSON_GEN_OBJECT_KEY);
	json_gen_put_string(g, key, strlen(key));
	g->frames[g->depth - 1] = JSON_GEN_OBJECT_VALUE;
}

void
json_gen_string(struct json_gen *g, const char *s)
{
	if (s == NULL) {
		json_gen_null(g);
		return;
	}
	json_gen_string_len(g, s, strlen(s));
}

/**
 * json_gen_string_len() - write a string value of len bytes
 * @g: the generator
 * @s: the bytes, any content: control characters and NUL are escaped,
 *	invalid UTF-8 is written as U+FFFD (one per invalid byte)
 * @len: byte count
 */
void
json_gen_string_len(struct json_gen *g, const char *s, size_t len)
{
	json_gen_before_value(g);
	json_gen_put_string(g, s, len);
	json_gen_after_value(g);
}

void
json_gen_int(struct json_gen *g, int64_t n)
{
	json_gen_before_value(g);
	json_gen_check(yajl_gen_integer(g->yg, (long long)n));
	json_gen_after_value(g);
}

/*
 * Shortest "%.*g" text of a finite d that reads back as d; integral values
 * below 2^53 print as integers. Returns the length.
 */
static int
json_format_double(double d, char out[JSON_DOUBLE_MAX])
{
	int n = 0;

	if (floor(d) == d && fabs(d) < 9007199254740992.0 && !(d == 0 && signbit(d)))
		return snprintf(out, JSON_DOUBLE_MAX, "%" PRId64, (int64_t)d);
	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(out, JSON_DOUBLE_MAX, "%.*g", prec, d);
		if (prec == 17 || strtod(out, NULL) == d)
			break;
	}
	return n;
}

/**
 * json_gen_double() - write a number
 * @g: the generator
 * @d: the value; NaN and infinities are written as null, integral values
 *	without a fraction ("3"), others in the shortest form that reads back
 *	as the same double
 */
void
json_gen_double(struct json_gen *g, double d)
{
	char text[JSON_DOUBLE_MAX];
	int n;

	if (!isfinite(d)) {
		json_gen_null(g);
		return;
	}
	n = json_format_double(d, text);
	assert(n > 0 && n < JSON_DOUBLE_MAX);
	json_gen_before_value(g);
	json_gen_check(yajl_gen_number(g->yg, text, (size_t)n));
	json_gen_after_value(g);
}

void
json_gen_bool(struct json_gen *g, bool b)
{
	json_gen_before_value(g);
	json_gen_check(yajl_gen_bool(g->yg, b ? 1 : 0));
	json_gen_after_value(g);
}

void
json_gen_null(struct json_gen *g)
{
	json_gen_before_value(g);
	json_gen_check(yajl_gen_null(g->yg));
	json_gen_after_value(g);
}

static void
json_gen_yajl_value(struct json_gen *g, yajl_val y)
{
	if (y == NULL) {
		json_gen_null(g);
		return;
	}
	switch (y->type) {
	case yajl_t_string:
		json_gen_string(g, y->u.string);
		break;
	case yajl_t_number:
		/* the lexer's own text: exact, also for 1e999 or 2^64 */
		json_gen_before_value(g);
		json_gen_check(yajl_gen_number(g->yg, y->u.number.r, strlen(y->u.number.r)));
		json_gen_after_value(g);
		break;
	case yajl_t_object:
		json_gen_object_open(g);
		for (size_t i = 0; i < y->u.object.len; i++) {
			json_gen_key(g, y->u.object.keys[i]);
			json_gen_yajl_value(g, y->u.object.values[i]);
		}
		json_gen_object_close(g);
		break;
	case yajl_t_array:
		json_gen_array_open(g);
		for (size_t i = 0; i < y->u.array.len; i++)
			json_gen_yajl_value(g, y->u.array.values[i]);
		json_gen_array_close(g);
		break;
	case yajl_t_true:
		json_gen_bool(g, true);
		break;
	case yajl_t_false:
		json_gen_bool(g, false);
		break;
	case yajl_t_null:
	case yajl_t_any:
	default:
		json_gen_null(g);
		break;
	}
}

/**
 * json_gen_value() - write a copy of a parsed value
 * @g: the generator
 * @v: a value from json_parse (NULL writes null); numbers keep their text
 *
 * The value's nesting plus the generator's current depth must stay below
 * YAJL_MAX_DEPTH (asserts); values parsed with at most JSON_MAX_DEPTH
 * levels leave room for 27 enclosing ones. Recursion is bounded the same way.
 */
void
json_gen_value(struct json_gen *g, const struct json_value *v)
{
	json_gen_yajl_value(g, json_val(v));
}

/**
 * json_gen_raw() - parse JSON text and write it as a value
 * @g: the generator
 * @json_text: the text, len bytes (not necessarily NUL-terminated)
 * @len: byte count
 *
 * Return: 0, or -EINVAL (writing nothing) when the text is not one valid
 * JSON value or nests too deep to fit at the generator's current depth.
 */
int
json_gen_raw(struct json_gen *g, const char *json_text, size_t len)
{
	struct json_limits limits = { .max_bytes = len, .max_depth = JSON_MAX_DEPTH };
	struct json_doc *doc = NULL;
	unsigned room = JSON_GEN_MAX_DEPTH - g->depth;
	int r;

	if (room < limits.max_depth)
		limits.max_depth = room;
	r = json_parse(json_text, len, &limits, &doc, NULL);
	if (r < 0)
		return -EINVAL;
	json_gen_value(g, json_doc_root(doc));
	json_doc_free(doc);
	return 0;
}

/**
 * json_gen_verbatim() - write trusted JSON text as one value, unparsed
 * @g: the generator
 * @text: exactly one valid JSON value that this program generated itself
 *        (for example a cached json_gen_steal result), len bytes
 * @len: byte count, > 0
 *
 * For hot paths that emit cached fragments (the emulator's list pages, the
 * daemon's snapshots): it costs one copy instead of a parse and a
 * regeneration. Text that came from outside must go through json_gen_raw.
 * yajl_gen_number appends its argument as-is once the separators are
 * written, which is exactly what is needed here.
 */
void
json_gen_verbatim(struct json_gen *g, const char *text, size_t len)
{
	assert(text != NULL && len > 0);
	json_gen_before_value(g);
	json_gen_check(yajl_gen_number(g->yg, text, len));
}

void
json_gen_kv_string(struct json_gen *g, const char *key, const char *s)
{
	json_gen_key(g, key);
	json_gen_string(g, s);
}

void
json_gen_kv_int(struct json_gen *g, const char *key, int64_t n)
{
	json_gen_key(g, key);
	json_gen_int(g, n);
}

void
json_gen_kv_double(struct json_gen *g, const char *key, double d)
{
	json_gen_key(g, key);
	json_gen_double(g, d);
}

void
json_gen_kv_bool(struct json_gen *g, const char *key, bool b)
{
	json_gen_key(g, key);
	json_gen_bool(g, b);
}

void
json_gen_kv_null(struct json_gen *g, const char *key)
{
	json_gen_key(g, key);
	json_gen_null(g);
}

/**
 * json_gen_text() - the text generated so far
 * @g: the generator
 * @len_out: its length, when not NULL
 *
 * Return: NUL-terminated text owned by g, valid until the next call on g.
 */
const char *
json_gen_text(const struct json_gen *g, size_t *len_out)
{
	const unsigned char *text = NULL;
	size_t len = 0;

	json_gen_check(yajl_gen_get_buf(g->yg, &text, &len));
	if (len_out != NULL)
		*len_out = len;
	return text != NULL ? (const char *)text : "";
}

/**
 * json_gen_steal() - copy the text out and reset the generator
 * @g: the generator; empty afterwards, as after json_gen_reset
 * @len_out: the text's length, when not NULL
 *
 * Return: a NUL-terminated copy the caller frees.
 */
char *
json_gen_steal(struct json_gen *g, size_t *len_out)
{
	size_t len;
	const char *text = json_gen_text(g, &len);
	char *copy = xmemdup(text, len + 1);

	json_gen_reset(g);
	if (len_out != NULL)
		*len_out = len;
	return copy;
}

/**
 * json_quote() - a string as a JSON string literal
 * @s: the string (NULL gives "null"); invalid UTF-8 becomes U+FFFD
 *
 * Return: an allocated, NUL-terminated literal the caller frees.
 */
char *
json_quote(const char *s)
{
	struct json_gen *g = json_gen_new();
	char *out;

	json_gen_string(g, s);
	out = json_gen_steal(g, NULL);
	json_gen_free(g);
	return out;
}

/**
 * json_is_valid() - whether text is one valid JSON value
 * @text: the text, len bytes (not necessarily NUL-terminated)
 * @len: byte count
 *
 * Same rules as json_parse with no size limit and depth JSON_MAX_DEPTH, so
 * json_is_valid() is true exactly when json_gen_raw() at the top level
 * accepts the text.
 */
bool
json_is_valid(const char *text, size_t len)
{
	struct json_limits limits = { .max_bytes = len, .max_depth = JSON_MAX_DEPTH };
	struct json_doc *doc = NULL;

	if (json_parse(text, len, &limits, &doc, NULL) < 0)
		return false;
	json_doc_free(doc);
	return true;
}
