/*
 * bench_loop.c: one thread of secctl bench.
 *
 * Each bench thread runs its own libuv loop and owns a share of the
 * connections for the whole run; nothing on the per-connection path is
 * shared with other threads except the --count claim (one atomic add per
 * request, and only when --count is given).  A connection is a small state
 * machine over the same sans-I/O TLS channel and line framer that secd
 * uses:
 *
 *	IDLE -> CONNECT -> HANDSHAKE -> GREETING -> LOGIN -> READY -> RUN
 *	                                        \-> READY     \-> HOLD
 *	handshake mode:  ... GREETING -> BYE -> IDLE (next attempt) ...
 *
 * and every state but READY and HOLD is guarded by the connection's timer
 * (--timeout, the "no progress" limit): if secd stops answering there, the
 * connection ends with a "timeout" transport error.  READY waits for the
 * clock without a timer (secd's own idle timeout would end it); HOLD's
 * timer is the ping ticker, which also notices a ping left unanswered.
 *
 * The hot path (RUN): a read event decrypts whatever arrived, takes every
 * complete reply line, checks its id against the oldest request in flight
 * (replies come in order), records the latency, and then refills the
 * window: all new requests of this turn go into one plaintext buffer, one
 * tls_chan_write (so one TLS record), one socket write -- tried right away
 * with uv_try_write, handed to uv_write only if the socket is full.  A
 * connection has at most one uv_write in flight; what the channel produces
 * meanwhile waits in the channel and goes out from the write callback.  No
 * allocation is ours on this path: requests are formatted into the
 * thread's buffer, send times sit in a ring per connection allocated at the
 * start; the one malloc per write is the channel's output buffer
 * (tls_chan_take_output's contract), freed as soon as it is written.
 *
 * Replies are checked cheaply: a success reply in secd's canonical form
 * starts with {"id":N,"ok":true, and that prefix (with the right N) is all
 * that is read of it; anything else -- an error reply, another id, a line
 * that is not canonical -- goes through the full codec, which counts error
 * replies by code and turns anything unexpected into a "bad_reply"
 * transport error that ends the connection.  Decoding every success reply
 * with jansson would make the load generator, not secd, the thing measured.
 *
 * Lifetimes follow libuv's rule: a connection's memory lives in the
 * thread's array, released only after uv_run() returns, when every handle
 * is closed; the channel and the framer are released in the TCP handle's
 * close callback, after libuv has cancelled any write in flight.
 */
#include <netinet/in.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "codec.h"
#include "tls.h"

enum bench_conn_state {
	BENCH_C_IDLE,		/* no socket: not started yet, or (handshake
				   mode) between two attempts */
	BENCH_C_CONNECT,	/* waits for the TCP connect; timer */
	BENCH_C_HANDSHAKE,	/* waits for secd's handshake flight; timer */
	BENCH_C_GREETING,	/* waits for the hello line; timer */
	BENCH_C_LOGIN,		/* waits for the login reply; timer */
	BENCH_C_READY,		/* set up; waits for the clock; no timer */
	BENCH_C_RUN,		/* requests in flight; timer while any are */
	BENCH_C_HOLD,		/* idle, pinged by the repeating timer */
	BENCH_C_BYE,		/* handshake mode: close_notify sent, waits
				   for secd to close; timer */
	BENCH_C_DONE		/* finished for good; handles closing */
};

static const char *const bench_state_names[] = {
	"idle", "connect", "handshake", "greeting", "login", "ready", "run",
	"hold", "bye", "done"
};

struct bench_conn {
	struct bench_thread *t;
	unsigned	 index;		/* global: picks account and source */
	enum bench_conn_state state;
	uv_tcp_t	 tcp;
	uv_timer_t	 timer;
	uv_connect_t	 creq;
	uv_write_t	 wreq;
	void		*wbuf;		/* written by wreq; NULL when none */
	struct tls_chan	*ch;
	struct frame	 fr;
	uint64_t	*sent_at;	/* ring of b->inflight send times */
	uint64_t	 next_id;	/* id of the next request */
	uint64_t	 head_id;	/* id of the oldest one unanswered */
	unsigned	 outstanding;
	uint64_t	 t0;		/* handshake mode: attempt started */
	unsigned char	*session;	/* --resume: the last ticket; secret */
	size_t		 session_len;
	unsigned	 tcp_open:1;	/* tcp initialised, not yet closed */
	unsigned	 reserved:1;	/* channel input lent to libuv */
	unsigned	 setup:1;	/* counted in t->setting_up */
	unsigned	 open:1;	/* counted in t->prog_ready */
	unsigned	 exhausted:1;	/* no more requests: --count or stop */
	unsigned	 final:1;	/* hold: the last ping is out */
	unsigned	 backoff:1;	/* handshake mode: the attempt failed */
};

const char *const bench_terr_names[BENCH_T_COUNT] = {
	"connect", "tls", "closed", "timeout", "bad_reply", "local"
};

static void bench_conn_connect(struct bench_conn *);
static void bench_conn_advance(struct bench_conn *);
static void bench_conn_drop(struct bench_conn *);
static void bench_conn_fill(struct bench_conn *);
static int bench_conn_ping(struct bench_conn *);
static void bench_setup_more(struct bench_thread *);
static void bench_timer_cb(uv_timer_t *);

