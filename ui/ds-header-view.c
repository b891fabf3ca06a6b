/* ds-header-view.c — FITS header cards with a search (see ds-header-view.h).
 *
 * Design.  The window is built in code: a drop-down of the three sources, a search entry and
 * a match count above a GtkColumnView (keyword | value | comment, monospace).  Each source
 * keeps its cards parsed once into HeaderCard rows; the list model is a GtkStringList of row
 * indices that is rebuilt (one splice) whenever the source or the search text changes, so the
 * match count is simply its length.  Headers have at most a few thousand cards, so filtering
 * is a linear scan on the main thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-header-view.h"

#include "dia-fits.h"
#include "dia-image.h"
#include "dia-subtract-io.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>

#define CARD_LEN 80

typedef struct
{
  char *keyword, *value, *comment;
  char *folded;                 /* "keyword\nvalue\ncomment" in ASCII lower case */
} HeaderCard;

static void
header_card_free (gpointer data)
{
  HeaderCard *c = data;

  g_free (c->keyword);
  g_free (c->value);
  g_free (c->comment);
  g_free (c->folded);
  g_free (c);
}

struct _DsHeaderView
{
  GtkWindow parent_instance;

  GtkDropDown *source_dropdown;
  GtkSearchEntry *search_entry;
  GtkLabel *count_label;
  GtkLabel *note_label;
  GtkColumnView *column_view;
  GtkStringList *rows;          /* indices into cards[source] of the matching cards */

  GPtrArray *cards[DS_HEADER_N_SOURCES];   /* HeaderCard */
  char *notes[DS_HEADER_N_SOURCES];
  char *search;                 /* lower case, "" for none */
};

G_DEFINE_FINAL_TYPE (DsHeaderView, ds_header_view, GTK_TYPE_WINDOW)

/* --- parsing ------------------------------------------------------------------------------- */

static char *
dup_stripped (const char *s, gssize len)
{
  char *d = g_strndup (s, len);

  return g_strstrip (d);
}

/* value_part: the text after "= ".  A quoted string ends at a single quote ('' is a quote). */
static void
parse_value (const char *v, gsize len, char **value, char **comment)
{
  gsize i = 0;

  while (i < len && v[i] == ' ')
    i++;
  if (i < len && v[i] == '\'')
    {
      GString *s = g_string_new (NULL);

      for (i++; i < len; i++)
        {
          if (v[i] == '\'')
            {
              if (i + 1 < len && v[i + 1] == '\'')
                {
                  g_string_append_c (s, '\'');
                  i++;
                  continue;
                }
              i++;
              break;
            }
          g_string_append_c (s, v[i]);
        }
      /* Trailing blanks in FITS strings are not significant. */
      while (s->len > 0 && s->str[s->len - 1] == ' ')
        g_string_truncate (s, s->len - 1);
      *value = g_string_free (s, FALSE);
    }
  else
    {
      gsize start = i;

      while (i < len && v[i] != '/')
        i++;
      *value = dup_stripped (v + start, (gssize) (i - start));
    }
  while (i < len && v[i] != '/')
    i++;
  *comment = i < len ? dup_stripped (v + i + 1, (gssize) (len - i - 1)) : g_strdup ("");
}

gboolean
ds_header_card_parse (const char *card, char **keyword, char **value, char **comment)
{
  g_autofree char *key8 = NULL;
  const char *eq;

  g_return_val_if_fail (card != NULL, FALSE);
  key8 = dup_stripped (card, 8);
  if (g_str_equal (key8, "END"))
    return FALSE;
  if (g_str_equal (key8, "HIERARCH")
      && (eq = memchr (card + 8, '=', CARD_LEN - 8)) != NULL)
    {
      *keyword = dup_stripped (card + 8, eq - (card + 8));
      parse_value (eq + 1, CARD_LEN - (gsize) (eq + 1 - card), value, comment);
      return TRUE;
    }
  if (card[8] == '=' && card[9] == ' ')
    {
      *keyword = g_steal_pointer (&key8);
      parse_value (card + 10, CARD_LEN - 10, value, comment);
      return TRUE;
    }
  /* Commentary cards (COMMENT, HISTORY, blank keyword): the text is the value. */
  {
    g_autofree char *text = dup_stripped (card + 8, CARD_LEN - 8);

    if (key8[0] == '\0' && text[0] == '\0')
      return FALSE;
    *keyword = g_steal_pointer (&key8);
    *value = g_steal_pointer (&text);
    *comment = g_strdup ("");
  }
  return TRUE;
}

