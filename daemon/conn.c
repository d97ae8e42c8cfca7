/*
 * conn.c: the per-connection state machine (see conn.h for the states).
 *
 * Data path: socket bytes -> tls_chan_feed -> handshake, or tls_chan_read
 * -> plaintext -> frame (bounded) -> one dcall per line, queued in arrival
 * order -> dispatch, one at a time -> answer -> the worker's stage ->
 * tls_chan_write -> the TLS output is handed to uv_write without a copy.
 *
 * Answers given in one turn of the loop (pipelined requests that the
 * handler answers at once, or several answers posted together) are
 * gathered in the worker's stage and leave as one TLS record and one
 * socket write: conn_flush, at the end of conn_process, seals them.
 *
 * Backpressure: the socket is read only while the request queue is below
 * max_pipeline, unwritten output is below write_buffer and the TLS channel
 * has room for more input.  Nothing is ever dropped: when a limit is
 * reached, reading stops until the limit clears.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conn.h"
#include "dispatch.h"
#include "iplimit.h"
#include "log.h"
#include "server.h"
#include "tls.h"

/* How long a closing connection may take to flush its last bytes. */
#define CONN_FLUSH_TIMEOUT_MS 5000

struct conn_write {
	uv_write_t req;
	struct conn *conn;
	void *buf;
	size_t len;
};

static void conn_process(struct conn *c);
static void conn_update_reading(struct conn *c);
static void conn_flush(struct conn *c);
static void conn_finish(struct conn *c, const char *reason);

static struct log_rl conn_refuse_rl;

/* Encrypt what c has gathered in the stage; 0, or -1 (closed). */
static int
conn_stage_seal(struct conn *c)
{
	struct worker *w = c->w;
	size_t len = w->stage_len;

	if (w->stage_conn != c)
		return 0;
	w->stage_conn = NULL;
	w->stage_len = 0;
	if (c->state != CONN_S_CLOSED &&
	    tls_chan_write(c->tls, w->stage, len) != 0) {
		conn_close(c, "TLS write failed");
		return -1;
	}
	return 0;
}

/* Count a failed handshake, by class (metrics.h). */
static void
conn_hs_failed(struct conn *c, enum metrics_hsfail why)
{
	struct server_stats *st = &c->w->stats;

	atomic_fetch_add_explicit(&st->handshake_failures, 1,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&st->m.hs_failed[why], 1,
	    memory_order_relaxed);
}

/* Count a request whose answer was just queued for writing. */
static void
conn_count_answer(struct conn *c, const struct dcall *call)
{
	metrics_note_request(&c->w->stats.m, call->op, call->answer_err,
	    uv_hrtime() - call->t0_ns);
}

static const struct conf_limits *
conn_limits(const struct conn *c)
{
	return &c->w->srv->conf->limits;
}

static void
conn_format_peer(struct conn *c)
{
	char host[INET6_ADDRSTRLEN] = "?";
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	if (c->peer.ss_family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)&c->peer;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(c->peer_str, sizeof(c->peer_str), "%s:%u", host,
		    ntohs(sin->sin_port));
	} else if (c->peer.ss_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)(const void *)&c->peer;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(c->peer_str, sizeof(c->peer_str), "[%s]:%u", host,
		    ntohs(sin6->sin6_port));
	} else {
		snprintf(c->peer_str, sizeof(c->peer_str), "unknown");
	}
}

/* Free the struct once no handle and no handler call refers to it. */
static void
conn_maybe_free(struct conn *c)
{
	struct dcall *call;
	struct worker *w = c->w;

	if (c->handles > 0 || c->inflight != NULL)
		return;
	while ((call = c->q_head) != NULL) {
		c->q_head = call->next;
		dcall_free(call);
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	w->nconns--;
	tls_chan_free(c->tls);
	frame_free(&c->frame);
	free(c->account);
	free(c);
}

static void
conn_handle_close_cb(uv_handle_t *h)
{
	struct conn *c = h->data;

	c->handles--;
	conn_maybe_free(c);
}

void
conn_close(struct conn *c, const char *reason)
{
	if (c->state == CONN_S_CLOSED)
		return;
	c->state = CONN_S_CLOSED;
	/* Whatever was gathered for it goes nowhere now. */
	if (c->w->stage_conn == c) {
		c->w->stage_conn = NULL;
		c->w->stage_len = 0;
	}
	log_info("conn %u.%llu %s closed: %s", c->w->index,
	    (unsigned long long)c->id, c->peer_str, reason);
	if (c->counted) {
		iplimit_release(c->w->srv->iplimit,
		    (const struct sockaddr *)&c->peer);
		c->counted = 0;
	}
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->tcp, conn_handle_close_cb);
	uv_close((uv_handle_t *)&c->timer, conn_handle_close_cb);
}

