/*
 * Companion of dmo_markers.h: the three marker functions.
 *
 * They must stay real calls whose arguments are in r0-r3 at the first instruction, whatever the
 * optimisation level or LTO: `weak` forbids the compiler to assume this body (so callers cannot
 * drop or specialise the call), `noinline`/`noipa` stop inlining and interprocedural tricks such
 * as removing unused parameters, `used` keeps the symbol, and the asm statement that "uses" the
 * arguments with a memory clobber keeps the body from being merged away.
 */
#include "dmo_markers.h"

#if defined(__GNUC__) && !defined(__clang__)
#define DMO_MARKER_ATTRIBUTES __attribute__((weak, noinline, noipa, used))
#else
#define DMO_MARKER_ATTRIBUTES __attribute__((weak, noinline, used))
#endif

DMO_MARKER_ATTRIBUTES void dmo_op_begin(const char *name, const char *kind)
{
    __asm__ volatile("" : : "r"(name), "r"(kind) : "memory");
}

DMO_MARKER_ATTRIBUTES void dmo_buffer(const char *name, const void *pointer, uint32_t length,
                                      uint32_t role)
{
    __asm__ volatile("" : : "r"(name), "r"(pointer), "r"(length), "r"(role) : "memory");
}

DMO_MARKER_ATTRIBUTES void dmo_op_end(void)
{
    __asm__ volatile("" : : : "memory");
}
