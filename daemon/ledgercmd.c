/*
 * ledgercmd.c: "secd ledger check|backup", whole-ledger maintenance.
 *
 * Both work on the database named by the configuration (as "secd account"
 * finds it) and may run while secd serves it: check reads one snapshot in
 * one read transaction, and backup copies one snapshot with SQLite's online
 * backup; in WAL mode neither blocks secd's writer nor waits for it.
 *
 * Exit status, for scripts: 0 all is well; 1 the ledger (or the backup
 * copy) violates an invariant; 2 anything else went wrong (usage, the
 * configuration, a database that cannot be read, a destination that
 * exists).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "conf.h"
#include "ledger_admin.h"
#include "ledger_check.h"
#include "ledger_db.h"
#include "ledgercmd.h"
#include "secd_build.h"

#define LEDGERCMD_DEFAULT_CONF	SECD_SYSCONFDIR "/secd.yaml"

enum {
	LEDGERCMD_OK = 0,
	LEDGERCMD_VIOLATION = 1,
	LEDGERCMD_ERROR = 2
};

static void
ledgercmd_usage(FILE *f)
{

	fprintf(f,
	    "usage: secd ledger check [-c FILE]\n"
	    "       secd ledger backup [-c FILE] DEST\n"
	    "\n"
	    "  -c, --config FILE   configuration file (default %s); the\n"
	    "                      database is its handler.options.database\n"
	    "  -h, --help          this text\n"
	    "\n"
	    "check verifies every invariant of the ledger (balances against "
	    "the\n"
	    "journal, each transfer's two entries, no orphan rows, no "
	    "negative\n"
	    "balance, money held = deposits - withdrawals) and prints what it "
	    "checked.\n"
	    "backup copies the ledger, consistently, to the new file DEST "
	    "while secd\n"
	    "runs (never overwriting DEST), then checks the copy.  Both may "
	    "run while\n"
	    "secd serves the database.  Exit status: 0 fine, 1 an invariant "
	    "is\n"
	    "violated, 2 any other error.\n",
	    LEDGERCMD_DEFAULT_CONF);
}

static void
ledgercmd_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
ledgercmd_warnx(const char *fmt, ...)
{
	va_list ap;

	fputs("secd ledger: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Print a report line; FAIL lines also go to stderr when quiet. */
struct ledgercmd_out {
	FILE	*f;
	int	 quiet;		/* only violations */
};

static void
ledgercmd_line(void *arg, enum ledger_check_line kind, const char *line)
{
	struct ledgercmd_out *o = arg;

	if (kind == LEDGER_CHECK_FAIL)
		fprintf(o->f, "FAIL  %s\n", line);
	else if (!o->quiet)
		fprintf(o->f, "ok    %s\n", line);
}

/* Run the check on path's database; 0, 1 or 2 as the exit status. */
static int
ledgercmd_check_db(const char *path, struct ledgercmd_out *o,
    struct ledger_check_report *r)
{
	struct ledger_admin *la;
	char err[512];
	int v;

	if ((la = ledger_admin_open(path, 0, NULL, err, sizeof(err))) ==
	    NULL) {
		ledgercmd_warnx("%s", err);
		return LEDGERCMD_ERROR;
	}
	v = ledger_db_version(ledger_admin_db(la));
	if (!o->quiet)
		fprintf(o->f, "checking %s (schema %d)\n", path, v);
	if (ledger_check(ledger_admin_db(la), ledgercmd_line, o, r, err,
	    sizeof(err))) {
		ledgercmd_warnx("%s: %s", path, err);
		ledger_admin_free(la);
		return LEDGERCMD_ERROR;
	}
	ledger_admin_free(la);
	return r->violations == 0 ? LEDGERCMD_OK : LEDGERCMD_VIOLATION;
}

