/* ds-display-controls.c — per-pane display settings, locks, crosshair, magnifier, mask overlay.
 *
 * Design.  The views' own DiaRenderParams are the single source of truth for stretch, limits,
 * colormap and contrast/bias: actions write them through ds_image_view_set_render_params(),
 * and every "params-changed" of a view copies them back into the action states and the
 * widgets of the pane's DsDisplayPopover (ds-display-popover.c, which only ever acts through
 * these actions).  So the older global win.stretch / win.colormap of ds-window.c, which change the
 * template and science views directly, show up here too.
 *
 * Locks.  Pan and zoom are GBindings (bidirectional, on "center-x"/"center-y" and "zoom")
 * from the pane under the pointer to the others, made when a lock is switched on, so
 * locking never jumps the pane being looked at.  Stretch and colormap locks are copies made
 * when a pane is changed through an action or a right-drag: stretch, limits and contrast/bias
 * go to the other panes, except that symmetric ±kσ limits (the difference's default) are
 * neither given to nor taken from the other panes, so the difference keeps its symmetric
 * limits until the user picks another mode for it.  The crosshair lock draws a click's
 * crosshair at the same image coordinate in every pane.
 *
 * Magnifier.  One DsMagnifier per view, placed as the view's corner child; only the one of
 * the pane under the pointer (the template until the pointer moves) is visible.  It renders
 * on pointer motion, on zoom and on render-parameter changes.
 *
 * Mask overlay.  One DsMaskOverlay shared by the three views; the popover lists the named
 * mask planes of the pane's image with a check button, a colour button and an alpha scale.
 * Changes are stored in the GSettings key "mask-overlay" (a{s(bsd)}).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-display-controls.h"
#include "ds-display-popover.h"
#include "ds-magnifier.h"
#include "ds-mask-overlay.h"

#include <glib/gi18n.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_PANES DS_DISPLAY_N_PANES

static const char *const pane_names[N_PANES] = { "template", "science", "difference" };
static const char *const stretch_names[] = { "linear", "log", "sqrt", "asinh", "histeq" };
static const char *const limits_names[] = { "zscale", "minmax", "percentile", "manual",
                                            "sigma" };
static const char *const colormap_names[] = { "gray", "gray-inverted", "viridis",
                                              "diverging" };

struct _DsDisplayControls
{
  GObject parent_instance;

  GtkWidget *window;            /* not referenced: it owns us                             */
  DsImageView *views[N_PANES];  /* not referenced                                          */
  DsMagnifier *magnifiers[N_PANES];   /* children of the views                            */
  DsDisplayPopover *popovers[N_PANES];   /* owned by their menu buttons                  */
  int active;                   /* pane under the pointer (leads the locks)               */
  GPtrArray *pan_bindings, *zoom_bindings;
  DsMaskOverlay *overlay;
  GSettings *settings;
  gboolean crosshair_on, magnifier_on, overlay_on;
  gboolean lock_crosshair, lock_stretch, lock_colormap;
};

G_DEFINE_FINAL_TYPE (DsDisplayControls, ds_display_controls, G_TYPE_OBJECT)

static int
name_index (const char *const *names, size_t n, const char *name)
{
  for (size_t i = 0; name != NULL && i < n; i++)
    if (g_str_equal (names[i], name))
      return (int) i;
  return -1;
}

static int
pane_of_view (DsDisplayControls *self, DsImageView *view)
{
  for (int i = 0; i < N_PANES; i++)
    if (self->views[i] == view)
      return i;
  return -1;
}

static GAction *
controls_action (DsDisplayControls *self, const char *name)
{
  return g_action_map_lookup_action (G_ACTION_MAP (self->window), name);
}

static void
controls_set_state (DsDisplayControls *self, const char *name, GVariant *state)
{
  GAction *action = controls_action (self, name);

  if (G_IS_SIMPLE_ACTION (action))
    g_simple_action_set_state (G_SIMPLE_ACTION (action), state);
  else
    g_variant_unref (g_variant_ref_sink (state));
}

