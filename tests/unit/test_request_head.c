/*
 * request_head: the strict RFC 9112 checks of one request head.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "request_head.h"

/* Feeds text ("\n"-separated lines, no CR) and returns the first non-zero result. */
static int
feed(struct request_head *h, const char *text, size_t size, const char **why)
{
	const char *p = text;
	const char *end = text + size;
	int r = 0;

	request_head_reset(h);
	while (p < end && r == 0) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));

		assert_non_null(lf);
		r = request_head_line(h, p, (size_t)(lf - p), why);
		p = lf + 1;
	}
	return r;
}

#define FEED(h, lit, why) feed(h, lit, sizeof(lit) - 1, why)

static void
test_request_head_accepts_a_webhook(void **state)
{
	struct request_head h;
	const char *why = NULL;

	assert_int_equal(FEED(&h,
			      "\nPOST /taskrouter_event?x=1 HTTP/1.1\nHost: hub\n"
			      "Content-Length: 42\nX-Twilio-Signature: abc\n\n",
			      &why),
			 1);
	assert_string_equal(h.method, "POST");
	assert_string_equal(h.path, "/taskrouter_event");
	assert_true(h.http11);
	assert_int_equal(h.content_length, 42);
	assert_int_equal(FEED(&h, "GET /healthz HTTP/1.0\n\n", &why), 1);
	assert_false(h.http11);
	assert_int_equal(h.content_length, 0);
}

static void
test_request_head_refuses_ambiguous_framing(void **state)
{
	struct request_head h;
	const char *why = NULL;

	assert_int_equal(FEED(&h,
			      "POST / HTTP/1.1\nHost: x\nContent-Length: 0\nContent-Length: 9\n\n",
			      &why),
			 400);
	assert_string_equal(why, "more than one Content-Length");
	assert_int_equal(FEED(&h, "POST / HTTP/1.1\nHost: x\nContent-Length: 1, 1\n\n", &why), 400);
	assert_int_equal(
		FEED(&h, "POST / HTTP/1.1\nHost: x\nTransfer-Encoding : chunked\n\n", &why), 400);
	assert_string_equal(why, "whitespace before a header colon");
	assert_int_equal(FEED(&h, "GET / HTTP/1.1\nHost: x\nX: a\0b\n\n", &why), 400);
	assert_string_equal(why, "NUL in a header value");
	assert_int_equal(FEED(&h, "GET / HTTP/1.1\nHost: x\nX: a\n b\n\n", &why), 400);
	assert_string_equal(why, "obsolete line folding");
	assert_int_equal(FEED(&h, "GET / HTTP/1.1\n\n", &why), 400);
	assert_string_equal(why, "HTTP/1.1 request without Host");
	assert_int_equal(FEED(&h, "GET / HTTP/1.1\nHost: a\nHost: b\n\n", &why), 400);
	assert_int_equal(
		FEED(&h,
		     "POST / HTTP/1.1\nHost: x\nContent-Length: 5\nTransfer-Encoding: chunked\n\n",
		     &why),
		400);
	assert_int_equal(FEED(&h, "POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n", &why),
			 501);
	assert_int_equal(FEED(&h, "GET / HTTP/2.0\nHost: x\n\n", &why), 505);
	assert_int_equal(FEED(&h, "GET /a b HTTP/1.1\nHost: x\n\n", &why), 400);
	assert_int_equal(FEED(&h, "GET / HTTP/1.1\nHost: x\nX: a\rb\n\n", &why), 400);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_head_accepts_a_webhook),
		cmocka_unit_test(test_request_head_refuses_ambiguous_framing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
