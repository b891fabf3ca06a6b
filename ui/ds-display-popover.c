/* ds-display-popover.c — the per-pane display popover: stretch, limits, colormap, locks,
 * magnifier and mask-overlay planes.
 *
 * Design.  The popover holds no display state: its drop-downs and spin buttons activate the
 * window actions of ds-display-controls.c (stretch-PANE, limits-PANE, colormap-PANE,
 * limits-range, sigma-k; the locks and toggles are plain actionable check buttons), and
 * ds_display_popover_sync() writes the view's render parameters back into the widgets under
 * a guard, so syncing never applies anything.  The mask-plane rows are rebuilt from the
 * image's plane names each time the popover opens and edit the shared DsMaskOverlay
 * directly, then emit "overlay-changed" for the controls to redraw and remember.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-display-popover.h"

#include <glib/gi18n.h>
#include <math.h>

/* Action targets in enum order (DiaStretch, DiaLimitsMode, DiaColormap). */
static const char *const stretch_names[] = { "linear", "log", "sqrt", "asinh", "histeq" };
static const char *const limits_names[] = { "zscale", "minmax", "percentile", "manual",
                                            "sigma" };
static const char *const colormap_names[] = { "gray", "gray-inverted", "viridis",
                                              "diverging" };

struct _DsDisplayPopover
{
  GtkPopover parent_instance;

  char *pane;
  DsImageView *view;            /* not referenced                                          */
  DsMaskOverlay *overlay;
  GtkDropDown *stretch, *limits, *colormap;
  GtkSpinButton *low, *high, *sigma;
  GtkLabel *low_label, *high_label;
  GtkWidget *planes_grid;       /* mask plane rows, rebuilt when the popover opens         */
  gboolean syncing;             /* writing widgets from the view: do not apply             */
};

G_DEFINE_FINAL_TYPE (DsDisplayPopover, ds_display_popover, GTK_TYPE_POPOVER)

