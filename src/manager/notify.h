/* notify.h - sd_notify(3)'s protocol, for `systemd-run --user -p
 * Type=notify uva_container up FILE` and the user unit in contrib/. */
#pragma once

/* Connects to $NOTIFY_SOCKET now, before the manager is confined (which
 * refuses new unix sockets); -1 when it is unset or unusable (warned). */
int uva_notify_open(void);
/* One datagram, "READY=1" or "STOPPING=1"; fd < 0: nothing. */
void uva_notify_send(int fd, const char *state);