char *
ds_header_dup_difference_cards (const DiaSubtractResult *result, const char *template_path,
                                const char *science_path, int *n_cards, GError **error)
{
  g_autoptr (DiaHeaderCards) cards = NULL;
  g_autoptr (DiaImage) image = NULL;
  g_autofree char *path = NULL;
  float plane[4] = { 0 };
  int fd;

  g_return_val_if_fail (result != NULL && n_cards != NULL, NULL);
  fd = g_file_open_tmp ("diffscope-header-XXXXXX.fits", &path, error);
  if (fd < 0)
    return NULL;
  g_close (fd, NULL);
  cards = dia_subtract_dup_header_cards (result, template_path, science_path);
  if (dia_fits_write_plane (path, plane, 2, 2, 2, cards, error))
    image = dia_fits_read_image (path, error);
  g_unlink (path);
  if (image == NULL)
    return NULL;
  *n_cards = image->n_header_cards;
  return g_strndup (image->header, (gsize) image->n_header_cards * CARD_LEN);
}

/* --- filtering ----------------------------------------------------------------------------- */

static gboolean
card_matches (const HeaderCard *c, const char *search)
{
  return search[0] == '\0' || strstr (c->folded, search) != NULL;
}

static void
header_view_refilter (DsHeaderView *self)
{
  guint source = gtk_drop_down_get_selected (self->source_dropdown);
  GPtrArray *cards = source < DS_HEADER_N_SOURCES ? self->cards[source] : NULL;
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (g_free);
  guint n_old = g_list_model_get_n_items (G_LIST_MODEL (self->rows));
  g_autofree char *count = NULL;

  for (guint i = 0; cards != NULL && i < cards->len; i++)
    if (card_matches (g_ptr_array_index (cards, i), self->search))
      g_ptr_array_add (rows, g_strdup_printf ("%u", i));
  g_ptr_array_add (rows, NULL);
  gtk_string_list_splice (self->rows, 0, n_old, (const char *const *) rows->pdata);
  /* Translators: header viewer: matching cards of all cards */
  count = g_strdup_printf (_("%u of %u cards"), rows->len - 1, cards != NULL ? cards->len : 0);
  gtk_label_set_text (self->count_label, count);
  gtk_widget_set_visible (GTK_WIDGET (self->note_label),
                          (cards == NULL || cards->len == 0) && source < DS_HEADER_N_SOURCES
                          && self->notes[source] != NULL);
  if (source < DS_HEADER_N_SOURCES && self->notes[source] != NULL)
    gtk_label_set_text (self->note_label, self->notes[source]);
}

static void
on_search_changed (GtkSearchEntry *entry, DsHeaderView *self)
{
  g_free (self->search);
  self->search = g_ascii_strdown (gtk_editable_get_text (GTK_EDITABLE (entry)), -1);
  header_view_refilter (self);
}

static void
on_source_selected (GtkDropDown *dropdown, GParamSpec *pspec, DsHeaderView *self)
{
  header_view_refilter (self);
}

/* --- list ---------------------------------------------------------------------------------- */

enum
{
  COLUMN_KEYWORD,
  COLUMN_VALUE,
  COLUMN_COMMENT,
  N_COLUMNS,
};

static const HeaderCard *
header_view_row_card (DsHeaderView *self, GtkStringObject *item)
{
  guint source = gtk_drop_down_get_selected (self->source_dropdown);
  guint64 i;

  if (item == NULL || source >= DS_HEADER_N_SOURCES || self->cards[source] == NULL
      || self->cards[source]->len == 0
      || !g_ascii_string_to_unsigned (gtk_string_object_get_string (item), 10, 0,
                                      self->cards[source]->len - 1, &i, NULL))
    return NULL;
  return g_ptr_array_index (self->cards[source], i);
}

