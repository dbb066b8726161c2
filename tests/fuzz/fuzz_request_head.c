/*
 * fuzz_request_head: arbitrary bytes as a request head, split at LF (a CR
 * before it dropped, as evbuffer_readln does) and fed line by line. Whatever
 * is accepted must be a head evhttp could not read two ways: one length at
 * most, no Transfer-Encoding, exactly one Host in HTTP/1.1, a method that
 * is a token and a path that is absolute or empty.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "request_head.h"

#define FUZZ_CHECK(x)            \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request_head h;
	const char *p = (const char *)data;
	const char *end = p + size;
	const char *why = NULL;
	int r = 0;

	request_head_reset(&h);
	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t len = 0;

		if (lf == NULL)
			break; /* an unfinished line waits for more bytes */
		len = (size_t)(lf - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		why = NULL;
		r = request_head_line(&h, p, len, &why);
		p = lf + 1;
		if (r != 0)
			break;
	}
	if (r == 1) {
		FUZZ_CHECK(h.line_seen);
		FUZZ_CHECK(!h.has_te);
		FUZZ_CHECK(!h.http11 || h.hosts == 1);
		FUZZ_CHECK(h.hosts <= 1);
		FUZZ_CHECK(h.method[0] != '\0' && strlen(h.method) <= REQUEST_HEAD_METHOD_MAX);
		FUZZ_CHECK(h.path[0] == '\0' || h.path[0] == '/');
		FUZZ_CHECK(h.has_length || h.content_length == 0);
	} else if (r != 0) {
		FUZZ_CHECK(r == 400 || r == 501 || r == 505);
		FUZZ_CHECK(why != NULL && why[0] != '\0');
	}
	return 0;
}
