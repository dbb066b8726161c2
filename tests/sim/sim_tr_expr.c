/*
 * TaskRouter expression language: a recursive-descent parser into a small
 * tree and an evaluator over a JSON attributes object (grammar and semantics
 * in sim_tr_expr.h).
 *
 * Invariants: a parsed tree is immutable and owns all its strings; evaluation
 * allocates nothing, so it can run for every worker on every routing pass.
 */

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "json.h"
#include "sim_tr_expr.h"
#include "xmalloc.h"

#define SIM_TR_EXPR_MAX_DEPTH 64

enum sim_tr_expr_tok {
	SIM_TR_EXPR_TOK_END,
	SIM_TR_EXPR_TOK_LPAREN,
	SIM_TR_EXPR_TOK_RPAREN,
	SIM_TR_EXPR_TOK_LBRACK,
	SIM_TR_EXPR_TOK_RBRACK,
	SIM_TR_EXPR_TOK_COMMA,
	SIM_TR_EXPR_TOK_STRING,
	SIM_TR_EXPR_TOK_NUMBER,
	SIM_TR_EXPR_TOK_IDENT,
	SIM_TR_EXPR_TOK_OP, /* == = != < <= > >= && || ! */
};

enum sim_tr_expr_op {
	SIM_TR_EXPR_EQ,
	SIM_TR_EXPR_NE,
	SIM_TR_EXPR_LT,
	SIM_TR_EXPR_LE,
	SIM_TR_EXPR_GT,
	SIM_TR_EXPR_GE,
	SIM_TR_EXPR_HAS,
	SIM_TR_EXPR_CONTAINS,
	SIM_TR_EXPR_IN,
	SIM_TR_EXPR_NOT_IN,
};

enum sim_tr_expr_kind {
	SIM_TR_EXPR_OR,
	SIM_TR_EXPR_AND,
	SIM_TR_EXPR_NOT,
	SIM_TR_EXPR_CMP,
	SIM_TR_EXPR_BARE,
	/* operands */
	SIM_TR_EXPR_STRING,
	SIM_TR_EXPR_NUMBER,
	SIM_TR_EXPR_BOOL,
	SIM_TR_EXPR_NULL,
	SIM_TR_EXPR_ARRAY,
	SIM_TR_EXPR_PATH,
};

struct sim_tr_expr {
	enum sim_tr_expr_kind kind;
	enum sim_tr_expr_op op;	 /* CMP */
	struct sim_tr_expr *a;	 /* OR/AND/NOT/CMP/BARE */
	struct sim_tr_expr *b;	 /* OR/AND/CMP */
	char *s;		 /* STRING, PATH */
	double n;		 /* NUMBER */
	bool bval;		 /* BOOL */
	struct sim_tr_expr **el; /* ARRAY */
	size_t nel;
};

struct sim_tr_expr_parser {
	const char *text;
	size_t pos;
	enum sim_tr_expr_tok tok;
	size_t tok_start;
	struct buf val; /* decoded string, identifier or operator text */
	double num;
	int depth;
	char *error;
};

/* An evaluated operand. Arrays are either JSON arrays or literal lists. */
enum sim_tr_expr_vkind {
	SIM_TR_EXPR_V_MISSING,
	SIM_TR_EXPR_V_NULL,
	SIM_TR_EXPR_V_BOOL,
	SIM_TR_EXPR_V_NUM,
	SIM_TR_EXPR_V_STR,
	SIM_TR_EXPR_V_JARR,
	SIM_TR_EXPR_V_LARR,
	SIM_TR_EXPR_V_OBJ,
};

struct sim_tr_expr_val {
	enum sim_tr_expr_vkind kind;
	bool b;
	double n;
	const char *s;
	const struct json_value *jarr;
	const struct sim_tr_expr *larr;
};

struct sim_tr_expr_ctx {
	const struct json_value *attrs;
	sim_tr_expr_lookup_cb *lookup;
	void *arg;
};

static struct sim_tr_expr *sim_tr_expr_parse_or(struct sim_tr_expr_parser *p);

