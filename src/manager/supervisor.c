/* supervisor.c - everything the manager does after the spec is known, in one
 * GLib main loop and one thread:
 *
 *   one libslirp per container, ports bound (a taken port fails here,
 *   before any process exists) -> host directories resolved, checked and
 *   locked (hostdir.c), log files and control sockets made -> clone each
 *   container -> the manager confines itself -> TAP and READY messages on
 *   the sync sockets -> readiness (ready.c: ports listen inside, then
 *   ready-http) -> banner, READY=1, and with -d the caller is let go ->
 *   output lines until a signal or `down` -> the stop signal to each init,
 *   SIGKILL after --stop-timeout -> reap, drain every output pipe to EOF
 *   -> exit.  One container's events are container.c's.
 *
 * Signals come through a signalfd (blocked in main before anything else),
 * so no GLib worker thread exists when we clone: the clone is fork-like and
 * a second thread could leave a lock held in the child. */
#include "base/util.h"
#include "ipc/msg.h"
#include "manager/afterlife.h"
#include "manager/confine.h"
#include "manager/container.h"
#include "manager/notify.h"
#include "net/bypass.h"

#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

static void stop_all(Supervisor *sup, int sig);
static void fail_startup(Supervisor *sup, GError *error);
static void maybe_quit(Supervisor *sup);
static void announce(Supervisor *sup);

/* container.c calls these through sup->ops (state.h). */
static const UvaSupervisorOps sup_ops = {stop_all, fail_startup, maybe_quit,
                                         announce};

