/* container.c - one container as the manager sees it after its clone: the
 * messages of its init (sync socket), its readiness (ready.c), its end,
 * and what the control channel asks of it (`ps`, `stop`, `exec`).  The
 * lifecycle is the explicit state of state.h: STARTING -> RUNNING ->
 * STOPPING -> EXITED. */
#include "manager/container.h"

#include "base/util.h"
#include "ipc/msg.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

static int exit_code_of(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void uva_container_checks_reset(Container *c) {
  g_clear_pointer(&c->checks, uva_ready_free);
  if (c->bypass_check)
    g_source_remove(c->bypass_check);
  c->bypass_check = 0;
}

/* A failure of one container: at start-up it fails the whole start; later
 * it ends this container only (SIGKILL to its init takes its whole pid
 * namespace, pid_namespaces(7)), with one line naming it.  Takes error. */
void uva_container_fail(Container *c, GError *error) {
  if (c->state == CT_STARTING) {
    c->sup->ops->fail_startup(c->sup, error);
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

/* Readiness (ready.c) ------------------------------------------------------ */

static gboolean answer_bypass(gpointer data) {
  Container *c = data;
  c->bypass_check = 0;
  for (guint i = 0; c->checks && i < c->spec->publish->len; i++) {
    const UvaPublish *p = &g_array_index(c->spec->publish, UvaPublish, i);
    if (!p->udp)
      uva_ready_answer(c->checks, p->container_port,
                       uva_bypass_listening(c->bypass, p->container_port));
  }
  return G_SOURCE_REMOVE;
}

static gboolean ask_listening(guint16 port, gpointer data) {
  Container *c = data;
  /* --port-driver bypass: the app listens on the host socket itself,
   * which this manager holds a copy of (SO_ACCEPTCONN); answered from
   * the loop, never from inside the question. */
  if (c->spec->port_driver == UVA_PORT_DRIVER_BYPASS && c->bypass) {
    if (!c->bypass_check)
      c->bypass_check = g_idle_add(answer_bypass, c);
    return TRUE;
  }
  if (c->sb.sync_fd < 0)
    return FALSE;
  UvaMsg m = {.type = UVA_MSG_LISTENING_Q, .arg = port};
  return uva_msg_send(c->sb.sync_fd, &m, -1, NULL);
}

static void on_listening(guint16 port, gpointer data) {
  Container *c = data;
  GError *error = NULL;
  if (c->fwd && !uva_fwd_listen(c->fwd, port, &error)) {
    g_prefix_error(&error, "container %s: ", c->spec->name);
    uva_container_fail(c, error);
  }
}

static gboolean ready_later(gpointer data) {
  Container *c = data;
  uva_container_checks_reset(c);
  return G_SOURCE_REMOVE;
}

static void on_ready(gpointer data) {
  Container *c = data;
  c->ready = TRUE;
  /* Called from inside the checks: they are freed once they returned. */
  g_idle_add(ready_later, c);
  c->sup->ops->announce(c->sup);
}

static const UvaReadyOps ready_ops = {ask_listening, on_listening, on_ready};

/* The sync socket -------------------------------------------------------- */

static void on_outlived(Container *c, const UvaMsg *msg) {
  /* The names are the processes' own (prctl(PR_SET_NAME) sets any bytes):
   * escaped, so that none reaches the terminal as a control sequence. */
  g_autoptr(GString) names = g_string_new(NULL);
  uva_output_escape(names, msg->text, strnlen(msg->text, 100));
  fprintf(stderr,
          "uva_container: %s: %d process%s (%s) outlived the "
          "app and %s killed (did it daemonize? run it in the "
          "foreground, e.g. redis-server --daemonize no)\n",
          c->spec->name, msg->value, msg->value == 1 ? "" : "es", names->str,
          msg->value == 1 ? "was" : "were");
}

static void pty_closed(gpointer data) {
  Supervisor *sup = data;
  sup->ops->maybe_quit(sup);
}

gboolean uva_container_on_sync(int fd, GIOCondition cond, gpointer data) {
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
      uva_container_fail(c, error);
    }
    return G_SOURCE_REMOVE;
  }
  switch (msg.type) {
  case UVA_MSG_TAP:
    if (passed_fd < 0) {
      uva_container_fail(
          c, g_error_new(UVA_ERROR, UVA_ERROR_FAILED, "%s: %s", c->spec->name,
                         fd_lost ? "its tap fd could not be "
                                   "received (the manager is at its "
                                   "open-file limit)"
                                 : "TAP message without an fd"));
      break;
    }
    if (!uva_net_attach_tap(c->net, passed_fd, &error))
      uva_container_fail(c, error);
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
  case UVA_MSG_LISTENING:
    uva_ready_answer(c->checks, (guint16)msg.arg, msg.err == 0);
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
    if (c->state == CT_RUNNING && !c->checks && !c->ready)
      c->checks = uva_ready_new(c->spec, &ready_ops, c);
    break;
  case UVA_MSG_OUTLIVED:
    /* Sent just before init exits: read before its SIGCHLD, like READY
     * and ERROR (the sync watch's priority, supervisor.c). */
    on_outlived(c, &msg);
    break;
  case UVA_MSG_HOSTSOCK_REQ: /* --outbound bypass (bypass.c) */
    if (c->bypass && c->sb.sync_fd >= 0)
      uva_bypass_serve(c->bypass, &msg, c->sb.sync_fd);
    uva_close_fdp(&passed_fd);
    break;
  case UVA_MSG_PTY:
    if (passed_fd >= 0 && c->spec->tty && c->sup->pty)
      uva_ptyjoin_attach(c->sup->pty, uva_steal_fd(&passed_fd), pty_closed,
                         c->sup);
    uva_close_fdp(&passed_fd);
    break;
  case UVA_MSG_ERROR:
    uva_container_fail(c, g_error_new(UVA_ERROR, UVA_ERROR_FAILED,
                                      "container %s: %s", c->spec->name,
                                      msg.text));
    break;
  default:
    uva_close_fdp(&passed_fd);
    break;
  }
  return G_SOURCE_CONTINUE;
}

/* Its end ----------------------------------------------------------------- */

static void say_end(Container *c, int status) {
  if (WIFEXITED(status))
    fprintf(stderr, "uva_container: %s: %s exited with status %d\n",
            c->spec->name, c->spec->argv[0], WEXITSTATUS(status));
  else if (WIFSIGNALED(status))
    fprintf(stderr,
            "uva_container: %s: its init was killed by signal %d "
            "(%s)\n",
            c->spec->name, WTERMSIG(status), strsignal(WTERMSIG(status)));
}

void uva_container_reaped(Container *c, int status) {
  Supervisor *sup = c->sup;
  /* Ended for a failure (uva_container_fail): its line is printed
   * already.  Stopped by `stop NAME`: no failure, no line. */
  gboolean stopped = c->stop_requested;
  gboolean failed = c->state == CT_STOPPING && !sup->stopping && !stopped;
  gboolean was_ready = c->ready;
  c->state = CT_EXITED;
  c->reaped = TRUE;
  c->wait_status = status;
  uva_container_checks_reset(c);
  if (c->kill_timer)
    g_source_remove(c->kill_timer);
  c->kill_timer = 0;
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
  uva_ctlserver_ended(sup->ctl, c->spec->name);

  int code = exit_code_of(status);
  if (!sup->stopping && c->app_started && !was_ready && !sup->announced &&
      (sup->detach_fd >= 0 || sup->opt->wait_timeout)) {
    /* -d: the caller waits for every container to be ready, and this one
     * never will be. */
    sup->ops->fail_startup(
        sup, g_error_new(UVA_ERROR, UVA_ERROR_FAILED,
                         "container %s: %s ended (status %d) before it was "
                         "ready",
                         c->spec->name, c->spec->argv[0], code));
  } else if (sup->app_status && c->app_started) {
    /* init already turned the app's death by signal n into 128+n.  Init
     * itself never dies by a signal of its own doing: one that did was
     * killed from outside, with its whole pid namespace, and the status
     * alone would read as the app's SIGKILL. */
    if (WIFSIGNALED(status) && !failed && !stopped && !sup->stopping)
      say_end(c, status);
    sup->exit_code = code;
  } else if (!sup->stopping && c->app_started) {
    if (!failed && !stopped)
      say_end(c, status);
    /* One-shot jobs (docker compose's habit): when the last app is done,
     * 0 if every app exited 0, else the first failing app's status; with
     * --exit-code-from NAME, that app's.  A container ended by `stop` is
     * no failure. */
    if (code != 0 && !stopped && sup->first_failure < 0)
      sup->first_failure = code;
    const char *from = sup->opt->exit_code_from;
    if (from && g_str_equal(from, c->spec->name))
      sup->exit_from_code = code;
    gboolean any_left = FALSE;
    for (guint i = 0; i < sup->containers->len; i++)
      any_left |= !((Container *)sup->containers->pdata[i])->reaped;
    if (!any_left) {
      fprintf(stderr, "uva_container: no container is left running\n");
      sup->exit_code = from ? sup->exit_from_code : MAX(sup->first_failure, 0);
    }
  } else if (!sup->stopping) {
    /* Died before its app started, without a message: say so. */
    sup->ops->fail_startup(sup,
                           g_error_new(UVA_ERROR, UVA_ERROR_FAILED,
                                       "container %s: init ended during set-up "
                                       "(wait status 0x%x)",
                                       c->spec->name, (unsigned)status));
  }
  gboolean any_left = FALSE;
  for (guint i = 0; i < sup->containers->len; i++)
    any_left |= !((Container *)sup->containers->pdata[i])->reaped;
  if (!any_left)
    uva_ctlserver_ended(sup->ctl, NULL);
}

static gboolean on_kill_timer(gpointer data) {
  Container *c = data;
  c->kill_timer = 0;
  if (!c->reaped) {
    fprintf(stderr, "uva_container: %s did not stop in time: killing it\n",
            c->spec->name);
    kill(c->sb.pid, SIGKILL);
  }
  return G_SOURCE_REMOVE;
}

void uva_container_stop(Container *c, int sig, int timeout_s) {
  if (c->reaped || c->stop_requested)
    return;
  c->stop_requested = TRUE;
  uva_container_checks_reset(c);
  c->state = CT_STOPPING;
  kill(c->sb.pid, sig);
  guint t = timeout_s >= 0 ? (guint)timeout_s : c->spec->stop_timeout;
  c->kill_timer = g_timeout_add_seconds(t, on_kill_timer, c);
}

/* The control channel (ctlserver.c) -----------------------------------------
 */

static Container *find(Supervisor *sup, const char *name) {
  for (guint i = 0; i < sup->containers->len; i++) {
    Container *c = sup->containers->pdata[i];
    if (g_str_equal(c->spec->name, name))
      return c;
  }
  return NULL;
}

static const char *state_name(const Container *c) {
  switch (c->state) {
  case CT_STARTING:
    return "starting";
  case CT_RUNNING:
    return c->ready ? "ready" : "starting";
  case CT_STOPPING:
    return "stopping";
  case CT_EXITED:
  default:
    return "exited";
  }
}

static GPtrArray *ctl_ps(gpointer data) {
  Supervisor *sup = data;
  GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < sup->containers->len; i++) {
    Container *c = sup->containers->pdata[i];
    g_autoptr(GString) ports = g_string_new(NULL);
    for (guint j = 0; j < c->spec->publish->len; j++) {
      const UvaPublish *p = &g_array_index(c->spec->publish, UvaPublish, j);
      UvaPublish tcp = *p;
      tcp.udp = FALSE; /* the host string without its "/udp" */
      g_autofree char *host = uva_publish_host_string(&tcp);
      g_string_append_printf(ports, "%s%s->%u/%s", ports->len ? ", " : "", host,
                             p->container_port, p->udp ? "udp" : "tcp");
    }
    g_autofree char *status =
        c->reaped ? g_strdup_printf("%d", exit_code_of(c->wait_status))
                  : g_strdup("-");
    g_ptr_array_add(
        lines, g_strdup_printf(
                   "%s\t%s\t%s\t%" G_GINT64_FORMAT "\t%d\t%s\t%s",
                   c->spec->name, state_name(c), ports->len ? ports->str : "-",
                   c->started_at / G_USEC_PER_SEC, (int)getpid(),
                   sup->spec->file ? sup->spec->file : "-", status));
  }
  return lines;
}

