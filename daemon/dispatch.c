/*
 * dispatch.c: the gate between decoded requests and the handler.
 *
 * The rules, in order, for each request of a connection:
 *   1. a line that did not decode is answered with its error;
 *   2. ping and logout are the host's and are answered here;
 *   3. before login, only login passes: anything else is auth_required;
 *   4. an op the handler does not serve is unknown_op;
 *   5. everything else goes to the handler, one request at a time.
 * Answers from the handler are encoded on the handler's thread (so the
 * loop spends no time on them) and posted to the connection's worker;
 * an answer given inside submit() itself (on the loop's own thread) is
 * handed straight back to the caller instead (dispatch_submitting).
 */
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "audit.h"
#include "codec.h"
#include "conf.h"
#include "conn.h"
#include "dispatch.h"
#include "hhost.h"
#include "log.h"
#include "server.h"
#include "throttle.h"

/* Reply values nest at most this deep (the protocol's own limit). */
#define DISPATCH_MAX_DEPTH MSG_MAX_DEPTH

/*
 * The call this loop thread is submitting right now, and whether the
 * handler answered it before submit() returned (a refusal, or an answer
 * it had at hand).  Such an answer is written by the caller in this very
 * turn of the loop: no trip through the done list and the wakeup.
 */
static _Thread_local struct dcall *dispatch_submitting;
static _Thread_local int dispatch_answered_inline;

static void
dcall_format_id(struct dcall *call)
{
	const struct msg_id *id = &call->req.id;
	char digits[24], *p = digits + sizeof(digits), *out = call->reqid;
	uint64_t v;

	if (id->kind == MSG_ID_INT) {
		/* Every request has one: cheaper than snprintf. */
		v = id->num < 0 ? -(uint64_t)id->num : (uint64_t)id->num;
		do {
			*--p = (char)('0' + v % 10);
			v /= 10;
		} while (v != 0);
		if (id->num < 0)
			*out++ = '-';
		memcpy(out, p, (size_t)(digits + sizeof(digits) - p));
		out[digits + sizeof(digits) - p] = '\0';
	} else if (id->kind == MSG_ID_STR)
		snprintf(call->reqid, sizeof(call->reqid), "\"%s\"", id->str);
	else
		snprintf(call->reqid, sizeof(call->reqid), "null");
}

/*
 * A zeroed record: one the worker kept (its request was wiped when it was
 * freed, so only the rest needs zeroing), or a new one.  A zeroed struct
 * msg_request is an initialised one.
 */
static struct dcall *
dcall_alloc(struct conn *c, uint64_t t0_ns)
{
	struct worker *w = c->w;
	struct dcall *call;
	size_t req_end = offsetof(struct dcall, req) + sizeof(call->req);

	if ((call = w->spare) != NULL) {
		w->spare = call->next;
		w->nspare--;
		memset(call, 0, offsetof(struct dcall, req));
		memset((char *)call + req_end, 0, sizeof(*call) - req_end);
	} else if ((call = calloc(1, sizeof(*call))) == NULL) {
		return NULL;
	}
	call->conn = c;
	call->w = w;
	call->t0_ns = t0_ns;
	return call;
}

void
dcall_spare_drain(struct worker *w)
{
	struct dcall *call;

	while ((call = w->spare) != NULL) {
		w->spare = call->next;
		free(call);
	}
	w->nspare = 0;
}

struct dcall *
dcall_new_error(struct conn *c, enum msg_err code, const char *message)
{
	struct dcall *call;

	if ((call = dcall_alloc(c, uv_hrtime())) == NULL)
		return NULL;
	call->err = code;
	snprintf(call->errmsg, sizeof(call->errmsg), "%s", message);
	dcall_format_id(call);
	return call;
}

