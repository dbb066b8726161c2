/*
 * daemon: builds, wires and runs trhubd's modules on one event base
 * (daemon.h has the life cycle).
 *
 * Wiring (DESIGN.md "Data flow"):
 *   events --verified event--> model_apply_event
 *   model listener:
 *     task changed      -> SSE "task", Sync map item (SyncTaskRouterTasks), stats dirty
 *     task gone         -> SSE "task" {sid, removed}, Sync map item removed, stats dirty
 *     worker (gone)     -> SSE "worker", stats dirty
 *     reservation       -> SSE "reservation" {sid, task}, stats dirty
 *     queue/activity/workspace -> stats dirty
 *     event added       -> SSE "event" (id = ring seq), Sync document SyncTaskRouterEvents
 *   stats publish       -> Sync document SyncTaskRouterStats, SSE "stats"
 *   lease (sync_lease)  -> syncpub's write gate: open while this instance holds
 *                          the lease (then a prune pass), closed on standby
 * Sync items and the events document are only marked here; syncpub asks
 * daemon_build_task / daemon_build_event for the value when it can write it.
 *
 * Configuration: the config the daemon started with (boot) stays alive
 * until the end, because modules built from it borrow its strings. A
 * reload (SIGHUP) validates a new config, applies every key the key table
 * (common/config_table.c) marks live through the owning module's
 * *_reconfigure (events, server, twilio, stats, rebuild), and names in a
 * warning each changed key that needs a restart; those keep their running
 * values.
 */

#include <sys/types.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "api.h"
#include "auth.h"
#include "backfill.h"
#include "buf.h"
#include "config.h"
#include "daemon.h"
#include "date.h"
#include "events.h"
#include "feed.h"
#include "http_async.h"
#include "json.h"
#include "lease.h"
#include "log.h"
#include "metrics.h"
#include "model.h"
#include "rebuild.h"
#include "sd.h"
#include "series.h"
#include "server.h"
#include "static.h"
#include "stats.h"
#include "stream.h"
#include "syncpub.h"
#include "tls.h"
#include "tr_event.h"
#include "twilio.h"
#include "tz.h"
#include "worker_api.h"
#include "xmalloc.h"

#define DAEMON_DRAIN_POLL_MS 50
/* Workers on one task that get their own view of a task message (multi-reservation). */
#define DAEMON_TASK_VIEWS_MAX 50

enum daemon_state {
	DAEMON_STARTING,
	DAEMON_REBUILDING,
	DAEMON_READY,
	DAEMON_DEGRADED,
	DAEMON_STOPPING,
};

struct daemon {
	enum daemon_state state;
	const struct config_source *source;
	struct config *boot_cfg; /* borrowed from by the modules; freed last */
	struct config *cfg;	 /* current: boot_cfg or a reloaded one */
	char *degraded_reason;

	struct event_base *base;
	struct metrics *metrics;
	struct model *model;
	struct http_async *http;
	struct twilio *twilio;
	struct stats *stats;
	struct syncpub *syncpub;
	struct lease *lease; /* sync_lease: only the holder writes to Sync; else NULL */
	struct stream *stream;
	struct events *events;
	struct api *api;
	struct auth *auth;
	struct worker_api *wapi;
	struct server *server;
	struct tls *tls;	/* HTTPS (tls_cert), or NULL: plain HTTP */
	struct web_static *web; /* pages (static.h), or NULL: none */
	struct series *series;	/* today's per-minute samples for the charts */
	struct rebuild *rebuild;
	struct backfill *backfill;	/* the start-up replay of today's events, or NULL */
	struct backfill_keeper *keeper; /* the state file */
	char *replay_warning;		/* for /readyz when the replay was incomplete */
	struct feed *feed;
	struct sd_watchdog *watchdog;

	struct event *sigterm;
	struct event *sigint;
	struct event *sighup;
	struct event *drain; /* shutdown: waits for Sync writes */
	int64_t drain_deadline_ms;
	bool handover; /* shutdown: Sync writes stopped, the lease is being released */
	bool stats_started;
	int *split_thresholds_s;    /* per-queue SLA thresholds for SplitByWaitTime */
	struct json_gen *gen;	    /* scratch generator for the listener */
	struct json_gen *sync_gen;  /* Sync values, built when syncpub asks (daemon_build_*) */
	struct json_gen *brief_gen; /* a message's brief version, for the batched clients */
};

static const char *
daemon_state_name(enum daemon_state s)
{
	switch (s) {
	case DAEMON_STARTING:
		return "starting";
	case DAEMON_REBUILDING:
		return "rebuilding";
	case DAEMON_READY:
		return "ready";
	case DAEMON_DEGRADED:
		return "degraded";
	case DAEMON_STOPPING:
		return "stopping";
	}
	return "?";
}

static void
daemon_enter_state(struct daemon *d, enum daemon_state s)
{
	log_debug("daemon: %s -> %s", daemon_state_name(d->state), daemon_state_name(s));
	d->state = s;
}

static void
daemon_libevent_log_cb(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	default:
		/* libevent's "errors" are about one connection or call, not the daemon. */
		log_warning("libevent: %s", msg);
		break;
	}
}

/* --- readiness ----------------------------------------------------------------- */

static bool
daemon_ready_cb(void *arg, const char **reason_out)
{
	struct daemon *d = arg;

	switch (d->state) {
	case DAEMON_READY:
		return true;
	case DAEMON_STARTING:
		*reason_out = "starting";
		return false;
	case DAEMON_REBUILDING:
		*reason_out = backfill_running(d->backfill)
				      ? "replaying today's events from TaskRouter"
				      : "rebuilding the model from Twilio";
		return false;
	case DAEMON_DEGRADED:
		*reason_out = d->degraded_reason != NULL ? d->degraded_reason
							 : "degraded: initial rebuild failed";
		return false;
	case DAEMON_STOPPING:
		*reason_out = "stopping";
		return false;
	}
	return false;
}

/* --- model listener ------------------------------------------------------------ */

/* True when someone listens on the SSE stream (JSON for it is built only then). */
static bool
daemon_has_viewers(const struct daemon *d)
{
	return d->stream != NULL && stream_client_count(d->stream) > 0;
}

/* Which worker clients a stream message concerns (stream_audience_cb). */
struct daemon_audience {
	struct daemon *d;
	enum model_change_kind kind;
	const char *sid; /* the task, worker or reservation changed */
	uint64_t seq;	 /* MODEL_CHANGE_EVENT: the ring event */
};

static bool
daemon_audience_cb(const char *worker_sid, void *arg)
{
	const struct daemon_audience *a = arg;

	switch (a->kind) {
	case MODEL_CHANGE_WORKER:
	case MODEL_CHANGE_WORKER_GONE:
		return strcmp(a->sid, worker_sid) == 0;
	case MODEL_CHANGE_TASK:
	case MODEL_CHANGE_RESERVATION:
		/* The full message names other workers; each gets its own (daemon_task_views). */
		return false;
	case MODEL_CHANGE_TASK_GONE:
		return true; /* only {sid, removed}: lets a page drop a task it showed */
	case MODEL_CHANGE_EVENT: {
		/* A ring event (reservation.created, .timeout, ...) reaches the worker it names. */
		const char *wk = model_event_field(a->d->model, a->seq, "WorkerSid");

		return wk != NULL && strcmp(wk, worker_sid) == 0;
	}
	default:
		return false; /* supervisors only */
	}
}

