/* ecaps.c: placeholder until written */