enum
{
  SIGNAL_OVERLAY_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* Activates win.NAME with a string target; for the stateful choice actions (no activate
 * handler, state type s) GSimpleAction turns that into a state change. */
static void
popover_activate (DsDisplayPopover *self, const char *name, const char *target)
{
  g_autofree char *full = g_strconcat ("win.", name, NULL);

  gtk_widget_activate_action (GTK_WIDGET (self), full, "s", target);
}

void
ds_display_popover_sync (DsDisplayPopover *self)
{
  const DiaRenderParams *p;
  gboolean range;

  g_return_if_fail (DS_IS_DISPLAY_POPOVER (self));

  p = ds_image_view_get_render_params (self->view);
  range = p->limits == DIA_LIMITS_PERCENTILE || p->limits == DIA_LIMITS_MANUAL;
  self->syncing = TRUE;
  gtk_drop_down_set_selected (self->stretch, p->stretch);
  gtk_drop_down_set_selected (self->limits, p->limits);
  gtk_drop_down_set_selected (self->colormap, p->colormap);
  gtk_widget_set_sensitive (GTK_WIDGET (self->low), range);
  gtk_widget_set_sensitive (GTK_WIDGET (self->high), range);
  gtk_widget_set_sensitive (GTK_WIDGET (self->sigma), p->limits == DIA_LIMITS_SYMMETRIC_SIGMA);
  if (p->limits == DIA_LIMITS_PERCENTILE)
    {
      gtk_label_set_text (self->low_label, _("Low %"));
      gtk_label_set_text (self->high_label, _("High %"));
      gtk_spin_button_set_value (self->low, p->percentile_low);
      gtk_spin_button_set_value (self->high, p->percentile_high);
    }
  else
    {
      gtk_label_set_text (self->low_label, _("Low"));
      gtk_label_set_text (self->high_label, _("High"));
      gtk_spin_button_set_value (self->low, p->low);
      gtk_spin_button_set_value (self->high, p->high);
    }
  gtk_spin_button_set_value (self->sigma, p->sigma_k);
  self->syncing = FALSE;
}

/* --- mask plane rows ------------------------------------------------------------------------ */

typedef struct
{
  DsDisplayPopover *self;       /* not referenced: the rows are its descendants            */
  char *plane;                  /* mask plane name                                         */
  GtkCheckButton *check;
  GtkColorButton *colour;
  GtkRange *alpha;
} PlaneRow;

static void
plane_row_free (gpointer data)
{
  PlaneRow *row = data;

  g_free (row->plane);
  g_free (row);
}

static void
on_plane_row_changed (GtkWidget *widget, PlaneRow *row)
{
  GdkRGBA c;
  guint32 rgb;

  gtk_color_chooser_get_rgba (GTK_COLOR_CHOOSER (row->colour), &c);
  rgb = ((guint32) lround (CLAMP (c.red, 0, 1) * 255) << 16)
        | ((guint32) lround (CLAMP (c.green, 0, 1) * 255) << 8)
        | (guint32) lround (CLAMP (c.blue, 0, 1) * 255);
  ds_mask_overlay_set_plane (row->self->overlay, row->plane,
                             gtk_check_button_get_active (row->check), rgb,
                             gtk_range_get_value (row->alpha));
  g_signal_emit (row->self, signals[SIGNAL_OVERLAY_CHANGED], 0);
}

/* One row per named mask plane of the view's image (the core planes are always named). */
static void
popover_fill_planes (DsDisplayPopover *self)
{
  DiaImage *im = ds_image_view_get_image (self->view);
  GtkWidget *child;
  int row = 0;

  while ((child = gtk_widget_get_first_child (self->planes_grid)) != NULL)
    gtk_grid_remove (GTK_GRID (self->planes_grid), child);
  if (im == NULL)
    return;
  for (int b = 0; b < DIA_MASK_MAX_PLANES; b++)
    {
      PlaneRow *r;
      gboolean shown;
      guint32 rgb;
      double alpha;
      GtkWidget *check, *colour, *scale;
      GdkRGBA c;

      if (im->plane_names[b] == NULL)
        continue;
      ds_mask_overlay_get_plane (self->overlay, im->plane_names[b], &shown, &rgb, &alpha);
      check = gtk_check_button_new_with_label (im->plane_names[b]);
      gtk_check_button_set_active (GTK_CHECK_BUTTON (check), shown);
      c = (GdkRGBA) { ((rgb >> 16) & 0xFF) / 255.0f, ((rgb >> 8) & 0xFF) / 255.0f,
                      (rgb & 0xFF) / 255.0f, 1.0f };
      colour = gtk_color_button_new_with_rgba (&c);
      gtk_color_chooser_set_use_alpha (GTK_COLOR_CHOOSER (colour), FALSE);
      gtk_widget_set_tooltip_text (colour, _("Colour of the plane"));
      scale = gtk_scale_new_with_range (GTK_ORIENTATION_HORIZONTAL, 0.0, 1.0, 0.05);
      gtk_range_set_value (GTK_RANGE (scale), alpha);
      gtk_scale_set_draw_value (GTK_SCALE (scale), FALSE);
      gtk_widget_set_size_request (scale, 100, -1);
      gtk_widget_set_tooltip_text (scale, _("Opacity of the plane"));
      gtk_grid_attach (GTK_GRID (self->planes_grid), check, 0, row, 1, 1);
      gtk_grid_attach (GTK_GRID (self->planes_grid), colour, 1, row, 1, 1);
      gtk_grid_attach (GTK_GRID (self->planes_grid), scale, 2, row, 1, 1);
      row++;

      r = g_new0 (PlaneRow, 1);
      r->self = self;
      r->plane = g_strdup (im->plane_names[b]);
      r->check = GTK_CHECK_BUTTON (check);
      r->colour = GTK_COLOR_BUTTON (colour);
      r->alpha = GTK_RANGE (scale);
      g_object_set_data_full (G_OBJECT (check), "ds-plane-row", r, plane_row_free);
      g_signal_connect (check, "toggled", G_CALLBACK (on_plane_row_changed), r);
      g_signal_connect (colour, "color-set", G_CALLBACK (on_plane_row_changed), r);
      g_signal_connect (scale, "value-changed", G_CALLBACK (on_plane_row_changed), r);
    }
}

/* --- display widgets --------------------------------------------------------------------- */

static void
on_popover_show (GtkWidget *widget, gpointer user_data)
{
  DsDisplayPopover *self = DS_DISPLAY_POPOVER (widget);

  ds_display_popover_sync (self);
  popover_fill_planes (self);
}

static void
on_drop_down_selected (GtkDropDown *drop, GParamSpec *pspec, DsDisplayPopover *self)
{
  const char *const *names = drop == self->stretch ? stretch_names
                             : drop == self->limits ? limits_names : colormap_names;
  guint n = drop == self->stretch ? G_N_ELEMENTS (stretch_names)
            : drop == self->limits ? G_N_ELEMENTS (limits_names)
                                   : G_N_ELEMENTS (colormap_names);
  const char *kind = drop == self->stretch ? "stretch-" : drop == self->limits ? "limits-"
                                                                               : "colormap-";
  guint sel = gtk_drop_down_get_selected (drop);
  g_autofree char *action = g_strconcat (kind, self->pane, NULL);

  if (self->syncing || sel >= n)
    return;
  popover_activate (self, action, names[sel]);
}

static void
on_spin_changed (GtkSpinButton *spin, DsDisplayPopover *self)
{
  char low[G_ASCII_DTOSTR_BUF_SIZE], high[G_ASCII_DTOSTR_BUF_SIZE];
  g_autofree char *arg = NULL;

  if (self->syncing)
    return;
  if (spin == self->sigma)
    {
      arg = g_strconcat (self->pane, ":",
                         g_ascii_dtostr (low, sizeof low, gtk_spin_button_get_value (spin)),
                         NULL);
      popover_activate (self, "sigma-k", arg);
      return;
    }
  arg = g_strconcat (self->pane, ":",
                     g_ascii_dtostr (low, sizeof low, gtk_spin_button_get_value (self->low)),
                     ":",
                     g_ascii_dtostr (high, sizeof high, gtk_spin_button_get_value (self->high)),
                     NULL);
  popover_activate (self, "limits-range", arg);
}

static GtkWidget *
popover_label (const char *text)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), 0.0f);
  return label;
}

