/* supervisor.c - everything the manager does after the spec is known, in one
 * GLib main loop and one thread:
 *
 *   one libslirp per container, ports published (a taken port fails
 *   here, before any process exists) -> host directories resolved,
 *   checked and locked (hostdir.c) -> clone each container ->
 *   TAP and READY messages on the sync sockets -> HTTP readiness probe on
 *   every published TCP port -> banner -> output lines until a signal ->
 *   the stop signal to each init, SIGKILL after --stop-timeout -> reap,
 *   drain every output pipe to EOF -> exit.
 *
 * Signals come through a signalfd (blocked in main before anything else),
 * so no GLib worker thread exists when we clone: the clone is fork-like and
 * a second thread could leave a lock held in the child. */
#include "supervisor.h"

#include "bypass.h"
#include "confine.h"
#include "fwd.h"
#include "hostdir.h"
#include "msg.h"
#include "output.h"
#include "probe.h"
#include "relay.h"
#include "sandbox.h"
#include "slirp.h"
#include "term.h"
#include "util.h"

#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

typedef struct Supervisor Supervisor;

/* Where a container is in its life.  Only a STARTING container's failure
 * is a start-up failure (all stop, exit 1); from RUNNING on a failure ends
 * that container alone, so a late error can never stop the others. */
typedef enum {
  CT_STARTING, /* cloned, its app not exec'd yet (no READY) */
  CT_RUNNING,  /* READY came */
  CT_STOPPING, /* told to stop (stop_all) or ended for a failure */
  CT_EXITED,   /* reaped, or never started */
} ContainerState;

typedef struct Container {
  Supervisor *sup;
  ContainerState state;
  UvaContainerSpec *spec;
  UvaNet *net;       /* its network; NULL with network none */
  UvaFwd *fwd;       /* its published ports with the splice driver */
  UvaBypass *bypass; /* bypass driver or --outbound bypass (bypass.c) */
  UvaSandbox sb;
  guint sync_watch;
  UvaStream *out, *err; /* its output pipes (up); NULL for run */
  gboolean app_started, reaped, ready;
  int wait_status;
  UvaHostdirs *host; /* its binds until started; the flock on its /tmp */
  UvaProbe *probe;   /* until it is ready (ready-http) */
} Container;

struct Supervisor {
  UvaSpec *spec;
  GPtrArray *containers; /* of Container* */
  GMainLoop *loop;
  int signal_fd;
  guint signal_watch, kill_timer;
  gboolean stopping, announced;
  int exit_code;
  GError *failure;       /* first start-up failure */
  int prefix_width;      /* 0: lines are passed through unprefixed */
  gboolean app_status;   /* exit with the app's status (run) */
  int first_failure;     /* up: the first non-zero status of an app, or -1 */
  const char *exit_from; /* up --exit-code-from NAME */
  int exit_from_code;
  int notify_fd;                /* $NOTIFY_SOCKET, connected at start, or -1 */
  FILE *info;                   /* where the manager's own lines go */
  UvaSink *out_sink, *err_sink; /* stdout and stderr, never blocking */
  FILE *real_stdout, *real_stderr;
  /* run -t: the pty master init sent, joined to the caller's terminal */
  int pty_fd, tty_in, tty_out;
  UvaRelay *to_pty, *from_pty;
  struct termios saved_mode;
  gboolean raw;
};

static void stop_all(Supervisor *sup, int sig);
static void notify(Supervisor *sup, const char *state);
static void pty_attach(Supervisor *sup, const UvaContainerSpec *c, int fd);

static gboolean sup_all_done(Supervisor *sup) {
  if (sup->pty_fd >= 0)
    return FALSE; /* the app's last output is still on its way */
  for (guint i = 0; i < sup->containers->len; i++) {
    Container *c = sup->containers->pdata[i];
    if (!c->reaped || uva_stream_open(c->out) || uva_stream_open(c->err))
      return FALSE;
  }
  return TRUE;
}

static void maybe_quit(Supervisor *sup) {
  if (sup_all_done(sup))
    g_main_loop_quit(sup->loop);
}

static void stream_closed(gpointer data) { maybe_quit(data); }

/* Like a program in a shell pipeline whose reader went away
 * (`uva_container up FILE | head -3`): stop, do not retry forever. */