static void
conn_timer_cb(uv_timer_t *t)
{
	struct conn *c = t->data;
	uint64_t now, idle;

	switch (c->state) {
	case CONN_S_HANDSHAKE:
		conn_hs_failed(c, METRICS_HSF_TIMEOUT);
		conn_close(c, "handshake timeout");
		break;
	case CONN_S_UNAUTH:
		conn_finish(c, "login timeout");
		break;
	case CONN_S_AUTH:
		/* A request came since the timer was set: wait for the rest
		   of idle_timeout from that request (conn_pull_requests only
		   notes the time, so that a request costs no timer update). */
		now = uv_now(&c->w->loop);
		idle = conn_limits(c)->idle_timeout_ms;
		if (now - c->active_ms < idle) {
			uv_timer_start(&c->timer, conn_timer_cb,
			    c->active_ms + idle - now, 0);
			break;
		}
		/* Busy is not idle: a request still being answered keeps
		   the connection. */
		if (c->inflight != NULL || c->q_head != NULL) {
			uv_timer_start(&c->timer, conn_timer_cb,
			    conn_limits(c)->idle_timeout_ms, 0);
			break;
		}
		conn_finish(c, "idle timeout");
		break;
	case CONN_S_DRAINING:
		/* Requests still being answered are finished first; a server
		   drain is bounded by shutdown_timeout (server_force). */
		if (c->inflight != NULL || c->q_head != NULL) {
			uv_timer_start(&c->timer, conn_timer_cb,
			    CONN_FLUSH_TIMEOUT_MS, 0);
			break;
		}
		conn_close(c, c->close_reason != NULL ? c->close_reason :
		    "flush timeout");
		break;
	case CONN_S_CLOSED:
		break;
	}
}

static void
conn_arm(struct conn *c, uint64_t ms)
{
	uv_timer_start(&c->timer, conn_timer_cb, ms, 0);
}

/*
 * conn_finish(c, reason): a polite close: answer what was received, send
 * close_notify, flush, then close with reason.
 */
static void
conn_finish(struct conn *c, const char *reason)
{
	if (c->state == CONN_S_CLOSED)
		return;
	if (c->state == CONN_S_HANDSHAKE) {
		conn_close(c, reason);
		return;
	}
	if (c->close_reason == NULL)
		c->close_reason = reason;
	if (c->state != CONN_S_DRAINING) {
		c->state = CONN_S_DRAINING;
		conn_arm(c, CONN_FLUSH_TIMEOUT_MS);
	}
	conn_update_reading(c);
	conn_process(c);
}

void
conn_drain(struct conn *c)
{
	if (c->state == CONN_S_HANDSHAKE)
		conn_close(c, "shutting down");
	else
		conn_finish(c, "shutting down");
}

static void
conn_write_cb(uv_write_t *req, int status)
{
	struct conn_write *wr = req->data;
	struct conn *c = wr->conn;

	c->write_pending -= wr->len;
	free(wr->buf);
	free(wr);
	if (c->state == CONN_S_CLOSED)
		return;
	if (status < 0) {
		conn_close(c, status == UV_EPIPE || status == UV_ECONNRESET ?
		    "peer reset" : "write error");
		return;
	}
	if ((c->flags & CONN_F_CLOSE_AFTER_FLUSH) && c->write_pending == 0) {
		conn_close(c, c->close_reason != NULL ? c->close_reason :
		    "closed");
		return;
	}
	/* Below the high-water mark again: buffered requests may go on. */
	conn_process(c);
}

/*
 * Hand the TLS channel's pending output to the socket, without a copy.
 * Try the write at once (uv_try_write): the socket usually takes it all,
 * and then there is no write request to allocate and no change of the
 * epoll registration (libuv's uv_write re-arms the descriptor after every
 * write that completes at once: one epoll_ctl per answer).  Whatever the
 * socket does not take goes through uv_write.
 */
