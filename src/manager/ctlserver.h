/* ctlserver.h - the manager's side of the control channel (ctl.h): one
 * listening socket, linked as NAME.sock for each container, bound before
 * the manager is confined, served from its loop without ever blocking it. */
#pragma once

#include "ipc/ctl.h"

#include <glib.h>
#include <sys/types.h>

typedef struct {
  /* One PS line per container (ctl.h), newly allocated. */
  GPtrArray *(*ps)(gpointer data);
  /* Starts stopping container name ("" every one), SIGKILL after
   * timeout_s (-1: its stop-timeout). */
  gboolean (*stop)(gpointer data, const char *name, int timeout_s,
                   GError **error);
  /* Whether name ("" any) still runs. */
  gboolean (*running)(gpointer data, const char *name);
  /* Hands fd (owned) to container name's init for an exec. */
  gboolean (*exec)(gpointer data, const char *name, int fd, GError **error);
} UvaCtlOps;

typedef struct UvaCtlServer UvaCtlServer;

/* Binds and listens on one socket, linked as NAME.sock for each of names
 * (NULL-ended); a name whose socket a live manager holds is refused
 * ("already running"). */
UvaCtlServer *uva_ctlserver_new(const char *state_dir, const char *const *names,
                                const UvaCtlOps *ops, gpointer data,
                                GError **error);
/* Container name ended (NULL: the last one did): its `stop` callers get
 * their answer. */
void uva_ctlserver_ended(UvaCtlServer *s, const char *name);
/* The run directory (O_PATH, owned by s) and, per name linked, its file
 * name and inode (one for all): what the clean-up after the manager
 * removes. */
int uva_ctlserver_dir_fd(const UvaCtlServer *s);
guint uva_ctlserver_n_sockets(const UvaCtlServer *s);
const char *uva_ctlserver_socket(const UvaCtlServer *s, guint i, ino_t *ino);
void uva_ctlserver_free(UvaCtlServer *s);
