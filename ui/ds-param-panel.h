/* ds-param-panel.h — the subtraction parameters as widgets, generated from the engine's table.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "dia-subtract.h"

G_BEGIN_DECLS

#define DS_TYPE_PARAM_PANEL (ds_param_panel_get_type ())
G_DECLARE_FINAL_TYPE (DsParamPanel, ds_param_panel, DS, PARAM_PANEL, GtkBox)

GtkWidget *ds_param_panel_new (void);

/* Shows request (copied) without emitting "changed". */
void ds_param_panel_set_request (DsParamPanel *self, const DiaSubtractRequest *request);
/* The request as edited (transfer none); always valid (dia_subtract_request_validate). */
const DiaSubtractRequest *ds_param_panel_get_request (DsParamPanel *self);

/* Signal "changed" (const char *key): emitted on the main thread after a widget produced a
 * valid new value for key and the panel's request was updated.  Invalid text in an entry is
 * marked with the "error" style and a tooltip and never reaches the request. */

G_END_DECLS
