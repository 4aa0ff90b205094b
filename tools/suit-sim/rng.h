/* suit-sim: one xorshift64* random stream per device, seeded with
 * splitmix64 from --seed and the device's index, so a run repeats whatever
 * the scheduling (device.c, ddi.c). */
#ifndef SUITD_TOOLS_SUIT_SIM_RNG_H
#define SUITD_TOOLS_SUIT_SIM_RNG_H

#include <stdint.h>

/* A stream's first state: never 0. */
static inline uint64_t sim_rng_seed(uint64_t seed, unsigned index)
{
	uint64_t x = seed + index + 0x9e3779b97f4a7c15ULL;

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return (x ^ (x >> 31)) | 1;
}

static inline uint64_t sim_rng_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, 1). */
static inline double sim_rng_unit(uint64_t *state)
{
	return (double)(sim_rng_next(state) >> 11) * 0x1.0p-53;
}

/* Seconds as microseconds (0 for none or less). */
static inline uint64_t sim_usec_of(double seconds)
{
	return seconds <= 0 ? 0 : (uint64_t)(seconds * 1e6);
}

#endif
