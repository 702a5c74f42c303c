/* volume.c - the text form of a bind mount.  ':' separates the fields of
 * a volume and ';' the volumes of a spec file, and both may appear in a
 * path (a checkout under "~/a:b"): such a path is written with \: and \;,
 * and --print-default-spec writes it that way, so that what it prints is
 * what `up` reads.  The raw key-file value is split here rather than by
 * GKeyFile, whose own escapes (\s, \t, \n) have nothing to do with
 * paths and refuse \:. */
#include "spec/volume.h"

#include "base/util.h"

#include <string.h>

/* The fields of text split at unescaped ':', unescaped; NULL and *bad set
 * to the offending escape on an unknown one. */
static GPtrArray *split_fields(const char *text, char *bad) {
  g_autoptr(GPtrArray) fields = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GString) cur = g_string_new(NULL);
  for (const char *p = text;; p++) {
    if (*p == '\\') {
      if (p[1] != ':' && p[1] != ';' && p[1] != '\\') {
        *bad = p[1];
        return NULL;
      }
      g_string_append_c(cur, *++p);
    } else if (*p == ':' || *p == '\0') {
      g_ptr_array_add(fields, g_strdup(cur->str));
      g_string_truncate(cur, 0);
      if (*p == '\0')
        break;
    } else {
      g_string_append_c(cur, *p);
    }
  }
  return g_steal_pointer(&fields);
}

gboolean uva_volume_parse(const char *text, const char *base_dir, UvaMount *out,
                          GError **error) {
  char bad = 0;
  g_autoptr(GPtrArray) parts = split_fields(text, &bad);
  if (!parts) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "volume \"%s\": unknown escape \"\\%c\" (in a path, \\: is a "
                "colon, \\; a semicolon, \\\\ a backslash)",
                text, bad ? bad : ' ');
    return FALSE;
  }
  guint n = parts->len;
  const char *const *f = (const char *const *)parts->pdata;
  gboolean ro = n == 3 && g_str_equal(f[2], "ro");
  if (n < 2 || n > 3 || (n == 3 && !ro && !g_str_equal(f[2], "rw")) || !*f[0] ||
      !g_path_is_absolute(f[1]) || g_str_equal(f[1], "/")) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "volume \"%s\" is not HOST_PATH:/CONTAINER_PATH[:ro|:rw] "
                "(write a ':' in a path as \\:)",
                text);
    return FALSE;
  }
  out->source = g_canonicalize_filename(f[0], base_dir);
  out->target = g_canonicalize_filename(f[1], "/");
  out->read_only = ro;
  return TRUE;
}

char **uva_volume_split(const char *raw) {
  g_autoptr(GPtrArray) list = g_ptr_array_new();
  g_autoptr(GString) cur = g_string_new(NULL);
  for (const char *p = raw;; p++) {
    if (*p == '\\' && p[1]) {
      g_string_append_c(cur, *p++);
      g_string_append_c(cur, *p);
    } else if (*p == ';' || *p == '\0') {
      char *entry = g_strstrip(g_strdup(cur->str));
      if (*entry)
        g_ptr_array_add(list, entry);
      else
        g_free(entry);
      g_string_truncate(cur, 0);
      if (*p == '\0')
        break;
    } else {
      g_string_append_c(cur, *p);
    }
  }
  g_ptr_array_add(list, NULL);
  return (char **)g_ptr_array_free(g_steal_pointer(&list), FALSE);
}

static void append_escaped(GString *s, const char *path) {
  for (const char *p = path; *p; p++) {
    if (*p == ':' || *p == ';' || *p == '\\')
      g_string_append_c(s, '\\');
    g_string_append_c(s, *p);
  }
}

char *uva_volume_string(const UvaMount *m) {
  GString *s = g_string_new(NULL);
  append_escaped(s, m->source);
  g_string_append_c(s, ':');
  append_escaped(s, m->target);
  /* A target that ends in a space (canonicalized from "/x /y/..") would
   * lose it when read back: the entry is stripped.  "/." keeps it, and
   * the parse canonicalizes it away again (found by fuzz_specfile). */
  size_t tl = strlen(m->target);
  if (!m->read_only && tl && g_ascii_isspace(m->target[tl - 1]))
    g_string_append(s, "/.");
  if (m->read_only)
    g_string_append(s, ":ro");
  return g_string_free(s, FALSE);
}
