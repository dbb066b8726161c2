/*
 * http.c without the network: names, response lifecycle, loopback detection
 * and the request checks http_transfer_new applies before libcurl sees
 * anything. Requests on the wire are tested in test_http_sync.c and
 * test_http_async.c.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"
#include "xmalloc.h"

static void
test_http_names(void **state)
{
	assert_string_equal(http_method_name(HTTP_GET), "GET");
	assert_string_equal(http_method_name(HTTP_POST), "POST");
	assert_string_equal(http_method_name(HTTP_DELETE), "DELETE");
	assert_string_equal(http_outcome_name(HTTP_DONE), "done");
	assert_string_equal(http_outcome_name(HTTP_TIMEOUT), "timeout");
	assert_string_equal(http_outcome_name(HTTP_CONNECT_FAILED), "connect failed");
	assert_string_equal(http_outcome_name(HTTP_TOO_LARGE), "too large");
	assert_string_equal(http_outcome_name(HTTP_TLS_FAILED), "tls failed");
	assert_string_equal(http_outcome_name(HTTP_CANCELLED), "cancelled");
	assert_string_equal(http_outcome_name(HTTP_FAILED), "failed");
}

static void
test_http_response_init_and_clear(void **state)
{
	struct http_response r;

	http_response_init(&r);
	assert_null(r.body);
	assert_null(r.etag);
	assert_int_equal(r.retry_after_s, -1);
	assert_int_equal(r.status, 0);
	r.body = xstrdup("x");
	r.etag = xstrdup("\"1\"");
	r.content_type = xstrdup("application/json");
	r.status = 200;
	http_response_clear(&r);
	assert_null(r.body);
	assert_null(r.etag);
	assert_null(r.content_type);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.retry_after_s, -1);
	http_response_clear(&r); /* twice is fine */
	http_response_clear(NULL);
}

static void
test_http_loopback_urls(void **state)
{
	assert_true(http_url_is_loopback("http://127.0.0.1:8123/v1"));
	assert_true(http_url_is_loopback("http://127.1.2.3/"));
	assert_true(http_url_is_loopback("http://localhost:80"));
	assert_true(http_url_is_loopback("HTTP://LOCALHOST/x"));
	assert_true(http_url_is_loopback("http://[::1]:9000/x"));
	assert_true(http_url_is_loopback("http://user:pw@127.0.0.1/x"));
}

static void
test_http_non_loopback_urls(void **state)
{
	assert_false(http_url_is_loopback(NULL));
	assert_false(http_url_is_loopback("https://127.0.0.1/")); /* scheme must be http */
	assert_false(http_url_is_loopback("http://128.0.0.1/"));
	assert_false(http_url_is_loopback("http://10.0.0.1/"));
	assert_false(http_url_is_loopback("http://localhost.evil.com/"));
	assert_false(http_url_is_loopback("http://127.0.0.1.evil.com/"));
	assert_false(http_url_is_loopback("http://evil.com/127.0.0.1"));
	assert_false(http_url_is_loopback("http://127.0.0.1@evil.com/"));
	assert_false(http_url_is_loopback("http://[::2]/"));
	assert_false(http_url_is_loopback("http:///x"));
	assert_false(http_url_is_loopback("ftp://127.0.0.1/"));
	assert_false(http_url_is_loopback("127.0.0.1"));
}

static void
assert_refused(const struct http_request_spec *spec, const char *needle)
{
	char *cause = NULL;
	struct http_transfer *t = http_transfer_new(spec, NULL, &cause);

	assert_null(t);
	assert_non_null(cause);
	assert_non_null(strstr(cause, needle));
	free(cause);
}

static void
assert_accepted(const struct http_request_spec *spec)
{
	char *cause = NULL;
	struct http_transfer *t = http_transfer_new(spec, NULL, &cause);

	assert_non_null(t);
	assert_null(cause);
	assert_non_null(http_transfer_easy(t));
	http_transfer_free(t);
}

static void
test_http_transfer_refuses_bad_specs(void **state)
{
	struct http_request_spec spec = { 0 };
	const char *bad_headers[] = { "X-A: 1\r\nX-B: 2", NULL };
	const char *no_colon[] = { "NoColon", NULL };

	assert_refused(&spec, "missing URL");
	spec.url = "http://example.com/";
	assert_refused(&spec, "plain http");
	spec.url = "ftp://example.com/";
	assert_refused(&spec, "scheme");
	spec.url = "https://example.com/a b";
	assert_refused(&spec, "whitespace");
	spec.url = "https://example.com/";
	spec.username = "AC1";
	assert_refused(&spec, "together");
	spec.username = NULL;
	spec.if_match = "1\n2";
	assert_refused(&spec, "If-Match");
	spec.if_match = NULL;
	spec.headers = bad_headers;
	assert_refused(&spec, "extra header");
	spec.headers = no_colon;
	assert_refused(&spec, "extra header");
	spec.headers = NULL;
	spec.content_type = "text/plain\r\nX: y";
	spec.method = HTTP_POST;
	assert_refused(&spec, "Content-Type");
}

static void
test_http_transfer_accepts_good_specs(void **state)
{
	const char *headers[] = { "X-Trhub-Request: 1", NULL };
	struct http_request_spec spec = {
		.method = HTTP_POST,
		.url = "https://taskrouter.twilio.com/v1/Workspaces/WS1/Tasks",
		.username = "AC1",
		.password = "token",
		.body = "a=b",
		.body_len = 3,
		.if_match = "\"1\"",
		.headers = headers,
	};

	assert_accepted(&spec);
	spec.method = HTTP_DELETE;
	spec.body = NULL;
	spec.body_len = 0;
	assert_accepted(&spec);
	/* plain http: loopback, or explicitly allowed */
	spec.url = "http://127.0.0.1:8123/v1";
	assert_accepted(&spec);
	spec.url = "http://sim.internal/v1";
	spec.allow_plain_http = true;
	assert_accepted(&spec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_names),
		cmocka_unit_test(test_http_response_init_and_clear),
		cmocka_unit_test(test_http_loopback_urls),
		cmocka_unit_test(test_http_non_loopback_urls),
		cmocka_unit_test(test_http_transfer_refuses_bad_specs),
		cmocka_unit_test(test_http_transfer_accepts_good_specs),
	};
	int r;

	if (http_global_init() != 0)
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	http_global_cleanup();
	return r;
}