/* An extension op's JSON arguments as a secd_value tree. */
static int
dcall_ext_value(json_t *j, const char *key, struct secd_value *out, int depth)
{
	struct secd_value *items;
	const char *k;
	json_t *v;
	size_t i, n;

	out->key = key;
	switch (json_typeof(j)) {
	case JSON_NULL:
		out->type = SECD_V_NULL;
		return 0;
	case JSON_TRUE:
	case JSON_FALSE:
		out->type = SECD_V_BOOL;
		out->u.b = json_is_true(j);
		return 0;
	case JSON_INTEGER:
		out->type = SECD_V_INT;
		out->u.i = json_integer_value(j);
		return 0;
	case JSON_STRING:
		out->type = SECD_V_STR;
		out->u.s = json_string_value(j);
		return 0;
	case JSON_OBJECT:
	case JSON_ARRAY:
		if (depth >= DISPATCH_MAX_DEPTH)
			return -1;
		n = json_is_object(j) ? json_object_size(j) : json_array_size(j);
		out->type = json_is_object(j) ? SECD_V_OBJECT : SECD_V_ARRAY;
		out->u.list.items = NULL;
		out->u.list.n = 0;
		if (n == 0)
			return 0;
		if ((items = calloc(n, sizeof(*items))) == NULL)
			return -1;
		out->u.list.items = items;
		out->u.list.n = n;
		i = 0;
		if (json_is_object(j)) {
			json_object_foreach(j, k, v)
				if (dcall_ext_value(v, k, &items[i++],
				    depth + 1) != 0)
					return -1;
		} else {
			json_array_foreach(j, i, v)
				if (dcall_ext_value(v, NULL, &items[i],
				    depth + 1) != 0)
					return -1;
		}
		return 0;
	default:
		/* Reals never decode; anything else is a codec bug. */
		return -1;
	}
}

/* The tree's arrays are ours (dcall_ext_value made them); the const in
   struct secd_value is the handler's promise, not ours. */
static void
dcall_ext_free(const struct secd_value *v)
{
	size_t i;

	if (v->type != SECD_V_OBJECT && v->type != SECD_V_ARRAY)
		return;
	for (i = 0; i < v->u.list.n; i++)
		dcall_ext_free(&v->u.list.items[i]);
	free((void *)(uintptr_t)v->u.list.items);
}

/* Point the handler's view of the call at the decoded request. */
static int
dcall_build_args(struct dcall *call)
{
	struct msg_request *r = &call->req;
	struct secd_value *a = call->args;
	size_t n = 0;

	switch (r->op) {
	case MSG_OP_LOGIN:
		a[n++] = (struct secd_value)SECD_STR("account", r->u.login.account);
		if (r->u.login.password_len > 0)
			a[n++] = (struct secd_value)SECD_STR("password",
			    r->u.login.password);
		break;
	case MSG_OP_TRANSFER:
		a[n++] = (struct secd_value)SECD_STR("to", r->u.transfer.to);
		a[n++] = (struct secd_value)SECD_INT("amount",
		    r->u.transfer.amount);
		a[n++] = (struct secd_value)SECD_STR("idempotency_key",
		    r->u.transfer.idempotency_key);
		if (r->u.transfer.memo[0] != '\0')
			a[n++] = (struct secd_value)SECD_STR("memo",
			    r->u.transfer.memo);
		break;
	case MSG_OP_HISTORY:
		if (r->u.history.limit != 0)
			a[n++] = (struct secd_value)SECD_INT("limit",
			    (int64_t)r->u.history.limit);
		if (r->u.history.before != 0)
			a[n++] = (struct secd_value)SECD_INT("before",
			    r->u.history.before);
		break;
	case MSG_OP_EXT:
		if ((call->ext = calloc(1, sizeof(*call->ext))) == NULL ||
		    dcall_ext_value(r->args, NULL, call->ext, 1) != 0)
			return -1;
		call->pub.args = call->ext->u.list.items;
		call->pub.nargs = call->ext->u.list.n;
		return 0;
	default:
		break;
	}
	call->pub.args = a;
	call->pub.nargs = n;
	return 0;
}

struct dcall *
dcall_new(struct conn *c, const char *line, size_t len, uint64_t t0_ns)
{
	struct dcall *call;
	struct codec_error cerr;

	if ((call = dcall_alloc(c, t0_ns)) == NULL)
		return NULL;
	if (codec_decode_request(line, len, &call->req, &cerr) != 0) {
		call->err = cerr.code;
		call->req.id = cerr.id;
		snprintf(call->errmsg, sizeof(call->errmsg), "%s", cerr.message);
	}
	call->op = call->req.op;
	dcall_format_id(call);
	return call;
}

