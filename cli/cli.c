/* cli.c: the commands' shared command line (ad_cli.h) on glibc getopt_long. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ad_cli.h"
#include "ad_report.h"   /* ad_utf8_decode */
#include "ad_explain.h"
#include "ad_version.h"

/* getopt_long's val: the table's option i is OPT_BASE + i, clear of
 * getopt's own returns (1, ':', '?', 'h'); then the options every command has. */
enum { OPT_BASE = 256, OPT_HELP = OPT_BASE + AD_CLI_MAX_OPTIONS, OPT_VERSION, OPT_MAN };

static const char *exit_program = "autodidact";

/* fclose that tells a write error apart from a stream never written to
 * (gnulib's close_stream): EOF on error with errno set where known. */
static int close_stream(FILE *f)
{
    bool had_error = ferror(f) != 0, pending = __fpending(f) != 0;
    errno = 0;
    bool close_failed = fclose(f) != 0;
    if (had_error || (close_failed && (pending || errno != EBADF))) {
        if (!close_failed) errno = 0;   /* the failing write's errno is gone */
        return EOF;
    }
    return 0;
}

/* At exit: output the command printed and the system refused is an error.
 * _exit, not exit: this runs inside exit already. */
static void check_stdout_at_exit(void)
{
    if (close_stream(stdout) != 0) {
        int e = errno;
        fprintf(stderr, "%s: write error on standard output%s%s\n", exit_program, e ? ": " : "", e ? strerror(e) : "");
        _exit(1);
    }
    if (close_stream(stderr) != 0) _exit(1);
}

void ad_cli_start(ad_cli *cli, int argc, char **argv)
{
    /* A closed fd 0-2 would be handed to the next open(): a command run with
     * `>&-` would then print into its own output file. Hold them with
     * /dev/null opened the wrong way round, so writes to a closed stdout
     * fail (EBADF) and the exit check reports them. */
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int n = open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY);
            if (n >= 0 && n != fd) {
                dup2(n, fd);
                close(n);
            }
        }
    static bool registered;
    exit_program = cli->program;
    if (!registered) atexit(check_stdout_at_exit);
    registered = true;

    cli->argc = argc;
    cli->argv = argv;
    cli->ended = false;
    cli->current = -1;
    if (cli->n_options > AD_CLI_MAX_OPTIONS) {
        fprintf(stderr, "%s: internal error: more than %d options in the table\n", cli->program, AD_CLI_MAX_OPTIONS);
        exit(70);
    }
    int k = 0;
    for (int i = 0; i < cli->n_options; i++)
        cli->longopts[k++] = (struct option){cli->options[i].name, cli->options[i].metavar ? required_argument : no_argument,
                                             NULL, OPT_BASE + i};
    cli->longopts[k++] = (struct option){"help", no_argument, NULL, OPT_HELP};
    cli->longopts[k++] = (struct option){"version", no_argument, NULL, OPT_VERSION};
    cli->longopts[k++] = (struct option){"man", no_argument, NULL, OPT_MAN};
    cli->longopts[k] = (struct option){0};
    optind = 0;   /* 0, not 1: glibc re-initialises (a second parse in one process) */
    opterr = 0;   /* our messages, not getopt's */
}

const char *ad_cli_current(const ad_cli *cli)
{
    static char buf[80];
    if (cli->current < 0) return "";
    snprintf(buf, sizeof buf, "--%s", cli->options[cli->current].name);
    return buf;
}

_Noreturn void ad_cli_usage_error(const ad_cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", cli->program);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see %s --help)\n", cli->program);
    va_end(ap);
    exit(2);
}

/* The options whose names start with the first n characters of s. */
static int prefix_matches(const ad_cli *cli, const char *s, size_t n, char *list, size_t len)
{
    int count = 0;
    size_t used = 0;
    list[0] = '\0';
    for (const struct option *o = cli->longopts; o->name; o++)
        if (!strncmp(o->name, s, n)) {
            count++;
            int w = snprintf(list + used, len - used, "%s--%s", count > 1 ? ", " : "", o->name);
            if (w > 0 && (size_t)w < len - used) used += (size_t)w;
        }
    return count;
}

