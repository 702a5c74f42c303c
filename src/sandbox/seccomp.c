/* seccomp.c - two seccomp filters as raw classic BPF (seccomp(2); no
 * libseccomp needed for lists this short):
 *
 *  - the app's default deny-list;
 *  - the manager's allow-list, once every container is started.
 *
 * The app's deny-list:
 *
 * Denied calls fail with EPERM instead of killing the app, like Docker's and
 * crun's default profiles: a program that probes for a feature gets a clean
 * error.  The list holds what a web app never needs and what widens the
 * kernel's attack surface from inside a user namespace: the keyring, eBPF,
 * perf events, userfaultfd, kernel modules, kexec, reboot, io_uring (a
 * second syscall interface that seccomp cannot see into, and a steady
 * source of kernel bugs: Docker's default profile refuses it too), and
 * nested user namespaces (unshare or clone with CLONE_NEWUSER; clone3 gets
 * ENOSYS, so libc falls back to clone, whose flags a filter can read).
 * personality(2) is allowed only for the values Docker's profile allows.
 *
 * The filter is installed after no_new_privs, which lets an unprivileged
 * process do so, and is inherited across fork and execve. */
#include "sandbox/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define UVA_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define UVA_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "uva_container: add this architecture's AUDIT_ARCH_* to seccomp.c"
#endif

#define LOAD_ARCH                                                              \
  BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch))
#define LOAD_NR                                                                \
  BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define DENY_EPERM RET(SECCOMP_RET_ERRNO | EPERM)
/* The low 32 bits of syscall argument i.  These machines are little-endian,
 * so they sit at the argument's own offset in seccomp_data. */
#define LOAD_ARG_LO(i)                                                         \
  BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args) +     \
                                         (unsigned)(i) * sizeof(__u64))

/* Denied outright, whatever the arguments. */
static const unsigned denied[] = {
    SYS_keyctl,
    SYS_add_key,
    SYS_request_key,
    SYS_bpf,
    SYS_perf_event_open,
    SYS_userfaultfd,
    SYS_init_module,
    SYS_finit_module,
    SYS_delete_module,
    SYS_kexec_load,
    SYS_kexec_file_load,
    SYS_reboot,
    SYS_io_uring_setup,
    SYS_io_uring_enter,
    SYS_io_uring_register,
#ifdef __x86_64__
    /* x32's own kexec_load (compat_sys_kexec_load, "528 x32" in
     * arch/x86/entry/syscalls/syscall_64.tbl): the only denied call whose
     * x32 number is not the native one; natively 528 is unused (ENOSYS). */
    528,
#endif
};

/* Calls that set a uid or gid (credentials(7)), and the chown family
 * (chown(2)): which arguments are ids. */
static const UvaSeccompIdCall id_calls[] = {
    {SYS_setuid, 0x1, 0},   {SYS_setgid, 0, 0x1},     {SYS_setreuid, 0x3, 0},
    {SYS_setregid, 0, 0x3}, {SYS_setresuid, 0x7, 0},  {SYS_setresgid, 0, 0x7},
#ifdef SYS_chown
    {SYS_chown, 0x2, 0x4},  {SYS_lchown, 0x2, 0x4},
#endif
    {SYS_fchown, 0x2, 0x4}, {SYS_fchownat, 0x4, 0x8},
};

static const UvaSeccompNrs native_nrs = {
    .denied = denied,
    .n_denied = G_N_ELEMENTS(denied),
    .clone3 = SYS_clone3,
    .personality = SYS_personality,
    .unshare = SYS_unshare,
    .clone = SYS_clone,
    .id_calls = id_calls,
    .n_id_calls = G_N_ELEMENTS(id_calls),
};

/* personality(2) values Docker's default profile allows: PER_LINUX (0),
 * PER_LINUX32 (0x8, what `setarch i386`/linux32 asks for), UNAME26
 * (0x20000), both together, and 0xffffffff, which only queries.  The rest
 * are flags (linux/personality.h) such as ADDR_NO_RANDOMIZE (0x0040000),
 * which turns address space randomisation off for what the app executes
 * next, READ_IMPLIES_EXEC (0x0400000), which makes readable memory
 * executable, and MMAP_PAGE_ZERO: nothing a web app needs, and each undoes
 * an exploit mitigation. */
