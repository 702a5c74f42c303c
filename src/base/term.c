/* term.c - terminal modes and sizes for `run -t`.  The caller's terminal
 * goes raw so that every key, Ctrl-C and Ctrl-Z included, reaches the pty
 * inside as a byte, and its line discipline turns them into signals for
 * the app, as in a local shell (termios(3), "Raw mode"). */
#include "base/term.h"

#include <sys/ioctl.h>
#include <unistd.h>

gboolean uva_term_raw(int fd, struct termios *saved) {
  if (!isatty(fd) || tcgetattr(fd, saved) < 0)
    return FALSE;
  struct termios raw = *saved;
  cfmakeraw(&raw);
  return tcsetattr(fd, TCSADRAIN, &raw) == 0;
}

void uva_term_restore(int fd, const struct termios *saved) {
  (void)tcsetattr(fd, TCSADRAIN, saved);
}

void uva_term_size(int fd, unsigned short *rows, unsigned short *cols) {
  struct winsize ws = {0};
  if (ioctl(fd, TIOCGWINSZ, &ws) < 0)
    ws.ws_row = ws.ws_col = 0;
  *rows = ws.ws_row;
  *cols = ws.ws_col;
}

void uva_term_copy_size(int from_fd, int to_fd) {
  struct winsize ws;
  if (ioctl(from_fd, TIOCGWINSZ, &ws) == 0)
    (void)ioctl(to_fd, TIOCSWINSZ, &ws);
}
