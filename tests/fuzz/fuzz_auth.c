/*
 * fuzz_auth: the request headers trhubd's auth reads from anyone: Cookie,
 * Origin, Referer and Host. The input is "cookie NUL origin NUL referer NUL
 * host" (missing fields are absent headers). No input may crash, find a
 * session (none exists), or pass the Origin check unless its origin is the
 * public URL's or the Host's.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "auth.h"
#include "model.h"
#include "xmalloc.h"

#define FUZZ_CHECK(x)            \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

#define FUZZ_PUBLIC_URL "https://hub.example.com:8443"
#define FUZZ_MAX_BYTES	8192

static struct event_base *fuzz_base;
static struct model *fuzz_model;
static struct auth *fuzz_auth;

static void
fuzz_cleanup(void)
{
	auth_free(fuzz_auth);
	model_free(fuzz_model);
	event_base_free(fuzz_base);
}

static void
fuzz_init(void)
{
	struct model_options mo = { 0 };
	struct auth_options ao = { 0 };
	char *cause = NULL;

	if (fuzz_auth != NULL)
		return;
	mo.event_ring_size = 4;
	fuzz_base = event_base_new();
	fuzz_model = model_new(&mo);
	ao.public_url = FUZZ_PUBLIC_URL;
	ao.login_threads = 1;
	FUZZ_CHECK(fuzz_base != NULL);
	FUZZ_CHECK(auth_new(fuzz_base, fuzz_model, &ao, &fuzz_auth, &cause) == 0);
	atexit(fuzz_cleanup);
}

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
	static const char *const names[] = { "Cookie", "Origin", "Referer", "Host" };
	const uint8_t *p = data;
	const uint8_t *end = data + size;
	struct evhttp_request *req = NULL;
	struct evkeyvalq *in = NULL;
	char *values[4] = { NULL, NULL, NULL, NULL };
	bool ok = false;

	if (size > FUZZ_MAX_BYTES)
		return 0;
	fuzz_init();
	req = evhttp_request_new(NULL, NULL);
	FUZZ_CHECK(req != NULL);
	in = evhttp_request_get_input_headers(req);
	for (size_t i = 0; i < 4; i++) {
		values[i] = fuzz_field(&p, end);
		/* evhttp refuses CR/LF in values; so does the wire. */
		if (values[i] != NULL && evhttp_add_header(in, names[i], values[i]) != 0)
			free_and_null(values[i]);
	}
	FUZZ_CHECK(auth_session_of(fuzz_auth, req) == NULL);
	ok = auth_origin_ok(fuzz_auth, req);
	if (ok) {
		/* Passing needs an Origin or Referer naming our origin or the Host. */
		FUZZ_CHECK(values[1] != NULL || values[2] != NULL);
		FUZZ_CHECK((values[1] != NULL && strncasecmp(values[1], FUZZ_PUBLIC_URL,
							     strlen(FUZZ_PUBLIC_URL)) == 0) ||
			   (values[2] != NULL && strncasecmp(values[2], FUZZ_PUBLIC_URL,
							     strlen(FUZZ_PUBLIC_URL)) == 0) ||
			   values[3] != NULL);
	}
	evhttp_request_free(req);
	for (size_t i = 0; i < 4; i++)
		free(values[i]);
	return 0;
}