static GtkDropDown *
popover_drop_down (DsDisplayPopover *self, const char *const *labels)
{
  GtkWidget *drop = gtk_drop_down_new_from_strings (labels);

  g_signal_connect (drop, "notify::selected", G_CALLBACK (on_drop_down_selected), self);
  return GTK_DROP_DOWN (drop);
}

static GtkSpinButton *
popover_spin (DsDisplayPopover *self, double lo, double hi, double step)
{
  GtkWidget *spin = gtk_spin_button_new_with_range (lo, hi, step);

  gtk_spin_button_set_digits (GTK_SPIN_BUTTON (spin), 3);
  gtk_widget_set_hexpand (spin, TRUE);
  g_signal_connect (spin, "value-changed", G_CALLBACK (on_spin_changed), self);
  return GTK_SPIN_BUTTON (spin);
}

static GtkWidget *
popover_check (const char *label, const char *action)
{
  GtkWidget *check = gtk_check_button_new_with_mnemonic (label);

  gtk_actionable_set_action_name (GTK_ACTIONABLE (check), action);
  return check;
}

static void
popover_build (DsDisplayPopover *self)
{
  const char *stretch_labels[] = { _("Linear"), _("Logarithmic"), _("Square Root"), _("Asinh"),
                                   _("Histogram Equalisation"), NULL };
  const char *limits_labels[] = { _("Zscale"), _("Min–Max"), _("Percentile"), _("Manual"),
                                  _("±kσ (symmetric)"), NULL };
  const char *colormap_labels[] = { _("Grey"), _("Inverted Grey"), _("Perceptual"),
                                    _("Diverging"), NULL };
  GtkWidget *grid = gtk_grid_new (), *scroller, *locks, *zooms, *reset;
  int row = 0;

  gtk_grid_set_row_spacing (GTK_GRID (grid), 4);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 8);
  self->stretch = popover_drop_down (self, stretch_labels);
  self->limits = popover_drop_down (self, limits_labels);
  self->colormap = popover_drop_down (self, colormap_labels);
  self->low = popover_spin (self, -1e30, 1e30, 1.0);
  self->high = popover_spin (self, -1e30, 1e30, 1.0);
  self->sigma = popover_spin (self, 0.1, 100.0, 0.5);
  self->low_label = GTK_LABEL (popover_label (_("Low")));
  self->high_label = GTK_LABEL (popover_label (_("High")));
  gtk_grid_attach (GTK_GRID (grid), popover_label (_("Stretch")), 0, row, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), GTK_WIDGET (self->stretch), 1, row++, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), popover_label (_("Limits")), 0, row, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), GTK_WIDGET (self->limits), 1, row++, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), GTK_WIDGET (self->low_label), 0, row, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), GTK_WIDGET (self->low), 1, row++, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), GTK_WIDGET (self->high_label), 0, row, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), GTK_WIDGET (self->high), 1, row++, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), popover_label (_("k (σ)")), 0, row, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), GTK_WIDGET (self->sigma), 1, row++, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), popover_label (_("Colormap")), 0, row, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), GTK_WIDGET (self->colormap), 1, row++, 1, 1);

  reset = gtk_button_new_with_mnemonic (_("_Reset Contrast"));
  gtk_widget_set_tooltip_text (reset, _("Undo the right-drag contrast and bias of this pane"));
  gtk_actionable_set_action_target (GTK_ACTIONABLE (reset), "s", self->pane);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (reset), "win.reset-contrast");
  gtk_grid_attach (GTK_GRID (grid), reset, 0, row++, 2, 1);

  gtk_grid_attach (GTK_GRID (grid), gtk_separator_new (GTK_ORIENTATION_HORIZONTAL), 0, row++, 2,
                   1);
  gtk_grid_attach (GTK_GRID (grid), popover_check (_("C_rosshair (click sets it)"),
                                                   "win.crosshair"), 0, row++, 2, 1);
  zooms = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 0);
  gtk_widget_add_css_class (zooms, "linked");
  for (int f = 2; f <= 8; f *= 2)
    {
      g_autofree char *label = g_strdup_printf ("×%d", f);
      g_autofree char *target = g_strdup_printf ("%d", f);
      GtkWidget *t = gtk_toggle_button_new_with_label (label);

      gtk_actionable_set_action_target (GTK_ACTIONABLE (t), "s", target);
      gtk_actionable_set_action_name (GTK_ACTIONABLE (t), "win.magnifier-zoom");
      gtk_box_append (GTK_BOX (zooms), t);
    }
  gtk_grid_attach (GTK_GRID (grid), popover_check (_("_Magnifier"), "win.magnifier"), 0, row, 1,
                   1);
  gtk_grid_attach (GTK_GRID (grid), zooms, 1, row++, 1, 1);

  gtk_grid_attach (GTK_GRID (grid), popover_label (_("Lock across panes:")), 0, row++, 2, 1);
  locks = gtk_flow_box_new ();
  gtk_flow_box_set_selection_mode (GTK_FLOW_BOX (locks), GTK_SELECTION_NONE);
  gtk_flow_box_set_max_children_per_line (GTK_FLOW_BOX (locks), 3);
  gtk_flow_box_append (GTK_FLOW_BOX (locks), popover_check (_("Pan"), "win.lock-pan"));
  gtk_flow_box_append (GTK_FLOW_BOX (locks), popover_check (_("Zoom"), "win.lock-zoom"));
  gtk_flow_box_append (GTK_FLOW_BOX (locks),
                       popover_check (_("Crosshair"), "win.lock-crosshair"));
  gtk_flow_box_append (GTK_FLOW_BOX (locks), popover_check (_("Stretch"), "win.lock-stretch"));
  gtk_flow_box_append (GTK_FLOW_BOX (locks),
                       popover_check (_("Colormap"), "win.lock-colormap"));
  gtk_grid_attach (GTK_GRID (grid), locks, 0, row++, 2, 1);

  gtk_grid_attach (GTK_GRID (grid), gtk_separator_new (GTK_ORIENTATION_HORIZONTAL), 0, row++, 2,
                   1);
  gtk_grid_attach (GTK_GRID (grid), popover_check (_("Mask _Overlay"), "win.show-mask-overlay"),
                   0, row++, 2, 1);
  self->planes_grid = gtk_grid_new ();
  gtk_grid_set_column_spacing (GTK_GRID (self->planes_grid), 6);
  gtk_grid_attach (GTK_GRID (grid), self->planes_grid, 0, row++, 2, 1);

  scroller = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroller), GTK_POLICY_NEVER,
                                  GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_propagate_natural_height (GTK_SCROLLED_WINDOW (scroller), TRUE);
  gtk_scrolled_window_set_max_content_height (GTK_SCROLLED_WINDOW (scroller), 640);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), grid);
  gtk_popover_set_child (GTK_POPOVER (self), scroller);
  g_signal_connect (self, "show", G_CALLBACK (on_popover_show), NULL);
}

