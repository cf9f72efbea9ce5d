/* quiz: Differentiation Quiz #1 of lecture 004 (../shared/lectures/004_*):
 * y = exp(xz) + xz/log(x) + sin(log(x))/(xz) at x = 2, z = 3, broken into
 * intermediate nodes, differentiated by Version A (each node pulls from its
 * consumers) and Version B (each node pushes increments), and matched
 * against the lecture's answer choices. */
#include <math.h>
#include <stdio.h>
#include "lesson.h"

/* The lecture's Forward Computation for the quiz ("Given: x = 2, z = 3"):
 * a = xz, b = log(x), c = sin(b), d = exp(a), e = a/b, f = c/a,
 * y = d + e + f (the OCR'd slide prints z as π and e, f as square roots;
 * the quiz's function fixes them). */
static ad_node *quiz(ad_context *ctx, ad_node *const *in, void *user)
{
    (void)user;
    ad_node *a = ad_set_name(ad_mul(ctx, in[0], in[1]), "a");
    ad_node *b = ad_set_name(ad_log(ctx, in[0]), "b");
    ad_node *c = ad_set_name(ad_sin(ctx, b), "c");
    ad_node *d = ad_set_name(ad_exp(ctx, a), "d");
    ad_node *e = ad_set_name(ad_div(ctx, a, b), "e");
    ad_node *f = ad_set_name(ad_div(ctx, c, a), "f");
    ad_node *de = ad_set_name(ad_add(ctx, d, e), "(d+e)");
    return ad_set_name(ad_add(ctx, de, f), "y");
}

/* The lecture's choices, [dy/dx, dy/dz]. */
static const struct { char letter; double dx, dz; } choices[] = {
    {'A', 42, -72}, {'B', 72, -42}, {'C', 100, 127}, {'D', 127, 100},
    {'E', 1208, 810}, {'F', 810, 1208}, {'G', 1505, 94}, {'H', 94, 1505},
};

/* The slide's breakdown, evaluated at (x, z) against the quiz's y computed
 * from its definition. The OCR'd "Forward Computation" reads, literally
 * (π for z): a = xz, b = log(a), c = sin(b), d = exp(a), e = √a, f = √c,
 * y = b + c + f; its heading function is √x + exp(x) + sin(zx)/log x +
 * sin(log x)/(zx). Three readings are shown: b = log(xz) alone changed
 * (004-quiz1-b), y = b + c + f alone changed (004-quiz1-y), and the whole
 * route as written (004-quiz1-breakdown). log(xz) needs xz > 0 and √c needs
 * c >= 0: at a valid input of the quiz (x > 0, x != 1, z != 0) where they
 * fail, the slide's route is undefined and the lesson says so, with why. */
static void slide_breakdown(const lesson *L, cJSON *doc, double x0, double z0)
{
    static const char where[] = "004, Differentiation Quiz #1, Forward Computation";
    double a = x0 * z0, b = log(x0), c = sin(b), f = c / a;
    double want = exp(a) + a / log(x0) + sin(log(x0)) / a;   /* the quiz's y, from its definition */
    double right = exp(a) + a / b + c / a;                    /* the breakdown a..f, y = d + e + f */
    char why[256];
    snprintf(why, sizeof why, "a = xz = %.10g <= 0, and log needs a positive argument (the quiz's b = log x, x = %.10g > 0, is defined)", a, x0);
    if (!L->json) printf("\nWhere the lecture's breakdown differs (by computation, y):\n");
    if (a > 0) {
        double b_slide = log(a), y_b_slide = exp(a) + a / b_slide + sin(b_slide) / a;
        lesson_slip(L, doc, "004-quiz1-b", where, "b = log(a) = log(xz); the quiz has log(x)", &y_b_slide, &right,
                    &want, 1, "y from its definition");
    } else {
        lesson_slip_undefined(L, doc, "004-quiz1-b", where, "b = log(a) = log(xz); the quiz has log(x)", why, &right,
                              &want, 1, "y from its definition");
    }
    double y_sum_slide = b + c + f;
    lesson_slip(L, doc, "004-quiz1-y", where, "y = b + c + f; the quiz's three terms are d + e + f", &y_sum_slide,
                &right, &want, 1, "y from its definition");
    /* The route as written, every line of it. */
    const char *what = "the whole route as written: a = xz, b = log a, c = sin b, d = exp a, e = √a, f = √c, y = b + c + f";
    double sb = a > 0 ? log(a) : 0, sc = sin(sb);
    if (a > 0 && sc >= 0) {
        double y_route = sb + sc + sqrt(sc);
        lesson_slip(L, doc, "004-quiz1-breakdown", where, what, &y_route, &right, &want, 1, "y from its definition");
    } else {
        if (a > 0)
            snprintf(why, sizeof why, "c = sin(log(xz)) = %.10g < 0, and f = √c needs c >= 0", sc);
        lesson_slip_undefined(L, doc, "004-quiz1-breakdown", where, what, why, &right, &want, 1, "y from its definition");
    }
    /* The slide's heading function, which its breakdown does not compute either. */
    double heading = x0 > 0 ? sqrt(x0) + exp(x0) + sin(z0 * x0) / log(x0) + sin(log(x0)) / (z0 * x0) : NAN;
    if (!L->json) {
        printf("  The slide heads its breakdown with y = √x + exp(x) + sin(zx)/log(x) + sin(log(x))/(zx) = %.10g here:\n"
               "  a third function; neither it nor the route above is the quiz's y = %.10g. The lesson computes the\n"
               "  quiz's breakdown (b = log x, y = d + e + f), which the quiz's answer E needs.\n", heading, want);
    } else {
        cJSON_AddNumberToObject(doc, "slide_heading_y", heading);
    }
}

