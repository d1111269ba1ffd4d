static const char name[] = "more.o";
const char *more_name(void) { return name; }