void
dcall_free(struct dcall *call)
{
	if (call == NULL)
		return;
	msg_request_clear(&call->req);
	if (call->ext != NULL) {
		dcall_ext_free(call->ext);
		free(call->ext);
	}
	free(call->reply);
	free(call->login_account);
	if (call->w->nspare < WORKER_SPARE_DCALLS) {
		/* msg_request_clear wiped the request; the rest is zeroed
		   when the record is taken again. */
		call->next = call->w->spare;
		call->w->spare = call;
		call->w->nspare++;
		return;
	}
	free(call);
}

/* Keep an encoded answer in the call; on failure, answer internal. */
static void
dcall_set_reply(struct dcall *call, struct codec_buf *b, int rc)
{
	if (rc != 0) {
		codec_buf_reset(b);
		if (codec_encode_error(b, &call->req.id, MSG_ERR_INTERNAL,
		    "the server could not encode its answer") != 0) {
			/* Only memory can fail here; a bare null-id error
			   line of fixed text still goes out. */
			codec_buf_free(b);
			call->answer_err = MSG_ERR_INTERNAL;
			call->reply = strdup("{\"id\":null,\"ok\":false,"
			    "\"error\":{\"code\":\"internal\",\"message\":"
			    "\"out of memory\"}}\n");
			call->reply_len = call->reply != NULL ?
			    strlen(call->reply) : 0;
			return;
		}
	}
	call->reply = b->data;
	call->reply_len = b->len;
}

static void
dcall_answer_error(struct dcall *call, enum msg_err code, const char *msg,
    int64_t retry_after)
{
	struct codec_buf b;
	struct msg_reply rep;
	int rc;

	call->answer_err = code;
	codec_buf_init(&b);
	msg_reply_init(&rep, &call->req.id, call->req.op);
	rep.error.code = code;
	snprintf(rep.error.message, sizeof(rep.error.message), "%s", msg);
	rep.error.retry_after = retry_after > 0 ? retry_after : 0;
	rc = codec_encode_reply(&b, &rep);
	msg_reply_clear(&rep);
	dcall_set_reply(call, &b, rc);
}

static void
dcall_answer_ok(struct dcall *call, enum msg_op op)
{
	struct codec_buf b;
	struct msg_reply rep;
	int rc;

	codec_buf_init(&b);
	msg_reply_init(&rep, &call->req.id, op);
	rc = codec_encode_reply(&b, &rep);
	msg_reply_clear(&rep);
	dcall_set_reply(call, &b, rc);
}

/*
 * The audit record of a login or a transfer (docs/security.md), answered
 * with outcome.  Any thread: only what never changes while the call is
 * being answered is read from the connection.  Never the password.
 */
static void
dispatch_audit(struct dcall *call, enum msg_err outcome)
{
	struct conn *c = call->conn;
	struct audit_rec r;

	if (c->w->srv->audit == NULL || (call->req.op != MSG_OP_LOGIN &&
	    call->req.op != MSG_OP_TRANSFER))
		return;
	memset(&r, 0, sizeof(r));
	r.peer = c->peer_str;
	r.cert_sha256 = c->cert_sha256[0] != '\0' ? c->cert_sha256 : NULL;
	r.request_id = call->reqid;
	r.outcome = outcome == MSG_ERR_NONE ? "ok" : msg_err_name(outcome);
	if (call->req.op == MSG_OP_LOGIN) {
		r.event = "login";
		r.account = call->req.u.login.account;
	} else {
		r.event = "transfer";
		r.account = c->account;
		r.to = call->req.u.transfer.to;
		r.has_amount = 1;
		r.amount = call->req.u.transfer.amount;
	}
	(void)audit_append(c->w->srv->audit, &r);	/* counts its losses */
}

/* The clock of the login throttle: monotonic milliseconds, any thread. */
static uint64_t
dispatch_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Hold a login to auth.methods before anything else looks at it: the
 * password is there exactly when the methods use one, and a method that
 * needs a certificate has one verified in this connection's own full
 * handshake (conn.c leaves cert_sha256 empty on a resumed session).  A
 * refusal answers the call and logs the session out, as any failed login
 * does.  Return 0 to go on.
 */