static const unsigned personality_allowed[] = {0x0, 0x8, 0x20000, 0x20008,
                                               0xffffffff};

/* The manager's allow-list starts here: another architecture's numbers
 * mean other calls, so they are refused; on x86_64, x32 calls
 * (nr | 0x40000000) too: the manager never makes them.  (The app's filter
 * serves i386 and x32 instead: uva_seccomp_app_filter.)  Leaves the
 * syscall number loaded.  Returns the new length. */
static unsigned prologue(struct sock_filter *prog) {
  unsigned n = 0;
  prog[n++] = (struct sock_filter)LOAD_ARCH;
  prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                           UVA_AUDIT_ARCH, 1, 0);
  prog[n++] = (struct sock_filter)DENY_EPERM;
  prog[n++] = (struct sock_filter)LOAD_NR;
#ifdef __x86_64__
  prog[n++] =
      (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1);
  prog[n++] = (struct sock_filter)DENY_EPERM;
#endif
  return n;
}

/* EPERM if argument arg (its low 32 bits: the flags sit there on these
 * little-endian machines) has any of flags set, else allow.  Four
 * instructions, so the jumps that lead here can count on it. */
static unsigned deny_if_flags(struct sock_filter *prog, int arg,
                              unsigned flags) {
  prog[0] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                         offsetof(struct seccomp_data, args) +
                                             (unsigned)arg * sizeof(__u64));
  prog[1] =
      (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, flags, 0, 1);
  prog[2] = (struct sock_filter)DENY_EPERM;
  prog[3] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
  return 4;
}

/* EPERM unless argument arg's low 32 bits are one of values[], else allow.
 * 3 + n_values instructions. */
static unsigned allow_only_values(struct sock_filter *prog, int arg,
                                  const unsigned *values, size_t n_values) {
  unsigned n = 0;
  prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                           offsetof(struct seccomp_data, args) +
                                               (unsigned)arg * sizeof(__u64));
  /* Value i jumps over the n_values - 1 - i tests after it and the deny. */
  for (size_t i = 0; i < n_values; i++)
    prog[n++] = (struct sock_filter)BPF_JUMP(
        BPF_JMP | BPF_JEQ | BPF_K, values[i], (unsigned char)(n_values - i), 0);
  prog[n++] = (struct sock_filter)DENY_EPERM;
  prog[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
  return n;
}

/* For one id call, the number in the accumulator: if it is call->nr, EPERM
 * unless every id argument is uid (gid) or (id_t)-1, which means "leave it"
 * (setreuid(2), chown(2)), else allow; if not, on to what follows.  Only
 * the low 32 bits are compared: the kernel takes a uid_t, so that is all
 * that acts.  With a single id mapped, the kernel answers EINVAL for any
 * other (make_kuid() finds no mapping: __sys_setuid() in kernel/sys.c,
 * chown_common() in fs/open.c), where the host says EPERM, and programs
 * that try and carry on expect EPERM: CPython's subprocess(user=...) test,
 * cp -p.  Only calls that would fail anyway are answered early: the own
 * id and -1 go to the kernel as before.  Returns the length. */
static unsigned own_ids_only(struct sock_filter *prog,
                             const UvaSeccompIdCall *call, unsigned uid,
                             unsigned gid) {
  unsigned n = 0, args = 0;
  for (int i = 0; i < 6; i++)
    args += ((call->uid_args | call->gid_args) >> i) & 1u;
  prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, call->nr,
                                           0, (unsigned char)(4 * args + 1));
  for (int i = 0; i < 6; i++) {
    if (!(((call->uid_args | call->gid_args) >> i) & 1u))
      continue;
    prog[n++] = (struct sock_filter)BPF_STMT(
        BPF_LD | BPF_W | BPF_ABS,
        offsetof(struct seccomp_data, args) + (unsigned)i * sizeof(__u64));
    prog[n++] = (struct sock_filter)BPF_JUMP(
        BPF_JMP | BPF_JEQ | BPF_K, (call->uid_args >> i) & 1u ? uid : gid, 2,
        0);
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                             0xffffffff, 1, 0);
    prog[n++] = (struct sock_filter)DENY_EPERM;
  }
  prog[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
  return n;
}