/* Splits "PANE:REST" into the pane index (or −1) and up to max_numbers numbers after it;
 * returns how many numbers parsed. */
static int
parse_pane_numbers (const char *text, int *pane, double *numbers, int max_numbers)
{
  g_auto (GStrv) parts = g_strsplit (text != NULL ? text : "", ":", -1);
  int n = 0;

  *pane = parts[0] != NULL ? name_index (pane_names, N_PANES, parts[0]) : -1;
  for (int i = 1; parts[0] != NULL && parts[i] != NULL && n < max_numbers; i++)
    {
      char *end = NULL;
      double v = g_ascii_strtod (parts[i], &end);

      if (end == parts[i] || *end != '\0' || !isfinite (v))
        break;
      numbers[n++] = v;
    }
  return n;
}

/* --- copying between panes ------------------------------------------------------------------ */

/* Stretch, limits and contrast/bias of from, onto to (see the symmetric-limits rule above). */
static void
copy_stretch (const DiaRenderParams *from, DiaRenderParams *to)
{
  to->stretch = from->stretch;
  to->contrast = from->contrast;
  to->bias = from->bias;
  if (from->limits == DIA_LIMITS_SYMMETRIC_SIGMA || to->limits == DIA_LIMITS_SYMMETRIC_SIGMA)
    return;
  to->limits = from->limits;
  to->percentile_low = from->percentile_low;
  to->percentile_high = from->percentile_high;
  if (from->limits == DIA_LIMITS_MANUAL)
    {
      to->low = from->low;
      to->high = from->high;
    }
}

/* Sets pane's params; with the stretch lock, copies them to the other panes too. */
static void
controls_apply_params (DsDisplayControls *self, int pane, const DiaRenderParams *params)
{
  /* A copy: params may point into the view's own parameters, which the setter overwrites. */
  DiaRenderParams from = *params;

  ds_image_view_set_render_params (self->views[pane], &from);
  if (!self->lock_stretch)
    return;
  from = *ds_image_view_get_render_params (self->views[pane]);
  for (int i = 0; i < N_PANES; i++)
    if (i != pane)
      {
        DiaRenderParams p = *ds_image_view_get_render_params (self->views[i]);

        copy_stretch (&from, &p);
        ds_image_view_set_render_params (self->views[i], &p);
      }
}

static void
controls_apply_colormap (DsDisplayControls *self, int pane, DiaColormap map)
{
  for (int i = 0; i < N_PANES; i++)
    if (i == pane || self->lock_colormap)
      ds_image_view_set_colormap (self->views[i], map);
}

/* --- syncing widgets and states from the views --------------------------------------------- */

static void
controls_sync_pane (DsDisplayControls *self, int pane)
{
  const DiaRenderParams *p = ds_image_view_get_render_params (self->views[pane]);
  g_autofree char *stretch = g_strconcat ("stretch-", pane_names[pane], NULL);
  g_autofree char *limits = g_strconcat ("limits-", pane_names[pane], NULL);
  g_autofree char *colormap = g_strconcat ("colormap-", pane_names[pane], NULL);

  controls_set_state (self, stretch, g_variant_new_string (stretch_names[p->stretch]));
  controls_set_state (self, limits, g_variant_new_string (limits_names[p->limits]));
  controls_set_state (self, colormap, g_variant_new_string (colormap_names[p->colormap]));
  if (self->popovers[pane] != NULL)
    ds_display_popover_sync (self->popovers[pane]);
}

/* --- magnifier ------------------------------------------------------------------------------- */

