// The task samplers of the synthetic dataset. Each task draws one question
// instance, phrases it with one of its templates and computes the answer.
#include "synth/Tasks.h"

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

Instance qa(std::string key, std::string question, std::string answer) {
  Instance in;
  in.holdKey = key;
  in.key = std::move(key);
  in.messages = {{"user", std::move(question)},
                 {"assistant", std::move(answer)}};
  return in;
}

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

Instance sampleAdd(Rng &rng) {
  static const Strings t = {
      "What is {} + {}?",      "What is {} plus {}?",
      "Add {} and {}.",        "Calculate {} + {}.",
      "{} + {} = ?",           "What is the sum of {} and {}?",
      "Please add {} and {}.", "What do you get when you add {} and {}?"};
  int a = digit(rng), b = digit(rng);
  return qa(str(a) + "+" + str(b), fill(rng.pick(t), {str(a), str(b)}),
            str(a + b));
}

Instance sampleSub(Rng &rng) {
  // {a} is the larger number, {b} the one taken away.
  static const Strings t = {"What is {a} - {b}?",
                            "What is {a} minus {b}?",
                            "Subtract {b} from {a}.",
                            "Calculate {a} - {b}.",
                            "{a} - {b} = ?",
                            "Take {b} away from {a}.",
                            "What is {b} less than {a}?"};
  // The inverse of the addition table: a = x + y, b = y.
  int b = digit(rng), a = b + digit(rng);
  std::string q = rng.pick(t);
  std::string out;
  for (std::size_t i = 0; i < q.size(); ++i) {
    if (q.compare(i, 3, "{a}") == 0) {
      out += str(a);
      i += 2;
    } else if (q.compare(i, 3, "{b}") == 0) {
      out += str(b);
      i += 2;
    } else {
      out += q[i];
    }
  }
  return qa(str(a) + "-" + str(b), out, str(a - b));
}

Instance sampleCompare(Rng &rng) {
  static const Strings larger = {
      "Which is larger, {} or {}?", "Which number is bigger: {} or {}?",
      "What is the larger of {} and {}?", "Which is greater, {} or {}?"};
  static const Strings smaller = {
      "Which is smaller, {} or {}?", "Which number is smaller: {} or {}?",
      "What is the smaller of {} and {}?", "Which is less, {} or {}?"};
  int a = rng.range(0, 20), b = rng.range(0, 19);
  if (b >= a)
    ++b; // a != b
  bool wantLarger = rng.chance(0.5);
  int answer = wantLarger ? std::max(a, b) : std::min(a, b);
  std::string q =
      fill(rng.pick(wantLarger ? larger : smaller), {str(a), str(b)});
  return qa(str(a) + (wantLarger ? ">" : "<") + str(b), q, str(answer));
}

Instance sampleNext(Rng &rng) {
  static const Strings after = {
      "What number comes after {}?", "What comes right after {}?",
      "What is one more than {}?", "Count up by one from {}."};
  static const Strings before = {
      "What number comes before {}?", "What comes right before {}?",
      "What is one less than {}?", "Count down by one from {}."};
  int n = rng.range(1, 19);
  bool up = rng.chance(0.5);
  return qa(str(n) + (up ? "+1" : "-1"),
            fill(rng.pick(up ? after : before), {str(n)}),
            str(up ? n + 1 : n - 1));
}

