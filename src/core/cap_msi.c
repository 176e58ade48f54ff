/* cap_msi.c: placeholder until written */
