/*
 * metrics: the counters, one gauge and one histogram behind GET /metrics,
 * rendered in the Prometheus text exposition format 0.0.4 (HELP and TYPE
 * lines, then one sample per line, label values escaped).
 *
 * Invariants a reader must keep:
 * - Every label value comes from a bounded set, never from raw input:
 *   event types are looked up in the table of TaskRouter event types
 *   (twilio-api.md section 6) and anything else counts as "other"; HTTP
 *   statuses outside 100..599 become "0" (no response); free-form names
 *   passed by our own modules (Twilio endpoints, Sync objects) are checked
 *   for a safe alphabet and length, and each labelled family holds at most
 *   METRICS_MAX_SERIES series, after which new values count as "other".
 *   A hostile webhook therefore cannot grow memory or the exposition.
 * - Recording is O(1) or a short table search with no allocation once a
 *   series exists, because metrics_event_received and
 *   metrics_webhook_latency run once per webhook on the ingest hot path.
 */

#include <assert.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "metrics.h"
#include "xmalloc.h"

/* Distinct label combinations per family before values fold into "other". */
#define METRICS_MAX_SERIES 64
/* Longest accepted free-form label value (endpoints, Sync object names). */
#define METRICS_MAX_LABEL 64
#define METRICS_OTHER	  "other"

/* TaskRouter event types (twilio-api.md section 6), sorted for bsearch. */
static const char *const metrics_event_types[] = {
	"activity.created",
	"activity.deleted",
	"activity.updated",
	"reservation.accepted",
	"reservation.canceled",
	"reservation.completed",
	"reservation.created",
	"reservation.failed",
	"reservation.rejected",
	"reservation.rescinded",
	"reservation.timeout",
	"reservation.wrapup",
	"task-channel.created",
	"task-channel.deleted",
	"task-channel.updated",
	"task-queue.created",
	"task-queue.deleted",
	"task-queue.entered",
	"task-queue.expression.updated",
	"task-queue.moved",
	"task-queue.timeout",
	"task.canceled",
	"task.completed",
	"task.created",
	"task.deleted",
	"task.system-deleted",
	"task.transfer-attempt-failed",
	"task.transfer-canceled",
	"task.transfer-completed",
	"task.transfer-failed",
	"task.transfer-initiated",
	"task.updated",
	"task.wrapup",
	"worker.activity.update",
	"worker.attributes.update",
	"worker.capacity.update",
	"worker.channel.availability.update",
	"worker.created",
	"worker.deleted",
	"workflow.created",
	"workflow.deleted",
	"workflow.entered",
	"workflow.skipped",
	"workflow.target-matched",
	"workflow.timeout",
	"workflow.updated",
	"workspace.created",
	"workspace.deleted",
	"workspace.updated",
};

#define METRICS_N_EVENT_TYPES (sizeof(metrics_event_types) / sizeof(metrics_event_types[0]))

/* Upper bounds of the webhook latency histogram, in seconds, with their labels. */
static const double metrics_latency_bounds[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
};
static const char *const metrics_latency_labels[] = {
	"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
	"0.01",	  "0.025",   "0.05",   "0.1",	"0.25",	  "1",
};

#define METRICS_N_BUCKETS (sizeof(metrics_latency_bounds) / sizeof(metrics_latency_bounds[0]))

/* One series of a family with up to two label values. */
struct metrics_series {
	char *a; /* first label value */
	char *b; /* second label value, or NULL */
	uint64_t value;
};

struct metrics_family {
	struct metrics_series series[METRICS_MAX_SERIES + 1]; /* + the "other" overflow */
	size_t n;
};

struct metrics {
	uint64_t events[METRICS_N_EVENT_TYPES + 1];	 /* last slot: "other" */
	struct metrics_family rejected;			 /* status */
	uint64_t latency_buckets[METRICS_N_BUCKETS + 1]; /* non-cumulative; last: +Inf */
	double latency_sum;
	uint64_t latency_count;
	struct metrics_family twilio_requests; /* endpoint, status */
	struct metrics_family twilio_retries;  /* endpoint */
	uint64_t stats_ok;
	uint64_t stats_failed;
	uint64_t stats_coalesced;
	struct metrics_family sync_writes;     /* object, status */
	struct metrics_family sync_superseded; /* object */
	int64_t sse_clients;
	uint64_t sse_dropped;
	int lease_holder; /* -1: no lease (not rendered), else 0/1 */
};

struct metrics *
metrics_new(void)
{
	struct metrics *m = xcalloc(1, sizeof(*m));

	m->lease_holder = -1;
	return m;
}

static void
metrics_family_clear(struct metrics_family *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->series[i].a);
		free(f->series[i].b);
	}
	f->n = 0;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	metrics_family_clear(&m->rejected);
	metrics_family_clear(&m->twilio_requests);
	metrics_family_clear(&m->twilio_retries);
	metrics_family_clear(&m->sync_writes);
	metrics_family_clear(&m->sync_superseded);
	free(m);
}

