#pragma once

/*
 * TaskRouter expressions (TaskQueue target_workers, workflow filter
 * expressions, Workers?TargetWorkersExpression, Tasks?EvaluateTaskAttributes):
 *
 *   expr    := or
 *   or      := and { (OR | "||") and }
 *   and     := unary { (AND | "&&") unary }
 *   unary   := (NOT | "!") unary | "(" expr ")" | cmp
 *   cmp     := operand [ op operand ]
 *   op      := == | = | != | < | <= | > | >= | HAS | CONTAINS | IN | NOT IN
 *   operand := "string" | 'string' | number | true | false | null | [ operand, ... ]
 *            | name { . name }          (an attribute path)
 *
 * Keywords are case-insensitive. A name is looked up in the attributes JSON
 * object (dotted paths walk nested objects); names not found there are offered
 * to an optional lookup callback (worker fields such as activity_name). A
 * missing attribute makes every comparison false except "!=", which is true.
 * A bare operand is true when it is boolean true, a non-zero number or a
 * non-empty string/array.
 *
 * HAS: left is an array containing right, or a string equal to right.
 * IN / NOT IN: left (or any element of a left array) is in the right array.
 * CONTAINS: substring for strings, membership for arrays.
 */

#include "json.h"

struct sim_tr_expr;

/* Returns a borrowed string for a name absent from the attributes, or NULL. */
typedef const char *sim_tr_expr_lookup_cb(void *arg, const char *name);

/*
 * Parses text. On success *expr_out is a new expression the caller frees with
 * sim_tr_expr_free. On a syntax error returns -EINVAL and an allocated
 * message in *cause_out ("unexpected 'AND' at offset 12").
 */
int sim_tr_expr_parse(const char *text, struct sim_tr_expr **expr_out, char **cause_out);
void sim_tr_expr_free(struct sim_tr_expr *e);
/*
 * Evaluates e against attrs (a JSON object, or NULL for none). lookup and arg
 * may be NULL. Never fails: type mismatches are false.
 */
bool sim_tr_expr_eval(const struct sim_tr_expr *e, const struct json_value *attrs,
		      sim_tr_expr_lookup_cb *lookup, void *arg);
