/* spec.h - what a container is: a name, a command, the host directories
 * behind its working directory and /tmp, and the ports it publishes.  Pure
 * data and parsers; nothing here touches the system, so it is unit tested.
 * One header, two files: spec.c has the model, validation and the default
 * spec; specparse.c each field's parser and printer (spec.c calls them). */
#pragma once

#include <glib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Inside every container (documented in README):
 *   10.0.2.100/24 on tap0, gateway (and host, via libslirp) 10.0.2.2,
 *   DNS 10.0.2.3, working directory /app, the app's /tmp backed by a host dir.
 */
#define UVA_GUEST_ADDR "10.0.2.100"
#define UVA_GATEWAY_ADDR "10.0.2.2"
#define UVA_DNS_ADDR "10.0.2.3"
#define UVA_NETWORK "10.0.2.0"
#define UVA_NETMASK "255.255.255.0"
/* IPv6 (libslirp in6_enabled): fd00::100/64, gateway fd00::2, DNS fd00::3,
 * configured statically: no router advertisement or DAD to wait for. */
#define UVA_PREFIX6 "fd00::"
#define UVA_PREFIX6_LEN 64
#define UVA_GUEST_ADDR6 "fd00::100"
#define UVA_GATEWAY_ADDR6 "fd00::2"
#define UVA_DNS_ADDR6 "fd00::3"

/* The control directory's name in the state directory when there is no
 * XDG_RUNTIME_DIR (uva_hostdir_control_dir): no container may be named so,
 * or STATE/NAME would be it (uva_name_valid). */
#define UVA_STATE_CONTROL_DIR "run"
#define UVA_DEFAULT_MTU 65520
#define UVA_APP_DIR "/app"
#define UVA_TAP_NAME "tap0"
/* The default cap on a container's processes and threads, its init
 * included (podman's default); see uva_pids_limit_parse. */
#define UVA_DEFAULT_PIDS_LIMIT 2048u
/* The largest cap: PID_MAX_LIMIT on 64-bit (include/linux/threads.h). */
#define UVA_MAX_PIDS_LIMIT 4194304u
/* The default cap on the host sockets libslirp holds for one container's
 * outbound connections and UDP ports (flowcap.c), and the largest. */
#define UVA_DEFAULT_SOCKETS_LIMIT 512u
#define UVA_MAX_SOCKETS_LIMIT 1048576u
/* The default size of /dev/shm, Docker's. */
#define UVA_DEFAULT_SHM_SIZE (64u * 1024 * 1024)
/* Seconds from the stop signal to SIGKILL (docker's 10), and the seconds
 * -d waits for readiness.  Plain numbers: --help spells them out
 * (G_STRINGIFY), and tests/docs.sh holds README.md, docs/ and the man page
 * to it. */
#define UVA_DEFAULT_STOP_TIMEOUT 10
#define UVA_DEFAULT_WAIT_TIMEOUT 60
/* The PATH of every app: the host's system directories, seen read-only. */
#define UVA_APP_PATH                                                           \
  "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

typedef struct {
  struct sockaddr_storage host; /* address and port the manager listens on */
  socklen_t host_len;
  guint16 container_port;
  gboolean udp;
} UvaPublish;

typedef struct {
  char *source; /* host path */
  char *target; /* absolute path inside the container */
  gboolean read_only;
} UvaMount;

/* How published ports reach the container (docs/ports.md). */
typedef enum {
  UVA_PORT_DRIVER_SPLICE, /* host socket joined to one inside: fwd.c */
  UVA_PORT_DRIVER_SLIRP,  /* libslirp's hostfwd to 10.0.2.100: slirp.c */
  UVA_PORT_DRIVER_BYPASS, /* the app's bind() gets a host socket: bypass.c */
} UvaPortDriver;

