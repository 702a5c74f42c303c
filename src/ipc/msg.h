/* msg.h - the sync socket between the manager and a container's init: fixed
 * size messages on a SOCK_SEQPACKET socketpair, an fd riding along with
 * SCM_RIGHTS where one changes hands. */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum {
  UVA_MSG_GO = 1,  /* manager -> init: uid/gid maps written, go on */
  UVA_MSG_TAP,     /* init -> manager: the tap fd (SCM_RIGHTS) */
  UVA_MSG_READY,   /* init -> manager: the app was exec'd; value = its pid */
  UVA_MSG_ERROR,   /* init -> manager: setup failed: err = errno, text = what */
  UVA_MSG_CONNECT, /* manager -> init: value = id, arg = port | UDP flag */
  UVA_MSG_CONNECTED,   /* init -> manager: value = id, the socket or err */
  UVA_MSG_APP_EXIT,    /* init -> manager: the app ended with status value and
                          restarts after arg ms: restart number err */
  UVA_MSG_PTY,         /* init -> manager: the pty master of `run -t` */
  UVA_MSG_OUTLIVED,    /* init -> manager, just before it exits: value
                          processes outlived the app and die with init;
                          text = some of their names */
  UVA_MSG_LISTENING_Q, /* manager -> init: does TCP port arg listen? */
  UVA_MSG_LISTENING,   /* init -> manager: arg = port, err = 0 if so */
  UVA_MSG_EXEC,        /* manager -> init: fd = an exec client's socket */
  /* bypass (bypass.c, unotify.c): */
  UVA_MSG_BYPASS_PORT,  /* manager -> init, before the app: the host socket
                           bound for container port arg (SCM_RIGHTS) */
  UVA_MSG_BYPASS_END,   /* manager -> init: every port sent */
  UVA_MSG_HOSTSOCK_REQ, /* init -> manager: value = id; a host socket to
                           connect to the sockaddr in text (arg bytes) */
  UVA_MSG_HOSTSOCK,     /* manager -> init: value = id, the socket or err */
} UvaMsgType;

#define UVA_MSG_CONNECT_UDP 0x10000u
/* CONNECT: text holds the client's struct sockaddr_in (transparent.c) */
#define UVA_MSG_CONNECT_FROM 0x20000u

typedef struct {
  uint32_t type;
  int32_t err;
  int32_t value;
  uint32_t arg;
  char text[500];
} UvaMsg;

struct msghdr;
/* The fds a received message carries (SCM_RIGHTS): the first max go to
 * fds[], every other is closed; returns how many went to fds[]. */
guint uva_msg_take_fds(struct msghdr *mh, int *fds, guint max);
/* recvmsg(2) of one message on a SOCK_SEQPACKET socket (the sync and the
 * control channel): EINTR retried; the fds it carries taken as
 * uva_msg_take_fds(mh, fds, n_fds) does.  The peer's end, an empty
 * datagram or ECONNRESET, returns 0 with *eof and no fd kept.  Returns
 * the length, 0 at the end, or -1 with errno (nothing received). */
ssize_t uva_msg_recv_one(int sock, struct msghdr *mh, int flags, int *fds,
                         guint n_fds, gboolean *eof);

/* Sends msg, with fd attached unless fd < 0.  Blocking. */
gboolean uva_msg_send(int sock, const UvaMsg *msg, int fd, GError **error);
/* Sends an UVA_MSG_ERROR; used by the forked side, which cannot print. */
void uva_msg_send_error(int sock, int err, const char *text);
/* Errors of uva_msg_recv_fd that are no fault of the socket. */
#define UVA_MSG_RECV_ERROR (uva_msg_recv_error_quark())
GQuark uva_msg_recv_error_quark(void);
typedef enum {
  UVA_MSG_RECV_AGAIN, /* EAGAIN, ENOMEM, ENOBUFS: try again later */
} UvaMsgRecvError;

/* Receives one message.  *fd gets an attached fd (O_CLOEXEC) or -1; any
 * further fd that came with it is closed.  Returns FALSE with *error on
 * failure; on EOF returns FALSE with *eof = TRUE and no error.  A whole
 * message whose fd the kernel could not install (MSG_CTRUNC, say at the fd
 * limit) is returned with *fd = -1 and *fd_lost = TRUE (fd_lost may be
 * NULL). */
gboolean uva_msg_recv_fd(int sock, UvaMsg *msg, int *fd, gboolean *fd_lost,
                         gboolean *eof, GError **error);
/* The same for a side that expects no fd. */
gboolean uva_msg_recv(int sock, UvaMsg *msg, int *fd, gboolean *eof,
                      GError **error);
