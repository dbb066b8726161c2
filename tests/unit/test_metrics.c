/*
 * Unit tests for daemon/metrics: the exposition is valid Prometheus text
 * format 0.0.4, label sets stay bounded whatever the input, and the
 * histogram is cumulative.
 */

#include <malloc.h>
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
#include "metrics.h"

static char *
render(const struct metrics *m)
{
	struct buf b;

	buf_init(&b);
	metrics_render(m, &b);
	return buf_steal(&b, NULL);
}

static size_t
count_lines_with(const char *text, const char *needle)
{
	size_t n = 0;
	const char *line = text;

	while (*line != '\0') {
		const char *end = strchr(line, '\n');
		size_t len = end == NULL ? strlen(line) : (size_t)(end - line);
		char *copy = strndup(line, len);

		if (strstr(copy, needle) != NULL)
			n++;
		free(copy);
		if (end == NULL)
			break;
		line = end + 1;
	}
	return n;
}

/* glibc's allocator counts a block in mallinfo2; ASan's and valgrind's report zeros. */
static bool
malloc_is_glibc(void)
{
	struct mallinfo2 before = mallinfo2();
	void *volatile p = malloc(4096);
	struct mallinfo2 after = mallinfo2();
	bool counts = after.uordblks + after.hblkhd >= before.uordblks + before.hblkhd + 4096;

	free(p);
	return counts;
}

/* The value of the sample line that starts with prefix, or -1 when absent. */
static long long
sample(const char *text, const char *prefix)
{
	const char *p = text;
	size_t plen = strlen(prefix);

	while (p != NULL && *p != '\0') {
		if (strncmp(p, prefix, plen) == 0 && p[plen] == ' ')
			return strtoll(p + plen + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return -1;
}

static bool
is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool
is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

/*
 * Checks one sample line: name, optional {k="v",...} with only \\ \" \n
 * escapes, one space, a number, nothing else. Returns the name length or 0.
 */
static size_t
check_sample_line(const char *line, size_t len)
{
	size_t i = 0;
	size_t name_len = 0;
	char *end = NULL;
	char *num = NULL;

	if (len == 0 || !is_name_start(line[0]))
		return 0;
	while (i < len && is_name_char(line[i]))
		i++;
	name_len = i;
	if (i < len && line[i] == '{') {
		i++;
		for (;;) {
			if (i >= len || !is_name_start(line[i]))
				return 0;
			while (i < len && is_name_char(line[i]))
				i++;
			if (i + 1 >= len || line[i] != '=' || line[i + 1] != '"')
				return 0;
			i += 2;
			while (i < len && line[i] != '"') {
				if (line[i] == '\\') {
					if (i + 1 >= len || strchr("\\\"n", line[i + 1]) == NULL)
						return 0;
					i++;
				}
				i++;
			}
			if (i >= len)
				return 0;
			i++; /* closing quote */
			if (i < len && line[i] == ',') {
				i++;
				continue;
			}
			if (i < len && line[i] == '}') {
				i++;
				break;
			}
			return 0;
		}
	}
	if (i >= len || line[i] != ' ')
		return 0;
	i++;
	num = strndup(line + i, len - i);
	(void)strtod(num, &end);
	if (end == num || *end != '\0')
		name_len = 0;
	free(num);
	return name_len;
}

/*
 * Validates the whole exposition: every line is a HELP, a TYPE or a sample;
 * each sample's family had a TYPE line before it; the text ends in '\n'.
 */
static void
assert_valid_exposition(const char *text)
{
	const char *line = text;
	char types[64][96];
	size_t ntypes = 0;

	assert_true(strlen(text) > 0);
	assert_int_equal(text[strlen(text) - 1], '\n');
	while (*line != '\0') {
		const char *end = strchr(line, '\n');
		size_t len = (size_t)(end - line);

		assert_non_null(end);
		if (strncmp(line, "# HELP ", 7) == 0) {
			assert_true(len > 7 && is_name_start(line[7]));
		} else if (strncmp(line, "# TYPE ", 7) == 0) {
			const char *sp = memchr(line + 7, ' ', len - 7);
			size_t nlen = 0;

			assert_non_null(sp);
			nlen = (size_t)(sp - (line + 7));
			assert_true(nlen < sizeof(types[0]));
			assert_true(ntypes < 64);
			memcpy(types[ntypes], line + 7, nlen);
			types[ntypes][nlen] = '\0';
			ntypes++;
			assert_true(strncmp(sp + 1, "counter\n", 8) == 0 ||
				    strncmp(sp + 1, "gauge\n", 6) == 0 ||
				    strncmp(sp + 1, "histogram\n", 10) == 0);
		} else {
			size_t nlen = check_sample_line(line, len);
			bool declared = false;

			if (nlen == 0)
				fail_msg("bad sample line: %.*s", (int)len, line);
			for (size_t t = 0; t < ntypes; t++) {
				size_t tl = strlen(types[t]);

				if (nlen >= tl && strncmp(line, types[t], tl) == 0 &&
				    (nlen == tl || strncmp(line + tl, "_bucket", 7) == 0 ||
				     strncmp(line + tl, "_sum", 4) == 0 ||
				     strncmp(line + tl, "_count", 6) == 0))
					declared = true;
			}
			if (!declared)
				fail_msg("sample without TYPE: %.*s", (int)len, line);
		}
		line = end + 1;
	}
}

static void
test_metrics_empty_exposition_is_valid(void **state)
{
	struct metrics *m = metrics_new();
	char *text = render(m);

	assert_valid_exposition(text);
	assert_int_equal(sample(text, "trhubd_webhook_latency_seconds_count"), 0);
	assert_int_equal(sample(text, "trhubd_sse_clients"), 0);
	/* the heap gauges: this process has live allocations (m, text); ASan's and
	 * valgrind's allocators replace glibc's and leave mallinfo2 at zero */
	if (malloc_is_glibc())
		assert_true(sample(text, "trhubd_heap_in_use_bytes") > 0);
	else
		assert_true(sample(text, "trhubd_heap_in_use_bytes") >= 0);
	assert_true(sample(text, "trhubd_heap_free_bytes") >= 0);
	free(text);
	metrics_free(m);
}

static void
test_metrics_counts_known_event_types_by_name(void **state)
{
	struct metrics *m = metrics_new();
	char *text = NULL;

	metrics_event_received(m, "task.created");
	metrics_event_received(m, "task.created");
	metrics_event_received(m, "worker.activity.update");
	metrics_event_received(m, "workspace.updated");
	metrics_event_received(m, "activity.created");
	text = render(m);
	assert_valid_exposition(text);
	assert_int_equal(sample(text, "trhubd_events_received_total{type=\"task.created\"}"), 2);
	assert_int_equal(
		sample(text, "trhubd_events_received_total{type=\"worker.activity.update\"}"), 1);
	assert_int_equal(sample(text, "trhubd_events_received_total{type=\"workspace.updated\"}"),
			 1);
	assert_int_equal(sample(text, "trhubd_events_received_total{type=\"activity.created\"}"),
			 1);
	assert_int_equal(sample(text, "trhubd_events_received_total{type=\"other\"}"), -1);
	free(text);
	metrics_free(m);
}

static void
test_metrics_unknown_event_types_fold_into_other(void **state)
{
	struct metrics *m = metrics_new();
	char *text = NULL;
	char name[64];

	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "evil.%d", i);
		metrics_event_received(m, name);
	}
	metrics_event_received(m, "x\"} 1\n# TYPE injected counter\ny{a=\"");
	metrics_event_received(m, NULL);
	metrics_event_received(m, "");
	metrics_event_received(m, "TASK.CREATED");
	text = render(m);
	assert_valid_exposition(text);
	assert_int_equal(sample(text, "trhubd_events_received_total{type=\"other\"}"), 1004);
	assert_int_equal(count_lines_with(text, "trhubd_events_received_total{"), 1);
	assert_null(strstr(text, "injected"));
	assert_null(strstr(text, "evil"));
	free(text);
	metrics_free(m);
}

