#pragma once

/*
 * The TaskRouter engine: every state change of tasks, reservations and
 * workers goes through these functions, whether it comes from the REST API,
 * a timer, the /sim/ control routes or the traffic generator. Each one
 * updates the model, emits the events of the change in causal order, and
 * marks routing as due; the caller runs sim_tr_routing_run once it is done
 * (REST handlers after building their reply, so a created task is answered
 * as "pending" as Twilio does, while its reservation already exists when the
 * client sees the answer).
 *
 * Routing pass: among the tasks waiting in queues, the one with the highest
 * priority, then the earliest queue entry, that has an eligible idle worker
 * gets a reservation for the longest-idle such worker. A worker is idle when
 * its activity is available and it holds no pending, accepted or wrapping
 * reservation (one task at a time). A worker that rejected a task is never
 * offered that task again. Repeats until no pair is left.
 *
 * Task lifecycle (twilio-api.md 3.4/3.5): pending -> reserved (reservation
 * created) -> pending again on reject/timeout/rescind, or assigned on accept
 * -> wrapping (conference end or API) -> completed; canceled only from
 * pending/reserved. Finished tasks are removed task_removal_s later (no
 * event), a task whose TTL (Timeout) expires is canceled ("Task TTL
 * Exceeded") or, once assigned, system-deleted.
 *
 * Errors: functions taking cause_out return 0, or -EINVAL for a transition
 * the current state does not allow, with an allocated Twilio-style message
 * for a 400 reply. Callers own nothing they pass in except where noted.
 */

#include <stdbool.h>
#include <stdint.h>

#include "sim_tr_state.h"

struct sim_tr;
struct sim_tr_task;
struct sim_tr_worker;
struct sim_tr_reservation;
struct sim_tr_queue;
struct sim_tr_workflow;
struct sim_tr_activity;
struct sim_tr_conference;

/* Runs routing until no reservation can be made. Re-entrant calls are folded into the running one.
 */
void sim_tr_routing_run(struct sim_tr *tr);

struct sim_tr_task_spec {
	const char *attributes; /* a JSON object text, already validated */
	int64_t priority;
	int64_t timeout_s;		  /* TTL, 1..1209600 */
	struct sim_tr_workflow *workflow; /* may be NULL when queue is given */
	struct sim_tr_queue *queue;	  /* TaskQueueSid: skip the workflow filters */
	enum sim_tr_channel channel;	  /* TaskChannel (default: SIM_TR_CH_DEFAULT) */
};

/*
 * Creates a task and places it: task.created, workflow.entered,
 * workflow.target-matched, task-queue.entered (or workflow.timeout and
 * task.canceled when no filter matches and there is no default filter).
 * Returns the task (owned by tr).
 */
struct sim_tr_task *sim_tr_routing_task_create(struct sim_tr *tr,
					       const struct sim_tr_task_spec *spec);
/* pending/reserved -> canceled; reason may be NULL. */
int sim_tr_routing_task_cancel(struct sim_tr *tr, struct sim_tr_task *t, const char *reason,
			       char **cause_out);
/* assigned -> wrapping. */
int sim_tr_routing_task_wrapup(struct sim_tr *tr, struct sim_tr_task *t, const char *reason,
			       char **cause_out);
/* assigned/wrapping -> completed; the worker moves to the post-work activity if one was given. */
int sim_tr_routing_task_complete(struct sim_tr *tr, struct sim_tr_task *t, const char *reason,
				 char **cause_out);
/* Attributes (validated JSON object text) and/or priority; emits task.updated. */
void sim_tr_routing_task_update(struct sim_tr *tr, struct sim_tr_task *t, const char *attributes,
				const int64_t *priority);
/* API delete: task.deleted, the worker is released, the task freed. */
void sim_tr_routing_task_delete(struct sim_tr *tr, struct sim_tr_task *t);

struct sim_tr_accept {
	bool conference; /* Instruction=conference */
	bool end_conference_on_exit;
	struct sim_tr_activity *post_work_activity; /* or NULL */
	const char *to;				    /* or NULL: the worker's contact_uri */
	const char *from;			    /* or NULL */
};

/*
 * pending -> accepted, task -> assigned. With the conference instruction a
 * conference named after the task is created with a customer and a worker
 * participant and the task attributes get "conference".
 */
int sim_tr_routing_reservation_accept(struct sim_tr *tr, struct sim_tr_reservation *res,
				      const struct sim_tr_accept *acc, char **cause_out);
/* pending -> rejected; the task goes back to its queue; activity (or NULL) is the worker's new one.
 */
int sim_tr_routing_reservation_reject(struct sim_tr *tr, struct sim_tr_reservation *res,
				      struct sim_tr_activity *activity, char **cause_out);
/* accepted -> wrapping (the task too). */
int sim_tr_routing_reservation_wrapup(struct sim_tr *tr, struct sim_tr_reservation *res,
				      char **cause_out);
/* accepted/wrapping -> completed (the task too). */
int sim_tr_routing_reservation_complete(struct sim_tr *tr, struct sim_tr_reservation *res,
					char **cause_out);

/* Creates a worker (worker.created). attributes must be a validated JSON object text. */
struct sim_tr_worker *sim_tr_routing_worker_create(struct sim_tr *tr, const char *name,
						   const char *attributes,
						   struct sim_tr_activity *activity);
/*
 * Changes the activity (worker.activity.update; nothing when unchanged). With
 * reject_pending and an unavailable activity a pending reservation is
 * rejected.
 */
void sim_tr_routing_worker_set_activity(struct sim_tr *tr, struct sim_tr_worker *w,
					struct sim_tr_activity *a, bool reject_pending);
void sim_tr_routing_worker_set_attributes(struct sim_tr *tr, struct sim_tr_worker *w,
					  const char *attributes);
/* A pending reservation is rescinded (its task re-queued); the worker is freed. */
void sim_tr_routing_worker_delete(struct sim_tr *tr, struct sim_tr_worker *w);

/* Called by sim_tr_conference when a task's conference has ended: an assigned task wraps up. */
void sim_tr_routing_conference_ended(struct sim_tr *tr, struct sim_tr_conference *c);
