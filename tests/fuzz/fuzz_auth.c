/*
 * fuzz_auth: the request headers trhubd's auth reads from anyone: Cookie,
 * Origin, Referer and Host. The input is "cookie NUL origin NUL referer NUL
 * host" (missing fields are absent headers). No input may crash; a parsed
 * session id is exactly 64 lowercase hex digits found in the header; the
 * Origin check passes only for an Origin (or, without one, a Referer) whose
 * origin is the public URL's or names the Host.
 */

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "xmalloc.h"

#define FUZZ_CHECK(x)            \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

#define FUZZ_PUBLIC_URL "https://hub.example.com:8443"
#define FUZZ_MAX_BYTES	8192

/* Splits off the next NUL-terminated field (the last may run to the end); NULL when none. */
static char *
fuzz_field(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *start = *p;
	const uint8_t *nul = NULL;

	if (start >= end)
		return NULL;
	nul = memchr(start, '\0', (size_t)(end - start));
	*p = nul != NULL ? nul + 1 : end;
	return xstrndup((const char *)start, (size_t)((nul != NULL ? nul : end) - start));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	const uint8_t *end = data + size;
	char *v[4] = { NULL, NULL, NULL, NULL };
	char id[65];

	if (size > FUZZ_MAX_BYTES)
		return 0;
	for (size_t i = 0; i < 4; i++)
		v[i] = fuzz_field(&p, end);
	if (auth_cookie_parse(v[0], id)) {
		FUZZ_CHECK(strlen(id) == 64);
		for (size_t i = 0; i < 64; i++)
			FUZZ_CHECK(isxdigit((unsigned char)id[i]) &&
				   !isupper((unsigned char)id[i]));
		FUZZ_CHECK(strstr(v[0], id) != NULL);
	}
	if (auth_origin_matches(FUZZ_PUBLIC_URL, v[1], v[2], v[3])) {
		const char *o = v[1] != NULL ? v[1] : v[2];

		FUZZ_CHECK(o != NULL);
		FUZZ_CHECK(strncasecmp(o, FUZZ_PUBLIC_URL, strlen(FUZZ_PUBLIC_URL)) == 0 ||
			   v[3] != NULL);
	}
	/* Without a public URL only the Host can match. */
	if (auth_origin_matches(NULL, v[1], v[2], v[3]))
		FUZZ_CHECK(v[3] != NULL);
	for (size_t i = 0; i < 4; i++)
		free(v[i]);
	return 0;
}
