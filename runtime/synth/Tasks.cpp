//===- Tasks.cpp ----------------------------------------------------------===//
//
// The task samplers of the synthetic dataset. Each task draws one question
// instance, phrases it with one of its templates and computes the answer.
#include "runtime/synth/Tasks.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace gpt::synth::detail {
namespace {

using Strings = std::vector<std::string>;

/// Replaces each "{}" in `tmpl` by the next argument.
std::string fill(const std::string &tmpl, const Strings &args) {
  std::string out;
  std::size_t arg = 0;
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] == '{' && i + 1 < tmpl.size() && tmpl[i + 1] == '}' &&
        arg < args.size()) {
      out += args[arg++];
      ++i;
    } else {
      out += tmpl[i];
    }
  }
  return out;
}

std::string str(int n) { return std::to_string(n); }

std::string join(const Strings &items, const std::string &sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i)
    out += (i ? sep : "") + items[i];
  return out;
}

/// "c a t"
std::string spaced(const std::string &word) {
  std::string out;
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (i)
      out += ' ';
    out += word[i];
  }
  return out;
}

/// Replaces "{a}", "{b}", ... by the named arguments.
std::string fillNamed(const std::string &tmpl,
                      const std::vector<std::pair<char, std::string>> &args) {
  std::string out;
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    bool replaced = false;
    if (tmpl[i] == '{' && i + 2 < tmpl.size() && tmpl[i + 2] == '}')
      for (const auto &[name, value] : args)
        if (tmpl[i + 1] == name) {
          out += value;
          i += 2;
          replaced = true;
          break;
        }
    if (!replaced)
      out += tmpl[i];
  }
  return out;
}

Instance qa(std::string problem, std::string question, std::string answer) {
  Instance in;
  in.problems = {std::move(problem)};
  in.messages = {{"user", std::move(question)},
                 {"assistant", std::move(answer)}};
  return in;
}

/// English or Chinese templates.
const Strings &by(Lang lang, const Strings &en, const Strings &zh) {
  return lang == Lang::Zh ? zh : en;
}

// --- canonical problem keys -------------------------------------------------
// Shared by every task, phrasing and language (docs/quickstart.md).

/// a + b, either order.
std::string addKey(int a, int b) {
  return "add:" + str(std::min(a, b)) + "," + str(std::max(a, b));
}
/// a - b.
std::string subKey(int a, int b) { return "sub:" + str(a) + "," + str(b); }
/// The larger or smaller of a and b: one problem, either order and
/// direction.
std::string compareKey(int a, int b) {
  return "compare:" + str(std::min(a, b)) + "," + str(std::max(a, b));
}
/// Sorting (either direction) or counting a list: the set of its items.
std::string setKey(const char *kind, Strings items) {
  std::sort(items.begin(), items.end());
  return std::string(kind) + ":" + join(items, ",");
}
/// Spelling, reversing or counting the letters of a word.
std::string lettersKey(const std::string &word) { return "letters:" + word; }

/// Operands are small so that a 1M-parameter model learns the tables in
/// minutes: sums of two digits, and their inverses.
int digit(Rng &rng) { return rng.range(0, 9); }

