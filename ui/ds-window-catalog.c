/* ds-window-catalog.c — detection markers and the catalogue table.
 *
 * Detections: every full-frame result is followed, in the same job, by its catalogue
 * (dia_detect_and_measure).  When only DETECT-stage parameters change (threshold, polarity,
 * growth…), the window submits a detection-only job on its cached result, so no plan, fit or
 * convolution runs (ds_subtract_detection_only).  The catalogue is drawn on the difference
 * (positive magenta circles, negative cyan circles, dipoles orange; flagged sources as
 * squares of the same colour) and listed in a GtkColumnView in the side pane; selecting a row
 * centres the difference on the source, clicking a marker selects its row.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-window-private.h"

#include <glib/gi18n.h>
#include <math.h>

/* Flags that make a measurement doubtful; DIPOLE_ATTEMPTED and SHAPE_FAILED (moments of a
 * faint source) are informative only. */
gboolean
ds_window_catalog_source_is_flagged (const DiaSource *src)
{
  return (src->flags & ~(guint32) (DIA_SOURCE_DIPOLE_ATTEMPTED | DIA_SOURCE_SHAPE_FAILED)) != 0;
}

static void
window_update_detection_markers (DsWindow *self)
{
  ds_window_catalog_show_markers (self, self->catalog);
}

/* Markers of catalog (self->catalog, or a provisional, unmeasured one) on the difference. */
void
ds_window_catalog_show_markers (DsWindow *self, const DiaCatalog *catalog)
{
  g_autoptr (GArray) markers = NULL;
  GVariant *state;
  double radius, fwhm;

  if (catalog == NULL)
    return;
  /* About two FWHM: the ring sits around the PSF core instead of on it.  An unmeasured
   * catalogue has no PSF width yet: the last measured one's keeps the rings steady. */
  fwhm = catalog->psf_fwhm;
  if (!isfinite (fwhm) && self->catalog != NULL)
    fwhm = self->catalog->psf_fwhm;
  radius = isfinite (fwhm) && fwhm > 0 ? CLAMP (2.0 * fwhm, 4.0, 30.0) : 6.0;
  markers = ds_marker_array_new ();
  for (guint i = 0; i < catalog->sources->len; i++)
    {
      const DiaSource *src = &g_array_index (catalog->sources, DiaSource, i);
      DsMarker m = { 0 };
      const char *kind;

      m.x = src->x;
      m.y = src->y;
      m.size = radius;
      m.shape = ds_window_catalog_source_is_flagged (src) ? DS_MARKER_SQUARE : DS_MARKER_CIRCLE;
      if (src->is_dipole)
        {
          m.rgba = 0xff8c00ff;
          kind = _("dipole");
        }
      else if (src->is_negative)
        {
          m.rgba = 0x00e5ffff;
          kind = _("negative");
        }
      else
        {
          m.rgba = 0xff00ffff;
          kind = _("positive");
        }
      /* Translators: tooltip of a detection marker: id, kind, S/N, PSF flux, flags */
      m.tooltip = g_strdup_printf (_("Source %d (%s): S/N %.1f, PSF flux %.1f ± %.1f, "
                                     "flags 0x%x"), src->id, kind, src->snr, src->psf_flux,
                                   src->psf_flux_err, src->flags);
      g_array_append_val (markers, m);
    }
  ds_image_view_set_markers (self->views[DS_PANE_DIFFERENCE], DS_WINDOW_LAYER_DETECTIONS, markers);
  state = g_action_group_get_action_state (G_ACTION_GROUP (self), "show-detections");
  ds_image_view_set_layer_visible (self->views[DS_PANE_DIFFERENCE], DS_WINDOW_LAYER_DETECTIONS,
                                   state == NULL || g_variant_get_boolean (state));
  g_clear_pointer (&state, g_variant_unref);
}

