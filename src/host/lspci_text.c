/* lspci_text.c: placeholder until written */
