/* embed.c: the build's tool that turns the page's CSS and JavaScript
 * (page.css, page.js beside it) into C strings for lesson_html.c:
 *   embed OUT.h NAME FILE [NAME FILE ...]
 * They stay files of their own so that they read, and are edited, as CSS
 * and JavaScript rather than as C string literals; C has no #embed before
 * C23, and a tool in C keeps the build free of any other language. */
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc < 4 || argc % 2) {
        fprintf(stderr, "usage: embed OUT.h NAME FILE [NAME FILE ...]\n");
        return 2;
    }
    FILE *out = fopen(argv[1], "w");
    if (!out) {
        perror(argv[1]);
        return 1;
    }
    fprintf(out, "/* made by lessons/html/embed.c from the files named below: edit those */\n");
    for (int i = 2; i < argc; i += 2) {
        FILE *in = fopen(argv[i + 1], "rb");
        if (!in) {
            perror(argv[i + 1]);
            return 1;
        }
        fprintf(out, "/* %s */\nstatic const char %s[] =\n\"", argv[i + 1], argv[i]);
        for (int c; (c = fgetc(in)) != EOF;) {
            if (c == '\n') fputs("\\n\"\n\"", out);
            else if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
            else if (c < 0x20 || c == '?') fprintf(out, "\\%03o", c);   /* '?': no trigraphs */
            else fputc(c, out);
        }
        fputs("\";\n", out);
        fclose(in);
    }
    return fclose(out) ? 1 : 0;
}
