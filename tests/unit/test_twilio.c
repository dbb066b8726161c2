/*
 * twilio: URL builders (exact strings), base override, auth in the request
 * spec, error parsing, paging over v1 and 2010 bodies (a foreign next page is
 * refused) and the retry policy (deterministic with a seeded rng).
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "form.h"
#include "json.h"
#include "rng.h"
#include "twilio.h"
#include "xmalloc.h"

#define AC "AC00000000000000000000000000000001"
#define WS "WS00000000000000000000000000000001"
#define WK "WK00000000000000000000000000000002"
#define WT "WT00000000000000000000000000000003"
#define WR "WR00000000000000000000000000000004"
#define WQ "WQ00000000000000000000000000000005"
#define IS "IS00000000000000000000000000000006"
#define CF "CF00000000000000000000000000000007"
#define TR "https://taskrouter.twilio.com/v1/Workspaces/" WS

static struct twilio *
new_twilio(const char *base)
{
	struct twilio_client_config cfg = {
		.account_sid = AC,
		.auth_token = "token",
		.base_url = base,
	};
	struct twilio *tw = NULL;
	char *cause = NULL;

	assert_int_equal(twilio_new(&cfg, &tw, &cause), 0);
	assert_null(cause);
	return tw;
}

#define CHECK_URL(expr, expected)                  \
	do {                                       \
		char *u_ = (expr);                 \
		assert_non_null(u_);               \
		assert_string_equal(u_, expected); \
		free(u_);                          \
	} while (0)

static void
test_twilio_taskrouter_urls(void **state)
{
	struct twilio *tw = new_twilio(NULL);

	CHECK_URL(twilio_url_workspace(tw, WS), TR);
	CHECK_URL(twilio_url_activities(tw, WS), TR "/Activities");
	CHECK_URL(twilio_url_workers(tw, WS), TR "/Workers");
	CHECK_URL(twilio_url_worker(tw, WS, WK), TR "/Workers/" WK);
	CHECK_URL(twilio_url_tasks(tw, WS), TR "/Tasks");
	CHECK_URL(twilio_url_task(tw, WS, WT), TR "/Tasks/" WT);
	CHECK_URL(twilio_url_task_reservations(tw, WS, WT), TR "/Tasks/" WT "/Reservations");
	CHECK_URL(twilio_url_task_reservation(tw, WS, WT, WR), TR "/Tasks/" WT "/Reservations/" WR);
	CHECK_URL(twilio_url_worker_reservations(tw, WS, WK), TR "/Workers/" WK "/Reservations");
	CHECK_URL(twilio_url_worker_reservation(tw, WS, WK, WR),
		  TR "/Workers/" WK "/Reservations/" WR);
	CHECK_URL(twilio_url_task_queues(tw, WS), TR "/TaskQueues");
	CHECK_URL(twilio_url_task_queue(tw, WS, WQ), TR "/TaskQueues/" WQ);
	CHECK_URL(twilio_url_workflows(tw, WS), TR "/Workflows");
	CHECK_URL(twilio_url_events(tw, WS), TR "/Events");
	CHECK_URL(twilio_url_workspace_statistics(tw, WS), TR "/Statistics");
	CHECK_URL(twilio_url_workspace_realtime_statistics(tw, WS), TR "/RealTimeStatistics");
	CHECK_URL(twilio_url_workspace_cumulative_statistics(tw, WS), TR "/CumulativeStatistics");
	CHECK_URL(twilio_url_task_queue_statistics(tw, WS, WQ), TR "/TaskQueues/" WQ "/Statistics");
	CHECK_URL(twilio_url_task_queue_realtime_statistics(tw, WS, WQ),
		  TR "/TaskQueues/" WQ "/RealTimeStatistics");
	CHECK_URL(twilio_url_task_queues_statistics(tw, WS), TR "/TaskQueues/Statistics");
	CHECK_URL(twilio_url_task_queues_realtime_statistics(tw, WS),
		  TR "/TaskQueues/RealTimeStatistics");
	CHECK_URL(twilio_url_workers_statistics(tw, WS), TR "/Workers/Statistics");
	twilio_free(tw);
}

static void
test_twilio_sync_and_2010_urls(void **state)
{
	struct twilio *tw = new_twilio(NULL);

	CHECK_URL(twilio_url_sync_service(tw, IS), "https://sync.twilio.com/v1/Services/" IS);
	CHECK_URL(twilio_url_sync_documents(tw, IS),
		  "https://sync.twilio.com/v1/Services/" IS "/Documents");
	CHECK_URL(twilio_url_sync_document(tw, IS, "trhub.stats"),
		  "https://sync.twilio.com/v1/Services/" IS "/Documents/trhub.stats");
	CHECK_URL(twilio_url_sync_maps(tw, IS), "https://sync.twilio.com/v1/Services/" IS "/Maps");
	CHECK_URL(twilio_url_sync_map(tw, IS, "tasks"),
		  "https://sync.twilio.com/v1/Services/" IS "/Maps/tasks");
	CHECK_URL(twilio_url_sync_map_items(tw, IS, "tasks"),
		  "https://sync.twilio.com/v1/Services/" IS "/Maps/tasks/Items");
	CHECK_URL(twilio_url_sync_map_item(tw, IS, "tasks", WT),
		  "https://sync.twilio.com/v1/Services/" IS "/Maps/tasks/Items/" WT);
	CHECK_URL(twilio_url_conferences(tw),
		  "https://api.twilio.com/2010-04-01/Accounts/" AC "/Conferences.json");
	CHECK_URL(twilio_url_conference(tw, CF),
		  "https://api.twilio.com/2010-04-01/Accounts/" AC "/Conferences/" CF ".json");
	CHECK_URL(twilio_url_conference_participants(tw, CF),
		  "https://api.twilio.com/2010-04-01/Accounts/" AC "/Conferences/" CF
		  "/Participants.json");
	twilio_free(tw);
}

static void
test_twilio_url_ids_are_encoded_and_required(void **state)
{
	struct twilio *tw = new_twilio(NULL);

	/* a map item key cannot escape its segment */
	CHECK_URL(twilio_url_sync_map_item(tw, IS, "m", "a/../b c"),
		  "https://sync.twilio.com/v1/Services/" IS "/Maps/m/Items/a%2F..%2Fb%20c");
	assert_null(twilio_url_worker(tw, WS, NULL));
	assert_null(twilio_url_worker(tw, WS, ""));
	assert_null(twilio_url_workspace(tw, NULL));
	assert_null(twilio_url_task_reservation(tw, WS, WT, ""));
	twilio_free(tw);
}

