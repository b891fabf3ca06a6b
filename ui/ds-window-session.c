/* ds-window-session.c — sessions, export and screenshots of the inspector window.
 *
 * Session files (win.save-session, win.load-session), Export All (win.export,
 * win.export-all, on a worker thread: ds-export.h) and the window's own screenshot
 * (win.screenshot, ds_window_save_screenshot), and the Open Pair dialogs (win.open-pair).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-window-private.h"
#include "ds-export.h"

#include "dia-params.h"

#include <glib/gi18n.h>
#include <string.h>

/* Export: every product of the current result (ds-export.h) on a worker thread; the
 * screenshot poll waits for running exports so that scripted tests can read the files. */
static void
on_export_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr (DsWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) written = ds_export_products_finish (res, &error);
  g_autofree char *list = NULL, *msg = NULL;

  self->exports_pending--;
  if (written == NULL)
    {
      ds_window_report (self, "export-failed %s", error->message);
      ds_window_show_error (self, error->message);
      return;
    }
  list = g_strjoinv (", ", written);
  ds_window_report (self, "exported %s", list);
  /* Translators: status bar after an export: the file names */
  msg = g_strdup_printf (_("Exported %s"), list);
  gtk_label_set_text (self->status_label, msg);
}

static void
window_export_to (DsWindow *self, const char *path)
{
  g_autofree char *prefix = g_strdup (path);

  if (self->result == NULL)
    {
      ds_window_show_error (self, _("There is no difference to export yet."));
      return;
    }
  if (g_str_has_suffix (prefix, ".fits"))
    prefix[strlen (prefix) - 5] = '\0';
  self->exports_pending++;
  ds_export_products_async (self->result, self->catalog, prefix, self->input_paths[0],
                            self->input_paths[1], NULL, on_export_done, g_object_ref (self));
}

/* win.export-all: the scriptable form, "--action export-all::/folder/prefix". */
void
ds_window_session_action_export_all (GtkWidget *widget, const char *action_name,
                                     GVariant *parameter)
{
  window_export_to (DS_WINDOW (widget), g_variant_get_string (parameter, NULL));
}

/* The local path the user accepted in a file chooser (NULL when cancelled or not local;
 * caller frees); destroys and releases the dialog. */
static char *
session_dialog_finish (GtkNativeDialog *dialog, int response)
{
  g_autoptr (GFile) file = NULL;
  char *path = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
  if (file != NULL)
    path = g_file_get_path (file);
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
  return path;
}

static void
on_export_response (GtkNativeDialog *dialog, int response, DsWindow *self)
{
  g_autofree char *path = NULL;

  path = session_dialog_finish (dialog, response);
  if (path != NULL)
    window_export_to (self, path);
}

void
ds_window_session_action_export (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  DsWindow *self = DS_WINDOW (widget);
  GtkFileChooserNative *dialog;

  if (self->result == NULL)
    {
      ds_window_show_error (self, _("There is no difference to export yet."));
      return;
    }
  dialog = gtk_file_chooser_native_new (_("Export Products — choose a prefix"),
                                        GTK_WINDOW (self), GTK_FILE_CHOOSER_ACTION_SAVE,
                                        _("_Export"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), "diffscope");
  g_signal_connect (dialog, "response", G_CALLBACK (on_export_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

gboolean
ds_window_save_session (DsWindow *self, const char *path, GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();

  g_return_val_if_fail (DS_IS_WINDOW (self), FALSE);
  if (self->input_paths[0] != NULL && self->input_paths[1] != NULL)
    {
      g_key_file_set_string (kf, "inputs", "template", self->input_paths[0]);
      g_key_file_set_string (kf, "inputs", "science", self->input_paths[1]);
    }
  else
    g_key_file_set_boolean (kf, "inputs", "demo", TRUE);
  dia_params_save (&self->request, kf, "request");
  return g_key_file_save_to_file (kf, path, error);
}

gboolean
ds_window_load_session (DsWindow *self, const char *path, GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) local = NULL;
  DiaSubtractRequest req;
  g_autofree char *t = NULL, *s = NULL;

  g_return_val_if_fail (DS_IS_WINDOW (self), FALSE);
  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &local))
    {
      g_set_error (error, local->domain, local->code,
                   _("Cannot read the session file %s: %s; choose a file saved by Diffscope"),
                   path, local->message);
      return FALSE;
    }
  dia_subtract_request_init (&req);
  if (!dia_params_load (&req, kf, "request", error))
    return FALSE;
  t = g_key_file_get_string (kf, "inputs", "template", NULL);
  s = g_key_file_get_string (kf, "inputs", "science", NULL);
  g_array_append_val (self->undo, self->request);
  self->request = req;
  ds_param_panel_set_request (self->panel, &self->request);
  if (t != NULL && s != NULL)
    ds_window_load_pair (self, t, s);
  else
    ds_window_load_demo (self);
  return TRUE;
}

static void
on_session_response (GtkNativeDialog *dialog, int response, DsWindow *self)
{
  gboolean save = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (dialog), "ds-save"));
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;

  path = session_dialog_finish (dialog, response);
  if (path == NULL)
    return;
  if (!(save ? ds_window_save_session (self, path, &error)
             : ds_window_load_session (self, path, &error)))
    ds_window_show_error (self, error->message);
}

