/*
 * feed: the event feed's health (contract in feed.h).
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "date.h"
#include "feed.h"
#include "form.h"
#include "http.h"
#include "http_async.h"
#include "json.h"
#include "log.h"
#include "model.h"
#include "twilio.h"
#include "xmalloc.h"

/* Where Twilio posts TaskRouter events (server.c's route). */
#define FEED_EVENT_PATH "/taskrouter_event"
/* The silence timer runs at least this often. */
#define FEED_CHECK_MAX_MS 30000

struct feed {
	struct event_base *base;
	struct http_async *http;
	const struct twilio *tw;
	const struct model *model;
	struct feed_options o;
	feed_warning_cb *cb;
	void *arg;
	char *want_url; /* public_url + FEED_EVENT_PATH */
	struct http_async_request *req;
	bool setting; /* req is the manage POST, not a read */
	struct event *timer;
	int64_t last_event_ms;
	char *text[FEED_WARN_COUNT];
};

/* Raises (text non-NULL) or clears a warning, telling the daemon only on a change. */
static void
feed_set(struct feed *f, enum feed_warning which, const char *text)
{
	if (text == NULL && f->text[which] == NULL)
		return;
	if (text != NULL && f->text[which] != NULL && strcmp(text, f->text[which]) == 0)
		return;
	free(f->text[which]);
	f->text[which] = text != NULL ? xstrdup(text) : NULL;
	f->cb(which, f->text[which], f->arg);
}

const char *
feed_warning_name(enum feed_warning which)
{
	return which == FEED_WARN_CALLBACK ? "callback" : "eventsSilent";
}

const char *
feed_warning_text(const struct feed *f, enum feed_warning which)
{
	return f != NULL ? f->text[which] : NULL;
}

static void feed_read_callback(struct feed *f);

static void
feed_read_done_cb(const struct http_response *resp, void *arg)
{
	struct feed *f = arg;
	struct json_doc *doc = NULL;
	const char *url = NULL;
	char *text = NULL;
	bool was_set = f->setting;

	f->req = NULL;
	f->setting = false;
	if (resp->outcome != HTTP_DONE || resp->status < 200 || resp->status >= 300 ||
	    json_parse(resp->body, resp->body_len, NULL, &doc, NULL) < 0) {
		/* The reconciliation and statistics report Twilio being unreachable. */
		log_warning("feed: cannot %s the workspace's Event Callback URL (%s, HTTP %ld)",
			    was_set ? "set" : "read", http_outcome_name(resp->outcome),
			    resp->status);
		goto out;
	}
	url = json_string(json_get(json_doc_root(doc), "event_callback_url"));
	if (was_set && url != NULL && strcmp(url, f->want_url) == 0)
		log_notice("workspace Event Callback URL set to %s (workspace_callback = manage)",
			   url);
	if (url == NULL || url[0] == '\0')
		text = xasprintf("the workspace's Event Callback URL is empty: no event reaches "
				 "trhubd; set it to %s, or set workspace_callback = manage",
				 f->want_url);
	else if (strcmp(url, f->want_url) != 0)
		text = xasprintf("the workspace's Event Callback URL is %s, not %s: its events go "
				 "elsewhere; set it to %s, or set workspace_callback = manage",
				 url, f->want_url, f->want_url);
	feed_set(f, FEED_WARN_CALLBACK, text);
out:
	free(text);
	json_doc_free(doc);
}

static void
feed_request(struct feed *f, enum http_method method, const char *body)
{
	struct http_request_spec spec;
	char *url = twilio_url_workspace(f->tw, f->o.workspace_sid);
	char *cause = NULL;

	if (url == NULL)
		return;
	twilio_request_spec_init(f->tw, &spec, method, url);
	if (body != NULL) {
		spec.body = body;
		spec.body_len = strlen(body);
	}
	f->setting = method == HTTP_POST;
	f->req = http_async_start(f->http, &spec, feed_read_done_cb, f, &cause);
	if (f->req == NULL) {
		log_warning("feed: cannot start a workspace request: %s",
			    cause != NULL ? cause : "?");
		f->setting = false;
	}
	free(cause);
	free(url);
}

