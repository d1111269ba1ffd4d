#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  printf("argc=%d\n", argc);
  for (int i = 0; i < argc; i++)
    printf("argv[%d] len=%zu [%s]\n", i, strlen(argv[i]), argv[i]);
  printf("argv[argc] is %s\n", argv[argc] ? "not NULL" : "NULL");
  return argc;
}
