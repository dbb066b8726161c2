/*
 * Unit tests for common/config_table.c: doc/trhubd.conf.5.scd documents
 * exactly the keys of the table, each with its value type (or "secret"),
 * its default, its range and its reload rule, so the man page and the
 * table cannot drift apart. The man page's path is the first argument.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "config_table.h"
#include "xmalloc.h"

static const char *test_man_path;
static char *test_man;

/* The man page's KEYS section. */
static const char *
test_keys_section(const char **end_out)
{
	const char *a = strstr(test_man, "\n# KEYS\n");
	const char *b = a != NULL ? strstr(a, "\n# REQUIRED KEYS\n") : NULL;

	assert_non_null(a);
	assert_non_null(b);
	*end_out = b;
	return a;
}

/*
 * The entry of key: its header line ("*key* = _type_ ...") and its
 * tab-indented body, with line breaks and tabs turned into single blanks.
 * NULL when the section has no such entry.
 */
static char *
test_entry(const char *key, char **header_out)
{
	const char *end = NULL;
	const char *sec = test_keys_section(&end);
	char *needle = xasprintf("\n*%s* = ", key);
	const char *p = strstr(sec, needle);
	const char *line_end;
	struct buf body;
	char *result;

	free(needle);
	if (p == NULL || p >= end)
		return NULL;
	p++;
	line_end = strchr(p, '\n');
	*header_out = xstrndup(p, (size_t)(line_end - p));
	buf_init(&body);
	p = line_end + 1;
	while (*p == '\t') {
		line_end = strchr(p, '\n');
		if (body.len > 0)
			buf_putc(&body, ' ');
		buf_append(&body, p + 1, (size_t)(line_end - p - 1));
		p = line_end + 1;
	}
	result = buf_steal(&body, NULL);
	buf_clear(&body);
	return result;
}

static const char *
test_type_word(const struct config_table_entry *k)
{
	if (k->secret)
		return "_secret_";
	switch (k->type) {
	case CONFIG_TABLE_STRING:
		return "_string_";
	case CONFIG_TABLE_SID:
		return "_SID_";
	case CONFIG_TABLE_URL:
	case CONFIG_TABLE_TWILIO_URL:
		return "_URL_";
	case CONFIG_TABLE_INT:
		return "_integer_";
	case CONFIG_TABLE_DURATION:
		return "_duration_";
	case CONFIG_TABLE_BOOL:
		return "_boolean_";
	case CONFIG_TABLE_TIME_OF_DAY:
		return "_HH:MM_";
	case CONFIG_TABLE_TIMEZONE:
		return "_time zone_";
	case CONFIG_TABLE_LISTEN:
		return "_host:port_";
	case CONFIG_TABLE_PATH:
		return "_absolute path_";
	case CONFIG_TABLE_SYNC_NAME:
		return "_Sync unique name_";
	}
	return "?";
}

/* body says "Default X", with X plain, *bold* or _underlined_. */
static bool
test_has_default(const char *body, const char *def)
{
	const char *marks[] = { "", "*", "_" };

	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		char *want = xasprintf("Default %s%s%s", marks[i], def, marks[i]);
		bool found = strstr(body, want) != NULL;

		free(want);
		if (found)
			return true;
	}
	return false;
}

