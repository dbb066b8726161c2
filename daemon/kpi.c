/*
 * kpi: statistics JSON in, the KPI document out (definitions in kpi.h,
 * from shared/twilio-operations.md 7 and shared/twilio-api.md 3.7).
 *
 * Input is untrusted in shape: any field may be absent, null, a number or a
 * numeric string, and objects may be arrays. Every accessor tolerates all
 * of that; nothing here fails, it writes 0 or null instead.
 */

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "date.h"
#include "hmap.h"
#include "kpi.h"
#include "task_status.h"
#include "xmalloc.h"

#define KPI_MAX_STATUS_KEYS 16

/* A count: integer, integral double or numeric string; 0 when absent or not a number. */
static int64_t
kpi_count(const struct json_value *obj, const char *key)
{
	int64_t n = 0;
	double d = 0;

	if (json_get_int64(obj, key, &n) == 0)
		return n;
	if (json_get_double(obj, key, &d) == 0 && isfinite(d) && d >= -9e15 && d <= 9e15)
		return (int64_t)d;
	return 0;
}

static bool
kpi_number(const struct json_value *obj, const char *key, double *out)
{
	double d = 0;

	if (json_get_double(obj, key, &d) != 0 || !isfinite(d))
		return false;
	*out = d;
	return true;
}

static double
kpi_round1(double d)
{
	return round(d * 10.0) / 10.0;
}

/* 100 * num / den rounded, or null when den is 0. */
static void
kpi_gen_percent(struct json_gen *g, const char *key, int64_t num, int64_t den)
{
	if (den <= 0)
		json_gen_kv_null(g, key);
	else
		json_gen_kv_double(g, key, kpi_round1(100.0 * (double)num / (double)den));
}

/* split_by_wait_time["T"][side] */
static const struct json_value *
kpi_split(const struct json_value *cumulative, int threshold_s, const char *side)
{
	char key[16];

	(void)snprintf(key, sizeof(key), "%d", threshold_s);
	return json_path(cumulative, "split_by_wait_time", key, side);
}

/*
 * Callers who hung up within short_s seconds (split_by_wait_time[short_s]
 * .below.tasks_canceled), or -1 when short abandons are off or not split.
 */
static int64_t
kpi_short_abandoned(const struct json_value *cum, int short_s)
{
	const struct json_value *below = short_s > 0 ? kpi_split(cum, short_s, "below") : NULL;

	return below == NULL ? -1 : kpi_count(below, "tasks_canceled");
}

/* shortAbandonS and shortAbandoned: the rule the service level used, and its count. */
static void
kpi_gen_short_abandon(struct json_gen *g, const struct json_value *cum, int short_s)
{
	int64_t n = kpi_short_abandoned(cum, short_s);

	if (n < 0) {
		json_gen_kv_null(g, "shortAbandonS");
		json_gen_kv_null(g, "shortAbandoned");
		return;
	}
	json_gen_kv_int(g, "shortAbandonS", short_s);
	json_gen_kv_int(g, "shortAbandoned", n);
}

/* Service level, or null when the threshold was not split or nothing was counted. */
static void
kpi_gen_service_level(struct json_gen *g, const char *key, const struct json_value *cum,
		      int threshold_s, int short_s)
{
	int64_t short_abandoned = kpi_short_abandoned(cum, short_s);

	const struct json_value *below = kpi_split(cum, threshold_s, "below");
	const struct json_value *above = kpi_split(cum, threshold_s, "above");
	int64_t accepted;
	int64_t canceled;

	if (below == NULL) {
		json_gen_kv_null(g, key);
		return;
	}
	accepted = json_get(cum, "reservations_accepted") != NULL
			   ? kpi_count(cum, "reservations_accepted")
			   : kpi_count(below, "reservations_accepted") +
				     kpi_count(above, "reservations_accepted");
	canceled =
		json_get(cum, "tasks_canceled") != NULL
			? kpi_count(cum, "tasks_canceled")
			: kpi_count(below, "tasks_canceled") + kpi_count(above, "tasks_canceled");
	if (short_abandoned > 0 && short_abandoned <= canceled)
		canceled -= short_abandoned;
	kpi_gen_percent(g, key, kpi_count(below, "reservations_accepted"), accepted + canceled);
}