/// Two turns: a sum, then one more step on its result.
Instance sampleFollowUp(Rng &rng) {
  static const Strings first = {"What is {} + {}?", "What is {} plus {}?",
                                "Add {} and {}."};
  static const Strings addMore = {"Now add {}.", "Add {} to that.",
                                  "And plus {}?", "What if you add {} more?"};
  static const Strings takeAway = {"Now subtract {}.", "Take away {}.",
                                   "And minus {}?",
                                   "What if you take {} away?"};
  int a = digit(rng), b = digit(rng), c = rng.range(1, 5);
  bool add = a + b < c || rng.chance(0.5);
  int result = add ? a + b + c : a + b - c;
  Instance in;
  in.key = str(a) + "+" + str(b) + (add ? "+" : "-") + str(c);
  in.holdKey = in.key;
  in.messages = {{"user", fill(rng.pick(first), {str(a), str(b)})},
                 {"assistant", str(a + b)},
                 {"user", fill(rng.pick(add ? addMore : takeAway), {str(c)})},
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

Instance sampleCountWords(Rng &rng) {
  static const Strings t = {"How many words are in this list: {}?",
                            "Count the words: {}",
                            "How many words are there in \"{}\"?",
                            "How many words do you see here: {}"};
  Strings ws = distinctWords(rng, static_cast<std::size_t>(rng.range(1, 5)));
  std::string list = join(ws, " ");
  return qa(list, fill(rng.pick(t), {list}), str(static_cast<int>(ws.size())));
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

Instance sampleCountLetters(Rng &rng) {
  static const Strings t = {
      "How many letters are in the word {}?", "How many letters does {} have?",
      "Count the letters in {}.", "How long is the word {}, in letters?"};
  const std::string &w = shortWord(rng);
  return qa(w, fill(rng.pick(t), {w}), str(static_cast<int>(w.size())));
}

Instance sampleSpell(Rng &rng) {
  static const Strings t = {"Spell the word {}.", "How do you spell {}?",
                            "Spell {} letter by letter.",
                            "Write {} one letter at a time."};
  const std::string &w = shortWord(rng);
  return qa(w, fill(rng.pick(t), {w}), spaced(w));
}

Instance sampleReverse(Rng &rng) {
  static const Strings fromWord = {"Spell {} backwards.",
                                   "Spell the word {} in reverse.",
                                   "What is {} spelled backwards?"};
  static const Strings fromLetters = {
      "Reverse these letters: {}", "Write these letters in reverse order: {}",
      "Reverse the order of the letters {}."};
  const std::string &w = shortWord(rng);
  std::string rev(w.rbegin(), w.rend());
  bool letters = rng.chance(0.5);
  std::string q = fill(rng.pick(letters ? fromLetters : fromWord),
                       {letters ? spaced(w) : w});
  Instance in = qa((letters ? "letters:" : "word:") + w, q, spaced(rev));
  in.holdKey = w; // a held-out word is held out in both forms
  return in;
}

Instance sampleSortNumbers(Rng &rng) {
  static const Strings up = {"Sort these numbers from smallest to largest: {}",
                             "Put these numbers in increasing order: {}",
                             "Order from lowest to highest: {}"};
  static const Strings down = {
      "Sort these numbers from largest to smallest: {}",
      "Put these numbers in decreasing order: {}",
      "Order from highest to lowest: {}"};
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
  std::string list = join(in, ", ");
  return qa((ascending ? "up:" : "down:") + list,
            fill(rng.pick(ascending ? up : down), {list}), join(out, ", "));
}

Instance sampleSortWords(Rng &rng) {
  static const Strings t = {"Put these words in alphabetical order: {}",
                            "Sort alphabetically: {}",
                            "Arrange in alphabetical order: {}"};
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
  std::string list = join(ws, ", ");
  return qa(list, fill(rng.pick(t), {list}), join(sorted, ", "));
}

// --- facts ----------------------------------------------------------------

struct FactTable {
  const char *name;
  Strings templates;
  std::vector<std::pair<std::string, std::string>> facts;
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

Instance sampleFact(Rng &rng) {
  // Every (table, fact) is equally likely.
  std::size_t total = 0;
  for (const FactTable &t : factTables())
    total += t.facts.size();
  std::size_t i = rng.below(total);
  const FactTable *table = nullptr;
  for (const FactTable &t : factTables()) {
    if (i < t.facts.size()) {
      table = &t;
      break;
    }
    i -= t.facts.size();
  }
  const auto &[subject, answer] = table->facts[i];
  auto slot = static_cast<int>(rng.below(table->templates.size()));
  Instance in;
  in.holdKey = std::string(table->name) + ":" + subject;
  in.key = in.holdKey + "#" + str(slot);
  in.holdSlot = slot;
  in.holdSlots = static_cast<int>(table->templates.size());
  in.messages = {{"user", fill(table->templates[slot], {subject})},
                 {"assistant", answer}};
  return in;
}

} // namespace

const std::vector<TaskDef> &taskDefs() {
  static const std::vector<TaskDef> defs = {
      {{"add", "addition of two digits", 3.0}, sampleAdd},
      {{"sub", "subtraction, the inverse of the digit addition table", 2.5},
       sampleSub},
      {{"compare", "the larger or smaller of two numbers up to 20", 1.0},
       sampleCompare},
      {{"next", "the number after or before n (1-19)", 1.0}, sampleNext},
      {{"followup", "two turns: a sum of digits, then add or subtract 1-5",
        1.5},
       sampleFollowUp},
      {{"count_words", "how many words are in a list of 1-5 words", 1.5},
       sampleCountWords},
      {{"count_letters", "how many letters a word of 3-5 letters has", 1.0},
       sampleCountLetters},
      {{"spell", "spell a word of 3-5 letters letter by letter", 1.0},
       sampleSpell},
      {{"reverse", "spell a 3-5 letter word (or its letters) backwards", 1.5},
       sampleReverse},
      {{"sort_numbers", "sort 3 digits up or down", 1.5}, sampleSortNumbers},
      {{"sort_words", "sort 3 words alphabetically", 1.0}, sampleSortWords},
      {{"facts", "capitals, opposites, colors of things, animal sounds", 2.0},
       sampleFact},
  };
  return defs;
}

const std::vector<std::string> &systemPrompts() {
  static const std::vector<std::string> s = {
      "You are a helpful assistant.", "Answer briefly.",
      "You are a concise assistant. Reply with the answer only."};
  return s;
}

} // namespace gpt::synth::detail
