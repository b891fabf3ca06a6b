/* ds-param-panel.c — the subtraction parameters as widgets, generated from the engine's table.
 *
 * Design.  The panel owns a DiaSubtractRequest and builds one row per entry of
 * dia_params_table() (engine/dia-params-table.h), grouped under a heading per pipeline stage
 * (the stage says how much a change costs: a kernel parameter refits, an APPLY parameter only
 * re-executes).  The widget follows the parameter type: a drop-down listing the flavour
 * registry (so flavours added to dia-flavors.def appear without UI changes), spin buttons
 * with the table's inclusive range for integers and bounded reals, switches for booleans, and
 * entries for lists and for reals whose range spans many decades.  Every edit goes through
 * dia_params_set() on a copy of the request, which checks the range again: only a value the
 * engine accepts replaces the panel's request and emits "changed"; a rejected entry keeps
 * its text, turns red and explains why in its tooltip.  Ranges live in the table only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-param-panel.h"

#include "dia-flavor.h"
#include "dia-params.h"

#include <glib/gi18n.h>
#include <math.h>

struct _DsParamPanel
{
  GtkBox parent_instance;

  DiaSubtractRequest request;
  GPtrArray *rows;              /* GtkWidget (transfer none), one per table entry          */
  gboolean updating;            /* set_request in progress: widget signals are ignored     */
};

G_DEFINE_FINAL_TYPE (DsParamPanel, ds_param_panel, GTK_TYPE_BOX)

enum
{
  SIGNAL_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static const char *
stage_title (DiaStage stage)
{
  switch (stage)
    {
    case DIA_STAGE_BACKGROUND:
      return _("Background");
    case DIA_STAGE_PSF:
      return _("Stars and PSF");
    case DIA_STAGE_STAMPS:
      return _("Stamps and kernel size");
    case DIA_STAGE_KERNEL:
      return _("Kernel fit");
    case DIA_STAGE_APPLY:
      return _("Difference");
    case DIA_STAGE_DETECT:
      return _("Detection");
    case DIA_STAGE_NONE:
    default:
      return _("Computation");
    }
}

/* Spin buttons only for ranges a pointer can sensibly step through. */
static gboolean
info_uses_spin (const DiaParamInfo *info)
{
  if (info->type == DIA_PARAM_INT)
    return TRUE;
  return info->type == DIA_PARAM_DOUBLE && info->max - info->min <= 1e4;
}

/* Applies text to key; emits "changed" when the engine accepts a new value. */
static gboolean
panel_apply (DsParamPanel *self, const char *key, const char *text, GError **error)
{
  DiaSubtractRequest copy = self->request;
  g_autofree char *before = dia_params_dup_value (&self->request, key);
  g_autofree char *after = NULL;

  if (!dia_params_set (&copy, key, text, error))
    return FALSE;
  after = dia_params_dup_value (&copy, key);
  if (g_strcmp0 (before, after) == 0)
    return TRUE;
  self->request = copy;
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0, key);
  return TRUE;
}

static const DiaParamInfo *
widget_info (GtkWidget *widget)
{
  return g_object_get_data (G_OBJECT (widget), "ds-param-info");
}

static void
on_spin_value_changed (GtkSpinButton *spin, DsParamPanel *self)
{
  const DiaParamInfo *info = widget_info (GTK_WIDGET (spin));
  char text[G_ASCII_DTOSTR_BUF_SIZE];

  if (self->updating)
    return;
  if (info->type == DIA_PARAM_INT)
    g_snprintf (text, sizeof text, "%d", gtk_spin_button_get_value_as_int (spin));
  else
    g_ascii_dtostr (text, sizeof text, gtk_spin_button_get_value (spin));
  /* The adjustment holds the table's range, so the engine accepts every value it produces. */
  panel_apply (self, info->key, text, NULL);
}

static void
on_switch_active (GtkSwitch *sw, GParamSpec *pspec, DsParamPanel *self)
{
  if (!self->updating)
    panel_apply (self, widget_info (GTK_WIDGET (sw))->key,
                 gtk_switch_get_active (sw) ? "true" : "false", NULL);
}

static void
on_flavor_selected (GtkDropDown *dropdown, GParamSpec *pspec, DsParamPanel *self)
{
  guint i = gtk_drop_down_get_selected (dropdown);
  const DiaFlavorClass *klass;

  if (self->updating || i == GTK_INVALID_LIST_POSITION)
    return;
  klass = dia_flavor_get ((DiaFlavorId) i);
  if (klass != NULL)
    panel_apply (self, widget_info (GTK_WIDGET (dropdown))->key, klass->name, NULL);
}

