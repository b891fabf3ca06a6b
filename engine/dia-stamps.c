/* dia-stamps.c — choosing the kernel candidates (stamps) and recording why others were not.
 *
 * Design.  Every star found on the science image becomes a DiaStamp, good or rejected, so the
 * UI can draw all of them with their reason.  Tests run in a fixed order and the first failing
 * one names the rejection: edge (box geometry below), saturation, S/N window, crowding,
 * extended shape, then masked pixels in the box (the costly test, so it runs last).  Good stamps are binned into cell_size × cell_size cells over the
 * image (the last row and column of cells absorb the remainder, as afw's SpatialCellSet does),
 * sorted brightest first inside each cell, and those beyond n_per_cell become RESERVE: they are good and move up
 * when the fit rejects a stamp of their cell.  If more than max_stamps are good, the
 * lowest-S/N ones are demoted to RESERVE (the stack keeps the max_stamps of highest S/N).
 *
 * Box geometry.  kernel_size is the kernel side (odd), kSize in ALGORITHMS.md §2.1 is that
 * side, the box is (2·kernel_size + 1)² centred on the rounded star position, and it must lie
 * inside the image, so the kernel fitted on the stamp never reads outside the template.
 *
 * Masks.  Any NO_DATA, BAD, SAT or EDGE pixel of the box in either image rejects the stamp.
 * The stack moves the template's SAT plane away before this check (§2.1, §4.4), so template
 * saturation does not reject there.  We keep the template's SAT in the check on purpose: a
 * saturated template pixel is clipped flux, and the kernel that maps a clipped template star
 * onto an unclipped science star is wrong in its core — the fit is better off without it.
 * Masked stamps are counted under MASKED, except that a SAT pixel in either image is counted
 * under SATURATED, which is the more useful thing to tell the user.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-stamps.h"
#include "dia-error.h"
#include "dia-image.h"
#include "dia-parallel.h"
#include "dia-psf.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

void
dia_stamp_params_init (DiaStampParams *params)
{
  params->min_snr = 10.0;
  params->max_snr = 500.0;
  params->cell_size = 128;
  params->n_per_cell = 5;
  params->max_stamps = 1000;
  params->min_stamps = 3;
}

const char *
dia_stamp_status_to_key (DiaStampStatus status)
{
  switch (status)
    {
    case DIA_STAMP_GOOD:
      return N_("used");
    case DIA_STAMP_RESERVE:
      return N_("reserve");
    case DIA_STAMP_REJECT_EDGE:
      return N_("too close to the edge");
    case DIA_STAMP_REJECT_MASKED:
      return N_("masked pixel");
    case DIA_STAMP_REJECT_SATURATED:
      return N_("saturated");
    case DIA_STAMP_REJECT_SNR:
      return N_("S/N out of range");
    case DIA_STAMP_REJECT_CROWDED:
      return N_("crowded");
    case DIA_STAMP_REJECT_EXTENDED:
      return N_("extended source");
    case DIA_STAMP_REJECT_KERNEL_SUM:
      return N_("kernel sum outlier");
    case DIA_STAMP_REJECT_RESID_MEAN:
      return N_("residual mean too large");
    case DIA_STAMP_REJECT_RESID_RMS:
      return N_("residual rms too large");
    case DIA_STAMP_REJECT_SPATIAL:
      return N_("disagrees with spatial model");
    case DIA_STAMP_REJECT_SINGULAR:
      return N_("singular fit");
    default:
      return N_("unknown");
    }
}

const char *
dia_stamp_status_to_string (DiaStampStatus status)
{
  return _(dia_stamp_status_to_key (status));
}

#define STAMP_N_STATUS (DIA_STAMP_REJECT_SINGULAR + 1)

/* Mask test over the box of both images: returns 0, DIA_STAMP_REJECT_SATURATED or
 * DIA_STAMP_REJECT_MASKED. */
