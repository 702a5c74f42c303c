/* fuzz_specfile.c - libFuzzer target: spec files.  What parses is printed
 * and must parse again to the same spec (the round trip
 * `--print-default-spec` relies on). */
#include "spec/specfile.h"

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
      /* command and volume are printed raw in their own quoting. */
      g_assert(g_strv_equal((const char *const *)a->argv,
                            (const char *const *)b->argv));
      g_assert(a->mounts->len == b->mounts->len);
      for (guint j = 0; j < a->mounts->len; j++) {
        const UvaMount *ma = &g_array_index(a->mounts, UvaMount, j);
        const UvaMount *mb = &g_array_index(b->mounts, UvaMount, j);
        g_assert(g_str_equal(ma->source, mb->source));
        g_assert(g_str_equal(ma->target, mb->target));
        g_assert(ma->read_only == mb->read_only);
      }
    }
    uva_spec_free(again);
    g_free(printed);
    uva_spec_free(spec);
  }
  g_free(text);
  return 0;
}
