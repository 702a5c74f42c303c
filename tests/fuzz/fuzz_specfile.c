/* fuzz_specfile.c - libFuzzer target: spec files.  What parses is printed
 * and must parse again (the round trip `--print-default-spec` relies on). */
#include "specfile.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  char *text = g_strndup((const char *)data, size);
  UvaSpec *spec = uva_specfile_parse("/fuzz/f.spec", text, "/st", NULL);
  if (spec) {
    char *printed = uva_specfile_print(spec);
    UvaSpec *again = uva_specfile_parse("/fuzz/f.spec", printed, "/st", NULL);
    g_assert(again != NULL);
    g_assert(again->containers->len == spec->containers->len);
    for (guint i = 0; i < spec->containers->len; i++) {
      const UvaContainerSpec *a = spec->containers->pdata[i];
      const UvaContainerSpec *b = again->containers->pdata[i];
      g_assert(a->pids_limit == b->pids_limit);
      g_assert(a->shm_size == b->shm_size);
    }
    uva_spec_free(again);
    g_free(printed);
    uva_spec_free(spec);
  }
  g_free(text);
  return 0;
}
