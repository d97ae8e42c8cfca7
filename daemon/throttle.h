/*
 * throttle.h: failed-login counters per account name and per source
 * address, shared by every worker (secd.yaml's auth section).
 *
 * A login is checked before it reaches the handler and accounted when its
 * answer comes back:
 *   - throttle_begin() refuses it at once if its account name is locked
 *     (THROTTLE_LOCKED: "locked") or its address is (THROTTLE_RATE:
 *     "rate_limited"), each with the seconds until retry.  It also refuses
 *     (THROTTLE_RATE, retry after 1 s) a login for a name that has failed
 *     before when, together with the logins for that name still at the
 *     handler, it could take the failures past the limit: once guessing
 *     has begun, many connections guessing at once get no more guesses
 *     than one.  Logins for a name with no failure on record are not held
 *     back (clients often log many sessions in at once), nor are an
 *     address's (many people may share one address).
 *   - throttle_end() takes the outcome.  A failure counts against the name
 *     and the address; max_failures of them within failure_window lock the
 *     name (max_failures_per_ip: the address) for lockout, and each further
 *     lockout without a success in between lasts twice as long (at most 64
 *     times, and at most 24 hours).  A success forgets the name's failures;
 *     it does not forget the address's, so a client that knows one
 *     password cannot use it to go on guessing others.
 * Names are counted whether or not an account of that name exists, so the
 * answers for an unknown account are the same as for a known one.
 *
 * Addresses are IPv4 addresses or IPv6 /64 prefixes (one host usually
 * holds a whole /64).  State is in memory, lost on restart, and bounded:
 * at most THROTTLE_MAX_KEYS names and as many addresses, least recently
 * failed dropped first (logged, rate limited).
 */
#ifndef SECD_THROTTLE_H
#define SECD_THROTTLE_H

#include <stdint.h>
#include <sys/socket.h>

#define THROTTLE_MAX_KEYS 65536

struct throttle;

struct throttle_limits {
	uint32_t max_failures;		/* per name */
	uint32_t max_failures_per_ip;
	uint64_t window_ms;
	uint64_t lockout_ms;		/* the first lockout */
};

enum throttle_verdict {
	THROTTLE_OK = 0,
	THROTTLE_LOCKED,	/* the name is locked */
	THROTTLE_RATE		/* the address is locked, or too many logins
				   are in flight */
};

/* throttle_new(lim): a throttle, or NULL when memory runs out. */
struct throttle *throttle_new(const struct throttle_limits *lim);

/* throttle_set_limits(t, lim): new limits (reload); counts are kept. */
void throttle_set_limits(struct throttle *t,
    const struct throttle_limits *lim);

/*
 * throttle_begin(t, name, sa, now_ms, &retry_after): may a login for name
 * from sa's address go to the handler now?  On THROTTLE_OK the login is
 * counted as in flight and the caller must call throttle_end() exactly
 * once for it; otherwise *retry_after is set (seconds, >= 1).  now_ms is
 * any monotonic clock in milliseconds, the same for every call.
 */
enum throttle_verdict throttle_begin(struct throttle *t, const char *name,
    const struct sockaddr *sa, uint64_t now_ms, int64_t *retry_after);

enum throttle_outcome {
	THROTTLE_SUCCESS,
	THROTTLE_FAILURE,	/* wrong credentials: counts */
	THROTTLE_NEUTRAL	/* neither (the handler was unavailable) */
};

/*
 * throttle_end(t, name, sa, outcome, now_ms, &name_lock, &addr_lock): the
 * login that throttle_begin() let through ended so.  *name_lock and
 * *addr_lock are set to the seconds of a lockout that this failure started
 * on the name and on the address, or 0, so that the caller can log it.
 */
void throttle_end(struct throttle *t, const char *name,
    const struct sockaddr *sa, enum throttle_outcome outcome,
    uint64_t now_ms, int64_t *name_lock, int64_t *addr_lock);

/* throttle_free(t): NULL ok. */
void throttle_free(struct throttle *t);

#endif /* !SECD_THROTTLE_H */