// Lowercase ASCII words of 3 to 7 letters, all distinct.
const Strings &words() {
  static const Strings w = {
      "apple",   "bread",  "chair",  "table",   "house",  "river",  "cloud",
      "plant",   "stone",  "water",  "light",   "green",  "happy",  "music",
      "paper",   "smile",  "train",  "beach",   "horse",  "mouse",  "tiger",
      "zebra",   "lemon",  "melon",  "grape",   "peach",  "cherry", "banana",
      "orange",  "carrot", "potato", "tomato",  "garden", "forest", "planet",
      "rocket",  "window", "pencil", "basket",  "bottle", "candle", "jacket",
      "kitten",  "puppy",  "rabbit", "turtle",  "monkey", "donkey", "spider",
      "dragon",  "castle", "bridge", "island",  "desert", "valley", "winter",
      "summer",  "spring", "autumn", "sunday",  "friday", "cat",    "dog",
      "sun",     "moon",   "star",   "tree",    "bird",   "fish",   "book",
      "door",    "ball",   "cake",   "milk",    "rain",   "snow",   "wind",
      "fire",    "road",   "ship",   "king",    "queen",  "hat",    "cup",
      "pen",     "box",    "bag",    "bed",     "car",    "bus",    "egg",
      "ant",     "bee",    "cow",    "pig",     "fox",    "owl",    "hen",
      "map",     "key",    "ring",   "lamp",    "sock",   "shoe",   "coat",
      "desk",    "fork",   "bowl",   "nest",    "frog",   "duck",   "goat",
      "lion",    "bear",   "wolf",   "deer",    "seal",   "crab",   "worm",
      "leaf",    "rose",   "corn",   "rice",    "soup",   "salt",   "gold",
      "iron",    "sand",   "hill",   "lake",    "pond",   "farm",   "city",
      "town",    "park",   "drum",   "bell",    "kite",   "doll",   "game",
      "song",    "poem",   "word",   "name",    "face",   "hand",   "foot",
      "nose",    "hair",   "tooth",  "heart",   "brain",  "olive",  "honey",
      "sugar",   "flour",  "pizza",  "pasta",   "salad",  "juice",  "coffee",
      "violin",  "guitar", "piano",  "flute",   "robot",  "camera", "laptop",
      "wallet",  "mirror", "pillow", "blanket", "anchor", "arrow",  "barn",
      "bench",   "brick",  "button", "cabin",   "canoe",  "chalk",  "clock",
      "comet",   "cookie", "cotton", "crown",   "dinner", "eagle",  "engine",
      "feather", "field",  "flag",   "flower",  "glass",  "glove",  "hammer",
      "helmet",  "jelly",  "kettle", "ladder",  "magnet", "marble", "meadow",
      "needle",  "ocean",  "oven",   "parrot",  "pepper", "pickle", "pirate",
      "pocket",  "puzzle", "quilt",  "radio",   "ribbon", "saddle", "scarf",
      "shadow",  "shell",  "silver", "sponge",  "spoon",  "stairs", "sweater",
      "tent",    "ticket", "tomb",   "towel",   "tower",  "tunnel", "wagon",
      "whale",   "wheel",  "yogurt", "zipper"};
  return w;
}

// --- arithmetic -----------------------------------------------------------

Instance sampleAdd(Rng &rng, Lang lang) {
  static const Strings en = {
      "What is {} + {}?",      "What is {} plus {}?",
      "Add {} and {}.",        "Calculate {} + {}.",
      "{} + {} = ?",           "What is the sum of {} and {}?",
      "Please add {} and {}.", "What do you get when you add {} and {}?"};
  static const Strings zh = {"{}加{}等于多少？", "{}加{}是多少？",
                             "计算{}+{}。",      "{}和{}的和是多少？",
                             "{}+{}等于几？",    "请算一下{}加{}。"};
  int a = digit(rng), b = digit(rng);
  return qa(addKey(a, b), fill(rng.pick(by(lang, en, zh)), {str(a), str(b)}),
            str(a + b));
}

Instance sampleSub(Rng &rng, Lang lang) {
  // {a} is the larger number, {b} the one taken away.
  static const Strings en = {"What is {a} - {b}?",
                             "What is {a} minus {b}?",
                             "Subtract {b} from {a}.",
                             "Calculate {a} - {b}.",
                             "{a} - {b} = ?",
                             "Take {b} away from {a}.",
                             "What is {b} less than {a}?"};
  static const Strings zh = {"{a}减{b}等于多少？", "{a}减去{b}是多少？",
                             "计算{a}-{b}。", "{a}-{b}等于几？",
                             "从{a}里减去{b}，得多少？"};
  // The inverse of the addition table: a = x + y, b = y.
  int b = digit(rng), a = b + digit(rng);
  return qa(
      subKey(a, b),
      fillNamed(rng.pick(by(lang, en, zh)), {{'a', str(a)}, {'b', str(b)}}),
      str(a - b));
}

