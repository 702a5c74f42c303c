/* ctlserver.c - the manager's control sockets (ctl.h).
 *
 * Bound and listening before the manager confines itself (confine.c: no
 * bind, listen or new unix socket after start-up); accept(2) and
 * recvmsg(2) stay allowed.  Every peer is checked with SO_PEERCRED
 * (unix(7)): only our own uid is served, even if the directory's mode
 * were loosened.  Nothing here blocks: accepts, reads and answers are
 * non-blocking, at most MAX_CLIENTS are served at once and a client that
 * does not read its answer loses it.  At the cap the listeners are not
 * accepted from: a client waits in the backlog (unix(7): connect blocks
 * while it is full) instead of being closed unanswered, and one that
 * says nothing for IDLE_S seconds (not a STOP waiting for its end) is
 * dropped, so that idle connections cannot hold the slots for ever. */
#include "manager/ctlserver.h"

#include "base/util.h"
#include "ipc/ctltrust.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#define MAX_CLIENTS 32
#define ACCEPT_BUDGET 8
#define IDLE_S 2

typedef struct {
  int fd;
  char *name;
  ino_t ino;
  guint watch;
} Listener;

typedef struct {
  UvaCtlServer *srv;
  int fd;
  guint watch;
  guint idle;    /* drops the client after IDLE_S s without a request */
  char *waiting; /* a STOP's name ("" all) until it has ended */
} Client;

struct UvaCtlServer {
  int dir_fd;
  GArray *listeners;  /* of Listener */
  GPtrArray *clients; /* of Client* */
  UvaCtlOps ops;
  gpointer data;
  uid_t uid; /* ours, read before the confinement (which refuses geteuid) */
  gboolean paused; /* at MAX_CLIENTS: the listeners are not watched */
};

static gboolean on_listener(int fd, GIOCondition cond, gpointer data);

static void watch_listeners(UvaCtlServer *s, gboolean on) {
  if (s->paused == !on)
    return;
  s->paused = !on;
  for (guint i = 0; i < s->listeners->len; i++) {
    Listener *l = &g_array_index(s->listeners, Listener, i);
    if (l->watch)
      g_source_remove(l->watch);
    l->watch = on ? g_unix_fd_add(l->fd, G_IO_IN, on_listener, s) : 0;
  }
}

static void client_free(gpointer p) {
  Client *c = p;
  if (c->watch)
    g_source_remove(c->watch);
  if (c->idle)
    g_source_remove(c->idle);
  uva_close_fdp(&c->fd);
  g_free(c->waiting);
  g_free(c);
}

/* A STOP's OK, saying whether the manager exits next (nothing left
 * running): the client then waits for its exit (cli.c). */
static const char *stop_answer(UvaCtlServer *s) {
  return s->ops.running(s->data, "") ? NULL : UVA_CTL_EXITING;
}

static void answer(Client *c, UvaCtlType type, const char *text) {
  UvaCtlHead h = {.type = type};
  (void)uva_ctl_send(c->fd, &h, text, text ? strlen(text) : 0, NULL, 0, NULL);
}

static void drop(Client *c) {
  UvaCtlServer *s = c->srv;
  g_ptr_array_remove(s->clients, c); /* frees c */
  if (s->clients->len < MAX_CLIENTS)
    watch_listeners(s, TRUE);
}

static gboolean on_idle(gpointer data) {
  Client *c = data;
  if (c->waiting)
    return G_SOURCE_CONTINUE; /* a STOP: its answer comes at the end */
  c->idle = 0;
  drop(c);
  return G_SOURCE_REMOVE;
}

