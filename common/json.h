#pragma once

/*
 * JSON through yajl 2.1, in our vocabulary: a parsed document with typed,
 * read-only accessors, and a generator. No other file includes yajl.
 *
 * Accessors never fail on a NULL value argument: they report "absent".
 * Getters return 0, -ENOENT when the key is absent or its value is JSON null,
 * or -EINVAL when the value has another type. Getters on a NULL or non-object
 * obj report -ENOENT. Out-parameters are written only on success.
 *
 * Untrusted bytes never crash the generator and never make it write invalid
 * JSON: invalid UTF-8 in keys and strings is written as U+FFFD, one per
 * invalid byte (RFC 3629 strict: overlongs, surrogates and code points above
 * U+10FFFF are invalid).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_doc;
struct json_value; /* a node inside a json_doc; valid while the doc lives */
struct json_gen;

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_OBJECT,
	JSON_ARRAY,
};

struct json_limits {
	size_t max_bytes; /* input size */
	unsigned max_depth;
};

/* 4 MiB input, depth 64. */
extern const struct json_limits json_default_limits;

/* Highest usable max_depth; larger limits are lowered to it. */
#define JSON_MAX_DEPTH 100

/*
 * Parses len bytes at text (need not be NUL-terminated; the input is copied).
 * limits may be NULL. On success the caller owns *doc_out. On failure
 * returns -EINVAL (syntax, depth, a NUL byte, a comment) or -E2BIG (size) and
 * an allocated message in *cause_out when cause_out is not NULL. A depth bomb
 * is rejected in one linear pass before any tree is built.
 */
int json_parse(const char *text, size_t len, const struct json_limits *limits,
	       struct json_doc **doc_out, char **cause_out);
void json_doc_free(struct json_doc *doc);
const struct json_value *json_doc_root(const struct json_doc *doc);

enum json_type json_type(const struct json_value *v);
bool json_is_object(const struct json_value *v);
bool json_is_array(const struct json_value *v);

/* Member of an object, or NULL (absent, or v is not an object). */
const struct json_value *json_get(const struct json_value *v, const char *key);
/*
 * Follows keys through nested objects: json_path(v, "a", "b") is v.a.b, or
 * NULL when a step is absent. A macro over json_path_keys (an array and its
 * length), not a variadic function: no sentinel to pass, so no NULL through
 * "..." (cppcheck varFuncNullUB). A NULL key ends the path early.
 */
#define json_path(v, ...)                                         \
	json_path_keys((v), (const char *const[]){ __VA_ARGS__ }, \
		       sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))
const struct json_value *json_path_keys(const struct json_value *v, const char *const *keys,
					size_t n);

/* Value accessors: NULL / false / 0 when v has another type. */
const char *json_string(const struct json_value *v);
bool json_bool(const struct json_value *v);
/* Integers, and strings holding a decimal integer ("counts may be strings"). */
int json_int64(const struct json_value *v, int64_t *out);
/* Any number, and strings holding one. */
int json_double(const struct json_value *v, double *out);

int json_get_string(const struct json_value *obj, const char *key, const char **out);
int json_get_int64(const struct json_value *obj, const char *key, int64_t *out);
int json_get_double(const struct json_value *obj, const char *key, double *out);
int json_get_bool(const struct json_value *obj, const char *key, bool *out);

size_t json_array_len(const struct json_value *v);
const struct json_value *json_array_at(const struct json_value *v, size_t i);
size_t json_object_len(const struct json_value *v);
const char *json_object_key(const struct json_value *v, size_t i);
const struct json_value *json_object_at(const struct json_value *v, size_t i);

/*
 * Generator. Calls in an invalid order (a value where a key is due) are
 * programming errors and assert. Output is compact UTF-8; strings are
 * validated and escaped ('/' is not escaped).
 */
struct json_gen *json_gen_new(void);
void json_gen_free(struct json_gen *g);
void json_gen_reset(struct json_gen *g);
void json_gen_object_open(struct json_gen *g);
void json_gen_object_close(struct json_gen *g);
void json_gen_array_open(struct json_gen *g);
void json_gen_array_close(struct json_gen *g);
void json_gen_key(struct json_gen *g, const char *key);
/* NULL writes JSON null. */
void json_gen_string(struct json_gen *g, const char *s);
void json_gen_string_len(struct json_gen *g, const char *s, size_t len);
void json_gen_int(struct json_gen *g, int64_t n);
/* Non-finite values are written as null. */
void json_gen_double(struct json_gen *g, double d);
void json_gen_bool(struct json_gen *g, bool b);
void json_gen_null(struct json_gen *g);
/* Copies a parsed value (any type, recursively). NULL writes null. */
void json_gen_value(struct json_gen *g, const struct json_value *v);
/*
 * Parses json_text and writes it as a value; returns -EINVAL (writing
 * nothing) when it is not valid JSON. Used to embed stored JSON (Sync data).
 */
int json_gen_raw(struct json_gen *g, const char *json_text, size_t len);
/*
 * Writes text (len > 0 bytes) as one value without parsing it. The caller
 * guarantees it is exactly one valid JSON value this program generated (a
 * cached fragment); never use it for outside input (use json_gen_raw).
 */
void json_gen_verbatim(struct json_gen *g, const char *text, size_t len);
/* key + value shorthands */
void json_gen_kv_string(struct json_gen *g, const char *key, const char *s);
void json_gen_kv_int(struct json_gen *g, const char *key, int64_t n);
void json_gen_kv_double(struct json_gen *g, const char *key, double d);
void json_gen_kv_bool(struct json_gen *g, const char *key, bool b);
void json_gen_kv_null(struct json_gen *g, const char *key);
/* The text so far, owned by g until the next generator call. */
const char *json_gen_text(const struct json_gen *g, size_t *len_out);
/* A copy of the text the caller frees; g is left reset (json_gen_reset). */
char *json_gen_steal(struct json_gen *g, size_t *len_out);

/* Appends s as a quoted, escaped JSON string to an allocated result. */
char *json_quote(const char *s);
/* True if text (len bytes) is one valid JSON value. */
bool json_is_valid(const char *text, size_t len);
