/* ctl.h - the control channel: how `ps`, `stop`, `down`, `exec` and
 * `logs -f` reach a running manager.  Each container has a unix socket
 * NAME.sock in the run directory ($XDG_RUNTIME_DIR/uva_container, else
 * STATE/run), a directory of ours at mode 0700; the manager checks every
 * peer with SO_PEERCRED as well, and a command checks that its peer is the
 * manager that made the socket before it sends anything (ctltrust.c).
 * SOCK_SEQPACKET: one request or answer per datagram, a header and a payload,
 * up to three fds riding along. */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum {
  /* client -> manager */
  UVA_CTL_PS = 1, /* answer: UVA_CTL_OK, one line per container (below) */
  UVA_CTL_STOP,   /* name ("" all), value = timeout s or -1: the spec's;
                     answer UVA_CTL_OK when the container has ended, with
                     UVA_CTL_EXITING when no container of the manager is
                     left running: it exits next */
  UVA_CTL_EXEC,   /* name, fd = a socket the exec side talks over (below);
                     answer UVA_CTL_OK once it went to the container */
  /* manager -> client */
  UVA_CTL_OK,
  UVA_CTL_ERR, /* payload: one line saying why */
  /* exec: client <-> the helper init forks in the container */
  UVA_CTL_EXEC_REQ,    /* client: flags, rows/cols in value, payload:
                          cwd\0 argv...\0\0 env...\0; fds: stdin (with -i),
                          stdout, stderr */
  UVA_CTL_EXEC_PTY,    /* helper: fd = the pty master (exec -t) */
  UVA_CTL_EXEC_SIGNAL, /* client: value = a signal for the command */
  UVA_CTL_EXEC_EXIT,   /* helper: value = the command's status (128+n) */
} UvaCtlType;

#define UVA_CTL_EXEC_TTY 1u
#define UVA_CTL_EXEC_STDIN 2u

#define UVA_CTL_NAME_MAX 64
/* The largest payload: a command line and environment of exec. */
#define UVA_CTL_PAYLOAD_MAX (60 * 1024)

typedef struct {
  uint32_t type;
  uint32_t flags;
  int32_t value;
  uint32_t len; /* payload bytes after the header */
  char name[UVA_CTL_NAME_MAX];
} UvaCtlHead;

/* A PS line: tab-separated fields, in this order. */
typedef enum {
  UVA_PS_NAME,
  UVA_PS_STATE,   /* starting, ready, stopping, exited */
  UVA_PS_PORTS,   /* "127.0.0.1:18080->8080/tcp, ..." */
  UVA_PS_STARTED, /* unix time in seconds */
  UVA_PS_PID,     /* the manager's */
  UVA_PS_SPEC,    /* the spec file, or "-" for run */
  UVA_PS_STATUS,  /* the app's exit status once exited, else "-" */
  UVA_PS_FIELDS
} UvaPsField;

/* Sends one datagram: head (len set from payload_len), payload, fds. */
gboolean uva_ctl_send(int sock, UvaCtlHead *head, const void *payload,
                      gsize payload_len, const int *fds, guint n_fds,
                      GError **error);
/* Receives one datagram.  *payload gets the payload NUL-terminated (free
 * it), fds[0..2] the fds that came (-1 for none; O_CLOEXEC), *eof TRUE
 * with FALSE returned at end of stream.  A datagram that is not exactly a
 * header and its payload is an error, and its fds are closed.
 * Non-blocking: FALSE without *error and without *eof when nothing is
 * there yet. */
gboolean uva_ctl_recv(int sock, UvaCtlHead *head, char **payload, int fds[3],
                      gboolean *eof, GError **error);

/* The run directory, created 0700 where missing and checked to be ours;
 * an O_PATH fd on it, *path its name.  state_dir: the fallback's base. */
int uva_ctl_rundir(const char *state_dir, char **path, GError **error);
/* "/proc/self/fd/N/NAME.sock": a socket path below the directory fd that
 * stays short whatever the directory's own length (sun_path has 108
 * bytes). */
char *uva_ctl_sock_path(int dir_fd, const char *name);

/* Connects to the manager of container name.  Returns the socket, or -1:
 * *error says "no container NAME is running" (code UVA_ERROR_INVALID) when
 * nothing listens, and a socket left by a dead manager is removed; or
 * "refusing the control socket of NAME" (UVA_ERROR_FAILED) when its peer
 * is not the manager that made it (ctltrust.c), with nothing sent. */
int uva_ctl_connect(const char *state_dir, const char *name, GError **error);
/* The same in the run directory open on dir. */
int uva_ctl_connect_dir(int dir, const char *name, GError **error);
/* The names that have a socket in the run directory. */
GPtrArray *uva_ctl_list(const char *state_dir, GError **error);

/* The payload of a STOP's answer from a manager about to exit. */
#define UVA_CTL_EXITING "exiting"

/* A pidfd on the manager at the other end of sock (SO_PEERCRED, then
 * pidfd_open(2)), or -1. */
int uva_ctl_peer_pidfd(int sock);
/* Waits at most timeout_ms for the process of pidfd (-1: no wait) to have
 * exited: a manager exits only after its clean-up helper (afterlife.c),
 * so after this its sockets and a `run --rm` state are gone. */
void uva_ctl_wait_exit(int pidfd, int timeout_ms);

/* One request and its answer, waiting at most timeout_ms for it (-1:
 * forever).  An UVA_CTL_ERR answer is returned as *error with its text. */
gboolean uva_ctl_call(int sock, UvaCtlHead *req, const void *payload, gsize len,
                      const int *fds, guint n_fds, int timeout_ms,
                      char **answer, GError **error);

/* Which running manager holds port (proto udp or tcp): asked of each with
 * `ps` (its ports field, "HOST:PORT->CPORT/proto").  A port bound by a
 * manager but not yet listening is in no socket table: only the manager
 * can say (portholder.c asks this through main's callback).  Its pid, or
 * 0. */
pid_t uva_ctl_port_holder(const char *state_dir, guint16 port, gboolean udp);
