/* ptyjoin.c - `run -t`: the pty master from the container's init, joined
 * to the caller's terminal (relay.c), in raw mode with -i (term.c).  Both
 * ends of the caller's side are descriptions of our own, reopened before
 * the manager is confined: O_NONBLOCK on the shared ones would reach the
 * shell that started us. */
#include "manager/ptyjoin.h"

#include "base/relay.h"
#include "base/term.h"
#include "base/util.h"

#include <fcntl.h>
#include <termios.h>

struct UvaPtyJoin {
  int pty_fd, tty_in, tty_out;
  gboolean keep_stdin, raw;
  struct termios saved_mode;
  UvaRelay *to_pty, *from_pty;
  void (*closed)(gpointer);
  gpointer data;
};

UvaPtyJoin *uva_ptyjoin_new(gboolean keep_stdin) {
  UvaPtyJoin *j = g_new0(UvaPtyJoin, 1);
  j->pty_fd = -1;
  j->keep_stdin = keep_stdin;
  j->tty_out = uva_reopen_nonblock(1, O_WRONLY);
  j->tty_in = -1;
  if (keep_stdin) {
    j->tty_in = uva_reopen_nonblock(0, O_RDONLY);
    j->raw = uva_term_raw(0, &j->saved_mode);
  }
  return j;
}

static void pty_closed(gpointer data) {
  UvaPtyJoin *j = data;
  g_clear_pointer(&j->to_pty, uva_relay_free);
  g_clear_pointer(&j->from_pty, uva_relay_free);
  uva_close_fdp(&j->pty_fd);
  j->pty_fd = -1;
  if (j->closed)
    j->closed(j->data);
}

static void stdin_closed(gpointer data) {
  UvaPtyJoin *j = data;
  /* Stop reading; the app's side stays open (its shell may go on). */
  g_clear_pointer(&j->to_pty, uva_relay_free);
}

void uva_ptyjoin_attach(UvaPtyJoin *j, int master, void (*closed)(gpointer),
                        gpointer data) {
  if (j->pty_fd >= 0) {
    close(master);
    return;
  }
  j->pty_fd = master;
  j->closed = closed;
  j->data = data;
  uva_set_nonblock(master, TRUE, NULL);
  /* Where no description of our own could be had (a regular file), the
   * shared one serves. */
  j->from_pty =
      uva_relay_new(master, j->tty_out >= 0 ? j->tty_out : 1, pty_closed, j);
  if (j->keep_stdin)
    j->to_pty =
        uva_relay_new(j->tty_in >= 0 ? j->tty_in : 0, master, stdin_closed, j);
}

gboolean uva_ptyjoin_open(const UvaPtyJoin *j) { return j && j->pty_fd >= 0; }

void uva_ptyjoin_winch(UvaPtyJoin *j) {
  if (j && j->pty_fd >= 0)
    uva_term_copy_size(j->tty_out >= 0 ? 1 : 0, j->pty_fd);
}

void uva_ptyjoin_free(UvaPtyJoin *j) {
  if (!j)
    return;
  /* Every way out passes here: the caller's terminal gets its mode back. */
  if (j->raw)
    uva_term_restore(0, &j->saved_mode);
  uva_relay_free(j->to_pty);
  uva_relay_free(j->from_pty);
  uva_close_fdp(&j->pty_fd);
  uva_close_fdp(&j->tty_in);
  uva_close_fdp(&j->tty_out);
  g_free(j);
}
