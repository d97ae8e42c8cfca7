/*
 * iplimit.c: a mutex-protected chained hash table of address -> count.
 * The hash is keyed with a random seed so a peer choosing its addresses
 * cannot aim at one bucket.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "iplimit.h"

#define IPLIMIT_BUCKETS 4096u

struct iplimit_entry {
	struct iplimit_entry *next;
	uint8_t addr[16];
	uint32_t count;
};

struct iplimit {
	pthread_mutex_t mtx;
	uint32_t max_total;
	uint32_t max_per_ip;
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

struct iplimit *
iplimit_new(uint32_t max_total, uint32_t max_per_ip)
{
	struct iplimit *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	pthread_mutex_init(&t->mtx, NULL);
	t->max_total = max_total;
	t->max_per_ip = max_per_ip;
	if (getrandom(&t->seed, sizeof(t->seed), 0) != sizeof(t->seed))
		t->seed = (uint64_t)(uintptr_t)t;
	return t;
}

void
iplimit_set_limits(struct iplimit *t, uint32_t max_total, uint32_t max_per_ip)
{
	pthread_mutex_lock(&t->mtx);
	t->max_total = max_total;
	t->max_per_ip = max_per_ip;
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
	if (e == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL) {
			r = IPLIMIT_NOMEM;
			goto out;
		}
		memcpy(e->addr, key, 16);
		e->next = t->bucket[b];
		t->bucket[b] = e;
	}
	if (e->count >= t->max_per_ip) {
		r = IPLIMIT_PER_IP;
		goto out;
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
	pthread_mutex_destroy(&t->mtx);
	free(t);
}
