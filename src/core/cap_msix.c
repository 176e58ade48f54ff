/* cap_msix.c: placeholder until written */
