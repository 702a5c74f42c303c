/* main.c - uva_container's front door.  Read top to bottom, it is the data
 * flow: options -> spec (what to run) -> preflight (can it run here) ->
 * supervisor (namespaces, network, processes, teardown).  Errors travel up
 * as GError and are printed here, once, as one line. */
#include "base/term.h"
#include "base/util.h"
#include "cli/cli.h"
#include "cli/datadir.h"
#include "cli/doctor.h"
#include "cli/kube.h"
#include "cli/preflight.h"
#include "ipc/ctl.h"
#include "manager/afterlife.h"
#include "manager/logfile.h"
#include "manager/supervisor.h"
#include "sandbox/subid.h"
#include "spec/hostdir.h"
#include "spec/portholder.h"
#include "spec/spec.h"
#include "spec/specfile.h"
#include "spec/volume.h"

#include <fcntl.h>
#include <libslirp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef UVA_DATADIR
#define UVA_DATADIR "/usr/local/share/uva_container"
#endif
#ifndef UVA_VERSION
#define UVA_VERSION "0.1.0"
#endif

static const char usage_text[] =
    "Usage: uva_container [--help] [--version]\n"
    "       uva_container run [OPTIONS] [--] COMMAND [ARG...]\n"
    "       uva_container up [-d] [--wait-timeout S] [--exit-code-from NAME] "
    "FILE\n"
    "       uva_container ps [--format json]\n"
    "       uva_container logs [-f] [--tail N] NAME\n"
    "       uva_container exec [-i] [-t] [-e K=V] [-w DIR] NAME -- COMMAND...\n"
    "       uva_container stop [-t SECONDS] NAME...\n"
    "       uva_container down [-t SECONDS] FILE\n"
    "       uva_container rm NAME...\n"
    "       uva_container check\n"
    "       uva_container kube [--image [NAME=]IMAGE]... [FILE]\n"
    "       uva_container --print-default-spec\n"
    "\n"
    "Without arguments: start two copies of http_recorder.py (found next to\n"
    "this binary, in ../share/uva_container beside its directory, or "
    "in\n" UVA_DATADIR "),\n"
    "each in its own user, network, mount, pid, uts and ipc namespaces,\n"
    "with its own working directory and /tmp:\n"
    "  a: http://127.0.0.1:18080/ -> port 8080 inside container a\n"
    "  b: http://127.0.0.1:28080/ -> port 8080 inside container b\n"
    "Their output is shown prefixed by container name; Ctrl-C stops both.\n"
    "\n"
    "run: one container running COMMAND (see 'uva_container run --help').\n"
    "up: every container described in a spec FILE (key file format; the\n"
    "    default is exactly the spec --print-default-spec prints).\n"
    "-d (run, up): return once every container is ready (its published TCP\n"
    "    ports listen inside, and ready-http answers), leaving the manager in\n"
    "    the background; not ready within --wait-timeout (default 60 s):\n"
    "    one line says what it waited for, everything stops, exit 1.\n"
    "ps, logs, exec, stop, down: the running containers of this user, over\n"
    "    $XDG_RUNTIME_DIR/uva_container (else STATE/run).\n"
    "check: test whether this machine can run containers, with fixes.\n"
    "kube: print FILE (default: the default spec) as Kubernetes Pods.\n"
    "\n"
    "State (working directories, /tmp, logs) lives in\n"
    "$XDG_STATE_HOME/uva_container (default ~/.local/state/uva_container);\n"
    "with HOME unusable (HOME=/nonexistent in CI) set XDG_STATE_HOME.\n"
    "\n"
    "As root: containers run as root inside and out, and the manager refuses\n"
    "every directory of another user (sudo with your HOME or XDG_STATE_HOME:\n"
    "your state directory), so it never leaves a root-owned file where a "
    "later\n"
    "run as you would meet it; give root its own XDG_STATE_HOME, -w, --tmp.\n"
    "\n"
    "Exit status: 0 after Ctrl-C or SIGTERM, 1 on a start-up error or when\n"
    "every app ended by itself, 2 on a usage error; run: the app's own\n"
    "status (128+n if it died of signal n).\n";

/* $XDG_STATE_HOME/uva_container, falling back to ~/.local/state (XDG Base
 * Directory Specification). */
static char *state_dir(void) {
  const char *xdg = g_getenv("XDG_STATE_HOME");
  if (xdg && g_path_is_absolute(xdg))
    return g_build_filename(xdg, "uva_container", NULL);
  return g_build_filename(g_get_home_dir(), ".local", "state", "uva_container",
                          NULL);
}