/* ---- accounting ------------------------------------------------------ */

static void
bench_note_first(struct bench_thread *t, const char *what)
{
	if (t->st.first_error[0] == '\0')
		snprintf(t->st.first_error, sizeof(t->st.first_error), "%s",
		    what);
}

/* An error reply: counted by its code; the connection goes on. */
static void
bench_count_error(struct bench_thread *t, enum msg_err code,
    const char *message)
{
	char what[sizeof(t->st.first_error)];

	if (code <= MSG_ERR_NONE || code >= MSG_ERR_COUNT)
		code = MSG_ERR_INTERNAL;
	t->st.errors[code]++;
	atomic_fetch_add_explicit(&t->prog_errors, 1, memory_order_relaxed);
	if (t->st.first_error[0] == '\0') {
		snprintf(what, sizeof(what), "%s: %.200s", msg_err_name(code),
		    message);
		bench_note_first(t, what);
	}
}

/* A transport failure: counted by kind, and the connection is dropped. */
static void __attribute__((format(printf, 3, 4)))
bench_fail(struct bench_conn *c, enum bench_terr kind, const char *fmt, ...)
{
	struct bench_thread *t = c->t;
	char what[sizeof(t->st.first_error)];
	va_list ap;
	int n;

	t->st.terrors[kind]++;
	t->st.errors[BENCH_ERR_TRANSPORT]++;
	c->backoff = 1;
	t->st.failed++;
	atomic_fetch_add_explicit(&t->prog_errors, 1, memory_order_relaxed);
	if (t->st.first_error[0] == '\0') {
		n = snprintf(what, sizeof(what), "connection %u (%s): ",
		    c->index, bench_state_names[c->state]);
		va_start(ap, fmt);
		vsnprintf(what + n, sizeof(what) - (size_t)n, fmt, ap);
		va_end(ap);
		bench_note_first(t, what);
	}
	bench_conn_drop(c);
}

/* Claim the right to send one more request (or make one more attempt). */
static int
bench_claim(struct bench *b)
{
	if (b->count == 0)
		return 1;
	return atomic_fetch_add_explicit(&b->issued, 1,
	    memory_order_relaxed) < b->count;
}

/* ---- thread life ----------------------------------------------------- */

static void
bench_thread_ready(struct bench_thread *t)
{
	uv_mutex_lock(&t->b->lock);
	t->b->ready++;
	uv_cond_broadcast(&t->b->cond);
	uv_mutex_unlock(&t->b->lock);
}

/*
 * Once every connection is done: note the end time and tell bench_main();
 * once the phase is also STOP, close the wake handle, the last one, so
 * uv_run() returns.  (bench_main() sends no wake-up after STOP.)
 */
static void
bench_thread_check(struct bench_thread *t)
{
	if (t->active > 0)
		return;
	if (!t->finished) {
		t->finished = 1;
		t->end_ns = uv_hrtime();
		uv_mutex_lock(&t->b->lock);
		t->b->done++;
		uv_cond_broadcast(&t->b->cond);
		uv_mutex_unlock(&t->b->lock);
	}
	if (t->phase == BENCH_P_STOP && !t->wake_closed) {
		/* The phase may have reached STOP through an earlier
		   wake-up: make sure bench_main() sends no more. */
		uv_mutex_lock(&t->b->lock);
		t->wake_gone = 1;
		uv_mutex_unlock(&t->b->lock);
		t->wake_closed = 1;
		uv_close((uv_handle_t *)&t->wake, NULL);
	}
}

/* The connection is finished for good: no socket, no timer. */
static void
bench_conn_finish(struct bench_conn *c)
{
	struct bench_thread *t = c->t;

	if (c->state == BENCH_C_DONE)
		return;
	c->state = BENCH_C_DONE;
	if (!uv_is_closing((uv_handle_t *)&c->timer))
		uv_close((uv_handle_t *)&c->timer, NULL);
	if (c->session != NULL) {
		wipe(c->session, c->session_len);
		free(c->session);
		c->session = NULL;
	}
	t->active--;
	bench_thread_check(t);
}

/* One more connection finished its set-up, well or not. */
static void
bench_setup_over(struct bench_conn *c)
{
	struct bench_thread *t = c->t;

	c->setup = 0;
	t->setting_up--;
	t->setups_done++;
	bench_setup_more(t);
}

/*
 * Start set-ups until BENCH_SETUP_PARALLEL are under way.  A set-up that
 * fails at once comes back here through bench_setup_over(); the guard keeps
 * that from recursing once per connection.
 */
static void
bench_setup_more(struct bench_thread *t)
{
	struct bench_conn *c;

	if (t->in_setup)
		return;
	t->in_setup = 1;
	while (t->setting_up < BENCH_SETUP_PARALLEL &&
	    t->next_setup < t->nconns && t->phase == BENCH_P_SETUP) {
		c = &t->conns[t->next_setup++];
		c->setup = 1;
		t->setting_up++;
		bench_conn_connect(c);
	}
	t->in_setup = 0;
	if (t->setups_done == t->nconns && t->phase == BENCH_P_SETUP &&
	    !t->ready_sent) {
		t->ready_sent = 1;
		bench_thread_ready(t);
	}
}

/* ---- socket and channel ---------------------------------------------- */