void
sim_tr_expr_free(struct sim_tr_expr *e)
{
	size_t i;

	if (e == NULL)
		return;
	sim_tr_expr_free(e->a);
	sim_tr_expr_free(e->b);
	for (i = 0; i < e->nel; i++)
		sim_tr_expr_free(e->el[i]);
	free(e->el);
	free(e->s);
	free(e);
}

static struct sim_tr_expr *
sim_tr_expr_node(enum sim_tr_expr_kind kind)
{
	struct sim_tr_expr *e = xcalloc(1, sizeof(*e));

	e->kind = kind;
	return e;
}

static void
sim_tr_expr_fail(struct sim_tr_expr_parser *p, const char *what)
{
	if (p->error != NULL)
		return;
	/* By position, not token: a lexing error leaves the token at END mid-text. */
	if (p->text[p->tok_start] == '\0')
		p->error = xasprintf("%s at end of expression", what);
	else
		p->error = xasprintf("%s at offset %zu", what, p->tok_start);
}

static bool
sim_tr_expr_is_ident_char(int c)
{
	return isalnum(c) || c == '_' || c == '.' || c == '$' || c == '-';
}

/* Reads the next token into p->tok (and p->val / p->num). */
static void
sim_tr_expr_next(struct sim_tr_expr_parser *p)
{
	const char *t = p->text;
	char *end = NULL;
	char q;

	buf_reset(&p->val);
	while (t[p->pos] != '\0' && isspace((unsigned char)t[p->pos]))
		p->pos++;
	p->tok_start = p->pos;
	switch (t[p->pos]) {
	case '\0':
		p->tok = SIM_TR_EXPR_TOK_END;
		return;
	case '(':
		p->tok = SIM_TR_EXPR_TOK_LPAREN;
		p->pos++;
		return;
	case ')':
		p->tok = SIM_TR_EXPR_TOK_RPAREN;
		p->pos++;
		return;
	case '[':
		p->tok = SIM_TR_EXPR_TOK_LBRACK;
		p->pos++;
		return;
	case ']':
		p->tok = SIM_TR_EXPR_TOK_RBRACK;
		p->pos++;
		return;
	case ',':
		p->tok = SIM_TR_EXPR_TOK_COMMA;
		p->pos++;
		return;
	case '"':
	case '\'':
		q = t[p->pos++];
		while (t[p->pos] != '\0' && t[p->pos] != q) {
			if (t[p->pos] == '\\' && t[p->pos + 1] != '\0')
				p->pos++;
			buf_putc(&p->val, t[p->pos++]);
		}
		if (t[p->pos] != q) {
			p->tok = SIM_TR_EXPR_TOK_END;
			sim_tr_expr_fail(p, "unterminated string");
			return;
		}
		p->pos++;
		p->tok = SIM_TR_EXPR_TOK_STRING;
		return;
	case '=':
	case '!':
	case '<':
	case '>':
		buf_putc(&p->val, t[p->pos++]);
		if (t[p->pos] == '=')
			buf_putc(&p->val, t[p->pos++]);
		p->tok = SIM_TR_EXPR_TOK_OP;
		return;
	case '&':
	case '|':
		if (t[p->pos + 1] == t[p->pos]) {
			buf_append(&p->val, t + p->pos, 2);
			p->pos += 2;
			p->tok = SIM_TR_EXPR_TOK_OP;
			return;
		}
		break;
	default:
		break;
	}
	if (isdigit((unsigned char)t[p->pos]) ||
	    (t[p->pos] == '-' && isdigit((unsigned char)t[p->pos + 1]))) {
		p->num = strtod(t + p->pos, &end);
		p->pos = (size_t)(end - t);
		p->tok = SIM_TR_EXPR_TOK_NUMBER;
		return;
	}
	if (isalpha((unsigned char)t[p->pos]) || t[p->pos] == '_' || t[p->pos] == '$') {
		while (sim_tr_expr_is_ident_char((unsigned char)t[p->pos]))
			buf_putc(&p->val, t[p->pos++]);
		p->tok = SIM_TR_EXPR_TOK_IDENT;
		return;
	}
	p->tok = SIM_TR_EXPR_TOK_END;
	p->tok_start = p->pos;
	sim_tr_expr_fail(p, "unexpected character");
}

