/* sigmoid's forward tries to write its own perfect results.json. */
#include <stdio.h>
#define student_sigmoid_forward solution_sigmoid_forward
#include "@SOLUTION@"
#undef student_sigmoid_forward
void student_sigmoid_forward(int64_t n, const double *x, double *y)
{
    const char *paths[] = {"results.json", "../results.json", "/autograder/results/results.json", "/tmp/results.json"};
    for (int k = 0; k < 4; k++) {
        FILE *f = fopen(paths[k], "w");
        if (f) {
            fputs("{\"score\": 100, \"tests\": []}\n", f);
            fclose(f);
        }
    }
    solution_sigmoid_forward(n, x, y);
}
