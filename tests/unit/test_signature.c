/*
 * Unit tests for common/signature: every vector of twilio-api.md section 7,
 * the port variants, and the ways a forged or damaged request must fail.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "form.h"
#include "signature.h"

#define TOKEN	  "12345"
#define URL	  "https://mycompany.com/myapp.php?foo=1&bar=2"
#define SIG_PLAIN "RSOYDt4T1cUTdK1PDd93/VVr8B8="
#define BODY	  "{\"property\": \"value\", \"boolean\": true}"
#define BODY_HASH "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"

/* The common parameters of section 7, added out of order on purpose. */
static struct form *
common_params(void)
{
	struct form *f = form_new();

	form_add(f, "To", "+18005551212");
	form_add(f, "CallSid", "CA1234567890ABCDE");
	form_add(f, "Digits", "1234");
	form_add(f, "From", "+14158675309");
	form_add(f, "Caller", "+14158675309");
	return f;
}

static int
setup_params(void **state)
{
	*state = common_params();
	return 0;
}

static int
teardown_params(void **state)
{
	form_free(*state);
	return 0;
}

static void
assert_compute(const char *url, const struct form *params, const char *want)
{
	char sig[SIGNATURE_LEN + 1];

	memset(sig, 'X', sizeof(sig));
	assert_int_equal(signature_compute(TOKEN, url, params, sig), 0);
	assert_string_equal(sig, want);
	assert_int_equal(signature_verify(TOKEN, url, params, want), SIGNATURE_MATCH);
}

static void
test_signature_vector_plain(void **state)
{
	assert_compute(URL, *state, SIG_PLAIN);
}

static void
test_signature_vector_port_443(void **state)
{
	assert_compute("https://mycompany.com:443/myapp.php?foo=1&bar=2", *state,
		       "kvajT1Ptam85bY51eRf/AJRuM3w=");
}

static void
test_signature_vector_port_80(void **state)
{
	assert_compute("http://mycompany.com:80/myapp.php?foo=1&bar=2", *state,
		       "0ZXoZLH/DfblKGATFgpif+LLRf4=");
}

static void
test_signature_vector_port_1234(void **state)
{
	assert_compute("http://mycompany.com:1234/myapp.php?foo=1&bar=2", *state,
		       "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=");
}