/* The deny-list for one architecture's numbers, the syscall number in the
 * accumulator.  Every path returns.  Returns the length. */
static unsigned deny_list(struct sock_filter *prog, const UvaSeccompNrs *nrs,
                          gboolean bypass, int own_ids, unsigned uid,
                          unsigned gid) {
  unsigned n = 0;
  for (unsigned i = 0; bypass && i < nrs->n_bypass_denied; i++) {
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                             nrs->bypass_denied[i], 0, 1);
    prog[n++] = (struct sock_filter)DENY_EPERM;
  }
  for (unsigned i = 0; own_ids && i < nrs->n_id_calls; i++)
    n += own_ids_only(prog + n, &nrs->id_calls[i], uid, gid);
  for (unsigned i = 0; i < nrs->n_denied; i++) {
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                             nrs->denied[i], 0, 1);
    prog[n++] = (struct sock_filter)DENY_EPERM;
  }
  prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                           nrs->clone3, 0, 1);
  prog[n++] = (struct sock_filter)RET(SECCOMP_RET_ERRNO | ENOSYS);
  /* personality(persona): the kernel takes an unsigned int
   * (SYSCALL_DEFINE1(personality, unsigned int, personality) in
   * kernel/exec_domain.c), so only the low 32 bits of the register act, and
   * only they are compared, at args[0]'s own offset on these little-endian
   * machines.  libseccomp, behind Docker's profile, compares all 64 bits
   * (its issue #383): that refuses a permitted value with stale high bits
   * in the register, but a narrower compare is no weaker, because what is
   * allowed is exactly what the kernel will do.  The opposite mistake is
   * the dangerous one: a deny-list compare of 64 bits lets
   * (1 << 32 | READ_IMPLIES_EXEC) through while the kernel acts on the low
   * half (CVE-2019-10063, TIOCSTI in flatpak). */
  const unsigned persona_len = 3 + (unsigned)G_N_ELEMENTS(personality_allowed);
  prog[n++] =
      (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nrs->personality,
                                   0, (unsigned char)persona_len);
  n += allow_only_values(prog + n, 0, personality_allowed,
                         G_N_ELEMENTS(personality_allowed));
  /* unshare(flags) and clone(flags, ...): flags is the first argument on
   * every architecture here (i386's clone is CLONE_BACKWARDS: flags
   * first too); CLONE_NEWUSER is in its low 32 bits, which on these
   * little-endian machines sit at args[0]'s own offset. */
  prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                           nrs->unshare, 1, 0);
  prog[n++] =
      (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nrs->clone, 0, 3);
  n += deny_if_flags(prog + n, 0, CLONE_NEWUSER);
  return n;
}

/* Under bypass (unotify.c), with the native syscall number in the
 * accumulator: the calls that could make a host-namespace socket reach
 * anything.  Every path out of a matching block returns, a skipped block
 * leaves the number loaded.
 *
 *  - bind() and connect() go to the container's init
 *    (SECCOMP_RET_USER_NOTIF): it decides on the very file behind the fd
 *    (pidfd_getfd) and performs the connect itself, so no decision is ever
 * re-checked by the kernel on another file (what
 * SECCOMP_USER_NOTIF_FLAG_CONTINUE would do).
 *  - MSG_FASTOPEN on sendto/sendmsg/sendmmsg connects as it sends
 *    (tcp_sendmsg_fastopen calls __inet_stream_connect): refused here,
 *    for every socket, since the flags are a register the filter reads
 *    and no memory another thread can change.  The flags of sendmsg and
 *    sendmmsg are the syscall's own argument: the msg_flags field of a
 *    msghdr is ignored on send (___sys_sendmsg overwrites it).
 *  - TCP_FASTOPEN_CONNECT (setsockopt level IPPROTO_TCP) defers connect()'s
 *    SYN to the first write; connect() itself is still served above, so
 *    this is a second wall, refused the same way.
 *  - x32 calls: their sendmsg and sendmmsg have numbers of their own (518,
 *    538), which the masked native list would not see, so none is let
 *    through under bypass. */
