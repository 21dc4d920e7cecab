//===- DataSynthCommand.cpp -----------------------------------------------===//
//
// gpt data synth: writes the built-in synthetic chat dataset.
#include "Commands.h"

#include "runtime/synth/Synth.h"

#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

namespace gpt::cli {

void addDataSynthCommand(CLI::App &data) {
  auto *cmd = data.add_subcommand(
      "synth",
      "Write the built-in synthetic chat dataset (arithmetic, counting, "
      "ordering, spelling, simple facts; English and Chinese): "
      "DIR/train.jsonl, DIR/valid.jsonl and DIR/heldout.jsonl; no problem "
      "of valid or heldout occurs in train, in any task, phrasing or turn");
  struct Opts {
    std::string out;
    synth::SynthOptions s;
    bool json = false, list = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("-o,--output", o->out, "Output directory");
  cmd->add_option("--train", o->s.train, "Training conversations")
      ->capture_default_str();
  cmd->add_option("--heldout", o->s.heldout,
                  "Held-out conversations (distinct; for the accuracy)")
      ->capture_default_str();
  cmd->add_option("--valid", o->s.valid,
                  "Validation conversations (held-out problems; for the "
                  "validation loss)")
      ->capture_default_str();
  cmd->add_option("--seed", o->s.seed, "Seed (same seed, same files)")
      ->capture_default_str();
  cmd->add_option("--tasks", o->s.tasks,
                  "Only these tasks, comma-separated (default: all; see "
                  "--list-tasks)")
      ->delimiter(',');
  cmd->add_option("--system-fraction", o->s.systemFraction,
                  "Fraction of conversations with a system message")
      ->capture_default_str();
  cmd->add_flag("--list-tasks", o->list, "List the tasks and exit");
  cmd->add_flag("--json", o->json, "Print a JSON summary");
  cmd->callback([o] {
    if (o->list) {
      for (const synth::TaskInfo &t : synth::tasks())
        std::cout << t.name << "\t" << t.description << "\n";
      return;
    }
    if (o->out.empty())
      throw std::runtime_error("data synth: -o/--output DIR is required");
    synth::Dataset d = synth::generate(o->s);
    synth::writeDataset(d, o->out);
    struct Counts {
      std::size_t train = 0, valid = 0, heldout = 0;
    };
    std::map<std::string, Counts> counts;
    for (const auto &e : d.train)
      ++counts[e.task].train;
    for (const auto &e : d.valid)
      ++counts[e.task].valid;
    for (const auto &e : d.heldout)
      ++counts[e.task].heldout;
    if (o->json) {
      nlohmann::ordered_json j;
      j["dir"] = o->out;
      j["seed"] = o->s.seed;
      j["train"] = d.train.size();
      j["valid"] = d.valid.size();
      j["heldout"] = d.heldout.size();
      for (const auto &[task, c] : counts)
        j["tasks"][task] = {
            {"train", c.train}, {"valid", c.valid}, {"heldout", c.heldout}};
      std::cout << j.dump() << "\n";
      return;
    }
    std::cout << "wrote " << o->out << "/train.jsonl (" << d.train.size()
              << " conversations), " << o->out << "/valid.jsonl ("
              << d.valid.size() << ") and " << o->out << "/heldout.jsonl ("
              << d.heldout.size() << "), seed " << o->s.seed << "\n";
    for (const auto &[task, c] : counts)
      std::cout << "  " << task << ": " << c.train << " train, " << c.valid
                << " valid, " << c.heldout << " held out\n";
  });
}

} // namespace gpt::cli