static void stdout_broken(gpointer data) {
  Supervisor *sup = data;
  if (sup->stopping)
    return;
  fprintf(stderr, "uva_container: standard output was closed: stopping all "
                  "containers\n");
  sup->exit_code = 1;
  stop_all(sup, SIGTERM);
}

/* From here on, the manager's stdout and stderr, its own fprintf lines
 * included, are queues that never block the loop (output.c). */
static void output_open(Supervisor *sup) {
  fflush(stdout);
  fflush(stderr);
  sup->real_stdout = stdout;
  sup->real_stderr = stderr;
  sup->out_sink = uva_sink_new(1, stdout_broken, sup);
  sup->err_sink = uva_sink_new(2, NULL, NULL);
  if (uva_sink_file(sup->out_sink) && uva_sink_file(sup->err_sink)) {
    stdout = uva_sink_file(sup->out_sink);
    stderr = uva_sink_file(sup->err_sink);
  }
  sup->info = sup->app_status ? stderr : stdout;
  /* run -t: the caller's terminal, reopened and made raw now, while the
   * manager may still open files and change terminal modes. */
  const UvaContainerSpec *c =
      sup->spec->containers->len == 1 ? sup->spec->containers->pdata[0] : NULL;
  if (sup->app_status && c && c->tty) {
    sup->tty_out = uva_reopen_nonblock(1, O_WRONLY);
    if (c->keep_stdin) {
      sup->tty_in = uva_reopen_nonblock(0, O_RDONLY);
      sup->raw = uva_term_raw(0, &sup->saved_mode);
    }
  }
}

static void output_close(Supervisor *sup) {
  stdout = sup->real_stdout;
  stderr = sup->real_stderr;
  /* The last lines are worth a short wait for a slow terminal. */
  uva_sink_free(sup->out_sink, 2000);
  uva_sink_free(sup->err_sink, 2000);
}

/* Readiness -------------------------------------------------------------- */

static const UvaPublish *first_tcp_publish(Container *c) {
  for (guint i = 0; i < c->spec->publish->len; i++) {
    const UvaPublish *p = &g_array_index(c->spec->publish, UvaPublish, i);
    if (!p->udp)
      return p;
  }
  return NULL;
}

/* sd_notify(3)'s protocol, for `systemd-run --user -p Type=notify`: one
 * datagram per state on the socket connected at start (before the manager
 * is confined, which refuses new unix sockets). */
static void notify(Supervisor *sup, const char *state) {
  if (sup->notify_fd >= 0)
    (void)send(sup->notify_fd, state, strlen(state), MSG_NOSIGNAL);
}

static void notify_open(Supervisor *sup) {
  const char *path = g_getenv("NOTIFY_SOCKET");
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  if (!path || (path[0] != '/' && path[0] != '@') ||
      strlen(path) >= sizeof sun.sun_path)
    return;
  memcpy(sun.sun_path, path, strlen(path));
  if (path[0] == '@')
    sun.sun_path[0] = '\0'; /* an abstract socket (unix(7)) */
  socklen_t len =
      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, len) < 0) {
    fprintf(stderr, "uva_container: warning: NOTIFY_SOCKET %s: %s\n", path,
            g_strerror(errno));
    uva_close_fdp(&fd);
    fd = -1;
  }
  sup->notify_fd = fd;
}

static void announce_if_all_ready(Supervisor *sup) {
  if (sup->announced || sup->stopping)
    return;
  for (guint i = 0; i < sup->containers->len; i++)
    if (!((Container *)sup->containers->pdata[i])->ready)
      return;
  sup->announced = TRUE;
  notify(sup, "READY=1");
  FILE *f = sup->info;
  gboolean any_port = FALSE;
  for (guint i = 0; i < sup->containers->len; i++)
    any_port |=
        ((Container *)sup->containers->pdata[i])->spec->publish->len > 0;
  if (sup->app_status && !any_port)
    return; /* `run` of a plain command: its output only */
  for (guint i = 0; i < sup->containers->len; i++) {
    Container *c = sup->containers->pdata[i];
    const UvaPublish *p = first_tcp_publish(c);
    g_autofree char *where = p ? uva_publish_host_string(p) : NULL;
    g_autofree char *url = where ? g_strdup_printf("http://%s/", where)
                                 : g_strdup("(no published TCP port)");
    fprintf(f, "uva_container: %s ready at %s  workdir %s  /tmp %s\n",
            c->spec->name, url, c->spec->workdir, c->spec->tmpdir);
    for (guint j = 0; j < c->spec->publish->len; j++) {
      const UvaPublish *q = &g_array_index(c->spec->publish, UvaPublish, j);
      if (q == p)
        continue;
      g_autofree char *other = uva_publish_host_string(q);
      fprintf(f, "uva_container: %s publishes %s -> %u\n", c->spec->name, other,
              q->container_port);
    }
    if (c->spec->tmp_log)
      fprintf(f, "uva_container: %s log %s/%s\n", c->spec->name,
              c->spec->tmpdir, c->spec->tmp_log);
  }
  if (!sup->app_status)
    fprintf(f, "uva_container: press Ctrl-C to stop\n");
  fflush(f);
}