static void
bench_tcp_closed_cb(uv_handle_t *h)
{
	struct bench_conn *c = h->data;

	c->tcp_open = 0;
	tls_chan_free(c->ch);
	c->ch = NULL;
	frame_free(&c->fr);
	/* Handshake mode: go again, after a pause if this one failed, so
	   that a server refusing connections is not hammered. */
	if (c->state == BENCH_C_IDLE && c->backoff)
		uv_timer_start(&c->timer, bench_timer_cb, 10, 0);
	else if (c->state == BENCH_C_IDLE)
		bench_timer_cb(&c->timer);
	c->backoff = 0;
}

/*
 * Close the socket; with a channel that is up, say close_notify first (one
 * try: a full socket buffer is not worth waiting for here).
 */
static void
bench_conn_close_tcp(struct bench_conn *c)
{
	void *buf;
	size_t len;
	uv_buf_t ub;

	if (!c->tcp_open || uv_is_closing((uv_handle_t *)&c->tcp))
		return;
	if (c->ch != NULL && c->wbuf == NULL &&
	    tls_chan_handshake_done(c->ch) &&
	    tls_chan_close_notify(c->ch) == 0) {
		tls_chan_take_output(c->ch, &buf, &len);
		if (buf != NULL) {
			ub = uv_buf_init(buf, (unsigned)len);
			(void)uv_try_write((uv_stream_t *)&c->tcp, &ub, 1);
			free(buf);
		}
	}
	uv_close((uv_handle_t *)&c->tcp, bench_tcp_closed_cb);
}

/*
 * The connection is over, by error or because its work is done.  In
 * handshake mode the slot goes on with a new attempt once the socket is
 * closed (or, if it never opened, after a short pause so that a failing
 * socket() cannot spin); otherwise the connection is finished.
 */
static void
bench_conn_drop(struct bench_conn *c)
{
	struct bench_thread *t = c->t;

	if (c->state == BENCH_C_DONE || c->state == BENCH_C_IDLE)
		return;
	if (c->open) {
		c->open = 0;
		atomic_fetch_sub_explicit(&t->prog_ready, 1,
		    memory_order_relaxed);
	}
	bench_conn_close_tcp(c);
	uv_timer_stop(&c->timer);
	if (c->setup)
		bench_setup_over(c);
	if (t->b->mode == BENCH_HANDSHAKE && t->phase == BENCH_P_RUN) {
		c->state = BENCH_C_IDLE;
		if (!c->tcp_open)
			uv_timer_start(&c->timer, bench_timer_cb, 10, 0);
		return;
	}
	bench_conn_finish(c);
}

static void
bench_write_cb(uv_write_t *req, int status)
{
	struct bench_conn *c = req->handle->data;

	free(c->wbuf);
	c->wbuf = NULL;
	if (status == UV_ECANCELED || uv_is_closing((uv_handle_t *)&c->tcp))
		return;
	if (status < 0) {
		bench_fail(c, BENCH_T_CLOSED, "write: %s", uv_strerror(status));
		return;
	}
	if (tls_chan_output_len(c->ch) > 0 && c->wbuf == NULL) {
		/* What the channel made while this write was out. */
		void *buf;
		size_t len;
		uv_buf_t ub;
		int rc;

		tls_chan_take_output(c->ch, &buf, &len);
		ub = uv_buf_init(buf, (unsigned)len);
		c->wbuf = buf;
		if ((rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &ub, 1,
		    bench_write_cb)) != 0) {
			free(buf);
			c->wbuf = NULL;
			bench_fail(c, BENCH_T_CLOSED, "write: %s",
			    uv_strerror(rc));
		}
	}
}

/*
 * Write out what the channel has queued: uv_try_write first, uv_write for
 * the rest.  With a write already in flight, nothing now: its callback
 * sends the rest.  -1 if the connection was dropped.
 */
static int
bench_conn_flush(struct bench_conn *c)
{
	void *buf;
	size_t len;
	uv_buf_t ub;
	int n;

	if (c->wbuf != NULL || tls_chan_output_len(c->ch) == 0)
		return 0;
	tls_chan_take_output(c->ch, &buf, &len);
	ub = uv_buf_init(buf, (unsigned)len);
	n = uv_try_write((uv_stream_t *)&c->tcp, &ub, 1);
	if (n >= 0 && (size_t)n == len) {
		free(buf);
		return 0;
	}
	if (n < 0 && n != UV_EAGAIN) {
		free(buf);
		bench_fail(c, BENCH_T_CLOSED, "write: %s", uv_strerror(n));
		return -1;
	}
	if (n > 0) {
		ub.base += n;
		ub.len -= (unsigned)n;
	}
	c->wbuf = buf;
	if ((n = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &ub, 1,
	    bench_write_cb)) != 0) {
		free(buf);
		c->wbuf = NULL;
		bench_fail(c, BENCH_T_CLOSED, "write: %s", uv_strerror(n));
		return -1;
	}
	return 0;
}

/* Encrypt len bytes of plaintext and send them.  -1: dropped. */
static int
bench_conn_send(struct bench_conn *c, const char *p, size_t len)
{
	if (tls_chan_write(c->ch, p, len) != 0) {
		bench_fail(c, BENCH_T_TLS, "TLS: %s", tls_chan_error(c->ch));
		return -1;
	}
	return bench_conn_flush(c);
}

