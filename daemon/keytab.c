/*
 * keytab.c: chained hash buckets plus one doubly linked list in order of
 * use.  Finding or inserting a key moves its record to the head of the
 * list; a full table drops the record at the tail.  Both are O(1), so the
 * cost of a hostile flood of new keys is one free and one calloc each.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "keytab.h"

struct keytab_rec {
	struct keytab_rec *hnext;		/* bucket chain */
	struct keytab_rec *newer, *older;	/* use order */
	uint32_t hash;
	uint8_t len;
	uint8_t key[KEYTAB_KEY_MAX];
	alignas(max_align_t) unsigned char val[];
};

struct keytab {
	struct keytab_rec **bucket;
	size_t nbuckets;		/* a power of two */
	size_t cap, count, valsize;
	struct keytab_rec *newest, *oldest;
	uint64_t seed;
};

/* FNV-1a over the seed and the key. */
static uint32_t
keytab_hash(const struct keytab *t, const uint8_t *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull ^ t->seed;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= key[i];
		h *= 0x100000001b3ull;
	}
	return (uint32_t)(h ^ (h >> 32));
}

struct keytab *
keytab_new(size_t cap, size_t valsize)
{
	struct keytab *t;

	if (cap == 0 || (t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	for (t->nbuckets = 16; t->nbuckets < cap; t->nbuckets *= 2)
		;
	if ((t->bucket = calloc(t->nbuckets, sizeof(*t->bucket))) == NULL) {
		free(t);
		return NULL;
	}
	t->cap = cap;
	t->valsize = valsize;
	if (getrandom(&t->seed, sizeof(t->seed), 0) != sizeof(t->seed))
		t->seed = (uint64_t)(uintptr_t)t;
	return t;
}

static void
keytab_unlink_use(struct keytab *t, struct keytab_rec *r)
{
	if (r->newer != NULL)
		r->newer->older = r->older;
	else
		t->newest = r->older;
	if (r->older != NULL)
		r->older->newer = r->newer;
	else
		t->oldest = r->newer;
	r->newer = r->older = NULL;
}

static void
keytab_push_newest(struct keytab *t, struct keytab_rec *r)
{
	r->older = t->newest;
	r->newer = NULL;
	if (t->newest != NULL)
		t->newest->newer = r;
	t->newest = r;
	if (t->oldest == NULL)
		t->oldest = r;
}

/* Unlink r from its bucket and the use list, and free it. */
static void
keytab_remove(struct keytab *t, struct keytab_rec *r)
{
	struct keytab_rec **pp;

	for (pp = &t->bucket[r->hash & (t->nbuckets - 1)]; *pp != r;
	    pp = &(*pp)->hnext)
		;
	*pp = r->hnext;
	keytab_unlink_use(t, r);
	t->count--;
	free(r);
}

static struct keytab_rec *
keytab_lookup(struct keytab *t, const uint8_t *key, size_t len, uint32_t h)
{
	struct keytab_rec *r;

	for (r = t->bucket[h & (t->nbuckets - 1)]; r != NULL; r = r->hnext)
		if (r->hash == h && r->len == len &&
		    memcmp(r->key, key, len) == 0)
			return r;
	return NULL;
}

void *
keytab_find(struct keytab *t, const void *key, size_t len)
{
	struct keytab_rec *r;

	if (len > KEYTAB_KEY_MAX)
		return NULL;
	r = keytab_lookup(t, key, len, keytab_hash(t, key, len));
	if (r == NULL)
		return NULL;
	keytab_unlink_use(t, r);
	keytab_push_newest(t, r);
	return r->val;
}

void *
keytab_insert(struct keytab *t, const void *key, size_t len, int *evicted)
{
	struct keytab_rec *r;
	uint32_t h;
	size_t b;

	*evicted = 0;
	if (len > KEYTAB_KEY_MAX)
		return NULL;
	h = keytab_hash(t, key, len);
	if ((r = keytab_lookup(t, key, len, h)) != NULL) {
		keytab_unlink_use(t, r);
		keytab_push_newest(t, r);
		return r->val;
	}
	if ((r = calloc(1, sizeof(*r) + t->valsize)) == NULL)
		return NULL;
	if (t->count >= t->cap) {
		keytab_remove(t, t->oldest);
		*evicted = 1;
	}
	r->hash = h;
	r->len = (uint8_t)len;
	memcpy(r->key, key, len);
	b = h & (t->nbuckets - 1);
	r->hnext = t->bucket[b];
	t->bucket[b] = r;
	keytab_push_newest(t, r);
	t->count++;
	return r->val;
}

void
keytab_delete(struct keytab *t, const void *key, size_t len)
{
	struct keytab_rec *r;

	if (len > KEYTAB_KEY_MAX)
		return;
	if ((r = keytab_lookup(t, key, len, keytab_hash(t, key, len))) != NULL)
		keytab_remove(t, r);
}

size_t
keytab_count(const struct keytab *t)
{
	return t->count;
}

void
keytab_clear(struct keytab *t)
{
	struct keytab_rec *r, *next;

	for (r = t->newest; r != NULL; r = next) {
		next = r->older;
		free(r);
	}
	memset(t->bucket, 0, t->nbuckets * sizeof(*t->bucket));
	t->newest = t->oldest = NULL;
	t->count = 0;
}

void
keytab_free(struct keytab *t)
{
	if (t == NULL)
		return;
	keytab_clear(t);
	free(t->bucket);
	free(t);
}