/*
 * Broadcasts what d->gen holds to supervisors and to the workers c concerns
 * (c may be NULL). key (NULL: none): the record whose whole state the
 * message carries ("task:<sid>", "worker:<sid>"); in a batch it supersedes
 * that record's earlier messages (stream_broadcast_keyed). brief: the
 * batched clients get what d->brief_gen holds instead.
 */
static void
daemon_broadcast_gen_keyed(struct daemon *d, const struct model_change *c, const char *type,
			   uint64_t id, const char *key, bool brief)
{
	struct daemon_audience a = { d, c != NULL ? c->kind : MODEL_CHANGE_EVENT,
				     c != NULL ? c->sid : NULL, c != NULL ? c->seq : id };
	struct stream_batched bt = { key, NULL, 0 };
	size_t len = 0;
	const char *text = json_gen_text(d->gen, &len);

	if (brief)
		bt.json = json_gen_text(d->brief_gen, &bt.len);
	stream_broadcast_keyed(d->stream,
			       a.sid != NULL || a.kind == MODEL_CHANGE_EVENT ? daemon_audience_cb
									     : NULL,
			       &a, type, id, text, len, &bt);
}

static void
daemon_broadcast_gen_for(struct daemon *d, const struct model_change *c, const char *type,
			 uint64_t id)
{
	daemon_broadcast_gen_keyed(d, c, type, id, NULL, false);
}

/* The batch key of a record: "<kind>:<sid>" (daemon_broadcast_gen_keyed). */
static const char *
daemon_key(char out[SID_LEN + 16], const char *kind, const char *sid)
{
	(void)snprintf(out, SID_LEN + 16, "%s:%s", kind, sid != NULL ? sid : "");
	return out;
}

/*
 * A task's or reservation's change as each worker on it may see it: only its
 * own reservations (model_task_json_for). reservation_sid NULL: a "task"
 * message to every worker on the task; else a "reservation" message to the
 * reservation's worker.
 */
static void
daemon_task_views(struct daemon *d, const char *task_sid, const char *reservation_sid)
{
	const char *workers[DAEMON_TASK_VIEWS_MAX];
	size_t n = 0;

	if (reservation_sid != NULL) {
		workers[0] = model_reservation_worker_sid(d->model, reservation_sid);
		n = workers[0] != NULL ? 1 : 0;
	} else {
		n = model_task_workers(d->model, task_sid, workers, DAEMON_TASK_VIEWS_MAX);
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = 0;
		const char *text = NULL;

		if (stream_worker_clients(d->stream, workers[i]) == 0)
			continue;
		json_gen_reset(d->gen);
		if (reservation_sid != NULL) {
			json_gen_object_open(d->gen);
			json_gen_kv_string(d->gen, "sid", reservation_sid);
			json_gen_key(d->gen, "task");
			model_task_json_for(d->model, task_sid, workers[i], d->gen);
			json_gen_object_close(d->gen);
		} else {
			model_task_json_for(d->model, task_sid, workers[i], d->gen);
		}
		text = json_gen_text(d->gen, &len);
		stream_broadcast_worker(d->stream, reservation_sid != NULL ? "reservation" : "task",
					0, text, len, workers[i]);
	}
}

static void
daemon_broadcast_gen(struct daemon *d, const char *type, uint64_t id)
{
	daemon_broadcast_gen_for(d, NULL, type, id);
}

/* --- the event feed's health (feed.c) ---------------------------------------------- */

/* A feed warning raised or cleared: the log (raised callback warnings) and the stream. */
static void
daemon_feed_warning_cb(enum feed_warning which, const char *text, void *arg)
{
	struct daemon *d = arg;

	if (text != NULL && which == FEED_WARN_CALLBACK)
		log_warning("%s", text);
	if (!daemon_has_viewers(d))
		return;
	json_gen_reset(d->gen);
	json_gen_object_open(d->gen);
	json_gen_kv_string(d->gen, "kind", feed_warning_name(which));
	json_gen_kv_bool(d->gen, "active", text != NULL);
	json_gen_kv_string(d->gen, "message", text);
	json_gen_object_close(d->gen);
	daemon_broadcast_gen(d, "warning", 0);
}

static void
daemon_warnings_cb(void *arg, struct json_gen *g)
{
	struct daemon *d = arg;

	json_gen_array_open(g);
	for (int i = 0; i < FEED_WARN_COUNT; i++) {
		const char *text = feed_warning_text(d->feed, (enum feed_warning)i);

		if (text == NULL)
			continue;
		json_gen_object_open(g);
		json_gen_kv_string(g, "kind", feed_warning_name((enum feed_warning)i));
		json_gen_kv_string(g, "message", text);
		json_gen_object_close(g);
	}
	if (d->replay_warning != NULL) {
		json_gen_object_open(g);
		json_gen_kv_string(g, "kind", "replay");
		json_gen_kv_string(g, "message", d->replay_warning);
		json_gen_object_close(g);
	}
	json_gen_array_close(g);
}

static void
daemon_broadcast_removed(struct daemon *d, const struct model_change *c, const char *type)
{
	char key[SID_LEN + 16];

	if (!daemon_has_viewers(d))
		return;
	json_gen_reset(d->gen);
	json_gen_object_open(d->gen);
	json_gen_kv_string(d->gen, "sid", c->sid);
	json_gen_kv_bool(d->gen, "removed", true);
	json_gen_object_close(d->gen);
	daemon_broadcast_gen_keyed(d, c, type, 0, daemon_key(key, type, c->sid), false);
}

/*
 * Sync values are built by syncpub when it can write them (syncpub.h,
 * syncpub_mark_*): a change only marks the object, so a task updated by
 * 100 events while its map's writes are busy is built and sent once, in its
 * state at that moment. There is no coalescing timer here.
 */

/* A task's map item: its current state, or gone once the task is not open. */
static bool
daemon_build_task(void *arg, const char *map, const char *sid, const char **json_out,
		  size_t *len_out)
{
	struct daemon *d = arg;

	if (model_task_status(d->model, sid) == NULL)
		return false;
	json_gen_reset(d->sync_gen);
	model_task_sync_json(d->model, sid, d->sync_gen);
	*json_out = json_gen_text(d->sync_gen, len_out);
	return true;
}

/* The latest event's form fields (none yet: the document stays as it is). */
static bool
daemon_build_event(void *arg, const char *name, const char *key, const char **json_out,
		   size_t *len_out)
{
	struct daemon *d = arg;

	json_gen_reset(d->sync_gen);
	if (!model_last_event_fields_json(d->model, d->sync_gen))
		return false;
	*json_out = json_gen_text(d->sync_gen, len_out);
	return true;
}