static void
entry_commit (GtkEntry *entry, DsParamPanel *self)
{
  const DiaParamInfo *info = widget_info (GTK_WIDGET (entry));
  g_autoptr (GError) error = NULL;

  if (self->updating)
    return;
  if (panel_apply (self, info->key, gtk_editable_get_text (GTK_EDITABLE (entry)), &error))
    {
      gtk_widget_remove_css_class (GTK_WIDGET (entry), "error");
      gtk_widget_set_tooltip_text (GTK_WIDGET (entry), info->key);
    }
  else
    {
      gtk_widget_add_css_class (GTK_WIDGET (entry), "error");
      gtk_widget_set_tooltip_text (GTK_WIDGET (entry), error->message);
    }
}

static void
on_entry_focus_leave (GtkEventControllerFocus *controller, DsParamPanel *self)
{
  entry_commit (GTK_ENTRY (gtk_event_controller_get_widget (GTK_EVENT_CONTROLLER (controller))),
                self);
}

static GtkWidget *
row_widget_new (DsParamPanel *self, const DiaParamInfo *info)
{
  GtkWidget *w;

  switch (info->type)
    {
    case DIA_PARAM_FLAVOR:
      {
        GtkStringList *list = gtk_string_list_new (NULL);

        for (int i = 0; i < dia_flavor_count (); i++)
          gtk_string_list_append (list, _(dia_flavor_get ((DiaFlavorId) i)->label));
        w = gtk_drop_down_new (G_LIST_MODEL (list), NULL);
        g_signal_connect (w, "notify::selected", G_CALLBACK (on_flavor_selected), self);
      }
      break;
    case DIA_PARAM_BOOL:
      w = gtk_switch_new ();
      gtk_widget_set_halign (w, GTK_ALIGN_START);
      gtk_widget_set_valign (w, GTK_ALIGN_CENTER);
      g_signal_connect (w, "notify::active", G_CALLBACK (on_switch_active), self);
      break;
    case DIA_PARAM_INT:
    case DIA_PARAM_DOUBLE:
      if (info_uses_spin (info))
        {
          gboolean is_int = info->type == DIA_PARAM_INT;
          double span = info->max - info->min;
          double step = is_int ? 1.0 : pow (10.0, floor (log10 (span)) - 2.0);
          int digits = is_int ? 0 : (int) CLAMP (-floor (log10 (step)), 0, 6);

          w = gtk_spin_button_new_with_range (info->min, info->max, step);
          gtk_spin_button_set_digits (GTK_SPIN_BUTTON (w), digits);
          gtk_spin_button_set_numeric (GTK_SPIN_BUTTON (w), TRUE);
          gtk_spin_button_set_update_policy (GTK_SPIN_BUTTON (w), GTK_UPDATE_IF_VALID);
          g_signal_connect (w, "value-changed", G_CALLBACK (on_spin_value_changed), self);
          break;
        }
      G_GNUC_FALLTHROUGH;
    case DIA_PARAM_DLIST:
    case DIA_PARAM_ILIST:
    default:
      {
        GtkEventController *focus = gtk_event_controller_focus_new ();

        w = gtk_entry_new ();
        gtk_editable_set_width_chars (GTK_EDITABLE (w), 10);
        g_signal_connect (w, "activate", G_CALLBACK (entry_commit), self);
        g_signal_connect (focus, "leave", G_CALLBACK (on_entry_focus_leave), self);
        gtk_widget_add_controller (w, focus);
      }
      break;
    }
  g_object_set_data (G_OBJECT (w), "ds-param-info", (gpointer) info);
  gtk_widget_set_hexpand (w, TRUE);
  gtk_widget_set_tooltip_text (w, info->key);
  return w;
}

static void
row_widget_show (DsParamPanel *self, GtkWidget *w, const DiaParamInfo *info)
{
  g_autofree char *value = dia_params_dup_value (&self->request, info->key);

  if (value == NULL)
    return;
  if (GTK_IS_DROP_DOWN (w))
    gtk_drop_down_set_selected (GTK_DROP_DOWN (w), (guint) self->request.flavor);
  else if (GTK_IS_SWITCH (w))
    gtk_switch_set_active (GTK_SWITCH (w), g_strcmp0 (value, "true") == 0);
  else if (GTK_IS_SPIN_BUTTON (w))
    gtk_spin_button_set_value (GTK_SPIN_BUTTON (w), g_ascii_strtod (value, NULL));
  else if (GTK_IS_ENTRY (w))
    {
      gtk_editable_set_text (GTK_EDITABLE (w), value);
      gtk_widget_remove_css_class (w, "error");
    }
}