static void
controls_update_magnifier (DsDisplayControls *self)
{
  for (int i = 0; i < N_PANES; i++)
    {
      gboolean show = self->magnifier_on && i == self->active
                      && ds_image_view_get_image (self->views[i]) != NULL;

      gtk_widget_set_visible (GTK_WIDGET (self->magnifiers[i]), show);
      if (show)
        {
          double ix, iy;

          ds_image_view_get_pointer (self->views[i], &ix, &iy);
          ds_magnifier_show_at (self->magnifiers[i], self->views[i], ix, iy);
        }
    }
}

/* --- view signals ---------------------------------------------------------------------------- */

static void
on_view_params_changed (DsImageView *view, DsDisplayControls *self)
{
  int pane = pane_of_view (self, view);

  if (pane < 0)
    return;
  controls_sync_pane (self, pane);
  if (self->magnifier_on && pane == self->active)
    controls_update_magnifier (self);
}

static void
on_view_pointer_moved (DsImageView *view, gboolean inside, double ix, double iy,
                       DsDisplayControls *self)
{
  int pane = pane_of_view (self, view);

  if (pane < 0 || !inside)
    return;
  self->active = pane;
  if (self->magnifier_on)
    controls_update_magnifier (self);
}

static void
on_view_zoom (GObject *view, GParamSpec *pspec, DsDisplayControls *self)
{
  if (self->magnifier_on && (DsImageView *) view == self->views[self->active])
    controls_update_magnifier (self);
}

static void
on_view_contrast_dragged (DsImageView *view, DsDisplayControls *self)
{
  int pane = pane_of_view (self, view);

  if (pane >= 0 && self->lock_stretch)
    controls_apply_params (self, pane, ds_image_view_get_render_params (view));
}

static void
controls_set_crosshair (DsDisplayControls *self, int pane, double x, double y)
{
  /* On the pixel centre: the crosshair marks a pixel, the same one in every pane. */
  x = floor (x + 0.5);
  y = floor (y + 0.5);
  for (int i = 0; i < N_PANES; i++)
    if (i == pane || self->lock_crosshair)
      ds_image_view_set_crosshair (self->views[i], TRUE, x, y);
}

static void
on_view_clicked (DsImageView *view, double ix, double iy, DsDisplayControls *self)
{
  int pane = pane_of_view (self, view);

  if (pane >= 0 && self->crosshair_on)
    controls_set_crosshair (self, pane, ix, iy);
}

/* --- actions --------------------------------------------------------------------------------- */

static int
pane_of_action (GSimpleAction *action)
{
  const char *name = g_action_get_name (G_ACTION (action));
  const char *dash = strrchr (name, '-');

  return dash != NULL ? name_index (pane_names, N_PANES, dash + 1) : -1;
}

static void
on_stretch_state (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsDisplayControls *self = user_data;
  int pane = pane_of_action (action);
  int s = name_index (stretch_names, G_N_ELEMENTS (stretch_names),
                      g_variant_get_string (state, NULL));
  DiaRenderParams p;

  if (pane < 0 || s < 0)
    return;
  p = *ds_image_view_get_render_params (self->views[pane]);
  p.stretch = (DiaStretch) s;
  controls_apply_params (self, pane, &p);
}

static void
on_limits_state (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsDisplayControls *self = user_data;
  int pane = pane_of_action (action);
  int l = name_index (limits_names, G_N_ELEMENTS (limits_names),
                      g_variant_get_string (state, NULL));
  DiaRenderParams p;

  if (pane < 0 || l < 0)
    return;
  /* Manual starts from the limits shown now (low/high hold the last computed ones). */
  p = *ds_image_view_get_render_params (self->views[pane]);
  p.limits = (DiaLimitsMode) l;
  controls_apply_params (self, pane, &p);
}

static void
on_colormap_state (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsDisplayControls *self = user_data;
  int pane = pane_of_action (action);
  int c = name_index (colormap_names, G_N_ELEMENTS (colormap_names),
                      g_variant_get_string (state, NULL));

  if (pane >= 0 && c >= 0)
    controls_apply_colormap (self, pane, (DiaColormap) c);
}

