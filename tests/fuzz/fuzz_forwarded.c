/*
 * fuzz_forwarded: arbitrary header lines ("F" or "X" first byte: a Forwarded
 * or an X-Forwarded-For line, then its value, lines split at LF) walked for
 * the client. The answer must be empty (unknown) or an address, and never a
 * trusted proxy unless every entry was one.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "forwarded.h"

#define FUZZ_CHECK(x)            \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

#define FUZZ_FORWARDED_LINE_MAX 2048

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cidr_list *trusted;
	struct forwarded f;
	const char *p = (const char *)data;
	const char *end = p + size;
	char line[FUZZ_FORWARDED_LINE_MAX + 1];
	const char *client = NULL;

	if (trusted == NULL && cidr_list_parse("127.0.0.1, 10.0.0.0/8, ::1", &trusted, NULL) < 0)
		abort();
	forwarded_init(&f, trusted);
	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t len = lf != NULL ? (size_t)(lf - p) : (size_t)(end - p);

		if (len > 0 && len <= FUZZ_FORWARDED_LINE_MAX) {
			memcpy(line, p + 1, len - 1);
			line[len - 1] = '\0';
			if (p[0] == 'F')
				forwarded_add_rfc7239(&f, line);
			else
				forwarded_add_xff(&f, line);
		}
		p += len + 1;
	}
	client = forwarded_client(&f);
	FUZZ_CHECK(client != NULL);
	FUZZ_CHECK(client[0] == '\0' || cidr_is_address(client));
	FUZZ_CHECK(!f.found || client[0] == '\0' || !cidr_list_match(trusted, client));
	FUZZ_CHECK(forwarded_proto(&f)[0] == '\0' || strcmp(forwarded_proto(&f), "http") == 0 ||
		   strcmp(forwarded_proto(&f), "https") == 0);
	return 0;
}