static int
dispatch_login_shape(struct conn *c, struct dcall *call)
{
	enum conf_auth_methods m = c->w->srv->conf->auth.methods;
	const struct msg_login *l = &call->req.u.login;

	if (m != CONF_AUTH_CERTIFICATE && l->password_len == 0)
		dcall_answer_error(call, MSG_ERR_BAD_REQUEST,
		    "password: required by this server", 0);
	else if (m == CONF_AUTH_CERTIFICATE && l->password_len > 0)
		dcall_answer_error(call, MSG_ERR_BAD_REQUEST, "password: not "
		    "accepted: this server logs in by client certificate", 0);
	else if (m != CONF_AUTH_PASSWORD && c->cert_sha256[0] == '\0')
		dcall_answer_error(call, MSG_ERR_AUTH_FAILED, "this server "
		    "needs a client certificate, verified in a full handshake "
		    "of this connection, to log in", 0);
	else
		return 0;
	dispatch_audit(call, call->answer_err);
	conn_set_account(c, NULL);
	return -1;
}

/*
 * Ask the login throttle (throttle.h) whether this login may go to the
 * handler; a refusal answers it and logs the session out.  Return 0 to go
 * on, with the login counted in flight until host_done().
 */
static int
dispatch_login_throttle(struct conn *c, struct dcall *call)
{
	struct server *srv = c->w->srv;
	int64_t retry;

	switch (throttle_begin(srv->throttle, call->req.u.login.account,
	    (const struct sockaddr *)&c->peer, dispatch_now_ms(), &retry)) {
	case THROTTLE_OK:
		call->throttled = 1;
		return 0;
	case THROTTLE_LOCKED:
		atomic_fetch_add(&c->w->stats.logins_locked, 1);
		dcall_answer_error(call, MSG_ERR_LOCKED,
		    "too many failed logins; account locked", retry);
		break;
	case THROTTLE_RATE:
		atomic_fetch_add(&c->w->stats.logins_rate_limited, 1);
		dcall_answer_error(call, MSG_ERR_RATE_LIMITED,
		    "too many login attempts from this address", retry);
		break;
	}
	dispatch_audit(call, call->answer_err);
	conn_set_account(c, NULL);
	return -1;
}

enum dispatch_result
dispatch_call(struct conn *c, struct dcall *call)
{
	struct hhost *hh = c->w->srv->handler;
	char msg[128];

	if (call->err != MSG_ERR_NONE) {
		dcall_answer_error(call, call->err, call->errmsg, 0);
		return DISPATCH_ANSWERED;
	}
	switch (call->req.op) {
	case MSG_OP_PING:
		dcall_answer_ok(call, MSG_OP_PING);
		return DISPATCH_ANSWERED;
	case MSG_OP_LOGOUT:
		conn_set_account(c, NULL);
		dcall_answer_ok(call, MSG_OP_LOGOUT);
		return DISPATCH_ANSWERED;
	default:
		break;
	}
	if (c->account == NULL && call->req.op != MSG_OP_LOGIN) {
		dcall_answer_error(call, MSG_ERR_AUTH_REQUIRED,
		    "log in first", 0);
		return DISPATCH_ANSWERED;
	}
	if (!hhost_serves_op(hh, call->req.op, call->req.op_name)) {
		snprintf(msg, sizeof(msg), "this server has no op '%s'",
		    call->req.op_name);
		dcall_answer_error(call, MSG_ERR_UNKNOWN_OP, msg, 0);
		return DISPATCH_ANSWERED;
	}
	if (call->req.op == MSG_OP_LOGIN && (dispatch_login_shape(c, call) != 0 ||
	    dispatch_login_throttle(c, call) != 0))
		return DISPATCH_ANSWERED;
	if (dcall_build_args(call) != 0) {
		dcall_answer_error(call, MSG_ERR_INTERNAL, "out of memory", 0);
		return DISPATCH_ANSWERED;
	}
	call->pub.op = call->req.op_name;
	call->pub.account = c->account;
	call->peer.address = c->peer_str;
	call->peer.cert_sha256 = c->cert_sha256[0] != '\0' ? c->cert_sha256 :
	    NULL;
	call->peer.cert_subject = c->cert_sha256[0] != '\0' ?
	    c->cert_subject : NULL;
	call->pub.peer = &call->peer;
	call->pub.request_id = call->reqid;
	call->is_login = call->req.op == MSG_OP_LOGIN;
	c->inflight = call;
	dispatch_submitting = call;
	dispatch_answered_inline = 0;
	hhost_submit(hh, &call->pub);
	dispatch_submitting = NULL;
	if (dispatch_answered_inline) {
		c->inflight = NULL;
		dispatch_apply(c, call);
		return DISPATCH_ANSWERED;
	}
	return DISPATCH_SUBMITTED;
}