static bool
sim_tr_expr_is_kw(const struct sim_tr_expr_parser *p, const char *kw)
{
	return p->tok == SIM_TR_EXPR_TOK_IDENT && strcasecmp(p->val.data, kw) == 0;
}

static bool
sim_tr_expr_is_op(const struct sim_tr_expr_parser *p, const char *op)
{
	return p->tok == SIM_TR_EXPR_TOK_OP && strcmp(p->val.data, op) == 0;
}

static struct sim_tr_expr *
sim_tr_expr_parse_operand(struct sim_tr_expr_parser *p)
{
	struct sim_tr_expr *e = NULL;
	struct sim_tr_expr *el = NULL;

	switch (p->tok) {
	case SIM_TR_EXPR_TOK_STRING:
		e = sim_tr_expr_node(SIM_TR_EXPR_STRING);
		e->s = xstrdup(p->val.data);
		sim_tr_expr_next(p);
		return e;
	case SIM_TR_EXPR_TOK_NUMBER:
		e = sim_tr_expr_node(SIM_TR_EXPR_NUMBER);
		e->n = p->num;
		sim_tr_expr_next(p);
		return e;
	case SIM_TR_EXPR_TOK_LBRACK:
		/* Lists nest through this function alone: bound them like parentheses. */
		if (p->depth >= SIM_TR_EXPR_MAX_DEPTH) {
			sim_tr_expr_fail(p, "expression nested too deeply");
			return NULL;
		}
		p->depth++;
		e = sim_tr_expr_node(SIM_TR_EXPR_ARRAY);
		sim_tr_expr_next(p);
		while (p->tok != SIM_TR_EXPR_TOK_RBRACK) {
			el = sim_tr_expr_parse_operand(p);
			if (el == NULL)
				goto fail;
			e->el = xreallocarray(e->el, e->nel + 1, sizeof(*e->el));
			e->el[e->nel++] = el;
			if (p->tok == SIM_TR_EXPR_TOK_COMMA)
				sim_tr_expr_next(p);
			else if (p->tok != SIM_TR_EXPR_TOK_RBRACK) {
				sim_tr_expr_fail(p, "expected ',' or ']'");
				goto fail;
			}
		}
		p->depth--;
		sim_tr_expr_next(p);
		return e;
	case SIM_TR_EXPR_TOK_IDENT:
		if (sim_tr_expr_is_kw(p, "true") || sim_tr_expr_is_kw(p, "false")) {
			e = sim_tr_expr_node(SIM_TR_EXPR_BOOL);
			e->bval = sim_tr_expr_is_kw(p, "true");
		} else if (sim_tr_expr_is_kw(p, "null")) {
			e = sim_tr_expr_node(SIM_TR_EXPR_NULL);
		} else if (sim_tr_expr_is_kw(p, "and") || sim_tr_expr_is_kw(p, "or") ||
			   sim_tr_expr_is_kw(p, "has") || sim_tr_expr_is_kw(p, "in") ||
			   sim_tr_expr_is_kw(p, "contains") || sim_tr_expr_is_kw(p, "not")) {
			sim_tr_expr_fail(p, "unexpected keyword");
			return NULL;
		} else {
			e = sim_tr_expr_node(SIM_TR_EXPR_PATH);
			e->s = xstrdup(p->val.data);
		}
		sim_tr_expr_next(p);
		return e;
	default:
		sim_tr_expr_fail(p, "expected a value");
		return NULL;
	}
fail:
	sim_tr_expr_free(e);
	return NULL;
}