static void
conn_flush(struct conn *c)
{
	struct conn_write *wr;
	uv_buf_t b;
	void *buf;
	size_t len, off = 0;
	int rc;

	if (conn_stage_seal(c) != 0)
		return;
	if (c->state == CONN_S_CLOSED || tls_chan_output_len(c->tls) == 0)
		return;
	if (tls_chan_take_output(c->tls, &buf, &len) != 0 || len == 0)
		return;
	if (c->write_pending == 0) {
		b = uv_buf_init(buf, (unsigned)len);
		rc = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
		if (rc >= 0 && (size_t)rc == len) {
			free(buf);
			return;
		}
		if (rc < 0 && rc != UV_EAGAIN) {
			free(buf);
			conn_close(c, rc == UV_EPIPE || rc == UV_ECONNRESET ?
			    "peer reset" : "write error");
			return;
		}
		off = rc > 0 ? (size_t)rc : 0;
	}
	if ((wr = malloc(sizeof(*wr))) == NULL) {
		free(buf);
		conn_close(c, "out of memory");
		return;
	}
	wr->conn = c;
	wr->buf = buf;
	wr->len = len - off;
	wr->req.data = wr;
	b = uv_buf_init((char *)buf + off, (unsigned)(len - off));
	if ((rc = uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1,
	    conn_write_cb)) != 0) {
		free(buf);
		free(wr);
		conn_close(c, "write error");
		return;
	}
	c->write_pending += len - off;
}

/*
 * The socket writes straight into the TLS channel's input buffer
 * (reserve/commit): no copy, and no buffer at all while the connection is
 * idle, because libuv asks for one only when the socket is readable.
 */
static void
conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;
	void *p;
	size_t len;

	(void)suggested;
	if (c->state == CONN_S_CLOSED ||
	    tls_chan_input_reserve(c->tls, &p, &len) != 0) {
		*buf = uv_buf_init(NULL, 0);
		return;
	}
	c->flags |= CONN_F_RESERVED;
	*buf = uv_buf_init(p, (unsigned)len);
}

static void
conn_start_session(struct conn *c)
{
	struct tls_info info, *ti = &info;

	atomic_fetch_add(&c->w->stats.handshakes, 1);
	if (tls_chan_info(c->tls, ti) != 0) {
		conn_close(c, "TLS state lost");
		return;
	}
	metrics_note_session(&c->w->stats.m, ti);
	if (ti->peer_verified && ti->peer_sha256[0] != '\0') {
		snprintf(c->cert_sha256, sizeof(c->cert_sha256), "%.64s",
		    ti->peer_sha256);
		snprintf(c->cert_subject, sizeof(c->cert_subject), "%.255s",
		    ti->peer_subject);
	}
	log_debug("conn %u.%llu %s handshake done: %s %s %s%s%s%s",
	    c->w->index, (unsigned long long)c->id, c->peer_str, ti->version,
	    ti->suite, ti->group, ti->resumed ? " resumed" : "",
	    c->cert_sha256[0] != '\0' ? " client-cert " : "",
	    c->cert_subject);
	c->state = CONN_S_UNAUTH;
	conn_arm(c, conn_limits(c)->login_timeout_ms);
	if (tls_chan_write(c->tls, c->w->srv->hello, c->w->srv->hello_len) !=
	    0) {
		conn_close(c, "TLS write failed");
		return;
	}
}

static void
conn_do_handshake(struct conn *c)
{
	char why[160];

	switch (tls_chan_handshake(c->tls)) {
	case TLS_OK:
		conn_start_session(c);
		conn_flush(c);
		if (c->state != CONN_S_CLOSED)
			conn_process(c);
		break;
	case TLS_WANT_READ:
		conn_flush(c);
		if (c->flags & CONN_F_PEER_EOF) {
			conn_hs_failed(c, METRICS_HSF_PEER_CLOSED);
			conn_close(c, "peer closed during handshake");
		}
		break;
	default:
		conn_hs_failed(c, metrics_hsfail_class(tls_chan_error(c->tls)));
		/* Send the alert, if any; then close, the cause in the one
		   close line. */
		conn_flush(c);
		snprintf(why, sizeof(why), "handshake failed: %s",
		    tls_chan_error(c->tls));
		conn_close(c, why);
		break;
	}
}