static void
kpi_gen_asa(struct json_gen *g, const char *key, const struct json_value *cum, bool queue)
{
	double d = 0;

	/* No accepted reservation: no sample (TaskRouter reports its average as 0). */
	if (kpi_count(cum, "reservations_accepted") == 0) {
		json_gen_kv_null(g, key);
		return;
	}
	if ((queue &&
	     kpi_number(json_get(cum, "wait_duration_in_queue_until_accepted"), "avg", &d)) ||
	    kpi_number(json_get(cum, "wait_duration_until_accepted"), "avg", &d) ||
	    kpi_number(cum, "avg_task_acceptance_time", &d))
		json_gen_kv_double(g, key, kpi_round1(d));
	else
		json_gen_kv_null(g, key);
}

/* Copies s without white space, cut to KPI_MAX_NAME_BYTES at a UTF-8 boundary. */
char *
kpi_activity_key(const char *name)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "activity");
	for (const char *p = name != NULL ? name : ""; *p != '\0'; p++) {
		if (!isspace((unsigned char)*p))
			buf_putc(&b, *p);
	}
	buf_puts(&b, "Workers");
	return buf_steal(&b, NULL);
}

static void
kpi_gen_name(struct json_gen *g, const char *key, const char *name)
{
	size_t n;

	if (name == NULL) {
		json_gen_kv_null(g, key);
		return;
	}
	n = strlen(name);
	if (n > KPI_MAX_NAME_BYTES) {
		n = KPI_MAX_NAME_BYTES;
		while (n > 0 && ((unsigned char)name[n] & 0xc0) == 0x80)
			n--;
	}
	json_gen_key(g, key);
	json_gen_string_len(g, name, n);
}

/* Number of workers in the activity called name, from realtime.activity_statistics. */
static int64_t
kpi_activity_workers(const struct json_value *activity_stats, const char *name)
{
	for (size_t i = 0; i < json_array_len(activity_stats); i++) {
		const struct json_value *a = json_array_at(activity_stats, i);
		const char *fn = json_string(json_get(a, "friendly_name"));

		if (fn != NULL && strcmp(fn, name) == 0)
			return kpi_count(a, "workers");
	}
	return 0;
}

/* Writes activity<Name>Workers once per distinct key. */
static void
kpi_gen_activity(struct json_gen *g, struct hmap *done, const struct json_value *stats,
		 const char *name)
{
	char *key = kpi_activity_key(name);

	if (hmap_get(done, key) == NULL) {
		(void)hmap_put(done, key, done); /* any non-NULL value marks "written" */
		json_gen_kv_int(g, key, kpi_activity_workers(stats, name));
	}
	free(key);
}

