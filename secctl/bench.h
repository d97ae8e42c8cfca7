/*
 * bench.h: what the files of secctl bench share.
 *
 *	bench.c		the command line, the threads, the clock, the report
 *	bench_loop.c	one bench thread: a libuv loop and its connections,
 *			each a small state machine
 *	bench_hist.c	the latency histogram
 *
 * Ownership: struct bench belongs to bench_main(); it is filled in before
 * any thread starts and only read afterwards, except for the members marked
 * "shared", which are atomics or sit under lock.  A struct bench_thread and
 * its connections belong to that thread's loop from uv_thread_create until
 * the thread returns; bench_main() reads its results only after joining it.
 */
#ifndef SECCTL_BENCH_H
#define SECCTL_BENCH_H

#include <netinet/in.h>
#include <sys/socket.h>

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "frame.h"
#include "msg.h"
#include "secctl.h"

#define BENCH_MAX_CONNS		1000000
#define BENCH_MAX_INFLIGHT	256
#define BENCH_MAX_THREADS	64
#define BENCH_MAX_SOURCES	4096
/* Connections that may be connecting, handshaking or logging in at once,
   per thread: enough to keep secd busy, few enough that none of them waits
   in secd's accept queue until its handshake timer fires. */
#define BENCH_SETUP_PARALLEL	128
/* Without --sources, spread over 127.0.0.x once a single source address
   would need more than this many ephemeral ports. */
#define BENCH_PORTS_PER_SOURCE	20000

enum bench_mode {
	BENCH_HANDSHAKE,
	BENCH_PING,
	BENCH_BALANCE,
	BENCH_TRANSFER,
	BENCH_HOLD,
	BENCH_NMODES
};

/* Failures that are not error replies, by kind. */
enum bench_terr {
	BENCH_T_CONNECT,	/* socket, bind, connect */
	BENCH_T_TLS,		/* handshake or record layer */
	BENCH_T_CLOSED,		/* the server closed or reset the connection */
	BENCH_T_TIMEOUT,	/* no progress within --timeout */
	BENCH_T_REPLY,		/* a line that is not the awaited reply */
	BENCH_T_LOCAL,		/* out of memory, encoding */
	BENCH_T_COUNT
};

/* Error replies are counted in errors[code]; errors[BENCH_ERR_TRANSPORT]
   is the sum of the transport kinds. */
#define BENCH_ERR_TRANSPORT	MSG_ERR_COUNT

/*
 * The latency histogram: log-linear, BENCH_HIST_SUB buckets per power of two
 * (about 6% resolution at any scale), in nanoseconds up to 2^48 ns (78
 * hours).  Fixed size: nothing grows with the number of samples.
 */
#define BENCH_HIST_SUB		16
#define BENCH_HIST_BUCKETS	(BENCH_HIST_SUB + 44 * BENCH_HIST_SUB)

struct bench_hist {
	uint64_t	 b[BENCH_HIST_BUCKETS];
	uint64_t	 n;
	uint64_t	 max;
};

/* bench_hist_add(h, ns): count one sample. */
void bench_hist_add(struct bench_hist *h, uint64_t ns);

/* bench_hist_merge(into, from): add from's samples to into. */
void bench_hist_merge(struct bench_hist *into, const struct bench_hist *from);

/*
 * bench_hist_percentile(h, p): the p-th percentile (0 < p <= 100) in ns:
 * the middle of the bucket holding that sample, never above the largest
 * sample, so p50 <= p90 <= p99 <= p99.9 <= max always holds.  0 when empty.
 */
uint64_t bench_hist_percentile(const struct bench_hist *h, double p);

/* What one thread counted; summed over threads for the report. */
struct bench_stats {
	struct bench_hist hist;
	uint64_t	 sent;		/* requests (handshake mode: attempts) */
	uint64_t	 received;	/* replies (handshake mode: greetings) */
	uint64_t	 ok;		/* ok replies (completed handshakes) */
	uint64_t	 errors[MSG_ERR_COUNT + 1];
	uint64_t	 terrors[BENCH_T_COUNT];
	uint64_t	 connected;	/* handshakes completed */
	uint64_t	 logged_in;
	uint64_t	 failed;	/* connections (attempts) lost to errors */
	uint64_t	 resumed;	/* handshakes that resumed a session */
	uint64_t	 held;		/* hold: sessions open at the end */
	uint64_t	 answering;	/* hold: ... that answered the last ping */
	char		 first_error[256];
};