static DiaStampStatus
stamp_mask_status (const DiaImage *a, const DiaImage *b, int x0, int y0, int side)
{
  const DiaMask bad = DIA_MASK_NO_DATA | DIA_MASK_BAD | DIA_MASK_EDGE;
  gboolean masked = FALSE;
  for (int k = 0; k < 2; k++)
    {
      const DiaImage *im = k == 0 ? a : b;
      if (im == NULL)
        continue;
      for (int y = y0; y < y0 + side; y++)
        {
          const DiaMask *m = im->mask + dia_image_index (im, 0, y);
          const float *p = im->pix + dia_image_index (im, 0, y);
          for (int x = x0; x < x0 + side; x++)
            {
              if (m[x] & DIA_MASK_SAT)
                return DIA_STAMP_REJECT_SATURATED;
              if ((m[x] & bad) || !isfinite (p[x]))
                masked = TRUE;
            }
        }
    }
  return masked ? DIA_STAMP_REJECT_MASKED : DIA_STAMP_GOOD;
}

static int
stamp_cmp_cell_status_flux (gconstpointer pa, gconstpointer pb)
{
  const DiaStamp *a = pa, *b = pb;
  gboolean ga = a->status == DIA_STAMP_GOOD || a->status == DIA_STAMP_RESERVE;
  gboolean gb = b->status == DIA_STAMP_GOOD || b->status == DIA_STAMP_RESERVE;
  if (a->cell != b->cell)
    return a->cell < b->cell ? -1 : 1;
  if (ga != gb)
    return ga ? -1 : 1;
  if (a->flux != b->flux)
    return a->flux > b->flux ? -1 : 1;
  return 0;
}

static int
stamp_cmp_snr_desc (gconstpointer pa, gconstpointer pb)
{
  const DiaStamp *a = *(DiaStamp * const *) pa, *b = *(DiaStamp * const *) pb;
  return (a->snr < b->snr) - (a->snr > b->snr);
}

typedef struct
{
  const DiaImage *science, *tmpl;
  const GArray *stars;
  const DiaStampParams *prm;
  int ks, ncx, ncy;
  DiaStamp *out;
} StampJob;

/* One stamp per star, status by the first failing test (see the file comment). */
static void
stamp_classify_body (int first, int last, int thread_index, gpointer data)
{
  const StampJob *job = data;
  const DiaImage *science = job->science;
  const DiaStampParams *prm = job->prm;
  int ks = job->ks, side = 2 * ks + 1, ncx = job->ncx, ncy = job->ncy;

  for (int i = first; i < last; i++)
    {
      const DiaStar *s = &g_array_index (job->stars, DiaStar, i);
      DiaStamp st = { 0 };
      int ix = (int) floor (s->x + 0.5), iy = (int) floor (s->y + 0.5);
      int x0 = ix - ks, y0 = iy - ks;

      st.x = s->x;
      st.y = s->y;
      st.flux = s->flux;
      st.snr = s->snr;
      st.cell = CLAMP (iy / prm->cell_size, 0, ncy - 1) * ncx
                + CLAMP (ix / prm->cell_size, 0, ncx - 1);
      st.iteration = 0;
      st.kernel_sum = st.resid_mean = st.resid_rms = NAN;

      /* The fit reads the template over the whole box and the science image over its core,
       * so the box must lie inside the image.  (ip_diffim also keeps a further kernel width
       * from the edge; on small cutouts that discards most stars for no gain, since the box
       * already holds the kernel's full footprint.)  The cheap catalogue flags are tested
       * before the box's mask, which is the costly test. */
      if (!isfinite (s->x) || !isfinite (s->y) || x0 < 0 || y0 < 0
          || x0 + side > science->width || y0 + side > science->height)
        {
          st.status = DIA_STAMP_REJECT_EDGE;
          st.cell = CLAMP (st.cell, 0, ncx * ncy - 1);
        }
      else if (s->flags & DIA_STAR_SATURATED)
        st.status = DIA_STAMP_REJECT_SATURATED;
      else if (!(s->snr > prm->min_snr && s->snr < prm->max_snr))
        st.status = DIA_STAMP_REJECT_SNR;
      else if (s->flags & DIA_STAR_CROWDED)
        st.status = DIA_STAMP_REJECT_CROWDED;
      else if (s->flags & (DIA_STAR_EXTENDED | DIA_STAR_COSMIC))
        st.status = DIA_STAMP_REJECT_EXTENDED;
      else if (s->flags & (DIA_STAR_MASKED | DIA_STAR_EDGE))
        st.status = DIA_STAMP_REJECT_MASKED;
      else
        st.status = stamp_mask_status (science, job->tmpl, x0, y0, side);
      job->out[i] = st;
    }
}

