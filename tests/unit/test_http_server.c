/*
 * Unit tests for common/http_server.c: reason phrases, method names, path
 * splitting and route patterns (literal segments, captures with and
 * without a literal suffix, the literal score that picks the most exact).
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http_server.h"

static struct http_server_path
split(const char *path)
{
	struct http_server_path p;

	assert_int_equal(http_server_path_split(path, strlen(path), &p), 0);
	return p;
}

static bool
match(const char *pattern, const char *path, uint32_t *score)
{
	struct http_server_path p = split(path);

	return http_server_route_match(pattern, &p, NULL, 0, NULL, score);
}

static void
test_http_server_reasons_and_methods(void **state)
{
	assert_string_equal(http_server_reason(200), "OK");
	assert_string_equal(http_server_reason(204), "No Content");
	assert_string_equal(http_server_reason(405), "Method Not Allowed");
	assert_string_equal(http_server_reason(412), "Precondition Failed");
	assert_string_equal(http_server_reason(429), "Too Many Requests");
	assert_string_equal(http_server_reason(599), "Status");
	assert_string_equal(http_server_method_name(EVHTTP_REQ_GET), "GET");
	assert_string_equal(http_server_method_name(EVHTTP_REQ_DELETE), "DELETE");
	assert_string_equal(http_server_method_name(EVHTTP_REQ_PATCH), "PATCH");
}

static void
test_http_server_split(void **state)
{
	struct http_server_path p = split("/v1/Workspaces/WS1/");
	char many[64] = "";
	size_t n = 0;

	assert_int_equal(p.n, 4);
	assert_int_equal(p.len[0], 2);
	assert_memory_equal(p.seg[2], "WS1", 3);
	assert_int_equal(p.len[3], 0);
	assert_int_equal(http_server_path_split("v1", 2, &p), -EINVAL);
	for (int i = 0; i <= HTTP_SERVER_MAX_SEGS; i++, n += 2)
		memcpy(many + n, "/a", 2);
	many[n] = '\0';
	assert_int_equal(http_server_path_split(many, strlen(many), &p), -E2BIG);
}

static void
test_http_server_route_patterns(void **state)
{
	struct http_server_path p = split("/2010-04-01/Accounts/AC1/Conferences/CF9.json");
	struct http_server_capture caps[4];
	size_t ncaps = 0;
	uint32_t a = 0;
	uint32_t b = 0;

	assert_true(match("/api/stats", "/api/stats", NULL));
	assert_false(match("/api/stats", "/api/stats/", NULL));
	assert_false(match("/api/stats", "/api/stat", NULL));
	assert_false(match("/api/stats", "/api", NULL));
	assert_true(match("/api/tasks/{sid}", "/api/tasks/WT1", NULL));
	assert_false(match("/api/tasks/{sid}", "/api/tasks/", NULL)); /* a capture is non-empty */
	assert_false(match("/api/{x", "/api/y", NULL));		      /* malformed: never */

	assert_true(http_server_route_match("/2010-04-01/Accounts/{A}/Conferences/{C}.json", &p,
					    caps, 4, &ncaps, NULL));
	assert_int_equal(ncaps, 2);
	assert_int_equal(caps[0].seg, 2);
	assert_int_equal(caps[0].len, 3);
	assert_int_equal(caps[1].seg, 4);
	assert_int_equal(caps[1].len, 3);		      /* "CF9" without ".json" */
	assert_false(match("/x/{C}.json", "/x/.json", NULL)); /* nothing before the suffix */
	assert_false(match("/x/{C}.json", "/x/CF9.xml", NULL));

	/* The more literal pattern scores higher. */
	assert_true(match("/v1/Workspaces/{W}/Tasks/{T}", "/v1/Workspaces/WS1/Tasks/Stats", &a));
	assert_true(match("/v1/Workspaces/{W}/Tasks/Stats", "/v1/Workspaces/WS1/Tasks/Stats", &b));
	assert_true(b > a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_server_reasons_and_methods),
		cmocka_unit_test(test_http_server_split),
		cmocka_unit_test(test_http_server_route_patterns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
