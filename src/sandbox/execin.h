/* execin.h - `uva_container exec`, the side inside the container (init). */
#pragma once

#include "spec/spec.h"

/* Forks the helper that serves the exec client on sock (owned), and
 * returns at once. */
void uva_execin_start(const UvaContainerSpec *c, int sync_fd, int sock);
