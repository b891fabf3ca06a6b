/* ds-window.c — the main window: template and science panes side by side.
 *
 * Design.  The window is a composite template (resources/ui/ds-window.ui): a header bar with
 * the open, lock and zoom controls and the primary menu; an error banner (a GtkRevealer; the
 * window never opens a modal for errors); a row of panes, each a title and a DsImageView; and
 * a status bar with the pixel under the pointer on the left and what is loaded on the right.
 * The panes live in arrays indexed by DsPaneId so that a third "difference" pane is one more
 * entry in the template and in the enum, not new code paths.
 *
 * Every command is a GAction on the window (win.*), so menus, buttons, accelerators and tests
 * all go through the same entry points.  Loading goes through a DsPairLoader (a private
 * worker thread); the latest request wins (earlier ones are cancelled), and the panes keep
 * showing the previous pair until a new one has arrived, so a failed load loses nothing.
 *
 * Locking: zoom and centre of every pane are bound to the first pane's with bidirectional
 * GBindings while win.lock-views is on.  The WCS of each image is copied once per pair into
 * the window (wcslib structures are not shareable and are mutated when used), and only used on
 * the main thread for the status bar.
 *
 * Scripted screenshots (--screenshot): after the pair has been shown, the window polls until
 * every pane is mapped and sized, then draws itself through gtk_widget_paintable_new() into a
 * render node, renders that with the window's own GskRenderer and saves the PNG.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-window.h"
#include "ds-image-view.h"
#include "ds-pair-loader.h"

#include "dia-wcs.h"

#include <glib/gi18n.h>
#include <math.h>

typedef enum
{
  DS_PANE_TEMPLATE,
  DS_PANE_SCIENCE,
  DS_N_PANES,
} DsPaneId;

struct _DsWindow
{
  GtkApplicationWindow parent_instance;

  /* template children */
  GtkWidget *spinner;
  GtkRevealer *banner_revealer;
  GtkLabel *banner_label;
  GtkWidget *panes_box;
  GtkLabel *template_title;
  GtkLabel *science_title;
  DsImageView *template_view;
  DsImageView *science_view;
  GtkLabel *pixel_label;
  GtkLabel *status_label;

  DsImageView *views[DS_N_PANES];
  GtkLabel *titles[DS_N_PANES];
  struct wcsprm *wcs[DS_N_PANES];     /* private copies, main thread only; NULL if none     */
  DsImageView *active_view;           /* target of the zoom actions                          */
  GPtrArray *lock_bindings;           /* GBinding, owned by their source objects             */

  DsPairLoader *loader;
  GCancellable *cancellable;          /* of the current load                                 */
  char *pending_template;             /* Open Pair…: template chosen, science pending        */

  guint screenshot_poll_id;
  int screenshot_ready_polls;
};

G_DEFINE_FINAL_TYPE (DsWindow, ds_window, GTK_TYPE_APPLICATION_WINDOW)

/* Names used in GSettings and action targets, in enum order. */
static const char *const stretch_names[] = { "linear", "log", "sqrt", "asinh", "histeq" };
static const char *const colormap_names[] = { "gray", "gray-inverted", "viridis",
                                              "diverging" };

static int
name_index (const char *const *names, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (g_strcmp0 (names[i], name) == 0)
      return (int) i;
  return -1;
}

static const char *
pane_name (DsPaneId id)
{
  return id == DS_PANE_TEMPLATE ? _("Template") : _("Science");
}

static GSettings *
window_settings (DsWindow *self)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));

  return DS_IS_APPLICATION (app) ? ds_application_get_settings (DS_APPLICATION (app)) : NULL;
}

static const char *
window_screenshot_path (DsWindow *self)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));

  return DS_IS_APPLICATION (app) ? ds_application_get_screenshot_path (DS_APPLICATION (app))
                                 : NULL;
}

static void
window_finish_script (DsWindow *self, int status)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));

  if (DS_IS_APPLICATION (app))
    {
      ds_application_set_exit_status (DS_APPLICATION (app), status);
      g_application_quit (G_APPLICATION (app));
    }
}

/* --- banner -------------------------------------------------------------------------------- */

void
ds_window_show_error (DsWindow *self, const char *message)
{
  g_return_if_fail (DS_IS_WINDOW (self));

  gtk_label_set_text (self->banner_label, message);
  gtk_revealer_set_reveal_child (self->banner_revealer, TRUE);
}

static void
on_banner_close_clicked (DsWindow *self)
{
  gtk_revealer_set_reveal_child (self->banner_revealer, FALSE);
}