static int
ledgercmd_check(const char *path)
{
	struct ledgercmd_out o = { stdout, 0 };
	struct ledger_check_report r;
	int rc;

	if ((rc = ledgercmd_check_db(path, &o, &r)) == LEDGERCMD_ERROR)
		return rc;
	if (r.violations == 0)
		printf("consistent: 0 violations (%" PRId64 " accounts, %"
		    PRId64 " journal entries, %" PRId64 " transfers, %" PRId64
		    " idempotency keys)\n", r.accounts, r.entries,
		    r.transfers, r.keys);
	else
		printf("INCONSISTENT: %" PRId64 " violation%s\n",
		    r.violations, r.violations == 1 ? "" : "s");
	return rc;
}

static int
ledgercmd_backup(const char *path, const char *dest)
{
	struct ledgercmd_out o = { stderr, 1 };
	struct ledger_check_report r;
	struct ledger_admin *la;
	char err[512];
	int64_t pages;
	int rc;

	if ((la = ledger_admin_open(path, 0, NULL, err, sizeof(err))) ==
	    NULL) {
		ledgercmd_warnx("%s", err);
		return LEDGERCMD_ERROR;
	}
	rc = ledger_admin_backup(la, dest, &pages, err, sizeof(err));
	ledger_admin_free(la);
	if (rc != 0) {
		ledgercmd_warnx("%s", err);
		return LEDGERCMD_ERROR;
	}
	printf("backed up %s to %s (%" PRId64 " pages)\n", path, dest, pages);
	if ((rc = ledgercmd_check_db(dest, &o, &r)) == LEDGERCMD_ERROR)
		return rc;
	if (r.violations == 0)
		printf("the copy passes ledger check: %" PRId64 " accounts, %"
		    PRId64 " journal entries, %" PRId64 " transfers\n",
		    r.accounts, r.entries, r.transfers);
	else
		ledgercmd_warnx("the copy %s has %" PRId64 " violations (see "
		    "above); so has %s, which it copies faithfully: run secd "
		    "ledger check on it", dest, r.violations, path);
	return rc;
}

int
ledgercmd_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *config = LEDGERCMD_DEFAULT_CONF, *pos[3];
	struct conf *c = NULL;
	char *path = NULL;
	int ch, npos = 0, rc = LEDGERCMD_ERROR;

	/* 0, not 1: makes glibc's getopt start over after main's use. */
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "-c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 1:
			if (npos == 3) {
				ledgercmd_warnx("unexpected argument \"%s\"",
				    optarg);
				return LEDGERCMD_ERROR;
			}
			pos[npos++] = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'h':
			ledgercmd_usage(stdout);
			return LEDGERCMD_OK;
		default:
			ledgercmd_warnx("unknown option, or one without its "
			    "value: %s (see --help)", argv[optind - 1]);
			return LEDGERCMD_ERROR;
		}
	}
	if (npos == 0) {
		ledgercmd_warnx("missing command: check or backup (see "
		    "--help)");
		return LEDGERCMD_ERROR;
	}
	if (strcmp(pos[0], "check") == 0) {
		if (npos != 1) {
			ledgercmd_warnx("check takes no argument");
			return LEDGERCMD_ERROR;
		}
	} else if (strcmp(pos[0], "backup") == 0) {
		if (npos != 2) {
			ledgercmd_warnx("backup needs exactly one DEST, the "
			    "file to create");
			return LEDGERCMD_ERROR;
		}
	} else {
		ledgercmd_warnx("unknown command \"%s\": use check or backup",
		    pos[0]);
		return LEDGERCMD_ERROR;
	}

	if (account_database(config, "ledger", &c, &path))
		goto done;
	if (strcmp(pos[0], "check") == 0)
		rc = ledgercmd_check(path);
	else
		rc = ledgercmd_backup(path, pos[1]);

done:
	if (fflush(stdout) != 0 && rc == LEDGERCMD_OK) {
		ledgercmd_warnx("standard output: %s", strerror(errno));
		rc = LEDGERCMD_ERROR;
	}
	free(path);
	conf_free(c);
	return rc;
}