static void probe_reset(Container *c) {
  g_clear_pointer(&c->probe, uva_probe_free);
}

static void on_probe_ready(gpointer data) {
  Container *c = data;
  probe_reset(c);
  c->ready = TRUE;
  announce_if_all_ready(c->sup);
}

/* Container events ------------------------------------------------------- */

static void fail_startup(Supervisor *sup, GError *error) {
  if (!sup->failure)
    sup->failure = error;
  else
    g_error_free(error);
  sup->exit_code = 1;
  stop_all(sup, SIGTERM);
}

/* A failure of one container: at start-up it fails the whole start; later
 * it ends this container only (SIGKILL to its init takes its whole pid
 * namespace, pid_namespaces(7)), with one line naming it.  Takes error. */
static void container_fail(Container *c, GError *error) {
  if (c->state == CT_STARTING) {
    fail_startup(c->sup, error);
    return;
  }
  if (c->state == CT_RUNNING) {
    /* Every caller's message names the container already. */
    fprintf(stderr, "uva_container: %s; stopping that container only\n",
            error->message);
    c->state = CT_STOPPING;
    kill(c->sb.pid, SIGKILL);
  }
  g_error_free(error);
}

static gboolean on_sync(int fd, GIOCondition cond, gpointer data) {
  Container *c = data;
  (void)cond;
  UvaMsg msg;
  int passed_fd = -1;
  gboolean eof = FALSE, fd_lost = FALSE;
  GError *error = NULL;
  if (!uva_msg_recv_fd(fd, &msg, &passed_fd, &fd_lost, &eof, &error)) {
    if (g_error_matches(error, UVA_MSG_RECV_ERROR, UVA_MSG_RECV_AGAIN)) {
      g_error_free(error); /* the message waits; poll brings us back */
      return G_SOURCE_CONTINUE;
    }
    c->sync_watch = 0;
    if (error) { /* eof: init exited; SIGCHLD tells how */
      g_prefix_error(&error, "container %s: ", c->spec->name);
      container_fail(c, error);
    }
    return G_SOURCE_REMOVE;
  }
  switch (msg.type) {
  case UVA_MSG_TAP:
    if (passed_fd < 0) {
      container_fail(c, g_error_new(UVA_ERROR, UVA_ERROR_FAILED, "%s: %s",
                                    c->spec->name,
                                    fd_lost ? "its tap fd could not be "
                                              "received (the manager is at its "
                                              "open-file limit)"
                                            : "TAP message without an fd"));
      break;
    }
    if (!uva_net_attach_tap(c->net, passed_fd, &error))
      container_fail(c, error);
    break;
  case UVA_MSG_CONNECTED:
    /* A socket lost at the fd limit is that dial failing: the fwd resets
     * that one client. */
    if (c->fwd)
      uva_fwd_dialed(c->fwd, (guint32)msg.value, passed_fd,
                     fd_lost ? EMFILE : msg.err);
    else
      uva_close_fdp(&passed_fd);
    break;
  case UVA_MSG_APP_EXIT: {
    g_autofree char *limit =
        c->spec->restart_max ? g_strdup_printf(" of %u", c->spec->restart_max)
                             : g_strdup("");
    fprintf(stderr,
            "uva_container: %s: %s exited with status %d; restart "
            "%d%s in %.1f s\n",
            c->spec->name, c->spec->argv[0], msg.value, msg.err, limit,
            msg.arg / 1000.0);
    break;
  }
  case UVA_MSG_READY:
    c->app_started = TRUE;
    if (c->state == CT_STARTING)
      c->state = CT_RUNNING;
    if (c->fwd)
      uva_fwd_start(c->fwd);
    if (c->spec->probe_http && first_tcp_publish(c))
      c->probe =
          uva_probe_new(c->spec->name, first_tcp_publish(c), on_probe_ready, c);
    else
      c->ready = TRUE;
    announce_if_all_ready(c->sup);
    break;
  case UVA_MSG_OUTLIVED: {
    /* Sent just before init exits: read before its SIGCHLD, like READY
     * and ERROR (the sync watch's priority, start_container()).  The
     * names are the processes' own (prctl(PR_SET_NAME) sets any bytes):
     * escaped, so that none reaches the terminal as a control sequence. */
    g_autoptr(GString) names = g_string_new(NULL);
    uva_output_escape(names, msg.text, strnlen(msg.text, 100));
    fprintf(stderr,
            "uva_container: %s: %d process%s (%s) outlived the "
            "app and %s killed (did it daemonize? run it in the "
            "foreground, e.g. redis-server --daemonize no)\n",
            c->spec->name, msg.value, msg.value == 1 ? "" : "es", names->str,
            msg.value == 1 ? "was" : "were");
    break;
  }
  case UVA_MSG_HOSTSOCK_REQ: /* --outbound bypass (bypass.c) */
    if (c->bypass && c->sb.sync_fd >= 0)
      uva_bypass_serve(c->bypass, &msg, c->sb.sync_fd);
    uva_close_fdp(&passed_fd);
    break;
  case UVA_MSG_PTY:
    if (passed_fd >= 0 && c->spec->tty && c->sup->pty_fd < 0)
      pty_attach(c->sup, c->spec, uva_steal_fd(&passed_fd));
    uva_close_fdp(&passed_fd);
    break;
  case UVA_MSG_ERROR:
    container_fail(c, g_error_new(UVA_ERROR, UVA_ERROR_FAILED,
                                  "container %s: %s", c->spec->name, msg.text));
    break;
  default:
    uva_close_fdp(&passed_fd);
    break;
  }
  return G_SOURCE_CONTINUE;
}

