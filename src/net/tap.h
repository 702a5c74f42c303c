/* tap.h - the container's side of the network: lo up, a tap device with the
 * guest address and a default route.  Runs inside the container's network
 * namespace, before anything else is mounted. */
#pragma once

#include <glib.h>

/* Brings lo up and creates UVA_TAP_NAME (IFF_TAP|IFF_NO_PI) configured with
 * UVA_GUEST_ADDR/24, the MTU and a default route via UVA_GATEWAY_ADDR.  If
 * with_tap is FALSE only lo is configured.  *tap_fd receives the tap queue
 * fd (O_CLOEXEC, owned by the caller). */
gboolean uva_tap_setup(gboolean with_tap, unsigned mtu, int *tap_fd,
                       GError **error);

/* What to do about an error opening /dev/net/tun; NULL if nothing known. */
const char *uva_tap_open_hint(int err);
/* Sets *error to "cannot VERB /dev/net/tun: <errno text>; <hint>". */
gboolean uva_tap_fail_open(GError **error, int err, const char *verb);