static void
conn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;

	(void)buf;
	if (c->flags & CONN_F_RESERVED) {
		c->flags &= ~CONN_F_RESERVED;
		tls_chan_input_commit(c->tls, nread > 0 ? (size_t)nread : 0);
	}
	if (c->state == CONN_S_CLOSED)
		return;
	if (nread == UV_ENOBUFS || nread == 0) {
		/* No room in the channel: conn_update_reading stops reads. */
		conn_update_reading(c);
		return;
	}
	if (nread < 0) {
		if (nread != UV_EOF) {
			if (c->state == CONN_S_HANDSHAKE)
				conn_hs_failed(c, METRICS_HSF_PEER_CLOSED);
			conn_close(c, nread == UV_ECONNRESET ? "peer reset" :
			    "read error");
			return;
		}
		c->flags |= CONN_F_PEER_EOF;
		tls_chan_feed_eof(c->tls);
		uv_read_stop(s);
		c->flags &= ~CONN_F_READING;
	}
	if (c->state == CONN_S_HANDSHAKE)
		conn_do_handshake(c);
	else
		conn_process(c);
}

static void
conn_update_reading(struct conn *c)
{
	const struct conf_limits *lim = conn_limits(c);
	int want;

	if (c->state == CONN_S_CLOSED)
		return;
	want = c->state != CONN_S_DRAINING &&
	    !(c->flags & CONN_F_PEER_EOF) &&
	    c->q_len < lim->max_pipeline &&
	    c->write_pending + tls_chan_output_len(c->tls) <
	    lim->write_buffer_bytes &&
	    tls_chan_input_room(c->tls) > 0;
	if (want && !(c->flags & CONN_F_READING)) {
		if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb,
		    conn_read_cb) == 0)
			c->flags |= CONN_F_READING;
	} else if (!want && (c->flags & CONN_F_READING)) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->flags &= ~CONN_F_READING;
	}
}

static void
conn_enqueue(struct conn *c, struct dcall *call)
{
	call->next = NULL;
	if (c->q_tail != NULL)
		c->q_tail->next = call;
	else
		c->q_head = call;
	c->q_tail = call;
	c->q_len++;
}

/*
 * Write one answer line: gather it in the worker's stage, to be sealed
 * into one record with the answers after it (conn_flush).  A line that
 * does not fit seals what is there first; one larger than the stage goes
 * to TLS directly.  0, or -1 when the connection was closed.
 */
static int
conn_write_line(struct conn *c, const char *line, size_t len)
{
	struct worker *w = c->w;

	/* Another connection's answers never wait behind this one's. */
	if (w->stage_conn != NULL && w->stage_conn != c)
		conn_flush(w->stage_conn);
	if (w->stage_len + len > WORKER_STAGE && conn_stage_seal(c) != 0)
		return -1;
	if (len > WORKER_STAGE) {
		if (tls_chan_write(c->tls, line, len) != 0) {
			conn_close(c, "TLS write failed");
			return -1;
		}
		return 0;
	}
	memcpy(w->stage + w->stage_len, line, len);
	w->stage_len += len;
	w->stage_conn = c;
	return 0;
}

/* Is unwritten output above the high-water mark? */
static int
conn_output_full(struct conn *c)
{
	size_t staged = c->w->stage_conn == c ? c->w->stage_len : 0;

	return c->write_pending + tls_chan_output_len(c->tls) + staged >=
	    conn_limits(c)->write_buffer_bytes;
}

/*
 * Pull complete lines out of the TLS channel into the request queue, up to
 * max_pipeline, while output is below the high-water mark.  Returns how
 * many requests were queued, or -1 if the connection was closed.
 */
