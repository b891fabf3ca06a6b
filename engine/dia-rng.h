/* dia-rng.h — a small seeded random generator (xoshiro256**) for the simulator and fakes.
 *
 * Value type, no allocation: a DiaRng lives on the stack or in a struct.  Streams are split by
 * seeding with (seed, stream) so results do not depend on the number of threads.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  guint64 s[4];
} DiaRng;

void    dia_rng_init (DiaRng *rng, guint64 seed, guint64 stream);
guint64 dia_rng_next (DiaRng *rng);
double  dia_rng_uniform (DiaRng *rng);                 /* [0, 1)                      */
double  dia_rng_gaussian (DiaRng *rng);                /* N(0, 1)                     */
double  dia_rng_poisson (DiaRng *rng, double mean);    /* exact below 30, normal above, */
                                                       /* continuity-corrected         */

G_END_DECLS