/*
 * A login's answer sets the session's account; a refused login logs the
 * session out (docs/protocol.md), so that requests pipelined behind a
 * failed switch of account never run as the previous one.
 */
void
dispatch_apply(struct conn *c, struct dcall *call)
{
	if (call->is_login)
		conn_set_account(c, call->login_account);
}

int
dispatch_make_hello(struct server *srv)
{
	struct msg_hello h;
	struct codec_buf b;
	const char *const *ops = srv->handler->h->ops;
	size_t i;

	msg_hello_init(&h, (int64_t)srv->conf->limits.max_message_bytes);
	h.nops = 0;
	msg_hello_add_op(&h, "ping");
	if (hhost_serves(srv->handler, "login")) {
		msg_hello_add_op(&h, "login");
		msg_hello_add_op(&h, "logout");
	}
	for (i = 0; ops[i] != NULL; i++)
		if (strcmp(ops[i], "login") != 0 &&
		    msg_hello_add_op(&h, ops[i]) != 0)
			log_warnx("handler %s: op '%s' is not a valid op name "
			    "or is listed twice; not announced",
			    srv->handler->h->name, ops[i]);
	codec_buf_init(&b);
	if (codec_encode_hello(&b, &h) != 0) {
		codec_buf_free(&b);
		return -1;
	}
	srv->hello = b.data;
	srv->hello_len = b.len;
	return 0;
}

/*
 * The host functions.  They run on whatever thread the handler answers
 * from; they touch only the call, never the connection.  A call is
 * answered exactly once (secd/handler.h): after its answer it belongs to
 * the worker again and may already be freed, so a second answer cannot be
 * detected safely and is not tried.
 */

/*
 * The end of a login that throttle_begin() let through: count a failure
 * (wrong credentials only: an unavailable ledger proves nothing), or
 * clear the name on success, and log a lockout this failure started.
 */
static void
host_throttle_end(struct dcall *call, enum msg_err outcome)
{
	struct server *srv = call->w->srv;
	enum throttle_outcome o = THROTTLE_NEUTRAL;
	int64_t name_lock, addr_lock;

	if (outcome == MSG_ERR_NONE && call->login_account != NULL)
		o = THROTTLE_SUCCESS;
	else if (outcome == MSG_ERR_AUTH_FAILED)
		o = THROTTLE_FAILURE;
	throttle_end(srv->throttle, call->req.u.login.account,
	    (const struct sockaddr *)&call->conn->peer, o, dispatch_now_ms(),
	    &name_lock, &addr_lock);
	/* (No srv->conf here: this is the handler's thread; see server.h.) */
	if (name_lock > 0)
		log_warnx("login: account %s locked for %llds after repeated "
		    "failed logins, the last from %s",
		    call->req.u.login.account, (long long)name_lock,
		    call->conn->peer_str);
	if (addr_lock > 0)
		log_warnx("login: address of %s refused for %llds after "
		    "repeated failed logins", call->conn->peer_str,
		    (long long)addr_lock);
}

/*
 * The call is answered with outcome (MSG_ERR_NONE: ok): settle the
 * throttle, wipe the request (the password) and post it.  The connection
 * outlives a call at the handler (conn.h), so call->conn is still there;
 * only what never changes after accept is read from it on this thread.
 */
static void
host_done(struct dcall *call, enum msg_err outcome)
{
	if (call->answer_err == MSG_ERR_NONE)	/* what the metrics count */
		call->answer_err = outcome;
	if (call->throttled)
		host_throttle_end(call, outcome);
	dispatch_audit(call, outcome);
	msg_request_clear(&call->req);
	call->pub.args = NULL;
	call->pub.nargs = 0;
	if (call == dispatch_submitting) {
		dispatch_answered_inline = 1;
		return;
	}
	worker_post_done(call->w, call);
}