static void
on_cell_setup (GtkSignalListItemFactory *factory, GtkListItem *item, DsHeaderView *self)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 0.0);
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_widget_add_css_class (label, "monospace");
  gtk_list_item_set_child (item, label);
}

static void
on_cell_bind (GtkSignalListItemFactory *factory, GtkListItem *item, DsHeaderView *self)
{
  int column = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (factory), "ds-column"));
  const HeaderCard *c = header_view_row_card (self, gtk_list_item_get_item (item));
  const char *text = c == NULL ? ""
                     : column == COLUMN_KEYWORD ? c->keyword
                     : column == COLUMN_VALUE ? c->value : c->comment;

  gtk_label_set_text (GTK_LABEL (gtk_list_item_get_child (item)), text);
}

/* --- GObject ------------------------------------------------------------------------------- */

static void
ds_header_view_finalize (GObject *object)
{
  DsHeaderView *self = DS_HEADER_VIEW (object);

  for (int i = 0; i < DS_HEADER_N_SOURCES; i++)
    {
      g_clear_pointer (&self->cards[i], g_ptr_array_unref);
      g_free (self->notes[i]);
    }
  g_clear_object (&self->rows);
  g_free (self->search);
  G_OBJECT_CLASS (ds_header_view_parent_class)->finalize (object);
}

static void
ds_header_view_class_init (DsHeaderViewClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ds_header_view_finalize;
  gtk_widget_class_add_binding_action (GTK_WIDGET_CLASS (klass), GDK_KEY_Escape, 0,
                                       "window.close", NULL);
}

static void
ds_header_view_init (DsHeaderView *self)
{
  static const char *const titles[N_COLUMNS] = { N_("Keyword"), N_("Value"), N_("Comment") };
  const char *sources[] = { _("Template"), _("Science"), _("Difference"), NULL };
  GtkWidget *box, *bar, *scroller;
  GtkSingleSelection *selection;

  self->search = g_strdup ("");
  gtk_window_set_title (GTK_WINDOW (self), _("FITS Header"));
  gtk_window_set_default_size (GTK_WINDOW (self), 820, 560);
  gtk_window_set_hide_on_close (GTK_WINDOW (self), TRUE);

  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  gtk_widget_set_margin_start (box, 8);
  gtk_widget_set_margin_end (box, 8);
  gtk_widget_set_margin_top (box, 8);
  gtk_widget_set_margin_bottom (box, 8);
  bar = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  self->source_dropdown = GTK_DROP_DOWN (gtk_drop_down_new_from_strings (sources));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->source_dropdown),
                               _("Whose header to show"));
  self->search_entry = GTK_SEARCH_ENTRY (gtk_search_entry_new ());
  gtk_widget_set_hexpand (GTK_WIDGET (self->search_entry), TRUE);
  g_object_set (self->search_entry, "placeholder-text",
                _("Search keywords, values and comments"), NULL);
  self->count_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_widget_add_css_class (GTK_WIDGET (self->count_label), "dim-label");
  gtk_box_append (GTK_BOX (bar), GTK_WIDGET (self->source_dropdown));
  gtk_box_append (GTK_BOX (bar), GTK_WIDGET (self->search_entry));
  gtk_box_append (GTK_BOX (bar), GTK_WIDGET (self->count_label));
  gtk_box_append (GTK_BOX (box), bar);

  self->note_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->note_label, TRUE);
  gtk_label_set_xalign (self->note_label, 0.0);
  gtk_widget_set_visible (GTK_WIDGET (self->note_label), FALSE);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->note_label));

  self->rows = gtk_string_list_new (NULL);
  selection = gtk_single_selection_new (G_LIST_MODEL (g_object_ref (self->rows)));
  gtk_single_selection_set_autoselect (selection, FALSE);
  gtk_single_selection_set_can_unselect (selection, TRUE);
  self->column_view = GTK_COLUMN_VIEW (gtk_column_view_new (GTK_SELECTION_MODEL (selection)));
  gtk_column_view_set_show_column_separators (self->column_view, TRUE);
  for (int c = 0; c < N_COLUMNS; c++)
    {
      GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
      GtkColumnViewColumn *column;

      g_object_set_data (G_OBJECT (factory), "ds-column", GINT_TO_POINTER (c));
      g_signal_connect (factory, "setup", G_CALLBACK (on_cell_setup), self);
      g_signal_connect (factory, "bind", G_CALLBACK (on_cell_bind), self);
      column = gtk_column_view_column_new (_(titles[c]), factory);
      gtk_column_view_column_set_resizable (column, TRUE);
      gtk_column_view_column_set_expand (column, c == COLUMN_COMMENT);
      gtk_column_view_append_column (self->column_view, column);
      g_object_unref (column);
    }
  scroller = gtk_scrolled_window_new ();
  gtk_widget_set_vexpand (scroller, TRUE);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller),
                                 GTK_WIDGET (self->column_view));
  gtk_box_append (GTK_BOX (box), scroller);
  gtk_window_set_child (GTK_WINDOW (self), box);

  g_signal_connect (self->search_entry, "search-changed", G_CALLBACK (on_search_changed), self);
  g_signal_connect (self->source_dropdown, "notify::selected", G_CALLBACK (on_source_selected),
                    self);
  header_view_refilter (self);
}

