/* image_file.c: placeholder until written */
