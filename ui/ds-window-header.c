/* ds-window-header.c — the FITS header viewer of the inspector window.
 *
 * win.show-header (Ctrl+I) and win.header-search open a DsHeaderView (ds-header-view.h),
 * transient for the window and created on first use, on the inputs' cards and the cards the
 * difference's exported file carries.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-window-private.h"

#include <glib/gi18n.h>
#include <string.h>

/* Refreshes the three headers: the inputs' cards as read, and for the difference the cards
 * its exported file carries. */
static void
window_fill_header_view (DsWindow *self)
{
  const char *none = _("This image has no FITS header cards (it was not read from a FITS "
                       "file).");
  g_autofree char *diff_cards = NULL;
  g_autoptr (GError) error = NULL;
  int n_diff = 0;

  for (int i = 0; i < 2; i++)
    ds_header_view_set_cards (self->header_view, (DsHeaderSource) i,
                              self->inputs[i] != NULL ? self->inputs[i]->header : NULL,
                              self->inputs[i] != NULL ? self->inputs[i]->n_header_cards : 0,
                              none);
  if (self->result != NULL)
    diff_cards = ds_header_dup_difference_cards (self->result, self->input_paths[0],
                                                 self->input_paths[1], &n_diff, &error);
  ds_header_view_set_cards (self->header_view, DS_HEADER_DIFFERENCE, diff_cards, n_diff,
                            error != NULL ? error->message
                                          : _("There is no difference yet."));
}

/* win.show-header (Ctrl+I): the header of the pane under the pointer. */
void
ds_window_header_action_show (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  DsWindow *self = DS_WINDOW (widget);

  if (self->header_view == NULL)
    {
      self->header_view = DS_HEADER_VIEW (ds_header_view_new ());
      gtk_window_set_transient_for (GTK_WINDOW (self->header_view), GTK_WINDOW (self));
    }
  window_fill_header_view (self);
  for (int i = 0; i < DS_N_PANES; i++)
    if (self->active_view == self->views[i])
      ds_header_view_set_source (self->header_view, (DsHeaderSource) i);
  gtk_window_present (GTK_WINDOW (self->header_view));
}

/* win.header-search: opens the viewer on the difference's header ("pane:text" picks the
 * pane: template, science or difference) and searches; for scripts and tests. */
void
ds_window_header_action_search (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  DsWindow *self = DS_WINDOW (widget);
  const char *text = g_variant_get_string (parameter, NULL);
  const char *colon = strchr (text, ':');
  static const char *const names[] = { "template", "science", "difference" };
  DsPaneId pane = DS_PANE_DIFFERENCE;

  if (colon != NULL)
    {
      g_autofree char *name = g_strndup (text, colon - text);
      int named = ds_window_name_index (names, G_N_ELEMENTS (names), name);

      if (named >= 0)
        {
          pane = named;
          text = colon + 1;
        }
    }
  ds_window_header_action_show (widget, NULL, NULL);
  ds_header_view_set_source (self->header_view, (DsHeaderSource) pane);
  ds_header_view_set_search (self->header_view, text);
}