static void
bench_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *ub)
{
	struct bench_conn *c = h->data;
	void *buf;
	size_t len;

	(void)suggested;
	if (tls_chan_input_reserve(c->ch, &buf, &len) != 0) {
		ub->base = NULL;
		ub->len = 0;
		return;
	}
	c->reserved = 1;
	ub->base = buf;
	ub->len = len;
}

static void
bench_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *ub)
{
	struct bench_conn *c = s->data;

	(void)ub;
	if (c->reserved) {
		c->reserved = 0;
		tls_chan_input_commit(c->ch, nread > 0 ? (size_t)nread : 0);
	}
	if (nread == 0)
		return;
	c->t->now_ns = uv_hrtime();
	if (nread == UV_EOF)
		tls_chan_feed_eof(c->ch);
	else if (nread < 0) {
		bench_fail(c, BENCH_T_CLOSED, "read: %s", uv_strerror(
		    (int)nread));
		return;
	}
	bench_conn_advance(c);
}

static void
bench_connect_cb(uv_connect_t *req, int status)
{
	struct bench_conn *c = req->handle->data;
	struct bench *b = c->t->b;
	int rc;

	if (status == UV_ECANCELED || c->state != BENCH_C_CONNECT)
		return;
	if (status < 0) {
		bench_fail(c, BENCH_T_CONNECT, "connect: %s",
		    uv_strerror(status));
		return;
	}
	if ((c->ch = tls_chan_new(b->ctx, b->server_name)) == NULL) {
		bench_fail(c, BENCH_T_LOCAL, "cannot start TLS for '%s'",
		    b->server_name);
		return;
	}
	/* A ticket the server no longer takes means a full handshake. */
	if (c->session != NULL &&
	    tls_chan_set_session(c->ch, c->session, c->session_len) != 0) {
		wipe(c->session, c->session_len);
		free(c->session);
		c->session = NULL;
	}
	if ((rc = uv_read_start((uv_stream_t *)&c->tcp, bench_alloc_cb,
	    bench_read_cb)) != 0) {
		bench_fail(c, BENCH_T_CONNECT, "read: %s", uv_strerror(rc));
		return;
	}
	c->state = BENCH_C_HANDSHAKE;
	uv_timer_start(&c->timer, bench_timer_cb, b->timeout_ms, 0);
	bench_conn_advance(c);
}