/* http_recorder.py: next to the binary (the checkout, after make), in
 * BINDIR/../share/uva_container (installed, any PREFIX), or in the
 * compiled-in UVA_DATADIR (datadir.c). */
static char *recorder_path(GError **error) {
  g_autofree char *exe = g_file_read_link("/proc/self/exe", error);
  if (!exe)
    return NULL;
  return uva_datadir_find(exe, UVA_DATADIR, "http_recorder.py", error);
}

/* Who the apps are: the passwd entry of our uid, read here in the
 * manager (getpwuid(3), through NSS, which init could not do inside),
 * gives USER, LOGNAME and the home directory inside.  A uid without an
 * entry keeps HOME=/tmp and no USER.  With --userns auto the app is root
 * of its namespace (root's name and /root, as in podman), and the
 * subordinate ranges are found now: a missing one stops the start. */
static gboolean set_identity(UvaSpec *spec, GError **error) {
  struct passwd *pw = getpwuid(getuid());
  const char *name = pw ? pw->pw_name : NULL;
  for (guint i = 0; i < spec->containers->len; i++) {
    UvaContainerSpec *c = spec->containers->pdata[i];
    g_free(c->user);
    g_free(c->home);
    c->user = c->userns_auto ? g_strdup("root") : g_strdup(name);
    c->home =
        c->userns_auto ? g_strdup("/root") : g_strdup(pw ? pw->pw_dir : NULL);
    if (!c->userns_auto)
      continue;
    g_autofree char *uidmap = uva_subid_helper("newuidmap", error);
    g_autofree char *gidmap =
        uidmap ? uva_subid_helper("newgidmap", error) : NULL;
    if (!gidmap ||
        !uva_subid_lookup("/etc/subuid", name, getuid(), &c->subuid_start,
                          &c->subuid_count, error) ||
        !uva_subid_lookup("/etc/subgid", name, getgid(), &c->subgid_start,
                          &c->subgid_count, error)) {
      g_prefix_error(error, "%s: ", c->name);
      return FALSE;
    }
  }
  return TRUE;
}

/* -d: forks; the child (its own session, no terminal) returns -1 and goes
 * on as the manager with *fd, the pipe on which it says "ready".  The
 * parent waits: 0 (printing print_name, the name of a `run -d`) once the
 * child is ready; the child's own status if it ended first (it printed
 * why); on Ctrl-C or SIGTERM it stops the child and returns 130. */
static int detach_fork(int *fd, const char *print_name, GError **error) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) {
    uva_fail_errno(error, errno, "pipe2");
    return 1;
  }
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    uva_fail_errno(error, errno, "fork");
    return 1;
  }
  if (pid == 0) {
    close(p[0]);
    (void)setsid();
    *fd = p[1];
    return -1;
  }
  close(p[1]);
  /* Blocked since main's start (uva_hold_stop_signals): read here. */
  uva_hold_stop_signals();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  int sfd = signalfd(-1, &set, SFD_CLOEXEC);
  struct pollfd w[2] = {{p[0], POLLIN, 0}, {sfd, POLLIN, 0}};
  char c = 0;
  ssize_t n = -1;
  for (;;) {
    if (poll(w, sfd >= 0 ? 2 : 1, -1) < 0 && errno == EINTR)
      continue;
    if (w[1].revents) {
      kill(pid, SIGTERM);
      (void)waitpid(pid, NULL, 0);
      return 130;
    }
    n = read(p[0], &c, 1);
    if (n >= 0 || errno != EINTR)
      break;
  }
  if (n == 1) {
    if (print_name)
      printf("%s\n", print_name);
    return 0;
  }
  int st = 0;
  (void)waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) ? WEXITSTATUS(st) : 1;
}

/* Runs the supervisor, in the background with detach. */
static int supervise(UvaSpec *spec, UvaSupervisorOptions *opt, gboolean detach,
                     const char *print_name, GError **error) {
  opt->detach_fd = -1;
  if (detach) {
    int parent = detach_fork(&opt->detach_fd, print_name, error);
    if (parent >= 0)
      return parent;
  }
  int status = uva_supervisor_run(spec, opt, error);
  /* Not before the clean-up helper is done and reaped: nothing of ours
   * outlives this process, and the state may be removed once it returns. */
  uva_afterlife_finish();
  return status;
}

