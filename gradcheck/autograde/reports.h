/* reports.h: what the grader leaves in its output directory, all from the
 * same results so that they cannot disagree: results.json (Gradescope's
 * format), junit.xml (Jenkins' junit-10 schema), results.tap (TAP 13) and
 * report.txt. Each file is written to a new
 * temporary file (O_CREAT | O_EXCL | O_NOFOLLOW) in that directory and
 * renamed into place, so a symlink, FIFO or half-written file planted under
 * the name is replaced, never followed. All text is made valid UTF-8 first (ad_text_sanitize). */
#ifndef AD_REPORTS_H
#define AD_REPORTS_H

#include "assignment.h"
#include "grade.h"

/* Text from a tool or the student's code (the compiler, the assembler, the
 * linker) as a quote appended to dst (cap bytes in all): a title line, then
 * each of its lines after QUOTE_PREFIX, with every byte that is not
 * printable ASCII written as \xNN (\t and \\ for a tab and a backslash),
 * at most QUOTE_MAX_LINES lines of at most QUOTE_MAX_LINE characters, and a
 * line saying how much was left out. total: how many bytes the tool printed
 * (len of them are in text). Every line the grader writes itself starts
 * otherwise, so no quoted text can read as a score or a PASS. */
#define QUOTE_PREFIX "  | "
enum { QUOTE_MAX_LINES = 200, QUOTE_MAX_LINE = 300 };
void quote_append(char *dst, size_t cap, const char *title, const char *text, size_t len, size_t total);

/* Write the four reports into the directory open at dir_fd. general: the
 * message for the whole submission; notes: the sandbox's own log lines
 * (report.txt only); seed: the grading's, in results.json and report.txt
 * so that `--seed` repeats it. 0, or -1 with a sentence in err. */
int reports_write(int dir_fd, const assignment *a, test_result *res, char *general, const char *notes, uint64_t seed,
                  double seconds, char *err, size_t errlen);

#endif
