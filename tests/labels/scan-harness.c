/* scan-harness.c — opens only the scanning window, for the GUI test and screenshots while the
 * application's --scan option is not wired (the test prefers the real `diffscope` when its
 * --help lists --scan).
 *
 *   scan-harness --scan SOURCE --labels FILE.db [--taxonomy FILE] [--grid] [--screenshot PNG]
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-scan-window.h"
#include "dia-error.h"

#include <stdio.h>

typedef struct
{
  char *source, *labels, *taxonomy, *screenshot;
  gboolean grid;
  GtkWindow *window;
} Harness;

static gboolean
harness_screenshot (gpointer data)
{
  Harness *h = data;
  g_autoptr (GError) error = NULL;
  if (!ds_scan_window_save_png (DS_SCAN_WINDOW (h->window), h->screenshot, &error))
    fprintf (stderr, "scan-harness: %s\n", error->message);
  gtk_window_destroy (h->window);
  return G_SOURCE_REMOVE;
}

static void
harness_activate (GtkApplication *app, Harness *h)
{
  g_autoptr (GError) error = NULL;
  h->window = ds_scan_window_new (app, h->source, h->labels, &error);
  if (h->window == NULL)
    {
      fprintf (stderr, "scan-harness: %s\n", error->message);
      return;
    }
  if (h->taxonomy != NULL
      && !ds_scan_window_load_taxonomy (DS_SCAN_WINDOW (h->window), h->taxonomy, &error))
    fprintf (stderr, "scan-harness: %s\n", error->message);
  gtk_window_present (h->window);
  if (h->grid)
    gtk_widget_activate_action (GTK_WIDGET (h->window), "scan.toggle-grid", NULL);
  if (h->screenshot != NULL)
    g_timeout_add (1500, harness_screenshot, h);
}

int
main (int argc, char **argv)
{
  Harness h = { 0 };
  g_autoptr (GtkApplication) app = NULL;
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;
  GOptionEntry entries[] = {
    { "scan", 0, 0, G_OPTION_ARG_FILENAME, &h.source, "Cutout folder, list or catalogue", NULL },
    { "labels", 0, 0, G_OPTION_ARG_FILENAME, &h.labels, "Label database", NULL },
    { "taxonomy", 0, 0, G_OPTION_ARG_FILENAME, &h.taxonomy, "Taxonomy file", NULL },
    { "grid", 0, 0, G_OPTION_ARG_NONE, &h.grid, "Start in grid mode", NULL },
    { "screenshot", 0, 0, G_OPTION_ARG_FILENAME, &h.screenshot, "Save a PNG and quit", NULL },
    { NULL },
  };
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || h.source == NULL)
    {
      fprintf (stderr, "scan-harness: %s\n", error ? error->message : "--scan is required");
      return 2;
    }
  if (!dia_engine_init (&error))
    return 1;
  app = gtk_application_new ("io.github.diffscope.ScanHarness", G_APPLICATION_NON_UNIQUE);
  g_signal_connect (app, "activate", G_CALLBACK (harness_activate), &h);
  status = g_application_run (G_APPLICATION (app), 1, argv);
  g_free (h.source);
  g_free (h.labels);
  g_free (h.taxonomy);
  g_free (h.screenshot);
  return status;
}
