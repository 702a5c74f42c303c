/* flowcap.c - at most N libslirp sockets per container (issue 12).
 *
 * libslirp opens a host socket for every new outbound flow of the guest:
 * a TCP socket per guest SYN (tcp_input -> tcp_fconnect), a UDP socket per
 * guest source address and port (udp_input looks its sockets up by the
 * guest's end only: solookup(..., &lhost, NULL)), an ICMP socket per echo
 * request to the outside (icmp_send).  UDP sockets live 240 s after their
 * last datagram (SO_EXPIRE), half-open TCP 75 s (TCPTV_KEEP_INIT), so one
 * guest sending from many source ports took the manager from 21 to 9,880
 * fds, and every other container with it to the fd limit.
 *
 * Counting: libslirp 4.7 calls register_poll_fd for each socket it opens
 * and unregister_poll_fd before each close (tcp_close, udp_detach,
 * icmp_detach, slirp_remove_hostxfwd); udp_attach also registers -1 when
 * socket() failed, which is ignored.  The count is the set of registered
 * fds, so should a close ever go unannounced, the kernel's next use of that
 * fd number (the lowest free one, open(2)) replaces the stale entry.
 *
 * Which frames open a flow: the register call comes from inside
 * slirp_input(), so the frame being passed is known; its flow key (TCP:
 * both ends; UDP: the guest's end, as libslirp keys it) is remembered with
 * the fd and forgotten when libslirp unregisters it.  The table is then
 * exactly libslirp's set of guest flows, with libslirp's own timeouts and
 * no ageing of ours, and never larger than the cap.  At the cap a bare TCP
 * SYN or a UDP datagram whose key is not in the table, or an
 * ICMP echo to the outside, is dropped before libslirp; segments and
 * datagrams of flows that exist pass.  A dropped SYN is answered with a
 * RST and a dropped datagram with ICMP port unreachable, written to the
 * tap as if the far end had refused, so the app fails at once
 * (ECONNREFUSED) instead of retransmitting for 75 s; the cost is one
 * small frame per dropped frame, which the guest itself paid for. */
#include "net/flowcap.h"

#include <string.h>

typedef struct {
  guint8 family; /* 4 or 6 */
  guint8 proto;
  guint8 sport[2], dport[2]; /* as on the wire; dport 0 for UDP */
  guint8 src[16], dst[16];   /* dst 0 for UDP */
} Key;

typedef enum { OTHER, TCP_SYN, UDP, ICMP_ECHO } Kind;

typedef struct {
  Kind kind;
  Key key;
  const guint8 *ip, *l4;
  gsize ihl;    /* IP header length */
  gsize l4_len; /* bytes of the transport header and payload present */
} Frame;

struct UvaFlowCap {
  guint cap;
  GHashTable *by_fd;  /* fd -> Key* (owned) or NULL: every registered fd */
  GHashTable *by_key; /* Key* (of by_fd) -> fd + 1: the guest's flows */
  Key current;        /* the frame inside slirp_input() */
  gboolean current_valid;
};

static guint key_hash(gconstpointer p) {
  const guint8 *b = p;
  guint h = 2166136261u; /* FNV-1a */
  for (gsize i = 0; i < sizeof(Key); i++)
    h = (h ^ b[i]) * 16777619u;
  return h;
}

static gboolean key_equal(gconstpointer a, gconstpointer b) {
  return memcmp(a, b, sizeof(Key)) == 0;
}

UvaFlowCap *uva_flowcap_new(guint cap) {
  UvaFlowCap *c = g_new0(UvaFlowCap, 1);
  c->cap = cap;
  c->by_fd = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
  c->by_key = g_hash_table_new(key_hash, key_equal);
  return c;
}

void uva_flowcap_free(UvaFlowCap *c) {
  if (!c)
    return;
  g_hash_table_unref(c->by_key);
  g_hash_table_unref(c->by_fd);
  g_free(c);
}

guint uva_flowcap_count(const UvaFlowCap *c) {
  return g_hash_table_size(c->by_fd);
}

guint uva_flowcap_cap(const UvaFlowCap *c) { return c->cap; }

/* Parsing --------------------------------------------------------------- */

