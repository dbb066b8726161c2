#pragma once

/*
 * The TaskRouter model shared by the sim_tr_* modules: the workspace and its
 * activities, workers, task queues, workflows, tasks, reservations and
 * conferences (the event log lives in sim_tr_events).
 *
 * Every object lives in a hash map by SID (O(1) lookups) and in a TAILQ in
 * creation order (listing), and carries a monotonic `seq` from one counter,
 * which list handlers use as the paging cursor. Objects are created and freed
 * only through the functions below, which keep maps and lists in step.
 *
 * Ownership: struct sim_tr owns every object. A task owns its reservations;
 * a reservation points at its worker, and the pointer is cleared (the SID
 * and name kept) when the worker is deleted. Activities, queues and workflows
 * are never deleted while the workspace lives, so pointers to them are
 * stable. Conferences are independent 2010 resources that name their task by
 * SID only.
 *
 * Routing structures: a task waiting for a worker (pending, in a queue) sits
 * in its queue's priority bucket (buckets sorted by priority, descending;
 * inside one bucket by queue entry time, ascending). A worker that could take
 * a reservation now on some task channel (sim_tr_worker_can_take) sits in
 * tr->idle ordered by the time it became idle.
 *
 * Task channels: the workspace has Twilio's five (default, voice, sms, chat,
 * video). Every task is on one; every worker has a WorkerChannel per task
 * channel with a capacity (0..50, default 1) and an availability (default
 * true). With the workspace's multitasking on (the start-up default, as for
 * new Twilio workspaces) a worker may hold up to its capacity of active
 * reservations (pending, accepted, wrapping) on each channel; with it off,
 * one reservation in all.
 */

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "json.h"
#include "queue.h"
#include "sid.h"
#include "task_status.h"

struct hmap;
struct sim;
struct sim_timer;
struct sim_tr_events;
struct sim_tr_expr;
struct sim_tr_traffic;

/* A task's status is common/task_status.h's enum; the emulator's spelling of its values. */
#define SIM_TR_TASK_PENDING   TASK_STATUS_PENDING
#define SIM_TR_TASK_RESERVED  TASK_STATUS_RESERVED
#define SIM_TR_TASK_ASSIGNED  TASK_STATUS_ASSIGNED
#define SIM_TR_TASK_WRAPPING  TASK_STATUS_WRAPPING
#define SIM_TR_TASK_COMPLETED TASK_STATUS_COMPLETED
#define SIM_TR_TASK_CANCELED  TASK_STATUS_CANCELED
#define SIM_TR_TASK_NSTATUS   TASK_STATUS_COUNT

enum sim_tr_res_status {
	SIM_TR_RES_PENDING,
	SIM_TR_RES_ACCEPTED,
	SIM_TR_RES_REJECTED,
	SIM_TR_RES_TIMEOUT,
	SIM_TR_RES_CANCELED,
	SIM_TR_RES_RESCINDED,
	SIM_TR_RES_WRAPPING,
	SIM_TR_RES_COMPLETED,
	SIM_TR_RES_NSTATUS,
};

struct sim_tr_activity {
	char sid[SID_LEN + 1];
	uint64_t seq;
	char *friendly_name;
	bool available;
	int64_t created_ms;
	int64_t updated_ms;
	TAILQ_ENTRY(sim_tr_activity) entry;
};

/* One stretch of time a worker spent in an activity (for activity_durations). */
struct sim_tr_period {
	char activity_sid[SID_LEN + 1];
	int64_t start_ms;
};

struct sim_tr_reservation;

enum sim_tr_channel {
	SIM_TR_CH_DEFAULT,
	SIM_TR_CH_VOICE,
	SIM_TR_CH_SMS,
	SIM_TR_CH_CHAT,
	SIM_TR_CH_VIDEO,
	SIM_TR_NCHANNELS,
};

/* Largest WorkerChannel capacity Twilio accepts. */
#define SIM_TR_CHANNEL_CAPACITY_MAX 50

/* A worker's WorkerChannel for one task channel. */
struct sim_tr_wchannel {
	int64_t capacity;
	bool available;
	int64_t busy; /* active reservations on this channel */
	int64_t updated_ms;
};

/*
 * Objects by seq, ascending, so a list page can start at its PageToken
 * cursor with a binary search instead of walking every object before it.
 * Objects are appended in creation order (seq only grows); a removed one
 * leaves a hole (obj NULL) until holes outnumber the live slots.
 */
struct sim_tr_seq_slot {
	uint64_t seq;
	void *obj; /* borrowed; NULL: removed */
};

