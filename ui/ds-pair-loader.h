/* ds-pair-loader.h — loads a template/science pair (or makes the demo field) off the main
 * thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "dia-image.h"

G_BEGIN_DECLS

/* The size and seed of the built-in demo field. */
#define DS_DEMO_SIZE 1024
#define DS_DEMO_SEED 42

/* A loaded pair: both images frozen, owned (one reference each). */
typedef struct
{
  DiaImage *template_image;
  DiaImage *science_image;
  char *description;            /* one line for the title/status, e.g. the file names      */
} DsPair;

void ds_pair_free (DsPair *pair);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DsPair, ds_pair_free)

#define DS_TYPE_PAIR_LOADER (ds_pair_loader_get_type ())
G_DECLARE_FINAL_TYPE (DsPairLoader, ds_pair_loader, DS, PAIR_LOADER, GObject)

/* A loader with its own single worker thread (a private GThreadPool), so loads never compete
 * with GIO's shared pool and run one at a time in order. */
DsPairLoader *ds_pair_loader_new (void);

/* Reads template_path and science_path with dia_fits_read_image(), or, when both are NULL,
 * generates the seeded demo field with dia_sim_generate().  Main thread; callback runs on the
 * caller's thread-default main context.  Cancelling also cancels a running simulation. */
void ds_pair_loader_load_async (DsPairLoader *self, const char *template_path,
                                const char *science_path, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);

/* Transfer full: the pair, or NULL with error set. */
DsPair *ds_pair_loader_load_finish (DsPairLoader *self, GAsyncResult *result, GError **error);

G_END_DECLS
