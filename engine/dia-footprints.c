/* dia-footprints.c — from an S/N image to the catalogue's footprints, peaks and sources.
 *
 * Thresholding produces horizontal runs per band of rows (parallel, each band its own array,
 * concatenated in order); runs are linked into 8-connected footprints with a union–find over
 * the runs of adjacent rows; peaks are the local maxima of |ν| (sub-pixel by a quadratic fit),
 * a fainter one kept only where |ν| dips towards every brighter peak; growth and merging work on
 * span lists only, so the cost is proportional to the number of detected pixels, not to the
 * image size.  The output does not depend on the number of threads.  Called by dia-detect.c.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-detect.h"
#include "dia-detect-private.h"
#include "dia-error.h"
#include "dia-monitor.h"
#include "dia-parallel.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

typedef struct
{
  int y, x0, x1;
  int sign;                     /* +1 / −1                                            */
  int comp;                     /* union–find parent (index into the run array)       */
} Run;

typedef struct
{
  const float *nu;
  int w, h;
  float t;
  gboolean negative;
  int n_bands;
  GArray **bands;               /* Run per band                                       */
} RunJob;

static void
find_runs (int first, int last, int thread_index, gpointer data)
{
  RunJob *job = data;
  (void) thread_index;
  for (int b = first; b < last; b++)
    {
      int y0 = (int) ((gint64) job->h * b / job->n_bands);
      int y1 = (int) ((gint64) job->h * (b + 1) / job->n_bands);
      GArray *out = job->bands[b];
      for (int y = y0; y < y1; y++)
        {
          const float *row = job->nu + (size_t) y * job->w;
          int x = 0;
          while (x < job->w)
            {
              float v = row[x];
              int sign = v >= job->t ? 1 : (job->negative && v <= -job->t) ? -1 : 0;
              int x0 = x;
              Run r;
              if (!sign)
                {
                  x++;
                  continue;
                }
              while (x < job->w && (sign > 0 ? row[x] >= job->t : row[x] <= -job->t))
                x++;
              r.y = y;
              r.x0 = x0;
              r.x1 = x - 1;
              r.sign = sign;
              r.comp = -1;
              g_array_append_val (out, r);
            }
        }
    }
}