struct sim_tr_seq_index {
	struct sim_tr_seq_slot *slots;
	size_t n;
	size_t cap;
	size_t holes;
};

/*
 * The REST representation of one object, serialized once and reused by every
 * fetch and list page until the object changes (sim_tr_rest builds it).
 * Owned by the object. Cleared (text freed) by every mutator below and by
 * sim_tr_worker_touch / sim_tr_task_touch, the one place per type where
 * version and date_updated change; fields that change without a version bump
 * go through a mutator here too. Inputs shared between objects (the queue
 * and workflow names a task shows) bump tr->json_epoch instead, which
 * invalidates every cache at once: a cache is valid only while its epoch
 * equals tr->json_epoch.
 */
struct sim_tr_json_cache {
	char *text; /* NULL: nothing cached */
	size_t len;
	size_t split; /* tasks: offset where the time-dependent "age" member goes */
	uint64_t epoch;
};

struct sim_tr_worker {
	char sid[SID_LEN + 1];
	uint64_t seq;
	char *friendly_name;
	char *attributes; /* JSON object text as stored */
	struct json_doc *attr_doc;
	struct sim_tr_activity *activity;
	int64_t created_ms;
	int64_t updated_ms;
	int64_t status_changed_ms; /* entered the current activity */
	int64_t version;
	int64_t idle_since_ms; /* longest-idle order */
	bool in_idle;
	struct sim_tr_wchannel channels[SIM_TR_NCHANNELS];
	int64_t nactive; /* reservations held: pending, accepted or wrapping */
	TAILQ_HEAD(, sim_tr_reservation) reservations;
	struct sim_tr_period *hist; /* activity history, oldest first */
	size_t nhist;
	size_t cap_hist;
	struct sim_tr_json_cache json;
	TAILQ_ENTRY(sim_tr_worker) entry;
	TAILQ_ENTRY(sim_tr_worker) idle_entry;
};

struct sim_tr_task;

struct sim_tr_bucket {
	int64_t priority;
	TAILQ_HEAD(, sim_tr_task) tasks;
	TAILQ_ENTRY(sim_tr_bucket) entry;
};

struct sim_tr_queue {
	char sid[SID_LEN + 1];
	uint64_t seq;
	char *friendly_name;
	char *target_workers;
	struct sim_tr_expr *expr;
	int64_t max_reserved_workers;
	char *task_order; /* "FIFO" or "LIFO" */
	struct sim_tr_activity *assignment_activity;
	struct sim_tr_activity *reservation_activity;
	int64_t created_ms;
	int64_t updated_ms;
	TAILQ_HEAD(, sim_tr_bucket) buckets; /* priority descending */
	size_t waiting;			     /* tasks in the buckets */
	TAILQ_ENTRY(sim_tr_queue) entry;
};

struct sim_tr_filter {
	char *name;
	struct sim_tr_expr *expr;
	struct sim_tr_queue *queue;
	bool has_priority;
	int64_t priority;
};

struct sim_tr_workflow {
	char sid[SID_LEN + 1];
	uint64_t seq;
	char *friendly_name;
	char *configuration; /* JSON text as stored */
	char *assignment_callback_url;
	char *fallback_assignment_callback_url;
	int64_t task_reservation_timeout_s;
	struct sim_tr_filter *filters;
	size_t nfilters;
	struct sim_tr_queue *default_queue; /* default_filter, or NULL */
	int64_t created_ms;
	int64_t updated_ms;
	TAILQ_ENTRY(sim_tr_workflow) entry;
};

struct sim_tr_task {
	struct sim_tr *tr; /* back pointer for timer callbacks */
	char sid[SID_LEN + 1];
	uint64_t seq;
	char *attributes;
	struct json_doc *attr_doc;
	int64_t priority;
	enum task_status status;
	char *reason; /* cancel or complete reason, or NULL */
	int64_t created_ms;
	int64_t updated_ms;
	int64_t queue_entered_ms; /* 0 while in no queue */
	int64_t finished_ms;	  /* canceled/completed, else 0 */
	int64_t timeout_s;
	int64_t version;
	struct sim_tr_workflow *workflow; /* may be NULL (created with TaskQueueSid) */
	struct sim_tr_queue *queue;	  /* NULL until the workflow placed it */
	char *filter_name;		  /* matched workflow filter */
	struct sim_tr_bucket *bucket;	  /* non-NULL while waiting in a queue bucket */
	enum sim_tr_channel channel;
	TAILQ_HEAD(, sim_tr_reservation) reservations;
	struct sim_tr_reservation *active; /* pending, accepted or wrapping */
	char (*rejected_by)[SID_LEN + 1];  /* workers that rejected it: never offered again */
	size_t nrejected;
	int64_t nassignments; /* times it went from pending to reserved */
	struct sim_timer *ttl_timer;
	struct sim_timer *removal_timer;
	struct sim_tr_json_cache json;
	TAILQ_ENTRY(sim_tr_task) entry;
	TAILQ_ENTRY(sim_tr_task) qentry;
};