static void
daemon_task_dirty(struct daemon *d, const char *sid)
{
	if (sid != NULL)
		syncpub_mark_map_item(d->syncpub, d->boot_cfg->sync_tasks_map, sid,
				      daemon_build_task, d);
}

static void
daemon_on_event(struct daemon *d, uint64_t seq)
{
	feed_event_seen(d->feed, date_monotonic_ms());
	syncpub_mark_document(d->syncpub, d->boot_cfg->sync_events_document, daemon_build_event, d);
	if (!daemon_has_viewers(d))
		return;
	json_gen_reset(d->gen);
	if (!model_event_json(d->model, seq, d->gen))
		return;
	/* The dashboards' batches carry only what they show of it. */
	json_gen_reset(d->brief_gen);
	if (stream_batched_clients(d->stream) > 0)
		(void)model_event_brief_json(d->model, seq, d->brief_gen);
	daemon_broadcast_gen_keyed(d, NULL, "event", seq, NULL,
				   stream_batched_clients(d->stream) > 0);
}

static void
daemon_mark_dirty(struct daemon *d)
{
	if (d->stats != NULL)
		stats_mark_dirty(d->stats);
}

static void
daemon_model_changed_cb(const struct model_change *c, void *arg)
{
	struct daemon *d = arg;

	char key[SID_LEN + 16];

	stream_invalidate(d->stream); /* the shared snapshot is rebuilt on demand */
	switch (c->kind) {
	case MODEL_CHANGE_TASK:
		if (daemon_has_viewers(d)) {
			bool brief = stream_batched_clients(d->stream) > 0;

			json_gen_reset(d->gen);
			model_task_json(d->model, c->sid, d->gen);
			json_gen_reset(d->brief_gen);
			if (brief) /* the dashboards' batches: what they show of it */
				model_task_brief_json(d->model, c->sid, d->brief_gen);
			daemon_broadcast_gen_keyed(d, c, "task", 0, daemon_key(key, "task", c->sid),
						   brief);
			daemon_task_views(d, c->sid, NULL);
		}
		daemon_task_dirty(d, c->sid);
		daemon_mark_dirty(d);
		/* Completing a wrapped-up task is a Twilio write too: the lease holder's. */
		if (lease_is_holder(d->lease))
			worker_api_task_changed(d->wapi, c->sid);
		break;
	case MODEL_CHANGE_TASK_GONE:
		daemon_broadcast_removed(d, c, "task");
		daemon_task_dirty(d, c->sid);
		daemon_mark_dirty(d);
		break;
	case MODEL_CHANGE_WORKER:
		if (daemon_has_viewers(d)) {
			bool brief = stream_batched_clients(d->stream) > 0;

			json_gen_reset(d->gen);
			model_worker_json(d->model, c->sid, d->gen);
			json_gen_reset(d->brief_gen);
			if (brief)
				model_worker_brief_json(d->model, c->sid, d->brief_gen);
			daemon_broadcast_gen_keyed(d, c, "worker", 0,
						   daemon_key(key, "worker", c->sid), brief);
		}
		daemon_mark_dirty(d);
		break;
	case MODEL_CHANGE_WORKER_GONE:
		daemon_broadcast_removed(d, c, "worker");
		daemon_mark_dirty(d);
		break;
	case MODEL_CHANGE_RESERVATION:
		if (daemon_has_viewers(d)) {
			const char *task = model_reservation_task_sid(d->model, c->sid);
			bool brief = stream_batched_clients(d->stream) > 0;

			json_gen_reset(d->gen);
			json_gen_object_open(d->gen);
			json_gen_kv_string(d->gen, "sid", c->sid);
			json_gen_key(d->gen, "task");
			model_task_json(d->model, task, d->gen);
			json_gen_object_close(d->gen);
			json_gen_reset(d->brief_gen);
			if (brief) {
				json_gen_object_open(d->brief_gen);
				json_gen_kv_string(d->brief_gen, "sid", c->sid);
				json_gen_key(d->brief_gen, "task");
				model_task_brief_json(d->model, task, d->brief_gen);
				json_gen_object_close(d->brief_gen);
			}
			/* Its task's whole state: supersedes that task's earlier items. */
			daemon_broadcast_gen_keyed(
				d, c, "reservation", 0,
				task != NULL && model_task_status(d->model, task) != NULL
					? daemon_key(key, "task", task)
					: NULL,
				brief);
			daemon_task_views(d, task, c->sid);
		}
		daemon_mark_dirty(d);
		break;
	case MODEL_CHANGE_QUEUE:
	case MODEL_CHANGE_ACTIVITY:
	case MODEL_CHANGE_WORKSPACE:
		daemon_mark_dirty(d);
		break;
	case MODEL_CHANGE_EVENT:
		daemon_on_event(d, c->seq);
		break;
	}
}