static int
conn_pull_requests(struct conn *c)
{
	const struct conf_limits *lim = conn_limits(c);
	struct worker *w = c->w;
	struct dcall *call;
	const char *line;
	size_t len, room;
	ssize_t n;
	uint64_t t0_ns = 0;
	int r, queued = 0;

	while (c->q_len < lim->max_pipeline && !conn_output_full(c) &&
	    !(c->flags & (CONN_F_CLOSE_AFTER_FLUSH | CONN_F_FRAMING_LOST))) {
		r = frame_next(&c->frame, &line, &len);
		if (r == FRAME_LINE) {
			/* The lines of one pass are cut together: one
			   clock reading for all of them. */
			if (t0_ns == 0)
				t0_ns = uv_hrtime();
			if ((call = dcall_new(c, line, len, t0_ns)) == NULL) {
				conn_close(c, "out of memory");
				return -1;
			}
			conn_enqueue(c, call);
			queued++;
			atomic_fetch_add(&w->stats.requests, 1);
			if (c->state == CONN_S_AUTH)
				c->active_ms = uv_now(&w->loop);
			continue;
		}
		if (r == FRAME_TOO_LARGE) {
			/* Framing is lost: answer, then close. */
			if ((call = dcall_new_error(c, MSG_ERR_TOO_LARGE,
			    "line exceeds max_message_bytes")) == NULL) {
				conn_close(c, "out of memory");
				return -1;
			}
			call->fatal = 1;
			conn_enqueue(c, call);
			c->flags |= CONN_F_FRAMING_LOST;
			if (c->close_reason == NULL)
				c->close_reason = "line too large";
			if (c->state != CONN_S_DRAINING) {
				c->state = CONN_S_DRAINING;
				conn_arm(c, CONN_FLUSH_TIMEOUT_MS);
			}
			break;
		}
		/*
		 * FRAME_NEED_MORE: decrypt at most what the framer can hold,
		 * so it takes every byte (wolfSSL keeps the rest of a record).
		 */
		room = c->frame.max + FRAME_SLACK - frame_buffered(&c->frame);
		if (room > w->plainbuf_size)
			room = w->plainbuf_size;
		n = tls_chan_read(c->tls, w->plainbuf, room);
		if (n > 0) {
			if (frame_push(&c->frame, w->plainbuf, (size_t)n) !=
			    (size_t)n) {
				conn_close(c, "out of memory");
				return -1;
			}
			continue;
		}
		if (n == TLS_WANT_READ)
			break;
		if (n == TLS_CLOSED) {
			/* Half close: answer what came, then close. */
			c->flags |= CONN_F_PEER_EOF;
			if (c->close_reason == NULL)
				c->close_reason = "peer closed";
			if (c->state != CONN_S_DRAINING) {
				c->state = CONN_S_DRAINING;
				conn_arm(c, CONN_FLUSH_TIMEOUT_MS);
			}
			break;
		}
		conn_close(c, tls_chan_error(c->tls));
		return -1;
	}
	return queued;
}

/*
 * The last words: queue close_notify (if not done) after everything
 * already written, and close once it is flushed.  After a peer's bare FIN
 * wolfSSL sends no alert; the close happens all the same.
 */
static void
conn_notify_and_close(struct conn *c)
{
	/* The answers gathered so far go before the alert. */
	if (conn_stage_seal(c) != 0)
		return;
	if (!(c->flags & CONN_F_NOTIFIED)) {
		(void)tls_chan_close_notify(c->tls);
		c->flags |= CONN_F_NOTIFIED;
	}
	c->flags |= CONN_F_CLOSE_AFTER_FLUSH;
}

/*
 * Answer or submit queued requests, strictly in order, one at a time.
 * Returns how many were answered on the spot, or -1 when the connection
 * was closed.
 */
static int
conn_run_queue(struct conn *c)
{
	struct dcall *call;
	int fatal, answered = 0;

	while (c->inflight == NULL && (call = c->q_head) != NULL) {
		c->q_head = call->next;
		if (c->q_head == NULL)
			c->q_tail = NULL;
		c->q_len--;
		call->next = NULL;
		if (dispatch_call(c, call) == DISPATCH_SUBMITTED)
			return answered;
		/* Answered on the spot. */
		fatal = call->fatal;
		if (conn_write_line(c, call->reply, call->reply_len) != 0) {
			dcall_free(call);
			return -1;
		}
		conn_count_answer(c, call);
		dcall_free(call);
		answered++;
		if (fatal) {
			conn_notify_and_close(c);
			return c->state == CONN_S_CLOSED ? -1 : answered;
		}
	}
	return answered;
}

static void
conn_process(struct conn *c)
{
	int queued, answered, full;

	if (c->state == CONN_S_CLOSED || c->state == CONN_S_HANDSHAKE)
		return;
	do {
		/*
		 * Requests answered on the spot (ping, errors, cached
		 * balances) free queue slots, and the lines that fill them
		 * may already be buffered, with no socket read to come (the
		 * peer may even have closed its side): go round until the
		 * handler holds a request, a round moves nothing, or a limit
		 * stops us.  A full queue pulls nothing, so a round that only
		 * answers must go round too.
		 */
		do {
			if ((queued = conn_pull_requests(c)) < 0)
				return;
			if ((answered = conn_run_queue(c)) < 0)
				return;
		} while ((queued > 0 || answered > 0) &&
		    c->inflight == NULL && !conn_output_full(c));
		full = conn_output_full(c);
		/* Draining and nothing left to answer: say goodbye. */
		if (c->state == CONN_S_DRAINING && c->inflight == NULL &&
		    c->q_head == NULL &&
		    !(c->flags & CONN_F_CLOSE_AFTER_FLUSH))
			conn_notify_and_close(c);
		conn_flush(c);
		if (c->state == CONN_S_CLOSED)
			return;
		if ((c->flags & CONN_F_CLOSE_AFTER_FLUSH) &&
		    c->write_pending == 0) {
			conn_close(c, c->close_reason != NULL ?
			    c->close_reason : "closed");
			return;
		}
		/*
		 * Output was full and the socket took it all at once: no
		 * write callback will come to go on with what is buffered,
		 * so go on now.
		 */
	} while (full && c->inflight == NULL && !conn_output_full(c));
	conn_update_reading(c);
}