struct sim_tr_reservation {
	char sid[SID_LEN + 1];
	uint64_t seq;
	enum sim_tr_res_status status;
	int64_t version;
	struct sim_tr_task *task;     /* owner */
	struct sim_tr_worker *worker; /* NULL once the worker is deleted */
	char worker_sid[SID_LEN + 1];
	char *worker_name;
	int64_t created_ms;
	int64_t updated_ms;
	struct sim_timer *timeout_timer;
	struct sim_tr_activity *post_work_activity; /* conference/dequeue instruction */
	bool holding; /* counted in its worker's nactive and channel busy */
	TAILQ_ENTRY(sim_tr_reservation) task_entry;
	TAILQ_ENTRY(sim_tr_reservation) worker_entry;
};

struct sim_tr_participant {
	char call_sid[SID_LEN + 1];
	const char *label; /* "customer" or "worker" */
	bool end_conference_on_exit;
	int64_t created_ms;
	int64_t updated_ms;
};

struct sim_tr_conference {
	char sid[SID_LEN + 1];
	uint64_t seq;
	char friendly_name[SID_LEN + 1]; /* the task SID */
	bool completed;
	const char *reason_ended; /* NULL while in progress */
	char call_sid_ending[SID_LEN + 1];
	int64_t created_ms;
	int64_t updated_ms;
	struct sim_tr_participant parts[2]; /* customer, worker */
	size_t nparts;
	TAILQ_ENTRY(sim_tr_conference) entry;
};

struct sim_tr_workspace {
	char sid[SID_LEN + 1];
	char *friendly_name;
	char *event_callback_url; /* NULL: none */
	char *events_filter;	  /* NULL: all */
	struct sim_tr_activity *default_activity;
	struct sim_tr_activity *timeout_activity;
	bool multi_task_enabled;
	char *prioritize_queue_order;
	int64_t created_ms;
	int64_t updated_ms;
	char channel_sids[SIM_TR_NCHANNELS][SID_LEN + 1]; /* TC... per enum sim_tr_channel */
};

TAILQ_HEAD(sim_tr_activity_list, sim_tr_activity);
TAILQ_HEAD(sim_tr_worker_list, sim_tr_worker);
TAILQ_HEAD(sim_tr_queue_list, sim_tr_queue);
TAILQ_HEAD(sim_tr_workflow_list, sim_tr_workflow);
TAILQ_HEAD(sim_tr_task_list, sim_tr_task);
TAILQ_HEAD(sim_tr_conference_list, sim_tr_conference);

struct sim_tr {
	struct sim *sim;
	struct sim_tr_workspace ws;
	uint64_t seq;
	struct hmap *activities;
	struct hmap *workers;
	struct hmap *worker_names; /* lower-cased friendly name -> worker */
	struct hmap *queues;
	struct hmap *workflows;
	struct hmap *tasks;
	struct hmap *reservations;
	struct hmap *conferences;
	struct sim_tr_activity_list activity_list;
	struct sim_tr_worker_list worker_list;
	struct sim_tr_queue_list queue_list;
	struct sim_tr_workflow_list workflow_list;
	struct sim_tr_task_list task_list;
	struct sim_tr_conference_list conference_list;
	struct sim_tr_seq_index worker_index; /* worker_list by seq */
	struct sim_tr_seq_index task_index;   /* task_list by seq */
	size_t ntasks_by_status[SIM_TR_TASK_NSTATUS];
	size_t nconferences_completed;
	struct sim_tr_worker_list idle; /* via idle_entry */
	bool routing_busy;
	bool routing_again;
	struct sim_tr_events *events;
	struct sim_tr_traffic *traffic;
	/* SIDs of the start-up workspace, kept so a reset restores the same ones. */
	char (*seed_sids)[SID_LEN + 1];
	size_t nseed_sids;
	size_t seed_pos;
	/* REST serialization caches: see struct sim_tr_json_cache. */
	uint64_t json_epoch;
	struct json_gen *json_scratch; /* reused generator; NULL until first use */
	struct json_gen *json_list;    /* reused list page generator; NULL until first use */
	struct buf json_compose;       /* reused buffer for cached text + live members */
	int64_t iso_memo_s;	       /* second formatted in iso_memo, or -1 */
	char iso_memo[32];
	char *url_prefix; /* base_url + "/v1/Workspaces/" + SID; NULL until first use */
};

