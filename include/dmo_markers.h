/*
 * dmo_markers.h: tell the dmo emulator which operator runs and which buffers it uses.
 *
 * Protocol. Link include/dmo_markers.c into the firmware. Around each operator call
 *     dmo_op_begin(name, kind);                      e.g. ("conv1", "CONV_2D")
 *     dmo_buffer(name, pointer, length_in_bytes, role);   once per buffer
 *     ... the operator's loops ...
 *     dmo_op_end();
 * The emulator hooks the first instruction of each function (found by symbol in the ELF) and reads
 * the arguments from r0-r3: name and kind are NUL-terminated strings in memory, role is one of
 * DMO_ROLE_*. Events between dmo_op_begin and dmo_op_end form one op segment; segments do not
 * nest. The functions are weak, empty and never inlined, so they cost a call each on hardware and
 * can be overridden (e.g. to toggle a GPIO for a logic analyser).
 */
#ifndef DMO_MARKERS_H
#define DMO_MARKERS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Role codes passed to dmo_buffer (fixed: the emulator decodes them). */
enum dmo_buffer_role {
    DMO_ROLE_INPUT = 0,
    DMO_ROLE_OUTPUT = 1,
    DMO_ROLE_WEIGHTS = 2,
    DMO_ROLE_SCRATCH = 3,
};

/* Starts an op segment: name of this operator instance, kind as in TFLite ("CONV_2D", ...). */
void dmo_op_begin(const char *name, const char *kind);
/* Declares one buffer of the current op: `length` bytes starting at `pointer`. */
void dmo_buffer(const char *name, const void *pointer, uint32_t length, uint32_t role);
/* Ends the current op segment. */
void dmo_op_end(void);

#ifdef DMO_NO_MARKERS
/* Kernels built for firmware without markers (fixtures/cpp): the macros vanish. */
#define DMO_OP_BEGIN(name, kind) ((void)(name), (void)(kind))
#define DMO_INPUT(name, pointer, length) ((void)(name), (void)(pointer), (void)(length))
#define DMO_OUTPUT(name, pointer, length) ((void)(name), (void)(pointer), (void)(length))
#define DMO_WEIGHTS(name, pointer, length) ((void)(name), (void)(pointer), (void)(length))
#define DMO_SCRATCH(name, pointer, length) ((void)(name), (void)(pointer), (void)(length))
#define DMO_OP_END() ((void)0)
#else
#define DMO_OP_BEGIN(name, kind) dmo_op_begin((name), (kind))
#define DMO_INPUT(name, pointer, length) \
    dmo_buffer((name), (pointer), (uint32_t)(length), DMO_ROLE_INPUT)
#define DMO_OUTPUT(name, pointer, length) \
    dmo_buffer((name), (pointer), (uint32_t)(length), DMO_ROLE_OUTPUT)
#define DMO_WEIGHTS(name, pointer, length) \
    dmo_buffer((name), (pointer), (uint32_t)(length), DMO_ROLE_WEIGHTS)
#define DMO_SCRATCH(name, pointer, length) \
    dmo_buffer((name), (pointer), (uint32_t)(length), DMO_ROLE_SCRATCH)
#define DMO_OP_END() dmo_op_end()
#endif

#ifdef __cplusplus
}
#endif

#endif /* DMO_MARKERS_H */