static json_t *
host_json_value(const struct secd_value *v, int depth)
{
	json_t *j, *item;
	size_t i;

	switch (v->type) {
	case SECD_V_NULL:
		return json_null();
	case SECD_V_BOOL:
		return json_boolean(v->u.b);
	case SECD_V_INT:
		if (!msg_int_valid(v->u.i))
			return NULL;
		return json_integer(v->u.i);
	case SECD_V_STR:
		return v->u.s != NULL ? json_string(v->u.s) : NULL;
	case SECD_V_OBJECT:
	case SECD_V_ARRAY:
		if (depth >= DISPATCH_MAX_DEPTH)
			return NULL;
		j = v->type == SECD_V_OBJECT ? json_object() : json_array();
		if (j == NULL)
			return NULL;
		for (i = 0; i < v->u.list.n; i++) {
			const struct secd_value *it = &v->u.list.items[i];

			if ((item = host_json_value(it, depth + 1)) == NULL)
				goto fail;
			if (v->type == SECD_V_OBJECT) {
				if (it->key == NULL || json_object_set_new(j,
				    it->key, item) != 0)
					goto fail;
			} else if (json_array_append_new(j, item) != 0) {
				goto fail;
			}
		}
		return j;
	fail:
		json_decref(j);
		return NULL;
	}
	return NULL;
}

/* Copy string field f into dst (size dsize); 0, or -1 if it is no fit. */
static int
host_typed_str(const struct secd_value *f, char *dst, size_t dsize)
{
	size_t len;

	if (f->type != SECD_V_STR || f->u.s == NULL ||
	    (len = strlen(f->u.s)) >= dsize)
		return -1;
	memcpy(dst, f->u.s, len + 1);
	return 0;
}

/*
 * The hot replies (balance, transfer) straight into their typed form,
 * with no trip through JSON: 0 when fields are exactly the op's fields,
 * each once and of its type (the encoder then checks their values); -1
 * for anything else, which takes the general path in host_reply.
 */
static int
host_typed_reply(enum msg_op op, const struct secd_value *fields, size_t n,
    struct msg_reply *rep)
{
	const struct secd_value *f;
	unsigned seen = 0, bit;
	size_t i;
	int rc;

	if ((op != MSG_OP_BALANCE && op != MSG_OP_TRANSFER) || n != 3)
		return -1;
	for (i = 0; i < n; i++) {
		f = &fields[i];
		if (f->key == NULL)
			return -1;
		if (strcmp(f->key, "balance") == 0) {
			bit = 1;
			rc = f->type == SECD_V_INT ? 0 : -1;
			if (op == MSG_OP_BALANCE)
				rep->u.balance.balance = f->u.i;
			else
				rep->u.transfer.balance = f->u.i;
		} else if (strcmp(f->key, "currency") == 0) {
			bit = 2;
			rc = host_typed_str(f, op == MSG_OP_BALANCE ?
			    rep->u.balance.currency : rep->u.transfer.currency,
			    sizeof(rep->u.balance.currency));
		} else if (op == MSG_OP_BALANCE &&
		    strcmp(f->key, "account") == 0) {
			bit = 4;
			rc = host_typed_str(f, rep->u.balance.account,
			    sizeof(rep->u.balance.account));
		} else if (op == MSG_OP_TRANSFER &&
		    strcmp(f->key, "transfer_id") == 0) {
			bit = 4;
			rc = f->type == SECD_V_INT ? 0 : -1;
			rep->u.transfer.transfer_id = f->u.i;
		} else {
			return -1;
		}
		if (rc != 0 || (seen & bit))
			return -1;
		seen |= bit;
	}
	return seen == 7 ? 0 : -1;
}