/* Every container of spec must be able to start before any does. */
static int run_spec(UvaSpec *spec, UvaSupervisorOptions *opt, gboolean detach,
                    GError **error) {
  if (!uva_spec_validate(spec, error))
    return 1;
  if (!set_identity(spec, error))
    return 1;
  gboolean need_tun = FALSE;
  for (guint i = 0; i < spec->containers->len; i++) {
    UvaContainerSpec *c = spec->containers->pdata[i];
    if (!uva_preflight_command(c, error))
      return 1;
    need_tun |= !c->no_network;
  }
  if (need_tun && !uva_preflight_tun(error))
    return 1;
  return supervise(spec, opt, detach, NULL, error);
}

static UvaSpec *default_spec(const char *state, GError **error) {
  g_autofree char *recorder = recorder_path(error);
  return recorder ? uva_spec_default(recorder, state) : NULL;
}

/* --ready-http[=PATH] and --ready-tcp[=PORT]: options whose argument is
 * optional are callbacks in GOption. */
static char *ready_http_arg, *ready_tcp_arg;
static gboolean ready_http_set, ready_tcp_set;

static gboolean on_ready_opt(const char *name, const char *value, gpointer data,
                             GError **error) {
  (void)data;
  (void)error;
  gboolean http = g_str_equal(name, "--ready-http");
  g_free(http ? ready_http_arg : ready_tcp_arg);
  *(http ? &ready_http_arg : &ready_tcp_arg) = g_strdup(value);
  *(http ? &ready_http_set : &ready_tcp_set) = TRUE;
  return TRUE;
}

/* --wait-timeout: whole seconds, 0 (forever) to a day. */
static gboolean parse_wait(const char *text, guint *out, GError **error) {
  guint64 v;
  if (!g_ascii_string_to_unsigned(text, 10, 0, 86400, &v, NULL))
    return uva_fail(error,
                    "--wait-timeout \"%s\" is not a number of seconds "
                    "from 0 (forever) to 86400",
                    text);
  *out = (guint)v;
  return TRUE;
}

