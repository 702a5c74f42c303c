/* fuzz_words.c - libFuzzer target: the small parsers of user input:
 * environment entries, names, volumes, restart policies, port drivers. */
#include "spec/spec.h"
#include "spec/volume.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  char *text = g_strndup((const char *)data, size);
  (void)uva_env_valid(text, NULL);
  (void)uva_name_valid(text, NULL);
  UvaMount m = {0};
  if (uva_volume_parse(text, "/base", &m, NULL)) {
    g_assert(g_path_is_absolute(m.source) && g_path_is_absolute(m.target));
    g_free(m.source);
    g_free(m.target);
  }
  UvaContainerSpec *c = uva_container_spec_new("f");
  if (uva_restart_parse(text, c, NULL)) {
    char *back = uva_restart_string(c);
    g_assert(uva_restart_parse(back, c, NULL));
    g_free(back);
  }
  uva_container_spec_free(c);
  UvaPortDriver d;
  (void)uva_port_driver_parse(text, &d, NULL);
  g_free(text);
  return 0;
}
