/*
 * Fuzz target: arbitrary bytes as a Twilio list page (v1 and 2010 envelopes,
 * with the real hosts and with an overridden loopback base) and as an error
 * body. Asserts the invariants callers rely on: a parsed page's next URL is
 * on the configured base, and an error always has a message.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "twilio.h"
#include "xmalloc.h"

/* The oracle must hold in -DNDEBUG builds too, so it is not assert(). */
#define FUZZ_CHECK(x)            \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

#define FUZZ_MAX_INPUT (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_page(const struct twilio *tw, const char *key, const uint8_t *data, size_t size)
{
	struct twilio_page *page = NULL;
	char *cause = NULL;
	const char *next;
	size_t n;

	if (twilio_page_parse(tw, key, (const char *)data, size, &page, &cause) < 0) {
		FUZZ_CHECK(page == NULL);
		FUZZ_CHECK(cause != NULL);
		free(cause);
		return;
	}
	FUZZ_CHECK(cause == NULL);
	n = twilio_page_count(page);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(twilio_page_record(page, i) != NULL);
	FUZZ_CHECK(twilio_page_record(page, n) == NULL);
	FUZZ_CHECK(twilio_page_key(page) != NULL);
	next = twilio_page_next_url(page);
	if (next != NULL) {
		bool on_base = false;

		for (int h = TWILIO_HOST_TASKROUTER; h <= TWILIO_HOST_API; h++) {
			const char *base = twilio_base(tw, (enum twilio_host)h);
			size_t len = strlen(base);

			if (strncmp(next, base, len) == 0 && next[len] == '/')
				on_base = true;
		}
		FUZZ_CHECK(on_base);
	}
	twilio_page_free(page);
}

static void
fuzz_error(const uint8_t *data, size_t size, long status)
{
	struct http_response resp;
	struct twilio_error err;

	http_response_init(&resp);
	resp.outcome = HTTP_DONE;
	resp.status = status;
	resp.body = xmalloc(size + 1);
	memcpy(resp.body, data, size);
	resp.body[size] = '\0';
	resp.body_len = size;
	twilio_error_init(&err);
	(void)twilio_error_parse(&resp, &err);
	FUZZ_CHECK(err.message != NULL);
	FUZZ_CHECK(err.code != 0);
	twilio_error_clear(&err);
	http_response_clear(&resp);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct twilio *real;
	static struct twilio *sim;
	struct twilio_client_config cfg = { .account_sid = "AC1", .auth_token = "t" };

	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (real == NULL) {
		if (twilio_new(&cfg, &real, NULL) != 0)
			abort();
		cfg.base_url = "http://127.0.0.1:8123";
		if (twilio_new(&cfg, &sim, NULL) != 0)
			abort();
	}
	fuzz_page(real, NULL, data, size);
	fuzz_page(real, "conferences", data, size);
	fuzz_page(sim, "tasks", data, size);
	fuzz_error(data, size, 429);
	return 0;
}
