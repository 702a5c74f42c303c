/* fragguard.h - keeps from libslirp the IPv4 fragments that crash it. */
#pragma once

#include <glib.h>

typedef struct UvaFragGuard UvaFragGuard;

UvaFragGuard *uva_fragguard_new(void);
void uva_fragguard_free(UvaFragGuard *g);
/* FALSE: drop this Ethernet frame (a non-first IPv4 fragment whose first
 * fragment was not seen in the last UVA_FRAGGUARD_WINDOW_US). */
gboolean uva_fragguard_pass(UvaFragGuard *g, const guint8 *frame, gsize len,
                            gint64 now_us);

#define UVA_FRAGGUARD_WINDOW_US (5 * G_USEC_PER_SEC)
