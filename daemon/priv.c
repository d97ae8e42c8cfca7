/*
 * priv.c: see priv.h.  The order inside priv_drop matters: supplementary
 * groups and the gid go first, while the process still may change them,
 * then the uid; a final setuid(0) that succeeds means the switch did not
 * take, which is fatal rather than something to run on with.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"

int
priv_drop(const char *user, const char *group, char *err, size_t errlen)
{
	struct passwd *pw = NULL;
	struct group *gr;
	uid_t uid = getuid();
	gid_t gid = getgid();

	if (user == NULL && group == NULL)
		return 0;
	if (user != NULL) {
		errno = 0;
		if ((pw = getpwnam(user)) == NULL) {
			snprintf(err, errlen, "user: no such user '%s'%s%s",
			    user, errno != 0 ? ": " : "",
			    errno != 0 ? strerror(errno) : "");
			return -1;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if (group != NULL) {
		errno = 0;
		if ((gr = getgrnam(group)) == NULL) {
			snprintf(err, errlen, "group: no such group '%s'%s%s",
			    group, errno != 0 ? ": " : "",
			    errno != 0 ? strerror(errno) : "");
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (geteuid() != 0) {
		if (geteuid() == uid && getegid() == gid)
			return 0;
		snprintf(err, errlen, "user/group: secd runs as uid %u gid %u, "
		    "not as root, and cannot switch to %s%s%s; start it as "
		    "root or remove user and group from the configuration",
		    (unsigned)geteuid(), (unsigned)getegid(),
		    user != NULL ? user : "", user != NULL && group != NULL ?
		    ":" : "", group != NULL ? group : "");
		return -1;
	}
	if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0) {
		snprintf(err, errlen, "cannot switch to group %u: %s",
		    (unsigned)gid, strerror(errno));
		return -1;
	}
	if (setresuid(uid, uid, uid) != 0) {
		snprintf(err, errlen, "cannot switch to user %u: %s",
		    (unsigned)uid, strerror(errno));
		return -1;
	}
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		snprintf(err, errlen, "switched to user %u but could regain "
		    "root; refusing to run", (unsigned)uid);
		return -1;
	}
	log_notice("running as user %s (uid %u), group %u",
	    pw != NULL ? pw->pw_name : "(unchanged)", (unsigned)uid,
	    (unsigned)gid);
	return 0;
}

int
priv_check_key_file(const char *what, const char *path, char *err,
    size_t errlen)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s %s: not a regular file", what, path);
		return -1;
	}
	if ((st.st_mode & S_IRWXO) != 0) {
		snprintf(err, errlen, "%s %s: the private key is readable or "
		    "writable by other users (mode %04o); secd refuses to use "
		    "it: chmod o-rwx '%s' (0600, or 0640 with secd's group)",
		    what, path, (unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	return 0;
}

void
priv_raise_nofile(unsigned long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
		log_warnx("open files limit %lu is below what "
		    "limits.max_connections needs (%lu): connections will be "
		    "refused early; raise LimitNOFILE (systemd) or ulimit -n",
		    (unsigned long)rl.rlim_cur, want);
}
