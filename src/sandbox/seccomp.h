/* seccomp.h - the app's seccomp deny-list and the manager's allow-list. */
#pragma once

#include <glib.h>
#include <sys/types.h>

/* Installs the filter on the calling thread (after no_new_privs).  With
 * own_ids_only (the user namespace maps nothing but the caller's own uid
 * and gid), a change of identity or owner to any other id fails with EPERM,
 * as on the host, not EINVAL.  Returns 0, or -1 with errno set: it runs in
 * the forked app child, which reports errno to init over its status pipe. */
int uva_seccomp_app_filter(int own_ids_only);

/* A call that takes uids or gids: which of its first six arguments are
 * uids (bit i: args[i]) and which are gids. */
typedef struct {
  unsigned nr;
  unsigned char uid_args, gid_args;
} UvaSeccompIdCall;

/* The same filter for --port-driver bypass and --outbound bypass
 * (init serves it: unotify.c): bind() and connect() go to init as seccomp user
 * notifications, MSG_FASTOPEN and TCP_FASTOPEN_CONNECT are refused
 * (EOPNOTSUPP), and so are x32 calls and i386's socket calls.  Returns
 * the listener fd (close-on-exec), or -1 with errno. */
int uva_seccomp_app_filter_bypass(int own_ids_only);

/* The app's filter program (what uva_seccomp_app_filter installs, for a
 * caller of uid and gid) written into prog, which holds
 * UVA_SECCOMP_APP_PROG_MAX instructions; returns its length.  The unit
 * tests run it on seccomp_data of their own, so that the i386 and x32
 * rules are tested whether or not the kernel runs such programs. */
#define UVA_SECCOMP_APP_PROG_MAX 512
struct sock_filter;
unsigned uva_seccomp_app_program(struct sock_filter *prog, gboolean bypass,
                                 int own_ids, unsigned uid, unsigned gid);

/* One architecture's numbers for the app's deny-list. */
typedef struct {
  const unsigned *denied; /* refused outright (EPERM) */
  unsigned n_denied;
  unsigned clone3;         /* ENOSYS, so that libc falls back to clone */
  unsigned personality;    /* only Docker's values */
  unsigned unshare, clone; /* no CLONE_NEWUSER */
  /* refused under bypass (socketcall, bind, connect, sendto, sendmsg,
   * sendmmsg): i386 only, the native ones are served instead */
  const unsigned *bypass_denied;
  unsigned n_bypass_denied;
  const UvaSeccompIdCall *id_calls; /* own_ids_only: other ids get EPERM */
  unsigned n_id_calls;
} UvaSeccompNrs;

#ifdef __x86_64__
/* i386's (seccomp32.c, from <asm/unistd_32.h>). */
extern const UvaSeccompNrs uva_seccomp_i386_nrs;
#endif

/* How many pids uva_seccomp_manager_filter() can allow kill() to reach. */
#define UVA_SECCOMP_MAX_SIGNALLED 1024
/* How many fds uva_seccomp_manager_filter() can allow listen() on. */
#define UVA_SECCOMP_MAX_LISTENING 256

/* Installs the manager's allow-list (and no_new_privs) on the calling
 * thread: from then on it can forward, print, reap, and signal itself and
 * the n_signal pids of may_signal (its inits), but not execve, open files
 * for writing, make other than Internet sockets, bind, listen, clone,
 * ptrace or mount, nor make any ioctl but FIONREAD, TCGETS and the few
 * `run -t` needs for the caller's terminal.  0, or -1
 * with errno (E2BIG: more than UVA_SECCOMP_MAX_SIGNALLED pids). */
int uva_seccomp_manager_filter(const pid_t *may_signal, unsigned n_signal,
                               const int *may_listen, unsigned n_listen);
