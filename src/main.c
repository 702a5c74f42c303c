/* main.c - uva_container's front door.  Read top to bottom, it is the data
 * flow: options -> spec (what to run) -> preflight (can it run here) ->
 * supervisor (namespaces, network, processes, teardown).  Errors travel up
 * as GError and are printed here, once, as one line. */
#include "preflight.h"
#include "spec.h"
#include "supervisor.h"
#include "util.h"

#include <signal.h>
#include <libslirp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifndef UVA_VERSION
#define UVA_VERSION "0.1.0"
#endif

static const char usage_text[] =
    "Usage: uva_container [--help] [--version]\n"
    "\n"
    "Without arguments: start two copies of http_recorder.py (found next to\n"
    "this binary), each in its own user, network, mount, pid, uts and ipc\n"
    "namespaces, with its own working directory and /tmp:\n"
    "  a: http://127.0.0.1:18080/ -> port 8080 inside container a\n"
    "  b: http://127.0.0.1:28080/ -> port 8080 inside container b\n"
    "Their output is shown prefixed by container name; Ctrl-C stops both.\n"
    "\n"
    "State (working directories, /tmp, logs) lives in\n"
    "$XDG_STATE_HOME/uva_container (default ~/.local/state/uva_container).\n"
    "\n"
    "Exit status: 0 after Ctrl-C or SIGTERM, 1 on a start-up error or when\n"
    "every app ended by itself, 2 on a usage error.\n";

/* $XDG_STATE_HOME/uva_container, falling back to ~/.local/state (XDG Base
 * Directory Specification). */
static char *state_dir(void) {
  const char *xdg = g_getenv("XDG_STATE_HOME");
  if (xdg && g_path_is_absolute(xdg))
    return g_build_filename(xdg, "uva_container", NULL);
  return g_build_filename(g_get_home_dir(), ".local", "state", "uva_container",
                          NULL);
}

/* http_recorder.py sits next to the binary: the checkout, after make. */
static char *recorder_path(GError **error) {
  g_autofree char *exe = g_file_read_link("/proc/self/exe", error);
  if (!exe)
    return NULL;
  g_autofree char *dir = g_path_get_dirname(exe);
  return g_build_filename(dir, "http_recorder.py", NULL);
}

static int run_default(GError **error) {
  g_autofree char *recorder = recorder_path(error);
  if (!recorder)
    return 1;
  g_autofree char *state = state_dir();
  g_autoptr(UvaSpec) spec = uva_spec_default(recorder, state);
  if (!uva_spec_validate(spec, error))
    return 1;
  for (guint i = 0; i < spec->containers->len; i++)
    if (!uva_preflight_command(spec->containers->pdata[i], error))
      return 1;
  if (!uva_preflight_tun(error))
    return 1;
  return uva_supervisor_run(spec, error);
}

int main(int argc, char **argv) {
  /* A peer closing a socket must be an EPIPE, not our death. */
  signal(SIGPIPE, SIG_IGN);
  g_autoptr(GError) error = NULL;
  int status;
  if (argc == 2 && (g_str_equal(argv[1], "--help") ||
                    g_str_equal(argv[1], "-h"))) {
    fputs(usage_text, stdout);
    return 0;
  }
  if (argc == 2 && g_str_equal(argv[1], "--version")) {
    printf("uva_container %s (libslirp %s, GLib %u.%u.%u)\n", UVA_VERSION,
           slirp_version_string(), glib_major_version, glib_minor_version,
           glib_micro_version);
    return 0;
  }
  if (argc > 1) {
    fprintf(stderr, "uva_container: unexpected argument '%s'\n%s", argv[1],
            usage_text);
    return 2;
  }
  status = run_default(&error);
  if (error) {
    fprintf(stderr, "uva_container: %s\n", error->message);
    return status ? status : 1;
  }
  return status;
}
