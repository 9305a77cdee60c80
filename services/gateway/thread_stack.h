/* thread_stack.h - see thread_stack.c: a floor under library threads'
 * stack size. */
#ifndef GATEWAY_THREAD_STACK_H
#define GATEWAY_THREAD_STACK_H

#include <stddef.h>

/* The floor in bytes; calling it also links the floor into the program. */
size_t thread_stack_floor(void);

#endif