static void container_reaped(Container *c, int status) {
  Supervisor *sup = c->sup;
  /* Ended for a failure (container_fail): its line is printed already. */
  gboolean failed = c->state == CT_STOPPING && !sup->stopping;
  c->state = CT_EXITED;
  c->reaped = TRUE;
  c->wait_status = status;
  probe_reset(c);
  /* Its processes are gone: what is left in its pipes is read to EOF now,
   * even past its share of a stalled terminal, or the manager would wait
   * for a reader that may never come. */
  uva_stream_drain(c->out);
  uva_stream_drain(c->err);
  if (c->sync_watch)
    g_source_remove(c->sync_watch);
  c->sync_watch = 0;
  uva_close_fdp(&c->sb.sync_fd);
  c->sb.sync_fd = -1;
  /* Its ports are free again at once. */
  g_clear_pointer(&c->fwd, uva_fwd_free);
  g_clear_pointer(&c->bypass, uva_bypass_free);
  g_clear_pointer(&c->net, uva_net_free);

  if (sup->app_status && c->app_started) {
    /* init already turned the app's death by signal n into 128+n. */
    sup->exit_code =
        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  } else if (!sup->stopping && c->app_started) {
    if (failed) {
      /* said in container_fail() */
    } else if (WIFEXITED(status)) {
      fprintf(stderr, "uva_container: %s: %s exited with status %d\n",
              c->spec->name, c->spec->argv[0], WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
      fprintf(stderr,
              "uva_container: %s: its init was killed by signal %d "
              "(%s)\n",
              c->spec->name, WTERMSIG(status), strsignal(WTERMSIG(status)));
    }
    /* One-shot jobs (docker compose's habit): when the last app is done,
     * 0 if every app exited 0, else the first failing app's status; with
     * --exit-code-from NAME, that app's. */
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0 && sup->first_failure < 0)
      sup->first_failure = code;
    if (sup->exit_from && g_str_equal(sup->exit_from, c->spec->name))
      sup->exit_from_code = code;
    gboolean any_left = FALSE;
    for (guint i = 0; i < sup->containers->len; i++)
      any_left |= !((Container *)sup->containers->pdata[i])->reaped;
    if (!any_left) {
      fprintf(stderr, "uva_container: no container is left running\n");
      sup->exit_code =
          sup->exit_from ? sup->exit_from_code : MAX(sup->first_failure, 0);
    }
  } else if (!sup->stopping) {
    /* Died before its app started, without a message: say so. */
    fail_startup(sup, g_error_new(UVA_ERROR, UVA_ERROR_FAILED,
                                  "container %s: init ended during set-up "
                                  "(wait status 0x%x)",
                                  c->spec->name, (unsigned)status));
  }
}

