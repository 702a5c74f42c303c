/* confine.h - the manager's confinement once every container is started:
 * Landlock, then the seccomp allow-list, and what `check` says of them. */
#pragma once

#include <glib.h>
#include <sys/types.h>

/* The Landlock ABI this kernel offers (landlock(7)): 1 or more, or 0 when
 * Landlock is missing (not built in, or left out of the lsm= boot list). */
int uva_confine_landlock_abi(void);

/* One line for `check`: the Landlock layers of ABI abi.  Free with g_free. */
char *uva_confine_describe_landlock(int abi);

/* Confines the calling (single-threaded) manager for the rest of its life:
 * raises the soft fd limit, restricts it with Landlock where the kernel has
 * it, and installs the seccomp allow-list, whose kill() may still reach
 * the n_inits pids of inits and whose listen() only the n_listen fds of
 * listen_fds (published ports bound before).  FALSE with *error when a layer
 * could not be put in place; the layers that could are in place all the same,
 * so the caller warns and goes on.  Sanitizer builds put neither layer in place
 * (see confine.c). */
gboolean uva_confine_manager(const pid_t *inits, guint n_inits,
                             const int *listen_fds, guint n_listen,
                             GError **error);

#ifdef UVA_TEST_HOOKS
/* Test builds only: tries, from the confined manager, each operation the
 * confinement forbids and prints one line per operation with its errno. */
void uva_confine_test_probe(void);
#endif
