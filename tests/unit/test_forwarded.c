/*
 * forwarded: the client behind proxies, from every Forwarded or
 * X-Forwarded-For line.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "cidr.h"
#include "forwarded.h"

static struct cidr_list *trusted;

static int
setup(void **state)
{
	return cidr_list_parse("127.0.0.1, 10.0.0.0/8", &trusted, NULL);
}

static int
teardown(void **state)
{
	cidr_list_free(trusted);
	return 0;
}

static void
test_forwarded_right_most_untrusted_of_all_lines(void **state)
{
	struct forwarded f;

	/* HAProxy appends its own line after the one the client sent. */
	forwarded_init(&f, trusted);
	forwarded_add_xff(&f, "127.0.0.1");
	forwarded_add_xff(&f, "203.0.113.7");
	assert_string_equal(forwarded_client(&f), "203.0.113.7");

	forwarded_init(&f, trusted);
	forwarded_add_xff(&f, "127.0.0.1, 198.51.100.4");
	forwarded_add_xff(&f, " 10.9.9.9 ");
	assert_string_equal(forwarded_client(&f), "198.51.100.4");

	/* Every hop trusted: the left-most. */
	forwarded_init(&f, trusted);
	forwarded_add_xff(&f, "10.0.0.1, 127.0.0.1");
	assert_string_equal(forwarded_client(&f), "10.0.0.1");

	/* Garbage deciding the walk: unknown, not the entry before it. */
	forwarded_init(&f, trusted);
	forwarded_add_xff(&f, "127.0.0.1, not-an-address");
	assert_string_equal(forwarded_client(&f), "");
}

static void
test_forwarded_rfc7239_elements(void **state)
{
	struct forwarded f;

	forwarded_init(&f, trusted);
	forwarded_add_rfc7239(&f, "for=198.51.100.2");
	forwarded_add_rfc7239(&f, "for=\"[2001:db8::1]:4711\";proto=https, for=10.0.0.9");
	assert_string_equal(forwarded_client(&f), "2001:db8::1");
	assert_string_equal(forwarded_proto(&f), "https");

	forwarded_init(&f, trusted);
	forwarded_add_rfc7239(&f, "proto=http;for=192.0.2.60:8080;by=203.0.113.43");
	assert_string_equal(forwarded_client(&f), "192.0.2.60");
	assert_string_equal(forwarded_proto(&f), "http");

	forwarded_init(&f, trusted);
	forwarded_add_rfc7239(&f, "for=_hidden, for=\"a,b\"");
	assert_string_equal(forwarded_client(&f), "");

	/* No trusted list: the right-most entry. */
	forwarded_init(&f, NULL);
	forwarded_add_xff(&f, "10.0.0.1, 127.0.0.1");
	assert_string_equal(forwarded_client(&f), "127.0.0.1");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forwarded_right_most_untrusted_of_all_lines),
		cmocka_unit_test(test_forwarded_rfc7239_elements),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
