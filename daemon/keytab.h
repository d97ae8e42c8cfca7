/*
 * keytab.h: a bounded map from short byte strings (account names, address
 * prefixes) to fixed-size records, least recently used first out.
 *
 * secd keeps per-peer and per-account state that a hostile peer can make
 * grow (one record per address it comes from, one per account name it
 * tries).  A keytab caps that: it holds at most ${cap} records, and when a
 * new key arrives at a full table the record touched longest ago is
 * dropped to make room.  The hash is seeded from getrandom(2) so that a
 * peer choosing its keys cannot pile them into one chain.
 *
 * Not thread-safe: every user holds its own lock around every call.
 */
#ifndef SECD_KEYTAB_H
#define SECD_KEYTAB_H

#include <stddef.h>
#include <stdint.h>

/* Longest key. */
#define KEYTAB_KEY_MAX 64

struct keytab;

/*
 * keytab_new(cap, valsize): a table of at most cap records of valsize
 * bytes each, or NULL when memory runs out.
 */
struct keytab *keytab_new(size_t cap, size_t valsize);

/*
 * keytab_find(t, key, len): the record for key (len <= KEYTAB_KEY_MAX), or
 * NULL.  A found record becomes the most recently used.  The pointer is
 * valid until the next call that may insert or delete.
 */
void *keytab_find(struct keytab *t, const void *key, size_t len);

/*
 * keytab_insert(t, key, len, &evicted): the record for key, made (zeroed)
 * if there was none, or NULL when memory runs out or len is too long.
 * When making it needed room, the least recently used record was dropped
 * and *evicted is set to 1 (else 0), so that the caller can say so.
 */
void *keytab_insert(struct keytab *t, const void *key, size_t len,
    int *evicted);

/* keytab_delete(t, key, len): drop key's record, if any. */
void keytab_delete(struct keytab *t, const void *key, size_t len);

/* keytab_count(t): records held. */
size_t keytab_count(const struct keytab *t);

/* keytab_clear(t): drop every record. */
void keytab_clear(struct keytab *t);

/* keytab_free(t): NULL ok. */
void keytab_free(struct keytab *t);

#endif /* !SECD_KEYTAB_H */
