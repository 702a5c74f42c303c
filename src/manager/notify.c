/* notify.c - sd_notify(3)'s protocol: one datagram per state on the unix
 * socket $NOTIFY_SOCKET names, a path or (with '@') an abstract name. */
#include "manager/notify.h"

#include "base/util.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

int uva_notify_open(void) {
  const char *path = g_getenv("NOTIFY_SOCKET");
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  if (!path || (path[0] != '/' && path[0] != '@') ||
      strlen(path) >= sizeof sun.sun_path)
    return -1;
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
  return fd;
}

void uva_notify_send(int fd, const char *state) {
  if (fd >= 0)
    (void)send(fd, state, strlen(state), MSG_NOSIGNAL | MSG_DONTWAIT);
}