static void
on_limits_range (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  DsDisplayControls *self = user_data;
  double v[2];
  int pane;
  DiaRenderParams p;

  if (parse_pane_numbers (g_variant_get_string (parameter, NULL), &pane, v, 2) != 2
      || pane < 0 || !(v[1] > v[0]))
    return;
  p = *ds_image_view_get_render_params (self->views[pane]);
  if (p.limits == DIA_LIMITS_PERCENTILE)
    {
      p.percentile_low = CLAMP (v[0], 0.0, 100.0);
      p.percentile_high = CLAMP (v[1], 0.0, 100.0);
    }
  else
    {
      p.limits = DIA_LIMITS_MANUAL;
      p.low = v[0];
      p.high = v[1];
    }
  controls_apply_params (self, pane, &p);
}

static void
on_sigma_k (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  DsDisplayControls *self = user_data;
  double k;
  int pane;
  DiaRenderParams p;

  if (parse_pane_numbers (g_variant_get_string (parameter, NULL), &pane, &k, 1) != 1
      || pane < 0 || !(k > 0))
    return;
  p = *ds_image_view_get_render_params (self->views[pane]);
  p.limits = DIA_LIMITS_SYMMETRIC_SIGMA;
  p.sigma_k = k;
  ds_image_view_set_render_params (self->views[pane], &p);
}

/* contrast "PANE:CONTRAST:BIAS" and reset-contrast "PANE". */
static void
on_contrast (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  DsDisplayControls *self = user_data;
  gboolean reset = g_str_equal (g_action_get_name (G_ACTION (action)), "reset-contrast");
  double v[2] = { 1.0, 0.5 };
  int pane, n;

  n = parse_pane_numbers (g_variant_get_string (parameter, NULL), &pane, v, 2);
  if (pane < 0 || (!reset && n != 2))
    return;
  if (reset)
    v[0] = 1.0, v[1] = 0.5;
  ds_image_view_set_contrast_bias (self->views[pane], v[0], v[1]);
  if (self->lock_stretch)
    controls_apply_params (self, pane, ds_image_view_get_render_params (self->views[pane]));
}

static void
controls_apply_pan_zoom_lock (DsDisplayControls *self, GPtrArray *bindings,
                              const char *const *props, gboolean on)
{
  DsImageView *leader = self->views[self->active];

  for (guint i = 0; i < bindings->len; i++)
    g_binding_unbind (g_ptr_array_index (bindings, i));
  g_ptr_array_set_size (bindings, 0);
  if (!on)
    return;
  for (int i = 0; i < N_PANES; i++)
    if (self->views[i] != leader)
      for (int p = 0; props[p] != NULL; p++)
        g_ptr_array_add (bindings, g_object_bind_property (leader, props[p], self->views[i],
                                                           props[p], G_BINDING_BIDIRECTIONAL
                                                           | G_BINDING_SYNC_CREATE));
}

/* lock-views = pan and zoom: keep its state (ds-window.c's action) in step. */
static void
controls_sync_lock_views (DsDisplayControls *self)
{
  gboolean both = self->pan_bindings->len > 0 && self->zoom_bindings->len > 0;
  GAction *action = controls_action (self, "lock-views");

  if (G_IS_SIMPLE_ACTION (action))
    {
      g_autoptr (GVariant) state = g_action_get_state (action);

      if (state != NULL && g_variant_get_boolean (state) != both)
        g_simple_action_set_state (G_SIMPLE_ACTION (action), g_variant_new_boolean (both));
    }
}

