/*
 * account: "secd account ...", administration of the built-in ledger.
 *
 *	secd account add ACCOUNT [--balance AMOUNT] [--currency CODE] [-c FILE]
 *	secd account passwd ACCOUNT [-c FILE]
 *	secd account list [-c FILE]
 *	secd account show ACCOUNT [-c FILE]
 *
 * The database is the configuration's handler.options.database, relative
 * to the configuration file's directory; new password hashes use its auth
 * section's scrypt parameters.  Passwords are read from the terminal
 * without echo (twice, and must match) or, when standard input is not a
 * terminal, as one line from it; never from the command line.
 */
#ifndef ACCOUNT_H
#define ACCOUNT_H

/*
 * account_main(argc, argv):
 * Run the account subcommand; ${argv}[0] is "account".  Print results on
 * standard output and errors on standard error, and return the exit
 * status: 0 on success, 1 on any error (usage errors included).  Resets
 * getopt (optind) before parsing.
 */
int account_main(int, char **);

#endif /* !ACCOUNT_H */