/* getopt_long returned '?' for the element argv[optind-1]: unknown,
 * ambiguous, or a flag given a value. */
static _Noreturn void bad_option(const ad_cli *cli)
{
    const char *arg = cli->argv[optind - 1];
    if (optopt > 0 && optopt < OPT_BASE && (arg[0] != '-' || arg[1] != '-')) ad_cli_usage_error(cli, "unknown option '-%c'", optopt);
    if (arg[0] != '-' || arg[1] != '-') ad_cli_usage_error(cli, "unknown option '%s'", arg);
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t n = eq ? (size_t)(eq - name) : strlen(name);
    char list[512];
    int matches = prefix_matches(cli, name, n, list, sizeof list);
    if (eq && matches >= 1) {
        /* a flag given a value: the name is known (exactly or as the one prefix) */
        for (const struct option *o = cli->longopts; o->name; o++)
            if (strlen(o->name) == n && !strncmp(o->name, name, n)) matches = 1, snprintf(list, sizeof list, "--%s", o->name);
        if (matches == 1) ad_cli_usage_error(cli, "'%s' takes no value", list);
    }
    if (matches > 1) ad_cli_usage_error(cli, "option '--%.*s' is ambiguous: %s", (int)n, name, list);
    ad_cli_usage_error(cli, "unknown option '--%.*s'", (int)n, name);
}

static void print_version(const ad_cli *cli)
{
    printf("%s (autodidact) %s\n", cli->program, AD_VERSION_STRING);
    printf("Copyright (c) the autodidact authors. MIT License: free to use, change and share; no warranty.\n");
}

int ad_cli_next(ad_cli *cli, const char **value)
{
    *value = NULL;
    cli->current = -1;
    if (cli->ended) {
        if (optind >= cli->argc) return AD_CLI_END;
        *value = cli->argv[optind++];
        return AD_CLI_ARG;
    }
    /* '-': positional arguments come back in order (as 1); ':': a missing
     * value is ':' rather than '?'. */
    int c = getopt_long(cli->argc, cli->argv, "-:h", cli->longopts, NULL);
    switch (c) {
    case -1:
        cli->ended = true;   /* after "--": everything left is an argument */
        return ad_cli_next(cli, value);
    case 1:
        *value = optarg;
        return AD_CLI_ARG;
    case 'h':
    case OPT_HELP:
        ad_cli_print_help(cli, stdout);
        exit(0);
    case OPT_VERSION:
        print_version(cli);
        exit(0);
    case OPT_MAN:
        ad_cli_print_man(cli, stdout);
        exit(0);
    case ':':
        if (optopt >= OPT_BASE && optopt < OPT_BASE + cli->n_options)
            ad_cli_usage_error(cli, "'--%s' needs a value", cli->options[optopt - OPT_BASE].name);
        ad_cli_usage_error(cli, "'%s' needs a value", cli->argv[optind - 1]);
    case '?':
        bad_option(cli);
    default:
        cli->current = c - OPT_BASE;
        *value = optarg;
        return cli->current;
    }
}

long ad_cli_long(const ad_cli *cli, const char *value, long lo, long hi)
{
    char *end;
    errno = 0;
    long x = strtol(value, &end, 10);
    if (end == value || *end || errno || x < lo || x > hi)
        ad_cli_usage_error(cli, "%s needs a whole number from %ld to %ld, not '%s'", ad_cli_current(cli), lo, hi, value);
    return x;
}

double ad_cli_double(const ad_cli *cli, const char *value, double lo, double hi)
{
    char *end;
    errno = 0;
    double x = strtod(value, &end);
    if (end == value || *end || errno == ERANGE || !isfinite(x))
        ad_cli_usage_error(cli, "%s needs a finite number, not '%s'", ad_cli_current(cli), value);
    if (!(x >= lo && x <= hi)) ad_cli_usage_error(cli, "%s needs a number from %g to %g, not '%s'", ad_cli_current(cli), lo, hi, value);
    return x;
}

