/* cliexec.c - `uva_container exec`, the caller's side.  It makes a socket
 * pair, writes the request into its end (command, environment, working
 * directory, and its own stdin, stdout and stderr as SCM_RIGHTS fds) and
 * hands the other end to the container's manager, which checks our uid and
 * passes it to the container's init; the helper init forks there reads the
 * request and answers on the same socket (execin.c).  So the command
 * writes straight to our stdout, byte for byte, and the manager's loop
 * carries none of it.  Our signals are passed on; its status comes back.
 *
 * What the container writes is hostile.  With -t, its bytes reach our
 * stdout and nothing else, and our terminal's mode is ours to restore;
 * a process it leaves writing on the pty after the command ended (one
 * that ignores the hangup) holds us at most DRAIN_MS.  Without -t the
 * command holds our own descriptors, a terminal among them maybe: what
 * it can change there without being its controlling process (mode, size,
 * exclusive mode: tty_ioctl(4)) is put back when it ends.  TIOCSTI it
 * cannot use: it runs in a session of its own (execin.c). */
#include "cli.h"

#include "ctl.h"
#include "spec.h"
#include "term.h"
#include "util.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>

#define MANAGER_WAIT_MS 5000
/* After the command's status: what it wrote last is still in the pty. */
#define DRAIN_MS 1000
#define DRAIN_QUIET_MS 200

static GString *request_payload(char **command, char **env, const char *cwd) {
  GString *p = g_string_new(NULL);
  g_string_append_printf(p, "%u", g_strv_length(command));
  g_string_append_c(p, '\0');
  g_string_append(p, cwd ? cwd : "");
  g_string_append_c(p, '\0');
  for (char **a = command; *a; a++) {
    g_string_append(p, *a);
    g_string_append_c(p, '\0');
  }
  for (char **e = env; e && *e; e++) {
    g_string_append(p, *e);
    g_string_append_c(p, '\0');
  }
  return p;
}

/* Copies what is there from in to out; FALSE at EOF or an error of in. */
static gboolean pump(int in, int out) {
  char buf[16384];
  ssize_t n = read(in, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return TRUE;
  if (n <= 0)
    return FALSE;
  return uva_write_all(out, buf, (size_t)n, NULL);
}

static int serve(int sock, gboolean tty, gboolean interactive,
                 const char *cmd) {
  sigset_t set;
  sigemptyset(&set);
  int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
  for (size_t i = 0; i < G_N_ELEMENTS(sigs); i++)
    sigaddset(&set, sigs[i]);
  sigprocmask(SIG_BLOCK, &set, NULL);
  uva_autofd sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  uva_autofd master = -1;
  struct termios saved;
  gboolean raw = FALSE, in_open = interactive && tty;
  int status = -1;
  while (status < 0) {
    struct pollfd p[4] = {{sock, POLLIN, 0},
                          {sfd, POLLIN, 0},
                          {master, POLLIN, 0},
                          {in_open && master >= 0 ? 0 : -1, POLLIN, 0}};
    if (poll(p, 4, -1) < 0 && errno != EINTR)
      break;
    if (p[1].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGWINCH) {
          if (master >= 0)
            uva_term_copy_size(1, master);
          continue;
        }
        UvaCtlHead h = {.type = UVA_CTL_EXEC_SIGNAL,
                        .value = (int32_t)si.ssi_signo};
        (void)uva_ctl_send(sock, &h, NULL, 0, NULL, 0, NULL);
      }
    }
    if (p[2].revents && !pump(master, 1))
      uva_close_fdp(&master), master = -1; /* EIO: the command is gone */
    if (p[3].revents && !pump(0, master))
      in_open = FALSE;
    if (!p[0].revents)
      continue;
    UvaCtlHead h;
    g_autofree char *text = NULL;
    int fds[3];
    gboolean eof;
    g_autoptr(GError) error = NULL;
    if (!uva_ctl_recv(sock, &h, &text, fds, &eof, &error)) {
      if (!eof && !error)
        continue;
      fprintf(stderr,
              "uva_container: exec: the container ended before %s "
              "did\n",
              cmd);
      status = 137;
      break;
    }
    if (h.type == UVA_CTL_EXEC_PTY && fds[0] >= 0 && master < 0) {
      master = uva_steal_fd(&fds[0]);
      if (interactive && isatty(0))
        raw = uva_term_raw(0, &saved);
    } else if (h.type == UVA_CTL_EXEC_EXIT) {
      if (text && *text)
        fprintf(stderr, "uva_container: exec: %s\n", text);
      status = h.value;
    } else if (h.type == UVA_CTL_ERR) {
      fprintf(stderr, "uva_container: exec: %s\n", text);
      status = 126;
    }
    for (int i = 0; i < 3; i++)
      uva_close_fdp(&fds[i]);
  }
  /* What the command wrote last is still in the pty: read until EIO (no
   * writer left), a quiet DRAIN_QUIET_MS, or DRAIN_MS at most, since a
   * process of the container that ignores the hangup may write on for
   * ever. */
  gint64 drain_end = g_get_monotonic_time() + DRAIN_MS * 1000;
  while (master >= 0 && g_get_monotonic_time() < drain_end) {
    struct pollfd p = {master, POLLIN, 0};
    if (poll(&p, 1, DRAIN_QUIET_MS) <= 0 || !pump(master, 1))
      break;
  }
  if (raw)
    uva_term_restore(0, &saved);
  return status < 0 ? 1 : status;
}

