/* ds-window-overlays.c — plan overlays of the inspector window.
 *
 * Overlays: the plan's stamps on the science pane (used in green, reserve
 * in grey, rejected in red with the reason as tooltip) and the kernel-centroid quiver on the
 * difference (arrow scale from win.quiver-scale).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-window-private.h"

#include <glib/gi18n.h>
#include <math.h>

/* Stamps rejected by the fit (the interesting ones) stand out; stamps never considered
 * (edge, masked, saturated, S/N, crowded, extended) are drawn small and faint so that the
 * hundreds of them do not hide the sky. */
static gboolean
stamp_rejected_by_fit (DiaStampStatus status)
{
  return status == DIA_STAMP_REJECT_KERNEL_SUM || status == DIA_STAMP_REJECT_RESID_MEAN
         || status == DIA_STAMP_REJECT_RESID_RMS || status == DIA_STAMP_REJECT_SPATIAL
         || status == DIA_STAMP_REJECT_SINGULAR;
}

void
ds_window_overlays_update (DsWindow *self)
{
  DiaSubtractPlan *plan = self->result != NULL ? self->result->plan : NULL;
  g_autoptr (GArray) stamps = NULL;
  g_autoptr (GArray) quiver = NULL;
  GVariant *state = g_action_group_get_action_state (G_ACTION_GROUP (self), "show-stamps");
  gboolean show = state == NULL || g_variant_get_boolean (state);

  g_clear_pointer (&state, g_variant_unref);
  if (plan == NULL)
    return;
  stamps = ds_marker_array_new ();
  for (guint i = 0; plan->stamps != NULL && i < plan->stamps->len; i++)
    {
      const DiaStamp *st = &g_array_index (plan->stamps, DiaStamp, i);
      DsMarker m = { 0 };

      if (st->status == DIA_STAMP_RESERVE)
        continue;
      m.x = st->x;
      m.y = st->y;
      if (st->status == DIA_STAMP_GOOD)
        {
          m.size = 0.5 * plan->info.basis.size;
          m.shape = DS_MARKER_CIRCLE;
          m.rgba = 0x33dd55e6;
        }
      else if (stamp_rejected_by_fit (st->status))
        {
          m.size = 0.5 * plan->info.basis.size;
          m.shape = DS_MARKER_SQUARE;
          m.rgba = 0xff3030f0;
        }
      else
        {
          m.size = 0.0;
          m.shape = DS_MARKER_CROSS;
          m.rgba = 0xff903050;
        }
      m.tooltip = st->status == DIA_STAMP_GOOD
                    ? g_strdup_printf (_("Stamp used: S/N %.0f, kernel sum %.4f"), st->snr,
                                       st->kernel_sum)
                    : g_strdup_printf (_("Stamp not used: %s (S/N %.0f)"),
                                       _(dia_stamp_status_to_string (st->status)), st->snr);
      g_array_append_val (stamps, m);
    }
  if (plan->kernel != NULL)
    {
      const int n = 8;
      int w = plan->science_image->width, h = plan->science_image->height;

      double off[8][8][2], longest = 0.0, scale;

      /* Auto scale: the longest arrow spans 40 % of a grid cell, times the user's factor. */
      for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++)
          {
            dia_kernel_solution_centroid (plan->kernel, (i + 0.5) * w / n, (j + 0.5) * h / n,
                                          &off[j][i][0], &off[j][i][1]);
            longest = MAX (longest, hypot (off[j][i][0], off[j][i][1]));
          }
      scale = longest > 0 ? 0.4 * MIN (w, h) / n / longest * self->quiver_scale : 0.0;
      quiver = ds_marker_array_new ();
      for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++)
          {
            DsMarker m = { 0 };
            double dx = off[j][i][0], dy = off[j][i][1];

            m.x = (i + 0.5) * w / n;
            m.y = (j + 0.5) * h / n;
            m.dx = dx * scale;
            m.dy = dy * scale;
            m.shape = DS_MARKER_ARROW;
            m.rgba = 0xffd400ff;
            m.tooltip = g_strdup_printf (_("Kernel centroid offset (%.3f, %.3f) px, sum %.4f"),
                                         dx, dy,
                                         dia_kernel_solution_sum (plan->kernel, m.x, m.y));
            g_array_append_val (quiver, m);
          }
    }
  /* Stamps on the science image (where they were chosen); the difference keeps its
   * residuals visible and carries the quiver. */
  ds_image_view_set_markers (self->views[DS_PANE_SCIENCE], DS_WINDOW_LAYER_STAMPS, stamps);
  ds_image_view_set_layer_visible (self->views[DS_PANE_SCIENCE], DS_WINDOW_LAYER_STAMPS, show);
  ds_image_view_set_markers (self->views[DS_PANE_DIFFERENCE], DS_WINDOW_LAYER_QUIVER, quiver);
  state = g_action_group_get_action_state (G_ACTION_GROUP (self), "show-quiver");
  ds_image_view_set_layer_visible (self->views[DS_PANE_DIFFERENCE], DS_WINDOW_LAYER_QUIVER,
                                   state != NULL && g_variant_get_boolean (state));
  g_clear_pointer (&state, g_variant_unref);
}

void
ds_window_overlays_on_show_stamps_changed (GSimpleAction *action, GVariant *state,
                                           gpointer user_data)
{
  DsWindow *self = user_data;

  g_simple_action_set_state (action, state);
  for (int p = 0; p < DS_N_PANES; p++)
    ds_image_view_set_layer_visible (self->views[p], DS_WINDOW_LAYER_STAMPS,
                                     g_variant_get_boolean (state));
}

void
ds_window_overlays_on_show_quiver_changed (GSimpleAction *action, GVariant *state,
                                           gpointer user_data)
{
  DsWindow *self = user_data;

  g_simple_action_set_state (action, state);
  ds_image_view_set_layer_visible (self->views[DS_PANE_DIFFERENCE], DS_WINDOW_LAYER_QUIVER,
                                   g_variant_get_boolean (state));
}

void
ds_window_overlays_on_quiver_scale_changed (GSimpleAction *action, GVariant *state,
                                            gpointer user_data)
{
  DsWindow *self = user_data;
  double v = g_variant_get_double (state);

  if (!(v > 0 && v <= 100))
    return;
  g_simple_action_set_state (action, state);
  self->quiver_scale = v;
  ds_window_overlays_update (self);
}
