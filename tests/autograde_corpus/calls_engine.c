/* Computes nothing itself: sigmoid's forward calls the engine (its real
 * ad_* functions, as declared in autodidact.h) that the grader links. */
#include "ad_student.h"
typedef struct ad_context ad_context;
typedef struct ad_node ad_node;
ad_context *ad_context_new(void);
ad_node *ad_constant(ad_context *ctx, int dtype, int ndim, const int64_t *shape, const double *data);
ad_node *ad_sigmoid(ad_context *ctx, ad_node *x);
double ad_value_at(const ad_node *n, int64_t i);
void student_sigmoid_forward(int64_t n, const double *x, double *y)
{
    ad_context *ctx = ad_context_new();
    ad_node *s = ad_sigmoid(ctx, ad_constant(ctx, 0, 1, &n, x));
    for (int64_t i = 0; i < n; i++) y[i] = ad_value_at(s, i);
}
#define student_sigmoid_forward solution_sigmoid_forward
#include "@SOLUTION@"