static void
daemon_stats_publish_cb(const char *json, size_t len, void *arg)
{
	struct daemon *d = arg;
	int r = syncpub_set_document(d->syncpub, d->boot_cfg->sync_stats_document, json, len);

	if (r < 0)
		log_warning_errno(r, "sync: statistics not published to %s",
				  d->boot_cfg->sync_stats_document);
	{
		struct timeval tv;

		(void)evutil_gettimeofday(&tv, NULL); /* cannot fail on Linux */
		series_note(d->series, json, len, (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000);
	}
	/* After the series took the sample: the broadcast marks the snapshot stale. */
	stream_broadcast(d->stream, "stats", 0, json, len);
	{
		size_t wlen = 0;
		const char *wjson = stats_worker_document(d->stats, &wlen);

		if (wjson != NULL)
			stream_broadcast_workers(d->stream, "stats", 0, wjson, wlen);
	}
}

/* The snapshot's statistics: the latest document stats.c made. */
static const char *
daemon_stats_document_cb(void *arg, bool for_worker, size_t *len_out)
{
	struct daemon *d = arg;

	return for_worker ? stats_worker_document(d->stats, len_out)
			  : stats_document(d->stats, len_out);
}

static void
daemon_snapshot_extra_cb(struct json_gen *g, void *arg)
{
	struct daemon *d = arg;

	json_gen_key(g, "series");
	series_json(d->series, g);
}

/* Per-queue SLA threshold (config overrides by queue SID or name). */
static int
daemon_sla_threshold_cb(void *arg, const char *queue_sid, const char *queue_name)
{
	struct daemon *d = arg;

	return config_sla_threshold_s(d->cfg, queue_sid, queue_name);
}

/* Per-queue short-abandon threshold (config overrides by queue SID or name; 0: off). */
static int
daemon_short_abandon_cb(void *arg, const char *queue_sid, const char *queue_name)
{
	struct daemon *d = arg;

	return config_short_abandon_s(d->cfg, queue_sid, queue_name);
}

static int
daemon_apply_event_cb(const struct tr_event *event, void *arg)
{
	struct daemon *d = arg;

	/* During the start-up replay, webhooks wait for the older events. */
	if (backfill_defer(d->backfill, event))
		return MODEL_APPLIED;
	return model_apply_event(d->model, event);
}

static int
daemon_recording_cb(const char *task_sid, const char *recording_url, void *arg)
{
	struct daemon *d = arg;

	return model_set_recording(d->model, task_sid, recording_url);
}

/* --- the writer lease (sync_lease, lease.h) ------------------------------------- */

/*
 * Holder: syncpub writes everything not yet confirmed (a standby kept every
 * latest value while paused, so that is the full current state) and a prune
 * pass deletes the items of tasks that ended meanwhile.
 */
static void
daemon_lease_cb(bool holder, void *arg)
{
	struct daemon *d = arg;

	syncpub_set_active(d->syncpub, holder);
	if (holder) {
		syncpub_prune_map(d->syncpub, d->boot_cfg->sync_tasks_map);
		/* A task the old holder left wrapping is ours to complete now. */
		worker_api_wrapups_resume(d->wapi);
	} else {
		worker_api_wrapups_drop(d->wapi);
	}
}

static void
daemon_lease_json_cb(void *arg, struct json_gen *g)
{
	struct daemon *d = arg;

	lease_json(d->lease, g);
}

/* --- rebuild and readiness ------------------------------------------------------ */

static void
daemon_start_stats(struct daemon *d)
{
	if (d->stats_started || d->stats == NULL)
		return;
	d->stats_started = true;
	stats_start(d->stats);
}

static void
daemon_rebuild_status_cb(const char *text, void *arg)
{
	struct daemon *d = arg;

	/* Reconciliation progress must not overwrite "ready: ..." in systemctl status. */
	if (d->state == DAEMON_REBUILDING || d->state == DAEMON_DEGRADED)
		sd_notify_status("%s", text);
}

static void
daemon_rebuild_start(struct daemon *d)
{
	int r;

	daemon_enter_state(d, DAEMON_REBUILDING);
	sd_notify_status("rebuilding model from Twilio");
	r = rebuild_start(d->rebuild);
	if (r < 0)
		log_warning_errno(r, "cannot start the initial model rebuild");
}

/*
 * End of every rebuild run (rebuild.c retries a failed initial run and
 * reconciles periodically by itself). The first end decides readiness:
 * READY=1 either way, degraded when it failed.
 */
static void
daemon_rebuild_done_cb(const struct rebuild_result *result, void *arg)
{
	struct daemon *d = arg;
	const char *reason = result->reason != NULL ? result->reason : "unknown error";
	char status[192];

	switch (d->state) {
	case DAEMON_STOPPING:
	case DAEMON_STARTING:
		return;
	case DAEMON_READY:
		if (result->error < 0)
			log_warning("model reconciliation failed (%s); the model stays as it was, "
				    "next run as scheduled",
				    reason);
		else
			log_debug("model reconciled: %zu tasks, %zu workers (%zu requests)",
				  result->tasks, result->workers, result->requests);
		feed_check_callback(d->feed);
		return;
	case DAEMON_REBUILDING:
	case DAEMON_DEGRADED:
		break;
	}
	if (result->error == 0) {
		bool was_degraded = d->state == DAEMON_DEGRADED;

		free_and_null(d->degraded_reason);
		daemon_enter_state(d, DAEMON_READY);
		snprintf(status, sizeof(status), "ready: %zu tasks, %zu workers on %s",
			 result->tasks, result->workers, server_address(d->server));
		if (was_degraded) {
			sd_notify_status("%s", status);
			log_notice("model rebuilt after a degraded start; %s", status);
		} else {
			sd_notify_ready(status);
			log_notice("%s", status);
		}
		/*
		 * Items of tasks that ended while trhubd was down are deleted, and
		 * the listing tells syncpub which items exist, so a task that ends
		 * before its item is written costs no DELETE.
		 */
		syncpub_prune_map(d->syncpub, d->boot_cfg->sync_tasks_map);
		syncpub_set_paused(d->syncpub, false); /* the listing goes first */
		daemon_start_stats(d);
		feed_start(d->feed);
		/* Only a complete model may take the lease (its prune trusts the model). */
		lease_start(d->lease);
		return;
	}
	/* Failed: serve webhooks and the API anyway (degraded); rebuild.c retries. */
	/* The detail (curl texts, Twilio errors) goes to the log, not to /readyz. */
	free(d->degraded_reason);
	d->degraded_reason = xstrdup("degraded: model rebuild failed, retrying (see the log)");
	if (d->state == DAEMON_REBUILDING) {
		daemon_enter_state(d, DAEMON_DEGRADED);
		log_warning("initial model rebuild failed (%s); serving degraded, retrying in %d s",
			    reason, REBUILD_RETRY_S);
		sd_notify_ready("degraded: model rebuild failed, retrying");
		syncpub_set_paused(d->syncpub, false); /* publish what the webhooks tell */
		daemon_start_stats(d);
	} else {
		log_warning("model rebuild failed again (%s); retrying in %d s", reason,
			    REBUILD_RETRY_S);
		sd_notify_status("degraded: model rebuild failed, retrying");
	}
}

/* --- the start-up replay (backfill.h) --------------------------------------------- */

/* The state file's path: state_dir, else the first of $STATE_DIRECTORY; NULL: none. */
static char *
daemon_state_path(const struct config *cfg)
{
	const char *env = config_env("STATE_DIRECTORY");
	size_t n;

	if (cfg->state_dir != NULL && cfg->state_dir[0] != '\0')
		return xasprintf("%s/%s", cfg->state_dir, BACKFILL_STATE_FILE);
	if (env == NULL || env[0] != '/')
		return NULL;
	n = strcspn(env, ":");
	return xasprintf("%.*s/%s", (int)n, env, BACKFILL_STATE_FILE);
}

/* The keeper, and the replay since the start of today's operational day. */
static void
daemon_backfill_new(struct daemon *d, const struct config *cfg)
{
	struct backfill_options bo = { 0 };
	struct tz_zone *zone = NULL;
	char *path = daemon_state_path(cfg);
	char *cause = NULL;
	int64_t prev_ms = -1;

	d->keeper = backfill_keeper_new(d->base, d->model, path);
	free(path);
	if (cfg->replay_timeout_s <= 0) {
		log_info("replay: off (replay_timeout_s = 0); today's per-agent counters start "
			 "from this start");
		return;
	}
	if (tz_zone_load(config_env("TZDIR"), cfg->timezone, &zone, &cause) != 0) {
		log_warning("replay: time zone %s unusable (%s), using UTC for the day start",
			    cfg->timezone, cause != NULL ? cause : "?");
		free(cause);
		zone = tz_zone_utc();
	}
	bo.start_ms = tz_day_start_ms(zone, cfg->day_start_min, date_now_ms());
	bo.end_ms = -1;
	bo.timeout_ms = (int64_t)cfg->replay_timeout_s * 1000;
	bo.expect_sid = backfill_keeper_prev_sid(d->keeper, &prev_ms);
	if (bo.expect_sid != NULL && prev_ms < bo.start_ms)
		bo.expect_sid = NULL; /* yesterday's: not in today's replay */
	tz_zone_free(zone);
	d->backfill = backfill_new(d->base, d->http, d->twilio, cfg->workspace_sid, d->model, &bo,
				   d->metrics);
}

static void
daemon_backfill_done_cb(const struct backfill_result *r, void *arg)
{
	struct daemon *d = arg;
	int64_t prev_ms = -1;
	const char *prev = backfill_keeper_prev_sid(d->keeper, &prev_ms);
	double secs = (double)(r->fetch_ms + r->apply_ms) / 1000.0;

	uint64_t oldest = 0;
	uint64_t newest = 0;

	model_set_listener(d->model, daemon_model_changed_cb, d);
	stream_invalidate(d->stream);
	/* The latest replayed event is the latest event (SyncTaskRouterEvents, the feed). */
	model_event_range(d->model, &oldest, &newest);
	if (newest > 0) {
		struct model_change c = { .kind = MODEL_CHANGE_EVENT, .sid = NULL, .seq = newest };

		daemon_model_changed_cb(&c, d);
	}
	log_notice("replay: %zu events since the day start in %zu pages (%" PRId64
		   " ms fetch, %" PRId64 " ms apply; %.0f events/s): %zu applied, %zu known, "
		   "%zu ignored, %zu unusable; %zu webhooks held meanwhile",
		   r->fetched, r->pages, r->fetch_ms, r->apply_ms,
		   secs > 0 ? (double)r->fetched / secs : 0.0, r->applied, r->stale, r->ignored,
		   r->invalid, r->deferred);
	if (r->error < 0) {
		free(d->replay_warning);
		d->replay_warning = xasprintf("the replay of today's events is incomplete (%s): "
					      "per-agent counters may be low until tomorrow",
					      r->reason != NULL ? r->reason : "?");
		log_warning("replay: %s", d->replay_warning);
	} else if (prev != NULL && prev_ms >= 0 && !r->expect_found && r->last_ms >= prev_ms) {
		free(d->replay_warning);
		d->replay_warning =
			xasprintf("the replay did not return %s, the last event applied "
				  "before the restart",
				  prev);
		log_warning("replay: %s", d->replay_warning);
	}
	daemon_rebuild_start(d);
}

static void
daemon_backfill_start(struct daemon *d)
{
	int r;

	daemon_enter_state(d, DAEMON_REBUILDING);
	sd_notify_status("replaying today's events from TaskRouter");
	/* Replayed changes are not news: Sync and the stream get the rebuilt result. */
	model_set_listener(d->model, NULL, NULL);
	r = backfill_start(d->backfill, daemon_backfill_done_cb, d);
	if (r < 0) {
		model_set_listener(d->model, daemon_model_changed_cb, d);
		log_warning_errno(r, "cannot start the replay");
		daemon_rebuild_start(d);
	}
}

/* --- signals ---------------------------------------------------------------- */

static void
daemon_release_done_cb(bool released, void *arg)
{
	struct daemon *d = arg;

	(void)event_base_loopexit(d->base, NULL);
}

/*
 * Handover (sync_lease): the write gate is closed; once no Sync request of
 * this instance is in flight any more, the lease is released, so a standby
 * takes over at its next check with no overlap of writers. Requests still in
 * flight at the deadline may land later: then the lease is kept and the
 * standby waits for it to expire, as after a crash.
 */
static void
daemon_handover_step(struct daemon *d)
{
	size_t inflight = syncpub_inflight(d->syncpub);
	struct timeval tv = { 0, DAEMON_DRAIN_POLL_MS * 1000 };

	if (inflight > 0 && date_monotonic_ms() < d->drain_deadline_ms) {
		if (event_add(d->drain, &tv) < 0)
			(void)event_base_loopexit(d->base, NULL);
		return;
	}
	if (inflight > 0) {
		log_warning("stopping with %zu Sync requests in flight: the lease is kept "
			    "until it expires",
			    inflight);
		(void)lease_release(d->lease, 0, NULL, NULL); /* not held any more: no request */
		(void)event_base_loopexit(d->base, NULL);
		return;
	}
	if (!lease_release(d->lease, DAEMON_RELEASE_TIMEOUT_MS, daemon_release_done_cb, d))
		(void)event_base_loopexit(d->base, NULL);
}

static void
daemon_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	/* A standby's values wait for a holder that never comes: nothing to drain. */
	size_t pending = lease_is_holder(d->lease) ? syncpub_pending(d->syncpub) : 0;
	struct timeval tv = { 0, DAEMON_DRAIN_POLL_MS * 1000 };

	if (d->handover) {
		daemon_handover_step(d);
		return;
	}
	if (pending == 0 || date_monotonic_ms() >= d->drain_deadline_ms) {
		if (pending > 0)
			log_warning("stopping with %zu Sync objects not yet written", pending);
		if (d->lease == NULL || !lease_is_holder(d->lease)) {
			(void)lease_release(d->lease, 0, NULL, NULL); /* stops a standby's checks */
			(void)event_base_loopexit(d->base, NULL); /* only fails without a base */
			return;
		}
		d->handover = true;
		syncpub_set_active(d->syncpub, false); /* in flight finish, nothing new starts */
		d->drain_deadline_ms = date_monotonic_ms() + DAEMON_RELEASE_TIMEOUT_MS;
		daemon_handover_step(d);
		return;
	}
	if (event_add(d->drain, &tv) < 0)
		(void)event_base_loopexit(d->base, NULL);
}