static gboolean sup_all_done(Supervisor *sup) {
  if (uva_ptyjoin_open(sup->pty))
    return FALSE; /* the app's last output is still on its way */
  for (guint i = 0; i < sup->containers->len; i++) {
    Container *c = sup->containers->pdata[i];
    if (!c->reaped || uva_stream_open(c->out) || uva_stream_open(c->err) ||
        uva_tee_open(c->tee_out) || uva_tee_open(c->tee_err))
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
  if (sup->app_status && c && c->tty)
    sup->pty = uva_ptyjoin_new(c->keep_stdin);
}

static void output_close(Supervisor *sup) {
  stdout = sup->real_stdout;
  stderr = sup->real_stderr;
  /* The last lines are worth a short wait for a slow terminal. */
  uva_sink_free(sup->out_sink, 2000);
  uva_sink_free(sup->err_sink, 2000);
}

/* -d: every container is ready; the caller, waiting in main, exits 0.
 * The caller's stdin, stdout and stderr are let go (a `$(uva_container up
 * -d FILE)` waits for every writer of its pipe), and from now on the apps'
 * output goes to their logs only. */
static void detach(Supervisor *sup) {
  if (sup->detach_fd < 0)
    return;
  fflush(stdout);
  fflush(stderr);
  uva_sink_detach(sup->out_sink, 2000);
  uva_sink_detach(sup->err_sink, 2000);
  (void)!write(sup->detach_fd, "R", 1);
  uva_close_fdp(&sup->detach_fd);
  sup->detach_fd = -1;
  for (int fd = 0; sup->null_fd >= 0 && fd < 3; fd++)
    (void)dup2(sup->null_fd, fd);
  uva_close_fdp(&sup->null_fd);
  sup->null_fd = -1;
}

static const UvaPublish *first_tcp_publish(Container *c) {
  for (guint i = 0; i < c->spec->publish->len; i++) {
    const UvaPublish *p = &g_array_index(c->spec->publish, UvaPublish, i);
    if (!p->udp)
      return p;
  }
  return NULL;
}

static void banner(Supervisor *sup) {
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
  if (sup->detach_fd >= 0)
    fprintf(f, "uva_container: running in the background; see "
               "uva_container ps, logs, exec, stop, down\n");
  else if (!sup->app_status)
    fprintf(f, "uva_container: press Ctrl-C to stop\n");
  fflush(f);
}

static void announce(Supervisor *sup) {
  if (sup->announced || sup->stopping)
    return;
  for (guint i = 0; i < sup->containers->len; i++)
    if (!((Container *)sup->containers->pdata[i])->ready)
      return;
  sup->announced = TRUE;
  if (sup->wait_timer)
    g_source_remove(sup->wait_timer);
  sup->wait_timer = 0;
  uva_notify_send(sup->notify_fd, "READY=1");
  banner(sup);
  detach(sup);
}

/* --wait-timeout: one line per container that is not ready, naming what
 * it waits for, then everything stops and the manager exits 1. */
static gboolean on_wait_timeout(gpointer data) {
  Supervisor *sup = data;
  sup->wait_timer = 0;
  for (guint i = 0; i < sup->containers->len; i++) {
    Container *c = sup->containers->pdata[i];
    if (c->ready || c->reaped)
      continue;
    g_autofree char *what = c->checks ? uva_ready_awaiting(c->checks)
                                      : g_strdup("its app to start");
    fprintf(stderr,
            "uva_container: %s is not ready after %u s (waiting for "
            "%s): stopping everything\n",
            c->spec->name, sup->opt->wait_timeout, what);
  }
  sup->exit_code = 1;
  stop_all(sup, SIGTERM);
  return G_SOURCE_REMOVE;
}

static void fail_startup(Supervisor *sup, GError *error) {
  if (!sup->failure)
    sup->failure = error;
  else
    g_error_free(error);
  sup->exit_code = 1;
  stop_all(sup, SIGTERM);
}

static void reap_children(Supervisor *sup) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (guint i = 0; i < sup->containers->len; i++) {
      Container *c = sup->containers->pdata[i];
      if (c->sb.pid == pid && !c->reaped)
        uva_container_reaped(c, status);
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
  if (sup->stop_timeout >= 0)
    return (guint)sup->stop_timeout;
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
  if (sup->wait_timer)
    g_source_remove(sup->wait_timer);
  sup->wait_timer = 0;
  uva_notify_send(sup->notify_fd, "STOPPING=1");
  for (guint i = 0; i < sup->containers->len; i++) {
    Container *c = sup->containers->pdata[i];
    uva_container_checks_reset(c);
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
    } else if (sig == SIGWINCH && uva_ptyjoin_open(sup->pty)) {
      uva_ptyjoin_winch(sup->pty);
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
  /* The bypass drivers' host sockets (bypass.c). */
  if (s->port_driver == UVA_PORT_DRIVER_BYPASS || s->outbound_bypass) {
    c->bypass = uva_bypass_new(s->name, s->outbound_bypass, error);
    if (!c->bypass)
      return FALSE;
  }
  if (s->publish->len == 0)
    return TRUE;
  if (s->port_driver == UVA_PORT_DRIVER_SPLICE) {
    c->fwd = uva_fwd_new(s->name, on_dial, c, error);
    if (!c->fwd)
      return FALSE;
  }
  for (guint j = 0; j < s->publish->len; j++) {
    UvaPublish *p = &g_array_index(s->publish, UvaPublish, j);
    if (!c->fwd && uva_publish_host_port(p) == 0)
      return uva_fail(error,
                      "%s: -p %u without a host port needs the splice "
                      "port driver (libslirp cannot say which port it "
                      "chose)",
                      s->name, p->container_port);
    if (s->port_driver == UVA_PORT_DRIVER_BYPASS
            ? !uva_bypass_publish(c->bypass, p, error)
        : c->fwd ? !uva_fwd_publish(c->fwd, p, error)
                 : !uva_net_publish(c->net, p, error))
      return FALSE;
  }
  return TRUE;
}

/* Each container's host side (hostdir.c) and its log file, before any
 * process exists. */
static gboolean prepare_hosts(Supervisor *sup, GError **error) {
  g_autoptr(GPtrArray) hosts = uva_hostdir_prepare(sup->spec, error);
  if (!hosts)
    return FALSE;
  g_autofree char *root =
      uva_hostdir_resolve(sup->spec->state_dir, NULL, error);
  if (!root)
    return FALSE;
  for (guint i = 0; i < sup->containers->len; i++) {
    Container *c = sup->containers->pdata[i];
    c->host = g_steal_pointer(&hosts->pdata[i]);
    g_autofree char *dir = g_build_filename(root, c->spec->name, NULL);
    uva_autofd dir_fd = uva_hostdir_open_dir(dir, root, error);
    if (dir_fd < 0 || !(c->log = uva_logfile_open(dir_fd, dir, error))) {
      g_prefix_error(error, "container %s: ", c->spec->name);
      return FALSE;
    }
  }
  return TRUE;
}

/* The control sockets, and the helper that removes them (and the state of
 * `run --rm`) once the manager is gone. */
static gboolean open_control(Supervisor *sup, GError **error) {
  g_autoptr(GPtrArray) names = g_ptr_array_new();
  g_autoptr(GPtrArray) rm = g_ptr_array_new();
  for (guint i = 0; i < sup->containers->len; i++) {
    Container *c = sup->containers->pdata[i];
    g_ptr_array_add(names, c->spec->name);
    if (c->spec->remove_after)
      g_ptr_array_add(rm, c->spec->name);
  }
  g_ptr_array_add(names, NULL);
  g_ptr_array_add(rm, NULL);
  sup->ctl =
      uva_ctlserver_new(sup->spec->state_dir, (const char *const *)names->pdata,
                        &uva_container_ctl_ops, sup, error);
  if (!sup->ctl)
    return FALSE;
  uva_afterlife_start(sup->ctl, sup->spec->state_dir, (char **)rm->pdata,
                      sup->detach_fd < 0);
  return TRUE;
}

/* A foreground `run`: the app writes to the caller's own stdout and
 * stderr, as with bubblewrap: byte for byte, at full speed, EPIPE and
 * SIGPIPE as in a pipeline, and nothing for the manager's loop to carry.
 * The app has no controlling terminal (its own session), so TIOCSTI cannot
 * inject input into the caller's. */
static gboolean start_direct(Container *c, GError **error) {
  /* Where the caller's stdout or stderr is a pipe, the app gets a pipe of
   * ours instead and the kernel copies its bytes into the log on the way
   * (teeout.c); a terminal, a file or a socket it gets as it is. */
  int fds[2][2] = {{-1, -1}, {-1, -1}};
  for (int i = 0; i < 2 && !c->spec->tty; i++)
    if (uva_tee_wanted(1 + i) && uva_tee_pipe(fds[i]) < 0)
      return uva_fail_errno(error, errno, "pipe2");
  gboolean ok =
      uva_sandbox_start(c->spec, c->host->binds, !c->spec->no_network,
                        fds[0][1] >= 0 ? fds[0][1] : 1,
                        fds[1][1] >= 0 ? fds[1][1] : 2, &c->sb, error);
  for (int i = 0; i < 2; i++) {
    uva_close_fdp(&fds[i][1]);
    if (!ok)
      uva_close_fdp(&fds[i][0]);
  }
  if (!ok)
    return FALSE;
  if (fds[0][0] >= 0)
    c->tee_out = uva_tee_new(fds[0][0], 1, c->log, stream_closed, c->sup);
  if (fds[1][0] >= 0)
    c->tee_err = uva_tee_new(fds[1][0], 2, c->log, stream_closed, c->sup);
  return TRUE;
}

/* `up` and -d: each app's output comes through pipes, is shown prefixed
 * and kept in its log. */
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
  uva_stream_set_log(c->out, c->log);
  uva_stream_set_log(c->err, c->log);
  return TRUE;
}

static gboolean start_container(Container *c, GError **error) {
  Supervisor *sup = c->sup;
  c->started_at = g_get_real_time();
  gboolean direct = sup->app_status && sup->detach_fd < 0;
  gboolean started = direct ? start_direct(c, error) : start_piped(c, error);
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
   * MAX_DIALS, net/fwdcore.h, at a time), so it cannot starve the others. */
  c->sync_watch = uva_fd_watch_hot(c->sb.sync_fd, G_IO_IN | G_IO_HUP,
                                   G_PRIORITY_HIGH, uva_container_on_sync, c);
  return TRUE;
}

