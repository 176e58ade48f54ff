/* vfio.c: placeholder until written */
