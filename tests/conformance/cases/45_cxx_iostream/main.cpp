#include <algorithm>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  std::vector<std::string> words(argv + 1, argv + argc);
  std::sort(words.begin(), words.end());
  std::map<std::string, int> counts;
  for (const auto &w : words)
    ++counts[w];

  std::cout << "sorted:";
  for (const auto &w : words)
    std::cout << ' ' << w;
  std::cout << '\n';
  for (const auto &[word, n] : counts)
    std::cout << std::left << std::setw(8) << word << std::right
              << std::setw(3) << n << '\n';

  std::ostringstream os;
  os << std::hex << std::showbase << 48879 << ' ' << std::dec
     << std::fixed << std::setprecision(3) << 3.14159;
  std::string text = os.str();
  std::cout << "formatted: " << text << " (" << text.size() << " chars)\n";
  std::string upper = words.empty() ? "" : words.back();
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return char(c - 32 * (c >= 'a' && c <= 'z')); });
  std::cout << "last word upper-cased: " << upper << std::endl;
  std::cerr << "cerr: " << counts.size() << " distinct words" << std::endl;
  return int(counts.size()) * 3; /* 9 */
}
