/* cliexec.c - `uva_container exec`, the caller's side.  It makes a socket
 * pair, writes the request into its end (command, environment, working
 * directory, and the command's stdin, stdout and stderr as SCM_RIGHTS
 * fds: pipes of ours) and hands the other end to the container's manager,
 * which checks our uid and passes it to the container's init; the helper
 * init forks there reads the request and answers on the same socket
 * (execin.c).  Our signals are passed on; its status comes back.
 *
 * What the container does with what we give it is hostile.  It gets
 * pipes of ours, or a pty of its own with -t, never our own stdin,
 * stdout and stderr: a process of the container holding those could go
 * on writing to our terminal after exec returned, read the keys typed
 * into our shell afterwards (a tty that is not its controlling terminal
 * has no job control to stop it), or change the terminal's mode, size
 * or exclusive mode (tty_ioctl(4)).  We copy, and stop copying when the
 * command has ended: what is still written then, on the pty by a process
 * that ignores the hangup or on a pipe some process kept, holds us at
 * most DRAIN_MS and reaches nothing of ours after.  Byte for byte, and
 * the manager's loop still carries none of it. */
#include "cli/cli.h"

#include "base/term.h"
#include "base/util.h"
#include "ipc/ctl.h"
#include "spec/spec.h"

#include <fcntl.h>
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

/* Our stdin into the command's pipe (exec -i without -t), never
 * blocking the loop: a command that does not read holds the bytes here,
 * and its status and our signals still go through. */
typedef struct {
  int to; /* the pipe, non-blocking; -1 once closed */
  char buf[16384];
  size_t len, off;
} Feed;