static void
on_toggle_state (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  static const char *const pan_props[] = { "center-x", "center-y", NULL };
  static const char *const zoom_props[] = { "zoom", NULL };
  DsDisplayControls *self = user_data;
  const char *name = g_action_get_name (G_ACTION (action));
  gboolean on = g_variant_get_boolean (state);

  g_simple_action_set_state (action, state);
  if (g_str_equal (name, "lock-pan"))
    controls_apply_pan_zoom_lock (self, self->pan_bindings, pan_props, on);
  else if (g_str_equal (name, "lock-zoom"))
    controls_apply_pan_zoom_lock (self, self->zoom_bindings, zoom_props, on);
  else if (g_str_equal (name, "lock-crosshair"))
    self->lock_crosshair = on;
  else if (g_str_equal (name, "lock-stretch"))
    self->lock_stretch = on;
  else if (g_str_equal (name, "lock-colormap"))
    self->lock_colormap = on;
  else if (g_str_equal (name, "crosshair"))
    {
      self->crosshair_on = on;
      if (!on)
        for (int i = 0; i < N_PANES; i++)
          ds_image_view_set_crosshair (self->views[i], FALSE, 0, 0);
    }
  else if (g_str_equal (name, "magnifier"))
    {
      self->magnifier_on = on;
      controls_update_magnifier (self);
    }
  else if (g_str_equal (name, "show-mask-overlay"))
    {
      self->overlay_on = on;
      for (int i = 0; i < N_PANES; i++)
        ds_image_view_set_mask_overlay (self->views[i], on ? self->overlay : NULL);
      if (self->settings != NULL)
        g_settings_set_boolean (self->settings, "show-mask-overlay", on);
    }
  if (g_str_has_prefix (name, "lock-pan") || g_str_has_prefix (name, "lock-zoom"))
    controls_sync_lock_views (self);
}

static void
on_crosshair_at (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  DsDisplayControls *self = user_data;
  double v[2];
  int pane;

  if (parse_pane_numbers (g_variant_get_string (parameter, NULL), &pane, v, 2) != 2 || pane < 0)
    return;
  if (!self->crosshair_on)
    g_action_group_change_action_state (G_ACTION_GROUP (self->window), "crosshair",
                                        g_variant_new_boolean (TRUE));
  controls_set_crosshair (self, pane, v[0], v[1]);
}

/* pan-to "PANE:X:Y": centres one pane on an image coordinate (locked panes follow). */
static void
on_pan_to (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  DsDisplayControls *self = user_data;
  double v[2];
  int pane;

  if (parse_pane_numbers (g_variant_get_string (parameter, NULL), &pane, v, 2) != 2 || pane < 0)
    return;
  /* zoom_to leaves fit mode, so a later resize does not recentre the pane. */
  ds_image_view_zoom_to (self->views[pane], ds_image_view_get_zoom (self->views[pane]));
  ds_image_view_set_center (self->views[pane], v[0], v[1]);
}

static void
on_magnifier_zoom (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsDisplayControls *self = user_data;
  int f = atoi (g_variant_get_string (state, NULL));

  if (f != 2 && f != 4 && f != 8)
    return;
  g_simple_action_set_state (action, state);
  for (int i = 0; i < N_PANES; i++)
    ds_magnifier_set_factor (self->magnifiers[i], f);
  controls_update_magnifier (self);
  if (self->settings != NULL)
    g_settings_set_int (self->settings, "magnifier-zoom", f);
}

/* The overlay table changed: redraw and remember. */
static void
controls_overlay_changed (DsDisplayControls *self)
{
  if (self->overlay_on)
    for (int i = 0; i < N_PANES; i++)
      ds_image_view_set_mask_overlay (self->views[i], self->overlay);
  if (self->magnifier_on)
    controls_update_magnifier (self);
  if (self->settings != NULL)
    g_settings_set_value (self->settings, "mask-overlay",
                          ds_mask_overlay_to_variant (self->overlay));
}