/* `run`: one container from the command line.  Usage errors return 2. */
static int cmd_run(int argc, char **argv, const char *state, GError **error) {
  g_auto(GStrv) publish = NULL, env = NULL, command = NULL, volumes = NULL;
  g_autofree char *name = NULL, *workdir = NULL, *tmp = NULL, *hostname = NULL,
                  *network = NULL, *driver = NULL, *restart = NULL,
                  *pids_limit = NULL, *shm_size = NULL, *stop_timeout = NULL,
                  *sockets_limit = NULL, *userns = NULL, *wait = NULL,
                  *outbound = NULL;
  gboolean interactive = FALSE, tty = FALSE, rm_after = FALSE, detach = FALSE;
  /* The defaults --help states are the constants the code uses:
   * tests/docs.sh reads them here and holds the docs to them. */
  g_autofree char *wait_help = g_strdup_printf(
      "With -d: seconds to wait for readiness before giving up and stopping "
      "it (default: %d; 0: forever)",
      UVA_DEFAULT_WAIT_TIMEOUT);
  g_autofree char *stop_help =
      g_strdup_printf("Seconds between the signal that stops COMMAND and "
                      "SIGKILL (default: %d)",
                      UVA_DEFAULT_STOP_TIMEOUT);
  g_autofree char *pids_help = g_strdup_printf(
      "At most N processes and threads in the container, its init "
      "included (default: %u); unlimited, 0 or -1: no cap",
      UVA_DEFAULT_PIDS_LIMIT);
  g_autofree char *sockets_help = g_strdup_printf(
      "At most N host sockets in libslirp for the container's outbound "
      "connections and UDP ports (default: %u); new ones past it are "
      "refused",
      UVA_DEFAULT_SOCKETS_LIMIT);
  g_autofree char *shm_help = g_strdup_printf(
      "Size of /dev/shm: bytes, or a number with k, m or g (default: %um)",
      UVA_DEFAULT_SHM_SIZE >> 20);
  GOptionEntry entries[] = {
      {"detach", 'd', 0, G_OPTION_ARG_NONE, &detach,
       "Return once the container is ready (its published TCP ports listen "
       "inside, and --ready-http answers), printing its name; it goes on in "
       "the background (uva_container ps, logs, exec, stop)",
       NULL},
      {"wait-timeout", 0, 0, G_OPTION_ARG_STRING, &wait, wait_help, "SECONDS"},
      {"ready-http", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK,
       (gpointer)on_ready_opt,
       "Ready once an HTTP HEAD of PATH (default /) on the first published "
       "TCP port gets an answer",
       "PATH"},
      {"ready-tcp", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK,
       (gpointer)on_ready_opt,
       "Ready once container port PORT (default: every published TCP port, "
       "which is also the default readiness) listens inside",
       "PORT"},
      {"stop-timeout", 0, 0, G_OPTION_ARG_STRING, &stop_timeout, stop_help,
       "SECONDS"},
      {"interactive", 'i', 0, G_OPTION_ARG_NONE, &interactive,
       "Keep stdin open and give it to COMMAND (default: /dev/null)", NULL},
      {"tty", 't', 0, G_OPTION_ARG_NONE, &tty,
       "Give COMMAND a pseudo-terminal inside the container; with -i, the "
       "caller's terminal is joined to it in raw mode",
       NULL},
      {"publish", 'p', 0, G_OPTION_ARG_STRING_ARRAY, &publish,
       "Publish a container port: [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp]"
       " (HOST_IP defaults to 127.0.0.1; IPv6 in brackets)",
       "SPEC"},
      {"name", 0, 0, G_OPTION_ARG_STRING, &name,
       "Container name (default: run-XXXXXXXX, new each time)", "NAME"},
      {"rm", 0, 0, G_OPTION_ARG_NONE, &rm_after,
       "Remove STATE/NAME (its default workdir and /tmp) when it ends", NULL},
      {"workdir", 'w', 0, G_OPTION_ARG_FILENAME, &workdir,
       "Host directory mounted at /app, where COMMAND starts (default: "
       "STATE/NAME/www, emptied at every start; -w . shares the current "
       "directory, read-write)",
       "DIR"},
      {"tmp", 0, 0, G_OPTION_ARG_FILENAME, &tmp,
       "Host directory behind /tmp (default: STATE/NAME/tmp)", "DIR"},
      {"env", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &env,
       "Set an environment variable for COMMAND", "NAME=VALUE"},
      {"hostname", 0, 0, G_OPTION_ARG_STRING, &hostname,
       "Hostname (default: the name)", "NAME"},
      {"network", 0, 0, G_OPTION_ARG_STRING, &network,
       "slirp (default: outbound through libslirp, host loopback blocked) or "
       "none (only lo)",
       "MODE"},
      {"port-driver", 0, 0, G_OPTION_ARG_STRING, &driver,
       "How published ports reach COMMAND: splice (default: host socket "
       "joined to 127.0.0.1:PORT inside, TCP, UDP, IPv6 host addresses) or "
       "slirp (libslirp's forwarding to 10.0.2.100:PORT, TCP on IPv4) or "
       "bypass (the app's bind() gets a host socket: host speed, TCP)",
       "DRIVER"},
      {"outbound", 0, 0, G_OPTION_ARG_STRING, &outbound,
       "How outbound TCP leaves: slirp (default: libslirp) or bypass (on a "
       "host socket, at host speed; host loopback still blocked)",
       "MODE"},
      {"restart", 0, 0, G_OPTION_ARG_STRING, &restart,
       "Restart COMMAND when it fails: no (default), on-failure or "
       "on-failure:N (at most N times), after 1, 2, 4 ... 30 s",
       "POLICY"},
      {"pids-limit", 0, 0, G_OPTION_ARG_STRING, &pids_limit, pids_help, "N"},
      {"sockets-limit", 0, 0, G_OPTION_ARG_STRING, &sockets_limit, sockets_help,
       "N"},
      {"shm-size", 0, 0, G_OPTION_ARG_STRING, &shm_size, shm_help, "SIZE"},
      {"userns", 0, 0, G_OPTION_ARG_STRING, &userns,
       "single (default: only your own id, as itself) or auto (root inside "
       "is you, and the subordinate ids of /etc/subuid and /etc/subgid are "
       "mapped through newuidmap: chown, setuid and servers that switch "
       "users work)",
       "MODE"},
      {"volume", 'v', 0, G_OPTION_ARG_STRING_ARRAY, &volumes,
       "Bind a host path into the container (read-write unless :ro); in a "
       "path, \\: is a colon and \\\\ a backslash",
       "HOST_PATH:/CONTAINER_PATH[:ro]"},
      {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &command, NULL,
       NULL},
      G_OPTION_ENTRY_NULL};
  g_autoptr(GOptionContext) ctx = g_option_context_new(
      "[--] COMMAND [ARG...] - run COMMAND in a container");
  g_option_context_add_main_entries(ctx, entries, NULL);
  /* The built-in sizes, from the constants: tests/docs.sh reads them here
   * and compares what README.md, docs/ and the man page say. */
  g_autofree char *sizes = g_strdup_printf(
      "Inside, tmpfs of the container's own: the home directory (0700, %u "
      "MiB), /run (0755, %u MiB), /var/tmp (1777, %u MiB); /dev/shm: "
      "--shm-size.\nKept output (up, -d): STATE/NAME/log.0 and log.1, %u MiB "
      "each.",
      UVA_HOME_SIZE >> 20, UVA_RUN_SIZE >> 20, UVA_VAR_TMP_SIZE >> 20,
      UVA_LOG_HALF >> 20);
  g_option_context_set_description(ctx, sizes);
  /* Options stop at COMMAND: `run python3 -m http.server` keeps its -m. */
  g_option_context_set_strict_posix(ctx, TRUE);
  if (!g_option_context_parse(ctx, &argc, &argv, error)) {
    g_prefix_error(error, "run: ");
    return 2;
  }

  g_autoptr(UvaSpec) spec = uva_spec_new();
  spec->state_dir = g_strdup(state);
  /* Two runs at once must not meet in one state directory (docker gives
   * each container an id). */
  g_autofree char *unique =
      g_strdup_printf("run-%08x", (unsigned)g_random_int());
  UvaContainerSpec *c = uva_container_spec_new(name ? name : unique);
  g_ptr_array_add(spec->containers, c);
  c->name_generated = name == NULL;
  if (!command || !command[0]) {
    g_set_error(
        error, UVA_ERROR, UVA_ERROR_INVALID,
        "run: no COMMAND given (uva_container run [OPTIONS] -- COMMAND)");
    return 2;
  }
  c->argv = g_steal_pointer(&command);
  /* Not the current directory by default: run from ~, an app could
   * otherwise append to ~/.bashrc.  docker run gives a fresh filesystem
   * too; -w . is the explicit opt-in. */
  c->fresh_workdir = workdir == NULL;
  c->workdir = workdir ? g_canonicalize_filename(workdir, NULL)
                       : g_build_filename(state, c->name, "www", NULL);
  if (workdir && !g_file_test(c->workdir, G_FILE_TEST_IS_DIR)) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "run: --workdir %s is not an existing directory", c->workdir);
    return 2;
  }
  c->tmpdir = tmp ? g_canonicalize_filename(tmp, NULL)
                  : g_build_filename(state, c->name, "tmp", NULL);
  c->hostname = g_steal_pointer(&hostname);
  c->env = g_steal_pointer(&env);
  c->keep_stdin = interactive;
  if (stop_timeout &&
      !uva_stop_timeout_parse(stop_timeout, &c->stop_timeout, error)) {
    g_prefix_error(error, "run: --stop-timeout: ");
    return 2;
  }
  c->tty = tty;
  if (tty)
    uva_term_size(isatty(1) ? 1 : 0, &c->tty_rows, &c->tty_cols);
  if (network && !g_str_equal(network, "slirp") &&
      !g_str_equal(network, "none")) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "run: --network \"%s\" is not slirp or none", network);
    return 2;
  }
  c->no_network = network && g_str_equal(network, "none");
  if (driver && !uva_port_driver_parse(driver, &c->port_driver, error)) {
    g_prefix_error(error, "run: --port-driver: ");
    return 2;
  }
  if (outbound && !uva_outbound_parse(outbound, &c->outbound_bypass, error)) {
    g_prefix_error(error, "run: --outbound: ");
    return 2;
  }
  if (restart && !uva_restart_parse(restart, c, error)) {
    g_prefix_error(error, "run: --restart: ");
    return 2;
  }
  if (pids_limit && !uva_pids_limit_parse(pids_limit, &c->pids_limit, error)) {
    g_prefix_error(error, "run: --pids-limit: ");
    return 2;
  }
  if (sockets_limit &&
      !uva_sockets_limit_parse(sockets_limit, &c->sockets_limit, error)) {
    g_prefix_error(error, "run: --sockets-limit: ");
    return 2;
  }
  if (shm_size && !uva_size_parse(shm_size, &c->shm_size, error)) {
    g_prefix_error(error, "run: --shm-size: ");
    return 2;
  }
  if (userns && !uva_userns_parse(userns, &c->userns_auto, error)) {
    g_prefix_error(error, "run: --userns: ");
    return 2;
  }
  for (char **v = volumes; v && *v; v++) {
    UvaMount m = {0};
    if (!uva_volume_parse(*v, NULL, &m, error)) {
      g_prefix_error(error, "run: -v: ");
      return 2;
    }
    g_array_append_val(c->mounts, m);
  }
  for (char **p = publish; p && *p; p++) {
    UvaPublish pub;
    if (!uva_publish_parse(*p, &pub, error)) {
      g_prefix_error(error, "run: -p: ");
      return 2;
    }
    g_array_append_val(c->publish, pub);
  }
  if (!uva_spec_validate(spec, error)) {
    g_prefix_error(error, "run: ");
    return 2;
  }
  if (!uva_preflight_command(c, error) ||
      (!c->no_network && !uva_preflight_tun(error)))
    return 1;
  if (!set_identity(spec, error))
    return 1;
  c->probe_http = ready_http_set;
  if (ready_http_arg &&
      !uva_ready_http_parse(ready_http_arg, FALSE, c, error)) {
    g_prefix_error(error, "run: --");
    return 2;
  }
  c->probe_tcp = ready_tcp_set;
  if (ready_tcp_arg && !uva_ready_tcp_parse(ready_tcp_arg, FALSE, c, error)) {
    g_prefix_error(error, "run: --");
    return 2;
  }
  UvaSupervisorOptions opt = {.app_status = TRUE,
                              .wait_timeout = UVA_DEFAULT_WAIT_TIMEOUT};
  if (wait && !parse_wait(wait, &opt.wait_timeout, error)) {
    g_prefix_error(error, "run: ");
    return 2;
  }
  if (!detach)
    opt.wait_timeout = wait ? opt.wait_timeout : 0;
  if (detach && (tty || interactive)) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "run: -d runs in the background: it takes no -i or -t "
                "(use uva_container exec -it NAME later)");
    return 2;
  }
  c->remove_after = rm_after;
  return supervise(spec, &opt, detach, c->name, error);
}