/* --- status bar ---------------------------------------------------------------------------- */

static void
append_sexagesimal (GString *s, double value, gboolean hours)
{
  double v = hours ? value / 15.0 : fabs (value);
  int a, b;
  double c;

  if (hours)
    v = fmod (fmod (v, 24.0) + 24.0, 24.0);
  a = (int) floor (v);
  b = (int) floor ((v - a) * 60.0);
  c = ((v - a) * 60.0 - b) * 60.0;
  if (hours)
    g_string_append_printf (s, "%02d:%02d:%05.2f", a, b, c);
  else
    g_string_append_printf (s, "%c%02d:%02d:%04.1f", value < 0 ? '-' : '+', a, b, c);
}

static void
on_pointer_moved (DsImageView *view, gboolean inside, double ix, double iy, DsWindow *self)
{
  DiaImage *im = ds_image_view_get_image (view);
  g_autoptr (GString) s = NULL;
  int pane = view == self->views[DS_PANE_TEMPLATE] ? DS_PANE_TEMPLATE : DS_PANE_SCIENCE;
  int x, y;

  if (inside)
    self->active_view = view;
  if (!inside || im == NULL)
    {
      gtk_label_set_text (self->pixel_label, "");
      return;
    }
  x = (int) floor (ix + 0.5);
  y = (int) floor (iy + 0.5);
  s = g_string_new (pane_name (pane));
  /* Translators: pixel coordinates in the status bar */
  g_string_append_printf (s, _("   x %d  y %d"), x, y);
  if (x < 0 || y < 0 || x >= im->width || y >= im->height)
    {
      g_string_append (s, _("   (outside the image)"));
    }
  else
    {
      size_t i = dia_image_index (im, x, y);
      float v = im->pix[i], var = im->var != NULL ? im->var[i] : NAN;
      DiaMask m = im->mask != NULL ? im->mask[i] : 0;

      g_string_append_printf (s, _("   value %.6g"), v);
      g_string_append_printf (s, _("   variance %.6g"), var);
      if (var > 0 && isfinite (var))
        g_string_append_printf (s, _("   S/N %.1f"), v / sqrt (var));
      if (m != 0)
        {
          gboolean first = TRUE;

          g_string_append (s, _("   mask "));
          for (int b = 0; b < DIA_MASK_MAX_PLANES; b++)
            if ((m & (1u << b)) != 0)
              {
                g_string_append_printf (s, "%s%s", first ? "" : ",",
                                        im->plane_names[b] != NULL ? im->plane_names[b] : "?");
                first = FALSE;
              }
        }
    }
  if (self->wcs[pane] != NULL)
    {
      double ra, dec;

      if (dia_wcs_pix2sky (self->wcs[pane], ix, iy, &ra, &dec))
        {
          g_string_append (s, _("   RA "));
          append_sexagesimal (s, ra, TRUE);
          g_string_append (s, _("  Dec "));
          append_sexagesimal (s, dec, FALSE);
        }
    }
  gtk_label_set_text (self->pixel_label, s->str);
}

/* --- loading ------------------------------------------------------------------------------- */

static gboolean
on_screenshot_poll (gpointer user_data)
{
  DsWindow *self = user_data;
  const char *path = window_screenshot_path (self);
  g_autoptr (GError) error = NULL;

  for (int i = 0; i < DS_N_PANES; i++)
    if (!gtk_widget_get_mapped (GTK_WIDGET (self->views[i]))
        || gtk_widget_get_width (GTK_WIDGET (self->views[i])) < 2)
      {
        self->screenshot_ready_polls = 0;
        return G_SOURCE_CONTINUE;
      }
  /* Mapped and sized on two polls in a row: the layout has settled. */
  if (++self->screenshot_ready_polls < 2)
    return G_SOURCE_CONTINUE;

  self->screenshot_poll_id = 0;
  if (path != NULL && !ds_window_save_screenshot (self, path, &error))
    {
      g_printerr ("diffscope: %s\n", error->message);
      window_finish_script (self, 1);
    }
  else
    window_finish_script (self, 0);
  return G_SOURCE_REMOVE;
}

