/* registry.c: the table of ops. Built-ins come from ad_op_list.h (the enum
 * and this table are generated from the same list, and the static assert
 * keeps them in step); ops registered at run time (a student's submission,
 * a test's deliberately wrong rule) follow them. */
#include <stdlib.h>
#include <string.h>
#include "ad_op.h"
#include "ad_op_builtin.h"

#define AD_OP_ENTRY(sym) &ad_op_##sym,
static const ad_op *const builtin[] = {
#include "ad_op_list.h"
};
#undef AD_OP_ENTRY

_Static_assert(sizeof builtin / sizeof builtin[0] == AD_OP_COUNT, "op table and enum out of step");

enum { MAX_REGISTERED = 256 };
static const ad_op *registered[MAX_REGISTERED];
static int n_registered;

int ad_op_count(void) { return AD_OP_COUNT + n_registered; }

const ad_op *ad_op_at(int i)
{
    if (i < 0 || i >= ad_op_count()) return NULL;
    return i < AD_OP_COUNT ? builtin[i] : registered[i - AD_OP_COUNT];
}

const ad_op *ad_op_find(const char *name)
{
    if (!name) return NULL;
    for (int i = 0; i < ad_op_count(); i++)
        if (strcmp(ad_op_at(i)->name, name) == 0) return ad_op_at(i);
    return NULL;
}

ad_status ad_op_register(const ad_op *op)
{
    if (!op || !op->name || !op->name[0]) return ad_fail(AD_ERR_ARG, "op_register: the op has no name");
    if (!op->infer || !op->cpu.forward)
        return ad_fail(AD_ERR_ARG, "op_register: op %s needs a shape rule (infer) and a forward", op->name);
    if (op->n_in < 1 || op->n_in > AD_MAX_INPUTS || op->n_in_min < 1 || op->n_in_min > op->n_in)
        return ad_fail(AD_ERR_ARG, "op_register: op %s has %d..%d inputs; 1..%d are allowed", op->name, op->n_in_min,
                       op->n_in, AD_MAX_INPUTS);
    if (ad_op_find(op->name)) return ad_fail(AD_ERR_ARG, "op_register: an op named %s exists already", op->name);
    if (n_registered == MAX_REGISTERED)
        return ad_fail(AD_ERR_ARG, "op_register: %d ops are registered already", MAX_REGISTERED);
    registered[n_registered++] = op;
    return AD_OK;
}

ad_status ad_op_unregister(const ad_op *op)
{
    for (int i = 0; i < n_registered; i++)
        if (registered[i] == op) {
            memmove(&registered[i], &registered[i + 1], (size_t)(n_registered - i - 1) * sizeof registered[0]);
            n_registered--;
            return AD_OK;
        }
    return ad_fail(AD_ERR_ARG, "op_unregister: %s is not a registered op", op && op->name ? op->name : "(null)");
}
