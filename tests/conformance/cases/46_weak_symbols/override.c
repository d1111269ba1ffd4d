/* Strong definitions that replace main.c's weak ones. */
int verbosity = 4;
const char *backend(void) { return "override backend"; }