static void container_free(gpointer p) {
  Container *c = p;
  uva_container_checks_reset(c);
  if (c->bypass_check)
    g_source_remove(c->bypass_check);
  if (c->kill_timer)
    g_source_remove(c->kill_timer);
  uva_stream_free(c->out);
  uva_stream_free(c->err);
  uva_tee_free(c->tee_out);
  uva_tee_free(c->tee_err);
  if (c->sync_watch)
    g_source_remove(c->sync_watch);
  uva_close_fdp(&c->sb.sync_fd);
  uva_fwd_free(c->fwd);
  uva_bypass_free(c->bypass);
  uva_net_free(c->net);
  uva_hostdir_free(c->host);
  uva_logfile_free(c->log);
  g_free(c);
}

/* Once every container is cloned, the manager only forwards: it confines
 * itself (confine.c); kill() may still reach each init, and listen() the
 * published ports that wait for their app. */
static void confine_manager(Supervisor *sup) {
  g_autoptr(GArray) inits = g_array_new(FALSE, FALSE, sizeof(pid_t));
  g_autoptr(GArray) listen_fds = g_array_new(FALSE, FALSE, sizeof(int));
  for (guint i = 0; i < sup->containers->len; i++) {
    Container *c = sup->containers->pdata[i];
    if (c->sb.pid > 0)
      g_array_append_val(inits, c->sb.pid);
    uva_fwd_listener_fds(c->fwd, listen_fds);
  }
  g_autoptr(GError) error = NULL;
  if (!uva_confine_manager((const pid_t *)inits->data, inits->len,
                           (const int *)listen_fds->data, listen_fds->len,
                           &error))
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

/* Nothing ran: a name we made up for this run (run without --name) would
 * leave a STATE/run-XXXXXXXX nobody knows of, so its directory goes.  Its
 * /tmp lock is ours (hostdir.c), released first. */
static void forget_unstarted(Supervisor *sup) {
  for (guint i = 0; i < sup->containers->len; i++) {
    Container *c = sup->containers->pdata[i];
    if (!c->spec->name_generated)
      continue;
    g_clear_pointer(&c->host, uva_hostdir_free);
    (void)uva_hostdir_remove_state(sup->spec->state_dir, c->spec->name, NULL);
  }
}

static gboolean start_all(Supervisor *sup, GError **error) {
  /* Everything that can fail without a process is done first, so a taken
   * port or a bad directory starts nothing; ports before directories, so a
   * taken port does not even create a state directory. */
  for (guint i = 0; i < sup->containers->len; i++)
    if (!publish_ports(sup->containers->pdata[i], error))
      return FALSE;
  if (!prepare_hosts(sup, error) || !open_control(sup, error)) {
    forget_unstarted(sup);
    return FALSE;
  }
  for (guint i = 0; i < sup->containers->len; i++) {
    Container *c = sup->containers->pdata[i];
    GError *local = NULL;
    if (!start_container(c, &local)) {
      /* This one and the ones after it never started: nothing to wait for
       * from them; the ones before are stopped and waited for. */
      for (guint j = i; j < sup->containers->len; j++) {
        ((Container *)sup->containers->pdata[j])->reaped = TRUE;
        ((Container *)sup->containers->pdata[j])->state = CT_EXITED;
      }
      fail_startup(sup, local);
      break;
    }
  }
  if (!sup->failure)
    confine_manager(sup);
  if (sup->opt->wait_timeout && !sup->failure)
    sup->wait_timer =
        g_timeout_add_seconds(sup->opt->wait_timeout, on_wait_timeout, sup);
  return TRUE;
}

int uva_supervisor_run(UvaSpec *spec, const UvaSupervisorOptions *opt,
                       GError **error) {
  Supervisor sup = {.ops = &sup_ops,
                    .spec = spec,
                    .opt = opt,
                    .signal_fd = -1,
                    .app_status = opt->app_status,
                    .first_failure = -1,
                    .stop_timeout = -1,
                    .detach_fd = opt->detach_fd,
                    .null_fd = -1,
                    .notify_fd = -1};
  output_open(&sup);
  sup.notify_fd = uva_notify_open();
  /* Opened now: the confined manager may not open for writing. */
  if (sup.detach_fd >= 0)
    sup.null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  sup.containers = g_ptr_array_new_with_free_func(container_free);
  sup.loop = g_main_loop_new(NULL, FALSE);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGCHLD);
  if (sup.app_status)
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
  if (sup.app_status && sup.containers->len == 1)
    sup.prefix_width = 0; /* one app: its output, untouched */
  uva_sandbox_raise_nofile();
  if (!start_all(&sup, error))
    goto out;
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
  uva_ptyjoin_free(sup.pty);
  if (sup.kill_timer)
    g_source_remove(sup.kill_timer);
  if (sup.wait_timer)
    g_source_remove(sup.wait_timer);
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
  uva_ctlserver_free(sup.ctl);
  g_ptr_array_unref(sup.containers);
  uva_close_fdp(&sup.notify_fd);
  uva_close_fdp(&sup.detach_fd);
  uva_close_fdp(&sup.null_fd);
  output_close(&sup);
  g_main_loop_unref(sup.loop);
  if (error && *error)
    return 1;
  return sup.exit_code;
}