static void
test_twilio_base_override(void **state)
{
	struct twilio *tw = new_twilio("http://127.0.0.1:8123/");

	assert_true(twilio_allows_plain_http(tw));
	assert_string_equal(twilio_base(tw, TWILIO_HOST_SYNC), "http://127.0.0.1:8123");
	CHECK_URL(twilio_url_task(tw, WS, WT),
		  "http://127.0.0.1:8123/v1/Workspaces/" WS "/Tasks/" WT);
	CHECK_URL(twilio_url_sync_document(tw, IS, "d"),
		  "http://127.0.0.1:8123/v1/Services/" IS "/Documents/d");
	CHECK_URL(twilio_url_conferences(tw),
		  "http://127.0.0.1:8123/2010-04-01/Accounts/" AC "/Conferences.json");
	twilio_free(tw);

	tw = new_twilio("https://twilio.example.org");
	assert_false(twilio_allows_plain_http(tw));
	CHECK_URL(twilio_url_workers(tw, WS),
		  "https://twilio.example.org/v1/Workspaces/" WS "/Workers");
	twilio_free(tw);
}

static void
test_twilio_host_bases_override_the_shared_base(void **state)
{
	struct twilio_client_config cfg = { .account_sid = AC, .auth_token = "t" };
	struct twilio *tw = NULL;
	char *cause = NULL;

	cfg.base_url = "http://127.0.0.1:8123";
	cfg.host_base_url[TWILIO_HOST_SYNC] = "https://sync.example.com/";
	assert_int_equal(twilio_new(&cfg, &tw, &cause), 0);
	CHECK_URL(twilio_url_task(tw, WS, WT),
		  "http://127.0.0.1:8123/v1/Workspaces/" WS "/Tasks/" WT);
	CHECK_URL(twilio_url_sync_document(tw, IS, "d"),
		  "https://sync.example.com/v1/Services/" IS "/Documents/d");
	assert_string_equal(twilio_base(tw, TWILIO_HOST_API), "http://127.0.0.1:8123");
	twilio_free(tw);
	tw = NULL;

	/* a per-host base follows the same rules as the shared one */
	cfg.host_base_url[TWILIO_HOST_API] = "http://twilio.example.org";
	assert_int_equal(twilio_new(&cfg, &tw, &cause), -EINVAL);
	assert_null(tw);
	assert_non_null(cause);
	free(cause);
}