int ad_cli_choice(const ad_cli *cli, const char *value, const char *const *choices)
{
    for (int i = 0; choices[i]; i++)
        if (!strcmp(value, choices[i])) return i;
    char list[256];
    size_t used = 0;
    list[0] = '\0';
    for (int i = 0; choices[i]; i++) {
        int w = snprintf(list + used, sizeof list - used, "%s%s", i == 0 ? "" : choices[i + 1] ? ", " : " or ", choices[i]);
        if (w > 0 && (size_t)w < sizeof list - used) used += (size_t)w;
    }
    ad_cli_usage_error(cli, "%s takes %s, not '%s'", ad_cli_current(cli), list, value);
}

/* ---- help and man page, from the same table ---- */

static const ad_cli_option builtin[] = {
    {"help", NULL, "print this help and exit (also -h)"},
    {"version", NULL, "print the version and exit"},
    {"man", NULL, "print this help as a manual page (man(7) format) and exit"},
};

static void help_option(FILE *f, const ad_cli_option *o)
{
    char head[128];
    snprintf(head, sizeof head, "  --%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
    const int col = 24;
    int w = ad_explain_columns(head);   /* ∂, · in a metavar: one column each */
    fputs(head, f);
    if (w >= col - 1) fprintf(f, "\n%*s", col, "");
    else fprintf(f, "%*s", col - w, "");
    for (const char *p = o->help; *p; p++) {
        fputc(*p, f);
        if (*p == '\n') fprintf(f, "%*s", col, "");
    }
    fputc('\n', f);
}

void ad_cli_print_help(const ad_cli *cli, FILE *f)
{
    fprintf(f, "usage: %s %s\n", cli->program, cli->synopsis ? cli->synopsis : "[options]");
    fprintf(f, "%s: %s\n", cli->program, cli->summary);
    if (cli->description) fprintf(f, "\n%s\n", cli->description);
    fprintf(f, "\noptions (--opt VALUE or --opt=VALUE):\n");
    for (int i = 0; i < cli->n_options; i++) help_option(f, &cli->options[i]);
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) help_option(f, &builtin[i]);
    if (cli->notes) fprintf(f, "\n%s\n", cli->notes);
}

/* One character for roff at *s; returns the bytes used. Backslash and dash
 * escaped; a non-ASCII character as \[uXXXX], so the page is ASCII and
 * formats the same with or without preconv. */
static int roff_char(FILE *f, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    if (*u == '\\') return fputs("\\e", f), 1;
    if (*u == '-') return fputs("\\-", f), 1;
    if (*u < 0x80) return fputc(*u, f), 1;
    uint32_t cp;
    int n = ad_utf8_decode(u, &cp);
    if (n == 0) return fputs("\\[uFFFD]", f), 1;
    fprintf(f, "\\[u%04X]", (unsigned)cp);
    return n;
}

/* Text for roff; a line starting with '.' or '\'' protected. */
static void roff(FILE *f, const char *s, bool at_line_start)
{
    while (*s) {
        if (at_line_start && (*s == '.' || *s == '\'')) fputs("\\&", f);
        at_line_start = *s == '\n';
        s += roff_char(f, s);
    }
}

/* Paragraphs (blank-line separated) as .PP, their lines filled by the
 * formatter (leading blanks dropped: in roff they would force a break). */
static void roff_paragraphs(FILE *f, const char *s)
{
    fputs(".PP\n", f);
    for (const char *line = s; *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        while (n && *line == ' ') line++, n--;
        if (n == 0) fputs(".PP\n", f);
        else {
            char buf[1024];
            snprintf(buf, sizeof buf, "%.*s", (int)(n < sizeof buf ? n : sizeof buf - 1), line);
            roff(f, buf, true);
            fputc('\n', f);
        }
        line += n + (line[n] == '\n');
    }
}