/* Takes a new reference to catalog; refreshes the markers and the table. */
/* The catalogue table and its heading, from self->catalog (see ds_window_catalog_set). */
static gboolean
on_catalog_idle (gpointer user_data)
{
  DsWindow *self = user_data;
  DiaCatalog *catalog = self->catalog;
  g_autofree char *title = NULL;
  guint n_old = g_list_model_get_n_items (G_LIST_MODEL (self->catalog_rows));
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (g_free);
  int n_pos = 0, n_neg = 0, n_dip = 0, n_flag = 0;

  self->catalog_idle_id = 0;
  if (catalog == NULL)
    return G_SOURCE_REMOVE;
  for (guint i = 0; i < catalog->sources->len; i++)
    {
      const DiaSource *src = &g_array_index (catalog->sources, DiaSource, i);

      g_ptr_array_add (rows, g_strdup_printf ("%u", i));
      n_dip += src->is_dipole;
      n_neg += !src->is_dipole && src->is_negative;
      n_pos += !src->is_dipole && !src->is_negative;
      n_flag += ds_window_catalog_source_is_flagged (src);
    }
  g_ptr_array_add (rows, NULL);
  gtk_string_list_splice (self->catalog_rows, 0, n_old, (const char *const *) rows->pdata);
  /* Translators: heading of the catalogue table */
  title = g_strdup_printf (_("%u sources at %.1f σ: %d positive, %d negative, %d dipoles, "
                             "%d flagged"), catalog->sources->len, catalog->params.threshold,
                           n_pos, n_neg, n_dip, n_flag);
  gtk_label_set_text (self->catalog_label, title);
  return G_SOURCE_REMOVE;
}

void
ds_window_catalog_set (DsWindow *self, DiaCatalog *catalog)
{
  dia_catalog_ref (catalog);
  g_clear_pointer (&self->catalog, dia_catalog_unref);
  self->catalog = catalog;
  /* Markers first, the table at a lower priority than drawing: the overlays of a threshold
   * change reach the screen in the next frame, and rebinding the table's visible rows (tens
   * of milliseconds) happens after it. */
  window_update_detection_markers (self);
  if (self->catalog_idle_id == 0)
    self->catalog_idle_id = g_idle_add_full (GDK_PRIORITY_REDRAW + 10, on_catalog_idle, self,
                                             NULL);
}

/* The source of a catalogue row item (a GtkStringObject holding the source index). */
static const DiaSource *
window_row_source (DsWindow *self, GtkStringObject *item)
{
  guint64 i;

  /* Rows may still list the previous catalogue for a moment (ds_window_catalog_set). */
  if (self->catalog == NULL || item == NULL || self->catalog->sources->len == 0
      || !g_ascii_string_to_unsigned (gtk_string_object_get_string (item), 10, 0,
                                      self->catalog->sources->len - 1, &i, NULL))
    return NULL;
  return &g_array_index (self->catalog->sources, DiaSource, i);
}

enum
{
  COLUMN_ID,
  COLUMN_X,
  COLUMN_Y,
  COLUMN_SNR,
  COLUMN_PSF_FLUX,
  COLUMN_FLAGS,
  N_COLUMNS,
};

static void
on_catalog_setup (GtkSignalListItemFactory *factory, GtkListItem *item, DsWindow *self)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 1.0);
  gtk_widget_add_css_class (label, "numeric");
  gtk_list_item_set_child (item, label);
}

static void
on_catalog_bind (GtkSignalListItemFactory *factory, GtkListItem *item, DsWindow *self)
{
  int column = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (factory), "ds-column"));
  const DiaSource *src = window_row_source (self, gtk_list_item_get_item (item));
  g_autofree char *text = NULL;

  if (src == NULL)
    text = g_strdup ("");
  else if (column == COLUMN_ID)
    text = g_strdup_printf ("%d", src->id);
  else if (column == COLUMN_X)
    text = g_strdup_printf ("%.1f", src->x);
  else if (column == COLUMN_Y)
    text = g_strdup_printf ("%.1f", src->y);
  else if (column == COLUMN_SNR)
    text = g_strdup_printf ("%.1f", src->snr);
  else if (column == COLUMN_PSF_FLUX)
    text = g_strdup_printf ("%.1f", src->psf_flux);
  else
    text = g_strdup_printf ("0x%x", src->flags);
  gtk_label_set_text (GTK_LABEL (gtk_list_item_get_child (item)), text);
}

