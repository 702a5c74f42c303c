/* init.c - our pid 1.  Like tini and bubblewrap's do_init: the app is a
 * child, not pid 1 itself, because pid 1 of a pid namespace gets no default
 * signal actions (a Python app would ignore SIGTERM) and must reap orphans.
 * Signals arrive through a signalfd; the app gets a clean signal mask and
 * default dispositions before exec, no capabilities, and no_new_privs. */
#include "sandbox/init.h"

#include "base/util.h"
#include "ipc/msg.h"
#include "net/transparent.h"
#include "sandbox/app.h"
#include "sandbox/execfmt.h"
#include "sandbox/execin.h"
#include "sandbox/listening.h"
#include "sandbox/unotify.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>

/* Under bypass: init serves the app's notifications (unotify.c). */
static UvaUnotify *unotify;

/* The app's stdio: the pty's slave (`run -t`) as its controlling
 * terminal, in a session of its own, so that Ctrl-C and Ctrl-Z reach it
 * through the line discipline as in a local shell (credentials(7),
 * TIOCSCTTY in ioctl_tty(2)); else stdin (the caller's with -i, or
 * /dev/null) and the output fds. */
static int setup_stdio(const UvaContainerSpec *c, int tty_fd, int out_fd,
                       int err_fd) {
  if (tty_fd >= 0) {
    if (setsid() < 0 || ioctl(tty_fd, TIOCSCTTY, 0) < 0)
      return -1;
    for (int i = 0; i < 3; i++)
      if (dup2(tty_fd, i) < 0)
        return -1;
    return 0;
  }
  if (!c->keep_stdin) {
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || dup2(devnull, 0) < 0)
      return -1;
  }
  return dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0 ? -1 : 0;
}

/* The forked app, before exec.  Failures go to status_fd as an errno.
 * Under vfork (start_app) this runs in init's memory while init waits:
 * it changes only what is its own (fds, signal dispositions, credentials,
 * its filter: clone(2) without CLONE_FILES, CLONE_SIGHAND) and leaves by
 * execve or _exit, never by a return. */
G_GNUC_NORETURN static void app_child(const UvaContainerSpec *c, char **env,
                                      int status_fd, int go_fd, int tty_fd,
                                      int out_fd, int err_fd) {
  if (setup_stdio(c, tty_fd, out_fd, err_fd) < 0 ||
      uva_app_confine(c, status_fd, go_fd) < 0)
    uva_app_fail(status_fd, errno);
  uva_app_fail(status_fd, uva_app_exec(c->argv, env));
}

/* The container's process cap (--pids-limit), set on init itself so that
 * it covers init, the app and everything they start.
 *
 * RLIMIT_NPROC is counted per user namespace since Linux 5.14
 * (kernel/ucount.c): fork() in copy_process() increments the count of the
 * task's real uid in its own user namespace and in every parent, and
 * is_rlimit_overlimit() refuses it (EAGAIN) when the innermost count
 * exceeds the task's own RLIMIT_NPROC, or a parent's count exceeds the
 * limit its creator had when the namespace was made.  Init and the app are
 * the only tasks of our uid in this namespace, so a limit of N here caps
 * the container at N tasks (threads count: every task is one), while the
 * user's processes outside are counted against the user's own limit and
 * see only those N added.  Measured on 6.18 with --pids-limit 50: a fork
 * bomb in the app gets EAGAIN after 48 children (init, the app, 48), and
 * the user forks freely outside meanwhile (tests/hardening.sh).  Before
 * 5.14 the count was per user across every namespace, and N would count
 * the user's other processes too.
 *
 * The exemptions do not apply: they are for the global root user and for
 * CAP_SYS_RESOURCE or CAP_SYS_ADMIN in the initial user namespace, and the
 * same capability would be needed to raise the hard limit again
 * (setrlimit(2)), so the app cannot lift the cap.  Soft and hard are both
 * set; a user whose own hard limit is lower keeps that one. */
static gboolean limit_processes(guint limit, GError **error) {
  if (limit == 0)
    return TRUE;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NPROC, &rl) < 0)
    return uva_fail_errno(error, errno, "getrlimit RLIMIT_NPROC");
  rlim_t n = MIN((rlim_t)limit, rl.rlim_max);
  rl.rlim_cur = rl.rlim_max = n;
  if (setrlimit(RLIMIT_NPROC, &rl) < 0)
    return uva_fail_errno(error, errno,
                          "setting the pids limit %u "
                          "(setrlimit RLIMIT_NPROC)",
                          limit);
  return TRUE;
}

/* The splice port driver's dial: a socket connected to 127.0.0.1:PORT in
 * this namespace, handed back over the sync socket.  Non-blocking, so a
 * slow connect never stalls init: the manager finishes it (the connect
 * completes or fails on the socket it receives). */
