/*
 * doctor: trhubd --doctor (contract in doctor.h).
 *
 * Each check prints one line: "ok", "warn" or "FAIL", the thing checked, and
 * for a failure what is wrong, which setting holds it, where that setting
 * was read from (config_where) and how to fix it. Nothing secret is printed:
 * a credential is named by its key and origin, never by its value.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "doctor.h"
#include "form.h"
#include "http.h"
#include "http_sync.h"
#include "json.h"
#include "loopback.h"
#include "tls.h"
#include "twilio.h"
#include "xmalloc.h"

/* The path Twilio posts TaskRouter events to (server.c's route). */
#define DOCTOR_EVENT_PATH "/taskrouter_event"

/* Events trhubd's model needs; an events filter without one of them loses it. */
static const char *const doctor_needed_events[] = {
	"task.created",		 "task.updated",	 "task.canceled",
	"task.completed",	 "task.wrapup",		 "task.deleted",
	"reservation.created",	 "reservation.accepted", "reservation.rejected",
	"reservation.timeout",	 "reservation.canceled", "reservation.rescinded",
	"reservation.completed", "reservation.wrapup",	 "worker.activity.update",
};

struct doctor {
	const struct config *cfg;
	FILE *out;
	struct http_sync *http;
	struct twilio *tw; /* the client trhubd would use */
	bool failed;
	bool real_twilio; /* the configured TaskRouter is Twilio's own */
};