static unsigned bypass_rules(struct sock_filter *prog) {
  unsigned n = 0;
#define NOTSUPP RET(SECCOMP_RET_ERRNO | EOPNOTSUPP)
#ifdef __x86_64__
  prog[n++] =
      (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1);
  prog[n++] = (struct sock_filter)DENY_EPERM;
#endif
  const unsigned notified[] = {SYS_bind, SYS_connect};
  for (size_t i = 0; i < G_N_ELEMENTS(notified); i++) {
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                             notified[i], 0, 1);
    prog[n++] = (struct sock_filter)RET(SECCOMP_RET_USER_NOTIF);
  }
  const struct {
    unsigned nr, flags_arg;
  } sends[] = {{SYS_sendto, 3}, {SYS_sendmsg, 2}, {SYS_sendmmsg, 3}};
  for (size_t i = 0; i < G_N_ELEMENTS(sends); i++) {
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                             sends[i].nr, 0, 4);
    prog[n++] = (struct sock_filter)LOAD_ARG_LO(sends[i].flags_arg);
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K,
                                             MSG_FASTOPEN, 0, 1);
    prog[n++] = (struct sock_filter)NOTSUPP;
    prog[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
  }
  prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                           SYS_setsockopt, 0, 6);
  prog[n++] = (struct sock_filter)LOAD_ARG_LO(1);
  prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                           IPPROTO_TCP, 0, 3);
  prog[n++] = (struct sock_filter)LOAD_ARG_LO(2);
  prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                           TCP_FASTOPEN_CONNECT, 0, 1);
  prog[n++] = (struct sock_filter)NOTSUPP;
  prog[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
#undef NOTSUPP
  return n;
}

/* The app's filter: the native list, and on x86_64 the same list for the
 * two other ABIs the kernel runs there, so that their programs work as on
 * the host instead of getting EPERM from every call (a 32-bit program
 * whose write and exit both fail spins or hangs):
 *
 *  - x32 calls arrive as AUDIT_ARCH_X86_64 with __X32_SYSCALL_BIT
 *    (0x40000000) set in the number.  Below 512 an x32 number means the
 *    native call of that number or nothing (syscall_64.tbl: "common"
 *    entries serve both, "64" ones are missing from x32), so the bit is
 *    masked off and the native list applies, plus x32's kexec_load (528).
 *    A number with other high bits matches nothing and the kernel answers
 *    ENOSYS (do_syscall_x64/do_syscall_x32 in arch/x86/entry/common.c).
 *  - i386 programs (and `int 0x80` from any program) arrive as
 *    AUDIT_ARCH_I386 with the ia32 numbers (seccomp32.c).
 * Any other architecture gets EPERM. */
unsigned uva_seccomp_app_program(struct sock_filter *prog, gboolean bypass,
                                 int own_ids, unsigned uid, unsigned gid) {
  unsigned n = 0;
  prog[n++] = (struct sock_filter)LOAD_ARCH;
#ifdef __x86_64__
  prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                           AUDIT_ARCH_I386, 0, 1);
  const unsigned to_i386 = n;
  prog[n++] = (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, 0); /* below */
#endif
  prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                           UVA_AUDIT_ARCH, 1, 0);
  prog[n++] = (struct sock_filter)DENY_EPERM;
  prog[n++] = (struct sock_filter)LOAD_NR;
  if (bypass)
    n += bypass_rules(prog + n);
#ifdef __x86_64__
  prog[n++] =
      (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, ~0x40000000u);
#endif
  n += deny_list(prog + n, &native_nrs, bypass, own_ids, uid, gid);
