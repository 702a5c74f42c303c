/* state.h - the manager's own state, shared by its two halves:
 * supervisor.c (start-up, the loop, signals, stopping everything) and
 * container.c (one container's events: its init's messages, readiness,
 * its end, and what `ps`, `stop` and `exec` ask of it).  Not an API: no
 * other file includes it. */
#pragma once

#include "manager/ctlserver.h"
#include "manager/logfile.h"
#include "manager/options.h"
#include "manager/output.h"
#include "manager/ptyjoin.h"
#include "manager/ready.h"
#include "manager/teeout.h"
#include "net/bypass.h"
#include "net/fwd.h"
#include "net/slirp.h"
#include "sandbox/sandbox.h"
#include "spec/hostdir.h"

#include <stdio.h>

typedef struct Supervisor Supervisor;

/* What container.c asks of the supervisor that holds its container: a
 * table supervisor.c fills in, so that container.c never calls up into
 * supervisor.c (the two included each other's declarations before issue
 * 25).  Each is called from the loop, never from a signal handler. */
typedef struct {
  /* Its stop signal to every container (SIGKILL after the timeouts). */
  void (*stop_all)(Supervisor *sup, int sig);
  /* A STARTING container failed: error (owned) is the first failure, and
   * everything stops. */
  void (*fail_startup)(Supervisor *sup, GError *error);
  /* Leaves the loop once every container is reaped and every output
   * drained. */
  void (*maybe_quit)(Supervisor *sup);
  /* Says once that every container is up (and tells -d's caller). */
  void (*announce)(Supervisor *sup);
} UvaSupervisorOps;

/* Where a container is in its life.  Only a STARTING container's failure
 * is a start-up failure (all stop, exit 1); from RUNNING on a failure ends
 * that container alone, so a late error can never stop the others. */
typedef enum {
  CT_STARTING, /* cloned, its app not exec'd yet (no READY) */
  CT_RUNNING,  /* READY came */
  CT_STOPPING, /* told to stop, or ended for a failure */
  CT_EXITED,   /* reaped, or never started */
} ContainerState;

typedef struct Container {
  Supervisor *sup;
  ContainerState state;
  UvaContainerSpec *spec;
  UvaNet *net;       /* its network; NULL with network none */
  UvaFwd *fwd;       /* its published ports with the splice driver */
  UvaBypass *bypass; /* bypass driver or --outbound bypass (bypass.c) */
  UvaSandbox sb;
  guint sync_watch;
  UvaStream *out, *err;      /* its output pipes; NULL for a foreground run */
  UvaTee *tee_out, *tee_err; /* a foreground run's, into the caller's pipes */
  gboolean app_started, reaped, ready;
  int wait_status;
  UvaHostdirs *host;       /* its binds until started; the flock on its /tmp */
  UvaReady *checks;        /* until it is ready */
  UvaLogfile *log;         /* what `logs` shows */
  gint64 started_at;       /* g_get_real_time() at its start */
  guint kill_timer;        /* `stop NAME`: SIGKILL after its timeout */
  gboolean stop_requested; /* by `stop NAME`: its end is no failure */
  guint bypass_check;      /* an answer due from the bypass sockets */
} Container;

struct Supervisor {
  const UvaSupervisorOps *ops; /* supervisor.c's, for container.c */
  UvaSpec *spec;
  const UvaSupervisorOptions *opt;
  GPtrArray *containers; /* of Container* */
  GMainLoop *loop;
  int signal_fd;
  guint signal_watch, kill_timer, wait_timer;
  gboolean stopping, announced;
  int exit_code;
  GError *failure;     /* first start-up failure */
  int prefix_width;    /* 0: lines are passed through unprefixed */
  gboolean app_status; /* exit with the app's status (run) */
  int first_failure;   /* up: the first non-zero status of an app, or -1 */
  int exit_from_code;
  int stop_timeout; /* `down -t`: overrides every stop-timeout; -1 */
  int notify_fd;    /* $NOTIFY_SOCKET, connected at start, or -1 */
  int detach_fd;    /* -d: the waiting caller's pipe until ready, or -1 */
  int null_fd;      /* -d: /dev/null, for the caller\'s stdio after */
  FILE *info;       /* where the manager's own lines go */
  UvaSink *out_sink, *err_sink; /* stdout and stderr, never blocking */
  FILE *real_stdout, *real_stderr;
  UvaPtyJoin *pty; /* run -t */
  UvaCtlServer *ctl;
};
