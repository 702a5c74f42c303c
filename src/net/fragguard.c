/* fragguard.c - libslirp 4.7.0 (Debian 12) crashes on an IPv4 fragment with
 * a non-zero offset and no more-fragments flag when no reassembly queue
 * exists for it: a "last" fragment whose first never came.  Found by
 * tests/fuzz/fuzz_frames.c; regression inputs in tests/fuzz/regressions.
 * A guest can only send such a frame with CAP_NET_RAW in its network
 * namespace, which the app never has (no capabilities, no nested user
 * namespace), but a crash of the manager would take every container down,
 * so the frame is not passed on.
 *
 * The rule: a non-first fragment passes only if the first fragment of the
 * same datagram (source, destination, id, protocol: RFC 791) passed in the
 * last 5 s.  libslirp keeps a reassembly queue for about 30 s, so a queue
 * exists for every fragment that passes.  The kernel sends a datagram's
 * fragments in order and back to back, so real traffic never meets the
 * rule; IPv6 fragments do not crash libslirp and are left alone. */
#include "net/fragguard.h"

#include <string.h>

#define SLOTS 64

typedef struct {
  guint8 key[11]; /* src, dst, id, protocol as on the wire */
  gint64 seen_us; /* 0: empty */
} Slot;

struct UvaFragGuard {
  Slot slot[SLOTS];
  guint next;
};

UvaFragGuard *uva_fragguard_new(void) { return g_new0(UvaFragGuard, 1); }

void uva_fragguard_free(UvaFragGuard *g) { g_free(g); }

gboolean uva_fragguard_pass(UvaFragGuard *g, const guint8 *frame, gsize len,
                            gint64 now_us) {
  const gsize eth = 14;
  if (len < eth + 20 || frame[12] != 0x08 || frame[13] != 0x00)
    return TRUE; /* not IPv4, or too short for libslirp to look at */
  const guint8 *ip = frame + eth;
  guint16 frag = (guint16)(ip[6] << 8 | ip[7]);
  gboolean more = (frag & 0x2000) != 0;
  guint16 offset = frag & 0x1fff;
  if (!more && offset == 0)
    return TRUE; /* not a fragment */
  guint8 key[11];
  memcpy(key, ip + 12, 8);    /* source and destination */
  memcpy(key + 8, ip + 4, 2); /* identification */
  key[10] = ip[9];            /* protocol */
  if (offset == 0) {
    Slot *s = &g->slot[g->next++ % SLOTS];
    memcpy(s->key, key, sizeof key);
    s->seen_us = now_us;
    return TRUE;
  }
  for (guint i = 0; i < SLOTS; i++) {
    const Slot *s = &g->slot[i];
    if (s->seen_us != 0 && now_us - s->seen_us < UVA_FRAGGUARD_WINDOW_US &&
        memcmp(s->key, key, sizeof key) == 0)
      return TRUE;
  }
  return FALSE;
}