static void
host_reply(struct secd_call *pc, const struct secd_value *fields, size_t n)
{
	struct dcall *call = (struct dcall *)pc;
	struct secd_value top;
	struct codec_buf b;
	struct codec_error cerr;
	struct msg_reply rep;
	int rc = -1;

	/* The hot replies first, without JSON; anything odd falls through
	   to the general path below, which also says what is wrong. */
	codec_buf_init(&b);
	msg_reply_init(&rep, &call->req.id, call->req.op);
	if (host_typed_reply(call->req.op, fields, n, &rep) == 0 &&
	    codec_encode_reply(&b, &rep) == 0) {
		msg_reply_clear(&rep);
		dcall_set_reply(call, &b, 0);
		host_done(call, MSG_ERR_NONE);
		return;
	}
	msg_reply_clear(&rep);
	codec_buf_free(&b);

	cerr.message[0] = '\0';
	top.key = NULL;
	top.type = SECD_V_OBJECT;
	top.u.list.items = fields;
	top.u.list.n = n;
	codec_buf_init(&b);
	msg_reply_init(&rep, &call->req.id, MSG_OP_EXT);
	if (n == 0 || (rep.fields = host_json_value(&top, 1)) != NULL)
		rc = codec_encode_reply(&b, &rep);
	msg_reply_clear(&rep);
	/*
	 * A built-in op's reply has a schema and a canonical member order
	 * (docs/protocol.md): read the fields back as that op's typed reply
	 * and encode that.  This also holds any handler to the protocol.
	 * It runs on the handler's thread, never on a loop.
	 */
	if (rc == 0 && call->req.op != MSG_OP_EXT &&
	    (rc = codec_decode_reply(b.data, b.len - 1, call->req.op, &rep,
	    &cerr)) == 0) {
		codec_buf_reset(&b);
		rc = codec_encode_reply(&b, &rep);
		msg_reply_clear(&rep);
	}
	if (rc != 0)
		log_errx("handler answered op %s with fields that are not "
		    "its protocol reply%s%s", call->req.op_name,
		    cerr.message[0] != '\0' ? ": " : "", cerr.message);
	dcall_set_reply(call, &b, rc);
	host_done(call, rc == 0 ? MSG_ERR_NONE : MSG_ERR_INTERNAL);
}

static void
host_reply_login(struct secd_call *pc, const char *account)
{
	struct dcall *call = (struct dcall *)pc;
	struct codec_buf b;
	struct msg_reply rep;
	int rc = -1;

	codec_buf_init(&b);
	msg_reply_init(&rep, &call->req.id, MSG_OP_LOGIN);
	if (account != NULL && msg_account_valid(account, strlen(account))) {
		snprintf(rep.u.login.account, sizeof(rep.u.login.account), "%s",
		    account);
		rc = codec_encode_reply(&b, &rep);
		if (rc == 0 && (call->login_account = strdup(account)) == NULL)
			rc = -1;
	} else {
		log_errx("handler answered login with an invalid account "
		    "name");
	}
	msg_reply_clear(&rep);
	dcall_set_reply(call, &b, rc);
	host_done(call, rc == 0 ? MSG_ERR_NONE : MSG_ERR_INTERNAL);
}

static void
host_reply_error(struct secd_call *pc, const char *code, const char *message,
    int64_t retry_after)
{
	struct dcall *call = (struct dcall *)pc;
	enum msg_err e;

	if (code == NULL || msg_err_from_name(code, strlen(code), &e) != 0 ||
	    e == MSG_ERR_NONE) {
		log_errx("handler answered op %s with unknown error code '%s'",
		    call->req.op_name, code != NULL ? code : "(null)");
		e = MSG_ERR_INTERNAL;
		message = "internal error";
	}
	dcall_answer_error(call, e, message != NULL ? message : "",
	    retry_after);
	host_done(call, e);
}

static void host_log(const struct secd_host *, enum secd_log_level,
    const char *, ...) __attribute__((format(printf, 3, 4)));

static void
host_log(const struct secd_host *host, enum secd_log_level level,
    const char *fmt, ...)
{
	va_list ap;

	(void)host;
	va_start(ap, fmt);
	log_vmsg((enum log_level)level, fmt, ap);
	va_end(ap);
}

void
dispatch_host_init(struct secd_host *host, const struct secd_auth *auth)
{
	memset(host, 0, sizeof(*host));
	host->abi = SECD_HANDLER_ABI;
	host->auth = auth;
	host->log = host_log;
	host->reply = host_reply;
	host->reply_login = host_reply_login;
	host->reply_error = host_reply_error;
}