static void reap_children(Supervisor *sup) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (guint i = 0; i < sup->containers->len; i++) {
      Container *c = sup->containers->pdata[i];
      if (c->sb.pid == pid && !c->reaped)
        container_reaped(c, status);
    }
  }
  maybe_quit(sup);
}

static void kill_remaining(Supervisor *sup, const char *why) {
  for (guint i = 0; i < sup->containers->len; i++) {
    Container *c = sup->containers->pdata[i];
    if (!c->reaped) {
      fprintf(stderr, "uva_container: %s %s: killing it\n", c->spec->name, why);
      kill(c->sb.pid, SIGKILL);
    }
  }
}

static guint stop_timeout_s(Supervisor *sup) {
  guint t = 0;
  for (guint i = 0; i < sup->containers->len; i++)
    t = MAX(t, ((Container *)sup->containers->pdata[i])->spec->stop_timeout);
  return t;
}

static gboolean on_kill_timer(gpointer data) {
  Supervisor *sup = data;
  sup->kill_timer = 0;
  g_autofree char *why = g_strdup_printf(
      "did not stop in %u s (--stop-timeout)", stop_timeout_s(sup));
  kill_remaining(sup, why);
  return G_SOURCE_REMOVE;
}

/* Each init passes the signal to its app and exits with the app's status:
 * for `up`, the container's stop signal (SIGTERM unless --stop-signal);
 * for `run`, sig, the one the user sent, as docker's signal proxy does
 * (Ctrl-C stays SIGINT).  SIGKILL after the longest --stop-timeout
 * (docker's 10 s by default: PostgreSQL needs seconds to shut down). */
static void stop_all(Supervisor *sup, int sig) {
  if (sup->stopping)
    return;
  sup->stopping = TRUE;
  notify(sup, "STOPPING=1");
  for (guint i = 0; i < sup->containers->len; i++) {
    Container *c = sup->containers->pdata[i];
    probe_reset(c);
    if (!c->reaped) {
      c->state = CT_STOPPING;
      kill(c->sb.pid, sup->app_status ? sig : c->spec->stop_signal);
    }
  }
  sup->kill_timer =
      g_timeout_add_seconds(stop_timeout_s(sup), on_kill_timer, sup);
  maybe_quit(sup);
}

/* Signals `run` hands on to its app without stopping (docker's proxy). */
static gboolean is_passed_on(int sig) {
  return sig == SIGQUIT || sig == SIGUSR1 || sig == SIGUSR2 || sig == SIGWINCH;
}

static gboolean on_signal(int fd, GIOCondition cond, gpointer data) {
  Supervisor *sup = data;
  (void)cond;
  struct signalfd_siginfo si;
  while (read(fd, &si, sizeof si) == sizeof si) {
    int sig = (int)si.ssi_signo;
    if (sig == SIGCHLD) {
      reap_children(sup);
    } else if (sig == SIGWINCH && sup->pty_fd >= 0) {
      uva_term_copy_size(sup->tty_out >= 0 ? 1 : 0, sup->pty_fd);
    } else if (is_passed_on(sig)) {
      for (guint i = 0; i < sup->containers->len; i++) {
        Container *c = sup->containers->pdata[i];
        if (!c->reaped)
          kill(c->sb.pid, sig);
      }
    } else if (sup->stopping) {
      /* A second Ctrl-C: no more waiting, and no timer left behind. */
      if (sup->kill_timer)
        g_source_remove(sup->kill_timer);
      sup->kill_timer = 0;
      kill_remaining(sup, "is still running after a second signal");
    } else {
      /* In raw mode (run -t) Ctrl-C is a byte for the app, not this. */
      fprintf(sup->info, "%suva_container: %s: stopping all containers\n",
              sup->app_status ? "" : "\n", strsignal(sig));
      stop_all(sup, sup->app_status ? sig : SIGTERM);
    }
  }
  return G_SOURCE_CONTINUE;
}

