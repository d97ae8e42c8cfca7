/*
 * ledger_cache.h: the balances the ledger committed or read last, kept in
 * memory so that `balance` is answered on the caller's thread: no queue,
 * no reader thread, no database read.
 *
 * Who writes what:
 *   - the writer, after each COMMIT and before it answers the batch, puts
 *     the new balance of every account the batch changed
 *     (ledger_cache_put).  A transfer's client therefore reads its own
 *     transfer in its next `balance`, as it would from the database.
 *   - a reader that had to go to the database for a balance (a miss)
 *     offers what it read (ledger_cache_fill).  That value is kept only if
 *     nothing was put or flushed since the reader took the epoch before
 *     its read, so a slow reader can never put back a balance older than
 *     one the writer has stored.
 *   - the writer flushes everything (ledger_cache_flush) when another
 *     process has committed to the database (`secd account deposit`, a
 *     restore): it looks every LEDGER_CACHE_CHECK_MS and before each
 *     batch, so such a change shows in `balance` within that time.  It
 *     flushes too after a failed batch and when it reopens the file.
 *
 * At most cap accounts are held, least recently used out first (keytab).
 * One mutex, held for a table lookup or update, never across I/O.
 */
#ifndef SECD_LEDGER_CACHE_H
#define SECD_LEDGER_CACHE_H

#include <stddef.h>
#include <stdint.h>

/* How often the writer looks for other processes' commits, at most. */
#define LEDGER_CACHE_CHECK_MS	50

struct ledger_cache;

/* ledger_cache_new(cap): NULL when out of memory; cap >= 1. */
struct ledger_cache *ledger_cache_new(size_t cap);

/* ledger_cache_free(c): NULL ok. */
void ledger_cache_free(struct ledger_cache *c);

/*
 * ledger_cache_get(c, account, &balance, currency): 1 and the cached
 * balance and currency (4 bytes, NUL-terminated) of account, or 0.
 */
int ledger_cache_get(struct ledger_cache *c, const char *account,
    int64_t *balance, char currency[4]);

/* ledger_cache_epoch(c): take before reading a balance to fill with. */
uint64_t ledger_cache_epoch(struct ledger_cache *c);

/* ledger_cache_fill(c, epoch, ...): offer a balance read since epoch. */
void ledger_cache_fill(struct ledger_cache *c, uint64_t epoch,
    const char *account, int64_t balance, const char *currency);

/* ledger_cache_put(c, ...): the writer's committed balance of account. */
void ledger_cache_put(struct ledger_cache *c, const char *account,
    int64_t balance, const char *currency);

/* ledger_cache_flush(c): forget every balance. */
void ledger_cache_flush(struct ledger_cache *c);

/* ledger_cache_count(c): accounts held (tests). */
size_t ledger_cache_count(struct ledger_cache *c);

#endif /* !SECD_LEDGER_CACHE_H */