void
conn_set_account(struct conn *c, const char *account)
{
	char *copy = NULL;

	if (account != NULL && (copy = strdup(account)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	free(c->account);
	c->account = copy;
	if (c->state == CONN_S_UNAUTH && copy != NULL) {
		c->state = CONN_S_AUTH;
		c->active_ms = uv_now(&c->w->loop);
		conn_arm(c, conn_limits(c)->idle_timeout_ms);
	} else if (c->state == CONN_S_AUTH && copy == NULL) {
		c->state = CONN_S_UNAUTH;
		conn_arm(c, conn_limits(c)->login_timeout_ms);
	}
}

void
conn_answered(struct conn *c, struct dcall *call)
{
	int fatal = call->fatal;

	c->inflight = NULL;
	if (c->state == CONN_S_CLOSED) {
		dcall_free(call);
		conn_maybe_free(c);
		return;
	}
	dispatch_apply(c, call);
	if (conn_write_line(c, call->reply, call->reply_len) != 0) {
		dcall_free(call);
		return;
	}
	conn_count_answer(c, call);
	dcall_free(call);
	if (fatal)
		conn_notify_and_close(c);
	conn_process(c);
}

void
conn_accept(struct worker *w, uv_stream_t *server)
{
	struct server *srv = w->srv;
	struct conn *c;
	struct tls_ctx *ctx;
	int len = sizeof(c->peer), rc;
	enum iplimit_result lim;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_ratelimited(&conn_refuse_rl, LOG_L_WARNING,
		    "accept: out of memory");
		return;
	}
	c->w = w;
	c->id = ++w->conn_seq;
	uv_tcp_init(&w->loop, &c->tcp);
	uv_timer_init(&w->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->handles = 2;
	c->next = w->conns;
	if (w->conns != NULL)
		w->conns->prev = c;
	w->conns = c;
	w->nconns++;
	if (frame_init(&c->frame, srv->conf->limits.max_message_bytes) != 0) {
		conn_close(c, "out of memory");
		return;
	}
	if ((rc = uv_accept(server, (uv_stream_t *)&c->tcp)) != 0) {
		snprintf(c->peer_str, sizeof(c->peer_str), "unknown");
		conn_close(c, "accept failed");
		return;
	}
	uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &len);
	conn_format_peer(c);
	uv_tcp_nodelay(&c->tcp, 1);
	atomic_fetch_add(&w->stats.accepted, 1);

	lim = iplimit_acquire(srv->iplimit, (const struct sockaddr *)&c->peer);
	if (lim != IPLIMIT_OK) {
		if (lim == IPLIMIT_PER_IP)
			atomic_fetch_add(&w->stats.refused_per_ip, 1);
		else if (lim == IPLIMIT_RATE)
			atomic_fetch_add(&w->stats.refused_handshake_rate, 1);
		else if (lim == IPLIMIT_TOTAL)
			atomic_fetch_add(&w->stats.refused_total, 1);
		else
			atomic_fetch_add(&w->stats.m.refused_nomem, 1);
		log_ratelimited(&conn_refuse_rl, LOG_L_WARNING,
		    "refused %s: %s", c->peer_str,
		    lim == IPLIMIT_PER_IP ? "max_connections_per_ip reached" :
		    lim == IPLIMIT_RATE ? "handshake_rate_per_ip exceeded" :
		    lim == IPLIMIT_TOTAL ? "max_connections reached" :
		    "out of memory");
		/* Refused before any TLS: a plain close, logged above. */
		c->state = CONN_S_CLOSED;
		uv_close((uv_handle_t *)&c->tcp, conn_handle_close_cb);
		uv_close((uv_handle_t *)&c->timer, conn_handle_close_cb);
		return;
	}
	c->counted = 1;

	ctx = atomic_load(&srv->tls);
	if ((c->tls = tls_chan_new(ctx, NULL)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	c->state = CONN_S_HANDSHAKE;
	conn_arm(c, srv->conf->limits.handshake_timeout_ms);
	conn_update_reading(c);
}