static void
daemon_stop(struct daemon *d, const char *why)
{
	if (d->state == DAEMON_STOPPING) {
		log_notice("%s again, stopping now", why);
		(void)event_base_loopbreak(d->base);
		return;
	}
	daemon_enter_state(d, DAEMON_STOPPING);
	sd_notify_stopping();
	log_notice("%s, stopping", why);
	server_stop_accepting(d->server);
	/* No new Twilio reads while draining; only Sync writes may finish. */
	rebuild_free(d->rebuild);
	d->rebuild = NULL;
	backfill_free(d->backfill);
	d->backfill = NULL;
	backfill_keeper_flush(d->keeper);
	stats_free(d->stats);
	d->stats = NULL;
	/* Marked values are queued in syncpub already; the drain below waits for them. */
	syncpub_set_paused(d->syncpub, false);
	d->drain_deadline_ms = date_monotonic_ms() + DAEMON_DRAIN_MS;
	daemon_drain_cb(-1, 0, d);
}

static void
daemon_sigterm_cb(evutil_socket_t fd, short what, void *arg)
{
	daemon_stop(arg, "SIGTERM received");
}

static void
daemon_sigint_cb(evutil_socket_t fd, short what, void *arg)
{
	daemon_stop(arg, "SIGINT received");
}

static void
daemon_events_options(const struct config *cfg, struct events_options *o)
{
	memset(o, 0, sizeof(*o));
	o->auth_token = cfg->auth_token;
	o->public_url = cfg->public_url;
	o->body_max_bytes = (size_t)cfg->http_body_max_bytes;
	if (cfg->webhook_max_age_s == 0) {
		o->max_age_ms = -1;
		o->max_future_ms = -1;
	} else {
		o->max_age_ms = (int64_t)cfg->webhook_max_age_s * 1000;
		o->max_future_ms = (int64_t)cfg->webhook_max_age_s * 1000;
	}
}

