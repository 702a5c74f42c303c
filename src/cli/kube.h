/* kube.h - `uva_container kube`: a spec as Kubernetes Pods (kube.c). */
#pragma once

#include "spec/spec.h"

#include <glib.h>

/* The image a container gets without --image: the default spec runs
 * http_recorder.py, which needs python3 and /usr/bin/env. */
#define UVA_KUBE_DEFAULT_IMAGE "docker.io/library/python:3-slim"

/* `kube [--image [NAME=]IMAGE]... [FILE]` (argv[0] is "kube"): prints
 * the Pods of FILE, or of the default spec made by default_spec, on
 * stdout.  Returns the exit status: 0, 1 (a spec that cannot be
 * expressed, a write error) or 2 (usage). */
int uva_kube_command(int argc, char **argv, const char *state,
                     UvaSpec *(*default_spec)(const char *state,
                                              GError **error),
                     GError **error);

/* The YAML of spec, images[i] for container i; NULL and *error when a
 * value cannot be expressed (a string that is not UTF-8, a name that is
 * no DNS label).  source names the spec in the header comment. */
char *uva_kube_yaml(const UvaSpec *spec, const char *const *images,
                    const char *source, GError **error);

/* s as a YAML double-quoted scalar, appended to out: every character
 * outside YAML's printable set, and '"' and '\\', escaped, so any UTF-8
 * string (quotes, colons, '#', newlines, a leading '-') reads back as
 * itself.  s must be valid UTF-8. */
void uva_kube_quote(GString *out, const char *s);