/* --- GObject ------------------------------------------------------------------------------- */

static void
ds_display_popover_finalize (GObject *object)
{
  DsDisplayPopover *self = DS_DISPLAY_POPOVER (object);

  g_free (self->pane);
  g_clear_pointer (&self->overlay, ds_mask_overlay_unref);
  G_OBJECT_CLASS (ds_display_popover_parent_class)->finalize (object);
}

static void
ds_display_popover_class_init (DsDisplayPopoverClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ds_display_popover_finalize;

  /* A mask-plane row changed the overlay (already applied to the DsMaskOverlay). */
  signals[SIGNAL_OVERLAY_CHANGED] =
    g_signal_new ("overlay-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 0);
}

static void
ds_display_popover_init (DsDisplayPopover *self)
{
}

GtkWidget *
ds_display_popover_new (const char *pane, DsImageView *view, DsMaskOverlay *overlay)
{
  DsDisplayPopover *self;

  g_return_val_if_fail (pane != NULL, NULL);
  g_return_val_if_fail (DS_IS_IMAGE_VIEW (view), NULL);
  g_return_val_if_fail (overlay != NULL, NULL);

  self = g_object_new (DS_TYPE_DISPLAY_POPOVER, NULL);
  self->pane = g_strdup (pane);
  self->view = view;
  self->overlay = ds_mask_overlay_ref (overlay);
  popover_build (self);
  ds_display_popover_sync (self);
  return GTK_WIDGET (self);
}
