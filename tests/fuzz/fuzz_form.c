/*
 * Fuzz target for common/form.c: parse arbitrary bytes with small limits,
 * and for every accepted input check that encoding and re-parsing gives the
 * same pairs (form_encode is the inverse of form_parse on accepted input).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"

#define FUZZ_FORM_MAX_INPUT 4096

/* Aborts (a fuzzer-visible crash) when cond is false; works under -DNDEBUG too. */
#define FUZZ_FORM_CHECK(cond)    \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct form_limits limits = {
		.max_bytes = 1024,
		.max_pairs = 16,
		.max_key_bytes = 32,
		.max_value_bytes = 128,
	};
	/* encoding grows a byte to at most 3, so allow 3x on the re-parse */
	static const struct form_limits relaxed = {
		.max_bytes = 3 * 1024 + 16,
		.max_pairs = 16,
		.max_key_bytes = 32,
		.max_value_bytes = 128,
	};
	struct form *f = NULL;
	struct form *g = NULL;
	char *cause = NULL;
	char *enc = NULL;
	int r;

	if (size > FUZZ_FORM_MAX_INPUT)
		return 0;
	r = form_parse((const char *)data, size, &limits, &f, &cause);
	if (r != 0) {
		FUZZ_FORM_CHECK(f == NULL && cause != NULL);
		goto out;
	}
	FUZZ_FORM_CHECK(cause == NULL && form_count(f) <= limits.max_pairs);

	enc = form_encode(f);
	r = form_parse(enc, strlen(enc), &relaxed, &g, &cause);
	FUZZ_FORM_CHECK(r == 0);
	FUZZ_FORM_CHECK(form_count(g) == form_count(f));
	for (size_t i = 0; i < form_count(f); i++) {
		FUZZ_FORM_CHECK(strcmp(form_key(f, i), form_key(g, i)) == 0);
		FUZZ_FORM_CHECK(strcmp(form_value(f, i), form_value(g, i)) == 0);
		FUZZ_FORM_CHECK(strlen(form_key(f, i)) <= limits.max_key_bytes);
		FUZZ_FORM_CHECK(strlen(form_value(f, i)) <= limits.max_value_bytes);
	}
out:
	free(cause);
	free(enc);
	form_free(f);
	form_free(g);
	return 0;
}