static void
test_twilio_client_config_from_uses_the_resolved_bases(void **state)
{
	static const char text[] = "account_sid = " AC "\n"
				   "auth_token = t\n"
				   "twilio_base_url = http://127.0.0.1:8081\n"
				   "sync_base_url = https://sync.example.com\n";
	static char *const no_env[] = { NULL };
	struct config_source src = { 0 };
	struct twilio_client_config cfg;
	struct config *config = NULL;
	struct twilio *tw = NULL;
	char *cause = NULL;

	src.data = text;
	src.data_len = sizeof(text) - 1;
	src.data_name = "test.conf";
	src.envp = no_env;
	assert_int_equal(config_load(&src, &config, &cause), 0);
	twilio_client_config_from(&cfg, config);
	assert_int_equal(twilio_new(&cfg, &tw, &cause), 0);
	CHECK_URL(twilio_url_workers(tw, WS), "http://127.0.0.1:8081/v1/Workspaces/" WS "/Workers");
	CHECK_URL(twilio_url_sync_document(tw, IS, "d"),
		  "https://sync.example.com/v1/Services/" IS "/Documents/d");
	twilio_free(tw);
	config_free(config);
}

static void
test_twilio_new_refuses_bad_config(void **state)
{
	struct twilio_client_config cfg = { .account_sid = AC, .auth_token = "t" };
	struct twilio *tw = NULL;
	char *cause = NULL;

	cfg.base_url = "http://twilio.example.org";
	assert_int_equal(twilio_new(&cfg, &tw, &cause), -EINVAL);
	assert_non_null(strstr(cause, "loopback"));
	free(cause);
	cfg.base_url = "ftp://127.0.0.1";
	assert_int_equal(twilio_new(&cfg, &tw, &cause), -EINVAL);
	free(cause);
	cfg.base_url = "https://user@host";
	assert_int_equal(twilio_new(&cfg, &tw, &cause), -EINVAL);
	free(cause);
	cfg.base_url = NULL;
	cfg.api_key = "SK1";
	assert_int_equal(twilio_new(&cfg, &tw, &cause), -EINVAL);
	free(cause);
	cfg.api_key = NULL;
	cfg.auth_token = NULL;
	assert_int_equal(twilio_new(&cfg, &tw, NULL), -EINVAL);
	cfg.auth_token = "t";
	cfg.account_sid = "";
	assert_int_equal(twilio_new(&cfg, &tw, NULL), -EINVAL);
	assert_null(tw);
}

static void
test_twilio_spec_uses_token_or_api_key(void **state)
{
	struct twilio_client_config cfg = {
		.account_sid = AC,
		.auth_token = "token",
		.timeout_ms = 1234,
	};
	struct http_request_spec spec;
	struct twilio *tw = NULL;

	assert_int_equal(twilio_new(&cfg, &tw, NULL), 0);
	twilio_request_spec_init(tw, &spec, HTTP_POST, "https://x/");
	assert_string_equal(spec.username, AC);
	assert_string_equal(spec.password, "token");
	assert_int_equal(spec.method, HTTP_POST);
	assert_int_equal(spec.timeout_ms, 1234);
	assert_false(spec.allow_plain_http);
	twilio_free(tw);

	cfg.api_key = "SK00000000000000000000000000000009";
	cfg.api_secret = "secret";
	cfg.base_url = "http://localhost:9";
	assert_int_equal(twilio_new(&cfg, &tw, NULL), 0);
	twilio_request_spec_init(tw, &spec, HTTP_GET, "http://localhost:9/");
	assert_string_equal(spec.username, "SK00000000000000000000000000000009");
	assert_string_equal(spec.password, "secret");
	assert_true(spec.allow_plain_http);
	/* the account SID still goes in 2010 paths */
	CHECK_URL(twilio_url_conferences(tw),
		  "http://localhost:9/2010-04-01/Accounts/" AC "/Conferences.json");
	twilio_free(tw);
}

