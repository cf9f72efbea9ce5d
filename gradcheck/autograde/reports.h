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

/* Write the four reports into the directory open at dir_fd. general: the
 * message for the whole submission; notes: the sandbox's own log lines
 * (report.txt only); seed: the grading's, in results.json and report.txt
 * so that `--seed` repeats it. 0, or -1 with a sentence in err. */
int reports_write(int dir_fd, const assignment *a, test_result *res, char *general, const char *notes, uint64_t seed,
                  double seconds, char *err, size_t errlen);

#endif