static void
feed_read_callback(struct feed *f)
{
	if (f->req == NULL)
		feed_request(f, HTTP_GET, NULL);
}

void
feed_check_callback(struct feed *f)
{
	if (f != NULL)
		feed_read_callback(f);
}

static void
feed_silence_cb(evutil_socket_t fd, short what, void *arg)
{
	struct feed *f = arg;
	int64_t quiet_ms = date_monotonic_ms() - f->last_event_ms;
	char *text = NULL;

	if (model_task_count(f->model) > 0 && quiet_ms >= (int64_t)f->o.silence_warn_s * 1000) {
		text = xasprintf("no TaskRouter event for %lld s while %zu tasks are open; check "
				 "the workspace's Event Callback URL (trhubd --doctor) and that "
				 "Twilio reaches %s",
				 (long long)(quiet_ms / 1000), model_task_count(f->model),
				 f->want_url);
		if (f->text[FEED_WARN_SILENCE] == NULL)
			log_warning("%s", text);
		feed_set(f, FEED_WARN_SILENCE, text);
		free(text);
	}
}

void
feed_event_seen(struct feed *f, int64_t now_ms)
{
	if (f == NULL)
		return;
	f->last_event_ms = now_ms;
	if (f->text[FEED_WARN_SILENCE] != NULL) {
		log_notice("TaskRouter events arrive again");
		feed_set(f, FEED_WARN_SILENCE, NULL);
	}
}

struct feed *
feed_new(struct event_base *base, struct http_async *http, const struct twilio *tw,
	 const struct model *model, const struct feed_options *o, feed_warning_cb *cb, void *arg)
{
	struct feed *f = xcalloc(1, sizeof(*f));

	f->base = base;
	f->http = http;
	f->tw = tw;
	f->model = model;
	f->o = *o;
	f->cb = cb;
	f->arg = arg;
	f->want_url = xasprintf("%s%s", o->public_url, FEED_EVENT_PATH);
	f->last_event_ms = date_monotonic_ms();
	return f;
}

void
feed_start(struct feed *f)
{
	struct timeval tv;
	int64_t period_ms;
	struct form *body = NULL;
	char *encoded = NULL;

	if (f == NULL)
		return;
	f->last_event_ms = date_monotonic_ms();
	if (f->o.manage_callback && f->req == NULL) {
		body = form_new();
		form_add(body, "EventCallbackUrl", f->want_url);
		encoded = form_encode(body);
		feed_request(f, HTTP_POST, encoded);
		free(encoded);
		form_free(body);
	} else {
		feed_read_callback(f);
	}
	if (f->o.silence_warn_s > 0 && f->timer == NULL) {
		period_ms = (int64_t)f->o.silence_warn_s * 1000 / 4;
		if (period_ms > FEED_CHECK_MAX_MS)
			period_ms = FEED_CHECK_MAX_MS;
		if (period_ms < 250)
			period_ms = 250;
		tv.tv_sec = (time_t)(period_ms / 1000);
		tv.tv_usec = (suseconds_t)(period_ms % 1000) * 1000;
		f->timer = event_new(f->base, -1, EV_PERSIST, feed_silence_cb, f);
		if (f->timer == NULL || event_add(f->timer, &tv) < 0)
			log_warning("feed: cannot arm the events silence check");
	}
}

void
feed_free(struct feed *f)
{
	if (f == NULL)
		return;
	if (f->req != NULL)
		http_async_cancel(f->req);
	if (f->timer != NULL)
		event_free(f->timer);
	for (int i = 0; i < FEED_WARN_COUNT; i++)
		free(f->text[i]);
	free(f->want_url);
	free(f);
}
