/* ad_cli.h: every command's command line, declared once as a table.
 *
 * A command lists its options in an ad_cli_option array; from that one
 * table the parser (glibc's getopt_long) accepts them, --help prints them,
 * and --man prints the same text as a man(7) page (meson installs those
 * pages in man1), so help, manual and behaviour cannot drift apart.
 *
 * Every command gets, from here and worded the same:
 *   --opt value and --opt=value; -h/--help and --version on stdout, exit 0;
 *   "PROG: unknown option '--x' (see PROG --help)" and
 *   "PROG: '--x' needs a value (see PROG --help)" on stderr, exit 2;
 *   a check of stdout when the program exits: output lost to a full disk,
 *   /dev/full or a closed stdout is reported and the exit status is 1.
 *
 * Internal to the project's commands (not installed): the static library
 * ad_tools (cli/meson.build) links it into any executable. */
#ifndef AD_CLI_H
#define AD_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { AD_CLI_MAX_OPTIONS = 48 };

/* One option. */
typedef struct ad_cli_option {
    const char *name;      /* long name without the dashes: "epochs" is --epochs */
    const char *metavar;   /* the value's name in help ("N"); NULL: a flag, takes no value */
    const char *help;      /* what it does and its default; '\n' continues on an indented line */
} ad_cli_option;

/* One command: its table, and the parser's state (filled by ad_cli_start). */
typedef struct ad_cli {
    const char *program;       /* "lenet" */
    const char *summary;       /* one line: what the command does (man NAME section) */
    const char *synopsis;      /* after the program's name in usage; NULL: "[options]" */
    const char *description;   /* paragraphs between the usage line and the options; may be NULL */
    const ad_cli_option *options;
    int n_options;
    const char *notes;         /* after the options: exit status, examples; may be NULL */

    /* the parser's state */
    int argc;
    char **argv;
    bool ended;                /* "--" seen or getopt done: the rest are arguments */
    int current;               /* index of the option being parsed, -1 none */
    struct option longopts[AD_CLI_MAX_OPTIONS + 4];
} ad_cli;

/* What ad_cli_next returns besides an option's index in the table. */
enum { AD_CLI_END = -1, AD_CLI_ARG = -2 };

/* Start parsing argv with cli's table. Also makes sure fds 0-2 are open
 * (a closed stdout must fail writes, not land in the next file opened) and
 * registers the at-exit check of stdout. */
void ad_cli_start(ad_cli *cli, int argc, char **argv);

/* The next option, in command-line order: its index in cli->options with
 * *value its value (NULL for a flag); AD_CLI_ARG with *value a positional
 * argument; AD_CLI_END when done. Handles --help, -h, --version and --man
 * itself (printing and exiting 0), and every error (exit 2). */
int ad_cli_next(ad_cli *cli, const char **value);

/* "PROG: <message> (see PROG --help)" on stderr, exit 2. */
_Noreturn void ad_cli_usage_error(const ad_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Values, checked: a usage error (exit 2) names the option and the range. */
long ad_cli_long(const ad_cli *cli, const char *value, long lo, long hi);
double ad_cli_double(const ad_cli *cli, const char *value, double lo, double hi);   /* finite, lo <= x <= hi */
/* The index of value in the NULL-terminated choices. */
int ad_cli_choice(const ad_cli *cli, const char *value, const char *const *choices);

/* The option being parsed ("--epochs"), for messages. */
const char *ad_cli_current(const ad_cli *cli);

/* --help's text and the man page, both from the table. */
void ad_cli_print_help(const ad_cli *cli, FILE *f);
void ad_cli_print_man(const ad_cli *cli, FILE *f);

/* Close a file the command wrote; on any write error print
 * "PROG: PATH: write error: <reason>" and return false. */
bool ad_cli_close_file(const char *program, FILE *f, const char *path);

/* Can a file be created in dir? Checked before long work starts, so a bad
 * --out fails at once. false with "PROG: DIR: <reason>" printed. */
bool ad_cli_check_out_dir(const char *program, const char *dir);

#ifdef __cplusplus
}
#endif
#endif