static int
metrics_event_type_cmp(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

/* A free-form label value of ours is used only if short and plain; else "other". */
static const char *
metrics_safe_label(const char *s)
{
	size_t n = 0;

	if (s == NULL || *s == '\0')
		return METRICS_OTHER;
	for (const char *p = s; *p != '\0'; p++, n++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' || c == '/' ||
			  c == ':';

		if (!ok || n >= METRICS_MAX_LABEL)
			return METRICS_OTHER;
	}
	return s;
}

/* HTTP status as a bounded label: "100".."599", or "0" when there was none. */
static void
metrics_status_label(long status, char out[4])
{
	if (status < 100 || status > 599) {
		out[0] = '0';
		out[1] = '\0';
		return;
	}
	out[0] = (char)('0' + status / 100);
	out[1] = (char)('0' + status / 10 % 10);
	out[2] = (char)('0' + status % 10);
	out[3] = '\0';
}

static bool
metrics_str_eq(const char *x, const char *y)
{
	if (x == NULL || y == NULL)
		return x == y;
	return strcmp(x, y) == 0;
}

/*
 * The series for (a, b), created on first use. When the family is full, the
 * values fold into ("other", "other"-or-NULL), which always has a slot.
 */
static struct metrics_series *
metrics_family_get(struct metrics_family *f, const char *a, const char *b)
{
	struct metrics_series *s = NULL;

	for (size_t i = 0; i < f->n; i++) {
		if (metrics_str_eq(f->series[i].a, a) && metrics_str_eq(f->series[i].b, b))
			return &f->series[i];
	}
	if (f->n >= METRICS_MAX_SERIES) {
		a = METRICS_OTHER;
		b = b == NULL ? NULL : METRICS_OTHER;
		for (size_t i = 0; i < f->n; i++) {
			if (metrics_str_eq(f->series[i].a, a) && metrics_str_eq(f->series[i].b, b))
				return &f->series[i];
		}
		assert(f->n == METRICS_MAX_SERIES);
	}
	s = &f->series[f->n++];
	s->a = xstrdup(a);
	s->b = b == NULL ? NULL : xstrdup(b);
	s->value = 0;
	return s;
}

void
metrics_event_received(struct metrics *m, const char *event_type)
{
	const char *const *hit = NULL;

	if (event_type != NULL) {
		hit = bsearch(event_type, metrics_event_types, METRICS_N_EVENT_TYPES,
			      sizeof(metrics_event_types[0]), metrics_event_type_cmp);
	}
	if (hit == NULL)
		m->events[METRICS_N_EVENT_TYPES]++;
	else
		m->events[hit - metrics_event_types]++;
}

void
metrics_webhook_rejected(struct metrics *m, int http_status)
{
	char status[4];

	metrics_status_label(http_status, status);
	metrics_family_get(&m->rejected, status, NULL)->value++;
}

void
metrics_webhook_latency(struct metrics *m, double seconds)
{
	size_t i = 0;

	if (!(seconds >= 0))
		seconds = 0; /* NaN or a clock step backwards */
	while (i < METRICS_N_BUCKETS && seconds > metrics_latency_bounds[i])
		i++;
	m->latency_buckets[i]++;
	m->latency_sum += seconds;
	m->latency_count++;
}

void
metrics_twilio_request(struct metrics *m, const char *endpoint, long http_status)
{
	char status[4];

	metrics_status_label(http_status, status);
	metrics_family_get(&m->twilio_requests, metrics_safe_label(endpoint), status)->value++;
}

void
metrics_twilio_retry(struct metrics *m, const char *endpoint)
{
	metrics_family_get(&m->twilio_retries, metrics_safe_label(endpoint), NULL)->value++;
}

void
metrics_stats_refresh(struct metrics *m, bool ok)
{
	if (ok)
		m->stats_ok++;
	else
		m->stats_failed++;
}

void
metrics_stats_coalesced(struct metrics *m)
{
	m->stats_coalesced++;
}

void
metrics_sync_write(struct metrics *m, const char *object, long http_status)
{
	char status[4];

	metrics_status_label(http_status, status);
	metrics_family_get(&m->sync_writes, metrics_safe_label(object), status)->value++;
}

void
metrics_sync_superseded(struct metrics *m, const char *object)
{
	metrics_family_get(&m->sync_superseded, metrics_safe_label(object), NULL)->value++;
}

void
metrics_sse_clients(struct metrics *m, int delta)
{
	m->sse_clients += delta;
	if (m->sse_clients < 0)
		m->sse_clients = 0;
}

void
metrics_lease_holder(struct metrics *m, bool holder)
{
	m->lease_holder = holder ? 1 : 0;
}

void
metrics_sse_dropped(struct metrics *m)
{
	m->sse_dropped++;
}

/* Appends a label value with the exposition format's escapes (\\, \", \n). */
static void
metrics_put_label_value(struct buf *out, const char *s)
{
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '\\')
			buf_puts(out, "\\\\");
		else if (*p == '"')
			buf_puts(out, "\\\"");
		else if (*p == '\n')
			buf_puts(out, "\\n");
		else
			buf_putc(out, *p);
	}
}