int main(int argc, char **argv)
{
    lesson L = {
        .program = "quiz",
                .source = "004_586b0e2da8ef059d.txt: \"Differentiation Quiz #1\" and its \"Forward Computation\"",
                .code = "engine/core/forward.c (the forward-mode column), engine/core/backward.c (the reverse-mode column)",
        .title = "Differentiation Quiz #1: y = exp(xz) + xz/log(x) + sin(log(x))/(xz) [lecture 004]",
        .in = {{"x", 2, 0, INFINITY, "log x needs x > 0 (and x != 1: log x divides)"}, {"z", 3, -INFINITY, INFINITY, NULL}},
        .n_in = 2,
        .has_dot = true,   /* no --variant: the lesson runs Version A and Version B both */
    };
    lesson_parse(&L, argc, argv);
    double x0 = L.in[0].value, z0 = L.in[1].value;
    if (x0 == 1 || z0 == 0) {
        fprintf(stderr, "quiz: x = 1 or z = 0 divides by zero (log 1 = 0, xz = 0)\n");
        return 2;
    }
    ad_context *ctx = lesson_context(&L);
    ad_node *in[2] = {ad_set_name(ad_scalar(ctx, x0), "x"), ad_set_name(ad_scalar(ctx, z0), "z")};
    ad_node *y = quiz(ctx, in, NULL);
    if (!y) lesson_die(&L, "building y");
    double ga[2], gb[2];
    if (!L.json) {
        printf("quiz — Differentiation Quiz #1 at x = %g, z = %g   [lecture 004]\n\n", x0, z0);
        printf("Forward computation, one intermediate quantity per line:\n");
        lesson_show_nodes(&L, ctx, y);
        printf("\nBackward computation, Version A (∂y/∂v = Σ over consumers u of ∂y/∂u · ∂u/∂v):\n");
        lesson_explain_reverse(&L, ctx, y, AD_BACKWARD_PULL);
    } else {   /* the same rows, unprinted: recorded for --html */
        lesson_show_nodes(&L, ctx, y);
        lesson_explain_reverse(&L, ctx, y, AD_BACKWARD_PULL);
    }
    ga[0] = ad_grad_scalar(in[0]), ga[1] = ad_grad_scalar(in[1]);
    if (!L.json) printf("\nBackward computation, Version B (each node increments its inputs' adjoints):\n");
    lesson_explain_reverse(&L, ctx, y, AD_BACKWARD_PUSH);   /* zeroes the grads first; unprinted under --json */
    gb[0] = ad_grad_scalar(in[0]), gb[1] = ad_grad_scalar(in[1]);
    double rx = round(gb[0]), rz = round(gb[1]);
    char answer = '?';
    for (size_t i = 0; i < sizeof choices / sizeof choices[0]; i++)
        if (choices[i].dx == rx && choices[i].dz == rz) answer = choices[i].letter;
    cJSON *doc = L.json ? cJSON_CreateObject() : NULL;
    if (!L.json) {
        printf("\nBoth versions agree: ∂y/∂x = %.15g (A: %.15g), ∂y/∂z = %.15g (A: %.15g); y = %.15g\n\n", gb[0],
               ga[0], gb[1], ga[1], ad_value_scalar(y));
    } else {
        cJSON_AddStringToObject(doc, "lesson", "quiz");
        cJSON_AddNumberToObject(doc, "y", ad_value_scalar(y));
        cJSON_AddNumberToObject(doc, "dy_dx", gb[0]);
        cJSON_AddNumberToObject(doc, "dy_dz", gb[1]);
        cJSON_AddNumberToObject(doc, "version_a_dy_dx", ga[0]);
        cJSON_AddNumberToObject(doc, "version_a_dy_dz", ga[1]);
        lesson_json_backward_steps(&L, doc, "version_a_steps", ctx, y, AD_BACKWARD_PULL);
        lesson_json_backward_steps(&L, doc, "version_b_steps", ctx, y, AD_BACKWARD_PUSH);
        lesson_json_nodes(doc, ctx, y);
    }
    lesson_fd_report(&L, quiz, NULL, gb, "y", doc);
    if (x0 == 2 && z0 == 3) {
        if (!L.json) {
            printf("\nRounded to the nearest integer: [∂y/∂x, ∂y/∂z] = [%.0f, %.0f]. ", rx, rz);
            if (answer != '?') printf("The right choice is %c.\n", answer);
            else printf("None of the lecture's choices matches.\n");
        } else {
            char s[2] = {answer, 0};
            cJSON_AddStringToObject(doc, "answer", s);
        }
    }
    slide_breakdown(&L, doc, x0, z0);
    lesson_write_dot(&L, ctx, y);
    lesson_write_html(&L, ctx, y);
    if (doc) lesson_print_json(doc);
    ad_context_free(ctx);
    return lesson_status();
}