static void
window_show_pair (DsWindow *self, DsPair *pair)
{
  DiaImage *images[DS_N_PANES] = { pair->template_image, pair->science_image };
  g_autofree char *title = NULL;

  for (int i = 0; i < DS_N_PANES; i++)
    {
      g_autofree char *label = NULL;

      g_clear_pointer (&self->wcs[i], dia_wcs_free);
      self->wcs[i] = dia_wcs_copy (images[i]->wcs);
      if (images[i]->source != NULL)
        {
          g_autofree char *base = g_path_get_basename (images[i]->source);
          label = g_strdup_printf ("%s — %s", pane_name (i), base);
        }
      gtk_label_set_text (self->titles[i], label != NULL ? label : pane_name (i));
      ds_image_view_set_image (self->views[i], images[i]);
    }
  for (int i = 0; i < DS_N_PANES; i++)
    ds_image_view_zoom_fit (self->views[i]);
  gtk_label_set_text (self->status_label, pair->description);
  title = g_strdup_printf (_("Diffscope — %s"), pair->description);
  gtk_window_set_title (GTK_WINDOW (self), title);
  if (images[0]->width != images[1]->width || images[0]->height != images[1]->height)
    {
      g_autofree char *msg =
        g_strdup_printf (_("The template (%d × %d) and the science image (%d × %d) are not on "
                           "the same pixel grid; resample one onto the other before "
                           "subtracting."), images[0]->width, images[0]->height,
                         images[1]->width, images[1]->height);
      ds_window_show_error (self, msg);
    }
}

static void
on_pair_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (DsWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (DsPair) pair = ds_pair_loader_load_finish (DS_PAIR_LOADER (source), result, &error);

  if (pair == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  gtk_spinner_stop (GTK_SPINNER (self->spinner));
  if (pair == NULL)
    {
      gtk_label_set_text (self->status_label, _("Loading failed"));
      if (window_screenshot_path (self) != NULL)
        {
          g_printerr ("diffscope: %s\n", error->message);
          window_finish_script (self, 1);
          return;
        }
      ds_window_show_error (self, error->message);
      return;
    }
  window_show_pair (self, pair);
  if (window_screenshot_path (self) != NULL && self->screenshot_poll_id == 0)
    self->screenshot_poll_id = g_timeout_add (100, on_screenshot_poll, self);
}

static void
window_start_load (DsWindow *self, const char *template_path, const char *science_path,
                   const char *what)
{
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();

  gtk_spinner_start (GTK_SPINNER (self->spinner));
  gtk_label_set_text (self->status_label, what);
  ds_pair_loader_load_async (self->loader, template_path, science_path, self->cancellable,
                             on_pair_loaded, g_object_ref (self));
}

void
ds_window_load_demo (DsWindow *self)
{
  g_return_if_fail (DS_IS_WINDOW (self));
  window_start_load (self, NULL, NULL, _("Generating the demo field…"));
}

void
ds_window_load_pair (DsWindow *self, const char *template_path, const char *science_path)
{
  g_autofree char *what = NULL;
  g_autofree char *tname = NULL, *sname = NULL;

  g_return_if_fail (DS_IS_WINDOW (self));
  g_return_if_fail (template_path != NULL && science_path != NULL);

  tname = g_path_get_basename (template_path);
  sname = g_path_get_basename (science_path);
  what = g_strdup_printf (_("Loading %s and %s…"), tname, sname);
  window_start_load (self, template_path, science_path, what);
}

/* --- screenshot ---------------------------------------------------------------------------- */

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
  snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (snapshot);
  if (node == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("The window drew nothing to take a screenshot of"));
      return FALSE;
    }
  texture = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, width,
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

/* --- actions ------------------------------------------------------------------------------- */

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
  g_autoptr (GFile) file = NULL;
  g_autofree char *path = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
  if (file != NULL)
    path = g_file_get_path (file);
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);

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

static void
action_open_pair (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  window_choose_file (DS_WINDOW (widget), FALSE);
}

static void
on_screenshot_response (GtkNativeDialog *dialog, int response, DsWindow *self)
{
  g_autoptr (GFile) file = NULL;
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
  if (file != NULL)
    path = g_file_get_path (file);
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
  if (path != NULL && !ds_window_save_screenshot (self, path, &error))
    ds_window_show_error (self, error->message);
}

static void
action_screenshot (GtkWidget *widget, const char *action_name, GVariant *parameter)
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

static gboolean
window_locked (DsWindow *self)
{
  return self->lock_bindings->len > 0;
}

static void
action_zoom (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  DsWindow *self = DS_WINDOW (widget);
  DsImageView *view = self->active_view;

  if (g_str_equal (action_name, "win.zoom-in"))
    ds_image_view_zoom_step (view, 1, -1, -1);
  else if (g_str_equal (action_name, "win.zoom-out"))
    ds_image_view_zoom_step (view, -1, -1, -1);
  else if (g_str_equal (action_name, "win.zoom-1"))
    ds_image_view_zoom_to (view, 1.0);
  else if (window_locked (self))
    for (int i = 0; i < DS_N_PANES; i++)
      ds_image_view_zoom_fit (self->views[i]);
  else
    ds_image_view_zoom_fit (view);
}

