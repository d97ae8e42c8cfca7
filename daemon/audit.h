/*
 * audit: the tamper-evident audit log.
 *
 * An append-only file of security events (logins accepted and refused,
 * transfers, administrative changes), one JSON object per line, each
 * record carrying the SHA-256 of the record before it, so that editing,
 * deleting, inserting or reordering records breaks the chain where it
 * happened and audit_verify() names the line.  Nothing here has a
 * password field; callers must not put secrets in "detail" either.
 *
 * Record format (one line, compact JSON, keys in exactly this order;
 * the four optional keys appear only when set):
 *
 *	{"seq":N,"time":"2026-11-24T05:16:48.123Z","event":E,
 *	 "account":S|null,"peer":S|null,"cert_sha256":S|null,
 *	 "request_id":S|null,"outcome":S|null,
 *	 ["to":S,] ["amount":N,] ["dropped":N,] ["detail":S,]
 *	 "prev":"<64 hex>","hash":"<64 hex>"}
 *
 * seq counts from 1; the first record's prev is 64 zeros; every later
 * record's prev is the hash of the line before it.  hash is the
 * lowercase hex SHA-256 of the 64 ASCII hex digits of prev followed by
 * the record's canonical bytes: the line exactly as written, without its
 * newline, with its final member ,"hash":"<64 hex>" removed (so the
 * canonical bytes end in ...,"prev":"<64 hex>"}).  The hash covers the
 * bytes, not a re-serialisation: any byte changed in a line changes it.
 *
 * Several writers may share one file (secd's writer thread, and "secd
 * account ..." run by an operator as another process): each append takes
 * flock(LOCK_EX) on the file and re-reads the last record if the file's
 * size is not what this writer left, so the chain stays one chain.
 */
#ifndef SECD_AUDIT_H
#define SECD_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Records the writer thread holds in memory at most; more are dropped. */
#define AUDIT_QUEUE_MAX		65536
/* ... and the bytes of the queued records' strings at most. */
#define AUDIT_QUEUE_BYTES	(32u * 1024 * 1024)
/* A longer line is not a record: the file is corrupt. */
#define AUDIT_LINE_MAX		32768
/* Longer strings are cut (at a UTF-8 boundary) and end in "...". */
#define AUDIT_FIELD_MAX		256
#define AUDIT_DETAIL_MAX	1024

struct audit;

/*
 * One event, as the caller describes it.  Every pointer is borrowed for
 * the duration of the call only (the functions below copy what they
 * keep).  NULL strings are written as null (account, peer, cert_sha256,
 * request_id, outcome) or left out (to, detail).  Bytes that are not
 * UTF-8 are written as '?'.  There is deliberately no field for a
 * password or any other secret; detail is free text that must never
 * carry one.
 */
struct audit_rec {
	const char	*event;		/* "login", "transfer", "admin", ...; NULL = "unknown" */
	const char	*account;	/* the account acted as or on, or NULL */
	const char	*peer;		/* "127.0.0.1:50000"; admin: "local:uid=0"; or NULL */
	const char	*cert_sha256;	/* client certificate, hex, or NULL */
	const char	*request_id;	/* the client's request id as text, or NULL */
	const char	*outcome;	/* "ok" or an error code ("auth_failed"), or NULL */
	const char	*to;		/* a transfer's destination account, or NULL */
	int		 has_amount;	/* nonzero: amount is written */
	int64_t		 amount;	/* minor units */
	const char	*detail;	/* admin command, reason; never a secret; or NULL */
};

/*
 * audit_open(path, err, errlen):
 * Open (or create, mode 0600) the audit log at ${path} for appending,
 * check that its last record is a complete, self-consistent record and
 * continue the chain from it, and start the one writer thread.  Logs the
 * head (seq and hash of the last record) at notice level, so that an
 * operator holds a copy of it outside the file.  Returns the log, or
 * NULL with a message naming the file and what is wrong in ${err} (a
 * last line that is not a record is refused: the message gives its byte
 * offset).  Only the previous record is checked here; the whole chain is
 * audit_verify()'s job.
 */
struct audit *audit_open(const char *, char *, size_t);

/*
 * audit_append(a, r):
 * Queue a copy of ${r}, stamped with the current time, for the writer
 * thread.  Thread-safe; takes a mutex for a few pointer updates and never
 * waits for I/O, so event-loop threads may call it.  Returns 0, or -1 if
 * the queue is full (AUDIT_QUEUE_MAX records or AUDIT_QUEUE_BYTES bytes)
 * or memory is short: the record is then dropped, counted and logged,
 * and once the writer has room again it writes an "audit_gap" record
 * whose "dropped" member is the number of records lost, so the file
 * shows the gap.  Records that could not be written (I/O error) are
 * counted the same way.  ${a} may be NULL (no audit log): returns 0.
 */
int audit_append(struct audit *, const struct audit_rec *);

/*
 * audit_dropped(a):
 * The number of records dropped since audit_open() (queue full, out of
 * memory, write errors), whether or not an audit_gap has reported them
 * yet.  For metrics and tests.
 */
uint64_t audit_dropped(struct audit *);

/*
 * audit_close(a):
 * Write everything queued, fdatasync, stop and join the writer thread,
 * log the head at notice level, close the file and free ${a}.  Does
 * nothing if ${a} is NULL.
 */
void audit_close(struct audit *);

/*
 * audit_append_now(path, r, err, errlen):
 * Append ${r} to the audit log at ${path} synchronously (create it, mode
 * 0600, if missing): lock the file, read its last record, append one
 * record chained to it, fdatasync, unlock, close.  For processes without
 * a writer thread ("secd account ..."), which may run while secd appends
 * to the same file.  Returns 0, or -1 with a message in ${err} (the
 * record is then not in the file).
 */
int audit_append_now(const char *, const struct audit_rec *, char *, size_t);

/*
 * audit_verify(path, out, err, errlen):
 * Check the whole audit log at ${path}: every line a complete JSON
 * record no longer than AUDIT_LINE_MAX, the first with seq 1 and prev 64
 * zeros, each seq one more than the last, each prev equal to the hash of
 * the line before, each hash matching its line.  On success print
 * "PATH: N records, ok, head SEQ HASH" to ${out}, then one line per
 * audit_gap record ("PATH: line L: audit_gap: N records were dropped
 * here"), and return 0.  Returns -1 with ${err} set to "PATH: line L:
 * what is wrong" when the file fails a check, and -2 with ${err} set
 * when the file cannot be read.  A removed tail of whole records cannot
 * be seen in the file alone: compare the head with the one secd logged.
 */
int audit_verify(const char *, FILE *, char *, size_t);

#endif /* !SECD_AUDIT_H */
