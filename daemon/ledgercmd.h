/*
 * ledgercmd: "secd ledger ...", whole-ledger maintenance.
 *
 *	secd ledger check [-c FILE]
 *	secd ledger backup [-c FILE] DEST
 *
 * check verifies every invariant of the built-in ledger's database
 * (ledger_check.h) and prints one line per invariant and per violation;
 * backup makes an online, consistent copy in the new file DEST (never
 * overwriting it) and checks the copy.  The database is the
 * configuration's handler.options.database, found as "secd account" finds
 * it.  Both may run while secd serves the same database.
 */
#ifndef LEDGERCMD_H
#define LEDGERCMD_H

/*
 * ledgercmd_main(argc, argv):
 * Run the ledger subcommand; ${argv}[0] is "ledger".  Print results on
 * standard output and errors on standard error, and return the exit
 * status: 0 when all is well, 1 when the ledger (or the backup copy)
 * violates an invariant, 2 on any other error (usage, configuration,
 * database, an existing DEST).  Resets getopt (optind) before parsing.
 */
int ledgercmd_main(int, char **);

#endif /* !LEDGERCMD_H */
