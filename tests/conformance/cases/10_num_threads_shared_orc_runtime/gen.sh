# gen.sh N: writes unit_0.c .. unit_{N-1}.c and main.c. Each unit has a
# static constructor (run by the ORC runtime) that registers itself.
n=$1
for i in $(seq 0 $((n - 1))); do
  cat >"unit_$i.c" <<EOC
extern int registered[];
extern int registered_count;
static int weight_$i = $((i + 1));
__attribute__((constructor)) static void register_$i(void) {
  registered[$i] = weight_$i;
  __atomic_fetch_add(&registered_count, 1, __ATOMIC_SEQ_CST);
}
int unit_$i(void) { return weight_$i * 2; }
EOC
done
{
  echo '#include <stdio.h>'
  echo "int registered[$n];"
  echo 'int registered_count;'
  for i in $(seq 0 $((n - 1))); do echo "int unit_$i(void);"; done
  echo 'int main(void) {'
  echo '  int weights = 0, units = 0;'
  echo "  for (int i = 0; i < $n; i++) weights += registered[i];"
  for i in $(seq 0 $((n - 1))); do echo "  units += unit_$i();"; done
  echo '  printf("constructors run: %d, weights %d, units %d\n", registered_count, weights, units);'
  echo '  return registered_count;'
  echo '}'
} >main.c
