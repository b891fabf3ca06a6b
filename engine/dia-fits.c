/* dia-fits.c — placeholder, being written. SPDX-License-Identifier: GPL-3.0-or-later */
#include "dia-types.h"