/* run -t ------------------------------------------------------------------ */

static void pty_closed(gpointer data) {
  Supervisor *sup = data;
  g_clear_pointer(&sup->to_pty, uva_relay_free);
  g_clear_pointer(&sup->from_pty, uva_relay_free);
  uva_close_fdp(&sup->pty_fd);
  sup->pty_fd = -1;
  maybe_quit(sup);
}

static void stdin_closed(gpointer data) {
  Supervisor *sup = data;
  /* Stop reading; the app's side stays open (its shell may go on). */
  g_clear_pointer(&sup->to_pty, uva_relay_free);
}

static void pty_attach(Supervisor *sup, const UvaContainerSpec *c, int fd) {
  sup->pty_fd = fd;
  uva_set_nonblock(fd, TRUE, NULL);
  /* tty_in and tty_out are descriptions of our own (output_open):
   * O_NONBLOCK on the shared ones would reach the shell that started us.
   * Where none could be had (a regular file), the shared one serves. */
  sup->from_pty =
      uva_relay_new(fd, sup->tty_out >= 0 ? sup->tty_out : 1, pty_closed, sup);
  if (c->keep_stdin)
    sup->to_pty = uva_relay_new(sup->tty_in >= 0 ? sup->tty_in : 0, fd,
                                stdin_closed, sup);
}

/* Start-up --------------------------------------------------------------- */

/* The splice driver's dial goes to the container's init (init.c,
 * serve_connect).  It never blocks for long: at most a few dozen requests
 * are in flight per container (fwd.c). */
static gboolean on_dial(guint32 id, guint16 port, gboolean udp,
                        const struct sockaddr_in *client, gpointer data) {
  Container *c = data;
  if (c->sb.sync_fd < 0)
    return FALSE;
  UvaMsg m = {.type = UVA_MSG_CONNECT,
              .value = (int32_t)id,
              .arg = port | (udp ? UVA_MSG_CONNECT_UDP : 0) |
                     (client ? UVA_MSG_CONNECT_FROM : 0)};
  if (client) /* init dials from it (transparent.c) */
    memcpy(m.text, client, sizeof *client);
  return uva_msg_send(c->sb.sync_fd, &m, -1, NULL);
}

static gboolean publish_ports(Container *c, GError **error) {
  UvaContainerSpec *s = c->spec;
  if (!s->no_network) {
    c->net = uva_net_new(s->name, s->sockets_limit, error);
    if (!c->net)
      return FALSE;
  }
  /* --- bypass (bypass.c) --- */
  if (s->port_driver == UVA_PORT_DRIVER_BYPASS || s->outbound_bypass) {
    c->bypass = uva_bypass_new(s->name, s->outbound_bypass, error);
    if (!c->bypass)
      return FALSE;
  }
  /* --- */
  if (s->publish->len == 0)
    return TRUE;
  if (s->port_driver == UVA_PORT_DRIVER_SPLICE) {
    c->fwd = uva_fwd_new(s->name, on_dial, c, error);
    if (!c->fwd)
      return FALSE;
  }
  for (guint j = 0; j < s->publish->len; j++) {
    const UvaPublish *p = &g_array_index(s->publish, UvaPublish, j);
    if (s->port_driver == UVA_PORT_DRIVER_BYPASS
            ? !uva_bypass_publish(c->bypass, p, error)
        : c->fwd ? !uva_fwd_publish(c->fwd, p, error)
                 : !uva_net_publish(c->net, p, error))
      return FALSE;
  }
  return TRUE;
}

/* Each container's host side (hostdir.c), before any process exists. */
static gboolean prepare_hosts(Supervisor *sup, GError **error) {
  g_autoptr(GPtrArray) hosts = uva_hostdir_prepare(sup->spec, error);
  if (!hosts)
    return FALSE;
  for (guint i = 0; i < sup->containers->len; i++)
    ((Container *)sup->containers->pdata[i])->host =
        g_steal_pointer(&hosts->pdata[i]);
  return TRUE;
}

