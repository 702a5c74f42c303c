/* seccomp.c - the app's default syscall deny-list, as a raw classic-BPF
 * filter (seccomp(2), no libseccomp needed for a dozen comparisons).
 *
 * Denied calls fail with EPERM instead of killing the app, like Docker's and
 * crun's default profiles: a program that probes for a feature gets a clean
 * error.  The list holds what a web app never needs and what widens the
 * kernel's attack surface from inside a user namespace: the keyring, eBPF,
 * perf events, userfaultfd, kernel modules, kexec, reboot, and nested user
 * namespaces (unshare or clone with CLONE_NEWUSER; clone3 gets ENOSYS, so
 * libc falls back to clone, whose flags a filter can read).
 *
 * The filter is installed after no_new_privs, which lets an unprivileged
 * process do so, and is inherited across fork and execve. */
#include "seccomp.h"

#include <errno.h>
#include <glib.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define UVA_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define UVA_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "uva_container: add this architecture's AUDIT_ARCH_* to seccomp.c"
#endif

#define LOAD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define DENY_EPERM RET(SECCOMP_RET_ERRNO | EPERM)

/* Denied outright, whatever the arguments. */
static const int denied[] = {
    SYS_keyctl,        SYS_add_key,     SYS_request_key,  SYS_bpf,
    SYS_perf_event_open, SYS_userfaultfd, SYS_init_module, SYS_finit_module,
    SYS_delete_module, SYS_kexec_load,  SYS_kexec_file_load, SYS_reboot,
};

int uva_seccomp_app_filter(void) {
  struct sock_filter prog[64];
  unsigned n = 0;
  /* Another architecture's numbers mean other calls: refuse them all.  On
   * x86_64, x32 calls (nr | 0x40000000) are refused too. */
  prog[n++] = (struct sock_filter)BPF_STMT(
      BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                           UVA_AUDIT_ARCH, 1, 0);
  prog[n++] = (struct sock_filter)RET(SECCOMP_RET_ERRNO | EPERM);
  prog[n++] = (struct sock_filter)LOAD_NR;
#ifdef __x86_64__
  prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
                                           0x40000000, 0, 1);
  prog[n++] = (struct sock_filter)DENY_EPERM;
#endif
  for (size_t i = 0; i < G_N_ELEMENTS(denied); i++) {
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                             (unsigned)denied[i], 0, 1);
    prog[n++] = (struct sock_filter)DENY_EPERM;
  }
  prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                           SYS_clone3, 0, 1);
  prog[n++] = (struct sock_filter)RET(SECCOMP_RET_ERRNO | ENOSYS);
  /* unshare(flags) and clone(flags, ...): flags is the first argument on
   * both architectures; CLONE_NEWUSER is in its low 32 bits, which on
   * these little-endian machines sit at args[0]'s own offset. */
  prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                           SYS_unshare, 1, 0);
  prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                           SYS_clone, 0, 3);
  prog[n++] = (struct sock_filter)BPF_STMT(
      BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
  prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K,
                                           CLONE_NEWUSER, 0, 1);
  prog[n++] = (struct sock_filter)DENY_EPERM;
  prog[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
  g_assert(n <= G_N_ELEMENTS(prog));

  struct sock_fprog fprog = {.len = (unsigned short)n, .filter = prog};
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0);
}