Instance sampleCompare(Rng &rng, Lang lang) {
  static const Strings largerEn = {
      "Which is larger, {} or {}?", "Which number is bigger: {} or {}?",
      "What is the larger of {} and {}?", "Which is greater, {} or {}?"};
  static const Strings smallerEn = {
      "Which is smaller, {} or {}?", "Which number is smaller: {} or {}?",
      "What is the smaller of {} and {}?", "Which is less, {} or {}?"};
  static const Strings largerZh = {"{}和{}哪个大？", "{}和{}中哪个数更大？",
                                   "{}与{}相比，哪个更大？"};
  static const Strings smallerZh = {"{}和{}哪个小？", "{}和{}中哪个数更小？",
                                    "{}与{}相比，哪个更小？"};
  int a = rng.range(0, 20), b = rng.range(0, 19);
  if (b >= a)
    ++b; // a != b
  bool wantLarger = rng.chance(0.5);
  int answer = wantLarger ? std::max(a, b) : std::min(a, b);
  const Strings &t = wantLarger ? by(lang, largerEn, largerZh)
                                : by(lang, smallerEn, smallerZh);
  return qa(compareKey(a, b), fill(rng.pick(t), {str(a), str(b)}), str(answer));
}

/// n + 1 and n - 1: the problems add:1,n and sub:n,1.
Instance sampleNext(Rng &rng, Lang lang) {
  static const Strings afterEn = {
      "What number comes after {}?", "What comes right after {}?",
      "What is one more than {}?", "Count up by one from {}."};
  static const Strings beforeEn = {
      "What number comes before {}?", "What comes right before {}?",
      "What is one less than {}?", "Count down by one from {}."};
  static const Strings afterZh = {"{}的下一个数是几？", "{}后面的数是多少？",
                                  "比{}大一的数是几？"};
  static const Strings beforeZh = {"{}的前一个数是几？", "{}前面的数是多少？",
                                   "比{}小一的数是几？"};
  int n = rng.range(1, 19);
  bool up = rng.chance(0.5);
  const Strings &t =
      up ? by(lang, afterEn, afterZh) : by(lang, beforeEn, beforeZh);
  return qa(up ? addKey(n, 1) : subKey(n, 1), fill(rng.pick(t), {str(n)}),
            str(up ? n + 1 : n - 1));
}

/// Two turns: a sum, then one more step on its result.
Instance sampleFollowUp(Rng &rng, Lang lang) {
  static const Strings firstEn = {"What is {} + {}?", "What is {} plus {}?",
                                  "Add {} and {}."};
  static const Strings addMoreEn = {"Now add {}.", "Add {} to that.",
                                    "And plus {}?", "What if you add {} more?"};
  static const Strings takeAwayEn = {"Now subtract {}.", "Take away {}.",
                                     "And minus {}?",
                                     "What if you take {} away?"};
  static const Strings firstZh = {"{}加{}等于多少？", "{}加{}是多少？"};
  static const Strings addMoreZh = {"再加{}呢？", "然后加上{}等于多少？"};
  static const Strings takeAwayZh = {"再减{}呢？", "然后减去{}等于多少？"};
  int a = digit(rng), b = digit(rng), c = rng.range(1, 5);
  bool add = a + b < c || rng.chance(0.5);
  int sum = a + b;
  int result = add ? sum + c : sum - c;
  Instance in;
  in.problems = {addKey(a, b), add ? addKey(sum, c) : subKey(sum, c)};
  const Strings &second =
      add ? by(lang, addMoreEn, addMoreZh) : by(lang, takeAwayEn, takeAwayZh);
  in.messages = {
      {"user", fill(rng.pick(by(lang, firstEn, firstZh)), {str(a), str(b)})},
      {"assistant", str(sum)},
      {"user", fill(rng.pick(second), {str(c)})},
      {"assistant", str(result)}};
  return in;
}

// --- counting, ordering, spelling -----------------------------------------