static void
daemon_auth_options(const struct config *cfg, struct auth_options *o)
{
	memset(o, 0, sizeof(*o));
	o->users_file = cfg->users_file;
	o->token_password = cfg->token_password;
	o->authentication_user = cfg->authentication_user;
	o->authentication_password = cfg->authentication_password;
	o->wallboard_token = cfg->wallboard_token;
	o->public_url = cfg->public_url;
	o->session_ttl_s = cfg->session_ttl_s;
	o->session_idle_s = cfg->session_idle_s;
	o->wallboard_session_ttl_s = cfg->wallboard_session_ttl_s;
	o->login_threads = cfg->login_threads;
}

static void
daemon_worker_api_options(const struct config *cfg, struct worker_api_options *o)
{
	memset(o, 0, sizeof(*o));
	o->account_sid = cfg->account_sid;
	o->auth_token = cfg->auth_token;
	o->api_key = cfg->api_key;
	o->api_secret = cfg->api_secret;
	o->workspace_sid = cfg->workspace_sid;
	o->sync_service_sid = cfg->sync_service_sid;
	o->token_ttl_s = cfg->token_ttl_s;
	o->auto_complete_wrapping = cfg->auto_complete_wrapping;
	o->wrapping_complete_after_s = cfg->wrapping_complete_after_s;
	o->agent_away_after_s = cfg->agent_away_after_s;
	o->agent_away_activity = cfg->agent_away_activity;
	o->conference_from = cfg->conference_from;
	o->conference_timeout_s = cfg->conference_timeout_s;
	o->conference_post_work_activity = cfg->conference_post_work_activity;
	o->conference_end_on_exit = cfg->conference_end_on_exit;
}

/* The stats options that come from the config (the live ones among them on reload). */
static void
daemon_stats_options(struct daemon *d, const struct config *cfg, struct stats_options *so)
{
	free(d->split_thresholds_s);
	d->split_thresholds_s = NULL;
	so->min_interval_ms = cfg->stats_min_interval_ms;
	so->max_interval_ms = cfg->stats_max_interval_ms;
	so->sla_threshold_s = cfg->sla_threshold_s;
	so->short_abandon_s = cfg->short_abandon_s;
	so->day_start_minutes = cfg->day_start_min;
	so->timezone = cfg->timezone;
	so->zoneinfo_dir = config_env("TZDIR");
	/* SplitByWaitTime must hold every per-queue threshold, SLA and short abandon. */
	if (cfg->n_sla_overrides + cfg->n_short_abandon_overrides > 0) {
		d->split_thresholds_s =
			xcalloc(cfg->n_sla_overrides + cfg->n_short_abandon_overrides,
				sizeof(*d->split_thresholds_s));
		for (size_t i = 0; i < cfg->n_sla_overrides; i++)
			d->split_thresholds_s[i] = cfg->sla_overrides[i].threshold_s;
		for (size_t i = 0; i < cfg->n_short_abandon_overrides; i++)
			d->split_thresholds_s[cfg->n_sla_overrides + i] =
				cfg->short_abandon_overrides[i].threshold_s;
	}
	so->split_thresholds_s = d->split_thresholds_s;
	so->n_split_thresholds = cfg->n_sla_overrides + cfg->n_short_abandon_overrides;
	so->sla_threshold_for = daemon_sla_threshold_cb;
	so->short_abandon_for = daemon_short_abandon_cb;
	so->sla_arg = d;
}

/* The changed keys of one reload, by rule, as "a, b" lists. */
struct daemon_reload_changes {
	struct buf live;
	struct buf restart;
};

static void
daemon_reload_change_cb(const char *key, bool live, void *arg)
{
	struct daemon_reload_changes *c = arg;
	struct buf *b = live ? &c->live : &c->restart;

	if (b->len > 0)
		buf_puts(b, ", ");
	buf_puts(b, key);
	if (!live)
		log_warning("reload: %s changed but needs a restart; trhubd keeps running with "
			    "its old value",
			    key);
}

/*
 * tls_cert, tls_key: read again on every reload (a renewed certificate
 * keeps its path); bad new files keep the running certificate.
 */
static void
daemon_reload_tls(struct daemon *d, const struct config *next)
{
	char shown[800];
	char *cause = NULL;

	if (d->tls == NULL) {
		if (next->tls_cert != NULL)
			log_warning("reload: tls_cert is set, but trhubd started without TLS and "
				    "keeps serving plain HTTP until a restart");
		return;
	}
	if (next->tls_cert == NULL) {
		log_warning("reload: tls_cert and tls_key are unset, but trhubd keeps serving "
			    "HTTPS with its current certificate until a restart");
		return;
	}
	if (tls_reload(d->tls, next->tls_cert, next->tls_key, &cause) < 0) {
		tls_info_format(tls_current(d->tls), shown, sizeof(shown));
		log_err("reload: TLS certificate not reloaded, still serving %s: %s", shown, cause);
		free(cause);
		return;
	}
	tls_info_format(tls_current(d->tls), shown, sizeof(shown));
	log_notice("reload: TLS certificate from %s: %s", next->tls_cert, shown);
}

/*
 * Applies every live key of next (config_table.c says which keys are live)
 * through the owning module's *_reconfigure, names each changed key that
 * needs a restart, and makes next the current config.
 */
static void
daemon_reload_apply(struct daemon *d, struct config *next)
{
	struct daemon_reload_changes changes;
	struct twilio_client_config tc = { 0 };
	struct stats_options so = { 0 };
	struct events_options eo;
	struct auth_options ao;
	struct worker_api_options wo;
	char *cause = NULL;
	size_t n_restart;

	buf_init(&changes.live);
	buf_init(&changes.restart);
	n_restart = config_changes(d->cfg, next, daemon_reload_change_cb, &changes);

	/* public_url, auth_token, webhook_max_age_s, http_body_max_bytes */
	daemon_events_options(next, &eo);
	events_reconfigure(d->events, &eo);
	server_reconfigure(d->server, (size_t)next->http_body_max_bytes);
	/* auth_token, api_key, api_secret: REST authentication */
	twilio_client_config_from(&tc, next);
	if (twilio_reconfigure(d->twilio, &tc, &cause) < 0) {
		log_err("reload: REST credentials not applied: %s", cause);
		free(cause);
	}
	/* users_file and the other login keys; tokens and the agent API's keys */
	daemon_reload_tls(d, next);
	daemon_auth_options(next, &ao);
	ao.tls = d->tls != NULL;
	if (auth_reconfigure(d->auth, &ao, &cause) < 0) {
		log_err("reload: users not reloaded, keeping the previous ones: %s", cause);
		free(cause);
		cause = NULL;
	}
	daemon_worker_api_options(next, &wo);
	worker_api_reconfigure(d->wapi, &wo);
	/* stats_*_interval_ms, sla_threshold_s, short_abandon_s and their per-queue overrides */
	daemon_stats_options(d, next, &so);
	if (d->cfg != d->boot_cfg)
		config_free(d->cfg);
	d->cfg = next; /* before stats_reconfigure: its SLA callback reads d->cfg */
	stats_reconfigure(d->stats, &so);
	rebuild_reconfigure(d->rebuild, next->reconcile_interval_s);

	if (n_restart == 0)
		log_notice("configuration reloaded from %s; changed and applied: %s",
			   next->path != NULL ? next->path : "defaults",
			   changes.live.len > 0 ? changes.live.data : "nothing");
	else
		log_warning("configuration reloaded from %s; changed and applied: %s; changed but "
			    "not applied until a restart: %s",
			    next->path != NULL ? next->path : "defaults",
			    changes.live.len > 0 ? changes.live.data : "nothing",
			    changes.restart.data);
	buf_clear(&changes.live);
	buf_clear(&changes.restart);
}