static void
metrics_put_header(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
metrics_put_family(struct buf *out, const char *name, const char *help, const char *label_a,
		   const char *label_b, const struct metrics_family *f)
{
	metrics_put_header(out, name, "counter", help);
	for (size_t i = 0; i < f->n; i++) {
		const struct metrics_series *s = &f->series[i];

		buf_printf(out, "%s{%s=\"", name, label_a);
		metrics_put_label_value(out, s->a);
		if (label_b != NULL && s->b != NULL) {
			buf_printf(out, "\",%s=\"", label_b);
			metrics_put_label_value(out, s->b);
		}
		buf_printf(out, "\"} %llu\n", (unsigned long long)s->value);
	}
}

void
metrics_render(const struct metrics *m, struct buf *out)
{
	uint64_t cumulative = 0;

	metrics_put_header(out, "trhubd_events_received_total", "counter",
			   "TaskRouter event callbacks accepted, by event type.");
	for (size_t i = 0; i <= METRICS_N_EVENT_TYPES; i++) {
		if (m->events[i] == 0)
			continue;
		buf_printf(out, "trhubd_events_received_total{type=\"%s\"} %llu\n",
			   i < METRICS_N_EVENT_TYPES ? metrics_event_types[i] : METRICS_OTHER,
			   (unsigned long long)m->events[i]);
	}

	metrics_put_family(out, "trhubd_webhook_rejected_total",
			   "Webhook requests refused, by HTTP status.", "status", NULL,
			   &m->rejected);

	metrics_put_header(out, "trhubd_webhook_latency_seconds", "histogram",
			   "Time from receiving a webhook to having answered and applied it.");
	for (size_t i = 0; i < METRICS_N_BUCKETS; i++) {
		cumulative += m->latency_buckets[i];
		buf_printf(out, "trhubd_webhook_latency_seconds_bucket{le=\"%s\"} %llu\n",
			   metrics_latency_labels[i], (unsigned long long)cumulative);
	}
	cumulative += m->latency_buckets[METRICS_N_BUCKETS];
	buf_printf(out, "trhubd_webhook_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
		   (unsigned long long)cumulative);
	buf_printf(out, "trhubd_webhook_latency_seconds_sum %.9g\n", m->latency_sum);
	buf_printf(out, "trhubd_webhook_latency_seconds_count %llu\n",
		   (unsigned long long)m->latency_count);

	metrics_put_family(out, "trhubd_twilio_requests_total",
			   "Twilio REST requests completed, by endpoint and HTTP status (0: none).",
			   "endpoint", "status", &m->twilio_requests);
	metrics_put_family(out, "trhubd_twilio_retries_total",
			   "Twilio REST requests retried, by endpoint.", "endpoint", NULL,
			   &m->twilio_retries);

	metrics_put_header(out, "trhubd_stats_refreshes_total", "counter",
			   "Statistics refreshes, by result.");
	buf_printf(out, "trhubd_stats_refreshes_total{result=\"ok\"} %llu\n",
		   (unsigned long long)m->stats_ok);
	buf_printf(out, "trhubd_stats_refreshes_total{result=\"failed\"} %llu\n",
		   (unsigned long long)m->stats_failed);
	metrics_put_header(out, "trhubd_stats_coalesced_total", "counter",
			   "Refresh requests folded into an already pending refresh.");
	buf_printf(out, "trhubd_stats_coalesced_total %llu\n",
		   (unsigned long long)m->stats_coalesced);

	metrics_put_family(out, "trhubd_sync_writes_total",
			   "Sync writes completed, by object and HTTP status (0: none).", "object",
			   "status", &m->sync_writes);
	metrics_put_family(out, "trhubd_sync_superseded_total",
			   "Pending Sync values replaced by a newer value before being written.",
			   "object", NULL, &m->sync_superseded);

	metrics_put_header(out, "trhubd_sse_clients", "gauge", "Connected SSE clients.");
	buf_printf(out, "trhubd_sse_clients %lld\n", (long long)m->sse_clients);
	metrics_put_header(out, "trhubd_sse_dropped_total", "counter",
			   "SSE clients dropped for falling behind.");
	buf_printf(out, "trhubd_sse_dropped_total %llu\n", (unsigned long long)m->sse_dropped);
	{
		/* Live data vs what the heap holds free: RSS that grows while in-use does not
		 * is fragmentation, not a leak (the soak benchmark reads both). */
		struct mallinfo2 mi = mallinfo2();

		metrics_put_header(
			out, "trhubd_heap_in_use_bytes", "gauge",
			"Bytes malloc has handed out and not got back (glibc mallinfo2).");
		buf_printf(out, "trhubd_heap_in_use_bytes %zu\n", mi.uordblks + mi.hblkhd);
		metrics_put_header(out, "trhubd_heap_free_bytes", "gauge",
				   "Free bytes malloc keeps in the main heap (glibc mallinfo2).");
		buf_printf(out, "trhubd_heap_free_bytes %zu\n", mi.fordblks);
	}
	if (m->lease_holder >= 0) {
		metrics_put_header(out, "trhubd_lease_holder", "gauge",
				   "1 while this instance holds the Sync writer lease.");
		buf_printf(out, "trhubd_lease_holder %d\n", m->lease_holder);
	}
}