/* Completed conferences kept for the 2010 list; older ones are forgotten. */
#define SIM_TR_CONFERENCES_KEPT 10000
/* Activity history entries kept per worker (oldest half dropped beyond it). */
#define SIM_TR_HISTORY_MAX 4096
/* Attribute texts longer than this are refused (Twilio: 4096 characters). */
#define SIM_TR_ATTRIBUTES_MAX 4096

const char *sim_tr_task_status_name(enum task_status s);
/* Returns 0, or -EINVAL for an unknown name. */
int sim_tr_task_status_parse(const char *name, enum task_status *out);
const char *sim_tr_res_status_name(enum sim_tr_res_status s);
int sim_tr_res_status_parse(const char *name, enum sim_tr_res_status *out);
/* Pending, reserved, assigned or wrapping. */
bool sim_tr_task_is_active(const struct sim_tr_task *t);

/* Sets up empty maps and lists; tr->sim must be set. */
void sim_tr_state_init(struct sim_tr *tr);
/* Frees every object (cancelling their timers) and the maps. */
void sim_tr_state_clear(struct sim_tr *tr);

int64_t sim_tr_now(const struct sim_tr *tr);
/* The next value of the object counter. */
uint64_t sim_tr_next_seq(struct sim_tr *tr);

/*
 * Constructors: allocate with a fresh SID and seq, insert into map and list,
 * and return the object (owned by tr). Strings are copied. Attributes text
 * must already be a valid JSON object (callers validate with
 * sim_tr_state_parse_attributes).
 */
struct sim_tr_activity *sim_tr_activity_add(struct sim_tr *tr, const char *name, bool available);
struct sim_tr_worker *sim_tr_worker_add(struct sim_tr *tr, const char *name, const char *attributes,
					struct sim_tr_activity *activity);
/* expr is owned by the queue on return. */
struct sim_tr_queue *sim_tr_queue_add(struct sim_tr *tr, const char *name, const char *target,
				      struct sim_tr_expr *expr);
struct sim_tr_workflow *sim_tr_workflow_add(struct sim_tr *tr, const char *name);
struct sim_tr_task *sim_tr_task_add(struct sim_tr *tr, const char *attributes);
struct sim_tr_reservation *sim_tr_reservation_add(struct sim_tr *tr, struct sim_tr_task *task,
						  struct sim_tr_worker *worker);
struct sim_tr_conference *sim_tr_conference_add(struct sim_tr *tr, const char *task_sid);

/* Lookups: NULL when absent (or s is NULL). */
struct sim_tr_activity *sim_tr_activity_get(struct sim_tr *tr, const char *sid);
/* By friendly name, case-sensitive. */
struct sim_tr_activity *sim_tr_activity_by_name(struct sim_tr *tr, const char *name);
struct sim_tr_worker *sim_tr_worker_get(struct sim_tr *tr, const char *sid);
/* By friendly name, case-insensitive. */
struct sim_tr_worker *sim_tr_worker_by_name(struct sim_tr *tr, const char *name);
struct sim_tr_queue *sim_tr_queue_get(struct sim_tr *tr, const char *sid);
struct sim_tr_queue *sim_tr_queue_by_name(struct sim_tr *tr, const char *name);
struct sim_tr_workflow *sim_tr_workflow_get(struct sim_tr *tr, const char *sid);
struct sim_tr_task *sim_tr_task_get(struct sim_tr *tr, const char *sid);
struct sim_tr_reservation *sim_tr_reservation_get(struct sim_tr *tr, const char *sid);
struct sim_tr_conference *sim_tr_conference_get(struct sim_tr *tr, const char *sid);

/* Renames a worker (keeps the name index in step). */
void sim_tr_worker_rename(struct sim_tr *tr, struct sim_tr_worker *w, const char *name);
/* Replaces the attributes (text must be a valid JSON object). */
void sim_tr_worker_set_attributes(struct sim_tr_worker *w, const char *attributes);
void sim_tr_task_set_attributes(struct sim_tr_task *t, const char *attributes);
/* The first object whose seq is greater than seq, or NULL. */
void *sim_tr_seq_index_after(const struct sim_tr_seq_index *x, uint64_t seq);