void
ds_param_panel_set_request (DsParamPanel *self, const DiaSubtractRequest *request)
{
  int n = 0;
  const DiaParamInfo *table = dia_params_table (&n);

  g_return_if_fail (DS_IS_PARAM_PANEL (self));
  g_return_if_fail (request != NULL);

  self->request = *request;
  self->updating = TRUE;
  for (int i = 0; i < n && i < (int) self->rows->len; i++)
    row_widget_show (self, g_ptr_array_index (self->rows, i), &table[i]);
  self->updating = FALSE;
}

const DiaSubtractRequest *
ds_param_panel_get_request (DsParamPanel *self)
{
  g_return_val_if_fail (DS_IS_PARAM_PANEL (self), NULL);
  return &self->request;
}

static void
ds_param_panel_finalize (GObject *object)
{
  DsParamPanel *self = DS_PARAM_PANEL (object);

  g_clear_pointer (&self->rows, g_ptr_array_unref);
  G_OBJECT_CLASS (ds_param_panel_parent_class)->finalize (object);
}

static void
ds_param_panel_class_init (DsParamPanelClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ds_param_panel_finalize;
  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
  gtk_widget_class_set_css_name (GTK_WIDGET_CLASS (klass), "ds-param-panel");
}

static void
ds_param_panel_init (DsParamPanel *self)
{
  int n = 0;
  const DiaParamInfo *table = dia_params_table (&n);
  GtkWidget *grid = gtk_grid_new ();
  int row = 0;
  int last_stage = -1;

  gtk_orientable_set_orientation (GTK_ORIENTABLE (self), GTK_ORIENTATION_VERTICAL);
  gtk_widget_add_css_class (GTK_WIDGET (self), "ds-param-panel");
  gtk_grid_set_row_spacing (GTK_GRID (grid), 4);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 8);
  gtk_widget_set_margin_start (grid, 8);
  gtk_widget_set_margin_end (grid, 8);
  gtk_widget_set_margin_top (grid, 8);
  gtk_widget_set_margin_bottom (grid, 8);
  dia_subtract_request_init (&self->request);
  self->rows = g_ptr_array_new ();

  /* The flavour first, whatever its stage: it decides what the other rows mean. */
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < n; i++)
      {
        const DiaParamInfo *info = &table[i];
        gboolean is_flavor = info->type == DIA_PARAM_FLAVOR;
        GtkWidget *label, *w;
        g_autofree char *text = NULL;

        if ((pass == 0) != is_flavor)
          continue;
        if (!is_flavor && (int) info->stage != last_stage)
          {
            GtkWidget *heading = gtk_label_new (stage_title (info->stage));

            gtk_widget_add_css_class (heading, "heading");
            gtk_widget_set_halign (heading, GTK_ALIGN_START);
            gtk_widget_set_margin_top (heading, 8);
            gtk_grid_attach (GTK_GRID (grid), heading, 0, row++, 2, 1);
            last_stage = (int) info->stage;
          }
        text = info->unit != NULL && info->unit[0] != '\0'
                 ? g_strdup_printf ("%s (%s)", _(info->label), info->unit)
                 : g_strdup (_(info->label));
        label = gtk_label_new (text);
        gtk_label_set_xalign (GTK_LABEL (label), 0.0f);
        gtk_label_set_wrap (GTK_LABEL (label), TRUE);
        gtk_label_set_max_width_chars (GTK_LABEL (label), 22);
        w = row_widget_new (self, info);
        gtk_label_set_mnemonic_widget (GTK_LABEL (label), w);
        gtk_grid_attach (GTK_GRID (grid), label, 0, row, 1, 1);
        gtk_grid_attach (GTK_GRID (grid), w, 1, row, 1, 1);
        row++;
        g_object_set_data (G_OBJECT (w), "ds-param-index", GINT_TO_POINTER (i));
      }
  /* rows[] in table order, for set_request. */
  g_ptr_array_set_size (self->rows, n);
  for (GtkWidget *c = gtk_widget_get_first_child (grid); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    if (widget_info (c) != NULL)
      g_ptr_array_index (self->rows, GPOINTER_TO_INT (g_object_get_data (G_OBJECT (c),
                                                                         "ds-param-index")))
        = c;
  gtk_box_append (GTK_BOX (self), grid);
  ds_param_panel_set_request (self, &self->request);
}

GtkWidget *
ds_param_panel_new (void)
{
  return g_object_new (DS_TYPE_PARAM_PANEL, NULL);
}
