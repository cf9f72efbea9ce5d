/* embedded.h: the sources autograde writes next to each submission
 * (generated from runner.c, runner_protocol.h and ad_student.h by embed.py). */
#ifndef AD_EMBEDDED_H
#define AD_EMBEDDED_H
#include <stddef.h>
extern const unsigned char ag_runner_c[], ag_runner_protocol_h[], ag_student_h[];
extern const size_t ag_runner_c_len, ag_runner_protocol_h_len, ag_student_h_len;
#endif
