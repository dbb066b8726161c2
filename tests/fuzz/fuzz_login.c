/*
 * fuzz_login: the body of POST /login (auth_login_body_parse, daemon/auth.c),
 * a JSON object or a form, from anyone. The input is one byte choosing the
 * Content-Type (bit 0: application/json, else a form; bit 1: none at all,
 * which reads as a form), then the body. No input may crash or leak; a
 * refusal says why; an accepted body's fields are exactly what the JSON
 * object's string members (or the form's values) of the same names are.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "form.h"
#include "json.h"
#include "xmalloc.h"

#define FUZZ_CHECK(x)            \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

#define FUZZ_MAX_BYTES 8192

static const char *const fuzz_keys[3] = { "username", "password", "wallboardToken" };

/* got (NULL: absent) equals want (NULL: absent). */
static void
fuzz_same(const char *got, const char *want)
{
	FUZZ_CHECK((got == NULL) == (want == NULL));
	if (got != NULL)
		FUZZ_CHECK(strcmp(got, want) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *ctype = NULL;
	const char *why = NULL;
	char *text = NULL;
	char *v[3] = { NULL, NULL, NULL };
	size_t len = 0;
	bool json = false;
	int r = 0;

	if (size < 1 || size > FUZZ_MAX_BYTES)
		return 0;
	json = (data[0] & 1) != 0 && (data[0] & 2) == 0;
	if ((data[0] & 2) == 0)
		ctype = json ? "application/json; charset=utf-8"
			     : "application/x-www-form-urlencoded";
	len = size - 1;
	/* A private copy with no terminator after it, as the evbuffer's is. */
	text = xmalloc(len > 0 ? len : 1);
	memcpy(text, data + 1, len);

	r = auth_login_body_parse(ctype, text, len, &v[0], &v[1], &v[2], &why);
	if (r < 0) {
		FUZZ_CHECK(r == -1);
		FUZZ_CHECK(why != NULL && why[0] != '\0');
		FUZZ_CHECK(v[0] == NULL && v[1] == NULL && v[2] == NULL);
	} else if (json) {
		struct json_doc *doc = NULL;
		const struct json_value *obj = NULL;

		FUZZ_CHECK(r == 0);
		FUZZ_CHECK(json_parse(text, len, NULL, &doc, NULL) == 0);
		obj = json_doc_root(doc);
		FUZZ_CHECK(json_is_object(obj));
		for (size_t i = 0; i < 3; i++) {
			const char *want = NULL;

			if (json_get_string(obj, fuzz_keys[i], &want) < 0)
				want = NULL;
			fuzz_same(v[i], want);
		}
		json_doc_free(doc);
	} else {
		struct form *f = NULL;

		FUZZ_CHECK(r == 0);
		FUZZ_CHECK(form_parse(text, len, NULL, &f, NULL) == 0);
		for (size_t i = 0; i < 3; i++)
			fuzz_same(v[i], form_get(f, fuzz_keys[i]));
		form_free(f);
	}
	free(v[0]);
	xfree_secret(v[1]);
	xfree_secret(v[2]);
	free(text);
	return 0;
}