/* Row → image: centre the difference (and, when locked, every pane) on the source. */
static void
on_catalog_selected (GtkSingleSelection *selection, GParamSpec *pspec, DsWindow *self)
{
  const DiaSource *src = window_row_source (self, gtk_single_selection_get_selected_item
                                                    (selection));

  if (src == NULL || self->selecting_from_click)
    return;
  ds_image_view_set_center (self->views[DS_PANE_DIFFERENCE], src->x, src->y);
}

/* Image → row: a primary click within a marker's radius (at least 6 screen px) selects the
 * nearest source. */
static void
on_difference_clicked (GtkGestureClick *gesture, int n_press, double wx, double wy,
                       DsWindow *self)
{
  DsImageView *view = self->views[DS_PANE_DIFFERENCE];
  double ix, iy, best = G_MAXDOUBLE, reach;
  guint best_i = GTK_INVALID_LIST_POSITION;

  if (self->catalog == NULL)
    return;
  ds_image_view_widget_to_image (view, wx, wy, &ix, &iy);
  reach = MAX (CLAMP (2.0 * self->catalog->psf_fwhm, 4.0, 30.0),
               6.0 / MAX (ds_image_view_get_zoom (view), 1e-6));
  for (guint i = 0; i < self->catalog->sources->len; i++)
    {
      const DiaSource *src = &g_array_index (self->catalog->sources, DiaSource, i);
      double d = hypot (src->x - ix, src->y - iy);

      if (d <= reach && d < best)
        {
          best = d;
          best_i = i;
        }
    }
  if (best_i == GTK_INVALID_LIST_POSITION)
    return;
  self->selecting_from_click = TRUE;
  gtk_single_selection_set_selected (self->catalog_selection, best_i);
  self->selecting_from_click = FALSE;
  ds_window_report (self, "selected %d", g_array_index (self->catalog->sources, DiaSource,
                                                     best_i).id);
}

void
ds_window_catalog_init (DsWindow *self)
{
  static const char *const titles[N_COLUMNS] = {
    N_("Id"), N_("x"), N_("y"), N_("S/N"), N_("PSF flux"), N_("Flags"),
  };
  GtkGesture *click;

  self->catalog_rows = gtk_string_list_new (NULL);
  self->catalog_selection = gtk_single_selection_new (
      G_LIST_MODEL (g_object_ref (self->catalog_rows)));
  gtk_single_selection_set_autoselect (self->catalog_selection, FALSE);
  gtk_single_selection_set_can_unselect (self->catalog_selection, TRUE);
  gtk_column_view_set_model (self->catalog_view, GTK_SELECTION_MODEL (self->catalog_selection));
  for (int c = 0; c < N_COLUMNS; c++)
    {
      GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
      GtkColumnViewColumn *column;

      g_object_set_data (G_OBJECT (factory), "ds-column", GINT_TO_POINTER (c));
      g_signal_connect (factory, "setup", G_CALLBACK (on_catalog_setup), self);
      g_signal_connect (factory, "bind", G_CALLBACK (on_catalog_bind), self);
      column = gtk_column_view_column_new (_(titles[c]), factory);
      gtk_column_view_append_column (self->catalog_view, column);
      g_object_unref (column);
    }
  g_signal_connect (self->catalog_selection, "notify::selected",
                    G_CALLBACK (on_catalog_selected), self);
  click = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_PRIMARY);
  g_signal_connect (click, "released", G_CALLBACK (on_difference_clicked), self);
  gtk_widget_add_controller (GTK_WIDGET (self->views[DS_PANE_DIFFERENCE]),
                             GTK_EVENT_CONTROLLER (click));
}

void
ds_window_catalog_on_show_detections_changed (GSimpleAction *action, GVariant *state,
                                              gpointer user_data)
{
  DsWindow *self = user_data;

  g_simple_action_set_state (action, state);
  ds_image_view_set_layer_visible (self->views[DS_PANE_DIFFERENCE], DS_WINDOW_LAYER_DETECTIONS,
                                   g_variant_get_boolean (state));
}

void
ds_window_catalog_on_show_catalog_changed (GSimpleAction *action, GVariant *state,
                                           gpointer user_data)
{
  DsWindow *self = user_data;

  g_simple_action_set_state (action, state);
  gtk_widget_set_visible (self->catalog_box, g_variant_get_boolean (state));
  ds_window_update_side_box (self);
}