static gboolean parse(const guint8 *frame, gsize len, Frame *f) {
  memset(f, 0, sizeof *f);
  if (len < 14)
    return FALSE;
  const guint8 *ip = frame + 14;
  gsize ip_len = len - 14, total;
  guint8 proto;
  f->ip = ip;
  if (frame[12] == 0x08 && frame[13] == 0x00) {
    if (ip_len < 20 || ip[0] >> 4 != 4)
      return FALSE;
    f->ihl = (gsize)(ip[0] & 15) * 4;
    total = (gsize)(ip[2] << 8 | ip[3]);
    /* A non-first fragment has no transport header; it cannot open a
     * flow without its first, which is judged here. */
    if (f->ihl < 20 || total < f->ihl || f->ihl > ip_len ||
        ((ip[6] & 0x1f) | ip[7]) != 0)
      return FALSE;
    proto = ip[9];
    f->key.family = 4;
    memcpy(f->key.src, ip + 12, 4);
    memcpy(f->key.dst, ip + 16, 4);
  } else if (frame[12] == 0x86 && frame[13] == 0xdd) {
    /* libslirp 4.7's ip6_input takes no extension headers: only a
     * transport header right after the fixed one reaches a socket. */
    if (ip_len < 40 || ip[0] >> 4 != 6)
      return FALSE;
    f->ihl = 40;
    total = 40 + (gsize)(ip[4] << 8 | ip[5]);
    proto = ip[6];
    f->key.family = 6;
    memcpy(f->key.src, ip + 8, 16);
    memcpy(f->key.dst, ip + 24, 16);
  } else {
    return FALSE;
  }
  f->l4 = ip + f->ihl;
  f->l4_len = MIN(total, ip_len) - f->ihl;
  f->key.proto = proto;
  if (proto == 6 && f->l4_len >= 20) {
    guint8 flags = f->l4[13];
    /* Only a bare SYN (no FIN, RST, URG or ACK) makes libslirp's
     * tcp_input() create a socket when none matches. */
    if ((flags & 0x37) != 0x02)
      return FALSE;
    f->kind = TCP_SYN;
    memcpy(f->key.sport, f->l4, 2);
    memcpy(f->key.dport, f->l4 + 2, 2);
    return TRUE;
  }
  if (proto == 17 && f->l4_len >= 8) {
    f->kind = UDP;
    memcpy(f->key.sport, f->l4, 2);
    memset(f->key.dst, 0, sizeof f->key.dst);
    return TRUE;
  }
  /* ICMP echo to the gateway or DNS address is answered by libslirp
   * itself (icmp_reflect); elsewhere each one is a socket.  ICMPv6 echo
   * is only answered for the gateway, with no socket. */
  if (proto == 1 && f->key.family == 4 && f->l4_len >= 8 && f->l4[0] == 8 &&
      !(ip[16] == 10 && ip[17] == 0 && ip[18] == 2)) {
    f->kind = ICMP_ECHO;
    return TRUE;
  }
  return FALSE;
}

/* Replies ------------------------------------------------------------- */

static void put16(guint8 *p, guint v) {
  p[0] = (guint8)(v >> 8);
  p[1] = (guint8)v;
}

static guint32 sum16(guint32 acc, const guint8 *b, gsize n) {
  for (gsize i = 0; i + 1 < n; i += 2)
    acc += (guint32)(b[i] << 8 | b[i + 1]);
  if (n & 1)
    acc += (guint32)b[n - 1] << 8;
  return acc;
}

static guint16 fold(guint32 acc) {
  while (acc >> 16)
    acc = (acc & 0xffff) + (acc >> 16);
  return (guint16)~acc;
}

/* Ethernet and IP headers of a reply to f, from its destination back to
 * its source; returns the transport header's position. */
static guint8 *reply_ip(const guint8 *frame, const Frame *f, guint8 *out,
                        guint8 proto, gsize l4_len) {
  memcpy(out, frame + 6, 6);
  memcpy(out + 6, frame, 6);
  memcpy(out + 12, frame + 12, 2);
  guint8 *ip = out + 14;
  if (f->key.family == 4) {
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, (guint)(20 + l4_len));
    ip[6] = 0x40; /* DF */
    ip[8] = 64;
    ip[9] = proto;
    memcpy(ip + 12, f->ip + 16, 4);
    memcpy(ip + 16, f->ip + 12, 4);
    put16(ip + 10, fold(sum16(0, ip, 20)));
    return ip + 20;
  }
  memset(ip, 0, 40);
  ip[0] = 0x60;
  put16(ip + 4, (guint)l4_len);
  ip[6] = proto;
  ip[7] = 64;
  memcpy(ip + 8, f->ip + 24, 16);
  memcpy(ip + 24, f->ip + 8, 16);
  return ip + 40;
}

/* The transport checksum over the pseudo-header (RFC 793, RFC 8200). */
static void l4_checksum(guint8 *ip, guint8 *l4, gsize l4_len, guint8 proto,
                        guint8 *field) {
  guint32 acc;
  if ((ip[0] >> 4) == 4)
    acc = sum16(0, ip + 12, 8);
  else
    acc = sum16(0, ip + 8, 32);
  acc += (guint32)l4_len + proto;
  put16(field, fold(sum16(acc, l4, l4_len)));
}