static void
test_twilio_reconfigure_swaps_only_the_credentials(void **state)
{
	struct twilio_client_config cfg = {
		.account_sid = AC,
		.auth_token = "token",
	};
	struct http_request_spec spec;
	struct twilio *tw = NULL;
	char *cause = NULL;

	assert_int_equal(twilio_new(&cfg, &tw, NULL), 0);
	/* A reload with a new token: the next request uses it. */
	cfg.auth_token = "rotated";
	assert_int_equal(twilio_reconfigure(tw, &cfg, NULL), 0);
	twilio_request_spec_init(tw, &spec, HTTP_GET, "https://x/");
	assert_string_equal(spec.username, AC);
	assert_string_equal(spec.password, "rotated");
	/* An API key pair instead. */
	cfg.api_key = "SK00000000000000000000000000000009";
	cfg.api_secret = "secret";
	assert_int_equal(twilio_reconfigure(tw, &cfg, NULL), 0);
	twilio_request_spec_init(tw, &spec, HTTP_GET, "https://x/");
	assert_string_equal(spec.username, "SK00000000000000000000000000000009");
	assert_string_equal(spec.password, "secret");
	/* The account is a restart key: a new one changes neither URLs nor the user. */
	cfg.api_key = NULL;
	cfg.api_secret = NULL;
	cfg.account_sid = "AC99999999999999999999999999999999";
	assert_int_equal(twilio_reconfigure(tw, &cfg, NULL), 0);
	twilio_request_spec_init(tw, &spec, HTTP_GET, "https://x/");
	assert_string_equal(spec.username, AC);
	CHECK_URL(twilio_url_conferences(tw),
		  "https://api.twilio.com/2010-04-01/Accounts/" AC "/Conferences.json");
	/* A key without its secret is refused and changes nothing. */
	cfg.api_key = "SK00000000000000000000000000000009";
	assert_int_equal(twilio_reconfigure(tw, &cfg, &cause), -EINVAL);
	assert_non_null(cause);
	free(cause);
	twilio_request_spec_init(tw, &spec, HTTP_GET, "https://x/");
	assert_string_equal(spec.password, "rotated");
	twilio_free(tw);
}

static void
test_twilio_url_with_query(void **state)
{
	struct form *q = form_new();

	CHECK_URL(twilio_url_with_query("https://h/p", NULL), "https://h/p");
	CHECK_URL(twilio_url_with_query("https://h/p", q), "https://h/p");
	form_add(q, "AssignmentStatus", "pending");
	form_add(q, "AssignmentStatus", "reserved");
	form_add_int(q, "PageSize", 1000);
	CHECK_URL(twilio_url_with_query("https://h/p", q),
		  "https://h/p?AssignmentStatus=pending&AssignmentStatus=reserved&PageSize=1000");
	CHECK_URL(
		twilio_url_with_query("https://h/p?A=1", q),
		"https://h/p?A=1&AssignmentStatus=pending&AssignmentStatus=reserved&PageSize=1000");
	form_free(q);
}

static void
response_set(struct http_response *r, enum http_outcome o, long status, const char *body)
{
	http_response_init(r);
	r->outcome = o;
	r->status = status;
	r->body = xstrdup(body);
	r->body_len = strlen(body);
}

static void
test_twilio_error_from_json(void **state)
{
	struct http_response r;
	struct twilio_error e;

	twilio_error_init(&e);
	response_set(&r, HTTP_DONE, 412,
		     "{\"code\": 54103, \"message\": \"Revision mismatch\", \"more_info\": "
		     "\"https://www.twilio.com/docs/errors/54103\", \"status\": 412}");
	assert_int_equal(twilio_error_parse(&r, &e), 0);
	assert_int_equal(e.code, 54103);
	assert_int_equal(e.status, 412);
	assert_string_equal(e.message, "Revision mismatch");
	assert_string_equal(e.more_info, "https://www.twilio.com/docs/errors/54103");
	http_response_clear(&r);
	twilio_error_clear(&e);
}

static void
test_twilio_error_without_code_falls_back_to_status(void **state)
{
	struct http_response r;
	struct twilio_error e;

	twilio_error_init(&e);
	response_set(&r, HTTP_DONE, 503, "{\"message\": \"busy\", \"status\": 503}");
	assert_int_equal(twilio_error_parse(&r, &e), 0);
	assert_int_equal(e.code, 503);
	assert_string_equal(e.message, "busy");
	assert_null(e.more_info);
	http_response_clear(&r);

	/* parsing again into the same struct replaces the old contents */
	response_set(&r, HTTP_DONE, 404, "{}");
	assert_int_equal(twilio_error_parse(&r, &e), 0);
	assert_int_equal(e.code, 404);
	assert_string_equal(e.message, "HTTP 404");
	http_response_clear(&r);
	twilio_error_clear(&e);
}

