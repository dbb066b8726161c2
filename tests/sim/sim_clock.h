#pragma once

/*
 * The emulator's clock: wall-clock milliseconds plus an offset that
 * POST /sim/clock can advance, and one-shot timers on that clock (a binary
 * heap; one libevent timer armed for the earliest deadline). Advancing the
 * clock fires every timer that became due, in deadline order (ties in the
 * order they were added), so tests never sleep for reservation timeouts or
 * the 5-minute task removal.
 */

#include <stdint.h>

#include <event2/event.h>

struct sim_clock;
struct sim_timer;

/* Called once when the timer fires; the timer is freed right after. */
typedef void sim_timer_cb(void *arg);

/* base is borrowed. */
struct sim_clock *sim_clock_new(struct event_base *base);
/* Frees pending timers without calling them. NULL-safe. */
void sim_clock_free(struct sim_clock *c);
/* Unix time in milliseconds as the emulator sees it. */
int64_t sim_clock_now_ms(const struct sim_clock *c);
/* Moves the clock forward by ms (>= 0) and fires due timers synchronously. */
void sim_clock_advance(struct sim_clock *c, int64_t ms);
/* Drops the offset (reset). Pending timers are cancelled. */
void sim_clock_reset(struct sim_clock *c);
int64_t sim_clock_offset_ms(const struct sim_clock *c);

/*
 * Adds a one-shot timer firing delay_ms (>= 0) from now. The handle is valid
 * until the callback starts or sim_timer_cancel is called; owners must forget
 * it in their callback.
 */
struct sim_timer *sim_timer_add(struct sim_clock *c, int64_t delay_ms, sim_timer_cb *cb, void *arg);
/* Cancels a pending timer. NULL-safe. */
void sim_timer_cancel(struct sim_timer *t);