static void
test_every_key_is_documented(void **state)
{
	for (size_t i = 0; i < config_table_n; i++) {
		const struct config_table_entry *k = &config_table[i];
		char *header = NULL;
		char *body = test_entry(k->name, &header);
		const char *rule =
			k->reload == CONFIG_TABLE_LIVE ? "Applies on reload." : "Needs a restart.";

		if (body == NULL)
			fail_msg("%s: key %s is not documented in KEYS", test_man_path, k->name);
		if (strstr(header, test_type_word(k)) == NULL)
			fail_msg("%s: %s is documented as '%s', the table says %s", test_man_path,
				 k->name, header, test_type_word(k));
		if (strstr(body, rule) == NULL)
			fail_msg("%s: %s must say \"%s\" (its reload rule in config_table.c)",
				 test_man_path, k->name, rule);
		if (k->def != NULL && !test_has_default(body, k->def))
			fail_msg("%s: %s must say \"Default %s\"", test_man_path, k->name, k->def);
		if (k->type == CONFIG_TABLE_INT || k->type == CONFIG_TABLE_DURATION) {
			char *range = xasprintf("range %lld-%lld", k->min, k->max);

			if (strstr(body, range) == NULL)
				fail_msg("%s: %s must say \"%s\"", test_man_path, k->name, range);
			free(range);
		}
		free(header);
		free(body);
	}
}

static void
test_every_documented_key_exists(void **state)
{
	const char *end = NULL;
	const char *p = test_keys_section(&end);

	while ((p = strstr(p, "\n*")) != NULL && p < end) {
		const char *name = p + 2;
		const char *star = strchr(name, '*');
		char *key = xstrndup(name, (size_t)(star - name));
		bool known = false;

		p = star;
		if (strncmp(star, "* = ", 4) != 0 && strcmp(key, CONFIG_TABLE_SLA_PREFIX) != 0 &&
		    strcmp(key, CONFIG_TABLE_SHORT_ABANDON_PREFIX) != 0) {
			free(key);
			continue; /* not an entry header */
		}
		for (size_t i = 0; i < config_table_n; i++)
			known = known || strcmp(config_table[i].name, key) == 0;
		known = known || strcmp(key, CONFIG_TABLE_SLA_PREFIX) == 0;
		known = known || strcmp(key, CONFIG_TABLE_SHORT_ABANDON_PREFIX) == 0;
		if (!known)
			fail_msg("%s: documents key %s, which config_table.c does not have",
				 test_man_path, key);
		free(key);
	}
}

static void
test_override_rule_is_documented(const char *prefix, enum config_table_reload reload)
{
	char *needle = xasprintf("\n*%s*_queue_ = _duration_\n", prefix);
	const char *p = strstr(test_man, needle);
	const char *rule = reload == CONFIG_TABLE_LIVE ? "Applies on reload." : "Needs a restart.";
	const char *next;

	assert_non_null(p);
	next = strstr(p + strlen(needle), "\n\n");
	assert_non_null(next);
	assert_non_null(strstr(p, rule));
	assert_true(strstr(p, rule) < next);
	free(needle);
}

static void
test_sla_override_rule_is_documented(void **state)
{
	test_override_rule_is_documented(CONFIG_TABLE_SLA_PREFIX, config_table_sla_reload);
}

static void
test_short_abandon_override_rule_is_documented(void **state)
{
	test_override_rule_is_documented(CONFIG_TABLE_SHORT_ABANDON_PREFIX,
					 config_table_short_abandon_reload);
}

static void
test_secrets_are_strings(void **state)
{
	for (size_t i = 0; i < config_table_n; i++) {
		if (config_table[i].secret)
			assert_int_equal(config_table[i].type, CONFIG_TABLE_STRING);
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_key_is_documented),
		cmocka_unit_test(test_every_documented_key_exists),
		cmocka_unit_test(test_sla_override_rule_is_documented),
		cmocka_unit_test(test_short_abandon_override_rule_is_documented),
		cmocka_unit_test(test_secrets_are_strings),
	};
	FILE *f;
	struct buf b;
	char chunk[4096];
	size_t n;

	if (argc != 2) {
		fprintf(stderr, "usage: %s doc/trhubd.conf.5.scd\n", argv[0]);
		return 2;
	}
	test_man_path = argv[1];
	f = fopen(test_man_path, "r");
	if (f == NULL) {
		perror(test_man_path);
		return 2;
	}
	buf_init(&b);
	buf_putc(&b, '\n');
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	test_man = buf_steal(&b, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