static void
test_metrics_endpoint_labels_are_bounded(void **state)
{
	struct metrics *m = metrics_new();
	char *text = NULL;
	char name[64];
	size_t lines = 0;

	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "endpoint_%d", i);
		metrics_twilio_request(m, name, 200);
		metrics_sync_superseded(m, name);
	}
	text = render(m);
	assert_valid_exposition(text);
	lines = count_lines_with(text, "trhubd_twilio_requests_total{");
	assert_true(lines <= 65);
	assert_true(lines >= 2);
	assert_int_equal(
		sample(text, "trhubd_twilio_requests_total{endpoint=\"other\",status=\"other\"}"),
		500 - 64);
	assert_true(count_lines_with(text, "trhubd_sync_superseded_total{") <= 65);
	free(text);
	metrics_free(m);
}

static void
test_metrics_unsafe_label_values_become_other(void **state)
{
	struct metrics *m = metrics_new();
	char *text = NULL;
	char longname[200];

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	metrics_twilio_retry(m, "a\"b");
	metrics_twilio_retry(m, "line\nbreak");
	metrics_twilio_retry(m, longname);
	metrics_twilio_retry(m, NULL);
	metrics_twilio_retry(m, "workspace_statistics");
	text = render(m);
	assert_valid_exposition(text);
	assert_int_equal(sample(text, "trhubd_twilio_retries_total{endpoint=\"other\"}"), 4);
	assert_int_equal(
		sample(text, "trhubd_twilio_retries_total{endpoint=\"workspace_statistics\"}"), 1);
	free(text);
	metrics_free(m);
}