static void
daemon_reload(struct daemon *d)
{
	struct config *next = NULL;
	char *cause = NULL;
	int r;

	sd_notify_reloading();
	log_notice("SIGHUP received, reloading the configuration");
	r = config_load(d->source, &next, &cause);
	if (r < 0) {
		log_err("reload failed, keeping the previous configuration: %s",
			cause != NULL ? cause : "invalid configuration");
		free(cause);
		goto out;
	}
	daemon_reload_apply(d, next);
out:
	switch (d->state) {
	case DAEMON_READY:
		sd_notify_ready("ready");
		break;
	case DAEMON_DEGRADED:
		sd_notify_ready("degraded: model rebuild failed, retrying");
		break;
	case DAEMON_STARTING:
	case DAEMON_REBUILDING:
	case DAEMON_STOPPING:
		/* Not ready yet (or any more): READY=1 comes with the rebuild's end. */
		sd_notify_ready(NULL);
		break;
	}
}

static void
daemon_sighup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	if (d->state == DAEMON_STOPPING)
		return;
	daemon_reload(d);
}

/* --- construction ------------------------------------------------------------------ */

/*
 * Loads the pages: web_dir when configured, else the build tree's web/ when
 * trhubd runs from it, else the installed data dir. Pages that cannot be
 * loaded are a warning, not a failure: the API and the webhooks still work,
 * and the page routes answer 503 saying why.
 */
static void
daemon_load_web(struct daemon *d, const struct config *cfg)
{
	char *dir = cfg->web_dir != NULL ? xstrdup(cfg->web_dir)
					 : web_static_default_dir(TRHUB_WEB_DATADIR);
	char *cause = NULL;

	d->web = web_static_load(dir, cfg->web_custom_dir, &cause);
	if (d->web == NULL) {
		log_warning("pages not served: %s", cause);
		free(cause);
	} else {
		log_info("pages from %s (%zu files)", dir, web_static_count(d->web));
	}
	free(dir);
}

static int
daemon_build(struct daemon *d, char **cause_out)
{
	const struct config *cfg = d->boot_cfg;
	struct model_options mo = { 0 };
	struct twilio_client_config tc = { 0 };
	struct stats_options so = { 0 };
	struct syncpub_options po = { 0 };
	struct stream_options sto = { 0 };
	struct events_options eo;
	struct server_options svo = { 0 };
	struct rebuild_options ro = { 0 };
	struct feed_options fo = { 0 };
	struct auth_options ao;
	struct worker_api_options wo;
	struct event_config *ecfg = NULL;
	int *fds = NULL;
	size_t nfds = 0;
	char *redirect_origin = NULL;
	int r;

	ecfg = event_config_new();
	/*
	 * epoll's changelist: evhttp disables reading while it answers a request
	 * and enables it again once the answer is written, usually in the same
	 * loop turn; with the changelist that pair costs no epoll_ctl (9 % of
	 * trhubd's CPU under webhook load without it). Its one caveat, dup()ed
	 * descriptors in the loop, does not apply: trhubd dups none.
	 */
	if (ecfg != NULL) {
		(void)event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
		d->base = event_base_new_with_config(ecfg);
		event_config_free(ecfg);
	}
	if (d->base == NULL) {
		*cause_out = xstrdup("cannot create the event loop");
		return -ENOMEM;
	}
	d->metrics = metrics_new();

	mo.event_ring_size = (size_t)cfg->recent_events_max;
	mo.day_start_minutes = cfg->day_start_min;
	mo.timezone = cfg->timezone;
	mo.zoneinfo_dir = config_env("TZDIR");
	d->model = model_new(&mo);

	d->http = http_async_new(d->base, NULL);
	twilio_client_config_from(&tc, cfg);
	r = twilio_new(&tc, &d->twilio, cause_out);
	if (r < 0)
		return r;

	daemon_stats_options(d, cfg, &so);
	d->stats = stats_new(d->base, d->http, d->twilio, cfg->workspace_sid, d->model, &so,
			     d->metrics);
	stats_set_publish(d->stats, daemon_stats_publish_cb, d);

	po.writes_per_second = cfg->sync_writes_per_s;
	d->syncpub =
		syncpub_new(d->base, d->http, d->twilio, cfg->sync_service_sid, &po, d->metrics);
	/*
	 * Until the rebuild ends, tasks are only marked: at READY the tasks map's
	 * listing is queued first, so no item is written before syncpub knows
	 * whether the map exists (a missing map: one create, then one request
	 * per item).
	 */
	syncpub_set_paused(d->syncpub, true);
	if (cfg->sync_lease) {
		struct lease_options lo = { cfg->sync_service_sid, cfg->sync_lease_name,
					    cfg->instance_id, cfg->sync_lease_ttl_s };

		d->lease = lease_new(d->base, d->http, d->twilio, &lo, d->metrics);
		lease_set_callback(d->lease, daemon_lease_cb, d);
		syncpub_set_active(d->syncpub, false); /* until the lease is ours */
	}

	sto.budget_bytes = (size_t)cfg->sse_budget_bytes;
	sto.max_clients = (size_t)cfg->max_sse_clients;
	d->stream = stream_new(d->base, d->model, &sto, d->metrics);
	stream_set_stats(d->stream, daemon_stats_document_cb, d);
	d->series = series_new(0);
	stream_set_snapshot_extra(d->stream, daemon_snapshot_extra_cb, d);

	daemon_events_options(cfg, &eo);
	d->events = events_new(&eo, d->metrics);
	events_set_apply(d->events, daemon_apply_event_cb, daemon_recording_cb, d);

	d->api = api_new(d->model, d->stream, d->metrics);
	api_set_ready(d->api, daemon_ready_cb, d);
	api_set_stats(d->api, d->stats);
	api_set_warnings(d->api, daemon_warnings_cb, d);
	if (d->lease != NULL)
		api_set_ready_detail(d->api, "lease", daemon_lease_json_cb, d);

	if (cfg->tls_cert != NULL) {
		char shown[800];

		r = tls_new(cfg->tls_cert, cfg->tls_key, &d->tls, cause_out);
		if (r < 0)
			return r;
		tls_info_format(tls_current(d->tls), shown, sizeof(shown));
		log_notice("HTTPS with the certificate from %s: %s", cfg->tls_cert, shown);
	}
	daemon_auth_options(cfg, &ao);
	ao.tls = d->tls != NULL;
	r = auth_new(d->base, d->model, &ao, &d->auth, cause_out);
	if (r < 0)
		return r;
	daemon_worker_api_options(cfg, &wo);
	d->wapi = worker_api_new(d->base, d->http, d->twilio, d->model, d->auth, d->stream, &wo);

	d->gen = json_gen_new();
	d->sync_gen = json_gen_new();
	d->brief_gen = json_gen_new();
	model_set_listener(d->model, daemon_model_changed_cb, d);

	ro.reconcile_interval_s = cfg->reconcile_interval_s;
	d->rebuild = rebuild_new(d->base, d->http, d->twilio, cfg->workspace_sid, d->model, &ro,
				 d->metrics);
	rebuild_set_callbacks(d->rebuild, daemon_rebuild_done_cb, daemon_rebuild_status_cb, d);
	daemon_backfill_new(d, cfg);

	fo.public_url = cfg->public_url;
	fo.workspace_sid = cfg->workspace_sid;
	fo.manage_callback = strcmp(cfg->workspace_callback, "manage") == 0;
	fo.silence_warn_s = cfg->events_silence_warn_s;
	d->feed = feed_new(d->base, d->http, d->twilio, d->model, &fo, daemon_feed_warning_cb, d);

	r = sd_listen_sockets(&fds, &nfds);
	if (r < 0) {
		*cause_out = xstrdup("malformed socket activation environment (LISTEN_FDS)");
		return r;
	}
	svo.listen_host = cfg->listen_host;
	svo.listen_port = cfg->listen_port;
	svo.max_connections = cfg->max_connections;
	svo.header_max_bytes = (size_t)cfg->http_header_max_bytes;
	svo.body_max_bytes = (size_t)cfg->http_body_max_bytes;
	svo.timeout_s = cfg->http_timeout_s;
	svo.header_timeout_s = cfg->http_header_timeout_s;
	svo.body_timeout_s = cfg->http_body_timeout_s;
	svo.webhook_reserved = cfg->webhook_reserved_connections;
	svo.trusted_proxies = cfg->trusted_proxies;
	svo.metrics_allow = cfg->metrics_allow;
	svo.listen_fds = fds;
	svo.n_listen_fds = nfds;
	svo.tls = d->tls;
	if (cfg->tls_redirect_listen != NULL) {
		/* public_url's origin (config_load checked it is https) */
		const char *host = cfg->public_url + strlen("https://");

		redirect_origin = xstrndup(cfg->public_url,
					   (size_t)(host - cfg->public_url) + strcspn(host, "/"));
		svo.redirect_origin = redirect_origin;
		svo.redirect_host = cfg->tls_redirect_host;
		svo.redirect_port = cfg->tls_redirect_port;
	}
	d->server = server_new(d->base, &svo, d->events, d->api, d->metrics);
	server_set_auth(d->server, d->auth, d->wapi);
	free(fds);
	free(redirect_origin);
	daemon_load_web(d, cfg);
	server_set_web(d->server, d->web);
	r = server_listen(d->server, cause_out);
	if (r < 0)
		return r;
	log_notice("listening on %s%s%s", server_address(d->server),
		   d->tls != NULL ? " (https)" : "", nfds > 0 ? " (socket activation)" : "");
	if (server_redirect_address(d->server)[0] != '\0')
		log_notice("redirecting http on %s to %s", server_redirect_address(d->server),
			   cfg->public_url);

	d->sigterm = evsignal_new(d->base, SIGTERM, daemon_sigterm_cb, d);
	d->sigint = evsignal_new(d->base, SIGINT, daemon_sigint_cb, d);
	d->sighup = evsignal_new(d->base, SIGHUP, daemon_sighup_cb, d);
	d->drain = evtimer_new(d->base, daemon_drain_cb, d);
	if (d->sigterm == NULL || d->sigint == NULL || d->sighup == NULL || d->drain == NULL ||
	    event_add(d->sigterm, NULL) < 0 || event_add(d->sigint, NULL) < 0 ||
	    event_add(d->sighup, NULL) < 0) {
		*cause_out = xstrdup("cannot set up signal handling");
		return -ENOMEM;
	}
	d->watchdog = sd_watchdog_new(d->base);
	return 0;
}

