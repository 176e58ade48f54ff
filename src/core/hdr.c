/* hdr.c: placeholder until written */
