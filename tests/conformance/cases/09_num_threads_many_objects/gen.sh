# gen.sh N: writes part_0.c .. part_{N-1}.c and main.c into the current folder.
# Each part has code, read-only data, initialized data and 64 KiB of
# zero-fill, so every object is a separate allocation with several segments.
n=$1
for i in $(seq 0 $((n - 1))); do
  cat >"part_$i.c" <<EOC
static int table_$i[64] = { $i, $((i * 2)), $((i * 3)) };
static char zero_$i[65536];
const char *name_$i = "part $i";
int part_$i(int x) {
  zero_$i[x & 0xffff] += 1;
  for (int k = 0; k < 64; k++) table_$i[k] += x + k;
  return table_$i[x & 63] + zero_$i[x & 0xffff];
}
EOC
done
{
  echo '#include <stdio.h>'
  for i in $(seq 0 $((n - 1))); do echo "int part_$i(int); extern const char *name_$i;"; done
  echo 'int main(void) {'
  echo '  long sum = 0;'
  for i in $(seq 0 $((n - 1))); do echo "  sum += part_$i($i);"; done
  echo "  printf(\"%s .. %s: sum=%ld\\n\", name_0, name_$((n - 1)), sum);"
  echo '  return (int)(sum % 101);'
  echo '}'
} >main.c