/* `run`: the app writes to the caller's own stdout and stderr, as with
 * bubblewrap: byte for byte, at full speed, EPIPE and SIGPIPE as in a
 * pipeline, and nothing for the manager's loop to carry.  The app has no
 * controlling terminal (its own session), so TIOCSTI cannot inject input
 * into the caller's. */
static gboolean start_direct(Container *c, GError **error) {
  return uva_sandbox_start(c->spec, c->host->binds, !c->spec->no_network, 1, 2,
                           &c->sb, error);
}

/* `up`: each app's output comes through pipes and is shown prefixed. */
static gboolean start_piped(Container *c, GError **error) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) < 0)
    return uva_fail_errno(error, errno, "pipe2");
  if (pipe2(err, O_CLOEXEC) < 0) {
    int e = errno;
    close(out[0]);
    close(out[1]);
    return uva_fail_errno(error, e, "pipe2");
  }
  uva_autofd out_r = out[0];
  uva_autofd err_r = err[0];
  uva_autofd out_w = out[1];
  uva_autofd err_w = err[1];
  if (!uva_sandbox_start(c->spec, c->host->binds, !c->spec->no_network, out_w,
                         err_w, &c->sb, error))
    return FALSE;
  Supervisor *sup = c->sup;
  c->out = uva_stream_new(sup->out_sink, uva_steal_fd(&out_r), c->spec->name,
                          sup->prefix_width, stream_closed, sup);
  c->err = uva_stream_new(sup->err_sink, uva_steal_fd(&err_r), c->spec->name,
                          sup->prefix_width, stream_closed, sup);
  return TRUE;
}

static gboolean start_container(Container *c, GError **error) {
  gboolean started = c->sup->prefix_width == 0 ? start_direct(c, error)
                                               : start_piped(c, error);
  /* The child has its own copies; the manager keeps only the /tmp lock. */
  g_array_set_size(c->host->binds, 0);
  /* bypass: init waits for its host sockets before it starts the app. */
  if (started && c->bypass)
    started = uva_bypass_send_ports(c->bypass, c->sb.sync_fd, error);
  if (!started) {
    g_prefix_error(error, "container %s: ", c->spec->name);
    return FALSE;
  }
  /* Hot: with the splice driver every new connection passes here.  High
   * priority: GLib dispatches only the highest-priority ready sources in an
   * iteration, so whatever init sent before it died (READY, ERROR) is read
   * before the SIGCHLD that reports the death, even when a busy manager
   * finds both pending at once.  Init only answers requests (at most
   * MAX_DIALS in fwd.c at a time), so it cannot starve the others. */
  c->sync_watch = uva_fd_watch_hot(c->sb.sync_fd, G_IO_IN | G_IO_HUP,
                                   G_PRIORITY_HIGH, on_sync, c);
  return TRUE;
}

static void container_free(gpointer p) {
  Container *c = p;
  probe_reset(c);
  uva_stream_free(c->out);
  uva_stream_free(c->err);
  if (c->sync_watch)
    g_source_remove(c->sync_watch);
  uva_close_fdp(&c->sb.sync_fd);
  uva_fwd_free(c->fwd);
  uva_bypass_free(c->bypass);
  uva_net_free(c->net);
  uva_hostdir_free(c->host);
  g_free(c);
}

/* Once every container is cloned, the manager only forwards: it confines
 * itself (confine.c), and kill() may still reach each init. */
static void confine_manager(Supervisor *sup) {
  g_autoptr(GArray) inits = g_array_new(FALSE, FALSE, sizeof(pid_t));
  for (guint i = 0; i < sup->containers->len; i++) {
    Container *c = sup->containers->pdata[i];
    if (c->sb.pid > 0)
      g_array_append_val(inits, c->sb.pid);
  }
  g_autoptr(GError) error = NULL;
  if (!uva_confine_manager((const pid_t *)inits->data, inits->len, &error))
    fprintf(stderr,
            "uva_container: warning: the manager is not fully "
            "confined (%s); going on\n",
            error->message);
#ifdef UVA_TEST_HOOKS
  /* Test builds only: prove the confinement holds by trying what it
   * forbids. */
  if (g_getenv("UVA_TEST_HOOK_EXEC"))
    uva_confine_test_probe();
#endif
}