static void
on_mask_plane (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  DsDisplayControls *self = user_data;
  g_auto (GStrv) parts = g_strsplit (g_variant_get_string (parameter, NULL), ":", -1);
  gboolean shown;
  guint32 rgb;
  double alpha;

  if (parts[0] == NULL || parts[0][0] == '\0' || parts[1] == NULL)
    return;
  ds_mask_overlay_get_plane (self->overlay, parts[0], &shown, &rgb, &alpha);
  shown = g_str_equal (parts[1], "on");
  if (parts[2] != NULL && parts[2][0] == '#' && strlen (parts[2]) == 7)
    rgb = (guint32) strtoul (parts[2] + 1, NULL, 16);
  if (parts[2] != NULL && parts[3] != NULL)
    alpha = g_ascii_strtod (parts[3], NULL);
  ds_mask_overlay_set_plane (self->overlay, parts[0], shown, rgb, alpha);
  controls_overlay_changed (self);
}

/* --- the pane button ------------------------------------------------------------------------ */

static void
on_popover_overlay_changed (DsDisplayPopover *popover, DsDisplayControls *self)
{
  controls_overlay_changed (self);
}

/* A display menu button with the pane's popover, inserted after the title widget. */
static void
controls_add_button (DsDisplayControls *self, int pane, GtkWidget *title)
{
  GtkWidget *button, *popover;

  if (title == NULL || !GTK_IS_BOX (gtk_widget_get_parent (title)))
    return;
  button = gtk_menu_button_new ();
  popover = ds_display_popover_new (pane_names[pane], self->views[pane], self->overlay);
  self->popovers[pane] = DS_DISPLAY_POPOVER (popover);
  g_signal_connect (popover, "overlay-changed", G_CALLBACK (on_popover_overlay_changed), self);
  gtk_menu_button_set_icon_name (GTK_MENU_BUTTON (button), "display-brightness-symbolic");
  gtk_menu_button_set_popover (GTK_MENU_BUTTON (button), popover);
  gtk_widget_set_tooltip_text (button, _("Display: stretch, limits, colormap, locks, "
                                         "magnifier and mask overlay of this pane"));
  gtk_widget_add_css_class (button, "flat");
  gtk_widget_add_css_class (button, "ds-pane-menu");
  gtk_box_insert_child_after (GTK_BOX (gtk_widget_get_parent (title)), button, title);
}

/* --- GObject ------------------------------------------------------------------------------- */

static const GActionEntry controls_entries[] = {
  { "stretch-template", NULL, "s", "'linear'", on_stretch_state, { 0 } },
  { "stretch-science", NULL, "s", "'linear'", on_stretch_state, { 0 } },
  { "stretch-difference", NULL, "s", "'linear'", on_stretch_state, { 0 } },
  { "limits-template", NULL, "s", "'zscale'", on_limits_state, { 0 } },
  { "limits-science", NULL, "s", "'zscale'", on_limits_state, { 0 } },
  { "limits-difference", NULL, "s", "'sigma'", on_limits_state, { 0 } },
  { "colormap-template", NULL, "s", "'gray'", on_colormap_state, { 0 } },
  { "colormap-science", NULL, "s", "'gray'", on_colormap_state, { 0 } },
  { "colormap-difference", NULL, "s", "'diverging'", on_colormap_state, { 0 } },
  { "limits-range", on_limits_range, "s", NULL, NULL, { 0 } },
  { "sigma-k", on_sigma_k, "s", NULL, NULL, { 0 } },
  { "contrast", on_contrast, "s", NULL, NULL, { 0 } },
  { "reset-contrast", on_contrast, "s", NULL, NULL, { 0 } },
  { "lock-pan", NULL, NULL, "false", on_toggle_state, { 0 } },
  { "lock-zoom", NULL, NULL, "false", on_toggle_state, { 0 } },
  { "lock-crosshair", NULL, NULL, "true", on_toggle_state, { 0 } },
  { "lock-stretch", NULL, NULL, "false", on_toggle_state, { 0 } },
  { "lock-colormap", NULL, NULL, "false", on_toggle_state, { 0 } },
  { "crosshair", NULL, NULL, "false", on_toggle_state, { 0 } },
  { "crosshair-at", on_crosshair_at, "s", NULL, NULL, { 0 } },
  { "pan-to", on_pan_to, "s", NULL, NULL, { 0 } },
  { "magnifier", NULL, NULL, "false", on_toggle_state, { 0 } },
  { "magnifier-zoom", NULL, "s", "'4'", on_magnifier_zoom, { 0 } },
  { "show-mask-overlay", NULL, NULL, "false", on_toggle_state, { 0 } },
  { "mask-plane", on_mask_plane, "s", NULL, NULL, { 0 } },
};

