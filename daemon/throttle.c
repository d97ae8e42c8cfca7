/*
 * throttle.c: two keytabs (names, addresses) of failure records under one
 * mutex.  Logins are rare next to requests, so one lock for all workers
 * costs nothing measurable, and it keeps "check, then count in flight"
 * atomic across workers.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "keytab.h"
#include "log.h"
#include "throttle.h"

/* A lockout never lasts longer than this, however often it repeats. */
#define THROTTLE_LOCK_MAX_MS (24ull * 3600 * 1000)
/* ... nor more than 2^6 times the configured one. */
#define THROTTLE_LOCK_DOUBLINGS 6

struct throttle_rec {
	uint32_t failures;		/* since the window or lockout began */
	uint32_t inflight;		/* logins at the handler */
	uint32_t lockouts;		/* in a row, without a success */
	uint64_t last_failure_ms;
	uint64_t locked_until_ms;	/* locked while now is before it */
};

struct throttle {
	pthread_mutex_t mtx;
	struct throttle_limits lim;
	struct keytab *names;
	struct keytab *addrs;
};

static struct log_rl throttle_evict_rl;

struct throttle *
throttle_new(const struct throttle_limits *lim)
{
	struct throttle *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->lim = *lim;
	t->names = keytab_new(THROTTLE_MAX_KEYS, sizeof(struct throttle_rec));
	t->addrs = keytab_new(THROTTLE_MAX_KEYS, sizeof(struct throttle_rec));
	if (t->names == NULL || t->addrs == NULL) {
		throttle_free(t);
		return NULL;
	}
	pthread_mutex_init(&t->mtx, NULL);
	return t;
}

void
throttle_set_limits(struct throttle *t, const struct throttle_limits *lim)
{
	pthread_mutex_lock(&t->mtx);
	t->lim = *lim;
	pthread_mutex_unlock(&t->mtx);
}

/*
 * The key of an address: a family byte, then the IPv4 address or the
 * first 8 bytes (the /64) of an IPv6 one.  IPv4-mapped IPv6 addresses are
 * IPv4.  Returns the key's length.
 */
static size_t
throttle_addr_key(const struct sockaddr *sa, uint8_t key[9])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		key[0] = 4;
		memcpy(key + 1, &sin->sin_addr, 4);
		return 5;
	}
	if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (memcmp(sin6->sin6_addr.s6_addr, mapped, 12) == 0) {
			key[0] = 4;
			memcpy(key + 1, sin6->sin6_addr.s6_addr + 12, 4);
			return 5;
		}
		key[0] = 6;
		memcpy(key + 1, sin6->sin6_addr.s6_addr, 8);
		return 9;
	}
	key[0] = 0;
	return 1;
}

/* Bring r up to now: forget failures older than the window, and the run
   of lockouts once a window has passed quietly after the last one. */
static void
throttle_age(const struct throttle *t, struct throttle_rec *r, uint64_t now)
{
	if (r->failures > 0 && now - r->last_failure_ms >= t->lim.window_ms &&
	    now >= r->locked_until_ms)
		r->failures = 0;
	if (r->lockouts > 0 && now >= r->locked_until_ms &&
	    now - r->locked_until_ms >= t->lim.window_ms)
		r->lockouts = 0;
}

static int
throttle_rec_idle(const struct throttle_rec *r, uint64_t now)
{
	return r->failures == 0 && r->inflight == 0 && r->lockouts == 0 &&
	    now >= r->locked_until_ms;
}

/* Seconds from now until ms, rounded up, at least 1. */
static int64_t
throttle_secs(uint64_t now, uint64_t until)
{
	uint64_t s = until > now ? (until - now + 999) / 1000 : 1;

	return s > 0 ? (int64_t)s : 1;
}

/*
 * Is r locked?  And for a name (inflight_rule) that has failed before:
 * would one more login in flight let the failures reach the limit?  A
 * name with no failure on record is not held to that, because legitimate
 * clients often log many sessions in at once; an address never is,
 * because many people may share one (NAT).
 */
static enum throttle_verdict
throttle_judge(struct throttle_rec *r, uint32_t limit, uint64_t now,
    enum throttle_verdict locked, int inflight_rule, int64_t *retry_after)
{
	if (now < r->locked_until_ms) {
		*retry_after = throttle_secs(now, r->locked_until_ms);
		return locked;
	}
	if (inflight_rule && r->failures > 0 &&
	    r->failures + r->inflight >= limit) {
		*retry_after = 1;
		return THROTTLE_RATE;
	}
	return THROTTLE_OK;
}

