/* ad_op_list.h: every built-in op, once. Included with AD_OP_ENTRY defined
 * to generate the op enum and the registry table (ad_op.h, registry.c).
 * Add a line here and a `const ad_op ad_op_NAME` in the op's own file. */
/* elementwise (ops/elementwise.c) */
AD_OP_ENTRY(add)
AD_OP_ENTRY(sub)
AD_OP_ENTRY(mul)
AD_OP_ENTRY(div)
AD_OP_ENTRY(max)
AD_OP_ENTRY(min)
AD_OP_ENTRY(neg)
AD_OP_ENTRY(scale)
AD_OP_ENTRY(pow)
AD_OP_ENTRY(exp)
AD_OP_ENTRY(log)
AD_OP_ENTRY(sqrt)
AD_OP_ENTRY(sin)
AD_OP_ENTRY(cos)
AD_OP_ENTRY(tanh)
AD_OP_ENTRY(sigmoid)
AD_OP_ENTRY(relu)
AD_OP_ENTRY(abs)
AD_OP_ENTRY(matmul)
AD_OP_ENTRY(linear)