static void serve_connect(int sync_fd, const UvaMsg *m) {
  gboolean udp = (m->arg & UVA_MSG_CONNECT_UDP) != 0;
  struct sockaddr_in to = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)(m->arg & 0xffff)),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  UvaMsg reply = {.type = UVA_MSG_CONNECTED, .value = m->value};
  struct sockaddr_in client;
  memcpy(&client, m->text, sizeof client);
  /* From the client's own address where possible (transparent.c). */
  uva_autofd fd =
      !udp && (m->arg & UVA_MSG_CONNECT_FROM) && client.sin_family == AF_INET
          ? uva_transparent_socket(&client)
          : -1;
  if (fd < 0)
    fd = socket(AF_INET,
                (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
  if (fd < 0)
    reply.err = errno;
  else if (connect(fd, (struct sockaddr *)&to, sizeof to) < 0 &&
           errno != EINPROGRESS)
    reply.err = errno;
  (void)uva_msg_send(sync_fd, &reply, reply.err ? -1 : fd, NULL);
}

/* Readiness: is something listening on TCP port (m->arg) in this
 * namespace, where the splice driver's dial (127.0.0.1) reaches it?
 * Asked without a connection to the app (listening.c). */
static void serve_listening(int sync_fd, const UvaMsg *m) {
  UvaMsg reply = {.type = UVA_MSG_LISTENING,
                  .value = m->value,
                  .arg = m->arg,
                  .err = uva_listening_tcp(m->arg & 0xffff) ? 0 : ENOENT};
  (void)uva_msg_send(sync_fd, &reply, -1, NULL);
}

/* One message from the manager; FALSE when it is gone. */
static gboolean serve_manager(const UvaContainerSpec *c, int sync_fd) {
  UvaMsg m;
  int fd = -1;
  gboolean eof = FALSE;
  if (!uva_msg_recv(sync_fd, &m, &fd, &eof, NULL))
    return FALSE;
  if (m.type == UVA_MSG_HOSTSOCK && unotify) {
    uva_unotify_host_socket(unotify, &m, fd);
    return TRUE;
  }
  if (m.type == UVA_MSG_CONNECT)
    serve_connect(sync_fd, &m);
  else if (m.type == UVA_MSG_LISTENING_Q)
    serve_listening(sync_fd, &m);
  else if (m.type == UVA_MSG_EXEC && fd >= 0)
    uva_execin_start(c, sync_fd, uva_steal_fd(&fd));
  uva_close_fdp(&fd);
  return TRUE;
}

static int wait_status_to_exit_code(int st) {
  if (WIFEXITED(st))
    return WEXITSTATUS(st);
  if (WIFSIGNALED(st))
    return 128 + WTERMSIG(st);
  return 1;
}

/* The app is gone and init is about to exit, which kills whatever else
 * is left in the pid namespace (pid_namespaces(7)): an app that
 * daemonized (pg_ctl start, redis-server --daemonize yes) leaves its
 * server here, and it would die without a word.  Counts those processes
 * in this namespace's own /proc (it shows no other), zombies aside, and
 * tells the manager how many, naming a few. */
static void report_outlived(int sync_fd) {
  DIR *d = opendir("/proc");
  if (!d)
    return;
  int count = 0;
  g_autoptr(GString) names = g_string_new(NULL);
  struct dirent *e;
  while ((e = readdir(d))) {
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end || pid <= 1)
      continue;
    g_autofree char *path = g_strdup_printf("/proc/%ld/stat", pid);
    g_autofree char *stat = uva_read_small_file(path, NULL);
    /* "pid (comm) state ...": comm may hold ')' itself, so the last one. */
    char *open_paren = stat ? strchr(stat, '(') : NULL;
    char *close_paren = stat ? strrchr(stat, ')') : NULL;
    if (!open_paren || !close_paren || close_paren < open_paren ||
        close_paren[1] != ' ' || close_paren[2] == 'Z')
      continue; /* gone meanwhile, or a zombie */
    if (count++ < 3) {
      *close_paren = '\0';
      g_string_append_printf(names, "%s%s", names->len ? ", " : "",
                             open_paren + 1);
    } else if (count == 4) {
      g_string_append(names, ", ...");
    }
  }
  closedir(d);
  if (count == 0)
    return;
  UvaMsg m = {.type = UVA_MSG_OUTLIVED, .value = count};
  g_strlcpy(m.text, names->str, sizeof m.text);
  (void)uva_msg_send(sync_fd, &m, -1, NULL);
}

/* Forks and execs the app.  Returns its pid, or -1 with *exec_err set
 * (and the app gone) when fork or exec failed. */
/* The app's listener, fd number listener in the app, taken for unotify;
 * 0 or an errno. */
