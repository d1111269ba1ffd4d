/* lib3/libthird.so: found through the second -L folder. */
const char *third_name(void) { return "third"; }
long third_table[4] = {10, 20, 30, 40};