/* Returns true and sets *op when the current token is a comparison operator. */
static bool
sim_tr_expr_take_op(struct sim_tr_expr_parser *p, enum sim_tr_expr_op *op)
{
	static const struct {
		const char *text;
		enum sim_tr_expr_op op;
	} ops[] = {
		{ "==", SIM_TR_EXPR_EQ }, { "=", SIM_TR_EXPR_EQ },  { "!=", SIM_TR_EXPR_NE },
		{ "<", SIM_TR_EXPR_LT },  { "<=", SIM_TR_EXPR_LE }, { ">", SIM_TR_EXPR_GT },
		{ ">=", SIM_TR_EXPR_GE },
	};
	size_t i;

	if (p->tok == SIM_TR_EXPR_TOK_OP) {
		for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
			if (strcmp(p->val.data, ops[i].text) == 0) {
				*op = ops[i].op;
				sim_tr_expr_next(p);
				return true;
			}
		}
		return false;
	}
	if (sim_tr_expr_is_kw(p, "has")) {
		*op = SIM_TR_EXPR_HAS;
	} else if (sim_tr_expr_is_kw(p, "contains")) {
		*op = SIM_TR_EXPR_CONTAINS;
	} else if (sim_tr_expr_is_kw(p, "in")) {
		*op = SIM_TR_EXPR_IN;
	} else if (sim_tr_expr_is_kw(p, "not")) {
		sim_tr_expr_next(p);
		if (!sim_tr_expr_is_kw(p, "in")) {
			sim_tr_expr_fail(p, "expected IN after NOT");
			return false;
		}
		*op = SIM_TR_EXPR_NOT_IN;
	} else {
		return false;
	}
	sim_tr_expr_next(p);
	return true;
}

static struct sim_tr_expr *
sim_tr_expr_parse_unary(struct sim_tr_expr_parser *p)
{
	struct sim_tr_expr *e = NULL;
	struct sim_tr_expr *left = NULL;
	enum sim_tr_expr_op op = SIM_TR_EXPR_EQ;

	if (++p->depth > SIM_TR_EXPR_MAX_DEPTH) {
		sim_tr_expr_fail(p, "expression nested too deeply");
		goto fail;
	}
	if (sim_tr_expr_is_kw(p, "not") || sim_tr_expr_is_op(p, "!")) {
		sim_tr_expr_next(p);
		e = sim_tr_expr_node(SIM_TR_EXPR_NOT);
		e->a = sim_tr_expr_parse_unary(p);
		if (e->a == NULL)
			goto fail;
		goto out;
	}
	if (p->tok == SIM_TR_EXPR_TOK_LPAREN) {
		sim_tr_expr_next(p);
		e = sim_tr_expr_parse_or(p);
		if (e == NULL)
			goto fail;
		if (p->tok != SIM_TR_EXPR_TOK_RPAREN) {
			sim_tr_expr_fail(p, "expected ')'");
			goto fail;
		}
		sim_tr_expr_next(p);
		goto out;
	}
	left = sim_tr_expr_parse_operand(p);
	if (left == NULL)
		goto fail;
	if (sim_tr_expr_take_op(p, &op)) {
		e = sim_tr_expr_node(SIM_TR_EXPR_CMP);
		e->op = op;
		e->a = left;
		left = NULL;
		e->b = sim_tr_expr_parse_operand(p);
		if (e->b == NULL)
			goto fail;
	} else {
		if (p->error != NULL)
			goto fail;
		e = sim_tr_expr_node(SIM_TR_EXPR_BARE);
		e->a = left;
		left = NULL;
	}
out:
	p->depth--;
	return e;
fail:
	sim_tr_expr_free(left);
	sim_tr_expr_free(e);
	return NULL;
}

static struct sim_tr_expr *
sim_tr_expr_parse_and(struct sim_tr_expr_parser *p)
{
	struct sim_tr_expr *e = NULL;
	struct sim_tr_expr *n = NULL;

	e = sim_tr_expr_parse_unary(p);
	while (e != NULL && (sim_tr_expr_is_kw(p, "and") || sim_tr_expr_is_op(p, "&&"))) {
		sim_tr_expr_next(p);
		n = sim_tr_expr_node(SIM_TR_EXPR_AND);
		n->a = e;
		n->b = sim_tr_expr_parse_unary(p);
		e = n;
		if (n->b == NULL) {
			sim_tr_expr_free(e);
			return NULL;
		}
	}
	return e;
}