static int
uf_find (int *parent, int i)
{
  while (parent[i] != i)
    {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
  return i;
}

static void
uf_union (int *parent, int a, int b)
{
  a = uf_find (parent, a);
  b = uf_find (parent, b);
  if (a != b)
    parent[MAX (a, b)] = MIN (a, b);
}

typedef struct
{
  int sign;
  int area;
  DiaPeak peak;                 /* the extremum                                       */
  int peak_first, n_peaks;      /* its resolved peaks in the local peak array         */
} Comp;

typedef struct
{
  int comp;
  float v;                      /* sign · ν                                           */
  int ix, iy;
} Cand;

static int
cand_cmp (gconstpointer a, gconstpointer b)
{
  const Cand *p = a, *q = b;
  if (p->comp != q->comp)
    return p->comp < q->comp ? -1 : 1;
  if (p->v != q->v)
    return p->v > q->v ? -1 : 1;
  if (p->iy != q->iy)
    return p->iy < q->iy ? -1 : 1;
  return p->ix < q->ix ? -1 : p->ix > q->ix;
}

#define DETECT_MAX_PEAKS 20

/* TRUE when the straight line from candidate c to the kept peak k dips below `floor` in
 * sign·ν: the two are separate objects rather than a noise bump on one profile. */
static gboolean
line_dips (const float *nu, int w, float sign, const Cand *c, const DiaPeak *k, float floor_v)
{
  double dx = k->ix - c->ix, dy = k->iy - c->iy, len = hypot (dx, dy);
  int n = (int) ceil (2 * len);
  for (int i = 1; i < n; i++)
    {
      int x = (int) floor (c->ix + dx * i / n + 0.5), y = (int) floor (c->iy + dy * i / n + 0.5);
      if (sign * nu[(size_t) y * w + x] < floor_v)
        return TRUE;
    }
  return FALSE;
}

static gboolean
is_local_max (const float *nu, int w, int h, int x, int y, float sign)
{
  float v = sign * nu[(size_t) y * w + x];
  for (int dy = -1; dy <= 1; dy++)
    for (int dx = -1; dx <= 1; dx++)
      {
        int xx = x + dx, yy = y + dy;
        float o;
        if ((dx == 0 && dy == 0) || xx < 0 || yy < 0 || xx >= w || yy >= h)
          continue;
        o = sign * nu[(size_t) yy * w + xx];
        /* Ties go to the first pixel in raster order, so a flat top gives one peak. */
        if (o > v || (o == v && (dy < 0 || (dy == 0 && dx < 0))))
          return FALSE;
      }
  return TRUE;
}

typedef struct
{
  int y, x0, x1;
  int comp;
} GSpan;

static int
gspan_cmp_yx (gconstpointer a, gconstpointer b)
{
  const GSpan *p = a, *q = b;
  if (p->y != q->y)
    return p->y < q->y ? -1 : 1;
  if (p->x0 != q->x0)
    return p->x0 < q->x0 ? -1 : 1;
  return p->comp < q->comp ? -1 : p->comp > q->comp;
}

typedef struct
{
  int group;
  GSpan s;
} GroupSpan;

static int
groupspan_cmp (gconstpointer a, gconstpointer b)
{
  const GroupSpan *p = a, *q = b;
  if (p->group != q->group)
    return p->group < q->group ? -1 : 1;
  return gspan_cmp_yx (&p->s, &q->s);
}

static int
comp_root_cmp (gconstpointer a, gconstpointer b, gpointer data)
{
  const int *root = data;
  int ra = root[*(const int *) a], rb = root[*(const int *) b];
  if (ra != rb)
    return ra < rb ? -1 : 1;
  return *(const int *) a - *(const int *) b;
}

static int
peak_cmp_desc (gconstpointer a, gconstpointer b)
{
  const DiaPeak *p = a, *q = b;
  return p->significance > q->significance ? -1 : p->significance < q->significance;
}

static double
quad_offset (float m, float c, float p)
{
  double den = (double) m - 2.0 * c + p;
  double d = den != 0 ? 0.5 * (m - p) / den : 0.0;
  return CLAMP (d, -0.5, 0.5);
}

static void
source_init_measurement (DiaSource *s)
{
  s->x = s->y = s->ra = s->dec = NAN;
  s->psf_flux = s->psf_flux_err = s->psf_chi2 = NAN;
  s->ap_flux = s->ap_flux_err = NAN;
  s->dipole_pos_x = s->dipole_pos_y = s->dipole_neg_x = s->dipole_neg_y = NAN;
  s->dipole_pos_flux = s->dipole_neg_flux = NAN;
  s->dipole_mean_flux = s->dipole_mean_flux_err = NAN;
  s->dipole_flux_diff = s->dipole_flux_diff_err = NAN;
  s->dipole_length = s->dipole_angle = s->dipole_chi2 = s->dipole_snr = NAN;
  s->ixx = s->iyy = s->ixy = NAN;
}

/* From the S/N image nu (w × h, already divided by sn_scale) to the catalogue's sources. */
gboolean
_dia_detect_build_footprints (DiaCatalog *cat, const float *nu, double grow_radius, int n_threads,
                  DiaMonitor *monitor, GError **error)
{
  const DiaDetectParams *params = &cat->params;
  int w = cat->width, h = cat->height;
  RunJob rj = { nu, w, h, (float) params->threshold, params->negative, 0, NULL };
  g_autoptr (GArray) runs = g_array_new (FALSE, FALSE, sizeof (Run));
  g_autoptr (GArray) comps = g_array_new (FALSE, FALSE, sizeof (Comp));
  g_autoptr (GArray) gspans = g_array_new (FALSE, FALSE, sizeof (GSpan));
  g_autoptr (GArray) gs = NULL;
  g_autoptr (GArray) cpeaks = g_array_new (FALSE, FALSE, sizeof (DiaPeak));
  g_autoptr (GArray) gpeaks = g_array_new (FALSE, FALSE, sizeof (DiaPeak));
  g_autofree int *parent = NULL;
  g_autofree int *run_comp = NULL;
  g_autofree int *cparent = NULL;
  g_autofree int *comp_root = NULL;
  g_autofree int *comp_order = NULL;
  int co = 0;
  int R = (int) floor (grow_radius + 0.5);
  int prev_first = 0, prev_last = 0;

  rj.n_bands = MIN (h, 64);
  rj.bands = g_new0 (GArray *, rj.n_bands);
  for (int b = 0; b < rj.n_bands; b++)
    rj.bands[b] = g_array_new (FALSE, FALSE, sizeof (Run));
  if (!dia_parallel_for (rj.n_bands, 1, n_threads, find_runs, &rj, monitor, error))
    {
      for (int b = 0; b < rj.n_bands; b++)
        g_array_unref (rj.bands[b]);
      g_free (rj.bands);
      return FALSE;
    }
  for (int b = 0; b < rj.n_bands; b++)
    {
      g_array_append_vals (runs, rj.bands[b]->data, rj.bands[b]->len);
      g_array_unref (rj.bands[b]);
    }
  g_free (rj.bands);

  /* 8-connected union of runs of the same sign on adjacent rows (runs are sorted by y, x). */
  parent = g_new (int, MAX (1u, runs->len));
  for (guint i = 0; i < runs->len; i++)
    parent[i] = (int) i;
  for (guint i = 0; i < runs->len;)
    {
      const Run *r0 = &g_array_index (runs, Run, i);
      int y = r0->y;
      guint j = i;
      int p;
      while (j < runs->len && g_array_index (runs, Run, j).y == y)
        j++;
      if (prev_last > prev_first && g_array_index (runs, Run, prev_first).y == y - 1)
        {
          p = prev_first;
          for (guint k = i; k < j; k++)
            {
              const Run *r = &g_array_index (runs, Run, k);
              while (p < prev_last && g_array_index (runs, Run, p).x1 < r->x0 - 1)
                p++;
              for (int q = p; q < prev_last; q++)
                {
                  const Run *pr = &g_array_index (runs, Run, q);
                  if (pr->x0 > r->x1 + 1)
                    break;
                  if (pr->sign == r->sign)
                    uf_union (parent, (int) k, q);
                }
            }
        }
      prev_first = (int) i;
      prev_last = (int) j;
      i = j;
    }

  /* Components: area, extreme pixel. */
  run_comp = g_new (int, MAX (1u, runs->len));
  {
    g_autofree int *root_comp = g_new (int, MAX (1u, runs->len));
    for (guint i = 0; i < runs->len; i++)
      root_comp[i] = -1;
    for (guint i = 0; i < runs->len; i++)
      {
        const Run *r = &g_array_index (runs, Run, i);
        int root = uf_find (parent, (int) i);
        Comp *c;
        if (root_comp[root] < 0)
          {
            Comp nc = { 0 };
            nc.sign = r->sign;
            nc.peak.significance = 0;
            root_comp[root] = (int) comps->len;
            g_array_append_val (comps, nc);
          }
        run_comp[i] = root_comp[root];
        c = &g_array_index (comps, Comp, root_comp[root]);
        c->area += r->x1 - r->x0 + 1;
        for (int x = r->x0; x <= r->x1; x++)
          {
            float v = nu[(size_t) r->y * w + x];
            if (fabs (v) > fabs (c->peak.significance))
              {
                c->peak.significance = v;
                c->peak.ix = x;
                c->peak.iy = r->y;
              }
          }
      }
  }
  for (guint c = 0; c < comps->len; c++)
    {
      Comp *cp = &g_array_index (comps, Comp, c);
      int x = cp->peak.ix, y = cp->peak.iy;
      float cv = nu[(size_t) y * w + x];
      cp->peak.x = x;
      cp->peak.y = y;
      if (x > 0 && x < w - 1)
        cp->peak.x += quad_offset (nu[(size_t) y * w + x - 1], cv, nu[(size_t) y * w + x + 1]);
      if (y > 0 && y < h - 1)
        cp->peak.y += quad_offset (nu[(size_t) (y - 1) * w + x], cv, nu[(size_t) (y + 1) * w + x]);
      if (cp->sign > 0)
        cat->n_footprints_positive += cp->area >= params->min_area;
      else
        cat->n_footprints_negative += cp->area >= params->min_area;
    }

  /* Resolved peaks: local maxima of sign·ν above threshold, brightest first; a fainter one
   * is kept only if the profile dips by max(2, 15 %) between it and every brighter kept peak
   * (so noise bumps on a bright source's wings do not split it). */
  {
    g_autoptr (GArray) cands = g_array_new (FALSE, FALSE, sizeof (Cand));
    for (guint i = 0; i < runs->len; i++)
      {
        const Run *r = &g_array_index (runs, Run, i);
        const Comp *c = &g_array_index (comps, Comp, run_comp[i]);
        if (c->area < params->min_area)
          continue;
        for (int x = r->x0; x <= r->x1; x++)
          if (is_local_max (nu, w, h, x, r->y, (float) r->sign))
            {
              Cand cd = { run_comp[i], r->sign * nu[(size_t) r->y * w + x], x, r->y };
              g_array_append_val (cands, cd);
            }
      }
    g_array_sort (cands, cand_cmp);
    for (guint i = 0; i < cands->len;)
      {
        int ci = g_array_index (cands, Cand, i).comp;
        Comp *cp = &g_array_index (comps, Comp, ci);
        guint j = i;
        while (j < cands->len && g_array_index (cands, Cand, j).comp == ci)
          j++;
        cp->peak_first = (int) cpeaks->len;
        g_array_append_val (cpeaks, cp->peak);
        for (guint k = i + 1; k < j && cp->n_peaks + 1 < DETECT_MAX_PEAKS; k++)
          {
            const Cand *cd = &g_array_index (cands, Cand, k);
            float floor_v = cd->v - MAX (2.0f, 0.15f * cd->v);
            gboolean keep = TRUE;
            for (int q = cp->peak_first; q < (int) cpeaks->len && keep; q++)
              {
                const DiaPeak *kp = &g_array_index (cpeaks, DiaPeak, q);
                keep = hypot (kp->ix - cd->ix, kp->iy - cd->iy) >= 2.0
                       && line_dips (nu, w, (float) cp->sign, cd, kp, floor_v);
              }
            if (keep)
              {
                DiaPeak pk;
                float cv = nu[(size_t) cd->iy * w + cd->ix];
                pk.ix = cd->ix;
                pk.iy = cd->iy;
                pk.significance = cv;
                pk.x = cd->ix;
                pk.y = cd->iy;
                if (cd->ix > 0 && cd->ix < w - 1)
                  pk.x += quad_offset (nu[(size_t) cd->iy * w + cd->ix - 1], cv,
                                       nu[(size_t) cd->iy * w + cd->ix + 1]);
                if (cd->iy > 0 && cd->iy < h - 1)
                  pk.y += quad_offset (nu[(size_t) (cd->iy - 1) * w + cd->ix], cv,
                                       nu[(size_t) (cd->iy + 1) * w + cd->ix]);
                g_array_append_val (cpeaks, pk);
              }
          }
        cp->n_peaks = (int) cpeaks->len - cp->peak_first;
        i = j;
      }
  }

  /* Grown spans of the components that pass min_area. */
  for (guint i = 0; i < runs->len; i++)
    {
      const Run *r = &g_array_index (runs, Run, i);
      const Comp *c = &g_array_index (comps, Comp, run_comp[i]);
      if (c->area < params->min_area)
        continue;
      for (int dy = -R; dy <= R; dy++)
        {
          int yy = r->y + dy, hw = (int) floor (sqrt ((double) R * R - (double) dy * dy));
          GSpan s;
          if (yy < 0 || yy >= h)
            continue;
          s.y = yy;
          s.x0 = MAX (0, r->x0 - hw);
          s.x1 = MIN (w - 1, r->x1 + hw);
          s.comp = run_comp[i];
          g_array_append_val (gspans, s);
        }
    }
  g_array_sort (gspans, gspan_cmp_yx);

  /* Components whose grown spans overlap become one source (same sign only without merge). */
  cparent = g_new (int, MAX (1u, comps->len));
  for (guint c = 0; c < comps->len; c++)
    cparent[c] = (int) c;
  for (guint i = 0; i < gspans->len;)
    {
      int y = g_array_index (gspans, GSpan, i).y;
      guint j = i;
      while (j < gspans->len && g_array_index (gspans, GSpan, j).y == y)
        j++;
      for (guint a = i; a < j; a++)
        {
          const GSpan *sa = &g_array_index (gspans, GSpan, a);
          for (guint b = a + 1; b < j; b++)
            {
              const GSpan *sb = &g_array_index (gspans, GSpan, b);
              if (sb->x0 > sa->x1)
                break;
              if (sb->comp != sa->comp
                  && (params->merge
                      || g_array_index (comps, Comp, sa->comp).sign
                             == g_array_index (comps, Comp, sb->comp).sign))
                uf_union (cparent, sa->comp, sb->comp);
            }
        }
      i = j;
    }

  /* Group spans by final root; normalise (union of overlapping/adjacent spans per row). */
  gs = g_array_sized_new (FALSE, FALSE, sizeof (GroupSpan), gspans->len);
  for (guint i = 0; i < gspans->len; i++)
    {
      GroupSpan g;
      g.s = g_array_index (gspans, GSpan, i);
      g.group = uf_find (cparent, g.s.comp);
      g_array_append_val (gs, g);
    }
  g_array_sort (gs, groupspan_cmp);
  comp_root = g_new (int, MAX (1u, comps->len));
  comp_order = g_new (int, MAX (1u, comps->len));
  for (guint c = 0; c < comps->len; c++)
    {
      const Comp *cp = &g_array_index (comps, Comp, c);
      comp_root[c] = cp->area >= params->min_area ? uf_find (cparent, (int) c) : -1;
      comp_order[c] = (int) c;
    }
  g_qsort_with_data (comp_order, comps->len, sizeof (int), comp_root_cmp, comp_root);
  for (guint i = 0; i < gs->len;)
    {
      int group = g_array_index (gs, GroupSpan, i).group;
      guint j = i;
      DiaSource src = { 0 };
      int x_min = G_MAXINT, x_max = -1, y_min = G_MAXINT, y_max = -1, n_pos = 0, n_neg = 0;
      while (j < gs->len && g_array_index (gs, GroupSpan, j).group == group)
        j++;
      src.span_first = (int) cat->spans->len;
      for (guint k = i; k < j; k++)
        {
          const GSpan *s = &g_array_index (gs, GroupSpan, k).s;
          DiaSpan *last = cat->spans->len > (guint) src.span_first
                              ? &g_array_index (cat->spans, DiaSpan, cat->spans->len - 1)
                              : NULL;
          if (last && last->y == s->y && s->x0 <= last->x1 + 1)
            last->x1 = MAX (last->x1, s->x1);
          else
            {
              DiaSpan ns = { s->y, s->x0, s->x1 };
              g_array_append_val (cat->spans, ns);
            }
        }
      src.n_spans = (int) cat->spans->len - src.span_first;
      for (int k = 0; k < src.n_spans; k++)
        {
          const DiaSpan *s = &g_array_index (cat->spans, DiaSpan, src.span_first + k);
          src.area += s->x1 - s->x0 + 1;
          x_min = MIN (x_min, s->x0);
          x_max = MAX (x_max, s->x1);
          y_min = MIN (y_min, s->y);
          y_max = MAX (y_max, s->y);
        }
      src.bbox.x = x_min;
      src.bbox.y = y_min;
      src.bbox.width = x_max - x_min + 1;
      src.bbox.height = y_max - y_min + 1;
      /* The group's resolved peaks (its components are consecutive in comp_order). */
      g_array_set_size (gpeaks, 0);
      while (co < (int) comps->len && comp_root[comp_order[co]] < group)
        co++;
      for (; co < (int) comps->len && comp_root[comp_order[co]] == group; co++)
        {
          const Comp *cp = &g_array_index (comps, Comp, comp_order[co]);
          g_array_append_vals (gpeaks, &g_array_index (cpeaks, DiaPeak, cp->peak_first),
                               cp->n_peaks);
          if (cp->sign > 0)
            n_pos += cp->n_peaks;
          else
            n_neg += cp->n_peaks;
        }
      g_array_sort (gpeaks, peak_cmp_desc);
      /* One positive and/or one negative peak: one source (a dipole candidate when both).
       * More resolved peaks: one source per peak, all sharing the footprint (a minimal
       * deblend, so that neighbouring transients are reported separately). */
      for (guint k = 0; k < gpeaks->len; k++)
        {
          gboolean single = n_pos <= 1 && n_neg <= 1;
          DiaSource one = src;
          const DiaPeak *p0, *pl, *best;
          one.peak_first = (int) cat->peaks->len;
          if (single)
            {
              g_array_append_vals (cat->peaks, gpeaks->data, gpeaks->len);
              one.has_positive = n_pos > 0;
              one.has_negative = n_neg > 0;
            }
          else
            {
              const DiaPeak *pk = &g_array_index (gpeaks, DiaPeak, k);
              g_array_append_val (cat->peaks, *pk);
              one.has_positive = pk->significance > 0;
              one.has_negative = pk->significance < 0;
            }
          one.n_peaks = (int) cat->peaks->len - one.peak_first;
          source_init_measurement (&one);
          p0 = &g_array_index (cat->peaks, DiaPeak, one.peak_first);
          pl = &g_array_index (cat->peaks, DiaPeak, one.peak_first + one.n_peaks - 1);
          /* The most significant peak in |ν| gives the provisional position and the S/N. */
          best = fabs (pl->significance) > fabs (p0->significance) ? pl : p0;
          one.x = best->x;
          one.y = best->y;
          one.snr = best->significance;
          one.is_negative = !one.has_positive;
          one.id = (int) cat->sources->len + 1;
          g_array_append_val (cat->sources, one);
          if (single)
            break;
        }
      i = j;
    }
  return TRUE;
}