static void man_option(FILE *f, const ad_cli_option *o)
{
    fputs(".TP\n\\fB", f);
    roff(f, "--", false);
    roff(f, o->name, false);
    fputs("\\fR", f);
    if (o->metavar) {
        fputs(" \\fI", f);
        roff(f, o->metavar, false);
        fputs("\\fR", f);
    }
    fputc('\n', f);
    /* continuation lines of the help text: one filled paragraph */
    if (o->help[0] == '.' || o->help[0] == '\'') fputs("\\&", f);
    for (const char *p = o->help; *p;) {
        if (*p == '\n') {
            fputc(' ', f);
            for (p++; *p == ' ';) p++;
            continue;
        }
        p += roff_char(f, p);
    }
    fputc('\n', f);
}

void ad_cli_print_man(const ad_cli *cli, FILE *f)
{
    char upper[64];
    size_t i = 0;
    for (; cli->program[i] && i < sizeof upper - 1; i++)
        upper[i] = (char)(cli->program[i] >= 'a' && cli->program[i] <= 'z' ? cli->program[i] - 32 : cli->program[i]);
    upper[i] = '\0';
    fprintf(f, ".\\\" Generated by %s --man from the table its --help prints. Do not edit.\n", cli->program);
    fprintf(f, ".TH %s 1 \"\" \"autodidact %s\" \"autodidact\"\n.SH NAME\n", upper, AD_VERSION_STRING);
    roff(f, cli->program, false);
    fputs(" \\- ", f);
    roff(f, cli->summary, false);
    /* SYNOPSIS: one line per form; a form's own line may repeat the name */
    fputs("\n.SH SYNOPSIS\n", f);
    const char *syn = cli->synopsis ? cli->synopsis : "[options]";
    size_t plen = strlen(cli->program);
    for (bool first = true; *syn; first = false) {
        size_t n = strcspn(syn, "\n");
        char buf[512];
        snprintf(buf, sizeof buf, "%.*s", (int)(n < sizeof buf ? n : sizeof buf - 1), syn);
        char *form = buf;
        while (*form == ' ') form++;
        if (!strncmp(form, cli->program, plen) && form[plen] == ' ') form += plen + 1;
        fputs(first ? ".B " : ".br\n.B ", f);
        roff(f, cli->program, false);
        fputc('\n', f);
        roff(f, form, true);
        fputc('\n', f);
        syn += n + (syn[n] == '\n');
    }
    if (cli->description) {
        fputs(".SH DESCRIPTION\n", f);
        roff_paragraphs(f, cli->description);
    }
    fputs(".SH OPTIONS\nEvery option takes its value as \\fB\\-\\-opt VALUE\\fR or \\fB\\-\\-opt=VALUE\\fR.\n", f);
    for (int k = 0; k < cli->n_options; k++) man_option(f, &cli->options[k]);
    for (size_t k = 0; k < sizeof builtin / sizeof builtin[0]; k++) man_option(f, &builtin[k]);
    if (cli->notes) {
        fputs(".SH NOTES\n", f);
        roff_paragraphs(f, cli->notes);
    }
    fputs(".SH EXIT STATUS\nA usage error (an unknown option, a missing or bad value) exits 2 with a message on "
          "standard error; output that could not be written (a full disk, a closed standard output) exits 1.\n",
          f);
    fputs(".SH SEE ALSO\n\\fBautodidact\\fR(1), \\fBgradcheck\\fR(1), \\fBlenet\\fR(1)\n", f);
}

/* ---- files the commands write ---- */

bool ad_cli_close_file(const char *program, FILE *f, const char *path)
{
    if (!f) return false;
    bool had_error = ferror(f) != 0;
    int e = had_error ? EIO : 0;
    if (fclose(f) != 0) e = errno;
    if (!had_error && !e) return true;
    fprintf(stderr, "%s: %s: write error: %s\n", program, path, strerror(e ? e : EIO));
    return false;
}

bool ad_cli_check_out_dir(const char *program, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        fprintf(stderr, "%s: --out %s: %s\n", program, dir, strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: --out %s: not a directory\n", program, dir);
        return false;
    }
    /* access() answers for the real uid and misses read-only mounts and
     * /proc; creating a file answers the question itself. */
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/.autodidact-write-test-%ld", dir, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        fprintf(stderr, "%s: --out %s: cannot create files there: %s\n", program, dir, strerror(errno));
        return false;
    }
    close(fd);
    unlink(probe);
    return true;
}