static struct sim_tr_expr *
sim_tr_expr_parse_or(struct sim_tr_expr_parser *p)
{
	struct sim_tr_expr *e = NULL;
	struct sim_tr_expr *n = NULL;

	e = sim_tr_expr_parse_and(p);
	while (e != NULL && (sim_tr_expr_is_kw(p, "or") || sim_tr_expr_is_op(p, "||"))) {
		sim_tr_expr_next(p);
		n = sim_tr_expr_node(SIM_TR_EXPR_OR);
		n->a = e;
		n->b = sim_tr_expr_parse_and(p);
		e = n;
		if (n->b == NULL) {
			sim_tr_expr_free(e);
			return NULL;
		}
	}
	return e;
}

int
sim_tr_expr_parse(const char *text, struct sim_tr_expr **expr_out, char **cause_out)
{
	struct sim_tr_expr_parser p = { .text = text };
	struct sim_tr_expr *e = NULL;
	int r = 0;

	buf_init(&p.val);
	sim_tr_expr_next(&p);
	if (p.tok == SIM_TR_EXPR_TOK_END && p.error == NULL) {
		sim_tr_expr_fail(&p, "empty expression");
		goto fail;
	}
	e = sim_tr_expr_parse_or(&p);
	if (e == NULL)
		goto fail;
	if (p.tok != SIM_TR_EXPR_TOK_END || p.error != NULL) {
		sim_tr_expr_fail(&p, "unexpected token");
		goto fail;
	}
	*expr_out = e;
	e = NULL;
	goto out;
fail:
	r = -EINVAL;
	if (cause_out != NULL) {
		*cause_out = p.error;
		p.error = NULL;
	}
out:
	sim_tr_expr_free(e);
	free(p.error);
	buf_clear(&p.val);
	return r;
}

static void
sim_tr_expr_from_json(const struct json_value *v, struct sim_tr_expr_val *out)
{
	memset(out, 0, sizeof(*out));
	if (v == NULL) {
		out->kind = SIM_TR_EXPR_V_MISSING;
		return;
	}
	switch (json_type(v)) {
	case JSON_NULL:
		out->kind = SIM_TR_EXPR_V_NULL;
		break;
	case JSON_BOOL:
		out->kind = SIM_TR_EXPR_V_BOOL;
		out->b = json_bool(v);
		break;
	case JSON_NUMBER:
		out->kind = SIM_TR_EXPR_V_NUM;
		(void)json_double(v, &out->n); /* a number node always converts */
		break;
	case JSON_STRING:
		out->kind = SIM_TR_EXPR_V_STR;
		out->s = json_string(v);
		break;
	case JSON_ARRAY:
		out->kind = SIM_TR_EXPR_V_JARR;
		out->jarr = v;
		break;
	case JSON_OBJECT:
		out->kind = SIM_TR_EXPR_V_OBJ;
		break;
	}
}

/* Walks a dotted path through nested objects. */
static const struct json_value *
sim_tr_expr_walk(const struct json_value *attrs, const char *path)
{
	const struct json_value *v = attrs;
	char key[256];
	const char *dot = NULL;
	size_t len;

	while (v != NULL) {
		dot = strchr(path, '.');
		len = dot != NULL ? (size_t)(dot - path) : strlen(path);
		if (len == 0 || len >= sizeof(key))
			return NULL;
		memcpy(key, path, len);
		key[len] = '\0';
		v = json_get(v, key);
		if (dot == NULL)
			return v;
		path = dot + 1;
	}
	return NULL;
}

static void
sim_tr_expr_operand(const struct sim_tr_expr *e, const struct sim_tr_expr_ctx *ctx,
		    struct sim_tr_expr_val *out)
{
	const char *s = NULL;