static void handle(Client *c, const UvaCtlHead *h, int fd) {
  UvaCtlServer *s = c->srv;
  g_autoptr(GError) error = NULL;
  switch (h->type) {
  case UVA_CTL_PS: {
    g_autoptr(GPtrArray) lines = s->ops.ps(s->data);
    g_ptr_array_add(lines, NULL);
    g_autofree char *text = g_strjoinv("\n", (char **)lines->pdata);
    if (strlen(text) > UVA_CTL_PAYLOAD_MAX)
      text[UVA_CTL_PAYLOAD_MAX] = '\0';
    answer(c, UVA_CTL_OK, text);
    break;
  }
  case UVA_CTL_STOP:
    if (!s->ops.stop(s->data, h->name, h->value, &error)) {
      answer(c, UVA_CTL_ERR, error->message);
    } else if (!s->ops.running(s->data, h->name)) {
      answer(c, UVA_CTL_OK, stop_answer(s));
    } else {
      g_free(c->waiting);
      c->waiting = g_strdup(h->name);
    }
    break;
  case UVA_CTL_EXEC:
    if (fd < 0)
      answer(c, UVA_CTL_ERR, "exec without its socket");
    else if (!s->ops.exec(s->data, h->name, uva_steal_fd(&fd), &error))
      answer(c, UVA_CTL_ERR, error->message);
    else
      answer(c, UVA_CTL_OK, NULL);
    break;
  default:
    answer(c, UVA_CTL_ERR, "unknown request");
    break;
  }
  uva_close_fdp(&fd);
}

static gboolean on_client(int fd, GIOCondition cond, gpointer data) {
  Client *c = data;
  (void)cond;
  UvaCtlHead h;
  g_autofree char *payload = NULL;
  int fds[3];
  gboolean eof;
  g_autoptr(GError) error = NULL;
  if (!uva_ctl_recv(fd, &h, &payload, fds, &eof, &error)) {
    if (!error && !eof)
      return G_SOURCE_CONTINUE; /* a wakeup without a message */
    c->watch = 0;
    drop(c);
    return G_SOURCE_REMOVE;
  }
  uva_close_fdp(&fds[1]);
  uva_close_fdp(&fds[2]);
  if (c->idle)
    g_source_remove(c->idle);
  c->idle = g_timeout_add_seconds(IDLE_S, on_idle, c);
  handle(c, &h, fds[0]);
  return G_SOURCE_CONTINUE;
}

static gboolean on_listener(int fd, GIOCondition cond, gpointer data) {
  UvaCtlServer *s = data;
  (void)cond;
  for (int i = 0; i < ACCEPT_BUDGET; i++) {
    uva_autofd conn = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn < 0)
      break; /* EAGAIN, or a failure that costs that one client */
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
        cred.uid != s->uid) {
      UvaCtlHead h = {.type = UVA_CTL_ERR};
      const char *why = "refused: this manager serves only its own user";
      (void)uva_ctl_send(conn, &h, why, strlen(why), NULL, 0, NULL);
      continue;
    }
    Client *c = g_new0(Client, 1);
    c->srv = s;
    c->fd = uva_steal_fd(&conn);
    c->watch =
        g_unix_fd_add(c->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_client, c);
    c->idle = g_timeout_add_seconds(IDLE_S, on_idle, c);
    g_ptr_array_add(s->clients, c);
    if (s->clients->len >= MAX_CLIENTS) {
      /* The rest wait in the backlog until a slot is free (drop). */
      watch_listeners(s, FALSE);
      return G_SOURCE_REMOVE;
    }
  }
  return G_SOURCE_CONTINUE;
}

static int bind_listen(int dir_fd, const char *file) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  g_snprintf(sun.sun_path, sizeof sun.sun_path, "/proc/self/fd/%d/%s", dir_fd,
             file);
  uva_autofd fd =
      socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 ||
      listen(fd, 16) < 0)
    return -1;
  return uva_steal_fd(&fd);
}

/* Bound under a temporary name and renamed (RENAME_NOREPLACE) once it
 * listens, so that a client never meets a socket nobody listens on yet
 * and takes it for a dead manager's (ctl.c removes those). */