static void
test_twilio_error_non_json_body(void **state)
{
	struct http_response r;
	struct twilio_error e;

	twilio_error_init(&e);
	response_set(&r, HTTP_DONE, 502, "<html>Bad Gateway</html>");
	assert_int_equal(twilio_error_parse(&r, &e), -EBADMSG);
	assert_int_equal(e.code, 502);
	assert_int_equal(e.status, 502);
	assert_string_equal(e.message, "HTTP 502");
	http_response_clear(&r);

	response_set(&r, HTTP_DONE, 500, "");
	assert_int_equal(twilio_error_parse(&r, &e), -EBADMSG);
	assert_int_equal(e.code, 500);
	http_response_clear(&r);

	response_set(&r, HTTP_DONE, 400, "[1,2]");
	assert_int_equal(twilio_error_parse(&r, &e), -EBADMSG);
	http_response_clear(&r);
	twilio_error_clear(&e);
}

static void
test_twilio_error_transport_failure(void **state)
{
	struct http_response r;
	struct twilio_error e;

	twilio_error_init(&e);
	response_set(&r, HTTP_TIMEOUT, 0, "");
	assert_int_equal(twilio_error_parse(&r, &e), -EIO);
	assert_int_equal(e.code, 0);
	assert_int_equal(e.status, 0);
	assert_non_null(strstr(e.message, "timeout"));
	http_response_clear(&r);
	twilio_error_clear(&e);
}

static void
test_twilio_response_ok(void **state)
{
	struct http_response r;

	response_set(&r, HTTP_DONE, 204, "");
	assert_true(twilio_response_ok(&r));
	r.status = 429;
	assert_false(twilio_response_ok(&r));
	r.status = 200;
	r.outcome = HTTP_TOO_LARGE;
	assert_false(twilio_response_ok(&r));
	http_response_clear(&r);
}

static const char v1_page[] =
	"{\"tasks\": [{\"sid\": \"WT1\"}, {\"sid\": \"WT2\"}], \"meta\": {\"page\": 0, "
	"\"page_size\": 2, \"key\": \"tasks\", \"url\": "
	"\"https://taskrouter.twilio.com/v1/Workspaces/WS1/Tasks?PageSize=2&Page=0\", "
	"\"next_page_url\": "
	"\"https://taskrouter.twilio.com/v1/Workspaces/WS1/"
	"Tasks?PageSize=2&Page=1&PageToken=PAWT2\","
	" \"previous_page_url\": null}}";

static void
test_twilio_page_v1(void **state)
{
	struct twilio *tw = new_twilio(NULL);
	struct twilio_page *page = NULL;
	const char *sid = NULL;

	assert_int_equal(twilio_page_parse(tw, NULL, v1_page, strlen(v1_page), &page, NULL), 0);
	assert_int_equal(twilio_page_count(page), 2);
	assert_string_equal(twilio_page_key(page), "tasks");
	assert_int_equal(json_get_string(twilio_page_record(page, 1), "sid", &sid), 0);
	assert_string_equal(sid, "WT2");
	assert_null(twilio_page_record(page, 2));
	assert_string_equal(twilio_page_next_url(page),
			    "https://taskrouter.twilio.com/v1/Workspaces/WS1/"
			    "Tasks?PageSize=2&Page=1&PageToken=PAWT2");
	twilio_page_free(page);
	twilio_free(tw);
}

static void
test_twilio_page_v1_last_page(void **state)
{
	struct twilio *tw = new_twilio(NULL);
	struct twilio_page *page = NULL;
	const char *body =
		"{\"items\": [], \"meta\": {\"key\": \"items\", \"next_page_url\": null}}";

	assert_int_equal(twilio_page_parse(tw, "ignored", body, strlen(body), &page, NULL), 0);
	assert_int_equal(twilio_page_count(page), 0);
	assert_string_equal(twilio_page_key(page), "items");
	assert_null(twilio_page_next_url(page));
	twilio_page_free(page);
	twilio_free(tw);
}