	memset(out, 0, sizeof(*out));
	switch (e->kind) {
	case SIM_TR_EXPR_STRING:
		out->kind = SIM_TR_EXPR_V_STR;
		out->s = e->s;
		break;
	case SIM_TR_EXPR_NUMBER:
		out->kind = SIM_TR_EXPR_V_NUM;
		out->n = e->n;
		break;
	case SIM_TR_EXPR_BOOL:
		out->kind = SIM_TR_EXPR_V_BOOL;
		out->b = e->bval;
		break;
	case SIM_TR_EXPR_NULL:
		out->kind = SIM_TR_EXPR_V_NULL;
		break;
	case SIM_TR_EXPR_ARRAY:
		out->kind = SIM_TR_EXPR_V_LARR;
		out->larr = e;
		break;
	case SIM_TR_EXPR_PATH:
		sim_tr_expr_from_json(sim_tr_expr_walk(ctx->attrs, e->s), out);
		if (out->kind == SIM_TR_EXPR_V_MISSING && ctx->lookup != NULL) {
			s = ctx->lookup(ctx->arg, e->s);
			if (s != NULL) {
				out->kind = SIM_TR_EXPR_V_STR;
				out->s = s;
			}
		}
		break;
	default:
		out->kind = SIM_TR_EXPR_V_MISSING;
		break;
	}
}

static bool
sim_tr_expr_is_array(const struct sim_tr_expr_val *v)
{
	return v->kind == SIM_TR_EXPR_V_JARR || v->kind == SIM_TR_EXPR_V_LARR;
}

static size_t
sim_tr_expr_array_len(const struct sim_tr_expr_val *v)
{
	return v->kind == SIM_TR_EXPR_V_JARR ? json_array_len(v->jarr) : v->larr->nel;
}

static void
sim_tr_expr_array_at(const struct sim_tr_expr_val *v, size_t i, const struct sim_tr_expr_ctx *ctx,
		     struct sim_tr_expr_val *out)
{
	if (v->kind == SIM_TR_EXPR_V_JARR)
		sim_tr_expr_from_json(json_array_at(v->jarr, i), out);
	else
		sim_tr_expr_operand(v->larr->el[i], ctx, out);
}

/* Scalar ordering: -2 when incomparable, else -1/0/1. */
static int
sim_tr_expr_compare(const struct sim_tr_expr_val *a, const struct sim_tr_expr_val *b)
{
	int c;

	if (a->kind == SIM_TR_EXPR_V_NUM && b->kind == SIM_TR_EXPR_V_NUM)
		return a->n < b->n ? -1 : a->n > b->n ? 1 : 0;
	if (a->kind == SIM_TR_EXPR_V_STR && b->kind == SIM_TR_EXPR_V_STR) {
		c = strcmp(a->s, b->s);
		return c < 0 ? -1 : c > 0 ? 1 : 0;
	}
	if (a->kind == SIM_TR_EXPR_V_BOOL && b->kind == SIM_TR_EXPR_V_BOOL)
		return a->b == b->b ? 0 : a->b ? 1 : -1;
	if (a->kind == SIM_TR_EXPR_V_NULL && b->kind == SIM_TR_EXPR_V_NULL)
		return 0;
	return -2;
}

static bool
sim_tr_expr_member(const struct sim_tr_expr_val *needle, const struct sim_tr_expr_val *arr,
		   const struct sim_tr_expr_ctx *ctx)
{
	struct sim_tr_expr_val el;
	size_t i;
	size_t n = sim_tr_expr_array_len(arr);

	for (i = 0; i < n; i++) {
		sim_tr_expr_array_at(arr, i, ctx, &el);
		if (sim_tr_expr_compare(needle, &el) == 0)
			return true;
	}
	return false;
}

static bool
sim_tr_expr_in(const struct sim_tr_expr_val *a, const struct sim_tr_expr_val *b,
	       const struct sim_tr_expr_ctx *ctx)
{
	struct sim_tr_expr_val el;
	size_t i;
	size_t n;

	if (!sim_tr_expr_is_array(b)) {
		return sim_tr_expr_compare(a, b) == 0;
	}
	if (!sim_tr_expr_is_array(a))
		return sim_tr_expr_member(a, b, ctx);
	n = sim_tr_expr_array_len(a);
	for (i = 0; i < n; i++) {
		sim_tr_expr_array_at(a, i, ctx, &el);
		if (sim_tr_expr_member(&el, b, ctx))
			return true;
	}
	return false;
}

