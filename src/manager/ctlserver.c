/* ctlserver.c - the manager's control socket (ctl.h).
 *
 * One listening socket serves every container of this manager; each
 * container's NAME.sock is a hard link to it (link(2): a name, no new
 * inode), and every request names its container (ctl.h).  A socket and a
 * record per container cost two inode allocations each, and on ext4
 * without a journal each allocation skips every inode freed in the last
 * 30 s (fs/ext4/ialloc.c, recently_deleted()): `up` of 256 containers
 * right after another spent 110 ms of its start-up there (perf, issue 24).
 *
 * Bound and listening before the manager confines itself (confine.c: no
 * bind, listen or new unix socket after start-up); accept(2) and
 * recvmsg(2) stay allowed.  Every peer is checked with SO_PEERCRED
 * (unix(7)): only our own uid is served, even if the directory's mode
 * were loosened.  Nothing here blocks: accepts, reads and answers are
 * non-blocking, at most MAX_CLIENTS are served at once and a client that
 * does not read its answer loses it.  At the cap the listener is not
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
  UvaCtlServer *srv;
  int fd;
  guint watch;
  guint idle;    /* drops the client after IDLE_S s without a request */
  char *waiting; /* a STOP's name ("" all) until it has ended */
} Client;

struct UvaCtlServer {
  int dir_fd;
  int fd;             /* the listening socket */
  guint watch;        /* on fd; 0 while paused */
  ino_t ino;          /* its inode: what every name below links to */
  char *record;       /* its record (ctltrust.h) */
  GPtrArray *files;   /* NAME.sock, one per container, as linked */
  GPtrArray *clients; /* of Client* */
  UvaCtlOps ops;
  gpointer data;
  uid_t uid; /* ours, read before the confinement (which refuses geteuid) */
  gboolean paused; /* at MAX_CLIENTS: the listener is not watched */
};

static gboolean on_listener(int fd, GIOCondition cond, gpointer data);

static void watch_listener(UvaCtlServer *s, gboolean on) {
  if (s->paused == !on)
    return;
  s->paused = !on;
  if (s->watch)
    g_source_remove(s->watch);
  s->watch = on ? g_unix_fd_add(s->fd, G_IO_IN, on_listener, s) : 0;
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
    watch_listener(s, TRUE);
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
      watch_listener(s, FALSE);
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

/* Bound under a temporary name, recorded, and only then linked to the
 * names a client looks for, so that a client never meets a socket nobody
 * listens on yet and takes it for a dead manager's (ctl.c removes those). */
static gboolean make_listener(UvaCtlServer *s, GError **error) {
  g_autofree char *tmp = g_strdup_printf(".ctl.%d", (int)getpid());
  (void)unlinkat(s->dir_fd, tmp, 0);
  s->fd = bind_listen(s->dir_fd, tmp);
  if (s->fd < 0)
    return uva_fail_errno(error, errno, "control socket");
  struct stat st;
  if (fstatat(s->dir_fd, tmp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    uva_fail_errno(error, errno, "control socket");
    (void)unlinkat(s->dir_fd, tmp, 0);
    return FALSE;
  }
  s->ino = st.st_ino;
  if (!uva_ctltrust_record(s->dir_fd, "this manager", tmp, &s->record, error)) {
    (void)unlinkat(s->dir_fd, tmp, 0);
    return FALSE;
  }
  return TRUE;
}

/* NAME.sock, a link to the listener (tmp); EEXIST from a live manager is
 * "already running", a dead one's socket is removed and the link tried
 * again once. */
static gboolean link_name(UvaCtlServer *s, const char *tmp, const char *name,
                          GError **error) {
  g_autofree char *file = g_strdup_printf("%s.sock", name);
  for (int attempt = 0;; attempt++) {
    if (linkat(s->dir_fd, tmp, s->dir_fd, file, 0) == 0)
      break;
    int e = errno;
    g_autoptr(GError) local = NULL;
    int other = e == EEXIST && attempt == 0
                    ? uva_ctl_connect_dir(s->dir_fd, name, &local)
                    : -1;
    if (other >= 0 || attempt > 0 || e != EEXIST) {
      uva_close_fdp(&other);
      if (e == EEXIST)
        return uva_fail(error,
                        "a container named %s is already running (see "
                        "uva_container ps; stop it or choose another name)",
                        name);
      return uva_fail_errno(error, e, "control socket for %s", name);
    }
    /* A dead manager's socket: uva_ctl_connect_dir() removed it. */
  }
  g_ptr_array_add(s->files, g_steal_pointer(&file));
  return TRUE;
}

/* Undoes a start that failed half-way: the names linked so far (if still
 * ours), the record, the listener. */
static void unmake(UvaCtlServer *s) {
  for (guint i = 0; i < s->files->len; i++) {
    struct stat st;
    if (fstatat(s->dir_fd, s->files->pdata[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        st.st_ino == s->ino)
      (void)unlinkat(s->dir_fd, s->files->pdata[i], 0);
  }
  g_ptr_array_set_size(s->files, 0);
  if (s->record)
    (void)unlinkat(s->dir_fd, s->record, 0);
}

UvaCtlServer *uva_ctlserver_new(const char *state_dir, const char *const *names,
                                const UvaCtlOps *ops, gpointer data,
                                GError **error) {
  UvaCtlServer *s = g_new0(UvaCtlServer, 1);
  s->fd = -1;
  s->files = g_ptr_array_new_with_free_func(g_free);
  s->clients = g_ptr_array_new_with_free_func(client_free);
  s->ops = *ops;
  s->data = data;
  s->uid = geteuid();
  s->dir_fd = uva_ctl_rundir(state_dir, NULL, error);
  if (s->dir_fd < 0 || !make_listener(s, error)) {
    uva_ctlserver_free(s);
    return NULL;
  }
  g_autofree char *tmp = g_strdup_printf(".ctl.%d", (int)getpid());
  for (const char *const *n = names; *n; n++)
    if (!link_name(s, tmp, *n, error)) {
      unmake(s);
      (void)unlinkat(s->dir_fd, tmp, 0);
      uva_ctlserver_free(s);
      return NULL;
    }
  /* The names hold the socket now; the temporary one would only be
   * litter after a SIGKILL. */
  (void)unlinkat(s->dir_fd, tmp, 0);
  s->watch = g_unix_fd_add(s->fd, G_IO_IN, on_listener, s);
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

guint uva_ctlserver_n_sockets(const UvaCtlServer *s) { return s->files->len; }

const char *uva_ctlserver_socket(const UvaCtlServer *s, guint i, ino_t *ino) {
  *ino = s->ino;
  return s->files->pdata[i];
}

void uva_ctlserver_free(UvaCtlServer *s) {
  if (!s)
    return;
  g_ptr_array_unref(s->clients);
  if (s->watch)
    g_source_remove(s->watch);
  uva_close_fdp(&s->fd);
  g_ptr_array_unref(s->files);
  g_free(s->record);
  uva_close_fdp(&s->dir_fd);
  g_free(s);
}
