/*
 * thread_stack.c - a floor under the stack size of threads the libraries
 * start.
 *
 * Debian's libcivetweb is built with USE_STACK_SIZE=102400: its worker
 * threads get 100 KiB stacks, set through pthread_attr_setstacksize(), and
 * no run-time option changes that. A request handler runs on such a thread
 * and calls mongo-c-driver, whose BCON builder alone keeps ~25 KiB of
 * frames; under AddressSanitizer that overflowed (and it leaves too little
 * margin without it). The executable's own definition of the function is
 * found before libc's by the dynamic linker, so this raises any smaller
 * request to THREAD_STACK_MIN and passes the call on. Only a floor: larger
 * sizes are kept. Pages are committed when touched, so the floor costs
 * address space, not memory.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

#include "thread_stack.h"

#define THREAD_STACK_MIN (1024 * 1024)

int pthread_attr_setstacksize(pthread_attr_t *attr, size_t size);

int
pthread_attr_setstacksize(pthread_attr_t *attr, size_t size)
{
    static int (*real)(pthread_attr_t *, size_t);

    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "pthread_attr_setstacksize");
    if (real == NULL)
        return 0; /* keep the default size, which is larger anyway */
    return real(attr, size < THREAD_STACK_MIN ? THREAD_STACK_MIN : size);
}

size_t
thread_stack_floor(void)
{
    return THREAD_STACK_MIN;
}
