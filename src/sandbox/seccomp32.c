/* seccomp32.c - the i386 numbers of the app's deny-list (seccomp.c).
 *
 * A file of its own because <asm/unistd_32.h> defines the same __NR_ names
 * as the native <asm/unistd_64.h> with other values: the two cannot meet
 * in one translation unit.  A 64-bit kernel runs 32-bit x86 programs (and
 * `int 0x80` from any program) through its ia32 table, and seccomp shows
 * them with AUDIT_ARCH_I386 and these numbers (seccomp(2), "arch"). */
#include "sandbox/seccomp.h"

#ifdef __x86_64__
#include <asm/unistd_32.h>

/* Like the native list; i386 has no kexec_file_load. */
static const unsigned i386_denied[] = {
    __NR_keyctl,          __NR_add_key,
    __NR_request_key,     __NR_bpf,
    __NR_perf_event_open, __NR_userfaultfd,
    __NR_init_module,     __NR_finit_module,
    __NR_delete_module,   __NR_kexec_load,
    __NR_reboot,          __NR_io_uring_setup,
    __NR_io_uring_enter,  __NR_io_uring_register,
};

/* Under bypass the native bind and connect are served by the manager
 * (bypass.c), which reads the native layout only: i386's socket calls,
 * socketcall(2)'s multiplexer above all, whose arguments sit in memory
 * that a filter cannot read, are refused instead. */
static const unsigned i386_bypass_denied[] = {
    __NR_socketcall, __NR_bind,    __NR_connect,
    __NR_sendto,     __NR_sendmsg, __NR_sendmmsg,
};

/* The 32-bit id calls glibc makes on i386.  The 16-bit originals (setuid,
 * chown ... with old_uid_t) are left to the kernel's EINVAL: no libc of
 * this century calls them. */
static const UvaSeccompIdCall i386_id_calls[] = {
    {__NR_setuid32, 0x1, 0},    {__NR_setgid32, 0, 0x1},
    {__NR_setreuid32, 0x3, 0},  {__NR_setregid32, 0, 0x3},
    {__NR_setresuid32, 0x7, 0}, {__NR_setresgid32, 0, 0x7},
    {__NR_chown32, 0x2, 0x4},   {__NR_lchown32, 0x2, 0x4},
    {__NR_fchown32, 0x2, 0x4},  {__NR_fchownat, 0x4, 0x8},
};

const UvaSeccompNrs uva_seccomp_i386_nrs = {
    .bypass_denied = i386_bypass_denied,
    .n_bypass_denied = sizeof i386_bypass_denied / sizeof i386_bypass_denied[0],
    .denied = i386_denied,
    .n_denied = sizeof i386_denied / sizeof i386_denied[0],
    .clone3 = __NR_clone3,
    .personality = __NR_personality,
    .unshare = __NR_unshare,
    .clone = __NR_clone,
    .id_calls = i386_id_calls,
    .n_id_calls = sizeof i386_id_calls / sizeof i386_id_calls[0],
};
#endif