static void
window_apply_lock (DsWindow *self, gboolean locked)
{
  static const char *const props[] = { "zoom", "center-x", "center-y" };

  for (guint i = 0; i < self->lock_bindings->len; i++)
    g_binding_unbind (g_ptr_array_index (self->lock_bindings, i));
  g_ptr_array_set_size (self->lock_bindings, 0);
  if (!locked)
    return;
  /* The pane under the pointer leads, so locking never jumps the view being looked at. */
  for (int i = 0; i < DS_N_PANES; i++)
    if (self->views[i] != self->active_view)
      for (size_t p = 0; p < G_N_ELEMENTS (props); p++)
        g_ptr_array_add (self->lock_bindings,
                         g_object_bind_property (self->active_view, props[p], self->views[i],
                                                 props[p], G_BINDING_BIDIRECTIONAL
                                                 | G_BINDING_SYNC_CREATE));
}

static void
on_lock_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;
  GSettings *settings = window_settings (self);

  g_simple_action_set_state (action, state);
  window_apply_lock (self, g_variant_get_boolean (state));
  if (settings != NULL && window_screenshot_path (self) == NULL)
    g_settings_set_boolean (settings, "lock-views", g_variant_get_boolean (state));
}

static void
window_apply_stretch (DsWindow *self, const char *name)
{
  int s = name_index (stretch_names, G_N_ELEMENTS (stretch_names), name);

  if (s < 0)
    return;
  for (int i = 0; i < DS_N_PANES; i++)
    ds_image_view_set_stretch (self->views[i], (DiaStretch) s);
}

static void
window_apply_colormap (DsWindow *self, const char *name)
{
  const DiaColormap maps[] = { DIA_COLORMAP_GRAY, DIA_COLORMAP_GRAY_INVERTED,
                               DIA_COLORMAP_VIRIDIS_LIKE, DIA_COLORMAP_DIVERGING };
  int c = name_index (colormap_names, G_N_ELEMENTS (colormap_names), name);

  if (c < 0)
    return;
  for (int i = 0; i < DS_N_PANES; i++)
    ds_image_view_set_colormap (self->views[i], maps[c]);
}

static void
on_stretch_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;
  GSettings *settings = window_settings (self);
  const char *name = g_variant_get_string (state, NULL);

  if (name_index (stretch_names, G_N_ELEMENTS (stretch_names), name) < 0)
    return;
  g_simple_action_set_state (action, state);
  window_apply_stretch (self, name);
  if (settings != NULL && window_screenshot_path (self) == NULL)
    g_settings_set_string (settings, "default-stretch", name);
}

static void
on_colormap_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;
  GSettings *settings = window_settings (self);
  const char *name = g_variant_get_string (state, NULL);

  if (name_index (colormap_names, G_N_ELEMENTS (colormap_names), name) < 0)
    return;
  g_simple_action_set_state (action, state);
  window_apply_colormap (self, name);
  if (settings != NULL && window_screenshot_path (self) == NULL)
    g_settings_set_string (settings, "colormap", name);
}

/* --- GObject ------------------------------------------------------------------------------- */

static gboolean
ds_window_close_request (GtkWindow *window)
{
  DsWindow *self = DS_WINDOW (window);
  GSettings *settings = window_settings (self);

  if (settings != NULL && window_screenshot_path (self) == NULL)
    {
      int w = 0, h = 0;

      gtk_window_get_default_size (window, &w, &h);
      if (w > 0 && h > 0)
        {
          g_settings_set_int (settings, "window-width", w);
          g_settings_set_int (settings, "window-height", h);
        }
      g_settings_set_boolean (settings, "window-maximized", gtk_window_is_maximized (window));
    }
  return GTK_WINDOW_CLASS (ds_window_parent_class)->close_request (window);
}

