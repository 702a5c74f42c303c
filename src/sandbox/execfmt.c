/* execfmt.c - which kind of program an execve(2) refused with ENOEXEC
 * named, and whether this kernel runs 32-bit x86 programs at all.
 *
 * An x86_64 kernel runs i386 programs only when it was built with
 * CONFIG_IA32_EMULATION (and, since 6.7, not booted with
 * ia32_emulation=0), and x32 programs only with CONFIG_X86_X32_ABI.
 * Without them execve answers ENOEXEC, "Exec format error", which says
 * nothing of why: the ELF loader (fs/binfmt_elf.c, elf_check_arch) simply
 * finds no handler.  The file's own header tells what it is, so the line
 * the user sees can say that it is the kernel, not the file, that is
 * missing something.  `uva_container check` asks the kernel directly by
 * executing a 93-byte i386 program from a memfd. */
#include "sandbox/execfmt.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

UvaExecFmt uva_execfmt_classify(int fd) {
  Elf32_Ehdr h;
  if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
      memcmp(h.e_ident, ELFMAG, SELFMAG) != 0)
    return UVA_EXECFMT_OTHER;
  /* e_machine sits at the same offset in both classes. */
  if (h.e_ident[EI_CLASS] == ELFCLASS32 && h.e_machine == EM_386)
    return UVA_EXECFMT_I386;
  if (h.e_ident[EI_CLASS] == ELFCLASS32 && h.e_machine == EM_X86_64)
    return UVA_EXECFMT_X32;
  return UVA_EXECFMT_OTHER;
}

int uva_execfmt_exec_error(const char *path, int err) {
  if (err != ENOEXEC)
    return err;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return err;
  UvaExecFmt f = uva_execfmt_classify(fd);
  close(fd);
  /* Blamed on the kernel only when the kernel says so: a damaged i386
   * file is refused with ENOEXEC by a kernel that runs i386 too. */
  if (f == UVA_EXECFMT_I386 && uva_execfmt_can_run_i386() == UVA_EXEC_CAN_NO)
    return UVA_EXEC_ERR_NO_I386;
  if (f == UVA_EXECFMT_X32 && uva_execfmt_can_run_x32() == UVA_EXEC_CAN_NO)
    return UVA_EXEC_ERR_NO_X32;
  return err;
}

const char *uva_execfmt_strerror(int code) {
  switch (code) {
  case UVA_EXEC_ERR_NO_I386:
    return "it is a 32-bit x86 (i386) program, and this kernel cannot run "
           "32-bit programs (it was built without CONFIG_IA32_EMULATION or "
           "booted with ia32_emulation=0; uva_container check tells)";
  case UVA_EXEC_ERR_NO_X32:
    return "it is an x32 program, and this kernel cannot run x32 programs "
           "(it was built without CONFIG_X86_X32_ABI; uva_container check "
           "tells)";
  default:
    return g_strerror(code);
  }
}

int uva_execfmt_errno(int code) {
  return code == UVA_EXEC_ERR_NO_I386 || code == UVA_EXEC_ERR_NO_X32 ? ENOEXEC
                                                                     : code;
}

#ifdef __x86_64__
/* The smallest i386 program: one PT_LOAD of the whole file at 0x08048000,
 * whose code is exit(0) by int 0x80 (eax = 1, ebx = 0). */
#define PROBE_BASE 0x08048000u
static const unsigned char probe_code[] = {
    0xb8, 0x01, 0x00, 0x00, 0x00, /* mov $1, %eax (exit) */
    0x31, 0xdb,                   /* xor %ebx, %ebx */
    0xcd, 0x80,                   /* int $0x80 */
};

typedef struct {
  Elf32_Ehdr eh;
  Elf32_Phdr ph;
  unsigned char code[sizeof probe_code];
} __attribute__((packed)) ProbeImage;

static void probe_image(ProbeImage *p) {
  memset(p, 0, sizeof *p);
  memcpy(p->eh.e_ident, ELFMAG, SELFMAG);
  p->eh.e_ident[EI_CLASS] = ELFCLASS32;
  p->eh.e_ident[EI_DATA] = ELFDATA2LSB;
  p->eh.e_ident[EI_VERSION] = EV_CURRENT;
  p->eh.e_type = ET_EXEC;
  p->eh.e_machine = EM_386;
  p->eh.e_version = EV_CURRENT;
  p->eh.e_entry = PROBE_BASE + (Elf32_Addr)offsetof(ProbeImage, code);
  p->eh.e_phoff = (Elf32_Off)offsetof(ProbeImage, ph);
  p->eh.e_ehsize = sizeof p->eh;
  p->eh.e_phentsize = sizeof p->ph;
  p->eh.e_phnum = 1;
  p->ph.p_type = PT_LOAD;
  p->ph.p_vaddr = p->ph.p_paddr = PROBE_BASE;
  p->ph.p_filesz = p->ph.p_memsz = sizeof *p;
  p->ph.p_flags = PF_R | PF_X;
  p->ph.p_align = 0x1000;
  memcpy(p->code, probe_code, sizeof probe_code);
}

UvaExecCan uva_execfmt_can_run_i386(void) {
  ProbeImage img;
  probe_image(&img);
  int fd = memfd_create("uva-i386-probe", MFD_CLOEXEC);
  if (fd < 0)
    return UVA_EXEC_CAN_UNKNOWN;
  if (write(fd, &img, sizeof img) != (ssize_t)sizeof img) {
    close(fd);
    return UVA_EXEC_CAN_UNKNOWN;
  }
  pid_t pid = fork();
  if (pid == 0) {
    char *argv[] = {"uva-i386-probe", NULL}, *envp[] = {NULL};
    /* An ELF binary, so a close-on-exec memfd is fine (execveat(2): only
     * scripts need the fd after the exec). */
    syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
    _exit(errno == ENOEXEC ? 100 : 101);
  }
  close(fd);
  int st;
  if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
    return UVA_EXEC_CAN_UNKNOWN;
  return WEXITSTATUS(st) == 0     ? UVA_EXEC_CAN_YES
         : WEXITSTATUS(st) == 100 ? UVA_EXEC_CAN_NO
                                  : UVA_EXEC_CAN_UNKNOWN;
}

UvaExecCan uva_execfmt_can_run_x32(void) {
  /* An x32 getpid: x32 numbers are the x86_64 ones with bit 30 set; a
   * kernel without CONFIG_X86_X32_ABI answers ENOSYS
   * (arch/x86/entry/common.c, do_syscall_x32). */
  long r = syscall(0x40000000L | SYS_getpid);
  if (r >= 0)
    return UVA_EXEC_CAN_YES;
  return errno == ENOSYS ? UVA_EXEC_CAN_NO : UVA_EXEC_CAN_UNKNOWN;
}
#else
UvaExecCan uva_execfmt_can_run_i386(void) { return UVA_EXEC_CAN_NO; }
UvaExecCan uva_execfmt_can_run_x32(void) { return UVA_EXEC_CAN_NO; }
#endif
