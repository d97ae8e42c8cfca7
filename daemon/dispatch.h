/*
 * dispatch.h: from a decoded request to an answer.  The authentication
 * gate, host-side ops (ping, logout), routing to the handler, and the
 * struct secd_host functions through which the handler answers.
 *
 * A struct dcall is one request line of one connection, from the moment
 * it was cut by the framer until its answer has been written: queued on
 * the connection, then (maybe) at the handler, then on the worker's done
 * list.  The connection owns it except while it is at the handler; the
 * answer hands it back through worker_post_done().
 */
#ifndef SECD_DISPATCH_H
#define SECD_DISPATCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "secd/handler.h"

struct conn;
struct server;
struct worker;

/* Arguments of a built-in op: at most this many. */
#define DCALL_MAX_ARGS 6

struct dcall {
	struct secd_call pub;		/* the handler's view; first member */
	struct dcall *next;		/* connection queue / done list */
	struct conn *conn;		/* owner */
	struct worker *w;		/* the owner's worker */

	struct msg_request req;		/* decoded request (owns password) */
	enum msg_err err;		/* != NONE: answer this, dispatch nothing */
	char errmsg[MSG_ERROR_MESSAGE_MAX + 1];
	int fatal;			/* close the connection after answering */

	struct secd_value args[DCALL_MAX_ARGS];
	struct secd_value *ext;		/* an extension op's argument tree */
	struct secd_peer peer;
	char reqid[MSG_ID_STR_MAX + 3];

	char *reply;			/* the answer line, with "\n" */
	size_t reply_len;
	char *login_account;		/* set by a successful login */
	int is_login;			/* a login: its answer decides the
					   session's account either way */
	int throttled;			/* counted in flight by the login
					   throttle: settle it on answer */
	enum msg_err answer_err;	/* the error answered, or NONE */

	/* For the metrics: when the line was cut (uv_hrtime), and its op
	   (req is wiped once the handler has answered). */
	uint64_t t0_ns;
	enum msg_op op;
};

/*
 * dcall_new(c, line, len, t0_ns): decode one request line of c, cut at
 * t0_ns (uv_hrtime: the start of its latency).  A line that does not
 * decode still gives a dcall, one that answers bad_request in its turn.
 * NULL only when memory runs out.
 */
struct dcall *dcall_new(struct conn *c, const char *line, size_t len,
    uint64_t t0_ns);

/* dcall_new_error(c, code, message): a dcall that answers an error. */
struct dcall *dcall_new_error(struct conn *c, enum msg_err code,
    const char *message);

/*
 * dcall_free(call): wipe (the password) and free, or keep the wiped record
 * for the worker's next request.  Only on the owner's loop thread.  NULL ok.
 */
void dcall_free(struct dcall *call);

/* dcall_spare_drain(w): free the records w keeps (worker shutdown). */
void dcall_spare_drain(struct worker *w);

enum dispatch_result {
	DISPATCH_ANSWERED,		/* call->reply is set: write it now
					   (also when the handler answered
					   inside its submit())  */
	DISPATCH_SUBMITTED		/* at the handler; c->inflight = call */
};

/*
 * dispatch_call(c, call): pass call through the gate: answer it on the
 * spot (errors, ping, logout, a request the session may not make) or
 * submit it to the handler.
 */
enum dispatch_result dispatch_call(struct conn *c, struct dcall *call);

/*
 * dispatch_apply(c, call): on c's loop, after the handler answered call:
 * apply what the answer changes for the session (a login).
 */
void dispatch_apply(struct conn *c, struct dcall *call);

/* dispatch_make_hello(srv): encode srv's greeting into srv->hello. */
int dispatch_make_hello(struct server *srv);

/* dispatch_host_init(host, auth): the host functions handed to handlers. */
void dispatch_host_init(struct secd_host *host, const struct secd_auth *auth);

#endif /* !SECD_DISPATCH_H */
