# gen.sh: designated initializers for main.c, one non-zero value every 1024
# elements, so the arrays are big in the object but cheap to compile.
awk 'BEGIN {
  printf "#define DATA_INIT";
  for (i = 0; i < 2048; i++) printf " [%d] = %d,", i * 1024, (i * 2654435761) % 1000003 + 1;
  printf "\n#define RODATA_INIT";
  for (i = 0; i < 512; i++) printf " [%d] = %d,", i * 1024, (i * 40503) % 65521 + 1;
  printf "\n";
}'