static void doctor_line(struct doctor *d, const char *level, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
doctor_line(struct doctor *d, const char *level, const char *what, const char *fmt, ...)
{
	va_list ap;

	if (strcmp(level, "FAIL") == 0)
		d->failed = true;
	(void)fprintf(d->out, "%-4s  %-16s ", level, what);
	va_start(ap, fmt);
	(void)vfprintf(d->out, fmt, ap);
	va_end(ap);
	(void)fputc('\n', d->out);
	(void)fflush(d->out);
}

/* "account_sid from environment TWILIO_ACCOUNT_SID". */
static char *
doctor_setting(const struct doctor *d, const char *key)
{
	return xasprintf("%s from %s", key, config_where(d->cfg, key));
}

/*
 * GETs url with tw's credentials. Returns the HTTP status (0 when no
 * response arrived; *transport_out then says why) and the parsed body in
 * *doc_out when it is JSON (caller frees).
 */
static long
doctor_get(struct doctor *d, const struct twilio *tw, const char *url, struct json_doc **doc_out,
	   char **transport_out)
{
	struct http_request_spec spec;
	struct http_response resp;
	long status = 0;

	*doc_out = NULL;
	*transport_out = NULL;
	http_response_init(&resp);
	twilio_request_spec_init(tw, &spec, HTTP_GET, url);
	(void)http_sync_perform(d->http, &spec, &resp);
	if (resp.outcome != HTTP_DONE) {
		*transport_out = xasprintf("%s%s%s", http_outcome_name(resp.outcome),
					   resp.error[0] != '\0' ? ": " : "", resp.error);
	} else {
		status = resp.status;
		if (json_parse(resp.body, resp.body_len, NULL, doc_out, NULL) < 0)
			*doc_out = NULL;
	}
	http_response_clear(&resp);
	return status;
}

/* A client with only the auth token, or only the API key pair (key_pair). */
static struct twilio *
doctor_client(const struct doctor *d, bool key_pair)
{
	struct twilio_client_config cc;
	struct twilio *tw = NULL;

	twilio_client_config_from(&cc, d->cfg);
	if (key_pair) {
		cc.auth_token = NULL;
	} else {
		cc.api_key = NULL;
		cc.api_secret = NULL;
	}
	if (twilio_new(&cc, &tw, NULL) < 0)
		return NULL;
	return tw;
}

/* Checks one credential by listing the account's conferences (one page). */
static bool
doctor_credential(struct doctor *d, bool key_pair)
{
	struct twilio *tw = doctor_client(d, key_pair);
	const char *what = key_pair ? "api key pair" : "auth token";
	struct json_doc *doc = NULL;
	char *transport = NULL;
	char *base = NULL;
	char *url = NULL;
	char *acct = xasprintf("%s (account_sid from %s)", d->cfg->account_sid,
			       config_where(d->cfg, "account_sid"));
	char *cred = NULL;
	struct form *q = form_new();
	long status;
	bool ok = false;

	if (key_pair)
		cred = xasprintf("api_key from %s and api_secret from %s",
				 config_where(d->cfg, "api_key"),
				 config_where(d->cfg, "api_secret"));
	else
		cred = doctor_setting(d, "auth_token");
	if (tw == NULL) {
		doctor_line(d, "FAIL", what, "%s cannot be used; run trhubd --check-config", cred);
		goto out;
	}
	base = twilio_url_conferences(tw);
	form_add(q, "PageSize", "1");
	url = twilio_url_with_query(base, q);
	status = doctor_get(d, tw, url, &doc, &transport);
	if (status == 0) {
		doctor_line(d, "FAIL", what,
			    "%s cannot be reached (%s); fix: check taskrouter_base_url, "
			    "api_base_url or twilio_base_url, and the network",
			    twilio_base(tw, TWILIO_HOST_API), transport);
	} else if (status == 401 || status == 403) {
		doctor_line(
			d, "FAIL", what,
			"rejected (HTTP %ld): %s is not a valid credential for account %s; fix: "
			"copy them again from the Twilio console (Account Info%s)",
			status, cred, acct, key_pair ? ", API keys" : "");
	} else if (status == 404) {
		doctor_line(d, "FAIL", what,
			    "accepted, but account %s is not the account of these credentials "
			    "(HTTP 404); fix: set account_sid to the Account SID shown next to "
			    "them",
			    acct);
	} else if (status >= 200 && status < 300) {
		doctor_line(d, "ok", what, "accepted for account %s (%s)", acct, cred);
		ok = true;
	} else {
		doctor_line(d, "FAIL", what, "unexpected HTTP %ld from %s; fix: try again later",
			    status, twilio_base(tw, TWILIO_HOST_API));
	}
out:
	json_doc_free(doc);
	free(transport);
	free(url);
	free(base);
	free(cred);
	free(acct);
	form_free(q);
	twilio_free(tw);
	return ok;
}

/* "WSabc "name", WSdef "other"" from a list document's array key. */
static char *
doctor_names(const struct json_doc *doc, const char *key)
{
	const struct json_value *arr = doc != NULL ? json_get(json_doc_root(doc), key) : NULL;
	struct buf b;
	size_t i;

	buf_init(&b);
	for (i = 0; json_is_array(arr) && i < json_array_len(arr) && i < 10; i++) {
		const struct json_value *it = json_array_at(arr, i);
		const char *sid = json_string(json_get(it, "sid"));
		const char *name = json_string(json_get(it, "friendly_name"));

		if (name == NULL)
			name = json_string(json_get(it, "unique_name"));
		buf_printf(&b, "%s%s \"%s\"", i > 0 ? ", " : "", sid != NULL ? sid : "?",
			   name != NULL ? name : "");
	}
	if (b.len == 0)
		buf_puts(&b, "none");
	return buf_steal(&b, NULL);
}

/*
 * Fetches one resource named by a SID setting. On 200 returns the document
 * (caller frees); on 404 names the setting and lists what exists at
 * list_url (list_key). what is the line's label, noun what the SID names.
 */
static struct json_doc *
doctor_resource(struct doctor *d, const char *what, const char *noun, const char *key,
		const char *sid, const char *url, const char *list_url, const char *list_key)
{
	struct json_doc *doc = NULL;
	struct json_doc *list = NULL;
	char *transport = NULL;
	char *setting = doctor_setting(d, key);
	char *names = NULL;
	long status = doctor_get(d, d->tw, url, &doc, &transport);

	if (status >= 200 && status < 300) {
		const char *name = json_string(json_get(json_doc_root(doc), "friendly_name"));

		if (name == NULL)
			name = json_string(json_get(json_doc_root(doc), "unique_name"));
		doctor_line(d, "ok", what, "%s \"%s\" (%s)", sid, name != NULL ? name : "",
			    setting);
		goto out;
	}
	json_doc_free(doc);
	doc = NULL;
	if (status == 404) {
		free(transport);
		transport = NULL;
		(void)doctor_get(d, d->tw, list_url, &list, &transport);
		names = doctor_names(list, list_key);
		doctor_line(d, "FAIL", what,
			    "%s not found: %s names no %s of account %s; the account has: %s; "
			    "fix: set %s to one of them",
			    sid, setting, noun, d->cfg->account_sid, names, key);
	} else if (status == 0) {
		doctor_line(d, "FAIL", what, "cannot be reached (%s)", transport);
	} else {
		doctor_line(d, "FAIL", what, "%s: unexpected HTTP %ld; fix: check %s", sid, status,
			    setting);
	}
out:
	json_doc_free(list);
	free(names);
	free(transport);
	free(setting);
	return doc;
}

/* The workspace's Event Callback URL and events filter against what trhubd serves. */
static void
doctor_callback(struct doctor *d, const struct json_doc *ws)
{
	const char *url = json_string(json_get(json_doc_root(ws), "event_callback_url"));
	const char *filter = json_string(json_get(json_doc_root(ws), "events_filter"));
	char *want = xasprintf("%s%s", d->cfg->public_url, DOCTOR_EVENT_PATH);
	char *pub = doctor_setting(d, "public_url");
	struct buf missing;
	size_t i;

	buf_init(&missing);
	if (url == NULL || url[0] == '\0')
		doctor_line(d, "FAIL", "event callback",
			    "the workspace sends its events nowhere (Event Callback URL empty); "
			    "fix: set it to %s in the console (TaskRouter, workspace settings), "
			    "or set workspace_callback = manage",
			    want);
	else if (strcmp(url, want) != 0)
		doctor_line(d, "FAIL", "event callback",
			    "the workspace sends its events to %s, not to this trhubd (%s, "
			    "%s); fix: set the Event Callback URL to %s, or set "
			    "workspace_callback = manage",
			    url, want, pub, want);
	else
		doctor_line(d, "ok", "event callback", "%s", url);
	if (filter != NULL && filter[0] != '\0') {
		for (i = 0; i < sizeof(doctor_needed_events) / sizeof(doctor_needed_events[0]);
		     i++) {
			const char *ev = doctor_needed_events[i];
			const char *p = strstr(filter, ev);
			size_t n = strlen(ev);

			while (p != NULL && ((p != filter && p[-1] != ',' && p[-1] != ' ') ||
					     (p[n] != '\0' && p[n] != ',' && p[n] != ' ')))
				p = strstr(p + 1, ev);
			if (p == NULL)
				buf_printf(&missing, "%s%s", missing.len > 0 ? ", " : "", ev);
		}
		if (missing.len > 0)
			doctor_line(d, "FAIL", "events filter",
				    "the workspace's events filter leaves out %s; trhubd will "
				    "miss them; fix: clear the filter, or add them",
				    missing.data);
		else
			doctor_line(d, "ok", "events filter", "every event trhubd needs");
	} else {
		doctor_line(d, "ok", "events filter", "none (every event)");
	}
	buf_clear(&missing);
	free(pub);
	free(want);
}

/* A public_url Twilio's servers cannot reach, when the Twilio is the real one. */
static void
doctor_public_url(struct doctor *d)
{
	const char *u = d->cfg->public_url;
	const char *start = strstr(u, "://");
	char *pub = doctor_setting(d, "public_url");
	char *host = NULL;
	bool is_private = false;

	start = start != NULL ? start + 3 : u;
	host = xstrndup(start, strcspn(start, start[0] == '[' ? "]" : ":/"));
	if (host[0] == '[')
		memmove(host, host + 1, strlen(host));
	if (http_url_is_loopback(u) || loopback_is_host(host) || strncmp(host, "10.", 3) == 0 ||
	    strncmp(host, "192.168.", 8) == 0)
		is_private = true;
	for (int i = 16; i <= 31 && !is_private; i++) {
		char prefix[16];

		(void)snprintf(prefix, sizeof(prefix), "172.%d.", i);
		is_private = strncmp(host, prefix, strlen(prefix)) == 0;
	}
	if (is_private && d->real_twilio)
		doctor_line(d, "FAIL", "public url",
			    "%s (%s) is not reachable from Twilio; fix: set public_url to the "
			    "https URL of this host (or of its reverse proxy) on the internet",
			    u, pub);
	else
		doctor_line(d, is_private ? "warn" : "ok", "public url", "%s (%s)%s", u, pub,
			    is_private ? "; fine for trhub-sim, Twilio could not reach it" : "");
	free(host);
	free(pub);
}

int
doctor_config_failed(const char *cause, FILE *out)
{
	(void)fprintf(out, "%-4s  %-16s %s; fix it and run trhubd --doctor again\n", "FAIL",
		      "configuration", cause != NULL ? cause : "cannot be loaded");
	(void)fprintf(out, "not ready: fix the line above\n");
	return DOCTOR_NOT_READY;
}

/* tls_cert and tls_key: they load, match, and the certificate is in its validity period. */
static void
doctor_tls(struct doctor *d)
{
	struct tls_info info;
	char shown[800];
	char *cause = NULL;
	time_t now = time(NULL);
	long long days = 0;

	if (d->cfg->tls_cert == NULL) {
		doctor_line(d, "ok", "tls",
			    "not served by trhubd (plain HTTP; a reverse proxy "
			    "may add it)");
		return;
	}
	if (tls_check_files(d->cfg->tls_cert, d->cfg->tls_key, &info, &cause) < 0) {
		doctor_line(d, "FAIL", "tls", "%s", cause);
		free(cause);
		return;
	}
	tls_info_format(&info, shown, sizeof(shown));
	days = (long long)(info.not_after - now) / 86400;
	if (info.not_after < now)
		doctor_line(d, "FAIL", "tls",
			    "the certificate in %s expired: %s; fix: renew it, then systemctl "
			    "reload trhubd",
			    d->cfg->tls_cert, shown);
	else if (info.not_before > now)
		doctor_line(d, "FAIL", "tls", "the certificate in %s is not valid yet: %s",
			    d->cfg->tls_cert, shown);
	else if (days < 14)
		doctor_line(d, "warn", "tls", "key matches; expires in %lld days: %s", days, shown);
	else
		doctor_line(d, "ok", "tls",
			    "key matches; %d certificate(s), expires in %lld days: %s",
			    info.chain_len, days, shown);
}

int
doctor_run(const struct config *cfg, FILE *out)
{
	struct doctor d;
	struct json_doc *ws = NULL;
	struct json_doc *doc = NULL;
	char *cause = NULL;
	char *url = NULL;
	char *list = NULL;
	bool creds = true;

	memset(&d, 0, sizeof(d));
	d.cfg = cfg;
	d.out = out;
	doctor_line(&d, "ok", "configuration", "%s", cfg->path != NULL ? cfg->path : "(no file)");
	doctor_tls(&d);
	d.http = http_sync_new();
	{
		struct twilio_client_config cc;

		twilio_client_config_from(&cc, cfg);
		if (twilio_new(&cc, &d.tw, &cause) < 0) {
			doctor_line(&d, "FAIL", "twilio client", "%s", cause);
			goto out;
		}
	}
	d.real_twilio =
		strcmp(twilio_base(d.tw, TWILIO_HOST_TASKROUTER), TWILIO_TASKROUTER_BASE) == 0;
	doctor_line(&d, "ok", "twilio", "%s%s", twilio_base(d.tw, TWILIO_HOST_TASKROUTER),
		    d.real_twilio ? "" : " (not Twilio's own: an emulator or a proxy)");
	if (cfg->auth_token != NULL && cfg->auth_token[0] != '\0')
		creds = doctor_credential(&d, false) && creds;
	if (cfg->api_key != NULL && cfg->api_key[0] != '\0')
		creds = doctor_credential(&d, true) && creds;
	if (!creds) {
		doctor_line(&d, "skip", "resources",
			    "the SIDs cannot be checked without working "
			    "credentials");
		goto out;
	}

	url = twilio_url_workspace(d.tw, cfg->workspace_sid);
	list = xasprintf("%s/v1/Workspaces?PageSize=50", twilio_base(d.tw, TWILIO_HOST_TASKROUTER));
	ws = doctor_resource(&d, "workspace", "workspace", "workspace_sid", cfg->workspace_sid, url,
			     list, "workspaces");
	free(url);
	free(list);
	url = list = NULL;
	if (ws != NULL && cfg->workflow_sid != NULL && cfg->workflow_sid[0] != '\0') {
		char *base = twilio_url_workflows(d.tw, cfg->workspace_sid);

		url = xasprintf("%s/%s", base, cfg->workflow_sid);
		list = xasprintf("%s?PageSize=50", base);
		doc = doctor_resource(&d, "workflow", "workflow in that workspace", "workflow_sid",
				      cfg->workflow_sid, url, list, "workflows");
		json_doc_free(doc);
		doc = NULL;
		free(base);
		free(url);
		free(list);
		url = list = NULL;
	}
	if (ws != NULL)
		doctor_callback(&d, ws);
	url = twilio_url_sync_service(d.tw, cfg->sync_service_sid);
	list = xasprintf("%s/v1/Services?PageSize=50", twilio_base(d.tw, TWILIO_HOST_SYNC));
	doc = doctor_resource(&d, "sync service", "Sync service", "sync_service_sid",
			      cfg->sync_service_sid, url, list, "services");
	json_doc_free(doc);
	doctor_public_url(&d);
out:
	(void)fprintf(out, "%s\n",
		      d.failed ? "not ready: fix the FAIL lines above" : "ready: trhubd can start");
	json_doc_free(ws);
	free(url);
	free(list);
	free(cause);
	twilio_free(d.tw);
	http_sync_free(d.http);
	return d.failed ? DOCTOR_NOT_READY : DOCTOR_READY;
}
