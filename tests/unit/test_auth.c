/*
 * Unit tests for daemon/auth: the users file (comments, every refusal named
 * with file and line, nothing secret in the message), the compatibility
 * logins, and the Origin check. Logins themselves run over HTTP in
 * test_server and the integration suite.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "auth.h"
#include "hasher.h"
#include "model.h"

#define PUBLIC "https://hub.example.com"

struct fixture {
	struct event_base *base;
	struct model *model;
	char path[64];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct model_options mo = { 0 };

	mo.event_ring_size = 8;
	f->base = event_base_new();
	f->model = model_new(&mo);
	snprintf(f->path, sizeof(f->path), "/tmp/test_auth_users.XXXXXX");
	close(mkstemp(f->path));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	(void)unlink(f->path);
	model_free(f->model);
	event_base_free(f->base);
	free(f);
	return 0;
}

static void
write_users(struct fixture *f, const char *text)
{
	FILE *out = fopen(f->path, "w");

	assert_non_null(out);
	fputs(text, out);
	assert_int_equal(fclose(out), 0);
}

/* auth_new on the fixture's users file; returns its result and frees a successful auth. */
static int
try_load(struct fixture *f, char **cause_out)
{
	struct auth_options o = { 0 };
	struct auth *a = NULL;
	int r;

	o.users_file = f->path;
	o.public_url = PUBLIC;
	o.login_threads = 1;
	r = auth_new(f->base, f->model, &o, &a, cause_out);
	auth_free(a);
	return r;
}

static void
expect_refused(struct fixture *f, const char *text, const char *words)
{
	char *cause = NULL;

	write_users(f, text);
	assert_true(try_load(f, &cause) < 0);
	assert_non_null(cause);
	if (strstr(cause, words) == NULL)
		fail_msg("cause '%s' lacks '%s'", cause, words);
	free(cause);
}

static void
test_auth_users_file_accepts_comments_and_methods(void **state)
{
	struct fixture *f = *state;
	char *cause = NULL;

	write_users(f, "# agents\n\nalice:worker:$6$salt$abc\r\n"
		       "sup:supervisor:$y$j9T$abc$def\nbob:worker:$2b$10$abc\n");
	assert_int_equal(try_load(f, &cause), 0);
}

static void
test_auth_users_file_refusals_name_the_line(void **state)
{
	struct fixture *f = *state;

	expect_refused(f, "ok:worker:$6$a$b\nadmin:root:$6$a$b\n", ":2: unknown role 'root'");
	expect_refused(f, "alice:worker\n", ":1: expected name:role:hash");
	expect_refused(f, "alice:worker:$1$md5$old\n", ":1: the hash is not");
	expect_refused(f, "alice:worker:$6$a$b\nalice:supervisor:$6$a$c\n",
		       ":2: user 'alice' is listed twice");
	expect_refused(f, ":worker:$6$a$b\n", ":1: invalid user name");
	expect_refused(f, " alice:worker:$6$a$b\n", ":1: invalid user name");
}

static void
test_auth_refusal_never_shows_the_hash(void **state)
{
	struct fixture *f = *state;
	char *cause = NULL;

	write_users(f, "alice:worker:$1$verysecrethash\n");
	assert_true(try_load(f, &cause) < 0);
	assert_null(strstr(cause, "verysecrethash"));
	free(cause);
}

static void
test_auth_missing_users_file_is_no_users(void **state)
{
	struct fixture *f = *state;
	char *cause = NULL;

	(void)unlink(f->path);
	assert_int_equal(try_load(f, &cause), 0);
}

static struct evhttp_request *
request_with(const char *const *headers)
{
	struct evhttp_request *req = evhttp_request_new(NULL, NULL);
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);

	for (size_t i = 0; headers[i] != NULL; i += 2)
		evhttp_add_header(in, headers[i], headers[i + 1]);
	return req;
}

static bool
origin_ok(struct auth *a, const char *const *headers)
{
	struct evhttp_request *req = request_with(headers);
	bool ok = auth_origin_ok(a, req);

	evhttp_request_free(req);
	return ok;
}

static void
test_auth_origin_check(void **state)
{
	struct fixture *f = *state;
	struct auth_options o = { 0 };
	struct auth *a = NULL;
	char *cause = NULL;

	write_users(f, "");
	o.users_file = f->path;
	o.public_url = PUBLIC "/base";
	o.login_threads = 1;
	assert_int_equal(auth_new(f->base, f->model, &o, &a, &cause), 0);
	assert_true(origin_ok(a, (const char *[]){ "Origin", PUBLIC, NULL }));
	assert_true(origin_ok(a, (const char *[]){ "Origin", "HTTPS://HUB.example.com", NULL }));
	assert_true(origin_ok(a, (const char *[]){ "Referer", PUBLIC "/dashboard?x=1", NULL }));
	/* The Host the request was sent to (trhubd reached directly on loopback). */
	assert_true(origin_ok(a, (const char *[]){ "Origin", "http://127.0.0.1:8080", "Host",
						   "127.0.0.1:8080", NULL }));
	assert_false(origin_ok(a, (const char *[]){ NULL }));
	assert_false(origin_ok(a, (const char *[]){ "Origin", "https://evil.example", NULL }));
	assert_false(origin_ok(a, (const char *[]){ "Origin", "null", NULL }));
	assert_false(origin_ok(
		a, (const char *[]){ "Origin", "https://hub.example.com.evil.example", NULL }));
	assert_false(origin_ok(a, (const char *[]){ "Origin", "http://hub.example.com", NULL }));
	assert_false(origin_ok(a, (const char *[]){ "Origin", "https://evil.example", "Referer",
						    PUBLIC "/", NULL }));
	assert_false(origin_ok(a, (const char *[]){ "Origin", "http://127.0.0.1:8081", "Host",
						    "127.0.0.1:8080", NULL }));
	/* No cookie, a malformed one, an unknown one: no session. */
	{
		struct evhttp_request *req =
			request_with((const char *[]){ "Cookie",
						       "a=b; trhub_session="
						       "0123456789abcdef0123456789abcdef"
						       "0123456789abcdef0123456789abcdef",
						       NULL });

		assert_null(auth_session_of(a, req));
		evhttp_request_free(req);
	}
	assert_int_equal(auth_session_count(a), 0);
	auth_free(a);
}

static void
test_auth_compatibility_supervisor_needs_a_valid_name(void **state)
{
	struct fixture *f = *state;
	struct auth_options o = { 0 };
	struct auth *a = NULL;
	char *cause = NULL;

	write_users(f, "");
	o.users_file = f->path;
	o.login_threads = 1;
	o.authentication_user = "bad:name";
	o.authentication_password = "pw";
	assert_true(auth_new(f->base, f->model, &o, &a, &cause) < 0);
	assert_non_null(strstr(cause, "authentication_user"));
	assert_null(strstr(cause, "pw"));
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_auth_users_file_accepts_comments_and_methods,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_users_file_refusals_name_the_line, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_auth_refusal_never_shows_the_hash, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_auth_missing_users_file_is_no_users, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_auth_origin_check, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_auth_compatibility_supervisor_needs_a_valid_name, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