GtkWidget *
ds_header_view_new (void)
{
  return g_object_new (DS_TYPE_HEADER_VIEW, NULL);
}

void
ds_header_view_set_cards (DsHeaderView *self, DsHeaderSource source, const char *cards,
                          int n_cards, const char *note)
{
  GPtrArray *parsed;

  g_return_if_fail (DS_IS_HEADER_VIEW (self));
  g_return_if_fail (source < DS_HEADER_N_SOURCES);
  parsed = g_ptr_array_new_with_free_func (header_card_free);
  for (int i = 0; cards != NULL && i < n_cards; i++)
    {
      HeaderCard *c = g_new0 (HeaderCard, 1);
      g_autofree char *joined = NULL;

      if (!ds_header_card_parse (cards + (size_t) i * CARD_LEN, &c->keyword, &c->value,
                                 &c->comment))
        {
          g_free (c);
          continue;
        }
      joined = g_strjoin ("\n", c->keyword, c->value, c->comment, NULL);
      c->folded = g_ascii_strdown (joined, -1);
      g_ptr_array_add (parsed, c);
    }
  g_clear_pointer (&self->cards[source], g_ptr_array_unref);
  self->cards[source] = parsed;
  g_free (self->notes[source]);
  self->notes[source] = g_strdup (note);
  header_view_refilter (self);
}

void
ds_header_view_set_source (DsHeaderView *self, DsHeaderSource source)
{
  g_return_if_fail (DS_IS_HEADER_VIEW (self));
  g_return_if_fail (source < DS_HEADER_N_SOURCES);
  gtk_drop_down_set_selected (self->source_dropdown, source);
}

DsHeaderSource
ds_header_view_get_source (DsHeaderView *self)
{
  g_return_val_if_fail (DS_IS_HEADER_VIEW (self), DS_HEADER_TEMPLATE);
  return (DsHeaderSource) gtk_drop_down_get_selected (self->source_dropdown);
}

void
ds_header_view_set_search (DsHeaderView *self, const char *text)
{
  g_return_if_fail (DS_IS_HEADER_VIEW (self));
  gtk_editable_set_text (GTK_EDITABLE (self->search_entry), text != NULL ? text : "");
  on_search_changed (self->search_entry, self);
}

guint
ds_header_view_get_n_cards (DsHeaderView *self)
{
  guint source;

  g_return_val_if_fail (DS_IS_HEADER_VIEW (self), 0);
  source = gtk_drop_down_get_selected (self->source_dropdown);
  return source < DS_HEADER_N_SOURCES && self->cards[source] != NULL
           ? self->cards[source]->len : 0;
}

guint
ds_header_view_get_n_matches (DsHeaderView *self)
{
  g_return_val_if_fail (DS_IS_HEADER_VIEW (self), 0);
  return g_list_model_get_n_items (G_LIST_MODEL (self->rows));
}