static void
test_metrics_status_labels_are_http_codes_or_zero(void **state)
{
	struct metrics *m = metrics_new();
	char *text = NULL;

	metrics_sync_write(m, "SyncTaskRouterStats", 200);
	metrics_sync_write(m, "SyncTaskRouterStats", 429);
	metrics_sync_write(m, "SyncTaskRouterStats", 0);
	metrics_sync_write(m, "SyncTaskRouterStats", 12345);
	metrics_sync_write(m, "SyncTaskRouterStats", -1);
	metrics_webhook_rejected(m, 403);
	metrics_webhook_rejected(m, 403);
	metrics_webhook_rejected(m, 413);
	text = render(m);
	assert_valid_exposition(text);
	assert_int_equal(sample(text, "trhubd_sync_writes_total{object=\"SyncTaskRouterStats\","
				      "status=\"200\"}"),
			 1);
	assert_int_equal(sample(text, "trhubd_sync_writes_total{object=\"SyncTaskRouterStats\","
				      "status=\"429\"}"),
			 1);
	assert_int_equal(sample(text, "trhubd_sync_writes_total{object=\"SyncTaskRouterStats\","
				      "status=\"0\"}"),
			 3);
	assert_int_equal(sample(text, "trhubd_webhook_rejected_total{status=\"403\"}"), 2);
	assert_int_equal(sample(text, "trhubd_webhook_rejected_total{status=\"413\"}"), 1);
	free(text);
	metrics_free(m);
}

static void
test_metrics_latency_histogram_is_cumulative(void **state)
{
	struct metrics *m = metrics_new();
	char *text = NULL;

	metrics_webhook_latency(m, 0.00005);
	metrics_webhook_latency(m, 0.003);
	metrics_webhook_latency(m, 0.005); /* on a bound: counts in that bucket */
	metrics_webhook_latency(m, 2.0);
	metrics_webhook_latency(m, -1.0); /* clock step: counted as 0 */
	text = render(m);
	assert_valid_exposition(text);
	assert_int_equal(sample(text, "trhubd_webhook_latency_seconds_bucket{le=\"0.0001\"}"), 2);
	assert_int_equal(sample(text, "trhubd_webhook_latency_seconds_bucket{le=\"0.0025\"}"), 2);
	assert_int_equal(sample(text, "trhubd_webhook_latency_seconds_bucket{le=\"0.005\"}"), 4);
	assert_int_equal(sample(text, "trhubd_webhook_latency_seconds_bucket{le=\"1\"}"), 4);
	assert_int_equal(sample(text, "trhubd_webhook_latency_seconds_bucket{le=\"+Inf\"}"), 5);
	assert_int_equal(sample(text, "trhubd_webhook_latency_seconds_count"), 5);
	assert_non_null(strstr(text, "trhubd_webhook_latency_seconds_sum 2.00805"));
	free(text);
	metrics_free(m);
}

static void
test_metrics_counters_and_gauge(void **state)
{
	struct metrics *m = metrics_new();
	char *text = NULL;

	metrics_stats_refresh(m, true);
	metrics_stats_refresh(m, true);
	metrics_stats_refresh(m, false);
	metrics_stats_coalesced(m);
	metrics_sse_clients(m, 1);
	metrics_sse_clients(m, 1);
	metrics_sse_clients(m, -1);
	metrics_sse_dropped(m);
	text = render(m);
	assert_valid_exposition(text);
	assert_int_equal(sample(text, "trhubd_stats_refreshes_total{result=\"ok\"}"), 2);
	assert_int_equal(sample(text, "trhubd_stats_refreshes_total{result=\"failed\"}"), 1);
	assert_int_equal(sample(text, "trhubd_stats_coalesced_total"), 1);
	assert_int_equal(sample(text, "trhubd_sse_clients"), 1);
	assert_int_equal(sample(text, "trhubd_sse_dropped_total"), 1);
	free(text);

	metrics_sse_clients(m, -5); /* never negative */
	text = render(m);
	assert_int_equal(sample(text, "trhubd_sse_clients"), 0);
	free(text);
	metrics_free(m);
}

static void
test_metrics_free_accepts_null(void **state)
{
	metrics_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_empty_exposition_is_valid),
		cmocka_unit_test(test_metrics_counts_known_event_types_by_name),
		cmocka_unit_test(test_metrics_unknown_event_types_fold_into_other),
		cmocka_unit_test(test_metrics_endpoint_labels_are_bounded),
		cmocka_unit_test(test_metrics_unsafe_label_values_become_other),
		cmocka_unit_test(test_metrics_status_labels_are_http_codes_or_zero),
		cmocka_unit_test(test_metrics_latency_histogram_is_cumulative),
		cmocka_unit_test(test_metrics_counters_and_gauge),
		cmocka_unit_test(test_metrics_free_accepts_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