static void
test_twilio_page_v1_on_overridden_base(void **state)
{
	struct twilio *tw = new_twilio("http://127.0.0.1:8123");
	struct twilio_page *page = NULL;
	char *cause = NULL;
	const char *good = "{\"workers\": [], \"meta\": {\"key\": \"workers\", \"next_page_url\": "
			   "\"http://127.0.0.1:8123/v1/Workspaces/WS1/Workers?PageToken=PA1\"}}";
	const char *real_host = "{\"workers\": [], \"meta\": {\"key\": \"workers\", "
				"\"next_page_url\": "
				"\"https://taskrouter.twilio.com/v1/Workspaces/WS1/Workers\"}}";

	assert_int_equal(twilio_page_parse(tw, NULL, good, strlen(good), &page, NULL), 0);
	assert_string_equal(twilio_page_next_url(page),
			    "http://127.0.0.1:8123/v1/Workspaces/WS1/Workers?PageToken=PA1");
	twilio_page_free(page);
	/* the real host is "another host" when the base is overridden */
	assert_int_equal(twilio_page_parse(tw, NULL, real_host, strlen(real_host), &page, &cause),
			 -EPERM);
	free(cause);
	twilio_free(tw);
}

static void
assert_page_refused(struct twilio *tw, const char *key, const char *body, int expected)
{
	struct twilio_page *page = NULL;
	char *cause = NULL;

	assert_int_equal(twilio_page_parse(tw, key, body, strlen(body), &page, &cause), expected);
	assert_null(page);
	assert_non_null(cause);
	free(cause);
}

static void
test_twilio_page_refuses_foreign_next_page(void **state)
{
	struct twilio *tw = new_twilio(NULL);

	assert_page_refused(tw, NULL,
			    "{\"tasks\": [], \"meta\": {\"key\": \"tasks\", \"next_page_url\": "
			    "\"https://evil.example.com/v1/Workspaces/WS1/Tasks?Page=1\"}}",
			    -EPERM);
	/* prefix tricks: a longer host name, userinfo, a port */
	assert_page_refused(tw, NULL,
			    "{\"tasks\": [], \"meta\": {\"key\": \"tasks\", \"next_page_url\": "
			    "\"https://taskrouter.twilio.com.evil.com/v1/x\"}}",
			    -EPERM);
	assert_page_refused(tw, NULL,
			    "{\"tasks\": [], \"meta\": {\"key\": \"tasks\", \"next_page_url\": "
			    "\"https://taskrouter.twilio.com@evil.com/v1/x\"}}",
			    -EPERM);
	assert_page_refused(tw, NULL,
			    "{\"tasks\": [], \"meta\": {\"key\": \"tasks\", \"next_page_url\": "
			    "\"https://taskrouter.twilio.com:8443/v1/x\"}}",
			    -EPERM);
	assert_page_refused(tw, NULL,
			    "{\"tasks\": [], \"meta\": {\"key\": \"tasks\", \"next_page_url\": "
			    "\"http://taskrouter.twilio.com/v1/x\"}}",
			    -EPERM);
	assert_page_refused(tw, NULL,
			    "{\"tasks\": [], \"meta\": {\"key\": \"tasks\", \"next_page_url\": "
			    "\"https://taskrouter.twilio.com/v1/x y\"}}",
			    -EPERM);
	/* 2010: protocol-relative and absolute URIs are not paths */
	assert_page_refused(tw, "conferences",
			    "{\"conferences\": [], \"next_page_uri\": \"//evil.com/x.json\"}",
			    -EPERM);
	assert_page_refused(tw, "conferences",
			    "{\"conferences\": [], \"next_page_uri\": \"https://evil.com/x.json\"}",
			    -EPERM);
	twilio_free(tw);
}

