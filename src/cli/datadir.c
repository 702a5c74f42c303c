/* datadir.c - finding http_recorder.py.  The compiled-in DATADIR is right
 * only for the PREFIX the objects were built with: `make && make install
 * PREFIX=~/.local` once installed a binary that looked in /usr/local.  So
 * the binary also looks relative to itself (BINDIR/../share/uva_container,
 * the layout `make install` and the .deb create), which holds for any
 * PREFIX and for a DESTDIR tree moved into place. */
#include "cli/datadir.h"

#include "base/util.h"

#include <string.h>

char *uva_datadir_find(const char *exe, const char *datadir, const char *name,
                       GError **error) {
  g_autofree char *dir = g_path_get_dirname(exe);
  g_autofree char *share =
      g_build_filename(dir, "..", "share", "uva_container", NULL);
  g_autofree char *share_canon = g_canonicalize_filename(share, NULL);
  const char *const dirs[] = {dir, share_canon, datadir};
  g_autoptr(GString) tried = g_string_new(NULL);
  for (size_t i = 0; i < G_N_ELEMENTS(dirs); i++) {
    g_autofree char *path = g_build_filename(dirs[i], name, NULL);
    if (g_file_test(path, G_FILE_TEST_EXISTS))
      return g_steal_pointer(&path);
    /* The same directory twice (a binary installed in DATADIR's BINDIR)
     * is named once. */
    if (!strstr(tried->str, path))
      g_string_append_printf(tried, "%s%s", tried->len ? ", " : "", path);
  }
  uva_fail(error,
           "%s not found (tried %s): run ./uva_container from the checkout "
           "after 'make', or install it with 'make install PREFIX=DIR', "
           "which puts it in DIR/share/uva_container",
           name, tried->str);
  return NULL;
}