/* up [-d] [--wait-timeout S] [--exit-code-from NAME] FILE */
static int cmd_up(int argc, char **argv, const char *state, GError **error) {
  g_autofree char *from = NULL, *wait = NULL;
  g_auto(GStrv) rest = NULL;
  gboolean detach = FALSE;
  GOptionEntry entries[] = {
      {"detach", 'd', 0, G_OPTION_ARG_NONE, &detach,
       "Return once every container is ready; they go on in the background",
       NULL},
      {"wait-timeout", 0, 0, G_OPTION_ARG_STRING, &wait,
       "Seconds to wait for readiness before giving up and stopping "
       "everything (default with -d: 60; 0: forever)",
       "SECONDS"},
      {"exit-code-from", 0, 0, G_OPTION_ARG_STRING, &from,
       "Exit with the status of container NAME's app", "NAME"},
      {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &rest, NULL,
       NULL},
      G_OPTION_ENTRY_NULL};
  g_autoptr(GOptionContext) ctx =
      g_option_context_new("FILE - run every container of a spec file");
  g_option_context_add_main_entries(ctx, entries, NULL);
  if (!g_option_context_parse(ctx, &argc, &argv, error)) {
    g_prefix_error(error, "up: ");
    return 2;
  }
  if (!rest || !rest[0] || rest[1]) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "up takes one FILE%s (uva_container up [-d] FILE)",
                rest && rest[0] ? ", not several" : "");
    return 2;
  }
  UvaSupervisorOptions opt = {.exit_code_from = from,
                              .wait_timeout =
                                  detach ? UVA_DEFAULT_WAIT_TIMEOUT : 0};
  if (wait && !parse_wait(wait, &opt.wait_timeout, error)) {
    g_prefix_error(error, "up: ");
    return 2;
  }
  g_autoptr(UvaSpec) spec = uva_specfile_load(rest[0], state, error);
  if (!spec)
    return 2;
  gboolean known = !from;
  for (guint i = 0; from && i < spec->containers->len; i++)
    known |= g_str_equal(((UvaContainerSpec *)spec->containers->pdata[i])->name,
                         from);
  if (!known) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "up: --exit-code-from %s: no such container in %s", from,
                rest[0]);
    return 2;
  }
  return run_spec(spec, &opt, detach, error);
}