static gboolean add_listener(UvaCtlServer *s, const char *name,
                             GError **error) {
  g_autofree char *tmp = g_strdup_printf(".%s.%d", name, (int)getpid());
  g_autofree char *file = g_strdup_printf("%s.sock", name);
  (void)unlinkat(s->dir_fd, tmp, 0);
  int fd = bind_listen(s->dir_fd, tmp);
  if (fd < 0)
    return uva_fail_errno(error, errno, "control socket for %s", name);
  /* The record a client checks (ctltrust.c), before the socket has the
   * name a client looks for. */
  g_autofree char *record = NULL;
  struct stat st;
  if (fstatat(s->dir_fd, tmp, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
      !uva_ctltrust_record(s->dir_fd, name, tmp, &record, error)) {
    if (error && !*error)
      uva_fail_errno(error, errno, "control socket for %s", name);
    (void)unlinkat(s->dir_fd, tmp, 0);
    close(fd);
    return FALSE;
  }
  Listener l = {.fd = fd, .name = g_strdup(file), .ino = st.st_ino};
  for (int attempt = 0;; attempt++) {
    if (renameat2(s->dir_fd, tmp, s->dir_fd, file, RENAME_NOREPLACE) == 0)
      break;
    int e = errno;
    g_autoptr(GError) local = NULL;
    int other = e == EEXIST && attempt == 0
                    ? uva_ctl_connect_dir(s->dir_fd, name, &local)
                    : -1;
    if (other >= 0 || attempt > 0 || e != EEXIST) {
      uva_close_fdp(&other);
      (void)unlinkat(s->dir_fd, record, 0);
      (void)unlinkat(s->dir_fd, tmp, 0);
      close(fd);
      g_free(l.name);
      if (e == EEXIST)
        return uva_fail(error,
                        "a container named %s is already running (see "
                        "uva_container ps; stop it or choose another name)",
                        name);
      return uva_fail_errno(error, e, "control socket for %s", name);
    }
    /* A dead manager's socket: uva_ctl_connect_dir() removed it. */
  }
  l.watch = g_unix_fd_add(fd, G_IO_IN, on_listener, s);
  g_array_append_val(s->listeners, l);
  return TRUE;
}

UvaCtlServer *uva_ctlserver_new(const char *state_dir, const char *const *names,
                                const UvaCtlOps *ops, gpointer data,
                                GError **error) {
  UvaCtlServer *s = g_new0(UvaCtlServer, 1);
  s->listeners = g_array_new(FALSE, TRUE, sizeof(Listener));
  s->clients = g_ptr_array_new_with_free_func(client_free);
  s->ops = *ops;
  s->data = data;
  s->uid = geteuid();
  s->dir_fd = uva_ctl_rundir(state_dir, NULL, error);
  if (s->dir_fd < 0) {
    uva_ctlserver_free(s);
    return NULL;
  }
  for (const char *const *n = names; *n; n++)
    if (!add_listener(s, *n, error)) {
      uva_ctlserver_free(s);
      return NULL;
    }
  return s;
}

void uva_ctlserver_ended(UvaCtlServer *s, const char *name) {
  if (!s)
    return;
  for (guint i = s->clients->len; i-- > 0;) {
    Client *c = s->clients->pdata[i];
    if (!c->waiting)
      continue;
    gboolean done = name ? g_str_equal(c->waiting, name)
                         : !s->ops.running(s->data, c->waiting);
    if (done) {
      g_clear_pointer(&c->waiting, g_free);
      answer(c, UVA_CTL_OK, stop_answer(s));
    }
  }
}

int uva_ctlserver_dir_fd(const UvaCtlServer *s) { return s->dir_fd; }

guint uva_ctlserver_n_sockets(const UvaCtlServer *s) {
  return s->listeners->len;
}

const char *uva_ctlserver_socket(const UvaCtlServer *s, guint i, ino_t *ino) {
  const Listener *l = &g_array_index(s->listeners, Listener, i);
  *ino = l->ino;
  return l->name;
}

void uva_ctlserver_free(UvaCtlServer *s) {
  if (!s)
    return;
  g_ptr_array_unref(s->clients);
  for (guint i = 0; i < s->listeners->len; i++) {
    Listener *l = &g_array_index(s->listeners, Listener, i);
    if (l->watch)
      g_source_remove(l->watch);
    uva_close_fdp(&l->fd);
    g_free(l->name);
  }
  g_array_unref(s->listeners);
  uva_close_fdp(&s->dir_fd);
  g_free(s);
}