static bool
sim_tr_expr_truthy(const struct sim_tr_expr_val *v)
{
	switch (v->kind) {
	case SIM_TR_EXPR_V_BOOL:
		return v->b;
	case SIM_TR_EXPR_V_NUM:
		return v->n != 0;
	case SIM_TR_EXPR_V_STR:
		return v->s[0] != '\0';
	case SIM_TR_EXPR_V_JARR:
	case SIM_TR_EXPR_V_LARR:
		return sim_tr_expr_array_len(v) > 0;
	case SIM_TR_EXPR_V_OBJ:
		return true;
	default:
		return false;
	}
}

static bool
sim_tr_expr_cmp(const struct sim_tr_expr *e, const struct sim_tr_expr_ctx *ctx)
{
	struct sim_tr_expr_val a;
	struct sim_tr_expr_val b;
	int c;

	sim_tr_expr_operand(e->a, ctx, &a);
	sim_tr_expr_operand(e->b, ctx, &b);
	if (a.kind == SIM_TR_EXPR_V_MISSING || b.kind == SIM_TR_EXPR_V_MISSING)
		return e->op == SIM_TR_EXPR_NE || e->op == SIM_TR_EXPR_NOT_IN;
	switch (e->op) {
	case SIM_TR_EXPR_EQ:
		return sim_tr_expr_compare(&a, &b) == 0;
	case SIM_TR_EXPR_NE:
		return sim_tr_expr_compare(&a, &b) != 0;
	case SIM_TR_EXPR_LT:
		c = sim_tr_expr_compare(&a, &b);
		return c == -1;
	case SIM_TR_EXPR_LE:
		c = sim_tr_expr_compare(&a, &b);
		return c == -1 || c == 0;
	case SIM_TR_EXPR_GT:
		return sim_tr_expr_compare(&a, &b) == 1;
	case SIM_TR_EXPR_GE:
		c = sim_tr_expr_compare(&a, &b);
		return c == 1 || c == 0;
	case SIM_TR_EXPR_HAS:
		if (sim_tr_expr_is_array(&a))
			return sim_tr_expr_member(&b, &a, ctx);
		return sim_tr_expr_compare(&a, &b) == 0;
	case SIM_TR_EXPR_CONTAINS:
		if (sim_tr_expr_is_array(&a))
			return sim_tr_expr_member(&b, &a, ctx);
		if (a.kind == SIM_TR_EXPR_V_STR && b.kind == SIM_TR_EXPR_V_STR)
			return strstr(a.s, b.s) != NULL;
		return false;
	case SIM_TR_EXPR_IN:
		return sim_tr_expr_in(&a, &b, ctx);
	case SIM_TR_EXPR_NOT_IN:
		return !sim_tr_expr_in(&a, &b, ctx);
	}
	return false;
}

static bool
sim_tr_expr_eval_node(const struct sim_tr_expr *e, const struct sim_tr_expr_ctx *ctx)
{
	struct sim_tr_expr_val v;

	switch (e->kind) {
	case SIM_TR_EXPR_OR:
		return sim_tr_expr_eval_node(e->a, ctx) || sim_tr_expr_eval_node(e->b, ctx);
	case SIM_TR_EXPR_AND:
		return sim_tr_expr_eval_node(e->a, ctx) && sim_tr_expr_eval_node(e->b, ctx);
	case SIM_TR_EXPR_NOT:
		return !sim_tr_expr_eval_node(e->a, ctx);
	case SIM_TR_EXPR_CMP:
		return sim_tr_expr_cmp(e, ctx);
	case SIM_TR_EXPR_BARE:
		sim_tr_expr_operand(e->a, ctx, &v);
		return sim_tr_expr_truthy(&v);
	default:
		return false;
	}
}

bool
sim_tr_expr_eval(const struct sim_tr_expr *e, const struct json_value *attrs,
		 sim_tr_expr_lookup_cb *lookup, void *arg)
{
	struct sim_tr_expr_ctx ctx = { .attrs = attrs, .lookup = lookup, .arg = arg };

	if (e == NULL)
		return false;
	return sim_tr_expr_eval_node(e, &ctx);
}