static void feed(Feed *f) {
  if (f->off == f->len) {
    ssize_t n = read(0, f->buf, sizeof f->buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      return;
    if (n <= 0) { /* our EOF is the command's */
      uva_close_fdp(&f->to);
      f->to = -1;
      return;
    }
    f->len = (size_t)n;
    f->off = 0;
  }
  ssize_t w = write(f->to, f->buf + f->off, f->len - f->off);
  if (w < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (w < 0) { /* EPIPE: nothing reads it any more */
    uva_close_fdp(&f->to);
    f->to = -1;
    return;
  }
  f->off += (size_t)w;
}

/* The command's output: the pty's master (-t), else the read ends of its
 * stdout and stderr pipes, each to our 1 or 2 through a buffer of its
 * own.  Our side is written without blocking (a description of our own,
 * uva_reopen_nonblock), so that a reader of ours that stops reading holds
 * the command back by the pipe while our loop still passes on signals
 * and the status. */
enum { SRC_PTY, SRC_OUT, SRC_ERR, N_SRC };

typedef struct {
  int from; /* -1 once at EOF (or EIO: no writer left on the pty) */
  int to;   /* not ours to close */
  char buf[65536];
  size_t len, off;
} Copy;

static gboolean copy_busy(const Copy *c) {
  return c->from >= 0 || c->off < c->len;
}

static struct pollfd copy_poll(const Copy *c) {
  if (c->off < c->len)
    return (struct pollfd){c->to, POLLOUT, 0};
  return (struct pollfd){c->from, POLLIN, 0};
}

static void copy_end(Copy *c) {
  uva_close_fdp(&c->from);
  c->from = -1;
}

static void copy_step(Copy *c) {
  if (c->off == c->len && c->from >= 0) {
    ssize_t n = read(c->from, c->buf, sizeof c->buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      return;
    if (n <= 0) {
      copy_end(c);
      return;
    }
    c->len = (size_t)n;
    c->off = 0;
  }
  while (c->off < c->len) {
    ssize_t n = write(c->to, c->buf + c->off, c->len - c->off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return;
    if (n < 0) {
      /* Our stdout is closed (EPIPE): the command's next write fails as
       * it would have on ours. */
      c->off = c->len = 0;
      copy_end(c);
      return;
    }
    c->off += (size_t)n;
  }
}

static int serve(int sock, gboolean tty, gboolean interactive, const char *cmd,
                 int out_r, int err_r, int in_w) {
  sigset_t set;
  sigemptyset(&set);
  int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
  for (size_t i = 0; i < G_N_ELEMENTS(sigs); i++)
    sigaddset(&set, sigs[i]);
  sigprocmask(SIG_BLOCK, &set, NULL);
  /* A closed stdout of ours (exec ... | head -1) is EPIPE, passed on by
   * closing the command's pipe, not our death by SIGPIPE. */
  signal(SIGPIPE, SIG_IGN);
  uva_autofd sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  /* Ours: a non-blocking description of each of our 1 and 2. */
  uva_autofd out_nb = uva_reopen_nonblock(1, O_WRONLY);
  uva_autofd err_nb = uva_reopen_nonblock(2, O_WRONLY);
  static Copy src[N_SRC];
  src[SRC_PTY] = (Copy){.from = -1, .to = out_nb >= 0 ? out_nb : 1};
  src[SRC_OUT] = (Copy){.from = out_r, .to = out_nb >= 0 ? out_nb : 1};
  src[SRC_ERR] = (Copy){.from = err_r, .to = err_nb >= 0 ? err_nb : 2};
  Feed in = {.to = in_w};
  if (in.to >= 0)
    (void)uva_set_nonblock(in.to, TRUE, NULL);
  struct termios saved;
  gboolean raw = FALSE, in_open = interactive && tty;
  int status = -1;
  while (status < 0) {
    int master = src[SRC_PTY].from;
    struct pollfd p[7] = {{sock, POLLIN, 0},
                          {sfd, POLLIN, 0},
                          copy_poll(&src[SRC_PTY]),
                          {in_open && master >= 0 ? 0 : -1, POLLIN, 0},
                          copy_poll(&src[SRC_OUT]),
                          copy_poll(&src[SRC_ERR]),
                          {in.to < 0          ? -1
                           : in.off == in.len ? 0
                                              : in.to,
                           in.off == in.len ? POLLIN : POLLOUT, 0}};
    if (poll(p, 7, -1) < 0 && errno != EINTR)
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
    if (p[2].revents)
      copy_step(&src[SRC_PTY]);
    if (p[3].revents && !pump(0, master))
      in_open = FALSE;
    if (p[4].revents)
      copy_step(&src[SRC_OUT]);
    if (p[5].revents)
      copy_step(&src[SRC_ERR]);
    if (p[6].revents)
      feed(&in);
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
      src[SRC_PTY].from = uva_steal_fd(&fds[0]);
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
  /* What the command wrote last is still in the pty or the pipes: read
   * until EOF or EIO (no writer left), a quiet DRAIN_QUIET_MS, or DRAIN_MS
   * at most, since a process of the container that ignores the hangup, or
   * keeps a copy of the pipe, may write on for ever.  Closed then: its
   * later writes reach nothing of ours. */
  gint64 drain_end = g_get_monotonic_time() + DRAIN_MS * 1000;
  while (g_get_monotonic_time() < drain_end) {
    struct pollfd p[N_SRC];
    gboolean busy = FALSE;
    for (int i = 0; i < N_SRC; i++) {
      busy |= copy_busy(&src[i]);
      p[i] =
          copy_busy(&src[i]) ? copy_poll(&src[i]) : (struct pollfd){-1, 0, 0};
    }
    if (!busy || poll(p, N_SRC, DRAIN_QUIET_MS) <= 0)
      break;
    for (int i = 0; i < N_SRC; i++)
      if (p[i].revents)
        copy_step(&src[i]);
  }
  for (int i = 0; i < N_SRC; i++)
    copy_end(&src[i]);
  uva_close_fdp(&in.to);
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
  /* Without -t the command gets pipes of ours, never our own stdin,
   * stdout and stderr (see the top): [0] its stdin (-i), [1] and [2] its
   * stdout and stderr; ends[i][0] read, ends[i][1] write. */
  int ends[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
  for (int i = interactive ? 0 : 1; !tty && i < 3; i++)
    if (pipe2(ends[i], O_CLOEXEC) < 0) {
      uva_fail_errno(error, errno, "exec: pipe");
      for (int k = 0; k < 3; k++)
        uva_close_fdp(&ends[k][0]), uva_close_fdp(&ends[k][1]);
      return 1;
    }
  int theirs_io[3] = {ends[0][0], ends[1][1], ends[2][1]};
  const int *fds = tty ? NULL : interactive ? theirs_io : theirs_io + 1;
  guint n_fds = tty ? 0 : interactive ? 3 : 2;
  gboolean sent =
      uva_ctl_send(mine, &req, payload->str, payload->len, fds, n_fds, error);
  /* In flight now: only the command may hold its ends, or our reads
   * would never see EOF. */
  for (int i = 0; i < 3; i++)
    uva_close_fdp(&theirs_io[i]);
  uva_autofd out_r = ends[1][0];
  uva_autofd err_r = ends[2][0];
  uva_autofd in_w = ends[0][1];
  if (!sent) {
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
  return serve(mine, tty, interactive, cmd[0], uva_steal_fd(&out_r),
               uva_steal_fd(&err_r), uva_steal_fd(&in_w));
}
