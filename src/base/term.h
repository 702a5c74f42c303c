/* term.h - the caller's terminal during `run -t`: raw mode while the app
 * owns it, restored on every way out, and its size copied to the pty. */
#pragma once

#include <glib.h>
#include <termios.h>

/* Puts the terminal on fd in raw mode (cfmakeraw(3)), saving its mode in
 * *saved; FALSE (and nothing changed) if fd is not a terminal. */
gboolean uva_term_raw(int fd, struct termios *saved);
/* Puts back what uva_term_raw saved. */
void uva_term_restore(int fd, const struct termios *saved);
/* Gives the terminal on to_fd the window size of the one on from_fd;
 * the kernel then sends SIGWINCH to to_fd's foreground process group. */
void uva_term_copy_size(int from_fd, int to_fd);
/* The window size of the terminal on fd, 0 x 0 if it is none. */
void uva_term_size(int fd, unsigned short *rows, unsigned short *cols);
