# gen.sh N: a C file with N chained global functions, N static counters (a
# global pointer table to each kind) and main.
n=$1
echo '#include <stdio.h>'
echo 'typedef long (*fn)(long);'
for ((i = 0; i < n; i++)); do
  echo "static int hits_$i;"
  echo "__attribute__((noinline)) long step_$i(long x);"
done
for ((i = 0; i < n; i++)); do
  if ((i == 0)); then next="x"; else next="step_$((i - 1))(x + $((i % 7)))"; fi
  echo "__attribute__((noinline)) long step_$i(long x) { hits_$i++; return $next ^ $((i * 37 % 1009)); }"
done
echo "fn table[$n] = {"
for ((i = 0; i < n; i++)); do echo "  step_$i,"; done
echo "};"
echo "int *counters[$n] = {"
for ((i = 0; i < n; i++)); do echo "  &hits_$i,"; done
echo "};"
cat <<EOC
int main(void) {
  long chain = table[$n - 1](1);
  long spot = 0;
  for (int i = 0; i < $n; i += 97)
    spot += table[i](i);
  long hits = 0;
  for (int i = 0; i < $n; i++)
    hits += *counters[i];
  printf("chain %ld, spot %ld, hits %ld\n", chain, spot, hits);
  return 0;
}
EOC