static int take_listener(pid_t app, int listener) {
  uva_autofd pidfd = (int)syscall(SYS_pidfd_open, app, 0);
  if (pidfd < 0)
    return errno;
  int fd = (int)syscall(SYS_pidfd_getfd, pidfd, listener, 0);
  if (fd < 0 || !unotify) {
    uva_close_fdp(&fd);
    return fd < 0 ? errno : EINVAL;
  }
  uva_unotify_add_listener(unotify, fd);
  return 0;
}

static pid_t start_app(const UvaContainerSpec *c, int tty_fd, int out_fd,
                       int err_fd, int *exec_err) {
  int status_pipe[2], go_pipe[2];
  *exec_err = 0;
  if (pipe2(status_pipe, O_CLOEXEC) < 0) {
    *exec_err = errno;
    return -1;
  }
  if (pipe2(go_pipe, O_CLOEXEC) < 0) {
    *exec_err = errno;
    close(status_pipe[0]);
    close(status_pipe[1]);
    return -1;
  }
  /* vfork(2): init's memory is not copied for a child that execs at once.
   * fork copied init's page tables (a copy of the manager's), and exec
   * then tore the copy down, with a copy-on-write fault for each page
   * written between: together a sixth of a container's start-up CPU
   * (`up` of 256, perf).  Not under bypass, where the child waits for
   * init to take its notification listener (app.c): a parent suspended
   * until the exec could not. */
  g_auto(GStrv) env = uva_app_env(c);
  pid_t app = uva_app_uses_bypass(c) ? fork() : vfork();
  if (app < 0) {
    *exec_err = errno;
    close(status_pipe[0]);
    close(status_pipe[1]);
    close(go_pipe[0]);
    close(go_pipe[1]);
    return -1;
  }
  if (app == 0) {
    close(status_pipe[0]);
    close(go_pipe[1]);
    app_child(c, env, status_pipe[1], go_pipe[0], tty_fd, out_fd, err_fd);
  }
  close(status_pipe[1]);
  close(go_pipe[0]);
  /* EOF on the close-on-exec pipe means execve succeeded (nsjail's trick).
   * Under bypass a negative word comes first: the listener to pass on. */
  ssize_t n;
  for (;;) {
    do
      n = read(status_pipe[0], exec_err, sizeof *exec_err);
    while (n < 0 && errno == EINTR);
    if (n != sizeof *exec_err || *exec_err >= 0)
      break;
    int err = take_listener(app, -*exec_err - 1);
    if (err) {
      kill(app, SIGKILL);
      *exec_err = err;
      break;
    }
    (void)!write(go_pipe[1], "g", 1);
  }
  close(go_pipe[1]);
  close(status_pipe[0]);
  if (n == sizeof *exec_err) {
    (void)waitpid(app, NULL, 0);
    return -1;
  }
  *exec_err = 0;
  return app;
}

/* Back-off before restart k (1-based): 1 s, 2 s, 4 s ... 30 s, so a crash
 * loop prints at most a few lines a minute. */
static int restart_delay_ms(unsigned k) {
  return k >= 6 ? 30000 : 1000 << (k - 1);
}

static gboolean should_restart(const UvaContainerSpec *c, int code,
                               unsigned done) {
  return c->restart_on_failure && code != 0 &&
         (c->restart_max == 0 || done < c->restart_max);
}

/* `run -t`: a pty pair from the container's own devpts.  The master goes
 * to the manager, which joins it to the caller's terminal; the slave stays
 * here for the app (and its restarts).  TIOCGPTPEER (Linux 4.13) opens the
 * slave without a path lookup. */
static int open_pty(const UvaContainerSpec *c, int sync_fd) {
  uva_autofd master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  int unlock = 0;
  if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0)
    return -1;
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0)
    return -1;
  /* The caller's size from the start: a shell asks at once. */
  struct winsize ws = {.ws_row = c->tty_rows, .ws_col = c->tty_cols};
  if (ws.ws_row && ws.ws_col)
    (void)ioctl(slave, TIOCSWINSZ, &ws);
  UvaMsg m = {.type = UVA_MSG_PTY};
  if (!uva_msg_send(sync_fd, &m, master, NULL)) {
    close(slave);
    return -1;
  }
  return slave;
}