typedef struct {
  char *name;             /* also the hostname; [a-z0-9][a-z0-9-]* */
  char **argv;            /* command run inside, argv[0] resolved inside */
  char *workdir;          /* host directory mounted at /app */
  char *tmpdir;           /* host directory mounted at /tmp */
  char *seed_file;        /* if set, created in workdir when missing: names the
                             container */
  gboolean fresh_workdir; /* emptied at every start (run without -w) */
  gboolean keep_stdin;    /* run -i: the caller's stdin, not /dev/null */
  int stop_signal;        /* what `up` stops its app with (SIGTERM) */
  guint stop_timeout;     /* seconds before SIGKILL (10, like docker) */
  gboolean tty;           /* run -t: a pty inside, joined to the caller's */
  unsigned short tty_rows, tty_cols; /* its size at start */
  char
      *tmp_log; /* if set, a file the app writes in /tmp: shown in the banner */
  char *hostname;        /* NULL: the name */
  char **env;            /* extra K=V for the app, after the defaults */
  gboolean no_network;   /* only lo: no tap, no libslirp, nothing published */
  gboolean probe_http;   /* ready = an HTTP status line on the first TCP port */
  char *probe_http_path; /* ... for a HEAD of this path (NULL: /) */
  /* ready = this container port listens inside (0: every published TCP
   * port, which is also the default when there is one) */
  gboolean probe_tcp;
  guint16 probe_tcp_port;
  gboolean remove_after;   /* run --rm: STATE/NAME goes when it ends */
  gboolean name_generated; /* run without --name: run-XXXXXXXX */
  UvaPortDriver port_driver;
  gboolean outbound_bypass;    /* --outbound bypass: TCP connects out on host
                                  sockets (bypass.c) */
  gboolean restart_on_failure; /* init restarts the app when it fails */
  guint restart_max;           /* ... at most this often; 0: no limit */
  guint pids_limit;    /* processes and threads inside, init too; 0: no cap */
  guint sockets_limit; /* libslirp sockets for its outbound flows */
  guint64 shm_size;    /* bytes of the /dev/shm tmpfs */
  GArray *publish;     /* of UvaPublish */
  GArray *mounts;      /* of UvaMount: extra binds (the program itself, say) */
  /* The manager's passwd entry (getpwuid in main.c; not in spec files):
   * USER and LOGNAME, and the home directory, a private tmpfs inside
   * when uva_home_is_private() allows.  NULL: unknown. */
  char *user;
  char *home;
  /* --userns auto (userns = auto): root inside is us, and 1 .. count the
   * subordinate ranges the manager found (subid.c) before the start. */
  gboolean userns_auto;
  guint32 subuid_start, subuid_count, subgid_start, subgid_count;
} UvaContainerSpec;

typedef struct {
  GPtrArray *containers; /* of UvaContainerSpec*, owned */
  char *state_dir;       /* where default workdirs and /tmp live: ours */
  /* The spec file it was read from (canonical), and what it is: no app
   * may rewrite it (hostdir.c protects it where a container can write). */
  char *file;
  dev_t file_dev;
  ino_t file_ino;
} UvaSpec;

UvaSpec *uva_spec_new(void);
void uva_spec_free(UvaSpec *spec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UvaSpec, uva_spec_free)

UvaContainerSpec *uva_container_spec_new(const char *name);
void uva_container_spec_free(UvaContainerSpec *c);

/* "[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp]"; HOST_IP defaults to
 * 127.0.0.1; IPv6 host addresses in brackets: "[::1]:18080:8080".
 * "CONTAINER_PORT" alone: host port 0, chosen when it is bound. */
gboolean uva_publish_parse(const char *text, UvaPublish *out, GError **error);
/* "127.0.0.1:18080" or "[::1]:18080" (with "/udp" for UDP). */
char *uva_publish_host_string(const UvaPublish *p);
guint16 uva_publish_host_port(const UvaPublish *p);

/* "no", "on-failure" or "on-failure:N" (N from 1). */
gboolean uva_restart_parse(const char *text, UvaContainerSpec *c,
                           GError **error);
/* The same text back (for spec files). */
char *uva_restart_string(const UvaContainerSpec *c);

/* A process cap: N from 2 (init and the app) to UVA_MAX_PIDS_LIMIT, or
 * "unlimited", "0" or "-1" (Docker's and podman's words for none): *out
 * gets N, or 0 for none. */
gboolean uva_pids_limit_parse(const char *text, guint *out, GError **error);
/* The same text back: "N" or "unlimited". */
char *uva_pids_limit_string(guint limit);

