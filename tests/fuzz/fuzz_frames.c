/* fuzz_frames.c - libFuzzer target: what the manager does with a frame read
 * from a container's tap (uva_net_input: libslirp's Ethernet, ARP, IPv4,
 * IPv6, ICMP, UDP, TCP and DHCP input), plus one turn of its poll loop.
 * The input is a sequence of frames, each prefixed by a 16-bit length, fed
 * to one stack, so TCP state carries from frame to frame.
 *
 * libslirp opens real sockets for what a frame asks (a TCP SYN to some
 * address, a DNS query): `make fuzz` runs this in a network namespace of
 * its own with nothing but a down lo, so none leaves the machine. */
#include "net/slirp.h"

#include <glib.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  UvaNet *net = uva_net_new("fuzz", UVA_DEFAULT_SOCKETS_LIMIT, NULL);
  g_assert(net != NULL);
  while (size >= 2) {
    size_t len = (size_t)data[0] << 8 | data[1];
    data += 2;
    size -= 2;
    if (len > size)
      len = size;
    uva_net_input(net, data, len);
    data += len;
    size -= len;
    g_main_context_iteration(NULL, FALSE);
  }
  uva_net_free(net);
  return 0;
}
