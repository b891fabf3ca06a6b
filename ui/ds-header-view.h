/* ds-header-view.h — a window listing FITS header cards, with a search.
 *
 * Three sources (template, science, difference) chosen with a drop-down; each is a block of
 * 80-character cards.  The list shows keyword, value and comment of every card; the search
 * entry keeps the cards whose keyword, value or comment contains the text (ASCII
 * case-insensitive), and a label says how many match.  The window hides on close, so the
 * owner can show it again.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "dia-subtract.h"

G_BEGIN_DECLS

typedef enum
{
  DS_HEADER_TEMPLATE,
  DS_HEADER_SCIENCE,
  DS_HEADER_DIFFERENCE,
  DS_HEADER_N_SOURCES,
} DsHeaderSource;

#define DS_TYPE_HEADER_VIEW (ds_header_view_get_type ())
G_DECLARE_FINAL_TYPE (DsHeaderView, ds_header_view, DS, HEADER_VIEW, GtkWindow)

GtkWidget *ds_header_view_new (void);

/* Replaces the cards of source (n_cards × 80 characters, no separators, as DiaImage.header;
 * cards may be NULL with n_cards 0).  note: shown instead of the list when there are no
 * cards (may be NULL). */
void ds_header_view_set_cards (DsHeaderView *self, DsHeaderSource source, const char *cards,
                               int n_cards, const char *note);

void           ds_header_view_set_source (DsHeaderView *self, DsHeaderSource source);
DsHeaderSource ds_header_view_get_source (DsHeaderView *self);

/* Sets the search text and filters at once (the entry's own changes filter after its
 * usual short delay). */
void ds_header_view_set_search (DsHeaderView *self, const char *text);

guint ds_header_view_get_n_cards (DsHeaderView *self);
guint ds_header_view_get_n_matches (DsHeaderView *self);

/* Splits one card (80 characters, not NUL-terminated) into keyword, value (string quotes
 * removed, '' unescaped) and comment; HIERARCH cards give the long keyword, COMMENT/HISTORY
 * cards their text as value.  Returns FALSE for blank and END cards. */
gboolean ds_header_card_parse (const char *card, char **keyword, char **value,
                               char **comment);

/* The cards the exported difference file carries in its primary header
 * (dia_subtract_dup_header_cards), obtained by writing them with the engine's writer to a
 * temporary file and reading them back.  Caller frees; NULL with error on failure. */
char *ds_header_dup_difference_cards (const DiaSubtractResult *result,
                                      const char *template_path, const char *science_path,
                                      int *n_cards, GError **error);

G_END_DECLS