/* A socket cap: N from 1 to UVA_MAX_SOCKETS_LIMIT. */
gboolean uva_sockets_limit_parse(const char *text, guint *out, GError **error);

/* A size as Docker's --shm-size takes it: a number of bytes greater than
 * 0, optionally followed by b, k, m or g (binary multiples, any case; "kb",
 * "KiB" and the like are accepted too). */
gboolean uva_size_parse(const char *text, guint64 *out, GError **error);
/* The same size back, in the largest unit that divides it: "64m", "1g",
 * "1536k", "4097". */
char *uva_size_string(guint64 bytes);

/* "single" (only our own id, the default) or "auto" (subordinate ids). */
gboolean uva_userns_parse(const char *text, gboolean *automatic,
                          GError **error);

/* ready-http: "true", "false" (bools only) or a path such as /healthz.
 * ready-tcp: "true", "false" (bools only) or a container port. */
gboolean uva_ready_http_parse(const char *text, gboolean bools,
                              UvaContainerSpec *c, GError **error);
gboolean uva_ready_tcp_parse(const char *text, gboolean bools,
                             UvaContainerSpec *c, GError **error);

/* "splice", "slirp" or "bypass". */
gboolean uva_port_driver_parse(const char *text, UvaPortDriver *out,
                               GError **error);
const char *uva_port_driver_name(UvaPortDriver d);
/* --outbound: "slirp" (default: libslirp) or "bypass" (host sockets for
 * outbound TCP, bypass.c). */
gboolean uva_outbound_parse(const char *text, gboolean *bypass, GError **error);

/* The one-line error for a publish whose bind(2) failed with err: a taken
 * port names the container, the address and how to find the owner. */
gboolean uva_publish_bind_error(const char *name, const UvaPublish *p, int err,
                                GError **error);

/* "K=V" with K a shell-style name: [A-Za-z_][A-Za-z0-9_]*. */
gboolean uva_env_valid(const char *entry, GError **error);
/* The hostname a container gets. */
const char *uva_container_hostname(const UvaContainerSpec *c);

/* A container name is used as hostname and directory name. */
gboolean uva_name_valid(const char *name, GError **error);

/* A signal name or number for --stop-signal: TERM, SIGTERM, 15. */
gboolean uva_stop_signal_parse(const char *text, int *out, GError **error);
/* --stop-timeout: whole seconds, 0 to 3600. */
gboolean uva_stop_timeout_parse(const char *text, guint *out, GError **error);

/* seed-file and log: one file name, no '/', not "." or "..". */
gboolean uva_plain_name_valid(const char *what, const char *name,
                              GError **error);

/* Checks a whole spec: names unique and valid, command not empty, no host
 * port published twice. */
gboolean uva_spec_validate(const UvaSpec *spec, GError **error);

/* Sizes of the private tmpfs mounts every container gets (rootfs.c):
 * /run, /var/tmp and the home directory. */
#define UVA_RUN_SIZE (64u * 1024 * 1024)
#define UVA_VAR_TMP_SIZE (256u * 1024 * 1024)
#define UVA_HOME_SIZE (256u * 1024 * 1024)

/* Whether home (a passwd entry's directory) can be a private tmpfs
 * inside: an absolute, canonical path below /, and not at or below what
 * the container gets otherwise (the host's system directories, /proc,
 * /dev, /tmp, /app, /run, /var/tmp). */
gboolean uva_home_is_private(const char *home);
/* The HOME of c's app: its home directory where that is private, else
 * /tmp (writable, the container's own). */
const char *uva_container_home(const UvaContainerSpec *c);

/* The built-in default: two copies of recorder_path, "a" on 127.0.0.1:18080
 * and "b" on 127.0.0.1:28080, each with its workdir and /tmp under
 * state_dir/<name>/. */
UvaSpec *uva_spec_default(const char *recorder_path, const char *state_dir);

/* The text of /proc/PID/uid_map (or gid_map) that maps exactly one id to
 * itself: "ID ID 1\n".  One id needs no newuidmap (user_namespaces(7)). */
char *uva_id_map_text(unsigned id);
