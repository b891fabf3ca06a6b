/* ds-window-blink.c — blink pair and hold-to-flip of the inspector window.
 *
 * Blink pair and hold-F flip (win.blink, win.blink-pair, win.blink-interval, win.flip).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-window-private.h"

#include <glib/gi18n.h>
#include <math.h>

/* win.blink-pair names two members "first:second" out of blink_members (any case); the first
 * member's pane (the difference pane for a and b) alternates between the two images every
 * blink_interval_ms while win.blink is on, and shows the other one while win.flip is on (the
 * F key held).  blink_pane is the pane showing a borrowed image (-1: none); it gets its own
 * image back when blinking and flipping stop or the pair changes. */

static const char *const blink_members[] = { "template", "science", "difference", "a", "b" };

static DiaImage *
window_blink_member_image (DsWindow *self, int member)
{
  if (member == 0 || member == 1)
    return self->inputs[member];
  if (member == 3)
    return self->pinned != NULL ? self->pinned->diff : NULL;
  return self->result != NULL ? self->result->diff : NULL;
}

static const char *
window_blink_member_label (int member)
{
  const char *labels[] = { _("Template"), _("Science"), _("Difference"),
                           _("Difference A (pinned)"), _("Difference B (current)") };

  return labels[CLAMP (member, 0, 4)];
}

/* Parses "first:second" into member indices; FALSE for anything else. */
static gboolean
blink_pair_parse (const char *pair, int *first, int *second)
{
  g_autofree char *lower = g_ascii_strdown (pair != NULL ? pair : "", -1);
  g_auto (GStrv) parts = g_strsplit (lower, ":", -1);

  if (g_strv_length (parts) != 2)
    return FALSE;
  *first = ds_window_name_index (blink_members, G_N_ELEMENTS (blink_members), parts[0]);
  *second = ds_window_name_index (blink_members, G_N_ELEMENTS (blink_members), parts[1]);
  return *first >= 0 && *second >= 0 && *first != *second;
}

/* The title a pane has when it shows its own image. */
static void
window_restore_pane (DsWindow *self, int pane)
{
  g_autofree char *label = NULL;

  if (pane == DS_PANE_DIFFERENCE)
    {
      ds_window_update_difference (self);
      return;
    }
  if (pane < 0 || self->inputs[pane] == NULL)
    return;
  if (self->inputs[pane]->source != NULL)
    {
      g_autofree char *base = g_path_get_basename (self->inputs[pane]->source);
      label = g_strdup_printf ("%s — %s", ds_window_pane_name (pane), base);
    }
  ds_image_view_set_image (self->views[pane], self->inputs[pane]);
  gtk_label_set_text (self->titles[pane], label != NULL ? label : ds_window_pane_name (pane));
}

/* Puts into the pair's pane what blinking and flipping say it should show. */
static void
window_blink_show (DsWindow *self)
{
  int first, second, pane, shown;
  DiaImage *image;
  g_autofree char *title = NULL;

  if (!blink_pair_parse (self->blink_pair, &first, &second)
      || (self->blink_id == 0 && !self->flipped))
    {
      if (self->blink_pane >= 0)
        window_restore_pane (self, self->blink_pane);
      self->blink_pane = -1;
      return;
    }
  pane = MIN (first, DS_PANE_DIFFERENCE);
  if (self->blink_pane >= 0 && self->blink_pane != pane)
    window_restore_pane (self, self->blink_pane);
  shown = self->blink_phase != self->flipped ? second : first;
  image = window_blink_member_image (self, shown);
  if (image == NULL)
    return;
  self->blink_pane = pane;
  ds_image_view_set_image (self->views[pane], image);
  /* Translators: pane title while blinking or flipping: the image shown, then the pair */
  title = g_strdup_printf (self->blink_id != 0 ? _("%s (blinking %s ⇄ %s)")
                                               : _("%s (flipped, %s ⇄ %s)"),
                           window_blink_member_label (shown),
                           window_blink_member_label (first),
                           window_blink_member_label (second));
  gtk_label_set_text (self->titles[pane], title);
}

static gboolean
on_blink_tick (gpointer user_data)
{
  DsWindow *self = user_data;

  self->blink_phase = !self->blink_phase;
  window_blink_show (self);
  return G_SOURCE_CONTINUE;
}

static void
window_restart_blink (DsWindow *self, gboolean on)
{
  g_clear_handle_id (&self->blink_id, g_source_remove);
  self->blink_phase = FALSE;
  if (on)
    self->blink_id = g_timeout_add (self->blink_interval_ms, on_blink_tick, self);
  window_blink_show (self);
}

void
ds_window_blink_on_blink_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  g_simple_action_set_state (action, state);
  window_restart_blink (user_data, g_variant_get_boolean (state));
}

void
ds_window_blink_on_pair_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;
  const char *pair = g_variant_get_string (state, NULL);
  int first, second;

  if (!blink_pair_parse (pair, &first, &second))
    {
      g_autofree char *msg = g_strdup_printf (_("Cannot blink “%s”: name two different panes, "
                                                "e.g. science:difference (template, science, "
                                                "difference, a, b)."), pair);
      ds_window_show_error (self, msg);
      return;
    }
  g_simple_action_set_state (action, state);
  if (self->blink_pane >= 0)
    window_restore_pane (self, self->blink_pane);
  self->blink_pane = -1;
  g_free (self->blink_pair);
  self->blink_pair = g_ascii_strdown (pair, -1);
  window_blink_show (self);
}

/* Seconds as a string ("0.6"), so that menus and --action can set it alike. */
void
ds_window_blink_on_interval_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;
  double s = g_ascii_strtod (g_variant_get_string (state, NULL), NULL);

  if (!(s >= 0.05 && s <= 10.0))
    return;
  g_simple_action_set_state (action, state);
  self->blink_interval_ms = (guint) lround (s * 1000.0);
  if (self->blink_id != 0)
    window_restart_blink (self, TRUE);
}

void
ds_window_blink_on_flip_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;

  g_simple_action_set_state (action, state);
  self->flipped = g_variant_get_boolean (state);
  window_blink_show (self);
}

/* Hold F: flip to the other image of the blink pair while the key is down. */
static gboolean
on_key_pressed (GtkEventControllerKey *controller, guint keyval, guint keycode,
                GdkModifierType state, DsWindow *self)
{
  if ((keyval != GDK_KEY_f && keyval != GDK_KEY_F)
      || (state & (GDK_CONTROL_MASK | GDK_ALT_MASK | GDK_SUPER_MASK)) != 0)
    return FALSE;
  if (!self->flipped)
    g_action_group_change_action_state (G_ACTION_GROUP (self), "flip",
                                        g_variant_new_boolean (TRUE));
  return TRUE;
}

static void
on_key_released (GtkEventControllerKey *controller, guint keyval, guint keycode,
                 GdkModifierType state, DsWindow *self)
{
  if ((keyval == GDK_KEY_f || keyval == GDK_KEY_F) && self->flipped)
    g_action_group_change_action_state (G_ACTION_GROUP (self), "flip",
                                        g_variant_new_boolean (FALSE));
}

/* The F key for hold-to-flip. */
void
ds_window_blink_init (DsWindow *self)
{
  GtkEventController *keys = gtk_event_controller_key_new ();

  g_signal_connect (keys, "key-pressed", G_CALLBACK (on_key_pressed), self);
  g_signal_connect (keys, "key-released", G_CALLBACK (on_key_released), self);
  gtk_widget_add_controller (GTK_WIDGET (self), keys);
}
