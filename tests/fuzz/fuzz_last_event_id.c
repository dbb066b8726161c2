/*
 * fuzz_last_event_id: where a reconnecting SSE client resumes
 * (stream_event_id_parse, daemon/stream.c): the Last-Event-ID header, else
 * the lastEventId parameter of the query string. The input is one flag byte
 * (bit 0: the header is present, bit 1: a query string is present), then
 * "header NUL query". No input may crash; a non-zero id is exactly the
 * decimal value of its source, written in at most 20 digits; a present
 * header decides alone (the query is then never read).
 */

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"
#include "stream.h"
#include "xmalloc.h"

#define FUZZ_CHECK(x)            \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

#define FUZZ_MAX_BYTES 4096

/* s is decimal digits only, at most 20 of them, and its value is v (v != 0). */
static void
fuzz_check_value(const char *s, uint64_t v)
{
	char buf[32];
	size_t n = 0;

	FUZZ_CHECK(s != NULL);
	n = strlen(s);
	FUZZ_CHECK(n >= 1 && n <= 20);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(s[i] >= '0' && s[i] <= '9');
	while (s[0] == '0')
		s++;
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	FUZZ_CHECK(strcmp(buf, s) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = NULL;
	const char *nul = NULL;
	char *header = NULL;
	char *query = NULL;
	uint64_t v = 0;
	bool batched = false;
	uint8_t flags = 0;
	size_t rest = 0;

	if (size < 1 || size > FUZZ_MAX_BYTES)
		return 0;
	flags = data[0];
	p = (const char *)data + 1;
	rest = size - 1;
	nul = memchr(p, '\0', rest);
	if (flags & 1)
		header = xstrndup(p, nul != NULL ? (size_t)(nul - p) : rest);
	if ((flags & 2) && nul != NULL)
		query = xstrndup(nul + 1, rest - (size_t)(nul + 1 - p));
	else if (flags & 2)
		query = xstrndup(p, rest);

	v = stream_event_id_parse(header, query, &batched);
	if (batched)
		FUZZ_CHECK(query != NULL);
	if (header != NULL) {
		FUZZ_CHECK(v == stream_event_id_parse(header, NULL, NULL));
		if (v != 0)
			fuzz_check_value(header, v);
	} else if (v != 0) {
		struct form *f = NULL;

		FUZZ_CHECK(query != NULL);
		FUZZ_CHECK(form_parse(query, strlen(query), NULL, &f, NULL) == 0);
		fuzz_check_value(form_get(f, "lastEventId"), v);
		form_free(f);
	}
	if (header == NULL && query == NULL)
		FUZZ_CHECK(v == 0);
	free(header);
	free(query);
	return 0;
}