static gsize reply_rst(const guint8 *frame, const Frame *f, guint8 *out) {
  guint8 *tcp = reply_ip(frame, f, out, 6, 20);
  const guint8 *syn = f->l4;
  gsize doff = (gsize)(syn[12] >> 4) * 4;
  guint32 seq = (guint32)syn[4] << 24 | (guint32)syn[5] << 16 |
                (guint32)syn[6] << 8 | syn[7];
  /* RFC 793 "Reset Generation": to a segment without ACK, SEQ 0 and ACK
   * its sequence number plus its length, SYN counted. */
  guint32 ack = seq + 1 + (guint32)(f->l4_len > doff ? f->l4_len - doff : 0);
  memset(tcp, 0, 20);
  memcpy(tcp, syn + 2, 2);
  memcpy(tcp + 2, syn, 2);
  tcp[8] = (guint8)(ack >> 24);
  tcp[9] = (guint8)(ack >> 16);
  tcp[10] = (guint8)(ack >> 8);
  tcp[11] = (guint8)ack;
  tcp[12] = 5 << 4;
  tcp[13] = 0x14; /* RST, ACK */
  l4_checksum(out + 14, tcp, 20, 6, tcp + 16);
  return (gsize)(tcp + 20 - out);
}

static gsize reply_unreach(const guint8 *frame, const Frame *f, guint8 *out) {
  /* The offending IP header and 8 bytes of what followed it (RFC 792,
   * RFC 4443), enough for the guest's kernel to find the socket. */
  gsize quote = f->ihl + MIN(f->l4_len, 8);
  gboolean v4 = f->key.family == 4;
  guint8 *icmp = reply_ip(frame, f, out, v4 ? 1 : 58, 8 + quote);
  memset(icmp, 0, 8);
  icmp[0] = v4 ? 3 : 1; /* destination unreachable */
  icmp[1] = v4 ? 3 : 4; /* port unreachable */
  memcpy(icmp + 8, f->ip, quote);
  if (v4)
    put16(icmp + 2, fold(sum16(0, icmp, 8 + quote)));
  else
    l4_checksum(out + 14, icmp, 8 + quote, 58, icmp + 2);
  return (gsize)(icmp + 8 + quote - out);
}

/* The gate -------------------------------------------------------------- */

gboolean uva_flowcap_pass(UvaFlowCap *c, const guint8 *frame, gsize len,
                          guint8 *reply, gsize *reply_len) {
  Frame f;
  *reply_len = 0;
  c->current_valid = FALSE;
  if (!parse(frame, len, &f))
    return TRUE;
  gboolean full = uva_flowcap_count(c) >= c->cap;
  if (f.kind == ICMP_ECHO)
    return !full;
  if (g_hash_table_contains(c->by_key, &f.key))
    return TRUE;
  if (!full) {
    c->current = f.key;
    c->current_valid = TRUE;
    return TRUE;
  }
  *reply_len = f.kind == TCP_SYN ? reply_rst(frame, &f, reply)
                                 : reply_unreach(frame, &f, reply);
  return FALSE;
}

void uva_flowcap_done(UvaFlowCap *c) { c->current_valid = FALSE; }

static void forget(UvaFlowCap *c, int fd) {
  gpointer old;
  if (!g_hash_table_lookup_extended(c->by_fd, GINT_TO_POINTER(fd), NULL, &old))
    return;
  if (old && GPOINTER_TO_INT(g_hash_table_lookup(c->by_key, old)) == fd + 1)
    g_hash_table_remove(c->by_key, old);
  g_hash_table_remove(c->by_fd, GINT_TO_POINTER(fd));
}

void uva_flowcap_registered(UvaFlowCap *c, int fd) {
  if (fd < 0)
    return;
  forget(c, fd); /* a stale entry: see the count, above */
  Key *k = NULL;
  if (c->current_valid) {
    /* One socket per frame: a second one (none in libslirp 4.7) is
     * counted but keyed to nothing. */
    k = g_memdup2(&c->current, sizeof c->current);
    c->current_valid = FALSE;
    /* g_hash_table_insert() keeps an old key's pointer, which belongs to
     * another fd's entry: replace the entry, not just its value. */
    g_hash_table_remove(c->by_key, k);
  }
  g_hash_table_insert(c->by_fd, GINT_TO_POINTER(fd), k);
  if (k)
    g_hash_table_insert(c->by_key, k, GINT_TO_POINTER(fd + 1));
}

void uva_flowcap_unregistered(UvaFlowCap *c, int fd) {
  if (fd >= 0)
    forget(c, fd);
}