/// `n` distinct words.
Strings distinctWords(Rng &rng, std::size_t n) {
  Strings out;
  while (out.size() < n) {
    const std::string &w = rng.pick(words());
    if (std::find(out.begin(), out.end(), w) == out.end())
      out.push_back(w);
  }
  return out;
}

Instance sampleCountWords(Rng &rng, Lang lang) {
  static const Strings en = {"How many words are in this list: {}?",
                             "Count the words: {}",
                             "How many words are there in \"{}\"?",
                             "How many words do you see here: {}"};
  static const Strings zh = {"这个列表里有几个单词：{}", "数一数这些单词：{}",
                             "下面有多少个单词：{}"};
  Strings ws = distinctWords(rng, static_cast<std::size_t>(rng.range(1, 5)));
  std::string list = join(ws, " ");
  return qa(setKey("count_words", ws), fill(rng.pick(by(lang, en, zh)), {list}),
            str(static_cast<int>(ws.size())));
}

/// A word of 3 to 5 letters (the letter tasks).
const std::string &shortWord(Rng &rng) {
  static const Strings shortWords = [] {
    Strings s;
    for (const std::string &w : words())
      if (w.size() <= 5)
        s.push_back(w);
    return s;
  }();
  return rng.pick(shortWords);
}

Instance sampleCountLetters(Rng &rng, Lang lang) {
  static const Strings en = {
      "How many letters are in the word {}?", "How many letters does {} have?",
      "Count the letters in {}.", "How long is the word {}, in letters?"};
  static const Strings zh = {"单词{}有几个字母？", "{}这个单词有多少个字母？",
                             "数一数{}的字母个数。"};
  const std::string &w = shortWord(rng);
  return qa(lettersKey(w), fill(rng.pick(by(lang, en, zh)), {w}),
            str(static_cast<int>(w.size())));
}

Instance sampleSpell(Rng &rng, Lang lang) {
  static const Strings en = {"Spell the word {}.", "How do you spell {}?",
                             "Spell {} letter by letter.",
                             "Write {} one letter at a time."};
  static const Strings zh = {"请拼写单词{}。", "{}怎么拼写？",
                             "把{}一个字母一个字母地拼出来。"};
  const std::string &w = shortWord(rng);
  return qa(lettersKey(w), fill(rng.pick(by(lang, en, zh)), {w}), spaced(w));
}

Instance sampleReverse(Rng &rng, Lang lang) {
  static const Strings fromWordEn = {"Spell {} backwards.",
                                     "Spell the word {} in reverse.",
                                     "What is {} spelled backwards?"};
  static const Strings fromLettersEn = {
      "Reverse these letters: {}", "Write these letters in reverse order: {}",
      "Reverse the order of the letters {}."};
  static const Strings fromWordZh = {"把{}倒过来拼写。", "{}倒着拼是什么？"};
  static const Strings fromLettersZh = {"把这些字母倒序排列：{}",
                                        "请反转这些字母的顺序：{}"};
  const std::string &w = shortWord(rng);
  std::string rev(w.rbegin(), w.rend());
  bool letters = rng.chance(0.5);
  const Strings &t = letters ? by(lang, fromLettersEn, fromLettersZh)
                             : by(lang, fromWordEn, fromWordZh);
  return qa(lettersKey(w), fill(rng.pick(t), {letters ? spaced(w) : w}),
            spaced(rev));
}

