/*
 * sim_clock: the emulator's virtual clock and its one-shot timers.
 *
 * now = wall clock (CLOCK_REALTIME, ms) + offset; POST /sim/clock only ever
 * grows the offset, so time never goes backwards except on reset.
 *
 * Timers live in a binary min-heap ordered by (deadline, sequence number), so
 * timers with equal deadlines fire in the order they were added. One
 * libevent timer is armed for the earliest deadline. Firing pops a due timer
 * before calling it, so a callback may add timers (which fire in the same
 * pass if already due) or cancel others; the popped timer's handle becomes
 * invalid when its callback starts, and it is freed when the callback returns.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "date.h"
#include "log.h"
#include "sim_clock.h"
#include "xmalloc.h"

struct sim_timer {
	struct sim_clock *clock;
	int64_t deadline_ms;
	uint64_t seq;
	size_t index; /* position in the heap */
	sim_timer_cb *cb;
	void *arg;
};

struct sim_clock {
	struct event_base *base;
	struct event *ev;
	int64_t offset_ms;
	uint64_t next_seq;
	struct sim_timer **heap;
	size_t n;
	size_t cap;
	bool firing;
};

static bool
sim_clock_before(const struct sim_timer *a, const struct sim_timer *b)
{
	if (a->deadline_ms != b->deadline_ms)
		return a->deadline_ms < b->deadline_ms;
	return a->seq < b->seq;
}

static void
sim_clock_swap(struct sim_clock *c, size_t i, size_t j)
{
	struct sim_timer *t = c->heap[i];

	c->heap[i] = c->heap[j];
	c->heap[j] = t;
	c->heap[i]->index = i;
	c->heap[j]->index = j;
}

static void
sim_clock_sift_up(struct sim_clock *c, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!sim_clock_before(c->heap[i], c->heap[parent]))
			break;
		sim_clock_swap(c, i, parent);
		i = parent;
	}
}

static void
sim_clock_sift_down(struct sim_clock *c, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1;
		size_t r = l + 1;
		size_t m = i;

		if (l < c->n && sim_clock_before(c->heap[l], c->heap[m]))
			m = l;
		if (r < c->n && sim_clock_before(c->heap[r], c->heap[m]))
			m = r;
		if (m == i)
			break;
		sim_clock_swap(c, i, m);
		i = m;
	}
}

/* Removes the timer at heap position i (does not free it). */
static void
sim_clock_remove_at(struct sim_clock *c, size_t i)
{
	c->n--;
	if (i != c->n) {
		c->heap[i] = c->heap[c->n];
		c->heap[i]->index = i;
		sim_clock_sift_down(c, i);
		sim_clock_sift_up(c, i);
	}
}

static int64_t
sim_clock_wall_ms(void)
{
	return date_now_ms();
}

/* Arms the libevent timer for the earliest deadline (or disarms it). */
static void
sim_clock_arm(struct sim_clock *c)
{
	struct timeval tv;
	int64_t delay;

	if (c->n == 0) {
		evtimer_del(c->ev);
		return;
	}
	delay = c->heap[0]->deadline_ms - sim_clock_now_ms(c);
	if (delay < 0)
		delay = 0;
	tv.tv_sec = (time_t)(delay / 1000);
	tv.tv_usec = (suseconds_t)((delay % 1000) * 1000);
	evtimer_add(c->ev, &tv);
}

/*
 * Fires every timer due by the time target_offset_ms makes "now", in
 * (deadline, seq) order, then re-arms. While a timer's callback runs, the
 * clock reads that timer's deadline (the offset steps forward through the
 * deadlines), so a timer added from a callback is scheduled relative to the
 * moment its parent fired, as if the time had really passed.
 */
static void
sim_clock_fire(struct sim_clock *c, int64_t target_offset_ms)
{
	if (c->firing) {
		if (target_offset_ms > c->offset_ms)
			c->offset_ms = target_offset_ms;
		return;
	}
	c->firing = true;
	while (c->n > 0 && c->heap[0]->deadline_ms <= sim_clock_wall_ms() + target_offset_ms) {
		struct sim_timer *t = c->heap[0];
		int64_t step = t->deadline_ms - sim_clock_wall_ms();

		if (step > c->offset_ms)
			c->offset_ms = step;
		sim_clock_remove_at(c, 0);
		t->cb(t->arg);
		free(t);
	}
	if (target_offset_ms > c->offset_ms)
		c->offset_ms = target_offset_ms;
	c->firing = false;
	sim_clock_arm(c);
}

static void
sim_clock_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sim_clock *c = arg;

	sim_clock_fire(c, c->offset_ms);
}

struct sim_clock *
sim_clock_new(struct event_base *base)
{
	struct sim_clock *c = xcalloc(1, sizeof(*c));

	c->base = base;
	c->ev = evtimer_new(base, sim_clock_event_cb, c);
	if (c->ev == NULL)
		fatalx("sim_clock: evtimer_new failed");
	return c;
}

static void
sim_clock_drop_all(struct sim_clock *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->heap[i]);
	c->n = 0;
}

void
sim_clock_free(struct sim_clock *c)
{
	if (c == NULL)
		return;
	if (c->ev != NULL)
		event_free(c->ev);
	sim_clock_drop_all(c);
	free(c->heap);
	free(c);
}

int64_t
sim_clock_now_ms(const struct sim_clock *c)
{
	return sim_clock_wall_ms() + c->offset_ms;
}

void
sim_clock_advance(struct sim_clock *c, int64_t ms)
{
	if (ms <= 0)
		return;
	sim_clock_fire(c, c->offset_ms + ms);
	log_info("clock advanced by %lld ms (offset %lld ms)", (long long)ms,
		 (long long)c->offset_ms);
}

void
sim_clock_reset(struct sim_clock *c)
{
	if (c->n > 0)
		log_debug("clock reset: %zu pending timers cancelled", c->n);
	sim_clock_drop_all(c);
	c->offset_ms = 0;
	sim_clock_arm(c);
}

int64_t
sim_clock_offset_ms(const struct sim_clock *c)
{
	return c->offset_ms;
}

struct sim_timer *
sim_timer_add(struct sim_clock *c, int64_t delay_ms, sim_timer_cb *cb, void *arg)
{
	struct sim_timer *t = xcalloc(1, sizeof(*t));

	if (delay_ms < 0)
		delay_ms = 0;
	t->clock = c;
	t->deadline_ms = sim_clock_now_ms(c) + delay_ms;
	t->seq = c->next_seq++;
	t->cb = cb;
	t->arg = arg;
	if (c->n == c->cap) {
		c->cap = c->cap > 0 ? c->cap * 2 : 64;
		c->heap = xreallocarray(c->heap, c->cap, sizeof(*c->heap));
	}
	t->index = c->n;
	c->heap[c->n++] = t;
	sim_clock_sift_up(c, t->index);
	if (!c->firing && c->heap[0] == t)
		sim_clock_arm(c);
	return t;
}

void
sim_timer_cancel(struct sim_timer *t)
{
	struct sim_clock *c;

	if (t == NULL)
		return;
	c = t->clock;
	sim_clock_remove_at(c, t->index);
	free(t);
	if (!c->firing)
		sim_clock_arm(c);
}