static gboolean ctl_stop(gpointer data, const char *name, int timeout_s,
                         GError **error) {
  Supervisor *sup = data;
  if (!name[0]) { /* down: everything, and the manager exits 0 */
    if (!sup->stopping)
      fprintf(sup->info, "uva_container: stop requested: stopping all "
                         "containers\n");
    sup->stop_timeout = timeout_s;
    sup->ops->stop_all(sup, SIGTERM);
    return TRUE;
  }
  Container *c = find(sup, name);
  if (!c)
    return uva_fail(error, "no container %s in this manager", name);
  uva_container_stop(c, c->spec->stop_signal, timeout_s);
  return TRUE;
}

static gboolean ctl_running(gpointer data, const char *name) {
  Supervisor *sup = data;
  for (guint i = 0; i < sup->containers->len; i++) {
    Container *c = sup->containers->pdata[i];
    if (!c->reaped && (!name[0] || g_str_equal(c->spec->name, name)))
      return TRUE;
  }
  return FALSE;
}

static gboolean ctl_exec(gpointer data, const char *name, int fd,
                         GError **error) {
  uva_autofd sock = fd;
  Container *c = find(data, name);
  if (!c)
    return uva_fail(error, "no container %s in this manager", name);
  if (c->state != CT_RUNNING || c->sb.sync_fd < 0)
    return uva_fail(error, "container %s is %s, not running", name,
                    state_name(c));
  /* The command would not be under the app's notifier (unotify.c): it
   * could take the app's host sockets with pidfd_getfd(2) and use them
   * unchecked. */
  if (c->bypass)
    return uva_fail(error,
                    "container %s uses a bypass driver: exec is not "
                    "available there (a command outside the app's notifier "
                    "could use its host sockets)",
                    name);
  UvaMsg m = {.type = UVA_MSG_EXEC};
  return uva_msg_send(c->sb.sync_fd, &m, sock, error);
}

const UvaCtlOps uva_container_ctl_ops = {ctl_ps, ctl_stop, ctl_running,
                                         ctl_exec};