/* Phases of a run, set by bench_main() (shared). */
enum bench_phase {
	BENCH_P_SETUP,		/* connect and log in; the clock is not running */
	BENCH_P_RUN,		/* measure */
	BENCH_P_STOP		/* finish what is in flight, close, return */
};

struct bench_conn;

struct bench_thread {
	struct bench	*b;
	unsigned	 index;
	uv_thread_t	 tid;
	uv_loop_t	 loop;
	uv_async_t	 wake;		/* bench_main(): the phase changed */
	struct bench_conn *conns;	/* nconns, global indexes first.. */
	unsigned	 nconns;
	unsigned	 first;
	uint64_t	*sent_at;	/* nconns * ring: send times (ns) */
	unsigned	 next_setup;	/* next connection to set up */
	unsigned	 setting_up;	/* being set up now */
	unsigned	 setups_done;
	unsigned	 active;	/* connections not finished for good */
	enum bench_phase phase;		/* as this loop last saw it */
	int		 in_setup;	/* bench_setup_more() is running */
	int		 ready_sent;	/* told bench_main() set-up is over */
	int		 finished;	/* every connection done; end_ns set */
	int		 loop_ok;	/* loop initialised, not yet closed */
	int		 wake_ok;	/* wake initialised */
	int		 wake_closed;
	int		 wake_gone;	/* no more wake-ups, please: the loop
					   is about to close (b->lock) */
	uint64_t	 now_ns;	/* uv_hrtime() of the event being handled */
	uint64_t	 end_ns;	/* when the last connection finished */
	char		*out;		/* plaintext of one batch of requests */
	size_t		 outcap;
	char		 plain[16384];	/* decrypted bytes, on their way to a
					   connection's framer */
	struct bench_stats st;
	/* For bench_main()'s progress lines while the thread runs (shared). */
	atomic_uint_fast64_t prog_ready;	/* set up (logged in if asked) */
	atomic_uint_fast64_t prog_ok;		/* ok replies */
	atomic_uint_fast64_t prog_errors;
};

struct bench {
	const struct opts *o;
	enum bench_mode	 mode;
	unsigned	 conns;
	unsigned	 inflight;
	unsigned	 nthreads;
	double		 seconds;
	uint64_t	 count;		/* 0: no limit */
	const char	*prefix;	/* accounts PREFIX000..; NULL: -a */
	unsigned	 naccounts;
	int		 login;		/* log each connection in */
	int		 resume;	/* handshake mode: resume sessions */
	int		 json;
	unsigned	 ping_ms;	/* hold: ping interval */
	unsigned	 timeout_ms;	/* no progress this long: give up */
	char		 password[MSG_PASSWORD_MAX + 2];	/* secret */
	size_t		 password_len;	/* 0: certificate login */
	struct sockaddr_storage server;
	char		 server_name[256];	/* to verify; SNI */
	struct sockaddr_in *sources;	/* nsources, or NULL: the kernel's */
	unsigned	 nsources;
	char		 key_tag[32];	/* unique per run, for idempotency keys */
	struct tls_ctx	*ctx;		/* one client context for all threads */
	struct bench_thread *th;

	/* shared */
	uv_mutex_t	 lock;
	uv_cond_t	 cond;		/* ready or done changed */
	unsigned	 ready;		/* threads whose setup is over */
	unsigned	 done;		/* threads whose connections finished */
	_Atomic int	 phase;		/* enum bench_phase */
	atomic_uint_fast64_t issued;	/* claims under --count */
};

extern const char *const bench_mode_names[BENCH_NMODES];
extern const char *const bench_terr_names[BENCH_T_COUNT];

/*
 * bench_thread_init(t): allocate t's connections and buffers and set up its
 * loop and wake handle (t->b, index, first and nconns filled in).  0, or -1
 * with a message on stderr.  bench_thread_free(t): release them, after the
 * thread was joined or if it never started.
 */
int bench_thread_init(struct bench_thread *t);
void bench_thread_free(struct bench_thread *t);

/*
 * bench_thread_main(arg): the body of one bench thread (arg is its struct
 * bench_thread, prepared by bench_main()): set up its share of the
 * connections, tell bench_main() (ready), measure once the phase is RUN,
 * finish when the phase is STOP or --count is used up, and return after
 * every handle is closed and the loop is closed.
 */
void bench_thread_main(void *arg);

/*
 * bench_thread_wake(t): make thread t look at the phase again.  Called by
 * bench_main() after it changed b->phase; safe from any thread.  A thread
 * that has already seen STOP and is closing its loop is left alone (a
 * wake-up sent to a closed loop would abort in libuv).
 */
void bench_thread_wake(struct bench_thread *t);

#endif /* !SECCTL_BENCH_H */
