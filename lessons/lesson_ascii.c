/* lesson_ascii.c: --ascii. The lessons print the lectures' notation (θ₀, x₁,
 * ∂f/∂x, 1′, a·b, Σⱼ, √b); for a terminal without UTF-8, --ascii sends
 * stdout through a child process that rewrites each such code point as
 * ASCII. One filter for every line, the engine's tables included, so no
 * lesson carries a second spelling of its symbols. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "lesson.h"

/* UTF-8 sequence → ASCII. A code point not listed prints as "?": the
 * filter's output is ASCII whatever a lesson prints. */
static const struct { const char *u, *a; } table[] = {
    {"₀", "0"}, {"₁", "1"}, {"₂", "2"}, {"₃", "3"}, {"₄", "4"}, {"₅", "5"}, {"₆", "6"}, {"₇", "7"}, {"₈", "8"},
    {"₉", "9"}, {"ⱼ", "j"}, {"ᵢ", "i"}, {"ₖ", "k"}, {"ₙ", "n"}, {"ₗ", "l"}, {"⁰", "^0"}, {"¹", "^1"}, {"²", "^2"},
    {"³", "^3"}, {"⁴", "^4"}, {"⁵", "^5"}, {"⁶", "^6"}, {"⁷", "^7"}, {"⁸", "^8"}, {"⁹", "^9"}, {"ᵀ", "^T"},
    {"ᵏ", "^k"}, {"ⁿ", "^n"}, {"⁽", "^("}, {"⁾", ")"}, {"ⁱ", "i"}, {"⁻", "-"}, {"θ", "theta"}, {"μ", "mu"},
    {"σ", "sigma"}, {"Σ", "sum"}, {"λ", "lambda"}, {"α", "alpha"}, {"β", "beta"}, {"γ", "gamma"}, {"δ", "delta"},
    {"ε", "eps"}, {"η", "eta"}, {"π", "pi"}, {"ρ", "rho"}, {"τ", "tau"}, {"φ", "phi"}, {"ω", "omega"},
    {"ℓ", "l"}, {"∂", "d"}, {"∇", "grad "}, {"′", "'"}, {"·", "*"}, {"×", "x"}, {"÷", "/"}, {"−", "-"},
    {"–", "-"}, {"—", "--"}, {"√", "sqrt"}, {"≈", "~="}, {"≤", "<="}, {"≥", ">="}, {"≠", "!="}, {"→", "->"},
    {"←", "<-"}, {"⌊", "floor("}, {"⌋", ")"}, {"‖", "||"}, {"∈", " in "}, {"ℝ", "R"}, {"𝒫", "P"}, {"∞", "inf"},
    {"±", "+/-"}, {"…", "..."}, {"“", "\""}, {"”", "\""}, {"‘", "'"}, {"’", "'"}, {"⊆", " subset of "},
    {"∘", " o "}, {"⊙", " (.) "}, {"∗", "*"}, {"★", "*"}, {"✓", "ok"}, {"✗", "x"}, {"│", "|"}, {"─", "-"},
    {"∑", "sum"}, {"∏", "prod"}, {"ϵ", "eps"}, {"∀", "for all "}, {"⟨", "<"}, {"⟩", ">"}, {"µ", "u"}, {"\u00a0", " "},
};

/* Rewrite s (UTF-8) into out as ASCII; returns the bytes of s consumed
 * (one code point) and appends its spelling. */
static size_t one(const char *s, char *out, size_t *k, size_t cap)
{
    const unsigned char c = (unsigned char)*s;
    size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    for (size_t j = 1; j < len; j++)
        if (!s[j]) len = j;   /* a cut sequence: consume what is there */
    const char *a = "?";
    if (len == 1 && c < 0x80) {
        if (*k + 1 < cap) out[(*k)++] = (char)c;
        return 1;
    }
    for (size_t t = 0; t < sizeof table / sizeof table[0]; t++)
        if (strlen(table[t].u) == len && !memcmp(table[t].u, s, len)) a = table[t].a;
    for (; *a && *k + 1 < cap; a++) out[(*k)++] = *a;
    return len;
}

const char *lesson_ascii_of(const char *utf8)
{
    static char buf[8192];
    size_t k = 0;
    for (const char *p = utf8; *p;) p += one(p, buf, &k, sizeof buf);
    buf[k] = '\0';
    return buf;
}

static pid_t child = -1;

static void finish(void)
{
    /* Close our end so the filter sees EOF, then wait for it to print the rest. */
    fflush(stdout);
    close(STDOUT_FILENO);
    if (child > 0) waitpid(child, NULL, 0);
}

void lesson_ascii_filter(void)
{
    int fd[2];
    fflush(stdout);
    if (pipe(fd) != 0) {
        perror("--ascii: pipe");
        exit(1);
    }
    child = fork();
    if (child < 0) {
        perror("--ascii: fork");
        exit(1);
    }
    if (child == 0) {   /* the filter: line by line, stdin is the lesson's stdout */
        close(fd[1]);
        FILE *in = fdopen(fd[0], "r");
        char *line = NULL;
        size_t cap = 0;
        while (in && getline(&line, &cap, in) > 0) fputs(lesson_ascii_of(line), stdout);
        free(line);
        fflush(stdout);
        _exit(0);
    }
    close(fd[0]);
    if (dup2(fd[1], STDOUT_FILENO) < 0) {
        perror("--ascii: dup2");
        exit(1);
    }
    close(fd[1]);
    atexit(finish);
}