static struct throttle_rec *
throttle_get(struct keytab *kt, const void *key, size_t len, const char *what)
{
	struct throttle_rec *r;
	int evicted;

	r = keytab_insert(kt, key, len, &evicted);
	if (evicted)
		log_ratelimited(&throttle_evict_rl, LOG_L_WARNING,
		    "login throttle: %d %s tracked, forgetting the least "
		    "recently failed", THROTTLE_MAX_KEYS, what);
	return r;
}

enum throttle_verdict
throttle_begin(struct throttle *t, const char *name,
    const struct sockaddr *sa, uint64_t now, int64_t *retry_after)
{
	struct throttle_rec *rn, *ra;
	enum throttle_verdict v = THROTTLE_OK;
	uint8_t akey[9];
	size_t alen, nlen = strnlen(name, KEYTAB_KEY_MAX + 1);

	alen = throttle_addr_key(sa, akey);
	*retry_after = 0;
	pthread_mutex_lock(&t->mtx);
	rn = keytab_find(t->names, name, nlen);
	ra = keytab_find(t->addrs, akey, alen);
	if (rn != NULL) {
		throttle_age(t, rn, now);
		v = throttle_judge(rn, t->lim.max_failures, now,
		    THROTTLE_LOCKED, 1, retry_after);
	}
	if (v == THROTTLE_OK && ra != NULL) {
		throttle_age(t, ra, now);
		v = throttle_judge(ra, t->lim.max_failures_per_ip, now,
		    THROTTLE_RATE, 0, retry_after);
	}
	if (v != THROTTLE_OK)
		goto out;
	/*
	 * Count it in flight.  Should memory run out the login still goes
	 * on, uncounted: refusing every login would be worse, and
	 * throttle_end() copes with a record that is not there.
	 */
	if ((rn = throttle_get(t->names, name, nlen, "names")) != NULL)
		rn->inflight++;
	if ((ra = throttle_get(t->addrs, akey, alen, "addresses")) != NULL)
		ra->inflight++;
out:
	pthread_mutex_unlock(&t->mtx);
	return v;
}

/* One outcome on one record; returns the seconds of a lockout begun. */
static int64_t
throttle_settle(struct throttle *t, struct keytab *kt, const void *key,
    size_t len, uint32_t limit, enum throttle_outcome outcome, uint64_t now)
{
	struct throttle_rec *r;
	uint64_t dur;
	unsigned shift;
	int64_t locked = 0;

	if ((r = keytab_find(kt, key, len)) == NULL)
		return 0;	/* dropped meanwhile */
	if (r->inflight > 0)
		r->inflight--;
	throttle_age(t, r, now);
	if (outcome == THROTTLE_FAILURE) {
		r->failures++;
		r->last_failure_ms = now;
		if (r->failures >= limit) {
			r->lockouts++;
			shift = r->lockouts - 1 < THROTTLE_LOCK_DOUBLINGS ?
			    r->lockouts - 1 : THROTTLE_LOCK_DOUBLINGS;
			dur = t->lim.lockout_ms << shift;
			if (dur > THROTTLE_LOCK_MAX_MS)
				dur = THROTTLE_LOCK_MAX_MS;
			r->locked_until_ms = now + dur;
			r->failures = 0;
			locked = (int64_t)((dur + 999) / 1000);
		}
	} else if (outcome == THROTTLE_SUCCESS && kt == t->names) {
		r->failures = 0;
		r->lockouts = 0;
	}
	if (throttle_rec_idle(r, now))
		keytab_delete(kt, key, len);
	return locked;
}

void
throttle_end(struct throttle *t, const char *name, const struct sockaddr *sa,
    enum throttle_outcome outcome, uint64_t now, int64_t *name_lock,
    int64_t *addr_lock)
{
	uint8_t akey[9];
	size_t alen, nlen = strnlen(name, KEYTAB_KEY_MAX + 1);

	alen = throttle_addr_key(sa, akey);
	pthread_mutex_lock(&t->mtx);
	*name_lock = throttle_settle(t, t->names, name, nlen,
	    t->lim.max_failures, outcome, now);
	*addr_lock = throttle_settle(t, t->addrs, akey, alen,
	    t->lim.max_failures_per_ip, outcome, now);
	pthread_mutex_unlock(&t->mtx);
}

void
throttle_free(struct throttle *t)
{
	if (t == NULL)
		return;
	keytab_free(t->names);
	keytab_free(t->addrs);
	if (t->names != NULL && t->addrs != NULL)
		pthread_mutex_destroy(&t->mtx);
	free(t);
}