/* Frees the cached text (c may hold none). */
void sim_tr_json_cache_clear(struct sim_tr_json_cache *c);
/* Invalidates every object's cache (a shared input such as a queue name changed). */
void sim_tr_json_invalidate_all(struct sim_tr *tr);
/* The object changed: bumps version, sets date_updated to now_ms, clears the cache. */
void sim_tr_worker_touch(struct sim_tr_worker *w, int64_t now_ms);
void sim_tr_task_touch(struct sim_tr_task *t, int64_t now_ms);
/* Replaces the task's reason (copied; NULL clears it). */
void sim_tr_task_set_reason(struct sim_tr_task *t, const char *reason);
/* Records the start of a stretch in activity a at now_ms in the worker's history. */
void sim_tr_worker_history_push(struct sim_tr_worker *w, const struct sim_tr_activity *a,
				int64_t now_ms);

/* Sets the task status keeping the per-status counts in step. */
void sim_tr_task_set_status(struct sim_tr *tr, struct sim_tr_task *t, enum task_status s);

/* Removes and frees: the task with its reservations (timers cancelled). */
void sim_tr_task_remove(struct sim_tr *tr, struct sim_tr_task *t);
/* Removes and frees a worker; its reservations keep its SID and name. */
void sim_tr_worker_remove(struct sim_tr *tr, struct sim_tr_worker *w);
void sim_tr_conference_remove(struct sim_tr *tr, struct sim_tr_conference *c);
void sim_tr_workflow_free_filters(struct sim_tr_workflow *wf);
/*
 * Parses a workflow configuration ({"task_routing": {"filters": [{
 * "filter_friendly_name", "expression", "targets": [{"queue", "priority"}]}],
 * "default_filter": {"queue"}}}) and, on success, replaces wf's filters and
 * configuration text. Only the first target of a filter is used. Returns 0
 * or -EINVAL with an allocated *cause_out (unknown queue, bad expression;
 * cause_out may be NULL).
 */
int sim_tr_workflow_configure(struct sim_tr *tr, struct sim_tr_workflow *wf, const char *config,
			      char **cause_out);

/* Queue buckets: insert a waiting task (by priority, then queue entry time) / take it out. */
void sim_tr_queue_insert(struct sim_tr_queue *q, struct sim_tr_task *t);
void sim_tr_queue_unlink(struct sim_tr_queue *q, struct sim_tr_task *t);

/* Puts the worker in or takes it out of tr->idle to match its state. */
void sim_tr_worker_sync_idle(struct sim_tr *tr, struct sim_tr_worker *w, int64_t now_ms);

/* "default", "voice", "sms", "chat", "video". */
const char *sim_tr_channel_name(enum sim_tr_channel ch);
/* "Default", "Voice", "SMS", "Programmable Chat", "Video". */
const char *sim_tr_channel_friendly_name(enum sim_tr_channel ch);
/* The channel named by unique name or TC SID; returns 0 or -ENOENT. */
int sim_tr_channel_find(const struct sim_tr *tr, const char *name_or_sid, enum sim_tr_channel *out);
/*
 * True when w could take a reservation on channel ch now: available
 * activity, that WorkerChannel available with capacity left (with
 * multitasking off: no reservation held at all).
 */
bool sim_tr_worker_can_take(const struct sim_tr *tr, const struct sim_tr_worker *w,
			    enum sim_tr_channel ch);
/*
 * Reservation accounting: hold counts res against its worker (nactive and
 * the task channel's busy), release undoes it; both are idempotent and keep
 * tr->idle in step.
 */
void sim_tr_worker_hold(struct sim_tr *tr, struct sim_tr_reservation *res);
void sim_tr_worker_release(struct sim_tr *tr, struct sim_tr_reservation *res);
/* The oldest reservation w holds in status s, or NULL. */
struct sim_tr_reservation *sim_tr_worker_held(const struct sim_tr_worker *w,
					      enum sim_tr_res_status s);
/* Sets a WorkerChannel's capacity and availability (bumps the worker's JSON cache). */
void sim_tr_worker_set_channel(struct sim_tr *tr, struct sim_tr_worker *w, enum sim_tr_channel ch,
			       int64_t capacity, bool available);

/*
 * Parses attributes text: must be a JSON object of at most
 * SIM_TR_ATTRIBUTES_MAX bytes. On success *doc_out (may be NULL to only
 * validate) gets the parsed document. Returns 0 or -EINVAL with an allocated
 * *cause_out.
 */
int sim_tr_state_parse_attributes(const char *text, struct json_doc **doc_out, char **cause_out);

/* Resolves worker fields (sid, friendly_name, activity_sid, activity_name) for expressions. */
const char *sim_tr_worker_field(void *worker, const char *name);
/* True when worker w matches the queue's target_workers expression. */
bool sim_tr_queue_accepts(const struct sim_tr_queue *q, struct sim_tr_worker *w);
