/*
 * Fuzz target for common/signature. The input is split on '\n' into token,
 * URL, header and then "name=value" parameter lines; the bytes after a line
 * holding only "--" are a JSON body. Compute and verify must agree, a
 * damaged signature must not verify, and nothing may crash on garbage.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"
#include "signature.h"
#include "xmalloc.h"

#define FUZZ_SIGNATURE_MAX_INPUT (16 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next '\n'-terminated line as a NUL-terminated copy; NULL at the end. */
static char *
fuzz_signature_line(const char **p, const char *end)
{
	const char *nl;
	char *line;

	if (*p >= end)
		return NULL;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	if (nl == NULL)
		nl = end;
	line = xstrndup(*p, (size_t)(nl - *p));
	*p = nl < end ? nl + 1 : end;
	return line;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	const char *end = p + size;
	char *token = NULL;
	char *url = NULL;
	char *header = NULL;
	char *line = NULL;
	struct form *params = NULL;
	char sig[SIGNATURE_LEN + 1];
	char hex[65];
	const char *body = "";
	size_t body_len = 0;
	int r;

	if (size > FUZZ_SIGNATURE_MAX_INPUT)
		return 0;
	token = fuzz_signature_line(&p, end);
	url = fuzz_signature_line(&p, end);
	header = fuzz_signature_line(&p, end);
	params = form_new();
	while ((line = fuzz_signature_line(&p, end)) != NULL) {
		char *eq;

		if (strcmp(line, "--") == 0) {
			body = p;
			body_len = (size_t)(end - p);
			free_and_null(line);
			break;
		}
		eq = strchr(line, '=');
		if (eq != NULL)
			*eq++ = '\0';
		form_add(params, line, eq != NULL ? eq : "");
		free_and_null(line);
	}

	/* garbage in every position: must return, not crash */
	(void)signature_verify(token, url, params, header);
	(void)signature_verify(token, url, NULL, header);
	(void)signature_verify_body(token, url, body, body_len, header);
	signature_sha256_hex(body, body_len, hex);
	if (strlen(hex) != 64)
		abort();

	r = signature_compute(token, url, params, sig);
	if (token == NULL || token[0] == '\0' || url == NULL || url[0] == '\0') {
		if (r != -EINVAL)
			abort();
		goto out;
	}
	if (r != 0 || strlen(sig) != SIGNATURE_LEN)
		abort();
	if (strchr(url, '#') == NULL) {
		/* the URL as given is always one of the variants tried */
		r = signature_verify(token, url, params, sig);
		if (r != SIGNATURE_MATCH && r != -EINVAL)
			abort();
		if (r == SIGNATURE_MATCH) {
			sig[SIGNATURE_LEN / 2] = sig[SIGNATURE_LEN / 2] == 'A' ? 'B' : 'A';
			if (signature_verify(token, url, params, sig) != SIGNATURE_MISMATCH)
				abort();
		}
	}
out:
	form_free(params);
	free(header);
	free(url);
	free(token);
	return 0;
}