#ifdef __x86_64__
  prog[to_i386].k = n - (to_i386 + 1);
  prog[n++] = (struct sock_filter)LOAD_NR;
  n += deny_list(prog + n, &uva_seccomp_i386_nrs, bypass, own_ids, uid, gid);
#endif
  g_assert(n <= UVA_SECCOMP_APP_PROG_MAX);
  return n;
}

static int app_filter(gboolean bypass, int own_ids) {
  struct sock_filter prog[UVA_SECCOMP_APP_PROG_MAX];
  unsigned n = uva_seccomp_app_program(prog, bypass, own_ids,
                                       (unsigned)getuid(), (unsigned)getgid());

  struct sock_fprog fprog = {.len = (unsigned short)n, .filter = prog};
  if (!bypass)
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0);
  /* NEW_LISTENER returns the notification fd (close-on-exec).
   * WAIT_KILLABLE_RECV (Linux 5.19): once init has read a notification,
   * only a fatal signal ends the wait.  Without it a signal would
   * interrupt a connect() init is performing and the
   * restarted call would start a second one (seccomp_unotify(2)). */
  return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                      SECCOMP_FILTER_FLAG_NEW_LISTENER |
                          SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
                      &fprog);
}

int uva_seccomp_app_filter(int own_ids) { return app_filter(FALSE, own_ids); }

int uva_seccomp_app_filter_bypass(int own_ids) {
  return app_filter(TRUE, own_ids);
}

/* The manager after start-up: it only moves bytes between sockets, pipes
 * and the taps, runs libslirp (which opens outbound sockets for the
 * containers), prints lines, signals and reaps its inits.  In the spirit of
 * passt's isolation, everything else fails with EPERM: no execve, no
 * ptrace or process_vm_*, no mount, no clone, no bind or listen (every
 * published port is bound before; libslirp binds nothing for outbound
 * flows, and listen() on an unbound socket would autobind a port past
 * Landlock's bind rule), no socketpair (the sync sockets exist already),
 * and no open(at) that could write or create a file.  Read-only openat
 * stays: libslirp's DNS forwarder (10.0.2.3) reads the host's
 * /etc/resolv.conf at the first query and again when the file changes;
 * which files it may read is Landlock's business (confine.c).  EPERM
 * rather than a kill: an unforeseen call in a rare path (say, GLib loading
 * an iconv module to print a warning) fails softly instead of killing
 * every container.  Calls with argument filters (socket, ioctl, kill,
 * tgkill, openat) follow the list. */
static const int manager_allowed[] = {
    /* memory, time, identity, exit */
    SYS_brk,
    SYS_mmap,
    SYS_munmap,
    SYS_mremap,
    SYS_mprotect,
    SYS_madvise,
    SYS_futex,
    SYS_clock_gettime,
    SYS_clock_getres,
    SYS_gettimeofday,
    SYS_clock_nanosleep,
    SYS_nanosleep,
    SYS_sched_yield,
    SYS_getpid,
    SYS_gettid,
    SYS_getrandom,
    SYS_restart_syscall,
    SYS_exit,
    SYS_exit_group,
    SYS_rt_sigreturn,
    SYS_rt_sigprocmask,
/* the loop */
#ifdef SYS_poll
    SYS_poll,
#endif
    SYS_ppoll,
    SYS_epoll_wait,
    SYS_epoll_pwait,
    SYS_epoll_ctl,
    /* fds and bytes */
    SYS_read,
    SYS_write,
    SYS_readv,
    SYS_writev,
    SYS_close,
    SYS_fcntl,
    SYS_fstat,
    SYS_newfstatat,
    SYS_lseek,
    SYS_pipe2,
    SYS_splice,
    SYS_tee, /* a foreground run's output into the caller's pipe and the
                log (teeout.c) */
/* -d: /dev/null (opened before) over the caller's stdio once every
 * container is ready (supervisor.c); a copy of an fd reaches nothing
 * the fd did not */
#ifdef SYS_dup2
    SYS_dup2,
#endif
    SYS_dup3,
    /* the two log files of each container take turns (logfile.c); which
     * files: only those opened before, as Landlock denies truncating
     * anything opened after (LANDLOCK_ACCESS_FS_TRUNCATE) */
    SYS_ftruncate,
    SYS_pwrite64, /* at the log's own offset: no O_APPEND, which splice
                     refuses */
    /* sockets that exist or that socket() below may make: forwarding,
     * probes, libslirp's outbound connections */
    SYS_connect,
    SYS_accept,
    SYS_accept4,
    SYS_shutdown,
    SYS_sendto,
    SYS_recvfrom,
    SYS_sendmsg,
    SYS_recvmsg,
    SYS_sendmmsg,
    SYS_recvmmsg,
    SYS_setsockopt,
    SYS_getsockopt,
    SYS_getsockname,
    SYS_getpeername,
    /* reaping the containers */
    SYS_wait4,
    SYS_waitid,
};