static void
bench_conn_connect(struct bench_conn *c)
{
	struct bench *b = c->t->b;
	uv_os_fd_t fd;
	int rc, one = 1;

	c->state = BENCH_C_CONNECT;
	c->t0 = uv_hrtime();
	c->next_id = 1;
	c->head_id = 1;
	c->outstanding = 0;
	c->exhausted = 0;
	c->final = 0;
	frame_init(&c->fr, MSG_REPLY_MAX_BYTES);
	if ((rc = uv_tcp_init_ex(&c->t->loop, &c->tcp,
	    b->server.ss_family)) != 0) {
		bench_fail(c, BENCH_T_CONNECT, "socket: %s", uv_strerror(rc));
		return;
	}
	c->tcp.data = c;
	c->tcp_open = 1;
	if (b->nsources > 0) {
		/*
		 * Let connect() pick the port for the whole 4-tuple, not
		 * bind() for the address alone: each source address then
		 * has the full ephemeral range for this server.
		 */
		if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
			(void)setsockopt(fd, IPPROTO_IP,
			    IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if ((rc = uv_tcp_bind(&c->tcp, (const struct sockaddr *)
		    &b->sources[c->index % b->nsources], 0)) != 0) {
			bench_fail(c, BENCH_T_CONNECT, "bind: %s",
			    uv_strerror(rc));
			return;
		}
	}
	(void)uv_tcp_nodelay(&c->tcp, 1);
	if ((rc = uv_tcp_connect(&c->creq, &c->tcp,
	    (const struct sockaddr *)&b->server, bench_connect_cb)) != 0) {
		bench_fail(c, BENCH_T_CONNECT, "connect: %s", uv_strerror(rc));
		return;
	}
	uv_timer_start(&c->timer, bench_timer_cb, b->timeout_ms, 0);
}

/* ---- protocol -------------------------------------------------------- */

/* The account of connection i; the prefix is at most 32 bytes. */
static void
bench_account(const struct bench *b, unsigned i, char *out, size_t size)
{
	if (b->prefix != NULL)
		snprintf(out, size, "%.32s%03u", b->prefix, i % b->naccounts);
	else
		snprintf(out, size, "%s", b->o->account);
}

static size_t
bench_put(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return n;
}

static size_t
bench_put_u64(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0, i;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	for (i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

/* Append request id of connection c at p (room: BENCH_LINE_MAX). */
#define BENCH_LINE_MAX	256
static size_t
bench_encode(struct bench_conn *c, char *p, uint64_t id)
{
	struct bench *b = c->t->b;
	char to[MSG_ACCOUNT_MAX + 1];
	size_t n;

	n = bench_put(p, "{\"id\":");
	n += bench_put_u64(p + n, id);
	switch (b->mode) {
	case BENCH_TRANSFER:
		bench_account(b, c->index + 1, to, sizeof(to));
		n += (size_t)snprintf(p + n, BENCH_LINE_MAX - n,
		    ",\"op\":\"transfer\",\"to\":\"%s\",\"amount\":1,"
		    "\"idempotency_key\":\"%s-%u-%llu\"}\n", to, b->key_tag,
		    c->index, (unsigned long long)id);
		break;
	case BENCH_BALANCE:
		n += bench_put(p + n, ",\"op\":\"balance\"}\n");
		break;
	default:
		n += bench_put(p + n, ",\"op\":\"ping\"}\n");
		break;
	}
	return n;
}

static enum msg_op
bench_op(const struct bench *b)
{
	return b->mode == BENCH_TRANSFER ? MSG_OP_TRANSFER :
	    b->mode == BENCH_BALANCE ? MSG_OP_BALANCE : MSG_OP_PING;
}

/*
 * 1 if line is a success reply in canonical form to request id want:
 * {"id":want,"ok":true followed by ',' or '}', and the line ends in '}'.
 */
static int
bench_reply_is_ok(const char *s, size_t len, uint64_t want)
{
	static const char pre[] = "{\"id\":", mid[] = ",\"ok\":true";
	uint64_t id = 0;
	size_t i = sizeof(pre) - 1, digits = 0;

	if (len < sizeof(pre) - 1 + 1 + sizeof(mid) - 1 + 1 ||
	    memcmp(s, pre, sizeof(pre) - 1) != 0 || s[len - 1] != '}')
		return 0;
	while (i < len && s[i] >= '0' && s[i] <= '9' && digits < 16) {
		id = id * 10 + (uint64_t)(s[i] - '0');
		i++;
		digits++;
	}
	if (digits == 0 || id != want || len - i < sizeof(mid) - 1 ||
	    memcmp(s + i, mid, sizeof(mid) - 1) != 0)
		return 0;
	i += sizeof(mid) - 1;
	return i < len && (s[i] == ',' || s[i] == '}');
}

/* A reply in RUN or HOLD.  -1 if the connection was dropped. */
static int
bench_conn_reply(struct bench_conn *c, const char *line, size_t len)
{
	struct bench_thread *t = c->t;
	struct bench *b = t->b;
	struct codec_error cerr;
	struct msg_reply rep;
	struct msg_id id;
	unsigned ring = b->mode == BENCH_HOLD ? 1 : b->inflight;
	int ok;

	if (c->outstanding == 0) {
		bench_fail(c, BENCH_T_REPLY, "a line answering no request: "
		    "%.60s", line);
		return -1;
	}
	if (!(ok = bench_reply_is_ok(line, len, c->head_id))) {
		if (codec_decode_reply_id(line, len, &id, &cerr) != 0) {
			bench_fail(c, BENCH_T_REPLY, "bad reply: %s",
			    cerr.message);
			return -1;
		}
		if (id.kind != MSG_ID_INT || (uint64_t)id.num != c->head_id) {
			bench_fail(c, BENCH_T_REPLY, "reply out of order: "
			    "%.60s (expected id %llu)", line,
			    (unsigned long long)c->head_id);
			return -1;
		}
		if (codec_decode_reply(line, len, bench_op(b), &rep,
		    &cerr) != 0) {
			bench_fail(c, BENCH_T_REPLY, "bad reply: %s",
			    cerr.message);
			return -1;
		}
		if (rep.error.code == MSG_ERR_NONE)
			ok = 1;
		else
			bench_count_error(t, rep.error.code, rep.error.message);
		msg_reply_clear(&rep);
	}
	bench_hist_add(&t->st.hist, t->now_ns - c->sent_at[c->head_id % ring]);
	c->head_id++;
	c->outstanding--;
	t->st.received++;
	if (ok) {
		t->st.ok++;
		if (b->mode == BENCH_HOLD)
			atomic_fetch_add_explicit(&t->prog_ok, 1,
			    memory_order_relaxed);
	}
	if (b->mode == BENCH_HOLD) {
		if (c->final) {
			if (ok)
				t->st.answering++;
			bench_conn_drop(c);
			return -1;
		}
		frame_trim(&c->fr);	/* idle until the next ping */
	}
	return 0;
}

/* The set-up is complete: wait for the clock. */
static void
bench_conn_ready(struct bench_conn *c)
{
	c->state = BENCH_C_READY;
	uv_timer_stop(&c->timer);
	frame_trim(&c->fr);
	c->open = 1;
	atomic_fetch_add_explicit(&c->t->prog_ready, 1, memory_order_relaxed);
	bench_setup_over(c);
}

static int
bench_conn_login(struct bench_conn *c)
{
	struct bench *b = c->t->b;
	struct msg_request req;
	struct codec_buf out;
	int rc;

	msg_request_init(&req);
	msg_id_set_int(&req.id, 0);
	msg_request_set_op(&req, "login");
	bench_account(b, c->index, req.u.login.account,
	    sizeof(req.u.login.account));
	req.u.login.password_len = b->password_len;
	memcpy(req.u.login.password, b->password, b->password_len);
	req.u.login.password[b->password_len] = '\0';
	codec_buf_init(&out);
	rc = codec_encode_request(&out, &req);
	msg_request_clear(&req);
	if (rc != 0) {
		codec_buf_free(&out);
		bench_fail(c, BENCH_T_LOCAL, "cannot encode the login: %s",
		    strerror(errno));
		return -1;
	}
	c->state = BENCH_C_LOGIN;
	uv_timer_start(&c->timer, bench_timer_cb, b->timeout_ms, 0);
	rc = bench_conn_send(c, out.data, out.len);
	codec_buf_free(&out);	/* wipes the password */
	return rc;
}

static int
bench_conn_login_reply(struct bench_conn *c, const char *line, size_t len)
{
	struct codec_error cerr;
	struct msg_reply rep;

	if (codec_decode_reply(line, len, MSG_OP_LOGIN, &rep, &cerr) != 0) {
		bench_fail(c, BENCH_T_REPLY, "bad login reply: %s",
		    cerr.message);
		return -1;
	}
	if (rep.id.kind != MSG_ID_INT || rep.id.num != 0) {
		msg_reply_clear(&rep);
		bench_fail(c, BENCH_T_REPLY, "login reply out of order: %.60s",
		    line);
		return -1;
	}
	if (rep.error.code != MSG_ERR_NONE) {
		/* Refused: counted by its code; this connection is of no
		   further use. */
		bench_count_error(c->t, rep.error.code, rep.error.message);
		msg_reply_clear(&rep);
		c->t->st.failed++;
		bench_conn_drop(c);
		return -1;
	}
	msg_reply_clear(&rep);
	c->t->st.logged_in++;
	bench_conn_ready(c);
	return 0;
}

/* A completed handshake in handshake mode: count it, then say goodbye. */
static int
bench_conn_handshake_done(struct bench_conn *c)
{
	struct bench_thread *t = c->t;
	struct tls_info info;
	unsigned char *s;
	size_t n;

	bench_hist_add(&t->st.hist, t->now_ns - c->t0);
	t->st.received++;
	t->st.ok++;
	if (t->b->resume) {
		if (tls_chan_info(c->ch, &info) == 0 && info.resumed)
			t->st.resumed++;
		if (tls_chan_get_session(c->ch, &s, &n) == 0) {
			if (c->session != NULL) {
				wipe(c->session, c->session_len);
				free(c->session);
			}
			c->session = s;
			c->session_len = n;
		}
	}
	/*
	 * close_notify, then wait for secd to close first: the TIME_WAIT
	 * then stays on secd's side, and the client's ports do not run out
	 * in a loop of thousands of connections a second.
	 */
	c->state = BENCH_C_BYE;
	uv_timer_start(&c->timer, bench_timer_cb, t->b->timeout_ms, 0);
	if (tls_chan_close_notify(c->ch) != 0) {
		bench_conn_drop(c);
		return -1;
	}
	return bench_conn_flush(c);
}

static int
bench_conn_greeting(struct bench_conn *c, const char *line, size_t len)
{
	struct bench *b = c->t->b;
	struct codec_error cerr;
	struct msg_hello hello;

	if (codec_decode_hello(line, len, &hello, &cerr) != 0) {
		bench_fail(c, BENCH_T_REPLY, "bad greeting: %s", cerr.message);
		return -1;
	}
	if (hello.version != MSG_PROTOCOL_VERSION) {
		bench_fail(c, BENCH_T_REPLY, "secd speaks protocol %lld, "
		    "secctl speaks %d", (long long)hello.version,
		    MSG_PROTOCOL_VERSION);
		return -1;
	}
	if (b->mode == BENCH_HANDSHAKE)
		return bench_conn_handshake_done(c);
	if (b->login)
		return bench_conn_login(c);
	bench_conn_ready(c);
	return 0;
}

/* One line from secd.  -1 if the connection was dropped. */
static int
bench_conn_line(struct bench_conn *c, const char *line, size_t len)
{
	switch (c->state) {
	case BENCH_C_GREETING:
		return bench_conn_greeting(c, line, len);
	case BENCH_C_LOGIN:
		return bench_conn_login_reply(c, line, len);
	case BENCH_C_RUN:
	case BENCH_C_HOLD:
		return bench_conn_reply(c, line, len);
	case BENCH_C_BYE:
		return 0;
	default:
		bench_fail(c, BENCH_T_REPLY, "unexpected line: %.60s", line);
		return -1;
	}
}

/* Decrypt what arrived and hand out its lines.  -1 if dropped. */
static int
bench_conn_read(struct bench_conn *c)
{
	struct bench_thread *t = c->t;
	enum frame_status st;
	const char *line;
	size_t room, len;
	ssize_t n;

	for (;;) {
		room = c->fr.max + FRAME_SLACK - frame_buffered(&c->fr);
		if (room > sizeof(t->plain))
			room = sizeof(t->plain);
		n = tls_chan_read(c->ch, t->plain, room);
		if (n > 0) {
			if (frame_push(&c->fr, t->plain, (size_t)n) !=
			    (size_t)n) {
				bench_fail(c, BENCH_T_LOCAL, "out of memory");
				return -1;
			}
			while ((st = frame_next(&c->fr, &line, &len)) ==
			    FRAME_LINE)
				if (bench_conn_line(c, line, len) != 0)
					return -1;
			if (st == FRAME_TOO_LARGE) {
				bench_fail(c, BENCH_T_REPLY, "a line over %d "
				    "bytes", MSG_REPLY_MAX_BYTES);
				return -1;
			}
			continue;
		}
		if (n == TLS_WANT_READ)
			break;
		if (n == TLS_CLOSED) {
			if (c->state == BENCH_C_BYE)
				bench_conn_drop(c);	/* as it should */
			else
				bench_fail(c, BENCH_T_CLOSED, "secd closed "
				    "the connection");
			return -1;
		}
		bench_fail(c, BENCH_T_TLS, "TLS: %s", tls_chan_error(c->ch));
		return -1;
	}
	return bench_conn_flush(c);	/* e.g. a key update */
}

static void
bench_conn_advance(struct bench_conn *c)
{
	struct bench *b = c->t->b;
	int rc;

	if (c->state == BENCH_C_HANDSHAKE) {
		rc = tls_chan_handshake(c->ch);
		if (bench_conn_flush(c) != 0)
			return;
		if (rc == TLS_WANT_READ)
			return;
		if (rc != TLS_OK) {
			bench_fail(c, BENCH_T_TLS, "TLS handshake: %s",
			    tls_chan_error(c->ch));
			return;
		}
		c->t->st.connected++;
		c->state = BENCH_C_GREETING;
		uv_timer_start(&c->timer, bench_timer_cb, b->timeout_ms, 0);
	}
	if (bench_conn_read(c) != 0)
		return;
	if (c->state == BENCH_C_RUN) {
		bench_conn_fill(c);
		if (c->state == BENCH_C_RUN && c->outstanding > 0)
			uv_timer_start(&c->timer, bench_timer_cb,
			    b->timeout_ms, 0);
	}
}

/*
 * RUN: top the window up to --inflight requests in one write, or, when the
 * run is over for this connection and nothing is in flight, end it.
 */
static void
bench_conn_fill(struct bench_conn *c)
{
	struct bench_thread *t = c->t;
	struct bench *b = t->b;
	uint64_t first = c->next_id, id, now;
	size_t n = 0;

	while (c->outstanding < b->inflight && !c->exhausted) {
		if (t->phase != BENCH_P_RUN || !bench_claim(b)) {
			c->exhausted = 1;
			break;
		}
		n += bench_encode(c, t->out + n, c->next_id);
		c->next_id++;
		c->outstanding++;
	}
	if (n == 0) {
		if (c->outstanding == 0 && c->exhausted)
			bench_conn_drop(c);
		return;
	}
	now = uv_hrtime();
	for (id = first; id < c->next_id; id++)
		c->sent_at[id % b->inflight] = now;
	t->st.sent += c->next_id - first;
	(void)bench_conn_send(c, t->out, n);
}

/* HOLD: one ping.  -1 if dropped. */
static int
bench_conn_ping(struct bench_conn *c)
{
	struct bench_thread *t = c->t;
	size_t n;

	n = bench_encode(c, t->out, c->next_id);
	c->sent_at[0] = uv_hrtime();
	c->next_id++;
	c->outstanding = 1;
	t->st.sent++;
	return bench_conn_send(c, t->out, n);
}

static void
bench_timer_cb(uv_timer_t *tm)
{
	struct bench_conn *c = tm->data;
	struct bench_thread *t = c->t;
	struct bench *b = t->b;
	uint64_t age, limit;

	switch (c->state) {
	case BENCH_C_IDLE:
		/* handshake mode: the next attempt, if there is one */
		if (c->tcp_open)
			return;
		if (t->phase != BENCH_P_RUN || !bench_claim(b)) {
			bench_conn_finish(c);
			return;
		}
		t->st.sent++;
		bench_conn_connect(c);
		return;
	case BENCH_C_HOLD:
		if (c->outstanding > 0) {
			age = uv_hrtime() - c->sent_at[0];
			limit = (uint64_t)b->timeout_ms * 1000000u;
			if (age >= limit)
				bench_fail(c, BENCH_T_TIMEOUT, "no answer to a "
				    "ping in %u ms", b->timeout_ms);
			else if (c->final)	/* the one-shot guard: again */
				uv_timer_start(&c->timer, bench_timer_cb,
				    (limit - age) / 1000000u + 1, 0);
			return;
		}
		if (!c->final)
			(void)bench_conn_ping(c);
		return;
	case BENCH_C_BYE:
		bench_conn_drop(c);	/* secd did not close: we do */
		return;
	case BENCH_C_READY:
	case BENCH_C_DONE:
		return;
	default:
		bench_fail(c, BENCH_T_TIMEOUT, "no progress in %u ms",
		    b->timeout_ms);
		return;
	}
}

/* ---- phases ---------------------------------------------------------- */

static void
bench_thread_start(struct bench_thread *t)
{
	struct bench *b = t->b;
	struct bench_conn *c;
	uint64_t delay;
	unsigned i;

	for (i = 0; i < t->nconns; i++) {
		c = &t->conns[i];
		if (b->mode == BENCH_HANDSHAKE) {
			bench_timer_cb(&c->timer);	/* IDLE: attempt */
			continue;
		}
		if (c->state != BENCH_C_READY)
			continue;
		if (b->mode == BENCH_HOLD) {
			/* Spread the pings over the interval. */
			c->state = BENCH_C_HOLD;
			delay = (uint64_t)c->index * b->ping_ms / b->conns;
			uv_timer_start(&c->timer, bench_timer_cb, delay,
			    b->ping_ms);
			continue;
		}
		c->state = BENCH_C_RUN;
		bench_conn_fill(c);
		if (c->state == BENCH_C_RUN && c->outstanding > 0)
			uv_timer_start(&c->timer, bench_timer_cb,
			    b->timeout_ms, 0);
	}
}

static void
bench_conn_stop(struct bench_conn *c)
{
	struct bench *b = c->t->b;

	switch (c->state) {
	case BENCH_C_IDLE:
		/* Not started, or between attempts: a socket still
		   closing finishes in its close callback. */
		c->backoff = 0;
		if (!c->tcp_open) {
			uv_timer_stop(&c->timer);
			bench_conn_finish(c);
		}
		break;
	case BENCH_C_CONNECT:
	case BENCH_C_HANDSHAKE:
	case BENCH_C_GREETING:
	case BENCH_C_LOGIN:
	case BENCH_C_READY:
		bench_conn_drop(c);
		break;
	case BENCH_C_RUN:
		c->exhausted = 1;
		if (c->outstanding == 0)
			bench_conn_drop(c);
		break;
	case BENCH_C_HOLD:
		/* Prove it still answers: one last ping, then close. */
		c->t->st.held++;
		c->final = 1;
		if (c->outstanding == 0 && bench_conn_ping(c) != 0)
			break;
		uv_timer_start(&c->timer, bench_timer_cb, b->timeout_ms, 0);
		break;
	case BENCH_C_BYE:
	case BENCH_C_DONE:
		break;
	}
}

static void
bench_thread_stop(struct bench_thread *t)
{
	unsigned i;

	t->next_setup = t->nconns;
	for (i = 0; i < t->nconns; i++)
		bench_conn_stop(&t->conns[i]);
	bench_thread_check(t);
}

static void
bench_wake_cb(uv_async_t *a)
{
	struct bench_thread *t = a->data;
	enum bench_phase p;

	p = (enum bench_phase)atomic_load(&t->b->phase);
	if (p == BENCH_P_RUN && t->phase == BENCH_P_SETUP) {
		t->phase = BENCH_P_RUN;
		bench_thread_start(t);
	} else if (p == BENCH_P_STOP && t->phase != BENCH_P_STOP) {
		t->phase = BENCH_P_STOP;
		bench_thread_stop(t);
	}
}

void
bench_thread_wake(struct bench_thread *t)
{
	/* Under the lock: the loop cannot start closing meanwhile. */
	uv_mutex_lock(&t->b->lock);
	if (!t->wake_gone)
		uv_async_send(&t->wake);
	uv_mutex_unlock(&t->b->lock);
}

int
bench_thread_init(struct bench_thread *t)
{
	struct bench *b = t->b;
	unsigned ring = b->mode == BENCH_HOLD ? 1 : b->inflight;
	int rc;

	t->conns = calloc(t->nconns, sizeof(*t->conns));
	t->sent_at = calloc((size_t)t->nconns * ring, sizeof(*t->sent_at));
	t->outcap = (size_t)ring * BENCH_LINE_MAX;
	t->out = malloc(t->outcap);
	if (t->conns == NULL || t->sent_at == NULL || t->out == NULL) {
		fprintf(stderr, "secctl bench: out of memory for %u "
		    "connections\n", t->nconns);
		return -1;
	}
	if ((rc = uv_loop_init(&t->loop)) != 0) {
		fprintf(stderr, "secctl bench: event loop: %s\n",
		    uv_strerror(rc));
		return -1;
	}
	t->loop_ok = 1;
	if ((rc = uv_async_init(&t->loop, &t->wake, bench_wake_cb)) != 0) {
		fprintf(stderr, "secctl bench: event loop: %s\n",
		    uv_strerror(rc));
		return -1;
	}
	t->wake.data = t;
	t->wake_ok = 1;
	return 0;
}

void
bench_thread_free(struct bench_thread *t)
{
	if (t->wake_ok && !t->wake_closed) {
		/* The thread never ran: close what init opened. */
		uv_close((uv_handle_t *)&t->wake, NULL);
		t->wake_closed = 1;
		uv_run(&t->loop, UV_RUN_DEFAULT);
	}
	if (t->loop_ok && uv_loop_close(&t->loop) != 0)
		fprintf(stderr, "secctl bench: thread %u left handles open\n",
		    t->index);
	t->loop_ok = 0;
	free(t->conns);
	free(t->sent_at);
	free(t->out);
	t->conns = NULL;
	t->sent_at = NULL;
	t->out = NULL;
}

void
bench_thread_main(void *arg)
{
	struct bench_thread *t = arg;
	struct bench *b = t->b;
	struct bench_conn *c;
	unsigned i, ring = b->mode == BENCH_HOLD ? 1 : b->inflight;

	t->phase = BENCH_P_SETUP;
	t->active = t->nconns;
	for (i = 0; i < t->nconns; i++) {
		c = &t->conns[i];
		c->t = t;
		c->index = t->first + i;
		c->sent_at = t->sent_at + (size_t)i * ring;
		uv_timer_init(&t->loop, &c->timer);
		c->timer.data = c;
		frame_init(&c->fr, MSG_REPLY_MAX_BYTES);
	}
	if (b->mode == BENCH_HANDSHAKE) {
		/* Nothing to set up: every attempt is measured. */
		t->ready_sent = 1;
		bench_thread_ready(t);
	} else
		bench_setup_more(t);
	uv_run(&t->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&t->loop) != 0)
		fprintf(stderr, "secctl bench: thread %u left handles open\n",
		    t->index);
	t->loop_ok = 0;
	tls_thread_cleanup();
}