int uva_supervisor_run(UvaSpec *spec, gboolean app_status,
                       const char *exit_code_from, GError **error) {
  Supervisor sup = {.spec = spec,
                    .signal_fd = -1,
                    .pty_fd = -1,
                    .tty_in = -1,
                    .tty_out = -1,
                    .app_status = app_status,
                    .first_failure = -1,
                    .exit_from = exit_code_from,
                    .notify_fd = -1};
  output_open(&sup);
  notify_open(&sup);
  sup.containers = g_ptr_array_new_with_free_func(container_free);
  sup.loop = g_main_loop_new(NULL, FALSE);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGCHLD);
  if (app_status)
    for (int sig = 1; sig < NSIG; sig++)
      if (is_passed_on(sig))
        sigaddset(&set, sig);
  sigprocmask(SIG_BLOCK, &set, NULL);
  sup.signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sup.signal_fd < 0) {
    uva_fail_errno(error, errno, "signalfd");
    goto out;
  }
  sup.signal_watch = g_unix_fd_add(sup.signal_fd, G_IO_IN, on_signal, &sup);

  for (guint i = 0; i < spec->containers->len; i++) {
    Container *c = g_new0(Container, 1);
    c->sup = &sup;
    c->spec = spec->containers->pdata[i];
    c->sb.pid = -1;
    c->sb.sync_fd = -1;
    g_ptr_array_add(sup.containers, c);
    sup.prefix_width = MAX(sup.prefix_width, (int)strlen(c->spec->name));
  }
  if (app_status && sup.containers->len == 1)
    sup.prefix_width = 0; /* one app: its output, untouched */
  /* Everything that can fail without a process is done first, so a taken
   * port or a bad directory starts nothing; ports before directories, so a
   * taken port does not even create a state directory. */
  for (guint i = 0; i < sup.containers->len; i++)
    if (!publish_ports(sup.containers->pdata[i], error))
      goto out;
  if (!prepare_hosts(&sup, error))
    goto out;
  for (guint i = 0; i < sup.containers->len; i++) {
    Container *c = sup.containers->pdata[i];
    GError *local = NULL;
    if (!start_container(c, &local)) {
      /* This one and the ones after it never started: nothing to wait for
       * from them; the ones before are stopped and waited for. */
      for (guint j = i; j < sup.containers->len; j++) {
        ((Container *)sup.containers->pdata[j])->reaped = TRUE;
        ((Container *)sup.containers->pdata[j])->state = CT_EXITED;
      }
      fail_startup(&sup, local);
      break;
    }
  }
  if (!sup.failure)
    confine_manager(&sup);
#ifdef UVA_TEST_HOOKS
  /* Test builds only: a manager that is slow to run its loop, as on a busy
   * machine, finds an app's READY and its death pending together. */
  const char *stall = g_getenv("UVA_TEST_HOOK_STALL_MS");
  if (stall)
    g_usleep(1000 * g_ascii_strtoull(stall, NULL, 10));
#endif
  /* g_main_loop_run() forgets a quit that came before it. */
  if (!sup_all_done(&sup))
    g_main_loop_run(sup.loop);

  if (sup.failure) {
    g_propagate_error(error, sup.failure);
    sup.failure = NULL;
  }
out:
  /* Every way out passes here: the caller's terminal gets its mode back. */
  if (sup.raw)
    uva_term_restore(0, &sup.saved_mode);
  uva_relay_free(sup.to_pty);
  uva_relay_free(sup.from_pty);
  uva_close_fdp(&sup.pty_fd);
  uva_close_fdp(&sup.tty_in);
  uva_close_fdp(&sup.tty_out);
  if (sup.kill_timer)
    g_source_remove(sup.kill_timer);
  if (sup.signal_watch)
    g_source_remove(sup.signal_watch);
  uva_close_fdp(&sup.signal_fd);
  /* Any container still alive here (an early goto) is killed and reaped:
   * nothing outlives the manager, not even on an error path. */
  for (guint i = 0; i < sup.containers->len; i++) {
    Container *c = sup.containers->pdata[i];
    if (c->sb.pid > 0 && !c->reaped) {
      kill(c->sb.pid, SIGKILL);
      waitpid(c->sb.pid, NULL, 0);
    }
  }
  g_ptr_array_unref(sup.containers);
  uva_close_fdp(&sup.notify_fd);
  output_close(&sup);
  g_main_loop_unref(sup.loop);
  if (error && *error)
    return 1;
  return sup.exit_code;
}
