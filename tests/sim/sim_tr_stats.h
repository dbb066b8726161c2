#pragma once

/*
 * TaskRouter statistics computed from the emulator's own state: real-time
 * figures from the live model, cumulative figures from the event log over a
 * window. Each function writes key/value pairs into an object the caller
 * has opened (so REST handlers can add account_sid, url and so on).
 *
 * Definitions (twilio-api.md 3.7, twilio-operations.md 7). "Active" tasks
 * are those pending, reserved, assigned or wrapping. A worker is "eligible"
 * for a queue when it matches the queue's target_workers expression.
 *
 * Real-time, workspace (WS-RT):
 *   activity_statistics      one entry per activity, in creation order, with
 *                            the number of workers currently in it
 *   tasks_by_status          {pending, reserved, assigned, wrapping}: tasks
 *                            now in each status
 *   total_tasks              the sum of tasks_by_status (active tasks)
 *   tasks_by_priority        active tasks counted by priority ({"0": n, ...})
 *   longest_task_waiting_age seconds since creation (floor) of the oldest
 *                            pending or reserved task, 0 when none; and
 *   longest_task_waiting_sid its SID, or null
 *   total_workers            workers in the workspace
 * Real-time, queue (TQ-RT): the same over the tasks whose queue is this one
 *   and the eligible workers (activity_statistics counts eligible workers),
 *   without total_workers, plus
 *   total_eligible_workers   eligible workers, whatever their activity
 *   total_available_workers  eligible workers in an available activity
 *   longest_relative_task_age_in_queue / _sid   like longest_task_waiting_*
 *                            but measured from queue entry
 *
 * Cumulative, over events with start_ms <= timestamp <= end_ms (workspace:
 * all events; queue: events whose TaskQueueSid is the queue; workers: events
 * whose WorkerSid is one of the selected workers):
 *   reservations_created/accepted/rejected/timed_out/canceled/rescinded
 *       the number of reservation.created/.accepted/.rejected/.timeout/
 *       .canceled/.rescinded events
 *   tasks_created         task.created events (workspace)
 *   tasks_entered         task-queue.entered events (queue)
 *   tasks_canceled        task.canceled events
 *   tasks_completed       task.completed events
 *   tasks_deleted         task.deleted plus task.system-deleted events
 *   tasks_moved           task-queue.moved events (the engine never moves: 0)
 *   tasks_timed_out_in_workflow  workflow.timeout events (workspace)
 *   wait_duration_until_accepted {avg, min, max, total}: over
 *       reservation.accepted events, the time from task creation to the
 *       event (the difference of the task.created and reservation.accepted
 *       TimestampMs), summed in milliseconds; every figure is then reported
 *       in whole seconds rounded to the nearest (avg = total_ms / count,
 *       rounded); all 0 when there is none
 *   avg_task_acceptance_time    = wait_duration_until_accepted.avg
 *   wait_duration_until_canceled  the same over task.canceled events
 *   wait_duration_in_queue_until_accepted (queue)  the same over
 *       reservation.accepted events, measured from queue entry
 *       (task-queue.entered TimestampMs)
 *   split_by_wait_time   for each SplitByWaitTime threshold T (seconds):
 *       {"T": {"below": {tasks_canceled, reservations_accepted},
 *              "above": {...}}} where an event counts "below" when its
 *       wait from task creation is < T seconds (equivalently TaskAge < T)
 *       and "above" otherwise; null without SplitByWaitTime
 *   start_time, end_time  the window, ISO-8601
 * Workflow: real-time is the task side of WS-RT over the workflow's tasks;
 *   cumulative is WS-CUM over events whose WorkflowSid is the workflow, with
 *   tasks_entered (workflow.entered events) in place of tasks_created.
 * Workers cumulative adds activity_durations: for each activity
 *   {sid, friendly_name, avg, min, max, total} over the stretches the
 *   selected workers spent in it, each clipped to the window (the current
 *   stretch runs to min(now, end)), in seconds rounded like the waits;
 *   avg = total / stretches.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

struct sim_tr;
struct sim_tr_queue;
struct sim_tr_worker;
struct sim_tr_workflow;

#define SIM_TR_STATS_MAX_SPLITS 16

struct sim_tr_stats_window {
	int64_t start_ms;
	int64_t end_ms;
	int64_t splits[SIM_TR_STATS_MAX_SPLITS]; /* SplitByWaitTime thresholds, seconds */
	size_t nsplits;
	bool split_requested;
};

/* Workers selection for the Workers statistics: NULL members select all. */
struct sim_tr_stats_workers {
	struct sim_tr_queue *queue;
	const char *friendly_name;
};

void sim_tr_stats_ws_realtime(struct sim_tr *tr, struct json_gen *g);
void sim_tr_stats_ws_cumulative(struct sim_tr *tr, const struct sim_tr_stats_window *w,
				struct json_gen *g);
void sim_tr_stats_queue_realtime(struct sim_tr *tr, struct sim_tr_queue *q, struct json_gen *g);
void sim_tr_stats_queue_cumulative(struct sim_tr *tr, struct sim_tr_queue *q,
				   const struct sim_tr_stats_window *w, struct json_gen *g);
void sim_tr_stats_workers_realtime(struct sim_tr *tr, const struct sim_tr_stats_workers *sel,
				   struct json_gen *g);
void sim_tr_stats_workers_cumulative(struct sim_tr *tr, const struct sim_tr_stats_workers *sel,
				     const struct sim_tr_stats_window *w, struct json_gen *g);
/* One worker's cumulative figures (reservations_* and activity_durations). */
void sim_tr_stats_worker_cumulative(struct sim_tr *tr, struct sim_tr_worker *wk,
				    const struct sim_tr_stats_window *w, struct json_gen *g);
void sim_tr_stats_workflow_realtime(struct sim_tr *tr, struct sim_tr_workflow *wf,
				    struct json_gen *g);
void sim_tr_stats_workflow_cumulative(struct sim_tr *tr, struct sim_tr_workflow *wf,
				      const struct sim_tr_stats_window *w, struct json_gen *g);
