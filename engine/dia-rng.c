/* dia-rng.c — xoshiro256** seeded through splitmix64; Gaussian by Marsaglia's polar method,
 * Poisson by multiplication of uniforms below mean 30 and a continuity-corrected normal above
 * (the simulator's counts are mostly sky levels of hundreds of electrons, where the normal
 * approximation's error is far below the noise it models).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-rng.h"

#include <math.h>

static guint64
rng_splitmix (guint64 *x)
{
  guint64 z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void
dia_rng_init (DiaRng *rng, guint64 seed, guint64 stream)
{
  guint64 x = seed ^ (stream * 0xd1b54a32d192ed03ULL + 0x632be59bd9b4e019ULL);
  for (int i = 0; i < 4; i++)
    rng->s[i] = rng_splitmix (&x);
}

static inline guint64
rng_rotl (guint64 x, int k)
{
  return (x << k) | (x >> (64 - k));
}

guint64
dia_rng_next (DiaRng *rng)
{
  guint64 *s = rng->s;
  guint64 result = rng_rotl (s[1] * 5, 7) * 9;
  guint64 t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rng_rotl (s[3], 45);
  return result;
}

double
dia_rng_uniform (DiaRng *rng)
{
  return (dia_rng_next (rng) >> 11) * 0x1.0p-53;
}

double
dia_rng_gaussian (DiaRng *rng)
{
  double u, v, s;
  do
    {
      u = 2.0 * dia_rng_uniform (rng) - 1.0;
      v = 2.0 * dia_rng_uniform (rng) - 1.0;
      s = u * u + v * v;
    }
  while (s >= 1.0 || s == 0.0);
  return u * sqrt (-2.0 * log (s) / s);
}

double
dia_rng_poisson (DiaRng *rng, double mean)
{
  if (!(mean > 0.0))
    return 0.0;
  if (mean < 30.0)
    {
      double limit = exp (-mean), p = 1.0;
      int k = -1;
      do
        {
          k++;
          p *= dia_rng_uniform (rng);
        }
      while (p > limit);
      return k;
    }
  return MAX (0.0, floor (mean + sqrt (mean) * dia_rng_gaussian (rng) + 0.5));
}
