/* execfmt.h - what an execve(2) refused with ENOEXEC named, and whether
 * this kernel runs 32-bit x86 programs (i386, x32). */
#pragma once

#include <glib.h>

typedef enum {
  UVA_EXECFMT_OTHER, /* not ELF, or an ELF this module does not name */
  UVA_EXECFMT_I386,  /* ELFCLASS32, EM_386 */
  UVA_EXECFMT_X32,   /* ELFCLASS32, EM_X86_64 */
} UvaExecFmt;

typedef enum {
  UVA_EXEC_CAN_UNKNOWN,
  UVA_EXEC_CAN_YES,
  UVA_EXEC_CAN_NO,
} UvaExecCan;

/* Codes beside errno values, passed from a failed exec child to its
 * parent over a status pipe: ENOEXEC for a program of a kind this kernel
 * cannot run.  Above every errno. */
#define UVA_EXEC_ERR_NO_I386 0x10001
#define UVA_EXEC_ERR_NO_X32 0x10002

/* The kind of program the file open at fd holds (reads its ELF header). */
UvaExecFmt uva_execfmt_classify(int fd);
/* err, the errno execve(path) failed with; for ENOEXEC on an i386 or x32
 * program that this kernel cannot run (it asks: a fork and an exec for
 * i386), UVA_EXEC_ERR_NO_I386 or UVA_EXEC_ERR_NO_X32 instead.  Only in a
 * child about to report a failed exec. */
int uva_execfmt_exec_error(const char *path, int err);
/* The text for such a code (g_strerror for a plain errno). */
const char *uva_execfmt_strerror(int code);
/* The errno behind a code (ENOEXEC for the two of this module). */
int uva_execfmt_errno(int code);

/* Whether this kernel runs an i386 program: executes a tiny one from a
 * memfd in a child.  Never on the manager's loop (it forks and waits). */
UvaExecCan uva_execfmt_can_run_i386(void);
/* Whether this kernel serves x32 system calls. */
UvaExecCan uva_execfmt_can_run_x32(void);
