/*
 * ledger_writer: the ledger's one writer thread, and its group commit.
 *
 * Every change secd makes to the ledger database (transfers, and the
 * rehash of a password found with old scrypt parameters at login) goes
 * through one thread that owns the only write connection.  Callers append
 * work to a bounded queue and never wait: a full queue is answered at once
 * with "unavailable" ("server busy").  The thread takes everything queued
 * (up to a batch cap), applies it inside one BEGIN IMMEDIATE ... COMMIT
 * with a SAVEPOINT around each transfer, commits once (WAL with
 * synchronous=FULL: one fsync for the whole batch), and only then answers
 * each call.  So a reply never announces a transfer that a crash could
 * take back, and a thousand transfers cost one disk flush, not a thousand.
 *
 * Faults (full disk, a lock held too long by someone else, I/O errors, a
 * database that was moved or cannot be opened) fail the whole batch: it
 * rolls back, its calls get "unavailable" (nothing was applied), the
 * error is logged once per episode, and the next batch simply tries
 * again, on a fresh connection if the old one is no longer usable.
 */
#ifndef LEDGER_WRITER_H
#define LEDGER_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "secd/handler.h"

#include "ledger.h"

struct ledger_cache;

struct ledger_writer;

/* How to run a writer; ledger.c fills it from the handler's options. */
struct ledger_writer_conf {
	const struct secd_host *host;	/* borrowed until ledger_writer_free */
	const char	*path;		/* the database file; copied */
	size_t		 queue_max;	/* jobs waiting, at least 1 */
	size_t		 batch_max;	/* jobs per commit, at least 1 */
	int64_t		 retention_ms;	/* idempotency keys live this long */
	int64_t		 max_page_count; /* tests: PRAGMA max_page_count of
					   the connection; 0 for none */
	struct ledger_cache *cache;	/* balances to keep true after each
					   commit (ledger_cache.h); NULL for
					   none.  Borrowed. */
};

/*
 * ledger_writer_start(conf, err, errlen):
 * Open the write connection to ${conf}->path, creating the file and
 * migrating its schema if need be, and start the writer thread (with all
 * signals blocked).  Return the writer, or NULL with one line in ${err}.
 */
struct ledger_writer *ledger_writer_start(const struct ledger_writer_conf *,
    char *, size_t);

/*
 * ledger_writer_transfer(w, call):
 * Queue the transfer ${call}, whose arguments the caller has checked
 * (ledger.c: "to", "amount", "idempotency_key", optional "memo", and the
 * session's account).  The writer answers it.  If the queue is full or
 * the writer is stopping, answer it here with "unavailable".  Never
 * blocks beyond a mutex that is held only to touch the queue.
 */
void ledger_writer_transfer(struct ledger_writer *, struct secd_call *);

/*
 * ledger_writer_rehash(w, account, oldhash, newhash):
 * Ask the writer to replace ${account}'s password hash ${oldhash} by
 * ${newhash} (strings copied; the copies are wiped when done), unless it
 * has changed meanwhile.  Best effort: dropped if the queue is full, the
 * writer is stopping or memory is short; the next login tries again.
 */
void ledger_writer_rehash(struct ledger_writer *, const char *, const char *,
    const char *);

/*
 * ledger_writer_stats(w, stats):
 * Copy ${w}'s counters to ${stats}.  Any thread.
 */
void ledger_writer_stats(struct ledger_writer *, struct ledger_stats *);

/*
 * ledger_writer_stop(w):
 * Refuse new work, let the thread commit (or fail) everything already
 * queued and answer it, and join the thread.  Idempotent.
 */
void ledger_writer_stop(struct ledger_writer *);

/*
 * ledger_writer_free(w):
 * Stop ${w} if it runs, close its connection and free it.  Does nothing
 * if ${w} is NULL.
 */
void ledger_writer_free(struct ledger_writer *);

#endif /* !LEDGER_WRITER_H */