int uva_cli_exec(const char *state_dir, int argc, char **argv, GError **error) {
  gboolean interactive = FALSE, tty = FALSE;
  g_auto(GStrv) env = NULL, rest = NULL;
  g_autofree char *cwd = NULL;
  GOptionEntry entries[] = {
      {"interactive", 'i', 0, G_OPTION_ARG_NONE, &interactive,
       "Give COMMAND this stdin (default: /dev/null)", NULL},
      {"tty", 't', 0, G_OPTION_ARG_NONE, &tty,
       "Give COMMAND a pseudo-terminal inside the container", NULL},
      {"env", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &env,
       "Set an environment variable for COMMAND", "NAME=VALUE"},
      {"workdir", 'w', 0, G_OPTION_ARG_STRING, &cwd,
       "Directory inside the container to run COMMAND in (default: /app)",
       "DIR"},
      {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, NULL},
      G_OPTION_ENTRY_NULL};
  g_autoptr(GOptionContext) ctx = g_option_context_new(
      "NAME [--] COMMAND [ARG...] - run COMMAND in a running container");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_option_context_set_strict_posix(ctx, TRUE);
  if (!g_option_context_parse(ctx, &argc, &argv, error)) {
    g_prefix_error(error, "exec: ");
    return 2;
  }
  char **cmd = rest && rest[0] ? rest + 1 : NULL;
  if (cmd && cmd[0] && g_str_equal(cmd[0], "--"))
    cmd++;
  if (!cmd || !cmd[0]) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "exec: expected NAME and COMMAND (uva_container exec NAME -- "
                "COMMAND...)");
    return 2;
  }
  for (char **e = env; e && *e; e++)
    if (!uva_env_valid(*e, error)) {
      g_prefix_error(error, "exec: -e: ");
      return 2;
    }
  if (cwd && cwd[0] != '/') {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "exec: -w %s: not an absolute path inside the container", cwd);
    return 2;
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    uva_fail_errno(error, errno, "exec: socketpair");
    return 1;
  }
  uva_autofd mine = sv[0];
  uva_autofd theirs = sv[1];
  g_autoptr(GString) payload = request_payload(cmd, env, cwd);
  UvaCtlHead req = {.type = UVA_CTL_EXEC_REQ};
  if (tty) {
    unsigned short rows = 0, cols = 0;
    uva_term_size(isatty(1) ? 1 : 0, &rows, &cols);
    req.flags |= UVA_CTL_EXEC_TTY;
    req.value = (int32_t)(((guint32)rows << 16) | cols);
  }
  if (interactive)
    req.flags |= UVA_CTL_EXEC_STDIN;
  int stdio[3] = {0, 1, 2};
  const int *fds = tty ? NULL : interactive ? stdio : stdio + 1;
  guint n_fds = tty ? 0 : interactive ? 3 : 2;
  if (!uva_ctl_send(mine, &req, payload->str, payload->len, fds, n_fds,
                    error)) {
    g_prefix_error(error, "exec: ");
    return 1;
  }
  uva_autofd ctl = uva_ctl_connect(state_dir, rest[0], error);
  if (ctl < 0)
    return 1;
  UvaCtlHead ex = {.type = UVA_CTL_EXEC};
  g_strlcpy(ex.name, rest[0], sizeof ex.name);
  if (!uva_ctl_call(ctl, &ex, NULL, 0, (int[]){theirs}, 1, MANAGER_WAIT_MS,
                    NULL, error)) {
    g_prefix_error(error, "exec: ");
    return 1;
  }
  uva_close_fdp(&theirs);
  theirs = -1;
  uva_close_fdp(&ctl);
  ctl = -1;
  /* Without -t the command gets our descriptors; a terminal among them
   * gets its state back when it is done (see the top). */
  UvaTermState held[3];
  for (int i = 0; i < 3; i++)
    uva_term_save(i, &held[i]);
  int status = serve(mine, tty, interactive, cmd[0]);
  for (int i = 0; i < 3; i++)
    uva_term_put_back(i, &held[i]);
  return status;
}