int
daemon_new(struct config *cfg, const struct daemon_options *options, struct daemon **daemon_out,
	   char **cause_out)
{
	struct daemon *d = xcalloc(1, sizeof(*d));
	int r;

	event_set_log_callback(daemon_libevent_log_cb);
	d->state = DAEMON_STARTING;
	d->source = options->source;
	d->boot_cfg = cfg;
	d->cfg = cfg;
	r = daemon_build(d, cause_out);
	if (r < 0) {
		d->boot_cfg = NULL; /* still the caller's */
		d->cfg = NULL;
		daemon_free(d);
		return r;
	}
	*daemon_out = d;
	return 0;
}

int
daemon_run(struct daemon *d)
{
	if (d->backfill != NULL)
		daemon_backfill_start(d);
	else
		daemon_rebuild_start(d);
	if (event_base_dispatch(d->base) < 0) {
		log_err("event loop failed");
		return 1;
	}
	log_notice("stopped");
	return 0;
}

void
daemon_free(struct daemon *d)
{
	if (d == NULL)
		return;
	sd_watchdog_free(d->watchdog);
	if (d->sigterm != NULL)
		event_free(d->sigterm);
	if (d->sigint != NULL)
		event_free(d->sigint);
	if (d->sighup != NULL)
		event_free(d->sighup);
	if (d->drain != NULL)
		event_free(d->drain);
	/* Users of the HTTP client and of the model first, the listener never fires again. */
	if (d->model != NULL)
		model_set_listener(d->model, NULL, NULL);
	backfill_free(d->backfill);
	backfill_keeper_flush(d->keeper);
	backfill_keeper_free(d->keeper);
	rebuild_free(d->rebuild);
	feed_free(d->feed);
	stats_free(d->stats);
	stream_free(d->stream);	  /* closes SSE clients before evhttp frees their connections */
	server_free(d->server);	  /* its connections' close callbacks may reach auth, wapi */
	worker_api_free(d->wapi); /* cancels its Twilio requests: before http_async_free */
	auth_free(d->auth);
	web_static_free(d->web);
	series_free(d->series);
	api_free(d->api);
	events_free(d->events);
	lease_free(d->lease); /* cancels its request: before http_async_free */
	syncpub_free(d->syncpub);
	/* curl_multi_cleanup while the event base still exists (STYLE.md 7.10). */
	http_async_free(d->http);
	twilio_free(d->twilio);
	model_free(d->model);
	json_gen_free(d->gen);
	json_gen_free(d->sync_gen);
	json_gen_free(d->brief_gen);
	metrics_free(d->metrics);
	if (d->base != NULL)
		event_base_free(d->base);
	tls_free(d->tls); /* after the connections that hold its context */
	if (d->cfg != d->boot_cfg)
		config_free(d->cfg);
	config_free(d->boot_cfg);
	free(d->degraded_reason);
	free(d->replay_warning);
	free(d->split_thresholds_s);
	free(d);
}
