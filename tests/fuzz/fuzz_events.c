/*
 * fuzz_events: the webhook path of trhubd on arbitrary input. The input is
 * "kind byte, target, NUL, signature, NUL, content type, NUL, body". The
 * request is checked as received (a forged signature must never pass), then
 * again with a correct signature over the same bytes, and whatever passes is
 * applied to a fresh model, which must stay consistent.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "form.h"
#include "model.h"
#include "signature.h"
#include "tr_event.h"
#include "xmalloc.h"

#define FUZZ_CHECK(x)            \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

#define FUZZ_TOKEN	"fuzz-auth-token"
#define FUZZ_PUBLIC_URL "https://hub.example.com:8443"
#define FUZZ_NOW_MS	1700000000000LL

/* Splits off the next NUL-terminated field; returns NULL when none is left. */
static const char *
fuzz_field(const char **p, const char *end)
{
	const char *start = *p;
	const char *nul = memchr(start, '\0', (size_t)(end - start));

	if (nul == NULL)
		return NULL;
	*p = nul + 1;
	return start;
}

static void
fuzz_apply(const struct tr_event *event)
{
	struct model *m = model_new(NULL);
	size_t tasks;
	int r;

	/* what the ingest accepted, the model applies: no error is left for it */
	r = model_apply_event(m, event);
	FUZZ_CHECK(r == MODEL_APPLIED || r == MODEL_STALE_EVENT || r == MODEL_IGNORED);
	/* the same event again is a duplicate and changes nothing */
	tasks = model_task_count(m);
	r = model_apply_event(m, event);
	FUZZ_CHECK(r != MODEL_APPLIED || model_task_count(m) == tasks);
	model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p;
	const char *end;
	char *copy = NULL;
	const char *target;
	const char *signature;
	const char *content_type;
	struct events_check_config cfg = {
		.auth_token = FUZZ_TOKEN,
		.public_url = FUZZ_PUBLIC_URL,
		.body_max_bytes = 16 * 1024,
		.max_age_ms = -1,
		.max_future_ms = -1,
	};
	struct events_request rq;
	struct events_webhook *webhook = NULL;
	struct form *parsed = NULL;
	char good[SIGNATURE_LEN + 1];
	char *url = NULL;
	int r;

	if (size < 1 || size > 64 * 1024)
		return 0;
	copy = xmemdup(data, size);
	p = copy + 1;
	end = copy + size;
	target = fuzz_field(&p, end);
	signature = fuzz_field(&p, end);
	content_type = fuzz_field(&p, end);
	if (target == NULL || signature == NULL || content_type == NULL)
		goto out;
	memset(&rq, 0, sizeof(rq));
	rq.kind = (copy[0] & 1) != 0 ? EVENTS_RECORDING : EVENTS_TASKROUTER;
	rq.target = target;
	rq.signature = signature[0] != '\0' ? signature : NULL;
	rq.content_type = content_type[0] != '\0' ? content_type : NULL;
	rq.body = p;
	rq.body_len = (size_t)(end - p);

	/* as received: a verdict, and a webhook only on success */
	r = events_check(&cfg, &rq, FUZZ_NOW_MS, &webhook, NULL);
	FUZZ_CHECK(r == EVENTS_OK || r == EVENTS_BAD_REQUEST || r == EVENTS_FORBIDDEN ||
		   r == EVENTS_TOO_LARGE);
	FUZZ_CHECK((r == EVENTS_OK) == (webhook != NULL));
	events_webhook_free(webhook);
	webhook = NULL;

	/* signed correctly: whatever passes goes to the model */
	if (form_parse(rq.body, rq.body_len, NULL, &parsed, NULL) != 0)
		goto out;
	url = xasprintf("%s%s", FUZZ_PUBLIC_URL, target);
	if (signature_compute(FUZZ_TOKEN, url, parsed, good) != 0)
		goto out;
	rq.signature = good;
	r = events_check(&cfg, &rq, FUZZ_NOW_MS, &webhook, NULL);
	FUZZ_CHECK((r == EVENTS_OK) == (webhook != NULL));
	if (r == EVENTS_OK && rq.kind == EVENTS_TASKROUTER)
		fuzz_apply(events_webhook_event(webhook));
out:
	events_webhook_free(webhook);
	form_free(parsed);
	free(url);
	free(copy);
	return 0;
}