Instance sampleSortNumbers(Rng &rng, Lang lang) {
  static const Strings upEn = {
      "Sort these numbers from smallest to largest: {}",
      "Put these numbers in increasing order: {}",
      "Order from lowest to highest: {}"};
  static const Strings downEn = {
      "Sort these numbers from largest to smallest: {}",
      "Put these numbers in decreasing order: {}",
      "Order from highest to lowest: {}"};
  static const Strings upZh = {"把这些数字从小到大排序：{}",
                               "请将这些数按从小到大的顺序排列：{}"};
  static const Strings downZh = {"把这些数字从大到小排序：{}",
                                 "请将这些数按从大到小的顺序排列：{}"};
  std::size_t n = 3;
  std::vector<int> xs;
  while (xs.size() < n) {
    int x = rng.range(0, 9);
    if (std::find(xs.begin(), xs.end(), x) == xs.end())
      xs.push_back(x);
  }
  bool ascending = rng.chance(0.5);
  Strings in, out;
  for (int x : xs)
    in.push_back(str(x));
  std::sort(xs.begin(), xs.end());
  if (!ascending)
    std::reverse(xs.begin(), xs.end());
  for (int x : xs)
    out.push_back(str(x));
  const Strings &t =
      ascending ? by(lang, upEn, upZh) : by(lang, downEn, downZh);
  return qa(setKey("sort_numbers", in), fill(rng.pick(t), {join(in, ", ")}),
            join(out, ", "));
}

Instance sampleSortWords(Rng &rng, Lang lang) {
  static const Strings en = {"Put these words in alphabetical order: {}",
                             "Sort alphabetically: {}",
                             "Arrange in alphabetical order: {}"};
  static const Strings zh = {"把这些单词按字母顺序排列：{}",
                             "按字母表顺序排序：{}"};
  // Distinct first letters, so the order only depends on the first letter.
  std::size_t n = 3;
  Strings ws;
  while (ws.size() < n) {
    const std::string &w = rng.pick(words());
    if (std::none_of(ws.begin(), ws.end(),
                     [&](const std::string &x) { return x[0] == w[0]; }))
      ws.push_back(w);
  }
  Strings sorted = ws;
  std::sort(sorted.begin(), sorted.end());
  return qa(setKey("sort_words", ws),
            fill(rng.pick(by(lang, en, zh)), {join(ws, ", ")}),
            join(sorted, ", "));
}

// --- facts ----------------------------------------------------------------

struct FactTable {
  const char *name;
  Strings templates;
  std::vector<std::pair<std::string, std::string>> facts; // subject, answer
  /// The English subject of each fact (the key shared across languages);
  /// empty for the English tables, whose subjects are the keys.
  Strings keys;
};

const std::vector<FactTable> &factTables() {
  static const std::vector<FactTable> tables = {
      {"capital",
       {"What is the capital of {}?", "Which city is the capital of {}?",
        "Name the capital of {}.", "Tell me the capital city of {}.",
        "What city is {}'s capital?"},
       {{"France", "Paris"},    {"Germany", "Berlin"},
        {"Italy", "Rome"},      {"Spain", "Madrid"},
        {"Japan", "Tokyo"},     {"China", "Beijing"},
        {"Egypt", "Cairo"},     {"Russia", "Moscow"},
        {"Canada", "Ottawa"},   {"Greece", "Athens"},
        {"Portugal", "Lisbon"}, {"Ireland", "Dublin"},
        {"Norway", "Oslo"},     {"Sweden", "Stockholm"},
        {"Poland", "Warsaw"},   {"Austria", "Vienna"},
        {"Kenya", "Nairobi"},   {"Peru", "Lima"},
        {"Cuba", "Havana"},     {"Thailand", "Bangkok"},
        {"England", "London"},  {"Turkey", "Ankara"},
        {"Chile", "Santiago"},  {"Finland", "Helsinki"}}},
      {"opposite",
       {"What is the opposite of {}?", "Give the opposite of {}.",
        "What word means the opposite of {}?", "Name the opposite of {}.",
        "What is the antonym of {}?"},
       {{"hot", "cold"},    {"cold", "hot"},    {"big", "small"},
        {"small", "big"},   {"up", "down"},     {"down", "up"},
        {"fast", "slow"},   {"slow", "fast"},   {"happy", "sad"},
        {"sad", "happy"},   {"light", "dark"},  {"dark", "light"},
        {"open", "closed"}, {"full", "empty"},  {"empty", "full"},
        {"early", "late"},  {"late", "early"},  {"hard", "soft"},
        {"soft", "hard"},   {"high", "low"},    {"low", "high"},
        {"wet", "dry"},     {"dry", "wet"},     {"left", "right"},
        {"day", "night"},   {"night", "day"},   {"loud", "quiet"},
        {"strong", "weak"}, {"weak", "strong"}, {"long", "short"},
        {"good", "bad"},    {"bad", "good"},    {"first", "last"},
        {"win", "lose"},    {"yes", "no"},      {"rich", "poor"}}},
      {"color",
       {"What color is {}?", "What is the color of {}?", "Which color is {}?",
        "Tell me the color of {}.", "What colour is {}?"},
       {{"the sky", "blue"},
        {"grass", "green"},
        {"snow", "white"},
        {"coal", "black"},
        {"a banana", "yellow"},
        {"a tomato", "red"},
        {"a lemon", "yellow"},
        {"milk", "white"},
        {"a carrot", "orange"},
        {"a leaf", "green"},
        {"chocolate", "brown"},
        {"a frog", "green"},
        {"a crow", "black"},
        {"a pumpkin", "orange"},
        {"an eggplant", "purple"},
        {"a strawberry", "red"},
        {"the sea", "blue"},
        {"a cloud", "white"}}},
      {"sound",
       {"What sound does a {} make?", "What does a {} say?",
        "Which sound does a {} make?", "What noise does a {} make?"},
       {{"dog", "woof"},
        {"cat", "meow"},
        {"cow", "moo"},
        {"duck", "quack"},
        {"sheep", "baa"},
        {"pig", "oink"},
        {"lion", "roar"},
        {"owl", "hoot"},
        {"bee", "buzz"},
        {"snake", "hiss"},
        {"horse", "neigh"},
        {"mouse", "squeak"},
        {"frog", "ribbit"},
        {"wolf", "howl"}}},
  };
  return tables;
}

