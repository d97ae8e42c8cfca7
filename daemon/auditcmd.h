/*
 * auditcmd: "secd audit ...", checks of the audit log.
 *
 *	secd audit verify FILE...
 *
 * verify checks each FILE's hash chain (audit.h, audit_verify) and prints
 * one line per file: "FILE: N records, ok, head SEQ HASH", and a line per
 * audit_gap record, or what is wrong and on which line.  It needs no
 * configuration and only reads, so it may run while secd appends.
 */
#ifndef AUDITCMD_H
#define AUDITCMD_H

/*
 * auditcmd_main(argc, argv):
 * Run the audit subcommand; ${argv}[0] is "audit".  Print results on
 * standard output and problems on standard error, and return the exit
 * status: 0 when every FILE verifies, 1 when any FILE fails a check
 * (edited, deleted, inserted or reordered records, an incomplete last
 * line), 2 on a usage error or a FILE that cannot be read (2 wins over
 * 1).  Every FILE is checked, whatever the earlier ones gave.  Resets
 * getopt (optind) before parsing.
 */
int auditcmd_main(int, char **);

#endif /* !AUDITCMD_H */
