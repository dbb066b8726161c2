#pragma once

/*
 * model_internal: the records of the model, shared by its two files:
 * model.c (store, apply, rebuild) and model_view.c (the JSON views). Not
 * for other modules: they use model.h.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "sid.h"
#include "task_status.h"

struct hmap;
struct tz_zone;

#define MODEL_MAX_PENDING 8u

enum model_res_status {
	MODEL_RES_PENDING,
	MODEL_RES_ACCEPTED,
	MODEL_RES_REJECTED,
	MODEL_RES_TIMEOUT,
	MODEL_RES_CANCELED,
	MODEL_RES_RESCINDED,
	MODEL_RES_WRAPPING,
	MODEL_RES_COMPLETED,
	MODEL_RES_FAILED,
	MODEL_RES_NSTATUS,
};

/* Transitions already counted for a reservation. */
enum {
	MODEL_COUNTED_OFFERED = 1 << 0,
	MODEL_COUNTED_ACCEPTED = 1 << 1,
	MODEL_COUNTED_REJECTED = 1 << 2,
	MODEL_COUNTED_TIMEOUT = 1 << 3,
	MODEL_COUNTED_HANDLED = 1 << 4,
};

struct model_counters {
	int64_t day_start_ms; /* operational day these counts belong to */
	uint32_t offered;
	uint32_t accepted;
	uint32_t rejected;
	uint32_t timed_out;
	uint32_t handled;
	uint32_t handle_samples; /* handled reservations with a known acceptance time */
	int64_t handle_ms_total;
};

struct model_worker;
struct model_task;

struct model_res {
	char sid[SID_LEN + 1];
	char worker_sid[SID_LEN + 1];
	struct model_task *task;
	struct model_res *task_next;
	struct model_worker *worker; /* NULL once the worker is deleted */
	struct model_res *wprev;
	struct model_res *wnext;
	int64_t ts_ms;
	int64_t version; /* -1: unknown */
	int64_t accepted_ms;
	uint32_t seen_gen;
	uint32_t event_gen;
	uint8_t status;
	uint8_t counted;
};

struct model_task {
	char sid[SID_LEN + 1];
	char queue_sid[SID_LEN + 1];
	char workflow_sid[SID_LEN + 1];
	char conference_sid[SID_LEN + 1];
	char *channel;
	char *attributes;
	struct model_res *res;
	int64_t priority;
	int64_t created_ms;
	int64_t queue_entered_ms;
	int64_t ts_ms;
	int64_t version;
	uint32_t seen_gen;
	uint32_t event_gen;
	uint8_t status;
};

struct model_worker {
	char sid[SID_LEN + 1];
	char activity_sid[SID_LEN + 1];
	char *name;
	char *activity_name;
	char *attributes;
	struct model_res *res; /* open reservations held */
	int64_t activity_since_ms;
	int64_t ts_ms;
	int64_t version;
	struct model_counters day;
	uint32_t seen_gen;
	uint32_t event_gen;
	bool available;
};

struct model_activity {
	char sid[SID_LEN + 1];
	char *name;
	int64_t ts_ms;
	uint32_t seen_gen;
	uint32_t event_gen;
	bool available;
};

struct model_queue {
	char sid[SID_LEN + 1];
	char *name;
	char *target_workers;
	uint32_t tasks[TASK_STATUS_COUNT];
	int64_t ts_ms;
	uint32_t seen_gen;
	uint32_t event_gen;
};

struct model_event {
	uint64_t seq;	    /* 0: empty slot */
	char *fields;	    /* key\0value\0 pairs */
	size_t fields_size; /* allocated at fields, reused by the slot's next event */
	size_t nfields;
};

/*
 * A bounded FIFO set of strings (tombstones, event ids), allocated once: keys
 * up to MODEL_FIFO_INLINE - 1 bytes (every SID) live in their slot, longer
 * ones (an event without an id) in a block of their own; the index is an
 * open-addressing table of slot numbers. Tens of thousands of small keys
 * that each live a minute or two, allocated and freed at the event rate,
 * would otherwise be spread through the heap and keep its pages resident.
 */
#define MODEL_FIFO_INLINE 40

struct model_fifo_slot {
	char key[MODEL_FIFO_INLINE]; /* "" when empty or when long is set */
	char *long_key;
	uint64_t hash;
};

struct model_fifo {
	struct model_fifo_slot *slots; /* cap of them, oldest at head when full */
	uint32_t *index;	       /* slot + 1 per bucket, 0 empty; mask + 1 buckets */
	size_t mask;
	size_t cap;
	size_t head; /* next slot to write */
	size_t count;
};

struct model_change_rec {
	enum model_change_kind kind;
	char sid[SID_LEN + 1];
};

struct model {
	struct hmap *tasks;
	struct hmap *res;
	struct hmap *workers;
	struct hmap *workers_by_name;
	struct hmap *activities;
	struct hmap *queues;
	struct hmap *workflow_timeouts; /* WW -> (void *)(intptr_t) seconds, >= 1 */
	struct hmap *conferences;	/* CF -> struct model_task */
	struct model_fifo tombs;
	struct model_fifo seen_events;

	struct model_event *ring;
	size_t ring_size;
	uint64_t next_seq;
	uint64_t oldest_seq;

	char workspace_sid[SID_LEN + 1];
	char *workspace_name;
	char default_activity_sid[SID_LEN + 1];
	char timeout_activity_sid[SID_LEN + 1];

	/* Recording URLs by TaskSid, bounded, oldest task evicted first. */
	struct hmap *recordings; /* TaskSid -> char *url (owned) */
	char **recording_order;	 /* ring of TaskSids, oldest at recording_head */
	size_t recordings_max;
	size_t recording_head;
	size_t recording_count;

	uint32_t gen;
	bool rebuilding;
	bool built;

	struct tz_zone *zone;
	int day_start_minutes;
	int64_t day_lo;
	int64_t day_hi;

	int64_t (*now_ms)(void *arg);
	void *clock_arg;

	model_listener_cb *listener;
	void *listener_arg;
	struct model_change_rec pending[MODEL_MAX_PENDING];
	size_t npending;
};

/* "pending", "accepted", ... for a reservation status; "?" out of range. */
const char *model_res_status_name(int status);
/* Lifecycle rank: a reservation never moves back (pending < accepted < wrapping < ended). */
int model_res_rank(int status);
/* The model's clock (wall time, Unix ms; injectable through model_options). */
int64_t model_now(const struct model *m);
/* Ring slot of event seq, or NULL when it left the ring (or never was). */
const struct model_event *model_ring_get(const struct model *m, uint64_t seq);