static void
test_twilio_page_2010(void **state)
{
	struct twilio *tw = new_twilio(NULL);
	struct twilio_page *page = NULL;
	const char *body =
		"{\"conferences\": [{\"sid\": \"CF1\", \"friendly_name\": \"WT1\"}], \"uri\": "
		"\"/2010-04-01/Accounts/AC1/Conferences.json?PageSize=1\", \"first_page_uri\": "
		"\"/2010-04-01/Accounts/AC1/Conferences.json?PageSize=1&Page=0\", "
		"\"next_page_uri\": "
		"\"/2010-04-01/Accounts/AC1/Conferences.json?PageSize=1&Page=1&PageToken=PACF1\", "
		"\"previous_page_uri\": null, \"page\": 0, \"page_size\": 1, \"start\": 0, "
		"\"end\": 0}";

	assert_int_equal(twilio_page_parse(tw, "conferences", body, strlen(body), &page, NULL), 0);
	assert_int_equal(twilio_page_count(page), 1);
	assert_string_equal(twilio_page_next_url(page),
			    "https://api.twilio.com/2010-04-01/Accounts/AC1/"
			    "Conferences.json?PageSize=1&Page=1&PageToken=PACF1");
	twilio_page_free(page);
	twilio_free(tw);

	/* joined with the overridden base */
	tw = new_twilio("http://127.0.0.1:8123");
	assert_int_equal(twilio_page_parse(tw, "conferences", body, strlen(body), &page, NULL), 0);
	assert_string_equal(twilio_page_next_url(page),
			    "http://127.0.0.1:8123/2010-04-01/Accounts/AC1/"
			    "Conferences.json?PageSize=1&Page=1&PageToken=PACF1");
	twilio_page_free(page);
	twilio_free(tw);
}

static void
test_twilio_page_malformed(void **state)
{
	struct twilio *tw = new_twilio(NULL);

	assert_page_refused(tw, "tasks", "not json", -EINVAL);
	assert_page_refused(tw, "tasks", "[]", -EINVAL);
	assert_page_refused(tw, "tasks", "{\"tasks\": {}}", -EINVAL);
	assert_page_refused(tw, NULL, "{\"conferences\": []}", -EINVAL); /* 2010 needs a key */
	assert_page_refused(tw, NULL, "{\"meta\": {\"key\": \"tasks\"}}", -EINVAL);
	assert_page_refused(tw, NULL,
			    "{\"tasks\": [], \"meta\": {\"key\": \"tasks\", \"next_page_url\": 5}}",
			    -EINVAL);
	twilio_free(tw);
}

static void
test_twilio_retry_decisions(void **state)
{
	static const long retry[] = { 429, 500, 502, 503, 504 };
	static const long final[] = { 200, 201, 204, 400, 401, 403, 404, 405, 409, 412, 501 };
	struct http_response r;
	struct rng rng;
	long delay;

	rng_seed(&rng, 1);
	http_response_init(&r);
	r.outcome = HTTP_DONE;
	for (size_t i = 0; i < sizeof(retry) / sizeof(retry[0]); i++) {
		r.status = retry[i];
		assert_true(twilio_retry_is_retryable(&r));
		assert_true(twilio_retry_next(NULL, &r, 1, &rng, &delay));
	}
	for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++) {
		r.status = final[i];
		assert_false(twilio_retry_is_retryable(&r));
		assert_false(twilio_retry_next(NULL, &r, 1, &rng, &delay));
		assert_int_equal(delay, 0);
	}
	r.status = 0;
	r.outcome = HTTP_TIMEOUT;
	assert_true(twilio_retry_is_retryable(&r));
	r.outcome = HTTP_CONNECT_FAILED;
	assert_true(twilio_retry_is_retryable(&r));
	r.outcome = HTTP_TLS_FAILED;
	assert_false(twilio_retry_is_retryable(&r));
	r.outcome = HTTP_TOO_LARGE;
	assert_false(twilio_retry_is_retryable(&r));
	r.outcome = HTTP_CANCELLED;
	assert_false(twilio_retry_is_retryable(&r));
	r.outcome = HTTP_FAILED;
	assert_false(twilio_retry_is_retryable(&r));
}

static void
test_twilio_retry_attempts_are_bounded(void **state)
{
	struct twilio_retry_policy p;
	struct http_response r;
	struct rng rng;
	long delay;
	unsigned attempts = 1;

	twilio_retry_policy_init(&p);
	assert_int_equal(p.max_attempts, 5);
	assert_int_equal(p.base_ms, 200);
	assert_int_equal(p.max_ms, 10000);
	rng_seed(&rng, 2);
	http_response_init(&r);
	r.outcome = HTTP_DONE;
	r.status = 503;
	while (twilio_retry_next(&p, &r, attempts, &rng, &delay))
		attempts++;
	assert_int_equal(attempts, 5); /* one try plus four retries */
	p.max_attempts = 1;
	assert_false(twilio_retry_next(&p, &r, 1, &rng, &delay));
}