static void
ds_display_controls_dispose (GObject *object)
{
  DsDisplayControls *self = DS_DISPLAY_CONTROLS (object);

  if (self->window != NULL)
    {
      for (size_t i = 0; i < G_N_ELEMENTS (controls_entries); i++)
        g_action_map_remove_action (G_ACTION_MAP (self->window), controls_entries[i].name);
      for (int i = 0; i < N_PANES; i++)
        {
          if (self->popovers[i] != NULL)
            g_signal_handlers_disconnect_by_data (self->popovers[i], self);
          self->popovers[i] = NULL;
          g_signal_handlers_disconnect_by_data (self->views[i], self);
          ds_image_view_set_corner_child (self->views[i], NULL);
        }
      for (guint i = 0; i < self->pan_bindings->len; i++)
        g_binding_unbind (g_ptr_array_index (self->pan_bindings, i));
      for (guint i = 0; i < self->zoom_bindings->len; i++)
        g_binding_unbind (g_ptr_array_index (self->zoom_bindings, i));
      g_ptr_array_set_size (self->pan_bindings, 0);
      g_ptr_array_set_size (self->zoom_bindings, 0);
      self->window = NULL;
    }
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (ds_display_controls_parent_class)->dispose (object);
}

static void
ds_display_controls_finalize (GObject *object)
{
  DsDisplayControls *self = DS_DISPLAY_CONTROLS (object);

  g_clear_pointer (&self->pan_bindings, g_ptr_array_unref);
  g_clear_pointer (&self->zoom_bindings, g_ptr_array_unref);
  g_clear_pointer (&self->overlay, ds_mask_overlay_unref);
  G_OBJECT_CLASS (ds_display_controls_parent_class)->finalize (object);
}

static void
ds_display_controls_class_init (DsDisplayControlsClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = ds_display_controls_dispose;
  G_OBJECT_CLASS (klass)->finalize = ds_display_controls_finalize;
}

static void
ds_display_controls_init (DsDisplayControls *self)
{
  self->pan_bindings = g_ptr_array_new ();
  self->zoom_bindings = g_ptr_array_new ();
  self->overlay = ds_mask_overlay_new ();
  self->lock_crosshair = TRUE;
}

DsDisplayControls *
ds_display_controls_new (GtkWidget *window, DsImageView *const views[DS_DISPLAY_N_PANES],
                         GtkWidget *const titles[DS_DISPLAY_N_PANES])
{
  DsDisplayControls *self;

  g_return_val_if_fail (G_IS_ACTION_MAP (window), NULL);

  self = g_object_new (DS_TYPE_DISPLAY_CONTROLS, NULL);
  self->window = window;
  g_action_map_add_action_entries (G_ACTION_MAP (window), controls_entries,
                                   G_N_ELEMENTS (controls_entries), self);
  for (int i = 0; i < N_PANES; i++)
    {
      self->views[i] = views[i];
      self->magnifiers[i] = DS_MAGNIFIER (ds_magnifier_new ());
      gtk_widget_set_visible (GTK_WIDGET (self->magnifiers[i]), FALSE);
      ds_image_view_set_corner_child (views[i], GTK_WIDGET (self->magnifiers[i]));
      g_signal_connect (views[i], "params-changed", G_CALLBACK (on_view_params_changed), self);
      g_signal_connect (views[i], "pointer-moved", G_CALLBACK (on_view_pointer_moved), self);
      g_signal_connect (views[i], "notify::zoom", G_CALLBACK (on_view_zoom), self);
      g_signal_connect (views[i], "contrast-dragged", G_CALLBACK (on_view_contrast_dragged),
                        self);
      g_signal_connect (views[i], "image-clicked", G_CALLBACK (on_view_clicked), self);
      controls_add_button (self, i, titles[i]);
      controls_sync_pane (self, i);
    }
  return self;
}