/* The ioctl requests the manager makes after start-up, found with
 * `strace -e trace=ioctl -p MANAGER` over TCP and UDP forwarding on both
 * families, libslirp's DNS forwarder and outbound flows, both port
 * drivers: FIONREAD only (libslirp sizes a UDP or ICMP datagram before
 * recvfrom).  TCGETS is glibc's isatty(), which stdio calls when it first
 * buffers a stream that may be a terminal (the app's output goes to our
 * stdout only after start-up), and which reads, never writes, the tty.
 * `run -t` adds the window size (TIOCGWINSZ on the caller's terminal,
 * TIOCSWINSZ on the pty master, at SIGWINCH) and TCSETSW, which puts the
 * caller's terminal mode back at the end: each sets a mode or a size and
 * none can feed input to a terminal.  Everything else, TIOCSTI above all
 * (it pushes keystrokes into the terminal the manager shares with the
 * user's shell, CVE-2017-5226), gets EPERM. */
static const unsigned manager_ioctls[] = {FIONREAD, TCGETS, TIOCGWINSZ,
                                          TIOCSWINSZ, TCSETSW};

/* A block for syscall nr whose argument arg (low 32 bits) must be one of
 * values[]: "if nr: load arg; each match allows; else EPERM".  Every path
 * through the body returns, so a skipped block leaves the syscall number in
 * the accumulator for the next one.  Why the low 32 bits only: the kernel
 * declares these arguments int or unsigned int (socket's domain, kill's
 * pid, ioctl's request: SYSCALL_DEFINE3(ioctl, unsigned int fd, unsigned
 * int cmd, ...)) and truncates the 64-bit register to them.  A filter that
 * compared 64 bits could be passed TIOCSTI | 1UL << 32 and, if it listed
 * TIOCSTI as denied, let through what the kernel then runs as TIOCSTI
 * (CVE-2019-10063, bubblewrap).  Comparing exactly the 32 bits the kernel
 * uses checks what will run, whatever the upper half holds; a request
 * whose bit 31 is set and that went through an int would also have its
 * upper half sign-filled, another reason not to compare it.  A
 * conditional jump reaches at most 255 instructions ahead, so the block is
 * skipped with BPF_JA, whose offset is 32 bits: a block may list as many
 * values as the program has room for (hundreds of inits to signal). */
static unsigned arg_in(struct sock_filter *prog, unsigned nr, unsigned arg,
                       const unsigned *values, unsigned n_values) {
  unsigned body = 1 + 2 * n_values + 1;
  unsigned n = 0;
  prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 1, 0);
  prog[n++] = (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, body);
  prog[n++] = (struct sock_filter)LOAD_ARG_LO(arg);
  for (unsigned i = 0; i < n_values; i++) {
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                             values[i], 0, 1);
    prog[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
  }
  prog[n++] = (struct sock_filter)DENY_EPERM;
  return n;
}

