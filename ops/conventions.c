/* conventions.c: where the engine and PyTorch give different numbers on
 * purpose. Each is a valid choice; each is printed by `gradcheck --list`,
 * copied in the README, and checked both ways by tests/conformance.py (the
 * engine follows it, and PyTorch still differs). Everything else agrees with
 * PyTorch in float64: axes, broadcasting, NaN and ±inf included. */
#include "ad_op.h"

const ad_convention ad_conventions[] = {
    {"tie-first", "max, min",
     "at a tie a == b the whole gradient (and tangent) goes to the first input a; PyTorch splits it evenly, 1/2 "
     "each. Both are valid subgradients, and gradcheck accepts either at a tie."},
    {"nan-both", "max, min",
     "where an input is NaN the output is NaN, and both inputs pass on the gradient and the tangent (derivative 1 "
     "each), in reverse and forward mode alike; PyTorch's reverse mode does the same, its forward mode passes only "
     "one input's tangent."},
    {"pow-neg-inf", "pow",
     "pow(-inf, c) for a non-integer c is C's (IEEE 754) pow: pow(+inf, c), so +inf for c > 0; PyTorch computes "
     "c = 0.5 as sqrt and gives NaN."},
    {"ce-ignored-nan", "cross_entropy",
     "an ignored sample's logits do not reach the loss, so their gradient and tangent are 0 even where they hold "
     "NaN or inf; PyTorch's are NaN there."},
    {"maxpool-nan-first", "maxpool2d",
     "a window holding several NaNs gives NaN, and its gradient and tangent go to the first NaN in row-major "
     "window order (ties: the first maximum, as in PyTorch); PyTorch sends them to the last NaN."},
    {"inf-arithmetic", "every op",
     "where an input is NaN or +-inf, a derivative entry that is non-finite in both may be NaN in one and +-inf in "
     "the other: inf*0 and inf-inf in the chain rule depend on the order of the arithmetic. Values agree exactly."},
    {"ce-all-ignored", "cross_entropy",
     "with reduction mean and every target ignored (or weighing 0), the engine refuses with an error (the mean of "
     "nothing is undefined); PyTorch returns NaN."},
};
const int ad_n_conventions = sizeof ad_conventions / sizeof ad_conventions[0];
