/* tap.c - network setup inside the container's namespaces with plain ioctls
 * (netdevice(7), route(4)): four addresses and one route do not need netlink.
 * The calls need CAP_NET_ADMIN in the user namespace that owns the network
 * namespace, which the first process of a new user namespace has. */
#include "net/tap.h"

#include "base/util.h"
#include "spec/spec.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/ipv6.h>
#include <net/if.h>
#include <net/route.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

const char *uva_tap_open_hint(int err) {
  switch (err) {
  case ENOENT:
  case ENODEV:
  case ENXIO:
    return "the tun driver is not loaded or the device node is missing: run "
           "'sudo modprobe tun' (it creates /dev/net/tun), or run without "
           "outbound network: --network none (network = none in a spec) "
           "still publishes ports";
  case EACCES:
  case EPERM:
    return "/dev/net/tun must be readable and writable by every user, as "
           "Debian and Ubuntu ship it (mode 0666): run 'sudo chmod 0666 "
           "/dev/net/tun'";
  default:
    return NULL;
  }
}

gboolean uva_tap_fail_open(GError **error, int err, const char *verb) {
  const char *hint = uva_tap_open_hint(err);
  g_set_error(error, UVA_ERROR, UVA_ERROR_FAILED,
              "cannot %s /dev/net/tun: %s%s%s", verb, g_strerror(err),
              hint ? "; " : "", hint ? hint : "");
  return FALSE;
}

static gboolean set_flags_up(int sock, const char *ifname, GError **error) {
  struct ifreq ifr = {0};
  g_strlcpy(ifr.ifr_name, ifname, IFNAMSIZ);
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
    return uva_fail_errno(error, errno, "SIOCGIFFLAGS %s", ifname);
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
    return uva_fail_errno(error, errno, "bringing %s up", ifname);
  return TRUE;
}

static void set_sin(struct sockaddr *sa, const char *addr) {
  struct sockaddr_in *sin = (struct sockaddr_in *)sa;
  memset(sin, 0, sizeof *sin);
  sin->sin_family = AF_INET;
  inet_pton(AF_INET, addr, &sin->sin_addr);
}

static gboolean open_tap(int *tap_fd, GError **error) {
  uva_autofd fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return uva_tap_fail_open(error, errno, "open");
  struct ifreq ifr = {0};
  g_strlcpy(ifr.ifr_name, UVA_TAP_NAME, IFNAMSIZ);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (ioctl(fd, TUNSETIFF, &ifr) < 0)
    return uva_fail_errno(error, errno, "TUNSETIFF %s", UVA_TAP_NAME);
  /* Persistent, so that the manager's close() only detaches its queue:
   * closing the last fd of a non-persistent tap unregisters the device
   * there and then, which waits for RCU (40 ms measured; the manager
   * closes taps one after another, so 22 s for 256 containers).  The
   * device dies with its network namespace instead, in the kernel's
   * batched cleanup.  Nothing outlives the namespace. */
  if (ioctl(fd, TUNSETPERSIST, 1) < 0)
    return uva_fail_errno(error, errno, "TUNSETPERSIST %s", UVA_TAP_NAME);
  *tap_fd = uva_steal_fd(&fd);
  return TRUE;
}

/* Before the interface goes up: no router advertisements (the address and
 * route are static) and no duplicate address detection (nothing else is
 * on this link), so the address is usable at once instead of after ~1 s of
 * "tentative".  The files are per network namespace (the opener's), and
 * writable with CAP_NET_ADMIN in its user namespace. */
static gboolean ipv6_sysctls(void) {
  static const char *const keys[] = {"accept_ra", "accept_dad"};
  for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
    g_autofree char *path =
        g_strdup_printf("/proc/sys/net/ipv6/conf/" UVA_TAP_NAME "/%s", keys[i]);
    if (uva_write_text(path, "0", FALSE) != 0)
      return FALSE;
  }
  return TRUE;
}

/* fd00::100/64 and a default route via fd00::2 (ipv6(7) in6_ifreq,
 * in6_rtmsg).  A kernel without IPv6 (ipv6.disable=1) has no such files
 * and no AF_INET6: the container then has IPv4 only, which is not an
 * error. */
static gboolean setup_ipv6(GError **error) {
  uva_autofd sock = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return TRUE;
  struct in6_ifreq ifr6 = {.ifr6_prefixlen = UVA_PREFIX6_LEN,
                           .ifr6_ifindex = (int)if_nametoindex(UVA_TAP_NAME)};
  inet_pton(AF_INET6, UVA_GUEST_ADDR6, &ifr6.ifr6_addr);
  if (ioctl(sock, SIOCSIFADDR, &ifr6) < 0)
    return uva_fail_errno(error, errno, "setting address %s on %s",
                          UVA_GUEST_ADDR6, UVA_TAP_NAME);
  struct in6_rtmsg rt = {.rtmsg_flags = RTF_UP | RTF_GATEWAY,
                         .rtmsg_metric = 1,
                         .rtmsg_ifindex = ifr6.ifr6_ifindex};
  inet_pton(AF_INET6, UVA_GATEWAY_ADDR6, &rt.rtmsg_gateway);
  if (ioctl(sock, SIOCADDRT, &rt) < 0)
    return uva_fail_errno(error, errno, "adding the default route via %s",
                          UVA_GATEWAY_ADDR6);
  return TRUE;
}

gboolean uva_tap_setup(gboolean with_tap, unsigned mtu, int *tap_fd,
                       GError **error) {
  *tap_fd = -1;
  uva_autofd sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return uva_fail_errno(error, errno, "socket(AF_INET) for interface setup");
  if (!set_flags_up(sock, "lo", error))
    return FALSE;
  if (!with_tap)
    return TRUE;

  uva_autofd fd = -1;
  if (!open_tap(&fd, error))
    return FALSE;

  struct ifreq ifr = {0};
  g_strlcpy(ifr.ifr_name, UVA_TAP_NAME, IFNAMSIZ);
  ifr.ifr_mtu = (int)mtu;
  if (ioctl(sock, SIOCSIFMTU, &ifr) < 0)
    return uva_fail_errno(error, errno, "setting MTU %u on %s", mtu,
                          UVA_TAP_NAME);
  gboolean ipv6 = ipv6_sysctls();
  set_sin(&ifr.ifr_addr, UVA_GUEST_ADDR);
  if (ioctl(sock, SIOCSIFADDR, &ifr) < 0)
    return uva_fail_errno(error, errno, "setting address %s on %s",
                          UVA_GUEST_ADDR, UVA_TAP_NAME);
  set_sin(&ifr.ifr_netmask, UVA_NETMASK);
  if (ioctl(sock, SIOCSIFNETMASK, &ifr) < 0)
    return uva_fail_errno(error, errno, "setting netmask on %s", UVA_TAP_NAME);
  if (!set_flags_up(sock, UVA_TAP_NAME, error))
    return FALSE;

  struct rtentry rt = {0};
  set_sin(&rt.rt_dst, "0.0.0.0");
  set_sin(&rt.rt_genmask, "0.0.0.0");
  set_sin(&rt.rt_gateway, UVA_GATEWAY_ADDR);
  rt.rt_flags = RTF_UP | RTF_GATEWAY;
  rt.rt_dev = (char *)UVA_TAP_NAME;
  if (ioctl(sock, SIOCADDRT, &rt) < 0)
    return uva_fail_errno(error, errno, "adding the default route via %s",
                          UVA_GATEWAY_ADDR);
  if (ipv6 && !setup_ipv6(error))
    return FALSE;
  *tap_fd = uva_steal_fd(&fd);
  return TRUE;
}
