/*
 * cidr: address lists for trusted_proxies, and matching addresses against them.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cidr.h"

static struct cidr_list *
parse_ok(const char *text, size_t count)
{
	struct cidr_list *l = NULL;
	char *cause = NULL;

	assert_int_equal(cidr_list_parse(text, &l, &cause), 0);
	assert_null(cause);
	assert_int_equal(cidr_list_count(l), count);
	return l;
}

static void
parse_bad(const char *text, const char *needle)
{
	struct cidr_list *l = NULL;
	char *cause = NULL;

	assert_int_equal(cidr_list_parse(text, &l, &cause), -EINVAL);
	assert_null(l);
	assert_non_null(cause);
	if (strstr(cause, needle) == NULL)
		fail_msg("'%s' not in '%s'", needle, cause);
	free(cause);
}

static void
test_cidr_hosts_and_networks_match(void **state)
{
	struct cidr_list *l = parse_ok("127.0.0.1, 10.0.0.0/8 ::1\tfd00::/8,,192.168.1.128/25", 5);

	assert_true(cidr_list_match(l, "127.0.0.1"));
	assert_false(cidr_list_match(l, "127.0.0.2"));
	assert_true(cidr_list_match(l, "10.255.1.2"));
	assert_false(cidr_list_match(l, "11.0.0.1"));
	assert_true(cidr_list_match(l, "::1"));
	assert_true(cidr_list_match(l, "fd12:3456::7"));
	assert_false(cidr_list_match(l, "fe80::1"));
	assert_true(cidr_list_match(l, "192.168.1.200"));
	assert_false(cidr_list_match(l, "192.168.1.100"));
	/* An IPv4-mapped peer matches the IPv4 entry. */
	assert_true(cidr_list_match(l, "::ffff:10.1.2.3"));
	/* Not addresses: never a match. */
	assert_false(cidr_list_match(l, "localhost"));
	assert_false(cidr_list_match(l, "10.0.0.1:80"));
	assert_false(cidr_list_match(l, ""));
	assert_false(cidr_list_match(l, NULL));
	cidr_list_free(l);
}

static void
test_cidr_empty_list_matches_nothing(void **state)
{
	struct cidr_list *l = parse_ok("  ", 0);

	assert_false(cidr_list_match(l, "127.0.0.1"));
	cidr_list_free(l);
	l = parse_ok(NULL, 0);
	cidr_list_free(l);
	assert_false(cidr_list_match(NULL, "127.0.0.1"));
	cidr_list_free(NULL);
}

static void
test_cidr_bad_entries_are_refused_by_name(void **state)
{
	parse_bad("127.0.0.1, proxy.example", "proxy.example");
	parse_bad("10.0.0.1/8", "beyond the prefix");
	parse_bad("10.0.0.0/33", "over 32");
	parse_bad("::/129", "prefix");
	parse_bad("10.0.0.0/", "prefix");
	parse_bad("10.0.0.0/8x", "prefix");
}

static void
test_cidr_is_address(void **state)
{
	assert_true(cidr_is_address("203.0.113.7"));
	assert_true(cidr_is_address("2001:db8::1"));
	assert_false(cidr_is_address("[2001:db8::1]"));
	assert_false(cidr_is_address("unknown"));
	assert_false(cidr_is_address(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr_hosts_and_networks_match),
		cmocka_unit_test(test_cidr_empty_list_matches_nothing),
		cmocka_unit_test(test_cidr_bad_entries_are_refused_by_name),
		cmocka_unit_test(test_cidr_is_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