static void
kpi_gen_legacy(const struct kpi_input *in, struct json_gen *g)
{
	const struct json_value *rt = json_get(in->workspace, "realtime");
	const struct json_value *cum = json_get(in->workspace, "cumulative");
	const struct json_value *by_status = json_get(rt, "tasks_by_status");
	const struct json_value *act = json_get(rt, "activity_statistics");
	struct hmap *done = hmap_new();
	struct buf key;
	double d = 0;

	buf_init(&key);
	json_gen_kv_int(g, "totalTasks", kpi_count(rt, "total_tasks"));
	json_gen_kv_int(g, "totalWorkers", kpi_count(rt, "total_workers"));
	/* Every status Twilio reports, as the seed did, then the four it always showed. */
	for (size_t i = 0;
	     json_is_object(by_status) && i < json_object_len(by_status) && i < KPI_MAX_STATUS_KEYS;
	     i++) {
		const char *st = json_object_key(by_status, i);
		bool ok = st[0] != '\0' && strlen(st) <= 32;

		for (const char *p = st; ok && *p != '\0'; p++)
			ok = islower((unsigned char)*p) || *p == '_';
		if (!ok)
			continue;
		buf_reset(&key);
		buf_printf(&key, "%sTasks", st);
		if (hmap_get(done, key.data) != NULL)
			continue;
		(void)hmap_put(done, key.data, done);
		json_gen_kv_int(g, key.data, kpi_count(by_status, st));
	}
	/* The open statuses the seed dashboard always shows. */
	for (int i = 0; i < TASK_STATUS_COUNT; i++) {
		if (!task_status_is_open((enum task_status)i))
			continue;
		buf_reset(&key);
		buf_printf(&key, "%sTasks", task_status_name((enum task_status)i));
		if (hmap_get(done, key.data) != NULL)
			continue;
		(void)hmap_put(done, key.data, done);
		json_gen_kv_int(g, key.data, 0);
	}
	/* Every activity the workspace has, then any the statistics know that we do not. */
	for (size_t i = 0; i < in->nactivities; i++) {
		if (in->activity_names[i] != NULL)
			kpi_gen_activity(g, done, act, in->activity_names[i]);
	}
	for (size_t i = 0; i < json_array_len(act); i++) {
		const char *fn = json_string(json_get(json_array_at(act, i), "friendly_name"));

		if (fn != NULL)
			kpi_gen_activity(g, done, act, fn);
	}
	/* null, never 0, when no reservation was accepted (kpi.h) */
	if (kpi_count(cum, "reservations_accepted") > 0 &&
	    kpi_number(cum, "avg_task_acceptance_time", &d))
		json_gen_kv_double(g, "avgTaskAcceptanceTime", d);
	else
		json_gen_kv_null(g, "avgTaskAcceptanceTime");
	json_gen_kv_string(g, "startTime", json_string(json_get(cum, "start_time")));
	json_gen_kv_string(g, "endTime", json_string(json_get(cum, "end_time")));
	buf_clear(&key);
	hmap_free(done);
}

struct kpi_queue_rank {
	const struct kpi_queue *q;
	int64_t waiting;
};

static int64_t
kpi_waiting(const struct json_value *rt)
{
	const struct json_value *by_status = json_get(rt, "tasks_by_status");

	return kpi_count(by_status, task_status_name(TASK_STATUS_PENDING)) +
	       kpi_count(by_status, task_status_name(TASK_STATUS_RESERVED));
}

static int
kpi_rank_cmp(const void *a, const void *b)
{
	const struct kpi_queue_rank *x = a;
	const struct kpi_queue_rank *y = b;
	const char *xn = x->q->name != NULL ? x->q->name : x->q->sid;
	const char *yn = y->q->name != NULL ? y->q->name : y->q->sid;

	if (x->waiting != y->waiting)
		return x->waiting > y->waiting ? -1 : 1;
	return strcmp(xn, yn);
}

static void
kpi_gen_queue(struct json_gen *g, const struct kpi_queue_rank *qr)
{
	const struct kpi_queue *q = qr->q;
	const struct json_value *rt = json_get(q->stats, "realtime");
	const struct json_value *cum = json_get(q->stats, "cumulative");
	int64_t longest = 0;

	json_gen_object_open(g);
	json_gen_kv_string(g, "sid", q->sid);
	kpi_gen_name(g, "name", q->name);
	json_gen_kv_int(g, "slThreshold", q->sla_threshold_s);
	kpi_gen_service_level(g, "serviceLevel", cum, q->sla_threshold_s, q->short_abandon_s);
	kpi_gen_short_abandon(g, cum, q->short_abandon_s);
	kpi_gen_asa(g, "asa", cum, true);
	json_gen_kv_int(g, "abandoned", kpi_count(cum, "tasks_canceled"));
	kpi_gen_percent(g, "abandonmentRate", kpi_count(cum, "tasks_canceled"),
			kpi_count(cum, "tasks_entered"));
	json_gen_kv_int(g, "waiting", qr->waiting);
	longest = json_get(rt, "longest_relative_task_age_in_queue") != NULL
			  ? kpi_count(rt, "longest_relative_task_age_in_queue")
			  : kpi_count(rt, "longest_task_waiting_age");
	json_gen_kv_int(g, "longestWaiting", longest);
	json_gen_kv_int(g, "availableWorkers", kpi_count(rt, "total_available_workers"));
	json_gen_kv_int(g, "eligibleWorkers", kpi_count(rt, "total_eligible_workers"));
	json_gen_object_close(g);
}

