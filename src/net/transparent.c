/* transparent.c - real client addresses through the splice driver, as
 * RootlessKit v3 does it: the manager tells init the client's address, and
 * init dials 127.0.0.1:PORT inside from that address instead of from
 * 127.0.0.1, so the app's accept() and getpeername() show the client.
 *
 * How a reply finds its way back.  Init's socket has IP_TRANSPARENT (it
 * may bind an address that is not local: ip(7)) and SO_MARK 0x75; its SYN
 * carries the mark over lo, and with net.ipv4.tcp_fwmark_accept the app's
 * accepted socket takes the mark of that SYN (ip-sysctl.rst), so every
 * packet it sends is marked too.  A rule "fwmark 0x75 lookup 117" and a
 * route "local 0.0.0.0/0 dev lo table 117" (set here over rtnetlink)
 * deliver those packets locally, to init's transparent socket, instead of
 * routing them out of tap0 towards an address that is not there.  All of
 * it needs CAP_NET_ADMIN in the container's network namespace, which init
 * has (its user namespace owns it) and the app does not; none of it is
 * visible outside the container.
 *
 * Where any step fails (a kernel without policy routing, a refused
 * sysctl), init dials from 127.0.0.1 as before: the app then sees
 * 127.0.0.1, nothing else changes.  IPv4 clients only; an IPv6 client is
 * dialed from 127.0.0.1 as before. */
#include "net/transparent.h"

#include "base/util.h"

#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>

#define UVA_TPROXY_MARK 0x75
#define UVA_TPROXY_TABLE 117

static gboolean ready;

typedef struct {
  struct nlmsghdr h;
  union {
    struct rtmsg rt;
    struct fib_rule_hdr rule;
  } body;
  char attrs[64];
} NlReq;

static void add_u32(NlReq *r, unsigned short type, guint32 v) {
  struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->h.nlmsg_len));
  a->rta_type = type;
  a->rta_len = RTA_LENGTH(sizeof v);
  memcpy(RTA_DATA(a), &v, sizeof v);
  r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Sends r and reads its ack: TRUE when the kernel said 0 (or EEXIST: a
 * restarted app finds init's routing in place already). */
static gboolean nl_do(int fd, NlReq *r) {
  if (send(fd, r, r->h.nlmsg_len, 0) < 0)
    return FALSE;
  char buf[512];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  if (n < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)) ||
      h->nlmsg_type != NLMSG_ERROR)
    return FALSE;
  int err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
  return err == 0 || err == -EEXIST;
}

gboolean uva_transparent_setup(void) {
  /* tcp_fwmark_accept is per network namespace (net.ipv4). */
  if (uva_write_text("/proc/sys/net/ipv4/tcp_fwmark_accept", "1\n", FALSE))
    return FALSE;
  uva_autofd fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0)
    return FALSE;
  NlReq rule = {0};
  rule.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct fib_rule_hdr));
  rule.h.nlmsg_type = RTM_NEWRULE;
  rule.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
  rule.body.rule.family = AF_INET;
  rule.body.rule.action = FR_ACT_TO_TBL;
  add_u32(&rule, FRA_FWMARK, UVA_TPROXY_MARK);
  add_u32(&rule, FRA_FWMASK, 0xffffffffu);
  add_u32(&rule, FRA_TABLE, UVA_TPROXY_TABLE);
  add_u32(&rule, FRA_PRIORITY, 100);
  NlReq route = {0};
  route.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
  route.h.nlmsg_type = RTM_NEWROUTE;
  route.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
  route.body.rt.rtm_family = AF_INET;
  route.body.rt.rtm_table = RT_TABLE_UNSPEC;
  route.body.rt.rtm_protocol = RTPROT_BOOT;
  route.body.rt.rtm_scope = RT_SCOPE_HOST;
  route.body.rt.rtm_type = RTN_LOCAL;
  add_u32(&route, RTA_TABLE, UVA_TPROXY_TABLE);
  add_u32(&route, RTA_OIF, if_nametoindex("lo"));
  ready = nl_do(fd, &rule) && nl_do(fd, &route);
  return ready;
}

int uva_transparent_socket(const struct sockaddr_in *client) {
  if (!ready)
    return -1;
  uva_autofd fd =
      socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1, mark = UVA_TPROXY_MARK;
  struct sockaddr_in from = *client;
  from.sin_port = 0; /* any port: the address is what the app logs */
  if (fd < 0 || setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof one) < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0 ||
      bind(fd, (struct sockaddr *)&from, sizeof from) < 0)
    return -1;
  return uva_steal_fd(&fd);
}