static void
test_twilio_retry_backoff_within_bounds(void **state)
{
	struct twilio_retry_policy p = { .max_attempts = 20, .base_ms = 100, .max_ms = 1000 };
	struct rng rng;
	long max_seen[12] = { 0 };

	rng_seed(&rng, 3);
	for (int round = 0; round < 200; round++) {
		for (unsigned n = 1; n <= 10; n++) {
			long cap = 100L << (n - 1);
			long d = twilio_retry_backoff_ms(&p, n, &rng);

			if (cap > 1000)
				cap = 1000;
			assert_in_range(d, 0, cap);
			if (d > max_seen[n])
				max_seen[n] = d;
		}
	}
	/* jitter spreads over the whole window, and the window grows */
	assert_true(max_seen[1] > 50);
	assert_true(max_seen[4] > 400);
	assert_true(max_seen[10] > 500);
}

static void
test_twilio_retry_is_deterministic_with_seed(void **state)
{
	struct rng a;
	struct rng b;

	rng_seed(&a, 42);
	rng_seed(&b, 42);
	for (unsigned n = 1; n < 6; n++)
		assert_int_equal(twilio_retry_backoff_ms(NULL, n, &a),
				 twilio_retry_backoff_ms(NULL, n, &b));
}

static void
test_twilio_retry_honours_retry_after(void **state)
{
	struct http_response r;
	struct rng rng;
	long delay;

	rng_seed(&rng, 4);
	http_response_init(&r);
	r.outcome = HTTP_DONE;
	r.status = 429;
	r.retry_after_s = 30; /* longer than max_ms (10 s): still honoured */
	assert_true(twilio_retry_next(NULL, &r, 1, &rng, &delay));
	assert_int_equal(delay, 30000);
	r.retry_after_s = 3600; /* capped at the hard cap */
	assert_true(twilio_retry_next(NULL, &r, 1, &rng, &delay));
	assert_int_equal(delay, TWILIO_RETRY_HARD_CAP_MS);
	r.retry_after_s = 0; /* shorter than the backoff: the backoff wins */
	for (int i = 0; i < 50; i++) {
		assert_true(twilio_retry_next(NULL, &r, 3, &rng, &delay));
		assert_in_range(delay, 0, 800);
	}
	/* Retry-After does not make a final status retryable */
	r.status = 400;
	r.retry_after_s = 5;
	assert_false(twilio_retry_next(NULL, &r, 1, &rng, &delay));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_twilio_taskrouter_urls),
		cmocka_unit_test(test_twilio_sync_and_2010_urls),
		cmocka_unit_test(test_twilio_url_ids_are_encoded_and_required),
		cmocka_unit_test(test_twilio_base_override),
		cmocka_unit_test(test_twilio_host_bases_override_the_shared_base),
		cmocka_unit_test(test_twilio_client_config_from_uses_the_resolved_bases),
		cmocka_unit_test(test_twilio_new_refuses_bad_config),
		cmocka_unit_test(test_twilio_spec_uses_token_or_api_key),
		cmocka_unit_test(test_twilio_reconfigure_swaps_only_the_credentials),
		cmocka_unit_test(test_twilio_url_with_query),
		cmocka_unit_test(test_twilio_error_from_json),
		cmocka_unit_test(test_twilio_error_without_code_falls_back_to_status),
		cmocka_unit_test(test_twilio_error_non_json_body),
		cmocka_unit_test(test_twilio_error_transport_failure),
		cmocka_unit_test(test_twilio_response_ok),
		cmocka_unit_test(test_twilio_page_v1),
		cmocka_unit_test(test_twilio_page_v1_last_page),
		cmocka_unit_test(test_twilio_page_v1_on_overridden_base),
		cmocka_unit_test(test_twilio_page_refuses_foreign_next_page),
		cmocka_unit_test(test_twilio_page_2010),
		cmocka_unit_test(test_twilio_page_malformed),
		cmocka_unit_test(test_twilio_retry_decisions),
		cmocka_unit_test(test_twilio_retry_attempts_are_bounded),
		cmocka_unit_test(test_twilio_retry_backoff_within_bounds),
		cmocka_unit_test(test_twilio_retry_is_deterministic_with_seed),
		cmocka_unit_test(test_twilio_retry_honours_retry_after),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