static void
ds_window_dispose (GObject *object)
{
  DsWindow *self = DS_WINDOW (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_handle_id (&self->screenshot_poll_id, g_source_remove);
  if (self->lock_bindings != NULL)
    window_apply_lock (self, FALSE);
  gtk_widget_dispose_template (GTK_WIDGET (self), DS_TYPE_WINDOW);
  G_OBJECT_CLASS (ds_window_parent_class)->dispose (object);
}

static void
ds_window_finalize (GObject *object)
{
  DsWindow *self = DS_WINDOW (object);

  for (int i = 0; i < DS_N_PANES; i++)
    g_clear_pointer (&self->wcs[i], dia_wcs_free);
  g_clear_pointer (&self->lock_bindings, g_ptr_array_unref);
  g_clear_object (&self->loader);
  g_free (self->pending_template);
  G_OBJECT_CLASS (ds_window_parent_class)->finalize (object);
}

static void
ds_window_class_init (DsWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ds_window_dispose;
  object_class->finalize = ds_window_finalize;
  GTK_WINDOW_CLASS (klass)->close_request = ds_window_close_request;

  g_type_ensure (DS_TYPE_IMAGE_VIEW);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/diffscope/Diffscope/ui/ds-window.ui");
  gtk_widget_class_bind_template_child (widget_class, DsWindow, spinner);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, banner_revealer);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, banner_label);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, panes_box);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, template_title);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, science_title);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, template_view);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, science_view);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, pixel_label);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, status_label);
  gtk_widget_class_bind_template_callback (widget_class, on_banner_close_clicked);

  gtk_widget_class_install_action (widget_class, "win.open-pair", NULL, action_open_pair);
  gtk_widget_class_install_action (widget_class, "win.screenshot", NULL, action_screenshot);
  gtk_widget_class_install_action (widget_class, "win.zoom-in", NULL, action_zoom);
  gtk_widget_class_install_action (widget_class, "win.zoom-out", NULL, action_zoom);
  gtk_widget_class_install_action (widget_class, "win.zoom-fit", NULL, action_zoom);
  gtk_widget_class_install_action (widget_class, "win.zoom-1", NULL, action_zoom);
}

static void
ds_window_init (DsWindow *self)
{
  const GActionEntry entries[] = {
    { "lock-views", NULL, NULL, "true", on_lock_changed, { 0 } },
    { "stretch", NULL, "s", "'linear'", on_stretch_changed, { 0 } },
    { "colormap", NULL, "s", "'gray'", on_colormap_changed, { 0 } },
  };

  gtk_widget_init_template (GTK_WIDGET (self));
  self->views[DS_PANE_TEMPLATE] = self->template_view;
  self->views[DS_PANE_SCIENCE] = self->science_view;
  self->titles[DS_PANE_TEMPLATE] = self->template_title;
  self->titles[DS_PANE_SCIENCE] = self->science_title;
  self->active_view = self->template_view;
  self->lock_bindings = g_ptr_array_new ();
  self->loader = ds_pair_loader_new ();

  for (int i = 0; i < DS_N_PANES; i++)
    g_signal_connect (self->views[i], "pointer-moved", G_CALLBACK (on_pointer_moved), self);
  g_action_map_add_action_entries (G_ACTION_MAP (self), entries, G_N_ELEMENTS (entries), self);
}

/* Applies the remembered preferences; needs the application, so runs after construction. */
static void
window_apply_settings (DsWindow *self)
{
  GSettings *settings = window_settings (self);
  gboolean lock = TRUE;
  g_autofree char *stretch = NULL;
  g_autofree char *colormap = NULL;

  if (settings != NULL)
    {
      gtk_window_set_default_size (GTK_WINDOW (self),
                                   g_settings_get_int (settings, "window-width"),
                                   g_settings_get_int (settings, "window-height"));
      if (g_settings_get_boolean (settings, "window-maximized"))
        gtk_window_maximize (GTK_WINDOW (self));
      lock = g_settings_get_boolean (settings, "lock-views");
      stretch = g_settings_get_string (settings, "default-stretch");
      colormap = g_settings_get_string (settings, "colormap");
    }
  else
    gtk_window_set_default_size (GTK_WINDOW (self), 1400, 800);

  g_action_group_change_action_state (G_ACTION_GROUP (self), "lock-views",
                                      g_variant_new_boolean (lock));
  /* change_state with an unchanged value still runs the handler, which applies it. */
  g_action_group_change_action_state (G_ACTION_GROUP (self), "stretch",
                                      g_variant_new_string (stretch ? stretch : "linear"));
  g_action_group_change_action_state (G_ACTION_GROUP (self), "colormap",
                                      g_variant_new_string (colormap ? colormap : "gray"));
}

DsWindow *
ds_window_new (DsApplication *application)
{
  DsWindow *self = g_object_new (DS_TYPE_WINDOW, "application", application, NULL);

  window_apply_settings (self);
  return self;
}