/// Chinese phrasings of some of the facts, keyed by their English subject.
const std::vector<FactTable> &factTablesZh() {
  static const std::vector<FactTable> tables = {
      {"capital",
       {"{}的首都是哪里？", "{}的首都是什么？", "哪个城市是{}的首都？",
        "请说出{}的首都。"},
       {{"法国", "巴黎"},
        {"德国", "柏林"},
        {"意大利", "罗马"},
        {"西班牙", "马德里"},
        {"日本", "东京"},
        {"中国", "北京"},
        {"埃及", "开罗"},
        {"俄罗斯", "莫斯科"},
        {"加拿大", "渥太华"},
        {"希腊", "雅典"},
        {"英国", "伦敦"},
        {"泰国", "曼谷"},
        {"秘鲁", "利马"},
        {"古巴", "哈瓦那"},
        {"肯尼亚", "内罗毕"},
        {"奥地利", "维也纳"}},
       {"France", "Germany", "Italy", "Spain", "Japan", "China", "Egypt",
        "Russia", "Canada", "Greece", "England", "Thailand", "Peru", "Cuba",
        "Kenya", "Austria"}},
      {"opposite",
       {"{}的反义词是什么？", "“{}”的反义词是什么？",
        "和{}意思相反的字是什么？"},
       {{"热", "冷"},
        {"冷", "热"},
        {"大", "小"},
        {"小", "大"},
        {"上", "下"},
        {"下", "上"},
        {"快", "慢"},
        {"慢", "快"},
        {"高", "低"},
        {"低", "高"},
        {"长", "短"},
        {"好", "坏"},
        {"左", "右"}},
       {"hot", "cold", "big", "small", "up", "down", "fast", "slow", "high",
        "low", "long", "good", "left"}},
      {"color",
       {"{}是什么颜色的？", "{}是什么颜色？", "请问{}的颜色是什么？"},
       {{"天空", "蓝色"},
        {"草", "绿色"},
        {"雪", "白色"},
        {"煤", "黑色"},
        {"香蕉", "黄色"},
        {"西红柿", "红色"},
        {"牛奶", "白色"},
        {"胡萝卜", "橙色"},
        {"乌鸦", "黑色"},
        {"茄子", "紫色"},
        {"草莓", "红色"},
        {"柠檬", "黄色"}},
       {"the sky", "grass", "snow", "coal", "a banana", "a tomato", "milk",
        "a carrot", "a crow", "an eggplant", "a strawberry", "a lemon"}},
      {"sound",
       {"{}怎么叫？", "{}的叫声是什么？", "{}会发出什么声音？"},
       {{"狗", "汪汪"},
        {"猫", "喵喵"},
        {"牛", "哞哞"},
        {"鸭子", "嘎嘎"},
        {"羊", "咩咩"},
        {"猪", "哼哼"},
        {"蜜蜂", "嗡嗡"}},
       {"dog", "cat", "cow", "duck", "sheep", "pig", "bee"}},
  };
  return tables;
}