static gboolean is_client_command(const char *cmd) {
  static const char *const cmds[] = {"ps",   "logs", "exec",
                                     "stop", "down", NULL};
  return g_strv_contains(cmds, cmd);
}

/* ps, logs, stop, down and exec: clients of running managers (cli.c). */
static int cmd_client(int argc, char **argv, const char *state,
                      GError **error) {
  const char *cmd = argv[0];
  if (g_str_equal(cmd, "exec"))
    return uva_cli_exec(state, argc, argv, error);
  g_autofree char *format = NULL, *timeout = NULL, *tail = NULL;
  gboolean follow = FALSE;
  g_auto(GStrv) rest = NULL;
  GOptionEntry ps_entries[] = {{"format", 0, 0, G_OPTION_ARG_STRING, &format,
                                "table (default) or json", "FORMAT"},
                               G_OPTION_ENTRY_NULL};
  GOptionEntry logs_entries[] = {
      {"follow", 'f', 0, G_OPTION_ARG_NONE, &follow,
       "Go on showing output until the container ends", NULL},
      {"tail", 0, 0, G_OPTION_ARG_STRING, &tail, "Only the last N lines", "N"},
      {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, NULL},
      G_OPTION_ENTRY_NULL};
  GOptionEntry stop_entries[] = {
      {"time", 't', 0, G_OPTION_ARG_STRING, &timeout,
       "Seconds between the stop signal and SIGKILL (default: each "
       "container's stop-timeout)",
       "SECONDS"},
      {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &rest, NULL,
       NULL},
      G_OPTION_ENTRY_NULL};
  const char *what = g_str_equal(cmd, "ps")     ? ""
                     : g_str_equal(cmd, "logs") ? "NAME"
                     : g_str_equal(cmd, "stop") ? "NAME..."
                                                : "FILE";
  g_autofree char *summary = g_strdup_printf("%s", what);
  g_autoptr(GOptionContext) ctx = g_option_context_new(summary);
  g_option_context_add_main_entries(ctx,
                                    g_str_equal(cmd, "ps")     ? ps_entries
                                    : g_str_equal(cmd, "logs") ? logs_entries
                                                               : stop_entries,
                                    NULL);
  if (!g_option_context_parse(ctx, &argc, &argv, error)) {
    g_prefix_error(error, "%s: ", cmd);
    return 2;
  }
  /* -t is a stop timeout, as --stop-timeout (spec.c). */
  int t = -1;
  guint stop_s;
  if (timeout) {
    if (!uva_stop_timeout_parse(timeout, &stop_s, error)) {
      g_prefix_error(error, "%s: -t: ", cmd);
      return 2;
    }
    t = (int)stop_s;
  }
  if (g_str_equal(cmd, "ps")) {
    if (argc > 1 || (format && !g_str_equal(format, "json") &&
                     !g_str_equal(format, "table"))) {
      g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                  "ps takes only --format json or --format table");
      return 2;
    }
    return uva_cli_ps(state, format && g_str_equal(format, "json"), error);
  }
  guint n = rest ? g_strv_length(rest) : 0;
  if (n == 0 || (n > 1 && !g_str_equal(cmd, "stop"))) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "%s takes %s (uva_container %s %s)", cmd,
                n ? "one argument" : "an argument", cmd, what);
    return 2;
  }
  if (g_str_equal(cmd, "stop"))
    return uva_cli_stop(state, rest, t, error);
  if (g_str_equal(cmd, "down"))
    return uva_cli_down(state, rest[0], t, error);
  guint64 lines = 0;
  if (tail &&
      !g_ascii_string_to_unsigned(tail, 10, 0, G_MAXINT, &lines, NULL)) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "logs: --tail \"%s\" is not a number of lines", tail);
    return 2;
  }
  return uva_cli_logs(state, rest[0], tail ? (int)lines : -1, follow, error);
}