void
kpi_write(const struct kpi_input *in, size_t max_queues, struct json_gen *g)
{
	const struct json_value *rt = json_get(in->workspace, "realtime");
	const struct json_value *cum = json_get(in->workspace, "cumulative");
	const struct json_value *act = json_get(rt, "activity_statistics");
	struct kpi_queue_rank *rank = NULL;
	const char *longest_sid = json_string(json_get(rt, "longest_task_waiting_sid"));
	char iso[DATE_ISO_LEN];
	size_t n = 0;

	json_gen_object_open(g);
	kpi_gen_legacy(in, g);

	date_format_iso(in->refreshed_at_ms, iso);
	json_gen_kv_string(g, "refreshedAt", iso);
	json_gen_kv_int(g, "slThresholdS", in->sla_threshold_s);
	kpi_gen_service_level(g, "serviceLevel", cum, in->sla_threshold_s, in->short_abandon_s);
	kpi_gen_short_abandon(g, cum, in->short_abandon_s);
	kpi_gen_asa(g, "asa", cum, false);
	json_gen_kv_int(g, "abandoned", kpi_count(cum, "tasks_canceled"));
	kpi_gen_percent(g, "abandonmentRate", kpi_count(cum, "tasks_canceled"),
			kpi_count(cum, "tasks_created"));
	json_gen_kv_int(g, "tasksCreated", kpi_count(cum, "tasks_created"));
	json_gen_kv_int(g, "tasksCompleted", kpi_count(cum, "tasks_completed"));
	json_gen_kv_int(g, "reservationsAccepted", kpi_count(cum, "reservations_accepted"));
	json_gen_kv_int(g, "reservationsRejected", kpi_count(cum, "reservations_rejected"));
	json_gen_kv_int(g, "reservationsTimedOut", kpi_count(cum, "reservations_timed_out"));
	json_gen_kv_int(g, "availableWorkers", kpi_count(rt, "total_available_workers"));
	json_gen_kv_int(g, "longestWaitingAge", kpi_count(rt, "longest_task_waiting_age"));
	json_gen_kv_string(g, "longestWaitingSid", in->for_workers ? NULL : longest_sid);

	json_gen_key(g, "workersByActivity");
	json_gen_object_open(g);
	for (size_t i = 0; i < in->nactivities; i++) {
		if (in->activity_names[i] != NULL)
			json_gen_kv_int(g, in->activity_names[i],
					kpi_activity_workers(act, in->activity_names[i]));
	}
	json_gen_object_close(g);

	if (in->nqueues > 0) {
		rank = xcalloc(in->nqueues, sizeof(*rank));
		for (size_t i = 0; i < in->nqueues; i++) {
			rank[i].q = &in->queues[i];
			rank[i].waiting = kpi_waiting(json_get(in->queues[i].stats, "realtime"));
		}
		qsort(rank, in->nqueues, sizeof(*rank), kpi_rank_cmp);
	}
	n = in->nqueues < max_queues ? in->nqueues : max_queues;
	json_gen_kv_int(g, "queuesTotal", (int64_t)in->nqueues);
	json_gen_kv_bool(g, "queuesTruncated", n < in->nqueues);
	json_gen_key(g, "queues");
	json_gen_array_open(g);
	for (size_t i = 0; i < n; i++)
		kpi_gen_queue(g, &rank[i]);
	json_gen_array_close(g);
	json_gen_object_close(g);
	free(rank);
}

char *
kpi_document(const struct kpi_input *in, size_t *len_out)
{
	struct json_gen *g = json_gen_new();
	size_t max = in->max_queues > 0 ? in->max_queues : KPI_DEFAULT_MAX_QUEUES;
	size_t len = 0;
	char *text;

	for (;;) {
		json_gen_reset(g);
		kpi_write(in, max, g);
		(void)json_gen_text(g, &len);
		if (len <= KPI_MAX_BYTES || max == 0)
			break;
		max = max > in->nqueues ? in->nqueues / 2 : max / 2;
	}
	text = json_gen_steal(g, len_out);
	json_gen_free(g);
	return text;
}