Instance sampleFact(Rng &rng, Lang lang) {
  const std::vector<FactTable> &tables =
      lang == Lang::Zh ? factTablesZh() : factTables();
  // Every (table, fact) is equally likely.
  std::size_t total = 0;
  for (const FactTable &t : tables)
    total += t.facts.size();
  std::size_t i = rng.below(total);
  const FactTable *table = nullptr;
  for (const FactTable &t : tables) {
    if (i < t.facts.size()) {
      table = &t;
      break;
    }
    i -= t.facts.size();
  }
  const auto &[subject, answer] = table->facts[i];
  const std::string &key = table->keys.empty() ? subject : table->keys[i];
  return qa("fact:" + std::string(table->name) + ":" + key,
            fill(rng.pick(table->templates), {subject}), answer);
}

} // namespace

const std::vector<TaskDef> &taskDefs() {
  struct Base {
    const char *name;
    const char *description;
    double weight;
    Sampler sample;
    bool heldOut;
  };
  static const Base bases[] = {
      {"add", "addition of two digits", 3.0, sampleAdd, true},
      {"sub", "subtraction, the inverse of the digit addition table", 2.5,
       sampleSub, true},
      {"compare", "the larger or smaller of two numbers up to 20", 1.0,
       sampleCompare, true},
      {"next", "the number after or before n (1-19)", 1.0, sampleNext, true},
      {"followup", "two turns: a sum of digits, then add or subtract 1-5", 1.5,
       sampleFollowUp, true},
      {"count_words", "how many words are in a list of 1-5 words", 1.5,
       sampleCountWords, true},
      {"count_letters", "how many letters a word of 3-5 letters has", 1.0,
       sampleCountLetters, true},
      {"spell", "spell a word of 3-5 letters letter by letter", 1.0,
       sampleSpell, true},
      {"reverse", "spell a 3-5 letter word (or its letters) backwards", 1.5,
       sampleReverse, true},
      {"sort_numbers", "sort 3 digits up or down", 1.5, sampleSortNumbers,
       true},
      {"sort_words", "sort 3 words alphabetically", 1.0, sampleSortWords, true},
      {"facts",
       "capitals, opposites, colors of things, animal sounds (trained, never "
       "held out)",
       2.0, sampleFact, false},
  };
  // Every task in English, then its Chinese phrasings at half the weight.
  static const std::vector<TaskDef> defs = [] {
    std::vector<TaskDef> v;
    for (Lang lang : {Lang::En, Lang::Zh})
      for (const Base &b : bases) {
        bool zh = lang == Lang::Zh;
        TaskInfo info;
        info.name = std::string(b.name) + (zh ? "_zh" : "");
        info.description = std::string(zh ? "(Chinese) " : "") + b.description;
        info.weight = zh ? b.weight / 2 : b.weight;
        info.language = zh ? "zh" : "en";
        info.heldOut = b.heldOut;
        v.push_back({info, b.sample, lang});
      }
    return v;
  }();
  return defs;
}

const std::vector<std::string> &systemPrompts() {
  static const std::vector<std::string> s = {
      "You are a helpful assistant.", "Answer briefly.",
      "You are a concise assistant. Reply with the answer only."};
  return s;
}

} // namespace gpt::synth::detail
