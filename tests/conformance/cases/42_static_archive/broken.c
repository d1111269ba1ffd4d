/* Never needed: if linked, its reference could not be resolved. */
extern int symbol_that_exists_nowhere(void);

int broken_member(void) { return symbol_that_exists_nowhere(); }
