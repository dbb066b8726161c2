/*
 * Fuzz target for common/json: parse with small limits; whatever parses must
 * regenerate (json_gen_value) into text that parses again and regenerates to
 * the same bytes. Arbitrary bytes written as a string must give valid JSON.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define FUZZ_JSON_MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touches every accessor on every node; the results only have to not crash. */
static void
fuzz_json_walk(const struct json_value *v)
{
	int64_t n;
	double d;
	bool b;
	const char *s;

	(void)json_int64(v, &n);
	(void)json_double(v, &d);
	(void)json_string(v);
	(void)json_bool(v);
	(void)json_get_string(v, "sid", &s);
	(void)json_get_int64(v, "count", &n);
	(void)json_get_bool(v, "ok", &b);
	(void)json_path(v, "meta", "next_page_url");
	for (size_t i = 0; i < json_array_len(v); i++)
		fuzz_json_walk(json_array_at(v, i));
	for (size_t i = 0; i < json_object_len(v); i++) {
		if (json_object_key(v, i) == NULL)
			abort();
		fuzz_json_walk(json_object_at(v, i));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct json_limits limits = { .max_bytes = 16 * 1024, .max_depth = 16 };
	const struct json_limits relaxed = { .max_bytes = SIZE_MAX, .max_depth = 16 };
	const char *text = (const char *)data;
	struct json_doc *doc = NULL;
	struct json_doc *again = NULL;
	struct json_gen *g = NULL;
	char *cause = NULL;
	char *first = NULL;
	size_t first_len = 0;
	const char *second;
	size_t second_len = 0;
	int r;

	if (size > FUZZ_JSON_MAX_INPUT)
		return 0;
	g = json_gen_new();

	/* any bytes as a string value: always valid JSON */
	json_gen_string_len(g, text, size);
	second = json_gen_text(g, &second_len);
	if (!json_is_valid(second, second_len))
		abort();
	json_gen_reset(g);

	r = json_parse(text, size, &limits, &doc, &cause);
	if (r < 0) {
		if (cause == NULL || doc != NULL)
			abort();
		goto out;
	}
	if (!json_is_valid(text, size))
		abort();
	fuzz_json_walk(json_doc_root(doc));

	json_gen_value(g, json_doc_root(doc));
	first = json_gen_steal(g, &first_len);
	if (json_parse(first, first_len, &relaxed, &again, NULL) != 0)
		abort();
	json_gen_value(g, json_doc_root(again));
	second = json_gen_text(g, &second_len);
	if (second_len != first_len || memcmp(first, second, first_len) != 0)
		abort();

	/* the same through json_gen_raw inside a container */
	json_gen_reset(g);
	json_gen_array_open(g);
	if (json_gen_raw(g, text, size) != 0)
		abort();
	json_gen_array_close(g);
	second = json_gen_text(g, &second_len);
	if (second_len != first_len + 2 || memcmp(second + 1, first, first_len) != 0)
		abort();
out:
	free(cause);
	free(first);
	json_doc_free(again);
	json_doc_free(doc);
	json_gen_free(g);
	return 0;
}
