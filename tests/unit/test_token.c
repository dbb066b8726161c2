/*
 * Unit tests for common/token: the Access Token of twilio-api.md 8b byte
 * for byte (its header segment and signature are the document's; the
 * payload segment is the base64url of the document's exact payload bytes),
 * decoding through libjwt with the key, and refusals (wrong key, expiry,
 * TTL above 24 h, bad SIDs). The claim-by-claim comparison with
 * python3-twilio is tests/integration/test_daemon_tokens.py.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "token.h"

#define SK "SK00000000000000000000000000000001"
#define AC "AC00000000000000000000000000000001"
#define IS "IS00000000000000000000000000000001"
#define WS "WS00000000000000000000000000000001"
#define WK "WK00000000000000000000000000000001"

/* twilio-api.md 8b */
#define VECTOR_HEADER "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiIsImN0eSI6InR3aWxpby1mcGE7dj0xIn0"
#define VECTOR_PAYLOAD                                                                             \
	"eyJqdGkiOiJTSzAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAxLTE3MDAwMDAwMDAiLCJpc3MiOiJTSzAw" \
	"MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAxIiwic3ViIjoiQUMwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAw" \
	"MDAwMDAwMSIsIm5iZiI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwLCJncmFudHMiOnsiaWRlbnRpdHkiOiJh" \
	"bGljZSIsImRhdGFfc3luYyI6eyJzZXJ2aWNlX3NpZCI6IklTMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAw" \
	"MDEifSwidGFza19yb3V0ZXIiOnsid29ya3NwYWNlX3NpZCI6IldTMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAw" \
	"MDAwMDEiLCJ3b3JrZXJfc2lkIjoiV0swMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMSIsInJvbGUiOiJ3" \
	"b3JrZXIifX19"
#define VECTOR_SIGNATURE "2z8O-tvW04hqZocC5QOWcJKiWxOPdC8bkVC5ToYC0Rw"
#define VECTOR		 VECTOR_HEADER "." VECTOR_PAYLOAD "." VECTOR_SIGNATURE

static void
vector_options(struct token_access_options *o)
{
	memset(o, 0, sizeof(*o));
	o->account_sid = AC;
	o->api_key = SK;
	o->api_secret = "secret";
	o->identity = "alice";
	o->sync_service_sid = IS;
	o->workspace_sid = WS;
	o->worker_sid = WK;
	o->role = "worker";
	o->now_s = 1700000000;
	o->ttl_s = 3600;
}

static void
test_token_access_matches_the_8b_vector(void **state)
{
	struct token_access_options o;
	char *jwt = NULL;
	char *cause = NULL;

	vector_options(&o);
	assert_int_equal(token_access(&o, &jwt, &cause), 0);
	assert_string_equal(jwt, VECTOR);
	free(jwt);
}

static void
test_token_decode_verifies_the_8b_vector(void **state)
{
	struct json_doc *payload = NULL;
	struct json_doc *header = NULL;
	char *cause = NULL;
	const char *s = NULL;
	int64_t n = 0;

	assert_int_equal(token_decode(VECTOR, "secret", 0, &payload, &header, &cause), 0);
	assert_int_equal(json_get_string(json_doc_root(header), "cty", &s), 0);
	assert_string_equal(s, "twilio-fpa;v=1");
	assert_int_equal(json_get_string(json_doc_root(payload), "jti", &s), 0);
	assert_string_equal(s, SK "-1700000000");
	assert_int_equal(json_get_int64(json_doc_root(payload), "exp", &n), 0);
	assert_int_equal(n, 1700003600);
	assert_string_equal(json_string(json_path(json_doc_root(payload), "grants", "task_router",
						  "worker_sid", NULL)),
			    WK);
	assert_string_equal(json_string(json_path(json_doc_root(payload), "grants", "data_sync",
						  "service_sid", NULL)),
			    IS);
	json_doc_free(payload);
	json_doc_free(header);
}

static void
test_token_decode_refuses_wrong_key_and_tampering(void **state)
{
	struct json_doc *payload = NULL;
	char *cause = NULL;
	char tampered[] = VECTOR;

	assert_int_equal(token_decode(VECTOR, "not-the-secret", 0, &payload, NULL, &cause),
			 -EACCES);
	free(cause);
	cause = NULL;
	/* One byte of the payload segment changed. */
	tampered[sizeof(VECTOR_HEADER) + 5] ^= 1;
	assert_true(token_decode(tampered, "secret", 0, &payload, NULL, &cause) < 0);
	free(cause);
	cause = NULL;
	assert_int_equal(token_decode("a.b", "secret", 0, &payload, NULL, &cause), -EACCES);
	free(cause);
}

