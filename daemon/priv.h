/*
 * priv.h: process hygiene at startup: the file-descriptor limit, and the
 * switch from root to the configured user and group.
 *
 * secd starts as root only to bind privileged ports and read a private key
 * that no one else may read.  Once both are done it becomes secd.yaml's
 * user and group for good: the handler (the ledger's database) and every
 * worker run without privileges.
 */
#ifndef SECD_PRIV_H
#define SECD_PRIV_H

#include <stddef.h>

/*
 * priv_drop(user, group, err, errlen): become user (its uid, and group's
 * gid, or the user's own group when group is NULL) with no supplementary
 * groups, and make sure root cannot be regained.  Nothing to do when both
 * are NULL, or when the process already runs as them.  Not root and asked
 * to become someone else: an error.  Call before any thread is started.
 * 0, or -1 with a reason in err.
 */
int priv_drop(const char *user, const char *group, char *err, size_t errlen);

/*
 * priv_check_key_file(what, path, err, errlen): refuse a private key file
 * that other users may read or write, or that is not a regular file; what
 * names the setting ("tls.key").  0, or -1 with a reason in err.
 */
int priv_check_key_file(const char *what, const char *path, char *err,
    size_t errlen);

/*
 * priv_raise_nofile(want): raise the soft limit on open files to the hard
 * one; log a warning if even that is below want.
 */
void priv_raise_nofile(unsigned long want);

#endif /* !SECD_PRIV_H */