void uva_init_run(const UvaContainerSpec *c, int sync_fd, int out_fd,
                  int err_fd) {
  g_autoptr(GError) error = NULL;
  if (!limit_processes(c->pids_limit, &error)) {
    uva_msg_send_error(sync_fd, 0, error->message);
    _exit(1);
  }
  int exec_err;
  int tty_fd = -1;
  /* The splice driver dials from the client's address where it can. */
  if (c->port_driver == UVA_PORT_DRIVER_SPLICE && c->publish->len > 0 &&
      !c->no_network)
    (void)uva_transparent_setup();
  /* The host sockets come before the app may bind (bypass.c sends them
   * right after the clone). */
  if (uva_app_uses_bypass(c)) {
    unotify = uva_unotify_new(sync_fd, c->outbound_bypass);
    if (!uva_unotify_receive_ports(unotify)) {
      uva_msg_send_error(sync_fd, EPROTO,
                         "bypass: the host sockets did not arrive");
      _exit(1);
    }
  }
  if (c->tty && (tty_fd = open_pty(c, sync_fd)) < 0) {
    int e = errno;
    g_autofree char *m =
        g_strdup_printf("opening a pseudo-terminal: %s", g_strerror(e));
    uva_msg_send_error(sync_fd, e, m);
    _exit(127);
  }
  pid_t app = start_app(c, tty_fd, out_fd, err_fd, &exec_err);
  if (app < 0) {
    const char *hint = exec_err == ENOENT
                           ? " (the file, or the interpreter named on its "
                             "#! line, does not exist in the container)"
                           : "";
    g_autofree char *m = g_strdup_printf("cannot execute %s: %s%s", c->argv[0],
                                         uva_execfmt_strerror(exec_err), hint);
    uva_msg_send_error(sync_fd, uva_execfmt_errno(exec_err), m);
    _exit(127);
  }
  /* Without restarts the app's output pipes are the app's alone, so the
   * manager sees EOF when it and its children are done. */
  if (!c->restart_on_failure) {
    close(out_fd);
    close(err_fd);
    if (tty_fd >= 0)
      close(tty_fd); /* the master sees EIO once the app is gone */
  }
  UvaMsg ready = {.type = UVA_MSG_READY, .value = app};
  (void)uva_msg_send(sync_fd, &ready, -1, NULL);

  sigset_t set;
  uva_app_signal_set(&set);
  int sfd = signalfd(-1, &set, SFD_CLOEXEC);
  if (sfd < 0) {
    kill(app, SIGKILL);
    _exit(1);
  }
  unsigned restarts = 0;
  int last_code = 0;
  gboolean stopping = FALSE;
  gint64 restart_at = -1; /* monotonic ms; app < 0 meanwhile */
  for (;;) {
    int timeout = -1;
    if (restart_at >= 0)
      timeout = (int)MAX(0, restart_at - g_get_monotonic_time() / 1000);
    struct pollfd pfd[2 + UVA_UNOTIFY_MAX_POLL] = {{sfd, POLLIN, 0},
                                                   {sync_fd, POLLIN, 0}};
    int n_extra =
        unotify ? uva_unotify_fill(unotify, pfd + 2, UVA_UNOTIFY_MAX_POLL) : 0;
    int r = poll(pfd, 2 + (nfds_t)n_extra, timeout);
    if (r > 0 && n_extra)
      uva_unotify_dispatch(unotify, pfd + 2, n_extra);
    if (r < 0 && errno != EINTR) {
      kill(-1, SIGKILL);
      _exit(1);
    }
    if (restart_at >= 0 && g_get_monotonic_time() / 1000 >= restart_at) {
      restart_at = -1;
      app = start_app(c, tty_fd, out_fd, err_fd, &exec_err);
      if (app < 0)
        _exit(last_code);
    }
    if (r <= 0)
      continue;
    if (pfd[1].revents && !serve_manager(c, sync_fd)) {
      /* The manager is gone (EOF, hangup, a broken message): nothing may
       * outlive it.  kill(-1) from pid 1 reaches every other process of
       * the namespace (kill(2)). */
      kill(-1, SIGKILL);
      _exit(137);
    }
    if (!(pfd[0].revents & POLLIN))
      continue;
    struct signalfd_siginfo si;
    if (read(sfd, &si, sizeof si) != sizeof si)
      continue;
    if (si.ssi_signo != SIGCHLD) {
      if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT ||
          (int)si.ssi_signo == c->stop_signal)
        stopping = TRUE; /* no restart after this */
      if (app > 0)
        kill(app, (int)si.ssi_signo);
      else if (stopping)
        _exit(last_code); /* waiting to restart: nothing to stop */
      continue;
    }
    int st;
    pid_t p;
    while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
      if (p != app)
        continue;
      last_code = wait_status_to_exit_code(st);
      app = -1;
      if (stopping || !should_restart(c, last_code, restarts)) {
        /* Returning from pid 1 kills everything left in the namespace.
         * When stopping, the user asked for exactly that. */
        if (!stopping)
          report_outlived(sync_fd);
        _exit(last_code);
      }
      restarts++;
      UvaMsg m = {.type = UVA_MSG_APP_EXIT,
                  .value = last_code,
                  .err = (int32_t)restarts,
                  .arg = (uint32_t)restart_delay_ms(restarts)};
      (void)uva_msg_send(sync_fd, &m, -1, NULL);
      restart_at = g_get_monotonic_time() / 1000 + restart_delay_ms(restarts);
    }
  }
}