GArray *
dia_stamps_select (const DiaImage *science, const DiaImage *tmpl, const GArray *stars,
                   int kernel_size, const DiaStampParams *params, GError **error)
{
  DiaStampParams prm;
  GArray *out;
  int counts[STAMP_N_STATUS] = { 0 };
  int ks, ncx, ncy, n_good = 0;

  g_return_val_if_fail (science != NULL && stars != NULL, NULL);
  if (params)
    prm = *params;
  else
    dia_stamp_params_init (&prm);
  if (kernel_size < 1 || kernel_size % 2 == 0 || kernel_size > 1001)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Stamp selection: the kernel size must be odd and between 1 and 1001 (got "
                     "%d)"), kernel_size);
      return NULL;
    }
  if (tmpl && (tmpl->width != science->width || tmpl->height != science->height))
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_SIZE_MISMATCH,
                   _("Stamp selection: template is %d × %d px but the science image is %d × %d "
                     "px; resample the template onto the science grid first"),
                   tmpl->width, tmpl->height, science->width, science->height);
      return NULL;
    }
  prm.cell_size = MAX (prm.cell_size, 8);
  prm.n_per_cell = MAX (prm.n_per_cell, 1);
  ks = kernel_size;
  ncx = MAX (1, science->width / prm.cell_size);
  ncy = MAX (1, science->height / prm.cell_size);

  out = g_array_sized_new (FALSE, TRUE, sizeof (DiaStamp), stars->len);
  g_array_set_size (out, stars->len);
  {
    StampJob job = { science, tmpl, stars, &prm, ks, ncx, ncy, (DiaStamp *) out->data };
    /* Independent per star, and the box mask tests dominate: cheap to spread. */
    dia_parallel_for ((int) stars->len, 64, 0, stamp_classify_body, &job, NULL, NULL);
  }

  /* Cap: keep the max_stamps good stamps of highest S/N, the others wait as reserve. */
  {
    g_autofree DiaStamp **good = g_new (DiaStamp *, MAX (out->len, 1));
    int n = 0;
    for (guint i = 0; i < out->len; i++)
      if (g_array_index (out, DiaStamp, i).status == DIA_STAMP_GOOD)
        good[n++] = &g_array_index (out, DiaStamp, i);
    if (prm.max_stamps > 0 && n > prm.max_stamps)
      {
        qsort (good, n, sizeof (DiaStamp *), stamp_cmp_snr_desc);
        for (int k = prm.max_stamps; k < n; k++)
          good[k]->status = DIA_STAMP_RESERVE;
      }
  }

  /* Per cell: good first, brightest first; beyond n_per_cell → reserve. */
  g_array_sort (out, stamp_cmp_cell_status_flux);
  {
    int cell = -1, used = 0;
    for (guint i = 0; i < out->len; i++)
      {
        DiaStamp *st = &g_array_index (out, DiaStamp, i);
        if (st->cell != cell)
          {
            cell = st->cell;
            used = 0;
          }
        if (st->status == DIA_STAMP_GOOD && used++ >= prm.n_per_cell)
          st->status = DIA_STAMP_RESERVE;
      }
  }
  for (guint i = 0; i < out->len; i++)
    {
      DiaStampStatus s = g_array_index (out, DiaStamp, i).status;
      counts[s]++;
      n_good += s == DIA_STAMP_GOOD;
    }

  if (n_good < MAX (prm.min_stamps, 1))
    {
      GString *why = g_string_new (NULL);
      for (int s = DIA_STAMP_REJECT_EDGE; s <= DIA_STAMP_REJECT_EXTENDED; s++)
        if (counts[s] > 0)
          g_string_append_printf (why, "%s%d %s", why->len ? ", " : "", counts[s],
                                  dia_stamp_status_to_string (s));
      g_set_error (error, DIA_ERROR, DIA_ERROR_NO_STARS,
                   _("Only %d usable kernel stamps in %s (need %d; %u stars%s%s); use a larger "
                     "image, a lower S/N limit or a smaller kernel"),
                   n_good, science->source ? science->source : _("the science image"),
                   MAX (prm.min_stamps, 1), stars->len, why->len ? ": " : "", why->str);
      g_string_free (why, TRUE);
      g_array_free (out, TRUE);
      return NULL;
    }
  return out;
}