static void
test_signature_vector_multi_value(void **state)
{
	struct form *f = form_new();

	form_add(f, "Sid", "CA123");
	form_add(f, "SidAccount", "AC123");
	form_add(f, "Digits", "5678");
	form_add(f, "Digits", "1234");
	form_add(f, "Digits", "1234");
	assert_compute(URL, f, "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
	form_free(f);
}

static void
test_signature_vector_json_body(void **state)
{
	const char *url = URL "&bodySHA256=" BODY_HASH;
	char hex[65];

	signature_sha256_hex(BODY, strlen(BODY), hex);
	assert_string_equal(hex, BODY_HASH);
	assert_compute(url, NULL, "a9nBmqA0ju/hNViExpshrM61xv4=");
	assert_int_equal(signature_verify_body(TOKEN, url, BODY, strlen(BODY),
					       "a9nBmqA0ju/hNViExpshrM61xv4="),
			 SIGNATURE_MATCH);
}

static void
test_signature_vector_docs_example(void **state)
{
	struct form *f = form_new();

	form_add(f, "CallSid", "CA1234567890ABCDE");
	form_add(f, "Caller", "+12349013030");
	form_add(f, "Digits", "1234");
	form_add(f, "From", "+12349013030");
	form_add(f, "To", "+18005551212");
	assert_compute(URL, f, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
	form_free(f);
}

static void
test_signature_sha256_of_empty_body(void **state)
{
	char hex[65];

	signature_sha256_hex(NULL, 0, hex);
	assert_string_equal(hex,
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void
test_signature_verify_adds_default_port(void **state)
{
	/* Twilio signed the URL with :443; we were reached without it */
	assert_int_equal(signature_verify(TOKEN, URL, *state, "kvajT1Ptam85bY51eRf/AJRuM3w="),
			 SIGNATURE_MATCH);
	assert_int_equal(signature_verify(TOKEN, "http://mycompany.com/myapp.php?foo=1&bar=2",
					  *state, "0ZXoZLH/DfblKGATFgpif+LLRf4="),
			 SIGNATURE_MATCH);
}

static void
test_signature_verify_removes_port(void **state)
{
	/* Twilio signed the URL without a port; we see :443 */
	assert_int_equal(signature_verify(TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2",
					  *state, SIG_PLAIN),
			 SIGNATURE_MATCH);
}

static void
test_signature_verify_port_variants_are_scheme_specific(void **state)
{
	/* :80 is not the https default, and :443 is not http's */
	assert_int_equal(signature_verify(TOKEN, URL, *state, "0ZXoZLH/DfblKGATFgpif+LLRf4="),
			 SIGNATURE_MISMATCH);
	assert_int_equal(signature_verify(TOKEN, "http://mycompany.com/myapp.php?foo=1&bar=2",
					  *state, "kvajT1Ptam85bY51eRf/AJRuM3w="),
			 SIGNATURE_MISMATCH);
	/* a non-default port is never invented */
	assert_int_equal(signature_verify(TOKEN, "http://mycompany.com/myapp.php?foo=1&bar=2",
					  *state, "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
			 SIGNATURE_MISMATCH);
}

static void
test_signature_verify_port_variants_with_userinfo_and_ipv6(void **state)
{
	char sig[SIGNATURE_LEN + 1];

	assert_int_equal(signature_compute(TOKEN, "https://u:p@[::1]/cb?x=1", *state, sig), 0);
	assert_int_equal(signature_verify(TOKEN, "https://u:p@[::1]:443/cb?x=1", *state, sig),
			 SIGNATURE_MATCH);
	assert_int_equal(signature_compute(TOKEN, "http://[2001:db8::1]:8080/cb", *state, sig), 0);
	assert_int_equal(signature_verify(TOKEN, "http://[2001:db8::1]:8080/cb", *state, sig),
			 SIGNATURE_MATCH);
	assert_int_equal(signature_compute(TOKEN, "http://[2001:db8::1]/cb", *state, sig), 0);
	assert_int_equal(signature_verify(TOKEN, "http://[2001:db8::1]:8080/cb", *state, sig),
			 SIGNATURE_MATCH);
	assert_int_equal(signature_compute(TOKEN, "https://user:pw@example.com/x", *state, sig), 0);
	assert_int_equal(signature_verify(TOKEN, "https://user:pw@example.com:443/x", *state, sig),
			 SIGNATURE_MATCH);
	/* no path at all, port right before the query */
	assert_int_equal(signature_compute(TOKEN, "https://example.com?a=b", *state, sig), 0);
	assert_int_equal(signature_verify(TOKEN, "https://example.com:443?a=b", *state, sig),
			 SIGNATURE_MATCH);
}

static void
test_signature_verify_ignores_fragment(void **state)
{
	assert_int_equal(signature_verify(TOKEN, URL "#section", *state, SIG_PLAIN),
			 SIGNATURE_MATCH);
	assert_int_equal(signature_verify(TOKEN,
					  "https://mycompany.com:443/myapp.php?foo=1&bar=2#f:1",
					  *state, SIG_PLAIN),
			 SIGNATURE_MATCH);
}

static void
test_signature_rejects_changed_param(void **state)
{
	struct form *f = common_params();

	form_add(f, "Extra", "1");
	assert_int_equal(signature_verify(TOKEN, URL, f, SIG_PLAIN), SIGNATURE_MISMATCH);
	form_free(f);
	f = form_new();
	form_add(f, "CallSid", "CA1234567890ABCDE");
	form_add(f, "Caller", "+14158675309");
	form_add(f, "Digits", "1235");
	form_add(f, "From", "+14158675309");
	form_add(f, "To", "+18005551212");
	assert_int_equal(signature_verify(TOKEN, URL, f, SIG_PLAIN), SIGNATURE_MISMATCH);
	form_free(f);
	assert_int_equal(signature_verify(TOKEN, URL, NULL, SIG_PLAIN), SIGNATURE_MISMATCH);
}

static void
test_signature_rejects_value_moved_to_other_name(void **state)
{
	struct form *f = form_new();

	/* same bytes in the signed string would need the same name/value split */
	form_add(f, "CallSid", "CA1234567890ABCDE");
	form_add(f, "Caller", "+14158675309");
	form_add(f, "Digits", "1234");
	form_add(f, "From", "+18005551212");
	form_add(f, "To", "+14158675309");
	assert_int_equal(signature_verify(TOKEN, URL, f, SIG_PLAIN), SIGNATURE_MISMATCH);
	form_free(f);
}

static void
test_signature_rejects_changed_multi_value(void **state)
{
	struct form *f = form_new();

	/* a value of a repeated name changed: 5678 became 5679 */
	form_add(f, "Sid", "CA123");
	form_add(f, "SidAccount", "AC123");
	form_add(f, "Digits", "5679");
	form_add(f, "Digits", "1234");
	assert_int_equal(signature_verify(TOKEN, URL, f, "IK+Dwps556ElfBT0I3Rgjkr1wJU="),
			 SIGNATURE_MISMATCH);
	form_free(f);
}

static void
test_signature_param_order_does_not_matter(void **state)
{
	struct form *f = form_new();

	/* the libraries sort: insertion order and duplicates are irrelevant */
	form_add(f, "Digits", "1234");
	form_add(f, "SidAccount", "AC123");
	form_add(f, "Digits", "5678");
	form_add(f, "Sid", "CA123");
	assert_int_equal(signature_verify(TOKEN, URL, f, "IK+Dwps556ElfBT0I3Rgjkr1wJU="),
			 SIGNATURE_MATCH);
	form_free(f);
}

static void
test_signature_rejects_changed_url(void **state)
{
	assert_int_equal(signature_verify(TOKEN, "https://mycompany.com/myapp.php?bar=2&foo=1",
					  *state, SIG_PLAIN),
			 SIGNATURE_MISMATCH);
	assert_int_equal(signature_verify(TOKEN, "http://mycompany.com/myapp.php?foo=1&bar=2",
					  *state, SIG_PLAIN),
			 SIGNATURE_MISMATCH);
	assert_int_equal(signature_verify(TOKEN, "https://mycompany.com:8443/myapp.php?foo=1&bar=2",
					  *state, SIG_PLAIN),
			 SIGNATURE_MATCH); /* the port is dropped, as twilio-python does */
	assert_int_equal(signature_verify(TOKEN, "https://evil.com/myapp.php?foo=1&bar=2", *state,
					  SIG_PLAIN),
			 SIGNATURE_MISMATCH);
}

static void
test_signature_rejects_empty_or_null_header(void **state)
{
	assert_int_equal(signature_verify(TOKEN, URL, *state, NULL), SIGNATURE_MISMATCH);
	assert_int_equal(signature_verify(TOKEN, URL, *state, ""), SIGNATURE_MISMATCH);
}

static void
test_signature_rejects_wrong_token(void **state)
{
	assert_int_equal(signature_verify("12346", URL, *state, SIG_PLAIN), SIGNATURE_MISMATCH);
	assert_int_equal(signature_verify("1234", URL, *state, SIG_PLAIN), SIGNATURE_MISMATCH);
}

static void
test_signature_rejects_truncated_or_extended_signature(void **state)
{
	assert_int_equal(signature_verify(TOKEN, URL, *state, "RSOYDt4T1cUTdK1PDd93/VVr8B8"),
			 SIGNATURE_MISMATCH);
	assert_int_equal(signature_verify(TOKEN, URL, *state, "RSOYDt4T"), SIGNATURE_MISMATCH);
	assert_int_equal(signature_verify(TOKEN, URL, *state, SIG_PLAIN "="), SIGNATURE_MISMATCH);
	assert_int_equal(signature_verify(TOKEN, URL, *state, SIG_PLAIN " "), SIGNATURE_MISMATCH);
	assert_int_equal(signature_verify(TOKEN, URL, *state, "rSOYDt4T1cUTdK1PDd93/VVr8B8="),
			 SIGNATURE_MISMATCH);
}

static void
test_signature_rejects_empty_token_or_url(void **state)
{
	char sig[SIGNATURE_LEN + 1];

	assert_int_equal(signature_compute("", URL, *state, sig), -EINVAL);
	assert_int_equal(signature_compute(NULL, URL, *state, sig), -EINVAL);
	assert_int_equal(signature_compute(TOKEN, "", *state, sig), -EINVAL);
	assert_int_equal(signature_compute(TOKEN, NULL, *state, sig), -EINVAL);
	assert_int_equal(signature_verify("", URL, *state, SIG_PLAIN), -EINVAL);
	assert_int_equal(signature_verify(TOKEN, "", *state, SIG_PLAIN), -EINVAL);
}

static void
test_signature_rejects_unparsable_url(void **state)
{
	static const char *const bad[] = {
		"mycompany.com/myapp.php", "/myapp.php?foo=1",
		"https:/mycompany.com/",   "https://",
		"https:///path",	   "https://:443/path",
		"https://host:44a3/path",  "https://host:99999/path",
		"https://[::1/path",	   "https://[]/path",
		"https://[::1]x/path",	   "1http://host/",
		"#https://host/",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (signature_verify(TOKEN, bad[i], *state, SIG_PLAIN) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
	}
}

static void
test_signature_verify_body_accepts_uppercase_hash(void **state)
{
	char sig[SIGNATURE_LEN + 1];
	char url[256];
	size_t n;

	n = strlen(URL "&bodySHA256=");
	memcpy(url, URL "&bodySHA256=", n);
	for (size_t i = 0; i < 64; i++) {
		char c = BODY_HASH[i];

		url[n + i] = (c >= 'a' && c <= 'f') ? (char)(c - 'a' + 'A') : c;
	}
	url[n + 64] = '\0';
	assert_int_equal(signature_compute(TOKEN, url, NULL, sig), 0);
	assert_int_equal(signature_verify_body(TOKEN, url, BODY, strlen(BODY), sig),
			 SIGNATURE_MATCH);
}

static void
test_signature_verify_body_rejects_changed_body(void **state)
{
	const char *url = URL "&bodySHA256=" BODY_HASH;
	const char *sig = "a9nBmqA0ju/hNViExpshrM61xv4=";
	const char *other = "{\"property\": \"value\", \"boolean\": false}";

	assert_int_equal(signature_verify_body(TOKEN, url, other, strlen(other), sig),
			 SIGNATURE_MISMATCH);
	assert_int_equal(signature_verify_body(TOKEN, url, BODY, strlen(BODY) - 1, sig),
			 SIGNATURE_MISMATCH);
	assert_int_equal(signature_verify_body(TOKEN, url, NULL, 0, sig), SIGNATURE_MISMATCH);
}

static void
test_signature_verify_body_rejects_bad_signature_or_missing_hash(void **state)
{
	const char *url = URL "&bodySHA256=" BODY_HASH;
	char sig[SIGNATURE_LEN + 1];

	/* right hash, signature of another URL */
	assert_int_equal(signature_verify_body(TOKEN, url, BODY, strlen(BODY), SIG_PLAIN),
			 SIGNATURE_MISMATCH);
	assert_int_equal(signature_verify_body(TOKEN, url, BODY, strlen(BODY), NULL),
			 SIGNATURE_MISMATCH);
	/* a correctly signed URL without bodySHA256 */
	assert_int_equal(signature_compute(TOKEN, URL, NULL, sig), 0);
	assert_int_equal(signature_verify_body(TOKEN, URL, BODY, strlen(BODY), sig),
			 SIGNATURE_MISMATCH);
	/* a truncated hash */
	assert_int_equal(signature_compute(TOKEN, URL "&bodySHA256=0a1ff7", NULL, sig), 0);
	assert_int_equal(
		signature_verify_body(TOKEN, URL "&bodySHA256=0a1ff7", BODY, strlen(BODY), sig),
		SIGNATURE_MISMATCH);
	/* a parameter whose name only ends like it */
	assert_int_equal(signature_compute(TOKEN, URL "&xbodySHA256=" BODY_HASH, NULL, sig), 0);
	assert_int_equal(signature_verify_body(TOKEN, URL "&xbodySHA256=" BODY_HASH, BODY,
					       strlen(BODY), sig),
			 SIGNATURE_MISMATCH);
	assert_int_equal(signature_verify_body(TOKEN, "not a url", BODY, strlen(BODY), sig),
			 -EINVAL);
}

static void
test_signature_verify_body_port_variants_and_fragment(void **state)
{
	const char *url =
		"https://mycompany.com:443/myapp.php?foo=1&bar=2&bodySHA256=" BODY_HASH "#frag";

	assert_int_equal(signature_verify_body(TOKEN, url, BODY, strlen(BODY),
					       "a9nBmqA0ju/hNViExpshrM61xv4="),
			 SIGNATURE_MATCH);
}

/*
 * Names with U+1F600 (a surrogate pair in UTF-16) and U+FF01: code point
 * order puts "a\uFF01" first, UTF-16 order "a\U0001F600". Expected values:
 * python3-twilio's RequestValidator.compute_signature (code points) and
 * twilio-node's algorithm run by node 20 (Object.keys().sort(), UTF-16).
 */
#define NAME_EMOJI     "a\xF0\x9F\x98\x80"
#define NAME_FULLWIDTH "a\xEF\xBC\x81"
#define SIG_NAMES_PY   "aXWmh5YCtpXiW9AEy1A32Y/t+pU="
#define SIG_NAMES_NODE "Fl05sdydaZFNv9Hbqewy+dW6JxQ="
/* Digits=U+1F600, Digits=U+FF01, Digits=U+1F600 and CallSid=CA1, the same way. */
#define SIG_VALUES_PY	"1Ds2IBiaCvQZnL7Pm3OsfpXsJjY="
#define SIG_VALUES_NODE "ho0tEvbs4QW1sElwbM3qbOU/9Ms="

static struct form *
supplementary_names(void)
{
	struct form *f = form_new();

	form_add(f, NAME_EMOJI, "1");
	form_add(f, "CallSid", "CA1");
	form_add(f, NAME_FULLWIDTH, "2");
	return f;
}

static struct form *
supplementary_values(void)
{
	struct form *f = form_new();

	form_add(f, "Digits", "\xF0\x9F\x98\x80");
	form_add(f, "CallSid", "CA1");
	form_add(f, "Digits", "\xEF\xBC\x81");
	form_add(f, "Digits", "\xF0\x9F\x98\x80");
	return f;
}

static void
test_signature_accepts_code_point_order_names(void **state)
{
	struct form *f = supplementary_names();
	char sig[SIGNATURE_LEN + 1];

	/* computed signatures use twilio-python's order */
	assert_int_equal(signature_compute(TOKEN, URL, f, sig), 0);
	assert_string_equal(sig, SIG_NAMES_PY);
	assert_int_equal(signature_verify(TOKEN, URL, f, SIG_NAMES_PY), SIGNATURE_MATCH);
	form_free(f);
}

static void
test_signature_accepts_utf16_order_names(void **state)
{
	struct form *f = supplementary_names();

	assert_int_equal(signature_verify(TOKEN, URL, f, SIG_NAMES_NODE), SIGNATURE_MATCH);
	/* with the port variants too */
	assert_int_equal(signature_verify(TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2",
					  f, SIG_NAMES_NODE),
			 SIGNATURE_MATCH);
	form_free(f);
}

static void
test_signature_accepts_either_order_of_values(void **state)
{
	struct form *f = supplementary_values();
	char sig[SIGNATURE_LEN + 1];

	assert_int_equal(signature_compute(TOKEN, URL, f, sig), 0);
	assert_string_equal(sig, SIG_VALUES_PY);
	assert_int_equal(signature_verify(TOKEN, URL, f, SIG_VALUES_PY), SIGNATURE_MATCH);
	assert_int_equal(signature_verify(TOKEN, URL, f, SIG_VALUES_NODE), SIGNATURE_MATCH);
	form_free(f);
}

static void
test_signature_utf16_order_still_checks_content(void **state)
{
	struct form *f = supplementary_names();
	struct form *g = form_new();

	/* a changed value fails in both orders */
	form_add(g, NAME_EMOJI, "1");
	form_add(g, "CallSid", "CA2");
	form_add(g, NAME_FULLWIDTH, "2");
	assert_int_equal(signature_verify(TOKEN, URL, g, SIG_NAMES_NODE), SIGNATURE_MISMATCH);
	assert_int_equal(signature_verify(TOKEN, URL, g, SIG_NAMES_PY), SIGNATURE_MISMATCH);
	/* the other order's signature of other parameters is no pass */
	assert_int_equal(signature_verify(TOKEN, URL, f, SIG_VALUES_NODE), SIGNATURE_MISMATCH);
	/* ASCII parameters: one order, the Node signature equals the Python one */
	assert_int_equal(signature_verify(TOKEN, URL, *state, SIG_PLAIN), SIGNATURE_MATCH);
	form_free(g);
	form_free(f);
}

static void
test_signature_malformed_utf8_sorts_by_bytes(void **state)
{
	struct form *f = form_new();
	char sig[SIGNATURE_LEN + 1];

	/* a lone 4-byte lead and a truncated sequence: no crash, verifies itself */
	form_add(f, "a\xF0", "x");
	form_add(f, "a\xEF\xBC", "y");
	form_add(f, "a\xF0\x9F\x98\x80", "z");
	form_add(f, "a\xF4\x90\x80\x80", "w"); /* above U+10FFFF */
	assert_int_equal(signature_compute(TOKEN, URL, f, sig), 0);
	assert_int_equal(signature_verify(TOKEN, URL, f, sig), SIGNATURE_MATCH);
	form_free(f);
}

static void
test_signature_follows_token_change(void **state)
{
	char sig[SIGNATURE_LEN + 1];

	/* the cached keyed template must follow the token, also back and forth */
	assert_int_equal(signature_verify(TOKEN, URL, *state, SIG_PLAIN), SIGNATURE_MATCH);
	assert_int_equal(signature_verify("54321", URL, *state, SIG_PLAIN), SIGNATURE_MISMATCH);
	assert_int_equal(signature_compute("54321", URL, *state, sig), 0);
	assert_string_not_equal(sig, SIG_PLAIN);
	assert_int_equal(signature_verify("123456", URL, *state, SIG_PLAIN), SIGNATURE_MISMATCH);
	assert_int_equal(signature_verify(TOKEN, URL, *state, SIG_PLAIN), SIGNATURE_MATCH);
	assert_int_equal(signature_verify("54321", URL, *state, sig), SIGNATURE_MATCH);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_params, teardown_params)
		T(test_signature_vector_plain),
		T(test_signature_vector_port_443),
		T(test_signature_vector_port_80),
		T(test_signature_vector_port_1234),
		T(test_signature_vector_multi_value),
		T(test_signature_vector_json_body),
		T(test_signature_vector_docs_example),
		T(test_signature_sha256_of_empty_body),
		T(test_signature_verify_adds_default_port),
		T(test_signature_verify_removes_port),
		T(test_signature_verify_port_variants_are_scheme_specific),
		T(test_signature_verify_port_variants_with_userinfo_and_ipv6),
		T(test_signature_verify_ignores_fragment),
		T(test_signature_rejects_changed_param),
		T(test_signature_rejects_value_moved_to_other_name),
		T(test_signature_rejects_changed_multi_value),
		T(test_signature_param_order_does_not_matter),
		T(test_signature_rejects_changed_url),
		T(test_signature_rejects_empty_or_null_header),
		T(test_signature_rejects_wrong_token),
		T(test_signature_rejects_truncated_or_extended_signature),
		T(test_signature_rejects_empty_token_or_url),
		T(test_signature_rejects_unparsable_url),
		T(test_signature_verify_body_accepts_uppercase_hash),
		T(test_signature_verify_body_rejects_changed_body),
		T(test_signature_verify_body_rejects_bad_signature_or_missing_hash),
		T(test_signature_verify_body_port_variants_and_fragment),
		T(test_signature_accepts_code_point_order_names),
		T(test_signature_accepts_utf16_order_names),
		T(test_signature_accepts_either_order_of_values),
		T(test_signature_utf16_order_still_checks_content),
		T(test_signature_malformed_utf8_sorts_by_bytes),
		T(test_signature_follows_token_change),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