void
ds_window_session_action_session (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  DsWindow *self = DS_WINDOW (widget);
  gboolean save = g_str_equal (action_name, "win.save-session");
  GtkFileChooserNative *dialog;

  dialog = gtk_file_chooser_native_new (save ? _("Save Session") : _("Load Session"),
                                        GTK_WINDOW (self),
                                        save ? GTK_FILE_CHOOSER_ACTION_SAVE
                                             : GTK_FILE_CHOOSER_ACTION_OPEN,
                                        save ? _("_Save") : _("_Open"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  if (save)
    gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), "session.diffscope");
  g_object_set_data (G_OBJECT (dialog), "ds-save", GINT_TO_POINTER (save));
  g_signal_connect (dialog, "response", G_CALLBACK (on_session_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

gboolean
ds_window_save_screenshot (DsWindow *self, const char *path, GError **error)
{
  GtkWidget *widget = GTK_WIDGET (self);
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  g_autoptr (GdkPaintable) paintable = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  GskRenderNode *node;
  GskRenderer *renderer;
  GtkSnapshot *snapshot;
  double sx = 0, sy = 0;

  g_return_val_if_fail (DS_IS_WINDOW (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  renderer = gtk_native_get_renderer (GTK_NATIVE (self));
  if (renderer == NULL || width <= 0 || height <= 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED,
                   _("Cannot take a screenshot before the window is shown"));
      return FALSE;
    }
  paintable = gtk_widget_paintable_new (widget);
  /* The paintable of a toplevel spans its surface, client-side decoration margins included
   * (1400×800 for a 1390×790 window): draw it at that size, unscaled, and keep the window's
   * own rectangle, which starts at the surface transform.  Snapshotting it into the window's
   * size instead would shrink every pixel by ~0.7 % and blur all edges. */
  gtk_native_get_surface_transform (GTK_NATIVE (self), &sx, &sy);
  snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot,
                          MAX (gdk_paintable_get_intrinsic_width (paintable), width),
                          MAX (gdk_paintable_get_intrinsic_height (paintable), height));
  node = gtk_snapshot_free_to_node (snapshot);
  if (node == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("The window drew nothing to take a screenshot of"));
      return FALSE;
    }
  texture = gsk_renderer_render_texture (renderer, node,
                                         &GRAPHENE_RECT_INIT ((float) sx, (float) sy, width,
                                                              height));
  gsk_render_node_unref (node);
  if (texture == NULL || !gdk_texture_save_to_png (texture, path))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("Could not write the screenshot to %s; check that its folder exists and "
                     "is writable"), path);
      return FALSE;
    }
  return TRUE;
}

static void
on_screenshot_response (GtkNativeDialog *dialog, int response, DsWindow *self)
{
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;

  path = session_dialog_finish (dialog, response);
  if (path != NULL && !ds_window_save_screenshot (self, path, &error))
    ds_window_show_error (self, error->message);
}

void
ds_window_session_action_screenshot (GtkWidget *widget, const char *action_name,
                                     GVariant *parameter)
{
  DsWindow *self = DS_WINDOW (widget);
  GtkFileChooserNative *dialog;

  dialog = gtk_file_chooser_native_new (_("Save Screenshot"), GTK_WINDOW (self),
                                        GTK_FILE_CHOOSER_ACTION_SAVE, _("_Save"),
                                        _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), "diffscope.png");
  g_signal_connect (dialog, "response", G_CALLBACK (on_screenshot_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static GtkFileFilter *
fits_filter_new (void)
{
  GtkFileFilter *filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _("FITS images"));
  gtk_file_filter_add_mime_type (filter, "image/fits");
  gtk_file_filter_add_mime_type (filter, "application/fits");
  gtk_file_filter_add_suffix (filter, "fits");
  gtk_file_filter_add_suffix (filter, "fit");
  gtk_file_filter_add_suffix (filter, "fts");
  gtk_file_filter_add_suffix (filter, "fz");
  gtk_file_filter_add_suffix (filter, "gz");
  return filter;
}

static void window_choose_file (DsWindow *self, gboolean science);

static void
on_open_response (GtkNativeDialog *dialog, int response, DsWindow *self)
{
  gboolean science = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (dialog), "ds-science"));
  g_autofree char *path = NULL;

  path = session_dialog_finish (dialog, response);

  if (response == GTK_RESPONSE_ACCEPT && path == NULL)
    {
      ds_window_show_error (self, _("Only local files can be opened."));
      return;
    }
  if (path == NULL)
    {
      g_clear_pointer (&self->pending_template, g_free);
      return;
    }
  if (!science)
    {
      g_free (self->pending_template);
      self->pending_template = g_steal_pointer (&path);
      window_choose_file (self, TRUE);
      return;
    }
  ds_window_load_pair (self, self->pending_template, path);
  g_clear_pointer (&self->pending_template, g_free);
}

static void
window_choose_file (DsWindow *self, gboolean science)
{
  GtkFileChooserNative *dialog;
  GtkFileFilter *all;

  dialog = gtk_file_chooser_native_new (science ? _("Open the Science Image")
                                                : _("Open the Template Image"),
                                        GTK_WINDOW (self), GTK_FILE_CHOOSER_ACTION_OPEN,
                                        _("_Open"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), fits_filter_new ());
  all = gtk_file_filter_new ();
  gtk_file_filter_set_name (all, _("All files"));
  gtk_file_filter_add_pattern (all, "*");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), all);
  g_object_set_data (G_OBJECT (dialog), "ds-science", GINT_TO_POINTER (science));
  g_signal_connect (dialog, "response", G_CALLBACK (on_open_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

/* win.open-pair: the template, then the science image. */
void
ds_window_session_action_open_pair (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  window_choose_file (DS_WINDOW (widget), FALSE);
}