/* portholder.c's question (who holds this port?) answered by the running
 * managers, over the control channel: state_dir is main's own. */
static pid_t ask_managers(guint16 port, gboolean udp, gpointer state_dir) {
  return uva_ctl_port_holder(state_dir, port, udp);
}

int main(int argc, char **argv) {
  /* A peer closing a socket must be an EPIPE, not our death. */
  signal(SIGPIPE, SIG_IGN);
  /* A script's background job starts with SIGINT ignored (bash does that
   * without job control), and an ignored signal is discarded, so neither
   * the default action nor, later, the supervisor's signalfd would see
   * it: `kill -INT` must stop us like Ctrl-C does, from the first
   * instruction on.  SIGHUP keeps an inherited ignore (nohup). */
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  /* Commands that start containers hold the stop signals until the
   * supervisor reads them from its signalfd: Ctrl-C at any moment of
   * start-up is then the documented stop with status 0, not death by
   * SIGINT (130) in the few milliseconds before the supervisor runs.
   * Other commands keep the default action. */
  if (argc < 2 || g_str_equal(argv[1], "run") || g_str_equal(argv[1], "up"))
    uva_hold_stop_signals();
  g_autoptr(GError) error = NULL;
  int status;
  if (argc == 2 &&
      (g_str_equal(argv[1], "--help") || g_str_equal(argv[1], "-h"))) {
    fputs(usage_text, stdout);
    return 0;
  }
  if (argc == 2 && g_str_equal(argv[1], "--version")) {
    printf("uva_container %s (libslirp %s, GLib %u.%u.%u)\n", UVA_VERSION,
           slirp_version_string(), glib_major_version, glib_minor_version,
           glib_micro_version);
    return 0;
  }
  g_autofree char *state = state_dir();
  uva_portholder_set_asker(ask_managers, state);
  const char *cmd = argc > 1 ? argv[1] : NULL;
  if (cmd && g_str_equal(cmd, "run")) {
    status = cmd_run(argc - 1, argv + 1, state, &error);
  } else if (cmd && g_str_equal(cmd, "up") && argc > 2) {
    status = cmd_up(argc - 1, argv + 1, state, &error);
  } else if (cmd && is_client_command(cmd)) {
    status = cmd_client(argc - 1, argv + 1, state, &error);
  } else if (cmd && g_str_equal(cmd, "rm") && argc >= 3) {
    status = 0;
    for (int i = 2; i < argc && status == 0; i++)
      if (!uva_hostdir_remove_state(state, argv[i], &error))
        status = 1;
  } else if (cmd && g_str_equal(cmd, "--print-default-spec") && argc == 2) {
    g_autoptr(UvaSpec) spec = default_spec(state, &error);
    g_autofree char *text = spec ? uva_specfile_print(spec) : NULL;
    if (text)
      fputs(text, stdout);
    status = text ? 0 : 1;
  } else if (cmd && g_str_equal(cmd, "kube")) {
    status = uva_kube_command(argc - 1, argv + 1, state, default_spec, &error);
  } else if (cmd && g_str_equal(cmd, "check") && argc == 2) {
    /* A missing recorder is one FAIL line among the others. */
    g_autoptr(GError) not_found = NULL;
    g_autofree char *recorder = recorder_path(&not_found);
    status = uva_doctor_run(recorder, not_found ? not_found->message : NULL);
  } else if (cmd) {
    /* A usage error is one line naming what is wrong; the 26 lines of
     * --help would push it off the screen. */
    if (g_str_equal(cmd, "up") && argc == 2)
      fprintf(stderr, "uva_container: up: no FILE given (uva_container up "
                      "FILE); see uva_container --help\n");
    else if (g_str_equal(cmd, "up"))
      fprintf(stderr,
              "uva_container: up takes [--exit-code-from NAME] and "
              "one FILE, not %d arguments; see uva_container --help\n",
              argc - 2);
    else if (g_str_equal(cmd, "rm"))
      fprintf(stderr, "uva_container: rm: no NAME given (uva_container rm "
                      "NAME...); see uva_container --help\n");
    else if (g_str_equal(cmd, "check") ||
             g_str_equal(cmd, "--print-default-spec") ||
             g_str_equal(cmd, "--help") || g_str_equal(cmd, "-h") ||
             g_str_equal(cmd, "--version"))
      fprintf(stderr,
              "uva_container: %s takes no arguments (got '%s'); "
              "see uva_container --help\n",
              cmd, argv[2]);
    else
      fprintf(stderr,
              "uva_container: unknown command '%s' (commands: run, "
              "up, ps, logs, exec, stop, down, rm, check, kube; options: "
              "--help, --version, "
              "--print-default-spec); see uva_container --help\n",
              cmd);
    return 2;
  } else {
    g_autoptr(UvaSpec) spec = default_spec(state, &error);
    UvaSupervisorOptions opt = {0};
    status = spec ? run_spec(spec, &opt, FALSE, &error) : 1;
  }
  if (error) {
    /* A usage error of run points at run's own help. */
    gboolean run_usage = status == 2 && cmd && g_str_equal(cmd, "run");
    fprintf(stderr, "uva_container: %s%s\n", error->message,
            run_usage ? "; see uva_container run --help" : "");
    return status ? status : 1;
  }
  return status;
}