static void
test_token_decode_checks_exp_and_nbf(void **state)
{
	struct json_doc *payload = NULL;
	char *cause = NULL;

	assert_int_equal(token_decode(VECTOR, "secret", 1700003600, &payload, NULL, &cause),
			 -ETIMEDOUT);
	free(cause);
	cause = NULL;
	assert_int_equal(token_decode(VECTOR, "secret", 1699999999, &payload, NULL, &cause),
			 -ETIMEDOUT);
	free(cause);
	cause = NULL;
	assert_int_equal(token_decode(VECTOR, "secret", 1700000001, &payload, NULL, &cause), 0);
	json_doc_free(payload);
}

static void
test_token_access_ttl_is_capped_at_24h(void **state)
{
	struct token_access_options o;
	char *jwt = NULL;
	char *cause = NULL;

	vector_options(&o);
	o.ttl_s = TOKEN_ACCESS_TTL_MAX_S + 1;
	assert_int_equal(token_access(&o, &jwt, &cause), -EINVAL);
	assert_null(jwt);
	assert_non_null(strstr(cause, "ttl"));
	free(cause);
	cause = NULL;
	o.ttl_s = TOKEN_ACCESS_TTL_MAX_S;
	assert_int_equal(token_access(&o, &jwt, &cause), 0);
	free(jwt);
}

static void
test_token_access_refuses_bad_sids_and_leaves_out_unset_grants(void **state)
{
	struct token_access_options o;
	struct json_doc *payload = NULL;
	char *jwt = NULL;
	char *cause = NULL;

	vector_options(&o);
	o.api_key = "AC00000000000000000000000000000001";
	assert_int_equal(token_access(&o, &jwt, &cause), -EINVAL);
	free(cause);
	cause = NULL;
	vector_options(&o);
	o.api_secret = "";
	assert_int_equal(token_access(&o, &jwt, &cause), -EINVAL);
	free(cause);
	cause = NULL;
	/* A Sync-only token (the dashboard's): no task_router grant at all. */
	vector_options(&o);
	o.workspace_sid = NULL;
	o.worker_sid = NULL;
	o.role = NULL;
	assert_int_equal(token_access(&o, &jwt, &cause), 0);
	assert_int_equal(token_decode(jwt, "secret", 0, &payload, NULL, &cause), 0);
	assert_null(json_path(json_doc_root(payload), "grants", "task_router", NULL));
	assert_non_null(json_path(json_doc_root(payload), "grants", "data_sync", NULL));
	json_doc_free(payload);
	free(jwt);
}

static void
test_token_worker_capability_policies(void **state)
{
	struct token_capability_options o = { 0 };
	struct json_doc *payload = NULL;
	struct json_doc *header = NULL;
	const struct json_value *pol = NULL;
	char *jwt = NULL;
	char *cause = NULL;
	const char *s = NULL;

	o.account_sid = AC;
	o.auth_token = "auth-token";
	o.workspace_sid = WS;
	o.worker_sid = WK;
	o.now_s = 1700000000;
	o.ttl_s = 3600;
	assert_int_equal(token_worker_capability(&o, &jwt, &cause), 0);
	assert_int_equal(token_decode(jwt, "wrong", 0, &payload, NULL, &cause), -EACCES);
	free(cause);
	cause = NULL;
	assert_int_equal(token_decode(jwt, "auth-token", 0, &payload, &header, &cause), 0);
	assert_null(json_get(json_doc_root(header), "cty"));
	assert_int_equal(json_get_string(json_doc_root(payload), "version", &s), 0);
	assert_string_equal(s, "v1");
	assert_int_equal(json_get_string(json_doc_root(payload), "iss", &s), 0);
	assert_string_equal(s, AC);
	assert_int_equal(json_get_string(json_doc_root(payload), "worker_sid", &s), 0);
	assert_string_equal(s, WK);
	pol = json_get(json_doc_root(payload), "policies");
	assert_int_equal(json_array_len(pol), 9);
	assert_string_equal(json_string(json_get(json_array_at(pol, 0), "url")),
			    "https://event-bridge.twilio.com/v1/wschannels/" AC "/" WK);
	assert_string_equal(json_string(json_get(json_array_at(pol, 6), "url")),
			    "https://taskrouter.twilio.com/v1/Workspaces/" WS "/Workers/" WK);
	assert_string_equal(json_string(json_get(json_array_at(pol, 6), "method")), "POST");
	assert_true(json_bool(
		json_path(json_array_at(pol, 6), "post_filter", "ActivitySid", "required", NULL)));
	json_doc_free(payload);
	json_doc_free(header);
	free(jwt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_access_matches_the_8b_vector),
		cmocka_unit_test(test_token_decode_verifies_the_8b_vector),
		cmocka_unit_test(test_token_decode_refuses_wrong_key_and_tampering),
		cmocka_unit_test(test_token_decode_checks_exp_and_nbf),
		cmocka_unit_test(test_token_access_ttl_is_capped_at_24h),
		cmocka_unit_test(test_token_access_refuses_bad_sids_and_leaves_out_unset_grants),
		cmocka_unit_test(test_token_worker_capability_policies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