void
ds_display_controls_set_settings (DsDisplayControls *self, GSettings *settings)
{
  g_autoptr (GVariant) table = NULL;
  g_autofree char *zoom = NULL;

  g_return_if_fail (DS_IS_DISPLAY_CONTROLS (self));

  g_clear_object (&self->settings);
  if (settings == NULL)
    return;
  /* An older installed schema without these keys: work without remembering (GSettings aborts
   * on unknown keys). */
  {
    g_autoptr (GSettingsSchema) schema = NULL;

    g_object_get (settings, "settings-schema", &schema, NULL);
    if (schema == NULL || !g_settings_schema_has_key (schema, "mask-overlay")
        || !g_settings_schema_has_key (schema, "show-mask-overlay")
        || !g_settings_schema_has_key (schema, "magnifier-zoom"))
      return;
  }
  table = g_settings_get_value (settings, "mask-overlay");
  ds_mask_overlay_load_variant (self->overlay, table);
  zoom = g_strdup_printf ("%d", g_settings_get_int (settings, "magnifier-zoom"));
  g_action_group_change_action_state (G_ACTION_GROUP (self->window), "magnifier-zoom",
                                      g_variant_new_string (zoom));
  g_action_group_change_action_state (G_ACTION_GROUP (self->window), "show-mask-overlay",
                                      g_variant_new_boolean (
                                        g_settings_get_boolean (settings, "show-mask-overlay")));
  /* From here on, changes are remembered. */
  self->settings = g_object_ref (settings);
}

void
ds_display_controls_set_pan_zoom_locked (DsDisplayControls *self, gboolean locked)
{
  g_return_if_fail (DS_IS_DISPLAY_CONTROLS (self));
  if (self->window == NULL)
    return;
  g_action_group_change_action_state (G_ACTION_GROUP (self->window), "lock-pan",
                                      g_variant_new_boolean (locked));
  g_action_group_change_action_state (G_ACTION_GROUP (self->window), "lock-zoom",
                                      g_variant_new_boolean (locked));
}

gboolean
ds_display_controls_get_zoom_locked (DsDisplayControls *self)
{
  g_return_val_if_fail (DS_IS_DISPLAY_CONTROLS (self), FALSE);
  return self->zoom_bindings->len > 0;
}

void
ds_display_controls_describe (DsDisplayControls *self, GString *out)
{
  g_return_if_fail (DS_IS_DISPLAY_CONTROLS (self));

  for (int i = 0; self->window != NULL && i < N_PANES; i++)
    {
      GtkWidget *mag = GTK_WIDGET (self->magnifiers[i]);
      graphene_rect_t b;
      double x, y;

      if (gtk_widget_get_visible (mag) && gtk_widget_get_mapped (mag)
          && gtk_widget_compute_bounds (mag, self->window, &b))
        g_string_append_printf (out, "magnifier %.2f %.2f %.2f %.2f zoom %.4f\n", b.origin.x,
                                b.origin.y, b.size.width, b.size.height,
                                ds_magnifier_get_zoom (self->magnifiers[i]));
      if (ds_image_view_get_crosshair (self->views[i], &x, &y))
        g_string_append_printf (out, "crosshair %s %.2f %.2f\n", pane_names[i], x, y);
    }
}
