/*
 * Fuzz target for tests/sim/sim_tr_expr.c, the emulator's TaskRouter
 * expression parser: TaskQueue target_workers, workflow filter expressions
 * and the TargetWorkersExpression / EvaluateTaskAttributes query parameters
 * all reach it with client-supplied text. Arbitrary bytes are parsed; a
 * refused input must come with a message and no tree, and an accepted one is
 * evaluated against a few fixed attribute objects (with and without the
 * worker-field lookup), which must never crash and must be deterministic.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "sim_tr_expr.h"
#include "xmalloc.h"

#define FUZZ_SIM_EXPR_MAX_INPUT 4096

/* Aborts (a fuzzer-visible crash) when cond is false; works under -DNDEBUG too. */
#define FUZZ_SIM_EXPR_CHECK(cond) \
	do {                      \
		if (!(cond))      \
			abort();  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_sim_expr_attrs[] = {
	"{}",
	"{\"skills\":[\"support\",\"sales\"],\"team\":\"blue\",\"level\":3,\"vip\":true,"
	"\"nothing\":null,\"langs\":[\"en\",[\"de\"]],\"ratio\":-0.5,"
	"\"routing\":{\"skills\":[\"billing\"],\"location\":{\"city\":\"Berlin\"}}}",
	"{\"a\":{\"b\":{\"c\":{\"d\":[1,2,{\"e\":\"f\"}]}}},\"\":\"empty key\",\"x\":\"\"}",
};

static const char *
fuzz_sim_expr_lookup(void *arg, const char *name)
{
	if (strcmp(name, "activity_name") == 0)
		return "Available";
	if (strcmp(name, "sid") == 0)
		return "WK00000000000000000000000000000000";
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct json_doc *docs[sizeof(fuzz_sim_expr_attrs) / sizeof(fuzz_sim_expr_attrs[0])];
	struct sim_tr_expr *e = NULL;
	char *text = NULL;
	char *cause = NULL;
	size_t i;
	bool a;
	bool b;
	int r;

	if (size > FUZZ_SIM_EXPR_MAX_INPUT)
		return 0;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		if (docs[i] == NULL) {
			r = json_parse(fuzz_sim_expr_attrs[i], strlen(fuzz_sim_expr_attrs[i]), NULL,
				       &docs[i], NULL);
			FUZZ_SIM_EXPR_CHECK(r == 0);
		}
	}
	/* The parser takes C strings: an embedded NUL ends the expression. */
	text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	r = sim_tr_expr_parse(text, &e, &cause);
	if (r != 0) {
		FUZZ_SIM_EXPR_CHECK(r == -EINVAL && e == NULL && cause != NULL);
		goto out;
	}
	FUZZ_SIM_EXPR_CHECK(e != NULL && cause == NULL);
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		a = sim_tr_expr_eval(e, json_doc_root(docs[i]), NULL, NULL);
		b = sim_tr_expr_eval(e, json_doc_root(docs[i]), NULL, NULL);
		FUZZ_SIM_EXPR_CHECK(a == b);
		(void)sim_tr_expr_eval(e, json_doc_root(docs[i]), fuzz_sim_expr_lookup, NULL);
	}
	(void)sim_tr_expr_eval(e, NULL, fuzz_sim_expr_lookup, NULL);
	(void)sim_tr_expr_eval(e, NULL, NULL, NULL);
out:
	sim_tr_expr_free(e);
	free(cause);
	free(text);
	return 0;
}
