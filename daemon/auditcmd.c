/*
 * auditcmd.c: "secd audit verify FILE...".
 *
 * A thin command over audit_verify(): the checks, and what they can and
 * cannot prove, live in audit.c and docs/security.md.  Exit status, for
 * scripts: 0 every file verifies; 1 some file fails a check (tampered or
 * damaged); 2 usage, or a file that cannot be read.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "auditcmd.h"

enum {
	AUDITCMD_OK = 0,
	AUDITCMD_TAMPERED = 1,
	AUDITCMD_ERROR = 2
};

static void
auditcmd_usage(FILE *f)
{

	fprintf(f,
	    "usage: secd audit verify FILE...\n"
	    "\n"
	    "  -h, --help   this text\n"
	    "\n"
	    "verify checks the hash chain of each audit log FILE (audit.file "
	    "in the\n"
	    "configuration): every line a complete record, seq numbers "
	    "contiguous from 1,\n"
	    "each record's prev equal to the hash of the one before, each "
	    "hash matching\n"
	    "its record.  It prints \"FILE: N records, ok, head SEQ HASH\" "
	    "and the audit_gap\n"
	    "records (records secd had to drop), or the first line that "
	    "fails and why.\n"
	    "Records cut off the end leave no trace in the file: compare the "
	    "head with\n"
	    "the one secd logged (\"audit log ...: closed, head ...\").  "
	    "Exit status:\n"
	    "0 every FILE verifies, 1 a FILE was edited or damaged, 2 usage "
	    "or I/O error.\n");
}

static int
auditcmd_verify(int argc, char **argv)
{
	char err[1024];
	int i, rc, status = AUDITCMD_OK;

	if (argc < 2) {
		fprintf(stderr, "secd audit verify: no FILE given\n");
		auditcmd_usage(stderr);
		return (AUDITCMD_ERROR);
	}
	for (i = 1; i < argc; i++) {
		rc = audit_verify(argv[i], stdout, err, sizeof(err));
		if (rc == 0)
			continue;
		fprintf(stderr, "secd audit verify: %s\n", err);
		if (rc == -1 && status == AUDITCMD_OK)
			status = AUDITCMD_TAMPERED;
		else if (rc != -1)
			status = AUDITCMD_ERROR;
	}
	fflush(stdout);
	return (status);
}

int
auditcmd_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	/* 0, not 1: makes glibc's getopt start over after main's use; "+"
	   stops at the verb, so "verify" and its FILEs stay in order. */
	optind = 0;
	while ((ch = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			auditcmd_usage(stdout);
			return (AUDITCMD_OK);
		default:
			auditcmd_usage(stderr);
			return (AUDITCMD_ERROR);
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "secd audit: no command given\n");
		auditcmd_usage(stderr);
		return (AUDITCMD_ERROR);
	}
	if (strcmp(argv[optind], "verify") == 0) {
		argc -= optind;
		argv += optind;
		/* "secd audit verify --help", and "--" before a FILE
		   named like an option. */
		if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
		    strcmp(argv[1], "-h") == 0)) {
			auditcmd_usage(stdout);
			return (AUDITCMD_OK);
		}
		if (argc > 1 && strcmp(argv[1], "--") == 0) {
			argv[1] = argv[0];
			argc--;
			argv++;
		}
		return (auditcmd_verify(argc, argv));
	}
	fprintf(stderr, "secd audit: unknown command '%s'\n", argv[optind]);
	auditcmd_usage(stderr);
	return (AUDITCMD_ERROR);
}