int uva_seccomp_manager_filter(const pid_t *may_signal, unsigned n_signal,
                               const int *may_listen, unsigned n_listen) {
  /* Each init is two more instructions in kill's block (BPF_MAXINSNS is
   * 4096). */
  if (n_signal > UVA_SECCOMP_MAX_SIGNALLED ||
      n_listen > UVA_SECCOMP_MAX_LISTENING) {
    errno = E2BIG;
    return -1;
  }
  struct sock_filter prog[2 * G_N_ELEMENTS(manager_allowed) +
                          2 * UVA_SECCOMP_MAX_SIGNALLED +
                          2 * UVA_SECCOMP_MAX_LISTENING + 64];
  unsigned n = prologue(prog);
  for (size_t i = 0; i < G_N_ELEMENTS(manager_allowed); i++) {
    prog[n++] = (struct sock_filter)BPF_JUMP(
        BPF_JMP | BPF_JEQ | BPF_K, (unsigned)manager_allowed[i], 0, 1);
    prog[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
  }

  /* socket(domain, ...): Internet sockets only.  No AF_UNIX (ssh-agent,
   * the session bus, the user's systemd), no AF_NETLINK (routes,
   * addresses, audit), no AF_PACKET.  The control connections of later
   * versions come in through accept() on a socket made before. */
  const unsigned families[] = {AF_INET, AF_INET6};
  n += arg_in(prog + n, SYS_socket, 0, families, G_N_ELEMENTS(families));
  n += arg_in(prog + n, SYS_ioctl, 1, manager_ioctls,
              G_N_ELEMENTS(manager_ioctls));
  /* kill(pid, sig): the manager itself and its inits, which it stops with
   * SIGTERM and SIGKILL; no other process of the user, no process group
   * (pid 0 or negative), not -1 (everything the user owns).  An init's pid
   * cannot be reused while the manager has not reaped it, and the manager
   * signals only unreaped inits.  tgkill(tgid, ...) only within the
   * manager: glibc's raise() and abort() use it.  tkill is not allowed. */
  unsigned targets[UVA_SECCOMP_MAX_SIGNALLED + 1];
  unsigned n_targets = 0;
  targets[n_targets++] = (unsigned)getpid();
  for (unsigned i = 0; i < n_signal; i++)
    targets[n_targets++] = (unsigned)may_signal[i];
  n += arg_in(prog + n, SYS_kill, 0, targets, n_targets);
  n += arg_in(prog + n, SYS_tgkill, 0, targets, 1);
  /* listen(fd, ...) on the published TCP ports only, which were bound
   * before and listen once their app does (fwd.c): listen() on a socket
   * never bound would autobind an ephemeral port past Landlock's bind
   * rule.  The check is on fd numbers: code that took over the manager
   * could put another socket at one of them, and its listen() would then
   * autobind that one ephemeral port of loopback's or any address's,
   * where nothing but that code would accept.  No listen at all when
   * every port listens already. */
  if (n_listen) {
    unsigned fds[UVA_SECCOMP_MAX_LISTENING];
    for (unsigned i = 0; i < n_listen; i++)
      fds[i] = (unsigned)may_listen[i];
    n += arg_in(prog + n, SYS_listen, 0, fds, n_listen);
  }
  /* openat(dirfd, path, flags, mode): allowed when flags (args[2], low 32
   * bits) ask for reading only, and only from the cwd or by absolute path
   * (dirfd AT_FDCWD): no directory fd the manager keeps (the flock on each
   * container's /tmp) is a way back into the filesystem, also where
   * Landlock is missing and the fd predates the manager's empty root. */
  const unsigned write_flags = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC |
                               O_APPEND | O_PATH | (O_TMPFILE & ~O_DIRECTORY);
  prog[n++] = (struct sock_filter)LOAD_NR;
  prog[n++] =
      (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 7);
  prog[n++] = (struct sock_filter)LOAD_ARG_LO(0);
  prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                           (unsigned)AT_FDCWD, 1, 0);
  prog[n++] = (struct sock_filter)DENY_EPERM;
  n += deny_if_flags(prog + n, 2, write_flags);
  prog[n++] = (struct sock_filter)DENY_EPERM;
  g_assert(n <= G_N_ELEMENTS(prog));
  struct sock_fprog fprog = {.len = (unsigned short)n, .filter = prog};
  /* no_new_privs first: what lets an unprivileged process install it. */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return -1;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0);
}
