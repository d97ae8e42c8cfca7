/*
 * iplimit.c: a mutex-protected chained hash table of address -> count,
 * and a keytab of address prefix -> token bucket under the same mutex.
 * The hash is keyed with a random seed so a peer choosing its addresses
 * cannot aim at one bucket.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <time.h>

#include "iplimit.h"
#include "keytab.h"

#define IPLIMIT_BUCKETS 4096u

struct iplimit_entry {
	struct iplimit_entry *next;
	uint8_t addr[16];
	uint32_t count;
};

/* Tokens are counted in thousandths, so that refill is exact integers. */
#define IPLIMIT_MILLI 1000u

struct iplimit_bucket {
	uint64_t milli_tokens;
	uint64_t last_ms;
};

struct iplimit {
	pthread_mutex_t mtx;
	uint32_t max_total;
	uint32_t max_per_ip;
	uint32_t rate;
	uint32_t burst;
	struct keytab *buckets;
	_Atomic uint32_t total;
	uint64_t seed;
	struct iplimit_entry *bucket[IPLIMIT_BUCKETS];
};

/* Normalise to 16 bytes: IPv4 as IPv4-mapped IPv6. */
static void
iplimit_key(const struct sockaddr *sa, uint8_t out[16])
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	memset(out, 0, 16);
	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		memcpy(out, &sin6->sin6_addr, 16);
	}
}

/* FNV-1a over the seed and the key: cheap, and seeded. */
static uint32_t
iplimit_hash(const struct iplimit *t, const uint8_t key[16])
{
	uint64_t h = 0xcbf29ce484222325ull ^ t->seed;
	int i;

	for (i = 0; i < 16; i++) {
		h ^= key[i];
		h *= 0x100000001b3ull;
	}
	return (uint32_t)(h ^ (h >> 32)) % IPLIMIT_BUCKETS;
}

/* The bucket key: IPv4 address, or the /64 of an IPv6 one. */
static size_t
iplimit_bucket_key(const uint8_t addr[16], uint8_t key[8])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	if (memcmp(addr, mapped, 12) == 0) {
		memcpy(key, addr + 12, 4);
		return 4;
	}
	memcpy(key, addr, 8);
	return 8;
}

static uint64_t
iplimit_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Refill addr's bucket up to now and take one token: 0, or -1 if it is
 * empty.  A bucket that cannot be made (no memory) lets the connection
 * through: the total and per-address limits still hold.
 */
static int
iplimit_take_token(struct iplimit *t, const uint8_t addr[16])
{
	struct iplimit_bucket *b;
	uint8_t key[8];
	uint64_t now = iplimit_now_ms(), cap, add;
	size_t len;
	int evicted;

	len = iplimit_bucket_key(addr, key);
	cap = (uint64_t)t->burst * IPLIMIT_MILLI;
	if ((b = keytab_find(t->buckets, key, len)) == NULL) {
		if ((b = keytab_insert(t->buckets, key, len, &evicted)) ==
		    NULL)
			return 0;
		b->milli_tokens = cap;
		b->last_ms = now;
	}
	/* rate tokens a second = rate milli-tokens a millisecond. */
	add = (now - b->last_ms) * t->rate;
	b->milli_tokens = b->milli_tokens + add > cap ? cap :
	    b->milli_tokens + add;
	b->last_ms = now;
	if (b->milli_tokens < IPLIMIT_MILLI)
		return -1;
	b->milli_tokens -= IPLIMIT_MILLI;
	return 0;
}

struct iplimit *
iplimit_new(uint32_t max_total, uint32_t max_per_ip, uint32_t rate,
    uint32_t burst)
{
	struct iplimit *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((t->buckets = keytab_new(IPLIMIT_MAX_BUCKETS,
	    sizeof(struct iplimit_bucket))) == NULL) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->mtx, NULL);
	t->max_total = max_total;
	t->max_per_ip = max_per_ip;
	t->rate = rate;
	t->burst = burst;
	if (getrandom(&t->seed, sizeof(t->seed), 0) != sizeof(t->seed))
		t->seed = (uint64_t)(uintptr_t)t;
	return t;
}

void
iplimit_set_limits(struct iplimit *t, uint32_t max_total, uint32_t max_per_ip,
    uint32_t rate, uint32_t burst)
{
	pthread_mutex_lock(&t->mtx);
	t->max_total = max_total;
	t->max_per_ip = max_per_ip;
	t->rate = rate;
	t->burst = burst;
	pthread_mutex_unlock(&t->mtx);
}

enum iplimit_result
iplimit_acquire(struct iplimit *t, const struct sockaddr *sa)
{
	struct iplimit_entry *e;
	uint8_t key[16];
	uint32_t b;
	enum iplimit_result r = IPLIMIT_OK;

	iplimit_key(sa, key);
	b = iplimit_hash(t, key);
	pthread_mutex_lock(&t->mtx);
	if (atomic_load(&t->total) >= t->max_total) {
		r = IPLIMIT_TOTAL;
		goto out;
	}
	for (e = t->bucket[b]; e != NULL; e = e->next)
		if (memcmp(e->addr, key, 16) == 0)
			break;
	if (e != NULL && e->count >= t->max_per_ip) {
		r = IPLIMIT_PER_IP;
		goto out;
	}
	if (iplimit_take_token(t, key) != 0) {
		r = IPLIMIT_RATE;
		goto out;
	}
	/* Entries exist only for addresses with connections (see release). */
	if (e == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL) {
			r = IPLIMIT_NOMEM;
			goto out;
		}
		memcpy(e->addr, key, 16);
		e->next = t->bucket[b];
		t->bucket[b] = e;
	}
	e->count++;
	atomic_fetch_add(&t->total, 1);
out:
	pthread_mutex_unlock(&t->mtx);
	return r;
}

void
iplimit_release(struct iplimit *t, const struct sockaddr *sa)
{
	struct iplimit_entry *e, **pp;
	uint8_t key[16];
	uint32_t b;

	iplimit_key(sa, key);
	b = iplimit_hash(t, key);
	pthread_mutex_lock(&t->mtx);
	for (pp = &t->bucket[b]; (e = *pp) != NULL; pp = &e->next) {
		if (memcmp(e->addr, key, 16) != 0)
			continue;
		if (e->count > 0) {
			e->count--;
			atomic_fetch_sub(&t->total, 1);
		}
		if (e->count == 0) {
			*pp = e->next;
			free(e);
		}
		break;
	}
	pthread_mutex_unlock(&t->mtx);
}

uint32_t
iplimit_total(struct iplimit *t)
{
	return atomic_load(&t->total);
}

void
iplimit_free(struct iplimit *t)
{
	struct iplimit_entry *e, *next;
	uint32_t i;

	if (t == NULL)
		return;
	for (i = 0; i < IPLIMIT_BUCKETS; i++)
		for (e = t->bucket[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	keytab_free(t->buckets);
	pthread_mutex_destroy(&t->mtx);
	free(t);
}
