/*
 * ledger_cache.c: see ledger_cache.h.  A keytab of account name to
 * (balance, currency) behind one mutex, and an epoch that every put and
 * flush advances.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "keytab.h"
#include "ledger_cache.h"

struct ledger_cache_val {
	int64_t	balance;
	char	currency[4];
};

struct ledger_cache {
	pthread_mutex_t	 mtx;
	struct keytab	*tab;
	uint64_t	 epoch;
};

struct ledger_cache *
ledger_cache_new(size_t cap)
{
	struct ledger_cache *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->tab = keytab_new(cap, sizeof(struct ledger_cache_val))) ==
	    NULL || pthread_mutex_init(&c->mtx, NULL) != 0) {
		keytab_free(c->tab);
		free(c);
		return NULL;
	}
	return c;
}

void
ledger_cache_free(struct ledger_cache *c)
{
	if (c == NULL)
		return;
	keytab_free(c->tab);
	pthread_mutex_destroy(&c->mtx);
	free(c);
}

int
ledger_cache_get(struct ledger_cache *c, const char *account,
    int64_t *balance, char currency[4])
{
	const struct ledger_cache_val *v;
	int found = 0;

	pthread_mutex_lock(&c->mtx);
	if ((v = keytab_find(c->tab, account, strlen(account))) != NULL) {
		*balance = v->balance;
		memcpy(currency, v->currency, 4);
		found = 1;
	}
	pthread_mutex_unlock(&c->mtx);
	return found;
}

uint64_t
ledger_cache_epoch(struct ledger_cache *c)
{
	uint64_t e;

	pthread_mutex_lock(&c->mtx);
	e = c->epoch;
	pthread_mutex_unlock(&c->mtx);
	return e;
}

/* Store under the lock; an account name too long for a key is not kept. */
static void
ledger_cache_store(struct ledger_cache *c, const char *account,
    int64_t balance, const char *currency)
{
	struct ledger_cache_val *v;
	size_t len = strlen(account), clen = strlen(currency);
	int evicted;

	if (clen > 3 ||
	    (v = keytab_insert(c->tab, account, len, &evicted)) == NULL) {
		/* Nothing older may stay in its place. */
		keytab_delete(c->tab, account, len);
		return;
	}
	v->balance = balance;
	memset(v->currency, 0, sizeof(v->currency));
	memcpy(v->currency, currency, clen);
}

void
ledger_cache_fill(struct ledger_cache *c, uint64_t epoch,
    const char *account, int64_t balance, const char *currency)
{
	pthread_mutex_lock(&c->mtx);
	if (c->epoch == epoch)
		ledger_cache_store(c, account, balance, currency);
	pthread_mutex_unlock(&c->mtx);
}

void
ledger_cache_put(struct ledger_cache *c, const char *account,
    int64_t balance, const char *currency)
{
	pthread_mutex_lock(&c->mtx);
	c->epoch++;
	ledger_cache_store(c, account, balance, currency);
	pthread_mutex_unlock(&c->mtx);
}

void
ledger_cache_flush(struct ledger_cache *c)
{
	pthread_mutex_lock(&c->mtx);
	c->epoch++;
	keytab_clear(c->tab);
	pthread_mutex_unlock(&c->mtx);
}

size_t
ledger_cache_count(struct ledger_cache *c)
{
	size_t n;

	pthread_mutex_lock(&c->mtx);
	n = keytab_count(c->tab);
	pthread_mutex_unlock(&c->mtx);
	return n;
}
