/* output.h - what the manager shows: the apps' output of `up`, prefixed,
 * and its own lines, written without ever blocking the loop. */
#pragma once

#include "manager/logfile.h"

#include <glib.h>
#include <stdio.h>

/* The manager's stdout or stderr as a bounded, non-blocking queue. */
typedef struct UvaSink UvaSink;
/* One app's stdout or stderr pipe, shown line by line behind a prefix. */
typedef struct UvaStream UvaStream;

/* A sink writing to fd (not owned; a terminal, pipe or FIFO gets a
 * non-blocking description of its own).  broken(data) is called once when
 * its reader has gone (EPIPE) or it failed; what comes later is dropped. */
UvaSink *uva_sink_new(int fd, void (*broken)(gpointer), gpointer data);
/* `-d`: writes what is queued, waiting at most timeout_ms, then lets go
 * of the fd (the caller closes it) and drops everything that comes later. */
void uva_sink_detach(UvaSink *k, int timeout_ms);
/* Writes what is queued, waiting at most timeout_ms, then frees. */
void uva_sink_free(UvaSink *k, int timeout_ms);
/* A stdio stream that writes into the sink (fopencookie(3)), line
 * buffered: the manager's own fprintf lines go through it. */
FILE *uva_sink_file(UvaSink *k);

/* Reads the pipe fd (owned) and shows each line as "NAME | line" (NAME
 * padded to width): control characters but tab shown escaped (^[), so no
 * app can move the cursor over another's lines; NUL kept as ^@; a partial
 * line shown after PARTIAL_MS; lines over 64 KiB split.  While the sink
 * holds too much of this stream, the pipe is not read (back-pressure on
 * this app alone).  closed(data) once the pipe is at EOF. */
UvaStream *uva_stream_new(UvaSink *k, int fd, const char *name, int width,
                          void (*closed)(gpointer), gpointer data);
void uva_stream_free(UvaStream *s);
/* Every byte read from now on is also written to log (not owned). */
void uva_stream_set_log(UvaStream *s, UvaLogfile *log);
/* The app is gone: read the pipe to EOF from now on, dropping what the
 * sink has no room for, so that closed() comes. */
void uva_stream_drain(UvaStream *s);
gboolean uva_stream_open(const UvaStream *s);

/* The escaped form of len bytes (for the tests). */
void uva_output_escape(GString *out, const char *buf, gsize len);
